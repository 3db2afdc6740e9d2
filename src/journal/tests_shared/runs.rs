//! The shared suite's runs, inbox items, leases, failure items and notices (see
//! `super`).

use serde_json::json;

use super::*;

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

fn notices_share_the_inbox_and_are_raised_and_acknowledged_once<B: Backend + Sync>(b: &B) {
    let mut j = b.open();
    let run = j.create_run("name = \"w\"", created("u1", &["a"])).unwrap();
    let item_id = item(&mut j, run, "a").unwrap();
    // Two ticks raise the same notice at once: one is.
    let barrier = std::sync::Barrier::new(2);
    let raised: Vec<Option<i64>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let mut j = b.open();
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    j.raise_notice(
                        "nightly",
                        "missed",
                        "nightly:missed:1",
                        "missed 1",
                        json!({"n": 1}),
                    )
                    .unwrap()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ids: Vec<i64> = raised.iter().flatten().copied().collect();
    assert_eq!(ids.len(), 1, "{raised:?}");
    let id = ids[0];
    assert!(id > item_id, "one id space for items and notices");
    let n = j.notice(id).unwrap().unwrap();
    assert!(n.pending);
    assert_eq!(
        (n.schedule.as_str(), n.kind.as_str(), &n.data),
        ("nightly", "missed", &json!({"n": 1}))
    );
    // It lists with the items, and reads as one.
    assert_eq!(
        j.inbox(false)
            .unwrap()
            .iter()
            .map(|p| p.id)
            .collect::<Vec<_>>(),
        vec![item_id, id]
    );
    let rows = j.inbox_rows().unwrap();
    assert_eq!((rows[1].id, rows[1].kind.as_str()), (id, "notice"));
    assert_eq!(j.proposal(id).unwrap().kind, ProposalKind::Notice);
    let n = j
        .acknowledge_notice(id, "ada", Some("seen".into()))
        .unwrap();
    assert_eq!(
        (n.pending, n.acknowledged_by.as_deref()),
        (false, Some("ada"))
    );
    let e = j.acknowledge_notice(id, "bob", None).unwrap_err();
    assert!(
        e.message.contains("already acknowledged by ada"),
        "{}",
        e.message
    );
    assert_eq!(j.notices(false).unwrap().len(), 0);
    assert_eq!(j.notices(true).unwrap().len(), 1);
    assert_eq!(j.inbox(true).unwrap().len(), 2);
    assert_eq!(
        j.acknowledge_notice(id + 100, "x", None).unwrap_err().kind,
        crate::error::ErrorKind::NotFound
    );
}

shared_suite!(
    run_ids_come_from_the_journal_and_name_one_run,
    events_are_appended_and_projected_in_one_transaction,
    a_cancelled_run_starts_no_step_and_gets_no_item,
    an_item_is_created_once_and_decided_once,
    of_two_deciders_at_once_one_wins,
    leases_are_held_expire_and_are_taken_over,
    the_inbox_lists_rows_polls_changes_snoozes_and_reopens,
    a_failure_and_its_item_are_recorded_once_and_withdrawn,
    notices_share_the_inbox_and_are_raised_and_acknowledged_once,
);
