//! The rescue of an agent step every model failed: the run waits on a `rescue` item
//! showing the replies and errors; the operator pastes or edits the reply (checked
//! against the schema), accepts the offline draft, runs the step again, or fails it.

use serde_json::json;

use crate::agent::{DRAFT, FREE_MODELS, GOOD, rescue, setup};
use crate::support::llm::{LlmServer, Reply};
use crate::support::{Test, step};

/// One model, two invalid replies: the step waits on a rescue item.
fn stopped() -> (LlmServer, Test, i64) {
    let server = LlmServer::start();
    server.script(vec![
        Reply::openai(r#"{"subject": 42}"#, 5, 5),
        Reply::openai("Sure! Here is your email.", 5, 5),
    ]);
    let wf = DRAFT.replace("model = [\"default\", \"second\"]", "model = \"default\"");
    let t = setup(&server, "openai", FREE_MODELS, &wf);
    t.aios(&["run", "wf.toml"])
        .success()
        .stdout_contains("run 1 (mail) is waiting for you:\n  inbox 1    rescue    draft              every model failed: `default`: the reply does not match the schema")
        .stdout_contains("next: aios inbox show 1 ");
    let (id, _) = rescue(&t, "draft");
    (server, t, id)
}

#[test]
fn the_rescue_item_shows_the_replies_errors_schema_and_offline_draft() {
    let (_server, t, id) = stopped();
    assert_eq!(t.show(1)["status"], "waiting");
    assert_eq!(step(&t.show(1), "draft")["status"], "waiting");
    let out = t.aios(&["inbox", "show", &id.to_string()]).success().stdout;
    for want in [
        "inbox 1 · rescue · pending\n",
        "Every model of this agent step failed; its run waits for your answer.\n",
        "replies\n  call 1 · `default` via local · stop\n    {\"subject\": 42}\n    error: `default`: the reply does not match the schema: $: missing required property `body`",
        "  call 2 · `default` via local · stop\n    Sure! Here is your email.\n    error: `default` after it was asked to correct its reply: the reply is not JSON",
        "why the step stopped\n  `default`: the reply does not match",
        "your reply must match this schema (--edit FILE)\n  {\n    \"type\": \"object\",",
        "offline draft (--offline)\n  {\n    \"subject\": \"New: Tea club\",\n    \"body\": \"Hello\"\n  }\n",
        "\nnext:\n  aios approve 1                run the step again from its first model\n  aios approve 1 --edit FILE    give the step's reply yourself, checked like a model's (start from: aios inbox show 1 --action)\n  aios approve 1 --offline      use the step's offline draft as its reply\n  aios reject 1 --reason \"...\"  fail the step, with a reason\n",
    ] {
        assert!(out.contains(want), "lacks {want:?} in:\n{out}");
    }
    // The reply to start from: the last one.
    t.aios(&["inbox", "show", "1", "--action"])
        .success()
        .stdout_is("Sure! Here is your email.\n");
}

#[test]
fn a_pasted_reply_is_checked_against_the_schema_and_rescues_the_step() {
    let (_server, t, id) = stopped();
    let id = id.to_string();
    t.put("bad.json", r#"{"subject": "Tea club is open"}"#);
    t.aios(&["approve", &id, "--edit", "bad.json"])
        .code(2)
        .stderr_contains("error: the reply in bad.json does not fit the step's output: the reply does not match the schema: $: missing required property `body`");
    assert_eq!(t.inbox()[0]["status"], "pending", "nothing was decided");
    t.put(
        "reply.json",
        "{\n  \"subject\": \"Tea club is open\",\n  \"body\": \"Come in.\",\n  \"tone\": null\n}\n",
    );
    t.aios(&["approve", &id, "--edit", "reply.json"])
        .success()
        .stderr_contains("inbox 1 rescued with your reply (run 1, step draft)")
        .stdout_contains("inbox 2    action    save");
    let show = t.show(1);
    let out = &step(&show, "draft")["output"];
    assert_eq!(
        out["json"],
        json!({"subject": "Tea club is open", "body": "Come in.", "tone": null})
    );
    assert_eq!(out["model"], "operator");
    assert_eq!(out["heuristic"], false);
    assert_eq!(out["rescued"]["with"], "edit");
    let item = t.aios(&["inbox", "show", &id, "--json"]).success().json();
    assert_eq!(item["fields"], json!({"rescue": "edit"}));
    assert!(
        item["edited"]["text"]
            .as_str()
            .unwrap()
            .contains("Come in.")
    );
    t.aios(&["approve", "2"]).success();
    assert_eq!(t.read("out.txt"), "Tea club is open\nCome in.\n");
    t.aios(&["replay", "1"]).success();
}

#[test]
fn the_offline_draft_rescues_the_step_and_is_marked() {
    let (_server, t, id) = stopped();
    t.aios(&["approve", &id.to_string(), "--offline"])
        .success()
        .stderr_contains("inbox 1 rescued with the offline draft");
    let show = t.show(1);
    let out = &step(&show, "draft")["output"];
    assert_eq!(out["heuristic"], true);
    assert_eq!(out["json"]["subject"], "New: Tea club");
    assert_eq!(out["rescued"]["with"], "offline");
    t.aios(&["inbox", "list"])
        .success()
        .stdout_contains("(offline draft, no LLM)");
}

#[test]
fn a_plain_approval_runs_the_step_again_from_its_first_model() {
    let (server, t, id) = stopped();
    server.script(vec![Reply::openai(GOOD, 5, 5)]);
    t.aios(&["approve", &id.to_string()])
        .success()
        .stderr_contains("inbox 1 approved: the step runs again");
    assert_eq!(server.chats().len(), 3);
    let msgs = server.chats()[2].body["messages"].as_array().unwrap().len();
    assert_eq!(msgs, 2, "a fresh attempt: the prompt alone");
    let show = t.show(1);
    assert_eq!(
        step(&show, "draft")["output"]["json"]["subject"],
        "Tea club is open"
    );
}

#[test]
fn rejecting_a_rescue_fails_the_step() {
    let (_server, t, id) = stopped();
    t.aios(&["reject", &id.to_string(), "--reason", "not worth it"])
        .code(1);
    let show = t.show(1);
    assert_eq!(show["status"], "failed");
    assert_eq!(
        step(&show, "draft")["error"],
        "the operator gave up on it at its rescue: not worth it"
    );
}

#[test]
fn a_rescue_takes_only_its_own_choices() {
    let (_server, t, id) = stopped();
    let id = id.to_string();
    t.aios(&["approve", &id, "--raise", "1"])
        .code(2)
        .stderr_contains("is a rescue: give the step's reply with --edit FILE")
        .stderr_contains("hint: aios approve 1 · aios approve 1 --edit FILE · aios approve 1 --offline · aios reject 1 --reason \"...\"");
    t.aios(&["approve", &id, "--done"]).code(2);
    // --offline on any other item is refused.
    let server = LlmServer::start();
    server.script(vec![Reply::openai(GOOD, 1, 1)]);
    let t2 = setup(&server, "openai", FREE_MODELS, DRAFT);
    t2.aios(&["run", "wf.toml"]).success();
    t2.aios(&["approve", "1", "--offline"])
        .code(2)
        .stderr_contains("--offline only applies to a rescue");
}

#[test]
fn a_text_step_is_rescued_with_text() {
    let server = LlmServer::start();
    server.script(vec![Reply::error(401, "bad key")]);
    let t = setup(
        &server,
        "openai",
        FREE_MODELS,
        "name = \"ask\"\n[[steps]]\nid = \"ask\"\nkind = \"agent\"\nprompt = \"When?\"\n",
    );
    t.aios(&["run", "wf.toml"]).success();
    let (id, err) = rescue(&t, "ask");
    assert!(err.contains("refused the API key (HTTP 401)"), "{err}");
    t.aios(&["inbox", "show", &id.to_string()])
        .success()
        .stdout_contains("your reply is the step's text (--edit FILE)")
        .stdout_contains("offline draft (--offline)\n  [offline draft] When?\n");
    t.put("answer.txt", "On Monday.\n");
    t.aios(&["approve", &id.to_string(), "--edit", "answer.txt"])
        .success()
        .stdout_contains("answer of `ask` (`operator` via operator):\n  On Monday.\n");
    assert_eq!(step(&t.show(1), "ask")["output"]["text"], "On Monday.");
}
