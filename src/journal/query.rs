//! Reads: runs, steps, events and inbox items, as typed records.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value as Json;

use super::SqliteJournal;
use super::types::*;
use crate::clock::Millis;
use crate::error::{Error, Result};

fn json_col(row: &Row<'_>, i: usize) -> rusqlite::Result<Option<Json>> {
    let s: Option<String> = row.get(i)?;
    Ok(s.and_then(|s| serde_json::from_str(&s).ok()))
}

fn word<T>(s: String, parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    parse(&s).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("unknown status word `{s}`").into(),
        )
    })
}

const RUN_COLS: &str = "r.id, r.uid, r.workflow, r.path, r.dir, s.text, r.source_hash, r.inputs,
    r.status, r.error, r.created_at, r.updated_at, r.finished_at, r.lease_owner, r.lease_expires,
    r.dry";

fn run_row(r: &Row<'_>) -> rusqlite::Result<RunRecord> {
    Ok(RunRecord {
        id: r.get(0)?,
        uid: r.get(1)?,
        workflow: r.get(2)?,
        path: r.get(3)?,
        dir: r.get(4)?,
        source: r.get(5)?,
        source_hash: r.get(6)?,
        inputs: json_col(r, 7)?.unwrap_or(Json::Null),
        status: word(r.get(8)?, RunStatus::parse)?,
        error: r.get(9)?,
        created_at: r.get(10)?,
        updated_at: r.get(11)?,
        finished_at: r.get(12)?,
        lease_owner: r.get(13)?,
        lease_expires: r.get(14)?,
        dry: r
            .get::<_, Option<String>>(15)?
            .and_then(|s| DryMode::parse(&s)),
    })
}

pub(super) fn run(conn: &Connection, id: i64) -> Result<RunRecord> {
    conn.prepare_cached(&format!(
        "SELECT {RUN_COLS} FROM runs r JOIN sources s ON s.hash = r.source_hash WHERE r.id = ?1"
    ))?
    .query_row(params![id], run_row)
    .optional()?
    .ok_or_else(|| Error::not_found(format!("no run {id}")).with_hint("list runs with: aios runs"))
}

const PROPOSAL_COLS: &str =
    "p.id, p.run_id, r.workflow, r.status, p.step_id, p.attempt, p.kind, p.status,
    p.summary, p.action, p.evidence, p.decision, p.reason, p.fields, p.edited, p.diff, p.decided_by,
    p.decided_at, p.created_at, p.deadline, p.on_timeout, p.reminders";

fn proposal_row(r: &Row<'_>) -> rusqlite::Result<ProposalRecord> {
    Ok(ProposalRecord {
        id: r.get(0)?,
        run_id: r.get(1)?,
        workflow: r.get(2)?,
        run_status: word(r.get(3)?, RunStatus::parse)?,
        step_id: r.get(4)?,
        attempt: r.get(5)?,
        kind: word(r.get(6)?, ProposalKind::parse)?,
        status: word(r.get(7)?, ProposalStatus::parse)?,
        summary: r.get(8)?,
        action: json_col(r, 9)?.unwrap_or(Json::Null),
        evidence: json_col(r, 10)?.unwrap_or(Json::Null),
        decision: r
            .get::<_, Option<String>>(11)?
            .and_then(|s| Decision::parse(&s)),
        reason: r.get(12)?,
        fields: json_col(r, 13)?,
        edited: json_col(r, 14)?,
        diff: r.get(15)?,
        decided_by: r.get(16)?,
        decided_at: r.get(17)?,
        created_at: r.get(18)?,
        deadline: r.get(19)?,
        on_timeout: r.get(20)?,
        reminders: r.get(21)?,
    })
}

pub(super) fn proposal(conn: &Connection, id: i64) -> Result<ProposalRecord> {
    conn.prepare_cached(&format!(
        "SELECT {PROPOSAL_COLS} FROM proposals p JOIN runs r ON r.id = p.run_id WHERE p.id = ?1"
    ))?
    .query_row(params![id], proposal_row)
    .optional()?
    .map_or_else(
        // Notices share the id space: one number names one inbox item.
        || match super::notices::notice(conn, id)? {
            Some(n) => Ok(n.as_proposal()),
            None => Err(Error::not_found(format!("no inbox item {id}"))
                .with_hint("list pending items with: aios inbox list")),
        },
        Ok,
    )
}

fn step_row(r: &Row<'_>) -> rusqlite::Result<StepRecord> {
    Ok(StepRecord {
        step_id: r.get(0)?,
        idx: r.get(1)?,
        kind: r.get(2)?,
        status: word(r.get(3)?, StepStatus::parse)?,
        attempts: r.get(4)?,
        output: json_col(r, 5)?,
        error: r.get(6)?,
        started_at: r.get(7)?,
        finished_at: r.get(8)?,
        throttled: match (r.get::<_, Option<i64>>(9)?, r.get::<_, Option<String>>(10)?) {
            (Some(until), Some(by)) => Some((until, by)),
            _ => None,
        },
        held: match (
            r.get::<_, Option<String>>(11)?,
            r.get::<_, Option<Millis>>(12)?,
        ) {
            (Some(t), Some(until)) if r.get::<_, String>(3)? == "waiting" => Some((t, until)),
            _ => None,
        },
    })
}

impl SqliteJournal {
    /// One run with its workflow snapshot.
    pub fn run(&self, id: i64) -> Result<RunRecord> {
        run(&self.conn, id)
    }

    /// Runs, newest first, optionally only those with `status`. Dry runs are not
    /// among them ([`SqliteJournal::runs_of`] lists those).
    pub fn runs(&self, status: Option<RunStatus>, limit: usize) -> Result<Vec<RunSummary>> {
        self.runs_of(status, limit, false)
    }

    /// Real runs, or with `dry` only dry runs (`aios runs --dry`), newest first.
    pub fn runs_of(
        &self,
        status: Option<RunStatus>,
        limit: usize,
        dry: bool,
    ) -> Result<Vec<RunSummary>> {
        // One statement per shape, each read through an index in id order and stopped
        // at the limit (`?1 IS NULL OR status = ?1` would defeat the status index: a
        // filtered listing would read runs back to the first one that matches).
        let filter = match (status.is_some(), dry) {
            (false, false) => "r.dry IS NULL",
            (false, true) => "r.dry IS NOT NULL",
            (true, false) => "r.status = ?1 AND r.dry IS NULL",
            (true, true) => "r.status = ?1 AND r.dry IS NOT NULL",
        };
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT r.id, r.workflow, r.status, r.created_at, r.updated_at,
                    (SELECT count(*) FROM steps s WHERE s.run_id = r.id),
                    (SELECT count(*) FROM steps s WHERE s.run_id = r.id AND s.status IN ('succeeded', 'skipped'))
             FROM runs r WHERE {filter} ORDER BY r.id DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![status.map(|s| s.as_str()), limit as i64], |r| {
            Ok(RunSummary {
                id: r.get(0)?,
                workflow: r.get(1)?,
                status: word(r.get(2)?, RunStatus::parse)?,
                created_at: r.get(3)?,
                updated_at: r.get(4)?,
                steps_total: r.get(5)?,
                steps_done: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// A run's current status (cheap; used for polling).
    /// The id and status of the run with this uid, if there is one.
    pub fn run_by_uid(&self, uid: &str) -> Result<Option<(i64, RunStatus)>> {
        let row: Option<(i64, String)> = self
            .conn
            .prepare_cached("SELECT id, status FROM runs WHERE uid = ?1")?
            .query_row(params![uid], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        row.map(|(id, s)| {
            RunStatus::parse(&s)
                .map(|st| (id, st))
                .ok_or_else(|| Error::storage(format!("unknown run status `{s}`")))
        })
        .transpose()
    }

    pub fn run_status(&self, id: i64) -> Result<RunStatus> {
        let s: String = self
            .conn
            .prepare_cached("SELECT status FROM runs WHERE id = ?1")?
            .query_row(params![id], |r| r.get(0))
            .optional()?
            .ok_or_else(|| Error::not_found(format!("no run {id}")))?;
        RunStatus::parse(&s).ok_or_else(|| Error::storage(format!("unknown run status `{s}`")))
    }

    /// How long a run has taken: from its creation to its end (or now), and the part
    /// of that it was running, from its status changes in the log.
    pub fn run_times(&self, id: i64) -> Result<RunTimes> {
        let run = self.run(id)?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT at, json_extract(data, '$.status') FROM events
             WHERE run_id = ?1 AND type IN ('run_status', 'run_cancelled') ORDER BY seq",
        )?;
        let rows = stmt.query_map(params![id], |r| {
            Ok((r.get::<_, Millis>(0)?, r.get::<_, Option<String>>(1)?))
        })?;
        let mut statuses = Vec::new();
        for row in rows {
            let (at, status) = row?;
            // `run_cancelled` carries no status word: it ends the run.
            let status = status
                .as_deref()
                .and_then(RunStatus::parse)
                .unwrap_or(RunStatus::Cancelled);
            statuses.push((at, status));
        }
        let end = run.finished_at.unwrap_or_else(|| self.now());
        Ok(RunTimes::of(run.created_at, &statuses, end))
    }

    /// The steps of a run, in workflow order.
    pub fn steps(&self, run: i64) -> Result<Vec<StepRecord>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT step_id, idx, kind, status, attempts, output, error, started_at, finished_at,
               throttled_until, throttled_by, held, wake_at
             FROM steps WHERE run_id = ?1 ORDER BY idx",
        )?;
        let rows = stmt.query_map(params![run], step_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The events of a run in order.
    pub fn events(&self, run: i64) -> Result<Vec<EventRecord>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, run_id, at, data FROM events WHERE run_id = ?1 ORDER BY seq",
        )?;
        let rows = stmt.query_map(params![run], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, run_id, at, data) = row?;
            out.push(EventRecord {
                seq,
                run_id,
                at,
                event: serde_json::from_str(&data)?,
            });
        }
        Ok(out)
    }

    /// One inbox item.
    pub fn proposal(&self, id: i64) -> Result<ProposalRecord> {
        proposal(&self.conn, id)
    }

    /// Inbox items: pending ones (or all with `all`), oldest first (front ends sort
    /// them with [`crate::inbox::order`]).
    pub fn inbox(&self, all: bool) -> Result<Vec<ProposalRecord>> {
        // Two statements, not `?1 OR status = 'pending'`: SQLite cannot use the
        // status index for a condition that may be true of every row, and would
        // read every item ever made to list the pending ones.
        let mut stmt = self.conn.prepare_cached(&if all {
            format!(
                "SELECT {PROPOSAL_COLS} FROM proposals p JOIN runs r ON r.id = p.run_id ORDER BY p.id"
            )
        } else {
            format!(
                "SELECT {PROPOSAL_COLS} FROM proposals p JOIN runs r ON r.id = p.run_id
                 WHERE p.status = 'pending' ORDER BY p.id"
            )
        })?;
        let mut items = stmt
            .query_map([], proposal_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        // Notices (about schedules, not runs) are inbox items too.
        items.extend(self.notices(all)?.iter().map(|n| n.as_proposal()));
        items.sort_by_key(|p| p.id);
        Ok(items)
    }

    /// The inbox items of one run, oldest first.
    pub fn run_proposals(&self, run: i64) -> Result<Vec<ProposalRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {PROPOSAL_COLS} FROM proposals p JOIN runs r ON r.id = p.run_id
             WHERE p.run_id = ?1 ORDER BY p.id"
        ))?;
        let rows = stmt.query_map(params![run], proposal_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// `PRAGMA integrity_check`: "ok" when the file is sound.
    pub fn integrity_check(&self) -> Result<String> {
        Ok(self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }
}
