//! The journal: one SQLite file holding the append-only event log (the source of
//! truth) and the projections (`runs`, `steps`, `proposals`) derived from it.
//!
//! Everything outside this module reaches storage through [`Journal`]'s methods (the
//! facade over the SQLite file, [`SqliteJournal`], or PostgreSQL, `pg`); no SQL lives
//! elsewhere. Every state change goes through [`Journal::commit`] (or another method
//! of a concern), which appends the events and applies them to the projections in
//! one transaction.

mod breakers;
pub mod export;
mod facade;
mod failure;
mod health;
mod hooks;
mod inbox;
mod item;
mod lease;
mod llm;
mod mail;
mod memory;
mod memory_common;
mod memory_search;
pub mod notices;
pub mod notify;
mod open;
pub mod pg;
mod project;
mod query;
mod rate;
mod repair;
mod replay;
mod schedule;
mod schema;
mod sqlite_error;
pub mod stats;
mod steer;
pub mod store;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_cost;
#[cfg(test)]
mod tests_inbox;
#[cfg(test)]
mod tests_migrations;
#[cfg(test)]
mod tests_shared;
mod timers;
mod trust;
pub mod types;
mod versions;
pub mod work;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, TransactionBehavior};

use crate::clock::{Clock, Millis};
use crate::error::{Error, Result};
pub use breakers::{HeldStep, Verdict};
pub use facade::Journal;
pub use failure::{FailedStep, Failure, FailureChoice};
pub use health::{BackupFile, Heartbeat, PendingKind, check_backup};
pub use hooks::{HookFormat, HookRecord, HookSettings};
pub use inbox::{Changes, InboxRow};
pub use item::{BudgetStop, Drafter, Evidence, Gate, GateField, PolicyNote, Rescue, RescueReply};
pub(crate) use lease::process_alive;
pub use lease::{LeaseHeld, Owner};
pub use llm::CallFilter;
pub use mail::*;
pub use memory::*;
pub use memory_common::Alloc;
pub use open::{Access, OpenOptions};
pub use rate::Taker;
pub use replay::ReplayReport;
pub use schedule::*;
pub use steer::Pruned;
pub use trust::{StepStats, TrustMark};
pub use types::*;
pub use versions::{
    CurrentVersion, StaleRef, Version, VersionCache, VersionRef, source_hash, versions_of,
};
pub use work::{WorkItem, WorkerRecord, tag_set, tags_cover};

/// An open SQLite journal. One per thread; not shared across threads.
pub struct SqliteJournal {
    conn: Connection,
    path: PathBuf,
    clock: Clock,
    access: Access,
    gate: Option<WriteGate>,
}

/// One write at a time among the journals of a process that share it.
///
/// Between processes SQLite's lock waits by sleeping with a growing backoff (up to
/// 100 ms a try), so many threads of one busy process can starve one another until
/// the lock timeout passes (`database is locked`). Journals opened with the same gate
/// ([`SqliteJournal::with_gate`]) take a mutex around every write transaction instead: the
/// threads queue and are woken in turn, and the busy timeout is left for other
/// processes. `aios serve` gives one gate to all its connections.
#[derive(Debug, Clone, Default)]
pub struct WriteGate(std::sync::Arc<std::sync::Mutex<()>>);

/// A write transaction (`BEGIN IMMEDIATE`) holding the journal's [`WriteGate`], if
/// any, until it commits or is dropped (rolled back).
pub(crate) struct WriteTx<'a> {
    // Declared first: dropped (rolled back) before the gate is let go.
    tx: rusqlite::Transaction<'a>,
    _gate: Option<std::sync::MutexGuard<'a, ()>>,
}

impl<'a> std::ops::Deref for WriteTx<'a> {
    type Target = rusqlite::Transaction<'a>;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl WriteTx<'_> {
    pub(crate) fn commit(self) -> rusqlite::Result<()> {
        self.tx.commit()
    }
}

impl std::fmt::Debug for SqliteJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteJournal")
            .field("path", &self.path)
            .finish()
    }
}

/// Prepared statements kept per connection (`prepare_cached`).
const STATEMENT_CACHE: usize = 256;

/// Write transactions committed by this process's journal connections (on SQLite a
/// commit hook counts them, on PostgreSQL [`pg::Tx::commit`] when
/// [`count_postgres_writes`] was called; read by `AIOS_STATS`, see `commands`).
static WRITE_TRANSACTIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many write transactions this process has committed to a journal so far.
pub fn write_transactions() -> u64 {
    WRITE_TRANSACTIONS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Whether PostgreSQL transactions ask, before they commit, whether they wrote
/// (one more round trip each), to count in [`write_transactions`].
static COUNT_PG_WRITES: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Count this process's PostgreSQL write transactions too (`AIOS_STATS`).
pub fn count_postgres_writes() {
    COUNT_PG_WRITES.store(true, std::sync::atomic::Ordering::Relaxed);
}

pub(crate) fn counting_postgres_writes() -> bool {
    COUNT_PG_WRITES.load(std::sync::atomic::Ordering::Relaxed)
}

pub(crate) fn count_write_transaction() {
    WRITE_TRANSACTIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// Count every commit of `conn` in [`write_transactions`].
fn count_commits(conn: &mut Connection) {
    // Only fails for a connection in use elsewhere; a new one is not.
    let _ = conn.commit_hook(Some(|| {
        count_write_transaction();
        false
    }));
}

impl SqliteJournal {
    /// Share `gate` with the other journals of this process: their writes take turns.
    pub fn with_gate(mut self, gate: WriteGate) -> SqliteJournal {
        self.gate = Some(gate);
        self
    }

    /// Begin a write transaction, after the [`WriteGate`] when there is one.
    pub(crate) fn write_tx(&mut self) -> Result<WriteTx<'_>> {
        let gate = lock_gate(self.gate.as_ref());
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        Ok(WriteTx { tx, _gate: gate })
    }

    /// The [`WriteGate`]'s turn, for a write outside [`SqliteJournal::write_tx`].
    pub(crate) fn gate_guard(&self) -> Option<std::sync::MutexGuard<'_, ()>> {
        lock_gate(self.gate.as_ref())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn clock(&self) -> Clock {
        self.clock
    }

    pub fn now(&self) -> Millis {
        self.clock.now_ms()
    }

    /// Append `events` for `run_id` and apply them to the projections, atomically.
    /// An event that ends the run (failed, cancelled) withdraws its pending inbox
    /// items first, in the same transaction. Returns the sequence number of the last
    /// event.
    pub fn commit(&mut self, run_id: i64, events: &[Event]) -> Result<i64> {
        let at = self.now();
        let tx = self.write_tx()?;
        // A side effect never starts in a run cancelled by another process: the
        // check and the `step_started` record are one transaction.
        if events
            .iter()
            .any(|e| matches!(e, Event::StepStarted { .. }))
        {
            let status: Option<String> = tx
                .prepare_cached("SELECT status FROM runs WHERE id = ?1")?
                .query_row(rusqlite::params![run_id], |r| r.get(0))
                .ok();
            if status.as_deref() == Some("cancelled") {
                return Err(Error::conflict(format!("run {run_id} was cancelled")));
            }
        }
        let mut seq = 0;
        for ev in events {
            if let Some(reason) = inbox::ending(run_id, ev) {
                inbox::withdraw_pending(&tx, run_id, &reason, at)?;
            }
            seq = append(&tx, run_id, ev, at)?;
            project::apply(&tx, run_id, ev, at)?;
        }
        tx.commit()?;
        Ok(seq)
    }

    /// Create a run from its `RunCreated` event and the workflow source that event's
    /// `source_hash` names; the id is assigned here. Returns the new run id.
    pub fn create_run(&mut self, source: &str, created: Event) -> Result<i64> {
        let at = self.now();
        let tx = self.write_tx()?;
        if let Event::RunCreated { source_hash, .. } = &created {
            tx.prepare_cached("INSERT OR IGNORE INTO sources (hash, text) VALUES (?1, ?2)")?
                .execute(rusqlite::params![source_hash, source])?;
        }
        let id = next_run_id(&tx)?;
        append(&tx, id, &created, at)?;
        project::apply(&tx, id, &created, at)?;
        tx.commit()?;
        Ok(id)
    }

    /// Create an inbox item for a step; the proposal id is assigned here. Returns
    /// `None` (and writes nothing) when the run was cancelled meanwhile.
    #[allow(clippy::too_many_arguments)]
    pub fn create_proposal(
        &mut self,
        run_id: i64,
        step: &str,
        attempt: u32,
        kind: ProposalKind,
        summary: String,
        action: serde_json::Value,
        evidence: serde_json::Value,
    ) -> Result<Option<i64>> {
        self.create_proposal_with(run_id, step, attempt, kind, summary, action, evidence, None)
    }

    /// [`SqliteJournal::create_proposal`] with an optional decision deadline
    /// (`(due_at, on_timeout)`), journaled in the same transaction as the item.
    #[allow(clippy::too_many_arguments)]
    pub fn create_proposal_with(
        &mut self,
        run_id: i64,
        step: &str,
        attempt: u32,
        kind: ProposalKind,
        summary: String,
        action: serde_json::Value,
        evidence: serde_json::Value,
        deadline: Option<(Millis, String)>,
    ) -> Result<Option<i64>> {
        let at = self.now();
        let tx = self.write_tx()?;
        // A run cancelled by another process gets no new inbox items.
        let status: Option<String> = tx
            .query_row(
                "SELECT status FROM runs WHERE id = ?1",
                rusqlite::params![run_id],
                |r| r.get(0),
            )
            .ok();
        if status.as_deref() == Some("cancelled") {
            return Ok(None);
        }
        // An item for the same (run, step, attempt, kind) is never created twice.
        let existing: Option<i64> = tx
            .query_row(
                "SELECT id FROM proposals WHERE run_id = ?1 AND step_id = ?2 AND attempt = ?3 AND kind = ?4",
                rusqlite::params![run_id, step, attempt, kind.as_str()],
                |r| r.get(0),
            )
            .ok();
        if let Some(id) = existing {
            return Ok(Some(id));
        }
        let id: i64 = tx.query_row(notices::NEXT_INBOX_ID, [], |r| r.get(0))?;
        let ev = Event::ProposalCreated {
            proposal: id,
            step: step.to_string(),
            attempt,
            kind,
            summary,
            action,
            evidence,
        };
        append(&tx, run_id, &ev, at)?;
        project::apply(&tx, run_id, &ev, at)?;
        if let Some((due_at, on_timeout)) = deadline {
            let ev = Event::DeadlineSet {
                proposal: id,
                step: step.to_string(),
                due_at,
                on_timeout,
            };
            append(&tx, run_id, &ev, at)?;
            project::apply(&tx, run_id, &ev, at)?;
        }
        tx.commit()?;
        Ok(Some(id))
    }

    /// Record the operator's decision on an inbox item, once. The check and the write
    /// happen in one immediate transaction, so two deciders cannot both win.
    pub fn decide(&mut self, proposal: i64, decide: DecisionInput) -> Result<ProposalRecord> {
        let at = self.now();
        let tx = self.write_tx()?;
        let p = query::proposal(&tx, proposal)?;
        if matches!(
            p.status,
            ProposalStatus::Approved | ProposalStatus::Rejected
        ) {
            let when = p
                .decided_at
                .map(crate::clock::format_ms)
                .unwrap_or_default();
            let who = p.decided_by.clone().unwrap_or_else(|| "someone".into());
            return Err(Error::conflict(format!(
                "inbox item {} was already decided: {} by {who} at {when}",
                p.id,
                p.decision.map(|d| d.as_str()).unwrap_or(p.status.as_str()),
            ))
            .with_hint(format!("see what happened with: aios log {}", p.run_id)));
        }
        // A failure item is decided on its failed run; any other item needs a run
        // that is still going.
        let open_run = if p.kind == ProposalKind::Failure {
            p.run_status == RunStatus::Failed
        } else {
            !p.run_status.is_terminal()
        };
        if p.status != ProposalStatus::Pending || !open_run {
            return Err(not_decidable(&p));
        }
        let ev = Event::ProposalDecided {
            proposal,
            step: p.step_id.clone(),
            decision: decide.decision,
            reason: decide.reason,
            fields: decide.fields,
            edited: decide.edited,
            diff: decide.diff,
            by: decide.by,
        };
        append(&tx, p.run_id, &ev, at)?;
        project::apply(&tx, p.run_id, &ev, at)?;
        let p = query::proposal(&tx, proposal)?;
        trust::demote_on_decision(&tx, &p, at)?;
        tx.commit()?;
        Ok(p)
    }
}

/// Why an item that was withdrawn, or whose run ended, cannot be decided: the run's
/// state and the way on.
fn not_decidable(p: &ProposalRecord) -> Error {
    let (id, run) = (p.id, p.run_id);
    let state = match p.run_status {
        RunStatus::Failed => format!("run {run} failed"),
        RunStatus::Cancelled => format!("run {run} was cancelled"),
        s => format!("run {run} {s}"),
    };
    let err = match (p.status, &p.reason) {
        (ProposalStatus::Withdrawn, Some(why)) => Error::conflict(format!(
            "inbox item {id} was withdrawn ({why}); it can no longer be decided"
        )),
        _ => Error::conflict(format!(
            "{state}; its inbox item {id} can no longer be decided"
        )),
    };
    match p.run_status {
        RunStatus::Failed => err.with_hint(format!(
            "continue the run with `aios resume {run}` (the items its steps wait on come back to the inbox), or see why it failed with: aios show {run}"
        )),
        RunStatus::Cancelled => err.with_hint(format!(
            "a cancelled run does not go on; see it with: aios show {run}"
        )),
        _ => err.with_hint(format!("see what happened with: aios log {run}")),
    }
}

fn lock_gate(gate: Option<&WriteGate>) -> Option<std::sync::MutexGuard<'_, ()>> {
    // A panic while holding the gate leaves no half-written state (the transaction
    // rolled back), so a poisoned gate is still usable.
    gate.map(|g| {
        g.0.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    })
}

/// What `decide` records.
#[derive(Debug, Clone)]
pub struct DecisionInput {
    pub decision: Decision,
    pub reason: Option<String>,
    pub fields: Option<serde_json::Value>,
    pub edited: Option<serde_json::Value>,
    pub diff: Option<String>,
    pub by: String,
}

fn append(tx: &rusqlite::Transaction<'_>, run_id: i64, ev: &Event, at: Millis) -> Result<i64> {
    let data = serde_json::to_string(ev)?;
    let mut stmt = tx.prepare_cached(
        "INSERT INTO events (run_id, step_id, type, data, at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    stmt.execute(rusqlite::params![
        run_id,
        ev.step(),
        ev.type_name(),
        data,
        at
    ])?;
    Ok(tx.last_insert_rowid())
}

/// The id of a new run: one past every run there is or was (dry runs removed by
/// `aios runs --dry --prune` included, so an id never names two runs).
pub(super) fn next_run_id(tx: &Connection) -> Result<i64> {
    Ok(tx.query_row(
        "SELECT max(coalesce((SELECT max(id) FROM runs), 0),
                    coalesce((SELECT last_run FROM dry_pruned WHERE id = 1), 0)) + 1",
        [],
        |r| r.get(0),
    )?)
}
