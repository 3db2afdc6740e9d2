//! `aios doctor`: against a loopback LLM server and the real MCP test server.

use crate::agent::{FREE_MODELS, config};
use crate::support::Test;
use crate::support::llm::LlmServer;
use crate::support::mcp::everything_config;

#[test]
fn doctor_all_good_with_a_provider_and_a_tool_server() {
    let server = LlmServer::start();
    server.models(&["m1", "m2"]);
    let t = Test::new().write(
        "config.toml",
        &format!(
            "{}\n{}",
            config(&server, "openai", FREE_MODELS),
            everything_config()
        ),
    );
    t.aios(&["init", "--no-timer"]).success();
    let out = t
        .args(&["doctor"])
        .env("LLM_KEY", "k")
        .run()
        .success()
        .stdout_contains("ok   config")
        .stdout_contains("ok   provider local")
        .stdout_contains("2 models")
        .stdout_contains("ok   mcp everything")
        .stdout_contains("integrity ok")
        .stdout_contains("warn tick timer       not installed (0 schedules registered)")
        .stdout_contains("all good");
    assert!(out.stdout.contains("started; "), "{}", out.stdout);
    let j = t
        .args(&["doctor", "--json"])
        .env("LLM_KEY", "k")
        .run()
        .success()
        .json();
    assert_eq!(j["ok"], true);
    let checks: Vec<&str> = j["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert_eq!(
        checks,
        [
            "config",
            "provider local",
            "mcp everything",
            "secrets",
            "tick timer",
            "database"
        ]
    );
}

#[test]
fn doctor_lists_what_is_wrong_and_exits_1() {
    let t = Test::new().write("config.toml", "[budget]\ndaily_usdd = 1\n");
    t.aios(&["doctor"])
        .code(1)
        .stdout_contains("FAIL config")
        .stdout_contains("`budget.daily_usdd` is not a known key")
        .stdout_contains("1 thing wrong");
    let t = Test::new().write(
        "config.toml",
        "[providers.x]\nkind = \"ollama\"\nbase_url = \"http://127.0.0.1:9\"\nconnect_timeout = \"200ms\"\n\n[smtp]\nhost = \"127.0.0.1\"\ntls = \"none\"\nuser = \"a\"\npassword = 'secret(\"SMTP_PW\")'\n\n[mcp.broken]\ncommand = [\"sh\", \"-c\", \"echo 'no database' >&2; exit 2\"]\n",
    );
    t.aios(&["init", "--yes"]).success();
    let out = t.aios(&["doctor"]).code(1);
    for want in [
        "FAIL provider x",
        "FAIL mcp broken",
        "FAIL secrets          not set: SMTP_PW (smtp.password; aios secret set SMTP_PW)",
        "ok   tick timer       systemd user timer",
        "3 things wrong",
    ] {
        assert!(out.stdout.contains(want), "{want} not in\n{}", out.stdout);
    }
    t.args(&["secret", "set", "SMTP_PW"])
        .stdin("long-password")
        .run()
        .success();
    let out = t.aios(&["doctor"]).code(1);
    assert!(out.stdout.contains("ok   secrets"), "{}", out.stdout);
}
