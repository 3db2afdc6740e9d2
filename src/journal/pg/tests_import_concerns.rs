//! `import` of the concerns besides runs and schedules: memory (facts, notes,
//! outcomes, embeddings), circuit breakers, mail watches and notifications copied
//! into a throwaway PostgreSQL, compared, and answering there as they did; a state
//! their events do not rebuild, or a record the target refuses, copies nothing.

use serde_json::json;

use super::PgJournal;
use super::import::import;
use super::testdb::fresh_database;
use super::tests_import::{count, created, journal, of, opts, status};
use crate::clock::Clock;
use crate::connectors::{Target, TargetKind};
use crate::health::breaker::{BreakerPolicy, BreakerState};
use crate::journal::notify::NewNotification;
use crate::journal::store::{BreakerStore, MailStore, MemoryStore, NotifyStore};
use crate::journal::*;

/// `journal`'s, plus memory (facts set by hand, by a step and unset; notes added
/// by hand, tagged, forgotten, and by a step; an outcome; embeddings), a breaker
/// that opened, a mail watch with a message and a failed poll, and notifications
/// queued, sent and failed. Returns the id of the note added by hand.
fn full_journal(dir: &tempfile::TempDir) -> (SqliteJournal, i64) {
    let mut src = journal(dir);
    let by = |who: &str| FactOrigin {
        by: Some(who.into()),
        ..FactOrigin::default()
    };
    src.set_fact("customer:acme", "plan", &json!("basic"), by("ada"))
        .unwrap();
    src.set_fact(
        "customer:acme",
        "plan",
        &json!({"tier": "pro", "seats": 5}),
        FactOrigin {
            note: Some("upgraded on call".into()),
            ..by("bob")
        },
    )
    .unwrap();
    src.set_fact("customer:acme", "zone", &json!("eu"), by("ada"))
        .unwrap();
    src.unset_fact("customer:acme", "zone", "bob", Some("moved".into()))
        .unwrap();
    let notes = src
        .add_notes(&[
            NewNote {
                text: "acme wants its invoices by post".into(),
                tags: vec!["customer:acme".into(), "billing".into()],
                source: Some("call".into()),
            },
            NewNote {
                text: "scratch".into(),
                tags: vec![],
                source: None,
            },
        ])
        .unwrap();
    src.forget_note(notes[1]).unwrap();
    src.commit(
        2,
        &[
            Event::FactSet {
                step: "b".into(),
                entity: "customer:acme".into(),
                key: "seats".into(),
                value: json!(7),
                version: 1,
            },
            Event::NoteAdded {
                step: "b".into(),
                note: notes[1] + 1,
                text: "the quarterly report went out late".into(),
                tags: vec!["report".into()],
            },
            Event::OutcomeRecorded {
                step: Some("b".into()),
                values: json!({"open_rate": 0.42, "sent": 120}),
            },
        ],
    )
    .unwrap();
    let decision = src.list_docs("decision", None, None, None, 10).unwrap()[0].id;
    src.put_vectors(&[
        VectorRow {
            doc: notes[0],
            model: "m".into(),
            vec: vec![0.5, -0.25, 1.0e-3],
            sketch: vec![0b101],
        },
        VectorRow {
            doc: decision,
            model: "m".into(),
            vec: vec![-1.0, 0.125, 3.0],
            sketch: vec![0b110],
        },
    ])
    .unwrap();

    let t = Target::new(TargetKind::Mcp, "time");
    let p = BreakerPolicy {
        failures: 2,
        cooldown: 60_000,
        max_cooldown: 600_000,
    };
    for _ in 0..2 {
        src.breaker_report(&t, &p, &Verdict::Failed("no answer".into()))
            .unwrap();
    }
    src.breaker_report(
        &Target::new(TargetKind::Mcp, "other"),
        &p,
        &Verdict::Failed("503".into()),
    )
    .unwrap();

    src.put_mail_watch(
        MailWatchSpec {
            name: "m".into(),
            path: "/w/m.toml".into(),
            dir: "/w".into(),
            source_hash: "hm".into(),
            account: "work".into(),
            folder: "INBOX".into(),
            search: "UNSEEN".into(),
            after: "seen".into(),
            move_to: None,
            max_per_tick: 10,
            inputs: json!({"k": "v"}),
        },
        "name = \"m\"",
    )
    .unwrap();
    src.record_mail(
        "m",
        IncomingMail {
            place: MailPlace {
                account: "work".into(),
                folder: "INBOX".into(),
                uidvalidity: 7,
                uid: 10,
            },
            message_id: Some("<k10>".into()),
            key: "k10".into(),
            outcome: MailOutcome::Start(NewFireRun {
                source: "name = \"m\"".into(),
                created: created("mail-7-10", &["a"]),
            }),
            done: false,
        },
    )
    .unwrap();
    src.commit(3, &[status(RunStatus::Succeeded)]).unwrap();
    src.mail_poll_failed("m", "connection reset").unwrap();

    let note = |key: &str, channel: &str| NewNotification {
        key: key.into(),
        channel: channel.into(),
        event: "waiting".into(),
        title: "t".into(),
        body: "b".into(),
    };
    let ids = src
        .queue_notifications(&[note("waiting:2", "phone"), note("waiting:2", "mail")])
        .unwrap();
    src.claim_notifications("tick", 60_000, 10).unwrap();
    src.notification_sent(ids[0], "tick", "ok").unwrap();
    src.notification_failed(ids[1], "tick", "refused", None)
        .unwrap();
    (src, notes[0])
}

#[test]
fn memory_breakers_mail_and_notifications_are_copied_and_compare_clean() {
    let dir = tempfile::tempdir().unwrap();
    let (src, note) = full_journal(&dir);
    let url = fresh_database();
    let r = import(&src, &url, &opts(), &mut |_, _| {}).unwrap();
    assert!(r.committed, "{:?}", r.differences);
    assert!(r.differences.is_empty());
    for (table, rows) in [
        ("fact_versions", 5),
        ("memory_docs", 4),
        ("outcomes", 2),
        ("memory_vectors", 2),
        ("breakers", 2),
        ("breaker_events", 3),
        ("mail_watches", 1),
        ("mail_messages", 1),
        ("mail_events", 3),
        ("notifications", 2),
        ("notify_events", 6),
    ] {
        let c = of(&r, table);
        assert_eq!((c.sqlite, c.postgres), (rows, rows), "{table}");
    }

    let mut pg = PgJournal::connect(&url, Clock::System).unwrap();
    // Memory answers on PostgreSQL as it did on SQLite.
    let hits = crate::memory::search(&pg, "invoices post", 5, &[], None).unwrap();
    assert_eq!(hits[0].doc.id, note);
    assert_eq!(hits[0].doc.tags, ["customer:acme", "billing"]);
    let hits = crate::memory::search(&pg, "quarterly report", 5, &["note"], None).unwrap();
    assert_eq!(hits[0].doc.id, note + 2);
    assert_eq!(hits[0].doc.source.as_deref(), Some("run 2/b"));
    assert_eq!(pg.doc(note + 1).unwrap(), None, "forgotten stays forgotten");
    assert_eq!(
        src.all_facts().unwrap(),
        pg.all_facts().unwrap(),
        "the zone was unset"
    );
    assert_eq!(
        src.fact_history("customer:acme", "plan").unwrap(),
        pg.fact_history("customer:acme", "plan").unwrap()
    );
    assert_eq!(
        pg.vectors(&[note], "m").unwrap(),
        [(note, vec![0.5, -0.25, 1.0e-3])]
    );
    assert_eq!(src.outcomes(2).unwrap(), pg.outcomes(2).unwrap());
    // New documents and notifications take ids after the copied ones.
    let next = pg
        .add_notes(&[NewNote {
            text: "later".into(),
            tags: vec![],
            source: None,
        }])
        .unwrap();
    assert!(next[0] > note + 2, "{next:?}");
    let again = pg
        .queue_notifications(&[NewNotification {
            key: "waiting:9".into(),
            channel: "phone".into(),
            event: "waiting".into(),
            title: "t".into(),
            body: "b".into(),
        }])
        .unwrap();
    assert_eq!(again, [3]);
    // The breaker is open there too, the watch's failure streak kept.
    let b = pg
        .breaker(&Target::new(TargetKind::Mcp, "time"))
        .unwrap()
        .unwrap();
    assert_eq!(b.state, BreakerState::Open);
    assert_eq!(
        pg.mail_watch("m").unwrap().last_error.as_deref(),
        Some("connection reset")
    );
}

#[test]
fn a_record_that_cannot_be_inserted_fails_the_whole_copy() {
    let dir = tempfile::tempdir().unwrap();
    let (src, _) = full_journal(&dir);
    // A mail message of a run the log never created: PostgreSQL's foreign key
    // refuses it, after every run event was copied.
    rusqlite::Connection::open(dir.path().join("aios.db"))
        .unwrap()
        .execute_batch(
            "DROP TRIGGER mail_events_no_update;
             UPDATE mail_events SET data = json_set(data, '$.run_id', 99) WHERE type = 'mail_received'",
        )
        .unwrap();
    let url = fresh_database();
    let e = import(&src, &url, &opts(), &mut |_, _| {}).unwrap_err();
    assert!(e.message.contains("mail_messages"), "{}", e.message);
    for t in [
        "events",
        "runs",
        "proposals",
        "sources",
        "schedules",
        "notices",
        "fact_versions",
        "memory_docs",
        "breakers",
        "notifications",
        "mail_watches",
    ] {
        assert_eq!(count(&url, t), 0, "{t}");
    }
}

#[test]
fn memory_breakers_and_notifications_their_events_do_not_rebuild_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (src, _) = full_journal(&dir);
    rusqlite::Connection::open(dir.path().join("aios.db"))
        .unwrap()
        .execute_batch(
            "UPDATE memory_docs SET text = 'changed' WHERE kind = 'decision';
             UPDATE breakers SET failures = 9 WHERE target = 'mcp:time';
             UPDATE notifications SET reply = 'forged' WHERE id = 1;",
        )
        .unwrap();
    let url = fresh_database();
    let r = import(&src, &url, &opts(), &mut |_, _| {}).unwrap();
    assert!(!r.committed);
    for table in ["memory_docs", "breakers", "notifications"] {
        assert!(
            r.differences
                .iter()
                .any(|d| d.starts_with(&format!("{table}: SQLite "))),
            "{table}: {:?}",
            r.differences
        );
    }
    assert_eq!(count(&url, "memory_docs"), 0);
    assert_eq!(count(&url, "events"), 0);
}
