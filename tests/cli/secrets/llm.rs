//! What the agent's own paths keep is redacted too: a reply to `aios llm prompt`, a
//! streamed reply (redacted once assembled, so a key split across pieces is found),
//! a server's refusal of the schema form, and an operator's reply to a rescue item
//! (refused when it holds a secret's value).

use super::redact::grep_home;
use crate::agent::{DRAFT, FREE_MODELS, config, rescue};
use crate::support::llm::{LlmServer, Reply};
use crate::support::{Test, step};

const KEY: &str = "sk-proj-echoed-9f8e7d6c5b";
const PH: &str = "secret(\"LLM_KEY\")";

#[test]
fn prompts_streamed_replies_and_schema_refusals_that_echo_the_key_are_kept_redacted() {
    let server = LlmServer::start();
    server.script(vec![
        // aios llm prompt: the key split across streamed pieces.
        Reply::openai_stream(
            &["Your key: sk-proj-ech", "oed-9f8e7d6c5b", "."],
            "stop",
            3,
            4,
        ),
        // The run: the schema form refused with a body that echoes the key, then a
        // plain JSON reply streamed with the key in it.
        Reply::error(400, &format!("json_schema is not supported for key {KEY}")),
        Reply::openai_stream(
            &[
                "{\"subject\": \"sk-proj-echoed-",
                "9f8e7d6c5b\", \"body\": \"Come in.\"}",
            ],
            "stop",
            20,
            10,
        ),
    ]);
    let models = format!("stream = true\n{FREE_MODELS}");
    let t = Test::new()
        .write("config.toml", &config(&server, "openai", &models))
        .write("wf.toml", DRAFT)
        .env("LLM_KEY", KEY);
    let prompt = t
        .aios(&["llm", "prompt", "Which key?"])
        .success()
        .stdout_is(&format!("Your key: {PH}.\n"));
    let run = t.aios(&["run", "wf.toml"]).success();
    let show = t.show(1);
    let draft = step(&show, "draft");
    assert_eq!(
        draft["output"]["json"]["subject"],
        PH,
        "{draft}\n{}",
        t.aios(&["llm", "log", "--full"]).success().stdout
    );
    let calls = t
        .aios(&["llm", "log", "--json"])
        .success()
        .json()
        .as_array()
        .unwrap()
        .clone();
    let refusal = calls
        .iter()
        .find(|c| c["failure"] == "schema_refused")
        .expect("the refusal is journaled");
    assert!(refusal["error"].as_str().unwrap().contains(PH), "{refusal}");
    let prompt_call = calls.iter().find(|c| c["step_id"] == "prompt").unwrap();
    assert_eq!(prompt_call["response"], format!("Your key: {PH}."));
    for out in [
        prompt.stdout,
        prompt.stderr,
        run.stdout,
        run.stderr,
        show.to_string(),
        serde_json::to_string(&calls).unwrap(),
        t.aios(&["llm", "log", "--full"]).success().stdout,
        t.aios(&["inbox", "show", "1"]).success().stdout,
    ] {
        assert!(!out.contains(KEY), "{out}");
    }
    assert!(grep_home(&t, KEY).is_empty(), "{:?}", grep_home(&t, KEY));
}

#[test]
fn a_rescue_reply_that_holds_a_secret_value_is_refused() {
    let server = LlmServer::start();
    server.script(vec![Reply::error(401, "bad key")]);
    let wf = DRAFT.replace("model = [\"default\", \"second\"]", "model = \"default\"");
    let t = Test::new()
        .write("config.toml", &config(&server, "openai", FREE_MODELS))
        .write("wf.toml", &wf)
        .env("LLM_KEY", KEY);
    t.aios(&["run", "wf.toml"]).success();
    let (id, _) = rescue(&t, "draft");
    let id = id.to_string();
    t.put(
        "reply.json",
        &format!("{{\"subject\": \"{KEY}\", \"body\": \"Come in.\"}}"),
    );
    t.aios(&["approve", &id, "--edit", "reply.json"])
        .code(2)
        .stderr_contains("reply.json holds the value of the secret `LLM_KEY`");
    assert_eq!(t.inbox()[0]["status"], "pending", "nothing was decided");
    std::fs::remove_file(t.path().join("reply.json")).unwrap();
    assert!(grep_home(&t, KEY).is_empty(), "{:?}", grep_home(&t, KEY));
}
