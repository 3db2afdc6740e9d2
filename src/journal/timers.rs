//! Time inside runs: the wake-up times of `wait` steps and the decision deadlines
//! of inbox items (read by the engine on resume and by `aios tick`).

use rusqlite::{OptionalExtension, params};

use super::types::*;
use super::{Journal, append, project, query};
use crate::clock::Millis;
use crate::error::Result;

impl Journal {
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
                "SELECT id FROM proposals WHERE status = 'pending' AND deadline IS NOT NULL AND deadline <= ?1
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

/// A registered inbound webhook (`aios hook add`): the workflow snapshot it starts.
#[derive(Debug, Clone)]
pub struct HookRecord {
    pub name: String,
    pub path: String,
    pub dir: String,
    pub source_hash: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl Journal {
    /// Register (or update) a hook with a snapshot of its workflow. True when it
    /// already existed.
    pub fn put_hook(&mut self, name: &str, path: &str, dir: &str, source: &str) -> Result<bool> {
        use sha2::{Digest, Sha256};
        let at = self.now();
        let hash = hex::encode(Sha256::digest(source.as_bytes()));
        let tx = self.write_tx()?;
        tx.prepare_cached("INSERT OR IGNORE INTO sources (hash, text) VALUES (?1, ?2)")?
            .execute(params![hash, source])?;
        let existed = tx
            .prepare_cached("SELECT 1 FROM hooks WHERE name = ?1")?
            .exists(params![name])?;
        tx.prepare_cached(
            "INSERT INTO hooks (name, path, dir, source_hash, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)
             ON CONFLICT (name) DO UPDATE SET path = ?2, dir = ?3, source_hash = ?4, updated_at = ?5",
        )?
        .execute(params![name, path, dir, hash, at])?;
        tx.commit()?;
        Ok(existed)
    }

    /// A hook and its workflow source, or `None` when there is no such hook.
    pub fn hook(&self, name: &str) -> Result<Option<(HookRecord, String)>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT h.name, h.path, h.dir, h.source_hash, h.created_at, h.updated_at, s.text
                 FROM hooks h JOIN sources s ON s.hash = h.source_hash WHERE h.name = ?1",
            )?
            .query_row(params![name], |r| Ok((hook_row(r)?, r.get(6)?)))
            .optional()?)
    }

    /// Every hook, by name.
    pub fn hooks(&self) -> Result<Vec<HookRecord>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT name, path, dir, source_hash, created_at, updated_at FROM hooks ORDER BY name",
        )?;
        let rows = stmt.query_map([], hook_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Unregister a hook. False when there was none.
    pub fn remove_hook(&mut self, name: &str) -> Result<bool> {
        let _gate = self.gate_guard();
        Ok(self
            .conn
            .prepare_cached("DELETE FROM hooks WHERE name = ?1")?
            .execute(params![name])?
            > 0)
    }
}

fn hook_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<HookRecord> {
    Ok(HookRecord {
        name: r.get(0)?,
        path: r.get(1)?,
        dir: r.get(2)?,
        source_hash: r.get(3)?,
        created_at: r.get(4)?,
        updated_at: r.get(5)?,
    })
}
