//! `import`: an SQLite journal copied into a throwaway PostgreSQL (`testdb`), its
//! projections rebuilt there from the events and compared; refusals leave the target
//! without a copied record.

use serde_json::json;

use super::PgJournal;
use super::import::{ImportOptions, ImportReport, import};
use super::testdb::fresh_database;
use crate::clock::Clock;
use crate::journal::store::{InboxStore, NoticeStore, RunStore, ScheduleStore};
use crate::journal::*;

pub(super) fn opts() -> ImportOptions {
    ImportOptions {
        force: false,
        allow_active: false,
        progress_every: 0,
    }
}

pub(super) fn created(uid: &str, steps: &[&str]) -> Event {
    Event::RunCreated {
        dry: None,
        uid: uid.into(),
        workflow: "w".into(),
        path: None,
        dir: "/tmp".into(),
        source_hash: "h".into(),
        inputs: json!({"a": 1.25, "b": [true, null]}),
        steps: steps
            .iter()
            .map(|s| StepDecl {
                id: s.to_string(),
                kind: "http".into(),
            })
            .collect(),
    }
}

pub(super) fn status(s: RunStatus) -> Event {
    Event::RunStatus {
        status: s,
        error: None,
    }
}

/// A journal with a finished run, a run waiting on a decided and a pending item, a
/// schedule and a notice (an event of no run).
pub(super) fn journal(dir: &tempfile::TempDir) -> SqliteJournal {
    let mut j = SqliteJournal::open(
        &dir.path().join("aios.db"),
        Clock::System,
        OpenOptions::default(),
    )
    .unwrap();
    let one = j.create_run("name = \"w\"", created("u1", &["a"])).unwrap();
    j.commit(
        one,
        &[
            Event::StepStarted {
                step: "a".into(),
                attempt: 1,
            },
            Event::StepSucceeded {
                step: "a".into(),
                attempt: 1,
                output: json!({"n": 0.1}),
            },
            status(RunStatus::Succeeded),
        ],
    )
    .unwrap();
    let two = j
        .create_run("name = \"w\"", created("u2", &["b", "c"]))
        .unwrap();
    let b = j
        .create_proposal(
            two,
            "b",
            1,
            ProposalKind::Action,
            "do b".into(),
            json!({"to": "x"}),
            json!({"confidence": 0.5}),
        )
        .unwrap()
        .unwrap();
    j.commit(two, &[status(RunStatus::Waiting)]).unwrap();
    j.decide(
        b,
        DecisionInput {
            decision: Decision::Approve,
            reason: Some("fine".into()),
            fields: None,
            edited: None,
            diff: None,
            by: "ada".into(),
        },
    )
    .unwrap();
    j.create_proposal(
        two,
        "c",
        1,
        ProposalKind::Action,
        "do c".into(),
        json!({}),
        json!({}),
    )
    .unwrap();
    j.add_schedule(
        ScheduleSpec {
            name: "nightly".into(),
            path: "/tmp/w.toml".into(),
            dir: "/tmp".into(),
            source_hash: "h2".into(),
            cron: "0 3 * * *".into(),
            timezone: "UTC".into(),
            overlap: "skip".into(),
            catch_up: "latest".into(),
            catch_up_window: 3_600_000,
            inputs: json!({}),
        },
        "name = \"nightly\"",
        |c| Some(c + 1000),
    )
    .unwrap();
    j.raise_notice(
        "nightly",
        "late",
        "late:nightly:1",
        "nightly is late",
        json!({}),
    )
    .unwrap();
    j
}

pub(super) fn count(url: &str, table: &str) -> i64 {
    let mut c = ::postgres::Client::connect(url, ::postgres::NoTls).unwrap();
    c.query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .unwrap()
        .get(0)
}

pub(super) fn of<'a>(r: &'a ImportReport, table: &str) -> &'a super::import::Count {
    r.tables.iter().find(|c| c.name == table).unwrap()
}

#[test]
fn a_journal_is_copied_event_by_event_and_its_state_rebuilt_alike() {
    let dir = tempfile::tempdir().unwrap();
    drop(journal(&dir));
    let db = dir.path().join("aios.db");
    let files = || {
        ["aios.db", "aios.db-wal"].map(|f| std::fs::read(dir.path().join(f)).unwrap_or_default())
    };
    let before = files();
    let src =
        crate::journal::export::open_source(&db, Clock::System, OpenOptions::default()).unwrap();
    let url = fresh_database();
    let mut seen = Vec::new();
    let report = import(
        &src,
        &url,
        &ImportOptions {
            progress_every: 3,
            ..opts()
        },
        &mut |done, total| seen.push((done, total)),
    )
    .unwrap();
    assert!(report.committed, "{:?}", report.differences);
    assert!(report.differences.is_empty());
    assert_eq!(report.runs, 2);
    let events =
        src.events(1).unwrap().len() + src.events(2).unwrap().len() + src.events(0).unwrap().len();
    assert_eq!(report.events, events as i64);
    let total = report.events as u64;
    let every_third: Vec<(u64, u64)> = (0..=total / 3).map(|k| (3 * k, total)).collect();
    assert_eq!(seen, every_third);
    for t in &report.tables {
        assert_eq!(t.sqlite, t.postgres, "{t:?}");
    }
    assert_eq!(of(&report, "proposals").postgres, 2);
    assert_eq!(of(&report, "notices").postgres, 1);
    assert_eq!(of(&report, "schedules").postgres, 1);
    assert_eq!(of(&report, "sources").postgres, 2);
    assert!(
        report
            .events_by_kind
            .iter()
            .any(|c| c.name == "proposal_decided" && c.sqlite == 1 && c.postgres == 1)
    );
    // Memory's index of the decision is rebuilt there: nothing is left behind.
    assert_eq!(of(&report, "memory_docs").postgres, 1);

    // The copy reads as the original through the PostgreSQL journal.
    let mut pg = PgJournal::connect(&url, Clock::System).unwrap();
    assert_eq!(pg.run(2).unwrap().status, RunStatus::Waiting);
    assert_eq!(pg.steps(1).unwrap()[0].output, Some(json!({"n": 0.1})));
    assert_eq!(pg.events(2).unwrap().len(), src.events(2).unwrap().len());
    let item = pg.proposal(1).unwrap();
    assert_eq!(item.decided_by.as_deref(), Some("ada"));
    assert_eq!(pg.notices(true).unwrap().len(), 1);
    assert_eq!(pg.schedule("nightly").unwrap().spec.cron, "0 3 * * *");
    // New ids continue after the copied ones.
    assert_eq!(pg.create_run("x", created("u3", &["a"])).unwrap(), 3);
    let next = pg
        .create_proposal(
            3,
            "a",
            1,
            ProposalKind::Action,
            "a".into(),
            json!({}),
            json!({}),
        )
        .unwrap()
        .unwrap();
    assert_eq!(next, 4, "after the items 1, 2 and the notice 3");
    // The SQLite file was only read.
    drop(src);
    assert_eq!(files(), before);
}

#[test]
fn a_target_that_holds_something_is_refused_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let src = journal(&dir);
    let url = fresh_database();
    let first = import(&src, &url, &opts(), &mut |_, _| {}).unwrap();
    let e = import(&src, &url, &opts(), &mut |_, _| {}).unwrap_err();
    assert_eq!(e.kind, crate::error::ErrorKind::Conflict);
    assert!(
        e.message
            .contains("is not empty: it holds an aios journal (")
            && e.message.contains(&format!("{} events", first.events)),
        "{}",
        e.message
    );
    assert!(e.hint.unwrap().contains("--force"));
    // Forced: the journal there is replaced, not added to.
    let again = import(
        &src,
        &url,
        &ImportOptions {
            force: true,
            ..opts()
        },
        &mut |_, _| {},
    )
    .unwrap();
    assert!(again.committed);
    assert!(again.replaced.is_some());
    assert_eq!(count(&url, "events"), first.events);
    let mut pg = PgJournal::connect(&url, Clock::System).unwrap();
    assert_eq!(pg.create_run("x", created("u9", &["a"])).unwrap(), 3);

    // Another application's table: named, and left alone when forced.
    let other = fresh_database();
    ::postgres::Client::connect(&other, ::postgres::NoTls)
        .unwrap()
        .batch_execute("CREATE TABLE invoices (id BIGINT)")
        .unwrap();
    let e = import(&src, &other, &opts(), &mut |_, _| {}).unwrap_err();
    assert!(
        e.message.contains("1 table aios did not create (invoices)"),
        "{}",
        e.message
    );
    let forced = import(
        &src,
        &other,
        &ImportOptions {
            force: true,
            ..opts()
        },
        &mut |_, _| {},
    )
    .unwrap();
    assert!(forced.committed && forced.replaced.is_none());
    assert_eq!(count(&other, "invoices"), 0);
}

#[test]
fn a_state_that_its_events_do_not_rebuild_is_reported_and_not_copied() {
    let dir = tempfile::tempdir().unwrap();
    let src = journal(&dir);
    // A projection changed behind the log's back.
    rusqlite::Connection::open(dir.path().join("aios.db"))
        .unwrap()
        .execute("UPDATE steps SET status = 'failed' WHERE run_id = 1", [])
        .unwrap();
    let url = fresh_database();
    let r = import(&src, &url, &opts(), &mut |_, _| {}).unwrap();
    assert!(!r.committed);
    assert_eq!(r.differences.len(), 1, "{:?}", r.differences);
    assert!(
        r.differences[0].starts_with("steps: SQLite     [1,\"a\",0,\"http\",\"failed\""),
        "{}",
        r.differences[0]
    );
    assert_eq!(count(&url, "events"), 0);
}

#[test]
fn running_runs_are_refused_unless_allowed_and_bad_targets_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let mut src = journal(&dir);
    src.create_run("name = \"w\"", created("u3", &["a"]))
        .unwrap();
    let url = fresh_database();
    let e = import(&src, &url, &opts(), &mut |_, _| {}).unwrap_err();
    assert_eq!(e.kind, crate::error::ErrorKind::Conflict);
    assert_eq!(
        e.message,
        "a run is still running: run 3; nothing was copied"
    );
    assert!(e.hint.unwrap().contains("--allow-active"));
    // Refused before the target is touched.
    assert_eq!(
        count(
            &url,
            "information_schema.tables WHERE table_schema = current_schema()"
        ),
        0
    );
    let r = import(
        &src,
        &url,
        &ImportOptions {
            allow_active: true,
            ..opts()
        },
        &mut |_, _| {},
    )
    .unwrap();
    assert!(r.committed && r.runs == 3);

    // Nothing listens there: said with the address, without the password.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = import(
        &src,
        &format!("postgres://aios:s3cret@127.0.0.1:{port}/x"),
        &ImportOptions {
            allow_active: true,
            ..opts()
        },
        &mut |_, _| {},
    )
    .unwrap_err();
    assert_eq!(e.kind, crate::error::ErrorKind::Storage);
    assert!(e.message.contains("could not be reached"), "{}", e.message);
    let hint = e.hint.unwrap();
    assert!(
        hint.contains(&format!("postgres://aios:***@127.0.0.1:{port}/x")),
        "{hint}"
    );
    assert!(!format!("{} {hint}", e.message).contains("s3cret"));
    let e = import(&src, "mysql://x@y/z", &opts(), &mut |_, _| {}).unwrap_err();
    assert_eq!(e.kind, crate::error::ErrorKind::Invalid);
}

#[test]
fn two_copies_into_one_empty_database_take_turns_and_the_second_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(journal(&dir));
    let url = fresh_database();
    let start = std::sync::Barrier::new(2);
    let results: Vec<crate::error::Result<ImportReport>> = std::thread::scope(|s| {
        let copies: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let src = SqliteJournal::open(
                        &dir.path().join("aios.db"),
                        Clock::System,
                        OpenOptions::default(),
                    )
                    .unwrap();
                    start.wait();
                    import(&src, &url, &opts(), &mut |_, _| {})
                })
            })
            .collect();
        copies.into_iter().map(|c| c.join().unwrap()).collect()
    });
    let committed = results
        .iter()
        .filter(|r| r.as_ref().is_ok_and(|r| r.committed))
        .count();
    assert_eq!(committed, 1, "{results:?}");
    let refused = results.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert_eq!(
        refused.kind,
        crate::error::ErrorKind::Conflict,
        "{refused:?}"
    );
    assert!(refused.message.contains("is not empty"), "{refused:?}");
    assert!(refused.hint.as_deref().unwrap().contains("--force"));
    // One copy's rows, not two.
    let one = import(
        &SqliteJournal::open(
            &dir.path().join("aios.db"),
            Clock::System,
            OpenOptions::default(),
        )
        .unwrap(),
        &fresh_database(),
        &opts(),
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(count(&url, "events"), of(&one, "events").postgres);
}

#[test]
fn runs_queued_for_workers_stay_queued_with_their_tags_and_without_claims() {
    let dir = tempfile::tempdir().unwrap();
    let mut src = journal(&dir);
    let gpu = src
        .create_queued_run(
            "name = \"w\"",
            created("u-gpu", &["a"]),
            &["eu".to_string(), "gpu".to_string()],
        )
        .unwrap();
    let any = src
        .create_queued_run("name = \"w\"", created("u-any", &["a"]), &[])
        .unwrap();
    let url = fresh_database();
    let r = import(
        &src,
        &url,
        &ImportOptions {
            allow_active: true,
            ..opts()
        },
        &mut |_, _| {},
    )
    .unwrap();
    assert!(r.committed, "{:?}", r.differences);
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let rows: Vec<(i64, Vec<String>, Option<String>)> = c
        .query(
            "SELECT run_id, tags, claimed_by FROM work ORDER BY run_id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        rows,
        vec![
            (gpu, vec!["eu".to_string(), "gpu".to_string()], None),
            (any, vec![], None)
        ]
    );
}
