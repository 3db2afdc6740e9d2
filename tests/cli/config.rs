//! `aios config path|show|edit`.

use crate::support::Test;

const CONFIG: &str = r#"[budget]
daily_usd = 1.0

[smtp]
host = "127.0.0.1"
tls = "none"
user = "ada"
password = 'secret("SMTP_PASSWORD")'

[notify.phone]
kind = "ntfy"
url = "http://127.0.0.1:9"
topic = "t"
token = "tk_live_secret_123"

[mcp.gh]
command = ["gh-mcp"]
env = { GITHUB_TOKEN = "ghp_planted", LOG = "info" }
"#;

#[test]
fn config_path_names_the_file() {
    let t = Test::new();
    let want = format!("{}\n", t.join("config.toml").display());
    t.aios(&["config", "path"]).success().stdout_is(&want);
}

#[test]
fn config_show_hides_literal_secrets_and_keeps_names() {
    let t = Test::new().write("config.toml", CONFIG);
    let out = t.aios(&["config", "show"]).success();
    for leak in ["tk_live_secret_123", "ghp_planted"] {
        assert!(!out.stdout.contains(leak), "{}", out.stdout);
    }
    assert_eq!(out.stdout.matches("••••").count(), 2, "{}", out.stdout);
    assert!(out.stdout.contains("SMTP_PASSWORD"), "{}", out.stdout);
    assert!(out.stdout.contains("daily_usd = 1.0"), "{}", out.stdout);
    let j = t.aios(&["config", "show", "--json"]).success().json();
    assert_eq!(j["notify"]["phone"]["token"], "••••");
    assert_eq!(j["smtp"]["password"], "secret(\"SMTP_PASSWORD\")");
    assert_eq!(j["mcp"]["gh"]["env"]["LOG"], "info");
}

#[test]
fn config_show_without_a_file_says_init() {
    Test::new()
        .aios(&["config", "show"])
        .code(3)
        .stderr_contains("config.toml does not exist")
        .stderr_contains("hint: aios init");
}

#[test]
fn config_edit_runs_the_editor_then_checks_every_section() {
    let t = Test::new().write("config.toml", "[budget]\ndaily_usd = 1.0\n");
    t.args(&["config", "edit"])
        .env("EDITOR", "sed -i s/1.0/2.5/")
        .run()
        .success()
        .stdout_contains("every section reads (1 section)");
    assert_eq!(t.read("config.toml"), "[budget]\ndaily_usd = 2.5\n");
    t.args(&["config", "edit"])
        .env("EDITOR", "sed -i s/daily_usd/daily_used/")
        .run()
        .code(2)
        .stderr_contains("`budget.daily_used` is not a known key")
        .stderr_contains("daily_usd");
    t.aios(&["config", "edit"])
        .code(2)
        .stderr_contains("neither VISUAL nor EDITOR is set");
}
