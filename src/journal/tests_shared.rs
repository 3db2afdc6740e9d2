//! The shared journal suite: the same test functions, generic over the concerns a
//! backend implements, run against the SQLite journal (`sqlite::`) and against a
//! throwaway PostgreSQL (`postgres::`, see `pg::testdb`). Each covers a decision the
//! backends must take alike: ids, projections in the event's transaction, once-only
//! decisions, cancelled runs, leases, schedules and fires, the LLM ledger, timers
//! and deadlines.

use serde_json::json;

use super::pg::{PgPool, PortedConcerns};
use super::store::{
    FailureStore, InboxStore, InboxUpkeep, LeaseStore, LlmLedger, RateStore, RunStore,
    ScheduleStore, TimerStore,
};
use super::*;
use crate::clock::{Clock, Millis};

/// A place journals of one backend open on: each `open` is another connection to
/// the same database, as another thread or process would have.
trait Backend {
    type J: PortedConcerns + Send + 'static;
    fn open(&self) -> Self::J;
}

struct Sqlite(tempfile::TempDir);

impl Sqlite {
    fn new() -> Sqlite {
        Sqlite(tempfile::tempdir().unwrap())
    }
}

impl Backend for Sqlite {
    type J = Journal;
    fn open(&self) -> Journal {
        Journal::open(
            &self.0.path().join("aios.db"),
            Clock::System,
            OpenOptions::default(),
        )
        .unwrap()
    }
}

struct Postgres(PgPool);

impl Postgres {
    fn new() -> Postgres {
        Postgres(PgPool::connect(&super::pg::testdb::fresh_database()).unwrap())
    }
}

impl Backend for Postgres {
    type J = super::pg::PgJournal;
    fn open(&self) -> super::pg::PgJournal {
        self.0.journal(Clock::System).unwrap()
    }
}

fn created(uid: &str, steps: &[&str]) -> Event {
    Event::RunCreated {
        dry: None,
        uid: uid.into(),
        workflow: "w".into(),
        path: None,
        dir: "/tmp".into(),
        source_hash: "h".into(),
        inputs: json!({"a": 1, "b": [true, null]}),
        steps: steps
            .iter()
            .map(|s| StepDecl {
                id: s.to_string(),
                kind: "http".into(),
            })
            .collect(),
    }
}

fn decision(d: Decision, by: &str) -> DecisionInput {
    DecisionInput {
        decision: d,
        reason: None,
        fields: None,
        edited: None,
        diff: None,
        by: by.into(),
    }
}

fn started(step: &str) -> Event {
    Event::StepStarted {
        step: step.into(),
        attempt: 1,
    }
}

fn item<J: PortedConcerns>(j: &mut J, run: i64, step: &str) -> Option<i64> {
    j.create_proposal(
        run,
        step,
        1,
        ProposalKind::Action,
        format!("do {step}"),
        json!({"to": "x"}),
        json!({"confidence": 0.5}),
    )
    .unwrap()
}

fn run_ids_come_from_the_journal_and_name_one_run(b: &impl Backend) {
    let mut j = b.open();
    let a = j.create_run("name = \"w\"", created("u1", &["a"])).unwrap();
    let c = j.create_run("name = \"w\"", created("u2", &["a"])).unwrap();
    assert!(c > a, "{a} then {c}");
    assert_eq!(j.run(a).unwrap().uid, "u1");
    assert_eq!(j.run(c).unwrap().uid, "u2");
    assert_eq!(j.run_by_uid("u2").unwrap().map(|r| r.0), Some(c));
    assert_eq!(j.run_by_uid("nope").unwrap(), None);
    // The same uid twice is refused, and leaves nothing half-written.
    assert!(j.create_run("name = \"w\"", created("u1", &["a"])).is_err());
    assert_eq!(j.runs(None, 10).unwrap().len(), 2);
    let e = j.run(c + 100).unwrap_err();
    assert_eq!(e.kind, crate::error::ErrorKind::NotFound);
}

fn events_are_appended_and_projected_in_one_transaction(b: &impl Backend) {
    let mut j = b.open();
    let run = j
        .create_run("name = \"w\"", created("u1", &["a", "b"]))
        .unwrap();
    let r = j.run(run).unwrap();
    assert_eq!(r.status, RunStatus::Running);
    assert_eq!(r.source, "name = \"w\"");
    assert_eq!(r.inputs, json!({"a": 1, "b": [true, null]}));
    let seq = j
        .commit(
            run,
            &[
                started("a"),
                Event::StepSucceeded {
                    step: "a".into(),
                    attempt: 1,
                    output: json!({"ok": true}),
                },
            ],
        )
        .unwrap();
    let steps = j.steps(run).unwrap();
    assert_eq!(steps[0].status, StepStatus::Succeeded);
    assert_eq!(steps[0].output, Some(json!({"ok": true})));
    assert_eq!(steps[0].attempts, 1);
    assert_eq!(steps[1].status, StepStatus::Pending);
    let events = j.events(run).unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events.last().unwrap().seq, seq);
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(matches!(events[1].event, Event::StepStarted { .. }));
    // An event the projections refuse (a step the run does not have) rolls the
    // whole commit back: neither its events nor their projections stay.
    let err = j.commit(run, &[started("b"), started("nope")]).unwrap_err();
    assert!(err.message.contains("no step `nope`"), "{}", err.message);
    assert_eq!(j.events(run).unwrap().len(), 3);
    assert_eq!(j.steps(run).unwrap()[1].status, StepStatus::Pending);
    j.commit(
        run,
        &[Event::RunStatus {
            status: RunStatus::Succeeded,
            error: None,
        }],
    )
    .unwrap();
    let r = j.run(run).unwrap();
    assert_eq!(r.status, RunStatus::Succeeded);
    assert!(r.finished_at.is_some());
    assert_eq!(j.run_status(run).unwrap(), RunStatus::Succeeded);
    let summary = &j.runs(Some(RunStatus::Succeeded), 10).unwrap()[0];
    assert_eq!(
        (summary.id, summary.steps_total, summary.steps_done),
        (run, 2, 1)
    );
    assert!(j.runs(Some(RunStatus::Failed), 10).unwrap().is_empty());
    assert_eq!(
        j.runs_of_workflow("w").unwrap(),
        vec![(run, RunStatus::Succeeded)]
    );
}

fn a_cancelled_run_starts_no_step_and_gets_no_item(b: &impl Backend) {
    let mut j = b.open();
    let run = j
        .create_run("name = \"w\"", created("u1", &["a", "b"]))
        .unwrap();
    let pending = item(&mut j, run, "a").unwrap();
    // Another process cancels the run.
    let mut other = b.open();
    other
        .commit(
            run,
            &[Event::RunCancelled {
                reason: Some("stop".into()),
            }],
        )
        .unwrap();
    let err = j.commit(run, &[started("b")]).unwrap_err();
    assert_eq!(err.kind, crate::error::ErrorKind::Conflict);
    assert_eq!(item(&mut j, run, "b"), None);
    // Its pending item was withdrawn in the transaction that ended it.
    let p = j.proposal(pending).unwrap();
    assert_eq!(p.status, ProposalStatus::Withdrawn);
    assert_eq!(
        p.reason.as_deref(),
        Some(&*format!("run {run} was cancelled: stop"))
    );
    assert!(j.inbox(false).unwrap().is_empty());
    assert_eq!(j.inbox(true).unwrap().len(), 1);
}

fn an_item_is_created_once_and_decided_once(b: &impl Backend) {
    let mut j = b.open();
    let run = j.create_run("name = \"w\"", created("u1", &["a"])).unwrap();
    let id = item(&mut j, run, "a").unwrap();
    assert_eq!(item(&mut j, run, "a"), Some(id), "the same item again");
    assert_eq!(j.steps(run).unwrap()[0].status, StepStatus::Waiting);
    assert_eq!(
        j.inbox(false)
            .unwrap()
            .iter()
            .map(|p| p.id)
            .collect::<Vec<_>>(),
        vec![id]
    );
    let p = j.decide(id, decision(Decision::Approve, "ada")).unwrap();
    assert_eq!(p.status, ProposalStatus::Approved);
    assert_eq!(p.decided_by.as_deref(), Some("ada"));
    let err = j.decide(id, decision(Decision::Reject, "bob")).unwrap_err();
    assert_eq!(err.kind, crate::error::ErrorKind::Conflict);
    assert!(
        err.message.contains("already decided: approve by ada"),
        "{}",
        err.message
    );
    assert_eq!(
        j.run_proposals(run).unwrap()[0].decision,
        Some(Decision::Approve)
    );
    let e = j
        .decide(id + 100, decision(Decision::Approve, "x"))
        .unwrap_err();
    assert_eq!(e.kind, crate::error::ErrorKind::NotFound);
}

fn of_two_deciders_at_once_one_wins<B: Backend + Sync>(b: &B) {
    for round in 0..5 {
        let mut j = b.open();
        let run = j
            .create_run("name = \"w\"", created(&format!("u{round}"), &["a"]))
            .unwrap();
        let id = item(&mut j, run, "a").unwrap();
        let barrier = std::sync::Barrier::new(2);
        let wins: usize = std::thread::scope(|s| {
            let hs: Vec<_> = ["ada", "bob"]
                .into_iter()
                .map(|who| {
                    let mut j = b.open();
                    let barrier = &barrier;
                    s.spawn(move || {
                        barrier.wait();
                        j.decide(id, decision(Decision::Approve, who)).is_ok()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap() as usize).sum()
        });
        assert_eq!(wins, 1, "round {round}");
        let decided = j
            .events(run)
            .unwrap()
            .iter()
            .filter(|e| matches!(e.event, Event::ProposalDecided { .. }))
            .count();
        assert_eq!(decided, 1, "round {round}");
    }
}

fn leases_are_held_expire_and_are_taken_over(b: &impl Backend) {
    let mut j = b.open();
    let run = j.create_run("name = \"w\"", created("u1", &["a"])).unwrap();
    // Owners on another host count as alive while their lease runs.
    let me = Owner::new(std::process::id(), "here");
    let other = Owner::new(1, "elsewhere");
    assert!(j.acquire_lease(run, &other, 60_000).unwrap().is_ok());
    let held = j.acquire_lease(run, &me, 60_000).unwrap().unwrap_err();
    assert_eq!(held.owner, other.as_string());
    assert_eq!(
        j.live_executor(&j.run(run).unwrap(), &me),
        Some(other.as_string())
    );
    // An expired lease is taken over, naming the previous owner.
    let mut o = b.open();
    o.abandon_lease(run, &other).unwrap();
    assert_eq!(j.live_executor(&j.run(run).unwrap(), &me), None);
    let previous = j.acquire_lease(run, &me, 60_000).unwrap().unwrap();
    assert_eq!(previous, Some(other.as_string()));
    // The old owner can no longer renew; the new one can, and releases.
    assert_eq!(
        o.renew_lease(run, &other, 60_000).unwrap_err().kind,
        crate::error::ErrorKind::Conflict
    );
    j.renew_lease(run, &me, 60_000).unwrap();
    j.release_lease(run, &me).unwrap();
    let r = j.run(run).unwrap();
    assert_eq!((r.lease_owner, r.lease_expires), (None, None));
    let e = j.acquire_lease(run + 100, &me, 1).unwrap_err();
    assert_eq!(e.kind, crate::error::ErrorKind::NotFound);
}

fn spec(name: &str) -> ScheduleSpec {
    ScheduleSpec {
        name: name.into(),
        path: "/w/s.toml".into(),
        dir: "/w".into(),
        source_hash: "hs".into(),
        cron: "0 * * * *".into(),
        timezone: "UTC".into(),
        overlap: "skip".into(),
        catch_up: "latest".into(),
        catch_up_window: 3_600_000,
        inputs: json!({"k": "v"}),
    }
}

const HOUR: Millis = 3_600_000;

/// The next whole hour after `t`.
fn hourly(t: Millis) -> Option<Millis> {
    Some((t / HOUR + 1) * HOUR)
}

/// Start a run for the schedule's next instant when it is due at `now` (the
/// planner `aios tick` has, reduced to one instant): nothing when it is not.
fn start_due(state: &FireState, now: Millis, uid: &str) -> Option<FirePlan> {
    let due = state.schedule.next_due.filter(|d| *d <= now)?;
    (due > state.schedule.cursor).then(|| FirePlan {
        events: vec![ScheduleEvent::Advanced {
            cursor: due,
            next_due: hourly(due),
        }],
        cancel: vec![],
        start: Some((
            due,
            NewFireRun {
                source: "name = \"s\"".into(),
                created: created(uid, &["a"]),
            },
            false,
        )),
    })
}

fn schedules_are_added_replaced_paused_resumed_and_removed(b: &impl Backend) {
    let mut j = b.open();
    assert!(!j.add_schedule(spec("s"), "name = \"s\"", hourly).unwrap());
    let s = j.schedule("s").unwrap();
    assert_eq!(s.spec, spec("s"));
    assert!(!s.paused);
    let cursor = s.cursor;
    assert_eq!(s.next_due, hourly(cursor));
    // Added again: replaced, its cursor kept.
    let mut newer = spec("s");
    newer.cron = "30 * * * *".into();
    assert!(j.add_schedule(newer, "name = \"s\"", hourly).unwrap());
    let s = j.schedule("s").unwrap();
    assert_eq!((s.spec.cron.as_str(), s.cursor), ("30 * * * *", cursor));
    let (_, source) = j.schedule_source("s").unwrap();
    assert_eq!(source, "name = \"s\"");
    assert!(j.set_schedule_paused("s", true, hourly).unwrap());
    assert!(
        !j.set_schedule_paused("s", true, hourly).unwrap(),
        "already paused"
    );
    assert!(j.schedule("s").unwrap().paused);
    assert!(
        j.due_schedules(Millis::MAX).unwrap().is_empty(),
        "a paused schedule is not due"
    );
    assert!(j.set_schedule_paused("s", false, hourly).unwrap());
    let s = j.schedule("s").unwrap();
    assert!(!s.paused && s.cursor >= cursor);
    assert_eq!(j.due_schedules(Millis::MAX).unwrap(), vec!["s".to_string()]);
    assert!(j.due_schedules(s.cursor).unwrap().is_empty());
    j.add_schedule(spec("t"), "name = \"t\"", hourly).unwrap();
    let names: Vec<String> = j
        .schedules()
        .unwrap()
        .into_iter()
        .map(|s| s.spec.name)
        .collect();
    assert_eq!(names, vec!["s", "t"]);
    j.remove_schedule("s").unwrap();
    assert_eq!(
        j.schedule("s").unwrap_err().kind,
        crate::error::ErrorKind::NotFound
    );
    assert_eq!(
        j.remove_schedule("s").unwrap_err().kind,
        crate::error::ErrorKind::NotFound
    );
}

fn an_instant_is_decided_and_its_run_created_once<B: Backend + Sync>(b: &B) {
    let mut j = b.open();
    j.add_schedule(spec("s"), "name = \"s\"", hourly).unwrap();
    let due = j.schedule("s").unwrap().next_due.unwrap();
    // Four ticks race for the same instant.
    let barrier = std::sync::Barrier::new(4);
    let outcomes: Vec<FireOutcome> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|i| {
                let mut j = b.open();
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    j.decide_fires("s", |st| Ok(start_due(st, due, &format!("fire{i}"))))
                        .unwrap()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let started: Vec<_> = outcomes
        .iter()
        .filter_map(|o| match o {
            FireOutcome::Decided { started } => *started,
            FireOutcome::Nothing => None,
        })
        .collect();
    assert_eq!(started.len(), 1, "{outcomes:?}");
    let (run, at) = started[0];
    assert_eq!(at, due);
    let fires = j.fires("s", 10).unwrap();
    assert_eq!(fires.len(), 1);
    assert_eq!(
        (
            fires[0].due_at,
            fires[0].status,
            fires[0].run_id,
            fires[0].run_status
        ),
        (
            due,
            FireStatus::Started,
            Some(run),
            Some(RunStatus::Running)
        )
    );
    assert_eq!(j.runs(None, 10).unwrap().len(), 1);
    let s = j.schedule("s").unwrap();
    assert_eq!((s.cursor, s.next_due), (due, hourly(due)));
    // Its run is active for the next decision; a removed schedule decides nothing.
    let mut seen = None;
    j.decide_fires("s", |st| {
        seen = Some(st.active.clone());
        Ok(None)
    })
    .unwrap();
    assert_eq!(seen, Some(vec![run]));
    j.remove_schedule("s").unwrap();
    let nothing = j
        .decide_fires("s", |_| panic!("no planner for a removed schedule"))
        .unwrap();
    assert_eq!(nothing, FireOutcome::Nothing);
}

fn a_queued_fire_is_started_later_and_overlap_cancels(b: &impl Backend) {
    let mut j = b.open();
    j.add_schedule(spec("s"), "name = \"s\"", hourly).unwrap();
    let due = j.schedule("s").unwrap().next_due.unwrap();
    let first = j
        .decide_fires("s", |st| Ok(start_due(st, due, "first")))
        .unwrap();
    let FireOutcome::Decided {
        started: Some((first, _)),
    } = first
    else {
        panic!("{first:?}")
    };
    // The next instant is queued behind the running one.
    let next = due + HOUR;
    j.decide_fires("s", |_| {
        Ok(Some(FirePlan {
            events: vec![
                ScheduleEvent::Fired {
                    due_at: next,
                    status: FireStatus::Queued,
                    reason: None,
                    run_id: None,
                },
                ScheduleEvent::Advanced {
                    cursor: next,
                    next_due: hourly(next),
                },
            ],
            ..FirePlan::default()
        }))
    })
    .unwrap();
    assert_eq!(
        j.due_schedules(0).unwrap(),
        vec!["s".to_string()],
        "a queued fire is due"
    );
    // Then started, cancelling the running one (overlap = "cancel_running").
    let item_of_first = item(&mut j, first, "a").unwrap();
    let out = j
        .decide_fires("s", |st| {
            assert_eq!(st.queued, Some(next));
            Ok(Some(FirePlan {
                events: vec![],
                cancel: vec![(first, "overlap".into())],
                start: Some((
                    next,
                    NewFireRun {
                        source: "name = \"s\"".into(),
                        created: created("second", &["a"]),
                    },
                    true,
                )),
            }))
        })
        .unwrap();
    let FireOutcome::Decided {
        started: Some((second, _)),
    } = out
    else {
        panic!("{out:?}")
    };
    assert_eq!(j.run_status(first).unwrap(), RunStatus::Cancelled);
    assert_eq!(
        j.proposal(item_of_first).unwrap().status,
        ProposalStatus::Withdrawn
    );
    let fires = j.fires("s", 10).unwrap();
    assert_eq!(
        fires
            .iter()
            .map(|f| (f.due_at, f.status, f.run_id))
            .collect::<Vec<_>>(),
        vec![
            (next, FireStatus::Started, Some(second)),
            (due, FireStatus::Started, Some(first))
        ]
    );
    assert!(j.due_schedules(0).unwrap().is_empty());
    assert_eq!(j.runs_to_continue(j.now(), 0).unwrap(), vec![second]);
}

fn call(step: &str, cost: f64, persona: Option<&str>) -> Event {
    Event::LlmCall(Box::new(LlmCall {
        step: step.into(),
        attempt: 1,
        alias: "fast".into(),
        provider: "local".into(),
        model: "m1".into(),
        request: json!({"url": "http://127.0.0.1:9/v1", "messages": []}),
        response: Some("{}".into()),
        error: None,
        tokens_in: 100,
        tokens_out: 20,
        cost_usd: cost,
        latency_ms: 42,
        http_attempts: 1,
        heuristic: false,
        finish_reason: Some("stop".into()),
        failure: None,
        persona: persona.map(str::to_string),
        tool_calls: Vec::new(),
    }))
}

fn the_llm_ledger_records_calls_and_sums_spending(b: &impl Backend) {
    let mut j = b.open();
    let since = j.now() - 1;
    let run = j
        .create_run("name = \"w\"", created("u1", &["a", "b"]))
        .unwrap();
    j.commit(
        run,
        &[call("a", 0.25, Some("support")), call("b", 0.5, None)],
    )
    .unwrap();
    // A call of no run (`aios llm prompt`), and one the server refused the schema of.
    let Event::LlmCall(mut refused) = call("p", 0.125, None) else {
        unreachable!()
    };
    refused.error = Some("schema refused".into());
    refused.failure = Some("schema_refused".into());
    j.commit(0, &[Event::LlmCall(refused)]).unwrap();
    let all = j.llm_calls(&CallFilter::default()).unwrap();
    assert_eq!(
        all.iter()
            .map(|c| (c.run_id, c.workflow.as_str(), c.call.step.as_str()))
            .collect::<Vec<_>>(),
        vec![(0, "(prompt)", "p"), (run, "w", "b"), (run, "w", "a")]
    );
    assert_eq!(all[2].call.request["url"], "http://127.0.0.1:9/v1");
    assert_eq!((all[2].call.tokens_in, all[2].call.latency_ms), (100, 42));
    let of_a = j
        .llm_calls(&CallFilter {
            run: Some(run),
            step: Some("a".into()),
            ..CallFilter::default()
        })
        .unwrap();
    assert_eq!(of_a.len(), 1);
    let errors = j
        .llm_calls(&CallFilter {
            errors: true,
            limit: Some(5),
            ..CallFilter::default()
        })
        .unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(j.llm_spent_by_run(run).unwrap(), 0.75);
    assert_eq!(j.llm_spent_since(since).unwrap(), 0.875);
    assert_eq!(j.llm_spent_since(j.now() + 1).unwrap(), 0.0);
    assert_eq!(
        j.llm_spent_by_persona_since("support", since).unwrap(),
        0.25
    );
    assert_eq!(j.llm_tokens_since(since).unwrap(), (300, 60));
    let spend = j.llm_spend_by_workflow(since).unwrap();
    assert_eq!(
        spend
            .iter()
            .map(|s| (s.workflow.as_str(), s.calls, s.usd))
            .collect::<Vec<_>>(),
        vec![("w", 2, 0.75), ("(prompt)", 1, 0.125)]
    );
    let (id, _) = j
        .schema_refusal("local", "m1", "http://127.0.0.1:9/v1", since)
        .unwrap()
        .unwrap();
    assert_eq!(id, all[0].id);
    assert_eq!(
        j.schema_refusal("local", "m1", "http://other/v1", since)
            .unwrap(),
        None
    );
    // Raises the operator granted on the run's budget items.
    let item = j
        .create_proposal(
            run,
            "b",
            2,
            ProposalKind::Budget,
            "over".into(),
            json!({}),
            json!({}),
        )
        .unwrap()
        .unwrap();
    assert_eq!(j.budget_raised(run).unwrap(), 0.0);
    let mut d = decision(Decision::Approve, "ada");
    d.fields = Some(json!({"raise_usd": 1.5}));
    j.decide(item, d).unwrap();
    assert_eq!(j.budget_raised(run).unwrap(), 1.5);
}

fn timers_and_deadlines_wake_and_remind_once<B: Backend + Sync>(b: &B) {
    let mut j = b.open();
    let run = j
        .create_run("name = \"w\"", created("u1", &["a", "b"]))
        .unwrap();
    j.commit(
        run,
        &[Event::TimerSet {
            step: "a".into(),
            attempt: 1,
            due_at: 5_000,
        }],
    )
    .unwrap();
    assert_eq!(j.wake_times(run).unwrap(), vec![("a".to_string(), 5_000)]);
    let id = j
        .create_proposal_with(
            run,
            "b",
            1,
            ProposalKind::Action,
            "send".into(),
            json!({}),
            json!({}),
            Some((1_000, "reject".into())),
        )
        .unwrap()
        .unwrap();
    assert_eq!(j.next_deadline(run).unwrap(), Some(1_000));
    assert!(j.expired_deadlines(999).unwrap().is_empty());
    assert_eq!(
        j.expired_deadlines(1_000)
            .unwrap()
            .iter()
            .map(|p| p.id)
            .collect::<Vec<_>>(),
        vec![id]
    );
    // Two ticks remind at once: one reminder.
    let barrier = std::sync::Barrier::new(2);
    let reminded: Vec<Option<u32>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let mut j = b.open();
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    j.remind(id, 1_000, 2_000).unwrap()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        reminded.iter().flatten().collect::<Vec<_>>(),
        vec![&1],
        "{reminded:?}"
    );
    let p = j.proposal(id).unwrap();
    assert_eq!((p.deadline, p.reminders), (Some(2_000), 1));
    assert_eq!(j.remind(id, 2_000, 3_000).unwrap(), Some(2));
    j.decide(id, decision(Decision::Reject, "ada")).unwrap();
    assert_eq!(j.remind(id, 3_000, 4_000).unwrap(), None, "a decided item");
    assert_eq!(j.next_deadline(run).unwrap(), None);
}

fn the_inbox_lists_rows_polls_changes_snoozes_and_reopens(b: &impl Backend) {
    let mut j = b.open();
    assert_eq!(j.changes_since(0).unwrap(), Changes::default());
    let run = j
        .create_run("name = \"w\"", created("u1", &["a", "b"]))
        .unwrap();
    let first = j.changes_since(0).unwrap();
    assert!(first.seq > 0 && first.inbox && first.runs);
    assert_eq!(
        j.changes_since(first.seq).unwrap(),
        Changes {
            seq: first.seq,
            inbox: false,
            runs: false
        }
    );
    let a = j
        .create_proposal(
            run,
            "a",
            1,
            ProposalKind::Action,
            "send a".into(),
            json!({"body": "x"}),
            json!({"confidence": 0.75, "versions": [{"kind": "fact", "key": "k", "version": 2}]}),
        )
        .unwrap()
        .unwrap();
    let b_id = item(&mut j, run, "b").unwrap();
    let rows = j.inbox_rows().unwrap();
    assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), vec![a, b_id]);
    assert_eq!(
        (rows[0].confidence, rows[0].workflow.as_str()),
        (Some(0.75), "w")
    );
    assert_eq!(rows[0].versions.len(), 1);
    assert_eq!(rows[1].confidence, Some(0.5));
    let created = j.changes_since(first.seq).unwrap();
    assert!(created.inbox && created.runs && created.seq > first.seq);
    // A snooze changes the inbox, not the runs.
    let later = j.now() + 3_600_000;
    j.snooze(a, later, "ada").unwrap();
    let snoozed = j.changes_since(created.seq).unwrap();
    assert!(snoozed.inbox && !snoozed.runs);
    assert_eq!(j.snoozed_until(a).unwrap(), Some(later));
    assert_eq!(j.inbox_rows().unwrap()[0].snoozed_until, Some(later));
    j.unsnooze(a, "ada").unwrap();
    assert_eq!(j.snoozed_until(a).unwrap(), None);
    let e = j.unsnooze(a, "ada").unwrap_err();
    assert!(e.message.contains("is not snoozed"), "{}", e.message);
    // A failed run withdraws its items; resumed, the ones its steps wait on return.
    j.commit(
        run,
        &[Event::RunStatus {
            status: RunStatus::Failed,
            error: Some("boom".into()),
        }],
    )
    .unwrap();
    assert!(j.inbox_rows().unwrap().is_empty());
    let e = j.snooze(a, later, "ada").unwrap_err();
    assert_eq!(e.kind, crate::error::ErrorKind::Conflict);
    let reopened = j.reopen_withdrawn(run).unwrap();
    assert_eq!(reopened.len(), 2);
    assert_eq!(j.proposal(a).unwrap().status, ProposalStatus::Pending);
    assert_eq!(j.reopen_withdrawn(run).unwrap().len(), 0, "once");
}

fn rate_turns_are_shared_and_no_window_holds_more_than_the_rate<B: Backend + Sync>(b: &B) {
    let mut j = b.open();
    let run = j
        .create_run("name = \"w\"", created("u1", &["post"]))
        .unwrap();
    let rate = crate::rate::Rate::parse("2/h").unwrap();
    // Six takers at once, each on its own connection.
    let barrier = std::sync::Barrier::new(6);
    let mut turns: Vec<(Millis, bool)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..6)
            .map(|_| {
                let mut j = b.open();
                let (barrier, rate) = (&barrier, &rate);
                s.spawn(move || {
                    barrier.wait();
                    let taker = Taker {
                        run,
                        step: "post",
                        attempt: 1,
                    };
                    let (turn, waited) = j.take_turn(taker, "api.example.com", rate).unwrap();
                    (turn, waited.is_some())
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    turns.sort_unstable();
    let at: Vec<Millis> = turns.iter().map(|t| t.0).collect();
    for (i, t) in at.iter().enumerate() {
        let held = at[i..].iter().take_while(|u| **u < t + HOUR).count();
        assert!(held <= 2, "{held} turns in the hour from {t}: {at:?}");
    }
    // Two went at once; four wait, each wait journaled and shown on the step.
    assert_eq!(turns.iter().filter(|t| !t.1).count(), 2, "{turns:?}");
    assert!(at[5] >= at[0] + 2 * HOUR);
    assert_eq!(j.turns("api.example.com").unwrap(), at);
    let throttled = j
        .events(run)
        .unwrap()
        .iter()
        .filter(|e| matches!(e.event, Event::StepThrottled { .. }))
        .count();
    assert_eq!(throttled, 4);
    assert!(j.steps(run).unwrap()[0].throttled.is_some());
    assert!(j.turns("other").unwrap().is_empty());
}

fn a_failure_and_its_item_are_recorded_once_and_withdrawn<B: Backend>(b: &B) {
    let mut j = b.open();
    let run = j
        .create_run("name = \"w\"", created("u1", &["a", "b"]))
        .unwrap();
    let pending = item(&mut j, run, "b").unwrap();
    let failure = Failure {
        step: "a".into(),
        kind: "http".into(),
        error: "HTTP 500".into(),
        attempts: 3,
        ..Failure::default()
    };
    let failed = |j: &mut B::J| {
        j.commit_failure(
            run,
            &[
                Event::StepFailed {
                    step: "a".into(),
                    attempt: 3,
                    error: "HTTP 500".into(),
                    retry_at: None,
                    at_render: false,
                },
                Event::RunStatus {
                    status: RunStatus::Failed,
                    error: Some("step a failed".into()),
                },
            ],
            &failure,
            3,
        )
        .unwrap()
    };
    let made = failed(&mut j);
    assert_eq!(made.len(), 1);
    let Event::ProposalCreated {
        proposal: id, kind, ..
    } = made[0].clone()
    else {
        panic!("{made:?}")
    };
    assert_eq!(kind, ProposalKind::Failure);
    // The run's other pending item was withdrawn in the same transaction.
    assert_eq!(
        j.proposal(pending).unwrap().status,
        ProposalStatus::Withdrawn
    );
    let item = j.proposal(id).unwrap();
    assert_eq!(
        (item.status, item.run_status),
        (ProposalStatus::Pending, RunStatus::Failed)
    );
    assert_eq!(item.summary, "step `a` failed after 3 attempts: HTTP 500");
    assert_eq!(Failure::of(&item.action), failure);
    // Recorded again (a second failure of the same attempt): no second item, and
    // the first one stays pending.
    assert!(failed(&mut j).is_empty());
    assert_eq!(j.proposal(id).unwrap().status, ProposalStatus::Pending);
    // Resumed by hand: the failure item is withdrawn.
    let out = j.withdraw_failure(run, "resumed by hand").unwrap();
    assert_eq!(out.len(), 1);
    let item = j.proposal(id).unwrap();
    assert_eq!(
        (item.status, item.reason.as_deref()),
        (ProposalStatus::Withdrawn, Some("resumed by hand"))
    );
    assert!(j.withdraw_failure(run, "again").unwrap().is_empty());
}

macro_rules! shared_suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                super::$name(&super::Sqlite::new());
            })*
        }
        mod postgres {
            $(#[test]
            fn $name() {
                super::$name(&super::Postgres::new());
            })*
        }
    };
}

shared_suite!(
    run_ids_come_from_the_journal_and_name_one_run,
    events_are_appended_and_projected_in_one_transaction,
    a_cancelled_run_starts_no_step_and_gets_no_item,
    an_item_is_created_once_and_decided_once,
    of_two_deciders_at_once_one_wins,
    leases_are_held_expire_and_are_taken_over,
    schedules_are_added_replaced_paused_resumed_and_removed,
    an_instant_is_decided_and_its_run_created_once,
    a_queued_fire_is_started_later_and_overlap_cancels,
    the_llm_ledger_records_calls_and_sums_spending,
    timers_and_deadlines_wake_and_remind_once,
    the_inbox_lists_rows_polls_changes_snoozes_and_reopens,
    rate_turns_are_shared_and_no_window_holds_more_than_the_rate,
    a_failure_and_its_item_are_recorded_once_and_withdrawn,
);

/// PostgreSQL only: an event of a concern not ported is refused, never dropped,
/// and its commit leaves nothing behind.
#[test]
fn postgres_refuses_the_events_of_concerns_not_ported() {
    let b = Postgres::new();
    let mut j = b.open();
    let run = j.create_run("name = \"w\"", created("u1", &["a"])).unwrap();
    let err = j
        .commit(run, &[started("a"), Event::NoteForgotten { note: 1 }])
        .unwrap_err();
    assert_eq!(err.message, "memory is not yet supported on PostgreSQL");
    assert!(err.hint.unwrap().contains("unset AIOS_DATABASE_URL"));
    assert_eq!(j.events(run).unwrap().len(), 1);
    assert_eq!(j.steps(run).unwrap()[0].status, StepStatus::Pending);
    // The migrations applied, by number, as recorded in the database.
    assert_eq!(
        j.migrations().unwrap(),
        vec!["0001_core", "0002_schedules", "0003_llm", "0004_rate"]
    );
}

/// PostgreSQL only: migrations are checked like SQLite's: a database whose
/// recorded migration is not this build's, or that has more, is refused.
#[test]
fn postgres_refuses_a_database_of_another_build() {
    let url = super::pg::testdb::fresh_database();
    PgPool::connect(&url).unwrap();
    // Connecting again applies nothing twice.
    PgPool::connect(&url).unwrap();
    let mut admin = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
    let n: i64 = admin
        .query_one("SELECT count(*) FROM aios_migrations", &[])
        .unwrap()
        .get(0);
    assert_eq!(n as usize, super::pg::MIGRATIONS.len());
    admin
        .batch_execute("UPDATE aios_migrations SET sha256 = 'edited' WHERE version = 1")
        .unwrap();
    let e = PgPool::connect(&url).unwrap_err();
    assert!(
        e.message
            .contains("migration 1 (0001_core) is not this build's"),
        "{}",
        e.message
    );
    admin
        .batch_execute(
            "DELETE FROM aios_migrations WHERE version = 1;
             INSERT INTO aios_migrations VALUES (1, '0001_core', 'x', 0), (99, '0099_future', 'y', 0)",
        )
        .unwrap();
    let e = PgPool::connect(&url).unwrap_err();
    assert!(
        e.message.contains("written by a newer aios"),
        "{}",
        e.message
    );
    let e = PgPool::connect("sqlite:///tmp/x").unwrap_err();
    assert!(
        e.message.contains("is not a PostgreSQL URL"),
        "{}",
        e.message
    );
}
