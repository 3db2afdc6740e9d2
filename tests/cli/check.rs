//! `aios check`, and what `aios run` does with invalid workflows and inputs.

use crate::support::Test;

/// Eight mistakes in one file.
const BAD: &str = r#"name = "bad"
max_paralel = 2

[inputs.n]
type = "integer"

[[steps]]
id = "a"
kind = "shel"
argv = ["echo"]

[[steps]]
id = "a"
kind = "set"
values = { x = "{{ inputs.m }}" }

[[steps]]
id = "b"
kind = "set"
needs = ["zzz", "c"]
values = { x = "{{ oops( }}" }

[[steps]]
id = "c"
kind = "shell"
needs = ["b"]
timeout = "5 parsecs"
argv = ["true"]
"#;

const BAD_REPORT: &str = r#"error: unknown key `max_paralel`
 --> bad.toml:2:1
  |
2 | max_paralel = 2
  | ^^^^^^^^^^^ unknown key
  |
  = hint: did you mean `max_parallel`?

error: unknown step kind `shel`
 --> bad.toml:9:8
  |
9 | kind = "shel"
  |        ^^^^^^ unknown kind
  |
  = hint: did you mean `shell`? kinds: shell, http, file, tool, email, set, approval, agent, remember, fact, outcome, memory, wait

error: duplicate step id `a`
  --> bad.toml:13:6
   |
13 | id = "a"
   |      ^^^ used again here
   |
   = hint: the first step `a` is on line 8; give each step its own id

error: unknown input `m`
  --> bad.toml:15:16
   |
15 | values = { x = "{{ inputs.m }}" }
   |                ^^^^^^^^^^^^^^^^ not a declared input
   |
   = hint: declare it in an [inputs.m] table

error: step `b` needs `zzz`, which is not a step
  --> bad.toml:20:10
   |
20 | needs = ["zzz", "c"]
   |          ^^^^^ no step has this id
   |
   = hint: `needs` lists the ids of other steps

error: dependency cycle: b -> c -> b
  --> bad.toml:20:17
   |
20 | needs = ["zzz", "c"]
   |                 ^^^ this dependency closes the cycle
   |
   = hint: remove one of these dependencies so the steps can run in order (a step without `needs` waits for the step before it)

error: invalid template: syntax error: unexpected `}`
  --> bad.toml:21:16
   |
21 | values = { x = "{{ oops( }}" }
   |                ^^^^^^^^^^^^^ in this template

error: invalid duration `5 parsecs`
  --> bad.toml:27:11
   |
27 | timeout = "5 parsecs"
   |           ^^^^^^^^^^^ not a duration
   |
   = hint: use a number and a unit, like 500ms, 30s, 5m or 2h
"#;

#[test]
fn check_reports_every_mistake_with_location_snippet_and_hint() {
    let t = Test::new().write("bad.toml", BAD);
    t.aios(&["check", "bad.toml"])
        .code(2)
        .stdout_is("")
        .stderr_is(&format!(
            "{BAD_REPORT}\nerror: bad.toml is not a valid workflow (8 problems)\n"
        ));
}

#[test]
fn check_reports_a_toml_syntax_error() {
    let t = Test::new().write("syn.toml", "name = \"x\"\n[[steps]\nid = 1\n");
    t.aios(&["check", "syn.toml"]).code(2).stderr_is(
        "error: invalid TOML: unclosed array table, expected `]`
 --> syn.toml:2:9
  |
2 | [[steps]
  |         ^ here
  |
  = hint: see https://toml.io for the syntax

error: syn.toml is not a valid workflow (1 problem)
",
    );
}

#[test]
fn check_says_ok_for_good_files() {
    Test::new()
        .copy("examples/hello.toml", "hello.toml")
        .copy("workflows/launch.toml", "launch.toml")
        .aios(&["check", "hello.toml", "launch.toml"])
        .success()
        .stdout_is("ok hello.toml (hello, 2 steps)\nok launch.toml (launch, 12 steps)\n")
        .stderr_is("");
}

#[test]
fn check_of_a_missing_file_exits_3() {
    Test::new()
        .aios(&["check", "nope.toml"])
        .code(3)
        .stderr_is(
            "error: cannot read nope.toml: No such file or directory (os error 2)\nhint: pass the path of a workflow .toml file\n",
        );
}

#[test]
fn check_of_good_and_bad_files_checks_all_and_exits_2() {
    let t = Test::new()
        .copy("examples/hello.toml", "hello.toml")
        .write("bad.toml", BAD);
    t.aios(&["check", "bad.toml", "nope.toml", "hello.toml"])
        .code(2)
        .stdout_is("ok hello.toml (hello, 2 steps)\n")
        .stderr_contains("bad.toml is not a valid workflow")
        .stderr_contains("cannot read nope.toml");
}

#[test]
fn run_of_an_invalid_workflow_creates_no_run() {
    let t = Test::new().write("bad.toml", BAD);
    t.aios(&["run", "bad.toml"])
        .code(2)
        .stdout_is("")
        .stderr_is(&format!(
            "{BAD_REPORT}\nerror: bad.toml is not a valid workflow (8 problems)\nhint: fix the problems above; `aios check bad.toml` checks without running\n"
        ));
    assert_eq!(
        t.aios(&["runs", "--json"]).success().json(),
        serde_json::json!([])
    );
}

#[test]
fn run_of_a_missing_file_exits_3() {
    Test::new()
        .aios(&["run", "nope.toml"])
        .code(3)
        .stderr_contains("error: cannot read nope.toml");
}

const INPUTS: &str = r#"
name = "inp"

[inputs.n]
type = "integer"

[inputs.flag]
type = "boolean"
default = false

[[steps]]
id = "a"
kind = "set"
values = { x = "{{ inputs.n }}" }
"#;

#[test]
fn missing_and_mistyped_inputs_exit_2_and_create_no_run() {
    let t = Test::new().write("inp.toml", INPUTS);
    t.aios(&["run", "inp.toml"]).code(2).stderr_is(
        "error: missing required input `n`\n  = hint: pass it with --input n=VALUE\n\nerror: the inputs do not fit inp.toml (1 problem)\n",
    );
    t.aios(&["run", "inp.toml", "--input", "n=abc"])
        .code(2)
        .stderr_contains("error: input `n` must be an integer, got `abc`")
        .stderr_contains("hint: use a whole number, like 42");
    t.aios(&[
        "run",
        "inp.toml",
        "--input",
        "n=1",
        "--input",
        "flag=maybe",
        "--input",
        "extra=1",
    ])
    .code(2)
    .stderr_contains("error: input `flag` must be a boolean, got `maybe`")
    .stderr_contains("error: unknown input `extra`\n  = hint: declared inputs: n, flag")
    .stderr_contains("(2 problems)");
    t.aios(&["run", "inp.toml", "--input", "oops"])
        .code(2)
        .stderr_is("error: `oops` is not NAME=VALUE\nhint: write it as --input name=value\n");
    assert_eq!(
        t.aios(&["runs", "--json"]).success().json(),
        serde_json::json!([])
    );
    t.aios(&["run", "inp.toml", "--input", "n=41", "--input", "flag=true"])
        .success();
    assert_eq!(
        t.show(1)["inputs"],
        serde_json::json!({ "n": 41, "flag": true })
    );
}

#[test]
fn usage_errors_exit_2() {
    let t = Test::new();
    t.aios(&["frobnicate"])
        .code(2)
        .stderr_contains("unrecognized subcommand");
    t.aios(&["runs", "--status", "sleeping"]).code(2);
    t.aios(&["show", "one"]).code(2);
    t.aios(&["--help"]).success().stdout_contains("Usage: aios");
    t.aios(&["--version"])
        .success()
        .stdout_contains("aios 0.1.0");
}
