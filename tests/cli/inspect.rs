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
    t.aios(&["inbox", "list", "--all"]).success().stdout_is(
        "   ID  KIND         RUN  WORKFLOW  STEP    AGE  SUMMARY
    1  action         1  rj        w        0s  [approved] write w.txt (2 bytes)
    2  action         1  rj        s        0s  [pending] write s.txt (5 bytes)
",
    );
    let all = t
        .aios(&["inbox", "list", "--all", "--json"])
        .success()
        .json();
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert_eq!(all[0]["status"], "approved");
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
    t.aios(&["inbox", "show", "1"]).success().stdout_is(&format!(
        "inbox 1 · action · pending
run 1 (rj) · step w · attempt 1 · created {NOW}

action
  write w.txt
    in {root}
    2 bytes:
    │ hi

next: aios approve 1 · aios approve 1 --edit FILE (from: aios inbox show 1 --action) · aios reject 1 --reason \"...\"
"
    ));
    let action = t.aios(&["inbox", "show", "1", "--action"]).success().json();
    assert_eq!(
        action,
        serde_json::json!({ "kind": "file", "root": root, "path": "w.txt", "content": "hi", "append": false })
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
