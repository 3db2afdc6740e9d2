//! Tests of the cross-step checks: ids, needs, cycles, templates and what they read.

use super::tests::{errs, hint, one, wf};
use super::*;

fn set(id: &str, extra: &str) -> String {
    format!("[[steps]]\nid = \"{id}\"\nkind = \"set\"\nvalues = {{}}\n{extra}")
}

fn set_value(id: &str, value: &str, extra: &str) -> String {
    format!("[[steps]]\nid = \"{id}\"\nkind = \"set\"\n{extra}values = {{ v = {value:?} }}\n")
}

#[test]
fn needs_absent_means_previous_and_empty_means_none() {
    let src = wf(&format!(
        "{}{}{}",
        set("a", ""),
        set("b", ""),
        set("c", "needs = []\n")
    ));
    let w = load(&src, "t").unwrap();
    assert_eq!(w.steps[0].needs, Vec::<usize>::new());
    assert_eq!(w.steps[1].needs, [0]);
    assert!(w.steps[2].needs.is_empty());
}

#[test]
fn duplicate_step_id_points_at_the_second() {
    let src = wf(&format!("{}{}", set("a", ""), set("a", "")));
    let d = errs(&src);
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(d[0].message, "duplicate step id `a`");
    assert_eq!(
        hint(&d[0]),
        "the first step `a` is on line 3; give each step its own id"
    );
    assert_eq!(
        d[0].span.as_ref().unwrap().start,
        src.rfind("\"a\"").unwrap()
    );
}

#[test]
fn needs_naming_a_missing_step_suggests() {
    let src = wf(&format!(
        "{}{}",
        set("fetch", ""),
        set("b", "needs = [\"fetc\"]\n")
    ));
    let (d, at) = one(&src);
    assert_eq!(d.message, "step `b` needs `fetc`, which is not a step");
    assert_eq!(hint(&d), "did you mean `fetch`?");
    assert_eq!(at, "\"fetc\"");
}

#[test]
fn dependency_cycle_is_one_diagnostic() {
    let src = wf(&format!(
        "{}{}{}",
        set("a", "needs = [\"c\"]\n"),
        set("b", "needs = [\"a\"]\n"),
        set("c", "needs = [\"b\"]\n")
    ));
    let (d, at) = one(&src);
    assert_eq!(d.message, "dependency cycle: a -> c -> b -> a");
    assert_eq!(at, "\"c\"");
}

#[test]
fn cycle_through_an_implicit_need_and_self_need() {
    let src = wf(&format!(
        "{}{}",
        set("a", "needs = [\"b\"]\n"),
        set("b", "")
    ));
    let (d, at) = one(&src);
    assert_eq!(d.message, "dependency cycle: a -> b -> a");
    assert_eq!(at, "\"b\"");
    let (d, _) = one(&wf(&set("a", "needs = [\"a\"]\n")));
    assert_eq!(d.message, "dependency cycle: a -> a");
}

#[test]
fn template_syntax_errors_anywhere() {
    let src = wf(
        "[[steps]]\nid = \"a\"\nkind = \"shell\"\nargv = [\"x\"]\nenv = { K = \"{{ oops\" }\n\
         [[steps]]\nid = \"b\"\nkind = \"http\"\nmethod = \"POST\"\nurl = \"u\"\njson = { deep = [{ x = \"{% if %}\" }] }\n\
         [[steps]]\nid = \"c\"\nkind = \"set\"\nvalues = { n = { m = \"{{ 1 + }}\" } }\n",
    );
    let d = errs(&src);
    let got: Vec<&str> = d.iter().map(|d| &src[d.span.clone().unwrap()]).collect();
    assert_eq!(got, ["\"{{ oops\"", "\"{% if %}\"", "\"{{ 1 + }}\""]);
    for x in &d {
        assert!(
            x.message.starts_with("invalid template: syntax error: "),
            "{x:?}"
        );
    }
}

#[test]
fn when_expression_syntax_error() {
    let (d, at) = one(&wf(&set("a", "when = \"inputs.x >\"\n")));
    assert!(
        d.message
            .starts_with("invalid `when` expression: syntax error: "),
        "{d:?}"
    );
    assert_eq!(at, "\"inputs.x >\"");
}

#[test]
fn unknown_input_reference_suggests() {
    let src = wf(&format!(
        "[inputs.name]\n{}",
        set_value("a", "{{ inputs.nmae }}", "")
    ));
    let (d, at) = one(&src);
    assert_eq!(d.message, "unknown input `nmae`");
    assert_eq!(hint(&d), "did you mean `name`?");
    assert_eq!(at, "\"{{ inputs.nmae }}\"");
    let (d, _) = one(&wf(&set_value("a", "{{ inputs.zzz }}", "")));
    assert_eq!(hint(&d), "declare it in an [inputs.zzz] table");
}

#[test]
fn unknown_step_reference_suggests() {
    let src = wf(&format!(
        "{}{}",
        set("fetch", ""),
        set_value("b", "{{ steps.fetc.output }}", "")
    ));
    let (d, _) = one(&src);
    assert_eq!(d.message, "unknown step `fetc`");
    assert_eq!(hint(&d), "did you mean `fetch`?");
}

#[test]
fn reading_a_step_outside_the_needs() {
    let src = wf(&format!(
        "{}{}{}",
        set("a", ""),
        set("b", "needs = []\n"),
        set_value("c", "{{ steps.a.output.v }}", "needs = [\"b\"]\n")
    ));
    let (d, at) = one(&src);
    assert_eq!(
        d.message,
        "step `c` reads `steps.a` but does not depend on it"
    );
    assert_eq!(hint(&d), "add \"a\" to `needs` of step `c`");
    assert_eq!(at, "\"{{ steps.a.output.v }}\"");
}

#[test]
fn reading_a_transitive_need_is_fine() {
    let src = wf(&format!(
        "{}{}{}",
        set("a", ""),
        set("b", ""),
        set_value(
            "c",
            "{{ steps.a.output.v }}{{ steps.b.status }}",
            "when = \"steps.a.status == 'succeeded'\"\n"
        )
    ));
    assert!(load(&src, "t").is_ok(), "{:#?}", load(&src, "t").err());
}

#[test]
fn a_step_reading_itself() {
    let (d, _) = one(&wf(&set_value("a", "{{ steps.a.output }}", "")));
    assert_eq!(d.message, "step `a` reads its own result");
    assert_eq!(hint(&d), "a step can only read the steps it depends on");
}

#[test]
fn unknown_step_field() {
    let src = wf(&format!(
        "{}{}",
        set("a", ""),
        set_value("b", "{{ steps.a.body.x }}", "")
    ));
    let (d, _) = one(&src);
    assert_eq!(d.message, "unknown step field `body` in `steps.a.body.x`");
    assert_eq!(
        hint(&d),
        "a step exposes `output` and `status`; did you mean `steps.a.output.body.x`?"
    );
}

#[test]
fn misspelt_step_field_suggests_output() {
    let src = wf(&format!(
        "{}{}",
        set("a", ""),
        set_value("b", "{{ steps.a.outptu.x }}", "")
    ));
    let (d, _) = one(&src);
    assert_eq!(
        d.message,
        "unknown step field `outptu` in `steps.a.outptu.x`"
    );
    assert_eq!(hint(&d), "did you mean `steps.a.output`?");
}

#[test]
fn unknown_top_level_variable() {
    let (d, at) = one(&wf(&set_value("a", "{{ input.x }}", "")));
    assert_eq!(d.message, "unknown variable `input`");
    assert_eq!(
        hint(&d),
        "did you mean `inputs`? templates can read inputs, steps and run"
    );
    assert_eq!(at, "\"{{ input.x }}\"");
    let (d, _) = one(&wf(&set("a", "when = \"zzz\"\n")));
    assert_eq!(hint(&d), "templates can read inputs, steps and run");
}

#[test]
fn loop_variables_and_globals_are_not_unknown() {
    let src = wf(&set_value(
        "a",
        "{% for x in range(3) %}{{ x }}{{ loop.index }}{% endfor %}{{ run.id }}",
        "",
    ));
    assert!(load(&src, "t").is_ok(), "{:#?}", load(&src, "t").err());
}

#[test]
fn diagnostics_come_sorted_by_position() {
    let src = wf(&format!(
        "bogus = 1\n{}{}",
        set_value("a", "{{ steps.zz.output }}", ""),
        set("a", "nedds = 1\n")
    ));
    let d = errs(&src);
    assert!(d.len() >= 3, "{d:#?}");
    let starts: Vec<usize> = d.iter().map(|d| d.span.as_ref().unwrap().start).collect();
    assert!(starts.windows(2).all(|w| w[0] <= w[1]), "{starts:?}");
}

#[test]
fn a_thousand_sequential_set_steps_load() {
    let mut src = String::from("name = \"big\"\n");
    src.push_str("[[steps]]\nid = \"s0000\"\nkind = \"set\"\nvalues = { n = 0 }\n");
    for i in 1..1000 {
        src.push_str(&format!(
            "[[steps]]\nid = \"s{i:04}\"\nkind = \"set\"\nvalues = {{ n = \"{{{{ steps.s{:04}.output.n + 1 }}}}\" }}\n",
            i - 1
        ));
    }
    let w = load(&src, "big.toml").unwrap();
    assert_eq!(w.steps.len(), 1000);
    assert_eq!(w.steps[999].needs, [998]);
}

#[test]
fn templates_checked_ahead_in_a_large_file_find_the_same_mistakes() {
    // Enough template text (over 512 KB) to be checked ahead on every core.
    let pad = "x".repeat(1000);
    let mut body = String::new();
    for i in 0..700 {
        let reads = if i == 0 {
            format!("{pad}{{{{ run.id }}}}")
        } else {
            format!("{pad}{{{{ steps.s{}.output.v }}}}", i - 1)
        };
        body.push_str(&set_value(&format!("s{i}"), &reads, ""));
    }
    assert!(load(&wf(&body), "t").is_ok());
    // Three mistakes far apart: a syntax error, an unknown step, a step read without
    // depending on it.
    let bad = body
        .replace("{{ steps.s99.output.v }}", "{{ steps.s99.output.v ( }}")
        .replace("{{ steps.s399.output.v }}", "{{ steps.nope.output.v }}")
        .replace(
            "id = \"s601\"\nkind = \"set\"\n",
            "id = \"s601\"\nkind = \"set\"\nneeds = []\n",
        );
    let d = errs(&wf(&bad));
    let messages: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert!(
        messages[0].starts_with("invalid template: "),
        "{messages:?}"
    );
    assert_eq!(messages[1], "unknown step `nope`");
    assert_eq!(
        messages[2],
        "step `s601` reads `steps.s600` but does not depend on it"
    );
    let at = bad.find("{{ steps.s99.output.v ( }}").unwrap();
    assert!(d[0].span.as_ref().unwrap().contains(&at));
}

#[test]
fn large_template_text_is_checked_ahead_keyed_by_where_each_starts() {
    let pad = "x".repeat(1000);
    let mut body = String::new();
    for i in 0..600 {
        body.push_str(&set_value(
            &format!("s{i}"),
            &format!("{pad}{{{{ run.id }}}}"),
            "",
        ));
    }
    body.push_str(&set_value("bad", "{{ oops( }}", ""));
    let src = wf(&body);
    let (root, errors) = toml::de::DeTable::parse_recoverable(&src);
    assert!(errors.is_empty());
    let checked = super::read::precheck_templates(root.get_ref());
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        assert!(checked.is_empty(), "one core: checked inline");
        return;
    }
    assert_eq!(checked.len(), 601);
    let first = src.find(&format!("\"{pad}")).unwrap();
    assert_eq!(checked[&first], Ok(vec!["run.id".to_string()]));
    let bad = src.find("\"{{ oops( }}\"").unwrap();
    assert!(checked[&bad].is_err());
    // Little template text: nothing is checked ahead.
    let small = wf(&set_value("a", "{{ run.id }}", ""));
    let (root, _) = toml::de::DeTable::parse_recoverable(&small);
    assert!(super::read::precheck_templates(root.get_ref()).is_empty());
}
