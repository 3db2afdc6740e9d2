//! Runs' upkeep on PostgreSQL: `journal::{replay, steer}` — replaying a run
//! (rebuilding its projections from its events in a transaction that is always
//! rolled back, and comparing them with the stored ones, as `aios replay` does on
//! SQLite), moving a run to a corrected workflow definition (`workflow_changed`,
//! projected here for `project.rs`), and pruning dry runs with their events.

use postgres::{GenericClient, Transaction};

use super::PgJournal;
use super::project::{append, apply};
use crate::error::{Error, Result};
use crate::journal::store::{RunStore, RunUpkeep};
use crate::journal::types::{Event, StepDecl};
use crate::journal::{Pruned, ReplayReport};

/// Each projection of a run: its name, and its rows as text in a stable order
/// (`$1`: the run). Ids the rebuild allocates anew (trust marks', LLM calls',
/// memory's decisions' and outcomes') are left out; their order is kept, memory's
/// documents excepted (compared in content order, as SQLite's replay does).
const SNAPSHOT: &[(&str, &str)] = &[
    (
        "runs",
        "SELECT json_build_array(id, uid, workflow, path, dir, source_hash, inputs, status, error,
                created_at, updated_at, finished_at, dry)::TEXT
         FROM runs WHERE id = $1",
    ),
    (
        "steps",
        "SELECT json_build_array(step_id, idx, kind, status, attempts, output, error, started_at,
                finished_at, wake_at, throttled_until, throttled_by, held)::TEXT
         FROM steps WHERE run_id = $1 ORDER BY idx",
    ),
    (
        "proposals",
        "SELECT json_build_array(id, step_id, attempt, kind, status, summary, action, evidence,
                decision, reason, fields, edited, diff, decided_by, decided_at, created_at, deadline,
                on_timeout, reminders)::TEXT
         FROM proposals WHERE run_id = $1 ORDER BY id",
    ),
    (
        "llm_calls",
        "SELECT json_build_array(step_id, attempt, alias, provider, model, request, response, error,
                tokens_in, tokens_out, cost_usd, latency_ms, http_attempts, heuristic, at,
                finish_reason, failure, persona)::TEXT
         FROM llm_calls WHERE run_id = $1 ORDER BY id",
    ),
    (
        "trust_marks",
        "SELECT json_build_array(workflow, step, level, by, reason, seq, at)::TEXT
         FROM trust_marks WHERE run_id = $1 ORDER BY id",
    ),
    (
        "proposal_snoozes",
        "SELECT json_build_array(proposal, until, by, at)::TEXT
         FROM proposal_snoozes WHERE run_id = $1 ORDER BY proposal",
    ),
    (
        "fact_versions",
        "SELECT json_build_array(entity, key, version, value, source, step_id, at)::TEXT
         FROM fact_versions WHERE run_id = $1 AND source = 'run'
         ORDER BY entity COLLATE \"C\", key COLLATE \"C\", version",
    ),
    (
        // Notes keep their ids (carried by their events); decisions and outcomes
        // are compared without them (the rebuild indexes them under new ids), in
        // content order.
        "memory_docs",
        "SELECT t FROM (SELECT json_build_array(CASE kind WHEN 'note' THEN id END, kind, text,
                tags, source, step_id, workflow, proposal_id, decision, created_at)::TEXT AS t
         FROM memory_docs WHERE run_id = $1) d ORDER BY t COLLATE \"C\"",
    ),
    (
        "outcomes",
        "SELECT json_build_array(key, value, step_id, at)::TEXT
         FROM outcomes WHERE run_id = $1 ORDER BY key COLLATE \"C\"",
    ),
];

/// The run's projections, rebuilt in this order from its events (children first
/// when deleting): (table, which of its rows of the run). Memory's facts set by a
/// step are the run's (`source = 'run'`); facts set by hand, from a decision, name
/// the run but are events of no run, and stay.
const REBUILT: &[(&str, &str)] = &[
    ("proposal_snoozes", ""),
    ("llm_calls", ""),
    ("trust_marks", ""),
    ("outcomes", ""),
    ("memory_docs", ""),
    ("fact_versions", " AND source = 'run'"),
    ("proposals", ""),
    ("steps", ""),
];

fn snapshot(c: &mut impl GenericClient, run: i64) -> Result<Vec<(String, Vec<String>)>> {
    let mut out = Vec::new();
    for (table, sql) in SNAPSHOT {
        let rows = c.query(*sql, &[&run])?.iter().map(|r| r.get(0)).collect();
        out.push((table.to_string(), rows));
    }
    Ok(out)
}

/// Rows outside the run's projections that point at it (a schedule's fire, a
/// mail message): let go of it, so that the rebuild may delete and re-insert the
/// run (the transaction is rolled back anyway).
fn detach_references(tx: &mut Transaction<'_>, run: i64) -> Result<()> {
    let refs: Vec<(String, String)> = tx
        .query(
            "SELECT c.conrelid::regclass::TEXT, a.attname::TEXT FROM pg_constraint c
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
             WHERE c.contype = 'f' AND c.confrelid = 'runs'::regclass",
            &[],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    for (table, column) in refs {
        if REBUILT.iter().any(|(t, _)| *t == table) {
            continue;
        }
        tx.execute(
            &format!("UPDATE {table} SET \"{column}\" = NULL WHERE \"{column}\" = $1"),
            &[&run],
        )?;
    }
    Ok(())
}

/// How `workflow_changed` changes the run and its steps (`journal::project`'s).
pub(super) fn workflow_changed(
    tx: &mut Transaction<'_>,
    run: i64,
    source_hash: &str,
    path: &Option<String>,
    dir: &str,
    steps: &[StepDecl],
    inputs_added: &serde_json::Map<String, serde_json::Value>,
) -> Result<()> {
    tx.execute(
        "UPDATE runs SET source_hash = $2, path = $3, dir = $4 WHERE id = $1",
        &[&run, &source_hash, path, &dir],
    )?;
    if !inputs_added.is_empty() {
        let current: String = tx
            .query_one("SELECT inputs FROM runs WHERE id = $1", &[&run])?
            .get(0);
        let mut inputs: serde_json::Value =
            serde_json::from_str(&current).unwrap_or_else(|_| serde_json::json!({}));
        if let Some(obj) = inputs.as_object_mut() {
            for (k, v) in inputs_added {
                obj.insert(k.clone(), v.clone());
            }
        }
        tx.execute(
            "UPDATE runs SET inputs = $2 WHERE id = $1",
            &[&run, &inputs.to_string()],
        )?;
    }
    let existing: Vec<String> = tx
        .query("SELECT step_id FROM steps WHERE run_id = $1", &[&run])?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for id in &existing {
        if !steps.iter().any(|s| &s.id == id) {
            tx.execute(
                "DELETE FROM steps WHERE run_id = $1 AND step_id = $2",
                &[&run, id],
            )?;
        }
    }
    for (i, s) in steps.iter().enumerate() {
        if existing.contains(&s.id) {
            tx.execute(
                "UPDATE steps SET idx = $3, kind = $4 WHERE run_id = $1 AND step_id = $2",
                &[&run, &s.id, &(i as i64), &s.kind],
            )?;
        } else {
            tx.execute(
                "INSERT INTO steps (run_id, step_id, idx, kind, status) VALUES ($1, $2, $3, $4, 'pending')",
                &[&run, &s.id, &(i as i64), &s.kind],
            )?;
        }
    }
    Ok(())
}

impl RunUpkeep for PgJournal {
    fn replay(&mut self, run: i64) -> Result<ReplayReport> {
        self.run(run)?;
        let events = self.events(run)?;
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        let before = snapshot(&mut *tx, run)?;
        detach_references(&mut tx, run)?;
        for (table, rows) in REBUILT {
            tx.execute(
                &format!("DELETE FROM {table} WHERE run_id = $1{rows}"),
                &[&run],
            )?;
        }
        tx.execute("DELETE FROM runs WHERE id = $1", &[&run])?;
        for e in &events {
            match &e.event {
                // Its projection names its event by the sequence value of the
                // append before it, which a replay does not make: the event's own.
                Event::TrustChanged {
                    workflow,
                    step,
                    level,
                    by,
                    reason,
                } => {
                    tx.execute(
                        "INSERT INTO trust_marks (workflow, step, level, by, reason, run_id, seq, at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                        &[workflow, step, level, by, reason, &run, &e.seq, &e.at],
                    )?;
                    tx.execute(
                        "UPDATE runs SET updated_at = $2 WHERE id = $1",
                        &[&run, &e.at],
                    )?;
                }
                ev => apply(&mut tx, run, ev, e.at)?,
            }
        }
        let after = snapshot(&mut *tx, run)?;
        tx.rollback()?;
        let differences = crate::journal::replay::differences(&before, &after);
        Ok(ReplayReport {
            run,
            events: events.len(),
            differences,
        })
    }

    fn change_workflow(&mut self, run_id: i64, source: &str, events: &[Event]) -> Result<i64> {
        let Some(Event::WorkflowChanged { source_hash, .. }) = events.first() else {
            return Err(Error::other(
                "internal: change_workflow takes a workflow_changed event",
            ));
        };
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        tx.execute(
            "INSERT INTO sources (hash, text) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING",
            &[source_hash, &source],
        )?;
        let mut seq = 0;
        for ev in events {
            seq = append(&mut tx, run_id, ev, at)?;
            apply(&mut tx, run_id, ev, at)?;
        }
        tx.commit()?;
        Ok(seq)
    }

    fn prune_dry_runs(&mut self) -> Result<Pruned> {
        let now = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        // A run being driven holds an unexpired lease; it is left alone. The rows
        // taken are locked until the prune commits.
        let ids: Vec<i64> = tx
            .query(
                "SELECT id FROM runs WHERE dry IS NOT NULL
                   AND NOT (lease_owner IS NOT NULL AND coalesce(lease_expires, 0) > $1)
                 ORDER BY id FOR UPDATE",
                &[&now],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if ids.is_empty() {
            return Ok(Pruned::default());
        }
        // Every table with a `run_id` column names runs.
        let tables: Vec<String> = tx
            .query(
                "SELECT table_name::TEXT FROM information_schema.columns
                 WHERE table_schema = current_schema() AND column_name = 'run_id'
                   AND table_name NOT IN ('runs', 'events')
                 ORDER BY table_name",
                &[],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        for t in &tables {
            tx.execute(
                &format!(
                    "DELETE FROM \"{}\" WHERE run_id = ANY($1)",
                    t.replace('"', "\"\"")
                ),
                &[&ids],
            )?;
        }
        let events = tx.execute("DELETE FROM events WHERE run_id = ANY($1)", &[&ids])?;
        tx.execute("DELETE FROM runs WHERE id = ANY($1)", &[&ids])?;
        tx.commit()?;
        Ok(Pruned {
            runs: ids.len(),
            events: events as usize,
        })
    }
}
