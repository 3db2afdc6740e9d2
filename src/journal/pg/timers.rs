//! Time inside runs on PostgreSQL: `journal::timers` — the wake-up times of `wait`
//! steps and the decision deadlines of inbox items, reminders taken once.

use super::PgJournal;
use super::project::{append, apply};
use super::runs::proposal_in;
use crate::clock::Millis;
use crate::error::Result;
use crate::journal::store::{InboxStore, RunStore, TimerStore};
use crate::journal::types::*;

impl TimerStore for PgJournal {
    fn wake_times(&self, run: i64) -> Result<Vec<(String, Millis)>> {
        Ok(self
            .conn()
            .query(
                "SELECT step_id, wake_at FROM steps
                 WHERE run_id = $1 AND status = 'waiting' AND wake_at IS NOT NULL ORDER BY wake_at, idx",
                &[&run],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn expired_deadlines(&self, now: Millis) -> Result<Vec<ProposalRecord>> {
        let ids: Vec<i64> = self
            .conn()
            .query(
                "SELECT id FROM proposals
                 WHERE status = 'pending' AND deadline IS NOT NULL AND deadline <= $1
                 ORDER BY deadline, id",
                &[&now],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        ids.into_iter().map(|id| self.proposal(id)).collect()
    }

    fn remind(&mut self, proposal: i64, seen: Millis, next_due: Millis) -> Result<Option<u32>> {
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        // The item's row, locked: of two ticks at once, the second sees the first's
        // new deadline and reminds nobody.
        let p = proposal_in(&mut *tx, proposal, true)?;
        if p.status != ProposalStatus::Pending
            || p.deadline != Some(seen)
            || p.run_status == RunStatus::Cancelled
        {
            return Ok(None);
        }
        let reminder = p.reminders + 1;
        let ev = Event::ProposalReminded {
            proposal,
            step: p.step_id.clone(),
            reminder,
            next_due,
        };
        append(&mut tx, p.run_id, &ev, at)?;
        apply(&mut tx, p.run_id, &ev, at)?;
        tx.commit()?;
        Ok(Some(reminder))
    }

    fn next_deadline(&self, run: i64) -> Result<Option<Millis>> {
        Ok(self
            .conn()
            .query_one(
                "SELECT min(deadline) FROM proposals WHERE run_id = $1 AND status = 'pending'",
                &[&run],
            )?
            .get(0))
    }
}
