//! Schedules: registry, `tick` (catch-up, overlap, DST, concurrency), `daemon`.
//! Time is driven by AIOS_NOW only.

use serde_json::Value as Json;

use crate::support::{Output, Test};

/// A daily 09:00 UTC schedule whose run succeeds at once.
pub(crate) fn daily(catch_up: &str, overlap: &str) -> String {
    format!(
        r#"
name = "daily"

[inputs.offer]
type = "string"

[trigger]
cron = "0 9 * * *"
timezone = "UTC"
catch_up = "{catch_up}"
overlap = "{overlap}"
inputs = {{ offer = "weekly digest" }}

[[steps]]
id = "a"
kind = "set"
values = {{ offer = "{{{{ inputs.offer }}}}" }}
"#
    )
}

/// A daily schedule whose run waits at an approval gate (stays active).
pub(crate) fn gated(overlap: &str) -> String {
    format!(
        r#"
name = "gated"

[trigger]
cron = "0 9 * * *"
timezone = "UTC"
overlap = "{overlap}"

[[steps]]
id = "go"
kind = "approval"
title = "go?"
"#
    )
}

pub(crate) fn at(t: &Test, now: &str, args: &[&str]) -> Output {
    t.args(args).env("AIOS_NOW", now).run()
}

/// `aios schedule add FILE` at the instant `now`.
pub(crate) fn add_at(t: &Test, file: &str, now: &str) {
    at(t, now, &["schedule", "add", file]).success();
}

pub(crate) fn tick(t: &Test, now: &str) -> Json {
    at(t, now, &["tick", "--json"]).success().json()
}

pub(crate) fn fires(t: &Test, now: &str) -> Vec<Json> {
    let list = at(t, now, &["schedule", "list", "--json"]).success().json();
    list[0]["recent_fires"].as_array().unwrap().clone()
}

pub(crate) fn runs(t: &Test) -> Vec<Json> {
    t.aios(&["runs", "--json"])
        .success()
        .json()
        .as_array()
        .unwrap()
        .clone()
}

pub(crate) fn types(report: &Json) -> Vec<String> {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn add_list_and_fire_on_time_with_trigger_inputs() {
    let t = Test::new().write("daily.toml", &daily("latest", "skip"));
    at(
        &t,
        "2026-11-20T12:00:00Z",
        &["schedule", "add", "daily.toml"],
    )
    .success()
    .stdout_is("schedule daily added (0 9 * * * UTC); next fire 2026-11-21 09:00 UTC\n");
    // Nothing due yet: a tick does nothing and prints nothing.
    at(&t, "2026-11-21T08:59:00Z", &["tick"])
        .success()
        .stdout_is("");
    let r = tick(&t, "2026-11-21T09:00:30Z");
    assert_eq!(types(&r), ["fired"]);
    assert_eq!(r["items"][0]["status"], "succeeded");
    let show = t.show(1);
    assert_eq!(show["inputs"]["offer"], "weekly digest");
    let list = at(&t, "2026-11-21T09:01:00Z", &["schedule", "list", "--json"])
        .success()
        .json();
    assert_eq!(list[0]["next_fire"], "2026-11-22T09:00:00Z");
    assert_eq!(list[0]["last_fire"]["run_status"], "succeeded");
    assert_eq!(list[0]["health"], "ok");
    at(&t, "2026-11-21T09:01:00Z", &["schedule", "list"])
        .success()
        .stdout_contains("2026-11-22 09:00 UTC")
        .stdout_contains("succeeded (run 1)");
    // The same instant never fires twice.
    assert_eq!(
        types(&tick(&t, "2026-11-21T09:02:00Z")),
        Vec::<String>::new()
    );
    assert_eq!(runs(&t).len(), 1);
}

#[test]
fn runs_use_the_snapshot_taken_at_add() {
    let t = Test::new().write("daily.toml", &daily("latest", "skip"));
    add_at(&t, "daily.toml", "2026-11-20T12:00:00Z");
    t.put("daily.toml", "this is not a workflow any more");
    assert_eq!(
        tick(&t, "2026-11-21T09:00:00Z")["items"][0]["status"],
        "succeeded"
    );
}

#[test]
fn missed_fires_latest_runs_only_the_last_one() {
    let t = Test::new().write("daily.toml", &daily("latest", "skip"));
    add_at(&t, "daily.toml", "2026-11-17T12:00:00Z");
    // The machine was off from Tuesday noon to Saturday noon: 4 instants missed.
    at(&t, "2026-11-21T12:00:00Z", &["tick"])
        .success()
        .stdout_contains("4 runs of daily were missed while nothing ticked; ran the one of 2026-11-21T09:00:00Z (run 1); skipped 3 (catch_up = \"latest\")");
    assert_eq!(runs(&t).len(), 1);
    let f = fires(&t, "2026-11-21T12:00:00Z");
    let statuses: Vec<&str> = f.iter().map(|f| f["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["started", "skipped", "skipped", "skipped"]);
    assert!(
        f[1]["reason"]
            .as_str()
            .unwrap()
            .contains("catch_up = \"latest\"")
    );
}

#[test]
fn missed_fires_none_runs_nothing_and_all_runs_each() {
    let t = Test::new().write("daily.toml", &daily("none", "skip"));
    add_at(&t, "daily.toml", "2026-11-17T12:00:00Z");
    let r = tick(&t, "2026-11-21T12:00:00Z");
    assert_eq!(
        types(&r),
        ["skipped", "skipped", "skipped", "skipped", "notice"]
    );
    assert_eq!(r["missed"][0]["count"], 4);
    assert!(runs(&t).is_empty());

    let t = Test::new().write("daily.toml", &daily("all", "skip"));
    add_at(&t, "daily.toml", "2026-11-17T12:00:00Z");
    let r = tick(&t, "2026-11-21T12:00:00Z");
    assert_eq!(types(&r), ["fired", "fired", "fired", "fired", "notice"]);
    assert_eq!(r["items"][0]["due_at"], "2026-11-18T09:00:00Z");
    assert_eq!(runs(&t).len(), 4);
}

#[test]
fn fires_older_than_the_window_are_skipped_and_counted() {
    let t = Test::new().write(
        "daily.toml",
        &daily("all", "skip").replace("inputs = {", "catch_up_window = \"2d\"\ninputs = {"),
    );
    add_at(&t, "daily.toml", "2026-11-01T12:00:00Z");
    let r = tick(&t, "2026-11-21T12:00:00Z");
    assert_eq!(r["items"][0]["type"], "skipped_old");
    assert_eq!(r["items"][0]["count"], 18);
    assert_eq!(types(&r)[1..], ["fired", "fired", "notice"]);
}

#[test]
fn dst_gap_fires_once_after_the_gap_and_repeated_hour_once() {
    let wf = r#"
name = "night"
[trigger]
cron = "30 2 * * *"
timezone = "Europe/Berlin"
[[steps]]
id = "a"
kind = "set"
values = { x = 1 }
"#;
    let t = Test::new().write("night.toml", wf);
    at(
        &t,
        "2026-03-28T12:00:00Z",
        &["schedule", "add", "night.toml"],
    )
    .success()
    .stdout_contains("next fire 2026-03-29 03:00 CEST");
    // 02:30 does not exist on 2026-03-29; it fires at 03:00 CEST = 01:00Z, once.
    assert!(types(&tick(&t, "2026-03-29T00:59:00Z")).is_empty());
    let r = tick(&t, "2026-03-29T01:00:00Z");
    assert_eq!(r["items"][0]["due_at"], "2026-03-29T01:00:00Z");
    assert!(types(&tick(&t, "2026-03-29T01:30:00Z")).is_empty());

    // 2026-10-25: 02:30 happens twice (CEST, then CET); it fires once.
    let t = Test::new().write("night.toml", wf);
    add_at(&t, "night.toml", "2026-10-24T12:00:00Z");
    let mut fired = 0;
    for now in [
        "2026-10-25T00:30:00Z",
        "2026-10-25T01:00:00Z",
        "2026-10-25T01:30:00Z",
        "2026-10-25T02:00:00Z",
    ] {
        fired += types(&tick(&t, now)).len();
    }
    assert_eq!(fired, 1);
    assert_eq!(runs(&t).len(), 1);
}

#[test]
fn ten_concurrent_ticks_fire_each_instant_once() {
    let t = Test::new()
        .write("daily.toml", &daily("all", "allow"))
        .write(
            "other.toml",
            &daily("latest", "allow").replace("name = \"daily\"", "name = \"other\""),
        );
    add_at(&t, "daily.toml", "2026-11-18T12:00:00Z");
    add_at(&t, "other.toml", "2026-11-18T12:00:00Z");
    let ticks: Vec<_> = (0..10)
        .map(|_| {
            t.args(&["tick", "--json"])
                .env("AIOS_NOW", "2026-11-21T09:00:00Z")
                .spawn()
        })
        .collect();
    for b in ticks {
        b.wait().success();
    }
    // daily: 19th, 20th, 21st (all); other: the 21st only (latest).
    let all = runs(&t);
    assert_eq!(all.len(), 4, "{all:?}");
    let f = fires(&t, "2026-11-21T09:00:00Z");
    let mut due: Vec<&str> = f.iter().map(|f| f["due_at"].as_str().unwrap()).collect();
    due.sort();
    due.dedup();
    assert_eq!(due.len(), 3);
    assert!(all.iter().all(|r| r["status"] == "succeeded"));
}

#[test]
fn overlap_skip_and_allow() {
    let t = Test::new().write("gated.toml", &gated("skip"));
    add_at(&t, "gated.toml", "2026-11-20T12:00:00Z");
    assert_eq!(
        tick(&t, "2026-11-21T09:00:00Z")["items"][0]["status"],
        "waiting"
    );
    let r = tick(&t, "2026-11-22T09:00:00Z");
    assert_eq!(types(&r), ["skipped"]);
    assert!(
        r["items"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("run 1 of this schedule is still going")
    );
    assert_eq!(runs(&t).len(), 1);

    let t = Test::new().write("gated.toml", &gated("allow"));
    add_at(&t, "gated.toml", "2026-11-20T12:00:00Z");
    tick(&t, "2026-11-21T09:00:00Z");
    assert_eq!(types(&tick(&t, "2026-11-22T09:00:00Z")), ["fired"]);
    assert_eq!(runs(&t).len(), 2);
}

#[test]
fn overlap_queue_starts_when_the_previous_run_is_done() {
    let t = Test::new().write("gated.toml", &gated("queue"));
    add_at(&t, "gated.toml", "2026-11-20T12:00:00Z");
    tick(&t, "2026-11-21T09:00:00Z");
    assert_eq!(types(&tick(&t, "2026-11-22T09:00:00Z")), ["queued"]);
    // Still waiting: the queued fire stays queued.
    assert!(types(&tick(&t, "2026-11-22T09:05:00Z")).is_empty());
    at(&t, "2026-11-22T09:06:00Z", &["approve", "1"]).success();
    let r = tick(&t, "2026-11-22T09:07:00Z");
    assert_eq!(types(&r), ["fired"]);
    assert_eq!(r["items"][0]["from_queue"], true);
    assert_eq!(r["items"][0]["due_at"], "2026-11-22T09:00:00Z");
    assert_eq!(runs(&t).len(), 2);
}

#[test]
fn overlap_cancel_running_cancels_the_previous_run() {
    let t = Test::new().write("gated.toml", &gated("cancel_running"));
    add_at(&t, "gated.toml", "2026-11-20T12:00:00Z");
    tick(&t, "2026-11-21T09:00:00Z");
    let r = tick(&t, "2026-11-22T09:00:00Z");
    assert_eq!(types(&r), ["cancelled", "fired"]);
    assert_eq!(t.show(1)["status"], "cancelled");
    assert_eq!(t.show(2)["status"], "waiting");
}

#[test]
fn tick_continues_a_run_decided_with_no_resume() {
    let wf = r#"
name = "gate"
[[steps]]
id = "go"
kind = "approval"
title = "go?"
[[steps]]
id = "after"
kind = "set"
values = { done = true }
"#;
    let t = Test::new().write("gate.toml", wf);
    t.aios(&["run", "gate.toml"]).success();
    t.aios(&["approve", "1", "--no-resume"]).success();
    let r = t.aios(&["tick", "--json"]).success().json();
    assert_eq!(types(&r), ["continued"]);
    assert_eq!(t.show(1)["status"], "succeeded");
}

#[test]
fn pause_resume_remove() {
    let t = Test::new().write("daily.toml", &daily("all", "skip"));
    add_at(&t, "daily.toml", "2026-11-20T12:00:00Z");
    at(&t, "2026-11-20T12:00:00Z", &["schedule", "pause", "daily"])
        .success()
        .stdout_is("schedule daily paused\n");
    assert!(types(&tick(&t, "2026-11-21T09:00:00Z")).is_empty());
    let list = at(&t, "2026-11-21T09:00:00Z", &["schedule", "list", "--json"])
        .success()
        .json();
    assert_eq!(list[0]["health"], "paused");
    // Instants that passed while paused are not run after resume.
    at(&t, "2026-11-21T12:00:00Z", &["schedule", "resume", "daily"])
        .success()
        .stdout_is("schedule daily resumed\n");
    assert!(types(&tick(&t, "2026-11-21T12:01:00Z")).is_empty());
    assert_eq!(types(&tick(&t, "2026-11-22T09:00:00Z")), ["fired"]);
    t.aios(&["schedule", "remove", "daily"]).success();
    t.aios(&["schedule", "list"])
        .success()
        .stdout_contains("no schedules");
    t.aios(&["schedule", "pause", "daily"])
        .code(3)
        .stderr_contains("no schedule `daily`");
}

#[test]
fn late_and_failing_schedules_are_flagged() {
    let t = Test::new().write("daily.toml", &daily("latest", "skip"));
    add_at(&t, "daily.toml", "2026-11-20T12:00:00Z");
    let list = at(&t, "2026-11-21T10:00:00Z", &["schedule", "list", "--json"])
        .success()
        .json();
    assert_eq!(list[0]["health"], "late");
    // Nothing ticks, so the inbox says so (once per overdue instant).
    for _ in 0..2 {
        let items = at(&t, "2026-11-21T10:00:00Z", &["inbox", "list", "--json"])
            .success()
            .json();
        let items = items.as_array().unwrap();
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(items[0]["kind"], "notice");
        assert!(
            items[0]["summary"]
                .as_str()
                .unwrap()
                .starts_with("schedule daily has not fired since 2026-11-21T09:00:00Z"),
            "{items:?}"
        );
    }
    assert!(
        list[0]["health_detail"]
            .as_str()
            .unwrap()
            .contains("is `aios tick` running")
    );

    let failing = r#"
name = "flaky"
[trigger]
cron = "0 9 * * *"
timezone = "UTC"
[[steps]]
id = "a"
kind = "set"
values = { x = "{{ inputs.missing }}" }
"#;
    let t = Test::new().write("flaky.toml", failing);
    // `inputs.missing` is caught at load time: use a runtime failure instead.
    t.aios(&["schedule", "add", "flaky.toml"]).code(2);
    let failing = failing.replace("{{ inputs.missing }}", "{{ run.id / 0 }}");
    t.put("flaky.toml", &failing);
    add_at(&t, "flaky.toml", "2026-11-20T12:00:00Z");
    for day in ["21", "22", "23"] {
        tick(&t, &format!("2026-11-{day}T09:00:00Z"));
    }
    let list = at(&t, "2026-11-23T09:01:00Z", &["schedule", "list", "--json"])
        .success()
        .json();
    assert_eq!(list[0]["health"], "failing", "{list}");
    // The streak is in the inbox once, however many ticks see it.
    at(&t, "2026-11-23T09:05:00Z", &["tick"]).success();
    let items = t.inbox();
    let notices: Vec<&Json> = items.iter().filter(|i| i["kind"] == "notice").collect();
    assert_eq!(notices.len(), 1, "{items:?}");
    assert_eq!(
        notices[0]["summary"],
        "schedule flaky is failing: its last 3 runs failed (runs 3, 2, 1)"
    );
}

#[test]
fn missed_fires_leave_a_notice_in_the_inbox_until_acknowledged() {
    let t = Test::new().write("daily.toml", &daily("latest", "skip"));
    add_at(&t, "daily.toml", "2026-11-17T12:00:00Z");
    at(&t, "2026-11-21T12:00:00Z", &["tick"])
        .success()
        .stdout_contains(
            "4 runs of daily were missed while nothing ticked; ran the one of 2026-11-21T09:00:00Z (run 1); skipped 3 (catch_up = \"latest\") (inbox 1)",
        );
    let items = t.inbox();
    assert_eq!(items.len(), 1, "{items:?}");
    let n = &items[0];
    assert_eq!(n["kind"], "notice");
    assert_eq!(n["id"], 1);
    assert_eq!(n["run_id"], Json::Null);
    assert_eq!(n["step_id"], Json::Null);
    assert_eq!(n["schedule"], "daily");
    t.aios(&["inbox", "list"])
        .success()
        .stdout_contains("    1  notice         -  daily");
    t.aios(&["inbox", "show", "1"])
        .success()
        .stdout_contains("schedule daily")
        .stdout_contains("4 runs of daily were missed")
        .stdout_contains("aios approve 1 (acknowledge it)");
    t.aios(&["approve", "1", "--field", "x=1"]).code(2);
    t.aios(&["approve", "1"])
        .success()
        .stdout_is("notice 1 about schedule daily acknowledged\n");
    t.aios(&["approve", "1"])
        .code(4)
        .stderr_contains("notice 1 was already acknowledged by");
    assert!(t.inbox().is_empty());
    t.aios(&["inbox", "list", "--all", "--json"])
        .success()
        .stdout_contains("\"notice\"");
    // Notice events are journaled under run 0 and stay out of every run's replay.
    t.aios(&["replay"]).success();
}

#[test]
fn bad_triggers_are_refused_with_a_diagnostic() {
    let t = Test::new()
        .write("none.toml", "name = \"x\"\n[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = { a = 1 }\n")
        .write("cron.toml", "name = \"x\"\n[trigger]\ncron = \"0 9 * *\"\ntimezone = \"Mars/Base\"\novrelap = \"skip\"\n[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = { a = 1 }\n")
        .write("inputs.toml", "name = \"x\"\n[trigger]\ncron = \"@daily\"\ninputs = { nope = 1 }\n[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = { a = 1 }\n");
    t.aios(&["schedule", "add", "none.toml"])
        .code(2)
        .stderr_contains("workflow `x` has no [trigger] table");
    t.aios(&["schedule", "add", "cron.toml"])
        .code(2)
        .stderr_contains("a cron expression has 5 fields")
        .stderr_contains("unknown time zone `Mars/Base`")
        .stderr_contains("did you mean `overlap`?");
    t.aios(&["check", "cron.toml"]).code(2);
    t.aios(&["schedule", "add", "inputs.toml"])
        .code(2)
        .stderr_contains("unknown input `nope`");
    t.aios(&["schedule", "add", "missing.toml"]).code(3);
    t.aios(&["schedule", "list"])
        .success()
        .stdout_contains("no schedules");
}

#[test]
fn daemon_ticks_and_stops_after_n_ticks() {
    let t = Test::new().write("daily.toml", &daily("latest", "skip"));
    add_at(&t, "daily.toml", "2026-11-20T12:00:00Z");
    at(&t, "2026-11-21T09:00:00Z", &["daemon", "--ticks", "1"])
        .success()
        .stdout_contains("fired daily (2026-11-21T09:00:00Z): run 1 succeeded")
        .stderr_contains("aios daemon: stopped");
    t.aios(&["daemon", "--every", "0s"]).code(2);
}

#[test]
fn daemon_stops_gracefully_on_sigterm_and_is_single_instance() {
    let t = Test::new();
    let d = t.args(&["daemon", "--every", "1h"]).spawn();
    let pid = d.pid().to_string();
    let lock = t.join("daemon.lock");
    crate::support::wait_until("the daemon holds its lock", || {
        std::fs::read_to_string(&lock).is_ok_and(|s| s.trim() == pid)
    });
    t.aios(&["daemon", "--ticks", "1"])
        .code(4)
        .stderr_contains("another aios daemon already runs");
    unsafe { libc::kill(d.pid() as i32, libc::SIGTERM) };
    d.wait().success().stderr_contains("aios daemon: stopped");
}
