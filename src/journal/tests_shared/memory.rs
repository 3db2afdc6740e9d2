//! The shared suite's memory (see `super`): facts and their versions, tombstones and
//! replay; the numbers a memory step is handed in its transaction; notes, tags and
//! listings; decisions and outcomes as memory; full-text search; vectors.
//!
//! Full-text ranking is bm25 on SQLite and an approximation of it on PostgreSQL
//! (`ts_rank` weighed by bm25's inverse document frequency, see
//! `pg::memory_search`): the scores differ, so these tests assert what a user relies
//! on — the document holding the rare words first, text above tags, stemming,
//! punctuation as a separator, nothing returned that holds none of the words, the
//! kind and tag filters — on the same corpus for both backends.

use serde_json::json;

use super::*;
use crate::error::ErrorKind;
use crate::journal::store::MemoryStore;
use crate::memory::{QueryVector, search};

fn by(origin_by: &str) -> FactOrigin {
    FactOrigin {
        by: Some(origin_by.into()),
        ..FactOrigin::default()
    }
}

fn note(text: &str, tags: &[&str]) -> NewNote {
    NewNote {
        text: text.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        source: None,
    }
}

fn facts_are_versioned_unset_listed_and_replayed<B: Backend>(b: &B)
where
    B::J: MemoryStore,
{
    let mut j = b.open();
    let v1 = j
        .set_fact("customer:acme", "plan", &json!("basic"), by("ada"))
        .unwrap();
    assert_eq!(
        (v1.version, v1.source.as_str(), v1.set_by.as_deref()),
        (1, "manual", Some("ada"))
    );
    assert!(!v1.unset);
    let v2 = j
        .set_fact(
            "customer:acme",
            "plan",
            &json!({"tier": "pro", "seats": 5}),
            FactOrigin {
                note: Some("upgraded on call".into()),
                ..by("bob")
            },
        )
        .unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(v2.note.as_deref(), Some("upgraded on call"));
    // JSON values keep their key order.
    assert_eq!(v2.value.to_string(), r#"{"tier":"pro","seats":5}"#);
    assert_eq!(j.fact("customer:acme", "plan").unwrap(), Some(v2.clone()));
    assert_eq!(j.fact_version("customer:acme", "plan").unwrap(), Some(2));
    assert_eq!(j.fact_version("customer:acme", "seats").unwrap(), None);
    assert_eq!(j.fact("nobody", "plan").unwrap(), None);
    // Keys and entities sort by their bytes (upper case before lower case).
    j.set_fact("customer:acme", "Zone", &json!("eu"), by("ada"))
        .unwrap();
    j.set_fact("customer:acme", "alpha", &json!(1), by("ada"))
        .unwrap();
    j.set_fact("Beta", "k", &json!(true), by("ada")).unwrap();
    let keys: Vec<String> = j
        .facts("customer:acme")
        .unwrap()
        .into_iter()
        .map(|f| f.key)
        .collect();
    assert_eq!(keys, ["Zone", "alpha", "plan"]);
    assert_eq!(
        j.fact_entities().unwrap(),
        ["Beta".to_string(), "customer:acme".to_string()]
    );
    let history: Vec<i64> = j
        .fact_history("customer:acme", "plan")
        .unwrap()
        .iter()
        .map(|f| f.version)
        .collect();
    assert_eq!(history, [1, 2]);

    // Unset: a tombstone version; the fact has no current value until set again.
    let t = j
        .unset_fact("Beta", "k", "carol", Some("wrong".into()))
        .unwrap();
    assert!(t.unset);
    assert_eq!((t.version, t.value.clone()), (2, serde_json::Value::Null));
    assert_eq!(t.set_by.as_deref(), Some("carol"));
    assert_eq!(j.fact("Beta", "k").unwrap(), Some(t));
    assert!(j.facts("Beta").unwrap().is_empty());
    assert_eq!(j.fact_entities().unwrap(), ["customer:acme".to_string()]);
    let e = j.unset_fact("Beta", "k", "carol", None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict);
    assert_eq!(e.message, "Beta k is already unset (version 2)");
    assert_eq!(
        e.hint.as_deref(),
        Some("see its versions with: aios fact history Beta k")
    );
    let e = j.unset_fact("Beta", "nothing", "carol", None).unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (ErrorKind::NotFound, "`Beta` has no fact `nothing`")
    );
    let again = j.set_fact("Beta", "k", &json!(false), by("ada")).unwrap();
    assert_eq!(again.version, 3);
    let all: Vec<String> = j
        .all_facts()
        .unwrap()
        .iter()
        .map(|f| format!("{} {} {}", f.entity, f.key, f.version))
        .collect();
    assert_eq!(
        all,
        [
            "Beta k 3",
            "customer:acme Zone 1",
            "customer:acme alpha 1",
            "customer:acme plan 2"
        ]
    );

    // A fact from a decision names its item, run and step; an unknown item is refused.
    let run = j.create_run("name = \"w\"", created("u1", &["a"])).unwrap();
    let p = item(&mut j, run, "a").unwrap();
    let f = j
        .set_fact(
            "customer:acme",
            "contacted",
            &json!(true),
            FactOrigin {
                proposal: Some(p),
                ..by("ada")
            },
        )
        .unwrap();
    assert_eq!(
        (
            f.source.as_str(),
            f.run_id,
            f.step_id.as_deref(),
            f.proposal_id
        ),
        ("decision", Some(run), Some("a"), Some(p))
    );
    let e = j
        .set_fact(
            "x",
            "y",
            &json!(1),
            FactOrigin {
                proposal: Some(p + 100),
                ..FactOrigin::default()
            },
        )
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert_eq!(j.fact("x", "y").unwrap(), None);

    // Every write outside a run is an event of run 0, and replays to the same rows.
    let kinds: Vec<&str> = j
        .events(0)
        .unwrap()
        .iter()
        .map(|e| e.event.type_name())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "fact_recorded").count(), 7);
    assert_eq!(kinds.iter().filter(|k| **k == "fact_unset").count(), 1);
    assert_eq!(j.replay_recorded_facts().unwrap(), (7, vec![]));
    assert_eq!(j.replay_fact_tombstones().unwrap(), (1, vec![]));
}

fn the_writers_of_one_fact_get_one_version_each<B: Backend + Sync>(b: &B)
where
    B::J: MemoryStore,
{
    let barrier = std::sync::Barrier::new(3);
    std::thread::scope(|s| {
        for who in ["ada", "bob", "cy"] {
            let mut j = b.open();
            let barrier = &barrier;
            s.spawn(move || {
                barrier.wait();
                for i in 0..8 {
                    j.set_fact("team", "lead", &json!(format!("{who}{i}")), by(who))
                        .unwrap();
                }
            });
        }
    });
    let j = b.open();
    let versions: Vec<i64> = j
        .fact_history("team", "lead")
        .unwrap()
        .iter()
        .map(|f| f.version)
        .collect();
    assert_eq!(versions, (1..=24).collect::<Vec<i64>>());
    assert_eq!(j.replay_recorded_facts().unwrap(), (24, vec![]));
}

fn a_memory_step_writes_with_numbers_from_its_transaction<B: Backend>(b: &B)
where
    B::J: MemoryStore,
{
    let mut j = b.open();
    j.set_fact("customer:acme", "plan", &json!("basic"), by("ada"))
        .unwrap();
    let run = j
        .create_run("name = \"w\"", created("u1", &["a", "b"]))
        .unwrap();
    let events = j
        .commit_allocated(run, |a| {
            Ok(vec![
                Event::FactSet {
                    step: "a".into(),
                    entity: "customer:acme".into(),
                    key: "plan".into(),
                    value: json!("pro"),
                    version: a.next_fact_version("customer:acme", "plan")?,
                },
                Event::NoteAdded {
                    step: "a".into(),
                    note: a.next_note_id()?,
                    text: "Acme launched the beta".into(),
                    tags: vec!["launch".into(), "customer:acme".into()],
                },
                Event::StepSucceeded {
                    step: "a".into(),
                    attempt: 1,
                    output: json!({}),
                },
            ])
        })
        .unwrap();
    let Event::NoteAdded { note, .. } = events[1] else {
        panic!("{events:?}")
    };
    assert_eq!(j.events(run).unwrap().len(), 4, "created + the three");
    assert_eq!(j.steps(run).unwrap()[0].status, StepStatus::Succeeded);
    let f = j.fact("customer:acme", "plan").unwrap().unwrap();
    assert_eq!(
        (f.version, f.source.as_str(), f.run_id, f.step_id.as_deref()),
        (2, "run", Some(run), Some("a"))
    );
    let d = j.doc(note).unwrap().unwrap();
    assert_eq!(
        (
            d.kind.as_str(),
            d.text.as_str(),
            d.source.as_deref(),
            d.workflow.as_deref()
        ),
        (
            "note",
            "Acme launched the beta",
            Some(format!("run {run}/a").as_str()),
            Some("w")
        )
    );
    assert_eq!(d.tags, ["launch", "customer:acme"]);
    // A build that fails writes nothing: the version it was handed is handed again.
    let e = j
        .commit_allocated(run, |a| {
            a.next_fact_version("customer:acme", "plan")?;
            Err(crate::error::Error::invalid("the template failed"))
        })
        .unwrap_err();
    assert_eq!(e.message, "the template failed");
    let events = j
        .commit_allocated(run, |a| {
            Ok(vec![Event::FactSet {
                step: "b".into(),
                entity: "customer:acme".into(),
                key: "plan".into(),
                value: json!("enterprise"),
                version: a.next_fact_version("customer:acme", "plan")?,
            }])
        })
        .unwrap();
    assert!(matches!(events[0], Event::FactSet { version: 3, .. }));
    // A note added by hand gets a new id, never the run's note's.
    let ids = j.add_notes(&[note_("by hand")]).unwrap();
    assert!(ids[0] > note, "{ids:?} after {note}");

    // Forgetting: a run's note through an event of its run, a note added by hand
    // directly; a decision is not a note; a missing id is not found.
    j.forget_note(note).unwrap();
    assert_eq!(j.doc(note).unwrap(), None);
    assert_eq!(
        j.events(run).unwrap().last().unwrap().event,
        Event::NoteForgotten { note }
    );
    assert_eq!(j.forget_note(ids[0]).unwrap().text, "by hand");
    assert_eq!(j.doc(ids[0]).unwrap(), None);
    let e = j.forget_note(ids[0]).unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (
            ErrorKind::NotFound,
            format!("no memory {}", ids[0]).as_str()
        )
    );
    let p = item(&mut j, run, "b").unwrap();
    j.decide(p, decision(Decision::Reject, "ada")).unwrap();
    let decided = j.step_decisions("w", "b", 5).unwrap()[0].id;
    assert_eq!(
        j.forget_note(decided).unwrap_err().message,
        format!("memory {decided} is a decision, not a note; only notes can be forgotten")
    );

    // No write to a run that does not exist or was cancelled.
    let e = j.commit_allocated(run + 100, |_| Ok(vec![])).unwrap_err();
    assert_eq!(
        (e.kind, e.message),
        (ErrorKind::NotFound, format!("no run {}", run + 100))
    );
    j.commit(run, &[Event::RunCancelled { reason: None }])
        .unwrap();
    let e = j.commit_allocated(run, |_| Ok(vec![])).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict);
    assert_eq!(j.replay_recorded_facts().unwrap(), (1, vec![]));
}

fn note_(text: &str) -> NewNote {
    note(text, &[])
}

fn notes_are_listed_by_tag_kind_workflow_and_words<B: Backend>(b: &B)
where
    B::J: MemoryStore,
{
    let mut j = b.open();
    let ids = j
        .add_notes(&[
            note("Acme prefers short emails", &["customer:acme", "style"]),
            note("Globex pays late", &["customer:globex"]),
            NewNote {
                source: Some("import".into()),
                ..note("Acme renews in March", &["customer:acme"])
            },
        ])
        .unwrap();
    assert_eq!(ids.len(), 3);
    let texts =
        |docs: Vec<DocRecord>| -> Vec<String> { docs.into_iter().map(|d| d.text).collect() };
    assert_eq!(
        texts(j.notes(None).unwrap()),
        [
            "Acme prefers short emails",
            "Globex pays late",
            "Acme renews in March"
        ]
    );
    assert_eq!(
        texts(j.notes(Some("customer:acme")).unwrap()),
        ["Acme prefers short emails", "Acme renews in March"]
    );
    // A tag matches whole, not as a part of another tag.
    assert!(j.notes(Some("customer")).unwrap().is_empty());
    let d = j.doc(ids[2]).unwrap().unwrap();
    assert_eq!(
        (d.source.as_deref(), d.run_id, d.tags.clone()),
        (Some("import"), None, vec!["customer:acme".to_string()])
    );
    assert_eq!(
        j.doc(ids[0]).unwrap().unwrap().source.as_deref(),
        Some("manual")
    );
    // Documents by id, in the order asked, missing ones left out.
    let got: Vec<i64> = j
        .docs(&[ids[2], ids[2] + 100, ids[0]])
        .unwrap()
        .iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(got, [ids[2], ids[0]]);
    assert_eq!(j.docs(&[ids[1], ids[1]]).unwrap().len(), 2, "as asked");

    // Outcomes of two workflows' runs, and a decision.
    let mut created_v = created("u2", &["a"]);
    if let Event::RunCreated { workflow, .. } = &mut created_v {
        *workflow = "v".into();
    }
    let rw = j.create_run("name = \"w\"", created("u1", &["a"])).unwrap();
    let rv = j.create_run("name = \"v\"", created_v).unwrap();
    for (run, n) in [(rw, 3), (rv, 4), (rw, 5)] {
        j.commit(
            run,
            &[Event::OutcomeRecorded {
                step: None,
                values: json!({ "replies": n }),
            }],
        )
        .unwrap();
    }
    let p = item(&mut j, rw, "a").unwrap();
    j.decide(p, decision(Decision::Approve, "ada")).unwrap();

    // Newest first, up to the limit, by kind, tag, workflow and words.
    assert_eq!(
        texts(j.list_docs("note", None, None, None, 2).unwrap()),
        ["Acme renews in March", "Globex pays late"]
    );
    assert_eq!(
        texts(
            j.list_docs("note", Some("customer:acme"), None, None, 10)
                .unwrap()
        ),
        ["Acme renews in March", "Acme prefers short emails"]
    );
    let acme = crate::memory::fts_query("the ACME!").unwrap();
    assert_eq!(
        texts(j.list_docs("note", None, None, Some(&acme), 10).unwrap()),
        ["Acme renews in March", "Acme prefers short emails"]
    );
    let none = crate::memory::fts_query("zebra").unwrap();
    assert!(
        j.list_docs("note", None, None, Some(&none), 10)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        texts(j.list_docs("outcome", None, Some("w"), None, 10).unwrap()),
        [
            format!("outcome of run {rw} (w): replies=5"),
            format!("outcome of run {rw} (w): replies=3"),
        ]
    );
    assert_eq!(
        j.list_docs("decision", None, Some("w"), None, 10)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        j.doc_counts().unwrap(),
        [
            ("decision".to_string(), 1),
            ("note".to_string(), 3),
            ("outcome".to_string(), 3)
        ]
    );
}

fn decisions_and_outcomes_are_memory_in_their_transaction<B: Backend>(b: &B)
where
    B::J: MemoryStore,
{
    let mut j = b.open();
    let run = j.create_run("name = \"w\"", created("u1", &["a"])).unwrap();
    let first = item(&mut j, run, "a").unwrap();
    j.decide(
        first,
        DecisionInput {
            reason: Some("too pushy".into()),
            diff: Some("-buy now\n+when you are ready".into()),
            edited: Some(json!({"to": "y"})),
            ..decision(Decision::Approve, "ada")
        },
    )
    .unwrap();
    let d = &j.step_decisions("w", "a", 5).unwrap()[0];
    assert_eq!(
        d.text,
        "approve a: do a\nreason: too pushy\nedit:\n-buy now\n+when you are ready"
    );
    assert_eq!(
        (
            d.kind.as_str(),
            d.source.as_deref(),
            d.run_id,
            d.step_id.as_deref(),
            d.workflow.as_deref(),
            d.proposal_id,
            d.decision.as_deref()
        ),
        (
            "decision",
            Some("decision"),
            Some(run),
            Some("a"),
            Some("w"),
            Some(first),
            Some("approve")
        )
    );
    assert!(j.step_decisions("w", "b", 5).unwrap().is_empty());
    assert!(j.step_decisions("v", "a", 5).unwrap().is_empty());

    // Outcomes: the latest value per key, and a searchable document each time.
    j.commit(
        run,
        &[Event::OutcomeRecorded {
            step: Some("a".into()),
            values: json!({"replies": 3, "open_rate": 0.41, "note": "ok"}),
        }],
    )
    .unwrap();
    j.commit(
        run,
        &[Event::OutcomeRecorded {
            step: None,
            values: json!({"replies": 4}),
        }],
    )
    .unwrap();
    let o: Vec<String> = j
        .outcomes(run)
        .unwrap()
        .iter()
        .map(|o| format!("{}={} {:?}", o.key, o.value, o.step_id))
        .collect();
    assert_eq!(
        o,
        [
            r#"note="ok" Some("a")"#,
            r#"open_rate=0.41 Some("a")"#,
            "replies=4 None"
        ]
    );
    let hits = search(&j, "open_rate", 5, &["outcome"], None).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(
        hits[0].doc.text,
        format!("outcome of run {run} (w): replies=3 open_rate=0.41 note=ok")
    );
    assert_eq!(
        j.list_docs("outcome", None, None, None, 10).unwrap().len(),
        2
    );
}

fn full_text_search_finds_the_rare_words_first_and_only_matches<B: Backend>(b: &B)
where
    B::J: MemoryStore,
{
    let mut j = b.open();
    // Short documents that hold the common word twice, a long one that holds the
    // rare word once: without its weight by rarity the rare word would lose.
    let mut notes: Vec<NewNote> = (0..12)
        .map(|i| note(&format!("pricing pricing {i}"), &[]))
        .collect();
    notes.push(note(
        "the zebra page of the long quarterly review for everyone",
        &[],
    ));
    // The same word in the tags of an older document and the text of a newer one.
    notes.push(note("the quarterly plain report", &["kiwi"]));
    notes.push(note("the quarterly kiwi report", &["misc"]));
    notes.push(note("Launched the campaign; open_rate was high", &[]));
    notes.push(note("Mail to bob@globex.com about renewals", &[]));
    let ids = j.add_notes(&notes).unwrap();
    let (zebra, kiwi_tag, kiwi_text, launched, mail) =
        (ids[12], ids[13], ids[14], ids[15], ids[16]);

    // The rare word outweighs the common one.
    let hits = search(&j, "pricing zebra", 5, &[], None).unwrap();
    assert_eq!(hits[0].doc.id, zebra);
    assert_eq!(hits[0].fts_rank, Some(1));
    assert_eq!(hits.len(), 5);
    assert!(hits[1..].iter().all(|h| h.doc.text.contains("pricing")));
    // Text weighs more than tags.
    let hits: Vec<i64> = search(&j, "kiwi", 5, &[], None)
        .unwrap()
        .iter()
        .map(|h| h.doc.id)
        .collect();
    assert_eq!(hits, [kiwi_text, kiwi_tag]);
    // Words are stemmed alike in documents and queries; punctuation separates words.
    let ids_of = |q: &str| -> Vec<i64> {
        search(&j, q, 5, &[], None)
            .unwrap()
            .iter()
            .map(|h| h.doc.id)
            .collect()
    };
    assert_eq!(ids_of("launches"), [launched]);
    assert_eq!(ids_of("rate"), [launched]);
    assert_eq!(ids_of("OPEN_RATE"), [launched]);
    assert_eq!(ids_of("globex"), [mail]);
    assert_eq!(ids_of("renewal"), [mail]);
    // Nothing that holds none of the words; operators and quotes are plain words.
    assert!(ids_of("giraffe").is_empty());
    let mut odd = ids_of("\"zebra\" OR NOT ( kiwi*");
    odd.sort();
    assert_eq!(odd, [zebra, kiwi_tag, kiwi_text]);
    assert!(search(&j, "!!!", 5, &[], None).unwrap().is_empty());
    // Kinds filter: a decision on pricing is not a note.
    let run = j.create_run("name = \"w\"", created("u1", &["a"])).unwrap();
    let p = j
        .create_proposal(
            run,
            "a",
            1,
            ProposalKind::Action,
            "zebra pricing email".into(),
            json!({}),
            json!({}),
        )
        .unwrap()
        .unwrap();
    j.decide(p, decision(Decision::Reject, "ada")).unwrap();
    let kinds: Vec<String> = search(&j, "zebra", 5, &["decision"], None)
        .unwrap()
        .into_iter()
        .map(|h| h.doc.kind)
        .collect();
    assert_eq!(kinds, ["decision"]);
    assert_eq!(
        search(&j, "zebra", 5, &["note"], None).unwrap()[0].doc.id,
        zebra
    );
    assert_eq!(search(&j, "zebra", 5, &[], None).unwrap().len(), 2);
    // The backend's own ranking, through the trait: lower scores first.
    let q = crate::memory::fts_query("pricing zebra").unwrap();
    let ranked = j.search_fts(&q, 3, &[]).unwrap();
    assert_eq!(ranked.len(), 3);
    assert!(ranked.windows(2).all(|w| w[0].1 <= w[1].1), "{ranked:?}");
}

fn in_a_large_index_common_words_are_counted_and_left_out<B: Backend>(b: &B)
where
    B::J: MemoryStore,
{
    let mut j = b.open();
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

fn vectors_are_stored_exactly_and_ranked_by_cosine<B: Backend>(b: &B)
where
    B::J: MemoryStore,
{
    let mut j = b.open();
    let ids = j
        .add_notes(&[
            note("north", &[]),
            note("east", &[]),
            note("south", &[]),
            note("west", &[]),
        ])
        .unwrap();
    let row = |doc: i64, model: &str, vec: Vec<f32>| VectorRow {
        doc,
        model: model.into(),
        sketch: crate::memory::vector::sketch(&vec),
        vec,
    };
    let missing: Vec<i64> = j
        .docs_missing_vectors("m", 10)
        .unwrap()
        .iter()
        .map(|d| d.0)
        .collect();
    assert_eq!(missing, ids);
    // Values a float rounding would change come back bit for bit.
    let exact = vec![0.1f32, -1.0e-7, f32::MAX, 1.0 / 3.0];
    j.put_vectors(&[
        row(ids[0], "m", vec![1.0, 0.0, 0.0, 0.0]),
        row(ids[1], "m", vec![0.0, 1.0, 0.0, 0.0]),
        row(ids[2], "m", exact.clone()),
        row(ids[3], "other", vec![0.0, 0.0, 0.0, 1.0]),
    ])
    .unwrap();
    assert_eq!(
        j.docs_missing_vectors("m", 10).unwrap(),
        [(ids[3], "west".to_string())]
    );
    assert!(j.docs_missing_vectors("m", 0).unwrap().is_empty());
    let got = j.vectors(&[ids[2], ids[3], ids[0]], "m").unwrap();
    assert_eq!(
        got,
        [(ids[2], exact.clone()), (ids[0], vec![1.0, 0.0, 0.0, 0.0])]
    );
    let mut sketches = Vec::new();
    j.scan_sketches(|id, bits| sketches.push((id, bits.to_vec())))
        .unwrap();
    sketches.sort();
    assert_eq!(sketches.len(), 4);
    assert_eq!(sketches[2], (ids[2], crate::memory::vector::sketch(&exact)));
    // Stored again: replaced.
    j.put_vectors(&[row(ids[2], "m", vec![0.0, 0.0, 1.0, 0.0])])
        .unwrap();
    assert_eq!(
        j.vectors(&[ids[2]], "m").unwrap(),
        [(ids[2], vec![0.0, 0.0, 1.0, 0.0])]
    );
    // Ranked by exact cosine: the nearest first, fused with the full text.
    let qv = QueryVector {
        model: "m".into(),
        vec: vec![0.2, 0.9, 0.1, 0.0],
    };
    let hits = search(&j, "", 3, &[], Some(&qv)).unwrap();
    let order: Vec<(i64, Option<usize>)> = hits.iter().map(|h| (h.doc.id, h.vector_rank)).collect();
    assert_eq!(
        order,
        [(ids[1], Some(1)), (ids[0], Some(2)), (ids[2], Some(3))]
    );
    let hits = search(&j, "south", 1, &[], Some(&qv)).unwrap();
    assert_eq!(
        (hits[0].doc.id, hits[0].fts_rank, hits[0].vector_rank),
        (ids[2], Some(1), Some(3)),
        "in both rankings beats first in one"
    );
    // A forgotten note takes its vector and sketch with it.
    j.forget_note(ids[1]).unwrap();
    assert!(j.vectors(&[ids[1]], "m").unwrap().is_empty());
    let mut n = 0;
    j.scan_sketches(|_, _| n += 1).unwrap();
    assert_eq!(n, 3);
}

shared_suite!(
    facts_are_versioned_unset_listed_and_replayed,
    the_writers_of_one_fact_get_one_version_each,
    a_memory_step_writes_with_numbers_from_its_transaction,
    notes_are_listed_by_tag_kind_workflow_and_words,
    decisions_and_outcomes_are_memory_in_their_transaction,
    full_text_search_finds_the_rare_words_first_and_only_matches,
    in_a_large_index_common_words_are_counted_and_left_out,
    vectors_are_stored_exactly_and_ranked_by_cosine,
);

/// PostgreSQL only: the memory migration indexes the decisions taken before it, with
/// the text a decision taken after it gets.
#[test]
fn postgres_memory_migration_indexes_the_decisions_taken_before_it() {
    use sha2::Digest;
    let url = super::super::pg::testdb::fresh_database();
    let mut c = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
    // A database migrated by a build that knew the migrations before memory's only.
    c.batch_execute(
        "CREATE TABLE aios_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL,
           sha256 TEXT NOT NULL, at BIGINT NOT NULL)",
    )
    .unwrap();
    let before = super::super::pg::MIGRATIONS
        .iter()
        .position(|m| m.0.ends_with("_memory"))
        .unwrap();
    for (i, (name, text)) in super::super::pg::MIGRATIONS[..before].iter().enumerate() {
        c.batch_execute(text).unwrap();
        c.execute(
            "INSERT INTO aios_migrations VALUES ($1, $2, $3, 0)",
            &[
                &(i as i64 + 1),
                name,
                &hex::encode(sha2::Sha256::digest(text.as_bytes())),
            ],
        )
        .unwrap();
    }
    c.batch_execute(
        "INSERT INTO sources VALUES ('h', 'name = \"w\"');
         INSERT INTO runs (id, uid, workflow, dir, source_hash, inputs, status, created_at, updated_at)
           VALUES (1, 'u1', 'w', '/tmp', 'h', '{}', 'running', 5, 5);
         INSERT INTO proposals (id, run_id, step_id, attempt, kind, status, summary, action, evidence,
             decision, reason, diff, decided_by, decided_at, created_at)
           VALUES (1, 1, 'a', 1, 'action', 'approved', 'do a', '{}', '{}', 'approve', 'fine',
                   '-x' || chr(10) || '+y', 'ada', 7, 6),
                  (2, 1, 'b', 1, 'action', 'pending', 'do b', '{}', '{}', NULL, NULL, NULL, NULL, NULL, 6),
                  (3, 1, 'a', 2, 'action', 'rejected', 'do a again', '{}', '{}', 'reject', NULL,
                   NULL, 'bob', NULL, 8);",
    )
    .unwrap();
    let j = PgPool::connect(&url)
        .unwrap()
        .journal(Clock::System)
        .unwrap();
    let got: Vec<(String, Option<i64>, Option<String>, i64)> = j
        .step_decisions("w", "a", 5)
        .unwrap()
        .into_iter()
        .map(|d| (d.text, d.proposal_id, d.decision, d.created_at))
        .collect();
    assert_eq!(
        got,
        [
            (
                crate::journal::decision_text("reject", "a", "do a again", None, None),
                Some(3),
                Some("reject".to_string()),
                8
            ),
            (
                crate::journal::decision_text("approve", "a", "do a", Some("fine"), Some("-x\n+y")),
                Some(1),
                Some("approve".to_string()),
                7
            ),
        ]
    );
    assert!(j.step_decisions("w", "b", 5).unwrap().is_empty());
    // Searchable like any other document.
    let hits = search(&j, "fine", 5, &[], None).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].doc.proposal_id, Some(1));
}
