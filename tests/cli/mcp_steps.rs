//! `tool` steps against a real MCP server (server-everything over stdio): outputs,
//! proposals with the call and its annotations, the read-only rule for
//! `approve = "never"`, one server per process stopped on exit, a server killed or
//! hung mid-call.

use std::time::Duration;

use serde_json::json;

use crate::mcp::{steps_of, with_everything};
use crate::support::Test;
use crate::support::mcp::*;

#[test]
fn tool_steps_run_on_one_server_stopped_when_aios_exits() {
    let t = Test::new();
    let pidfile = t.join("pids");
    t.put(
        "config.toml",
        &everything_recording_pids("everything", &pidfile),
    );
    t.put(
        "wf.toml",
        r#"
name = "tools"

[inputs.name]
default = "Ada"

[[steps]]
id = "greet"
kind = "tool"
server = "everything"
tool = "echo"
args = { message = "Hi {{ inputs.name }}" }
approve = "never"

[[steps]]
id = "sum"
kind = "tool"
server = "everything"
tool = "get-sum"
args = { a = 2, b = "{{ 40 }}" }
approve = "never"

[[steps]]
id = "weather"
kind = "tool"
server = "everything"
tool = "get-structured-content"
args = "{{ {'location': 'Chicago'} }}"
approve = "never"

[[steps]]
id = "after"
kind = "set"
values = { text = "{{ steps.greet.output[0] }} / {{ steps.sum.output[0] }} / {{ steps.weather.output.humidity }}" }
"#,
    );
    t.aios(&["run", "wf.toml", "-q"])
        .success()
        .stdout_contains("run 1 (tools) succeeded");
    let steps = steps_of(&t, 1);
    assert_eq!(steps[0]["output"], json!(["Echo: Hi Ada"]));
    assert_eq!(steps[1]["output"], json!(["The sum of 2 and 40 is 42."]));
    assert_eq!(
        steps[2]["output"],
        json!({"temperature": 36, "conditions": "Light rain / drizzle", "humidity": 82})
    );
    assert_eq!(
        steps[3]["output"]["text"],
        "Echo: Hi Ada / The sum of 2 and 40 is 42. / 82"
    );
    // One server for the three steps, and it did not outlive aios.
    let started = pids(&pidfile);
    assert_eq!(started.len(), 1, "servers started: {started:?}");
    assert!(!alive(started[0]), "the server outlived `aios run`");
}

#[test]
fn a_tool_not_read_only_is_proposed_with_its_call_and_annotations() {
    let t = with_everything().write(
        "wf.toml",
        r#"
name = "toggle"

[[steps]]
id = "toggle"
kind = "tool"
server = "everything"
tool = "toggle-simulated-logging"

[[steps]]
id = "echo"
kind = "tool"
server = "everything"
tool = "echo"
args = { message = "{{ steps.toggle.output[0][:7] }}" }
approve = "never"
"#,
    );
    t.aios(&["run", "wf.toml", "-q"]).success().stdout_contains(
        "inbox 1    action    toggle             call toggle-simulated-logging on everything\n",
    );
    let show = t.aios(&["inbox", "show", "1"]).success();
    assert!(
        show.stdout.contains(
            "  call toggle-simulated-logging\n    on everything\n    titled Toggle Simulated Logging\n    arguments:\n    │ {}\n    annotations: not read-only, not destructive, not idempotent, closed world\n    not annotated read-only: it runs only once approved\n"
        ),
        "{}",
        show.stdout
    );
    let action = t.aios(&["inbox", "show", "1", "--action"]).success().json();
    assert_eq!(action["kind"], "tool");
    assert_eq!(action["server"], "everything");
    assert_eq!(action["tool"], "toggle-simulated-logging");
    assert_eq!(action["annotations"]["readOnlyHint"], false);
    // An edit may change the arguments, not the tool.
    let mut other = action.clone();
    other["tool"] = json!("echo");
    t.put("edit.json", &other.to_string());
    t.aios(&["approve", "1", "--edit", "edit.json"])
        .code(2)
        .stderr_contains("an edit may change the arguments only, not the server or the tool");
    t.aios(&["approve", "1", "-q"])
        .success()
        .stdout_contains("run 1 (toggle) succeeded");
    let steps = steps_of(&t, 1);
    assert!(
        steps[0]["output"][0]
            .as_str()
            .unwrap()
            .starts_with("Started simulated, random-leveled logging"),
        "{}",
        steps[0]["output"]
    );
    assert_eq!(steps[1]["output"], json!(["Echo: Started"]));
}

#[test]
fn approve_never_needs_a_read_only_tool() {
    let t = with_everything().write(
        "wf.toml",
        r#"
name = "sneaky"

[[steps]]
id = "toggle"
kind = "tool"
server = "everything"
tool = "toggle-simulated-logging"
approve = "never"
"#,
    );
    // No listing cached: `aios run` cannot tell at load time; the call is proposed
    // anyway when it renders (the server says it is not read-only).
    t.aios(&["run", "wf.toml", "-q"])
        .success()
        .stdout_contains("is waiting for you:\n  inbox 1    action    toggle ");
    assert_eq!(steps_of(&t, 1)[0]["status"], "waiting");
    // With a listing (cached by `aios mcp tools`), run and check refuse it at once.
    t.aios(&["mcp", "tools", "everything", "--json"]).success();
    let refused = "error: `approve = \"never\"` needs a read-only tool; `toggle-simulated-logging` on `everything` is not read-only, not destructive, not idempotent, closed world\n --> wf.toml:9:1\n  |\n9 | approve = \"never\"\n  | ^^^^^^^ this call must be approved\n  |\n  = hint: remove `approve = \"never\"`: the call waits in the inbox as a proposal\n\nerror: wf.toml does not fit its tool servers (1 problem)\n";
    t.aios(&["run", "wf.toml"]).code(2).stderr_contains(refused);
    t.aios(&["check", "wf.toml"])
        .code(2)
        .stderr_contains(refused);
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
fn a_server_killed_mid_call_fails_the_step_clearly() {
    let t = Test::new();
    let pidfile = t.join("pids");
    t.put("config.toml", &everything_recording_pids("slow", &pidfile));
    t.put(
        "wf.toml",
        "name = \"long\"\n\n[[steps]]\nid = \"long\"\nkind = \"tool\"\nserver = \"slow\"\ntool = \"trigger-long-running-operation\"\nargs = { duration = 30, steps = 30 }\napprove = \"never\"\n",
    );
    let bg = t.args(&["run", "wf.toml", "-q"]).spawn();
    // The step is running once its start is journaled; the server is up by then.
    wait_for("the step to start", Duration::from_secs(20), || {
        !pids(&pidfile).is_empty() && steps_of(&t, 1)[0]["status"] == "running"
    });
    let pid = pids(&pidfile)[0];
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGKILL);
    }
    let out = bg.wait().code(1);
    assert!(out.stdout.contains("run 1 (long) failed"), "{}", out.stdout);
    let step = &steps_of(&t, 1)[0];
    assert_eq!(step["status"], "failed");
    let err = step["error"].as_str().unwrap();
    assert!(
        err.starts_with(
            "MCP server `slow` closed the connection during `tools/call trigger-long-running-operation` (it exited or hung up)"
        ),
        "{err}"
    );
}

#[test]
fn a_hung_call_fails_the_step_after_its_timeout_and_the_server_is_stopped() {
    let t = Test::new();
    let pidfile = t.join("pids");
    t.put("config.toml", &everything_recording_pids("slow", &pidfile));
    t.put(
        "wf.toml",
        "name = \"hang\"\n\n[[steps]]\nid = \"hang\"\nkind = \"tool\"\nserver = \"slow\"\ntool = \"trigger-long-running-operation\"\nargs = { duration = 60, steps = 2 }\napprove = \"never\"\ntimeout = \"1s\"\n",
    );
    let started = std::time::Instant::now();
    t.aios(&["run", "wf.toml", "-q"]).code(1);
    // The step's timeout, then at most the 2 s grace to stop the busy server.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let step = &steps_of(&t, 1)[0];
    assert_eq!(
        step["error"],
        "timed out after 1s (call trigger-long-running-operation on slow; it was stopped)"
    );
    let pid = pids(&pidfile)[0];
    // aios sends SIGKILL to the server's group before it exits; the kernel finishes the
    // kill asynchronously (on a loaded machine the process may still be running for a
    // moment), so wait for it with a deadline rather than checking once.
    wait_for(
        "the hung server to be killed",
        Duration::from_secs(10),
        || !alive(pid),
    );
}
