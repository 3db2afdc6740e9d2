//! `workflows/newsletter.toml`: notes tagged `idea` (seeded with `aios memory add`)
//! drafted into an issue offline, approved at the gate, sent on its date through
//! aiosmtpd after `aios tick`, or written to the outbox; outcomes and the note after.

use super::{approve_all, outcomes, unfolded, with_smtp};
use crate::support::smtp::{Opts, SmtpServer};
use crate::support::{Test, step};

const WF: &str = "newsletter.toml";
const IDEAS: [&str; 3] = [
    "Why we raised prices",
    "Pricing page teardown",
    "Interview: how Acme onboards",
];

fn seed(t: &Test) {
    for idea in IDEAS {
        t.aios(&["memory", "add", idea, "--tag", "idea"]).success();
    }
    t.aios(&["memory", "add", "Renew the domain", "--tag", "todo"])
        .success();
}

fn tick(t: &Test, now: &str) {
    t.args(&["tick", "-q"]).env("AIOS_NOW", now).run().success();
}

#[test]
fn newsletter_drafts_the_ideas_and_sends_the_issue_on_its_date() {
    let t = Test::new();
    let smtp = SmtpServer::start(&t.join("smtp"), Opts::default());
    let t = with_smtp(&smtp, WF);
    t.aios(&["check", WF]).success();
    seed(&t);
    let run = t
        .aios(&[
            "run",
            WF,
            "--json",
            "-q",
            "--input",
            "title=December notes",
            "--input",
            "send_to=list@lists.example.com",
            "--input",
            "send_at=2026-11-22T08:00:00Z",
        ])
        .success()
        .json();
    let id = run["id"].as_i64().unwrap();
    // The issue is drafted offline from the ideas, oldest first, and only from them.
    let draft = &step(&run, "draft")["output"];
    assert_eq!(draft["heuristic"], true);
    let body = draft["json"]["body"].as_str().unwrap();
    assert!(
        body.contains(
            "1. Why we raised prices\n2. Pricing page teardown\n3. Interview: how Acme onboards\n"
        ),
        "{body}"
    );
    assert!(!body.contains("Renew the domain"), "{body}");
    assert_eq!(
        draft["json"]["subject"],
        "December notes: Interview: how Acme onboards"
    );
    let inbox = t.inbox();
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0]["step_id"], "review");
    t.aios(&["inbox", "show", &inbox[0]["id"].to_string()])
        .success()
        .stdout_contains(
            "Send \"December notes: Interview: how Acme onboards\" to list@lists.example.com at 2026-11-22T08:00:00Z?",
        )
        .stdout_contains("1. Why we raised prices\n2. Pricing page teardown\n");

    // Approved: it waits for its date, then goes without asking again.
    assert_eq!(approve_all(&t, id), vec!["review"]);
    assert_eq!(t.show(id)["status"], "waiting");
    tick(&t, "2026-11-22T07:59:00Z");
    assert!(smtp.messages().is_empty());
    tick(&t, "2026-11-22T08:00:30Z");
    let show = t.show(id);
    assert_eq!(show["status"], "succeeded", "{show}");
    assert_eq!(step(&show, "outbox")["status"], "skipped");
    let sent = smtp.messages();
    assert_eq!(sent.len(), 1);
    let text = unfolded(&sent[0].text());
    assert!(
        text.contains("\r\nTo: list@lists.example.com\r\n"),
        "{text}"
    );
    assert!(
        text.contains("\r\nX-Aios-Newsletter: december-notes\r\n"),
        "{text}"
    );
    for idea in IDEAS {
        assert!(text.contains(idea), "{idea} not in {text}");
    }
    assert!(t.inbox().is_empty());

    // Recorded and remembered, with the ideas' memory ids.
    let o = outcomes(&t, id);
    assert_eq!((&o["ideas"], &o["emailed"]), (&3.into(), &true.into()));
    let note = &step(&show, "remember")["output"];
    assert_eq!(
        note["text"],
        "Newsletter \"December notes: Interview: how Acme onboards\" sent to list@lists.example.com, from ideas 3, 2, 1: Interview: how Acme onboards; Pricing page teardown; Why we raised prices."
    );

    // The next issue reads how this one did.
    t.aios(&["outcome", &id.to_string(), "open_rate=0.52"])
        .success();
    let next = t
        .args(&["run", WF, "--json", "-q"])
        .env("AIOS_NOW", "2026-12-20T09:00:00Z")
        .run()
        .success()
        .json();
    let past = step(&next, "past")["output"]["text"].as_str().unwrap();
    assert!(past.contains("open_rate=0.52"), "{past}");
    assert!(past.contains(&format!("newsletter run {id} (")), "{past}");
}

#[test]
fn newsletter_offline_writes_the_issue_to_the_outbox() {
    let t = Test::new().copy(&format!("workflows/{WF}"), WF);
    // No idea yet: nothing to draft, nothing asked.
    let out = t.aios(&["run", WF, "--json", "-q"]).success().json();
    assert_eq!(out["status"], "succeeded");
    assert_eq!(step(&out, "draft")["status"], "skipped");
    assert!(t.inbox().is_empty());

    seed(&t);
    let dry = t.aios(&["run", "--dry-run", WF]).success();
    assert!(dry.stdout.contains("rehearsed:"), "{}", dry.stdout);
    let out = t.aios(&["run", WF, "--json", "-q"]).success().json();
    let id = out["id"].as_i64().unwrap();
    assert_eq!(approve_all(&t, id), vec!["review"]);
    assert_eq!(t.show(id)["status"], "succeeded");
    let issue = t.read("newsletter/outbox/notes-from-the-month.md");
    assert!(
        issue.starts_with("Subject: Notes from the month: Interview: how Acme onboards\n\nHi,\n"),
        "{issue}"
    );
    for idea in IDEAS {
        assert!(issue.contains(idea), "{idea} not in {issue}");
    }
    assert_eq!(outcomes(&t, id)["emailed"], false);
    let notes = t
        .aios(&["memory", "search", "newsletter outbox", "--json"])
        .success()
        .json();
    assert!(
        notes.as_array().unwrap().iter().any(|n| n["kind"] == "note"
            && n["text"]
                .as_str()
                .unwrap()
                .contains("written to the outbox, from ideas")),
        "{notes}"
    );
}
