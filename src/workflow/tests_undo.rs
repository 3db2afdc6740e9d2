//! Tests of `undo` (a step's compensation, checked like a step of its kind) and
//! `on_failure`.

use super::tests::{errs, hint, one, wf};
use super::*;
use crate::connectors::ActionSpec;

const ORDER: &str = r#"
on_failure = "compensate"

[inputs.shop]
default = "https://shop.example"

[[steps]]
id = "create"
kind = "http"
method = "POST"
url = "{{ inputs.shop }}/orders"
undo = { kind = "http", method = "DELETE", url = "{{ inputs.shop }}/orders/{{ output.body.id }}" }

[[steps]]
id = "ledger"
kind = "file"
path = "ledger.md"
mode = "append"
content = "order {{ steps.create.output.body.id }}\n"
undo = { kind = "file", path = "ledger.md", mode = "append", content = "order {{ steps.create.output.body.id }} cancelled ({{ output.bytes }} bytes)\n" }

[[steps]]
id = "tell"
kind = "http"
method = "POST"
url = "https://hooks.example/x"
"#;

#[test]
fn an_undo_is_an_action_of_any_kind_reading_output() {
    let w = load(&wf(ORDER), "t.toml").unwrap();
    assert_eq!(w.on_failure, OnFailure::Compensate);
    let Some(ActionSpec::Http(_)) = &w.steps[0].undo else {
        panic!("{:?}", w.steps[0].undo)
    };
    let Some(ActionSpec::File(_)) = &w.steps[1].undo else {
        panic!("{:?}", w.steps[1].undo)
    };
    assert!(w.steps[2].undo.is_none());
    let plain = load(
        &wf("[[steps]]\nid = \"s\"\nkind = \"set\"\nvalues = {}\n"),
        "t.toml",
    )
    .unwrap();
    assert_eq!(plain.on_failure, OnFailure::Ask);
}

#[test]
fn only_steps_that_act_have_an_undo() {
    let (d, at) = one(&wf(
        "[[steps]]\nid = \"s\"\nkind = \"set\"\nvalues = {}\nundo = { kind = \"http\", url = \"x\" }\n",
    ));
    assert_eq!(
        d.message,
        "step `s` is a `set` step: it has no side effect to undo"
    );
    assert_eq!(at, "{ kind = \"http\", url = \"x\" }");
    assert!(hint(&d).starts_with("`undo` is for the steps that act (shell, http, file"));
}

#[test]
fn an_undo_is_checked_like_a_step_of_its_kind() {
    let step = |undo: &str| {
        wf(&format!(
            "[[steps]]\nid = \"p\"\nkind = \"http\"\nmethod = \"POST\"\nurl = \"https://x/y\"\nundo = {undo}\n"
        ))
    };
    let (d, at) = one(&step("{ kind = \"htp\", url = \"x\" }"));
    assert_eq!(d.message, "unknown kind `htp` for an undo");
    assert_eq!(at, "\"htp\"");
    assert!(hint(&d).contains("did you mean `http`?"), "{}", hint(&d));
    let (d, _) = one(&step("{ url = \"x\" }"));
    assert_eq!(
        d.message,
        "missing required key `kind` in the undo of step `p`"
    );
    let (d, at) = one(&step("{ kind = \"http\", url = \"x\", argv = [\"rm\"] }"));
    assert_eq!(d.message, "unknown key `argv` in the undo of step `p`");
    assert_eq!(at, "argv");
    assert!(
        hint(&d).contains("an undo of kind http takes: "),
        "{}",
        hint(&d)
    );
    let (d, _) = one(&step("{ kind = \"http\", method = \"DELETE\" }"));
    assert_eq!(
        d.message,
        "missing required key `url` in the undo of step `p`"
    );
    let (d, at) = one(&step(
        "{ kind = \"file\", path = \"../out.txt\", content = \"\" }",
    ));
    assert!(d.message.contains("../out.txt"), "{}", d.message);
    assert_eq!(at, "\"../out.txt\"");
    let (d, at) = one(&step("{ kind = \"http\", url = \"{{ output.id\" }"));
    assert!(d.message.starts_with("invalid template"), "{}", d.message);
    assert_eq!(at, "\"{{ output.id\"");
}

#[test]
fn an_undo_reads_output_inputs_and_the_steps_its_step_needs() {
    let two = |undo_url: &str| {
        wf(&format!(
            r#"
[inputs.base]
[[steps]]
id = "a"
kind = "set"
values = {{ n = 1 }}
[[steps]]
id = "side"
kind = "set"
needs = []
values = {{ n = 2 }}
[[steps]]
id = "p"
kind = "http"
needs = ["a"]
method = "POST"
url = "https://x/y"
undo = {{ kind = "http", method = "DELETE", url = "{undo_url}" }}
"#
        ))
    };
    load(
        &two("{{ inputs.base }}/{{ output.body.id }}/{{ steps.a.output.n }}/{{ run.id }}"),
        "t.toml",
    )
    .unwrap();
    let (d, _) = one(&two("{{ steps.side.output.n }}"));
    assert_eq!(
        d.message,
        "the undo of step `p` reads `steps.side` but does not depend on it"
    );
    let (d, _) = one(&two("{{ steps.p.output.body.id }}"));
    assert_eq!(d.message, "the undo of step `p` reads `steps.p`");
    assert_eq!(
        hint(&d),
        "an undo reads its step's output as `output`: write `output.body.id`"
    );
    let (d, _) = one(&two("{{ inputs.bse }}"));
    assert_eq!(d.message, "unknown input `bse`");
    // `output` is an undo's alone.
    let (d, _) = one(&wf(
        "[[steps]]\nid = \"p\"\nkind = \"http\"\nurl = \"https://x/{{ output.id }}\"\n",
    ));
    assert_eq!(d.message, "unknown variable `output`");
}

#[test]
fn an_undo_reads_secrets_but_no_secret_input() {
    let src = |undo_url: &str| {
        wf(&format!(
            "[inputs.pw]\nsecret = true\n[[steps]]\nid = \"p\"\nkind = \"http\"\nurl = \"https://x/y\"\nundo = {{ kind = \"http\", method = \"DELETE\", url = \"https://x/y\", headers = {{ Authorization = \"{undo_url}\" }} }}\n"
        ))
    };
    let w = load(&src("Bearer {{ secret('SHOP_KEY') }}"), "t.toml").unwrap();
    assert_eq!(w.secrets.len(), 1);
    assert_eq!(w.secrets[0].name, "SHOP_KEY");
    let (d, _) = one(&src("Bearer {{ inputs.pw }}"));
    assert_eq!(
        d.message,
        "the undo of step `p` reads the secret input `inputs.pw`"
    );
}

#[test]
fn on_failure_compensate_needs_something_to_undo() {
    let (d, at) = one(&wf(
        "on_failure = \"compensate\"\n[[steps]]\nid = \"p\"\nkind = \"http\"\nurl = \"https://x/y\"\n",
    ));
    assert_eq!(
        d.message,
        "`on_failure = \"compensate\"`, but no step says how to undo it"
    );
    assert_eq!(at, "\"compensate\"");
    let d = errs(&wf(
        "on_failure = \"undo\"\n[[steps]]\nid = \"s\"\nkind = \"set\"\nvalues = {}\n",
    ));
    assert!(d[0].message.contains("on_failure"), "{:?}", d[0]);
}
