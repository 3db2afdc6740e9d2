//! Steering runs: a run continued on a corrected definition (its new source stored
//! and the change journaled with its projections, in one transaction).

use super::{Event, Journal, append, project};
use crate::error::{Error, Result};

impl Journal {
    /// Store `source` (content-addressed, in `sources`) and commit `events` (a
    /// [`Event::WorkflowChanged`] naming it first, then the steps it resets) with
    /// their projections: one transaction.
    pub fn change_workflow(&mut self, run_id: i64, source: &str, events: &[Event]) -> Result<i64> {
        let Some(Event::WorkflowChanged { source_hash, .. }) = events.first() else {
            return Err(Error::other(
                "internal: change_workflow takes a workflow_changed event",
            ));
        };
        let at = self.now();
        let tx = self.write_tx()?;
        tx.prepare_cached("INSERT OR IGNORE INTO sources (hash, text) VALUES (?1, ?2)")?
            .execute(rusqlite::params![source_hash, source])?;
        let mut seq = 0;
        for ev in events {
            seq = append(&tx, run_id, ev, at)?;
            project::apply(&tx, run_id, ev, at)?;
        }
        tx.commit()?;
        Ok(seq)
    }
}
