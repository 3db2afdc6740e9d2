//! Bad input for email steps: unknown accounts, bad addresses, unreachable servers,
//! wrong passwords, TLS failures. Each error names the account and the server, the
//! step is retried or failed per its `retry`, nothing is sent twice, and no password
//! appears in any output or in the database.

use crate::email::with_server;
use crate::support::smtp::{Opts, SmtpServer, Tls};
use crate::support::{Output, Test, step};

fn unattended(extra: &str) -> String {
    format!(
        "name = \"mail\"\n[[steps]]\nid = \"send\"\nkind = \"email\"\napprove = \"never\"\nto = \"bob@example.com\"\nsubject = \"Hi\"\ntext = \"Hello\"\n{extra}"
    )
}

/// `text` appears in no output and in no file of the data folder but the store.
fn nowhere(t: &Test, outs: &[&Output], text: &str) {
    for o in outs {
        assert!(
            !o.stdout.contains(text) && !o.stderr.contains(text),
            "`aios {}` shows it",
            o.args
        );
    }
    for cmd in [
        vec!["show", "1"],
        vec!["show", "1", "--json"],
        vec!["log", "1"],
        vec!["log", "1", "--json"],
        vec!["inbox", "list", "--all", "--json"],
    ] {
        let o = t.aios(&cmd);
        assert!(
            !o.stdout.contains(text) && !o.stderr.contains(text),
            "`aios {}` shows it",
            cmd.join(" ")
        );
    }
    t.assert_journal_lacks(text);
}

#[test]
fn an_unknown_account_is_named_before_anything_runs() {
    let t = Test::new();
    let server = SmtpServer::start(&t.join("smtp"), Opts::default());
    let t = with_server(&server)
        .write("config.toml", &server.config(Some("work")))
        .write("mail.toml", &unattended("account = \"wrok\"\n"));
    let check = t.aios(&["check", "mail.toml"]).code(2);
    assert!(
        check.stderr.contains("error: no SMTP account `wrok` in ")
            && check
                .stderr
                .contains("did you mean `work`? configured: work")
            && check.stderr.contains("mail.toml:9:11"),
        "{}",
        check.stderr
    );
    t.aios(&["run", "mail.toml"])
        .code(2)
        .stderr_contains("error: mail.toml does not fit its configuration (1 problem)");
    t.aios(&["runs", "--json"]).success().stdout_is("[]\n");
    // Guarded by `when`, the step is skipped where the account does not exist.
    t.put(
        "guarded.toml",
        &unattended("account = \"other\"\nwhen = \"'other' in config.smtp\"\n"),
    );
    t.aios(&["run", "guarded.toml"]).success();
    assert_eq!(step(&t.show(1), "send")["status"], "skipped");
    assert!(server.attempts().is_empty());
}

#[test]
fn bad_addresses_are_refused_where_they_are_written() {
    let t = Test::new().write(
        "mail.toml",
        "name = \"mail\"\n[[steps]]\nid = \"send\"\nkind = \"email\"\nfrom = \"ada@\"\nto = [\"bob@example.com\", \"carol at example.com\"]\nsubject = \"Hi\"\ntext = \"Hello\"\n",
    );
    let out = t.aios(&["check", "mail.toml"]).code(2);
    assert!(
        out.stderr
            .contains("`from`: `ada@` is not an email address")
            && out.stderr.contains("mail.toml:5:8")
            && out
                .stderr
                .contains("`to`: `carol at example.com` is not an email address")
            && out.stderr.contains("mail.toml:6:26"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_unreachable_server_is_retried_then_fails_naming_it() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let t = Test::new()
        .write(
            "config.toml",
            &format!("[smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nfrom = \"ada@example.com\"\n"),
        )
        .write(
            "mail.toml",
            &unattended("retry = { attempts = 2, backoff = \"10ms\" }\n"),
        );
    let out = t.aios(&["run", "mail.toml"]).code(1);
    let want =
        format!("cannot connect to SMTP account `default` (127.0.0.1:{port}): Connection refused");
    assert!(out.stdout.contains(&want), "{}", out.stdout);
    assert!(
        out.stderr.contains("↻ send attempt 1 failed, retrying"),
        "{}",
        out.stderr
    );
    assert_eq!(step(&t.show(1), "send")["attempts"], 2);
}

#[test]
fn a_wrong_password_fails_without_showing_it() {
    const WRONG: &str = "wrong-Pw-9d1fXa";
    let t = Test::new();
    let server = SmtpServer::start(&t.join("smtp"), Opts::default());
    let t = with_server(&server).write(
        "mail.toml",
        &unattended("retry = { attempts = 3, backoff = \"10ms\" }\n"),
    );
    t.args(&["secret", "set", "SMTP_PASSWORD"])
        .stdin(WRONG)
        .run()
        .success();
    let out = t.aios(&["run", "mail.toml"]).code(1);
    let want = format!(
        "SMTP account `default` (127.0.0.1:{}) refused the login of `ada`: 535 5.7.8 Authentication credentials invalid",
        server.port
    );
    assert!(out.stdout.contains(&want), "{}", out.stdout);
    assert_eq!(server.logins().len(), 1, "a refused login is not retried");
    assert_eq!(server.logins()[0]["ok"], false);
    assert!(server.attempts().is_empty());
    let resume = t.aios(&["resume", "1"]).code(1);
    nowhere(&t, &[&out, &resume], WRONG);
}

#[test]
fn tls_failures_name_the_account_and_send_nothing_in_clear() {
    let t = Test::new();
    let plain = SmtpServer::start(
        &t.join("plain"),
        Opts {
            tls: Tls::None,
            auth: None,
            ..Opts::default()
        },
    );
    // We ask for STARTTLS; the server does not offer it.
    let cfg = plain
        .config(None)
        .replace("tls = \"none\"", "tls = \"starttls\"");
    let t = t.write("config.toml", &cfg).write(
        "mail.toml",
        &unattended("retry = { attempts = 3, backoff = \"10ms\" }\n"),
    );
    let out = t.aios(&["run", "mail.toml"]).code(1);
    assert!(
        out.stdout.contains(&format!(
            "SMTP account `default` (127.0.0.1:{}) does not offer STARTTLS; nothing was sent in clear",
            plain.port
        )),
        "{}",
        out.stdout
    );
    assert!(plain.attempts().is_empty());
    assert_eq!(step(&t.show(1), "send")["attempts"], 1, "not retried");

    // A certificate the account does not trust.
    let tls = SmtpServer::start(&t.join("tls"), Opts::default());
    t.args(&["secret", "set", "SMTP_PASSWORD"])
        .stdin(crate::support::smtp::PASSWORD)
        .run()
        .success();
    let cfg = tls.config(None);
    let ca = cfg.lines().find(|l| l.starts_with("ca_file")).unwrap();
    t.put("config.toml", &cfg.replace(ca, ""));
    let out = t.aios(&["run", "mail.toml"]).code(1);
    assert!(
        out.stdout.contains(&format!(
            "TLS with SMTP account `default` (127.0.0.1:{}) failed while connecting: the server's certificate cannot be trusted",
            tls.port
        )) && out.stdout.contains("ca_file"),
        "{}",
        out.stdout
    );
    assert!(tls.logins().is_empty(), "no password was sent");
}

#[test]
fn unsafe_or_incomplete_accounts_are_refused() {
    let t = Test::new()
        .write(
            "config.toml",
            "[smtp]\nhost = \"smtp.example.com\"\ntls = \"none\"\n",
        )
        .write("mail.toml", &unattended(""));
    t.aios(&["run", "mail.toml"])
        .code(2)
        .stderr_contains("`smtp.tls` is \"none\" for `smtp.example.com`, which is not this machine")
        .stderr_contains("hint: use tls = \"starttls\"");
    // A password that is not a secret is refused, and never echoed.
    t.put(
        "config.toml",
        "[smtp]\nhost = \"127.0.0.1\"\nuser = \"ada\"\npassword = \"hunter2-Plain\"\n",
    );
    let out = t.aios(&["run", "mail.toml"]).code(2);
    assert!(
        out.stderr.contains(
            "`smtp.password` is written in the config file; a password is kept as a secret"
        ),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("hunter2-Plain") && !out.stdout.contains("hunter2-Plain"));
}

#[test]
fn a_password_secret_that_is_not_set_fails_the_step_with_the_command_to_set_it() {
    let t = Test::new();
    let server = SmtpServer::start(&t.join("smtp"), Opts::default());
    let t = t
        .write("config.toml", &server.config(None))
        .write("mail.toml", &unattended(""));
    t.aios(&["run", "mail.toml"]).code(1).stdout_contains(&format!(
        "the password of SMTP account `default` (127.0.0.1:{}): the secret `SMTP_PASSWORD` is not set (aios secret set SMTP_PASSWORD)",
        server.port
    ));
    assert!(server.logins().is_empty());
}
