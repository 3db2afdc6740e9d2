//! Counted words agree with their number in what aios prints ("1 step", "2 steps",
//! "1 attempt"): one helper (`aios::text::count`) makes every such phrase.

use crate::agent::{DRAFT, FREE_MODELS, setup};
use crate::support::Test;
use crate::support::llm::{LlmServer, Reply};

const ONE: &str = r#"
name = "one"
[[steps]]
id = "only"
kind = "set"
values = { a = 1 }
"#;

#[test]
fn one_step_is_one_step() {
    let t = Test::new().write("one.toml", ONE);
    t.aios(&["check", "one.toml"])
        .success()
        .stdout_is("ok one.toml (one, 1 step)\n");
    let out = t.aios(&["run", "one.toml"]).success();
    assert!(out.stdout.ends_with(": 1 step\n"), "{}", out.stdout);
    t.aios(&["log", "1"])
        .success()
        .stdout_contains("run created from `one` (1 step)\n");
    t.aios(&["replay"])
        .success()
        .stdout_contains("replayed 1 run: ");
}

#[test]
fn one_attempt_is_one_attempt() {
    let server = LlmServer::start();
    server.script(vec![Reply::error(500, "overloaded"); 2]);
    let t = setup(&server, "openai", FREE_MODELS, DRAFT);
    let config = t
        .read("config.toml")
        .replace("max_retries = 2", "max_retries = 0");
    t.put("config.toml", &config);
    t.aios(&["run", "wf.toml"]).success().stdout_contains(
        "every model failed: provider `local` (model `m1`): HTTP 500 after 1 attempt: overloaded",
    );
}
