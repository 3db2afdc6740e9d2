//! Read-only views: `show`, `inbox list|show`, `log`, colour and broken pipes.

use crate::support::{NOW, Test, keys, sorted};

const WF: &str = r#"
name = "rj"

[[steps]]
id = "w"
kind = "file"
path = "w.txt"
content = "hi"

[[steps]]
id = "s"
kind = "file"
path = "s.txt"
content = "there"
"#;

/// A run waiting on item 1 (step `w`), with a fixed clock.
fn waiting() -> Test {
    let t = Test::new().write("rj.toml", WF).env("AIOS_NOW", NOW);
    t.aios(&["run", "rj.toml"]).success();
    t
}

#[test]
fn inbox_list_prints_a_table_and_inbox_defaults_to_it() {
    let t = waiting();
    let table = "   ID  KIND         RUN  WORKFLOW  STEP    AGE  SUMMARY
    1  action         1  rj        w        0s  write w.txt (2 bytes)
";
    t.aios(&["inbox", "list"]).success().stdout_is(table);
    t.aios(&["inbox"]).success().stdout_is(table);
    t.aios(&["approve", "1"]).success();
    // Who decided each item is in the list.
    t.aios(&["inbox", "list", "--all"])
        .success()
        .stdout_is(&format!(
            "   ID  KIND         RUN  WORKFLOW  STEP    AGE  SUMMARY
    2  action         1  rj        s        0s  [pending] write s.txt (5 bytes)
    1  action         1  rj        w        0s  [approved by operator@{}] write w.txt (2 bytes)
",
            crate::support::hostname()
        ));
    let all = t
        .aios(&["inbox", "list", "--all", "--json"])
        .success()
        .json();
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert_eq!(all[1]["status"], "approved");
    t.aios(&["approve", "2"]).success();
    t.aios(&["inbox"])
        .success()
        .stdout_is("inbox is empty: nothing waits for you\n");
    assert_eq!(
        t.aios(&["inbox", "list", "--json"]).success().json(),
        serde_json::json!([])
    );
}

#[test]
fn inbox_show_prints_the_exact_action_and_what_to_do() {
    let t = waiting();
    let root = t.path().display().to_string();
    t.aios(&["inbox", "show", "1"])
        .success()
        .stdout_is(&format!(
            "inbox 1 · action · pending
run 1 (rj) · step w · attempt 1 · created {NOW}

action
  write w.txt
    in {root}
    2 bytes:
    │ hi

next:
  aios approve 1                commit it as proposed
  aios approve 1 --edit FILE    commit your edit of it (start from: aios inbox show 1 --action)
  aios reject 1 --reason \"...\"  reject it, with a reason
"
        ));
    let action = t.aios(&["inbox", "show", "1", "--action"]).success().json();
    assert_eq!(
        action,
        serde_json::json!({ "kind": "file", "root": root, "path": "w.txt", "content": "hi", "mode": "write" })
    );
    let full = t.aios(&["inbox", "show", "1", "--json"]).success().json();
    assert_eq!(
        keys(&full),
        sorted(&[
            "id",
            "kind",
            "run_id",
            "step_id",
            "status",
            "summary",
            "created_at",
            "attempt",
            "workflow",
            "action",
            "edited",
            "evidence",
            "decision",
            "reason",
            "fields",
            "decided_by",
            "stale",
            "snoozed_until",
            "decided_at"
        ])
    );
    assert_eq!(full["action"], action);
    assert_eq!(full["created_at"], NOW);
    t.aios(&["inbox", "show", "1", "--json", "--action"])
        .code(2);
}

#[test]
fn show_prints_steps_and_timeline() {
    let t = waiting();
    let out = t.aios(&["show", "1"]).success();
    let hash_at = out.stdout.find("sha256 ").expect("a source hash") + 7;
    let mut text = out.stdout.clone();
    text.replace_range(hash_at..hash_at + 12, "<hash>");
    assert_eq!(
        text,
        format!(
            "run 1 · rj · waiting
workflow  rj.toml (sha256 <hash>)
created   {NOW}   updated {NOW}

steps
  ? w     file     waiting         inbox 1
  · s     file     pending

timeline
  {NOW}  run created from `rj` (2 steps)
  {NOW}  w: inbox item 1 (action): write w.txt (2 bytes)
  {NOW}  run waiting
"
        )
    );
}

#[test]
fn log_json_lists_typed_events() {
    let t = waiting();
    t.aios(&["approve", "1", "--reason", "looks right"])
        .success();
    let log = t.aios(&["log", "1", "--json"]).success().json();
    let types: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types[0], "run_created");
    assert!(types.contains(&"proposal_decided"), "{types:?}");
    for e in log.as_array().unwrap() {
        assert_eq!(keys(e), sorted(&["seq", "at", "type", "step", "data"]));
        assert_eq!(e["at"], NOW);
    }
    t.aios(&["log", "1"])
        .success()
        .stdout_contains("w: inbox item 1 approved by ")
        .stdout_contains(": looks right\n");
}

#[test]
fn log_0_lists_the_events_of_no_run_and_says_what_run_0_is() {
    let t = Test::new();
    let head = "run 0 is no workflow's run: it holds what happens outside runs (facts set and unset by hand, schedule notices, `aios llm prompt` calls)\n";
    t.aios(&["log", "0"])
        .success()
        .stdout_is(&format!("{head}nothing yet\n"));
    t.aios(&["fact", "set", "customer:acme", "plan", "pro"])
        .success();
    t.aios(&[
        "fact",
        "unset",
        "customer:acme",
        "plan",
        "--note",
        "churned",
    ])
    .success();
    let out = t.aios(&["log", "0"]).success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", out.stdout);
    assert_eq!(format!("{}\n", lines[0]), head);
    assert!(
        lines[1].starts_with(&format!(
            "    1  {NOW}  fact customer:acme plan = \"pro\" set by "
        )) && lines[1].ends_with(" (version 1)"),
        "{}",
        out.stdout
    );
    assert!(
        lines[2].starts_with(&format!("    2  {NOW}  fact customer:acme plan unset by "))
            && lines[2].ends_with(" (version 2)"),
        "{}",
        out.stdout
    );
    let log = t.aios(&["log", "0", "--json"]).success().json();
    let events = log.as_array().unwrap();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["fact_recorded", "fact_unset"]);
    for e in events {
        assert_eq!(keys(e), sorted(&["seq", "at", "type", "step", "data"]));
        assert_eq!(e["step"], serde_json::Value::Null);
        assert_eq!(e["data"]["entity"], "customer:acme");
    }
    assert_eq!(events[1]["data"]["note"], "churned");
    // A run that does not exist is still refused.
    t.aios(&["log", "1"])
        .code(3)
        .stderr_contains("error: no run 1");
}

#[test]
fn no_color_output_has_no_escapes() {
    let t = waiting();
    for args in [
        &["runs"][..],
        &["show", "1"],
        &["inbox"],
        &["inbox", "show", "1"],
        &["log", "1"],
    ] {
        let out = t.aios(args).success();
        assert!(
            !out.stdout.contains('\x1b'),
            "`{args:?}` printed ANSI escapes"
        );
        assert!(
            !out.stderr.contains('\x1b'),
            "`{args:?}` printed ANSI escapes"
        );
    }
    let out = t.aios(&["resume", "99"]).code(3);
    assert!(!out.stderr.contains('\x1b'));
}

#[test]
fn a_closed_stdout_exits_quietly() {
    let t = waiting();
    for args in [
        &["runs"][..],
        &["show", "1", "--json"],
        &["completions", "bash"],
    ] {
        t.args(args).run_closed_stdout().success().stderr_is("");
    }
}

#[test]
fn replay_says_what_it_checked_even_when_there_is_nothing() {
    let t = Test::new().copy("examples/hello.toml", "hello.toml");
    t.aios(&["replay"])
        .success()
        .stdout_is("no runs to replay: the journal holds none yet\n");
    t.aios(&["run", "hello.toml", "-q"]).success();
    t.aios(&["run", "hello.toml", "-q"]).success();
    t.aios(&["replay"]).success().stdout_is(
        "ok run 2: 5 events replay to the stored state\n\
         ok run 1: 5 events replay to the stored state\n\
         replayed 2 runs: the stored state and the events agree\n",
    );
}

/// `aios inbox list` and the TUI share one order, most urgent first: an item whose
/// deadline decides for you comes before older ones without a deadline, and among
/// those the one waiting longest comes first (see `inbox::order`).
#[test]
fn inbox_list_puts_the_most_urgent_first() {
    let t = Test::new()
        .write(
            "w.toml",
            "name = \"w\"\n[[steps]]\nid = \"w\"\nkind = \"file\"\npath = \"w.txt\"\ncontent = \"w\"\n",
        )
        .write(
            "gate.toml",
            "name = \"gate\"\n[[steps]]\nid = \"go\"\nkind = \"approval\"\ntitle = \"Go?\"\ntimeout = \"3d\"\n",
        );
    for (file, at) in [
        ("w.toml", "2026-11-21T09:00:00Z"),
        ("w.toml", "2026-11-21T09:10:00Z"),
        ("gate.toml", "2026-11-21T09:20:00Z"),
    ] {
        t.args(&["run", file]).env("AIOS_NOW", at).run().success();
    }
    let ids: Vec<i64> = t
        .inbox()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [3, 1, 2]);
    let table = t.aios(&["inbox", "list"]).success().stdout;
    let order: Vec<&str> = table.lines().skip(1).map(|l| l.trim_start()).collect();
    assert!(
        order[0].starts_with("3  approval")
            && order[1].starts_with("1  action")
            && order[2].starts_with("2  action"),
        "{table}"
    );
}

/// The `next:` hints fit the item: a gate lists its fields (a required one plainly,
/// an optional one in brackets), as the run's summary and `inbox show` print them.
#[test]
fn next_hints_of_a_gate_list_its_fields() {
    let t = Test::new().write(
        "gate.toml",
        "name = \"gate\"\n[[steps]]\nid = \"go\"\nkind = \"approval\"\ntitle = \"Go?\"\nfields = { date = { type = \"string\" }, n = { type = \"integer\", required = false, default = 3 } }\n",
    );
    t.aios(&["run", "gate.toml"]).success().stdout_contains(
        "next: aios inbox show 1 · aios approve 1 --field date=VALUE [--field n=VALUE] · aios reject 1 --reason \"...\"\n",
    );
    t.aios(&["inbox", "show", "1"]).success().stdout_contains(
        "next:\n  aios approve 1 --field date=VALUE [--field n=VALUE]  fill in its fields and pass the gate\n  aios reject 1 --reason \"...\"                         reject it, with a reason\n",
    );
    // The hint of a missing field is the command to run.
    t.aios(&["approve", "1"]).code(2).stderr_is(
        "error: field `date` is required\nhint: approve it with: aios approve 1 --field date=VALUE [--field n=VALUE] (its fields: aios inbox show 1)\n",
    );
    t.aios(&["approve", "1", "--field", "date=today", "--field", "n=x"])
        .code(2)
        .stderr_contains(
            "error: field `n` must be an integer, got `x` (use a whole number, like 42)\n",
        );
    t.aios(&["approve", "1", "--field", "date=today"]).success();
}
