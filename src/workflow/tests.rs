//! Tests of `load`: the accepted format, effective values and the per-field checks.

use std::time::Duration;

use serde_json::json;

use super::*;
use crate::connectors::ActionSpec;

/// The diagnostics of a source that must fail to load.
pub(super) fn errs(src: &str) -> Vec<Diagnostic> {
    match load(src, "t.toml") {
        Ok(_) => panic!("expected errors for:\n{src}"),
        Err(d) => d.list,
    }
}

/// The only diagnostic of a source, and the text under its span.
pub(super) fn one(src: &str) -> (Diagnostic, String) {
    let d = errs(src);
    assert_eq!(d.len(), 1, "{d:#?}");
    let d = d.into_iter().next().unwrap();
    let span = d.span.clone().expect("a span");
    (d, src[span].to_string())
}

pub(super) fn hint(d: &Diagnostic) -> &str {
    d.hint.as_deref().unwrap_or("")
}

/// A valid workflow header followed by `rest`.
pub(super) fn wf(rest: &str) -> String {
    format!("name = \"t\"\n{rest}")
}

const FULL: &str = r#"
name = "launch"
description = "ship it"
max_parallel = 2

[inputs.who]
description = "to whom"
[inputs.count]
type = "integer"
default = 3
[inputs.tags]
type = "list"
default = ["a"]

[defaults]
timeout = "1m"
retry = { attempts = 3, backoff = "2s" }

[[steps]]
id = "fetch"
kind = "http"
method = "get"
url = "https://example.com/{{ inputs.who }}"
expect_status = [200, 201]

[[steps]]
id = "post"
kind = "http"
method = "POST"
url = "https://example.com"
json = { n = "{{ inputs.count }}", list = [1, 2.5, true] }
retry = { attempts = 1 }
timeout = 5

[[steps]]
id = "calc"
kind = "set"
needs = ["fetch"]
[steps.values]
z = "{{ steps.fetch.output.body }}"
a = 1

[[steps]]
id = "run"
kind = "shell"
argv = ["echo", "{{ steps.calc.output.z }}"]
env = { A = "b" }
approve = "never"
idempotent = true
needs = ["calc"]

[[steps]]
id = "write"
kind = "file"
path = "out/{{ inputs.who }}.txt"
content = "hi"
mode = "append"
on_reject = "skip"
when = "inputs.count > 1"

[[steps]]
id = "ok"
kind = "approval"
title = "Go?"
[steps.fields.reason]
type = "string"
default = "none"

[[steps]]
id = "sh"
kind = "shell"
script = "ls"
"#;

#[test]
fn loads_a_full_workflow_with_effective_values() {
    let w = load(FULL, "t.toml").unwrap();
    assert_eq!(w.name, "launch");
    assert_eq!(w.description.as_deref(), Some("ship it"));
    assert_eq!(w.max_parallel, 2);
    assert_eq!(w.inputs.len(), 3);
    assert!(w.inputs[0].required && w.inputs[0].ty == InputType::String);
    assert!(!w.inputs[1].required);
    assert_eq!(w.inputs[1].default, Some(json!(3)));
    assert_eq!(w.inputs[2].default, Some(json!(["a"])));
    let ids: Vec<&str> = w.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["fetch", "post", "calc", "run", "write", "ok", "sh"]);
    let needs: Vec<&[usize]> = w.steps.iter().map(|s| s.needs.as_slice()).collect();
    assert_eq!(needs, [&[][..], &[0], &[0], &[2], &[3], &[4], &[5]]);

    let [fetch, post, calc, run, write, ok, sh] = &w.steps[..] else {
        panic!()
    };
    let StepSpec::Action(ActionSpec::Http(h)) = &fetch.spec else {
        panic!()
    };
    assert_eq!(h.method, "GET");
    assert_eq!(h.expect_status, [200, 201]);
    assert!(fetch.idempotent && fetch.approve == Approve::Always);
    assert_eq!(fetch.timeout, Some(Duration::from_secs(60)));
    assert_eq!(fetch.retry.attempts, 3);
    assert_eq!(fetch.retry.backoff, Duration::from_secs(2));
    assert_eq!(fetch.retry.max_backoff, Duration::from_secs(60));

    let StepSpec::Action(ActionSpec::Http(p)) = &post.spec else {
        panic!()
    };
    assert_eq!(
        p.json,
        Some(json!({"n": "{{ inputs.count }}", "list": [1, 2.5, true]}))
    );
    assert!(!post.idempotent);
    assert_eq!(post.timeout, Some(Duration::from_secs(5)));
    assert_eq!(post.retry, Retry::default());

    let StepSpec::Set(s) = &calc.spec else {
        panic!()
    };
    assert_eq!(s.values[0].0, "z");
    assert_eq!(s.values[1], ("a".to_string(), json!(1)));
    assert!(calc.idempotent && calc.approve == Approve::Never);

    let StepSpec::Action(ActionSpec::Shell(r)) = &run.spec else {
        panic!()
    };
    assert_eq!(r.argv, ["echo", "{{ steps.calc.output.z }}"]);
    assert_eq!(r.env, [("A".to_string(), "b".to_string())]);
    assert!(run.idempotent && run.approve == Approve::Never);

    let StepSpec::Action(ActionSpec::File(f)) = &write.spec else {
        panic!()
    };
    assert_eq!(f.mode, crate::connectors::file::FileMode::Append);
    assert_eq!(write.on_reject, OnReject::Skip);
    assert_eq!(write.when.as_deref(), Some("inputs.count > 1"));

    let StepSpec::Approval(a) = &ok.spec else {
        panic!()
    };
    assert_eq!(a.fields[0].name, "reason");
    assert!(!a.fields[0].required);
    assert!(ok.idempotent && ok.approve == Approve::Always);
    // An approval step's `timeout` is its decision deadline: `[defaults]` do not apply.
    assert_eq!(ok.timeout, None);
    assert_eq!(ok.deadline, None);

    let StepSpec::Action(ActionSpec::Shell(s)) = &sh.spec else {
        panic!()
    };
    assert_eq!(s.script.as_deref(), Some("ls"));
    assert!(!sh.idempotent);
}

#[test]
fn kind_default_timeouts_without_defaults() {
    let w = load(
        &wf("[[steps]]\nid = \"a\"\nkind = \"shell\"\nargv = [\"x\"]\n[[steps]]\nid = \"b\"\nkind = \"http\"\nurl = \"u\"\n[[steps]]\nid = \"c\"\nkind = \"set\"\nvalues = {}\n"),
        "t",
    )
    .unwrap();
    assert_eq!(w.max_parallel, 4);
    assert_eq!(w.steps[0].timeout, Some(Duration::from_secs(600)));
    assert_eq!(w.steps[1].timeout, Some(Duration::from_secs(30)));
    assert_eq!(w.steps[2].timeout, None);
}

#[test]
fn toml_syntax_errors_are_all_reported_in_order() {
    let src = "name = \"x\nfoo = = 3\n[x\n";
    let d = errs(src);
    assert!(d.len() >= 3, "{d:#?}");
    assert!(d.iter().all(|d| d.message.starts_with("invalid TOML: ")));
    let starts: Vec<usize> = d.iter().map(|d| d.span.clone().unwrap().start).collect();
    let mut sorted = starts.clone();
    sorted.sort();
    assert_eq!(starts, sorted);
    assert!(d.iter().any(|d| d.message.contains("extra `=`")), "{d:#?}");
}

#[test]
fn duplicate_toml_key_is_a_syntax_error() {
    let src = wf("name = \"y\"\n");
    let (d, at) = one(&src);
    assert_eq!(d.message, "invalid TOML: duplicate key");
    assert_eq!(at, "name");
}

#[test]
fn unknown_top_level_key_suggests() {
    let src = wf("max_paralel = 3\n[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = {}\n");
    let (d, at) = one(&src);
    assert_eq!(d.message, "unknown key `max_paralel`");
    assert_eq!(hint(&d), "did you mean `max_parallel`?");
    assert_eq!(at, "max_paralel");
}

#[test]
fn unknown_step_key_suggests_and_renders() {
    let src = wf("[[steps]]\nid = \"draft\"\nkind = \"set\"\nvalues = {}\nnedds = [\"segment\"]\n");
    let (d, at) = one(&src);
    assert_eq!(d.message, "unknown key `nedds` in step `draft`");
    assert_eq!(hint(&d), "did you mean `needs`?");
    assert_eq!(at, "nedds");
    let want = "\
error: unknown key `nedds` in step `draft`
 --> launch.toml:6:1
  |
6 | nedds = [\"segment\"]
  | ^^^^^ unknown key
  |
  = hint: did you mean `needs`?
";
    assert_eq!(render(&[d], &src, "launch.toml", false), want);
}

#[test]
fn unknown_keys_in_inputs_defaults_retry_and_fields() {
    let src = wf(
        "[inputs.a]\ntyp = \"string\"\n[defaults]\ntimout = 1\n[[steps]]\nid = \"s\"\nkind = \"approval\"\ntitle = \"t\"\nretry = { attempts = 2, backof = \"1s\" }\nfields = { f = { requird = true } }\n",
    );
    let d = errs(&src);
    let msgs: Vec<(&str, &str)> = d.iter().map(|d| (d.message.as_str(), hint(d))).collect();
    assert_eq!(
        msgs,
        [
            ("unknown key `typ` in input `a`", "did you mean `type`?"),
            (
                "unknown key `timout` in [defaults]",
                "did you mean `timeout`?"
            ),
            (
                "unknown key `backof` in `retry` of step `s`",
                "did you mean `backoff`?"
            ),
            (
                "unknown key `requird` in field `f`",
                "did you mean `required`?"
            ),
        ]
    );
}

#[test]
fn field_of_another_kind_says_so() {
    let src = wf("[[steps]]\nid = \"a\"\nkind = \"http\"\nurl = \"u\"\nargv = [\"x\"]\n");
    let (d, at) = one(&src);
    assert_eq!(d.message, "`argv` is not a field of http steps");
    assert_eq!(
        hint(&d),
        "http steps take: method, url, headers, query, json, body, expect_status"
    );
    assert_eq!(at, "argv");
}

#[test]
fn unknown_key_without_suggestion_lists_fields() {
    let src = wf("[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = {}\nzzzzzz = 1\n");
    let (d, _) = one(&src);
    assert_eq!(d.message, "unknown key `zzzzzz` in step `a`");
    assert!(
        hint(&d).starts_with("set steps take: values, besides id, kind"),
        "{d:?}"
    );
}

#[test]
fn wrong_value_types() {
    let src = "name = 3\n[[steps]]\nid = \"a\"\nkind = \"shell\"\nargv = [\"x\", 1]\nidempotent = \"yes\"\n";
    let d = errs(src);
    let got: Vec<(&str, &str)> = d
        .iter()
        .map(|d| (d.message.as_str(), &src[d.span.clone().unwrap()]))
        .collect();
    assert_eq!(
        got,
        [
            ("expected a string, found an integer", "3"),
            ("expected a string, found an integer", "1"),
            ("expected a boolean, found a string", "\"yes\""),
        ]
    );
    assert_eq!(d[0].label.as_deref(), Some("`name` must be a string"));
}

#[test]
fn missing_required_keys_point_at_the_table() {
    let src = "[[steps]]\nkind = \"http\"\n[[steps]]\nid = \"b\"\n";
    let d = errs(src);
    let got: Vec<(&str, &str)> = d
        .iter()
        .map(|d| (d.message.as_str(), &src[d.span.clone().unwrap()]))
        .collect();
    assert_eq!(
        got,
        [
            ("missing required key `name`", ""),
            ("missing required key `id` in step #1", "[[steps]]"),
            ("missing required key `url` in step #1", "[[steps]]"),
            ("missing required key `kind` in step `b`", "[[steps]]"),
        ]
    );
    assert_eq!(d[2].span.as_ref().unwrap().start, 0);
    assert_eq!(d[3].span.as_ref().unwrap().start, 24);
}

#[test]
fn unknown_kind_suggests_and_lists() {
    let (d, at) = one(&wf("[[steps]]\nid = \"a\"\nkind = \"shel\"\n"));
    assert_eq!(d.message, "unknown step kind `shel`");
    assert_eq!(
        hint(&d),
        "did you mean `shell`? kinds: shell, http, file, tool, email, set, approval, agent, remember, fact, outcome, memory, wait"
    );
    assert_eq!(at, "\"shel\"");
}

#[test]
fn step_id_with_a_dash_hints_underscore() {
    let (d, at) = one(&wf(
        "[[steps]]\nid = \"fetch-data\"\nkind = \"set\"\nvalues = {}\n",
    ));
    assert_eq!(d.message, "invalid step id `fetch-data`");
    assert_eq!(
        hint(&d),
        "use `fetch_data` instead: templates read `steps.<id>`"
    );
    assert_eq!(at, "\"fetch-data\"");
}

#[test]
fn no_steps() {
    let (d, _) = one("name = \"x\"\n");
    assert_eq!(d.message, "a workflow needs at least one step");
    let (d, at) = one("name = \"x\"\nsteps = []\n");
    assert_eq!(d.message, "a workflow needs at least one step");
    assert_eq!(at, "[]");
}

const STEP: &str = "[[steps]]\nid = \"s\"\nkind = \"set\"\nvalues = {}\n";

#[test]
fn input_names_types_and_defaults() {
    let src = wf(&format!(
        "[inputs.my-name]\n[inputs.a]\ntype = \"strng\"\n[inputs.b]\ntype = \"integer\"\ndefault = \"3\"\n[inputs.c]\ntype = \"number\"\ndefault = 2\n[inputs.d]\ntype = \"object\"\ndefault = {{ k = 1 }}\n{STEP}"
    ));
    let d = errs(&src);
    let got: Vec<(&str, &str, &str)> = d
        .iter()
        .map(|d| (d.message.as_str(), hint(d), &src[d.span.clone().unwrap()]))
        .collect();
    assert_eq!(
        got,
        [
            (
                "invalid input name `my-name`",
                "use `my_name` instead: templates read `inputs.<name>`",
                "my-name"
            ),
            (
                "unknown type `strng` for input `a`",
                "did you mean `string`? types: string, number, integer, boolean, list, object",
                "\"strng\""
            ),
            (
                "default of input `b` must be an integer, found a string",
                "change the default or the declared `type`",
                "\"3\""
            ),
        ]
    );
}

#[test]
fn max_parallel_must_be_positive() {
    let (d, at) = one(&wf(&format!("max_parallel = 0\n{STEP}")));
    assert_eq!(d.message, "`max_parallel` must be at least 1, found 0");
    assert_eq!(at, "0");
}

#[test]
fn bad_http_method_and_status() {
    let src = wf(
        "[[steps]]\nid = \"a\"\nkind = \"http\"\nurl = \"u\"\nmethod = \"GE T\"\nexpect_status = [200, 700]\n[[steps]]\nid = \"b\"\nkind = \"http\"\nurl = \"u\"\nexpect_status = 99\n",
    );
    let d = errs(&src);
    let got: Vec<(&str, &str, &str)> = d
        .iter()
        .map(|d| (d.message.as_str(), hint(d), &src[d.span.clone().unwrap()]))
        .collect();
    assert_eq!(
        got,
        [
            (
                "invalid HTTP method `GE T`",
                "use a method name like GET, POST, PUT, PATCH or DELETE",
                "\"GE T\""
            ),
            (
                "invalid HTTP status `700`",
                "statuses are between 100 and 599",
                "700"
            ),
            (
                "invalid HTTP status `99`",
                "statuses are between 100 and 599",
                "99"
            ),
        ]
    );
}

#[test]
fn static_file_paths_stay_in_the_root() {
    let step = |p: &str| {
        wf(&format!(
            "[[steps]]\nid = \"a\"\nkind = \"file\"\npath = \"{p}\"\ncontent = \"x\"\n"
        ))
    };
    for (p, problem) in [
        ("../x", "escapes the root folder"),
        ("a/../../x", "escapes the root folder"),
        (
            "/etc/passwd",
            "is absolute; it must be relative to the root folder",
        ),
        ("", "is empty"),
        ("a/..", "names the root folder itself, not a file"),
    ] {
        let src = step(p);
        let (d, at) = one(&src);
        assert_eq!(d.message, format!("file path `{p}` {problem}"));
        assert_eq!(at, format!("\"{p}\""));
    }
    for ok in ["a/../b", "./x/y.txt", "{{ inputs.p }}/../../x"] {
        let src = step(ok).replace("{{ inputs.p }}", "{{ run.id }}");
        assert!(load(&src, "t").is_ok(), "{ok}");
    }
}

#[test]
fn bad_durations_and_retry() {
    let src = wf(
        "[defaults]\ntimeout = \"5 minutes\"\n[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = {}\ntimeout = -3\nretry = { attempts = 0, backoff = \"1x\" }\n",
    );
    let d = errs(&src);
    let got: Vec<(&str, &str)> = d
        .iter()
        .map(|d| (d.message.as_str(), &src[d.span.clone().unwrap()]))
        .collect();
    assert_eq!(
        got,
        [
            ("invalid duration `5 minutes`", "\"5 minutes\""),
            ("invalid duration `-3`", "-3"),
            ("`attempts` must be at least 1, found 0", "0"),
            ("invalid duration `1x`", "\"1x\""),
        ]
    );
    assert_eq!(
        hint(&d[0]),
        "use a number and a unit, like 500ms, 30s, 5m or 2h"
    );
}

#[test]
fn shell_needs_exactly_one_of_argv_and_script() {
    let (d, at) = one(&wf(
        "[[steps]]\nid = \"a\"\nkind = \"shell\"\nargv = [\"ls\"]\nscript = \"ls\"\n",
    ));
    assert_eq!(d.message, "a shell step takes `argv` or `script`, not both");
    assert_eq!(at, "script");
    let (d, at) = one(&wf("[[steps]]\nid = \"a\"\nkind = \"shell\"\n"));
    assert_eq!(d.message, "a shell step needs `argv` or `script`");
    assert_eq!(at, "[[steps]]");
    let (d, at) = one(&wf("[[steps]]\nid = \"a\"\nkind = \"shell\"\nargv = []\n"));
    assert_eq!(d.message, "`argv` must not be empty");
    assert_eq!(at, "[]");
}

#[test]
fn http_takes_json_or_body() {
    let (d, at) = one(&wf(
        "[[steps]]\nid = \"a\"\nkind = \"http\"\nurl = \"u\"\njson = {}\nbody = \"x\"\n",
    ));
    assert_eq!(d.message, "an http step takes `json` or `body`, not both");
    assert_eq!(at, "body");
}

#[test]
fn approve_is_fixed_for_set_and_approval() {
    let (d, at) = one(&wf(
        "[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = {}\napprove = \"always\"\n",
    ));
    assert_eq!(d.message, "set steps have no side effects");
    assert_eq!(at, "approve");
    let (d, _) = one(&wf(
        "[[steps]]\nid = \"a\"\nkind = \"approval\"\ntitle = \"t\"\napprove = \"never\"\n",
    ));
    assert_eq!(d.message, "approval steps always ask for approval");
}

#[test]
fn bad_choice_values_suggest() {
    let (d, at) = one(&wf(
        "[[steps]]\nid = \"a\"\nkind = \"shell\"\nscript = \"x\"\noutput = \"jsn\"\n",
    ));
    assert_eq!(d.message, "invalid value `jsn` for `output`");
    assert_eq!(
        hint(&d),
        "did you mean `json`? `output` is one of `text` or `json`"
    );
    assert_eq!(at, "\"jsn\"");
}

#[test]
fn non_finite_floats_are_not_json() {
    let (d, at) = one(&wf(
        "[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = { x = nan }\n",
    ));
    assert_eq!(d.message, "`nan` cannot be represented in JSON");
    assert_eq!(at, "nan");
}

#[test]
fn never_panics_on_truncated_or_odd_input() {
    let mut cuts: Vec<usize> = FULL.char_indices().map(|(i, _)| i).collect();
    cuts.push(FULL.len());
    for cut in cuts {
        let _ = load(&FULL[..cut], "t");
    }
    for odd in [
        "",
        "\u{feff}",
        "é = \"é\"",
        "steps = 3",
        "steps = [1, \"x\"]",
        "[steps]\n",
        "inputs = 1",
        "[inputs]\nx = 1",
        "name = \"x\"\n[[steps]]\nid = 1\nkind = []\nneeds = \"a\"\nretry = 5\n",
    ] {
        let _ = load(odd, "t");
    }
}
