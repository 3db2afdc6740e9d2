//! `aios run` of the shipped examples, end to end.

use crate::support::{Test, keys, sorted, step_statuses};

fn hello() -> Test {
    Test::new().copy("examples/hello.toml", "hello.toml")
}

#[test]
fn hello_runs_and_writes_the_greeting() {
    let t = hello();
    t.aios(&["run", "hello.toml", "--input", "name=Ada"])
        .success()
        .stdout_contains("run 1 (hello) succeeded in ")
        .stdout_contains(": 2 steps");
    assert_eq!(t.read("out/hello-ada.txt"), "Hello, Ada!\n");
}

#[test]
fn hello_show_json_has_the_documented_shape() {
    let t = hello();
    t.aios(&["run", "hello.toml", "--input", "name=Ada"])
        .success();
    let show = t.show(1);
    assert_eq!(
        keys(&show),
        sorted(&["id", "workflow", "status", "inputs", "steps"])
    );
    assert_eq!(show["id"], 1);
    assert_eq!(show["workflow"], "hello");
    assert_eq!(show["status"], "succeeded");
    assert_eq!(show["inputs"], serde_json::json!({ "name": "Ada" }));
    for s in show["steps"].as_array().unwrap() {
        assert_eq!(
            keys(s),
            sorted(&[
                "id",
                "kind",
                "status",
                "attempts",
                "output",
                "error",
                "throttled",
                "held"
            ])
        );
        assert!(s["throttled"].is_null());
    }
    let greeting = &show["steps"][0];
    assert_eq!(greeting["id"], "greeting");
    assert_eq!(greeting["kind"], "set");
    assert_eq!(greeting["attempts"], 1);
    assert_eq!(
        greeting["output"],
        serde_json::json!({ "text": "Hello, Ada!", "length": 3 })
    );
    assert!(greeting["error"].is_null());
    let save = &show["steps"][1];
    assert_eq!(save["kind"], "file");
    assert_eq!(save["output"]["bytes"], 12);
    assert_eq!(
        step_statuses(&show),
        [
            ("greeting".to_string(), "succeeded".to_string()),
            ("save".to_string(), "succeeded".to_string())
        ]
    );
}

#[test]
fn run_json_prints_the_show_object() {
    let t = hello();
    let out = t
        .aios(&["run", "hello.toml", "--input", "name=Ada", "--json"])
        .success();
    assert_eq!(out.json(), t.show(1));
}

#[test]
fn runs_json_lists_runs_and_filters_by_status() {
    let t = hello().copy("workflows/launch.toml", "launch.toml");
    t.aios(&["run", "hello.toml"]).success();
    t.aios(&["run", "launch.toml"]).success();
    let runs = t.aios(&["runs", "--json"]).success().json();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2);
    for r in runs {
        assert_eq!(
            keys(r),
            sorted(&["id", "workflow", "status", "created_at", "updated_at"])
        );
    }
    // Newest first.
    assert_eq!(runs[0]["id"], 2);
    assert_eq!(runs[0]["status"], "waiting");
    assert_eq!(runs[1]["status"], "succeeded");

    let waiting = t
        .aios(&["runs", "--status", "waiting", "--json"])
        .success()
        .json();
    let ids: Vec<_> = waiting
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["id"])
        .collect();
    assert_eq!(ids, [2]);
    t.aios(&["runs", "--status", "cancelled"])
        .success()
        .stdout_is("no runs with that status\n");
}

#[test]
fn runs_on_a_fresh_home_says_how_to_start() {
    Test::new()
        .aios(&["runs"])
        .success()
        .stdout_is("no runs yet; start one with: aios run FILE\n");
    assert_eq!(
        Test::new().aios(&["runs", "--json"]).success().json(),
        serde_json::json!([])
    );
}

#[test]
fn log_lists_events_and_replay_agrees() {
    let t = hello().env("AIOS_NOW", crate::support::NOW);
    t.aios(&["run", "hello.toml", "--input", "name=Ada"])
        .success();
    t.aios(&["log", "1"]).success().stdout_is(
        "    1  2026-11-21T09:30:00Z  run created from `hello` (2 steps)
    2  2026-11-21T09:30:00Z  greeting: succeeded
    3  2026-11-21T09:30:00Z  save: started (attempt 1)
    4  2026-11-21T09:30:00Z  save: succeeded
    5  2026-11-21T09:30:00Z  run succeeded
",
    );
    let log = t.aios(&["log", "1", "--json"]).success().json();
    assert_eq!(log.as_array().unwrap().len(), 5);
    assert_eq!(log[0]["type"], "run_created");
    t.aios(&["replay"])
        .success()
        .stdout_is("ok run 1: 5 events replay to the stored state\nreplayed 1 run: the stored state and the events agree\n");
    t.aios(&["replay", "1"])
        .success()
        .stdout_is("ok run 1: 5 events replay to the stored state\n");
}

#[test]
fn launch_pauses_then_succeeds_after_each_approval() {
    let t = Test::new().copy("workflows/launch.toml", "launch.toml");
    t.aios(&["run", "launch.toml"])
        .success()
        .stdout_contains("run 1 (launch) is waiting for you:")
        .stdout_contains("aios approve 1");

    let items = t.inbox();
    assert_eq!(items.len(), 2);
    for i in &items {
        assert_eq!(
            keys(i),
            sorted(&[
                "id",
                "kind",
                "run_id",
                "step_id",
                "status",
                "summary",
                "created_at"
            ])
        );
        assert_eq!(i["kind"], "action");
        assert_eq!(i["run_id"], 1);
        assert_eq!(i["status"], "pending");
    }
    assert_eq!(items[0]["step_id"], "landing");
    assert_eq!(
        items[0]["summary"],
        "write founder-office-hours/landing.md (229 bytes)"
    );

    // Approve whatever is pending until the run is done; the gate gets a date.
    let mut rounds = 0;
    loop {
        let pending = t.inbox();
        if pending.is_empty() {
            break;
        }
        rounds += 1;
        assert!(rounds < 10, "the run never finished");
        let item = &pending[0];
        let id = item["id"].to_string();
        if item["kind"] == "approval" {
            t.aios(&["approve", &id, "--field", "launch_date=2026-12-01"])
                .success()
                .stderr_contains(&format!("inbox {id} approved (run 1, step go)"));
        } else {
            t.aios(&["approve", &id]).success();
        }
    }
    let show = t.show(1);
    assert_eq!(show["status"], "succeeded");
    assert_eq!(
        crate::support::step(&show, "announce_webhook")["status"],
        "skipped"
    );
    assert!(
        t.read("launch-out/founder-office-hours/landing.md")
            .starts_with("# Founder office hours: for indie founders")
    );
    let outbox = t.read("launch-out/outbox/founder-office-hours.json");
    assert!(
        outbox.contains(r#""launch_date": "2026-12-01""#),
        "{outbox}"
    );
    let record = t.read("launch-out/launches.md");
    assert!(
        record.contains("for 2026-12-01; announced via outbox"),
        "{record}"
    );
    t.aios(&["replay", "1"])
        .success()
        .stdout_contains("ok run 1");
}

#[test]
fn launch_gate_refuses_an_unknown_field() {
    let t = Test::new().copy("workflows/launch.toml", "launch.toml");
    t.aios(&["run", "launch.toml"]).success();
    t.aios(&["approve", &t.item("landing").to_string()])
        .success();
    t.aios(&["approve", &t.item("email").to_string()]).success();
    let gate = t.item("go");
    t.aios(&["approve", &gate.to_string(), "--field", "nope=1"])
        .code(2)
        .stderr_is(&format!(
            "error: unknown field `nope` (this gate has: launch_date)\nhint: approve it with: aios approve {gate} [--field launch_date=VALUE] (its fields: aios inbox show {gate})\n"
        ));
    // Nothing was decided.
    assert_eq!(t.item("go"), gate);
    t.aios(&["approve", &gate.to_string(), "--field", "launch_date"])
        .code(2)
        .stderr_contains("`launch_date` is not NAME=VALUE");
}

#[test]
fn without_a_pinned_clock_runs_are_stamped_with_the_system_time() {
    // Date-independent: compares with this process's own clock, which CI also shifts.
    let t = hello();
    t.args(&["run", "hello.toml", "--input", "name=Ada"])
        .real_clock()
        .run()
        .success();
    let runs = t
        .args(&["runs", "--json"])
        .real_clock()
        .run()
        .success()
        .json();
    let created: jiff::Timestamp = runs[0]["created_at"].as_str().unwrap().parse().unwrap();
    let skew = (jiff::Timestamp::now().as_second() - created.as_second()).abs();
    assert!(skew < 300, "created_at {created} is {skew} s from now");
}

/// `AIOS_STATS=FILE`: each process appends what it cost (CPU time, journal write
/// transactions) as one JSON line, for benchmarks.
#[test]
fn aios_stats_appends_each_process_cost() {
    let t = hello();
    let stats = t.join("stats.jsonl");
    let stats_path = stats.display().to_string();
    t.args(&["run", "hello.toml", "--input", "name=Ada"])
        .env("AIOS_STATS", &stats_path)
        .run()
        .success();
    t.args(&["show", "1", "--json"])
        .env("AIOS_STATS", &stats_path)
        .run()
        .success();
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&stats)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let run = &lines[0];
    assert!(run["user_us"].as_u64().unwrap() + run["sys_us"].as_u64().unwrap() > 0);
    // The run: at least its creation and its steps' events, each a transaction.
    assert!(run["write_transactions"].as_u64().unwrap() >= 2, "{run}");
    // Reading writes nothing.
    assert_eq!(lines[1]["write_transactions"], 0, "{}", lines[1]);
}
