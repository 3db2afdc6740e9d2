//! Invariant 8 for an agent's tool calls: a side-effecting call the operator
//! approved, in flight when the process is killed (`kill -9`), is neither proposed
//! nor made again on resume. Its outcome is unknown, so it becomes an attention item
//! ("interrupted, outcome unknown") with the choices of an interrupted step; the
//! operator's answer goes back to the model as the call's result and the loop goes
//! on. The tool is a real MCP server (the Python SDK's, over stdio) that records
//! every call it receives. (A read-only call interrupted mid-flight is simply made
//! again: see `agent_tools`.)

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value as Json, json};

use crate::agent::{KEY, config};
use crate::agent_tools::{MODELS, events_of, openai_calls, openai_results, workflow};
use crate::support::llm::{LlmServer, Reply};
use crate::support::mcp::{ledger_calls, ledger_config, wait_for};
use crate::support::{Test, step};

struct Crashed {
    server: LlmServer,
    t: Test,
    calls: PathBuf,
    /// The attention item.
    item: i64,
}

/// Run to the proposed `ledger.charge`, approve it in a process that is killed
/// while the server holds the call, open the gate, then resume.
fn killed_during_an_approved_charge() -> Crashed {
    let server = LlmServer::start();
    server.script(vec![
        openai_calls(
            Some("The customer owes 5."),
            &[("c1", "ledger__charge", json!({"amount": 5}))],
        ),
        Reply::openai(r#"{"answer": "charged"}"#, 20, 5),
    ]);
    let t = Test::new();
    let calls = t.join("calls.log");
    let gate = t.join("gate");
    let ledger = ledger_config(t.path(), &calls, &gate);
    let t = t
        .write(
            "config.toml",
            &format!("{}\n{ledger}", config(&server, "openai", MODELS)),
        )
        .write("wf.toml", &workflow(r#"["ledger.charge"]"#, ""))
        .env("LLM_KEY", KEY);
    t.aios(&["run", "wf.toml"])
        .success()
        .stdout_contains("call charge on ledger");
    let proposal = t.item("answer");
    let bg = t.args(&["approve", &proposal.to_string()]).spawn();
    wait_for(
        "the call to reach the server",
        Duration::from_secs(30),
        || !ledger_calls(&calls).is_empty(),
    );
    bg.kill9();
    // From now on a call would be answered at once (and recorded).
    std::fs::write(&gate, "").unwrap();
    assert!(
        events_of(&t, "agent_tool").is_empty(),
        "no result journaled"
    );
    assert_eq!(t.show(1)["status"], "running");

    let out = t.aios(&["resume", "1"]).success();
    assert_eq!(ledger_calls(&calls), ["5"], "the call was made again");
    assert_eq!(server.chats().len(), 1, "the model was asked again");
    let items = t.inbox();
    assert_eq!(items.len(), 1, "{items:?}");
    let item = &items[0];
    assert_eq!(item["kind"], "attention", "{item}");
    assert_eq!(item["step_id"], "answer");
    assert_eq!(
        item["summary"],
        "interrupted, outcome unknown: call charge on ledger"
    );
    let id = item["id"].as_i64().unwrap();
    assert_ne!(id, proposal);
    assert!(
        out.stderr.contains("? answer needs attention (inbox "),
        "{}",
        out.stderr
    );
    assert_eq!(step(&t.show(1), "answer")["status"], "needs_attention");
    let shown = t
        .aios(&["inbox", "show", &id.to_string(), "--json"])
        .success()
        .json();
    assert_eq!(shown["action"]["server"], "ledger");
    assert_eq!(shown["action"]["tool"], "charge");
    assert_eq!(shown["action"]["arguments"], json!({"amount": 5}));
    Crashed {
        server,
        t,
        calls,
        item: id,
    }
}

/// The result the model read for call `c1` (second request).
fn result_read(server: &LlmServer) -> String {
    let chats = server.chats();
    assert_eq!(chats.len(), 2, "one more turn after the answer");
    let results = openai_results(&chats[1].body);
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0].0, "c1");
    results[0].1.clone()
}

fn assert_finished(c: &Crashed) {
    let show = c.t.show(1);
    assert_eq!(show["status"], "succeeded", "{show}");
    assert_eq!(step(&show, "answer")["output"]["json"]["answer"], "charged");
    let tools = events_of(&c.t, "agent_tool");
    assert_eq!(tools.len(), 1, "{tools:?}");
    assert_eq!(tools[0]["call_id"], "c1");
    assert_eq!(tools[0]["proposal"], c.item);
    assert!(c.t.inbox().is_empty());
    c.t.aios(&["replay"]).success();
}

#[test]
fn killed_during_an_approved_tool_call_the_operator_says_it_was_done() {
    let c = killed_during_an_approved_charge();
    let id = c.item.to_string();
    c.t.aios(&["approve", &id, "--done"])
        .success()
        .stdout_contains("run 1 (helper) succeeded");
    assert_eq!(ledger_calls(&c.calls), ["5"]);
    let r: Json = serde_json::from_str(&result_read(&c.server)).unwrap();
    assert_eq!(r["done"], true, "{r}");
    assert!(r["note"].as_str().unwrap().contains("the operator"), "{r}");
    assert_finished(&c);
}

#[test]
fn killed_during_an_approved_tool_call_the_operator_retries_it() {
    let c = killed_during_an_approved_charge();
    c.t.aios(&["approve", &c.item.to_string()])
        .success()
        .stdout_contains("run 1 (helper) succeeded");
    assert_eq!(
        ledger_calls(&c.calls),
        ["5", "5"],
        "made once more, on request"
    );
    assert!(result_read(&c.server).contains("charged 5"));
    assert_finished(&c);
}

#[test]
fn killed_during_an_approved_tool_call_the_operator_says_it_failed() {
    let c = killed_during_an_approved_charge();
    c.t.aios(&[
        "reject",
        &c.item.to_string(),
        "--reason",
        "the ledger has no such charge",
    ])
    .success()
    .stdout_contains("run 1 (helper) succeeded");
    assert_eq!(ledger_calls(&c.calls), ["5"]);
    let r: Json = serde_json::from_str(&result_read(&c.server)).unwrap();
    assert_eq!(r["reason"], "the ledger has no such charge", "{r}");
    assert!(r["error"].as_str().unwrap().contains("not made"), "{r}");
    assert_finished(&c);
}
