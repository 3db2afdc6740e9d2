//! The ready-work queue on PostgreSQL: `journal::work` — runs handed to workers and
//! the workers that claim them. A claim picks the oldest claimable row whose tags
//! the worker's cover (`tags <@ $mine`) with `FOR UPDATE SKIP LOCKED`, so workers
//! racing on one database never wait for each other nor claim one row twice, and
//! takes the run's lease in the same transaction.

use postgres::Row;

use super::PgJournal;
use crate::clock::Millis;
use crate::error::Result;
use crate::journal::store::{RunStore, Work};
use crate::journal::types::Event;
use crate::journal::{Owner, WorkItem, WorkerRecord, tag_set};

const WORK_COLS: &str = "run_id, tags, queued_at, claimed_by, lease_expires, attempts";
const WORKER_COLS: &str = "id, tags, concurrency, lease_ms, started_at, heartbeat_at, stopped_at";

fn work_row(r: &Row) -> WorkItem {
    WorkItem {
        run_id: r.get(0),
        tags: r.get(1),
        queued_at: r.get(2),
        claimed_by: r.get(3),
        lease_expires: r.get(4),
        attempts: r.get::<_, i32>(5) as u32,
    }
}

fn worker_row(r: &Row) -> WorkerRecord {
    WorkerRecord {
        id: r.get(0),
        tags: r.get(1),
        concurrency: r.get::<_, i32>(2) as u32,
        lease_ms: r.get(3),
        started_at: r.get(4),
        heartbeat_at: r.get(5),
        stopped_at: r.get(6),
    }
}

impl Work for PgJournal {
    fn create_queued_run(&mut self, source: &str, created: Event, tags: &[String]) -> Result<i64> {
        let at = self.now();
        let tags = tag_set(tags);
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        let id = super::runs::insert_run(&mut tx, source, &created, at)?;
        tx.execute(
            "INSERT INTO work (run_id, tags, queued_at) VALUES ($1, $2, $3)",
            &[&id, &tags, &at],
        )?;
        tx.commit()?;
        Ok(id)
    }

    fn hand_off(&mut self, run: i64, tags: &[String], owner: &Owner) -> Result<()> {
        let at = self.now();
        let tags = tag_set(tags);
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        tx.execute(
            "INSERT INTO work (run_id, tags, queued_at) VALUES ($1, $2, $3)
             ON CONFLICT (run_id) DO UPDATE SET tags = excluded.tags,
                 queued_at = excluded.queued_at, claimed_by = NULL, lease_expires = NULL",
            &[&run, &tags, &at],
        )?;
        tx.execute(
            "UPDATE runs SET lease_owner = NULL, lease_expires = NULL WHERE id = $1 AND lease_owner = $2",
            &[&run, &owner.as_string()],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn claim_work(
        &mut self,
        worker: &Owner,
        tags: &[String],
        ttl_ms: i64,
    ) -> Result<Option<WorkItem>> {
        let now = self.now();
        let me = worker.as_string();
        let mine = tag_set(tags);
        let until = now + ttl_ms;
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        let row = tx.query_opt(
            "UPDATE work SET claimed_by = $3, lease_expires = $4, attempts = attempts + 1
             WHERE run_id = (
                 SELECT w.run_id FROM work w JOIN runs r ON r.id = w.run_id
                 WHERE (w.lease_expires IS NULL OR w.lease_expires < $1)
                   AND w.tags <@ $2::TEXT[]
                   AND (r.lease_owner IS NULL OR r.lease_owner = $3
                        OR coalesce(r.lease_expires, 0) <= $1)
                 ORDER BY w.queued_at, w.run_id
                 LIMIT 1 FOR UPDATE OF w SKIP LOCKED)
             RETURNING run_id, tags, queued_at, claimed_by, lease_expires, attempts",
            &[&now, &mine, &me, &until],
        )?;
        let Some(row) = row else {
            return Ok(None);
        };
        let item = work_row(&row);
        tx.execute(
            "UPDATE runs SET lease_owner = $2, lease_expires = $3 WHERE id = $1",
            &[&item.run_id, &me, &until],
        )?;
        tx.commit()?;
        Ok(Some(item))
    }

    fn renew_work(&mut self, run: i64, worker: &Owner, ttl_ms: i64) -> Result<bool> {
        let until = self.now() + ttl_ms;
        let me = worker.as_string();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        let n = tx.execute(
            "UPDATE work SET lease_expires = $3 WHERE run_id = $1 AND claimed_by = $2",
            &[&run, &me, &until],
        )?;
        if n > 0 {
            tx.execute(
                "UPDATE runs SET lease_expires = $3 WHERE id = $1 AND lease_owner = $2 AND lease_expires > 0",
                &[&run, &me, &until],
            )?;
        }
        tx.commit()?;
        Ok(n > 0)
    }

    fn finish_work(&mut self, run: i64, worker: &Owner) -> Result<bool> {
        let me = worker.as_string();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        let n = tx.execute(
            "DELETE FROM work WHERE run_id = $1 AND claimed_by = $2",
            &[&run, &me],
        )?;
        tx.execute(
            "UPDATE runs SET lease_owner = NULL, lease_expires = NULL
             WHERE id = $1 AND lease_owner = $2 AND coalesce(lease_expires, 1) > 0",
            &[&run, &me],
        )?;
        tx.commit()?;
        Ok(n > 0)
    }

    fn work_items(&self) -> Result<Vec<WorkItem>> {
        Ok(self
            .conn()
            .query(
                &format!("SELECT {WORK_COLS} FROM work ORDER BY queued_at, run_id"),
                &[],
            )?
            .iter()
            .map(work_row)
            .collect())
    }

    fn work_item(&self, run: i64) -> Result<Option<WorkItem>> {
        Ok(self
            .conn()
            .query_opt(
                &format!("SELECT {WORK_COLS} FROM work WHERE run_id = $1"),
                &[&run],
            )?
            .as_ref()
            .map(work_row))
    }

    fn register_worker(
        &mut self,
        worker: &Owner,
        tags: &[String],
        concurrency: u32,
        lease_ms: i64,
    ) -> Result<()> {
        let now = self.now();
        self.conn().execute(
            "INSERT INTO workers (id, tags, concurrency, lease_ms, started_at, heartbeat_at)
             VALUES ($1, $2, $3, $4, $5, $5)
             ON CONFLICT (id) DO UPDATE SET tags = excluded.tags,
                 concurrency = excluded.concurrency, lease_ms = excluded.lease_ms,
                 started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at,
                 stopped_at = NULL",
            &[
                &worker.as_string(),
                &tag_set(tags),
                &(concurrency as i32),
                &lease_ms,
                &now,
            ],
        )?;
        Ok(())
    }

    fn worker_beat(&mut self, worker: &Owner) -> Result<()> {
        let now = self.now();
        self.conn().execute(
            "UPDATE workers SET heartbeat_at = $2 WHERE id = $1",
            &[&worker.as_string(), &now],
        )?;
        Ok(())
    }

    fn stop_worker(&mut self, worker: &Owner) -> Result<()> {
        let now = self.now();
        self.conn().execute(
            "UPDATE workers SET heartbeat_at = $2, stopped_at = $2 WHERE id = $1",
            &[&worker.as_string(), &now],
        )?;
        Ok(())
    }

    fn worker_records(&self, since: Millis) -> Result<Vec<WorkerRecord>> {
        Ok(self
            .conn()
            .query(
                &format!(
                    "SELECT {WORKER_COLS} FROM workers WHERE heartbeat_at >= $1 ORDER BY started_at DESC, id"
                ),
                &[&since],
            )?
            .iter()
            .map(worker_row)
            .collect())
    }
}
