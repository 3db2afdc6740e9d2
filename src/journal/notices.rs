//! Notices: inbox items about a schedule rather than a run (missed fires, a failing
//! schedule). Raised by `aios tick`, acknowledged by the operator (`aios approve ID`
//! or in the TUI). Their ids share the inbox id space with proposals, so one number
//! names one item whatever its kind; they are journaled as `notice_raised` /
//! `notice_acknowledged` events under run 0 (they belong to no run) and projected
//! into the `notices` table in the same transaction.

use rusqlite::{OptionalExtension, Row, params};
use serde_json::{Value as Json, json};

use super::types::*;
use super::{SqliteJournal, append, project};
use crate::clock::Millis;
use crate::error::{Error, Result};

/// The next id of an inbox item, proposal or notice.
pub(super) const NEXT_INBOX_ID: &str = "SELECT max(coalesce((SELECT max(id) FROM proposals), 0),
            coalesce((SELECT max(id) FROM notices), 0)) + 1";

/// The run id notices are journaled under.
pub const NO_RUN: i64 = 0;

/// A notice as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NoticeRecord {
    pub id: i64,
    pub schedule: String,
    pub kind: String,
    pub summary: String,
    pub data: Json,
    pub pending: bool,
    pub created_at: Millis,
    pub acknowledged_at: Option<Millis>,
    pub acknowledged_by: Option<String>,
    pub reason: Option<String>,
}

impl NoticeRecord {
    /// The notice in the shape of an inbox item (run 0, no step), so every inbox
    /// front end lists, shows and decides it like the others.
    pub fn as_proposal(&self) -> ProposalRecord {
        ProposalRecord {
            id: self.id,
            run_id: NO_RUN,
            workflow: self.schedule.clone(),
            run_status: RunStatus::Succeeded,
            step_id: String::new(),
            attempt: 0,
            kind: ProposalKind::Notice,
            status: if self.pending {
                ProposalStatus::Pending
            } else {
                ProposalStatus::Approved
            },
            summary: self.summary.clone(),
            action: json!({ "notice": self.kind, "schedule": self.schedule, "details": self.data }),
            evidence: json!({}),
            decision: (!self.pending).then_some(Decision::Approve),
            reason: self.reason.clone(),
            fields: None,
            edited: None,
            diff: None,
            decided_by: self.acknowledged_by.clone(),
            decided_at: self.acknowledged_at,
            created_at: self.created_at,
            deadline: None,
            on_timeout: None,
            reminders: 0,
        }
    }
}

const COLS: &str = "id, schedule, kind, summary, data, status, created_at, acknowledged_at,
    acknowledged_by, reason";

fn row(r: &Row<'_>) -> rusqlite::Result<NoticeRecord> {
    let data: String = r.get(4)?;
    let status: String = r.get(5)?;
    Ok(NoticeRecord {
        id: r.get(0)?,
        schedule: r.get(1)?,
        kind: r.get(2)?,
        summary: r.get(3)?,
        data: serde_json::from_str(&data).unwrap_or(Json::Null),
        pending: status == "pending",
        created_at: r.get(6)?,
        acknowledged_at: r.get(7)?,
        acknowledged_by: r.get(8)?,
        reason: r.get(9)?,
    })
}

/// One notice by id, inside any connection or transaction.
pub(super) fn notice(conn: &rusqlite::Connection, id: i64) -> Result<Option<NoticeRecord>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLS} FROM notices WHERE id = ?1"))?
        .query_row(params![id], row)
        .optional()?)
}

/// How a notice event changes the `notices` table.
pub(super) fn apply(tx: &rusqlite::Transaction<'_>, ev: &Event, at: Millis) -> Result<()> {
    match ev {
        Event::NoticeRaised {
            notice,
            schedule,
            kind,
            key,
            summary,
            data,
        } => {
            tx.prepare_cached(
                "INSERT INTO notices (id, schedule, kind, key, summary, data, status, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7)",
            )?
            .execute(params![
                notice,
                schedule,
                kind,
                key,
                summary,
                data.to_string(),
                at
            ])?;
        }
        Event::NoticeAcknowledged { notice, by, reason } => {
            tx.prepare_cached(
                "UPDATE notices SET status = 'acknowledged', acknowledged_at = ?2,
                   acknowledged_by = ?3, reason = ?4 WHERE id = ?1",
            )?
            .execute(params![notice, at, by, reason])?;
        }
        _ => {}
    }
    Ok(())
}

/// [`SqliteJournal::raise_notice`] inside a transaction of the caller (a notice raised
/// with the record it is about).
pub(super) fn raise_in(
    tx: &rusqlite::Transaction<'_>,
    at: Millis,
    schedule: &str,
    kind: &str,
    key: &str,
    summary: &str,
    data: Json,
) -> Result<Option<i64>> {
    let exists: Option<i64> = tx
        .prepare_cached("SELECT id FROM notices WHERE key = ?1")?
        .query_row(params![key], |r| r.get(0))
        .optional()?;
    if exists.is_some() {
        return Ok(None);
    }
    let id: i64 = tx.query_row(NEXT_INBOX_ID, [], |r| r.get(0))?;
    let ev = Event::NoticeRaised {
        notice: id,
        schedule: schedule.to_string(),
        kind: kind.to_string(),
        key: key.to_string(),
        summary: summary.to_string(),
        data,
    };
    append(tx, NO_RUN, &ev, at)?;
    project::apply(tx, NO_RUN, &ev, at)?;
    Ok(Some(id))
}

impl SqliteJournal {
    /// Put a notice in the inbox, once per `key`. Returns its id, or `None` when a
    /// notice with that key was raised before.
    pub fn raise_notice(
        &mut self,
        schedule: &str,
        kind: &str,
        key: &str,
        summary: &str,
        data: Json,
    ) -> Result<Option<i64>> {
        let at = self.now();
        let tx = self.write_tx()?;
        let id = raise_in(&tx, at, schedule, kind, key, summary, data)?;
        tx.commit()?;
        Ok(id)
    }

    /// Notices, oldest first: pending ones, or all.
    pub fn notices(&self, all: bool) -> Result<Vec<NoticeRecord>> {
        // Two statements: `?1 OR status = …` would read every notice ever raised.
        let mut stmt = self.conn.prepare_cached(&if all {
            format!("SELECT {COLS} FROM notices ORDER BY id")
        } else {
            format!("SELECT {COLS} FROM notices WHERE status = 'pending' ORDER BY id")
        })?;
        let rows = stmt.query_map([], row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// One notice, if `id` names one.
    pub fn notice(&self, id: i64) -> Result<Option<NoticeRecord>> {
        notice(&self.conn, id)
    }

    /// Acknowledge a pending notice, once (compare-and-swap like every decision).
    pub fn acknowledge_notice(
        &mut self,
        id: i64,
        by: &str,
        reason: Option<String>,
    ) -> Result<NoticeRecord> {
        let at = self.now();
        let tx = self.write_tx()?;
        let n = notice(&tx, id)?.ok_or_else(|| {
            Error::not_found(format!("no inbox item {id}"))
                .with_hint("list pending items with: aios inbox list")
        })?;
        if !n.pending {
            return Err(Error::conflict(format!(
                "notice {id} was already acknowledged by {} at {}",
                n.acknowledged_by.as_deref().unwrap_or("someone"),
                n.acknowledged_at
                    .map(crate::clock::format_ms)
                    .unwrap_or_default()
            )));
        }
        let ev = Event::NoticeAcknowledged {
            notice: id,
            by: by.to_string(),
            reason,
        };
        append(&tx, NO_RUN, &ev, at)?;
        project::apply(&tx, NO_RUN, &ev, at)?;
        let n = notice(&tx, id)?.expect("just updated");
        tx.commit()?;
        Ok(n)
    }
}
