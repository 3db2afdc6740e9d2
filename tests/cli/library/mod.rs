//! The workflow library (`workflows/`), each workflow run end to end as a founder runs
//! it: loopback HTTP servers standing in for billing, analytics and CRM APIs, the real
//! SMTP server (aiosmtpd) receiving what is sent, proposals approved along the way, and
//! assertions on what was sent, written and remembered.

mod invoice_chaser;
mod lead_followup;
mod newsletter;
mod onboarding;
mod outcome_review;
mod weekly_report;

use serde_json::Value as Json;

use crate::support::Test;
use crate::support::smtp::{PASSWORD, SmtpServer};

/// A workspace with `server` as the default SMTP account and `workflow` copied in.
pub fn with_smtp(server: &SmtpServer, workflow: &str) -> Test {
    let t = Test::new()
        .write("config.toml", &server.config(None))
        .copy(&format!("workflows/{workflow}"), workflow);
    t.args(&["secret", "set", "SMTP_PASSWORD"])
        .stdin(PASSWORD)
        .run()
        .success();
    t
}

/// Approve every pending item of `run`, one at a time, until none is left; the ids
/// of the steps approved, in order.
pub fn approve_all(t: &Test, run: i64) -> Vec<String> {
    approve_all_at(t, run, crate::support::NOW)
}

/// [`approve_all`] with the clock at `now`.
pub fn approve_all_at(t: &Test, run: i64, now: &str) -> Vec<String> {
    let mut approved = Vec::new();
    for _ in 0..20 {
        let pending: Vec<Json> = t
            .inbox()
            .into_iter()
            .filter(|i| i["run_id"] == run)
            .collect();
        let Some(item) = pending.first() else {
            return approved;
        };
        approved.push(item["step_id"].as_str().unwrap().to_string());
        t.args(&["approve", &item["id"].to_string(), "-q"])
            .env("AIOS_NOW", now)
            .run()
            .success();
    }
    panic!("run {run} kept asking: {approved:?}");
}

/// A run's outcomes as a map of name to value.
pub fn outcomes(t: &Test, run: i64) -> serde_json::Map<String, Json> {
    let out = t
        .aios(&["outcome", &run.to_string(), "--json"])
        .success()
        .json();
    let mut map = serde_json::Map::new();
    for o in out.as_array().unwrap_or_else(|| panic!("outcomes: {out}")) {
        map.insert(o["key"].as_str().unwrap().to_string(), o["value"].clone());
    }
    map
}

/// A received message with quoted-printable soft line breaks joined, so a body's
/// sentences can be searched whole.
pub fn unfolded(text: &str) -> String {
    text.replace("=\r\n", "")
}

#[test]
fn every_library_workflow_checks_and_rehearses_offline() {
    for (file, inputs) in [
        ("weekly-report.toml", &[][..]),
        ("invoice-chaser.toml", &["invoice_id=INV-1"][..]),
        (
            "onboarding.toml",
            &["customer=acme", "email=ada@acme.test"][..],
        ),
        (
            "lead-followup.toml",
            &["name=Ada", "email=ada@acme.test"][..],
        ),
    ] {
        // No config.toml: every library workflow runs offline on a fresh machine.
        let t = Test::new().copy(&format!("workflows/{file}"), file);
        t.aios(&["check", file]).success();
        let mut args = vec!["run", "--dry-run", file];
        for i in inputs {
            args.extend(["--input", i]);
        }
        let out = t.aios(&args).success();
        assert!(out.stdout.contains("rehearsed:"), "{file}: {}", out.stdout);
        assert!(
            t.inbox().is_empty(),
            "{file}: a dry run leaves nothing to decide"
        );
    }
}
