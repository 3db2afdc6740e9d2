//! Workers holding runs (on SQLite and PostgreSQL): `aios workers` lists a live
//! worker with the run it holds (blocked on a loopback server the test controls) and
//! the queue; SIGTERM lets the run finish; a worker killed with `kill -9` mid-step
//! has its run taken over after its lease by another worker, with the crash rules
//! (an idempotent step runs again, another becomes an attention item).

use serde_json::Value as Json;

use crate::support::http::Server;
use crate::support::{hostname, step, wait_until};
use crate::workers::{ROUTED, backend};

/// `slow` (POST, held by the test; idempotent or not), then `after` (set).
fn held(server: &Server, idempotent: bool) -> String {
    format!(
        r#"
name = "held"

[[steps]]
id = "slow"
kind = "http"
approve = "never"
idempotent = {idempotent}
method = "POST"
url = "{}"

[[steps]]
id = "after"
kind = "set"
values = {{ ok = true }}
"#,
        server.url("/slow")
    )
}

fn sigterm(pid: u32) {
    // SAFETY: plain FFI call with the pid of our own child, which has not been reaped.
    let rc = unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0);
}

fn workers_lists_a_live_worker_and_the_queue(pg: bool) {
    let server = Server::start();
    let slow = server.hold("/slow");
    let t = backend(pg)
        .write("held.toml", &held(&server, false))
        .write("route.toml", ROUTED);
    t.aios(&["workers"])
        .success()
        .stdout_is("no workers, and no runs queued for them (queue one with `aios run FILE --detach`, drive them with `aios worker`)\n");
    t.aios(&["run", "held.toml", "--detach"]).success();
    let bg = t
        .args(&["worker", "--tags", "cpu", "--concurrency", "2"])
        .spawn();
    slow.arrived();
    // Handed on at `train`: queued for gpu, which no live worker has.
    t.aios(&["run", "route.toml"]).success();
    let id = format!("{}@{}", bg.pid(), hostname());
    let w = t.aios(&["workers", "--json"]).success().json();
    let live = w["workers"].as_array().unwrap();
    assert_eq!(live.len(), 1, "{w}");
    assert_eq!(live[0]["id"], id);
    assert_eq!(live[0]["tags"], serde_json::json!(["cpu"]));
    assert_eq!(live[0]["concurrency"], 2);
    assert_eq!(live[0]["live"], true);
    let runs = live[0]["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{w}");
    assert_eq!(runs[0]["run"], 1);
    assert_eq!(runs[0]["steps"], serde_json::json!(["slow"]));
    assert_eq!(runs[0]["claimed_by"], id);
    assert!(runs[0]["lease_expires"].is_string());
    let queue = w["queue"].as_array().unwrap();
    assert_eq!(queue.len(), 1, "{w}");
    assert_eq!(queue[0]["run"], 2);
    assert_eq!(queue[0]["tags"], serde_json::json!(["gpu"]));
    assert_eq!(queue[0]["covered"], false);
    t.aios(&["workers"])
        .success()
        .stdout_contains("live workers: 1")
        .stdout_contains(&format!("  {id}  tags cpu, 2 at a time"))
        .stdout_contains("    run 1 (held) at slow, lease until ")
        .stdout_contains(
            "hint: no live worker can take run 2: start one with: aios worker --tags gpu",
        );
    // SIGTERM: it claims nothing more, lets run 1 finish, and stops.
    sigterm(bg.pid());
    slow.release();
    let out = bg.wait().success();
    assert!(
        out.stderr.contains("run 1 (held) succeeded (2 steps)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("stopped (1 run driven)"),
        "{}",
        out.stderr
    );
    assert_eq!(t.show(1)["status"], "succeeded");
    let w = t.aios(&["workers", "--json"]).success().json();
    assert!(w["workers"].as_array().unwrap().is_empty());
    assert_eq!(w["gone"][0]["id"], id);
}

#[test]
fn workers_lists_a_live_worker_and_the_queue_on_sqlite() {
    workers_lists_a_live_worker_and_the_queue(false);
}

#[test]
fn workers_lists_a_live_worker_and_the_queue_on_postgres() {
    workers_lists_a_live_worker_and_the_queue(true);
}

/// Kill -9 a worker while `slow` is in flight; once its 1s claim has expired a
/// second worker takes the run over with the crash rules.
fn a_killed_workers_run_is_taken_over(pg: bool, idempotent: bool) {
    let server = Server::start();
    let mut slow = server.hold("/slow");
    let t = backend(pg).write("held.toml", &held(&server, idempotent));
    t.aios(&["run", "held.toml", "--detach"]).success();
    let bg = t.args(&["worker", "--lease", "1s"]).real_clock().spawn();
    slow.arrived();
    let dead = format!("{}@{}", bg.pid(), hostname());
    bg.kill9();
    // Gone at once (its process ended on this host), and its run is never hidden:
    // still held by its claim, or back in the queue once the claim expired.
    let w = t
        .args(&["workers", "--json"])
        .real_clock()
        .run()
        .success()
        .json();
    assert!(w["workers"].as_array().unwrap().is_empty(), "{w}");
    assert_eq!(w["gone"][0]["id"], dead, "{w}");
    let held_runs = w["gone"][0]["runs"].as_array().unwrap().len();
    let queued = w["queue"].as_array().unwrap().len();
    assert_eq!(held_runs + queued, 1, "{w}");
    if held_runs == 1 {
        assert_eq!(w["gone"][0]["runs"][0]["run"], 1, "{w}");
        t.args(&["workers"])
            .real_clock()
            .run()
            .success()
            .stdout_contains("run 1 (held) still claimed: another worker takes it over after ");
    }
    slow.release_all();
    // Claimable again once the claim expired (the queue lists claimable runs only);
    // the killed worker is gone once its heartbeat is older than its lease.
    wait_until("the dead worker's claim to expire", || {
        let w = t
            .args(&["workers", "--json"])
            .real_clock()
            .run()
            .success()
            .json();
        w["queue"].as_array().unwrap().len() == 1 && w["gone"].as_array().unwrap().len() == 1
    });
    let w = t
        .args(&["workers", "--json"])
        .real_clock()
        .run()
        .success()
        .json();
    assert_eq!(w["gone"][0]["id"], dead);
    assert_eq!(w["gone"][0]["stopped_at"], Json::Null);
    assert_eq!(w["queue"][0]["attempts"], 1);
    assert_eq!(w["queue"][0]["claimed_by"], dead);
    let out = t
        .args(&["worker", "--lease", "1s", "--exit-when-idle"])
        .real_clock()
        .run()
        .success();
    let show = t.show(1);
    if idempotent {
        // Safe to repeat: sent again, and the run finished.
        assert!(
            out.stderr.contains("run 1 (held) succeeded (2 steps)"),
            "{}",
            out.stderr
        );
        assert_eq!(server.count("/slow"), 2);
        assert_eq!(show["status"], "succeeded", "{show}");
    } else {
        // Its outcome is unknown: an attention item, never sent again.
        assert!(
            out.stderr.contains("run 1 (held) is waiting"),
            "{}",
            out.stderr
        );
        assert_eq!(server.count("/slow"), 1);
        assert_eq!(show["status"], "waiting", "{show}");
        assert_eq!(step(&show, "slow")["status"], "needs_attention");
        let inbox = t.inbox();
        assert_eq!(inbox.len(), 1);
        assert_eq!(inbox[0]["kind"], "attention");
        assert_eq!(inbox[0]["step_id"], "slow");
    }
    let w = t
        .args(&["workers", "--json"])
        .real_clock()
        .run()
        .success()
        .json();
    assert!(w["queue"].as_array().unwrap().is_empty(), "{w}");
}

#[test]
fn a_killed_workers_idempotent_step_runs_again_on_sqlite() {
    a_killed_workers_run_is_taken_over(false, true);
}

#[test]
fn a_killed_workers_other_step_becomes_an_attention_item_on_sqlite() {
    a_killed_workers_run_is_taken_over(false, false);
}

#[test]
fn a_killed_workers_idempotent_step_runs_again_on_postgres() {
    a_killed_workers_run_is_taken_over(true, true);
}

#[test]
fn a_killed_workers_other_step_becomes_an_attention_item_on_postgres() {
    a_killed_workers_run_is_taken_over(true, false);
}
