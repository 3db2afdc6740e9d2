//! Commands on PostgreSQL (`AIOS_DATABASE_URL`): each test gets a fresh database on
//! the throwaway server (`support::postgres`), runs the shipped workflows end to end
//! through the inbox, waits and resumes, schedules and ticks; a concern the
//! PostgreSQL backend does not carry yet stops the command with its error. The
//! SQLite file in the home is never created.

use crate::support::{Output, Test, step_statuses};

/// A test whose every command uses a fresh PostgreSQL database.
fn on_postgres() -> Test {
    Test::new().env(
        "AIOS_DATABASE_URL",
        &crate::support::postgres::fresh_database(),
    )
}

fn at(t: &Test, now: &str, args: &[&str]) -> Output {
    t.args(args).env("AIOS_NOW", now).run()
}

#[test]
fn hello_runs_and_its_log_comes_from_postgres() {
    let t = on_postgres().copy("examples/hello.toml", "hello.toml");
    t.aios(&["run", "hello.toml", "--input", "name=Ada"])
        .success()
        .stdout_contains("run 1 (hello) succeeded in ");
    assert_eq!(t.read("out/hello-ada.txt"), "Hello, Ada!\n");
    t.aios(&["log", "1"]).success().stdout_is(
        "    1  2026-11-21T09:30:00Z  run created from `hello` (2 steps)
    2  2026-11-21T09:30:00Z  greeting: succeeded
    3  2026-11-21T09:30:00Z  save: started (attempt 1)
    4  2026-11-21T09:30:00Z  save: succeeded
    5  2026-11-21T09:30:00Z  run succeeded
",
    );
    let show = t.show(1);
    assert_eq!(show["status"], "succeeded");
    let runs = t.aios(&["runs", "--json"]).success().json();
    assert_eq!(runs.as_array().unwrap().len(), 1);
    // doctor says where the journal is (never the password); status reads it.
    let doctor = t.aios(&["doctor", "--json"]).json();
    let db = doctor["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "database")
        .unwrap()
        .clone();
    assert_eq!(db["status"], "ok", "{db}");
    assert!(
        db.to_string()
            .contains("PostgreSQL at postgres://aios@127.0.0.1:"),
        "{db}"
    );
    let status = t.aios(&["status", "--json"]).json();
    assert_eq!(status["runs"]["running"], 0, "{status}");
    assert_eq!(status["breakers"], serde_json::json!([]), "{status}");
    // A second run gets the next id from the database.
    t.aios(&["run", "hello.toml", "--input", "name=Bo"])
        .success()
        .stdout_contains("run 2 (hello) succeeded");
    assert!(!t.db().exists(), "the SQLite journal was created");
}

#[test]
fn a_step_that_proposes_stops_where_it_needs_trust_statistics_not_ported_yet() {
    // hello.toml as shipped, but its file write asks first. Whether a proposal is
    // decided by an autonomy rule reads the step's trust statistics: until trust is
    // ported to PostgreSQL, the run stops there with that error, and no inbox item
    // is half-created. (When trust lands, this is the inbox flow: run, item in
    // `aios inbox list --json`, `aios approve`, run succeeded.)
    let src = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hello.toml"),
    )
    .unwrap()
    .replace("approve = \"never\"", "");
    let t = on_postgres().write("hello.toml", &src);
    t.aios(&["run", "hello.toml", "--input", "name=Ada"])
        .code(2)
        .stderr_contains(
            "error: trust marks and step statistics is not yet supported on PostgreSQL",
        )
        .stderr_contains("hint: use the SQLite journal for it: unset AIOS_DATABASE_URL");
    assert!(t.inbox().is_empty());
    assert!(
        t.aios(&["inbox", "list", "--all", "--json"])
            .success()
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
    let show = t.show(1);
    assert_eq!(
        crate::support::step(&show, "greeting")["status"],
        "succeeded"
    );
    assert_ne!(crate::support::step(&show, "save")["status"], "succeeded");
    assert!(!t.join("out/hello-ada.txt").exists());
    assert!(!t.db().exists(), "the SQLite journal was created");
}

#[test]
fn launch_stops_where_it_needs_memory_which_is_not_ported_yet() {
    // workflows/launch.toml's agent steps read memory (facts, notes, decisions) for
    // their context: until memory is ported to PostgreSQL, the run stops there with
    // that error, its earlier steps journaled, nothing of the stopped step written.
    let t = on_postgres().copy("workflows/launch.toml", "launch.toml");
    t.aios(&["run", "launch.toml"])
        .code(2)
        .stderr_contains("error: memory is not yet supported on PostgreSQL")
        .stderr_contains("hint: use the SQLite journal for it: unset AIOS_DATABASE_URL");
    let show = t.show(1);
    assert_ne!(show["status"], "succeeded");
    assert_eq!(crate::support::step(&show, "brief")["status"], "succeeded");
    assert!(t.inbox().is_empty());
    assert!(!t.db().exists(), "the SQLite journal was created");
}

const COOL_OFF: &str = r#"
name = "cool"

[[steps]]
id = "draft"
kind = "set"
values = { text = "hello" }

[[steps]]
id = "cool_off"
kind = "wait"
duration = "2d"

[[steps]]
id = "send"
kind = "set"
values = { sent = "{{ steps.draft.output.text }}" }
"#;

#[test]
fn a_waiting_run_resumes_once_its_wait_is_over() {
    let t = on_postgres().write("cool.toml", COOL_OFF);
    at(&t, "2026-11-20T09:00:00Z", &["run", "cool.toml"])
        .success()
        .stdout_contains("run 1 (cool) is waiting until 2026-11-22T09:00:00Z");
    assert_eq!(
        step_statuses(&t.show(1)),
        [
            ("draft".into(), "succeeded".into()),
            ("cool_off".into(), "waiting".into()),
            ("send".into(), "pending".into())
        ]
    );
    // Too early: it keeps waiting. After the end: it finishes.
    at(&t, "2026-11-21T12:00:00Z", &["resume", "1"]).success();
    assert_eq!(t.show(1)["status"], "waiting");
    at(&t, "2026-11-22T09:00:01Z", &["resume", "1"]).success();
    let show = t.show(1);
    assert_eq!(show["status"], "succeeded");
    assert_eq!(
        crate::support::step(&show, "send")["output"]["sent"],
        "hello"
    );
    assert!(!t.db().exists(), "the SQLite journal was created");
}

const DAILY: &str = r#"
name = "daily"

[trigger]
cron = "0 9 * * *"
timezone = "UTC"

[[steps]]
id = "a"
kind = "set"
values = { offer = "weekly digest" }
"#;

#[test]
fn a_schedule_is_added_listed_and_fired_by_tick() {
    let t = on_postgres().write("daily.toml", DAILY);
    at(
        &t,
        "2026-11-20T12:00:00Z",
        &["schedule", "add", "daily.toml"],
    )
    .success()
    .stdout_is("schedule daily added (0 9 * * * UTC); next fire 2026-11-21 09:00 UTC\n");
    let list = at(&t, "2026-11-20T12:00:00Z", &["schedule", "list", "--json"])
        .success()
        .json();
    assert_eq!(list[0]["name"], "daily");
    at(&t, "2026-11-21T08:59:00Z", &["tick"])
        .success()
        .stdout_is("");
    at(&t, "2026-11-21T09:00:30Z", &["tick"]).success();
    let runs = t.aios(&["runs", "--json"]).success().json();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["status"], "succeeded");
    let list = at(&t, "2026-11-21T09:01:00Z", &["schedule", "list", "--json"])
        .success()
        .json();
    let fires = list[0]["recent_fires"].as_array().unwrap();
    assert_eq!(fires.len(), 1, "{fires:?}");
    // Ticking again at the same instant fires nothing twice.
    at(&t, "2026-11-21T09:00:30Z", &["tick"]).success();
    assert_eq!(
        t.aios(&["runs", "--json"])
            .success()
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(!t.db().exists(), "the SQLite journal was created");
}

#[test]
fn a_concern_not_ported_stops_the_command_and_writes_nothing() {
    let t = on_postgres();
    t.aios(&["stats"])
        .code(2)
        .stderr_contains("error: statistics (`aios stats`) is not yet supported on PostgreSQL")
        .stderr_contains("hint: use the SQLite journal for it: unset AIOS_DATABASE_URL");
    t.aios(&["fact", "set", "customer:acme", "plan", "pro"])
        .code(2)
        .stderr_contains("error: memory is not yet supported on PostgreSQL");
    // Nothing was half-written: the journal has no run and no event.
    assert_eq!(
        t.aios(&["runs", "--json"]).success().json(),
        serde_json::json!([])
    );
    t.aios(&["restore", "backup.db"])
        .code(2)
        .stderr_contains("`aios restore` is not yet supported on PostgreSQL");
    assert!(!t.db().exists(), "the SQLite journal was created");
}
