//! `workflows/onboarding.toml`: a new customer's day 0, 2 and 7 emails through aiosmtpd,
//! the `wait` steps continued by `aios tick` with AIOS_NOW advanced, the day-2 email
//! fitted to a loopback activation API's answer, the customer's facts, the outcomes and
//! the note; a customer who unsubscribes gets nothing more; and the same offline.

use serde_json::json;

use super::{approve_all, approve_all_at, outcomes, unfolded, with_smtp};
use crate::support::http::{Response, Server};
use crate::support::smtp::{Opts, SmtpServer};
use crate::support::{Test, step};

const WF: &str = "onboarding.toml";
const DAY2: &str = "2026-11-23T09:31:00Z";
const DAY7: &str = "2026-11-28T09:32:00Z";

fn tick(t: &Test, now: &str) {
    t.args(&["tick", "-q"]).env("AIOS_NOW", now).run().success();
}

fn start(t: &Test, customer: &str, email: &str, activation: &Server) {
    t.aios(&[
        "run",
        WF,
        "-q",
        "--input",
        &format!("customer={customer}"),
        "--input",
        &format!("email={email}"),
        "--input",
        "name=Ada",
        "--input",
        "product=Ledgerly",
        "--input",
        "plan=pro",
        "--input",
        &format!("activation_url={}", activation.url("/activation")),
    ])
    .success();
}

#[test]
fn onboarding_sends_day_0_2_and_7_emails_across_ticks_and_remembers_the_customer() {
    let t = Test::new();
    let smtp = SmtpServer::start(&t.join("smtp"), Opts::default());
    let t = with_smtp(&smtp, WF);
    t.aios(&["check", WF]).success();
    let activation = Server::start();
    activation.respond(
        "/activation",
        Response::json(200, json!({"activated": false})),
    );

    start(&t, "acme", "ada@acme.test", &activation);
    let facts = t
        .aios(&["fact", "get", "customer:acme", "--json"])
        .success()
        .stdout;
    assert!(
        facts.contains("ada@acme.test") && facts.contains("\"pro\""),
        "{facts}"
    );
    assert_eq!(approve_all(&t, 1), vec!["send_0"]);
    assert_eq!(smtp.messages().len(), 1);
    tick(&t, "2026-11-23T09:29:00Z"); // not yet two days
    assert_eq!(activation.count("/activation"), 0);

    tick(&t, DAY2);
    assert_eq!(approve_all_at(&t, 1, DAY2), vec!["send_2"]);
    let asked = activation.requests_to("/activation");
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].query.as_deref(), Some("customer=acme"));

    tick(&t, DAY7);
    assert_eq!(approve_all_at(&t, 1, DAY7), vec!["send_7"]);
    let show = t.show(1);
    assert_eq!(show["status"], "succeeded", "{show}");
    assert_eq!(
        step(&show, "welcome")["output"]["json"]["subject"],
        "Welcome to Ledgerly, Ada"
    );

    let sent: Vec<String> = smtp
        .messages()
        .iter()
        .map(|m| unfolded(&m.text()))
        .collect();
    assert_eq!(sent.len(), 3);
    for (m, (subject, day, says)) in sent.iter().zip([
        (
            "Welcome to Ledgerly, Ada",
            0,
            "Thank you for choosing Ledgerly (pro plan).",
        ),
        (
            "Getting started with Ledgerly",
            2,
            "I noticed you have not set up yet.",
        ),
        (
            "One week with Ledgerly: how is it going?",
            7,
            "What is the one thing",
        ),
    ]) {
        assert!(m.contains("\r\nTo: ada@acme.test\r\n"), "{m}");
        assert!(m.contains(&format!("\r\nSubject: {subject}\r\n")), "{m}");
        assert!(
            m.contains(&format!("\r\nX-Aios-Onboarding: acme/day-{day}\r\n")),
            "{m}"
        );
        assert!(m.contains(says), "{says} not in {m}");
    }
    assert!(!t.join("onboarding").exists());

    let o = outcomes(&t, 1);
    assert_eq!(o["emails"], 3);
    assert_eq!(o["activated_by_day_2"], false);
    let onboarded = t
        .aios(&["fact", "get", "customer:acme", "onboarded", "--json"])
        .success()
        .json();
    assert_eq!(onboarded["value"], true);
    let notes = t
        .aios(&[
            "memory",
            "search",
            "Onboarded acme",
            "--kind",
            "note",
            "--json",
        ])
        .success()
        .stdout;
    assert!(
        notes.contains("3 of 3 emails; not set up by day 2."),
        "{notes}"
    );
}

#[test]
fn onboarding_stops_when_the_customer_unsubscribes() {
    let t = Test::new();
    let smtp = SmtpServer::start(&t.join("smtp"), Opts::default());
    let t = with_smtp(&smtp, WF);
    let activation = Server::start();
    activation.respond(
        "/activation",
        Response::json(200, json!({"activated": true})),
    );
    start(&t, "globex", "hank@globex.test", &activation);
    assert_eq!(approve_all(&t, 1), vec!["send_0"]);
    t.aios(&["fact", "set", "customer:globex", "unsubscribed", "true"])
        .success();
    tick(&t, DAY2);
    tick(&t, DAY7);
    let show = t.show(1);
    assert_eq!(show["status"], "succeeded", "{show}");
    for s in ["send_2", "send_7"] {
        assert_eq!(step(&show, s)["status"], "skipped", "{s}");
    }
    assert_eq!(smtp.messages().len(), 1);
    let o = outcomes(&t, 1);
    assert_eq!(
        (o["emails"].clone(), o["stopped"].clone()),
        (json!(1), json!(true))
    );
}

#[test]
fn onboarding_offline_writes_the_three_emails_to_the_outbox() {
    let t = Test::new().copy("workflows/onboarding.toml", WF);
    t.aios(&[
        "run",
        WF,
        "-q",
        "--input",
        "customer=acme",
        "--input",
        "email=ada@acme.test",
    ])
    .success();
    assert_eq!(approve_all(&t, 1), vec!["outbox_0"]);
    tick(&t, DAY2);
    assert_eq!(approve_all_at(&t, 1, DAY2), vec!["outbox_2"]);
    tick(&t, DAY7);
    assert_eq!(approve_all_at(&t, 1, DAY7), vec!["outbox_7"]);
    assert_eq!(t.show(1)["status"], "succeeded");
    assert!(
        t.read("onboarding/outbox/acme-day-0.txt")
            .contains("Subject: Welcome to our product, there\n")
    );
    assert!(
        t.read("onboarding/outbox/acme-day-2.txt")
            .contains("Subject: Getting started with our product\n")
    );
    assert!(
        t.read("onboarding/outbox/acme-day-7.txt")
            .contains("I read every answer.")
    );
}
