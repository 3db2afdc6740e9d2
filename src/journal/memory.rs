//! Memory storage: versioned facts, searchable documents (notes, decisions, outcomes),
//! their full-text index (FTS5, bm25) and embedding vectors. The SQL of the memory
//! module lives here, like every other SQL of the crate.
//!
//! What a run writes (a `fact` or `remember` step, an outcome) is an [`Event`] of
//! that run, applied by [`apply`] in the same transaction as it is appended. What
//! the operator writes outside any run (`aios fact set`, `aios memory add`) is
//! recorded directly in the memory tables, which are append-only for facts.
//! Decisions are indexed from their `proposal_decided` events, not copied by hand.

use rusqlite::{OptionalExtension, Row, Transaction, params};
use serde::Serialize;
use serde_json::Value as Json;

use super::SqliteJournal;
use super::memory_common::{
    Alloc, Allocate, RecordedRow, TombstoneRow, compare_recorded_facts, compare_tombstones,
    refuse_write, tombstone_version,
};
use super::types::{Decision, Event};
use crate::clock::Millis;
use crate::error::{Error, Result};

/// One version of a fact.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FactRecord {
    pub entity: String,
    pub key: String,
    pub version: i64,
    pub value: Json,
    /// `manual`, `run` or `decision`.
    pub source: String,
    pub run_id: Option<i64>,
    pub step_id: Option<String>,
    pub proposal_id: Option<i64>,
    pub note: Option<String>,
    pub set_by: Option<String>,
    pub at: Millis,
    /// A tombstone (`aios fact unset`): the fact has no value from this version on.
    pub unset: bool,
}

/// Where a manually set fact comes from.
#[derive(Debug, Clone, Default)]
pub struct FactOrigin {
    /// An inbox item whose decision this fact records (provenance `decision`).
    pub proposal: Option<i64>,
    pub note: Option<String>,
    pub by: Option<String>,
}

/// A searchable document: a note, a decision or an outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DocRecord {
    pub id: i64,
    /// `note`, `decision` or `outcome`.
    pub kind: String,
    pub text: String,
    pub tags: Vec<String>,
    pub source: Option<String>,
    pub run_id: Option<i64>,
    pub step_id: Option<String>,
    pub workflow: Option<String>,
    pub proposal_id: Option<i64>,
    pub decision: Option<String>,
    pub created_at: Millis,
}

/// A note to add outside any run.
#[derive(Debug, Clone)]
pub struct NewNote {
    pub text: String,
    pub tags: Vec<String>,
    pub source: Option<String>,
}

/// An outcome value of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutcomeRecord {
    pub key: String,
    pub value: Json,
    pub step_id: Option<String>,
    pub at: Millis,
}

/// A stored embedding.
#[derive(Debug, Clone)]
pub struct VectorRow {
    pub doc: i64,
    pub model: String,
    pub vec: Vec<f32>,
    pub sketch: Vec<u8>,
}

const FACT_COLS: &str =
    "entity, key, version, value, source, run_id, step_id, proposal_id, note, set_by, at, unset";

/// The current version of each (entity, key) of the rows `f`, when it is not a
/// tombstone (an SQL condition on alias `f`).
const CURRENT_LIVE: &str = "f.version = (SELECT max(version) FROM fact_versions g WHERE g.entity = f.entity AND g.key = f.key)
               AND f.unset = 0";

fn fact_row(r: &Row<'_>) -> rusqlite::Result<FactRecord> {
    let value: String = r.get(3)?;
    Ok(FactRecord {
        entity: r.get(0)?,
        key: r.get(1)?,
        version: r.get(2)?,
        value: serde_json::from_str(&value).unwrap_or(Json::String(value)),
        source: r.get(4)?,
        run_id: r.get(5)?,
        step_id: r.get(6)?,
        proposal_id: r.get(7)?,
        note: r.get(8)?,
        set_by: r.get(9)?,
        at: r.get(10)?,
        unset: r.get(11)?,
    })
}

pub(super) const DOC_COLS: &str =
    "d.id, d.kind, d.text, d.tags, d.source, d.run_id, d.step_id, d.workflow,
    d.proposal_id, d.decision, d.created_at";

pub(super) fn doc_row(r: &Row<'_>) -> rusqlite::Result<DocRecord> {
    let tags: String = r.get(3)?;
    Ok(DocRecord {
        id: r.get(0)?,
        kind: r.get(1)?,
        text: r.get(2)?,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        source: r.get(4)?,
        run_id: r.get(5)?,
        step_id: r.get(6)?,
        workflow: r.get(7)?,
        proposal_id: r.get(8)?,
        decision: r.get(9)?,
        created_at: r.get(10)?,
    })
}

pub(super) fn tags_json(tags: &[String]) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "[]".into())
}

/// The current version of (entity, key) inside a transaction.
fn current_version(conn: &rusqlite::Connection, entity: &str, key: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT max(version) FROM fact_versions WHERE entity = ?1 AND key = ?2")?
        .query_row(params![entity, key], |r| r.get::<_, Option<i64>>(0))?)
}

/// The next note id: never reuses the id of a forgotten note.
fn next_doc_id(conn: &rusqlite::Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'memory_docs'), 0),
                    coalesce((SELECT max(id) FROM memory_docs), 0)) + 1",
        [],
        |r| r.get(0),
    )?)
}

fn workflow_of(tx: &Transaction<'_>, run: i64) -> Result<Option<String>> {
    Ok(tx
        .prepare_cached("SELECT workflow FROM runs WHERE id = ?1")?
        .query_row(params![run], |r| r.get(0))
        .optional()?)
}

/// The text a decision is indexed with. The same shape is built in SQL by
/// migration 0003 for decisions taken before it.
pub fn decision_text(
    decision: &str,
    step: &str,
    summary: &str,
    reason: Option<&str>,
    diff: Option<&str>,
) -> String {
    let mut s = format!("{decision} {step}: {summary}");
    if let Some(r) = reason {
        s.push_str(&format!("\nreason: {r}"));
    }
    if let Some(d) = diff {
        s.push_str(&format!("\nedit:\n{d}"));
    }
    s
}

/// `key=value key=value` of an outcome's values (strings unquoted).
pub fn outcome_text(values: &Json) -> String {
    match values {
        Json::Object(m) => m
            .iter()
            .map(|(k, v)| match v {
                Json::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}

/// Index a decision as a searchable document (called from the projection of
/// `proposal_decided`).
pub(super) fn index_decision(
    tx: &Transaction<'_>,
    run: i64,
    proposal: i64,
    decision: Decision,
    reason: &Option<String>,
    diff: &Option<String>,
    at: Millis,
) -> Result<()> {
    let (step, summary, workflow): (String, String, String) = tx
        .prepare_cached(
            "SELECT p.step_id, p.summary, r.workflow FROM proposals p JOIN runs r ON r.id = p.run_id WHERE p.id = ?1",
        )?
        .query_row(params![proposal], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let text = decision_text(
        decision.as_str(),
        &step,
        &summary,
        reason.as_deref(),
        diff.as_deref(),
    );
    tx.prepare_cached(
        "INSERT INTO memory_docs (kind, text, tags, source, run_id, step_id, workflow, proposal_id, decision, created_at)
         VALUES ('decision', ?1, '[]', 'decision', ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![text, run, step, workflow, proposal, decision.as_str(), at])?;
    Ok(())
}

/// Apply a memory event of run `run` to the memory tables.
pub(super) fn apply(tx: &Transaction<'_>, run: i64, ev: &Event, at: Millis) -> Result<()> {
    match ev {
        Event::FactSet {
            step,
            entity,
            key,
            value,
            version,
        } => {
            tx.prepare_cached(
                "INSERT INTO fact_versions (entity, key, version, value, source, run_id, step_id, at)
                 VALUES (?1, ?2, ?3, ?4, 'run', ?5, ?6, ?7)",
            )?
            .execute(params![entity, key, version, value.to_string(), run, step, at])?;
        }
        Event::FactRecorded {
            entity,
            key,
            value,
            version,
            source,
            run,
            step,
            proposal,
            by,
            note,
        } => {
            tx.prepare_cached(
                "INSERT INTO fact_versions (entity, key, version, value, source, run_id, step_id, proposal_id, note, set_by, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                entity,
                key,
                version,
                value.to_string(),
                source,
                run,
                step,
                proposal,
                note,
                by,
                at
            ])?;
        }
        Event::FactUnset {
            entity,
            key,
            version,
            by,
            note,
        } => {
            tx.prepare_cached(
                "INSERT INTO fact_versions (entity, key, version, value, source, note, set_by, at, unset)
                 VALUES (?1, ?2, ?3, 'null', 'manual', ?4, ?5, ?6, 1)",
            )?
            .execute(params![entity, key, version, note, by, at])?;
        }
        Event::NoteAdded {
            step,
            note,
            text,
            tags,
        } => {
            let workflow = workflow_of(tx, run)?;
            tx.prepare_cached(
                "INSERT INTO memory_docs (id, kind, text, tags, source, run_id, step_id, workflow, created_at)
                 VALUES (?1, 'note', ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                note,
                text,
                tags_json(tags),
                format!("run {run}/{step}"),
                run,
                step,
                workflow,
                at
            ])?;
        }
        Event::NoteForgotten { note } => {
            tx.prepare_cached("DELETE FROM memory_docs WHERE id = ?1 AND run_id = ?2")?
                .execute(params![note, run])?;
        }
        Event::OutcomeRecorded { step, values } => {
            let workflow = workflow_of(tx, run)?;
            if let Json::Object(m) = values {
                let mut stmt = tx.prepare_cached(
                    "INSERT OR REPLACE INTO outcomes (run_id, key, value, step_id, at) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for (k, v) in m {
                    stmt.execute(params![run, k, v.to_string(), step, at])?;
                }
            }
            let text = format!(
                "outcome of run {run} ({}): {}",
                workflow.as_deref().unwrap_or("?"),
                outcome_text(values)
            );
            tx.prepare_cached(
                "INSERT INTO memory_docs (kind, text, tags, source, run_id, step_id, workflow, created_at)
                 VALUES ('outcome', ?1, '[]', 'outcome', ?2, ?3, ?4, ?5)",
            )?
            .execute(params![text, run, step, workflow, at])?;
        }
        _ => {}
    }
    Ok(())
}

/// SQLite's numbers for [`Alloc`]: read in the write transaction, which holds the
/// database's write lock.
struct SqliteAlloc<'t> {
    tx: &'t Transaction<'t>,
}

impl Allocate for SqliteAlloc<'_> {
    fn next_fact_version(&self, entity: &str, key: &str) -> Result<i64> {
        Ok(current_version(self.tx, entity, key)?.unwrap_or(0) + 1)
    }

    fn next_note_id(&self) -> Result<i64> {
        next_doc_id(self.tx)
    }
}

impl SqliteJournal {
    /// Build events from numbers allocated in the same transaction (fact versions,
    /// note ids), append them for `run_id` and apply them, atomically. Returns the
    /// events as committed. Nothing is written for a cancelled run.
    pub fn commit_allocated(
        &mut self,
        run_id: i64,
        build: impl FnOnce(&Alloc<'_>) -> Result<Vec<Event>>,
    ) -> Result<Vec<Event>> {
        let at = self.now();
        let tx = self.write_tx()?;
        let status: Option<String> = tx
            .prepare_cached("SELECT status FROM runs WHERE id = ?1")?
            .query_row(params![run_id], |r| r.get(0))
            .optional()?;
        refuse_write(run_id, status.as_deref())?;
        let events = build(&Alloc::new(&SqliteAlloc { tx: &tx }))?;
        for ev in &events {
            super::append(&tx, run_id, ev, at)?;
            super::project::apply(&tx, run_id, ev, at)?;
        }
        tx.commit()?;
        Ok(events)
    }

    /// Set a fact outside any run (provenance `manual`, or `decision` when it names
    /// an inbox item). Returns the new version.
    pub fn set_fact(
        &mut self,
        entity: &str,
        key: &str,
        value: &Json,
        origin: FactOrigin,
    ) -> Result<FactRecord> {
        let at = self.now();
        let tx = self.write_tx()?;
        let (source, run, step) = match origin.proposal {
            Some(p) => {
                let (run, step): (i64, String) = tx
                    .prepare_cached("SELECT run_id, step_id FROM proposals WHERE id = ?1")?
                    .query_row(params![p], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?
                    .ok_or_else(|| {
                        Error::not_found(format!("no inbox item {p}"))
                            .with_hint("list decided items with: aios inbox list --all")
                    })?;
                ("decision", Some(run), Some(step))
            }
            None => ("manual", None, None),
        };
        let version = current_version(&tx, entity, key)?.unwrap_or(0) + 1;
        // An event of run 0 (it belongs to no run's steps), projected in the same
        // transaction: replay rebuilds the version from it.
        let ev = Event::FactRecorded {
            entity: entity.to_string(),
            key: key.to_string(),
            value: value.clone(),
            version,
            source: source.to_string(),
            run,
            step,
            proposal: origin.proposal,
            by: origin.by,
            note: origin.note,
        };
        super::append(&tx, 0, &ev, at)?;
        super::project::apply(&tx, 0, &ev, at)?;
        tx.commit()?;
        Ok(self
            .fact(entity, key)?
            .expect("the version just written is current"))
    }

    /// The current version of one fact.
    pub fn fact(&self, entity: &str, key: &str) -> Result<Option<FactRecord>> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {FACT_COLS} FROM fact_versions WHERE entity = ?1 AND key = ?2
                 ORDER BY version DESC LIMIT 1"
            ))?
            .query_row(params![entity, key], fact_row)
            .optional()?)
    }

    /// The current version number of one fact (for staleness checks).
    pub fn fact_version(&self, entity: &str, key: &str) -> Result<Option<i64>> {
        current_version(&self.conn, entity, key)
    }

    /// The current value of every key of `entity`, by key.
    pub fn facts(&self, entity: &str) -> Result<Vec<FactRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {FACT_COLS} FROM fact_versions f WHERE entity = ?1 AND {CURRENT_LIVE} ORDER BY key"
        ))?;
        let rows = stmt.query_map(params![entity], fact_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Every version of one fact, oldest first.
    pub fn fact_history(&self, entity: &str, key: &str) -> Result<Vec<FactRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {FACT_COLS} FROM fact_versions WHERE entity = ?1 AND key = ?2 ORDER BY version"
        ))?;
        let rows = stmt.query_map(params![entity, key], fact_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Entities that have facts with a current value, sorted.
    pub fn fact_entities(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT DISTINCT entity FROM fact_versions f WHERE {CURRENT_LIVE} ORDER BY entity"
        ))?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The current value of every fact of every entity, by entity and key.
    pub fn all_facts(&self) -> Result<Vec<FactRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {FACT_COLS} FROM fact_versions f WHERE {CURRENT_LIVE} ORDER BY entity, key"
        ))?;
        let rows = stmt.query_map([], fact_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Unset a fact (`aios fact unset`): append a tombstone version, journaled as a
    /// `fact_unset` event under run 0. The fact must have a current value.
    pub fn unset_fact(
        &mut self,
        entity: &str,
        key: &str,
        by: &str,
        note: Option<String>,
    ) -> Result<FactRecord> {
        let at = self.now();
        let tx = self.write_tx()?;
        let current = tx
            .prepare_cached(&format!(
                "SELECT {FACT_COLS} FROM fact_versions WHERE entity = ?1 AND key = ?2
                 ORDER BY version DESC LIMIT 1"
            ))?
            .query_row(params![entity, key], fact_row)
            .optional()?;
        let version = tombstone_version(entity, key, current)?;
        let ev = Event::FactUnset {
            entity: entity.to_string(),
            key: key.to_string(),
            version,
            by: by.to_string(),
            note,
        };
        super::append(&tx, 0, &ev, at)?;
        super::project::apply(&tx, 0, &ev, at)?;
        tx.commit()?;
        Ok(self
            .fact(entity, key)?
            .expect("the tombstone just written is current"))
    }

    /// Rebuild the fact tombstones from their `fact_unset` events (run 0) and
    /// compare them with the stored ones: the number of events, and differences.
    pub fn replay_fact_tombstones(&self) -> Result<(usize, Vec<String>)> {
        let mut stmt = self.conn.prepare(
            "SELECT entity, key, version, set_by, note, at FROM fact_versions
             WHERE unset = 1 ORDER BY entity, key, version",
        )?;
        let stored = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<TombstoneRow>>>()?;
        Ok(compare_tombstones(self.events(0)?, stored))
    }

    /// Rebuild the facts the operator set outside any run from their
    /// `fact_recorded` events (run 0) and compare them with the stored versions
    /// (sources `manual` and `decision`): the number of events, and differences.
    pub fn replay_recorded_facts(&self) -> Result<(usize, Vec<String>)> {
        let mut stmt = self.conn.prepare(
            "SELECT entity, key, version, value, source, run_id, step_id FROM fact_versions
             WHERE unset = 0 AND source IN ('manual', 'decision') ORDER BY entity, key, version",
        )?;
        let stored = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<RecordedRow>>>()?;
        Ok(compare_recorded_facts(self.events(0)?, stored))
    }

    /// Add notes outside any run, in one transaction. Returns their ids.
    pub fn add_notes(&mut self, notes: &[NewNote]) -> Result<Vec<i64>> {
        let at = self.now();
        let tx = self.write_tx()?;
        let mut ids = Vec::with_capacity(notes.len());
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO memory_docs (kind, text, tags, source, created_at) VALUES ('note', ?1, ?2, ?3, ?4)",
            )?;
            for n in notes {
                stmt.execute(params![
                    n.text,
                    tags_json(&n.tags),
                    n.source.as_deref().unwrap_or("manual"),
                    at
                ])?;
                ids.push(tx.last_insert_rowid());
            }
        }
        tx.commit()?;
        Ok(ids)
    }
}

/// A read-only handle on the facts for templates (`facts["entity"].key`): its own
/// connection, opened on first use, so rendering never borrows the journal. On
/// PostgreSQL each read takes a connection of the journal's pool.
#[derive(Debug)]
pub struct FactReader {
    path: Option<std::path::PathBuf>,
    conn: std::sync::Mutex<Option<rusqlite::Connection>>,
    pg: Option<(super::pg::PgPool, crate::clock::Clock)>,
}

impl FactReader {
    /// A reader of the SQLite journal at `path` (without one, every read fails).
    pub fn new(path: Option<&std::path::Path>) -> FactReader {
        FactReader {
            path: path.map(std::path::Path::to_path_buf),
            conn: std::sync::Mutex::new(None),
            pg: None,
        }
    }

    /// A reader of the journal on PostgreSQL behind `pool`.
    pub fn postgres(pool: super::pg::PgPool, clock: crate::clock::Clock) -> FactReader {
        FactReader {
            path: None,
            conn: std::sync::Mutex::new(None),
            pg: Some((pool, clock)),
        }
    }

    /// The current facts of `entity` (empty when it has none).
    pub fn facts(&self, entity: &str) -> Result<Vec<FactRecord>> {
        if let Some((pool, clock)) = &self.pg {
            use super::store::MemoryStore;
            return pool.journal(*clock)?.facts(entity);
        }
        let Some(path) = &self.path else {
            return Err(Error::other("this fact reader has no journal"));
        };
        let mut guard = self
            .conn
            .lock()
            .map_err(|_| Error::other("the fact reader was poisoned"))?;
        if guard.is_none() {
            let c = rusqlite::Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            c.busy_timeout(std::time::Duration::from_secs(5))?;
            *guard = Some(c);
        }
        let conn = guard.as_ref().expect("just opened");
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {FACT_COLS} FROM fact_versions f WHERE entity = ?1 AND {CURRENT_LIVE} ORDER BY key"
        ))?;
        let rows = stmt.query_map(params![entity], fact_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}
