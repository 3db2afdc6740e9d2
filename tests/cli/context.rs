//! Memory in agent prompts: an agent step's `context` (notes, facts, decisions)
//! reaches the LLM, is recorded on the call, the step's output and the proposals it
//! feeds (`evidence.versions`), and is read from the journal on resume.

use serde_json::{Value as Json, json};

use crate::support::http::{Response, Server};
use crate::support::llm::{LlmServer, Reply};
use crate::support::{Test, step};

fn config(llm: &LlmServer) -> String {
    format!(
        r#"
[providers.local]
kind = "openai"
base_url = "{}"
retry_backoff = "10ms"
[models.default]
provider = "local"
name = "m1"
"#,
        llm.base_url()
    )
}

/// An agent step reading memory, and a file step (a proposal) built from it.
const WF: &str = r#"
name = "mail"
[inputs.customer]
default = "acme"
[[steps]]
id = "draft"
kind = "agent"
prompt = "Write to {{ inputs.customer }}."
output = "json"
schema = { type = "object", required = ["subject"], properties = { subject = { type = "string" } } }
offline = { subject = "Hello {{ inputs.customer }}" }
context = { memory = "{{ inputs.customer }} emails", k = 3, facts = ["customer:{{ inputs.customer }}"], decisions = 3 }
[[steps]]
id = "save"
kind = "file"
path = "out.txt"
content = "{{ steps.draft.output.json.subject }}"
"#;

const REPLY: &str =
    r#"{"subject": "Short note for Acme", "rationale": "they like it short", "confidence": 0.9}"#;

/// Memory the workflow's context finds: a note and two versions of a fact.
fn remember(t: &Test) {
    t.aios(&[
        "memory",
        "add",
        "Acme prefers short emails",
        "--tag",
        "customer:acme",
    ])
    .success();
    t.aios(&["fact", "set", "customer:acme", "plan", "basic"])
        .success();
    t.aios(&["fact", "set", "customer:acme", "plan", "pro"])
        .success();
}

/// The user message of a recorded chat request.
fn user_message(body: &Json) -> String {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "user")
        .unwrap()["content"]
        .as_str()
        .unwrap()
        .to_string()
}

/// What every test expects recorded: the note, the fact at version 2, no decision.
fn expected_record(search: &str) -> Json {
    json!({
        "notes": [1],
        "facts": [{"entity": "customer:acme", "key": "plan", "version": 2}],
        "decisions": [],
        "missing_entities": [],
        "search": search,
    })
}

fn expected_versions() -> Json {
    json!([{"kind": "fact", "key": "customer:acme/plan", "version": 2}])
}

/// The fact entries of a proposal's `evidence.versions` (the workflow file is
/// recorded there too).
fn fact_versions(evidence: &Json) -> Json {
    Json::Array(
        evidence["versions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["kind"] == "fact")
            .cloned()
            .collect(),
    )
}

#[test]
fn notes_and_fact_versions_reach_the_prompt_and_are_recorded() {
    let llm = LlmServer::start();
    llm.script(vec![Reply::openai(REPLY, 50, 10)]);
    let embed = Server::start();
    embed.respond(
        "/v1/embeddings",
        Response::json(
            200,
            json!({"data": [{"index": 0, "embedding": [0.2, 0.8]}]}),
        ),
    );
    let cfg = format!(
        "{}\n[embeddings]\nurl = \"{}\"\nmodel = \"mini\"\n",
        config(&llm),
        embed.url("/v1")
    );
    let t = Test::new().write("config.toml", &cfg).write("wf.toml", WF);
    remember(&t);
    assert_eq!(embed.count("/v1/embeddings"), 1, "the note was embedded");
    t.aios(&["run", "wf.toml"]).success();

    // The query was embedded (off the driver thread) and searched with vectors.
    let reqs = embed.requests_to("/v1/embeddings");
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        reqs[1].json(),
        json!({"model": "mini", "input": ["acme emails"]})
    );
    // The prompt: a fenced memory section, then the step's own prompt.
    let seen = llm.seen();
    assert_eq!(seen.len(), 1);
    let prompt = user_message(&seen[0].body);
    assert!(prompt.contains("<memory>\nKnown facts"), "{prompt}");
    assert!(
        prompt.contains("- customer:acme plan = \"pro\" (version 2)"),
        "{prompt}"
    );
    assert!(
        prompt.contains("- (memory 1) [customer:acme] Acme prefers short emails"),
        "{prompt}"
    );
    assert!(prompt.ends_with("</memory>\n\nWrite to acme."), "{prompt}");

    // Recorded on the call, on the step's output and on the proposal's evidence.
    let calls = t.aios(&["llm", "log", "--json"]).success().json();
    assert_eq!(calls[0]["request"]["context"], expected_record("hybrid"));
    let out = step(&t.show(1), "draft")["output"].clone();
    assert_eq!(out["context"], expected_record("hybrid"));
    let item = t.item("save").to_string();
    let shown = t.aios(&["inbox", "show", &item, "--json"]).success().json();
    assert_eq!(fact_versions(&shown["evidence"]), expected_versions());
    assert_eq!(
        shown["evidence"]["agents"][0]["context"],
        expected_record("hybrid")
    );

    // A newer fact makes the proposal stale (the inbox compares the versions); the
    // finished step keeps what it used: resume takes its output from the journal,
    // with no new retrieval, embedding or LLM call.
    t.aios(&["fact", "set", "customer:acme", "plan", "enterprise"])
        .success();
    t.aios(&["approve", &item])
        .code(4)
        .stderr_contains(&format!(
            "inbox item {item} is STALE: fact customer:acme/plan changed since it was proposed"
        ));
    t.aios(&["approve", &item, "--confirm-stale"]).success();
    let show = t.show(1);
    assert_eq!(show["status"], "succeeded");
    assert_eq!(
        step(&show, "draft")["output"]["context"],
        expected_record("hybrid")
    );
    assert_eq!(llm.seen().len(), 1);
    assert_eq!(embed.count("/v1/embeddings"), 2);
    assert_eq!(
        t.aios(&["llm", "log", "--json"])
            .success()
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    t.aios(&["replay", "1"]).success();
}

#[test]
fn a_rejection_reason_reaches_the_next_prompt() {
    let llm = LlmServer::start();
    llm.script(vec![
        Reply::openai(r#"{"subject": "Dear Sir or Madam"}"#, 5, 5),
        Reply::openai(REPLY, 5, 5),
    ]);
    let t = Test::new()
        .write("config.toml", &config(&llm))
        .write("wf.toml", WF);
    t.aios(&["run", "wf.toml"]).success();
    // Nothing in memory yet: the prompt alone.
    assert_eq!(user_message(&llm.seen()[0].body), "Write to acme.");
    let item = t.item("save").to_string();
    t.aios(&["reject", &item, "--reason", "too formal, say hi"])
        .code(1);

    t.aios(&["run", "wf.toml"]).success();
    let seen = llm.seen();
    assert_eq!(seen.len(), 2);
    let prompt = user_message(&seen[1].body);
    assert!(
        prompt.contains("The operator's earlier decisions on this step"),
        "{prompt}"
    );
    assert!(prompt.contains("reject save:"), "{prompt}");
    assert!(prompt.contains("reason: too formal, say hi"), "{prompt}");
    let ctx = step(&t.show(2), "draft")["output"]["context"].clone();
    assert_eq!(ctx["decisions"].as_array().unwrap().len(), 1);
    // The decision recorded is the one searchable in memory.
    let hits = t
        .aios(&["memory", "search", "formal", "--json"])
        .success()
        .json();
    assert_eq!(ctx["decisions"][0], hits[0]["id"]);
}

#[test]
fn the_offline_provider_records_the_same_evidence() {
    let t = Test::new().write("wf.toml", WF);
    remember(&t);
    t.aios(&["run", "wf.toml"]).success();
    let out = step(&t.show(1), "draft")["output"].clone();
    assert_eq!(out["heuristic"], true);
    // It ignores the context: its draft is the step's `offline` value.
    assert_eq!(out["json"]["subject"], "Hello acme");
    assert_eq!(out["context"], expected_record("full-text"));
    let calls = t.aios(&["llm", "log", "--json"]).success().json();
    assert_eq!(calls[0]["request"]["context"], expected_record("full-text"));
    let chat = &calls[0]["request"]["chat"];
    assert!(
        user_message(chat).contains("Acme prefers short emails"),
        "{chat}"
    );
    let item = t.item("save").to_string();
    let shown = t.aios(&["inbox", "show", &item, "--json"]).success().json();
    assert_eq!(fact_versions(&shown["evidence"]), expected_versions());
}

#[test]
fn a_failing_embedding_endpoint_leaves_full_text_retrieval() {
    let embed = Server::start();
    embed.respond(
        "/v1/embeddings",
        Response::json(500, json!({"error": {"message": "model not loaded"}})),
    );
    let t = Test::new()
        .write(
            "config.toml",
            &format!(
                "[embeddings]\nurl = \"{}\"\nmodel = \"mini\"\n",
                embed.url("/v1")
            ),
        )
        .write("wf.toml", WF);
    remember(&t);
    t.aios(&["run", "wf.toml"]).success();
    let ctx = step(&t.show(1), "draft")["output"]["context"].clone();
    assert_eq!(ctx["search"], "full-text");
    assert_eq!(ctx["notes"], json!([1]));
    assert!(
        ctx["warning"]
            .as_str()
            .unwrap()
            .contains("model not loaded"),
        "{ctx}"
    );
}

#[test]
fn each_launch_informs_the_next() {
    let t = Test::new().copy("workflows/launch.toml", "launch.toml");
    let mut notes = Vec::new();
    for run in 1..=2 {
        t.aios(&["run", "launch.toml"]).success();
        let mut rounds = 0;
        loop {
            let pending = t.inbox();
            let Some(item) = pending.first() else { break };
            rounds += 1;
            assert!(rounds < 10, "run {run} never finished");
            t.aios(&["approve", &item["id"].to_string()]).success();
        }
        let show = t.show(run);
        assert_eq!(show["status"], "succeeded");
        let note = &step(&show, "remember")["output"];
        notes.push(note["note"].clone());
        assert_eq!(
            note["tags"],
            json!(["launch", "offer:founder-office-hours"])
        );
    }
    // The first launch had nothing to read; the second read the first one's note,
    // and the operator's decisions on what its copy fed.
    let first = step(&t.show(1), "copy")["output"]["context"].clone();
    assert_eq!(
        (&first["notes"], &first["decisions"]),
        (&json!([]), &json!([]))
    );
    let second = step(&t.show(2), "copy")["output"]["context"].clone();
    assert_eq!(second["notes"], json!([notes[0]]));
    assert_eq!(second["decisions"].as_array().unwrap().len(), 3);
    let calls = t
        .aios(&["llm", "log", "--run", "2", "--json"])
        .success()
        .json();
    let copy = calls
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["step_id"] == "copy")
        .unwrap();
    let prompt = user_message(&copy["request"]["chat"]);
    assert!(
        prompt.contains("Launched \"Founder office hours\" at $49 for indie founders, live today."),
        "{prompt}"
    );
    t.aios(&["replay", "2"]).success();
}
