//! Notices on PostgreSQL: `journal::notices` — inbox items about schedules that
//! belong to no run, raised once per key (the writers of a key take turns on an
//! advisory lock on it), acknowledged once (the notice's row locked).

use postgres::{GenericClient, Row, Transaction};
use serde_json::Value as Json;

use super::PgJournal;
use super::project::{append, apply};
use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::journal::notices::{NO_RUN, NoticeRecord};
use crate::journal::store::{NoticeStore, RunStore};
use crate::journal::types::Event;

const COLS: &str = "id, schedule, kind, summary, data, status, created_at, acknowledged_at,
    acknowledged_by, reason";

fn row(r: &Row) -> NoticeRecord {
    let data: &str = r.get(4);
    let status: &str = r.get(5);
    NoticeRecord {
        id: r.get(0),
        schedule: r.get(1),
        kind: r.get(2),
        summary: r.get(3),
        data: serde_json::from_str(data).unwrap_or(Json::Null),
        pending: status == "pending",
        created_at: r.get(6),
        acknowledged_at: r.get(7),
        acknowledged_by: r.get(8),
        reason: r.get(9),
    }
}

/// Notice `id`, if there is one (read `FOR UPDATE` with `lock`).
pub(super) fn notice(
    c: &mut impl GenericClient,
    id: i64,
    lock: bool,
) -> Result<Option<NoticeRecord>> {
    let sql = format!(
        "SELECT {COLS} FROM notices WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    Ok(c.query_opt(&sql, &[&id])?.map(|r| row(&r)))
}

/// The notices, pending ones only unless `all`, by id.
pub(super) fn notices(c: &mut impl GenericClient, all: bool) -> Result<Vec<NoticeRecord>> {
    let sql = if all {
        format!("SELECT {COLS} FROM notices ORDER BY id")
    } else {
        format!("SELECT {COLS} FROM notices WHERE status = 'pending' ORDER BY id")
    };
    Ok(c.query(&sql, &[])?.iter().map(row).collect())
}

/// How `notice_raised` and `notice_acknowledged` change `notices`.
pub(super) fn project(tx: &mut Transaction<'_>, ev: &Event, at: Millis) -> Result<()> {
    match ev {
        Event::NoticeRaised {
            notice,
            schedule,
            kind,
            key,
            summary,
            data,
        } => {
            tx.execute(
                "INSERT INTO notices (id, schedule, kind, key, summary, data, status, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7)",
                &[notice, schedule, kind, key, summary, &data.to_string(), &at],
            )?;
        }
        Event::NoticeAcknowledged { notice, by, reason } => {
            tx.execute(
                "UPDATE notices SET status = 'acknowledged', acknowledged_at = $2,
                   acknowledged_by = $3, reason = $4 WHERE id = $1",
                &[notice, &at, by, reason],
            )?;
        }
        _ => {}
    }
    Ok(())
}

/// Raise a notice inside the caller's transaction, once per `key`: `None` when one
/// with this key exists.
pub(super) fn raise_in(
    tx: &mut Transaction<'_>,
    at: Millis,
    schedule: &str,
    kind: &str,
    key: &str,
    summary: &str,
    data: Json,
) -> Result<Option<i64>> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(1634299766, hashtext($1))",
        &[&key],
    )?;
    if tx
        .query_opt("SELECT id FROM notices WHERE key = $1", &[&key])?
        .is_some()
    {
        return Ok(None);
    }
    let id: i64 = tx.query_one("SELECT nextval('inbox_ids')", &[])?.get(0);
    let ev = Event::NoticeRaised {
        notice: id,
        schedule: schedule.to_string(),
        kind: kind.to_string(),
        key: key.to_string(),
        summary: summary.to_string(),
        data,
    };
    append(tx, NO_RUN, &ev, at)?;
    apply(tx, NO_RUN, &ev, at)?;
    Ok(Some(id))
}

impl NoticeStore for PgJournal {
    fn raise_notice(
        &mut self,
        schedule: &str,
        kind: &str,
        key: &str,
        summary: &str,
        data: Json,
    ) -> Result<Option<i64>> {
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        let id = raise_in(&mut tx, at, schedule, kind, key, summary, data)?;
        tx.commit()?;
        Ok(id)
    }

    fn notices(&self, all: bool) -> Result<Vec<NoticeRecord>> {
        notices(&mut *self.conn(), all)
    }

    fn notice(&self, id: i64) -> Result<Option<NoticeRecord>> {
        notice(&mut *self.conn(), id, false)
    }

    fn acknowledge_notice(
        &mut self,
        id: i64,
        by: &str,
        reason: Option<String>,
    ) -> Result<NoticeRecord> {
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        let n = notice(&mut *tx, id, true)?.ok_or_else(|| {
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
        append(&mut tx, NO_RUN, &ev, at)?;
        apply(&mut tx, NO_RUN, &ev, at)?;
        let n = notice(&mut *tx, id, false)?.expect("just updated");
        tx.commit()?;
        Ok(n)
    }
}
