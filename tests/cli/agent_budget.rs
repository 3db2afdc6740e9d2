//! Agent steps and money: the call ledger (resume never pays twice), run, daily and
//! monthly caps, the budget items a cap opens and the operator's answers to them,
//! and the `budget` and `llm log` reports.

use crate::agent::{DRAFT, FREE_MODELS, GOOD, config, setup};
use crate::support::llm::{LlmServer, Reply};
use crate::support::{Test, step};

#[test]
fn resume_never_pays_for_a_call_twice() {
    let server = LlmServer::start();
    server.script(vec![Reply::openai(GOOD, 1, 1)]);
    let t = setup(&server, "openai", FREE_MODELS, DRAFT);
    t.aios(&["run", "wf.toml"]).success();
    t.aios(&["approve", "1"]).success();
    assert_eq!(t.show(1)["status"], "succeeded");
    assert_eq!(t.read("out.txt"), "Tea club is open\nCome in.\n");
    assert_eq!(server.seen().len(), 1);
    assert_eq!(
        t.aios(&["llm", "log", "--json"])
            .success()
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    t.aios(&["replay"]).success();
}

const PRICED: &str = r#"
[models.default]
provider = "local"
name = "big"
usd_per_mtok_in = 100000.0
usd_per_mtok_out = 100000.0
[models.second]
provider = "local"
name = "small"
"#;

fn budgeted(max_usd: &str) -> String {
    DRAFT.replace(
        "[[steps]]\nid = \"draft\"",
        &format!("[budget]\nmax_usd = {max_usd}\n\n[[steps]]\nid = \"draft\""),
    )
}

#[test]
fn a_run_cap_stops_the_call_until_the_operator_raises_it() {
    let server = LlmServer::start();
    server.script(vec![Reply::openai(GOOD, 10, 10)]);
    let t = setup(&server, "openai", PRICED, &budgeted("1.0"));
    t.aios(&["run", "wf.toml"])
        .success()
        .stdout_contains("inbox 1    budget    draft")
        .stdout_contains("would pass the run cap: $0 of $1.00 spent");
    assert!(server.seen().is_empty(), "the call was made");
    let item = &t.inbox()[0];
    assert_eq!(item["kind"], "budget");
    t.aios(&["inbox", "show", "1"])
        .success()
        .stdout_contains("An LLM call was not made: it would pass a spending cap.")
        .stdout_contains("  model      `default` (provider local)\n  cap        run ($1.00)\n")
        .stdout_contains(
            "next:\n  aios approve 1 --raise USD    let the run spend USD more than its caps\n  aios approve 1 --switch       switch the step to its next model, `second`\n  aios reject 1 --reason \"...\"  fail the step, with a reason\n",
        );
    t.aios(&["approve", "1"]).code(2).stderr_is(
        "error: item 1 is a budget stop: approving it raises the run's allowance or switches the step's model\nhint: aios approve 1 --raise USD · aios approve 1 --switch · aios reject 1 --reason \"...\"\n",
    );
    t.aios(&["approve", "1", "--raise", "lots"]).code(2).stderr_is(
        "error: the raise must be an amount in USD above 0, like 2.50, not `lots`\nhint: like: aios approve 1 --raise 2.50\n",
    );
    // Still too little: a new stop, under the next attempt.
    t.aios(&["approve", "1", "--raise", "0.5"]).success();
    assert!(server.seen().is_empty());
    let items = t.inbox();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], 2);
    assert!(
        items[0]["summary"]
            .as_str()
            .unwrap()
            .contains("of $1.50 spent")
    );
    t.aios(&["approve", "2", "--raise", "200"]).success();
    assert_eq!(server.seen().len(), 1);
    assert_eq!(server.seen()[0].body["model"], "big");
    let show = t.show(1);
    assert_eq!(step(&show, "draft")["status"], "succeeded");
    assert_eq!(t.inbox()[0]["step_id"], "save");
    t.aios(&["replay", "1"]).success();
}

#[test]
fn a_budget_stop_can_switch_to_the_next_model() {
    let server = LlmServer::start();
    server.script(vec![Reply::openai(GOOD, 10, 10)]);
    let t = setup(&server, "openai", PRICED, &budgeted("1"));
    t.aios(&["run", "wf.toml"]).success();
    t.aios(&["approve", "1", "--switch"]).success();
    assert_eq!(server.seen().len(), 1);
    assert_eq!(server.seen()[0].body["model"], "small");
    assert_eq!(step(&t.show(1), "draft")["output"]["model"], "second");
    t.aios(&["inbox", "show", "1", "--json"])
        .success()
        .stdout_contains("\"switch_to\": \"second\"");
}

#[test]
fn rejecting_a_budget_stop_fails_the_step() {
    let server = LlmServer::start();
    let wf = budgeted("1").replace("model = [\"default\", \"second\"]", "model = \"default\"");
    let t = setup(&server, "openai", PRICED, &wf);
    t.aios(&["run", "wf.toml"]).success();
    t.aios(&["approve", "1", "--switch"])
        .code(2)
        .stderr_contains("error: the step of item 1 has no model after `default` to switch to");
    t.aios(&["reject", "1", "--reason", "too dear"]).code(1);
    let show = t.show(1);
    assert_eq!(show["status"], "failed");
    assert_eq!(
        step(&show, "draft")["error"],
        "stopped at a budget cap by the operator: too dear"
    );
    assert!(server.seen().is_empty());
}

#[test]
fn daily_caps_come_from_the_config_and_budget_reports_spend() {
    let server = LlmServer::start();
    server.script(vec![Reply::openai(GOOD, 10, 10)]);
    let models = r#"
[models.default]
provider = "local"
name = "m1"
usd_per_mtok_in = 10.0
usd_per_mtok_out = 10.0
[budget]
daily_usd = 0.05
monthly_usd = 30
"#;
    let wf = DRAFT.replace("model = [\"default\", \"second\"]", "model = \"default\"");
    let t = setup(&server, "openai", models, &wf).env("AIOS_NOW", crate::support::NOW);
    // First call: estimated at about $0.01 (1024 reply tokens), fine.
    t.aios(&["run", "wf.toml"]).success();
    assert_eq!(server.seen().len(), 1);
    let b = t.aios(&["budget", "--json"]).success().json();
    assert_eq!(b["today"]["cap_usd"], 0.05);
    assert_eq!(b["month"]["cap_usd"], 30.0);
    let spent = b["today"]["spent_usd"].as_f64().unwrap();
    assert!((spent - 20.0 * 10.0 / 1e6).abs() < 1e-12, "{spent}");
    assert_eq!(b["workflows"][0]["workflow"], "mail");
    assert_eq!(b["workflows"][0]["calls"], 1);
    t.aios(&["budget"])
        .success()
        .stdout_contains(
            "today         $0.0002 of $0.05 (0%)   20 tokens (10 in, 10 out)\nthis month    $0.0002 of $30.00 (0%)  20 tokens (10 in, 10 out)\n",
        )
        .stdout_contains("mail          1          10          10    $0.0002\n");
    assert_eq!(b["today"]["tokens_in"], 10);
    assert_eq!(b["workflows"][0]["tokens_out"], 10);
    // Lower the cap: the next run stops at the daily cap.
    t.put(
        "config.toml",
        &config(&server, "openai", &models.replace("0.05", "0.001")),
    );
    t.aios(&["run", "wf.toml"])
        .success()
        .stdout_contains("would pass the daily cap");
    assert_eq!(server.seen().len(), 1);
}

#[test]
fn budget_and_llm_log_on_a_fresh_home() {
    let t = Test::new();
    t.aios(&["llm", "log"]).success().stdout_is(
        "no LLM calls yet: each call an agent step or `aios llm prompt` makes is listed here\n",
    );
    t.aios(&["llm", "log", "--run", "7"]).code(3);
    t.aios(&["llm", "log", "--errors"])
        .success()
        .stdout_is("no LLM call matches these filters\n");
    t.aios(&["budget"])
        .success()
        .stdout_is(
        "today              $0 (no cap)  0 tokens (0 in, 0 out)\nthis month         $0 (no cap)  0 tokens (0 in, 0 out)\nno LLM calls this month\ncaps: set [budget] daily_usd and monthly_usd in the config file; a workflow caps one run with [budget] max_usd\n",
    );
}

#[test]
fn a_personas_own_daily_cap_stops_its_calls_on_top_of_the_global_caps() {
    let server = LlmServer::start();
    server.script(vec![Reply::openai(GOOD, 10, 10)]);
    let wf = DRAFT.replace("name = \"mail\"", "name = \"mail\"\npersona = \"writer\"");
    let t = setup(&server, "openai", PRICED, &wf);
    t.put(
        "config.toml",
        &format!(
            "{}\n[personas.writer]\nmodels = [\"default\", \"second\"]\nfile_roots = [\"*\"]\nmax_usd_day = 1.0\n",
            config(&server, "openai", PRICED)
        ),
    );
    t.aios(&["run", "wf.toml"])
        .success()
        .stdout_contains("would pass the persona's daily cap: $0 of $1.00 spent");
    assert!(server.seen().is_empty(), "the call was made");
    assert_eq!(t.inbox()[0]["kind"], "budget");
}
