//! Bad input and failing servers: wrong password, unreachable or silent server, TLS
//! failures (and TLS that works), unknown accounts, unset secrets, bad triggers.
//! Each error names the account and the server, leaves one notice per failure
//! streak, and never shows a password.

use super::{SECRET, config, message, runs, setup, setup_with, tick, watcher};
use crate::support::Test;
use crate::support::dovecot::{Dovecot, PASSWORD};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// No file under the data directory but the secret store holds `value`.
fn nowhere_but_the_store(t: &Test, value: &str) {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(t.path(), &mut files);
    for f in files {
        if f.starts_with(t.join("secrets")) {
            continue;
        }
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !bytes.windows(value.len()).any(|w| w == value.as_bytes()),
            "{} holds the password",
            f.display()
        );
    }
}

#[test]
fn a_wrong_password_is_one_clear_error_per_tick_and_one_notice_per_streak() {
    let server = Dovecot::start();
    let t = setup(&server);
    let wrong = "wrong-password-4711";
    t.args(&["secret", "set", SECRET])
        .stdin(wrong)
        .run()
        .success();
    server.append("INBOX", &message(1, "waiting"));
    let out = t.aios(&["tick"]).code(1);
    let port = server.port;
    assert_eq!(
        out.stdout,
        format!(
            "error: schedule inbox: imap account `default` (127.0.0.1:{port}) refused the login of `ada`: [AUTHENTICATIONFAILED] Authentication failed.\n\
             hint: check `user` in [imap] and the password: aios secret set {SECRET}\n\
             schedule inbox could not read its mail: imap account `default` (127.0.0.1:{port}) refused the login of `ada`: [AUTHENTICATIONFAILED] Authentication failed. (inbox 1)\n"
        )
    );
    // Again: the error, but no second notice.
    let again = t.aios(&["tick"]).code(1);
    assert!(!again.stdout.contains("(inbox"), "{}", again.stdout);
    let notices = t.inbox();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0]["kind"], "notice");
    let list = t.aios(&["schedule", "list", "--json"]).success().json();
    assert_eq!(list[0]["health"], "failing");
    assert!(
        list[0]["health_detail"]
            .as_str()
            .unwrap()
            .starts_with("cannot read its mail since 2026-11-21T09:30:00Z: imap account `default`"),
        "{}",
        list[0]["health_detail"]
    );
    for o in [&out, &again] {
        assert!(!o.stdout.contains(wrong) && !o.stderr.contains(wrong));
    }
    nowhere_but_the_store(&t, wrong);
    // Fixed: the message is taken and the watch is healthy again.
    t.args(&["secret", "set", SECRET])
        .stdin(PASSWORD)
        .run()
        .success();
    tick(&t);
    assert_eq!(runs(&t).len(), 1);
    let list = t.aios(&["schedule", "list", "--json"]).success().json();
    assert_eq!(list[0]["health"], "ok");
    nowhere_but_the_store(&t, PASSWORD);
}

#[test]
fn an_unreachable_server_names_the_account_and_the_server() {
    let port = free_port();
    let t = setup_with(port, &watcher("folder = \"INBOX\""));
    let out = t.aios(&["tick"]).code(1);
    assert!(
        out.stdout.starts_with(&format!(
            "error: schedule inbox: cannot reach imap account `default` (127.0.0.1:{port}): Connection refused"
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("hint: check `host` and `port` in [imap], and that the server is up"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_server_that_never_greets_times_out() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let t = Test::new()
        .write(
            "config.toml",
            &config(port, "").replace("timeout = \"10s\"", "timeout = \"300ms\""),
        )
        .write("inbox.toml", &watcher("folder = \"INBOX\""));
    t.args(&["secret", "set", SECRET])
        .stdin(PASSWORD)
        .run()
        .success();
    t.aios(&["schedule", "add", "inbox.toml"]).success();
    let out = t.aios(&["tick"]).code(1);
    assert!(
        out.stdout.starts_with(&format!(
            "error: schedule inbox: imap account `default` (127.0.0.1:{port}): no answer within 300ms (waiting for the greeting)"
        )),
        "{}",
        out.stdout
    );
    drop(silent);
}

fn tls_test(server: &Dovecot, port: u16, tls: &str, ca: bool) -> Test {
    let mut cfg = format!(
        "[imap]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"{tls}\"\nuser = \"ada\"\npassword = 'secret(\"{SECRET}\")'\ntimeout = \"10s\"\n"
    );
    if ca {
        cfg.push_str(&format!("ca_file = \"{}\"\n", server.cert().display()));
    }
    let t = Test::new()
        .write("config.toml", &cfg)
        .write("inbox.toml", &watcher("folder = \"INBOX\""));
    t.args(&["secret", "set", SECRET])
        .stdin(PASSWORD)
        .run()
        .success();
    t.aios(&["schedule", "add", "inbox.toml"]).success();
    t
}

#[test]
fn tls_failures_are_clear_and_tls_with_the_servers_ca_works() {
    let server = Dovecot::start_tls();
    let imaps = server.tls_port.unwrap();
    server.append("INBOX", &message(1, "over tls"));
    // A self-signed certificate the system does not trust.
    let t = tls_test(&server, imaps, "implicit", false);
    let out = t.aios(&["tick"]).code(1);
    assert!(
        out.stdout.starts_with(&format!(
            "error: schedule inbox: imap account `default` (127.0.0.1:{imaps}): TLS handshake failed: invalid peer certificate: UnknownIssuer"
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("needs `ca_file` in [imap]"),
        "{}",
        out.stdout
    );
    // TLS spoken to a port that does not speak it.
    let t = tls_test(&server, server.port, "implicit", true);
    let out = t.aios(&["tick"]).code(1);
    assert!(
        out.stdout.contains(&format!(
            "imap account `default` (127.0.0.1:{}): TLS handshake failed: ",
            server.port
        )),
        "{}",
        out.stdout
    );
    // Trusting the server's certificate: implicit TLS, then STARTTLS.
    let t = tls_test(&server, imaps, "implicit", true);
    tick(&t);
    assert_eq!(runs(&t).len(), 1);
    let uid2 = server.append("INBOX", &message(2, "over starttls"));
    let t = tls_test(&server, server.port, "starttls", true);
    tick(&t);
    assert_eq!(runs(&t).len(), 1);
    assert_eq!(runs(&t)[0].1, uid2 as u64);
}

#[test]
fn accounts_and_secrets_are_checked_when_the_schedule_is_added() {
    let t = Test::new()
        .write("inbox.toml", &watcher("account = \"home\""))
        .write("plain.toml", &watcher("folder = \"INBOX\""));
    t.aios(&["schedule", "add", "plain.toml"])
        .code(2)
        .stderr_contains("error: no imap account is configured in ")
        .stderr_contains(
            "hint: add an [imap] table (host, user, password = 'secret(\"IMAP_PASSWORD\")') to ",
        );
    t.put(
        "config.toml",
        &config(143, "").replace("[imap]", "[imap.work]"),
    );
    t.aios(&["schedule", "add", "inbox.toml"])
        .code(2)
        .stderr_contains("error: imap account `home` is not configured in ")
        .stderr_contains("(configured: work)");
    t.aios(&["schedule", "add", "plain.toml"])
        .code(2)
        .stderr_contains(&format!(
            "error: imap account `work` (127.0.0.1:143) reads its password from the secret `{SECRET}`, which is not set"
        ))
        .stderr_contains(&format!("hint: aios secret set {SECRET}"));
    // A password written in the config is refused, and not repeated.
    t.put(
        "config.toml",
        "[imap]\nhost = \"127.0.0.1\"\ntls = \"none\"\nuser = \"ada\"\npassword = \"hunter2-in-clear\"\n",
    );
    let out = t.aios(&["schedule", "add", "plain.toml"]).code(2);
    assert!(
        out.stderr
            .contains("[imap] `password` must name a secret, not hold the password"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("hunter2-in-clear"));
    // `tls = "none"` only to this machine.
    t.put(
        "config.toml",
        &format!("[imap]\nhost = \"imap.example.com\"\ntls = \"none\"\nuser = \"ada\"\npassword = 'secret(\"{SECRET}\")'\n"),
    );
    t.aios(&["schedule", "add", "plain.toml"])
        .code(2)
        .stderr_contains("is \"none\" for imap.example.com, which is not this machine");
}

#[test]
fn an_account_removed_after_the_schedule_was_added_is_an_error_of_the_tick() {
    let server = Dovecot::start();
    let t = setup(&server);
    t.put("config.toml", "");
    let out = t.aios(&["tick"]).code(1);
    assert!(
        out.stdout
            .starts_with("error: schedule inbox: imap account `default` is not configured in "),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("hint: add [imap] to "),
        "{}",
        out.stdout
    );
    // A mistake in [imap] is the mail schedule's error; other commands still work.
    t.put("config.toml", "[imap]\nhost = \"127.0.0.1\"\n");
    let out = t.aios(&["tick"]).code(1);
    assert!(
        out.stdout.starts_with("error: schedule inbox: ")
            && out.stdout.contains("[imap] `user` is missing"),
        "{}",
        out.stdout
    );
    t.put(
        "hello.toml",
        "name = \"hello\"\n[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = { x = 1 }\n",
    );
    t.aios(&["run", "hello.toml"]).success();
}

#[test]
fn bad_triggers_are_refused_when_checked() {
    let t = Test::new()
        .write(
            "no_input.toml",
            "name = \"a\"\n[trigger]\nimap = { folder = \"INBOX\" }\n[[steps]]\nid = \"s\"\nkind = \"set\"\nvalues = { x = 1 }\n",
        )
        .write(
            "both.toml",
            "name = \"b\"\n[inputs.message]\ntype = \"object\"\n[trigger]\ncron = \"@daily\"\nimap = { after = \"move\", search = \"UNSEEN\\r\\nA1 LOGOUT\" }\ntimezone = \"UTC\"\n[[steps]]\nid = \"s\"\nkind = \"set\"\nvalues = { x = 1 }\n",
        );
    t.aios(&["check", "no_input.toml"])
        .code(2)
        .stderr_contains(
            "an imap trigger starts each run with the input `message`, which is not declared",
        )
        .stderr_contains("add [inputs.message] with type = \"object\"");
    let out = t.aios(&["check", "both.toml"]).code(2);
    for want in [
        "a trigger has `cron` or `imap`, not both",
        "`timezone` is only read with `cron`",
        "`after = \"move\"` needs `move_to`",
        "`search` holds a control character",
    ] {
        assert!(out.stderr.contains(want), "lacks {want:?}:\n{}", out.stderr);
    }
}

#[test]
fn pause_resume_remove_and_one_name_for_one_schedule() {
    let server = Dovecot::start();
    let t = setup(&server);
    t.aios(&["schedule", "pause", "inbox"])
        .success()
        .stdout_is("schedule inbox paused\n");
    let uid = server.append("INBOX", &message(1, "while paused"));
    t.aios(&["tick"]).success().stdout_is("");
    assert!(server.flags("INBOX", uid).is_empty());
    t.aios(&["schedule", "resume", "inbox"]).success();
    tick(&t);
    assert_eq!(runs(&t).len(), 1);
    // A cron workflow cannot take the name.
    t.put(
        "cron.toml",
        "name = \"inbox\"\n[trigger]\ncron = \"@daily\"\n[[steps]]\nid = \"s\"\nkind = \"set\"\nvalues = { x = 1 }\n",
    );
    t.aios(&["schedule", "add", "cron.toml"])
        .code(4)
        .stderr_contains(
            "error: a mail schedule named `inbox` is registered; one name holds one schedule",
        )
        .stderr_contains("hint: remove it first with: aios schedule remove inbox");
    // Removed and added again: what it took is not taken twice.
    t.aios(&["schedule", "remove", "inbox"]).success();
    t.aios(&["schedule", "list", "--json"])
        .success()
        .stdout_is("[]\n");
    t.aios(&["schedule", "add", "inbox.toml"]).success();
    {
        let mut c = server.client();
        c.select("INBOX");
        c.ok(&format!("UID STORE {uid} -FLAGS (\\Seen)"));
    }
    tick(&t);
    assert_eq!(runs(&t).len(), 1);
}

#[test]
fn a_mail_schedule_whose_last_three_runs_failed_is_failing() {
    let server = Dovecot::start();
    let wf = watcher("folder = \"INBOX\"").replace(
        "values = {",
        "values = { broken = \"{{ inputs.message.imap.nothing.here }}\", ",
    );
    let t = setup_with(server.port, &wf);
    for n in 1..=3 {
        server.append("INBOX", &message(n, "fails"));
    }
    let out = t.aios(&["tick"]).success();
    assert!(
        out.stdout.contains(
            "schedule inbox is failing: the runs of its last 3 messages failed (runs 3, 2, 1)"
        ),
        "{}",
        out.stdout
    );
    let list = t.aios(&["schedule", "list", "--json"]).success().json();
    assert_eq!(list[0]["health"], "failing");
    assert_eq!(list[0]["health_detail"], "the last 3 runs failed");
    // Once per streak.
    t.aios(&["tick"]).success().stdout_is("");
}
