//! `aios status`, `aios backup` and `aios restore`, and the daily copies `aios tick`
//! makes with `[backup]`. Time is driven by AIOS_NOW only.

use std::path::Path;

use serde_json::Value as Json;

use crate::support::http::{Response, Server};
use crate::support::{Output, Test, wait_until};

fn at(t: &Test, now: &str, args: &[&str]) -> Output {
    t.args(args).env("AIOS_NOW", now).run()
}

fn status(t: &Test, now: &str, code: i32) -> Json {
    at(t, now, &["status", "--json"]).code(code).json()
}

const GATE: &str = r#"
name = "gate"

[[steps]]
id = "go"
kind = "approval"
title = "go?"
"#;

const DAILY: &str = r#"
name = "daily"

[trigger]
cron = "0 9 * * *"
timezone = "UTC"

[[steps]]
id = "a"
kind = "set"
values = { x = 1 }
"#;

#[test]
fn status_says_what_needs_the_operator() {
    let t = Test::new()
        .write("gate.toml", GATE)
        .write("daily.toml", DAILY);
    // A fresh home: nothing needs ticks, nothing is pending.
    let s = status(&t, "2026-11-21T09:30:00Z", 0);
    assert_eq!(s["healthy"], true);
    assert_eq!(s["ticking"]["verdict"], "idle");
    assert_eq!(s["ticking"]["last_tick"], Json::Null);
    assert_eq!(s["pending"], serde_json::json!([]));
    assert!(s["database"]["bytes"].as_u64().unwrap() > 0);
    assert_eq!(s["last_backup"], Json::Null);
    at(&t, "2026-11-21T09:30:00Z", &["status"])
        .success()
        .stdout_contains("ticking    no tick recorded; nothing needs ticks yet")
        .stdout_contains("inbox empty")
        .stdout_contains("none yet (hint: aios backup)");

    // Two runs waiting at a gate, a schedule that nobody ticks: unhealthy.
    at(&t, "2026-11-21T09:30:00Z", &["run", "gate.toml"]).success();
    at(&t, "2026-11-21T10:00:00Z", &["run", "gate.toml"]).success();
    at(
        &t,
        "2026-11-21T10:00:00Z",
        &["schedule", "add", "daily.toml"],
    )
    .success();
    let s = status(&t, "2026-11-22T10:00:00Z", 1);
    assert_eq!(s["healthy"], false);
    assert_eq!(s["ticking"]["verdict"], "never");
    assert_eq!(s["runs"]["waiting"], 2);
    assert_eq!(s["pending"][0]["kind"], "approval");
    assert_eq!(s["pending"][0]["count"], 2);
    assert_eq!(s["pending"][0]["oldest"], "2026-11-21T09:30:00Z");
    assert_eq!(s["schedules"][0]["name"], "daily");
    assert_eq!(s["schedules"][0]["health"], "late");
    let text = at(&t, "2026-11-22T10:00:00Z", &["status"]).code(1).stdout;
    assert!(
        text.contains("2 pending (2 approval), the oldest 1d old"),
        "{text}"
    );
    assert!(
        text.contains("daily late (due since 2026-11-22T09:00:00Z)"),
        "{text}"
    );
    assert!(text.contains("hint: aios schedule install"), "{text}");

    // A tick: it is ticking, the schedule is served.
    at(&t, "2026-11-22T10:00:00Z", &["tick"]).success();
    let s = status(&t, "2026-11-22T10:01:00Z", 0);
    assert_eq!(s["ticking"]["verdict"], "ok");
    assert_eq!(s["ticking"]["last_tick"]["at"], "2026-11-22T10:00:00Z");
    assert!(
        s["ticking"]["last_tick"]["by"]
            .as_str()
            .unwrap()
            .starts_with("aios tick "),
        "{s}"
    );
    assert!(s["schedules"].as_array().unwrap().is_empty());
    // Ten minutes without one: late again.
    assert_eq!(
        status(&t, "2026-11-22T10:10:00Z", 1)["ticking"]["verdict"],
        "late"
    );
}

#[test]
fn status_shows_open_breakers_and_the_last_backup() {
    let server = Server::start();
    server.respond("/x", Response::text(503, "down"));
    let wf = format!(
        "name = \"call\"\n[[steps]]\nid = \"call\"\nkind = \"http\"\napprove = \"never\"\nmethod = \"POST\"\nurl = \"{}\"\nretry = {{ attempts = 3, backoff = \"10ms\" }}\n",
        server.url("/x")
    );
    let t = Test::new()
        .write("config.toml", "[breakers]\nfailures = 1\n")
        .write("call.toml", &wf);
    at(&t, "2026-11-21T09:30:00Z", &["run", "call.toml"]).success();
    let s = status(&t, "2026-11-21T09:30:00Z", 1);
    assert_eq!(s["breakers"][0]["state"], "open");
    assert_eq!(s["breakers"][0]["held"][0]["step"], "call");
    at(&t, "2026-11-21T09:30:00Z", &["status"])
        .code(1)
        .stdout_contains("1 step held) (aios breakers)");
    if crate::support::on_postgres() {
        // Backups are the SQLite file's (README, Backends): refused, none shown.
        at(&t, "2026-11-21T09:30:00Z", &["backup", "copy.db"])
            .code(2)
            .stderr_contains("is not yet supported on PostgreSQL");
        let s = status(&t, "2026-11-21T09:31:00Z", 1);
        assert_eq!(s["last_backup"], serde_json::Value::Null, "{s}");
        return;
    }
    at(&t, "2026-11-21T09:30:00Z", &["backup", "copy.db"])
        .success()
        .stdout_contains("backed up the database to");
    let s = status(&t, "2026-11-21T09:31:00Z", 1);
    assert_eq!(s["last_backup"]["at"], "2026-11-21T09:30:00Z");
    assert!(
        s["last_backup"]["detail"]["path"]
            .as_str()
            .unwrap()
            .ends_with("copy.db")
    );
}

/// Why the backup tests are SQLite's: on PostgreSQL `aios backup` and `restore`
/// are refused (README, Backends; tests/cli/postgres.rs checks the refusal).
const BACKUPS_ARE_SQLITES: &str = "aios backup, restore and the daily copies copy the aios.db file (refused on PostgreSQL: pg_dump)";

/// A workflow of `n` set steps: a run of it writes many transactions.
fn many_steps(n: usize) -> String {
    let mut wf = String::from("name = \"many\"\n");
    for i in 0..n {
        wf.push_str(&format!(
            "\n[[steps]]\nid = \"s{i}\"\nkind = \"set\"\nvalues = {{ i = {i} }}\n"
        ));
    }
    wf
}

fn check(path: &Path) -> aios::journal::BackupFile {
    aios::journal::check_backup(path)
        .unwrap_or_else(|e| panic!("{}: {}", path.display(), e.message))
}

#[test]
fn backups_taken_while_runs_write_are_consistent_and_restore_round_trips() {
    let Some(t) = Test::sqlite_only(BACKUPS_ARE_SQLITES) else {
        return;
    };
    let t = t
        .write("many.toml", &many_steps(600))
        .write("gate.toml", GATE);
    at(&t, "2026-11-21T09:30:00Z", &["run", "gate.toml"]).success();
    // Copies taken while other processes write, one after another.
    let writers: Vec<_> = (0..2)
        .map(|_| t.args(&["run", "many.toml", "-q"]).spawn())
        .collect();
    let mut copies = Vec::new();
    for i in 0..6 {
        let p = t.join(&format!("copy-{i}.db"));
        at(&t, "2026-11-21T09:30:00Z", &["backup", p.to_str().unwrap()]).success();
        copies.push(p);
    }
    for w in writers {
        w.wait().success();
    }
    for p in &copies {
        let b = check(p);
        assert!(b.runs >= 1, "{b:?}");
        // Each copy's state is its events' (a fresh home restored from it replays).
        let other = Test::new();
        at(
            &other,
            "2026-11-21T09:30:00Z",
            &["restore", p.to_str().unwrap()],
        )
        .success();
        at(&other, "2026-11-21T09:30:00Z", &["replay"])
            .success()
            .stdout_contains("the stored state and the events agree");
    }

    // Round trip: back up, change, restore: the change is gone, the replaced
    // database is kept aside and restores the same way.
    let b = t.join("before.db");
    at(&t, "2026-11-21T09:40:00Z", &["backup", b.to_str().unwrap()]).success();
    let before = at(&t, "2026-11-21T09:40:00Z", &["runs", "--json"])
        .success()
        .json();
    at(&t, "2026-11-21T09:41:00Z", &["run", "gate.toml"]).success();
    let out = at(
        &t,
        "2026-11-21T09:42:00Z",
        &["restore", b.to_str().unwrap()],
    )
    .success();
    assert!(out.stdout.contains("restored"), "{}", out.stdout);
    let runs = at(&t, "2026-11-21T09:42:00Z", &["runs", "--json"])
        .success()
        .json();
    assert_eq!(runs, before);
    let kept = t.join("aios.db.replaced-2026-11-21T094200Z");
    assert!(
        out.stdout.contains(kept.to_str().unwrap()),
        "{}",
        out.stdout
    );
    assert_eq!(
        check(&kept).runs,
        before.as_array().unwrap().len() as i64 + 1
    );
    at(
        &t,
        "2026-11-21T09:43:00Z",
        &["restore", kept.to_str().unwrap()],
    )
    .success();
    let after = at(&t, "2026-11-21T09:43:00Z", &["runs", "--json"])
        .success()
        .json();
    assert_eq!(
        after.as_array().unwrap().len(),
        before.as_array().unwrap().len() + 1
    );

    // A backup never overwrites.
    at(&t, "2026-11-21T09:44:00Z", &["backup", b.to_str().unwrap()])
        .code(4)
        .stderr_contains("exists already");
}

#[test]
fn restore_refuses_what_it_cannot_trust_and_a_running_daemon() {
    let Some(t) = Test::sqlite_only(BACKUPS_ARE_SQLITES) else {
        return;
    };
    let t = t.write("gate.toml", GATE);
    at(&t, "2026-11-21T09:30:00Z", &["run", "gate.toml"]).success();
    t.put(
        "notes.txt",
        "not a database at all, just text that is long enough\n",
    );
    at(
        &t,
        "2026-11-21T09:30:00Z",
        &["restore", t.join("notes.txt").to_str().unwrap()],
    )
    .code(2)
    .stderr_contains("is not a backup aios can restore")
    .stderr_contains("hint: name a file made by: aios backup");
    at(
        &t,
        "2026-11-21T09:30:00Z",
        &["restore", t.join("nothing.db").to_str().unwrap()],
    )
    .code(3)
    .stderr_contains("cannot read");
    // A copy damaged on disk fails its integrity check.
    let copy = t.join("copy.db");
    at(
        &t,
        "2026-11-21T09:30:00Z",
        &["backup", copy.to_str().unwrap()],
    )
    .success();
    let mut bytes = std::fs::read(&copy).unwrap();
    let page = 4096;
    assert!(bytes.len() > 3 * page);
    for b in &mut bytes[2 * page + 100..3 * page - 100] {
        *b = 0xA5;
    }
    let bad = t.join("bad.db");
    std::fs::write(&bad, &bytes).unwrap();
    at(
        &t,
        "2026-11-21T09:30:00Z",
        &["restore", bad.to_str().unwrap()],
    )
    .code(2)
    .stderr_contains("is not a backup aios can restore");
    // Nothing was replaced by the refusals.
    assert_eq!(
        at(&t, "2026-11-21T09:30:00Z", &["runs", "--json"])
            .success()
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // While a daemon ticks on the database: refused, nothing replaced.
    let daemon = t.args(&["daemon", "--every", "1h"]).spawn();
    wait_until("the daemon's lock names it", || {
        std::fs::read_to_string(t.join("daemon.lock"))
            .is_ok_and(|s| s.trim() == daemon.pid().to_string())
    });
    at(
        &t,
        "2026-11-21T09:30:00Z",
        &["restore", copy.to_str().unwrap()],
    )
    .code(4)
    .stderr_contains(&format!(
        "aios daemon (pid {}) ticks on this database",
        daemon.pid()
    ))
    .stderr_contains("hint: stop the daemon");
    let s = status(&t, "2026-11-21T09:30:00Z", 0);
    assert_eq!(s["ticking"]["daemon_pid"], daemon.pid());
    daemon.kill9();
    at(
        &t,
        "2026-11-21T09:30:00Z",
        &["restore", copy.to_str().unwrap()],
    )
    .success();
}

#[test]
fn tick_keeps_the_newest_daily_copies() {
    let Some(t) = Test::sqlite_only(BACKUPS_ARE_SQLITES) else {
        return;
    };
    let t = t.write("config.toml", "[backup]\ndir = \"bk\"\nkeep = 2\n");
    std::fs::create_dir_all(t.join("bk")).unwrap();
    t.put("bk/mine.db", "a file of my own");
    for day in ["2026-11-20", "2026-11-21", "2026-11-22"] {
        let now = format!("{day}T03:00:00Z");
        let out = at(&t, &now, &["tick", "--json"]).success().json();
        let item = out["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["type"] == "backup")
            .cloned()
            .unwrap_or_else(|| panic!("no backup on {day}: {out}"));
        assert!(
            item["path"]
                .as_str()
                .unwrap()
                .ends_with(&format!("bk/aios-{day}.db"))
        );
        // Once a day.
        let again = at(&t, &format!("{day}T04:00:00Z"), &["tick", "--json"])
            .success()
            .json();
        assert!(
            !again["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["type"] == "backup"),
            "{again}"
        );
    }
    let mut names: Vec<String> = std::fs::read_dir(t.join("bk"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["aios-2026-11-21.db", "aios-2026-11-22.db", "mine.db"]
    );
    check(&t.join("bk/aios-2026-11-22.db"));
    at(&t, "2026-11-22T05:00:00Z", &["backup"])
        .success()
        .stdout_contains("bk/aios-2026-11-22T050000Z.db");
    // A mistake in [backup] names the key.
    t.put("config.toml", "[backup]\nkeep = 0\n");
    at(&t, "2026-11-22T05:00:00Z", &["backup"])
        .code(2)
        .stderr_contains("`backup.keep` must be a whole number from 1 to 10000");
}

#[test]
fn runs_lists_the_newest_and_says_when_older_ones_are_left_out() {
    let t = Test::new().write("gate.toml", GATE);
    for _ in 0..3 {
        at(&t, "2026-11-21T09:30:00Z", &["run", "gate.toml", "-q"]).success();
    }
    let out = at(&t, "2026-11-21T09:30:00Z", &["runs", "--limit", "2"])
        .success()
        .stdout;
    assert_eq!(
        out.lines().filter(|l| l.contains("gate")).count(),
        2,
        "{out}"
    );
    assert!(
        out.contains("older runs not shown: aios runs --all, or --limit 4"),
        "{out}"
    );
    let all = at(&t, "2026-11-21T09:30:00Z", &["runs", "--all"])
        .success()
        .stdout;
    assert_eq!(
        all.lines().filter(|l| l.contains("gate")).count(),
        3,
        "{all}"
    );
    assert!(!all.contains("older runs"), "{all}");
    let json = at(
        &t,
        "2026-11-21T09:30:00Z",
        &["runs", "--limit", "1", "--json"],
    )
    .success()
    .json();
    assert_eq!(json.as_array().unwrap().len(), 1);
    assert_eq!(json[0]["id"], 3);
    at(
        &t,
        "2026-11-21T09:30:00Z",
        &["runs", "--all", "--limit", "2"],
    )
    .code(2);
}
