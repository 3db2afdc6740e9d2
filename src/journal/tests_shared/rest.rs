//! The shared suite's circuit breakers, notifications, trust listings, versions and
//! statistics (see `super`).

use serde_json::json;

use super::*;
use crate::connectors::{Target, TargetKind};
use crate::health::breaker::{Admit, BreakerEvent, BreakerPolicy, BreakerState};
use crate::journal::notify::NewNotification;
use crate::journal::store::{BreakerStore, NotifyStore, StatsStore, TrustStore, VersionStore};

/// 2026-01-01T00:00:00Z.
const T0: Millis = 1_767_225_600_000;

fn at(ms: Millis) -> Clock {
    Clock::Fixed(jiff::Timestamp::from_millisecond(ms).unwrap())
}

fn a_tripped_breaker_is_probed_by_one_caller_and_its_rows_replay<B: Backend + Sync>(b: &B)
where
    B::J: BreakerStore,
{
    let t = Target::new(TargetKind::Mcp, "time");
    let p = BreakerPolicy {
        failures: 3,
        cooldown: 60_000,
        max_cooldown: 600_000,
    };
    let mut j = b.open_at(at(T0));
    // A healthy target writes nothing.
    assert_eq!(j.breaker_report(&t, &p, &Verdict::Answered).unwrap(), None);
    assert!(j.breakers().unwrap().is_empty());
    assert_eq!(j.breaker_admit(&t, &p, "run 1, step a").unwrap(), Admit::Go);
    // Six calls fail at once: each failure is counted once, the third opens the
    // breaker, and the later ones find it open.
    let barrier = std::sync::Barrier::new(6);
    let events: Vec<Option<BreakerEvent>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..6)
            .map(|_| {
                let (mut j, barrier, t, p) = (b.open_at(at(T0)), &barrier, &t, &p);
                s.spawn(move || {
                    barrier.wait();
                    j.breaker_report(t, p, &Verdict::Failed("no answer".into()))
                        .unwrap()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let kinds = |name: &str| {
        events
            .iter()
            .filter(|e| e.as_ref().map(|e| e.type_name()) == Some(name))
            .count()
    };
    assert_eq!((kinds("failed"), kinds("opened")), (2, 1), "{events:?}");
    assert_eq!(events.iter().filter(|e| e.is_none()).count(), 3);
    let br = j.breaker(&t).unwrap().unwrap();
    assert_eq!(
        (br.state, br.failures, br.trips, br.opened_at, br.until),
        (BreakerState::Open, 3, 1, Some(T0), Some(T0 + 60_000))
    );
    assert_eq!(br.last_error.as_deref(), Some("no answer"));
    match j.breaker_admit(&t, &p, "run 1, step a").unwrap() {
        Admit::Wait { until, .. } => assert_eq!(until, T0 + 60_000),
        other => panic!("{other:?}"),
    }
    // Another target that failed once: listed after the tripped one.
    let other = Target::parse("http:b.test").unwrap();
    j.breaker_report(&other, &p, &Verdict::Failed("503".into()))
        .unwrap();
    let names: Vec<String> = j
        .breakers()
        .unwrap()
        .iter()
        .map(|b| b.target.to_string())
        .collect();
    assert_eq!(names, ["mcp:time", "http:b.test"]);
    // After the cooldown, four callers race: one probes, the others wait for it.
    let barrier = std::sync::Barrier::new(4);
    let admits: Vec<(usize, Admit)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|i| {
                let (mut j, barrier, t, p) = (b.open_at(at(T0 + 60_000)), &barrier, &t, &p);
                s.spawn(move || {
                    barrier.wait();
                    let by = format!("run {i}, step a");
                    (i, j.breaker_admit(t, p, &by).unwrap())
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let probes: Vec<usize> = admits
        .iter()
        .filter(|(_, a)| matches!(a, Admit::Probe(_)))
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(probes.len(), 1, "{admits:?}");
    for (_, a) in admits.iter().filter(|(_, a)| !matches!(a, Admit::Probe(_))) {
        match a {
            Admit::Wait { reason, .. } => assert!(
                reason.contains(&format!("run {}, step a probes it", probes[0])),
                "{reason}"
            ),
            other => panic!("{other:?}"),
        }
    }
    let mut later = b.open_at(at(T0 + 61_000));
    assert_eq!(
        later.breaker_report(&t, &p, &Verdict::Answered).unwrap(),
        Some(BreakerEvent::Closed {
            reason: "the probe was answered".into()
        })
    );
    assert_eq!(
        later.breaker_admit(&t, &p, "run 9, step a").unwrap(),
        Admit::Go
    );
    let br = later.breaker(&t).unwrap().unwrap();
    assert_eq!(
        (br.state, br.failures, br.trips),
        (BreakerState::Closed, 0, 0)
    );
    // failed ×2, opened, probing, closed; and http:b.test's failure.
    assert_eq!(later.breaker_events(&t).unwrap().len(), 5);
    assert_eq!(later.breaker_events(&t).unwrap()[4].0, T0 + 61_000);
    assert_eq!(later.replay_breakers().unwrap(), (6, vec![]));
    // A row that is not what its events say is told.
    b.tamper("UPDATE breakers SET failures = 7 WHERE target = 'http:b.test'");
    let (n, diff) = later.replay_breakers().unwrap();
    assert_eq!(n, 6);
    assert_eq!(diff.len(), 1, "{diff:?}");
    assert!(
        diff[0].starts_with("breaker http:b.test: stored state=closed failures=7"),
        "{}",
        diff[0]
    );
    // By hand: only an open (or counting) breaker closes.
    let e = later.close_breaker(&t, "the operator").unwrap_err();
    assert!(e.message.contains("is not open"), "{}", e.message);
    let closed = later.close_breaker(&other, "the operator").unwrap();
    assert_eq!((closed.state, closed.failures), (BreakerState::Closed, 0));
    assert_eq!(
        later.breaker_events(&other).unwrap()[1].1,
        BreakerEvent::Closed {
            reason: "closed by the operator".into()
        }
    );
}

fn a_step_held_by_a_breaker_waits_until_it_starts_again<B: Backend>(b: &B)
where
    B::J: BreakerStore,
{
    let mut j = b.open_at(at(T0));
    let run = j
        .create_run("name = \"w\"", created("u1", &["a", "b"]))
        .unwrap();
    assert!(j.held_steps().unwrap().is_empty());
    j.commit(
        run,
        &[
            started("a"),
            Event::StepHeld {
                step: "a".into(),
                attempt: 1,
                target: "mcp:time".into(),
                until: T0 + 60_000,
                reason: "circuit breaker mcp:time is open".into(),
            },
        ],
    )
    .unwrap();
    assert_eq!(
        j.held_steps().unwrap(),
        vec![HeldStep {
            run,
            step: "a".into(),
            target: "mcp:time".into(),
            until: T0 + 60_000,
        }]
    );
    let a = &j.steps(run).unwrap()[0];
    assert_eq!(
        (a.status, a.error.as_deref()),
        (
            StepStatus::Waiting,
            Some("circuit breaker mcp:time is open")
        )
    );
    j.commit(
        run,
        &[Event::StepStarted {
            step: "a".into(),
            attempt: 2,
        }],
    )
    .unwrap();
    assert!(j.held_steps().unwrap().is_empty());
}

fn note(key: &str, channel: &str) -> NewNotification {
    NewNotification {
        key: key.into(),
        channel: channel.into(),
        event: "waiting".into(),
        title: "t".into(),
        body: "b".into(),
    }
}

fn notifications_are_queued_once_claimed_by_one_and_retried<B: Backend + Sync>(b: &B)
where
    B::J: NotifyStore,
{
    // Four ticks queue the same notifications at once: each is queued once.
    let barrier = std::sync::Barrier::new(4);
    let queued: Vec<Vec<i64>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let (mut j, barrier) = (b.open_at(at(1_000)), &barrier);
                s.spawn(move || {
                    barrier.wait();
                    j.queue_notifications(&[note("waiting:1", "phone"), note("waiting:1", "mail")])
                        .unwrap()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut ids: Vec<i64> = queued.into_iter().flatten().collect();
    ids.sort();
    assert_eq!(ids, [1, 2]);
    let mut j = b.open_at(at(1_000));
    assert!(
        j.queue_notifications(&[note("waiting:1", "phone")])
            .unwrap()
            .is_empty()
    );
    assert_eq!(j.notification_keys("waiting:1").unwrap(), ["mail", "phone"]);
    // Four ticks claim at once: each notification goes to one of them.
    let barrier = std::sync::Barrier::new(4);
    let claimed: Vec<(String, Vec<i64>)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|i| {
                let (mut j, barrier) = (b.open_at(at(1_000)), &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let by = format!("tick{i}");
                    let got = j.claim_notifications(&by, 60_000, 10).unwrap();
                    (by, got.iter().map(|n| n.id).collect())
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: Vec<i64> = claimed.iter().flat_map(|(_, ids)| ids.clone()).collect();
    all.sort();
    assert_eq!(all, [1, 2], "{claimed:?}");
    let holder = |id: i64| {
        claimed
            .iter()
            .find(|(_, ids)| ids.contains(&id))
            .map(|(by, _)| by.clone())
            .unwrap()
    };
    assert!(
        j.claim_notifications("late", 60_000, 10)
            .unwrap()
            .is_empty()
    );
    assert!(
        !j.notification_sent(1, "late", "ok").unwrap(),
        "late holds no claim"
    );
    assert!(j.notification_sent(1, &holder(1), "200").unwrap());
    assert!(
        j.notification_failed(2, &holder(2), "down", Some(31_000))
            .unwrap()
    );
    let rows = j.notifications(10).unwrap();
    assert_eq!(
        (
            rows[1].id,
            rows[1].status.as_str(),
            rows[1].reply.as_deref()
        ),
        (1, "sent", Some("200"))
    );
    assert_eq!(rows[1].sent_at, Some(1_000));
    assert_eq!(
        (rows[0].status.as_str(), rows[0].attempts, rows[0].next_at),
        ("pending", 1, 31_000)
    );
    assert_eq!(rows[0].error.as_deref(), Some("down"));
    assert!(
        j.claim_notifications("a", 60_000, 10).unwrap().is_empty(),
        "not due yet"
    );
    let mut later = b.open_at(at(31_000));
    let again = later.claim_notifications("c", 1_000, 10).unwrap();
    assert_eq!((again.len(), again[0].attempts), (1, 2));
    assert_eq!(again[0].claim_until, Some(32_000));
    // c stops without recording: its claim lapses, and d may take it.
    let mut after = b.open_at(at(32_001));
    let d = after.claim_notifications("d", 1_000, 10).unwrap();
    assert_eq!(d[0].id, 2);
    assert!(!after.notification_failed(2, "c", "gone", None).unwrap());
    assert!(after.notification_failed(2, "d", "gone", None).unwrap());
    assert_eq!(after.notifications(10).unwrap()[0].status, "failed");
    assert_eq!(after.notifications(1).unwrap().len(), 1);
}

fn what_notifications_are_made_from<B: Backend>(b: &B)
where
    B::J: NotifyStore,
{
    let mut j = b.open_at(at(T0));
    let run = j
        .create_run("name = \"w\"", created("u1", &["a", "b", "c"]))
        .unwrap();
    let first = item(&mut j, run, "a").unwrap();
    let second = item(&mut j, run, "b").unwrap();
    let snoozed = item(&mut j, run, "c").unwrap();
    j.snooze(snoozed, T0 + 3_600_000, "me").unwrap();
    j.raise_notice("s", "missed", "k", "missed a fire", json!({}))
        .unwrap();
    let failed = j.create_run("name = \"w\"", created("u2", &["a"])).unwrap();
    j.commit(
        failed,
        &[Event::RunStatus {
            status: RunStatus::Failed,
            error: Some("boom".into()),
        }],
    )
    .unwrap();
    let src = j.notify_sources(T0 - 1).unwrap();
    let pending: Vec<(i64, &str)> = src
        .pending
        .iter()
        .map(|p| (p.id, p.kind.as_str()))
        .collect();
    assert_eq!(pending.len(), 3, "{pending:?}");
    assert_eq!(&pending[..2], &[(first, "action"), (second, "action")]);
    assert_eq!(pending[2].1, "notice");
    assert_eq!(src.pending[2].workflow, "s");
    assert_eq!(src.failed.len(), 1);
    assert_eq!(
        (src.failed[0].id, src.failed[0].error.as_deref()),
        (failed, Some("boom"))
    );
    assert!(j.notify_sources(T0 + 1).unwrap().failed.is_empty());
    // The digest: spending today and this month, successes, decisions by policy.
    j.commit(run, &[super::operations::call("a", 0.25, None)])
        .unwrap();
    let mut by_policy = decision(Decision::Approve, "policy:auto");
    by_policy.reason = Some("low risk".into());
    j.decide(first, by_policy).unwrap();
    let ok = j.create_run("name = \"w\"", created("u3", &["a"])).unwrap();
    j.commit(
        ok,
        &[Event::RunStatus {
            status: RunStatus::Succeeded,
            error: None,
        }],
    )
    .unwrap();
    let d = j.digest_facts(T0 - 1, T0, T0 - 86_400_000).unwrap();
    assert_eq!((d.spent_today, d.spent_month, d.succeeded), (0.25, 0.25, 1));
    assert_eq!(
        d.by_policy,
        vec![(
            first,
            run,
            "w".to_string(),
            "a".to_string(),
            "policy:auto".to_string(),
            "low risk".to_string()
        )]
    );
    assert!(d.outcomes.is_empty());
    assert_eq!(j.digest_facts(T0 + 1, T0 + 1, T0 + 1).unwrap().succeeded, 0);
}

fn trust_listings_count_decisions_and_marks<B: Backend>(b: &B)
where
    B::J: TrustStore,
{
    let mut j = b.open_at(at(T0));
    let run = j
        .create_run("name = \"w\"", created("u1", &["send"]))
        .unwrap();
    // Five attempts of one step's action.
    let ids: Vec<i64> = (1..=5)
        .map(|attempt| {
            j.create_proposal(
                run,
                "send",
                attempt,
                ProposalKind::Action,
                "send".into(),
                json!({}),
                json!({}),
            )
            .unwrap()
            .unwrap()
        })
        .collect();
    j.decide(ids[0], decision(Decision::Approve, "me")).unwrap();
    j.decide(ids[1], decision(Decision::Approve, "policy:auto"))
        .unwrap();
    let none = j.step_stats("w", "nope").unwrap();
    assert_eq!((none.proposals, none.mark.is_none()), (0, true));
    let s = j.step_stats("w", "send").unwrap();
    assert_eq!(
        (s.proposals, s.approved_unchanged, s.by_policy, s.pending),
        (5, 2, 1, 3)
    );
    assert_eq!(
        (s.decided, s.streak, s.streak_text().as_str()),
        (2, 2, "2 of 2 times")
    );
    // Promoted by hand (of no run), then an edit demotes it in its decision's
    // transaction.
    let m = j
        .mark_trust(0, "w", "send", true, "me", Some("reliable".into()))
        .unwrap();
    assert_eq!(
        (m.level.as_str(), m.by.as_str(), m.reason.as_deref(), m.at),
        ("promoted", "me", Some("reliable"), T0)
    );
    assert!(j.step_stats("w", "send").unwrap().promoted());
    let mut edit = decision(Decision::Approve, "me");
    edit.edited = Some(json!({"to": "y"}));
    j.decide(ids[2], edit).unwrap();
    let s = j.step_stats("w", "send").unwrap();
    assert!(!s.promoted());
    assert_eq!(
        s.mark_reason(),
        Some(format!("inbox item {} was edited by me", ids[2]).as_str())
    );
    assert_eq!((s.edited, s.decided, s.streak), (1, 0, 0));
    // A decision after the demotion counts again.
    j.decide(ids[3], decision(Decision::Approve, "me")).unwrap();
    let s = j.step_stats("w", "send").unwrap();
    assert_eq!((s.decided, s.streak, s.pending), (1, 1, 1));
    let marks: Vec<String> = j
        .trust_marks("w", "send")
        .unwrap()
        .into_iter()
        .map(|m| m.level)
        .collect();
    assert_eq!(marks, ["promoted", "demoted"]);
    // Every step that proposed or was marked, by workflow and step.
    j.mark_trust(0, "v", "z", true, "me", None).unwrap();
    let all: Vec<String> = j.all_step_stats().unwrap().iter().map(|s| s.id()).collect();
    assert_eq!(all, ["v.z", "w.send"]);
    // Dry runs are left out.
    let mut dry = created("u2", &["send"]);
    if let Event::RunCreated { dry, .. } = &mut dry {
        *dry = Some(DryMode::Offline);
    }
    let dry_run = j.create_run("name = \"w\"", dry).unwrap();
    item(&mut j, dry_run, "send").unwrap();
    assert_eq!(j.step_stats("w", "send").unwrap().proposals, 5);
}

fn stale_evidence_is_told_by_the_files_it_points_at<B: Backend>(b: &B)
where
    B::J: VersionStore,
{
    let j = b.open();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("w.toml");
    std::fs::write(&file, "name = \"w\"").unwrap();
    let path = file.to_str().unwrap().to_string();
    let hash = source_hash("name = \"w\"");
    assert_eq!(
        j.current_version("workflow_file", &path),
        CurrentVersion::Is(hash.clone())
    );
    assert_eq!(
        j.current_version("unknown_kind", "x"),
        CurrentVersion::Unknown
    );
    let evidence = json!({"versions": [
        {"kind": "workflow_file", "key": path, "version": hash},
        {"kind": "unknown_kind", "key": "x", "version": 1},
    ]});
    assert!(j.stale(&evidence).is_empty());
    std::fs::write(&file, "name = \"w2\"").unwrap();
    let stale = j.stale(&evidence);
    assert_eq!(stale.len(), 1);
    assert_eq!(
        (stale[0].recorded.as_str(), stale[0].current.clone()),
        (hash.as_str(), Some(source_hash("name = \"w2\"")))
    );
    // Resolved once per list through the cache: the file's later change is not seen.
    let mut cache = VersionCache::default();
    let refs = versions_of(&evidence);
    assert_eq!(j.stale_refs(&refs, &mut cache).len(), 1);
    std::fs::remove_file(&file).unwrap();
    assert_eq!(
        j.stale_refs(&refs, &mut cache)[0].current.as_deref(),
        Some(source_hash("name = \"w2\"").as_str())
    );
    let gone = j.stale(&evidence);
    assert_eq!(gone[0].current, None);
    assert!(
        gone[0].describe().contains("no longer exists"),
        "{}",
        gone[0].describe()
    );
}

fn statistics_count_spending_decisions_and_failures<B: Backend>(b: &B)
where
    B::J: StatsStore,
{
    const DAY: Millis = 86_400_000;
    // 2026-01-10T12:00:00Z.
    let now = T0 + 9 * DAY + DAY / 2;
    let mut yesterday = b.open_at(at(now - DAY));
    let run = yesterday
        .create_run("name = \"w\"", created("u1", &["a", "b", "c"]))
        .unwrap();
    yesterday
        .commit(run, &[super::operations::call("a", 0.5, None)])
        .unwrap();
    let p = item(&mut yesterday, run, "a").unwrap();
    let q = item(&mut yesterday, run, "b").unwrap();
    let mut j = b.open_at(at(now));
    j.commit(
        run,
        &[
            super::operations::call("b", 0.25, None),
            super::operations::call("c", 0.125, None),
        ],
    )
    .unwrap();
    j.decide(p, decision(Decision::Approve, "me")).unwrap();
    let mut later = b.open_at(at(now + 3_600_000));
    later.decide(q, decision(Decision::Reject, "me")).unwrap();
    for (uid, workflow) in [("f1", "x"), ("f2", "y"), ("f3", "y")] {
        let mut c = created(uid, &["a"]);
        if let Event::RunCreated { workflow: w, .. } = &mut c {
            *w = workflow.into();
        }
        let id = later.create_run("name = \"w\"", c).unwrap();
        later
            .commit(
                id,
                &[Event::RunStatus {
                    status: RunStatus::Failed,
                    error: None,
                }],
            )
            .unwrap();
    }
    let s = later.stats(Some(1.0), None).unwrap();
    assert_eq!(s.days.len(), 30);
    let today = &s.days[29];
    let before = &s.days[28];
    assert_eq!(
        (today.date.as_str(), today.spent_usd, today.decided),
        ("2026-01-10", 0.375, 2)
    );
    assert_eq!(
        (before.date.as_str(), before.spent_usd, before.decided),
        ("2026-01-09", 0.5, 0)
    );
    assert_eq!((s.decided, s.spent_month_usd), (2, 0.875));
    assert_eq!((s.daily_cap_usd, s.monthly_cap_usd), (Some(1.0), None));
    // Waits of one day and of one day and an hour.
    assert_eq!(s.median_decide_ms, Some(DAY + 1_800_000));
    let failures: Vec<(&str, i64)> = s
        .failures
        .iter()
        .map(|f| (f.workflow.as_str(), f.failed))
        .collect();
    assert_eq!(failures, [("y", 2), ("x", 1)]);
    assert!(s.outcomes.is_empty());
}

shared_suite!(
    a_tripped_breaker_is_probed_by_one_caller_and_its_rows_replay,
    a_step_held_by_a_breaker_waits_until_it_starts_again,
    notifications_are_queued_once_claimed_by_one_and_retried,
    what_notifications_are_made_from,
    trust_listings_count_decisions_and_marks,
    stale_evidence_is_told_by_the_files_it_points_at,
    statistics_count_spending_decisions_and_failures,
);
