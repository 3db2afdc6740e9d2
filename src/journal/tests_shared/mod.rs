//! The shared journal suite: the same test functions, generic over the concerns a
//! backend implements, run against the SQLite journal (`sqlite::`) and against a
//! throwaway PostgreSQL (`postgres::`, see `pg::testdb`), both through the
//! [`Journal`] facade the program uses, so its dispatch is what is tested. Each covers a decision the
//! backends must take alike: ids, projections in the event's transaction, once-only
//! decisions, cancelled runs, leases, schedules and fires, the LLM ledger, timers
//! and deadlines (`runs.rs`: runs, inbox, leases, failure items; `operations.rs`: schedules,
//! the LLM ledger, timers, rate limits; `rest.rs`: circuit breakers, notifications, trust
//! listings, versions, statistics; `joins.rs`: memory's facts and outcomes as versions,
//! the digest, trust and statistics read them; `mail.rs`: mail watches; `upkeep.rs`: replay, workflow
//! changes, dry-run pruning; `work.rs`: the ready-work queue and its workers; `memory.rs`: facts, notes,
//! search, vectors, decisions and outcomes).

use serde_json::json;

use super::pg::{PgPool, PortedConcerns};
use super::store::{
    FailureStore, HealthStore, HookStore, InboxStore, InboxUpkeep, LeaseStore, LlmLedger,
    NoticeStore, RateStore, RunStore, ScheduleStore, TimerStore,
};
use super::*;
use crate::clock::{Clock, Millis};

/// A place journals of one backend open on: each `open` is another connection to
/// the same database, as another thread or process would have.
trait Backend {
    type J: PortedConcerns + Send + 'static;
    /// A journal whose clock is `clock`.
    fn open_at(&self, clock: Clock) -> Self::J;
    fn open(&self) -> Self::J {
        self.open_at(Clock::System)
    }
    /// Change the stored rows behind the journal's back (`sql` in the dialect both
    /// share), as damage or a bug would.
    fn tamper(&self, sql: &str);
}

struct Sqlite(tempfile::TempDir);

impl Sqlite {
    fn new() -> Sqlite {
        Sqlite(tempfile::tempdir().unwrap())
    }
}

impl Backend for Sqlite {
    type J = Journal;
    fn open_at(&self, clock: Clock) -> Journal {
        Journal::open(
            &self.0.path().join("aios.db"),
            clock,
            OpenOptions::default(),
        )
        .unwrap()
    }
    fn tamper(&self, sql: &str) {
        rusqlite::Connection::open(self.0.path().join("aios.db"))
            .unwrap()
            .execute_batch(sql)
            .unwrap();
    }
}

struct Postgres(PgPool, String);

impl Postgres {
    fn new() -> Postgres {
        let url = super::pg::testdb::fresh_database();
        Postgres(PgPool::connect(&url).unwrap(), url)
    }
}

impl Backend for Postgres {
    type J = Journal;
    fn open_at(&self, clock: Clock) -> Journal {
        Journal::from(self.0.journal(clock).unwrap())
    }
    fn tamper(&self, sql: &str) {
        ::postgres::Client::connect(&self.1, ::postgres::NoTls)
            .unwrap()
            .batch_execute(sql)
            .unwrap();
    }
}

fn created(uid: &str, steps: &[&str]) -> Event {
    Event::RunCreated {
        dry: None,
        uid: uid.into(),
        workflow: "w".into(),
        path: None,
        dir: "/tmp".into(),
        source_hash: "h".into(),
        inputs: json!({"a": 1, "b": [true, null]}),
        steps: steps
            .iter()
            .map(|s| StepDecl {
                id: s.to_string(),
                kind: "http".into(),
            })
            .collect(),
    }
}

fn decision(d: Decision, by: &str) -> DecisionInput {
    DecisionInput {
        decision: d,
        reason: None,
        fields: None,
        edited: None,
        diff: None,
        by: by.into(),
    }
}

fn started(step: &str) -> Event {
    Event::StepStarted {
        step: step.into(),
        attempt: 1,
    }
}

fn item<J: PortedConcerns>(j: &mut J, run: i64, step: &str) -> Option<i64> {
    j.create_proposal(
        run,
        step,
        1,
        ProposalKind::Action,
        format!("do {step}"),
        json!({"to": "x"}),
        json!({"confidence": 0.5}),
    )
    .unwrap()
}

macro_rules! shared_suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                super::$name(&super::Sqlite::new());
            })*
        }
        mod postgres {
            $(#[test]
            fn $name() {
                super::$name(&super::Postgres::new());
            })*
        }
    };
}

mod joins;
mod mail;
mod memory;
mod operations;
mod rest;
mod runs;
mod upkeep;
mod work;

/// PostgreSQL only: what the SQLite file does by itself (a backup, a restore, its
/// integrity check) is refused with the concern named, and the refusal writes nothing.
#[test]
fn postgres_refuses_what_only_the_sqlite_file_does() {
    let b = Postgres::new();
    let mut j = b.open();
    let run = j.create_run("name = \"w\"", created("u1", &["a"])).unwrap();
    j.commit(run, &[started("a")]).unwrap();
    let e = j.backup_to(std::path::Path::new("/tmp/x.db")).unwrap_err();
    assert!(
        e.message.contains("`aios backup`") && e.message.contains("not yet supported"),
        "{}",
        e.message
    );
    assert!(
        j.integrity_check()
            .unwrap_err()
            .message
            .contains("not yet supported")
    );
    assert!(e.hint.unwrap().contains("unset AIOS_DATABASE_URL"));
    assert_eq!(j.events(run).unwrap().len(), 2);
    assert_eq!(j.steps(run).unwrap()[0].status, StepStatus::Running);
    // The migrations applied, by number, as recorded in the database: every one
    // this build knows, numbered from 1 in order.
    let applied = b.0.journal(Clock::System).unwrap().migrations().unwrap();
    let known: Vec<&str> = super::pg::MIGRATIONS.iter().map(|m| m.0).collect();
    assert_eq!(applied, known);
    for (i, name) in known.iter().enumerate() {
        assert!(name.starts_with(&format!("{:04}_", i + 1)), "{name}");
    }
    assert!(known.contains(&"0007_health") && known.iter().any(|m| m.ends_with("_memory")));
}

/// The facade on PostgreSQL: what belongs to the SQLite file says what it does
/// there, every concern answers from the database through the facade as the program
/// calls it, and a workflow file's version is read from disk.
#[test]
fn postgres_facade_dispatches_to_the_database() {
    let b = Postgres::new();
    let j = b.open();
    assert!(j.is_postgres() && j.path().is_none() && !j.is_read_only());
    let mut j = j.with_gate(WriteGate::default());
    assert!(j.is_postgres());
    let target = crate::connectors::Target::new(crate::connectors::TargetKind::Http, "example.com");
    assert!(j.breakers().unwrap().is_empty() && j.held_steps().unwrap().is_empty());
    assert!(j.breaker(&target).unwrap().is_none());
    assert!(j.mail_watches().unwrap().is_empty() && !j.has_mail_watch("w").unwrap());
    assert!(j.facts("acme").unwrap().is_empty());
    assert!(j.notifications(5).unwrap().is_empty());
    assert!(j.all_step_stats().unwrap().is_empty());
    let run = j.create_run("name = \"w\"", created("u1", &["a"])).unwrap();
    assert_eq!(j.run(run).unwrap().uid, "u1");
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join("w.toml");
    std::fs::write(&wf, "a").unwrap();
    let evidence = json!({"versions": [
        {"kind": "workflow_file", "key": wf.display().to_string(), "version": "old"},
    ]});
    let stale = j.stale(&evidence);
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert_eq!(stale[0].kind, "workflow_file");
}

/// PostgreSQL only: migrations are checked like SQLite's: a database whose
/// recorded migration is not this build's, or that has more, is refused.
#[test]
fn postgres_refuses_a_database_of_another_build() {
    let url = super::pg::testdb::fresh_database();
    PgPool::connect(&url).unwrap();
    // Connecting again applies nothing twice.
    PgPool::connect(&url).unwrap();
    let mut admin = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
    let n: i64 = admin
        .query_one("SELECT count(*) FROM aios_migrations", &[])
        .unwrap()
        .get(0);
    assert_eq!(n as usize, super::pg::MIGRATIONS.len());
    admin
        .batch_execute("UPDATE aios_migrations SET sha256 = 'edited' WHERE version = 1")
        .unwrap();
    let e = PgPool::connect(&url).unwrap_err();
    assert!(
        e.message
            .contains("migration 1 (0001_core) is not this build's"),
        "{}",
        e.message
    );
    admin
        .batch_execute(
            "DELETE FROM aios_migrations WHERE version = 1;
             INSERT INTO aios_migrations VALUES (1, '0001_core', 'x', 0), (99, '0099_future', 'y', 0)",
        )
        .unwrap();
    let e = PgPool::connect(&url).unwrap_err();
    assert!(
        e.message.contains("written by a newer aios"),
        "{}",
        e.message
    );
    let e = PgPool::connect("sqlite:///tmp/x").unwrap_err();
    assert!(
        e.message.contains("is not a PostgreSQL URL"),
        "{}",
        e.message
    );
}

/// Every PostgreSQL migration file is listed, in order, under its own name.
#[test]
fn postgres_migration_files_are_all_listed_in_order() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/journal/pg/migrations");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let listed: Vec<String> = super::pg::MIGRATIONS
        .iter()
        .map(|m| format!("{}.sql", m.0))
        .collect();
    assert_eq!(files, listed);
}
