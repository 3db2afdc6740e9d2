//! Reading a whole SQLite journal out, for `aios migrate` (`journal::pg::import`):
//! its event logs in order, the records that are not events (workflow sources,
//! webhooks, heartbeats, rate-limit turns), what it holds that another backend may
//! not carry, and a snapshot of each projection to compare with a copy. Read-only:
//! the journal is opened without a write, and an older schema is refused rather
//! than upgraded.

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
];

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

    /// Records of concerns that are not events of the run log (each has its own
    /// tables): (concern, rows). A backend that does not carry a concern must refuse
    /// a journal holding any of its records rather than drop them.
    pub fn other_concerns(&self) -> Result<Vec<(&'static str, i64)>> {
        let concerns: &[(&str, &[&str])] = &[
            ("circuit breakers", &["breaker_events", "breakers"]),
            (
                "mail watches",
                &["mail_watches", "mail_events", "mail_messages"],
            ),
            ("notifications", &["notify_events", "notifications"]),
        ];
        let mut out = Vec::new();
        for (concern, tables) in concerns {
            let mut rows = 0;
            for t in *tables {
                rows += self.count(&format!("SELECT count(*) FROM {t}"))?;
            }
            out.push((*concern, rows));
        }
        Ok(out)
    }

    /// Memory's index of decisions: a projection of `proposal_decided` events kept
    /// in `memory_docs` (count).
    pub fn decision_docs(&self) -> Result<i64> {
        self.count("SELECT count(*) FROM memory_docs WHERE kind = 'decision'")
    }
}

impl Drop for Export<'_> {
    fn drop(&mut self) {
        // Only reads were made: ending the transaction cannot lose anything.
        let _ = self.j.conn.execute_batch("ROLLBACK");
    }
}
