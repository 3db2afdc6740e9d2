//! `aios doctor`: against a loopback LLM server, the real MCP test server, the real
//! SMTP (aiosmtpd) and IMAP (dovecot) test servers; the last tick and config
//! problems at file:line:column.

use crate::agent::{FREE_MODELS, config};
use crate::support::Test;
use crate::support::dovecot::{self, Dovecot};
use crate::support::llm::LlmServer;
use crate::support::mcp::everything_config;
use crate::support::smtp::{self, Opts, SmtpServer};

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
        // SQLite's integrity check; on PostgreSQL the server reached and migrated.
        .stdout_contains(if crate::support::on_postgres() {
            "reachable, schema current"
        } else {
            "integrity ok"
        })
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
            "last tick",
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

/// `[smtp]` for the test server and `[imap]` for dovecot, with both passwords kept.
fn mail_home(smtp: &SmtpServer, imap: &Dovecot, smtp_pw: &str, imap_pw: &str) -> Test {
    let t = Test::new().write(
        "config.toml",
        &format!(
            "{}\n{}",
            smtp.config(None),
            crate::mail::config(imap.port, "")
        ),
    );
    t.args(&["secret", "set", "SMTP_PASSWORD"])
        .stdin(smtp_pw)
        .run()
        .success();
    t.args(&["secret", "set", crate::mail::SECRET])
        .stdin(imap_pw)
        .run()
        .success();
    t
}

#[test]
fn doctor_logs_in_to_each_smtp_and_imap_account() {
    let t = Test::new();
    let smtp = SmtpServer::start(&t.join("smtp"), Opts::default());
    let imap = Dovecot::start();
    let t = mail_home(&smtp, &imap, smtp::PASSWORD, dovecot::PASSWORD);
    let out = t.aios(&["doctor"]).success();
    for want in [
        format!(
            "ok   smtp default     127.0.0.1:{} (starttls): logged in as ada\n",
            smtp.port
        ),
        format!(
            "ok   imap default     127.0.0.1:{} (none): logged in as {}\n",
            imap.port,
            dovecot::USER
        ),
        "all good".to_string(),
    ] {
        assert!(out.stdout.contains(&want), "{want} not in\n{}", out.stdout);
    }
    assert!(smtp.messages().is_empty(), "a login check sends nothing");
    // Wrong passwords: each account fails, and no password is shown.
    let t = mail_home(&smtp, &imap, "wrong-smtp-pw", "wrong-imap-pw");
    let out = t.aios(&["doctor"]).code(1);
    let j = t.aios(&["doctor", "--json"]).code(1).json();
    let status = |name: &str| {
        j["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == name)
            .map(|c| {
                (
                    c["status"].clone(),
                    c["detail"].as_str().unwrap().to_string(),
                )
            })
            .unwrap()
    };
    let (s, d) = status("smtp default");
    assert_eq!(s, "fail", "{d}");
    assert!(
        d.starts_with(&format!(
            "SMTP account `default` (127.0.0.1:{}) refused the login of `ada`: 535",
            smtp.port
        )),
        "{d}"
    );
    let (s, d) = status("imap default");
    assert_eq!(s, "fail", "{d}");
    assert!(
        d.contains("refused the login of `ada`") && d.contains("aios secret set IMAP_PASSWORD"),
        "{d}"
    );
    assert!(out.stdout.contains("2 things wrong"), "{}", out.stdout);
    for pw in ["wrong-smtp-pw", "wrong-imap-pw"] {
        assert!(!out.stdout.contains(pw) && !out.stderr.contains(pw));
    }
}

#[test]
fn doctor_does_not_try_a_login_whose_password_is_unset() {
    let t = Test::new();
    let smtp = SmtpServer::start(&t.join("smtp"), Opts::default());
    let t = Test::new().write("config.toml", &smtp.config(None));
    let out = t.aios(&["doctor"]).code(1);
    assert!(
        out.stdout.contains(
            "warn smtp default     login not tried: its password secret SMTP_PASSWORD is not set (aios secret set SMTP_PASSWORD)\n"
        ),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("FAIL secrets"), "{}", out.stdout);
    assert!(smtp.attempts().is_empty(), "nothing was tried");
}

#[test]
fn doctor_says_when_the_last_tick_was_and_whether_it_is_late() {
    let t = Test::new().write(
        "daily.toml",
        "name = \"daily\"\n[trigger]\ncron = \"0 9 * * *\"\n[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = { x = \"1\" }\n",
    );
    // Nothing needs ticks yet and none happened: worth knowing, not wrong.
    t.aios(&["doctor"])
        .success()
        .stdout_contains("warn last tick        no tick recorded; nothing needs ticks yet\n");
    t.args(&["tick"])
        .env("AIOS_NOW", "2026-11-21T09:20:00Z")
        .run()
        .success();
    let by = |out: &str| -> String {
        let line = out
            .lines()
            .find(|l| l.contains("last tick"))
            .unwrap()
            .to_string();
        // `by aios tick PID@HOST`: the process that ticked.
        let i = line.find(", by aios tick ").expect("who ticked") + ", by aios tick ".len();
        let j = line[i..].find(')').unwrap() + i;
        line.replace(&line[i..j], "PID@HOST")
    };
    let out = t.aios(&["doctor"]).success();
    assert_eq!(
        by(&out.stdout),
        "ok   last tick        2026-11-21T09:20:00Z (10m ago, by aios tick PID@HOST); nothing needs ticks yet"
    );
    t.aios(&["schedule", "add", "daily.toml"]).success();
    let out = t.aios(&["doctor"]).code(1);
    assert_eq!(
        by(&out.stdout),
        "FAIL last tick        late: 2026-11-21T09:20:00Z (10m ago, by aios tick PID@HOST), more than 5 minutes ago while schedules or timed waits need a tick every minute (aios schedule install --write)"
    );
    t.args(&["tick"])
        .env("AIOS_NOW", "2026-11-21T09:29:00Z")
        .run()
        .success();
    let out = t.aios(&["doctor"]).code(1); // the timer is still not installed
    assert_eq!(
        by(&out.stdout),
        "ok   last tick        2026-11-21T09:29:00Z (1m ago, by aios tick PID@HOST)"
    );
    assert!(out.stdout.contains("FAIL tick timer"), "{}", out.stdout);
}

#[test]
fn doctor_puts_config_problems_at_file_line_column() {
    let t = Test::new().write(
        "config.toml",
        "[budget]\ndaily_usd = 1\n  daily_usdd = 2\n\n[smtp]\nhots = \"x\"\n",
    );
    let file = t.join("config.toml").display().to_string();
    t.aios(&["doctor"])
        .code(1)
        .stdout_contains(&format!(
            "FAIL config           {file}:3:3: `budget.daily_usdd` is not a known key (hint: did you mean `daily_usd`?)\n"
        ))
        .stdout_contains(&format!(
            "FAIL config           {file}:6:1: `smtp.hots` is not a known key (hint: did you mean `host`?)\n"
        ));
    let j = t.aios(&["doctor", "--json"]).code(1).json();
    let c = &j["checks"][0];
    assert_eq!(
        (c["file"].as_str(), c["line"].as_u64(), c["column"].as_u64()),
        (Some(file.as_str()), Some(3), Some(3))
    );
}

#[test]
fn doctor_on_a_fresh_home_creates_no_journal_and_no_folder() {
    let t = Test::new();
    // On PostgreSQL the journal is the database: doctor reaches it (and migrates an
    // empty one); it creates no file and no folder either.
    let pg = t.database_url();
    let database_line = match &pg {
        Some(url) => format!("ok   database         PostgreSQL at {url} ("),
        None => format!(
            "warn database         no journal yet (run `aios init` or any workflow): {} does not exist\n",
            t.db().display()
        ),
    };
    t.aios(&["doctor"])
        .success()
        .stdout_contains(&database_line);
    assert!(!t.join("aios.db").exists(), "doctor created the database");
    let left: Vec<_> = std::fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "doctor wrote {left:?}");
    // A home folder that does not exist yet is not created either.
    let home = t.join("home");
    let j = t
        .args(&["doctor", "--json"])
        .env("AIOS_HOME", home.to_str().unwrap())
        .run()
        .success()
        .json();
    let checks = j["checks"].as_array().unwrap();
    let database = checks.iter().find(|c| c["check"] == "database").unwrap();
    let (status, start) = match &pg {
        Some(url) => ("ok", format!("PostgreSQL at {url} (")),
        None => (
            "warn",
            "no journal yet (run `aios init` or any workflow)".to_string(),
        ),
    };
    assert_eq!(database["status"], status);
    assert!(
        database["detail"].as_str().unwrap().starts_with(&start),
        "{database}"
    );
    let last_tick = checks.iter().find(|c| c["check"] == "last tick").unwrap();
    assert_eq!(
        last_tick["detail"],
        "no tick recorded; nothing needs ticks yet"
    );
    assert!(!home.exists(), "doctor created {}", home.display());
}
