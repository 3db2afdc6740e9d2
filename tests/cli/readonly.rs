//! A data folder (or database file) the user may not write: commands that only read
//! still work (the database is opened read-only), commands that write fail with
//! exit 5 and change nothing. Run as root, chmod binds nobody, so these commands
//! drop to `nobody` (see `Test::give_to_unprivileged`).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::support::{Output, Test};

const GATE: &str = r#"
name = "gate"
[[steps]]
id = "go"
kind = "approval"
title = "Ship it?"
"#;

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Every file in the folder with its size and modification time.
fn listing(dir: &Path) -> Vec<(String, u64, std::time::SystemTime)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                m.len(),
                m.modified().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// A home with a finished run (1) and a run waiting on inbox item 1 (run 2); `None`
/// on PostgreSQL (what a user may write there is the server's grants, not files).
fn home_with_runs(why: &str) -> Option<Test> {
    let t = Test::sqlite_only(why)?
        .copy("examples/hello.toml", "hello.toml")
        .write("gate.toml", GATE);
    t.aios(&["run", "hello.toml", "-q"]).success();
    t.aios(&["run", "gate.toml", "-q"]).success();
    t.give_to_unprivileged();
    Some(t)
}

fn as_user(t: &Test, args: &[&str]) -> Output {
    t.args(args).unprivileged().run()
}

/// What a user who may not write can still do.
fn reads_work(t: &Test) {
    let runs = as_user(t, &["runs", "--json"]).success().json();
    assert_eq!(runs.as_array().unwrap().len(), 2, "{runs}");
    as_user(t, &["show", "1"])
        .success()
        .stdout_contains("run 1 · hello · succeeded");
    as_user(t, &["log", "2"])
        .success()
        .stdout_contains("run created from `gate`");
    let items = as_user(t, &["inbox", "list", "--json"]).success().json();
    assert_eq!(items[0]["step_id"], "go", "{items}");
    as_user(t, &["inbox", "list"])
        .success()
        .stdout_contains("approval");
    as_user(t, &["inbox", "show", "1"])
        .success()
        .stdout_contains("Ship it?");
    as_user(t, &["schedule", "list"])
        .success()
        .stdout_contains("no schedules");
}

#[test]
fn a_read_only_data_folder_still_reads_and_refuses_writes_with_exit_5() {
    let Some(t) = home_with_runs("the data folder holding aios.db is read-only (chmod 555)") else {
        return;
    };
    let dir = t.path().to_path_buf();
    chmod(&dir, 0o555);
    let before = listing(&dir);
    reads_work(&t);
    let refused = format!(
        "error: the database {db} cannot be written: its folder is read-only for this user\n\
         hint: make {dir} and its aios.db writable for this user; commands that only read still work: aios runs, aios inbox list\n",
        db = t.db().display(),
        dir = dir.display()
    );
    as_user(&t, &["run", "hello.toml"])
        .code(5)
        .stderr_is(&refused);
    as_user(&t, &["approve", "1"]).code(5).stderr_is(&refused);
    as_user(&t, &["cancel", "2"]).code(5).stderr_is(&refused);
    // Nothing in the folder changed, and the hint's commands run as written.
    assert_eq!(listing(&dir), before);
    as_user(&t, &["runs"]).success();
    as_user(&t, &["inbox", "list"]).success();
    chmod(&dir, 0o755);
    // Writable again: the refused decision can be taken now.
    as_user(&t, &["approve", "1"]).success();
    assert_eq!(t.show(2)["status"], "succeeded");
}

#[test]
fn a_read_only_database_file_still_reads_and_is_writable_again_once_allowed() {
    let Some(t) = home_with_runs("the aios.db file is read-only (chmod 400)") else {
        return;
    };
    chmod(&t.db(), 0o400);
    reads_work(&t);
    as_user(&t, &["approve", "1"])
        .code(5)
        .stderr_contains(&format!(
            "error: the database {} cannot be written: the file is read-only for this user\n",
            t.db().display()
        ));
    // Reading left its WAL files beside it with the file's mode (read-only): once
    // the file is writable again, writing works all the same.
    chmod(&t.db(), 0o600);
    as_user(&t, &["approve", "1"]).success();
    assert_eq!(t.show(2)["status"], "succeeded");
}

#[test]
fn unfinished_writes_in_a_read_only_folder_are_a_clear_error() {
    let Some(t) = home_with_runs(
        "a copy of aios.db with writes only in its -wal file, in a read-only folder",
    ) else {
        return;
    };
    // A copy taken while a writer had committed to the WAL only (as a crash leaves it).
    let conn = rusqlite::Connection::open(t.db()).unwrap();
    conn.execute_batch(
        "PRAGMA wal_autocheckpoint = 0; INSERT INTO sources (hash, text) VALUES ('x', 'y');",
    )
    .unwrap();
    let copy = t.join("copy");
    std::fs::create_dir(&copy).unwrap();
    std::fs::copy(t.db(), copy.join("aios.db")).unwrap();
    std::fs::copy(t.join("aios.db-wal"), copy.join("aios.db-wal")).unwrap();
    drop(conn);
    t.give_to_unprivileged();
    chmod(&copy, 0o555);
    t.args(&["runs"])
        .unprivileged()
        .env("AIOS_HOME", copy.to_str().unwrap())
        .run()
        .code(5)
        .stderr_contains("cannot be read")
        .stderr_contains(&format!(
            "hint: its folder holds unfinished writes (aios.db-wal): give this user write access to {} once, then run: aios runs",
            copy.display()
        ));
    chmod(&copy, 0o755);
    let runs = t
        .args(&["runs", "--json"])
        .unprivileged()
        .env("AIOS_HOME", copy.to_str().unwrap())
        .run()
        .success()
        .json();
    assert_eq!(runs.as_array().unwrap().len(), 2);
}

#[test]
fn an_older_schema_in_a_read_only_folder_says_it_needs_one_upgrade() {
    let Some(t) = Test::sqlite_only("an aios.db file of an older schema in a read-only folder")
    else {
        return;
    };
    // A database one schema behind: 8 (0001-0008).
    {
        let conn = rusqlite::Connection::open(t.db()).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        for sql in [
            include_str!("../../src/journal/migrations/0001_init.sql"),
            include_str!("../../src/journal/migrations/0002_agent.sql"),
            include_str!("../../src/journal/migrations/0003_memory.sql"),
            include_str!("../../src/journal/migrations/0004_schedule.sql"),
            include_str!("../../src/journal/migrations/0005_inbox.sql"),
            include_str!("../../src/journal/migrations/0006_timers.sql"),
            include_str!("../../src/journal/migrations/0007_notices.sql"),
            include_str!("../../src/journal/migrations/0008_hook_formats.sql"),
        ] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 8).unwrap();
    }
    t.give_to_unprivileged();
    chmod(t.path(), 0o555);
    let out = as_user(&t, &["runs"]).code(5);
    assert!(
        out.stderr.starts_with(
            "error: the database was written by an older aios (schema 8, this build reads"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.ends_with(&format!(
            "hint: upgrading writes to it: give this user write access to {} once, then run: aios runs\n",
            t.path().display()
        )),
        "{}",
        out.stderr
    );
    // As the hint says: once with write access, then read-only again.
    chmod(t.path(), 0o755);
    as_user(&t, &["runs"]).success();
    chmod(t.path(), 0o555);
    as_user(&t, &["runs", "--json"]).success();
    chmod(t.path(), 0o755);
}
