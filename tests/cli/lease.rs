//! One process executes a run at a time; other commands see the lease and say so.

use crate::support::http::Server;
use crate::support::{Test, hostname, step, wait_until};

fn held_run(server: &Server) -> Test {
    let wf = format!(
        r#"
name = "held"

[[steps]]
id = "slow"
kind = "http"
approve = "never"
method = "POST"
url = "{}"

[[steps]]
id = "p"
kind = "file"
needs = []
path = "p.txt"
content = "approved elsewhere"
"#,
        server.url("/slow")
    );
    Test::new().write("held.toml", &wf)
}

#[test]
fn resume_of_a_run_being_executed_exits_4_and_names_the_process() {
    let server = Server::start();
    let slow = server.hold("/slow");
    let t = held_run(&server);
    let bg = t.args(&["run", "held.toml"]).spawn();
    slow.arrived();
    let owner = format!("{}@{}", bg.pid(), hostname());
    t.aios(&["resume", "1"])
        .code(4)
        .stderr_contains(&format!(
            "error: run 1 is being executed by process {owner} (lease until "
        ))
        .stderr_contains("hint: wait for it to finish, or stop that process");
    t.aios(&["show", "1"])
        .success()
        .stdout_contains(&format!("executor  process {owner}"));
    slow.release();
    // `p` still waits for a decision.
    bg.wait()
        .success()
        .stdout_contains("run 1 (held) is waiting for you:");
    assert_eq!(server.count("/slow"), 1);
}

#[test]
fn approve_while_another_process_executes_the_run_hands_it_the_decision() {
    let server = Server::start();
    let slow = server.hold("/slow");
    let t = held_run(&server);
    let bg = t.args(&["run", "held.toml"]).spawn();
    slow.arrived();
    wait_until("`p` to be proposed", || {
        t.inbox().iter().any(|i| i["step_id"] == "p")
    });
    let id = t.item("p").to_string();
    let owner = format!("{}@{}", bg.pid(), hostname());
    t.aios(&["approve", &id])
        .success()
        .stderr_contains(&format!("inbox {id} approved (run 1, step p)"))
        .stderr_contains(&format!(
            "note: the decision is recorded; run 1 is being executed by process {owner}"
        ));
    // The live process commits it.
    wait_until("p.txt to be written", || t.join("p.txt").exists());
    assert_eq!(t.read("p.txt"), "approved elsewhere");
    slow.release();
    bg.wait()
        .success()
        .stdout_contains("run 1 (held) succeeded");
    let show = t.show(1);
    assert_eq!(step(&show, "p")["status"], "succeeded");
    assert_eq!(step(&show, "slow")["status"], "succeeded");
    t.aios(&["replay", "1"]).success();
}

#[test]
fn cancel_stops_the_process_executing_the_run() {
    let server = Server::start();
    let slow = server.hold("/slow");
    let t = held_run(&server);
    let bg = t.args(&["run", "held.toml"]).spawn();
    slow.arrived();
    let owner = format!("{}@{}", bg.pid(), hostname());
    t.aios(&["cancel", "1"]).success().stdout_is(&format!(
        "run 1 (held) cancelled; process {owner} executing it stops within a second\n"
    ));
    bg.wait()
        .code(1)
        .stdout_contains("run 1 (held) was cancelled");
    slow.release();
    assert_eq!(t.show(1)["status"], "cancelled");
    // No item was left behind for the cancelled run.
    assert!(t.inbox().is_empty(), "{:?}", t.inbox());
}
