//! `workflows/weekly-report.toml`: billing and analytics numbers from loopback APIs,
//! the report file with week-over-week changes, chart data, the email through aiosmtpd,
//! the baseline fact and the outcomes; and the same run offline.

use serde_json::json;

use super::{approve_all, outcomes, unfolded, with_smtp};
use crate::support::http::{Response, Server};
use crate::support::smtp::{Opts, SmtpServer};
use crate::support::{Test, step};

const WF: &str = "weekly-report.toml";

fn run_week(t: &Test, api: &Server, now: &str) -> i64 {
    let out = t
        .args(&[
            "run",
            WF,
            "--json",
            "-q",
            "--input",
            &format!("billing_url={}", api.url("/billing/week")),
            "--input",
            &format!("analytics_url={}", api.url("/analytics/week")),
            "--input",
            "report_to=founder@example.com",
        ])
        .env("AIOS_NOW", now)
        .run()
        .success()
        .json();
    out["id"].as_i64().unwrap_or_else(|| panic!("run: {out}"))
}

#[test]
fn weekly_report_reads_the_apis_writes_the_report_emails_it_and_remembers_the_week() {
    let t = Test::new();
    let smtp = SmtpServer::start(&t.join("smtp"), Opts::default());
    let t = with_smtp(&smtp, WF);
    t.aios(&["check", WF]).success();
    let api = Server::start();
    api.respond(
        "/billing/week",
        Response::json(
            200,
            json!({"mrr": 4200, "revenue": 1310.5, "new_customers": 3, "churned": 1}),
        ),
    );
    api.respond(
        "/analytics/week",
        Response::json(200, json!({"visitors": 1600, "signups": 40})),
    );

    // Week 1: no baseline yet. Only the email asks.
    let run = run_week(&t, &api, "2026-11-23T08:00:00Z");
    assert_eq!(approve_all(&t, run), vec!["send_email"]);
    let show = t.show(run);
    assert_eq!(show["status"], "succeeded", "{show}");
    assert_eq!(step(&show, "send_outbox")["status"], "skipped");
    let report = t.read("reports/week-2026-11-23.md");
    assert!(report.contains("| MRR (USD) | 4200 | n/a |"), "{report}");
    assert!(
        report.contains("Signup rate: 2.5% of visitors."),
        "{report}"
    );
    assert!(report.contains("First report"), "{report}");

    // Week 2: the numbers moved; the report says by how much.
    api.respond(
        "/billing/week",
        Response::json(
            200,
            json!({"mrr": 4400, "revenue": 1200, "new_customers": 5, "churned": 0}),
        ),
    );
    let run2 = run_week(&t, &api, "2026-11-30T08:00:00Z");
    assert_eq!(approve_all(&t, run2), vec!["send_email"]);
    assert_eq!(t.show(run2)["status"], "succeeded");
    let report = t.read("reports/week-2026-11-30.md");
    for row in [
        "| MRR (USD) | 4400 | +200 (was 4200) |",
        "| Revenue (USD) | 1200 | -110.5 (was 1310.5) |",
        "| New customers | 5 | +2 (was 3) |",
        "| Churned | 0 | -1 (was 1) |",
        "| Signups | 40 | +0 (was 40) |",
        "Compared with the report of 2026-11-23.",
    ] {
        assert!(report.contains(row), "{row} not in {report}");
    }
    assert_eq!(api.count("/billing/week"), 2);
    assert_eq!(api.count("/analytics/week"), 2);

    // Sent: one message a week, to the founder, with the report as its body.
    let sent = smtp.messages();
    assert_eq!(sent.len(), 2);
    let text = unfolded(&sent[1].text());
    assert!(text.contains("\r\nTo: founder@example.com\r\n"), "{text}");
    assert!(
        text.contains("\r\nSubject: Week of 2026-11-30: MRR 4400, 40 signups\r\n"),
        "{text}"
    );
    assert!(
        text.contains("\r\nX-Aios-Report: weekly-2026-11-30\r\n"),
        "{text}"
    );
    assert!(text.contains("+200 (was 4200)"), "{text}");
    assert!(!t.join("reports/outbox").exists());

    // Chart-ready: one JSON line per week.
    let lines: Vec<serde_json::Value> = t
        .read("reports/metrics.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines,
        vec![
            json!({"date": "2026-11-23", "mrr": 4200, "revenue": 1310.5, "new_customers": 3, "churned": 1, "visitors": 1600, "signups": 40}),
            json!({"date": "2026-11-30", "mrr": 4400, "revenue": 1200, "new_customers": 5, "churned": 0, "visitors": 1600, "signups": 40}),
        ]
    );

    // Remembered: the baseline for next week and the run's outcomes.
    let fact = t
        .aios(&["fact", "get", "metrics", "weekly", "--json"])
        .success()
        .json();
    assert_eq!(fact["value"]["mrr"], 4400);
    assert_eq!(fact["run_id"], run2);
    let o = outcomes(&t, run2);
    assert_eq!(o["mrr"], 4400);
    assert_eq!(o["signups"], 40);
    assert_eq!(o["week"], "2026-11-30");
    assert_eq!(o["emailed"], true);
}

#[test]
fn weekly_report_offline_writes_the_report_and_the_outbox_without_asking() {
    let t = Test::new().copy("workflows/weekly-report.toml", WF);
    let out = t.aios(&["run", WF, "--json", "-q"]).success().json();
    assert_eq!(out["status"], "succeeded", "{out}");
    let report = t.read("reports/week-2026-11-21.md");
    assert!(report.contains("| MRR (USD) | n/a | n/a |"), "{report}");
    assert!(
        report.contains(
            "Not read this week: billing (no billing_url), analytics (no analytics_url)."
        ),
        "{report}"
    );
    let outbox = t.read("reports/outbox/week-2026-11-21.txt");
    assert!(
        outbox.starts_with("Subject: Week of 2026-11-21: MRR n/a, n/a signups\n"),
        "{outbox}"
    );
    assert!(t.inbox().is_empty());
    assert_eq!(outcomes(&t, 1)["emailed"], false);
}
