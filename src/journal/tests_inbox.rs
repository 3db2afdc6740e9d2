//! The inbox TUI's journal reads and writes: light rows, the change marker, snoozes
//! (journaled and replayed) and stale version references.

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

fn run_with_item(j: &mut SqliteJournal, evidence: serde_json::Value) -> (i64, i64) {
    let run = j
        .create_run(
            "name = \"w\"",
            Event::RunCreated {
                dry: None,
                uid: uuid::Uuid::now_v7().to_string(),
                workflow: "w".into(),
                path: None,
                dir: "/tmp".into(),
                source_hash: "h".into(),
                inputs: json!({}),
                steps: vec![StepDecl {
                    id: "a".into(),
                    kind: "file".into(),
                }],
            },
        )
        .unwrap();
    let id = j
        .create_proposal(
            run,
            "a",
            1,
            ProposalKind::Action,
            "write a".into(),
            json!({"kind": "file"}),
            evidence,
        )
        .unwrap()
        .unwrap();
    (run, id)
}

#[test]
fn rows_carry_confidence_versions_and_snoozes() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir);
    let (_, a) = run_with_item(
        &mut j,
        json!({"confidence": 0.8, "versions": [{"kind": "fact", "key": "price", "version": "3"}]}),
    );
    let (_, b) = run_with_item(&mut j, json!({"upstream": {}}));
    j.snooze(b, 5_000, "me").unwrap();
    let rows = j.inbox_rows().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].id, a);
    assert_eq!(rows[0].confidence, Some(0.8));
    assert_eq!(
        rows[0].versions,
        vec![VersionRef {
            kind: "fact".into(),
            key: "price".into(),
            version: "3".into()
        }]
    );
    assert_eq!(rows[0].snoozed_until, None);
    assert_eq!(rows[1].snoozed_until, Some(5_000));
    assert_eq!(j.snoozed_until(b).unwrap(), Some(5_000));
}

#[test]
fn the_change_marker_sees_only_newer_events() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir);
    let first = j.changes_since(0).unwrap();
    assert_eq!(first, Changes::default());
    let (run, id) = run_with_item(&mut j, json!({}));
    let ch = j.changes_since(0).unwrap();
    assert!(ch.inbox && ch.runs && ch.seq > 0);
    assert_eq!(
        j.changes_since(ch.seq).unwrap(),
        Changes {
            seq: ch.seq,
            inbox: false,
            runs: false
        }
    );
    j.commit(
        run,
        &[Event::StepStarted {
            step: "a".into(),
            attempt: 1,
        }],
    )
    .unwrap();
    let step = j.changes_since(ch.seq).unwrap();
    assert!(step.runs && !step.inbox);
    j.snooze(id, 1, "me").unwrap();
    let snoozed = j.changes_since(step.seq).unwrap();
    assert!(snoozed.inbox && !snoozed.runs);
}

#[test]
fn snoozes_are_journaled_replayed_and_only_for_pending_items() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir);
    let (run, id) = run_with_item(&mut j, json!({}));
    j.snooze(id, 1_000, "me").unwrap();
    j.snooze(id, 2_000, "me").unwrap();
    assert_eq!(j.snoozed_until(id).unwrap(), Some(2_000));
    let report = j.replay(run).unwrap();
    assert!(report.differences.is_empty(), "{:?}", report.differences);
    j.decide(
        id,
        DecisionInput {
            decision: Decision::Reject,
            reason: Some("no".into()),
            fields: None,
            edited: None,
            diff: None,
            by: "me".into(),
        },
    )
    .unwrap();
    let e = j.snooze(id, 3_000, "me").unwrap_err();
    assert_eq!(e.kind, crate::error::ErrorKind::Conflict);
    assert!(j.inbox_rows().unwrap().is_empty());
    assert_eq!(
        j.snooze(999, 1, "me").unwrap_err().kind,
        crate::error::ErrorKind::NotFound
    );
}

#[test]
fn stale_references_compare_file_hashes_and_ignore_unknown_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let j = open(&dir);
    let file = dir.path().join("w.toml");
    std::fs::write(&file, "name = \"w\"\n").unwrap();
    let key = file.display().to_string();
    let same = source_hash("name = \"w\"\n");
    let ev = |v: &str| {
        json!({"versions": [
            {"kind": "workflow_file", "key": key, "version": v},
            {"kind": "fact", "key": "price", "version": "1"}
        ]})
    };
    assert!(j.stale(&ev(&same)).is_empty());
    let stale = j.stale(&ev("old"));
    assert_eq!(stale.len(), 1);
    assert_eq!(stale[0].current.as_deref(), Some(same.as_str()));
    assert_eq!(
        stale[0].describe(),
        format!("workflow_file {key} changed since it was proposed")
    );
    std::fs::remove_file(&file).unwrap();
    let gone = j.stale(&ev(&same));
    assert_eq!(gone[0].current, None);
    assert!(gone[0].describe().ends_with("no longer exists"));
    assert!(j.stale(&json!({"upstream": {}})).is_empty());
    assert!(j.stale(&json!({"versions": "garbage"})).is_empty());
    // One resolution per thing with a cache.
    let mut cache = VersionCache::default();
    let refs = versions_of(&ev("x"));
    assert_eq!(j.stale_refs(&refs, &mut cache).len(), 1);
    std::fs::write(&file, "changed").unwrap();
    assert_eq!(
        j.stale_refs(&refs, &mut cache)[0].current,
        None,
        "the cache answers for the rest of the pass"
    );
}

#[test]
fn fact_references_go_stale_when_the_fact_changes() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir);
    let origin = || super::memory::FactOrigin {
        proposal: None,
        note: None,
        by: Some("me".into()),
    };
    let v1 = j
        .set_fact("customer:acme", "plan", &json!("pro"), origin())
        .unwrap();
    // Versions are recorded as numbers by retrieval; text works too.
    let ev = json!({"versions": [
        {"kind": "fact", "key": "customer:acme/plan", "version": v1.version},
        {"kind": "fact", "key": "customer:acme/seats", "version": "1"}
    ]});
    let stale = j.stale(&ev);
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert_eq!(stale[0].key, "customer:acme/seats");
    assert_eq!(stale[0].current, None);
    j.set_fact("customer:acme", "plan", &json!("team"), origin())
        .unwrap();
    let stale = j.stale(&ev);
    assert_eq!(stale.len(), 2);
    assert_eq!(stale[0].recorded, v1.version.to_string());
    assert_eq!(stale[0].current.as_deref(), Some("2"));
    assert_eq!(
        stale[0].describe(),
        "fact customer:acme/plan changed since it was proposed"
    );
}

#[test]
fn notices_share_the_inbox_id_space_and_are_acknowledged_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir);
    let (run, first) = run_with_item(&mut j, json!({}));
    let notice = j
        .raise_notice(
            "daily",
            "missed",
            "missed:daily:1",
            "2 runs missed",
            json!({"missed": 2}),
        )
        .unwrap()
        .unwrap();
    assert_eq!(notice, first + 1);
    // Raised once per key.
    assert_eq!(
        j.raise_notice("daily", "missed", "missed:daily:1", "again", json!({}))
            .unwrap(),
        None
    );
    let next = j
        .create_proposal(
            run,
            "a",
            2,
            ProposalKind::Action,
            "s".into(),
            json!({}),
            json!({}),
        )
        .unwrap()
        .unwrap();
    assert_eq!(next, notice + 1);
    let as_item = j.proposal(notice).unwrap();
    assert_eq!(as_item.kind, ProposalKind::Notice);
    assert_eq!(as_item.workflow, "daily");
    let ids: Vec<i64> = j.inbox(false).unwrap().iter().map(|p| p.id).collect();
    assert_eq!(ids, [first, notice, next]);
    let rows: Vec<(i64, String)> = j
        .inbox_rows()
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.kind))
        .collect();
    assert_eq!(rows[1], (notice, "notice".to_string()));
    j.acknowledge_notice(notice, "me", None).unwrap();
    let again = j.acknowledge_notice(notice, "me", None).unwrap_err();
    assert_eq!(again.kind, crate::error::ErrorKind::Conflict);
    assert_eq!(j.inbox(false).unwrap().len(), 2);
    assert_eq!(j.inbox(true).unwrap().len(), 3);
    // The run's own replay is untouched by notices (journaled under run 0).
    assert!(j.replay(run).unwrap().differences.is_empty());
}
