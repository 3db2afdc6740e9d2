//! `aios llm prompt | models | ping | log`: trying a prompt through an alias
//! (journaled like any call), the aliases and what the providers serve, a health
//! check, and the call log's filters; and resume after a crash between a step's
//! calls (the journaled calls are not paid for again).

use serde_json::{Value as Json, json};

use crate::agent::{DRAFT, FREE_MODELS, GOOD, config, setup};
use crate::support::llm::{LlmServer, Reply, unreachable};
use crate::support::{Test, step, wait_until};

#[test]
fn a_prompt_goes_through_the_alias_and_is_journaled() {
    let server = LlmServer::start();
    server.script(vec![Reply::openai_finish("Tea is ready.", "stop", 7, 4)]);
    let t = setup(&server, "openai", FREE_MODELS, DRAFT);
    let out = t
        .aios(&[
            "llm",
            "prompt",
            "-m",
            "second",
            "--system",
            "Be brief.",
            "Is tea ready?",
        ])
        .success()
        .stdout_is("Tea is ready.\n");
    // The latency varies: everything else is fixed.
    let (head, tail) = out.stderr.split_once("ms · ").unwrap();
    assert!(
        head.starts_with("local/m2 (`second`) · 7 in / 4 out tokens · $0 · "),
        "{}",
        out.stderr
    );
    assert_eq!(tail, "stop · call 1\n");
    let r = &server.chats()[0];
    assert_eq!(r.body["model"], "m2");
    assert_eq!(
        r.body["messages"],
        json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Is tea ready?"}])
    );
    let calls = t.aios(&["llm", "log", "--json"]).success().json();
    assert_eq!(calls[0]["run_id"], 0);
    assert_eq!(calls[0]["workflow"], "(prompt)");
    assert_eq!(calls[0]["step_id"], "prompt");
    assert_eq!(calls[0]["response"], "Tea is ready.");
    t.aios(&["llm", "log", "--run", "0"])
        .success()
        .stdout_contains("1     2026-11-21T09:30:00Z  -         local/m2  7/4     $0    ");
    t.aios(&["budget"]).success().stdout_contains("(prompt)");
    // The offline provider answers too, free.
    t.aios(&["llm", "prompt", "-m", "heuristic", "Hi"])
        .success()
        .stdout_is("[offline draft] Hi\n");
    // A failed call is journaled, and says what to do.
    server.script(vec![Reply::error(404, "model m1 not found")]);
    t.aios(&["llm", "prompt", "Hi"]).code(1).stderr_contains(
        "error: provider `local` (model `m1`): not found (HTTP 404), the model or the endpoint does not exist: model m1 not found (call 3)\nhint: check [models] `name` and `base_url` of [providers.local]",
    );
    assert_eq!(
        t.aios(&["llm", "log", "--errors", "--json"])
            .success()
            .json()[0]["failure"],
        "fatal"
    );
    // An unknown alias is a usage error.
    t.aios(&["llm", "prompt", "-m", "nope", "Hi"])
        .code(2)
        .stderr_contains("hint: aios llm models lists the configured aliases");
}

#[test]
fn a_prompt_is_held_to_the_daily_cap() {
    let server = LlmServer::start();
    let models = "[models.default]\nprovider = \"local\"\nname = \"m1\"\nusd_per_mtok_in = 1000\nusd_per_mtok_out = 1000\n[budget]\ndaily_usd = 0.01\n";
    let t = setup(&server, "openai", models, DRAFT);
    t.aios(&["llm", "prompt", "Hi"])
        .code(4)
        .stderr_contains("would pass the daily cap");
    assert!(server.seen().is_empty());
}

#[test]
fn models_lists_aliases_and_what_each_provider_serves() {
    let server = LlmServer::start();
    server.models(&["m1", "other"]);
    let models = format!("{FREE_MODELS}temperature = 0.3\n");
    let t = setup(&server, "openai", &models, DRAFT);
    let out = t.aios(&["llm", "models"]).success();
    let base = server.base_url();
    assert_eq!(
        out.stdout,
        format!(
            "ALIAS    PROVIDER/MODEL  USD/MTOK IN/OUT  SERVED\n\
default  local/m1        free             yes\n\
second   local/m2        free             NOT LISTED\n\
heuristic  (built in: the offline draft, free, always served)\n\
\n\
provider local (openai, {base})\n  m1\n  other\n"
        )
    );
    let j = t.aios(&["llm", "models", "--json"]).success().json();
    assert_eq!(j["aliases"][0]["served"], true);
    assert_eq!(j["aliases"][1]["served"], false);
    assert_eq!(j["aliases"][1]["sampling"]["temperature"], 0.3);
    assert_eq!(j["providers"][0]["models"], json!(["m1", "other"]));
    let gets = server.seen();
    assert!(
        gets.iter()
            .all(|s| s.method == "GET" && s.path == "/v1/models")
    );
    assert_eq!(
        gets[0].header("authorization"),
        Some("Bearer sk-aios-test-7f3e9c2a-SECRET-KEY-4242")
    );
    // No config: every alias is offline.
    Test::new()
        .aios(&["llm", "models"])
        .success()
        .stdout_contains("every alias is the offline heuristic provider");
}

#[test]
fn ping_checks_each_provider_and_its_aliases() {
    let server = LlmServer::start();
    server.models(&["m1", "m2"]);
    let t = setup(&server, "openai", FREE_MODELS, DRAFT);
    let out = t.aios(&["llm", "ping"]).success();
    assert!(
        out.stdout
            .starts_with(&format!("ok local ({}) ", server.base_url())),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.ends_with("ms: 2 models listed\n"),
        "{}",
        out.stdout
    );
    server.models(&["m1", "other"]);
    t.aios(&["llm", "ping"])
        .code(1)
        .stdout_contains("  not listed by the provider: m2 (`second`) (check [models] `name`)\n");
    t.aios(&["llm", "ping", "-m", "default"]).success();
    // A server that lists one model (llama-server) answers with it under any name.
    server.models(&["/models/SmolLM2-135M-Instruct.Q4_1.gguf"]);
    t.aios(&["llm", "ping"]).success();
    server.models(&["m1", "other"]);
    let j = t.aios(&["llm", "ping", "--json"]).code(1).json();
    assert_eq!(j[0]["not_listed"], json!(["m2 (`second`)"]));
    // A missing key fails before any request.
    let t2 = Test::new().write("config.toml", &config(&server, "openai", FREE_MODELS));
    let before = server.seen().len();
    t2.aios(&["llm", "ping"])
        .code(1)
        .stdout_contains("needs an API key, but LLM_KEY is not set");
    assert_eq!(server.seen().len(), before);
    // Down: FAIL with the reason.
    let down = unreachable();
    let t3 = Test::new().write(
        "config.toml",
        &format!(
            "[providers.x]\nkind = \"ollama\"\nbase_url = \"http://127.0.0.1:{}\"\nconnect_timeout = \"200ms\"\n[models.default]\nprovider = \"x\"\nname = \"llama3.2\"\n",
            down.port
        ),
    );
    t3.aios(&["llm", "ping"])
        .code(1)
        .stdout_contains("no connection within 200ms (connect_timeout)");
    t3.aios(&["llm", "ping", "-m", "nope"]).code(2);
    Test::new()
        .aios(&["llm", "ping"])
        .success()
        .stdout_contains("no providers configured");
}

#[test]
fn the_log_is_newest_first_one_line_per_call_and_filters() {
    let server = LlmServer::start();
    server.script(vec![
        Reply::openai(r#"{"subject": 42}"#, 5, 5),
        Reply::openai(GOOD, 6, 6),
        Reply::openai(GOOD, 7, 7),
    ]);
    let t = setup(&server, "openai", FREE_MODELS, DRAFT);
    t.aios(&["run", "wf.toml"]).success();
    t.put(
        "two.toml",
        &DRAFT
            .replace("id = \"draft\"", "id = \"again\"")
            .replace("steps.draft", "steps.again"),
    );
    t.aios(&["run", "two.toml"]).success();
    let ids = |args: &[&str]| -> Vec<i64> {
        let mut a = vec!["llm", "log", "--json"];
        a.extend_from_slice(args);
        t.aios(&a)
            .success()
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(ids(&[]), [3, 2, 1]);
    assert_eq!(ids(&["--limit", "2"]), [3, 2]);
    assert_eq!(ids(&["--step", "draft"]), [2, 1]);
    assert_eq!(ids(&["--errors"]), [1]);
    assert_eq!(ids(&["--run", "2"]), [3]);
    let text = t.aios(&["llm", "log"]).success().stdout;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4);
    assert!(lines[0].starts_with("CALL  AT "), "{text}");
    assert!(
        lines[1].starts_with("3     ") && lines[1].ends_with("stop"),
        "{text}"
    );
    assert!(
        lines[3].contains("invalid: `default`: the reply does not match the schema"),
        "{text}"
    );
    let full = t
        .aios(&["llm", "log", "--full", "--limit", "1"])
        .success()
        .stdout;
    assert!(
        full.starts_with("call 3 · run 2 (mail) · step again · attempt 1\n"),
        "{full}"
    );
    assert!(
        full.contains(" · JSON asked as json_schema · stop\n"),
        "{full}"
    );
}

#[test]
fn the_log_says_why_it_is_empty_when_a_budget_cap_stopped_the_call() {
    let server = LlmServer::start();
    let models = "[models.default]\nprovider = \"local\"\nname = \"m1\"\nusd_per_mtok_in = 100000\nusd_per_mtok_out = 100000\n";
    let wf = DRAFT
        .replace("model = [\"default\", \"second\"]", "model = \"default\"")
        .replace(
            "[[steps]]\nid = \"draft\"",
            "[budget]\nmax_usd = 1.0\n\n[[steps]]\nid = \"draft\"",
        );
    let t = setup(&server, "openai", models, &wf);
    t.aios(&["run", "wf.toml"]).success();
    t.aios(&["llm", "log"]).success().stdout_is(
        "no LLM calls yet: step `draft` of run 1 stopped at a budget cap before its call was made; see it with: aios inbox show 1\n",
    );
}

#[test]
fn resume_after_a_crash_between_calls_does_not_pay_for_the_first_again() {
    let server = LlmServer::start();
    server.script(vec![
        Reply::openai(r#"{"subject": 42}"#, 5, 5),
        // The repair call: held until the process is killed.
        Reply::openai(GOOD, 5, 5).held(0),
    ]);
    let wf = DRAFT.replace("model = [\"default\", \"second\"]", "model = \"default\"");
    let t = setup(&server, "openai", FREE_MODELS, &wf);
    let bg = t.args(&["run", "wf.toml"]).spawn();
    server.wait_held();
    // The invalid reply is journaled before the repair call starts.
    wait_until("the first call in the journal", || {
        t.aios(&["llm", "log", "--json"])
            .json()
            .as_array()
            .is_some_and(|a| a.len() == 1)
    });
    bg.kill9();
    server.release();
    server.script(vec![Reply::openai(GOOD, 5, 5)]);
    // The lease of the killed process must expire before another may resume.
    let resumed = t
        .args(&["resume", "1"])
        .env("AIOS_NOW", "2026-11-21T09:31:00Z")
        .run();
    resumed.success();
    let chats = server.chats();
    assert_eq!(chats.len(), 3, "first, repair (killed), repair again");
    // The call after resume is the repair, with the journaled reply: the first
    // call was not made again.
    let msgs = chats[2].body["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 4);
    assert_eq!(
        msgs[2],
        json!({"role": "assistant", "content": "{\"subject\": 42}"})
    );
    let show = t.show(1);
    assert_eq!(
        step(&show, "draft")["output"]["json"]["subject"],
        "Tea club is open"
    );
    let calls: Json = t.aios(&["llm", "log", "--json"]).success().json();
    assert_eq!(calls.as_array().unwrap().len(), 2);
    t.aios(&["replay", "1"]).success();
}
