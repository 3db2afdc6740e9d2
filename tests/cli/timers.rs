//! Time inside runs: `wait` steps (the run exits `waiting`, `tick` or `resume`
//! continue it once the clock passes the journaled end) and decision deadlines on
//! inbox items (`on_timeout`, applied by `tick`). Time is driven by AIOS_NOW only.

use serde_json::Value as Json;

use crate::support::http::Server;
use crate::support::{Output, Test, step, step_statuses};

fn at(t: &Test, now: &str, args: &[&str]) -> Output {
    t.args(args).env("AIOS_NOW", now).run()
}

fn tick(t: &Test, now: &str) -> Json {
    at(t, now, &["tick", "--json"]).success().json()
}

const COOL_OFF: &str = r#"
name = "cool"

[[steps]]
id = "draft"
kind = "set"
values = { text = "hello" }

[[steps]]
id = "cool_off"
kind = "wait"
duration = "2d"

[[steps]]
id = "send"
kind = "set"
values = { sent = "{{ steps.draft.output.text }}", waited = "{{ steps.cool_off.output.until }}" }
"#;

#[test]
fn a_wait_step_exits_waiting_and_tick_continues_the_run_once_due() {
    let t = Test::new().write("cool.toml", COOL_OFF);
    at(&t, "2026-11-20T09:00:00Z", &["run", "cool.toml"])
        .success()
        .stdout_is(
            "run 1 (cool) is waiting until 2026-11-22T09:00:00Z (step `cool_off`); `aios tick` continues it then (or: aios resume 1)\n",
        )
        .stderr_contains("cool_off waits until 2026-11-22T09:00:00Z");
    let show = t.show(1);
    assert_eq!(show["status"], "waiting");
    assert_eq!(
        step_statuses(&show),
        [
            ("draft".into(), "succeeded".into()),
            ("cool_off".into(), "waiting".into()),
            ("send".into(), "pending".into())
        ]
    );
    // The end is an event: `log` and `replay` see it.
    t.aios(&["log", "1"])
        .success()
        .stdout_contains("cool_off: waiting until 2026-11-22T09:00:00Z");
    t.aios(&["show", "1"])
        .success()
        .stdout_contains("cool_off: waiting until 2026-11-22T09:00:00Z");
    t.aios(&["replay", "1"]).success();
    // Before the end: a tick leaves it alone, quietly; an early resume keeps waiting.
    at(&t, "2026-11-21T09:00:00Z", &["tick"])
        .success()
        .stdout_is("");
    let r = tick(&t, "2026-11-22T08:59:59Z");
    assert_eq!(r["items"], serde_json::json!([]));
    at(&t, "2026-11-21T12:00:00Z", &["resume", "1"])
        .success()
        .stdout_contains("is waiting until 2026-11-22T09:00:00Z");
    assert_eq!(t.show(1)["status"], "waiting");
    // Once the clock passes the end, the next tick continues it to the end.
    let r = tick(&t, "2026-11-22T09:00:30Z");
    assert_eq!(r["items"][0]["type"], "continued");
    assert_eq!(r["items"][0]["status"], "succeeded");
    let show = t.show(1);
    assert_eq!(show["status"], "succeeded");
    assert_eq!(
        step(&show, "cool_off")["output"],
        serde_json::json!({"until": "2026-11-22T09:00:00Z", "woke_at": "2026-11-22T09:00:30Z"})
    );
    assert_eq!(step(&show, "send")["output"]["sent"], "hello");
    assert_eq!(
        step(&show, "send")["output"]["waited"],
        "2026-11-22T09:00:00Z"
    );
    t.aios(&["replay", "1"]).success();
    // Nothing left to do: the next tick does nothing.
    assert_eq!(
        tick(&t, "2026-11-23T00:00:00Z")["items"],
        serde_json::json!([])
    );
}

#[test]
fn resume_after_the_end_continues_a_waiting_run() {
    let t = Test::new().write("cool.toml", COOL_OFF);
    at(&t, "2026-11-20T09:00:00Z", &["run", "cool.toml", "-q"]).success();
    at(&t, "2026-11-23T00:00:00Z", &["resume", "1", "--json"])
        .success()
        .json()["status"]
        .as_str()
        .map(|s| assert_eq!(s, "succeeded"))
        .unwrap();
}

const UNTIL: &str = r#"
name = "until"

[inputs.at]
type = "string"

[[steps]]
id = "launch_day"
kind = "wait"
until = "{{ inputs.at }}"

[[steps]]
id = "go"
kind = "set"
values = { ok = true }
"#;

#[test]
fn until_waits_for_a_rendered_instant_and_a_past_one_does_not_wait() {
    let t = Test::new().write("until.toml", UNTIL);
    at(
        &t,
        "2026-11-20T09:00:00Z",
        &[
            "run",
            "until.toml",
            "-i",
            "at=2026-12-01T10:00:00+01:00",
            "-q",
        ],
    )
    .success()
    .stdout_contains("is waiting until 2026-12-01T09:00:00Z (step `launch_day`)");
    // Already past: the step ends at once and the run goes on.
    at(
        &t,
        "2026-11-20T09:00:00Z",
        &["run", "until.toml", "-i", "at=2026-01-01T00:00:00Z", "-q"],
    )
    .success()
    .stdout_contains("succeeded");
    assert_eq!(t.show(2)["status"], "succeeded");
    // Not an instant: the step fails with the rendered text.
    at(
        &t,
        "2026-11-20T09:00:00Z",
        &["run", "until.toml", "-i", "at=next tuesday", "-q"],
    )
    .code(1)
    .stdout_contains("`until` rendered to `next tuesday`, not an RFC 3339 instant");
    // Only the timer of run 1 is pending; ticks before it do not touch run 1.
    let r = tick(&t, "2026-12-01T08:59:00Z");
    assert_eq!(r["items"], serde_json::json!([]));
    let r = tick(&t, "2026-12-01T09:00:00Z");
    assert_eq!(r["items"][0]["run_id"], 1);
    assert_eq!(t.show(1)["status"], "succeeded");
}

#[test]
fn the_end_is_journaled_before_a_crash_and_resume_keeps_it() {
    let server = Server::start();
    let wf = format!(
        r#"
name = "crashwait"

[[steps]]
id = "pause"
kind = "wait"
needs = []
duration = "1h"

[[steps]]
id = "fetch"
kind = "http"
needs = []
approve = "never"
url = "{url}"
"#,
        url = server.url("/slow")
    );
    let t = Test::new().write("w.toml", &wf);
    let mut hold = server.hold("/slow");
    let bg = t
        .args(&["run", "w.toml"])
        .env("AIOS_NOW", "2026-11-20T09:00:00Z")
        .spawn();
    hold.arrived();
    bg.kill9();
    hold.release_all();
    let show = t.show(1);
    assert_eq!(step(&show, "pause")["status"], "waiting");
    // Later, a tick takes over the crashed run. The wait keeps the end journaled
    // before the crash (09:00 + 1h), not one computed from the new clock.
    let r = tick(&t, "2026-11-20T09:30:00Z");
    assert_eq!(r["items"][0]["type"], "continued");
    assert_eq!(r["items"][0]["status"], "waiting");
    assert_eq!(step(&t.show(1), "fetch")["status"], "succeeded");
    let r = tick(&t, "2026-11-20T10:00:00Z");
    assert_eq!(r["items"][0]["status"], "succeeded");
    t.aios(&["replay"]).success();
}

/// A gate with a 3-day deadline, then a step reading its decision.
fn gate(on_timeout: &str, on_reject: &str) -> String {
    format!(
        r#"
name = "gate"

[[steps]]
id = "go"
kind = "approval"
title = "Ship it?"
timeout = "3d"
on_timeout = "{on_timeout}"
on_reject = "{on_reject}"
fields = {{ date = {{ type = "string", default = "soon" }} }}

[[steps]]
id = "after"
kind = "set"
values = {{ d = "{{{{ steps.go.output.decision }}}}" }}
"#
    )
}

const T0: &str = "2026-11-20T09:00:00Z";

fn started(on_timeout: &str, on_reject: &str) -> Test {
    let t = Test::new().write("gate.toml", &gate(on_timeout, on_reject));
    at(&t, T0, &["run", "gate.toml", "-q"]).success();
    t
}

fn types(report: &Json) -> Vec<String> {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn an_approval_deadline_rejects_through_the_decision_path() {
    let t = started("reject", "fail");
    at(&t, T0, &["inbox", "list"])
        .success()
        .stdout_contains("Ship it? (decide by 2026-11-23T09:00:00Z, then reject)");
    let item = &t.inbox()[0];
    assert_eq!(item["deadline"], "2026-11-23T09:00:00Z");
    assert_eq!(item["on_timeout"], "reject");
    assert_eq!(item["reminders"], 0);
    // Not yet.
    assert!(types(&tick(&t, "2026-11-23T08:59:59Z")).is_empty());
    let r = tick(&t, "2026-11-23T09:00:00Z");
    assert_eq!(types(&r), ["timed_out", "continued"]);
    assert_eq!(r["items"][0]["applied"], "reject");
    assert_eq!(r["items"][1]["status"], "failed");
    let show = t.show(1);
    assert_eq!(step(&show, "go")["status"], "failed");
    assert!(
        step(&show, "go")["error"]
            .as_str()
            .unwrap()
            .contains("rejected: no decision by 2026-11-23T09:00:00Z (on_timeout = \"reject\")")
    );
    let decided = t.aios(&["inbox", "show", "1", "--json"]).success().json();
    assert_eq!(decided["decided_by"], "aios (timeout)");
    assert_eq!(decided["decision"], "reject");
    // The operator comes too late: the item was decided once, by the deadline.
    at(&t, "2026-11-23T10:00:00Z", &["approve", "1"])
        .code(4)
        .stderr_contains("already decided: reject by aios (timeout)");
    t.aios(&["replay"]).success();
}

#[test]
fn reject_by_deadline_follows_on_reject_but_fail_does_not() {
    let t = started("reject", "skip");
    let r = tick(&t, "2026-11-24T00:00:00Z");
    assert_eq!(r["items"][1]["status"], "succeeded");
    let show = t.show(1);
    assert_eq!(step(&show, "go")["status"], "skipped");
    assert_eq!(step(&show, "after")["output"]["d"], "rejected");

    let t = started("fail", "skip");
    let r = tick(&t, "2026-11-24T00:00:00Z");
    assert_eq!(r["items"][0]["applied"], "fail");
    assert_eq!(r["items"][1]["status"], "failed");
    let show = t.show(1);
    assert_eq!(step(&show, "go")["status"], "failed");
    assert!(
        step(&show, "go")["error"]
            .as_str()
            .unwrap()
            .starts_with("failed: no decision by 2026-11-23T09:00:00Z (on_timeout = \"fail\")")
    );
    t.aios(&["replay"]).success();
}

#[test]
fn an_approval_deadline_can_approve_with_the_field_defaults() {
    let t = started("approve", "fail");
    let r = tick(&t, "2026-11-23T09:00:00Z");
    assert_eq!(types(&r), ["timed_out", "continued"]);
    assert_eq!(r["items"][1]["status"], "succeeded");
    let show = t.show(1);
    let out = &step(&show, "go")["output"];
    assert_eq!(out["decision"], "approved");
    assert_eq!(out["by"], "aios (timeout)");
    assert_eq!(out["fields"]["date"], "soon");
    assert_eq!(step(&show, "after")["output"]["d"], "approved");
}

#[test]
fn remind_surfaces_the_item_again_once_per_deadline() {
    let t = started("remind", "fail");
    let r = tick(&t, "2026-11-23T09:00:00Z");
    assert_eq!(types(&r), ["reminded"]);
    assert_eq!(r["items"][0]["reminder"], 1);
    assert_eq!(r["items"][0]["next_deadline"], "2026-11-26T09:00:00Z");
    // The same moment again: nothing more.
    assert!(types(&tick(&t, "2026-11-23T09:00:00Z")).is_empty());
    at(&t, "2026-11-23T09:00:00Z", &["inbox", "list"])
        .success()
        .stdout_contains("Ship it? (reminder 1; decide by 2026-11-26T09:00:00Z)");
    at(&t, "2026-11-23T09:00:00Z", &["tick"])
        .success()
        .stdout_is("");
    // Long after: one reminder, the next deadline after now (not one per period missed).
    let r = tick(&t, "2026-12-01T00:00:00Z");
    assert_eq!(r["items"][0]["reminder"], 2);
    assert_eq!(r["items"][0]["next_deadline"], "2026-12-02T09:00:00Z");
    let item = &t.inbox()[0];
    assert_eq!(item["status"], "pending");
    assert_eq!(item["reminders"], 2);
    t.aios(&["log", "1"]).success().stdout_contains(
        "inbox 1: no decision by its deadline; reminder 2, next deadline 2026-12-02T09:00:00Z",
    );
    // The operator still decides as usual.
    at(&t, "2026-12-01T01:00:00Z", &["approve", "1", "-q"]).success();
    assert_eq!(t.show(1)["status"], "succeeded");
    t.aios(&["replay"]).success();
}

#[test]
fn concurrent_ticks_remind_once() {
    let t = started("remind", "fail");
    let bg: Vec<_> = (0..6)
        .map(|_| {
            t.args(&["tick", "--json"])
                .env("AIOS_NOW", "2026-11-23T09:00:00Z")
                .spawn()
        })
        .collect();
    let seen: Vec<String> = bg
        .into_iter()
        .flat_map(|b| types(&b.wait().success().json()))
        .collect();
    assert_eq!(seen, ["reminded"], "{seen:?}");
    assert_eq!(t.inbox()[0]["reminders"], 1);
}

#[test]
fn a_proposed_action_takes_approval_timeout_and_keeps_its_execution_timeout() {
    let t = Test::new().write(
        "act.toml",
        r#"
name = "act"

[[steps]]
id = "write"
kind = "file"
path = "out.txt"
content = "approved by nobody"
timeout = "10s"
approval_timeout = "1d"
on_timeout = "approve"
"#,
    );
    at(&t, T0, &["run", "act.toml", "-q"]).success();
    assert_eq!(t.inbox()[0]["deadline"], "2026-11-21T09:00:00Z");
    let r = tick(&t, "2026-11-21T09:00:00Z");
    assert_eq!(types(&r), ["timed_out", "continued"]);
    assert_eq!(t.read("out.txt"), "approved by nobody");
    assert_eq!(t.show(1)["status"], "succeeded");
}

#[test]
fn bad_deadline_combinations_stop_the_run_before_it_starts() {
    let t = Test::new().write(
        "bad.toml",
        r#"
name = "bad"

[[steps]]
id = "go"
kind = "approval"
title = "Go?"
on_timeout = "approve"
fields = { date = { type = "string" } }
"#,
    );
    t.aios(&["run", "bad.toml"])
        .code(2)
        .stderr_contains("`on_timeout` needs `timeout`");
    assert!(t.aios(&["runs", "--json"]).success().json()[0].is_null());
}

const BIN: &str = env!("CARGO_BIN_EXE_aios");

#[test]
fn schedule_install_prints_a_crontab_line_and_systemd_units() {
    let t = Test::new();
    let home = t.path().display().to_string();
    let out = t.aios(&["schedule", "install"]).success();
    assert!(
        out.stdout
            .contains(&format!("\n* * * * * AIOS_HOME={home} {BIN} tick -q\n")),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("aios never edits your crontab"));
    assert!(out.stdout.contains(&format!(
        "[Service]\nType=oneshot\nEnvironment=AIOS_HOME={home}\nExecStart={BIN} tick -q\n"
    )));
    assert!(
        out.stdout
            .contains("OnCalendar=*-*-* *:*:00\nPersistent=true")
    );
    assert!(
        out.stdout
            .contains("systemctl --user enable --now aios-tick.timer")
    );
    // Printing writes nothing.
    assert!(!t.join(".config/systemd").exists());
}

#[test]
fn schedule_install_write_installs_the_user_units_only() {
    let t = Test::new();
    let out = t.aios(&["schedule", "install", "--write"]).success();
    let dir = t.join(".config/systemd/user");
    let service = std::fs::read_to_string(dir.join("aios-tick.service")).unwrap();
    let timer = std::fs::read_to_string(dir.join("aios-tick.timer")).unwrap();
    assert!(service.contains(&format!("ExecStart={BIN} tick -q")));
    assert!(timer.contains("WantedBy=timers.target"));
    assert!(out.stdout.contains(&format!(
        "written: {}",
        dir.join("aios-tick.timer").display()
    )));
    // The crontab line is still only printed.
    assert!(out.stdout.contains("* * * * * AIOS_HOME="));
    t.aios(&["schedule", "install", "--write"])
        .success()
        .stdout_contains("unchanged: ");
    // XDG_CONFIG_HOME is respected.
    let xdg = t.join("xdg");
    t.args(&["schedule", "install", "--write"])
        .env("XDG_CONFIG_HOME", &xdg.display().to_string())
        .run()
        .success();
    assert_eq!(
        std::fs::read_to_string(xdg.join("systemd/user/aios-tick.service")).unwrap(),
        service
    );
}
