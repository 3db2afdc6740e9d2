//! Notifications (`[notify]`): `aios notify test` through an ntfy-style loopback
//! receiver (token from the secret store, never shown), `aios tick` announcing a
//! waiting item once however many ticks race, a failing channel retried after its
//! backoff, a failed run by email through the test SMTP server, the daily digest
//! through a command, and channel mistakes named with a hint.

use crate::support::http::{Response, Server};
use crate::support::smtp::{Opts, PASSWORD, SmtpServer};
use crate::support::{Test, wait_until};

const TOKEN: &str = "tk-ntfy-Vb3nQ9wLp4";

const GATE: &str = r#"
name = "gate"
[[steps]]
id = "go"
kind = "approval"
title = "Ship it?"
"#;

/// A workspace whose `[notify.phone]` pushes to `server`'s `/ops` with a token
/// kept in the secret store.
fn with_ntfy(server: &Server, extra: &str) -> Test {
    let t = Test::new().write(
        "config.toml",
        &format!(
            "[notify]\nafter = \"1h\"\n{extra}\n[notify.phone]\nkind = \"ntfy\"\nurl = \"{}\"\ntopic = \"ops\"\ntoken = 'secret(\"NTFY_TOKEN\")'\n",
            server.url("")
        ),
    );
    t.args(&["secret", "set", "NTFY_TOKEN"])
        .stdin(TOKEN)
        .run()
        .success();
    t
}

#[test]
fn notify_test_pushes_through_the_channel_with_its_token() {
    let server = Server::start();
    server.respond("/ops", Response::text(200, "{}"));
    let t = with_ntfy(&server, "");
    let out = t
        .aios(&["notify", "test", "phone"])
        .success()
        .stdout_contains("sent phone:");
    assert!(!out.stdout.contains(TOKEN));
    let reqs = server.requests_to("/ops");
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].header("title"), Some("aios: test notification"));
    assert_eq!(
        reqs[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert!(reqs[0].body.contains("A test notification from aios"));
    // Nothing of a test is journaled.
    let list = t.aios(&["notify", "list", "--json"]).success().json();
    assert_eq!(list["notifications"].as_array().unwrap().len(), 0);
    assert_eq!(list["channels"][0]["kind"], "ntfy");
}

#[test]
fn notify_test_names_what_is_wrong() {
    let server = Server::start();
    server.respond("/ops", Response::text(503, "busy"));
    let t = with_ntfy(&server, "");
    let out = t.aios(&["notify", "test"]).code(1);
    assert!(
        out.stdout.contains(&format!(
            "failed phone: channel `phone`: {}/ops answered 503: busy",
            server.url("")
        )),
        "{}",
        out.stdout
    );
    t.aios(&["notify", "test", "phnoe"])
        .code(3)
        .stderr_contains("no notification channel `phnoe`")
        .stderr_contains("did you mean `phone`?");
    let bare = Test::new();
    bare.aios(&["notify", "test"])
        .code(2)
        .stderr_contains("has no notification channel")
        .stderr_contains("hint: add a [notify.NAME] table");
    let plain = Test::new().write(
        "config.toml",
        "[notify.p]\nkind = \"ntfy\"\nurl = \"http://127.0.0.1:9\"\ntopic = \"t\"\ntoken = \"tk-plain-Xy7\"\n",
    );
    let out = plain.aios(&["notify", "test"]).code(2);
    assert!(out.stderr.contains("must be a secret"), "{}", out.stderr);
    assert!(!out.stderr.contains("tk-plain-Xy7"));
}

/// An item waiting past `after` is announced once, by one of ten racing ticks,
/// and never again.
#[test]
fn a_waiting_item_is_announced_once_by_ten_concurrent_ticks() {
    let server = Server::start();
    server.respond("/ops", Response::text(200, "{}"));
    let t = with_ntfy(&server, "").write("gate.toml", GATE);
    t.aios(&["run", "gate.toml"]).success();
    // Not yet an hour: nothing to say.
    t.args(&["tick"])
        .env("AIOS_NOW", "2026-11-21T10:00:00Z")
        .run()
        .success();
    assert_eq!(server.count("/ops"), 0);
    let ticks: Vec<_> = (0..10)
        .map(|_| {
            t.args(&["tick"])
                .env("AIOS_NOW", "2026-11-21T10:31:00Z")
                .spawn()
        })
        .collect();
    for b in ticks {
        b.wait().success();
    }
    let reqs = server.requests_to("/ops");
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert_eq!(reqs[0].header("title"), Some("aios: an item has waited 1h"));
    assert!(reqs[0].body.contains("Ship it?"), "{}", reqs[0].body);
    assert!(
        reqs[0].body.contains("aios inbox show 1"),
        "{}",
        reqs[0].body
    );
    t.args(&["tick"])
        .env("AIOS_NOW", "2026-11-21T12:00:00Z")
        .run()
        .success();
    assert_eq!(server.count("/ops"), 1);
    let list = t.aios(&["notify", "list", "--json"]).success().json();
    let n = &list["notifications"][0];
    assert_eq!(
        (n["key"].as_str(), n["status"].as_str()),
        (Some("waiting:1"), Some("sent"))
    );
}

/// A channel that fails is tried again once its backoff has passed, and the
/// tick says so; the run is not held up.
#[test]
fn a_failing_channel_is_retried_after_its_backoff() {
    let server = Server::start();
    server.script("/ops", vec![Response::text(500, "down")]);
    server.respond("/ops", Response::text(200, "{}"));
    let t = with_ntfy(&server, "").write("gate.toml", GATE);
    t.aios(&["run", "gate.toml"]).success();
    let out = t
        .args(&["tick"])
        .env("AIOS_NOW", "2026-11-21T10:30:00Z")
        .run()
        .success();
    assert!(
        out.stdout.contains(
            "notification 1 to phone failed (try 1; tried again after 2026-11-21T10:30:30Z)"
        ),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("answered 500: down"), "{}", out.stdout);
    t.args(&["tick"])
        .env("AIOS_NOW", "2026-11-21T10:30:20Z")
        .run()
        .success();
    assert_eq!(server.count("/ops"), 1, "not due again yet");
    t.args(&["tick"])
        .env("AIOS_NOW", "2026-11-21T10:30:31Z")
        .run()
        .success()
        .stdout_contains("notified phone: aios: an item has waited 1h");
    assert_eq!(server.count("/ops"), 2);
    let n = &t.aios(&["notify", "list", "--json"]).success().json()["notifications"][0];
    assert_eq!(
        (n["status"].as_str(), n["attempts"].as_i64()),
        (Some("sent"), Some(2))
    );
}

/// A failed run is announced by email through the `[smtp]` account; the SMTP
/// password is in no output.
#[test]
fn a_failed_run_is_announced_by_email() {
    let t = Test::new();
    let smtp = SmtpServer::start(&t.join("smtp"), Opts::default());
    let t = t.write(
        "config.toml",
        &format!(
            "{}\n[notify.mail]\nkind = \"email\"\nto = \"ops@example.com\"\nevents = [\"failed\"]\n",
            smtp.config(None)
        ),
    );
    t.args(&["secret", "set", "SMTP_PASSWORD"])
        .stdin(PASSWORD)
        .run()
        .success();
    let t = t.write(
        "boom.toml",
        "name = \"boom\"\n[[steps]]\nid = \"s\"\nkind = \"shell\"\napprove = \"never\"\nargv = [\"false\"]\n",
    );
    t.aios(&["run", "boom.toml"]).code(1);
    let out = t.aios(&["tick"]).success();
    assert!(
        out.stdout
            .contains("notified mail: aios: run 1 of boom failed"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains(PASSWORD) && !out.stderr.contains(PASSWORD));
    let msgs = smtp.messages();
    assert_eq!(msgs.len(), 1);
    let text = msgs[0].text();
    assert!(
        text.contains("Subject: aios: run 1 of boom failed"),
        "{text}"
    );
    assert!(text.contains("To: ops@example.com"), "{text}");
    assert!(text.contains("aios show 1"), "{text}");
    t.aios(&["tick"]).success();
    assert_eq!(smtp.messages().len(), 1, "sent once");
}

/// The digest goes out once a day after its time, through a command that gets
/// the message in its environment.
#[test]
fn the_daily_digest_runs_a_command_once() {
    let t = Test::new()
        .write(
            "config.toml",
            "[notify]\ndigest = \"09:00\"\n[notify.log]\nkind = \"command\"\nevents = [\"digest\"]\ncommand = [\"sh\", \"-c\", \"printf '%s\\n%s\\n' \\\"$AIOS_NOTIFY_TITLE\\\" \\\"$AIOS_NOTIFY_BODY\\\" >> digest.txt\"]\n",
        )
        .write("gate.toml", GATE);
    t.aios(&["run", "gate.toml"]).success();
    t.args(&["tick"])
        .env("AIOS_NOW", "2026-11-21T08:59:00Z")
        .run()
        .success();
    assert!(!t.join("digest.txt").exists());
    t.aios(&["tick"])
        .success()
        .stdout_contains("notified log: aios digest for 2026-11-21");
    wait_until("the digest is written", || t.join("digest.txt").exists());
    let text = t.read("digest.txt");
    assert!(
        text.starts_with("aios digest for 2026-11-21\n1 item waiting in the inbox\n"),
        "{text}"
    );
    assert!(text.contains("Ship it?"), "{text}");
    assert!(text.contains("LLM spend: $0.00 today"), "{text}");
    t.args(&["tick"])
        .env("AIOS_NOW", "2026-11-21T18:00:00Z")
        .run()
        .success();
    assert_eq!(t.read("digest.txt").matches("aios digest").count(), 1);
}
