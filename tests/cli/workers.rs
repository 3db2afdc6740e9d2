//! Workers (`aios worker`, `aios workers`, `aios run --detach`, `runs_on`), on the
//! SQLite file and on PostgreSQL (`support::postgres`): detached runs driven by a
//! worker, many at once, runs handed on at a tagged step (a step's own `runs_on`
//! and its persona's; by `run`, a worker, `approve` and `tick`) and taken only by a
//! worker with the tags, and bad flags. A live worker's held run and a killed
//! worker's run taken over: `workers_takeover.rs`.

use serde_json::Value as Json;

use crate::support::http::Server;
use crate::support::{Test, hostname, step, step_statuses};

/// A test on the SQLite file, or on a fresh PostgreSQL database.
pub(crate) fn backend(pg: bool) -> Test {
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

pub(crate) const ROUTED: &str = r#"
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

const GATED: &str = r#"
name = "gated"

[[steps]]
id = "ok"
kind = "approval"
title = "Go?"

[[steps]]
id = "train"
kind = "set"
runs_on = "gpu"
values = { y = 2 }
"#;

#[test]
fn approve_and_tick_hand_a_run_on_at_a_tagged_step() {
    let t = Test::new().write("gated.toml", GATED);
    for _ in 0..2 {
        t.aios(&["run", "gated.toml"])
            .success()
            .stdout_contains("is waiting for you:");
    }
    // `approve` continues run 1 up to `train` and hands it on.
    let item = t.inbox()[0]["id"].as_i64().unwrap();
    t.aios(&["approve", &item.to_string()])
        .success()
        .stdout_contains(
            "run 1 (gated): step train needs a worker tagged gpu; queued (see `aios workers`)",
        );
    // Run 2's decision is committed without going on; `tick` continues it.
    let item = t.inbox()[0]["id"].as_i64().unwrap();
    t.aios(&["approve", &item.to_string(), "--no-resume"])
        .success();
    t.aios(&["tick"]).success().stdout_contains(
        "continued run 2: step train needs a worker tagged gpu; queued (see `aios workers`)",
    );
    let w = t.aios(&["workers", "--json"]).success().json();
    let queued: Vec<(i64, Json)> = w["queue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| (q["run"].as_i64().unwrap(), q["tags"].clone()))
        .collect();
    assert_eq!(
        queued,
        vec![
            (1, serde_json::json!(["gpu"])),
            (2, serde_json::json!(["gpu"]))
        ]
    );
    // A later tick leaves them alone; a gpu worker finishes both.
    let tick = t.aios(&["tick", "--json"]).success().json();
    assert!(!tick.to_string().contains("handed_off"), "{tick}");
    t.aios(&["worker", "--tags", "gpu", "--exit-when-idle"])
        .success();
    for run in [1, 2] {
        assert_eq!(t.show(run)["status"], "succeeded");
    }
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
