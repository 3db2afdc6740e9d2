//! Agent steps with tools: the model calls tools through the providers' native tool
//! calling (OpenAI `tool_calls`, Anthropic `tool_use`), scripted on loopback servers;
//! read-only tools (server-everything's `echo` and `get-sum`, aios's own) run inline,
//! a side-effecting one waits in the inbox and its result (or the rejection) goes
//! back to the model; `max_turns`, budget stops and `kill -9` mid-loop.

use serde_json::{Value as Json, json};

use crate::agent::{KEY, config};
use crate::support::llm::{LlmServer, Reply};
use crate::support::mcp::everything_config;
use crate::support::{Test, step};

pub(crate) const MODELS: &str = r#"
[models.default]
provider = "local"
name = "m1"
"#;

/// An OpenAI reply that calls tools: `(id, name, arguments)`.
pub(crate) fn openai_calls(text: Option<&str>, calls: &[(&str, &str, Json)]) -> Reply {
    let calls: Vec<Json> = calls
        .iter()
        .map(|(id, name, args)| {
            json!({"id": id, "type": "function", "function": {"name": name, "arguments": args.to_string()}})
        })
        .collect();
    Reply::json(
        200,
        json!({
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "tool_calls": calls}, "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        }),
    )
}

/// An Anthropic reply with a text block and `tool_use` blocks.
fn anthropic_calls(text: &str, calls: &[(&str, &str, Json)]) -> Reply {
    let mut content = vec![json!({"type": "text", "text": text})];
    for (id, name, input) in calls {
        content.push(json!({"type": "tool_use", "id": id, "name": name, "input": input}));
    }
    Reply::json(
        200,
        json!({
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "content": content,
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 10, "output_tokens": 5}
        }),
    )
}

pub(crate) fn workflow(tools: &str, extra: &str) -> String {
    format!(
        r#"
name = "helper"
[[steps]]
id = "answer"
kind = "agent"
model = ["default", "heuristic"]
prompt = "What is 2 + 3? Tell the customer."
output = "json"
schema = {{ type = "object", required = ["answer"], properties = {{ answer = {{ type = "string" }} }} }}
offline = {{ answer = "offline" }}
tools = {tools}
{extra}
"#
    )
}

pub(crate) fn setup(server: &LlmServer, kind: &str, wf: &str) -> Test {
    Test::new()
        .write(
            "config.toml",
            &format!("{}\n{}", config(server, kind, MODELS), everything_config()),
        )
        .write("wf.toml", wf)
        .env("LLM_KEY", KEY)
}

/// The tool results (`role: "tool"` messages) an OpenAI request carried.
pub(crate) fn openai_results(body: &Json) -> Vec<(String, String)> {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| {
            (
                m["tool_call_id"].as_str().unwrap().to_string(),
                m["content"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

pub(crate) fn events_of(t: &Test, kind: &str) -> Vec<Json> {
    t.sql_rows(
        "SELECT data FROM events WHERE type = $1 ORDER BY seq",
        &[kind],
    )
    .into_iter()
    .map(|r| serde_json::from_str(r[0].as_str().unwrap()).unwrap())
    .collect()
}

#[test]
fn openai_tool_calls_run_read_only_mcp_tools_inline() {
    let server = LlmServer::start();
    server.script(vec![
        openai_calls(
            None,
            &[
                ("call_1", "everything__echo", json!({"message": "hi"})),
                ("call_2", "everything__get-sum", json!({"a": 2, "b": 3})),
            ],
        ),
        Reply::openai(r#"{"answer": "5"}"#, 20, 5),
    ]);
    let t = setup(
        &server,
        "openai",
        &workflow(r#"["everything.echo", "everything.get-*"]"#, ""),
    );
    t.aios(&["check", "wf.toml"]).success();
    t.aios(&["run", "wf.toml"]).success();
    let show = t.show(1);
    assert_eq!(show["status"], "succeeded", "{show}");
    let out = &step(&show, "answer")["output"];
    assert_eq!(out["json"]["answer"], "5", "{out}");
    assert_eq!(out["tool_turns"], 1);
    let chats = server.chats();
    assert_eq!(chats.len(), 2);
    // Native tools offered: echo and every get-* tool.
    let names: Vec<&str> = chats[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"everything__echo"), "{names:?}");
    assert!(names.contains(&"everything__get-sum"), "{names:?}");
    assert!(
        names
            .iter()
            .all(|n| *n == "everything__echo" || n.starts_with("everything__get-"))
    );
    // The second call carries the calls and their results.
    let msgs = chats[1].body["messages"].as_array().unwrap();
    assert!(msgs.iter().any(|m| m["tool_calls"][0]["id"] == "call_1"));
    let results = openai_results(&chats[1].body);
    assert_eq!(results[0], ("call_1".into(), r#"["Echo: hi"]"#.into()));
    assert_eq!(results[1].0, "call_2");
    assert!(
        results[1].1.contains("The sum of 2 and 3 is 5."),
        "{results:?}"
    );
    // Each tool call is journaled.
    let tools = events_of(&t, "agent_tool");
    assert_eq!(tools.len(), 2);
    assert_eq!(tools[0]["tool"], "everything.echo");
    assert_eq!(tools[1]["arguments"], json!({"a": 2, "b": 3}));
    let calls = events_of(&t, "llm_call");
    assert_eq!(calls[0]["tool_calls"][1]["name"], "everything__get-sum");
    assert!(t.inbox().is_empty());
    t.aios(&["replay"]).success();
}

#[test]
fn anthropic_tool_use_reads_aios_facts_and_memory() {
    let server = LlmServer::start();
    server.script(vec![
        anthropic_calls(
            "Let me look it up.",
            &[
                ("toolu_1", "fact__get", json!({"entity": "customer:acme"})),
                ("toolu_2", "memory__search", json!({"query": "oolong"})),
            ],
        ),
        Reply::anthropic_tool(json!({"answer": "gold plan"}), 30, 5),
    ]);
    let t = setup(
        &server,
        "anthropic",
        &workflow(r#"["fact.get", "memory.search"]"#, ""),
    );
    t.aios(&["fact", "set", "customer:acme", "plan", "gold"])
        .success();
    t.aios(&["memory", "add", "Acme loves oolong tea"])
        .success();
    t.aios(&["run", "wf.toml"]).success();
    let show = t.show(1);
    assert_eq!(show["status"], "succeeded", "{show}");
    assert_eq!(
        step(&show, "answer")["output"]["json"]["answer"],
        "gold plan"
    );
    let chats = server.chats();
    assert_eq!(chats.len(), 2);
    // Tools plus the reply tool; the model may call either until the last turn.
    assert_eq!(chats[0].body["tool_choice"], json!({"type": "any"}));
    let msgs = chats[1].body["messages"].as_array().unwrap();
    assert_eq!(msgs[1]["role"], "assistant");
    assert_eq!(msgs[1]["content"][1]["type"], "tool_use");
    let results = msgs[2]["content"].as_array().unwrap();
    assert_eq!(results[0]["type"], "tool_result");
    assert_eq!(results[0]["tool_use_id"], "toolu_1");
    let fact: Json = serde_json::from_str(results[0]["content"].as_str().unwrap()).unwrap();
    assert_eq!(fact["facts"]["plan"]["value"], "gold");
    let hits: Json = serde_json::from_str(results[1]["content"].as_str().unwrap()).unwrap();
    assert!(
        hits["hits"][0]["text"].as_str().unwrap().contains("oolong"),
        "{hits}"
    );
}

const TOGGLE: &str = r#"["everything.toggle-simulated-logging", "everything.echo"]"#;

#[test]
fn a_side_effecting_call_is_proposed_and_its_result_goes_back_to_the_model() {
    let server = LlmServer::start();
    server.script(vec![
        openai_calls(
            Some("Logging helps me see what happens."),
            &[("call_t", "everything__toggle-simulated-logging", json!({}))],
        ),
        Reply::openai(r#"{"answer": "logging on"}"#, 20, 5),
    ]);
    let t = setup(&server, "openai", &workflow(TOGGLE, ""));
    t.aios(&["run", "wf.toml"])
        .success()
        .stdout_contains("call toggle-simulated-logging on everything");
    assert_eq!(server.chats().len(), 1, "the loop waits for the operator");
    let items = t.inbox();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["kind"], "action");
    let item = t.aios(&["inbox", "show", "1", "--json"]).success().json();
    assert_eq!(item["action"]["server"], "everything");
    assert_eq!(item["action"]["tool"], "toggle-simulated-logging");
    assert_eq!(item["action"]["annotations"]["readOnlyHint"], false);
    assert_eq!(
        item["evidence"]["rationale"],
        "Logging helps me see what happens."
    );
    t.aios(&["approve", "1"]).success();
    let show = t.show(1);
    assert_eq!(show["status"], "succeeded", "{show}");
    assert_eq!(
        step(&show, "answer")["output"]["json"]["answer"],
        "logging on"
    );
    let chats = server.chats();
    assert_eq!(chats.len(), 2);
    let results = openai_results(&chats[1].body);
    assert_eq!(results[0].0, "call_t");
    assert!(
        results[0].1.to_lowercase().contains("logging"),
        "{results:?}"
    );
    let tools = events_of(&t, "agent_tool");
    assert_eq!(tools.len(), 1);
    assert_eq!(tools[0]["proposal"], 1);
}

#[test]
fn a_rejected_call_gives_the_model_the_reason() {
    let server = LlmServer::start();
    server.script(vec![
        openai_calls(
            None,
            &[(
                "call_t",
                "everything__toggle-simulated-logging",
                json!({"reason": "to debug"}),
            )],
        ),
        Reply::openai(r#"{"answer": "no logging"}"#, 20, 5),
    ]);
    let t = setup(&server, "openai", &workflow(TOGGLE, ""));
    t.aios(&["run", "wf.toml"]).success();
    let item = t.aios(&["inbox", "show", "1", "--json"]).success().json();
    // The `reason` argument is the reason; the tool does not receive it.
    assert_eq!(item["evidence"]["rationale"], "to debug");
    assert_eq!(item["action"]["arguments"], json!({}));
    t.aios(&["reject", "1", "--reason", "not in production"])
        .success();
    let show = t.show(1);
    assert_eq!(show["status"], "succeeded", "{show}");
    let results = openai_results(&server.chats()[1].body);
    let r: Json = serde_json::from_str(&results[0].1).unwrap();
    assert_eq!(r["error"], "the operator rejected this call");
    assert_eq!(r["reason"], "not in production");
}

#[test]
fn max_turns_makes_the_last_call_final_and_a_model_still_calling_falls_back() {
    let server = LlmServer::start();
    server.script(vec![
        openai_calls(None, &[("c1", "everything__echo", json!({"message": "a"}))]),
        openai_calls(None, &[("c2", "everything__echo", json!({"message": "b"}))]),
    ]);
    let t = setup(
        &server,
        "openai",
        &workflow(r#"["everything.echo"]"#, "max_turns = 2"),
    );
    t.aios(&["run", "wf.toml"]).success();
    let chats = server.chats();
    assert_eq!(chats.len(), 2);
    assert!(chats[0].body.get("tool_choice").is_none());
    assert_eq!(chats[1].body["tool_choice"], "none");
    assert_eq!(chats[1].body["response_format"]["type"], "json_schema");
    let show = t.show(1);
    let out = &step(&show, "answer")["output"];
    assert_eq!(out["heuristic"], true, "{out}");
    assert_eq!(out["json"]["answer"], "offline");
    assert!(
        out["fallback"]["errors"][0]
            .as_str()
            .unwrap()
            .contains("still called tools at its last turn (max_turns = 2)"),
        "{out}"
    );
}

#[test]
fn check_validates_the_tools_of_agent_steps() {
    let server = LlmServer::start();
    let t = setup(
        &server,
        "openai",
        &workflow(
            r#"["everything.ech", "everything.nothing-*", "nowhere.x", "memory.search", "bad"]"#,
            "",
        ),
    );
    t.aios(&["check", "wf.toml"])
        .code(2)
        .stderr_contains("`bad` is not a tool");
    let t = setup(
        &server,
        "openai",
        &workflow(
            r#"["everything.ech", "everything.nothing-*", "nowhere.x", "memory.search"]"#,
            "",
        ),
    );
    t.aios(&["check", "wf.toml"])
        .code(2)
        .stderr_contains("server `everything` has no tool `ech`")
        .stderr_contains("did you mean")
        .stderr_contains("`nothing-*` matches no tool of server `everything`")
        .stderr_contains("nowhere")
        .stderr_contains("(3 problems)");
}

const PRICED: &str = r#"
[models.default]
provider = "local"
name = "m1"
usd_per_mtok_in = 1000.0
usd_per_mtok_out = 1000.0
"#;

#[test]
fn a_budget_stop_mid_loop_keeps_the_loop() {
    let server = LlmServer::start();
    // The first call costs $2 (2000 tokens at $1000 per million): past the cap.
    let mut first = openai_calls(
        None,
        &[("c1", "everything__echo", json!({"message": "hi"}))],
    );
    first.body = first
        .body
        .replace("\"prompt_tokens\":10", "\"prompt_tokens\":2000");
    server.script(vec![first, Reply::openai(r#"{"answer": "5"}"#, 1, 1)]);
    let wf = workflow(r#"["everything.echo"]"#, "max_tokens = 100").replace(
        "name = \"helper\"",
        "name = \"helper\"\n[budget]\nmax_usd = 1.0",
    );
    let t = Test::new()
        .write(
            "config.toml",
            &format!(
                "{}\n{}",
                config(&server, "openai", PRICED),
                everything_config()
            ),
        )
        .write("wf.toml", &wf)
        .env("LLM_KEY", KEY);
    t.aios(&["run", "wf.toml"])
        .success()
        .stdout_contains("would pass the run cap");
    assert_eq!(server.chats().len(), 1);
    assert_eq!(t.inbox()[0]["kind"], "budget");
    t.aios(&["approve", "1", "--raise", "100"]).success();
    let show = t.show(1);
    assert_eq!(show["status"], "succeeded", "{show}");
    let chats = server.chats();
    assert_eq!(chats.len(), 2);
    assert_eq!(openai_results(&chats[1].body)[0].1, r#"["Echo: hi"]"#);
    assert_eq!(events_of(&t, "agent_tool").len(), 1, "the tool ran once");
}

#[test]
fn killed_mid_loop_resume_repays_nothing_and_repeats_no_tool_call() {
    let server = LlmServer::start();
    server.script(vec![
        openai_calls(
            None,
            &[("c1", "everything__echo", json!({"message": "hi"}))],
        ),
        Reply::openai(r#"{"answer": "5"}"#, 20, 5).held(0),
        Reply::openai(r#"{"answer": "5"}"#, 20, 5),
    ]);
    let t = setup(&server, "openai", &workflow(r#"["everything.echo"]"#, ""));
    let bg = t.args(&["run", "wf.toml"]).spawn();
    server.wait_held();
    bg.kill9();
    server.release();
    assert_eq!(t.show(1)["status"], "running");
    t.aios(&["resume", "1"]).success();
    let show = t.show(1);
    assert_eq!(show["status"], "succeeded", "{show}");
    let chats = server.chats();
    // The first turn is not asked again; the unanswered second one is.
    assert_eq!(chats.len(), 3);
    assert_eq!(openai_results(&chats[2].body)[0].1, r#"["Echo: hi"]"#);
    assert_eq!(events_of(&t, "agent_tool").len(), 1, "echo ran once");
    let paid = events_of(&t, "llm_call");
    assert_eq!(
        paid.len(),
        2,
        "the first call journaled once, then the answer"
    );
    // The process that resumed journals its first call's conversation whole.
    assert!(paid[1]["request"]["chat"].get("earlier").is_none());
    assert_eq!(
        paid[1]["request"]["chat"]["messages"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    t.aios(&["replay"]).success();
}

#[test]
fn tool_results_are_redacted_before_the_model_reads_them() {
    let server = LlmServer::start();
    server.script(vec![
        // The model somehow knows the key and has it echoed: its arguments are
        // redacted before anything keeps them, and a placeholder the model writes is
        // text for the tool, never the secret.
        openai_calls(None, &[("c1", "everything__echo", json!({"message": KEY}))]),
        Reply::openai(r#"{"answer": "done"}"#, 20, 5),
    ]);
    let t = setup(&server, "openai", &workflow(r#"["everything.echo"]"#, ""));
    t.aios(&["run", "wf.toml"]).success();
    assert_eq!(t.show(1)["status"], "succeeded");
    let second = &server.chats()[1];
    assert!(!second.text().contains(KEY), "{}", second.text());
    let results = openai_results(&second.body);
    assert!(
        results[0].1.contains("secret(\\\"LLM_KEY\\\")"),
        "{results:?}"
    );
    let tools = events_of(&t, "agent_tool");
    assert!(!tools[0].to_string().contains(KEY));
}

#[test]
fn killed_between_a_tool_call_and_its_result_resume_calls_the_read_only_tool_again() {
    let server = LlmServer::start();
    let long = json!({"duration": 2, "steps": 2});
    server.script(vec![
        openai_calls(
            None,
            &[("c1", "everything__trigger-long-running-operation", long)],
        ),
        Reply::openai(r#"{"answer": "done"}"#, 20, 5),
    ]);
    let t = setup(
        &server,
        "openai",
        &workflow(r#"["everything.trigger-long-running-operation"]"#, ""),
    );
    let bg = t.args(&["run", "wf.toml"]).spawn();
    // The first turn is journaled: the (2 s) tool call is in flight.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let journaled = || -> i64 {
        // No journal (or no table) yet reads as nothing journaled.
        t.try_sql_rows("SELECT count(*) FROM events WHERE type = 'llm_call'", &[])
            .map_or(0, |r| r[0][0].as_i64().unwrap())
    };
    while journaled() == 0 {
        assert!(std::time::Instant::now() < deadline, "no call journaled");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    bg.kill9();
    assert!(
        events_of(&t, "agent_tool").is_empty(),
        "the tool call finished first"
    );
    t.aios(&["resume", "1"]).success();
    let show = t.show(1);
    assert_eq!(show["status"], "succeeded", "{show}");
    let chats = server.chats();
    assert_eq!(chats.len(), 2, "the first turn was not asked again");
    let results = openai_results(&chats[1].body);
    assert!(
        results[0].1.contains("Long running operation completed"),
        "{results:?}"
    );
    assert_eq!(events_of(&t, "agent_tool").len(), 1);
    assert_eq!(events_of(&t, "llm_call").len(), 2);
}

/// An agent step's calls run under its persona: a call its `mcp_tools` do not
/// allow is neither made nor proposed, and the model reads the refusal.
#[test]
fn a_call_the_steps_persona_refuses_is_not_proposed_and_the_model_reads_why() {
    let server = LlmServer::start();
    server.script(vec![
        openai_calls(
            Some("Let me turn logging on."),
            &[
                ("call_e", "everything__echo", json!({"message": "hi"})),
                ("call_t", "everything__toggle-simulated-logging", json!({})),
            ],
        ),
        Reply::openai(r#"{"answer": "could not"}"#, 20, 5),
    ]);
    let t = Test::new()
        .write(
            "config.toml",
            &format!(
                "{}\n{}\n[personas.helper]\nmcp_tools = [\"everything.echo\"]\nmodels = [\"*\"]\n",
                config(&server, "openai", MODELS),
                everything_config()
            ),
        )
        .write("wf.toml", &workflow(TOGGLE, "persona = \"helper\""))
        .env("LLM_KEY", KEY);
    t.aios(&["run", "wf.toml"]).success();
    let show = t.show(1);
    assert_eq!(show["status"], "succeeded", "{show}");
    assert!(t.inbox().is_empty(), "{:?}", t.inbox());
    let chats = server.chats();
    assert_eq!(chats.len(), 2);
    let results = openai_results(&chats[1].body);
    assert_eq!(results[0], ("call_e".into(), r#"["Echo: hi"]"#.into()));
    assert_eq!(results[1].0, "call_t");
    assert!(
        results[1].1.contains(
            "persona `helper` does not allow the tool everything.toggle-simulated-logging: it is not in its `mcp_tools` (everything.echo)"
        ),
        "{results:?}"
    );
    let tools = events_of(&t, "agent_tool");
    assert_eq!(tools.len(), 2);
    let refused = tools.iter().find(|e| e["call_id"] == "call_t").unwrap();
    assert_eq!(refused["error"], true, "{refused}");
    assert!(refused["proposal"].is_null(), "{refused}");
}
