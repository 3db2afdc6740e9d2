//! `aios migrate --to postgres://…`: a journal made by real runs (hello, launch with
//! its approvals, a schedule's fire) copied into a throwaway PostgreSQL, rebuilt and
//! compared, memory searched there as it was; refusals (a database that holds
//! something, a state its events do not rebuild, a bad or unreachable URL) leave the target without a copied record, the
//! password is never shown and the SQLite file is never written.

use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use crate::schedule::{at, daily};
use crate::support::Test;
use crate::support::postgres::fresh_database;

/// A fresh database's URL, with a password (the test server trusts loopback, so it
/// is accepted and never checked: it is there to be hidden).
fn target() -> String {
    fresh_database().replacen("postgres://aios@", "postgres://aios:s3cret@", 1)
}

fn hidden(url: &str) -> String {
    url.replacen(":s3cret@", ":***@", 1)
}

fn rows(url: &str, sql: &str) -> i64 {
    let mut c = ::postgres::Client::connect(url, ::postgres::NoTls).unwrap();
    c.query_one(sql, &[]).unwrap().get(0)
}

/// The SQLite files' hash (the database and its write-ahead log).
fn hash(t: &Test) -> String {
    let mut h = Sha256::new();
    for f in ["aios.db", "aios.db-wal"] {
        h.update(std::fs::read(t.join(f)).unwrap_or_default());
    }
    hex::encode(h.finalize())
}

/// hello (succeeded), launch waiting at its gate after two approvals, and a run
/// fired by a schedule.
/// The SQLite journal these tests copy, as the migration's source: `None` when the
/// suite runs on PostgreSQL (the harness says so; see [`Test::sqlite_only`]).
fn sqlite_home() -> Option<Test> {
    Test::sqlite_only(SOURCE_IS_SQLITE)
}

const SOURCE_IS_SQLITE: &str = "aios migrate copies the SQLite journal (aios.db) into PostgreSQL: its source is the file (its target is PostgreSQL in the SQLite pass too)";

fn journal() -> Option<Test> {
    let t = sqlite_home()?
        .copy("examples/hello.toml", "hello.toml")
        .copy("workflows/launch.toml", "launch.toml")
        .write("daily.toml", &daily("latest", "skip"));
    t.aios(&["run", "hello.toml", "--input", "name=Ada"])
        .success();
    t.aios(&["run", "launch.toml"]).success();
    t.aios(&["approve", &t.item("landing").to_string()])
        .success();
    t.aios(&["approve", &t.item("email").to_string()]).success();
    assert_eq!(t.show(2)["status"], "waiting");
    at(
        &t,
        "2026-11-20T12:00:00Z",
        &["schedule", "add", "daily.toml"],
    )
    .success();
    at(&t, "2026-11-21T09:00:30Z", &["tick"]).success();
    assert_eq!(t.show(3)["status"], "succeeded");
    Some(t)
}

#[test]
fn runs_approvals_and_a_schedule_are_copied_and_rebuilt_alike() {
    let Some(t) = journal() else { return };
    let before = hash(&t);
    let url = target();
    let out = t
        .aios(&["migrate", "--to", &url, "--progress-every", "10"])
        .success()
        .stdout_contains("ok copied 3 runs (")
        .stdout_contains(&format!(
            "into {}: the state rebuilt there from the events matches this journal's\n",
            hidden(&url)
        ))
        .stdout_contains("\nmemory_docs ")
        .stderr_contains(&format!(
            " events from {} into {}\n",
            t.join("aios.db").display(),
            hidden(&url)
        ))
        .stderr_contains("copied 10 of ");
    assert!(!format!("{}{}", out.stdout, out.stderr).contains("s3cret"));
    assert_eq!(hash(&t), before, "the SQLite journal was written");
    // What is there, read through PostgreSQL.
    assert_eq!(rows(&url, "SELECT count(*) FROM runs"), 3);
    assert_eq!(
        rows(
            &url,
            "SELECT count(*) FROM runs WHERE id = 2 AND status = 'waiting'"
        ),
        1
    );
    assert_eq!(
        rows(
            &url,
            "SELECT count(*) FROM proposals WHERE status = 'approved'"
        ),
        2
    );
    assert_eq!(rows(&url, "SELECT count(*) FROM schedules"), 1);
    assert_eq!(rows(&url, "SELECT count(*) FROM fires WHERE run_id = 3"), 1);

    // The JSON report: every table and every kind of event counted alike on both
    // sides, and as many events as the runs' logs hold.
    let url = target();
    let r = t
        .aios(&["migrate", "--to", &url, "--json"])
        .success()
        .json();
    assert_eq!(r["to"], hidden(&url));
    assert_eq!(r["committed"], true);
    assert_eq!(r["runs"], 3);
    assert_eq!(r["differences"], Json::Array(vec![]));
    let logged: usize = (1..=3)
        .map(|run| {
            t.aios(&["log", &run.to_string(), "--json"])
                .success()
                .json()
                .as_array()
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(r["events"], logged as i64);
    for c in r["tables"]
        .as_array()
        .unwrap()
        .iter()
        .chain(r["events_by_kind"].as_array().unwrap())
    {
        assert_eq!(c["sqlite"], c["postgres"], "{c}");
    }
    let kind = |k: &str| {
        r["events_by_kind"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["kind"] == k)
            .map(|c| c["postgres"].as_i64().unwrap())
    };
    assert_eq!(kind("run_created"), Some(3));
    assert_eq!(kind("proposal_decided"), Some(2));
    let table = |k: &str| {
        r["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["table"] == k)
            .map(|c| c["postgres"].as_i64().unwrap())
    };
    assert_eq!(table("schedules"), Some(1));
    assert_eq!(table("fires"), Some(1));
    assert_eq!(table("proposals"), Some(3));
    assert_eq!(hash(&t), before);
}

#[test]
fn a_database_that_holds_something_is_refused_unless_forced() {
    let Some(t) = journal() else { return };
    let url = target();
    t.aios(&["migrate", "--to", &url]).success();
    let events = rows(&url, "SELECT count(*) FROM events");
    let out = t
        .aios(&["migrate", "--to", &url])
        .code(4)
        .stderr_contains(&format!(
            "error: the database {} is not empty: it holds an aios journal (",
            hidden(&url)
        ))
        .stderr_contains(&format!("{events} events"))
        .stderr_contains("hint: migrate into a new database (createdb), or add --force");
    assert!(!out.stderr.contains("s3cret"));
    t.aios(&["migrate", "--to", &url, "--force"])
        .success()
        .stdout_contains(&format!(
            "replaced what {} held: an aios journal (",
            hidden(&url)
        ))
        .stdout_contains("ok copied 3 runs");
    assert_eq!(rows(&url, "SELECT count(*) FROM events"), events);
}

#[test]
fn memory_is_copied_and_searched_on_postgresql_as_it_was() {
    let Some(t) = journal() else { return };
    t.aios(&["fact", "set", "customer:acme", "plan", "gold"])
        .success();
    t.aios(&["fact", "set", "customer:acme", "zone", "eu"])
        .success();
    t.aios(&["fact", "unset", "customer:acme", "zone"])
        .success();
    t.aios(&[
        "memory",
        "add",
        "Acme wants invoices by post",
        "--tag",
        "billing",
    ])
    .success();
    let before = hash(&t);
    let url = target();
    t.aios(&["migrate", "--to", &url])
        .success()
        .stdout_contains("the state rebuilt there from the events matches this journal's");
    assert_eq!(hash(&t), before);
    let search = ["memory", "search", "invoices post", "--json"];
    let on_sqlite: Json = serde_json::from_str(&t.aios(&search).success().stdout).unwrap();
    let on_pg = t
        .args(&search)
        .env("AIOS_DATABASE_URL", &url)
        .run()
        .success();
    let on_pg: Json = serde_json::from_str(&on_pg.stdout).unwrap();
    let ids = |v: &Json| -> Vec<Json> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].clone())
            .collect()
    };
    assert!(!ids(&on_sqlite).is_empty());
    assert_eq!(ids(&on_pg), ids(&on_sqlite));
    assert_eq!(on_pg[0]["tags"], serde_json::json!(["billing"]));
    assert_eq!(
        rows(&url, "SELECT count(*) FROM fact_versions WHERE unset"),
        1
    );
}

#[test]
fn a_copy_that_fails_part_way_copies_nothing() {
    let Some(t) = journal() else { return };
    // A decided item whose projection was changed behind the log's back.
    rusqlite::Connection::open(t.join("aios.db"))
        .unwrap()
        .execute("UPDATE proposals SET reason = 'edited' WHERE id = 1", [])
        .unwrap();
    let url = target();
    t.aios(&["migrate", "--to", &url])
        .code(1)
        .stdout_contains("mismatch the state rebuilt on PostgreSQL differs from this journal's; nothing was copied:")
        .stdout_contains("  proposals: SQLite     [1,");
    for table in [
        "events",
        "runs",
        "proposals",
        "schedules",
        "sources",
        "memory_docs",
    ] {
        assert_eq!(
            rows(&url, &format!("SELECT count(*) FROM {table}")),
            0,
            "{table}"
        );
    }
}

#[test]
fn bad_and_unreachable_urls_and_a_missing_journal_are_clear() {
    let Some(t) = sqlite_home() else { return };
    t.aios(&["migrate", "--to", &target()])
        .code(3)
        .stderr_contains("error: there is no journal at ")
        .stderr_contains("hint: aios migrate copies an existing journal");
    assert!(!t.join("aios.db").exists(), "no journal is created");

    let t = journal().unwrap();
    let before = hash(&t);
    t.aios(&["migrate", "--to", "mysql://root:s3cret@db/x"])
        .code(2)
        .stderr_is("error: `mysql://root:***@db/x` is not a PostgreSQL URL\nhint: write it as postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE\n");
    t.aios(&[
        "migrate",
        "--to",
        "postgres://aios:s3cret@127.0.0.1:notaport/x",
    ])
    .code(2)
    .stderr_contains("is not a valid PostgreSQL URL");
    // Nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://aios:s3cret@127.0.0.1:{port}/x");
    let out = t
        .aios(&["migrate", "--to", &url])
        .code(5)
        .stderr_contains("error: the PostgreSQL server could not be reached: ")
        .stderr_contains(&format!(
            "hint: check that the server at {} runs",
            hidden(&url)
        ));
    assert!(!out.stderr.contains("s3cret"), "{}", out.stderr);
    assert_eq!(hash(&t), before);
}

#[test]
fn a_run_being_executed_is_refused_unless_allowed() {
    let server = crate::support::http::Server::start();
    let slow = server.hold("/slow");
    let Some(t) = sqlite_home() else { return };
    let t = t.write(
        "held.toml",
        &format!(
            r#"
name = "held"

[[steps]]
id = "slow"
kind = "http"
approve = "never"
method = "POST"
url = "{}"
"#,
            server.url("/slow")
        ),
    );
    let bg = t.args(&["run", "held.toml"]).spawn();
    slow.arrived();
    let owner = format!("{}@{}", bg.pid(), crate::support::hostname());
    let url = target();
    t.aios(&["migrate", "--to", &url])
        .code(4)
        .stderr_is(&format!(
            "error: a run is still running: run 1 (executed by process {owner}); nothing was copied\nhint: stop `aios daemon` and `aios serve` and wait for the runs to stop (aios runs --status running), or copy them as they stand with --allow-active\n"
        ));
    // Refused before the target was touched.
    assert_eq!(
        rows(
            &url,
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"
        ),
        0
    );
    t.aios(&["migrate", "--to", &url, "--allow-active"])
        .success()
        .stdout_contains("ok copied 1 run (");
    assert_eq!(
        rows(
            &url,
            "SELECT count(*) FROM runs WHERE status = 'running' AND lease_owner IS NULL"
        ),
        1
    );
    slow.release();
    bg.wait().success();
}
