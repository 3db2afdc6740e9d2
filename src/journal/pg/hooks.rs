//! Inbound webhooks on PostgreSQL: `journal::hooks` — the registry (its secret is
//! never here) and the batched creation of the runs a server accepts, each leased to
//! its creator in the transaction that creates it.

use postgres::Row;

use super::PgJournal;
use super::project::{append, apply};
use crate::error::{Error, Result};
use crate::journal::store::{HookStore, RunStore};
use crate::journal::types::Event;
use crate::journal::{HookFormat, HookRecord, HookSettings, Owner, source_hash};

const HOOK_COLS: &str = "h.name, h.path, h.dir, h.source_hash, h.created_at, h.updated_at, h.format, h.payload, h.tolerance_s";

fn hook_row(r: &Row) -> Result<HookRecord> {
    let format: &str = r.get(6);
    Ok(HookRecord {
        name: r.get(0),
        path: r.get(1),
        dir: r.get(2),
        source_hash: r.get(3),
        created_at: r.get(4),
        updated_at: r.get(5),
        settings: HookSettings {
            // A format this build does not know (a newer aios wrote it) is an error,
            // never a guess at how to check a request.
            format: HookFormat::parse(format)
                .ok_or_else(|| Error::storage(format!("unknown hook format `{format}`")))?,
            payload: r.get(7),
            tolerance_s: r.get(8),
        },
    })
}

impl HookStore for PgJournal {
    fn put_hook(
        &mut self,
        name: &str,
        path: &str,
        dir: &str,
        source: &str,
        settings: &HookSettings,
    ) -> Result<bool> {
        let at = self.now();
        let hash = source_hash(source);
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        tx.execute(
            "INSERT INTO sources (hash, text) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING",
            &[&hash, &source],
        )?;
        // `xmax = 0`: the row was inserted, not updated (one statement, no race).
        let inserted: bool = tx
            .query_one(
                "INSERT INTO hooks (name, path, dir, source_hash, created_at, updated_at, format, payload, tolerance_s)
                 VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8)
                 ON CONFLICT (name) DO UPDATE SET path = $2, dir = $3, source_hash = $4, updated_at = $5,
                     format = $6, payload = $7, tolerance_s = $8
                 RETURNING (xmax = 0)",
                &[
                    &name,
                    &path,
                    &dir,
                    &hash,
                    &at,
                    &settings.format.as_str(),
                    &settings.payload,
                    &settings.tolerance_s,
                ],
            )?
            .get(0);
        tx.commit()?;
        Ok(!inserted)
    }

    fn hook(&self, name: &str) -> Result<Option<(HookRecord, String)>> {
        self.conn()
            .query_opt(
                &format!(
                    "SELECT {HOOK_COLS}, s.text FROM hooks h JOIN sources s ON s.hash = h.source_hash
                     WHERE h.name = $1"
                ),
                &[&name],
            )?
            .map(|r| Ok((hook_row(&r)?, r.get(9))))
            .transpose()
    }

    fn hooks(&self) -> Result<Vec<HookRecord>> {
        self.conn()
            .query(
                &format!("SELECT {HOOK_COLS} FROM hooks h ORDER BY h.name"),
                &[],
            )?
            .iter()
            .map(hook_row)
            .collect()
    }

    fn remove_hook(&mut self, name: &str) -> Result<bool> {
        Ok(self
            .conn()
            .execute("DELETE FROM hooks WHERE name = $1", &[&name])?
            > 0)
    }

    fn create_runs(
        &mut self,
        runs: &[(&str, Event)],
        owner: &Owner,
        ttl_ms: i64,
    ) -> Result<Vec<i64>> {
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        let mut ids = Vec::with_capacity(runs.len());
        for (source, created) in runs {
            if let Event::RunCreated { source_hash, .. } = created {
                tx.execute(
                    "INSERT INTO sources (hash, text) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING",
                    &[source_hash, source],
                )?;
            }
            let id: i64 = tx.query_one("SELECT nextval('run_ids')", &[])?.get(0);
            append(&mut tx, id, created, at)?;
            apply(&mut tx, id, created, at)?;
            tx.execute(
                "UPDATE runs SET lease_owner = $2, lease_expires = $3 WHERE id = $1",
                &[&id, &owner.as_string(), &(at + ttl_ms)],
            )?;
            ids.push(id);
        }
        tx.commit()?;
        Ok(ids)
    }
}
