//! The operator's health view on PostgreSQL: `journal::health` — heartbeats, live
//! leases, pending items by kind, the next wake-up, active runs. Backups, restores
//! and the integrity check are the SQLite file's (`VACUUM INTO`, the backup API,
//! `PRAGMA integrity_check`): here they fail with [`super::not_supported`] (a
//! PostgreSQL database is backed up with its own tools, `pg_dump`).

use std::path::Path;

use serde_json::Value as Json;

use super::{PgJournal, not_supported};
use crate::clock::Millis;
use crate::error::Result;
use crate::journal::store::{HealthStore, RunStore};
use crate::journal::{Heartbeat, PendingKind};

impl PgJournal {
    /// The database's size on disk (`pg_database_size`), in bytes.
    pub fn database_bytes(&self) -> Result<u64> {
        let bytes: i64 = self
            .conn()
            .query_one("SELECT pg_database_size(current_database())", &[])?
            .get(0);
        Ok(u64::try_from(bytes).unwrap_or(0))
    }
}

impl HealthStore for PgJournal {
    fn beat(&mut self, name: &str, by: &str, detail: &Json) -> Result<()> {
        let at = self.now();
        self.conn().execute(
            "INSERT INTO heartbeats (name, at, by, detail) VALUES ($1, $2, $3, $4)
             ON CONFLICT (name) DO UPDATE SET at = $2, by = $3, detail = $4",
            &[&name, &at, &by, &detail.to_string()],
        )?;
        Ok(())
    }

    fn heartbeat(&self, name: &str) -> Result<Option<Heartbeat>> {
        Ok(self
            .conn()
            .query_opt(
                "SELECT at, by, detail FROM heartbeats WHERE name = $1",
                &[&name],
            )?
            .map(|r| Heartbeat {
                at: r.get(0),
                by: r.get(1),
                detail: serde_json::from_str(r.get(2)).unwrap_or(Json::Null),
            }))
    }

    fn backup_to(&self, _dest: &Path) -> Result<u64> {
        Err(not_supported(
            "`aios backup` (back a PostgreSQL journal up with pg_dump)",
        ))
    }

    fn live_leases(&self) -> Result<Vec<(i64, String)>> {
        let now = self.now();
        Ok(self
            .conn()
            .query(
                "SELECT id, lease_owner FROM runs WHERE status = 'running'
                   AND lease_owner IS NOT NULL AND lease_expires > $1 ORDER BY id",
                &[&now],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn restore_from(&mut self, _src: &Path) -> Result<()> {
        Err(not_supported(
            "`aios restore` (restore a PostgreSQL journal with pg_restore)",
        ))
    }

    fn pending_by_kind(&self) -> Result<Vec<PendingKind>> {
        Ok(self
            .conn()
            .query(
                "SELECT kind, count(*), min(created_at) FROM proposals
                   WHERE status = 'pending' GROUP BY kind
                 UNION ALL
                 SELECT 'notice', count(*), min(created_at) FROM notices WHERE status = 'pending' HAVING count(*) > 0
                 ORDER BY 3, 1",
                &[],
            )?
            .iter()
            .map(|r| PendingKind {
                kind: r.get(0),
                count: r.get(1),
                oldest: r.get(2),
            })
            .collect())
    }

    fn next_wake(&self) -> Result<Option<Millis>> {
        Ok(self
            .conn()
            .query_one(
                "SELECT min(t) FROM (
                   SELECT min(wake_at) AS t FROM steps WHERE wake_at IS NOT NULL AND status = 'waiting'
                   UNION ALL
                   SELECT min(deadline) FROM proposals WHERE deadline IS NOT NULL AND status = 'pending') w",
                &[],
            )?
            .get(0))
    }

    fn active_runs(&self) -> Result<(i64, i64)> {
        let r = self.conn().query_one(
            "SELECT count(*) FILTER (WHERE status = 'running'), count(*) FILTER (WHERE status = 'waiting')
             FROM runs",
            &[],
        )?;
        Ok((r.get(0), r.get(1)))
    }

    fn integrity_check(&self) -> Result<String> {
        Err(not_supported(
            "the integrity check (PostgreSQL checks its own pages; see amcheck)",
        ))
    }
}
