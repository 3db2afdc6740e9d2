//! Mail watches on PostgreSQL: `journal::mail` — the registry of workflows an IMAP
//! folder starts, the messages decided for each, and their own append-only log
//! (`mail_events`), every change an event applied to the projections
//! (`mail_watches`, `mail_messages`) in its transaction.
//!
//! Exactly once per message: a watch's writers take turns on the advisory lock of
//! its name (the schedules' lock: one name, one schedule of either kind), and a
//! message's row is written, after checking that none exists, in the transaction
//! of the run it starts (or the notice a malformed message becomes); so however many
//! ticks on however many machines fetch a message, one records it.

use std::collections::HashSet;

use postgres::types::ToSql;
use postgres::{GenericClient, Row, Transaction};
use serde_json::Value as Json;

use super::PgJournal;
use super::project::{append, apply as apply_run};
use super::schedule::lock;
use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::journal::store::{MailStore, RunStore};
use crate::journal::types::{Event, RunStatus};
use crate::journal::{
    IncomingMail, MailEvent, MailOutcome, MailPlace, MailRecord, MailRecorded, MailStatus,
    MailWatchRecord, MailWatchSpec, NewFireRun, conflicting_kind,
};

const WATCH_COLS: &str = "name, path, dir, source_hash, account, folder, search, after, move_to,
    max_per_tick, inputs, paused, uidvalidity, failing_since, last_error, created_at, updated_at";

fn watch_row(r: &Row) -> MailWatchRecord {
    let inputs: &str = r.get(10);
    MailWatchRecord {
        spec: MailWatchSpec {
            name: r.get(0),
            path: r.get(1),
            dir: r.get(2),
            source_hash: r.get(3),
            account: r.get(4),
            folder: r.get(5),
            search: r.get(6),
            after: r.get(7),
            move_to: r.get(8),
            max_per_tick: r.get::<_, i64>(9).clamp(1, u32::MAX as i64) as u32,
            inputs: serde_json::from_str(inputs).unwrap_or(Json::Null),
        },
        paused: r.get(11),
        uidvalidity: r.get::<_, Option<i64>>(12).map(|v| v as u32),
        failing_since: r.get(13),
        last_error: r.get(14),
        created_at: r.get(15),
        updated_at: r.get(16),
    }
}

fn get_watch(c: &mut impl GenericClient, name: &str) -> Result<Option<MailWatchRecord>> {
    Ok(c.query_opt(
        &format!("SELECT {WATCH_COLS} FROM mail_watches WHERE name = $1"),
        &[&name],
    )?
    .map(|r| watch_row(&r)))
}

fn not_found(name: &str) -> Error {
    Error::not_found(format!("no schedule `{name}`"))
        .with_hint("list schedules with: aios schedule list")
}

/// Append a mail event and apply it to the projections.
pub(super) fn record(
    tx: &mut Transaction<'_>,
    watch: &str,
    ev: &MailEvent,
    at: Millis,
) -> Result<()> {
    tx.execute(
        "INSERT INTO mail_events (watch, type, data, at) VALUES ($1, $2, $3, $4)",
        &[&watch, &ev.type_name(), &serde_json::to_string(ev)?, &at],
    )?;
    apply(tx, watch, ev, at)
}

/// How each mail event changes `mail_watches` and `mail_messages`.
fn apply(tx: &mut Transaction<'_>, watch: &str, ev: &MailEvent, at: Millis) -> Result<()> {
    match ev {
        MailEvent::Added { spec: s, replaced } => {
            let max = i64::from(s.max_per_tick);
            let inputs = s.inputs.to_string();
            // Another account or folder (replaced): its UIDVALIDITY is not known yet.
            let sql = if *replaced {
                "UPDATE mail_watches SET path = $2, dir = $3, source_hash = $4,
                       uidvalidity = CASE WHEN account = $5 AND folder = $6 THEN uidvalidity END,
                       account = $5, folder = $6, search = $7, after = $8, move_to = $9,
                       max_per_tick = $10, inputs = $11, updated_at = $12 WHERE name = $1"
            } else {
                "INSERT INTO mail_watches (name, path, dir, source_hash, account, folder,
                       search, after, move_to, max_per_tick, inputs, paused, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, false, $12, $12)"
            };
            let params: [&(dyn ToSql + Sync); 12] = [
                &watch,
                &s.path,
                &s.dir,
                &s.source_hash,
                &s.account,
                &s.folder,
                &s.search,
                &s.after,
                &s.move_to,
                &max,
                &inputs,
                &at,
            ];
            tx.execute(sql, &params)?;
        }
        MailEvent::Paused | MailEvent::Resumed => {
            tx.execute(
                "UPDATE mail_watches SET paused = $2, updated_at = $3 WHERE name = $1",
                &[&watch, &matches!(ev, MailEvent::Paused), &at],
            )?;
        }
        MailEvent::Removed => {
            tx.execute("DELETE FROM mail_watches WHERE name = $1", &[&watch])?;
        }
        MailEvent::Received {
            place,
            message_id,
            key,
            status,
            run_id,
            notice_id,
            done,
        } => {
            tx.execute(
                "INSERT INTO mail_messages (watch, account, folder, uidvalidity, uid, message_id,
                   key, status, run_id, notice_id, received_at, flagged_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                &[
                    &watch,
                    &place.account,
                    &place.folder,
                    &i64::from(place.uidvalidity),
                    &i64::from(place.uid),
                    message_id,
                    key,
                    &status.as_str(),
                    run_id,
                    notice_id,
                    &at,
                    &done.then_some(at),
                ],
            )?;
        }
        MailEvent::Flagged {
            account,
            folder,
            uidvalidity,
            uids,
            ..
        } => {
            let uids: Vec<i64> = uids.iter().map(|u| i64::from(*u)).collect();
            tx.execute(
                "UPDATE mail_messages SET flagged_at = $6
                 WHERE watch = $1 AND account = $2 AND folder = $3 AND uidvalidity = $4
                   AND uid = ANY($5) AND flagged_at IS NULL",
                &[
                    &watch,
                    account,
                    folder,
                    &i64::from(*uidvalidity),
                    &uids,
                    &at,
                ],
            )?;
        }
        MailEvent::Validity { to, .. } => {
            tx.execute(
                "UPDATE mail_watches SET uidvalidity = $2, updated_at = $3 WHERE name = $1",
                &[&watch, &i64::from(*to), &at],
            )?;
        }
        MailEvent::PollFailed { error } => {
            tx.execute(
                "UPDATE mail_watches SET failing_since = coalesce(failing_since, $2),
                   last_error = $3, updated_at = $2 WHERE name = $1",
                &[&watch, &at, error],
            )?;
        }
        MailEvent::PollRecovered => {
            tx.execute(
                "UPDATE mail_watches SET failing_since = NULL, last_error = NULL, updated_at = $2
                 WHERE name = $1",
                &[&watch, &at],
            )?;
        }
    }
    Ok(())
}

/// Create a run inside the caller's transaction (as a schedule's fire does).
fn insert_run(tx: &mut Transaction<'_>, new: &NewFireRun, at: Millis) -> Result<i64> {
    if let Event::RunCreated { source_hash, .. } = &new.created {
        tx.execute(
            "INSERT INTO sources (hash, text) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING",
            &[source_hash, &new.source],
        )?;
    }
    let id: i64 = tx.query_one("SELECT nextval('run_ids')", &[])?.get(0);
    append(tx, id, &new.created, at)?;
    apply_run(tx, id, &new.created, at)?;
    Ok(id)
}

fn uids(rows: Vec<Row>) -> impl Iterator<Item = u32> {
    rows.into_iter().map(|r| r.get::<_, i64>(0) as u32)
}

impl MailStore for PgJournal {
    fn put_mail_watch(&mut self, spec: MailWatchSpec, source: &str) -> Result<bool> {
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        lock(&mut tx, &spec.name)?;
        if tx
            .query_opt("SELECT 1 FROM schedules WHERE name = $1", &[&spec.name])?
            .is_some()
        {
            return Err(conflicting_kind(&spec.name, "a cron schedule"));
        }
        tx.execute(
            "INSERT INTO sources (hash, text) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING",
            &[&spec.source_hash, &source],
        )?;
        let replaced = get_watch(&mut *tx, &spec.name)?.is_some();
        let name = spec.name.clone();
        let ev = MailEvent::Added {
            spec: Box::new(spec),
            replaced,
        };
        record(&mut tx, &name, &ev, at)?;
        tx.commit()?;
        Ok(replaced)
    }

    fn has_mail_watch(&self, name: &str) -> Result<bool> {
        Ok(get_watch(&mut *self.conn(), name)?.is_some())
    }

    fn mail_watch(&self, name: &str) -> Result<MailWatchRecord> {
        get_watch(&mut *self.conn(), name)?.ok_or_else(|| not_found(name))
    }

    fn mail_watches(&self) -> Result<Vec<MailWatchRecord>> {
        Ok(self
            .conn()
            .query(
                &format!("SELECT {WATCH_COLS} FROM mail_watches ORDER BY name COLLATE \"C\""),
                &[],
            )?
            .iter()
            .map(watch_row)
            .collect())
    }

    fn mail_watch_source(&self, name: &str) -> Result<(MailWatchRecord, String)> {
        let w = self.mail_watch(name)?;
        let text: String = self
            .conn()
            .query_one(
                "SELECT text FROM sources WHERE hash = $1",
                &[&w.spec.source_hash],
            )?
            .get(0);
        Ok((w, text))
    }

    fn set_mail_watch_paused(&mut self, name: &str, paused: bool) -> Result<bool> {
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        lock(&mut tx, name)?;
        let w = get_watch(&mut *tx, name)?.ok_or_else(|| not_found(name))?;
        if w.paused == paused {
            return Ok(false);
        }
        let ev = if paused {
            MailEvent::Paused
        } else {
            MailEvent::Resumed
        };
        record(&mut tx, name, &ev, at)?;
        tx.commit()?;
        Ok(true)
    }

    fn remove_mail_watch(&mut self, name: &str) -> Result<()> {
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        lock(&mut tx, name)?;
        get_watch(&mut *tx, name)?.ok_or_else(|| not_found(name))?;
        record(&mut tx, name, &MailEvent::Removed, at)?;
        tx.commit()?;
        Ok(())
    }

    fn mail_decided(
        &self,
        watch: &str,
        account: &str,
        folder: &str,
        uidvalidity: u32,
        uids_asked: &[u32],
    ) -> Result<HashSet<u32>> {
        let (Some(lo), Some(hi)) = (uids_asked.iter().min(), uids_asked.iter().max()) else {
            return Ok(HashSet::new());
        };
        let rows = self.conn().query(
            "SELECT uid FROM mail_messages WHERE watch = $1 AND account = $2 AND folder = $3
               AND uidvalidity = $4 AND uid BETWEEN $5 AND $6",
            &[
                &watch,
                &account,
                &folder,
                &i64::from(uidvalidity),
                &i64::from(*lo),
                &i64::from(*hi),
            ],
        )?;
        Ok(uids(rows).collect())
    }

    fn mail_unflagged(
        &self,
        watch: &str,
        account: &str,
        folder: &str,
        uidvalidity: u32,
    ) -> Result<Vec<u32>> {
        let rows = self.conn().query(
            "SELECT uid FROM mail_messages WHERE watch = $1 AND flagged_at IS NULL
               AND account = $2 AND folder = $3 AND uidvalidity = $4 ORDER BY uid",
            &[&watch, &account, &folder, &i64::from(uidvalidity)],
        )?;
        Ok(uids(rows).collect())
    }

    fn record_mail(&mut self, watch: &str, m: IncomingMail) -> Result<MailRecorded> {
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        lock(&mut tx, watch)?;
        match get_watch(&mut *tx, watch)? {
            Some(w) if !w.paused => {}
            _ => return Ok(MailRecorded::Gone),
        }
        let p = &m.place;
        let (validity, uid) = (i64::from(p.uidvalidity), i64::from(p.uid));
        if tx
            .query_opt(
                "SELECT 1 FROM mail_messages WHERE watch = $1 AND account = $2 AND folder = $3
                   AND uidvalidity = $4 AND uid = $5",
                &[&watch, &p.account, &p.folder, &validity, &uid],
            )?
            .is_some()
        {
            return Ok(MailRecorded::Already);
        }
        // Taken before, under another UIDVALIDITY (or folder) of this watch?
        let earlier: Option<Option<i64>> = tx
            .query_opt(
                "SELECT run_id FROM mail_messages WHERE watch = $1 AND key = $2
                   AND status != 'malformed'
                   AND NOT (account = $3 AND folder = $4 AND uidvalidity = $5)
                 ORDER BY received_at LIMIT 1",
                &[&watch, &m.key, &p.account, &p.folder, &validity],
            )?
            .map(|r| r.get(0));
        let (status, run_id, notice_id, result) = match (&m.outcome, earlier) {
            (MailOutcome::Start(_), Some(run)) => (
                MailStatus::Duplicate,
                run,
                None,
                MailRecorded::Duplicate { run },
            ),
            (MailOutcome::Start(new), None) => {
                let run = insert_run(&mut tx, new, at)?;
                (
                    MailStatus::Started,
                    Some(run),
                    None,
                    MailRecorded::Started { run },
                )
            }
            (MailOutcome::Notice { summary, data }, _) => {
                let key = format!(
                    "mail:{watch}:{}:{}:{}:{}",
                    p.account, p.folder, p.uidvalidity, p.uid
                );
                let notice = super::notices::raise_in(
                    &mut tx,
                    at,
                    watch,
                    "mail_malformed",
                    &key,
                    summary,
                    data.clone(),
                )?;
                (
                    MailStatus::Malformed,
                    None,
                    notice,
                    MailRecorded::Malformed { notice },
                )
            }
        };
        let done = m.done || status == MailStatus::Malformed;
        let ev = MailEvent::Received {
            place: m.place,
            message_id: m.message_id,
            key: m.key,
            status,
            run_id,
            notice_id,
            done,
        };
        record(&mut tx, watch, &ev, at)?;
        tx.commit()?;
        Ok(result)
    }

    fn mail_flagged(
        &mut self,
        watch: &str,
        account: &str,
        folder: &str,
        uidvalidity: u32,
        uids_done: Vec<u32>,
        how: &str,
    ) -> Result<()> {
        if uids_done.is_empty() {
            return Ok(());
        }
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        lock(&mut tx, watch)?;
        // Another tick may have applied and journaled it already.
        let asked: Vec<i64> = uids_done.iter().map(|u| i64::from(*u)).collect();
        let still: HashSet<u32> = uids(tx.query(
            "SELECT uid FROM mail_messages WHERE watch = $1 AND account = $2 AND folder = $3
               AND uidvalidity = $4 AND uid = ANY($5) AND flagged_at IS NULL",
            &[&watch, &account, &folder, &i64::from(uidvalidity), &asked],
        )?)
        .collect();
        // In the order given (as SQLite's journal keeps them).
        let uids: Vec<u32> = uids_done
            .into_iter()
            .filter(|u| still.contains(u))
            .collect();
        if uids.is_empty() {
            return Ok(());
        }
        let ev = MailEvent::Flagged {
            account: account.to_string(),
            folder: folder.to_string(),
            uidvalidity,
            uids,
            how: how.to_string(),
        };
        record(&mut tx, watch, &ev, at)?;
        tx.commit()?;
        Ok(())
    }

    fn mail_validity(
        &mut self,
        watch: &str,
        account: &str,
        folder: &str,
        to: u32,
    ) -> Result<Option<Option<u32>>> {
        // The usual case writes nothing (and takes no lock).
        if get_watch(&mut *self.conn(), watch)?.is_none_or(|w| w.uidvalidity == Some(to)) {
            return Ok(None);
        }
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        lock(&mut tx, watch)?;
        let Some(w) = get_watch(&mut *tx, watch)? else {
            return Ok(None);
        };
        if w.uidvalidity == Some(to) {
            return Ok(None);
        }
        let ev = MailEvent::Validity {
            account: account.to_string(),
            folder: folder.to_string(),
            from: w.uidvalidity,
            to,
        };
        record(&mut tx, watch, &ev, at)?;
        tx.commit()?;
        Ok(Some(w.uidvalidity))
    }

    fn mail_poll_failed(&mut self, watch: &str, error: &str) -> Result<(Millis, bool)> {
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        lock(&mut tx, watch)?;
        let Some(w) = get_watch(&mut *tx, watch)? else {
            return Ok((at, false));
        };
        if let Some(since) = w.failing_since
            && w.last_error.as_deref() == Some(error)
        {
            return Ok((since, false));
        }
        let ev = MailEvent::PollFailed {
            error: error.to_string(),
        };
        record(&mut tx, watch, &ev, at)?;
        tx.commit()?;
        Ok((w.failing_since.unwrap_or(at), w.failing_since.is_none()))
    }

    fn mail_poll_ok(&mut self, watch: &str) -> Result<bool> {
        if get_watch(&mut *self.conn(), watch)?.is_none_or(|w| w.failing_since.is_none()) {
            return Ok(false);
        }
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        lock(&mut tx, watch)?;
        if get_watch(&mut *tx, watch)?.is_none_or(|w| w.failing_since.is_none()) {
            return Ok(false);
        }
        record(&mut tx, watch, &MailEvent::PollRecovered, at)?;
        tx.commit()?;
        Ok(true)
    }

    fn mail_messages(&self, watch: &str, limit: usize) -> Result<Vec<MailRecord>> {
        let rows = self.conn().query(
            "SELECT m.watch, m.account, m.folder, m.uidvalidity, m.uid, m.message_id, m.status,
                    m.run_id, r.status, m.notice_id, m.received_at, m.flagged_at
             FROM mail_messages m LEFT JOIN runs r ON r.id = m.run_id
             WHERE m.watch = $1 ORDER BY m.received_at DESC, m.uid DESC LIMIT $2",
            &[&watch, &(limit as i64)],
        )?;
        Ok(rows
            .iter()
            .map(|r| {
                let status: &str = r.get(6);
                let run_status: Option<&str> = r.get(8);
                MailRecord {
                    watch: r.get(0),
                    place: MailPlace {
                        account: r.get(1),
                        folder: r.get(2),
                        uidvalidity: r.get::<_, i64>(3) as u32,
                        uid: r.get::<_, i64>(4) as u32,
                    },
                    message_id: r.get(5),
                    status: MailStatus::parse(status).unwrap_or(MailStatus::Started),
                    run_id: r.get(7),
                    run_status: run_status.and_then(RunStatus::parse),
                    notice_id: r.get(9),
                    received_at: r.get(10),
                    flagged_at: r.get(11),
                }
            })
            .collect())
    }

    fn has_cron_schedule(&self, name: &str) -> Result<bool> {
        Ok(self
            .conn()
            .query_opt("SELECT 1 FROM schedules WHERE name = $1", &[&name])?
            .is_some())
    }
}
