//! Steering runs: a run continued on a corrected definition (its new source stored
//! and the change journaled with its projections, in one transaction), and dry
//! runs removed (their events too: migration 0011 lets those go).

use rusqlite::params;

use super::{Event, SqliteJournal, append, project};
use crate::error::{Error, Result};

/// What `aios runs --dry --prune` removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pruned {
    pub runs: usize,
    pub events: usize,
}

impl SqliteJournal {
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

    /// Delete every dry run that no live process is executing, with its events and
    /// every row that names it (any table with a `run_id` column), in one
    /// transaction. Sources stay: they are shared by hash.
    pub fn prune_dry_runs(&mut self) -> Result<Pruned> {
        let now = self.now();
        let tx = self.write_tx()?;
        // A run being driven holds an unexpired lease; it is left alone.
        let ids: Vec<i64> = tx
            .prepare(
                "SELECT id FROM runs WHERE dry IS NOT NULL
                   AND NOT (lease_owner IS NOT NULL AND coalesce(lease_expires, 0) > ?1)",
            )?
            .query_map(params![now], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        if ids.is_empty() {
            return Ok(Pruned::default());
        }
        let tables: Vec<String> = tx
            .prepare(
                "SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) c
                 WHERE m.type = 'table' AND c.name = 'run_id'
                   AND m.name NOT IN ('runs', 'events') AND m.name NOT LIKE 'sqlite_%'",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut events = 0;
        for id in &ids {
            for t in &tables {
                tx.execute(
                    &format!(
                        "DELETE FROM \"{}\" WHERE run_id = ?1",
                        t.replace('"', "\"\"")
                    ),
                    params![id],
                )?;
            }
            events += tx.execute("DELETE FROM events WHERE run_id = ?1", params![id])?;
            tx.execute("DELETE FROM runs WHERE id = ?1", params![id])?;
        }
        let last = ids.iter().copied().max().unwrap_or(0);
        tx.execute(
            "INSERT INTO dry_pruned (id, last_run) VALUES (1, ?1)
             ON CONFLICT (id) DO UPDATE SET last_run = max(last_run, excluded.last_run)",
            params![last],
        )?;
        tx.commit()?;
        Ok(Pruned {
            runs: ids.len(),
            events,
        })
    }
}
