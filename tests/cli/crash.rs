//! Crash safety: `kill -9` the process in the middle of a side effect, then resume.
//! A non-idempotent step whose outcome is unknown is never silently re-sent: it goes
//! to the inbox as "needs attention". An idempotent one is simply run again.

use crate::support::http::Server;
use crate::support::{Test, step, step_statuses};

/// `a` (POST /a), `b` (METHOD /b), `c` (shell echo), `d` (POST /d), all unattended.
fn chain(server: &Server, b_method: &str) -> Test {
    let wf = format!(
        r#"
name = "crash"

[[steps]]
id = "a"
kind = "http"
approve = "never"
method = "POST"
url = "{a}"
json = {{ step = "a" }}

[[steps]]
id = "b"
kind = "http"
approve = "never"
method = "{b_method}"
url = "{b}"

[[steps]]
id = "c"
kind = "shell"
approve = "never"
argv = ["echo", "after b: {{{{ steps.b.status }}}}"]

[[steps]]
id = "d"
kind = "http"
approve = "never"
method = "POST"
url = "{d}"
json = {{ c = "{{{{ steps.c.output.stdout | trim }}}}" }}
"#,
        a = server.url("/a"),
        b = server.url("/b"),
        d = server.url("/d"),
    );
    Test::new().write("crash.toml", &wf)
}

/// Start the run, wait until `/b` is in flight, SIGKILL aios, then let `/b` answer.
fn crash_during_b(server: &Server, t: &Test) {
    let mut b = server.hold("/b");
    let bg = t.args(&["run", "crash.toml"]).spawn();
    b.arrived();
    bg.kill9();
    b.release_all();
    let show = t.show(1);
    assert_eq!(show["status"], "running");
    assert_eq!(step(&show, "a")["status"], "succeeded");
    assert_eq!(step(&show, "b")["status"], "running");
}

fn assert_all_succeeded(t: &Test) {
    let show = t.show(1);
    assert_eq!(show["status"], "succeeded", "{show}");
    for (id, status) in step_statuses(&show) {
        assert_eq!(status, "succeeded", "step {id}");
    }
    t.aios(&["replay"])
        .success()
        .stdout_contains("ok run 1: ")
        .stdout_contains(" events replay to the stored state");
    // The SQLite file's own check (PostgreSQL has no equivalent: its WAL recovers a
    // killed client's transaction, and replay above checked the journal).
    if !crate::support::on_postgres() {
        let db = rusqlite::Connection::open(t.db()).unwrap();
        let check: String = db
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }
}

#[test]
fn killed_during_a_post_resume_asks_and_done_finishes_the_run() {
    let server = Server::start();
    let t = chain(&server, "POST");
    crash_during_b(&server, &t);

    let out = t.aios(&["resume", "1"]).success();
    assert_eq!(
        server.count("/b"),
        1,
        "the POST was sent again without asking"
    );
    let items = t.inbox();
    assert_eq!(items.len(), 1, "{items:?}");
    let item = &items[0];
    assert_eq!(item["kind"], "attention");
    assert_eq!(item["step_id"], "b");
    let url = server.url("/b");
    assert_eq!(
        item["summary"],
        format!("interrupted, outcome unknown: POST {url}")
    );
    let id = item["id"].to_string();
    assert!(
        out.stdout.contains(&format!("inbox {id}    attention b")),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("? b needs attention (inbox "),
        "{}",
        out.stderr
    );
    assert_eq!(step(&t.show(1), "b")["status"], "needs_attention");
    t.aios(&["inbox", "show", &id])
        .success()
        .stdout_contains("it may or may not have happened")
        .stdout_contains(&format!(
            "  aios approve {id} --done         it happened: mark the step done\n"
        ));

    // The server did get it once: tell aios so.
    t.aios(&["approve", &id, "--done"])
        .success()
        .stderr_contains(&format!("inbox {id} marked done (run 1, step b)"))
        .stdout_contains("run 1 (crash) succeeded");

    for path in ["/a", "/b", "/d"] {
        assert_eq!(server.count(path), 1, "{path}");
    }
    assert_eq!(
        server.requests_to("/d")[0].json()["c"],
        "after b: succeeded"
    );
    assert_eq!(
        step(&t.show(1), "b")["output"],
        serde_json::json!({ "marked_done": true })
    );
    assert_all_succeeded(&t);
}

#[test]
fn killed_during_an_idempotent_get_resume_runs_it_again() {
    let server = Server::start();
    let t = chain(&server, "GET");
    crash_during_b(&server, &t);

    t.aios(&["resume", "1"])
        .success()
        .stderr_contains("b will run again: interrupted; safe to run again")
        .stdout_contains("run 1 (crash) succeeded");
    assert!(t.inbox().is_empty());
    assert_eq!(server.count("/a"), 1);
    assert_eq!(server.count("/b"), 2);
    assert_eq!(server.count("/d"), 1);
    assert_all_succeeded(&t);
}

#[test]
fn killed_during_a_post_the_operator_retries_with_the_same_key() {
    let server = Server::start();
    let t = chain(&server, "POST");
    crash_during_b(&server, &t);

    t.aios(&["resume", "1"]).success();
    let id = t.item("b").to_string();
    t.aios(&["approve", &id])
        .success()
        .stdout_contains("run 1 (crash) succeeded");
    let b = server.requests_to("/b");
    assert_eq!(b.len(), 2);
    let k1 = b[0].header("idempotency-key").unwrap();
    let k2 = b[1].header("idempotency-key").unwrap();
    assert!(k1.ends_with("-b-1"), "{k1}");
    assert_eq!(
        k1, k2,
        "a retry after a crash must reuse the Idempotency-Key"
    );
    assert_eq!(server.count("/a"), 1);
    assert_eq!(server.count("/d"), 1);
    assert_all_succeeded(&t);
}

#[test]
fn killed_during_a_post_the_operator_fails_the_step() {
    let server = Server::start();
    let t = chain(&server, "POST");
    crash_during_b(&server, &t);

    t.aios(&["resume", "1"]).success();
    let id = t.item("b").to_string();
    t.aios(&["reject", &id, "--reason", "the server lost it"])
        .code(1)
        .stdout_contains("b: failed by the operator after an interruption: the server lost it");
    assert_eq!(server.count("/b"), 1);
    assert_eq!(server.count("/d"), 0);
    assert_eq!(t.show(1)["status"], "failed");
    t.aios(&["replay"]).success();
}
