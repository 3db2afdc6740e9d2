//! The ready-work queue: runs handed to workers (`aios run --detach`, or a run whose
//! next step needs `runs_on` tags its driver lacks) and the workers (`aios worker`)
//! that claim them. Operational state, like run leases: not events, not replayed;
//! but a detached run is created and queued in one transaction.
//!
//! A claim takes the queue row and the run's lease for the worker in one immediate
//! transaction (SQLite: one writer at a time, so two workers never claim one row);
//! both expire together and the worker's heartbeats renew them. An expired claim
//! (its worker was killed) is claimable again, and the taker resumes the run with the
//! crash rules. Finishing a claim removes the row and gives the lease back together.

use rusqlite::{OptionalExtension, params};

use super::types::Event;
use super::{Owner, SqliteJournal, append, next_run_id, project};
use crate::clock::Millis;
use crate::error::Result;

/// A run in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkItem {
    pub run_id: i64,
    /// The tags a worker must have (sorted; empty: any worker).
    pub tags: Vec<String>,
    pub queued_at: Millis,
    /// The worker that holds it (`pid@host`), while its claim lasts.
    pub claimed_by: Option<String>,
    /// When the claim expires unless renewed (`None`: not claimed).
    pub lease_expires: Option<Millis>,
    /// How many times it was claimed.
    pub attempts: u32,
}

impl WorkItem {
    /// Whether a worker claims it now: unclaimed, or its claim expired.
    pub fn claimable(&self, now: Millis) -> bool {
        self.lease_expires.is_none_or(|t| t < now)
    }
}

/// A worker process (`aios worker`), as it registered and last reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerRecord {
    /// `pid@host`: the owner of the leases it takes.
    pub id: String,
    /// Its tags (sorted).
    pub tags: Vec<String>,
    pub concurrency: u32,
    /// Its claims' lease: it beats every third of it.
    pub lease_ms: i64,
    pub started_at: Millis,
    pub heartbeat_at: Millis,
    pub stopped_at: Option<Millis>,
}

impl WorkerRecord {
    /// Whether it is live: not stopped, and heard from within its lease.
    pub fn live(&self, now: Millis) -> bool {
        self.stopped_at.is_none() && self.heartbeat_at + self.lease_ms >= now
    }
}

/// Tags as a set: sorted, without repeats.
pub fn tag_set<S: AsRef<str>>(tags: &[S]) -> Vec<String> {
    let mut v: Vec<String> = tags.iter().map(|t| t.as_ref().to_string()).collect();
    v.sort();
    v.dedup();
    v
}

/// Whether `have` holds every tag of `need`.
pub fn tags_cover(have: &[String], need: &[String]) -> bool {
    need.iter().all(|t| have.contains(t))
}

fn join_tags(tags: &[String]) -> String {
    tag_set(tags).join(",")
}

fn split_tags(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

const WORK_COLS: &str = "run_id, tags, queued_at, claimed_by, lease_expires, attempts";
const WORKER_COLS: &str = "id, tags, concurrency, lease_ms, started_at, heartbeat_at, stopped_at";

fn work_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<WorkItem> {
    let tags: String = r.get(1)?;
    Ok(WorkItem {
        run_id: r.get(0)?,
        tags: split_tags(&tags),
        queued_at: r.get(2)?,
        claimed_by: r.get(3)?,
        lease_expires: r.get(4)?,
        attempts: r.get(5)?,
    })
}

fn worker_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<WorkerRecord> {
    let tags: String = r.get(1)?;
    Ok(WorkerRecord {
        id: r.get(0)?,
        tags: split_tags(&tags),
        concurrency: r.get(2)?,
        lease_ms: r.get(3)?,
        started_at: r.get(4)?,
        heartbeat_at: r.get(5)?,
        stopped_at: r.get(6)?,
    })
}

impl SqliteJournal {
    /// Create a run (as `create_run` does) and queue it for workers with `tags`, in
    /// one transaction: no run is left created and not queued.
    pub fn create_queued_run(
        &mut self,
        source: &str,
        created: Event,
        tags: &[String],
    ) -> Result<i64> {
        let at = self.now();
        let tx = self.write_tx()?;
        if let Event::RunCreated { source_hash, .. } = &created {
            tx.prepare_cached("INSERT OR IGNORE INTO sources (hash, text) VALUES (?1, ?2)")?
                .execute(params![source_hash, source])?;
        }
        let id = next_run_id(&tx)?;
        append(&tx, id, &created, at)?;
        project::apply(&tx, id, &created, at)?;
        tx.execute(
            "INSERT INTO work (run_id, tags, queued_at) VALUES (?1, ?2, ?3)",
            params![id, join_tags(tags), at],
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// Queue `run` for workers with `tags` (again, when a worker held it: its claim
    /// ends) and give `owner`'s lease of the run up, in one transaction.
    pub fn hand_off(&mut self, run: i64, tags: &[String], owner: &Owner) -> Result<()> {
        let at = self.now();
        let tx = self.write_tx()?;
        tx.execute(
            "INSERT INTO work (run_id, tags, queued_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (run_id) DO UPDATE SET tags = excluded.tags,
                 queued_at = excluded.queued_at, claimed_by = NULL, lease_expires = NULL",
            params![run, join_tags(tags), at],
        )?;
        tx.execute(
            "UPDATE runs SET lease_owner = NULL, lease_expires = NULL WHERE id = ?1 AND lease_owner = ?2",
            params![run, owner.as_string()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Claim the oldest queued run whose tags `tags` covers, unclaimed or whose claim
    /// expired and whose run lease nobody else holds, for `worker` for `ttl_ms`: the
    /// queue row and the run's lease together. `None`: nothing is claimable.
    pub fn claim_work(
        &mut self,
        worker: &Owner,
        tags: &[String],
        ttl_ms: i64,
    ) -> Result<Option<WorkItem>> {
        let now = self.now();
        let me = worker.as_string();
        let tx = self.write_tx()?;
        // The oldest claimable run these tags cover: rows are read in queue order (the
        // `work_by_age` index) and reading stops at the first one, so a claim costs the
        // same with ten or ten thousand runs queued.
        let found = {
            let mut stmt = tx.prepare_cached(
                "SELECT w.run_id, w.tags, w.queued_at, w.claimed_by, w.lease_expires, w.attempts
                 FROM work w JOIN runs r ON r.id = w.run_id
                 WHERE (w.lease_expires IS NULL OR w.lease_expires < ?1)
                   AND (r.lease_owner IS NULL OR r.lease_owner = ?2
                        OR coalesce(r.lease_expires, 0) <= ?1)
                 ORDER BY w.queued_at, w.run_id",
            )?;
            let mut rows = stmt.query_map(params![now, me], work_row)?;
            rows.find(|w| w.as_ref().map_or(true, |w| tags_cover(tags, &w.tags)))
                .transpose()?
        };
        let Some(mut item) = found else {
            return Ok(None);
        };
        let until = now + ttl_ms;
        tx.execute(
            "UPDATE work SET claimed_by = ?2, lease_expires = ?3, attempts = attempts + 1 WHERE run_id = ?1",
            params![item.run_id, me, until],
        )?;
        tx.execute(
            "UPDATE runs SET lease_owner = ?2, lease_expires = ?3 WHERE id = ?1",
            params![item.run_id, me, until],
        )?;
        tx.commit()?;
        item.claimed_by = Some(me);
        item.lease_expires = Some(until);
        item.attempts += 1;
        Ok(Some(item))
    }

    /// Extend `worker`'s claim of `run` and its lease of the run. `false`: it holds
    /// no claim of it any more (handed on, or taken over after it expired).
    pub fn renew_work(&mut self, run: i64, worker: &Owner, ttl_ms: i64) -> Result<bool> {
        let until = self.now() + ttl_ms;
        let me = worker.as_string();
        let tx = self.write_tx()?;
        let n = tx.execute(
            "UPDATE work SET lease_expires = ?3 WHERE run_id = ?1 AND claimed_by = ?2",
            params![run, me, until],
        )?;
        if n > 0 {
            tx.execute(
                "UPDATE runs SET lease_expires = ?3 WHERE id = ?1 AND lease_owner = ?2 AND lease_expires > 0",
                params![run, me, until],
            )?;
        }
        tx.commit()?;
        Ok(n > 0)
    }

    /// End `worker`'s claim of `run`: its queue row goes, and its lease of the run
    /// is given back, in one transaction (a lease the driver abandoned after an
    /// error stays, expired and naming the worker, for `aios tick` to continue the
    /// run). `false`: it held no claim (the run was handed on meanwhile).
    pub fn finish_work(&mut self, run: i64, worker: &Owner) -> Result<bool> {
        let me = worker.as_string();
        let tx = self.write_tx()?;
        let n = tx.execute(
            "DELETE FROM work WHERE run_id = ?1 AND claimed_by = ?2",
            params![run, me],
        )?;
        tx.execute(
            "UPDATE runs SET lease_owner = NULL, lease_expires = NULL
             WHERE id = ?1 AND lease_owner = ?2 AND coalesce(lease_expires, 1) > 0",
            params![run, me],
        )?;
        tx.commit()?;
        Ok(n > 0)
    }

    /// Every run in the queue, oldest first.
    pub fn work_items(&self) -> Result<Vec<WorkItem>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {WORK_COLS} FROM work ORDER BY queued_at, run_id"
        ))?;
        let rows = stmt.query_map([], work_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The queue row of `run`, if it is queued.
    pub fn work_item(&self, run: i64) -> Result<Option<WorkItem>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {WORK_COLS} FROM work WHERE run_id = ?1"),
                params![run],
                work_row,
            )
            .optional()?)
    }

    /// Record a worker as started now (a worker id used before starts afresh).
    pub fn register_worker(
        &mut self,
        worker: &Owner,
        tags: &[String],
        concurrency: u32,
        lease_ms: i64,
    ) -> Result<()> {
        let now = self.now();
        let _gate = self.gate_guard();
        self.conn.execute(
            "INSERT INTO workers (id, tags, concurrency, lease_ms, started_at, heartbeat_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)
             ON CONFLICT (id) DO UPDATE SET tags = excluded.tags,
                 concurrency = excluded.concurrency, lease_ms = excluded.lease_ms,
                 started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at,
                 stopped_at = NULL",
            params![
                worker.as_string(),
                join_tags(tags),
                concurrency,
                lease_ms,
                now
            ],
        )?;
        Ok(())
    }

    /// A worker's heartbeat.
    pub fn worker_beat(&mut self, worker: &Owner) -> Result<()> {
        let now = self.now();
        let _gate = self.gate_guard();
        self.conn.execute(
            "UPDATE workers SET heartbeat_at = ?2 WHERE id = ?1",
            params![worker.as_string(), now],
        )?;
        Ok(())
    }

    /// A worker stopped (on a signal, or idle with `--exit-when-idle`).
    pub fn stop_worker(&mut self, worker: &Owner) -> Result<()> {
        let now = self.now();
        let _gate = self.gate_guard();
        self.conn.execute(
            "UPDATE workers SET heartbeat_at = ?2, stopped_at = ?2 WHERE id = ?1",
            params![worker.as_string(), now],
        )?;
        Ok(())
    }

    /// The workers heard from since `since`, the most recently started first.
    pub fn worker_records(&self, since: Millis) -> Result<Vec<WorkerRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {WORKER_COLS} FROM workers WHERE heartbeat_at >= ?1 ORDER BY started_at DESC, id"
        ))?;
        let rows = stmt.query_map(params![since], worker_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
