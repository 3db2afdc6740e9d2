//! Tests of agent steps and the `[budget]` table in workflow files.

use serde_json::json;

use super::tests::{errs, hint, one, wf};
use super::*;

fn agent(wf: &Workflow) -> &AgentSpec {
    match &wf.steps[0].spec {
        StepSpec::Agent(a) => a,
        other => panic!("not an agent step: {other:?}"),
    }
}

#[test]
fn agent_steps_load_with_their_defaults() {
    let w = load(
        &wf(r#"
[inputs.offer]
[budget]
max_usd = 0.5
[[steps]]
id = "draft"
kind = "agent"
model = ["smart", "fast"]
system = "You write."
prompt = "Announce {{ inputs.offer }}."
output = "json"
schema = { type = "object", required = ["subject"], properties = { subject = { type = "string" } } }
offline = { subject = "New: {{ inputs.offer }}" }
max_tokens = 300
temperature = 0
top_p = 0.9
seed = 42
stop = "END"
[[steps]]
id = "plain"
kind = "agent"
prompt = "Hi"
"#),
        "t.toml",
    )
    .unwrap();
    assert_eq!(w.budget.max_usd, Some(0.5));
    let a = agent(&w);
    assert_eq!(a.models, ["smart", "fast"]);
    assert_eq!(a.output, OutputFormat::Json);
    assert_eq!(a.max_tokens, 300);
    assert_eq!(
        a.offline,
        Some(json!({"subject": "New: {{ inputs.offer }}"}))
    );
    let s = &w.steps[0];
    assert!(!s.has_side_effects() && s.idempotent && s.approve == Approve::Never);
    let StepSpec::Agent(p) = &w.steps[1].spec else {
        panic!()
    };
    assert_eq!(p.models, ["default"]);
    assert_eq!(p.output, OutputFormat::Text);
    assert_eq!(p.max_tokens, 1024);
    // An agent step's deadline: 10 minutes unless it says otherwise.
    assert_eq!(
        w.steps[1].timeout,
        Some(std::time::Duration::from_secs(600))
    );
    assert!(p.sampling.is_empty());
    assert_eq!(
        a.sampling,
        crate::agent::Sampling {
            temperature: Some(0.0),
            top_p: Some(0.9),
            seed: Some(42),
            stop: vec!["END".into()],
        }
    );
    assert_eq!(
        load(
            &wf("[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = {}\n"),
            "t"
        )
        .unwrap()
        .budget
        .max_usd,
        None
    );
}

#[test]
fn agent_mistakes_are_reported_with_spans() {
    let (d, at) = one(&wf(
        "[[steps]]\nid = \"a\"\nkind = \"agent\"\nprompt = \"p\"\noutput = \"json\"\nschema = { type = \"object\", additionalProperties = false }\n",
    ));
    assert_eq!(
        d.message,
        "invalid `schema`: $: `additionalProperties` is not supported"
    );
    assert!(at.starts_with("{ type"), "{at}");
    assert!(hint(&d).contains("type, required, properties, items and enum"));

    let (d, at) = one(&wf(
        "[[steps]]\nid = \"a\"\nkind = \"agent\"\nprompt = \"p\"\nschema = { type = \"object\" }\n",
    ));
    assert_eq!(d.message, "`schema` needs `output = \"json\"`");
    assert_eq!(at, "schema");

    let (d, at) = one(&wf(
        "[[steps]]\nid = \"a\"\nkind = \"agent\"\nprompt = \"p\"\napprove = \"always\"\n",
    ));
    assert_eq!(d.message, "agent steps have no side effects");
    assert_eq!(at, "approve");

    let (d, _) = one(&wf("[[steps]]\nid = \"a\"\nkind = \"agent\"\n"));
    assert_eq!(d.message, "missing required key `prompt` in step `a`");

    let (d, at) = one(&wf(
        "[[steps]]\nid = \"a\"\nkind = \"agent\"\nprompt = \"{{ inputs.nope }}\"\n",
    ));
    assert!(d.message.contains("nope"), "{}", d.message);
    assert_eq!(at, "\"{{ inputs.nope }}\"");

    let (d, _) = one(&wf(
        "[[steps]]\nid = \"a\"\nkind = \"agent\"\nprompt = \"p\"\nmodel = []\n",
    ));
    assert_eq!(d.message, "`model` must name at least one model");

    let (d, at) = one(&wf(
        "[[steps]]\nid = \"a\"\nkind = \"agent\"\nprompt = \"p\"\nmax_tokens = 0\n",
    ));
    assert!(d.message.starts_with("`max_tokens` must be between 1"));
    assert_eq!(at, "0");

    let (d, _) = one(&wf(
        "[[steps]]\nid = \"a\"\nkind = \"agent\"\nprompt = \"p\"\nurl = \"x\"\n",
    ));
    assert_eq!(d.message, "`url` is not a field of agent steps");

    for (line, message, at_) in [
        (
            "top_p = 1.5",
            "`top_p` must be above 0 and at most 1, found 1.5",
            "1.5",
        ),
        (
            "temperature = \"hot\"",
            "expected a number, found a string",
            "\"hot\"",
        ),
        (
            "stop = [\"\"]",
            "`stop` sequences must not be empty strings",
            "[\"\"]",
        ),
        ("seed = 1.5", "expected an integer, found a float", "1.5"),
    ] {
        let (d, at) = one(&wf(&format!(
            "[[steps]]\nid = \"a\"\nkind = \"agent\"\nprompt = \"p\"\n{line}\n"
        )));
        assert_eq!((d.message.as_str(), at.as_str()), (message, at_), "{line}");
    }

    let (d, at) = one(&wf(
        "[budget]\nmax_usd = -1\n[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = {}\n",
    ));
    assert_eq!(d.message, "`max_usd` must be 0 or more, found -1");
    assert_eq!(at, "-1");
    let d = errs(&wf(
        "[budget]\nmax = 1\n[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = {}\n",
    ));
    assert_eq!(d[0].message, "unknown key `max` in [budget]");
}

#[test]
fn agent_steps_take_a_memory_context() {
    let w = load(
        &wf(r#"
[inputs.customer]
[[steps]]
id = "draft"
kind = "agent"
prompt = "Write to {{ inputs.customer }}."
context = { memory = "{{ inputs.customer }} preferences", k = 3, facts = ["customer:{{ inputs.customer }}"], decisions = 2 }
[[steps]]
id = "plain"
kind = "agent"
prompt = "Hi"
"#),
        "t.toml",
    )
    .unwrap();
    assert_eq!(
        agent(&w).context,
        Some(ContextSpec {
            memory: Some("{{ inputs.customer }} preferences".into()),
            k: 3,
            facts: vec!["customer:{{ inputs.customer }}".into()],
            decisions: 2,
        })
    );
    let StepSpec::Agent(p) = &w.steps[1].spec else {
        panic!()
    };
    assert_eq!(p.context, None);
}

#[test]
fn context_mistakes_are_reported_with_spans() {
    let (d, at) = one(&wf(
        "[[steps]]\nid = \"a\"\nkind = \"agent\"\nprompt = \"p\"\ncontext = { memroy = \"x\" }\n",
    ));
    assert_eq!(d.message, "unknown key `memroy` in `context`");
    assert_eq!(at, "memroy");
    assert_eq!(hint(&d), "did you mean `memory`?");

    let (d, at) = one(&wf(
        "[[steps]]\nid = \"a\"\nkind = \"agent\"\nprompt = \"p\"\ncontext = { decisions = 99 }\n",
    ));
    assert_eq!(
        d.message,
        "`context.decisions` must be between 0 and 50, found 99"
    );
    assert_eq!(at, "99");

    // Its templates are checked like any other: declared inputs only.
    let (d, at) = one(&wf(
        "[[steps]]\nid = \"a\"\nkind = \"agent\"\nprompt = \"p\"\ncontext = { memory = \"{{ inputs.nope }}\" }\n",
    ));
    assert!(d.message.contains("nope"), "{}", d.message);
    assert_eq!(at, "\"{{ inputs.nope }}\"");

    let (d, _) = one(&wf(
        "[[steps]]\nid = \"a\"\nkind = \"agent\"\nprompt = \"p\"\ncontext = \"acme\"\n",
    ));
    assert!(d.message.contains("expected a table"), "{}", d.message);

    // Only prompt-building kinds take a context.
    let (d, at) = one(&wf(
        "[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = {}\ncontext = { memory = \"x\" }\n",
    ));
    assert_eq!(d.message, "`context` is not a field of set steps");
    assert_eq!(at, "context");
}
