//! Schedules when things go wrong: clocks that moved back (AIOS_NOW dry runs ahead
//! of the real clock), a schedule that cannot fire (the tick goes on with the rest),
//! and notices that say exactly what became of missed instants.

use serde_json::Value as Json;

use crate::schedule::{add_at, at, daily, fires, gated, runs, tick, types};
use crate::support::Test;

fn notices(t: &Test, now: &str) -> Vec<Json> {
    at(t, now, &["inbox", "list", "--json"])
        .success()
        .json()
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "notice")
        .cloned()
        .collect()
}

fn sql(t: &Test, statement: &str) {
    t.sql(statement);
}

#[test]
fn pause_and_resume_with_the_clock_behind_the_last_fire_decide_no_instant_twice() {
    let t = Test::new().write("daily.toml", &daily("latest", "skip"));
    add_at(&t, "daily.toml", "2026-11-20T12:00:00Z");
    // A dry run with the clock ahead fires the 21st...
    assert_eq!(types(&tick(&t, "2026-11-21T09:01:00Z")), ["fired"]);
    // ...then pause and resume on the real clock, which reads earlier.
    at(&t, "2026-11-20T13:00:00Z", &["schedule", "pause", "daily"]).success();
    at(&t, "2026-11-20T13:00:00Z", &["schedule", "resume", "daily"]).success();
    let list = at(&t, "2026-11-20T13:00:00Z", &["schedule", "list", "--json"])
        .success()
        .json();
    assert_eq!(list[0]["next_fire"], "2026-11-22T09:00:00Z");
    // The 21st is not decided again; the 22nd fires on time.
    at(&t, "2026-11-21T09:02:00Z", &["tick"])
        .success()
        .stdout_is("");
    assert_eq!(types(&tick(&t, "2026-11-22T09:00:00Z")), ["fired"]);
    assert_eq!(runs(&t).len(), 2);
}

#[test]
fn remove_and_add_again_with_the_clock_behind_decide_no_instant_twice() {
    let t = Test::new().write("daily.toml", &daily("latest", "skip"));
    add_at(&t, "daily.toml", "2026-11-20T12:00:00Z");
    assert_eq!(types(&tick(&t, "2026-11-21T09:01:00Z")), ["fired"]);
    at(&t, "2026-11-20T13:00:00Z", &["schedule", "remove", "daily"]).success();
    add_at(&t, "daily.toml", "2026-11-20T13:00:00Z");
    at(&t, "2026-11-21T09:02:00Z", &["tick"])
        .success()
        .stdout_is("");
    assert_eq!(runs(&t).len(), 1);
}

#[test]
fn a_cursor_left_behind_a_fired_instant_by_an_older_aios_is_repaired() {
    let t = Test::new().write("daily.toml", &daily("latest", "skip"));
    add_at(&t, "daily.toml", "2026-11-18T12:00:00Z");
    assert_eq!(types(&tick(&t, "2026-11-19T09:00:30Z")), ["fired"]);
    // What `schedule resume` of an older aios left when the clock read earlier.
    let back = "2026-11-18T12:00:00Z"
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_millisecond();
    sql(
        &t,
        &format!("UPDATE schedules SET cursor = {back}, next_due = {back} + 75600000"),
    );
    // The 19th is not decided (nor counted) again: the 20th and 21st were missed.
    at(&t, "2026-11-21T12:00:00Z", &["tick"])
        .success()
        .stdout_is(
            "skipped daily (2026-11-20T09:00:00Z): missed while nothing ticked; a later fire runs instead (catch_up = \"latest\")\n\
             fired daily (2026-11-21T09:00:00Z): run 2 succeeded\n\
             2 runs of daily were missed while nothing ticked; ran the one of 2026-11-21T09:00:00Z (run 2); skipped 1 (catch_up = \"latest\") (inbox 1)\n",
        );
    assert_eq!(runs(&t).len(), 2);
}

#[test]
fn a_missed_instant_skipped_for_overlap_is_not_said_to_have_run() {
    let t = Test::new().write("gated.toml", &gated("skip"));
    add_at(&t, "gated.toml", "2026-11-20T12:00:00Z");
    assert_eq!(types(&tick(&t, "2026-11-21T09:00:00Z")), ["fired"]);
    // Run 1 waits at its gate; nothing ticks for three days.
    let r = tick(&t, "2026-11-24T12:00:00Z");
    assert_eq!(types(&r), ["skipped", "skipped", "skipped", "notice"]);
    let expected = "3 runs of gated were missed while nothing ticked; ran none of them; \
        skipped the one of 2026-11-24T09:00:00Z: run 1 was still going (overlap = \"skip\"); \
        skipped 2 (catch_up = \"latest\")";
    assert_eq!(r["items"][3]["summary"], expected);
    assert_eq!(r["missed"][0]["ran"], Json::Null);
    assert_eq!(r["missed"][0]["skipped_overlap"][0]["running"], 1);
    let n = notices(&t, "2026-11-24T12:00:00Z");
    assert_eq!(n.len(), 1, "{n:?}");
    assert_eq!(n[0]["summary"], expected);
    assert_eq!(runs(&t).len(), 1);
}

#[test]
fn a_notice_of_catch_up_all_names_every_run() {
    let t = Test::new().write("daily.toml", &daily("all", "skip"));
    add_at(&t, "daily.toml", "2026-11-18T12:00:00Z");
    let r = tick(&t, "2026-11-21T12:00:00Z");
    assert_eq!(
        r["missed"][0]["summary"],
        "3 runs of daily were missed while nothing ticked; ran all 3 (runs 1, 2, 3)"
    );
}

/// A set step, a wait step that ends at 2026-11-21T09:00Z and a gate whose deadline
/// passes then: with a daily schedule, everything a tick at 09:00 does.
const COOL: &str = r#"
name = "cool"
[[steps]]
id = "cool_off"
kind = "wait"
duration = "1d"
"#;

const GATE: &str = r#"
name = "gate"
[[steps]]
id = "go"
kind = "approval"
title = "Ship it?"
timeout = "1d"
on_timeout = "reject"
"#;

#[test]
fn a_schedule_that_cannot_fire_does_not_stop_the_tick() {
    let t = Test::new()
        .write(
            "broken.toml",
            &daily("latest", "skip").replace("\"daily\"", "\"broken\""),
        )
        .write("daily.toml", &daily("latest", "skip"))
        .write("cool.toml", COOL)
        .write("gate.toml", GATE);
    add_at(&t, "broken.toml", "2026-11-20T09:00:00Z");
    add_at(&t, "daily.toml", "2026-11-20T09:00:00Z");
    at(&t, "2026-11-20T09:00:00Z", &["run", "cool.toml", "-q"]).success();
    at(&t, "2026-11-20T09:00:00Z", &["run", "gate.toml", "-q"]).success();
    // The zone of `broken` left the system's time zone database since it was added.
    sql(
        &t,
        "UPDATE schedules SET timezone = 'Gone/Zone' WHERE name = 'broken'",
    );
    let now = "2026-11-21T09:00:30Z";
    let r = at(&t, now, &["tick", "--json"]).code(1).json();
    // The deadline, the other schedule, the wait step: all done; the failure reported.
    assert_eq!(
        types(&r),
        [
            "timed_out",
            "error",
            "fired",
            "continued",
            "continued",
            "notice"
        ],
        "{r}"
    );
    let err = &r["items"][1];
    assert_eq!(err["schedule"], "broken");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("unknown time zone `Gone/Zone`"),
        "{err}"
    );
    assert_eq!(r["items"][2]["schedule"], "daily");
    assert_eq!(r["items"][2]["status"], "succeeded");
    assert_eq!(r["items"][3]["run_id"], 1);
    assert_eq!(r["items"][3]["status"], "succeeded");
    assert_eq!(t.show(2)["status"], "failed");
    assert!(
        t.show(2)["steps"][0]["error"]
            .as_str()
            .unwrap()
            .contains("on_timeout = \"reject\""),
    );
    let n = notices(&t, now);
    assert_eq!(n.len(), 1, "{n:?}");
    assert!(
        n[0]["summary"]
            .as_str()
            .unwrap()
            .starts_with("schedule broken could not fire: schedule `broken` no longer loads"),
        "{n:?}"
    );
    // The next tick fails the same way: exit 1 again, no second notice; the text
    // output says what and how to fix it.
    let out = at(&t, "2026-11-21T09:01:00Z", &["tick"]).code(1);
    assert!(
        out.stdout
            .starts_with("error: schedule broken: schedule `broken` no longer loads"),
        "{}",
        out.stdout
    );
    assert_eq!(notices(&t, now).len(), 1);
    // The hint is a command that runs as written.
    let hint = err["hint"].as_str().unwrap();
    let cmd = hint
        .split("with: aios ")
        .nth(1)
        .expect("a command in the hint");
    assert!(
        out.stdout.contains(&format!("hint: {hint}\n")),
        "{}",
        out.stdout
    );
    let args: Vec<&str> = cmd.split_whitespace().collect();
    at(&t, "2026-11-21T09:02:00Z", &args)
        .success()
        .stdout_contains("schedule broken updated");
    assert_eq!(types(&tick(&t, "2026-11-21T09:03:00Z")), ["fired"]);
}

#[test]
fn an_unexpected_database_error_hints_a_command_that_runs_as_written() {
    let t = Test::new().write("daily.toml", &daily("latest", "skip"));
    add_at(&t, "daily.toml", "2026-11-20T12:00:00Z");
    // A fire row the cursor does not know about cannot be written twice: the
    // insert fails in the database (any such failure is a bug, and says so).
    sql(
        &t,
        if crate::support::on_postgres() {
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN RAISE EXCEPTION 'refused by a test'; END $$; \
             CREATE TRIGGER refuse BEFORE INSERT ON fires FOR EACH ROW EXECUTE FUNCTION refuse();"
        } else {
            "CREATE TRIGGER refuse BEFORE INSERT ON fires BEGIN SELECT RAISE(ABORT, 'refused by a test'); END;"
        },
    );
    let out = at(&t, "2026-11-21T09:00:00Z", &["tick"]).code(1);
    assert!(
        out.stdout.contains(
            "error: schedule daily: database error: refused by a test\nhint: this is likely a bug in aios: check the journal with `aios replay` and report both outputs\n"
        ),
        "{}",
        out.stdout
    );
    t.aios(&["replay"]).success();
}

#[test]
fn instants_older_than_the_window_are_in_recent_fires() {
    let t = Test::new().write(
        "daily.toml",
        &daily("all", "skip").replace("inputs = {", "catch_up_window = \"2d\"\ninputs = {"),
    );
    add_at(&t, "daily.toml", "2026-11-01T12:00:00Z");
    at(&t, "2026-11-21T12:00:00Z", &["tick"])
        .success()
        .stdout_contains("skipped daily: 18 instants older than its catch_up_window (2d)\n");
    let f = fires(&t, "2026-11-21T12:00:00Z");
    let row = |f: &Json| {
        (
            f["due_at"].as_str().unwrap().to_string(),
            f["status"].as_str().unwrap().to_string(),
            f["instants"].as_u64().unwrap(),
            f["first_due_at"].as_str().unwrap().to_string(),
        )
    };
    let rows: Vec<_> = f.iter().map(row).collect();
    assert_eq!(
        rows,
        [
            (
                "2026-11-21T09:00:00Z".into(),
                "started".into(),
                1,
                "2026-11-21T09:00:00Z".into()
            ),
            (
                "2026-11-20T09:00:00Z".into(),
                "started".into(),
                1,
                "2026-11-20T09:00:00Z".into()
            ),
            (
                "2026-11-19T09:00:00Z".into(),
                "skipped".into(),
                18,
                "2026-11-02T09:00:00Z".into()
            ),
        ]
    );
    assert_eq!(f[2]["reason"], "older than the catch_up_window (2d)");
    assert_eq!(f[2]["run_id"], Json::Null);
}
