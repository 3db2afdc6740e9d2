//! Time inside runs: the wake-up times of `wait` steps and the decision deadlines
//! of inbox items (read by the engine on resume and by `aios tick`).

use rusqlite::{OptionalExtension, params};

use super::types::*;
use super::{SqliteJournal, append, project, query};
use crate::clock::Millis;
use crate::error::Result;

impl SqliteJournal {
    /// The `wait` steps of a run that are waiting, with when each ends.
    pub fn wake_times(&self, run: i64) -> Result<Vec<(String, Millis)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT step_id, wake_at FROM steps
             WHERE run_id = ?1 AND status = 'waiting' AND wake_at IS NOT NULL ORDER BY wake_at, idx",
        )?;
        let rows = stmt.query_map(params![run], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Pending inbox items whose deadline is at or before `now`, oldest deadline first.
    pub fn expired_deadlines(&self, now: Millis) -> Result<Vec<ProposalRecord>> {
        let ids: Vec<i64> = {
            let mut stmt = self.conn.prepare_cached(
                // The deadline index by name: SQLite's own choice (the status index)
                // reads every pending item to find the few with a deadline due.
                "SELECT id FROM proposals INDEXED BY proposals_deadline
                 WHERE status = 'pending' AND deadline IS NOT NULL AND deadline <= ?1
                 ORDER BY deadline, id",
            )?;
            let rows = stmt.query_map(params![now], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        ids.into_iter().map(|id| self.proposal(id)).collect()
    }

    /// Surface a pending item again and move its deadline to `next_due`, once: only
    /// when the item is still pending with the deadline `seen` (two ticks at once
    /// remind once). Returns the reminder's number, or `None` when another process
    /// got there first or the item was decided meanwhile.
    pub fn remind(&mut self, proposal: i64, seen: Millis, next_due: Millis) -> Result<Option<u32>> {
        let at = self.now();
        let tx = self.write_tx()?;
        let p = query::proposal(&tx, proposal)?;
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
        append(&tx, p.run_id, &ev, at)?;
        project::apply(&tx, p.run_id, &ev, at)?;
        tx.commit()?;
        Ok(Some(reminder))
    }

    /// The earliest decision deadline among a run's pending items.
    pub fn next_deadline(&self, run: i64) -> Result<Option<Millis>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT min(deadline) FROM proposals WHERE run_id = ?1 AND status = 'pending'",
            )?
            .query_row(params![run], |r| r.get(0))
            .optional()?
            .flatten())
    }
}
