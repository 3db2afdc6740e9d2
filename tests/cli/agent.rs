//! Agent steps: the offline heuristic provider, both wire formats against a loopback
//! LLM server, retries and errors, schema repair and secrets (the call ledger and
//! budgets are in `agent_budget`).

use std::time::Duration;

use serde_json::json;

use crate::support::llm::{LlmServer, Reply};
use crate::support::{Test, step};

pub(crate) const KEY: &str = "sk-aios-test-7f3e9c2a-SECRET-KEY-4242";

/// A config with one provider of `kind` at `server`, and the given models.
pub(crate) fn config(server: &LlmServer, kind: &str, models: &str) -> String {
    format!(
        r#"
[providers.local]
kind = "{kind}"
base_url = "{}"
api_key_env = "LLM_KEY"
max_retries = 2
retry_backoff = "10ms"
{models}
"#,
        server.base_url()
    )
}

pub(crate) const FREE_MODELS: &str = r#"
[models.default]
provider = "local"
name = "m1"
[models.second]
provider = "local"
name = "m2"
"#;

/// An agent step drafting an email (JSON with a schema) and a file step writing it.
pub(crate) const DRAFT: &str = r#"
name = "mail"
[inputs.offer]
default = "Tea club"
[[steps]]
id = "draft"
kind = "agent"
model = ["default", "second"]
system = "You write emails."
prompt = "Announce {{ inputs.offer }}."
output = "json"
schema = { type = "object", required = ["subject", "body"], properties = { subject = { type = "string" }, body = { type = "string" } } }
offline = { subject = "New: {{ inputs.offer }}", body = "Hello" }
[[steps]]
id = "save"
kind = "file"
path = "out.txt"
content = "{{ steps.draft.output.json.subject }}\n{{ steps.draft.output.json.body }}\n"
"#;

pub(crate) const GOOD: &str = r#"{"subject": "Tea club is open", "body": "Come in.", "rationale": "short and warm", "confidence": 0.8}"#;

/// The rescue item `step` waits on once every model failed: its id, and why the
/// step stopped (every model's error).
pub(crate) fn rescue(t: &Test, step: &str) -> (i64, String) {
    let id = t.item(step);
    let v = t
        .aios(&["inbox", "show", &id.to_string(), "--json"])
        .success()
        .json();
    assert_eq!(v["kind"], "rescue", "{v}");
    (id, v["action"]["error"].as_str().unwrap().to_string())
}

pub(crate) fn setup(server: &LlmServer, kind: &str, models: &str, wf: &str) -> Test {
    Test::new()
        .write("config.toml", &config(server, kind, models))
        .write("wf.toml", wf)
        .env("LLM_KEY", KEY)
}

#[test]
fn launch_runs_offline_and_the_inbox_says_no_llm_drafted_it() {
    let t = Test::new().copy("workflows/launch.toml", "launch.toml");
    t.aios(&["run", "launch.toml"]).success();
    let show = t.show(1);
    let copy = step(&show, "copy");
    assert_eq!(copy["status"], "succeeded");
    assert_eq!(copy["output"]["heuristic"], true);
    assert_eq!(copy["output"]["provider"], "heuristic");
    assert_eq!(
        copy["output"]["json"]["subject"],
        "New: Founder office hours"
    );
    t.aios(&["inbox", "list"])
        .success()
        .stdout_contains("landing.md (229 bytes) (offline draft, no LLM)");
    t.aios(&["inbox", "show", "1"])
        .success()
        .stdout_contains("drafted by\n  angle: offline heuristic draft, NOT an LLM · confidence 0.30\n")
        .stdout_contains("  copy: offline heuristic draft, NOT an LLM · confidence 0.30\n    rationale: offline draft from the brief's templates");
    let ev = t.aios(&["inbox", "show", "1", "--json"]).success().json();
    let agents = ev["evidence"]["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 2);
    assert_eq!(agents[1]["step"], "copy");
    assert_eq!(agents[1]["heuristic"], true);
    let calls = t.aios(&["llm", "log", "--json"]).success().json();
    let calls = calls.as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert!(
        calls
            .iter()
            .all(|c| c["heuristic"] == true && c["cost_usd"] == 0.0)
    );
    t.aios(&["llm", "log", "--full"])
        .success()
        .stdout_contains("heuristic (offline draft, no LLM)");
    t.aios(&["llm", "log"])
        .success()
        .stdout_contains("1/copy    heuristic (offline)");
    t.aios(&["replay", "1"]).success();
}

#[test]
fn openai_calls_are_made_journaled_and_shown_on_the_proposal() {
    let server = LlmServer::start();
    server.script(vec![Reply::openai(GOOD, 120, 30)]);
    let models = r#"
[models.default]
provider = "local"
name = "m1"
usd_per_mtok_in = 1.0
usd_per_mtok_out = 2.0
"#;
    let t = setup(&server, "openai", models, DRAFT);
    t.aios(&["run", "wf.toml"]).success();
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(r.body["model"], "m1");
    // The schema goes to the server (strict: closed objects, optional fields
    // nullable), with the rationale and confidence the prompt invites.
    assert_eq!(
        r.body["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "reply", "strict": true, "schema": {
            "type": "object",
            "required": ["subject", "body", "rationale", "confidence"],
            "properties": {
                "subject": {"type": "string"},
                "body": {"type": "string"},
                "rationale": {"type": ["string", "null"]},
                "confidence": {"enum": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, null]}
            },
            "additionalProperties": false
        }}})
    );
    assert_eq!(r.body["messages"][0]["role"], "system");
    assert!(
        r.body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .starts_with("You write emails.")
    );
    assert_eq!(
        r.body["messages"][1],
        json!({"role": "user", "content": "Announce Tea club."})
    );

    let show = t.show(1);
    let d = step(&show, "draft");
    assert_eq!(d["output"]["json"]["subject"], "Tea club is open");
    assert_eq!(d["output"]["heuristic"], false);
    assert_eq!(d["output"]["confidence"], 0.8);
    assert_eq!(d["output"]["usage"]["tokens_in"], 120);
    t.aios(&["inbox", "show", "1"]).success().stdout_contains(
        "drafted by\n  draft: default via local · confidence 0.80\n    rationale: short and warm\n",
    );

    let calls = t
        .aios(&["llm", "log", "--run", "1", "--json"])
        .success()
        .json();
    let c = &calls[0];
    assert_eq!(c["provider"], "local");
    assert_eq!(c["model"], "m1");
    assert_eq!(
        (c["tokens_in"].as_u64(), c["tokens_out"].as_u64()),
        (Some(120), Some(30))
    );
    let cost = c["cost_usd"].as_f64().unwrap();
    assert!(
        (cost - (120.0 * 1.0 + 30.0 * 2.0) / 1e6).abs() < 1e-12,
        "{cost}"
    );
    assert_eq!(
        c["request"]["chat"]["messages"][0]["content"],
        "Announce Tea club."
    );
    assert_eq!(c["response"], GOOD);
    assert_eq!(c["finish_reason"], "stop");
    assert_eq!(c["request"]["structured"], "json_schema");
    t.aios(&["llm", "log"])
        .success()
        .stdout_contains("1/draft   local/m1  120/30  $0.0002  ");
    t.aios(&["llm", "log", "--full"])
        .success()
        .stdout_contains("local/m1 (`default`) · 120 in / 30 out tokens · $0.0002")
        .stdout_contains("  user\n    Announce Tea club.\n")
        .stdout_contains("  response\n    {\"subject\": \"Tea club is open\"");
    t.aios(&["log", "1"])
        .success()
        .stdout_contains("draft: LLM call (local/m1, 150 tokens, $0.0002,");
    t.aios(&["replay", "1"]).success();
}

#[test]
fn anthropic_calls_speak_the_messages_format() {
    let server = LlmServer::start();
    server.script(vec![Reply::anthropic(GOOD, 10, 5)]);
    let t = setup(&server, "anthropic", FREE_MODELS, DRAFT);
    t.aios(&["run", "wf.toml"]).success();
    let r = &server.seen()[0];
    assert_eq!(r.path, "/v1/messages");
    assert_eq!(r.header("x-api-key"), Some(KEY));
    assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
    assert!(r.header("authorization").is_none());
    assert!(
        r.body["system"]
            .as_str()
            .unwrap()
            .starts_with("You write emails.")
    );
    assert_eq!(
        r.body["messages"],
        json!([{"role": "user", "content": "Announce Tea club."}])
    );
    assert_eq!(r.body["max_tokens"], 1024);
    assert_eq!(
        step(&t.show(1), "draft")["output"]["json"]["body"],
        "Come in."
    );
}

#[test]
fn the_api_key_never_reaches_the_database() {
    let server = LlmServer::start();
    server.script(vec![
        Reply::openai(GOOD, 1, 1),
        Reply::error(401, "bad key"),
    ]);
    let t = setup(&server, "openai", FREE_MODELS, DRAFT);
    t.aios(&["run", "wf.toml"]).success();
    // A second run whose call fails: errors are journaled too.
    let one = DRAFT.replace("model = [\"default\", \"second\"]", "model = \"default\"");
    t.put("one.toml", &one);
    t.aios(&["run", "one.toml"])
        .success()
        .stdout_contains("rescue");
    assert_eq!(server.seen().len(), 2);
    assert!(server.seen().iter().all(|r| r.text().contains("Announce")));
    t.assert_journal_lacks(KEY);
    t.assert_journal_lacks("SECRET-KEY-4");
    // The journal has the calls, so the check looked at the right file.
    let calls = t.aios(&["llm", "log", "--json"]).success().json();
    assert_eq!(calls.as_array().unwrap().len(), 2);
    let out = t.aios(&["llm", "log"]).success();
    assert!(!out.stdout.contains(KEY));
}

#[test]
fn a_rate_limit_is_retried_after_the_time_it_asks() {
    let server = LlmServer::start();
    server.script(vec![
        Reply::error(429, "slow down").header("retry-after", "1"),
        Reply::openai(GOOD, 1, 1),
    ]);
    let t = setup(&server, "openai", FREE_MODELS, DRAFT);
    t.aios(&["run", "wf.toml"]).success();
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    let gap = seen[1].at.duration_since(seen[0].at);
    assert!(gap >= Duration::from_millis(900), "retried after {gap:?}");
    let calls = t.aios(&["llm", "log", "--json"]).success().json();
    assert_eq!(calls[0]["http_attempts"], 2);
    assert_eq!(calls[0]["error"], serde_json::Value::Null);
}

#[test]
fn a_500_storm_stops_the_step_naming_provider_and_model() {
    let server = LlmServer::start();
    // max_retries = 2: three attempts per model, two models.
    server.script(vec![Reply::error(500, "overloaded"); 6]);
    let t = setup(&server, "openai", FREE_MODELS, DRAFT);
    t.aios(&["run", "wf.toml"]).success().stdout_contains(
        "rescue    draft              every model failed: provider `local` (model `m1`): HTTP 500 after 3 attempts: overloaded",
    );
    assert_eq!(server.seen().len(), 6);
    assert_eq!(server.seen()[3].body["model"], "m2");
    let err = rescue(&t, "draft").1;
    assert!(
        err.contains("provider `local` (model `m2`): HTTP 500 after 3 attempts"),
        "{err}"
    );
    // Both failed calls are in the ledger, free.
    let calls = t.aios(&["llm", "log", "--json"]).success().json();
    assert_eq!(calls.as_array().unwrap().len(), 2);
    assert_eq!(calls[1]["http_attempts"], 3);
}

#[test]
fn a_malformed_reply_fails_with_a_clear_message() {
    let server = LlmServer::start();
    server.script(vec![Reply::raw(200, "{\"choices\": [ oops")]);
    let wf = DRAFT.replace("model = [\"default\", \"second\"]", "model = \"default\"");
    let t = setup(&server, "openai", FREE_MODELS, &wf);
    t.aios(&["run", "wf.toml"]).success();
    assert!(rescue(&t, "draft").1.starts_with(
        "provider `local` (model `m1`) sent a reply aios cannot read: not the expected JSON",
    ));
}

#[test]
fn a_schema_violation_is_corrected_once() {
    let server = LlmServer::start();
    server.script(vec![
        Reply::openai(r#"{"subject": 42}"#, 5, 5),
        Reply::openai(GOOD, 5, 5),
    ]);
    let t = setup(&server, "openai", FREE_MODELS, DRAFT);
    t.aios(&["run", "wf.toml"]).success();
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    let msgs = seen[1].body["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 4);
    assert_eq!(
        msgs[2],
        json!({"role": "assistant", "content": "{\"subject\": 42}"})
    );
    let ask = msgs[3]["content"].as_str().unwrap();
    assert!(ask.contains("missing required property `body`"), "{ask}");
    assert!(
        ask.contains("$.subject: expected string, found integer"),
        "{ask}"
    );
    assert_eq!(
        step(&t.show(1), "draft")["output"]["json"]["subject"],
        "Tea club is open"
    );
    // Newest first: the repair call, then the invalid reply.
    let calls = t.aios(&["llm", "log", "--json"]).success().json();
    assert_eq!(calls.as_array().unwrap().len(), 2);
    assert_eq!(calls[0]["error"], serde_json::Value::Null);
    assert!(
        calls[1]["error"]
            .as_str()
            .unwrap()
            .contains("does not match the schema")
    );
}

#[test]
fn a_second_invalid_reply_stops_the_step_with_both_errors() {
    let server = LlmServer::start();
    server.script(vec![
        Reply::openai(r#"{"subject": 42}"#, 5, 5),
        Reply::openai("Sure! Here is your email.", 5, 5),
    ]);
    let one = DRAFT.replace("model = [\"default\", \"second\"]", "model = \"default\"");
    let t = setup(&server, "openai", FREE_MODELS, &one);
    t.aios(&["run", "wf.toml"]).success();
    assert_eq!(server.seen().len(), 2);
    let err = rescue(&t, "draft").1;
    assert!(
        err.contains(
            "`default`: the reply does not match the schema: $: missing required property `body`"
        ),
        "{err}"
    );
    assert!(
        err.contains("`default` after it was asked to correct its reply: the reply is not JSON"),
        "{err}"
    );
}

#[test]
fn a_bad_reply_after_the_repair_moves_on_to_the_next_model() {
    let server = LlmServer::start();
    server.script(vec![
        Reply::openai(r#"{"subject": 42}"#, 5, 5),
        Reply::openai("Sure! Here is your email.", 5, 5),
        Reply::openai(GOOD, 5, 5),
    ]);
    let t = setup(&server, "openai", FREE_MODELS, DRAFT);
    t.aios(&["run", "wf.toml"])
        .success()
        .stdout_contains("fallbacks:\n  draft: answered by `second`: `default` failed\n");
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[2].body["model"], "m2");
    // The next model starts fresh: the prompt alone, no repair conversation.
    assert_eq!(seen[2].body["messages"].as_array().unwrap().len(), 2);
    let show = t.show(1);
    let out = &step(&show, "draft")["output"];
    assert_eq!(out["model"], "second");
    assert_eq!(out["fallback"]["from"], json!(["default"]));
    assert_eq!(out["fallback"]["errors"].as_array().unwrap().len(), 2);
}

#[test]
fn model_default_then_heuristic_falls_back_to_the_offline_draft() {
    let server = LlmServer::start();
    server.script(vec![
        Reply::openai("no json here", 5, 5),
        Reply::openai("still none", 5, 5),
    ]);
    let wf = DRAFT.replace(
        "model = [\"default\", \"second\"]",
        "model = [\"default\", \"heuristic\"]",
    );
    let t = setup(&server, "openai", FREE_MODELS, &wf);
    let out = t
        .aios(&["run", "wf.toml"])
        .success()
        .stdout_contains("fallbacks:\n  draft: offline draft, no LLM: `default` failed\n");
    assert!(
        out.stderr.contains("✓ draft")
            && out
                .stderr
                .contains("(offline draft, no LLM: `default` failed)"),
        "{}",
        out.stderr
    );
    let show = t.show(1);
    let o = &step(&show, "draft")["output"];
    assert_eq!(o["heuristic"], true);
    assert_eq!(o["json"]["subject"], "New: Tea club");
    assert_eq!(o["fallback"]["from"], json!(["default"]));
    // The proposal it feeds says no LLM drafted it.
    t.aios(&["inbox", "list"])
        .success()
        .stdout_contains("(offline draft, no LLM)");
}

#[test]
fn bad_keys_and_unknown_models_name_provider_and_model() {
    let server = LlmServer::start();
    server.script(vec![
        Reply::error(401, "invalid x-api-key"),
        Reply::error(404, "model m2 not found"),
    ]);
    let t = setup(&server, "anthropic", FREE_MODELS, DRAFT);
    t.aios(&["run", "wf.toml"]).success();
    // Neither is retried.
    assert_eq!(server.seen().len(), 2);
    let err = rescue(&t, "draft").1;
    assert!(
        err.contains("provider `local` (model `m1`) refused the API key (HTTP 401): invalid x-api-key (hint: check the key in LLM_KEY)"),
        "{err}"
    );
    assert!(
        err.contains("provider `local` (model `m2`): not found (HTTP 404), the model or the endpoint does not exist: model m2 not found"),
        "{err}"
    );
}

#[test]
fn a_provider_error_falls_back_to_the_next_model() {
    let server = LlmServer::start();
    server.script(vec![Reply::error(404, "no m1"), Reply::openai(GOOD, 1, 1)]);
    let t = setup(&server, "openai", FREE_MODELS, DRAFT);
    t.aios(&["run", "wf.toml"]).success();
    let seen = server.seen();
    assert_eq!(
        (
            seen[0].body["model"].as_str(),
            seen[1].body["model"].as_str()
        ),
        (Some("m1"), Some("m2"))
    );
    assert_eq!(step(&t.show(1), "draft")["output"]["model"], "second");
}

#[test]
fn a_missing_key_fails_before_any_request() {
    let server = LlmServer::start();
    let t = Test::new()
        .write("config.toml", &config(&server, "openai", FREE_MODELS))
        .write("wf.toml", DRAFT);
    t.aios(&["run", "wf.toml"]).success();
    assert!(server.seen().is_empty());
    let err = rescue(&t, "draft").1;
    assert!(
        err.contains("provider `local` (model `m1`) needs an API key, but LLM_KEY is not set"),
        "{err}"
    );
}

#[test]
fn the_secrets_file_must_be_private_and_provides_keys() {
    let server = LlmServer::start();
    server.script(vec![Reply::openai(GOOD, 1, 1)]);
    let t = Test::new()
        .write("config.toml", &config(&server, "openai", FREE_MODELS))
        .write("wf.toml", DRAFT)
        .write("secrets.env", &format!("# keys\nLLM_KEY={KEY}\n"));
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        t.join("secrets.env"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let secrets = t.join("secrets.env").display().to_string();
    t.aios(&["run", "wf.toml"]).code(2).stderr_is(&format!(
        "error: the secrets file {secrets} is readable by others (mode 0644)\nhint: restrict it with: chmod 600 {secrets}\n"
    ));
    assert!(server.seen().is_empty());
    std::fs::set_permissions(
        t.join("secrets.env"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    t.aios(&["run", "wf.toml"]).success();
    assert_eq!(
        server.seen()[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
}

#[test]
fn a_bad_config_names_the_file_and_the_key() {
    let t = Test::new()
        .write("config.toml", "[providers.local]\nkind = \"openia\"\n")
        .write("wf.toml", DRAFT);
    let cfg = t.join("config.toml").display().to_string();
    t.aios(&["run", "wf.toml"]).code(2).stderr_is(&format!(
        "error: {cfg}: `providers.local.kind` is `openia`, not a provider kind\nhint: kind = \"openai\" (any OpenAI-compatible server: llama.cpp, vLLM, LM Studio, OpenRouter), \"ollama\" or \"anthropic\"\n"
    ));
    t.aios(&["runs", "--json"]).success().stdout_is("[]\n");
}

#[test]
fn an_unconfigured_alias_stops_the_step_with_a_hint() {
    let server = LlmServer::start();
    let wf = DRAFT.replace("model = [\"default\", \"second\"]", "model = \"writer\"");
    let t = setup(&server, "openai", FREE_MODELS, &wf);
    t.aios(&["run", "wf.toml"]).success();
    let err = rescue(&t, "draft").1;
    assert!(err.contains("model `writer` is not configured"), "{err}");
    assert!(
        err.contains("has no [models.writer] (configured: default, second)"),
        "{err}"
    );
}
