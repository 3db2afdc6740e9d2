//! The shared suite's runs' upkeep: replay, workflow changes, pruning dry runs
//! (see `super`).

use serde_json::json;

use super::*;
use crate::journal::store::{BreakerStore, MemoryStore, RunUpkeep, TrustStore};

fn a_run_replays_to_its_stored_projections<B: Backend>(b: &B)
where
    B::J: RunUpkeep + TrustStore + BreakerStore,
{
    let mut j = b.open();
    let run = j
        .create_run("name = \"w\"", created("u1", &["a", "b", "c", "d"]))
        .unwrap();
    j.commit(
        run,
        &[
            started("a"),
            super::operations::call("a", 0.25, Some("writer")),
            Event::StepSucceeded {
                step: "a".into(),
                attempt: 1,
                output: json!({"text": "hi"}),
            },
            started("c"),
            Event::StepHeld {
                step: "c".into(),
                attempt: 1,
                target: "mcp:time".into(),
                until: 9_000,
                reason: "open".into(),
            },
            Event::TimerSet {
                step: "d".into(),
                attempt: 1,
                due_at: 8_000,
            },
        ],
    )
    .unwrap();
    let p = item(&mut j, run, "b").unwrap();
    j.snooze(p, j.now() + 60_000, "me").unwrap();
    // A promoted step demoted by the rejection, in the decision's transaction.
    j.mark_trust(run, "w", "b", true, "me", None).unwrap();
    let mut no = decision(Decision::Reject, "me");
    no.reason = Some("wrong".into());
    j.decide(p, no).unwrap();
    assert_eq!(j.trust_marks("w", "b").unwrap().len(), 2);
    let report = j.replay(run).unwrap();
    assert_eq!(report.run, run);
    assert_eq!(report.events, j.events(run).unwrap().len());
    assert!(report.differences.is_empty(), "{:?}", report.differences);
    // Read-only: the stored projections are as they were.
    assert_eq!(j.trust_marks("w", "b").unwrap().len(), 2);
    assert_eq!(j.held_steps().unwrap().len(), 1);
    assert_eq!(
        j.replay(run + 1).unwrap_err().kind,
        crate::error::ErrorKind::NotFound
    );
    // A projection that is not what its events say is told, and left as it is.
    b.tamper(&format!(
        "UPDATE steps SET status = 'failed' WHERE run_id = {run} AND step_id = 'a';
         DELETE FROM proposal_snoozes WHERE proposal = {p}"
    ));
    let report = j.replay(run).unwrap();
    assert_eq!(report.differences.len(), 2, "{:?}", report.differences);
    assert!(
        report.differences[0].starts_with("steps: stored [\"a\"")
            && report.differences[0].contains("\"failed\""),
        "{}",
        report.differences[0]
    );
    assert_eq!(
        report.differences[1],
        "proposal_snoozes: 0 stored rows, 1 rebuilt"
    );
    assert_eq!(j.steps(run).unwrap()[0].status, StepStatus::Failed);
}

fn a_run_moves_to_a_corrected_workflow<B: Backend>(b: &B)
where
    B::J: RunUpkeep,
{
    let mut j = b.open();
    let run = j
        .create_run("name = \"w\"", created("u1", &["a", "b"]))
        .unwrap();
    j.commit(
        run,
        &[
            started("a"),
            Event::StepFailed {
                step: "a".into(),
                attempt: 1,
                error: "bad url".into(),
                retry_at: None,
                at_render: false,
            },
        ],
    )
    .unwrap();
    let mut added = serde_json::Map::new();
    added.insert("extra".into(), json!(3));
    let changed = Event::WorkflowChanged {
        source_hash: "h2".into(),
        previous_hash: "h".into(),
        path: Some("/w/w2.toml".into()),
        dir: "/w".into(),
        steps: vec![
            StepDecl {
                id: "c".into(),
                kind: "shell".into(),
            },
            StepDecl {
                id: "a".into(),
                kind: "http".into(),
            },
        ],
        inputs_added: added,
        changes: vec!["step b removed".into()],
        diff: "-b".into(),
        by: "me".into(),
    };
    let reset = Event::StepReset {
        step: "a".into(),
        reason: "its definition changed".into(),
    };
    let seq = j
        .change_workflow(run, "name = \"w2\"", &[changed, reset])
        .unwrap();
    let events = j.events(run).unwrap();
    assert_eq!(seq, events.last().unwrap().seq);
    let r = j.run(run).unwrap();
    assert_eq!(
        (r.source_hash.as_str(), r.path.as_deref(), r.source.as_str()),
        ("h2", Some("/w/w2.toml"), "name = \"w2\"")
    );
    assert_eq!(r.inputs, json!({"a": 1, "b": [true, null], "extra": 3}));
    let steps: Vec<(String, i64, StepStatus)> = j
        .steps(run)
        .unwrap()
        .into_iter()
        .map(|s| (s.step_id, s.idx, s.status))
        .collect();
    assert_eq!(
        steps,
        [
            ("c".to_string(), 0, StepStatus::Pending),
            ("a".to_string(), 1, StepStatus::Pending)
        ]
    );
    assert!(j.replay(run).unwrap().differences.is_empty());
    let e = j.change_workflow(run, "x", &[started("a")]).unwrap_err();
    assert!(e.message.contains("workflow_changed"), "{}", e.message);
}

fn dry_runs_are_pruned_with_their_events<B: Backend>(b: &B)
where
    B::J: RunUpkeep,
{
    let mut j = b.open();
    assert_eq!(j.prune_dry_runs().unwrap(), Pruned::default());
    let real = j.create_run("name = \"w\"", created("u1", &["a"])).unwrap();
    let dry = |uid: &str| {
        let mut c = created(uid, &["a"]);
        if let Event::RunCreated { dry, .. } = &mut c {
            *dry = Some(DryMode::Offline);
        }
        c
    };
    let gone = j.create_run("name = \"w\"", dry("d1")).unwrap();
    j.commit(
        gone,
        &[started("a"), super::operations::call("a", 0.0, None)],
    )
    .unwrap();
    item(&mut j, gone, "a").unwrap();
    // A dry run being driven (its lease live) stays.
    let driven = j.create_run("name = \"w\"", dry("d2")).unwrap();
    let me = Owner::new(std::process::id(), "here");
    j.acquire_lease(driven, &me, 60_000).unwrap().unwrap();
    let pruned = j.prune_dry_runs().unwrap();
    assert_eq!(
        pruned,
        Pruned {
            runs: 1,
            // created, started, llm_call, proposal_created
            events: 4
        }
    );
    assert_eq!(
        j.run(gone).unwrap_err().kind,
        crate::error::ErrorKind::NotFound
    );
    assert!(j.events(gone).unwrap().is_empty());
    assert!(j.run_proposals(gone).unwrap().is_empty());
    assert_eq!(j.run(real).unwrap().status, RunStatus::Running);
    assert_eq!(j.run(driven).unwrap().uid, "d2");
    // A pruned run's id is not taken again.
    let next = j.create_run("name = \"w\"", created("u2", &["a"])).unwrap();
    assert!(next > driven);
    // The events of a real run stay append-only.
    assert_eq!(j.events(real).unwrap().len(), 1);
}

/// A run's memory (a fact and a note its step wrote, its outcome, the decision of
/// its item) replays to what is stored, whatever memory holds besides (a note and a
/// fact set by hand); a changed outcome or a lost decision is told.
fn a_run_replays_its_memory<B: Backend>(b: &B)
where
    B::J: RunUpkeep + MemoryStore,
{
    let mut j = b.open();
    let run = j
        .create_run("name = \"w\"", created("u1", &["a", "b"]))
        .unwrap();
    let by_hand = j
        .add_notes(&[NewNote {
            text: "written by hand".into(),
            tags: vec![],
            source: None,
        }])
        .unwrap()[0];
    j.set_fact(
        "customer:acme",
        "plan",
        &json!("basic"),
        FactOrigin::default(),
    )
    .unwrap();
    j.commit_allocated(run, |a| {
        Ok(vec![
            Event::FactSet {
                step: "a".into(),
                entity: "customer:acme".into(),
                key: "plan".into(),
                value: json!({"tier": "pro"}),
                version: a.next_fact_version("customer:acme", "plan")?,
            },
            Event::NoteAdded {
                step: "a".into(),
                note: a.next_note_id()?,
                text: "acme upgraded".into(),
                tags: vec!["acme".into()],
            },
            Event::OutcomeRecorded {
                step: Some("a".into()),
                values: json!({"sent": 3, "rate": 0.5}),
            },
        ])
    })
    .unwrap();
    let p = item(&mut j, run, "b").unwrap();
    j.decide(p, decision(Decision::Approve, "me")).unwrap();
    let report = j.replay(run).unwrap();
    assert!(report.differences.is_empty(), "{:?}", report.differences);
    // Read-only, and what is not the run's is left alone.
    assert_eq!(j.fact("customer:acme", "plan").unwrap().unwrap().version, 2);
    assert_eq!(j.fact_history("customer:acme", "plan").unwrap().len(), 2);
    let notes = j.notes(None).unwrap();
    assert_eq!(notes.len(), 2);
    assert_eq!(notes[0].id, by_hand);
    assert_eq!(j.outcomes(run).unwrap().len(), 2);

    b.tamper(&format!(
        "UPDATE outcomes SET value = '4' WHERE run_id = {run} AND key = 'sent';
         DELETE FROM memory_docs WHERE kind = 'decision' AND run_id = {run}"
    ));
    let report = j.replay(run).unwrap();
    assert!(
        report
            .differences
            .iter()
            .any(|d| d.starts_with("memory_docs: 2 stored rows, 3 rebuilt")),
        "{:?}",
        report.differences
    );
    assert!(
        report
            .differences
            .iter()
            .any(|d| d.starts_with("outcomes: stored [\"sent\",") && d.contains("\"4\"")),
        "{:?}",
        report.differences
    );
    assert_eq!(j.outcomes(run).unwrap()[1].value, json!(4));
}

shared_suite!(
    a_run_replays_its_memory,
    a_run_replays_to_its_stored_projections,
    a_run_moves_to_a_corrected_workflow,
    dry_runs_are_pruned_with_their_events,
);
