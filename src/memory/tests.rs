//! Memory on a temp journal: facts and their versions, notes and forgetting, FTS
//! escaping, vector fusion, decisions as memory, outcomes, retrieval and replay.

use serde_json::json;

use super::*;
use crate::clock::Clock;
use crate::journal::{
    Decision, DecisionInput, Event, FactOrigin, NewNote, OpenOptions, ProposalKind, StepDecl,
    VectorRow,
};

fn open(dir: &tempfile::TempDir) -> Journal {
    Journal::open(
        &dir.path().join("aios.db"),
        Clock::System,
        OpenOptions::default(),
    )
    .unwrap()
}

fn note(text: &str, tags: &[&str]) -> NewNote {
    NewNote {
        text: text.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        source: None,
    }
}

/// A run of workflow `launch` with one step `draft`.
fn run(j: &mut Journal) -> i64 {
    j.create_run(
        "name = \"launch\"",
        Event::RunCreated {
            dry: None,
            uid: format!("u{}", j.runs(None, 1000).unwrap().len()),
            workflow: "launch".into(),
            path: None,
            dir: "/tmp".into(),
            source_hash: "h".into(),
            inputs: json!({}),
            steps: vec![StepDecl {
                id: "draft".into(),
                kind: "http".into(),
            }],
        },
    )
    .unwrap()
}

fn decide(j: &mut Journal, run: i64, d: Decision, reason: Option<&str>, diff: Option<&str>) {
    let p = j
        .create_proposal(
            run,
            "draft",
            1,
            ProposalKind::Action,
            "POST https://mail/send".into(),
            json!({}),
            json!({}),
        )
        .unwrap()
        .unwrap();
    j.decide(
        p,
        DecisionInput {
            decision: d,
            reason: reason.map(String::from),
            fields: None,
            edited: diff.map(|_| json!({"x": 1})),
            diff: diff.map(String::from),
            by: "me".into(),
        },
    )
    .unwrap();
}

#[test]
fn facts_are_versioned_with_history_and_provenance() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir);
    let v1 = j
        .set_fact(
            "customer:acme",
            "plan",
            &json!("basic"),
            FactOrigin::default(),
        )
        .unwrap();
    assert_eq!((v1.version, v1.source.as_str()), (1, "manual"));
    let v2 = j
        .set_fact(
            "customer:acme",
            "plan",
            &json!("pro"),
            FactOrigin {
                note: Some("upgraded on call".into()),
                by: Some("me@host".into()),
                ..FactOrigin::default()
            },
        )
        .unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(v2.note.as_deref(), Some("upgraded on call"));
    assert_eq!(
        current_fact_version(&j, "customer:acme", "plan").unwrap(),
        Some(2)
    );
    assert_eq!(
        current_fact_version(&j, "customer:acme", "seats").unwrap(),
        None
    );
    let h = j.fact_history("customer:acme", "plan").unwrap();
    assert_eq!(
        h.iter().map(|f| f.value.clone()).collect::<Vec<_>>(),
        vec![json!("basic"), json!("pro")]
    );
    assert_eq!(j.facts("customer:acme").unwrap().len(), 1);
}

#[test]
fn a_fact_from_a_decision_names_its_item_run_and_step() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir);
    let r = run(&mut j);
    decide(&mut j, r, Decision::Approve, None, None);
    let f = j
        .set_fact(
            "customer:acme",
            "contacted",
            &json!(true),
            FactOrigin {
                proposal: Some(1),
                ..FactOrigin::default()
            },
        )
        .unwrap();
    assert_eq!(f.source, "decision");
    assert_eq!(
        (f.run_id, f.step_id.as_deref(), f.proposal_id),
        (Some(r), Some("draft"), Some(1))
    );
    let e = j
        .set_fact(
            "x",
            "y",
            &json!(1),
            FactOrigin {
                proposal: Some(99),
                ..FactOrigin::default()
            },
        )
        .unwrap_err();
    assert_eq!(e.message, "no inbox item 99");
}

#[test]
fn unknown_facts_say_what_exists() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir);
    let e = unknown_fact(&j, "customer:acme", None).unwrap();
    assert_eq!(e.message, "no facts about `customer:acme`");
    assert!(e.hint.unwrap().contains("aios fact set"));
    j.set_fact(
        "customer:acme",
        "plan",
        &json!("pro"),
        FactOrigin::default(),
    )
    .unwrap();
    let e = unknown_fact(&j, "customer:acne", None).unwrap();
    assert_eq!(e.hint.as_deref(), Some("did you mean `customer:acme`?"));
    let e = unknown_fact(&j, "customer:acme", Some("plane")).unwrap();
    assert_eq!(e.message, "`customer:acme` has no fact `plane`");
    assert_eq!(e.hint.as_deref(), Some("did you mean `plan`?"));
}

#[test]
fn full_text_search_ranks_with_bm25_and_never_errors_on_syntax() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir);
    j.add_notes(&[
        note(
            "Acme prefers short emails; never on Fridays",
            &["customer:acme"],
        ),
        note("Globex wants invoices in EUR", &["customer:globex"]),
        note("Emails to Acme go to ops@acme.test", &[]),
    ])
    .unwrap();
    let hits = search(&j, "how does acme like emails", 5, &[], None).unwrap();
    assert_eq!(hits.len(), 2);
    assert!(hits.iter().all(|h| h.doc.text.contains("Acme")));
    assert!(
        hits.iter()
            .all(|h| h.fts_rank.is_some() && h.vector_rank.is_none())
    );
    // Tags are searchable.
    let hits = search(&j, "globex", 5, &[], None).unwrap();
    assert_eq!(hits[0].doc.tags, vec!["customer:globex".to_string()]);
    // FTS5 syntax in the query is plain text.
    for q in [
        "\"unbalanced",
        "acme AND OR NOT (",
        "col:umn*",
        "^-+{}[]",
        "NEAR(a b",
        "",
        "   ",
        "emails\"; DROP TABLE memory_docs; --",
    ] {
        search(&j, q, 5, &[], None).unwrap_or_else(|e| panic!("{q}: {e}"));
    }
    assert_eq!(fts_query("^-+"), None);
    assert_eq!(
        fts_query("Acme's \"mail\"").as_deref(),
        Some("\"acme\" OR \"s\" OR \"mail\"")
    );
}

#[test]
fn forgetting_removes_a_note_from_every_index() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir);
    let ids = j
        .add_notes(&[
            note("the blue widget ships friday", &[]),
            note("red widget", &[]),
        ])
        .unwrap();
    j.put_vectors(&[VectorRow {
        doc: ids[0],
        model: "m".into(),
        vec: vec![1.0, 0.0],
        sketch: vector::sketch(&[1.0, 0.0]),
    }])
    .unwrap();
    let qv = QueryVector {
        model: "m".into(),
        vec: vec![1.0, 0.0],
    };
    assert_eq!(
        search(&j, "blue", 5, &[], Some(&qv)).unwrap()[0].doc.id,
        ids[0]
    );
    j.forget_note(ids[0]).unwrap();
    assert!(search(&j, "blue", 5, &[], Some(&qv)).unwrap().is_empty());
    assert!(j.vectors(&[ids[0]], "m").unwrap().is_empty());
    let mut sketches = 0;
    j.scan_sketches(|_, _| sketches += 1).unwrap();
    assert_eq!(sketches, 0);
    assert_eq!(
        j.forget_note(ids[0]).unwrap_err().message,
        format!("no memory {}", ids[0])
    );
    // A new note never reuses the forgotten id.
    let again = j.add_notes(&[note("green", &[])]).unwrap();
    assert!(again[0] > ids[1]);
}

#[test]
fn hybrid_search_fuses_full_text_and_vector_rankings() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir);
    let ids = j
        .add_notes(&[
            note("quarterly pricing review", &[]), // text match only
            note("what customers pay", &[]),       // vector match only
            note("pricing for customers", &[]),    // both
            note("unrelated lunch menu", &[]),     // neither
        ])
        .unwrap();
    let vecs = [
        [0.0, 1.0, 0.0],
        [0.9, 0.1, 0.0],
        [0.8, 0.2, 0.0],
        [0.0, 0.0, 1.0],
    ];
    j.put_vectors(
        &ids.iter()
            .zip(vecs)
            .map(|(id, v)| VectorRow {
                doc: *id,
                model: "m".into(),
                vec: v.to_vec(),
                sketch: vector::sketch(&v),
            })
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let qv = QueryVector {
        model: "m".into(),
        vec: vec![1.0, 0.0, 0.0],
    };
    let hits = search(&j, "pricing", 3, &[], Some(&qv)).unwrap();
    let order: Vec<i64> = hits.iter().map(|h| h.doc.id).collect();
    assert_eq!(order[0], ids[2], "in both rankings: first");
    assert!(order.contains(&ids[0]) && order.contains(&ids[1]));
    assert!(hits[0].fts_rank.is_some() && hits[0].vector_rank.is_some());
    // Vectors of another model are ignored.
    let other = QueryVector {
        model: "other".into(),
        vec: vec![1.0, 0.0, 0.0],
    };
    let hits = search(&j, "pricing", 3, &[], Some(&other)).unwrap();
    assert!(hits.iter().all(|h| h.vector_rank.is_none()));
    assert_eq!(j.docs_missing_vectors("other", 10).unwrap().len(), 4);
    assert!(j.docs_missing_vectors("m", 10).unwrap().is_empty());
}

#[test]
fn decisions_are_searchable_and_retrieved_for_their_step() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir);
    let r1 = run(&mut j);
    decide(
        &mut j,
        r1,
        Decision::Reject,
        Some("too long, keep it under 80 words"),
        None,
    );
    let r2 = run(&mut j);
    decide(
        &mut j,
        r2,
        Decision::Approve,
        None,
        Some("-Dear Sir\n+Hi Ana"),
    );
    let r3 = run(&mut j);
    decide(&mut j, r3, Decision::Approve, None, None);
    let hits = search(&j, "too long", 5, &["decision"], None).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(
        hits[0].doc.text,
        "reject draft: POST https://mail/send\nreason: too long, keep it under 80 words"
    );
    assert_eq!(hits[0].doc.workflow.as_deref(), Some("launch"));
    assert_eq!(hits[0].doc.run_id, Some(r1));
    let spec = ContextSpec {
        decisions: 2,
        ..ContextSpec::default()
    };
    let scope = Scope::step("launch", "draft");
    let got = retrieve(&j, &spec, &scope, None).unwrap();
    // The two informative decisions (reason, edit) beat the newer plain approval.
    assert_eq!(
        got.decisions
            .iter()
            .map(|d| d.run_id.unwrap())
            .collect::<Vec<_>>(),
        vec![r2, r1]
    );
    let text = render_context(&got);
    assert!(text.contains("earlier decisions on this step"), "{text}");
    assert!(text.contains("  reason: too long"), "{text}");
    assert!(text.contains("+Hi Ana"), "{text}");
    let other = Scope::step("launch", "email");
    assert!(
        retrieve(&j, &spec, &other, None)
            .unwrap()
            .decisions
            .is_empty()
    );
    // An agent step feeding `draft` learns from the decisions on it.
    let feeder = Scope {
        feeds: vec!["draft".into()],
        ..Scope::step("launch", "copy")
    };
    let fed = retrieve(&j, &spec, &feeder, None).unwrap();
    assert_eq!(
        fed.decisions.iter().map(|d| d.id).collect::<Vec<_>>(),
        got.decisions.iter().map(|d| d.id).collect::<Vec<_>>()
    );
    let elsewhere = Scope {
        feeds: vec!["draft".into()],
        ..Scope::step("other-workflow", "copy")
    };
    assert!(
        retrieve(&j, &spec, &elsewhere, None)
            .unwrap()
            .decisions
            .is_empty()
    );
}

#[test]
fn retrieval_records_fact_versions_and_renders_a_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir);
    j.set_fact(
        "customer:acme",
        "plan",
        &json!("basic"),
        FactOrigin::default(),
    )
    .unwrap();
    j.set_fact(
        "customer:acme",
        "plan",
        &json!("pro"),
        FactOrigin::default(),
    )
    .unwrap();
    j.set_fact("customer:acme", "seats", &json!(5), FactOrigin::default())
        .unwrap();
    j.add_notes(&[note("Acme prefers short emails", &["customer:acme"])])
        .unwrap();
    let spec = ContextSpec {
        memory: Some("acme emails".into()),
        k: 5,
        facts: vec!["customer:acme".into(), "customer:nobody".into()],
        decisions: 0,
    };
    let scope = Scope::step("w", "s");
    let got = retrieve(&j, &spec, &scope, None).unwrap();
    assert_eq!(got.notes.len(), 1);
    assert!(!got.hybrid);
    assert_eq!(got.missing_entities, vec!["customer:nobody".to_string()]);
    assert_eq!(
        got.versions(),
        vec![
            json!({"kind": "fact", "key": "customer:acme/plan", "version": 2}),
            json!({"kind": "fact", "key": "customer:acme/seats", "version": 1}),
        ]
    );
    assert_eq!(got.evidence()["notes"], json!([got.notes[0].doc.id]));
    assert_eq!(
        render_context(&got),
        format!(
            "Known facts (entity key = value):\n- customer:acme plan = \"pro\" (version 2)\n- customer:acme seats = 5 (version 1)\n\nRelevant notes:\n- (memory {}) [customer:acme] Acme prefers short emails\n",
            got.notes[0].doc.id
        )
    );
    assert_eq!(render_context(&Retrieved::default()), "");
}

#[test]
fn run_writes_are_events_that_replay_to_the_same_memory() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir);
    j.set_fact(
        "customer:acme",
        "plan",
        &json!("basic"),
        FactOrigin::default(),
    )
    .unwrap();
    let r = run(&mut j);
    let evs = j
        .commit_allocated(r, |a| {
            Ok(vec![
                Event::FactSet {
                    step: "draft".into(),
                    entity: "customer:acme".into(),
                    key: "plan".into(),
                    value: json!("pro"),
                    version: a.next_fact_version("customer:acme", "plan")?,
                },
                Event::NoteAdded {
                    step: "draft".into(),
                    note: a.next_note_id()?,
                    text: "launched".into(),
                    tags: vec!["launch".into()],
                },
            ])
        })
        .unwrap();
    let Event::NoteAdded { note, .. } = evs[1] else {
        panic!()
    };
    j.commit(
        r,
        &[Event::OutcomeRecorded {
            step: None,
            values: json!({"open_rate": 0.41, "replies": 3}),
        }],
    )
    .unwrap();
    decide(&mut j, r, Decision::Reject, Some("no"), None);
    let f = j.fact("customer:acme", "plan").unwrap().unwrap();
    assert_eq!(
        (f.version, f.source.as_str(), f.run_id),
        (2, "run", Some(r))
    );
    assert_eq!(j.outcomes(r).unwrap().len(), 2);
    let hits = search(&j, "open_rate", 5, &["outcome"], None).unwrap();
    assert_eq!(
        hits[0].doc.text,
        "outcome of run 1 (launch): open_rate=0.41 replies=3"
    );
    // A manual version after the run's does not disturb its replay.
    j.set_fact(
        "customer:acme",
        "plan",
        &json!("enterprise"),
        FactOrigin::default(),
    )
    .unwrap();
    assert!(j.replay(r).unwrap().differences.is_empty());
    // Forgetting a run's note is an event of that run, and replays too.
    j.forget_note(note).unwrap();
    assert!(j.doc(note).unwrap().is_none());
    let report = j.replay(r).unwrap();
    assert!(report.differences.is_empty(), "{:?}", report.differences);
    assert_eq!(
        j.events(r).unwrap().last().unwrap().event,
        Event::NoteForgotten { note }
    );
}

#[test]
fn only_notes_can_be_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir);
    let r = run(&mut j);
    decide(&mut j, r, Decision::Approve, None, None);
    let id = search(&j, "draft", 1, &[], None).unwrap()[0].doc.id;
    let e = j.forget_note(id).unwrap_err();
    assert_eq!(
        e.message,
        format!("memory {id} is a decision, not a note; only notes can be forgotten")
    );
    j.commit(
        r,
        &[Event::OutcomeRecorded {
            step: None,
            values: serde_json::json!({"replies": 3}),
        }],
    )
    .unwrap();
    let id = search(&j, "replies", 1, &[], None).unwrap()[0].doc.id;
    assert_eq!(
        j.forget_note(id).unwrap_err().message,
        format!("memory {id} is an outcome, not a note; only notes can be forgotten")
    );
}

#[test]
fn memory_writes_to_a_cancelled_or_missing_run_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir);
    assert_eq!(
        j.commit_allocated(7, |_| Ok(vec![])).unwrap_err().message,
        "no run 7"
    );
    let r = run(&mut j);
    j.commit(r, &[Event::RunCancelled { reason: None }])
        .unwrap();
    let e = j.commit_allocated(r, |_| Ok(vec![])).unwrap_err();
    assert_eq!(e.kind, crate::error::ErrorKind::Conflict);
}

#[test]
fn values_from_the_command_line_are_json_or_text() {
    assert_eq!(parse_value("pro"), json!("pro"));
    assert_eq!(parse_value("0.41"), json!(0.41));
    assert_eq!(parse_value("true"), json!(true));
    assert_eq!(parse_value("[1,2]"), json!([1, 2]));
    assert_eq!(parse_value("\"42\""), json!("42"));
    assert_eq!(parse_value("hello world"), json!("hello world"));
}

#[test]
fn in_a_large_index_words_most_documents_hold_are_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir);
    let mut notes: Vec<NewNote> = (0..6000)
        .map(|i| note(&format!("the common filler note number {i}"), &[]))
        .collect();
    notes.push(note("the rare zebra", &[]));
    let ids = j.add_notes(&notes).unwrap();
    let (total, counts) = j
        .term_doc_counts(&[
            "the".into(),
            "zebra".into(),
            "nowhere".into(),
            "notes".into(),
        ])
        .unwrap();
    assert_eq!(total, 6001);
    // "notes" is stemmed like the index ("note").
    assert_eq!(counts, vec![6001, 1, 0, 6000]);
    let hits = search(&j, "the zebra", 5, &[], None).unwrap();
    assert_eq!(hits.len(), 1, "`the` is left out, `zebra` kept");
    assert_eq!(hits[0].doc.id, *ids.last().unwrap());
    // When every word is that common, the rarest is still searched.
    assert_eq!(search(&j, "the common", 5, &[], None).unwrap().len(), 5);
}
