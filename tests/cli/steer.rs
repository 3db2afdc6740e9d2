//! Steering a run: `aios resume RUN --workflow FILE` continues a failed run on a
//! corrected file (the change journaled with its diff, replayable), and refuses a
//! definition the run's progress does not allow, naming every problem and the rules.

use crate::support::{Test, step, step_statuses};

/// `count` appends a line per run of it (the test counts them); `render` reads a
/// key its input does not have, so it fails when rendered.
const BROKEN: &str = r#"
name = "steer"

[inputs.who]
default = "Ada"

[[steps]]
id = "count"
kind = "shell"
approve = "never"
script = "echo ran >> count.txt; echo '{\"n\": 1}'"
output = "json"

[[steps]]
id = "render"
kind = "set"
values = { greeting = "hello {{ steps.count.output.json.missing.key }}" }

[[steps]]
id = "write"
kind = "file"
approve = "never"
path = "out.txt"
content = "{{ steps.render.output.greeting }} and {{ inputs.who }}"
"#;

fn fixed() -> String {
    BROKEN.replace("output.json.missing.key", "output.json.n")
}

#[test]
fn a_step_failing_on_its_template_is_fixed_in_the_file_and_the_run_continues_on_it() {
    let t = Test::new().write("wf.toml", BROKEN);
    let file = t.join("wf.toml").display().to_string();
    t.aios(&["run", "wf.toml", "-q"]).code(1).stdout_is(&format!(
        "run 1 (steer) failed: step `render` failed\n  render: value `greeting`: undefined value: `steps.count.output.json.missing` is undefined\nfailure item 1 waits in the inbox: aios approve 1 · aios reject 1 --reason \"...\"\nhint: fix the workflow file, then continue the run on it: aios resume 1 --workflow {file}\n"
    ));
    t.put("wf.toml", &fixed());
    let out = t.aios(&["resume", "1", "--workflow", "wf.toml"]).success();
    assert_eq!(out.stdout, "run 1 (steer) succeeded in 0ms: 3 steps\n");
    assert!(
        out.stderr.starts_with(
            "✎ run 1 continues on wf.toml:\n    step `render` changed: it failed, and runs again on the new definition\n"
        ),
        "{}",
        out.stderr
    );
    // The step that succeeded kept its output: it did not run again.
    assert_eq!(t.read("count.txt"), "ran\n");
    assert_eq!(t.read("out.txt"), "hello 1 and Ada");
    // The change is in the log, with its diff, and the projections replay.
    let log = t.aios(&["log", "1"]).success().stdout;
    assert!(
        log.contains("  the run continues on wf.toml, changed by "),
        "{log}"
    );
    assert!(
        log.contains(
            "         - step `render` changed: it failed, and runs again on the new definition\n         --- wf.toml (as run 1 had it)\n         +++ wf.toml\n"
        ),
        "{log}"
    );
    assert!(
        log.contains("         -values = { greeting = \"hello {{ steps.count.output.json.missing.key }}\" }\n         +values = { greeting = \"hello {{ steps.count.output.json.n }}\" }\n"),
        "{log}"
    );
    let json = t.aios(&["log", "1", "--json"]).success().json();
    let changed: Vec<_> = json
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "workflow_changed")
        .collect();
    assert_eq!(changed.len(), 1);
    assert_eq!(
        changed[0]["data"]["previous_hash"].as_str().unwrap().len(),
        64
    );
    t.aios(&["replay", "1"])
        .success()
        .stdout_contains("ok run 1:");
}

#[test]
fn the_new_definition_is_the_runs_snapshot_from_then_on() {
    let t = Test::new().write("wf.toml", BROKEN);
    t.aios(&["run", "wf.toml", "-q"]).code(1);
    // The corrected copy lives elsewhere; the original file stays broken.
    t.put("fixed/wf.toml", &fixed());
    t.aios(&["resume", "1", "--workflow", "fixed/wf.toml", "-q"])
        .success();
    // Relative paths now start in the new file's folder.
    assert_eq!(t.read("fixed/out.txt"), "hello 1 and Ada");
    assert!(!t.join("out.txt").exists());
    // A plain resume later reads the stored snapshot, not the broken file.
    let show = t.show(1);
    assert_eq!(show["status"], "succeeded");
    let log = t.aios(&["log", "1"]).success().stdout;
    assert!(
        log.contains("         - the file: wf.toml -> fixed/wf.toml\n"),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "         - relative paths in steps now start in {} (they started in {})\n",
            t.join("fixed").display(),
            t.path().display()
        )),
        "{log}"
    );
}

#[test]
fn steps_may_be_added_removed_and_change_kind_where_they_have_not_run() {
    let t = Test::new().write("wf.toml", BROKEN);
    t.aios(&["run", "wf.toml", "-q"]).code(1);
    // `render` (failed) becomes a shell step, `write` (never ran) goes, `extra` is new.
    let new = r#"
name = "steer"

[inputs.who]
default = "Ada"

[inputs.lang]
default = "en"

[[steps]]
id = "count"
kind = "shell"
approve = "never"
script = "echo ran >> count.txt; echo '{\"n\": 1}'"
output = "json"

[[steps]]
id = "render"
kind = "shell"
approve = "never"
argv = ["echo", "{{ steps.count.output.json.n }} {{ inputs.lang }}"]

[[steps]]
id = "extra"
kind = "set"
values = { said = "{{ steps.render.output.stdout | trim }}" }
"#;
    t.put("wf.toml", new);
    let out = t
        .aios(&["resume", "1", "--workflow", "wf.toml", "--json"])
        .success();
    let show = out.json();
    assert_eq!(
        step_statuses(&show),
        [
            ("count".to_string(), "succeeded".to_string()),
            ("render".to_string(), "succeeded".to_string()),
            ("extra".to_string(), "succeeded".to_string()),
        ]
    );
    assert_eq!(step(&show, "render")["kind"], "shell");
    assert_eq!(step(&show, "extra")["output"]["said"], "1 en");
    assert_eq!(show["inputs"]["lang"], "en");
    assert_eq!(t.read("count.txt"), "ran\n");
    let log = t.aios(&["log", "1"]).success().stdout;
    for line in [
        "- step `render` changed (now a `shell` step): it failed, and runs again on the new definition",
        "- step `write` removed (it had not run)",
        "- step `extra` added (a `set` step): it runs when what it needs has finished",
        "- input `lang` added with its default \"en\"",
    ] {
        assert!(log.contains(line), "{line}\n{log}");
    }
    t.aios(&["replay"]).success();
}

#[test]
fn a_definition_the_run_cannot_take_is_refused_with_every_problem_and_the_rules() {
    let t = Test::new().write("wf.toml", BROKEN);
    t.aios(&["run", "wf.toml", "-q"]).code(1);
    let bad = fixed()
        .replace("name = \"steer\"", "name = \"renamed\"")
        .replace(
            "[[steps]]\nid = \"count\"\nkind = \"shell\"",
            "[[steps]]\nid = \"counted\"\nkind = \"shell\"",
        )
        .replace("steps.count.", "steps.counted.");
    t.put("bad.toml", &bad);
    t.aios(&["resume", "1", "--workflow", "bad.toml"])
        .code(4)
        .stdout_is("")
        .stderr_is(
            "error: run 1 cannot continue on bad.toml:\n  - the workflow is named `renamed` in bad.toml, but run 1 is a run of `steer`: keep the name\n  - step `count` succeeded: it must stay in the workflow (its output stands, and later steps may read it)\nthe rules: steps that finished (succeeded or skipped) stay, with the same kind, and keep their output (a change to them applies to later runs), and what they need must have finished too; steps in progress (waiting on the inbox, sleeping, interrupted) stay exactly as they were, except that a step whose inbox item was withdrawn when the run failed may change (it proposes again); steps that failed or have not run may change, change kind or be removed; new steps may be added; the workflow keeps its name; an input the run was not given needs a default, and one it was given keeps its type\nhint: change bad.toml to follow the rules, or start a new run of it: aios run bad.toml\n",
        );
    // Nothing changed: no event, the run is still failed on its old definition,
    // and nobody holds it.
    let log = t.aios(&["log", "1", "--json"]).success().json();
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .all(|e| e["type"] != "workflow_changed")
    );
    assert_eq!(t.show(1)["status"], "failed");
    t.put("wf.toml", &fixed());
    t.aios(&["resume", "1", "--workflow", "wf.toml", "-q"])
        .success();
}

#[test]
fn a_waiting_step_keeps_its_item_and_a_withdrawn_one_may_change() {
    // `w` waits for approval while `b` fails on its template: the failure
    // withdraws w's item.
    let wf = r#"
name = "pair"

[[steps]]
id = "w"
kind = "file"
path = "w.txt"
content = "first"

[[steps]]
id = "b"
kind = "set"
needs = []
values = { v = "{{ inputs.nope }}" }
"#;
    let t = Test::new().write("pair.toml", wf);
    // `inputs.nope` is not declared: the file does not load.
    t.aios(&["run", "pair.toml", "-q"]).code(2);
    let wf = wf.replace("{{ inputs.nope }}", "{{ run.id.missing.x }}");
    t.put("pair.toml", &wf);
    t.aios(&["run", "pair.toml", "-q"])
        .code(1)
        .stdout_contains("withdrawn from the inbox until the run is resumed: item 1 (w)\n");
    // `w` changes too: its withdrawn item stays withdrawn and it proposes anew.
    let new = wf
        .replace("content = \"first\"", "content = \"first, corrected\"")
        .replace("{{ run.id.missing.x }}", "{{ run.id }}");
    t.put("pair.toml", &new);
    let out = t
        .aios(&["resume", "1", "--workflow", "pair.toml"])
        .success();
    assert!(
        out.stderr.contains("    step `w` changed: its inbox item 1, withdrawn when the run failed, stays withdrawn, and the step proposes again from the new definition\n"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout
            .contains("  inbox 3    action    w                  write w.txt (16 bytes)\n"),
        "{}",
        out.stdout
    );
    // Item 3 waits now (item 2 was the failure's, withdrawn by the resume);
    // changing `w` again is refused until it is decided.
    t.put("pair.toml", &new.replace("corrected", "again"));
    t.aios(&["resume", "1", "--workflow", "pair.toml"])
        .code(4)
        .stderr_contains("  - step `w` waits on inbox item 3, proposed from the old definition: it must stay exactly as it was (decide the item first; once it is rejected, the step may change)\n");
    // Item 3 was proposed from the file the run continued on: with the file as it
    // was then, it is not stale.
    t.put("pair.toml", &new);
    t.aios(&["approve", "3", "-q"]).success();
    assert_eq!(t.read("w.txt"), "first, corrected");
    t.aios(&["replay"]).success();
}

#[test]
fn a_finished_run_or_a_bad_file_is_refused_before_anything_changes() {
    let t = Test::new().write("wf.toml", &fixed());
    t.aios(&["run", "wf.toml", "-q"]).success();
    t.aios(&["resume", "1", "--workflow", "wf.toml"])
        .code(4)
        .stderr_contains("error: run 1 already succeeded; there is nothing to resume\n");
    t.put(
        "bad.toml",
        "name = \"steer\"\n[[steps]]\nid = \"x\"\nkind = \"nope\"\n",
    );
    t.aios(&["resume", "1", "--workflow", "bad.toml"])
        .code(2)
        .stderr_contains("error: unknown step kind `nope`");
    t.aios(&["resume", "9", "--workflow", "wf.toml"])
        .code(3)
        .stderr_contains("error: no run 9\n");
}
