//! What the journal keeps of an agent's tool loop: each turn's LLM call records only
//! the messages new since the step's call before it, and `aios llm log` shows every
//! conversation whole again.

use serde_json::{Value as Json, json};

use crate::agent_tools::{events_of, openai_calls, setup, workflow};
use crate::support::llm::{LlmServer, Reply};

#[test]
fn each_turn_journals_only_its_new_messages_and_llm_log_shows_them_whole() {
    let server = LlmServer::start();
    server.script(vec![
        openai_calls(
            None,
            &[("c1", "everything__echo", json!({"message": "one"}))],
        ),
        openai_calls(
            Some("Once more."),
            &[("c2", "everything__echo", json!({"message": "two"}))],
        ),
        Reply::openai(r#"{"answer": "5"}"#, 20, 5),
    ]);
    let t = setup(&server, "openai", &workflow(r#"["everything.echo"]"#, ""));
    t.aios(&["run", "wf.toml"]).success();
    assert_eq!(t.show(1)["status"], "succeeded");
    let chats = server.chats();
    assert_eq!(chats.len(), 3);
    // What each call sent, without the system prompt: 1, 3 and 5 messages.
    let sent: Vec<Vec<Json>> = chats
        .iter()
        .map(|c| {
            c.body["messages"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["role"] != "system")
                .cloned()
                .collect()
        })
        .collect();
    assert_eq!(sent.iter().map(Vec::len).collect::<Vec<_>>(), [1, 3, 5]);
    // The journal: the first call whole, each later one what is new since.
    let calls = events_of(&t, "llm_call");
    let chat = |i: usize| &calls[i]["request"]["chat"];
    assert!(chat(0).get("earlier").is_none());
    assert_eq!(chat(0)["messages"].as_array().unwrap().len(), 1);
    assert_eq!(chat(1)["earlier"], 1);
    assert_eq!(chat(2)["earlier"], 3);
    for i in 1..3 {
        let own = chat(i)["messages"].as_array().unwrap();
        assert_eq!(own.len(), 2, "{own:?}");
        assert_eq!(own[0]["role"], "assistant");
        assert_eq!(own[1]["role"], "tool");
        assert_eq!(own[1]["tool_call_id"], format!("c{i}"));
    }
    // `llm log` puts each conversation back whole, also when the calls before it
    // are not listed.
    let whole = |args: &[&str]| -> Vec<Json> {
        let log = t.aios(args).success().json();
        log.as_array()
            .unwrap()
            .iter()
            .map(|c| {
                assert!(c["request"]["chat"].get("earlier").is_none(), "{c}");
                c["request"]["chat"]["messages"].clone()
            })
            .collect()
    };
    let all = whole(&["llm", "log", "--json"]);
    assert_eq!(all.len(), 3);
    for (i, m) in all.iter().rev().enumerate() {
        let m = m.as_array().unwrap();
        assert_eq!(m.len(), sent[i].len(), "call {i}: {m:?}");
        for (k, (a, b)) in m.iter().zip(&sent[i]).enumerate() {
            assert_eq!(a["role"], b["role"], "call {i}, message {k}");
            assert_eq!(
                a["content"].as_str().unwrap_or(""),
                b["content"].as_str().unwrap_or(""),
                "call {i}, message {k}"
            );
        }
    }
    let last = whole(&["llm", "log", "--json", "--limit", "1"]);
    assert_eq!(last, all[..1]);
    t.aios(&["llm", "log", "--full", "--limit", "1"])
        .success()
        .stdout_contains("What is 2 + 3? Tell the customer.")
        .stdout_contains("Once more.");
    t.aios(&["replay"]).success();
}
