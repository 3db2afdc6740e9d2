//! Dead letters: a run that fails leaves one `failure` inbox item (the failed step,
//! its error, its attempts, and what the operator may do about it), created in the
//! transaction that records the failure. The item is the run's way on: approving it
//! retries the step, `--skip` skips it (when its `on_reject = "skip"` says the run
//! may go on without it), `--compensate` proposes the undo of what the run did, and
//! a rejection abandons the run. A run resumed by hand (`aios resume`) or cancelled
//! withdraws its pending failure item.

use rusqlite::params;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::item::{each, lenient};
use super::{SqliteJournal, append, notices, project};
use crate::error::Result;
use crate::journal::{Event, ProposalKind, RunStatus};

/// A failure item's action, read for people and for the choices it offers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The step the item is about (the first failed one).
    #[serde(default, deserialize_with = "lenient")]
    pub step: String,
    /// Its kind (`http`, `shell`, …).
    #[serde(default, deserialize_with = "lenient")]
    pub kind: String,
    /// Its last error.
    #[serde(default, deserialize_with = "lenient")]
    pub error: String,
    /// How many attempts it had.
    #[serde(default, deserialize_with = "lenient")]
    pub attempts: u32,
    /// Every failed step of the run (several when parallel steps failed).
    #[serde(default, deserialize_with = "each")]
    pub failed: Vec<FailedStep>,
    /// The step may be skipped (its `on_reject = "skip"`).
    #[serde(default, deserialize_with = "lenient")]
    pub skippable: bool,
    /// Some step the run committed declares an `undo`.
    #[serde(default, deserialize_with = "lenient")]
    pub compensable: bool,
}

/// One failed step of a failed run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FailedStep {
    #[serde(default, deserialize_with = "lenient")]
    pub step: String,
    #[serde(default, deserialize_with = "lenient")]
    pub error: String,
}

/// The choice recorded in a failure item's decision fields (`fields.failure`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureChoice {
    /// Run the failed steps again and continue (a plain approval).
    Retry,
    /// Skip the failed step and continue.
    Skip,
    /// Leave the run failed and propose the undo of its committed steps.
    Compensate,
}

impl FailureChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureChoice::Retry => "retry",
            FailureChoice::Skip => "skip",
            FailureChoice::Compensate => "compensate",
        }
    }

    /// The choice an approved failure item's fields record.
    pub fn of(fields: Option<&Json>) -> FailureChoice {
        match fields.and_then(|f| f["failure"].as_str()) {
            Some("skip") => FailureChoice::Skip,
            Some("compensate") => FailureChoice::Compensate,
            _ => FailureChoice::Retry,
        }
    }
}

impl Failure {
    /// What a failure item is, in one sentence.
    pub const HEADLINE: &'static str =
        "This run failed; it waits here for your choice: retry, skip, compensate or abandon.";

    /// The failure stored with a failure item.
    pub fn of(stored: &Json) -> Failure {
        serde_json::from_value(stored.clone()).unwrap_or_default()
    }

    /// `step `x` (http) failed after 3 attempts: ERROR`.
    pub fn summary(&self) -> String {
        format!(
            "step `{}` failed after {}: {}",
            self.step,
            crate::text::count(self.attempts, "attempt"),
            self.error
        )
    }
}

impl Failure {
    /// Its details as (label, value) lines, for `aios inbox show` and the TUI.
    pub fn lines(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            ("step", format!("{} ({})", self.step, self.kind)),
            ("error", self.error.clone()),
            ("attempts", self.attempts.to_string()),
        ];
        let others: Vec<String> = self
            .failed
            .iter()
            .filter(|f| f.step != self.step)
            .map(|f| format!("{}: {}", f.step, f.error))
            .collect();
        if !others.is_empty() {
            out.push(("also", others.join("; ")));
        }
        out.push((
            "skip",
            if self.skippable {
                "allowed (the step says on_reject = \"skip\")".into()
            } else {
                "not allowed (the step does not say on_reject = \"skip\")".into()
            },
        ));
        out.push((
            "undo",
            if self.compensable {
                "the run's committed steps can be undone (--compensate)".into()
            } else {
                "no committed step of the run declares an undo".into()
            },
        ));
        out
    }
}

impl SqliteJournal {
    /// Record a run's failure (`events`, ending with its `failed` status) and its
    /// failure item, in one transaction: the run's pending items are withdrawn, then
    /// the item is created (once per step and attempt). Returns the events journaled
    /// after `events` (the item's creation), for observers.
    pub fn commit_failure(
        &mut self,
        run_id: i64,
        events: &[Event],
        failure: &Failure,
        attempt: u32,
    ) -> Result<Vec<Event>> {
        let at = self.now();
        let tx = self.write_tx()?;
        let status: Option<String> = tx
            .query_row(
                "SELECT status FROM runs WHERE id = ?1",
                params![run_id],
                |r| r.get(0),
            )
            .ok();
        if status.as_deref() == Some("cancelled") {
            return Ok(Vec::new());
        }
        let existing: Option<i64> = tx
            .query_row(
                "SELECT id FROM proposals WHERE run_id = ?1 AND step_id = ?2 AND attempt = ?3 AND kind = 'failure'",
                params![run_id, failure.step, attempt],
                |r| r.get(0),
            )
            .ok();
        for ev in events {
            if let Some(reason) = super::inbox::ending(run_id, ev) {
                super::inbox::withdraw_pending_but(&tx, run_id, &reason, at, existing)?;
            }
            append(&tx, run_id, ev, at)?;
            project::apply(&tx, run_id, ev, at)?;
        }
        let mut out = Vec::new();
        if existing.is_none() {
            let id: i64 = tx.query_row(notices::NEXT_INBOX_ID, [], |r| r.get(0))?;
            let ev = Event::ProposalCreated {
                proposal: id,
                step: failure.step.clone(),
                attempt,
                kind: ProposalKind::Failure,
                summary: failure.summary(),
                action: serde_json::to_value(failure)?,
                evidence: Json::Object(Default::default()),
            };
            append(&tx, run_id, &ev, at)?;
            project::apply(&tx, run_id, &ev, at)?;
            out.push(ev);
        }
        tx.commit()?;
        Ok(out)
    }

    /// The runs of the workflow named `name` (id and status), oldest first.
    pub fn runs_of_workflow(&self, name: &str) -> Result<Vec<(i64, RunStatus)>> {
        let rows: Vec<(i64, String)> = self
            .conn
            .prepare_cached("SELECT id, status FROM runs WHERE workflow = ?1 ORDER BY id")?
            .query_map(params![name], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, s)| Some((id, RunStatus::parse(&s)?)))
            .collect())
    }

    /// Withdraw the pending failure item of a failed run that goes on otherwise
    /// (resumed by hand): `why` says so. Returns the events journaled.
    pub fn withdraw_failure(&mut self, run: i64, why: &str) -> Result<Vec<Event>> {
        let at = self.now();
        let tx = self.write_tx()?;
        let status: String =
            tx.query_row("SELECT status FROM runs WHERE id = ?1", params![run], |r| {
                r.get(0)
            })?;
        let mut out = Vec::new();
        if status == RunStatus::Failed.as_str() {
            let items: Vec<(i64, String)> = tx
                .prepare_cached(
                    "SELECT id, step_id FROM proposals WHERE run_id = ?1 AND kind = 'failure' AND status = 'pending' ORDER BY id",
                )?
                .query_map(params![run], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            for (proposal, step) in items {
                let ev = Event::ProposalWithdrawn {
                    proposal,
                    step,
                    reason: why.to_string(),
                };
                append(&tx, run, &ev, at)?;
                project::apply(&tx, run, &ev, at)?;
                out.push(ev);
            }
        }
        tx.commit()?;
        Ok(out)
    }
}
