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
    let t = Test::new().write(
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
