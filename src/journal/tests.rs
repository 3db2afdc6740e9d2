//! SqliteJournal tests on a temp file: projections, once-only decisions, leases, replay.

use serde_json::json;

use super::*;
use crate::clock::Clock;

fn open(dir: &tempfile::TempDir) -> SqliteJournal {
    SqliteJournal::open(
        &dir.path().join("aios.db"),
        Clock::System,
        OpenOptions::default(),
    )
    .unwrap()
}

fn created(steps: &[&str]) -> Event {
    Event::RunCreated {
        dry: None,
        uid: "u1".into(),
        workflow: "w".into(),
        path: None,
        dir: "/tmp".into(),
        source_hash: "h".into(),
        inputs: json!({"a": 1}),
        steps: steps
            .iter()
            .map(|s| StepDecl {
                id: s.to_string(),
                kind: "http".into(),
            })
            .collect(),
    }
}

fn decision(d: Decision) -> DecisionInput {
    DecisionInput {
        decision: d,
        reason: None,
        fields: None,
        edited: None,
        diff: None,
        by: "me".into(),
    }
}

#[test]
fn reopening_applies_no_migration_twice() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir);
    j.create_run("name = \"w\"", created(&["a"])).unwrap();
    drop(j);
    let j = open(&dir);
    assert_eq!(j.runs(None, 10).unwrap().len(), 1);
    assert_eq!(j.integrity_check().unwrap(), "ok");
}

#[test]
fn events_update_projections_and_replay_to_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir);
    let run = j.create_run("name = \"w\"", created(&["a", "b"])).unwrap();
    j.commit(
        run,
        &[
            Event::StepStarted {
                step: "a".into(),
                attempt: 1,
            },
            Event::StepSucceeded {
                step: "a".into(),
                attempt: 1,
                output: json!({"ok": true}),
            },
        ],
    )
    .unwrap();
    let p = j
        .create_proposal(
            run,
            "b",
            1,
            ProposalKind::Action,
            "POST x".into(),
            json!({}),
            json!({}),
        )
        .unwrap()
        .unwrap();
    j.decide(p, decision(Decision::Approve)).unwrap();
    let steps = j.steps(run).unwrap();
    assert_eq!(steps[0].status, StepStatus::Succeeded);
    assert_eq!(steps[0].output, Some(json!({"ok": true})));
    assert_eq!(steps[1].status, StepStatus::Waiting);
    let report = j.replay(run).unwrap();
    assert!(report.differences.is_empty(), "{:?}", report.differences);
    assert_eq!(report.events, 5);
}

#[test]
fn events_are_append_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir);
    j.create_run("name = \"w\"", created(&["a"])).unwrap();
    assert!(j.conn.execute("UPDATE events SET type = 'x'", []).is_err());
    assert!(j.conn.execute("DELETE FROM events", []).is_err());
}

#[test]
fn a_decision_is_taken_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir);
    let run = j.create_run("name = \"w\"", created(&["a"])).unwrap();
    let p = j
        .create_proposal(
            run,
            "a",
            1,
            ProposalKind::Action,
            "s".into(),
            json!({}),
            json!({}),
        )
        .unwrap()
        .unwrap();
    // The same (run, step, attempt, kind) never gets a second item.
    let again = j
        .create_proposal(
            run,
            "a",
            1,
            ProposalKind::Action,
            "s".into(),
            json!({}),
            json!({}),
        )
        .unwrap();
    assert_eq!(again, Some(p));
    j.decide(p, decision(Decision::Reject)).unwrap();
    let err = j.decide(p, decision(Decision::Approve)).unwrap_err();
    assert_eq!(err.kind, crate::error::ErrorKind::Conflict);
    assert!(err.message.contains("already decided"), "{}", err.message);
}

#[test]
fn a_cancelled_run_takes_no_decision_no_item_and_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir);
    let run = j.create_run("name = \"w\"", created(&["a", "b"])).unwrap();
    let p = j
        .create_proposal(
            run,
            "a",
            1,
            ProposalKind::Action,
            "s".into(),
            json!({}),
            json!({}),
        )
        .unwrap()
        .unwrap();
    j.commit(run, &[Event::RunCancelled { reason: None }])
        .unwrap();
    let withdrawn = j.proposal(p).unwrap();
    assert_eq!(withdrawn.status, ProposalStatus::Withdrawn);
    assert_eq!(withdrawn.reason.as_deref(), Some("run 1 was cancelled"));
    assert_eq!(j.replay(run).unwrap().differences, Vec::<String>::new());
    assert_eq!(
        j.decide(p, decision(Decision::Approve)).unwrap_err().kind,
        crate::error::ErrorKind::Conflict
    );
    let none = j
        .create_proposal(
            run,
            "b",
            1,
            ProposalKind::Action,
            "s".into(),
            json!({}),
            json!({}),
        )
        .unwrap();
    assert_eq!(none, None);
    let started = j.commit(
        run,
        &[Event::StepStarted {
            step: "b".into(),
            attempt: 1,
        }],
    );
    assert!(started.is_err());
}

#[test]
fn leases_exclude_live_owners_and_pass_from_dead_ones() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir);
    let run = j.create_run("name = \"w\"", created(&["a"])).unwrap();
    let me = Owner::new(std::process::id(), "here");
    assert_eq!(j.acquire_lease(run, &me, 30_000).unwrap().unwrap(), None);
    // Another live process on this host (pid 1 always exists) cannot take it...
    let other = Owner::new(1, "here");
    j.release_lease(run, &me).unwrap();
    j.acquire_lease(run, &other, 30_000).unwrap().unwrap();
    let held = j.acquire_lease(run, &me, 30_000).unwrap().unwrap_err();
    assert_eq!(held.owner, "1@here");
    // ...but the lease of a process that is gone is taken over at once.
    j.release_lease(run, &other).unwrap();
    let dead = Owner::new(u32::MAX - 1, "here");
    j.acquire_lease(run, &dead, 30_000).unwrap().unwrap();
    let prev = j.acquire_lease(run, &me, 30_000).unwrap().unwrap();
    assert_eq!(prev.as_deref(), Some(&*format!("{}@here", u32::MAX - 1)));
    // And an expired lease of a process on another host too.
    j.release_lease(run, &me).unwrap();
    let remote = Owner::new(7, "elsewhere");
    j.acquire_lease(run, &remote, -1).unwrap().unwrap();
    assert!(j.acquire_lease(run, &me, 30_000).unwrap().is_ok());
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let j = open(&dir);
    j.conn.pragma_update(None, "user_version", 99).unwrap();
    drop(j);
    let err = SqliteJournal::open(
        &dir.path().join("aios.db"),
        Clock::System,
        OpenOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind, crate::error::ErrorKind::Storage);
    assert!(err.message.contains("newer aios"), "{}", err.message);
}

#[test]
fn run_times_count_the_whole_run_and_its_running_part() {
    use RunStatus::*;
    // Created at 0, waited from 10 to 7,200,000 (two hours), ran to the end.
    let t = RunTimes::of(
        0,
        &[(10, Waiting), (7_200_000, Running), (7_200_050, Succeeded)],
        7_200_050,
    );
    assert_eq!(
        t,
        RunTimes {
            total: 7_200_050,
            active: 60,
            waited: true
        }
    );
    // Never waited: all of it was active.
    let t = RunTimes::of(100, &[(350, Succeeded)], 350);
    assert_eq!((t.total, t.active, t.waited), (250, 250, false));
    // Still running: counted to `end`; a repeated `running` (a resume) changes nothing.
    let t = RunTimes::of(0, &[(5, Waiting), (20, Running), (30, Running)], 50);
    assert_eq!((t.total, t.active, t.waited), (50, 35, true));
}

#[test]
fn a_failure_item_is_created_once_with_the_failure_and_leaves_its_step_failed() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir);
    let run = j.create_run("src", created(&["a"])).unwrap();
    j.commit(
        run,
        &[
            Event::StepStarted {
                step: "a".into(),
                attempt: 1,
            },
            Event::StepFailed {
                step: "a".into(),
                attempt: 1,
                error: "boom".into(),
                retry_at: None,
                at_render: false,
            },
        ],
    )
    .unwrap();
    let failed = [Event::RunStatus {
        status: RunStatus::Failed,
        error: Some("step `a` failed".into()),
    }];
    let f = Failure {
        step: "a".into(),
        kind: "http".into(),
        error: "boom".into(),
        attempts: 1,
        ..Default::default()
    };
    let made = j.commit_failure(run, &failed, &f, 1).unwrap();
    assert_eq!(made.len(), 1);
    // The same failure again (a retried driver) makes no second item.
    assert!(j.commit_failure(run, &failed, &f, 1).unwrap().is_empty());
    let items = j.run_proposals(run).unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].kind, ProposalKind::Failure);
    assert_eq!(Failure::of(&items[0].action), f);
    assert_eq!(j.steps(run).unwrap()[0].status, StepStatus::Failed);
    assert_eq!(j.run(run).unwrap().status, RunStatus::Failed);
    let gone = j.withdraw_failure(run, "resumed by hand").unwrap();
    assert_eq!(gone.len(), 1);
    assert_eq!(
        j.proposal(items[0].id).unwrap().status,
        ProposalStatus::Withdrawn
    );
}

#[test]
fn compensation_runs_are_found_by_name_through_an_index() {
    let dir = tempfile::tempdir().unwrap();
    let j = open(&dir);
    let plan: String = j
        .conn
        .query_row(
            "EXPLAIN QUERY PLAN SELECT id, status FROM runs WHERE workflow = ?1 ORDER BY id",
            ["undo of run 1"],
            |r| r.get(3),
        )
        .unwrap();
    assert!(plan.contains("runs_by_workflow"), "{plan}");
    assert!(j.runs_of_workflow("undo of run 1").unwrap().is_empty());
}
