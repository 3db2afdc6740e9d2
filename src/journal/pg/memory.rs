//! Memory on PostgreSQL: `journal::memory` — versioned facts (set by a run's `fact`
//! step, by hand or from a decision as `fact_recorded` events of run 0, unset as
//! `fact_unset` tombstones), the numbers a memory step is handed in its transaction,
//! notes, and how the memory events and decisions are projected. The writers of one
//! fact take turns on an advisory lock on it, so a version is handed out once. The
//! reads for search (documents, full text, vectors, outcomes) are in
//! `memory_search.rs`; [`MemoryStore`] is implemented here for both.

use std::cell::RefCell;

use postgres::{GenericClient, Row, Transaction};
use serde_json::Value as Json;

use super::PgJournal;
use super::memory_search as search;
use super::project::{append, apply};
use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::journal::memory::{decision_text, outcome_text, tags_json};
use crate::journal::memory_common::{
    Alloc, Allocate, compare_recorded_facts, compare_tombstones, forgettable, refuse_write,
    tombstone_version,
};
use crate::journal::store::{MemoryStore, RunStore};
use crate::journal::types::*;
use crate::journal::{DocRecord, FactOrigin, FactRecord, NewNote, OutcomeRecord, VectorRow};

const FACT_COLS: &str =
    "entity, key, version, value, source, run_id, step_id, proposal_id, note, set_by, at, unset";

/// The current version of each (entity, key) of the rows `f`, when it is not a
/// tombstone (an SQL condition on alias `f`).
const CURRENT_LIVE: &str = "f.version = (SELECT max(version) FROM fact_versions g WHERE g.entity = f.entity AND g.key = f.key)
               AND NOT f.unset";

/// The advisory lock namespace of fact writes (see `pg::schedule` for the others).
const FACT_LOCK: i32 = 1_634_299_770;

fn fact_row(r: &Row) -> FactRecord {
    let value: String = r.get(3);
    FactRecord {
        entity: r.get(0),
        key: r.get(1),
        version: r.get(2),
        value: serde_json::from_str(&value).unwrap_or(Json::String(value)),
        source: r.get(4),
        run_id: r.get(5),
        step_id: r.get(6),
        proposal_id: r.get(7),
        note: r.get(8),
        set_by: r.get(9),
        at: r.get(10),
        unset: r.get(11),
    }
}

/// Take the turn of (entity, key)'s writers until the transaction ends.
fn lock_fact(tx: &mut Transaction<'_>, entity: &str, key: &str) -> Result<()> {
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2 || chr(31) || $3))",
        &[&FACT_LOCK, &entity, &key],
    )?;
    Ok(())
}

fn current_version(c: &mut impl GenericClient, entity: &str, key: &str) -> Result<Option<i64>> {
    Ok(c.query_one(
        "SELECT max(version) FROM fact_versions WHERE entity = $1 AND key = $2",
        &[&entity, &key],
    )?
    .get(0))
}

/// The latest version of (entity, key), tombstone or not.
fn latest(c: &mut impl GenericClient, entity: &str, key: &str) -> Result<Option<FactRecord>> {
    Ok(c.query_opt(
        &format!(
            "SELECT {FACT_COLS} FROM fact_versions WHERE entity = $1 AND key = $2
             ORDER BY version DESC LIMIT 1"
        ),
        &[&entity, &key],
    )?
    .map(|r| fact_row(&r)))
}

fn workflow_of(tx: &mut Transaction<'_>, run: i64) -> Result<Option<String>> {
    Ok(tx
        .query_opt("SELECT workflow FROM runs WHERE id = $1", &[&run])?
        .map(|r| r.get(0)))
}

/// Index a decision as a searchable document (the projection of `proposal_decided`,
/// as SQLite's `memory::index_decision`).
pub(super) fn index_decision(
    tx: &mut Transaction<'_>,
    run: i64,
    proposal: i64,
    decision: Decision,
    reason: &Option<String>,
    diff: &Option<String>,
    at: Millis,
) -> Result<()> {
    let row = tx.query_one(
        "SELECT p.step_id, p.summary, r.workflow FROM proposals p JOIN runs r ON r.id = p.run_id WHERE p.id = $1",
        &[&proposal],
    )?;
    let (step, summary, workflow): (String, String, String) = (row.get(0), row.get(1), row.get(2));
    let text = decision_text(
        decision.as_str(),
        &step,
        &summary,
        reason.as_deref(),
        diff.as_deref(),
    );
    tx.execute(
        "INSERT INTO memory_docs (kind, text, tags, source, run_id, step_id, workflow, proposal_id, decision, created_at)
         VALUES ('decision', $1, '[]', 'decision', $2, $3, $4, $5, $6, $7)",
        &[&text, &run, &step, &workflow, &proposal, &decision.as_str(), &at],
    )?;
    Ok(())
}

/// How a memory event of run `run` changes the memory tables (SQLite's
/// `memory::apply`).
pub(super) fn project(tx: &mut Transaction<'_>, run: i64, ev: &Event, at: Millis) -> Result<()> {
    match ev {
        Event::FactSet {
            step,
            entity,
            key,
            value,
            version,
        } => {
            tx.execute(
                "INSERT INTO fact_versions (entity, key, version, value, source, run_id, step_id, at)
                 VALUES ($1, $2, $3, $4, 'run', $5, $6, $7)",
                &[entity, key, version, &value.to_string(), &run, step, &at],
            )?;
        }
        Event::FactRecorded {
            entity,
            key,
            value,
            version,
            source,
            run: of_run,
            step,
            proposal,
            by,
            note,
        } => {
            tx.execute(
                "INSERT INTO fact_versions (entity, key, version, value, source, run_id, step_id, proposal_id, note, set_by, at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                &[
                    entity,
                    key,
                    version,
                    &value.to_string(),
                    source,
                    of_run,
                    step,
                    proposal,
                    note,
                    by,
                    &at,
                ],
            )?;
        }
        Event::FactUnset {
            entity,
            key,
            version,
            by,
            note,
        } => {
            tx.execute(
                "INSERT INTO fact_versions (entity, key, version, value, source, note, set_by, at, unset)
                 VALUES ($1, $2, $3, 'null', 'manual', $4, $5, $6, true)",
                &[entity, key, version, note, by, &at],
            )?;
        }
        Event::NoteAdded {
            step,
            note,
            text,
            tags,
        } => {
            let workflow = workflow_of(tx, run)?;
            tx.execute(
                "INSERT INTO memory_docs (id, kind, text, tags, source, run_id, step_id, workflow, created_at)
                 VALUES ($1, 'note', $2, $3, $4, $5, $6, $7, $8)",
                &[
                    note,
                    text,
                    &tags_json(tags),
                    &format!("run {run}/{step}"),
                    &run,
                    step,
                    &workflow,
                    &at,
                ],
            )?;
        }
        Event::NoteForgotten { note } => {
            tx.execute(
                "DELETE FROM memory_docs WHERE id = $1 AND run_id = $2",
                &[note, &run],
            )?;
        }
        Event::OutcomeRecorded { step, values } => {
            let workflow = workflow_of(tx, run)?;
            if let Json::Object(m) = values {
                let stmt = tx.prepare(
                    "INSERT INTO outcomes (run_id, key, value, step_id, at) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (run_id, key) DO UPDATE SET value = $3, step_id = $4, at = $5",
                )?;
                for (k, v) in m {
                    tx.execute(&stmt, &[&run, k, &v.to_string(), step, &at])?;
                }
            }
            let text = format!(
                "outcome of run {run} ({}): {}",
                workflow.as_deref().unwrap_or("?"),
                outcome_text(values)
            );
            tx.execute(
                "INSERT INTO memory_docs (kind, text, tags, source, run_id, step_id, workflow, created_at)
                 VALUES ('outcome', $1, '[]', 'outcome', $2, $3, $4, $5)",
                &[&text, &run, step, &workflow, &at],
            )?;
        }
        _ => {}
    }
    Ok(())
}

/// PostgreSQL's numbers for [`Alloc`]: a fact's next version read under the fact's
/// lock (held until the transaction ends), note ids from the documents' sequence.
struct PgAlloc<'a, 'c> {
    tx: RefCell<&'a mut Transaction<'c>>,
}

impl Allocate for PgAlloc<'_, '_> {
    fn next_fact_version(&self, entity: &str, key: &str) -> Result<i64> {
        let mut tx = self.tx.borrow_mut();
        lock_fact(&mut tx, entity, key)?;
        Ok(current_version(&mut **tx, entity, key)?.unwrap_or(0) + 1)
    }

    fn next_note_id(&self) -> Result<i64> {
        Ok(self
            .tx
            .borrow_mut()
            .query_one("SELECT nextval('memory_doc_ids')", &[])?
            .get(0))
    }
}

impl PgJournal {
    /// Append and project `ev` of run 0 (a fact write outside any run), and read the
    /// version it wrote, in `tx`.
    fn record_fact(tx: &mut Transaction<'_>, ev: &Event, at: Millis) -> Result<FactRecord> {
        append(tx, 0, ev, at)?;
        apply(tx, 0, ev, at)?;
        let (Event::FactRecorded {
            entity,
            key,
            version,
            ..
        }
        | Event::FactUnset {
            entity,
            key,
            version,
            ..
        }) = ev
        else {
            return Err(Error::other("only fact events record a fact version"));
        };
        let row = tx.query_one(
            &format!("SELECT {FACT_COLS} FROM fact_versions WHERE entity = $1 AND key = $2 AND version = $3"),
            &[entity, key, version],
        )?;
        Ok(fact_row(&row))
    }

    fn facts_where(
        &self,
        cond: &str,
        order: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<FactRecord>> {
        let sql = format!("SELECT {FACT_COLS} FROM fact_versions f WHERE {cond} ORDER BY {order}");
        Ok(self
            .conn()
            .query(&sql, params)?
            .iter()
            .map(fact_row)
            .collect())
    }
}

impl MemoryStore for PgJournal {
    fn commit_allocated(
        &mut self,
        run_id: i64,
        build: impl FnOnce(&Alloc<'_>) -> Result<Vec<Event>>,
    ) -> Result<Vec<Event>> {
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        // The run's row, locked like every commit of the run: no write to a run
        // another process cancelled.
        let status = super::runs::lock_run(&mut tx, run_id)?;
        refuse_write(run_id, status.as_deref())?;
        let events = {
            let alloc = PgAlloc {
                tx: RefCell::new(&mut tx),
            };
            build(&Alloc::new(&alloc))?
        };
        for ev in &events {
            append(&mut tx, run_id, ev, at)?;
            apply(&mut tx, run_id, ev, at)?;
        }
        tx.commit()?;
        Ok(events)
    }

    fn set_fact(
        &mut self,
        entity: &str,
        key: &str,
        value: &Json,
        origin: FactOrigin,
    ) -> Result<FactRecord> {
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        let (source, run, step) = match origin.proposal {
            Some(p) => {
                let row = tx
                    .query_opt("SELECT run_id, step_id FROM proposals WHERE id = $1", &[&p])?
                    .ok_or_else(|| {
                        Error::not_found(format!("no inbox item {p}"))
                            .with_hint("list decided items with: aios inbox list --all")
                    })?;
                (
                    "decision",
                    Some(row.get::<_, i64>(0)),
                    Some(row.get::<_, String>(1)),
                )
            }
            None => ("manual", None, None),
        };
        lock_fact(&mut tx, entity, key)?;
        let version = current_version(&mut *tx, entity, key)?.unwrap_or(0) + 1;
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
        let fact = Self::record_fact(&mut tx, &ev, at)?;
        tx.commit()?;
        Ok(fact)
    }

    fn fact(&self, entity: &str, key: &str) -> Result<Option<FactRecord>> {
        latest(&mut *self.conn(), entity, key)
    }

    fn fact_version(&self, entity: &str, key: &str) -> Result<Option<i64>> {
        current_version(&mut *self.conn(), entity, key)
    }

    fn facts(&self, entity: &str) -> Result<Vec<FactRecord>> {
        self.facts_where(
            &format!("f.entity = $1 AND {CURRENT_LIVE}"),
            r#"f.key COLLATE "C""#,
            &[&entity],
        )
    }

    fn fact_history(&self, entity: &str, key: &str) -> Result<Vec<FactRecord>> {
        self.facts_where(
            "f.entity = $1 AND f.key = $2",
            "f.version",
            &[&entity, &key],
        )
    }

    fn fact_entities(&self) -> Result<Vec<String>> {
        let rows = self.conn().query(
            &format!(
                r#"SELECT DISTINCT entity COLLATE "C" FROM fact_versions f WHERE {CURRENT_LIVE} ORDER BY 1"#
            ),
            &[],
        )?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn add_notes(&mut self, notes: &[NewNote]) -> Result<Vec<i64>> {
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        let stmt = tx.prepare(
            "INSERT INTO memory_docs (kind, text, tags, source, created_at) VALUES ('note', $1, $2, $3, $4)
             RETURNING id",
        )?;
        let mut ids = Vec::with_capacity(notes.len());
        for n in notes {
            let row = tx.query_one(
                &stmt,
                &[
                    &n.text,
                    &tags_json(&n.tags),
                    &n.source.as_deref().unwrap_or("manual"),
                    &at,
                ],
            )?;
            ids.push(row.get(0));
        }
        tx.commit()?;
        Ok(ids)
    }

    fn doc(&self, id: i64) -> Result<Option<DocRecord>> {
        search::doc(&mut *self.conn(), id)
    }

    fn docs(&self, ids: &[i64]) -> Result<Vec<DocRecord>> {
        search::docs(&mut *self.conn(), ids)
    }

    fn forget_note(&mut self, id: i64) -> Result<DocRecord> {
        let doc = forgettable(id, self.doc(id)?)?;
        match doc.run_id {
            // A note a run wrote is forgotten through an event of that run.
            Some(run) => {
                self.commit(run, &[Event::NoteForgotten { note: id }])?;
            }
            None => {
                self.conn()
                    .execute("DELETE FROM memory_docs WHERE id = $1", &[&id])?;
            }
        }
        Ok(doc)
    }

    fn search_fts(
        &self,
        query: &str,
        limit: usize,
        kinds: &[&str],
    ) -> Result<Vec<(DocRecord, f64)>> {
        search::search_fts(&mut *self.conn(), query, limit, kinds)
    }

    fn term_doc_counts(&self, words: &[String]) -> Result<(i64, Vec<i64>)> {
        search::term_doc_counts(&mut *self.conn(), words)
    }

    fn doc_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows = self.conn().query(
            r#"SELECT kind COLLATE "C", count(*) FROM memory_docs GROUP BY 1 ORDER BY 1"#,
            &[],
        )?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn put_vectors(&mut self, rows: &[VectorRow]) -> Result<()> {
        search::put_vectors(&mut self.conn(), rows)
    }

    fn docs_missing_vectors(&self, model: &str, limit: usize) -> Result<Vec<(i64, String)>> {
        search::docs_missing_vectors(&mut *self.conn(), model, limit)
    }

    fn scan_sketches(&self, f: impl FnMut(i64, &[u8])) -> Result<()> {
        search::scan_sketches(&mut self.conn(), f)
    }

    fn vectors(&self, docs: &[i64], model: &str) -> Result<Vec<(i64, Vec<f32>)>> {
        search::vectors(&mut *self.conn(), docs, model)
    }

    fn step_decisions(&self, workflow: &str, step: &str, limit: usize) -> Result<Vec<DocRecord>> {
        search::step_decisions(&mut *self.conn(), workflow, step, limit)
    }

    fn outcomes(&self, run: i64) -> Result<Vec<OutcomeRecord>> {
        search::outcomes(&mut *self.conn(), run)
    }

    fn all_facts(&self) -> Result<Vec<FactRecord>> {
        self.facts_where(
            CURRENT_LIVE,
            r#"f.entity COLLATE "C", f.key COLLATE "C""#,
            &[],
        )
    }

    fn unset_fact(
        &mut self,
        entity: &str,
        key: &str,
        by: &str,
        note: Option<String>,
    ) -> Result<FactRecord> {
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        lock_fact(&mut tx, entity, key)?;
        let current = latest(&mut *tx, entity, key)?;
        let version = tombstone_version(entity, key, current)?;
        let ev = Event::FactUnset {
            entity: entity.to_string(),
            key: key.to_string(),
            version,
            by: by.to_string(),
            note,
        };
        let fact = Self::record_fact(&mut tx, &ev, at)?;
        tx.commit()?;
        Ok(fact)
    }

    fn replay_fact_tombstones(&self) -> Result<(usize, Vec<String>)> {
        let stored = self
            .conn()
            .query(
                r#"SELECT entity, key, version, set_by, note, at FROM fact_versions
                   WHERE unset ORDER BY entity COLLATE "C", key COLLATE "C", version"#,
                &[],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
            .collect();
        Ok(compare_tombstones(self.events(0)?, stored))
    }

    fn replay_recorded_facts(&self) -> Result<(usize, Vec<String>)> {
        let stored = self
            .conn()
            .query(
                r#"SELECT entity, key, version, value, source, run_id, step_id FROM fact_versions
                   WHERE NOT unset AND source IN ('manual', 'decision')
                   ORDER BY entity COLLATE "C", key COLLATE "C", version"#,
                &[],
            )?
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    r.get(1),
                    r.get(2),
                    r.get(3),
                    r.get(4),
                    r.get(5),
                    r.get(6),
                )
            })
            .collect();
        Ok(compare_recorded_facts(self.events(0)?, stored))
    }

    fn notes(&self, tag: Option<&str>) -> Result<Vec<DocRecord>> {
        search::notes(&mut *self.conn(), tag)
    }

    fn list_docs(
        &self,
        kind: &str,
        tag: Option<&str>,
        workflow: Option<&str>,
        fts: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DocRecord>> {
        search::list_docs(&mut *self.conn(), kind, tag, workflow, fts, limit)
    }
}
