//! `email` steps against a real SMTP server (aiosmtpd, `tests/smtp_server.py`) with
//! STARTTLS and AUTH: the proposal shows the message, approving sends it exactly once
//! (byte-checked), an edit is validated, a 4xx is retried with the same Message-ID, a
//! 5xx fails with the server's reply, and a send cut off (kill -9, or no answer after
//! the message) becomes an attention item, never a resend.

use sha2::{Digest, Sha256};

use crate::support::smtp::{Opts, PASSWORD, SmtpServer, Tls};
use crate::support::{Test, step};

/// A workspace whose config has `server` as its default account, with the password
/// kept in the secret store.
pub fn with_server(server: &SmtpServer) -> Test {
    let t = Test::new().write("config.toml", &server.config(None));
    t.args(&["secret", "set", "SMTP_PASSWORD"])
        .stdin(PASSWORD)
        .run()
        .success();
    t
}

const MAIL: &str = r##"
name = "mail"

[inputs.who]
default = "bob@example.com"

[[steps]]
id = "send"
kind = "email"
to = ["{{ inputs.who }}", "Eve <eve@example.com>"]
cc = "carol@example.com"
bcc = "hidden@example.com"
reply_to = "office@example.com"
subject = "Office hours — open"
markdown = "# Slots\n\nBook a **slot**.\n"
attachments = ["slots.txt"]
headers = { "X-Campaign" = "launch" }
"##;

fn boundary(message_id: &str, kind: &str) -> String {
    let h = hex::encode(Sha256::digest(message_id.as_bytes()));
    format!("aios-{kind}-{}", &h[..24])
}

/// The message as it must arrive, byte for byte.
fn expected(message_id: &str) -> String {
    let mixed = boundary(message_id, "mixed");
    let alt = boundary(message_id, "alt");
    format!(
        "From: Ada <ada@example.com>\r\n\
Date: Sat, 21 Nov 2026 09:30:00 +0000\r\n\
Message-ID: {message_id}\r\n\
Reply-To: office@example.com\r\n\
To: bob@example.com, Eve <eve@example.com>\r\n\
Cc: carol@example.com\r\n\
Subject: Office hours =?utf-8?b?4oCU?= open\r\n\
X-Campaign: launch\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed;\r\n boundary=\"{mixed}\"\r\n\
\r\n\
--{mixed}\r\n\
Content-Type: multipart/alternative;\r\n boundary=\"{alt}\"\r\n\
\r\n\
--{alt}\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: 7bit\r\n\
\r\n\
# Slots\r\n\
\r\n\
Book a **slot**.\r\n\
\r\n\
--{alt}\r\n\
Content-Type: text/html; charset=utf-8\r\n\
Content-Transfer-Encoding: 7bit\r\n\
\r\n\
<!DOCTYPE html>\r\n\
<html><head><meta charset=\"utf-8\"></head><body>\r\n\
<h1>Slots</h1>\r\n\
<p>Book a <strong>slot</strong>.</p>\r\n\
</body></html>\r\n\
\r\n\
--{alt}--\r\n\
--{mixed}\r\n\
Content-Disposition: attachment; filename=\"slots.txt\"\r\n\
Content-Type: text/plain\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
VHVlIDEwOjAwClRodSAxNjowMAo=\r\n\
--{mixed}--\r\n"
    )
}

#[test]
fn a_proposed_email_shows_the_message_and_is_sent_once() {
    let t = Test::new();
    let server = SmtpServer::start(&t.join("smtp"), Opts::default());
    let t = with_server(&server)
        .write("mail.toml", MAIL)
        .write("slots.txt", "Tue 10:00\nThu 16:00\n");
    t.aios(&["run", "mail.toml"])
        .success()
        .stdout_contains("email bob@example.com and 3 others: Office hours — open");
    assert!(
        server.attempts().is_empty(),
        "nothing is sent before approval"
    );

    let action = t.aios(&["inbox", "show", "1", "--action"]).success().json();
    let mid = action["message_id"].as_str().unwrap().to_string();
    assert!(
        mid.starts_with("<aios.") && mid.ends_with(".send.1@example.com>"),
        "{mid}"
    );
    assert_eq!(action["attachments"][0]["size"], 20);
    t.aios(&["inbox", "show", "1"]).success().stdout_contains(&format!(
        "action\n  email Office hours — open\n    From: Ada <ada@example.com>\n    \
To: bob@example.com, Eve <eve@example.com>\n    Cc: carol@example.com\n    Bcc: hidden@example.com\n    \
Reply-To: office@example.com\n    Subject: Office hours — open\n    X-Campaign: launch\n    \
Message-ID: {mid}\n    via SMTP account `default`\n    \
markdown (the text part; rendered, the HTML part):\n    │ # Slots\n    │ \n    │ Book a **slot**.\n    \
attachment slots.txt (20 bytes, text/plain)\n    HTML part: 131 bytes, rendered from the Markdown (`--action` shows it)\n    \
attachments read beneath {}\n    Date: set when sent\n",
        t.path().display()
    ));

    t.aios(&["approve", "1"]).success();
    let got = server.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].text(), expected(&mid));
    assert_eq!(
        got[0].envelope["rcpt_tos"],
        serde_json::json!([
            "bob@example.com",
            "eve@example.com",
            "carol@example.com",
            "hidden@example.com"
        ])
    );
    assert_eq!(got[0].envelope["mail_from"], "ada@example.com");
    assert_eq!(got[0].envelope["tls"], true, "STARTTLS before anything");
    assert_eq!(got[0].envelope["user"], "ada");

    let show = t.show(1);
    assert_eq!(show["status"], "succeeded");
    let out = &step(&show, "send")["output"];
    assert_eq!(out["message_id"], mid.as_str());
    assert_eq!(out["reply"], "250 2.0.0 Ok: queued as 1");
    assert_eq!(out["server"], format!("127.0.0.1:{}", server.port));

    // Deciding again sends nothing: the decision was taken once.
    t.aios(&["approve", "1"]).code(4);
    t.aios(&["resume", "1"]).code(4);
    assert_eq!(server.messages().len(), 1);
    assert_eq!(server.attempts().len(), 1);
}

#[test]
fn an_edit_changes_recipients_subject_and_body_and_is_validated() {
    let t = Test::new();
    let server = SmtpServer::start(&t.join("smtp"), Opts::default());
    let t = with_server(&server)
        .write("mail.toml", MAIL)
        .write("slots.txt", "Tue 10:00\nThu 16:00\n");
    t.aios(&["run", "mail.toml"]).success();
    let action = t.aios(&["inbox", "show", "1", "--action"]).success().json();

    let mut bad = action.clone();
    bad["to"] = serde_json::json!(["dan@"]);
    t.put("bad.json", &bad.to_string());
    t.aios(&["approve", "1", "--edit", "bad.json"])
        .code(2)
        .stderr_contains("`to`: `dan@` is not an email address");
    let mut escape = action.clone();
    escape["attachments"] =
        serde_json::json!([{ "path": "../etc/passwd", "name": "p", "content_type": "text/plain" }]);
    t.put("escape.json", &escape.to_string());
    t.aios(&["approve", "1", "--edit", "escape.json"])
        .code(2)
        .stderr_contains("escapes the root folder");
    let mut sender = action.clone();
    sender["from"] = "mallory@example.com".into();
    t.put("sender.json", &sender.to_string());
    t.aios(&["approve", "1", "--edit", "sender.json"])
        .code(2)
        .stderr_contains("`from` cannot be edited");
    assert!(
        server.attempts().is_empty(),
        "a refused edit decides nothing"
    );

    let mut edit = action.clone();
    edit["to"] = serde_json::json!(["Dan <dan@example.com>"]);
    edit["cc"] = serde_json::json!([]);
    edit["bcc"] = serde_json::json!([]);
    edit["subject"] = "Office hours (edited)".into();
    edit["markdown"] = serde_json::Value::Null;
    edit["text"] = "Plain now.\n".into();
    edit["attachments"] = serde_json::json!([]);
    t.put("edit.json", &edit.to_string());
    t.aios(&["approve", "1", "--edit", "edit.json"]).success();
    let got = server.messages();
    assert_eq!(got.len(), 1);
    let text = got[0].text();
    assert!(text.contains("\r\nTo: Dan <dan@example.com>\r\n"), "{text}");
    assert!(text.contains("\r\nSubject: Office hours (edited)\r\n"));
    assert!(text.contains("\r\nContent-Type: text/plain; charset=utf-8\r\n"));
    assert!(text.contains("\r\n\r\nPlain now.\r\n"), "{text:?}");
    assert!(!text.contains("Cc:") && !text.contains("multipart"));
    assert_eq!(
        got[0].envelope["rcpt_tos"],
        serde_json::json!(["dan@example.com"])
    );
    t.aios(&["log", "1"])
        .success()
        .stdout_contains("Office hours (edited)");
}

/// Unattended steps: `approve = "never"`, with `retry`.
fn unattended(extra: &str) -> String {
    format!(
        "name = \"mail\"\n[[steps]]\nid = \"send\"\nkind = \"email\"\napprove = \"never\"\nto = \"bob@example.com\"\nsubject = \"Hi\"\ntext = \"Hello\"\n{extra}"
    )
}

#[test]
fn a_4xx_is_retried_with_the_same_message_id_and_sent_once() {
    let t = Test::new();
    let opts = Opts {
        replies: vec!["451 4.3.0 Try again later".into()],
        ..Opts::default()
    };
    let server = SmtpServer::start(&t.join("smtp"), opts);
    let t = with_server(&server).write(
        "mail.toml",
        &unattended("retry = { attempts = 3, backoff = \"10ms\" }\n"),
    );
    t.aios(&["run", "mail.toml"])
        .success()
        .stderr_contains("did not accept the message: 451 4.3.0 Try again later");
    let attempts = server.attempts();
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(attempts[0]["reply"], "451 4.3.0 Try again later");
    assert_eq!(attempts[1]["reply"], "250 2.0.0 Ok: queued as 1");
    assert_eq!(attempts[0]["message_id"], attempts[1]["message_id"]);
    assert_eq!(server.messages().len(), 1);
    let show = t.show(1);
    assert_eq!(show["status"], "succeeded");
    assert_eq!(step(&show, "send")["attempts"], 2);
}

#[test]
fn a_5xx_fails_at_once_with_the_servers_reply() {
    let t = Test::new();
    let opts = Opts {
        replies: vec!["554 5.7.1 Rejected: looks like spam".into()],
        ..Opts::default()
    };
    let server = SmtpServer::start(&t.join("smtp"), opts);
    let t = with_server(&server).write(
        "mail.toml",
        &unattended("retry = { attempts = 3, backoff = \"10ms\" }\n"),
    );
    let out = t.aios(&["run", "mail.toml"]).code(1);
    let want = format!(
        "SMTP account `default` (127.0.0.1:{}) did not accept the message: 554 5.7.1 Rejected: looks like spam",
        server.port
    );
    assert!(out.stdout.contains(&want), "{}", out.stdout);
    assert_eq!(server.attempts().len(), 1, "not retried");
    assert!(server.messages().is_empty());
    assert_eq!(step(&t.show(1), "send")["error"], want.as_str());
}

#[test]
fn kill_9_mid_send_becomes_an_attention_item_never_a_resend() {
    let t = Test::new();
    let opts = Opts {
        hold: true,
        ..Opts::default()
    };
    let server = SmtpServer::start(&t.join("smtp"), opts);
    let t = with_server(&server).write("mail.toml", &unattended(""));
    let bg = t.args(&["run", "mail.toml"]).spawn();
    // The server has the whole message; its answer is held.
    crate::support::wait_until("the message to reach the server", || {
        server.messages().len() == 1
    });
    bg.kill9();
    server.release();
    t.aios(&["resume", "1"])
        .success()
        .stdout_contains("attention send")
        .stdout_contains("interrupted, outcome unknown: email bob@example.com: Hi");
    let show = t.show(1);
    assert_eq!(step(&show, "send")["status"], "needs_attention");
    let item = t.item("send");
    assert_eq!(server.attempts().len(), 1, "resume sent nothing");
    t.aios(&["inbox", "show", &item.to_string()])
        .success()
        .stdout_contains("The process running this step stopped before recording its result");
    // The operator knows it arrived.
    t.aios(&["approve", &item.to_string(), "--done"]).success();
    assert_eq!(t.show(1)["status"], "succeeded");
    assert_eq!(server.messages().len(), 1);
    assert_eq!(server.attempts().len(), 1);
}

#[test]
fn no_answer_after_the_message_is_an_attention_item_not_a_retry() {
    let t = Test::new();
    let opts = Opts {
        hold: true,
        ..Opts::default()
    };
    let server = SmtpServer::start(&t.join("smtp"), opts);
    let cfg = server
        .config(None)
        .replace("timeout = \"10s\"", "timeout = \"1s\"");
    let t = with_server(&server).write("config.toml", &cfg).write(
        "mail.toml",
        &unattended("retry = { attempts = 3, backoff = \"10ms\" }\n"),
    );
    t.aios(&["run", "mail.toml"]).success();
    server.release();
    let item = t.item("send");
    t.aios(&["inbox", "show", &item.to_string()])
        .success()
        .stdout_contains(&format!(
            "Its outcome is unknown: SMTP account `default` (127.0.0.1:{}) did not answer within 1s after the message was sent: it may have been delivered.",
            server.port
        ));
    let list = t.aios(&["inbox", "list"]).success();
    assert!(
        list.stdout
            .contains("outcome unknown: email bob@example.com: Hi")
            && !list.stdout.contains("interrupted"),
        "{}",
        list.stdout
    );
    assert_eq!(server.attempts().len(), 1, "never retried by itself");
    assert_eq!(step(&t.show(1), "send")["status"], "needs_attention");
}

#[test]
fn implicit_tls_and_an_insecure_loopback_server_work() {
    let t = Test::new();
    let opts = Opts {
        tls: Tls::Implicit,
        ..Opts::default()
    };
    let server = SmtpServer::start(&t.join("smtp"), opts);
    let t = with_server(&server).write("mail.toml", &unattended(""));
    t.aios(&["run", "mail.toml"]).success();
    assert_eq!(server.messages()[0].envelope["tls"], true);

    // No CA given: refused, then accepted with tls_insecure_loopback.
    let cfg = server.config(None);
    let ca = cfg.lines().find(|l| l.starts_with("ca_file")).unwrap();
    t.put("config.toml", &cfg.replace(ca, ""));
    t.aios(&["run", "mail.toml"])
        .code(1)
        .stdout_contains("the server's certificate cannot be trusted: it is signed by an authority this machine does not trust");
    t.put(
        "config.toml",
        &cfg.replace(ca, "tls_insecure_loopback = true"),
    );
    t.aios(&["run", "mail.toml"]).success();
    assert_eq!(server.messages().len(), 2);
}

/// Approve everything pending in order (the gate with a launch date) until the
/// run is done.
fn approve_all(t: &Test) {
    for _ in 0..10 {
        let pending = t.inbox();
        let Some(item) = pending.first() else { return };
        let id = item["id"].to_string();
        if item["kind"] == "approval" {
            t.aios(&["approve", &id, "--field", "launch_date=2026-12-01"])
                .success();
        } else {
            t.aios(&["approve", &id]).success();
        }
    }
    panic!("the run never finished");
}

#[test]
fn launch_announces_by_email_when_smtp_is_configured() {
    let t = Test::new();
    let server = SmtpServer::start(&t.join("smtp"), Opts::default());
    let t = with_server(&server).copy("workflows/launch.toml", "launch.toml");
    t.aios(&[
        "run",
        "launch.toml",
        "--input",
        "announce_to=list@example.com",
    ])
    .success();
    approve_all(&t);
    let show = t.show(1);
    assert_eq!(show["status"], "succeeded", "{show}");
    assert_eq!(step(&show, "announce_email")["status"], "succeeded");
    assert_eq!(step(&show, "announce_outbox")["status"], "skipped");
    let got = server.messages();
    assert_eq!(got.len(), 1);
    let text = got[0].text();
    assert!(text.contains("\r\nTo: list@example.com\r\n"), "{text}");
    assert!(text.contains("\r\nSubject: New: Founder office hours\r\n"));
    assert!(text.contains("\r\nX-Launch: founder-office-hours\r\n"));
    assert!(text.contains("Read more: https://example.com/founder-office-hours"));
    assert!(
        t.read("launch-out/launches.md")
            .contains("announced via email to list@example.com"),
    );
    assert!(!t.join("launch-out/outbox").exists());

    // Without a recipient the outbox gets it, SMTP or not.
    t.aios(&["run", "launch.toml"]).success();
    approve_all(&t);
    assert_eq!(step(&t.show(2), "announce_email")["status"], "skipped");
    assert!(
        t.join("launch-out/outbox/founder-office-hours.json")
            .exists()
    );
    assert_eq!(server.messages().len(), 1);
}

#[test]
fn launch_without_smtp_announces_to_the_outbox_even_with_a_recipient() {
    let t = Test::new().copy("workflows/launch.toml", "launch.toml");
    t.aios(&["check", "launch.toml"]).success();
    t.aios(&[
        "run",
        "launch.toml",
        "--input",
        "announce_to=list@example.com",
    ])
    .success();
    approve_all(&t);
    let show = t.show(1);
    assert_eq!(show["status"], "succeeded");
    assert_eq!(step(&show, "channels")["output"]["email"], false);
    assert_eq!(step(&show, "announce_email")["status"], "skipped");
    assert!(
        t.read("launch-out/launches.md")
            .contains("announced via outbox")
    );
}
