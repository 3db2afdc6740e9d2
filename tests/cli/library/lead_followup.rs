//! `workflows/lead-followup.toml`: leads arriving by a signed webhook (`aios hook add` +
//! `aios serve`), enriched from a loopback lookup API, the drafted reply sent through
//! aiosmtpd once approved, the CRM note POSTed to a loopback CRM, and after the 3-day
//! `wait` (AIOS_NOW advanced, `aios tick`) a follow-up only to the lead who did not
//! answer; facts, outcomes and notes remembered; and the same offline.

use serde_json::json;

use super::{approve_all, approve_all_at, outcomes, unfolded, with_smtp};
use crate::serve::{post, printed_secret, sign, start, stop};
use crate::support::http::{Response, Server};
use crate::support::smtp::{Opts, SmtpServer};
use crate::support::{Test, step, wait_until};

const WF: &str = "lead-followup.toml";
const DAY3: &str = "2026-11-24T09:31:00Z";

#[test]
fn a_form_lead_is_enriched_answered_noted_and_followed_up_only_when_silent() {
    let t = Test::new();
    let smtp = SmtpServer::start(&t.join("smtp"), Opts::default());
    let t = with_smtp(&smtp, WF);
    let lookup = Server::start();
    lookup.respond(
        "/enrich",
        Response::json(
            200,
            json!({"company": "Acme Corp", "role": "CTO", "size": "50"}),
        ),
    );
    let crm = Server::start();
    crm.respond("/notes", Response::json(201, json!({"id": "note-1"})));
    // What the founder does once: point the workflow at the lookup and the CRM.
    let text = t
        .read(WF)
        .replace(
            "[inputs.enrich_url]\ntype = \"string\"\ndefault = \"\"",
            &format!(
                "[inputs.enrich_url]\ntype = \"string\"\ndefault = \"{}\"",
                lookup.url("/enrich")
            ),
        )
        .replace(
            "[inputs.crm_url]\ntype = \"string\"\ndefault = \"\"",
            &format!(
                "[inputs.crm_url]\ntype = \"string\"\ndefault = \"{}\"",
                crm.url("")
            ),
        );
    t.put(WF, &text);
    t.aios(&["check", WF]).success();
    let secret = printed_secret(&t.aios(&["hook", "add", "leads", WF]).success().stdout);
    let (bg, port) = start(&t, &[]);

    for (n, body) in [
        (
            1,
            json!({"name": "Ada", "email": "ada@acme.test", "message": "Do you offer annual plans?"}),
        ),
        (
            2,
            json!({"name": "Bob", "email": "bob@acme.test", "company": "Acme"}),
        ),
    ] {
        let body = body.to_string();
        let r = post(
            port,
            "/hooks/leads",
            &[("X-Aios-Signature", &sign(&secret, body.as_bytes()))],
            body.as_bytes(),
        );
        assert_eq!(r.status, 202, "{}", r.body);
        wait_until("the reply is proposed", || {
            t.inbox()
                .iter()
                .any(|i| i["run_id"] == n && i["step_id"] == "reply")
        });
    }
    stop(bg).success();
    assert_eq!(approve_all(&t, 1), vec!["reply"]);
    assert_eq!(approve_all(&t, 2), vec!["reply"]);
    assert_eq!(
        lookup.requests_to("/enrich")[0].query.as_deref(),
        Some("email=ada%40acme.test")
    );

    let sent: Vec<String> = smtp
        .messages()
        .iter()
        .map(|m| unfolded(&m.text()))
        .collect();
    assert_eq!(sent.len(), 2);
    assert!(
        sent[0].contains("\r\nTo: Ada <ada@acme.test>\r\n"),
        "{}",
        sent[0]
    );
    assert!(
        sent[0].contains("\r\nSubject: Re: your message about Acme Corp\r\n"),
        "{}",
        sent[0]
    );
    assert!(
        sent[0].contains("> Do you offer annual plans?"),
        "{}",
        sent[0]
    );
    let notes = crm.requests_to("/notes");
    assert_eq!(notes.len(), 2);
    assert_eq!(notes[0].json()["contact"], "ada@acme.test");
    assert_eq!(notes[0].json()["company"], "Acme Corp");
    let status = t
        .aios(&["fact", "get", "lead:ada@acme.test", "status", "--json"])
        .success()
        .json();
    assert_eq!(status["value"], "contacted");

    // Bob answered; Ada did not.
    t.aios(&["fact", "set", "lead:bob@acme.test", "replied", "true"])
        .success();
    t.args(&["tick", "-q"])
        .env("AIOS_NOW", "2026-11-24T09:29:00Z")
        .run()
        .success();
    assert_eq!(smtp.messages().len(), 2, "not before 3 days");
    t.args(&["tick", "-q"])
        .env("AIOS_NOW", DAY3)
        .run()
        .success();
    assert_eq!(approve_all_at(&t, 1, DAY3), vec!["follow_up"]);
    assert!(approve_all_at(&t, 2, DAY3).is_empty());
    for run in [1, 2] {
        assert_eq!(t.show(run)["status"], "succeeded", "{}", t.show(run));
    }
    assert_eq!(step(&t.show(2), "follow_up")["status"], "skipped");

    let sent = smtp.messages();
    assert_eq!(sent.len(), 3);
    let follow = unfolded(&sent[2].text());
    let first_id = step(&t.show(1), "reply")["output"]["message_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        follow.contains("\r\nSubject: Re: your message about Acme Corp\r\n"),
        "{follow}"
    );
    assert!(
        follow.contains(&format!("\r\nIn-Reply-To: {first_id}\r\n")),
        "{follow}"
    );

    assert_eq!(outcomes(&t, 1)["followed_up"], true);
    assert_eq!(outcomes(&t, 2)["replied"], true);
    let ada = t
        .aios(&["fact", "get", "lead:ada@acme.test", "status", "--json"])
        .success()
        .json();
    assert_eq!(ada["value"], "followed_up");
    let found = t
        .aios(&["memory", "search", "Acme lead", "--kind", "note", "--json"])
        .success()
        .stdout;
    assert!(
        found.contains("no answer in 3 days, followed up"),
        "{found}"
    );
    assert!(found.contains("they answered within 3 days"), "{found}");
}

#[test]
fn a_lead_offline_gets_a_drafted_reply_and_a_follow_up_in_the_outbox() {
    let t = Test::new().copy("workflows/lead-followup.toml", WF);
    t.aios(&[
        "run",
        WF,
        "-q",
        "--input",
        "name=Ada",
        "--input",
        "email=ada@acme.test",
    ])
    .success();
    assert_eq!(approve_all(&t, 1), vec!["reply_outbox"]);
    let reply = t.read("leads/outbox/ada@acme.test-reply.txt");
    assert!(
        reply.starts_with("To: Ada <ada@acme.test>\nSubject: Re: your message about acme.test\n"),
        "{reply}"
    );
    assert!(
        t.read("leads/log.md")
            .contains("Ada <ada@acme.test> of acme.test")
    );
    t.args(&["tick", "-q"])
        .env("AIOS_NOW", DAY3)
        .run()
        .success();
    assert_eq!(approve_all_at(&t, 1, DAY3), vec!["follow_up_outbox"]);
    assert_eq!(t.show(1)["status"], "succeeded");
    assert!(
        t.read("leads/outbox/ada@acme.test-follow-up.txt")
            .contains("back to the top of your inbox")
    );
}
