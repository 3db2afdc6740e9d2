//! Where data lives: AIOS_HOME / --home, file permissions, unusable homes.

use std::os::unix::fs::PermissionsExt;

use crate::support::Test;

#[test]
fn the_database_is_private() {
    let Some(t) = Test::sqlite_only("the aios.db file's mode (0600)") else {
        return;
    };
    t.aios(&["runs"]).success();
    let mode = std::fs::metadata(t.db()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "aios.db mode is {:o}", mode & 0o777);
}

#[test]
fn home_flag_works_like_aios_home() {
    let Some(t) = Test::sqlite_only("where --home and AIOS_HOME put the aios.db file") else {
        return;
    };
    let t = t.copy("examples/hello.toml", "hello.toml");
    t.args(&["--home", "data", "run", "hello.toml"])
        .no_home()
        .run()
        .success();
    assert!(t.join("data/aios.db").exists());
    assert!(!t.db().exists());
    let runs = t
        .args(&["runs", "--json", "--home", "data"])
        .no_home()
        .run()
        .success()
        .json();
    assert_eq!(runs.as_array().unwrap().len(), 1);
    // The same folder through the environment.
    let data = t.join("data");
    let runs = t
        .args(&["runs", "--json"])
        .no_home()
        .env("AIOS_HOME", data.to_str().unwrap())
        .run()
        .success()
        .json();
    assert_eq!(runs[0]["workflow"], "hello");
}

#[test]
fn a_home_that_cannot_be_created_exits_5_with_a_hint() {
    let Some(t) = Test::sqlite_only(
        "`aios runs` creates the data folder for the aios.db file (on PostgreSQL it reads the server and needs no folder)",
    ) else {
        return;
    };
    let t = t.write("afile", "not a folder");
    t.args(&["--home", "afile/sub", "runs"])
        .no_home()
        .run()
        .code(5)
        .stderr_is(
            "error: cannot create the data directory afile/sub: Not a directory (os error 20)\nhint: set AIOS_HOME (or --home) to a writable folder\n",
        );
}

#[test]
fn a_bad_aios_now_is_a_usage_error() {
    Test::new()
        .args(&["runs"])
        .env("AIOS_NOW", "yesterday")
        .run()
        .code(2)
        .stderr_contains("error: AIOS_NOW=`yesterday` is not an RFC 3339 instant")
        .stderr_contains("hint: use a form like 2026-11-21T09:30:00Z, or unset AIOS_NOW");
}

#[test]
fn a_locked_database_is_a_clear_error_and_writes_nothing() {
    let Some(t) = Test::sqlite_only(
        "another process holds the aios.db file's write lock (BEGIN IMMEDIATE) past AIOS_LOCK_TIMEOUT",
    ) else {
        return;
    };
    let t = t.copy("examples/hello.toml", "hello.toml");
    t.aios(&["runs"]).success();
    // Another process holds the write lock for the whole command.
    let conn = rusqlite::Connection::open(t.db()).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    t.args(&["run", "hello.toml"])
        .env("AIOS_LOCK_TIMEOUT", "100ms")
        .run()
        .code(5)
        .stderr_is(
            "error: the database is locked by another process\nhint: another aios command is writing; try again in a moment\n",
        );
    conn.execute_batch("ROLLBACK").unwrap();
    drop(conn);
    assert_eq!(
        t.aios(&["runs", "--json"]).success().json(),
        serde_json::json!([])
    );
    t.aios(&["run", "hello.toml"]).success();
}

#[test]
fn a_bad_lock_timeout_is_a_usage_error() {
    Test::new()
        .args(&["runs"])
        .env("AIOS_LOCK_TIMEOUT", "soon")
        .run()
        .code(2)
        .stderr_contains("AIOS_LOCK_TIMEOUT: invalid duration `soon`");
}

#[test]
fn a_full_disk_is_a_clear_error_and_leaves_a_sound_journal() {
    // A workflow whose snapshot alone is bigger than the space left.
    let big = "x".repeat(600_000);
    let Some(t) = Test::sqlite_only(
        "writes to the aios.db file past RLIMIT_FSIZE fail, then the file's integrity_check",
    ) else {
        return;
    };
    let t = t.write(
        "big.toml",
        &format!(
            "name = \"big\"\n[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = {{ v = \"{big}\" }}\n"
        ),
    );
    t.aios(&["runs"]).success();
    let out = t
        .args(&["run", "big.toml"])
        .file_size_limit(256 * 1024)
        .run()
        .code(5);
    assert!(
        out.stderr
            .contains("the database could not be written or read")
            || out.stderr.contains("the disk is full"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("hint: check free disk space"),
        "{}",
        out.stderr
    );
    // Nothing half-written: no run, and the file is sound.
    assert_eq!(
        t.aios(&["runs", "--json"]).success().json(),
        serde_json::json!([])
    );
    let conn = rusqlite::Connection::open(t.db()).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

#[test]
fn twenty_commands_started_at_once_on_a_new_home_all_succeed() {
    // Each new home is migrated by whichever process takes the write lock first;
    // the others wait for it and find the schema done. Three rounds of twenty.
    for _ in 0..3 {
        let t = Test::new();
        let all: Vec<_> = (0..20)
            .map(|_| t.args(&["runs", "--json"]).spawn())
            .collect();
        for b in all {
            let out = b.wait().success();
            assert_eq!(out.json(), serde_json::json!([]));
        }
    }
}

#[test]
fn two_commands_started_at_once_on_new_homes_both_succeed() {
    // Two processes opening a new database at the same instant: switching it to WAL
    // needs the file to itself, and SQLite answers the other one SQLITE_BUSY at once
    // (no busy wait). Before the open retried, about one pair in two failed with
    // "database is locked"; thirty pairs make a regression all but certain to show.
    for _ in 0..30 {
        let t = Test::new();
        let a = t.args(&["inbox", "list", "--json"]).spawn();
        let b = t.args(&["inbox", "list", "--json"]).spawn();
        a.wait().success();
        b.wait().success();
    }
}

#[test]
fn usage_lines_do_not_show_home_as_required_when_aios_home_is_set() {
    // The harness sets AIOS_HOME for every command.
    let out = Test::new().aios(&["show"]).code(2);
    assert!(
        out.stderr.contains("\nUsage: aios show <RUN>\n"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("--home"), "{}", out.stderr);
    Test::new()
        .aios(&["help", "runs"])
        .success()
        .stdout_contains("AIOS_HOME");
    // The flag wins over the variable (where the SQLite file goes shows it; on
    // PostgreSQL, home_flag_works_like_aios_home says it is SQLite-only).
    let t = Test::new();
    t.aios(&["--home", "other", "runs"]).success();
    if !crate::support::on_postgres() {
        assert!(t.join("other/aios.db").exists());
        assert!(!t.db().exists());
    }
}

#[test]
fn a_postgres_server_that_cannot_be_reached_stops_commands_and_writes_nothing() {
    // Commands run on the PostgreSQL database the environment or the config names
    // (tests/cli/postgres.rs); one that cannot be reached stops them with a clear
    // error and hint (exit 5), never its password, and nothing is written to the
    // SQLite file instead. This test chooses the backend itself: the harness's own
    // database (AIOS_TEST_BACKEND=postgres) is set aside by an empty URL, which aios
    // reads as unset.
    let t = Test::new()
        .env("AIOS_DATABASE_URL", "")
        .copy("examples/hello.toml", "hello.toml");
    let out = t
        .args(&["run", "hello.toml"])
        .env(
            "AIOS_DATABASE_URL",
            "postgres://aios:s3cret-pw@127.0.0.1:9/aios",
        )
        .run()
        .code(5)
        .stderr_contains("error: the PostgreSQL server could not be reached")
        .stderr_contains(
            "hint: check that the server at postgres://aios:***@127.0.0.1:9/aios runs",
        );
    assert!(!out.stderr.contains("s3cret-pw"), "{}", out.stderr);
    assert!(!t.join("aios.db").exists());
    let t = t.write(
        "config.toml",
        "[database]\nurl = \"postgresql://aios@127.0.0.1:9/aios?password=s3cret-pw\"\n",
    );
    let out = t
        .aios(&["runs"])
        .code(5)
        .stderr_contains("could not be reached")
        .stderr_contains("password=***");
    assert!(!out.stderr.contains("s3cret-pw"), "{}", out.stderr);
    assert!(!t.join("aios.db").exists());
    // A URL of another database is refused as such.
    t.args(&["runs"])
        .env("AIOS_DATABASE_URL", "mysql://x/y")
        .run()
        .code(2)
        .stderr_contains("AIOS_DATABASE_URL is not a PostgreSQL URL");
    let t = t.write("config.toml", "[database]\nuri = \"postgres://x/y\"\n");
    t.aios(&["runs"])
        .code(2)
        .stderr_contains("`database.uri` is not a known key");
    // Without either, the SQLite journal as always.
    let t = t.write("config.toml", "");
    t.aios(&["runs"]).success();
    assert!(t.join("aios.db").exists());
}

#[test]
fn the_suite_runs_on_the_backend_it_was_asked_for() {
    // The harness's switch (AIOS_TEST_BACKEND) reaches the commands: the journal
    // `status` reports is the one the suite was asked to run on.
    let t = Test::new();
    t.aios(&["runs"]).success();
    let s = t.aios(&["status", "--json"]).json();
    match t.database_url() {
        Some(url) => {
            assert!(crate::support::on_postgres());
            assert_eq!(s["database"]["backend"], "postgresql", "{s}");
            assert_eq!(s["database"]["url"], url.as_str(), "{s}");
            assert!(!t.join("aios.db").exists());
            // The SQLite file's path is no answer on PostgreSQL: a test that asks fails.
            let asked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| t.db()));
            assert!(asked.is_err(), "t.db() answered on PostgreSQL");
        }
        None => {
            assert!(!crate::support::on_postgres());
            assert_eq!(s["database"]["backend"], "sqlite", "{s}");
            assert!(t.db().exists());
        }
    }
    // A test that names its own database keeps it, whatever the suite runs on.
    let own = crate::support::postgres::fresh_database();
    let t = Test::new().env("AIOS_DATABASE_URL", &own);
    assert_eq!(t.database_url().as_deref(), Some(own.as_str()));
    let s = t.aios(&["status", "--json"]).json();
    assert_eq!(s["database"]["url"], own.as_str(), "{s}");
}
