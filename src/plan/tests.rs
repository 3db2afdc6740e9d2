//! Plans of small workflows: groups, who asks, conditions, the cost bound.

use std::path::PathBuf;

use serde_json::json;

use super::*;
use crate::config::ConfigFile;
use crate::mcp::NoServers;

fn settings(text: &str) -> AgentSettings {
    let cfg = ConfigFile {
        path: Some(PathBuf::from("/home/x/config.toml")),
        source: text.into(),
        table: toml::from_str(text).unwrap(),
    };
    crate::agent::config::from_config(&cfg, &|_| Some("k".into())).unwrap()
}

fn plan_of(source: &str, agent: &AgentSettings, inputs: Json, missing: &[String]) -> Plan {
    let wf = crate::workflow::load(source, "wf.toml").expect("valid");
    let known = |n: &str| n == "SET_ONE";
    plan(
        &wf,
        &PlanCx {
            agent,
            tools: &NoServers,
            secret_known: &known,
            inputs: &inputs,
            missing,
        },
    )
}

const DIAMOND: &str = r#"
name = "diamond"
max_parallel = 2

[inputs.url]
required = false

[[steps]]
id = "start"
kind = "set"
values = { a = 1 }

[[steps]]
id = "left"
kind = "shell"
approve = "never"
argv = ["echo", "{{ secret('SET_ONE') }}"]

[[steps]]
id = "right"
kind = "http"
needs = ["start"]
when = "inputs.url is defined"
url = "{{ inputs.url }}"
headers = { Authorization = "{{ secret('NOT_SET') }}" }
on_reject = "skip"

[[steps]]
id = "gate"
kind = "approval"
needs = ["left", "right"]
title = "Go?"
fields = { date = { type = "string" } }
timeout = "2h"

[[steps]]
id = "later"
kind = "set"
when = "steps.gate.output.fields.date != ''"
values = { b = 2 }
"#;

#[test]
fn steps_are_grouped_by_what_they_need_and_say_whether_they_ask() {
    let p = plan_of(DIAMOND, &AgentSettings::default(), json!({}), &[]);
    assert_eq!(
        p.groups,
        vec![
            vec!["start".to_string()],
            vec!["left".into(), "right".into()],
            vec!["gate".into()],
            vec!["later".into()],
        ]
    );
    let by = |id: &str| p.steps.iter().find(|s| s.id == id).unwrap();
    assert_eq!(by("start").asks, Asks::Never);
    assert_eq!(by("left").asks, Asks::Never);
    assert_eq!(
        by("left").why,
        "committed without asking (approve = \"never\"): a shell side effect"
    );
    assert_eq!(by("right").asks, Asks::Always);
    assert_eq!(by("right").on_reject, Some("skip"));
    // The condition reads only inputs: decided now (no url: skipped).
    assert_eq!(by("right").when_now, Some(false));
    assert_eq!(by("gate").asks, Asks::Always);
    assert_eq!(by("gate").why, "a gate with fields date");
    assert_eq!(
        by("gate").deadline.as_deref(),
        Some("decide within 2h, then reject")
    );
    // It reads a step's output: decided when the run gets there.
    assert_eq!(by("later").when_now, None);
    let secrets: Vec<(&str, bool)> = p.secrets.iter().map(|s| (s.name.as_str(), s.set)).collect();
    assert_eq!(secrets, [("SET_ONE", true), ("NOT_SET", false)]);
    assert!(p.llm.steps.is_empty());
}

#[test]
fn a_condition_on_a_given_input_is_evaluated_with_it() {
    let p = plan_of(
        DIAMOND,
        &AgentSettings::default(),
        json!({ "url": "https://example.com/x" }),
        &[],
    );
    let right = p.steps.iter().find(|s| s.id == "right").unwrap();
    assert_eq!(right.when_now, Some(true));
    // A condition on an input that is required and missing is not decided.
    let p = plan_of(
        DIAMOND,
        &AgentSettings::default(),
        json!({}),
        &["url".to_string()],
    );
    let right = p.steps.iter().find(|s| s.id == "right").unwrap();
    assert_eq!(right.when_now, None);
}

const AGENTS: &str = r#"
name = "agents"
[budget]
max_usd = 0.5

[[steps]]
id = "draft"
kind = "agent"
model = ["smart", "cheap"]
prompt = "Write twelve words."
output = "json"
max_tokens = 1000
retry = { attempts = 2 }

[[steps]]
id = "free"
kind = "agent"
model = ["heuristic"]
prompt = "x"
"#;

const PRICED: &str = r#"
[providers.p]
kind = "openai"
base_url = "http://127.0.0.1:9/v1"
[models.smart]
provider = "p"
name = "big"
usd_per_mtok_in = 3
usd_per_mtok_out = 15
[models.cheap]
provider = "p"
name = "small"
usd_per_mtok_in = 1
usd_per_mtok_out = 2
[budget]
daily_usd = 2.0
"#;

#[test]
fn the_llm_bound_comes_from_max_tokens_and_the_prices() {
    let agent = settings(PRICED);
    let p = plan_of(AGENTS, &agent, json!({}), &[]);
    let draft = &p.llm.steps[0];
    assert_eq!(draft.id, "draft");
    let tin = draft.prompt_tokens;
    assert!(tin > 5 && tin < 200, "{tin}");
    // Expected: one call to the first model, a reply of max_tokens.
    let smart = |i: u64, o: u64| (i as f64 * 3.0 + o as f64 * 15.0) / 1e6;
    let cheap = |i: u64, o: u64| (i as f64 * 1.0 + o as f64 * 2.0) / 1e6;
    assert!((draft.expected_usd - smart(tin, 1000)).abs() < 1e-12);
    // At most: every attempt calls every model, each corrected once (JSON), the
    // correction with twice the room.
    let per_attempt =
        smart(tin, 1000) + smart(tin + 1064, 2000) + cheap(tin, 1000) + cheap(tin + 1064, 2000);
    assert!((draft.max_usd - 2.0 * per_attempt).abs() < 1e-12);
    assert_eq!(draft.max_calls, 8);
    assert_eq!(draft.models[0].provider, "p");
    assert_eq!(draft.models[0].model, "big");
    let free = &p.llm.steps[1];
    assert_eq!((free.expected_usd, free.max_usd), (0.0, 0.0));
    assert_eq!(p.llm.run_cap, Some(0.5));
    assert_eq!(p.llm.daily_cap, Some(2.0));
    assert!((p.llm.max_usd - draft.max_usd).abs() < 1e-12);
    // A paid step under a cap may stop and ask; the free one never does.
    let by = |id: &str| p.steps.iter().find(|s| s.id == id).unwrap();
    assert_eq!(by("draft").asks, Asks::May);
    assert_eq!(by("free").asks, Asks::Never);
}

#[test]
fn an_alias_the_config_lacks_is_named() {
    let agent = settings(
        "[models.smart]\nprovider = \"p\"\nname = \"x\"\n[providers.p]\nkind = \"openai\"\n",
    );
    let p = plan_of(AGENTS, &agent, json!({}), &[]);
    let draft = &p.llm.steps[0];
    assert!(draft.models[0].error.is_none());
    assert!(
        draft.models[1]
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("model `cheap` is not configured")),
        "{:?}",
        draft.models[1]
    );
}
