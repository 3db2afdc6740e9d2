//! How a run ends and what it leaves: its whole duration when it waited for
//! decisions, its pending items withdrawn when it fails or is cancelled, and a run
//! stopped by a storage error that names itself for `aios resume`.

use crate::support::http::Server;
use crate::support::{Test, step};

/// Two proposed file writes that need nothing from each other.
const PARALLEL: &str = r#"
name = "two"

[[steps]]
id = "w"
kind = "file"
path = "w.txt"
content = "first"

[[steps]]
id = "s"
kind = "file"
needs = []
path = "s.txt"
content = "second"
"#;

#[test]
fn a_run_that_waited_reports_its_whole_duration_and_its_active_time() {
    let t = Test::new().write("two.toml", PARALLEL);
    t.args(&["run", "two.toml"])
        .env("AIOS_NOW", "2026-11-21T09:30:00Z")
        .run()
        .success();
    t.args(&["approve", &t.item("w").to_string()])
        .env("AIOS_NOW", "2026-11-21T10:00:00Z")
        .run()
        .success()
        .stdout_contains("run 1 (two) is waiting for you:");
    t.args(&["approve", &t.item("s").to_string()])
        .env("AIOS_NOW", "2026-11-21T12:00:00Z")
        .run()
        .success()
        .stdout_is("run 1 (two) succeeded in 2h30m (0ms active, the rest waiting): 2 steps\n");
    assert_eq!(step(&t.show(1), "s")["status"], "succeeded");
}

/// An unattended GET held by the test server, then a `set` step.
fn held(server: &Server) -> Test {
    Test::new().write(
        "held.toml",
        &format!(
            "name = \"held\"\n[[steps]]\nid = \"fetch\"\nkind = \"http\"\napprove = \"never\"\nmethod = \"GET\"\nurl = \"{}\"\n\n[[steps]]\nid = \"after\"\nkind = \"set\"\nvalues = {{ ok = true }}\n",
            server.url("/slow")
        ),
    )
}

#[test]
fn a_run_stopped_by_a_locked_database_names_itself_and_is_continued_at_once() {
    let Some(_) = Test::sqlite_only(
        "another process holds the aios.db file's write lock past AIOS_LOCK_TIMEOUT (PostgreSQL waits on row locks)",
    ) else {
        return;
    };
    let server = Server::start();
    let mut slow = server.hold("/slow");
    let t = held(&server);
    let bg = t
        .args(&["run", "held.toml"])
        .env("AIOS_LOCK_TIMEOUT", "200ms")
        .spawn();
    slow.arrived();
    // Another process takes the write lock while the step is in flight: the run
    // cannot record the step's result, nor give its lease back.
    let conn = rusqlite::Connection::open(t.db()).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    slow.release_all();
    let out = bg.wait().code(5);
    conn.execute_batch("ROLLBACK").unwrap();
    drop(conn);
    assert!(
        out.stderr
            .contains("\nerror: the database is locked by another process\n"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "hint: another aios command is writing; run 1 is recorded up to here, continue it once that one is done with: aios resume 1\n"
        ),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("try again"), "{}", out.stderr);
    // Left behind by a process that is gone: not shown as executing it, and the
    // next tick continues it (no 30 s wait for a stale lease).
    let show = t.aios(&["show", "1"]).success();
    assert!(
        show.stdout.contains("executor  none: process ")
            && show
                .stdout
                .contains(" stopped before the run ended; continue it with: aios resume 1\n"),
        "{}",
        show.stdout
    );
    t.aios(&["tick"]).success();
    assert_eq!(t.show(1)["status"], "succeeded");
    assert_eq!(
        t.aios(&["runs", "--json"])
            .success()
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_run_stopped_by_a_full_disk_names_itself_and_is_continued_at_once() {
    // The step's output (600 KB) does not fit in what is left of the disk.
    let Some(t) = Test::sqlite_only(
        "writes to the aios.db file past RLIMIT_FSIZE fail (a full disk under the file)",
    ) else {
        return;
    };
    let t = t.write(
        "big.toml",
        "name = \"big\"\n[[steps]]\nid = \"dump\"\nkind = \"shell\"\napprove = \"never\"\nidempotent = true\nargv = [\"sh\", \"-c\", \"head -c 600000 /dev/zero | tr '\\\\0' x\"]\n\n[[steps]]\nid = \"after\"\nkind = \"set\"\nvalues = { ok = true }\n",
    );
    t.aios(&["runs"]).success();
    let out = t
        .args(&["run", "big.toml"])
        .file_size_limit(256 * 1024)
        .run()
        .code(5);
    assert!(
        out.stderr.contains("\nhint: free some space; run 1 is recorded up to here (nothing was half-written), then continue it with: aios resume 1\n")
            || out.stderr.contains("\nhint: check free disk space (and quotas); run 1 is recorded up to here (nothing was half-written), then continue it with: aios resume 1\n"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("re-run the same command"),
        "{}",
        out.stderr
    );
    let show = t.aios(&["show", "1"]).success();
    assert!(
        show.stdout
            .contains(" stopped before the run ended; continue it with: aios resume 1\n"),
        "{}",
        show.stdout
    );
    // Space is back: the next tick continues it now, not after the lease's 30 s.
    t.aios(&["tick"]).success();
    let show = t.show(1);
    assert_eq!(show["status"], "succeeded", "{show}");
    assert_eq!(
        step(&show, "dump")["output"]["stdout"]
            .as_str()
            .unwrap()
            .len(),
        600_000
    );
    assert_eq!(
        t.aios(&["runs", "--json"])
            .success()
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    t.aios(&["replay", "1"]).success();
}

#[test]
fn a_failed_run_withdraws_its_pending_items_and_a_resume_puts_them_back() {
    let t = Test::new().write("two.toml", PARALLEL);
    t.aios(&["run", "two.toml"]).success();
    assert_eq!((t.item("w"), t.item("s")), (1, 2));
    t.aios(&["reject", "1", "--reason", "wrong words"])
        .code(1)
        .stdout_is(
            "run 1 (two) failed: step `w` failed\n  w: rejected: wrong words\nwithdrawn from the inbox until the run is resumed: item 2 (s)\nfailure item 3 waits in the inbox: aios approve 3 · aios reject 3 --reason \"...\"\nhint: fix the cause, then continue with: aios resume 1\n",
        );
    // Only the run's failure item waits.
    let pending: Vec<i64> = t
        .inbox()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(pending, [3]);
    t.aios(&["inbox", "list", "--all"])
        .success()
        .stdout_contains("[withdrawn] write s.txt (6 bytes) (run 1 failed: step `w` failed)\n");
    let all = t
        .aios(&["inbox", "list", "--all", "--json"])
        .success()
        .json();
    assert_eq!(all[2]["id"], 2);
    assert_eq!(all[2]["status"], "withdrawn");

    // Deciding it would revive the run and re-propose the rejected draft: refused.
    for args in [&["approve", "2"][..], &["reject", "2", "--reason", "no"]] {
        t.aios(args).code(4).stderr_is(
            "error: inbox item 2 was withdrawn (run 1 failed: step `w` failed); it can no longer be decided\nhint: continue the run with `aios resume 1` (the items its steps wait on come back to the inbox), or see why it failed with: aios show 1\n",
        );
    }
    assert_eq!(t.show(1)["status"], "failed");
    assert_eq!(
        t.aios(&["inbox", "list", "--all", "--json"])
            .success()
            .json()
            .as_array()
            .unwrap()
            .len(),
        3,
        "nothing was proposed again (the two items and the failure item)"
    );
    assert!(!t.join("s.txt").exists());
    t.aios(&["inbox", "show", "2"])
        .success()
        .stdout_contains("inbox 2 · action · withdrawn\n")
        .stdout_contains("\nwithdrawn: run 1 failed: step `w` failed\nnext: aios resume 1 (continues the run; the items its steps wait on come back)\n");

    // Resuming the failed run is how it goes on: `s` waits on the same item again,
    // and `w` is proposed anew.
    t.aios(&["resume", "1"])
        .success()
        .stderr_contains("? s waits for you again (inbox 2, back in the inbox)")
        .stdout_contains("run 1 (two) is waiting for you:");
    assert_eq!((t.item("s"), t.item("w")), (2, 4));
    t.aios(&["approve", "2"]).success();
    assert_eq!(t.read("s.txt"), "second");
    t.aios(&["approve", "4"])
        .success()
        .stdout_contains("run 1 (two) succeeded");
    let log = t.aios(&["log", "1"]).success();
    assert!(
        log.stdout
            .contains("s: inbox item 2 withdrawn (run 1 failed: step `w` failed)")
            && log
                .stdout
                .contains("s: inbox item 2 back in the inbox (the run was resumed)")
            && log
                .stdout
                .contains("w: inbox item 3 withdrawn (run 1 was resumed by hand)"),
        "{}",
        log.stdout
    );
    t.aios(&["replay", "1"]).success();
}

#[test]
fn a_cancelled_run_withdraws_its_pending_items() {
    let t = Test::new().write("two.toml", PARALLEL);
    t.aios(&["run", "two.toml"]).success();
    t.aios(&["cancel", "1", "--reason", "changed my mind"])
        .success();
    assert!(t.inbox().is_empty());
    let all = t.aios(&["inbox", "list", "--all"]).success();
    for summary in ["write w.txt (5 bytes)", "write s.txt (6 bytes)"] {
        assert!(
            all.stdout.contains(&format!(
                "[withdrawn] {summary} (run 1 was cancelled: changed my mind)\n"
            )),
            "{}",
            all.stdout
        );
    }
    t.aios(&["approve", "1"]).code(4).stderr_is(
        "error: inbox item 1 was withdrawn (run 1 was cancelled: changed my mind); it can no longer be decided\nhint: a cancelled run does not go on; see it with: aios show 1\n",
    );
    t.aios(&["replay", "1"]).success();
}

#[test]
fn an_item_left_pending_by_an_older_build_in_a_failed_run_cannot_be_decided() {
    let t = Test::new().write("two.toml", PARALLEL);
    t.aios(&["run", "two.toml"]).success();
    t.aios(&["reject", "1", "--reason", "no"]).code(1);
    // Builds before withdrawals left the other item pending.
    t.sql("UPDATE proposals SET status = 'pending', reason = NULL WHERE id = 2");
    t.aios(&["approve", "2"]).code(4).stderr_is(
        "error: run 1 failed; its inbox item 2 can no longer be decided\nhint: continue the run with `aios resume 1` (the items its steps wait on come back to the inbox), or see why it failed with: aios show 1\n",
    );
    assert!(!t.join("s.txt").exists());
    assert_eq!(t.show(1)["status"], "failed");
}
