//! `workflows/support.toml` end to end: a message arrives, the draft reads the
//! customer's memory, the reply waits in the inbox, approving commits it, and the
//! decision and outcome are remembered for the next message of the same customer.
//!
//! With `[smtp]` in the config the reply is an `email` step, sent to the aiosmtpd test
//! server and checked as received; without it (offline, the default) the reply is
//! written to the outbox folder instead.

use super::{SECRET, config, message_of, tick};
use crate::support::dovecot::{Dovecot, PASSWORD};
use crate::support::smtp::{self, Opts, SmtpServer};
use crate::support::{Test, step};

fn ada(subject: &str, n: u32) -> Vec<u8> {
    format!(
        "From: Ada Lovelace <Ada@Example.com>\r\nTo: support@example.com\r\nSubject: {subject}\r\nDate: Sat, 21 Nov 2026 08:0{n}:00 +0000\r\nMessage-ID: <ada-{n}@example.com>\r\n\r\nHello, this is message {n}.\r\n"
    )
    .into_bytes()
}

/// The shipped workflow in a test home whose config is `[imap]` for `imap` plus
/// `extra`, with the IMAP password stored, registered as a schedule, and the
/// customer's plan known before they write.
fn support(t: Test, imap: &Dovecot, extra: &str) -> Test {
    let t = t
        .write("config.toml", &config(imap.port, extra))
        .copy("workflows/support.toml", "support.toml");
    t.args(&["secret", "set", SECRET])
        .stdin(PASSWORD)
        .run()
        .success();
    t.aios(&["check", "support.toml"]).success();
    t.aios(&["schedule", "add", "support.toml"])
        .success()
        .stdout_contains(
            "schedule support added (imap default/INBOX, search UNSEEN, then marked seen)",
        );
    // What is known about the customer before they write.
    t.aios(&["fact", "set", "customer:ada@example.com", "plan", "pro"])
        .success();
    t
}

/// With `[smtp]`: the reply waits in the inbox as the email it will be, approving
/// sends it once (to the sender's Reply-To, threaded, drafted from their facts),
/// and a rejected reply sends nothing.
#[test]
fn with_smtp_the_approved_reply_is_sent_by_email() {
    let imap = Dovecot::start();
    let t = Test::new();
    let server = SmtpServer::start(&t.join("smtp"), Opts::default());
    let t = support(t, &imap, &server.config(None));
    t.args(&["secret", "set", "SMTP_PASSWORD"])
        .stdin(smtp::PASSWORD)
        .run()
        .success();

    let first = b"From: Ada Lovelace <Ada@Example.com>\r\nReply-To: Ada Orders <orders@ada.example>\r\nTo: support@example.com\r\nSubject: My order is late\r\nDate: Sat, 21 Nov 2026 08:01:00 +0000\r\nMessage-ID: <ada-1@example.com>\r\n\r\nHello, where is it?\r\n";
    imap.append("INBOX", first);
    tick(&t);
    let show = t.show(1);
    assert_eq!(show["status"], "waiting", "{show}");
    assert_eq!(step(&show, "channels")["output"]["email"], true);
    assert_eq!(step(&show, "reply_outbox")["status"], "skipped");
    let item = t.item("reply_email");
    let action = t
        .aios(&["inbox", "show", &item.to_string(), "--action"])
        .success()
        .json();
    assert_eq!(action["to"], serde_json::json!(["orders@ada.example"]));
    assert_eq!(action["subject"], "Re: My order is late");
    assert_eq!(action["headers"]["In-Reply-To"], "<ada-1@example.com>");
    assert!(
        server.attempts().is_empty(),
        "nothing is sent before approval"
    );

    t.aios(&["approve", &item.to_string(), "--reason", "good answer"])
        .success();
    let show = t.show(1);
    assert_eq!(show["status"], "succeeded", "{show}");
    let got = server.messages();
    assert_eq!(got.len(), 1);
    let text = got[0].text();
    let head = text.split("\r\n\r\n").next().unwrap();
    for line in [
        "From: Support <support@example.com>",
        "To: orders@ada.example",
        "Subject: Re: My order is late",
        "In-Reply-To: <ada-1@example.com>",
        "References: <ada-1@example.com>",
    ] {
        assert!(
            head.split("\r\n").any(|l| l == line),
            "no `{line}` in:\n{head}"
        );
    }
    assert_eq!(
        got[0].envelope["rcpt_tos"],
        serde_json::json!(["orders@ada.example"])
    );
    assert_eq!(got[0].envelope["mail_from"], "support@example.com");
    let parsed = mail_parser::MessageParser::default()
        .parse(&got[0].bytes)
        .unwrap();
    let body = parsed.body_text(0).unwrap();
    assert!(body.starts_with("Hi Ada Lovelace,"), "{body}");
    assert!(body.contains("\"My order is late\""), "{body}");
    assert!(body.contains("As a pro customer"), "{body}");
    assert!(body.contains("The support team"), "{body}");
    assert!(!t.join("support-out").exists(), "no outbox with [smtp]");
    // The outcome says how, and the customer's memory is kept as offline.
    let outcome = t.aios(&["outcome", "1", "--json"]).success().json();
    assert!(outcome.to_string().contains("\"email\""), "{outcome}");
    t.aios(&["fact", "get", "customer:ada@example.com", "last_subject"])
        .success()
        .stdout_is("My order is late\n");

    // Rejected: nothing is sent and the run fails.
    imap.append("INBOX", &ada("Still waiting", 2));
    tick(&t);
    let item = t.item("reply_email");
    t.aios(&["reject", &item.to_string(), "--reason", "answer by phone"])
        .code(1);
    assert_eq!(t.show(2)["status"], "failed");
    assert_eq!(server.attempts().len(), 1, "a rejected reply is not sent");
    assert_eq!(server.messages().len(), 1);
}

/// Without `[smtp]` (offline, the default): the reply is written to the outbox.
#[test]
fn a_message_gets_a_reply_drafted_from_memory_approved_and_remembered() {
    let server = Dovecot::start();
    let t = support(Test::new(), &server, "");
    let uid = server.append("INBOX", &ada("My order is late", 1));
    let out = t.aios(&["tick"]).success();
    assert!(
        out.stdout.contains(&format!(
            "mail support (INBOX uid {uid}, \"My order is late\"): run 1 waiting"
        )),
        "{}\n{}",
        out.stdout,
        t.aios(&["show", "1"]).stdout
    );
    assert_eq!(server.flags("INBOX", uid), ["\\Seen"]);
    assert_eq!(message_of(&t, 1)["from"]["address"], "Ada@Example.com");
    let show = t.show(1);
    assert_eq!(step(&show, "channels")["output"]["email"], false);
    assert_eq!(step(&show, "reply_email")["status"], "skipped");
    // The reply waits in the inbox, drafted with the customer's facts.
    let item = t.item("reply_outbox");
    let shown = t
        .aios(&["inbox", "show", &item.to_string(), "--json"])
        .success()
        .json();
    let content = shown["action"]["content"].as_str().unwrap();
    assert!(content.contains("To: Ada@Example.com\n"), "{content}");
    assert!(
        content.contains("Subject: Re: My order is late\n"),
        "{content}"
    );
    assert!(
        content.contains("In-Reply-To: <ada-1@example.com>\n"),
        "{content}"
    );
    assert!(content.contains("Hi Ada Lovelace,"), "{content}");
    assert!(content.contains("As a pro customer"), "{content}");
    assert!(
        shown.to_string().contains("customer:ada@example.com"),
        "{shown}"
    );
    // Approved: committed, then the customer's memory and the outcome are kept.
    t.aios(&["approve", &item.to_string(), "--reason", "good answer"])
        .success();
    assert_eq!(t.show(1)["status"], "succeeded");
    assert!(
        t.read("support-out/reply-1.eml")
            .contains("As a pro customer")
    );
    let facts = t
        .aios(&["fact", "get", "customer:ada@example.com", "--json"])
        .success()
        .json();
    let keys: Vec<&str> = facts
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    assert!(
        keys.contains(&"last_subject") && keys.contains(&"last_contact"),
        "{facts}"
    );
    t.aios(&["fact", "get", "customer:ada@example.com", "last_subject"])
        .success()
        .stdout_is("My order is late\n");
    let outcome = t.aios(&["outcome", "1", "--json"]).success().json();
    assert!(outcome.to_string().contains("\"replied\""), "{outcome}");
    assert!(outcome.to_string().contains("\"outbox\""), "{outcome}");
    let found = t
        .aios(&["memory", "search", "ada@example.com", "--json"])
        .success()
        .json();
    let kinds: Vec<&str> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"note"), "{found}");

    // Ada writes again: the draft reads the note of the first reply, her facts, and
    // the decision taken on the first draft.
    let uid2 = server.append("INBOX", &ada("Still waiting", 2));
    tick(&t);
    assert_eq!(server.flags("INBOX", uid2), ["\\Seen"]);
    let show = t.show(2);
    let used = &crate::support::step(&show, "draft")["output"]["context"];
    assert!(
        used["facts"]
            .to_string()
            .contains("customer:ada@example.com"),
        "{used}"
    );
    // The note of the first reply and its run's outcome.
    assert_eq!(used["notes"].as_array().map(Vec::len), Some(2), "{used}");
    assert_eq!(
        used["decisions"].as_array().map(Vec::len),
        Some(1),
        "{used}"
    );
    // What the prompt held (the offline provider records it like any other).
    let calls = t
        .aios(&["llm", "log", "--run", "2", "--json"])
        .success()
        .stdout;
    assert!(
        calls.contains("Replied to ada@example.com about \\\"My order is late\\\""),
        "{calls}"
    );
    assert!(calls.contains("good answer"), "{calls}");
    // Rejected: nothing is committed and the run fails; the reason is remembered.
    let item = t.item("reply_outbox");
    t.aios(&["reject", &item.to_string(), "--reason", "answer by phone"])
        .code(1);
    assert!(!t.join("support-out/reply-2.eml").exists());
    let found = t
        .aios(&["memory", "search", "answer by phone", "--json"])
        .success()
        .json();
    assert_eq!(found[0]["kind"], "decision", "{found}");
}
