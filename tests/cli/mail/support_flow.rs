//! `workflows/support.toml` end to end: a message arrives, the draft reads the
//! customer's memory, the reply waits in the inbox, approving commits it, and the
//! decision and outcome are remembered for the next message of the same customer.
//!
//! The `email` step kind is built on another branch (smtp). Until it is merged, the
//! shipped workflow's `reply` step writes the message to an outbox file (its `email`
//! step is there, commented out). Once `email` lands and replaces it, point `[smtp]`
//! at the aiosmtpd test server and assert on the message received instead of the file.

use super::{SECRET, config, message_of, tick};
use crate::support::Test;
use crate::support::dovecot::{Dovecot, PASSWORD};

fn ada(subject: &str, n: u32) -> Vec<u8> {
    format!(
        "From: Ada Lovelace <Ada@Example.com>\r\nTo: support@example.com\r\nSubject: {subject}\r\nDate: Sat, 21 Nov 2026 08:0{n}:00 +0000\r\nMessage-ID: <ada-{n}@example.com>\r\n\r\nHello, this is message {n}.\r\n"
    )
    .into_bytes()
}

#[test]
fn a_message_gets_a_reply_drafted_from_memory_approved_and_remembered() {
    let server = Dovecot::start();
    let source = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows/support.toml"),
    )
    .unwrap();
    let t = Test::new()
        .write("config.toml", &config(server.port, ""))
        .write("support.toml", &source);
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
    // The reply waits in the inbox, drafted with the customer's facts.
    let item = t.item("reply");
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
    let item = t.item("reply");
    t.aios(&["reject", &item.to_string(), "--reason", "answer by phone"])
        .code(1);
    assert!(!t.join("support-out/reply-2.eml").exists());
    let found = t
        .aios(&["memory", "search", "answer by phone", "--json"])
        .success()
        .json();
    assert_eq!(found[0]["kind"], "decision", "{found}");
}
