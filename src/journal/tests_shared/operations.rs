//! The shared suite's schedules and fires, LLM ledger, timers, rate limits and
//! webhooks (see `super`).

use serde_json::json;

use super::*;

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

pub(super) fn call(step: &str, cost: f64, persona: Option<&str>) -> Event {
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

fn hooks_are_registered_and_their_runs_created_leased(b: &impl Backend) {
    let mut j = b.open();
    let settings = HookSettings {
        format: HookFormat::Github,
        payload: Some("event".into()),
        tolerance_s: 60,
    };
    assert!(
        !j.put_hook("gh", "/w/gh.toml", "/w", "name = \"gh\"", &settings)
            .unwrap()
    );
    assert!(
        j.put_hook("gh", "/w/gh2.toml", "/w", "name = \"gh2\"", &settings)
            .unwrap(),
        "replaced"
    );
    let (h, source) = j.hook("gh").unwrap().unwrap();
    assert_eq!(
        (h.path.as_str(), source.as_str()),
        ("/w/gh2.toml", "name = \"gh2\"")
    );
    assert_eq!(h.settings, settings);
    assert!(j.hook("nope").unwrap().is_none());
    j.put_hook(
        "a",
        "/w/a.toml",
        "/w",
        "name = \"a\"",
        &HookSettings::default(),
    )
    .unwrap();
    let names: Vec<String> = j.hooks().unwrap().into_iter().map(|h| h.name).collect();
    assert_eq!(names, vec!["a", "gh"]);
    assert!(j.remove_hook("a").unwrap());
    assert!(!j.remove_hook("a").unwrap());
    // The runs a server accepts, created together and leased to it.
    let me = Owner::new(std::process::id(), "here");
    let ids = j
        .create_runs(
            &[
                ("src", created("h1", &["a"])),
                ("src", created("h2", &["a"])),
            ],
            &me,
            30_000,
        )
        .unwrap();
    assert_eq!(ids.len(), 2);
    assert!(ids[1] > ids[0]);
    assert_eq!(j.run(ids[1]).unwrap().uid, "h2");
    assert_eq!(j.run(ids[0]).unwrap().lease_owner, Some(me.as_string()));
    let other = Owner::new(1, "elsewhere");
    assert!(j.acquire_lease(ids[0], &other, 30_000).unwrap().is_err());
}

fn the_health_view_counts_beats_and_wakes(b: &impl Backend) {
    let mut j = b.open();
    assert_eq!(j.heartbeat("tick").unwrap(), None);
    j.beat("tick", "aios tick 1@here", &json!({"due": 0}))
        .unwrap();
    j.beat("tick", "aios tick 2@here", &json!({"due": 1}))
        .unwrap();
    let h = j.heartbeat("tick").unwrap().unwrap();
    assert_eq!(
        (h.by.as_str(), &h.detail),
        ("aios tick 2@here", &json!({"due": 1}))
    );
    assert_eq!(j.active_runs().unwrap(), (0, 0));
    assert_eq!(j.next_wake().unwrap(), None);
    let run = j
        .create_run("name = \"w\"", created("u1", &["a", "b"]))
        .unwrap();
    j.commit(
        run,
        &[Event::TimerSet {
            step: "a".into(),
            attempt: 1,
            due_at: 9_000,
        }],
    )
    .unwrap();
    j.create_proposal_with(
        run,
        "b",
        1,
        ProposalKind::Action,
        "send".into(),
        json!({}),
        json!({}),
        Some((7_000, "reject".into())),
    )
    .unwrap();
    assert_eq!(j.next_wake().unwrap(), Some(7_000));
    assert_eq!(j.active_runs().unwrap(), (1, 0));
    j.raise_notice("s", "missed", "k", "missed", json!({}))
        .unwrap();
    let kinds: Vec<(String, i64)> = j
        .pending_by_kind()
        .unwrap()
        .into_iter()
        .map(|p| (p.kind, p.count))
        .collect();
    assert_eq!(kinds.len(), 2);
    assert!(
        kinds.contains(&("action".to_string(), 1)) && kinds.contains(&("notice".to_string(), 1))
    );
    let me = Owner::new(std::process::id(), "here");
    j.acquire_lease(run, &me, 60_000).unwrap().unwrap();
    assert_eq!(j.live_leases().unwrap(), vec![(run, me.as_string())]);
}

shared_suite!(
    schedules_are_added_replaced_paused_resumed_and_removed,
    an_instant_is_decided_and_its_run_created_once,
    a_queued_fire_is_started_later_and_overlap_cancels,
    the_llm_ledger_records_calls_and_sums_spending,
    timers_and_deadlines_wake_and_remind_once,
    rate_turns_are_shared_and_no_window_holds_more_than_the_rate,
    hooks_are_registered_and_their_runs_created_leased,
    the_health_view_counts_beats_and_wakes,
);
