//! Reading a whole SQLite journal out, for `aios migrate` (`journal::pg::import`):
//! its event logs in order (runs', schedules', breakers', mail watches',
//! notifications'), the records that are not events (workflow sources, webhooks,
//! heartbeats, rate-limit turns, notes added by hand, embeddings), and a snapshot of
//! each projection to compare with a copy. Read-only: the journal is opened without
//! a write, and an older schema is refused rather than upgraded.

use std::path::Path;

use rusqlite::{OpenFlags, params};
use serde_json::Value as Json;

use super::open::MIGRATIONS;
use super::{OpenOptions, ScheduleEvent, SqliteJournal};
use crate::clock::{Clock, Millis};
use crate::error::{Error, Result};
use crate::journal::types::{Event, EventRecord};

/// A projection compared after a copy: its table, the columns both backends have (in
/// this order), and the integer columns that order its rows (`None`: rows are
/// compared as sorted sets, their keys being text, which the databases collate
/// differently).
pub struct Compared {
    pub table: &'static str,
    pub columns: &'static str,
    pub order: Option<&'static str>,
}

/// The projections compared after a copy, with the columns the PostgreSQL schema
/// carries: SQLite's own bookkeeping (`runs.lease_*`, `runs.pending`,
/// `proposals.offline`) and row ids allocated anew (`llm_calls.id`,
/// `trust_marks.id` and `seq`) are left out; the rows' order still checks the ids'.
pub const COMPARED: &[Compared] = &[
    Compared {
        table: "runs",
        columns: "id, uid, workflow, path, dir, source_hash, inputs, status, error, created_at, updated_at, finished_at, dry",
        order: Some("id"),
    },
    Compared {
        table: "steps",
        columns: "run_id, step_id, idx, kind, status, attempts, output, error, started_at, finished_at, wake_at, throttled_until, throttled_by, held",
        order: Some("run_id, idx"),
    },
    Compared {
        table: "proposals",
        columns: "id, run_id, step_id, attempt, kind, status, summary, action, evidence, decision, reason, fields, edited, diff, decided_by, decided_at, created_at, deadline, on_timeout, reminders",
        order: Some("id"),
    },
    Compared {
        table: "proposal_snoozes",
        columns: "proposal, run_id, until, by, at",
        order: Some("proposal"),
    },
    Compared {
        table: "trust_marks",
        columns: "workflow, step, level, by, reason, run_id, at",
        order: Some("id"),
    },
    Compared {
        table: "llm_calls",
        columns: "run_id, step_id, attempt, alias, provider, model, request, response, error, tokens_in, tokens_out, cost_usd, latency_ms, http_attempts, heuristic, at, finish_reason, failure, persona",
        order: Some("id"),
    },
    Compared {
        table: "notices",
        columns: "id, schedule, kind, key, summary, data, status, created_at, acknowledged_at, acknowledged_by, reason",
        order: Some("id"),
    },
    Compared {
        table: "schedules",
        columns: "name, path, dir, source_hash, cron, timezone, overlap, catch_up, catch_up_window, inputs, paused, cursor, next_due, created_at, updated_at",
        order: None,
    },
    Compared {
        table: "fires",
        columns: "schedule, due_at, status, reason, run_id, decided_at, first_due_at, instants",
        order: None,
    },
    Compared {
        table: "hooks",
        columns: "name, path, dir, source_hash, created_at, updated_at, format, payload, tolerance_s",
        order: None,
    },
    Compared {
        table: "heartbeats",
        columns: "name, at, by, detail",
        order: None,
    },
    Compared {
        table: "rate_grants",
        columns: "target, at",
        order: None,
    },
    Compared {
        table: "sources",
        columns: "hash, text",
        order: None,
    },
    Compared {
        table: "fact_versions",
        columns: "entity, key, version, value, source, run_id, step_id, proposal_id, note, set_by, at, unset",
        order: None,
    },
    // Notes keep their ids; decisions and outcomes are indexed anew by the copy's
    // replay (their ids come after SQLite's highest), so only their contents compare.
    Compared {
        table: "memory_docs",
        columns: "CASE WHEN kind = 'note' THEN id END, kind, text, tags, source, run_id, step_id, workflow, proposal_id, decision, created_at",
        order: None,
    },
    Compared {
        table: "outcomes",
        columns: "run_id, key, value, step_id, at",
        order: None,
    },
    Compared {
        table: "breakers",
        columns: "target, state, failures, trips, opened_at, until, probe, last_error, updated_at",
        order: None,
    },
    Compared {
        table: "notifications",
        columns: "id, key, channel, event, title, body, status, attempts, next_at, claimed_by, claim_until, error, reply, created_at, sent_at",
        order: Some("id"),
    },
    Compared {
        table: "mail_watches",
        columns: "name, path, dir, source_hash, account, folder, search, after, move_to, max_per_tick, inputs, paused, uidvalidity, failing_since, last_error, created_at, updated_at",
        order: None,
    },
    Compared {
        table: "mail_messages",
        columns: "watch, account, folder, uidvalidity, uid, message_id, key, status, run_id, notice_id, received_at, flagged_at",
        order: None,
    },
];

/// The event logs besides the run log and the schedules' (each keyed by what its
/// events are about): (table, key column).
pub const LOGS: &[(&str, &str)] = &[
    ("breaker_events", "target"),
    ("mail_events", "watch"),
    ("notify_events", "notification"),
];

/// A stored embedding, as copied: its document, model, values and sign sketch.
pub type StoredVector = (i64, String, Vec<f32>, Option<Vec<u8>>);

/// A row of one of [`COMPARED`]'s tables, normalised so that both databases' rows
/// compare equal when they hold the same values: booleans as 0/1 (SQLite has no
/// booleans), numbers with a whole value as integers, others to 12 significant
/// digits (SQLite prints REALs with 15).
pub fn normalise(row: Json) -> Json {
    match row {
        Json::Bool(b) => Json::from(i64::from(b)),
        Json::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Json::from(i),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Json::from(f as i64),
            (None, Some(f)) => format!("{f:.11e}")
                .parse::<f64>()
                .map(Json::from)
                .unwrap_or(Json::Number(n)),
            _ => Json::Number(n),
        },
        Json::Array(a) => Json::Array(a.into_iter().map(normalise).collect()),
        other => other,
    }
}

/// Open the SQLite journal at `path` to copy it out: read-only, never created,
/// never upgraded.
pub fn open_source(path: &Path, clock: Clock, opts: OpenOptions) -> Result<SqliteJournal> {
    if !path.exists() {
        return Err(
            Error::not_found(format!("there is no journal at {}", path.display())).with_hint(
                "aios migrate copies an existing journal: point AIOS_HOME (or --home) at its folder",
            ),
        );
    }
    // Peek at the schema first: `open_read_only` would upgrade an older one.
    let version = rusqlite::Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| c.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)));
    if let Ok(v) = version
        && v < MIGRATIONS.len() as i64
    {
        return Err(Error::storage(format!(
            "the journal at {} was written by an older aios (schema {v}, this build reads {}); it is copied only as this build reads it",
            path.display(),
            MIGRATIONS.len()
        ))
        .with_hint("upgrade it in place first with: aios runs"));
    }
    SqliteJournal::open_read_only(path, clock, opts)
}

/// A journal read out whole, in one read transaction: every read sees the same
/// snapshot, whatever other processes commit meanwhile.
pub struct Export<'a> {
    j: &'a SqliteJournal,
}

impl<'a> Export<'a> {
    pub fn new(j: &'a SqliteJournal) -> Result<Export<'a>> {
        j.conn.execute_batch("BEGIN")?;
        Ok(Export { j })
    }

    fn count(&self, sql: &str) -> Result<i64> {
        Ok(self.j.conn.query_row(sql, [], |r| r.get(0))?)
    }

    /// How many events of each type the log holds, by type.
    pub fn event_kinds(&self) -> Result<Vec<(String, i64)>> {
        let mut stmt = self
            .j
            .conn
            .prepare("SELECT type, count(*) FROM events GROUP BY type ORDER BY type")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every event of every run (run 0's, of no run, included), in the order they
    /// were appended.
    pub fn for_each_event(&self, mut f: impl FnMut(EventRecord) -> Result<()>) -> Result<()> {
        let mut stmt = self
            .j
            .conn
            .prepare("SELECT seq, run_id, at, data FROM events ORDER BY seq")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let seq: i64 = r.get(0)?;
            let data: String = r.get(3)?;
            let event: Event = serde_json::from_str(&data).map_err(|e| {
                Error::storage(format!("event {seq} of the journal cannot be read: {e}"))
            })?;
            f(EventRecord {
                seq,
                run_id: r.get(1)?,
                at: r.get(2)?,
                event,
            })?;
        }
        Ok(())
    }

    /// Every schedule's events, in the order they were appended.
    pub fn schedule_events(&self) -> Result<Vec<(String, ScheduleEvent, Millis)>> {
        let mut stmt = self
            .j
            .conn
            .prepare("SELECT seq, schedule, data, at FROM schedule_events ORDER BY seq")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Millis>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, name, data, at) = row?;
            let ev = serde_json::from_str(&data).map_err(|e| {
                Error::storage(format!(
                    "schedule event {seq} of the journal cannot be read: {e}"
                ))
            })?;
            out.push((name, ev, at));
        }
        Ok(out)
    }

    /// The workflow sources runs, schedules and hooks point at: (hash, text).
    pub fn sources(&self) -> Result<Vec<(String, String)>> {
        let mut stmt = self
            .j
            .conn
            .prepare("SELECT hash, text FROM sources ORDER BY hash")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The rows of a table that is not a projection of events (sources, hooks,
    /// heartbeats, rate-limit turns): one JSON array of objects keyed by `columns`.
    pub fn rows(&self, table: &str, columns: &[&str]) -> Result<String> {
        let object = columns
            .iter()
            .map(|c| format!("'{c}', {c}"))
            .collect::<Vec<_>>()
            .join(", ");
        Ok(self.j.conn.query_row(
            &format!("SELECT coalesce(json_group_array(json_object({object})), '[]') FROM {table}"),
            [],
            |r| r.get(0),
        )?)
    }

    /// The rows of a compared projection, normalised (see [`normalise`]) and in a
    /// deterministic order.
    pub fn snapshot(&self, c: &Compared) -> Result<Vec<Json>> {
        let sql = match c.order {
            Some(order) => format!(
                "SELECT json_array({}) FROM {} ORDER BY {order}",
                c.columns, c.table
            ),
            None => format!("SELECT json_array({}) FROM {}", c.columns, c.table),
        };
        let mut stmt = self.j.conn.prepare(&sql)?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(normalise(serde_json::from_str(&row?)?));
        }
        if c.order.is_none() {
            out.sort_by_cached_key(|r| r.to_string());
        }
        Ok(out)
    }

    /// The highest run id ever given to a dry run that was pruned since (a copy
    /// must not give it out again).
    pub fn last_pruned_run(&self) -> Result<i64> {
        self.count("SELECT coalesce(max(last_run), 0) FROM dry_pruned")
    }

    /// Runs still running, with their lease's holder while it is live: (run, holder).
    pub fn active_runs(&self, now: Millis) -> Result<Vec<(i64, Option<String>)>> {
        let mut stmt = self.j.conn.prepare(
            "SELECT id, CASE WHEN lease_expires > ?1 THEN lease_owner END FROM runs
             WHERE status = 'running' OR (lease_owner IS NOT NULL AND lease_expires > ?1)
             ORDER BY id",
        )?;
        let rows = stmt.query_map(params![now], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The events of one of [`LOGS`], in the order they were appended: (key as
    /// text, event JSON, at).
    pub fn log(&self, table: &str, key: &str) -> Result<Vec<(String, String, Millis)>> {
        let mut stmt = self.j.conn.prepare(&format!(
            "SELECT CAST({key} AS TEXT), data, at FROM {table} ORDER BY seq"
        ))?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The highest document id memory ever gave out (a forgotten note's included).
    pub fn last_doc_id(&self) -> Result<i64> {
        self.count(
            "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'memory_docs'), 0),
                        coalesce((SELECT max(id) FROM memory_docs), 0))",
        )
    }

    /// The notes added by hand (`aios memory add`: not events): one JSON array of
    /// their rows.
    pub fn manual_notes(&self) -> Result<String> {
        Ok(self.j.conn.query_row(
            "SELECT coalesce(json_group_array(json_object('id', id, 'kind', kind, 'text', text,
                     'tags', tags, 'source', source, 'created_at', created_at)), '[]')
             FROM memory_docs WHERE kind = 'note' AND run_id IS NULL",
            [],
            |r| r.get(0),
        )?)
    }

    /// The documents indexed from events (decisions, outcomes) with what tells one
    /// from another but their id: (id, key), by id.
    pub fn derived_docs(&self) -> Result<Vec<(i64, String)>> {
        let mut stmt = self.j.conn.prepare(&format!(
            "SELECT id, json_array({DOC_KEY}) FROM memory_docs WHERE kind <> 'note' ORDER BY id"
        ))?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, String>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, key) = row?;
            out.push((id, normalise(serde_json::from_str(&key)?).to_string()));
        }
        Ok(out)
    }

    /// Every stored embedding with its sketch, by document.
    pub fn vectors(&self) -> Result<Vec<StoredVector>> {
        let mut stmt = self.j.conn.prepare(
            "SELECT v.doc_id, v.model, v.vec, s.bits FROM memory_vectors v
             LEFT JOIN memory_sketches s ON s.doc_id = v.doc_id ORDER BY v.doc_id",
        )?;
        let rows = stmt.query_map([], |r| {
            let bytes: Vec<u8> = r.get(2)?;
            let vec = bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            Ok((r.get(0)?, r.get(1)?, vec, r.get(3)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// What tells apart the documents memory indexes from events (SQL columns of
/// `memory_docs`, the same on both databases).
pub const DOC_KEY: &str = "kind, run_id, step_id, proposal_id, text, created_at";

impl Drop for Export<'_> {
    fn drop(&mut self) {
        // Only reads were made: ending the transaction cannot lose anything.
        let _ = self.j.conn.execute_batch("ROLLBACK");
    }
}
