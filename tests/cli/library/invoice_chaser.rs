//! `workflows/invoice-chaser.toml`: an overdue invoice read from a loopback billing API,
//! reminders with an escalating tone sent through aiosmtpd on day 0 and day 3 (the
//! `wait` steps continued by `aios tick` with AIOS_NOW advanced), CRM notes POSTed to a
//! loopback CRM, the chase stopping once billing says paid, the facts and outcomes
//! remembered, and `aios undo` removing the CRM notes; and the same chase offline.

use serde_json::json;

use super::{approve_all, approve_all_at, outcomes, unfolded, with_smtp};
use crate::support::http::{Response, Server};
use crate::support::smtp::{Opts, SmtpServer};
use crate::support::{Test, step};

const WF: &str = "invoice-chaser.toml";

/// The `accounting` persona the workflow runs as, as tight as its tests allow: the
/// loopback billing API and CRM, the local log and outbox, mail from the SMTP
/// account's sender to the customer's domain; and the header's autonomy rule.
pub const ACCOUNTING: &str = r#"
[personas.accounting]
http_hosts = ["127.0.0.1"]
http_methods = ["GET", "POST", "DELETE"]
file_roots = ["invoices"]
email_from = ["ada@example.com"]
email_to_domains = ["acme.test"]

[[autonomy]]
name = "reminders"
workflow = "invoice-chaser"
step = "remind_*"
persona = "accounting"
after = 3
mode = "notify"
quiet = "4h"
max_recipients = 1
"#;
/// The library workflow with its `persona = "accounting"` line uncommented, as its
/// header tells a user to do once the persona is configured.
fn as_accounting(t: Test) -> Test {
    let text = t.read(WF);
    let line = "# persona = \"accounting\"";
    assert!(
        text.contains(line),
        "the workflow ships the persona line commented"
    );
    let text = text.replacen(line, "persona = \"accounting\"", 1);
    t.write(WF, &text)
}

const DAY3: &str = "2026-11-24T09:31:00Z";
const DAY7: &str = "2026-11-28T09:32:00Z";

fn invoice(status: &str) -> Response {
    Response::json(
        200,
        json!({"id": "INV-7", "customer": "Acme", "email": "ap@acme.test", "amount": 1200,
               "currency": "EUR", "due_date": "2026-11-01", "status": status}),
    )
}

fn tick(t: &Test, now: &str) {
    t.args(&["tick", "-q"]).env("AIOS_NOW", now).run().success();
}

#[test]
fn invoice_chaser_escalates_until_billing_says_paid_then_undoes_its_crm_notes() {
    let t = Test::new();
    let smtp = SmtpServer::start(&t.join("smtp"), Opts::default());
    let t = as_accounting(with_smtp(&smtp, WF))
        .write("config.toml", &format!("{}{ACCOUNTING}", smtp.config(None)));
    t.aios(&["check", WF]).success();
    let billing = Server::start();
    billing.script("/invoices/INV-7", vec![invoice("open"), invoice("open")]);
    billing.respond("/invoices/INV-7", invoice("paid"));
    let crm = Server::start();
    crm.script(
        "/notes",
        vec![
            Response::json(201, json!({"id": "n1"})),
            Response::json(201, json!({"id": "n2"})),
        ],
    );
    crm.respond("/notes/n1", Response::json(200, json!({"deleted": true})));
    crm.respond("/notes/n2", Response::json(200, json!({"deleted": true})));

    t.aios(&[
        "run",
        WF,
        "-q",
        "--input",
        "invoice_id=INV-7",
        "--input",
        &format!("billing_url={}", billing.url("")),
        "--input",
        &format!("crm_url={}", crm.url("")),
    ])
    .success();
    // Day 0: the friendly reminder is the one thing asked; then the run waits.
    assert_eq!(approve_all(&t, 1), vec!["remind_1"]);
    assert_eq!(t.show(1)["status"], "waiting");
    tick(&t, "2026-11-24T09:29:00Z"); // before the end of the wait: nothing
    assert_eq!(billing.count("/invoices/INV-7"), 1);

    // Day 3: still open, so the firmer one.
    tick(&t, DAY3);
    assert_eq!(approve_all_at(&t, 1, DAY3), vec!["remind_2"]);
    assert_eq!(t.show(1)["status"], "waiting");

    tick(&t, "2026-11-28T09:30:00Z"); // 4 days after day 3's approval, less a minute
    assert_eq!(billing.count("/invoices/INV-7"), 2);

    // Day 7: billing says paid: no final notice.
    tick(&t, DAY7);
    let show = t.show(1);
    assert_eq!(show["status"], "succeeded", "{show}");
    for s in ["remind_3", "crm_3", "log_3"] {
        assert_eq!(step(&show, s)["status"], "skipped", "{s}");
    }
    assert_eq!(billing.count("/invoices/INV-7"), 3);

    let sent = smtp.messages();
    assert_eq!(sent.len(), 2);
    let first = unfolded(&sent[0].text());
    let second = unfolded(&sent[1].text());
    assert!(first.contains("\r\nTo: ap@acme.test\r\n"), "{first}");
    assert!(
        first.contains("\r\nSubject: Friendly reminder: invoice INV-7 (1200 EUR)\r\n"),
        "{first}"
    );
    assert!(first.contains("https://example.com/pay/INV-7"), "{first}");
    assert!(
        second.contains("\r\nSubject: Second reminder: invoice INV-7 is overdue\r\n"),
        "{second}"
    );
    assert!(second.contains("still unpaid"), "{second}");
    assert!(second.contains("\r\nX-Aios-Invoice: INV-7\r\n"));

    let notes = crm.requests_to("/notes");
    assert_eq!(notes.len(), 2);
    assert_eq!(notes[0].method, "POST");
    assert_eq!(notes[0].json()["subject"], "invoice:INV-7");
    assert_eq!(
        notes[1].json()["text"],
        "Reminder 2 (firm) sent to ap@acme.test for 1200 EUR"
    );
    assert!(!t.join("invoices").exists(), "no local log with a CRM");

    let fact = t
        .aios(&["fact", "get", "invoice:INV-7", "reminders", "--json"])
        .success()
        .json();
    assert_eq!(fact["value"], 2);
    let o = outcomes(&t, 1);
    assert_eq!(o["paid"], true);
    assert_eq!(o["reminders"], 2);
    let found = t
        .aios(&["memory", "search", "INV-7 Acme", "--json"])
        .success()
        .stdout;
    assert!(found.contains("paid after 2 reminder(s)"), "{found}");

    // Undo: the CRM notes can be removed (latest first); emails cannot be unsent.
    let plan = t.aios(&["undo", "1", "--plan"]).success().stdout;
    assert!(
        plan.contains("remind_1 (email): cannot be undone"),
        "{plan}"
    );
    t.aios(&["undo", "1", "-q"]).success();
    assert_eq!(approve_all(&t, 2), vec!["undo_crm_2", "undo_crm_1"]);
    assert_eq!(crm.requests_to("/notes/n2")[0].method, "DELETE");
    assert_eq!(crm.requests_to("/notes/n1")[0].method, "DELETE");
    assert_eq!(smtp.messages().len(), 2);
}

#[test]
fn invoice_chaser_offline_writes_three_reminders_to_the_outbox_and_stops_when_marked_paid() {
    let t = as_accounting(Test::new().copy("workflows/invoice-chaser.toml", WF))
        .write("config.toml", ACCOUNTING);
    let chase = |id: &str| {
        t.aios(&[
            "run",
            WF,
            "-q",
            "--input",
            &format!("invoice_id={id}"),
            "--input",
            "email=ap@acme.test",
            "--input",
            "customer=Acme",
            "--input",
            "amount=1200",
            "--input",
            "due_date=2026-11-01",
        ])
        .success();
    };
    // INV-7 is never paid: friendly, firm, final.
    chase("INV-7");
    assert_eq!(approve_all(&t, 1), vec!["outbox_1"]);
    tick(&t, DAY3);
    assert_eq!(approve_all_at(&t, 1, DAY3), vec!["outbox_2"]);
    tick(&t, DAY7);
    assert_eq!(approve_all_at(&t, 1, DAY7), vec!["outbox_3"]);
    assert_eq!(t.show(1)["status"], "succeeded");
    let final_notice = t.read("invoices/outbox/INV-7-3-final.txt");
    assert!(
        final_notice.starts_with(
            "To: ap@acme.test\nSubject: Final notice: invoice INV-7 is still unpaid\n"
        ),
        "{final_notice}"
    );
    assert!(final_notice.contains("pause your account"));
    assert_eq!(
        t.read("invoices/INV-7.md"),
        "- run 1: reminder 1 (friendly) written to the outbox\n\
         - run 1: reminder 2 (firm) written to the outbox\n\
         - run 1: reminder 3 (final) written to the outbox\n"
    );
    let o = outcomes(&t, 1);
    assert_eq!(
        (o["paid"].clone(), o["reminders"].clone()),
        (json!(false), json!(3))
    );

    // INV-8 is marked paid by hand after the first reminder: nothing more happens.
    chase("INV-8");
    assert_eq!(approve_all(&t, 2), vec!["outbox_1"]);
    t.aios(&["fact", "set", "invoice:INV-8", "paid", "true"])
        .success();
    tick(&t, DAY3);
    assert_eq!(t.show(2)["status"], "succeeded");
    assert!(!t.join("invoices/outbox/INV-8-2-firm.txt").exists());
    assert_eq!(outcomes(&t, 2)["reminders"], 1);
}

#[test]
fn invoice_chaser_runs_only_as_a_configured_accounting_persona_and_within_it() {
    let t = as_accounting(Test::new().copy("workflows/invoice-chaser.toml", WF));
    t.aios(&["check", WF])
        .code(2)
        .stderr_contains("error: persona `accounting` is not configured")
        .stderr_contains("hint: add [personas.accounting] to config.toml");
    // A persona that may not write where the outbox goes: the reminder is never
    // proposed, and the step says which rule stopped it.
    let t = t.write(
        "config.toml",
        &ACCOUNTING.replace(
            "file_roots = [\"invoices\"]",
            "file_roots = [\"elsewhere\"]",
        ),
    );
    let out = t
        .aios(&["run", WF, "--json", "-q", "--input", "invoice_id=INV-9"])
        .code(1)
        .json();
    let error = step(&out, "outbox_1")["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.contains("persona `accounting` does not allow"),
        "{error}"
    );
    assert!(t.inbox().iter().all(|i| i["kind"] != "action"));
    assert!(!t.join("invoices").exists());
}
