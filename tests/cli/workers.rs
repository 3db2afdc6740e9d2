//! Workers (`aios worker`, `aios workers`, `aios run --detach`, `runs_on`), on the
//! SQLite file and on PostgreSQL (`support::postgres`): detached runs driven by a
//! worker, many at once, runs handed on at a tagged step (a step's own `runs_on`
//! and its persona's) and taken only by a worker with the tags, a live worker's held
//! run listed, a killed worker's run taken over after its lease with the crash rules,
//! and bad flags.

use serde_json::Value as Json;

use crate::support::http::Server;
use crate::support::{Test, hostname, step, step_statuses, wait_until};

/// A test on the SQLite file, or on a fresh PostgreSQL database.
fn backend(pg: bool) -> Test {
    let t = Test::new();
    if pg {
        t.env(
            "AIOS_DATABASE_URL",
            &crate::support::postgres::fresh_database(),
        )
    } else {
        t
    }
}

/// `a` (set), `b` (POST to the server: not idempotent), `c` (set).
fn three_steps(server: &Server) -> String {
    format!(
        r#"
name = "three"

[[steps]]
id = "a"
kind = "set"
values = {{ n = 1 }}

[[steps]]
id = "b"
kind = "http"
approve = "never"
method = "POST"
url = "{}"
json = {{ run = "{{{{ run.id }}}}" }}

[[steps]]
id = "c"
kind = "set"
values = {{ done = true }}
"#,
        server.url("/b")
    )
}

fn events_of(t: &Test, run: i64) -> Vec<Json> {
    t.aios(&["log", &run.to_string(), "--json"])
        .success()
        .json()
        .as_array()
        .unwrap()
        .clone()
}

fn count(events: &[Json], ty: &str, step: &str) -> usize {
    events
        .iter()
        .filter(|e| e["type"] == ty && e["step"] == step)
        .count()
}

fn a_detached_run_is_driven_by_a_worker(pg: bool) {
    let server = Server::start();
    let t = backend(pg).write("three.toml", &three_steps(&server));
    t.aios(&["run", "three.toml", "--detach"])
        .success()
        .stdout_is("run 1 (three) queued for a worker\n");
    let j = t
        .aios(&["run", "three.toml", "--detach", "--json"])
        .success()
        .json();
    assert_eq!(j["run"], 2);
    assert_eq!(j["workflow"], "three");
    assert_eq!(j["status"], "queued");
    assert_eq!(j["uid"].as_str().unwrap().len(), 32);
    // Nothing ran: the runs wait in the queue, for any worker.
    assert_eq!(server.count("/b"), 0);
    let show = t.show(1);
    assert_eq!(show["status"], "running");
    assert_eq!(show["queued"]["tags"], serde_json::json!([]));
    assert_eq!(show["queued"]["claimed_by"], Json::Null);
    for (id, status) in step_statuses(&show) {
        assert_eq!(status, "pending", "step {id}");
    }
    let w = t.aios(&["workers", "--json"]).success().json();
    let queue: Vec<i64> = w["queue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["run"].as_i64().unwrap())
        .collect();
    assert_eq!(queue, vec![1, 2]);
    assert!(w["workers"].as_array().unwrap().is_empty());
    t.aios(&["workers"])
        .success()
        .stdout_contains("queued runs: 2")
        .stdout_contains("run 1 (three)  needs any worker")
        .stdout_contains("hint: no live worker can take run 1: start one with: aios worker\n");
    // A tick leaves queued runs to the workers.
    t.aios(&["tick"]).success();
    assert_eq!(server.count("/b"), 0);

    let out = t.aios(&["worker", "--exit-when-idle"]).success();
    assert!(
        out.stderr.contains("run 1 (three) succeeded (3 steps)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("run 2 (three) succeeded (3 steps)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("stopped (2 runs driven)"),
        "{}",
        out.stderr
    );
    // Lines name the worker: `worker PID@HOST: run …`.
    assert!(
        out.stderr
            .contains(&format!("@{}: run 1 (three) succeeded", hostname())),
        "{}",
        out.stderr
    );
    for run in [1, 2] {
        let show = t.show(run);
        assert_eq!(show["status"], "succeeded", "{show}");
        assert!(show.get("queued").is_none(), "{show}");
        let events = events_of(&t, run);
        for s in ["a", "b", "c"] {
            assert_eq!(count(&events, "step_succeeded", s), 1, "run {run} step {s}");
        }
    }
    assert_eq!(server.count("/b"), 2);
    t.aios(&["log", "1"])
        .success()
        .stdout_contains("b: started (attempt 1)")
        .stdout_contains("run succeeded");
    // The queue is empty; the worker is listed as gone (stopped).
    let w = t.aios(&["workers", "--json"]).success().json();
    assert!(w["queue"].as_array().unwrap().is_empty());
    assert!(w["workers"].as_array().unwrap().is_empty());
    let gone = w["gone"].as_array().unwrap();
    assert_eq!(gone.len(), 1);
    assert!(gone[0]["stopped_at"].is_string());
    assert_eq!(gone[0]["live"], false);
}

#[test]
fn a_detached_run_is_driven_by_a_worker_on_sqlite() {
    a_detached_run_is_driven_by_a_worker(false);
}

#[test]
fn a_detached_run_is_driven_by_a_worker_on_postgres() {
    a_detached_run_is_driven_by_a_worker(true);
}

fn twenty_runs_on_four_threads(pg: bool) {
    let server = Server::start();
    let t = backend(pg).write("three.toml", &three_steps(&server));
    for _ in 0..20 {
        t.aios(&["run", "three.toml", "--detach", "-q"]).success();
    }
    let out = t
        .aios(&["worker", "--concurrency", "4", "--exit-when-idle", "--json"])
        .success();
    let lines: Vec<Json> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 20, "{}", out.stdout);
    let mut runs: Vec<i64> = lines.iter().map(|l| l["run"].as_i64().unwrap()).collect();
    runs.sort_unstable();
    assert_eq!(runs, (1..=20).collect::<Vec<_>>());
    for l in &lines {
        assert_eq!(l["status"], "succeeded", "{l}");
        assert_eq!(l["steps"], 3);
    }
    // Each step of each run journaled once, and each POST sent once.
    for run in 1..=20 {
        let events = events_of(&t, run);
        for s in ["a", "b", "c"] {
            // `set` steps journal no start; the POST's start once.
            let started = if s == "b" { 1 } else { 0 };
            assert_eq!(count(&events, "step_started", s), started, "run {run} {s}");
            assert_eq!(count(&events, "step_succeeded", s), 1, "run {run} {s}");
        }
    }
    assert_eq!(server.count("/b"), 20);
    let mut sent: Vec<String> = server
        .requests_to("/b")
        .iter()
        .map(|r| r.json()["run"].to_string())
        .collect();
    sent.sort();
    sent.dedup();
    assert_eq!(sent.len(), 20);
}

#[test]
fn twenty_detached_runs_on_four_threads_on_sqlite() {
    twenty_runs_on_four_threads(false);
}

#[test]
fn twenty_detached_runs_on_four_threads_on_postgres() {
    twenty_runs_on_four_threads(true);
}

const ROUTED: &str = r#"
name = "route"

[[steps]]
id = "prep"
kind = "set"
values = { x = 1 }

[[steps]]
id = "train"
kind = "set"
runs_on = "gpu"
values = { y = 2 }

[[steps]]
id = "report"
kind = "set"
values = { z = 3 }
"#;

fn a_tagged_step_goes_to_a_worker_with_the_tag(pg: bool) {
    let t = backend(pg).write("route.toml", ROUTED);
    t.aios(&["check", "route.toml"]).success();
    t.aios(&["run", "route.toml"]).success().stdout_is(
        "run 1 (route): step train needs a worker tagged gpu; queued (see `aios workers`)\n",
    );
    let show = t.show(1);
    assert_eq!(show["status"], "running");
    assert_eq!(step(&show, "prep")["status"], "succeeded");
    assert_eq!(step(&show, "train")["status"], "pending");
    assert_eq!(step(&show, "report")["status"], "pending");
    assert_eq!(show["queued"]["tags"], serde_json::json!(["gpu"]));
    // Nothing journaled the step as started.
    assert_eq!(count(&events_of(&t, 1), "step_started", "train"), 0);
    // A worker without the tag does not take it.
    let out = t.aios(&["worker", "--exit-when-idle"]).success();
    assert!(!out.stderr.contains("run 1"), "{}", out.stderr);
    assert_eq!(step(&t.show(1), "train")["status"], "pending");
    t.aios(&["workers"])
        .success()
        .stdout_contains("run 1 (route)  needs a worker with tags gpu")
        .stdout_contains(
            "hint: no live worker can take run 1: start one with: aios worker --tags gpu\n",
        );
    // Nor does a tick.
    t.aios(&["tick"]).success();
    assert_eq!(step(&t.show(1), "train")["status"], "pending");
    // One with it finishes the run.
    t.aios(&["worker", "--tags", "eu,gpu", "--exit-when-idle"])
        .success()
        .stderr_contains("run 1 (route) succeeded (3 steps)");
    let show = t.show(1);
    assert_eq!(show["status"], "succeeded");
    for (id, status) in step_statuses(&show) {
        assert_eq!(status, "succeeded", "step {id}");
    }
    let events = events_of(&t, 1);
    for s in ["prep", "train", "report"] {
        assert_eq!(count(&events, "step_succeeded", s), 1, "{s}");
    }
    // `--json` of a handed-on run: the run as `show --json` has it, queued.
    let j = t.aios(&["run", "route.toml", "--json"]).success().json();
    assert_eq!(j["queued"]["tags"], serde_json::json!(["gpu"]));
    // A worker without the tag drives a detached run up to the step and hands it on.
    t.aios(&["run", "route.toml", "--detach"]).success();
    let out = t.aios(&["worker", "--exit-when-idle", "--json"]).success();
    let line: Json = serde_json::from_str(out.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(line["run"], 3);
    assert_eq!(line["status"], "handed_off");
    assert_eq!(line["handoff"]["step"], "train");
    assert_eq!(line["handoff"]["tags"], serde_json::json!(["gpu"]));
    assert_eq!(step(&t.show(3), "prep")["status"], "succeeded");
    assert_eq!(t.show(3)["queued"]["attempts"], 1);
}

#[test]
fn a_tagged_step_goes_to_a_worker_with_the_tag_on_sqlite() {
    a_tagged_step_goes_to_a_worker_with_the_tag(false);
}

#[test]
fn a_tagged_step_goes_to_a_worker_with_the_tag_on_postgres() {
    a_tagged_step_goes_to_a_worker_with_the_tag(true);
}

#[test]
fn a_personas_runs_on_is_added_to_its_steps() {
    let t = Test::new()
        .write("config.toml", "[personas.trainer]\nruns_on = \"gpu\"\n")
        .write(
            "p.toml",
            r#"
name = "p"

[[steps]]
id = "first"
kind = "set"
values = { x = 1 }

[[steps]]
id = "fit"
kind = "set"
persona = "trainer"
runs_on = ["eu"]
values = { y = 2 }
"#,
        );
    t.aios(&["persona", "show", "trainer"])
        .success()
        .stdout_contains("runs_on           workers tagged gpu");
    t.aios(&["run", "p.toml"]).success().stdout_is(
        "run 1 (p): step fit needs a worker tagged eu, gpu; queued (see `aios workers`)\n",
    );
    // Either tag alone is not enough.
    for tags in ["gpu", "eu"] {
        let out = t
            .aios(&["worker", "--tags", tags, "--exit-when-idle"])
            .success();
        assert!(!out.stderr.contains("run 1"), "{}", out.stderr);
    }
    t.aios(&["worker", "--tags", "gpu,eu", "--exit-when-idle"])
        .success()
        .stderr_contains("run 1 (p) succeeded (2 steps)");
    // A persona's tag that is not one is refused with the config.
    let bad = Test::new()
        .write("config.toml", "[personas.trainer]\nruns_on = [\"GPU\"]\n")
        .write(
            "p.toml",
            "name = \"p\"\n[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = { x = 1 }\n",
        );
    bad.aios(&["run", "p.toml"])
        .code(2)
        .stderr_contains("`runs_on` holds `GPU`, which is not a worker tag")
        .stderr_contains("hint: tags hold lower-case letters");
}

#[test]
fn a_run_cancelled_while_queued_leaves_the_queue_unrun() {
    let server = Server::start();
    let t = Test::new().write("three.toml", &three_steps(&server));
    t.aios(&["run", "three.toml", "--detach"]).success();
    t.aios(&["cancel", "1"]).success();
    t.aios(&["worker", "--exit-when-idle"])
        .success()
        .stderr_contains("run 1 (three) was cancelled");
    assert_eq!(server.count("/b"), 0);
    assert_eq!(t.show(1)["status"], "cancelled");
    let w = t.aios(&["workers", "--json"]).success().json();
    assert!(w["queue"].as_array().unwrap().is_empty());
}

#[test]
fn check_explains_a_bad_tag() {
    let t = Test::new().write(
        "w.toml",
        "name = \"w\"\n[[steps]]\nid = \"a\"\nkind = \"set\"\nruns_on = [\"gpu\", \"Big GPU\"]\nvalues = { x = 1 }\n",
    );
    t.aios(&["check", "w.toml"])
        .code(2)
        .stderr_contains("`Big GPU` is not a worker tag")
        .stderr_contains("tags hold lower-case letters, digits, `_` and `-`");
    let t = Test::new().write(
        "w.toml",
        "name = \"w\"\n[[steps]]\nid = \"a\"\nkind = \"set\"\nruns_on = 3\nvalues = { x = 1 }\n",
    );
    t.aios(&["check", "w.toml"])
        .code(2)
        .stderr_contains("a tag or a list of tags");
}

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

#[test]
fn bad_worker_flags_are_usage_errors() {
    let t = Test::new().write("route.toml", ROUTED);
    t.aios(&["worker", "--concurrency", "0"])
        .code(2)
        .stderr_contains("error: --concurrency 0 would drive nothing")
        .stderr_contains("hint: drive at least one run at a time: aios worker --concurrency 1");
    t.aios(&["worker", "--tags", "gpu,Big"])
        .code(2)
        .stderr_contains("error: --tags: `Big` is not a worker tag")
        .stderr_contains(
            "hint: tags hold lower-case letters, digits, `_` and `-`: aios worker --tags gpu,eu",
        );
    t.aios(&["worker", "--lease", "10ms"])
        .code(2)
        .stderr_contains("error: --lease 10ms is too short (at least 1s)")
        .stderr_contains("hint: for example: aios worker --lease 30s");
    t.aios(&["worker", "--poll", "soon"])
        .code(2)
        .stderr_contains("error: --poll: invalid duration `soon`")
        .stderr_contains("hint: use a number and a unit");
    t.aios(&["run", "route.toml", "--detach", "--dry-run"])
        .code(2);
    // Nothing was registered or queued by any of them.
    let w = t.aios(&["workers", "--json"]).success().json();
    assert!(w["gone"].as_array().unwrap().is_empty());
    assert!(w["queue"].as_array().unwrap().is_empty());
    // A database that cannot be reached: exit 5.
    t.args(&["worker", "--exit-when-idle"])
        .env("AIOS_DATABASE_URL", "postgres://aios@127.0.0.1:9/aios")
        .run()
        .code(5);
}
