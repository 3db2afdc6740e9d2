//! Failure items on PostgreSQL: `journal::failure` — a run's failure and its one
//! failure item recorded in one transaction (holding the run's row), and the item
//! withdrawn when the failed run goes on otherwise.

use serde_json::Value as Json;

use super::PgJournal;
use super::project::{append, apply};
use super::runs::withdraw_pending_but;
use crate::error::Result;
use crate::journal::store::{FailureStore, RunStore};
use crate::journal::types::*;
use crate::journal::{Failure, inbox};

impl FailureStore for PgJournal {
    fn commit_failure(
        &mut self,
        run_id: i64,
        events: &[Event],
        failure: &Failure,
        attempt: u32,
    ) -> Result<Vec<Event>> {
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        let status = super::runs::lock_run(&mut tx, run_id)?;
        if status.as_deref() == Some("cancelled") {
            return Ok(Vec::new());
        }
        let existing: Option<i64> = tx
            .query_opt(
                "SELECT id FROM proposals WHERE run_id = $1 AND step_id = $2 AND attempt = $3 AND kind = 'failure'",
                &[&run_id, &failure.step, &i64::from(attempt)],
            )?
            .map(|r| r.get(0));
        for ev in events {
            if let Some(reason) = inbox::ending(run_id, ev) {
                withdraw_pending_but(&mut tx, run_id, &reason, at, existing)?;
            }
            append(&mut tx, run_id, ev, at)?;
            apply(&mut tx, run_id, ev, at)?;
        }
        let mut out = Vec::new();
        if existing.is_none() {
            let id: i64 = tx.query_one("SELECT nextval('inbox_ids')", &[])?.get(0);
            let ev = Event::ProposalCreated {
                proposal: id,
                step: failure.step.clone(),
                attempt,
                kind: ProposalKind::Failure,
                summary: failure.summary(),
                action: serde_json::to_value(failure)?,
                evidence: Json::Object(Default::default()),
            };
            append(&mut tx, run_id, &ev, at)?;
            apply(&mut tx, run_id, &ev, at)?;
            out.push(ev);
        }
        tx.commit()?;
        Ok(out)
    }

    fn withdraw_failure(&mut self, run: i64, why: &str) -> Result<Vec<Event>> {
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        let status: String = super::runs::lock_run(&mut tx, run)?
            .ok_or_else(|| crate::error::Error::not_found(format!("no run {run}")))?;
        let mut out = Vec::new();
        if status == RunStatus::Failed.as_str() {
            let items: Vec<(i64, String)> = tx
                .query(
                    "SELECT id, step_id FROM proposals WHERE run_id = $1 AND kind = 'failure' AND status = 'pending' ORDER BY id",
                    &[&run],
                )?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            for (proposal, step) in items {
                let ev = Event::ProposalWithdrawn {
                    proposal,
                    step,
                    reason: why.to_string(),
                };
                append(&mut tx, run, &ev, at)?;
                apply(&mut tx, run, &ev, at)?;
                out.push(ev);
            }
        }
        tx.commit()?;
        Ok(out)
    }
}
