//! Mail watches in the journal: the registry of workflows an IMAP folder starts
//! (`aios schedule add` of a `[trigger] imap`), the messages decided for each, and
//! their own append-only event log (`mail_events`). Every change is an event applied
//! to the projections (`mail_watches`, `mail_messages`) in the same transaction.
//!
//! Exactly once per message: a message's row, keyed by (watch, account, folder,
//! UIDVALIDITY, UID), is written in the same transaction as the run it starts (or
//! the notice a malformed message becomes), after checking that no row exists; so
//! however many ticks fetch the same message, one records it and the others see it
//! recorded. What `after` says (the `\Seen` flag, a move) is applied to the message
//! only once its row is committed, and journaled when done (`flagged_at`): a row
//! still unflagged after a crash is flagged by the next poll.

use std::collections::HashSet;

use rusqlite::{OptionalExtension, Row, Transaction, params};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::types::{Event, RunStatus};
use super::{NewFireRun, SqliteJournal, append, next_run_id, notices, project};
use crate::clock::Millis;
use crate::error::{Error, Result};

/// What the registry stores for a mail watch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MailWatchSpec {
    /// The workflow's name (a schedule's name: one namespace for both).
    pub name: String,
    /// The workflow file as given to `schedule add` (absolute).
    pub path: String,
    /// The workflow file's folder: relative paths of started runs start here.
    pub dir: String,
    /// The workflow snapshot started runs use (stored in `sources`).
    pub source_hash: String,
    /// The `[imap.NAME]` account of the config file.
    pub account: String,
    pub folder: String,
    /// The IMAP search key that selects the messages to take (`UNSEEN`).
    pub search: String,
    /// `seen`, `move` or `keep`: what is done to a message once its run is recorded.
    pub after: String,
    pub move_to: Option<String>,
    /// At most this many new messages are taken by one poll (oldest first).
    pub max_per_tick: u32,
    /// Inputs of every started run besides `message`, already checked.
    pub inputs: Json,
}

/// A mail watch as stored.
#[derive(Debug, Clone)]
pub struct MailWatchRecord {
    pub spec: MailWatchSpec,
    pub paused: bool,
    /// The folder's UIDVALIDITY at the last poll.
    pub uidvalidity: Option<u32>,
    /// Set by the first poll of a failure streak, cleared by the next that works.
    pub failing_since: Option<Millis>,
    pub last_error: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

super::types::word_enum!(
    /// What was decided for one message.
    MailStatus {
        /// A run was started for it.
        Started = "started",
        /// It could not be read as a message: a notice entered the inbox instead.
        Malformed = "malformed",
        /// The folder's UIDVALIDITY changed and this message (by its Message-ID)
        /// had already been taken under the earlier one: no second run.
        Duplicate = "duplicate",
    }
);

/// Where a message is: its account, folder, the folder's UIDVALIDITY and its UID.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MailPlace {
    pub account: String,
    pub folder: String,
    pub uidvalidity: u32,
    pub uid: u32,
}

/// A mail watch's event. Field names are part of the on-disk format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MailEvent {
    /// Registered (or re-registered with a new snapshot: `replaced`).
    Added {
        spec: Box<MailWatchSpec>,
        #[serde(default)]
        replaced: bool,
    },
    Paused,
    Resumed,
    Removed,
    /// One message decided.
    Received {
        #[serde(flatten)]
        place: MailPlace,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_id: Option<String>,
        key: String,
        status: MailStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run_id: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        notice_id: Option<i64>,
        /// Nothing is to be applied to it in its folder (after = keep, malformed).
        #[serde(default)]
        done: bool,
    },
    /// What `after` says was applied to these messages of one folder.
    Flagged {
        account: String,
        folder: String,
        uidvalidity: u32,
        uids: Vec<u32>,
        how: String,
    },
    /// The folder's UIDVALIDITY, first seen (`from` absent) or changed.
    Validity {
        account: String,
        folder: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<u32>,
        to: u32,
    },
    /// A poll failed (the first of a streak).
    PollFailed {
        error: String,
    },
    /// A poll worked after a streak of failures.
    PollRecovered,
}

impl MailEvent {
    pub fn type_name(&self) -> &'static str {
        match self {
            MailEvent::Added { .. } => "mail_watch_added",
            MailEvent::Paused => "mail_watch_paused",
            MailEvent::Resumed => "mail_watch_resumed",
            MailEvent::Removed => "mail_watch_removed",
            MailEvent::Received { .. } => "mail_received",
            MailEvent::Flagged { .. } => "mail_flagged",
            MailEvent::Validity { .. } => "mail_uidvalidity",
            MailEvent::PollFailed { .. } => "mail_poll_failed",
            MailEvent::PollRecovered => "mail_poll_recovered",
        }
    }
}

/// A message decided, as stored.
#[derive(Debug, Clone)]
pub struct MailRecord {
    pub watch: String,
    pub place: MailPlace,
    pub message_id: Option<String>,
    pub status: MailStatus,
    pub run_id: Option<i64>,
    pub run_status: Option<RunStatus>,
    pub notice_id: Option<i64>,
    pub received_at: Millis,
    pub flagged_at: Option<Millis>,
}

/// What a fetched message becomes.
#[derive(Debug, Clone)]
pub enum MailOutcome {
    /// A run of the watch's workflow, with `inputs.message`.
    Start(NewFireRun),
    /// A notice in the inbox (the message could not be read).
    Notice { summary: String, data: Json },
}

/// A fetched message to record.
#[derive(Debug, Clone)]
pub struct IncomingMail {
    pub place: MailPlace,
    pub message_id: Option<String>,
    /// The Message-ID, or a hash of the header block.
    pub key: String,
    pub outcome: MailOutcome,
    /// Nothing is to be applied to it in its folder afterwards (after = keep).
    pub done: bool,
}

/// What [`SqliteJournal::record_mail`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailRecorded {
    /// A run was created.
    Started { run: i64 },
    /// A notice was raised (`None`: one with its key existed already).
    Malformed { notice: Option<i64> },
    /// Already taken before the folder's UIDVALIDITY changed (by `run`): no run.
    Duplicate { run: Option<i64> },
    /// Another process recorded it first: nothing was written.
    Already,
    /// The watch was removed or paused meanwhile: nothing was written.
    Gone,
}

const WATCH_COLS: &str = "name, path, dir, source_hash, account, folder, search, after, move_to,
    max_per_tick, inputs, paused, uidvalidity, failing_since, last_error, created_at, updated_at";

fn watch_row(r: &Row<'_>) -> rusqlite::Result<MailWatchRecord> {
    let inputs: String = r.get(10)?;
    Ok(MailWatchRecord {
        spec: MailWatchSpec {
            name: r.get(0)?,
            path: r.get(1)?,
            dir: r.get(2)?,
            source_hash: r.get(3)?,
            account: r.get(4)?,
            folder: r.get(5)?,
            search: r.get(6)?,
            after: r.get(7)?,
            move_to: r.get(8)?,
            max_per_tick: r.get::<_, i64>(9)?.clamp(1, u32::MAX as i64) as u32,
            inputs: serde_json::from_str(&inputs).unwrap_or(Json::Null),
        },
        paused: r.get::<_, i64>(11)? != 0,
        uidvalidity: r.get::<_, Option<i64>>(12)?.map(|v| v as u32),
        failing_since: r.get(13)?,
        last_error: r.get(14)?,
        created_at: r.get(15)?,
        updated_at: r.get(16)?,
    })
}

fn get_watch(conn: &rusqlite::Connection, name: &str) -> Result<Option<MailWatchRecord>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {WATCH_COLS} FROM mail_watches WHERE name = ?1"
        ))?
        .query_row(params![name], watch_row)
        .optional()?)
}

fn not_found(name: &str) -> Error {
    Error::not_found(format!("no schedule `{name}`"))
        .with_hint("list schedules with: aios schedule list")
}

/// Append a mail event and apply it to the projections.
fn record(tx: &Transaction<'_>, watch: &str, ev: &MailEvent, at: Millis) -> Result<()> {
    tx.prepare_cached("INSERT INTO mail_events (watch, type, data, at) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![
            watch,
            ev.type_name(),
            serde_json::to_string(ev)?,
            at
        ])?;
    apply(tx, watch, ev, at)
}

/// How each mail event changes `mail_watches` and `mail_messages`.
fn apply(tx: &Transaction<'_>, watch: &str, ev: &MailEvent, at: Millis) -> Result<()> {
    match ev {
        MailEvent::Added { spec, replaced } => {
            let s = spec;
            if *replaced {
                // Another account or folder: its UIDVALIDITY is not known yet.
                tx.execute(
                    "UPDATE mail_watches SET path = ?2, dir = ?3, source_hash = ?4,
                       uidvalidity = CASE WHEN account = ?5 AND folder = ?6 THEN uidvalidity END,
                       account = ?5, folder = ?6, search = ?7, after = ?8, move_to = ?9,
                       max_per_tick = ?10, inputs = ?11, updated_at = ?12 WHERE name = ?1",
                    params![
                        watch,
                        s.path,
                        s.dir,
                        s.source_hash,
                        s.account,
                        s.folder,
                        s.search,
                        s.after,
                        s.move_to,
                        s.max_per_tick,
                        s.inputs.to_string(),
                        at
                    ],
                )?;
            } else {
                tx.execute(
                    "INSERT INTO mail_watches (name, path, dir, source_hash, account, folder,
                       search, after, move_to, max_per_tick, inputs, paused, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 0, ?12, ?12)",
                    params![
                        watch,
                        s.path,
                        s.dir,
                        s.source_hash,
                        s.account,
                        s.folder,
                        s.search,
                        s.after,
                        s.move_to,
                        s.max_per_tick,
                        s.inputs.to_string(),
                        at
                    ],
                )?;
            }
        }
        MailEvent::Paused | MailEvent::Resumed => {
            tx.execute(
                "UPDATE mail_watches SET paused = ?2, updated_at = ?3 WHERE name = ?1",
                params![watch, matches!(ev, MailEvent::Paused), at],
            )?;
        }
        MailEvent::Removed => {
            tx.execute("DELETE FROM mail_watches WHERE name = ?1", params![watch])?;
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
            tx.prepare_cached(
                "INSERT INTO mail_messages (watch, account, folder, uidvalidity, uid, message_id,
                   key, status, run_id, notice_id, received_at, flagged_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                watch,
                place.account,
                place.folder,
                place.uidvalidity,
                place.uid,
                message_id,
                key,
                status.as_str(),
                run_id,
                notice_id,
                at,
                done.then_some(at)
            ])?;
        }
        MailEvent::Flagged {
            account,
            folder,
            uidvalidity,
            uids,
            ..
        } => {
            let mut stmt = tx.prepare_cached(
                "UPDATE mail_messages SET flagged_at = ?6
                 WHERE watch = ?1 AND account = ?2 AND folder = ?3 AND uidvalidity = ?4
                   AND uid = ?5 AND flagged_at IS NULL",
            )?;
            for uid in uids {
                stmt.execute(params![watch, account, folder, uidvalidity, uid, at])?;
            }
        }
        MailEvent::Validity { to, .. } => {
            tx.execute(
                "UPDATE mail_watches SET uidvalidity = ?2, updated_at = ?3 WHERE name = ?1",
                params![watch, to, at],
            )?;
        }
        MailEvent::PollFailed { error } => {
            tx.execute(
                "UPDATE mail_watches SET failing_since = coalesce(failing_since, ?2),
                   last_error = ?3, updated_at = ?2 WHERE name = ?1",
                params![watch, at, error],
            )?;
        }
        MailEvent::PollRecovered => {
            tx.execute(
                "UPDATE mail_watches SET failing_since = NULL, last_error = NULL, updated_at = ?2
                 WHERE name = ?1",
                params![watch, at],
            )?;
        }
    }
    Ok(())
}

/// Create a run inside the caller's transaction (as a schedule's fire does).
fn insert_run(tx: &Transaction<'_>, new: &NewFireRun, at: Millis) -> Result<i64> {
    if let Event::RunCreated { source_hash, .. } = &new.created {
        tx.prepare_cached("INSERT OR IGNORE INTO sources (hash, text) VALUES (?1, ?2)")?
            .execute(params![source_hash, new.source])?;
    }
    let id = next_run_id(tx)?;
    append(tx, id, &new.created, at)?;
    project::apply(tx, id, &new.created, at)?;
    Ok(id)
}

impl SqliteJournal {
    /// Register a mail watch, or replace the snapshot and trigger of one with the
    /// same name (its messages, pause state and health are kept). Returns true when
    /// replaced. A cron schedule of the same name is a conflict: one name, one
    /// schedule.
    pub fn put_mail_watch(&mut self, spec: MailWatchSpec, source: &str) -> Result<bool> {
        let at = self.now();
        let tx = self.write_tx()?;
        let cron: Option<String> = tx
            .prepare_cached("SELECT name FROM schedules WHERE name = ?1")?
            .query_row(params![spec.name], |r| r.get(0))
            .optional()?;
        if cron.is_some() {
            return Err(conflicting_kind(&spec.name, "a cron schedule"));
        }
        tx.prepare_cached("INSERT OR IGNORE INTO sources (hash, text) VALUES (?1, ?2)")?
            .execute(params![spec.source_hash, source])?;
        let replaced = get_watch(&tx, &spec.name)?.is_some();
        let name = spec.name.clone();
        let ev = MailEvent::Added {
            spec: Box::new(spec),
            replaced,
        };
        record(&tx, &name, &ev, at)?;
        tx.commit()?;
        Ok(replaced)
    }

    /// Whether a mail watch is registered under `name`.
    pub fn has_mail_watch(&self, name: &str) -> Result<bool> {
        Ok(get_watch(&self.conn, name)?.is_some())
    }

    pub fn mail_watch(&self, name: &str) -> Result<MailWatchRecord> {
        get_watch(&self.conn, name)?.ok_or_else(|| not_found(name))
    }

    /// Every mail watch, by name.
    pub fn mail_watches(&self) -> Result<Vec<MailWatchRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {WATCH_COLS} FROM mail_watches ORDER BY name"
        ))?;
        let rows = stmt.query_map([], watch_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A mail watch and the text of its workflow snapshot.
    pub fn mail_watch_source(&self, name: &str) -> Result<(MailWatchRecord, String)> {
        let w = self.mail_watch(name)?;
        let text: String = self
            .conn
            .prepare_cached("SELECT text FROM sources WHERE hash = ?1")?
            .query_row(params![w.spec.source_hash], |r| r.get(0))?;
        Ok((w, text))
    }

    /// Pause (`true`) or resume a mail watch. False when it already was.
    pub fn set_mail_watch_paused(&mut self, name: &str, paused: bool) -> Result<bool> {
        let at = self.now();
        let tx = self.write_tx()?;
        let w = get_watch(&tx, name)?.ok_or_else(|| not_found(name))?;
        if w.paused == paused {
            return Ok(false);
        }
        let ev = if paused {
            MailEvent::Paused
        } else {
            MailEvent::Resumed
        };
        record(&tx, name, &ev, at)?;
        tx.commit()?;
        Ok(true)
    }

    /// Remove a mail watch from the registry (its messages and runs stay in the
    /// journal: added again, it does not take a message twice).
    pub fn remove_mail_watch(&mut self, name: &str) -> Result<()> {
        let at = self.now();
        let tx = self.write_tx()?;
        get_watch(&tx, name)?.ok_or_else(|| not_found(name))?;
        record(&tx, name, &MailEvent::Removed, at)?;
        tx.commit()?;
        Ok(())
    }

    /// Which of `uids` (of one folder under one UIDVALIDITY) the watch has decided.
    pub fn mail_decided(
        &self,
        watch: &str,
        account: &str,
        folder: &str,
        uidvalidity: u32,
        uids: &[u32],
    ) -> Result<HashSet<u32>> {
        let (Some(lo), Some(hi)) = (uids.iter().min(), uids.iter().max()) else {
            return Ok(HashSet::new());
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT uid FROM mail_messages WHERE watch = ?1 AND account = ?2 AND folder = ?3
               AND uidvalidity = ?4 AND uid BETWEEN ?5 AND ?6",
        )?;
        let rows = stmt.query_map(params![watch, account, folder, uidvalidity, lo, hi], |r| {
            r.get::<_, i64>(0)
        })?;
        let mut out = HashSet::new();
        for r in rows {
            out.insert(r? as u32);
        }
        Ok(out)
    }

    /// Messages of one folder (under one UIDVALIDITY) whose run is recorded but
    /// to which `after` has not been applied yet (a crash came in between).
    pub fn mail_unflagged(
        &self,
        watch: &str,
        account: &str,
        folder: &str,
        uidvalidity: u32,
    ) -> Result<Vec<u32>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT uid FROM mail_messages WHERE watch = ?1 AND flagged_at IS NULL
               AND account = ?2 AND folder = ?3 AND uidvalidity = ?4 ORDER BY uid",
        )?;
        let rows = stmt.query_map(params![watch, account, folder, uidvalidity], |r| {
            r.get::<_, i64>(0)
        })?;
        let mut out = Vec::new();
        for r in rows {
            out.push(r? as u32);
        }
        Ok(out)
    }

    /// Record a fetched message once, with the run it starts (or the notice it
    /// becomes), in one immediate transaction: nothing is written when it is
    /// recorded already, or when the watch is gone or paused.
    pub fn record_mail(&mut self, watch: &str, m: IncomingMail) -> Result<MailRecorded> {
        let at = self.now();
        let tx = self.write_tx()?;
        match get_watch(&tx, watch)? {
            Some(w) if !w.paused => {}
            _ => return Ok(MailRecorded::Gone),
        }
        let p = &m.place;
        let exists: Option<i64> = tx
            .prepare_cached(
                "SELECT 1 FROM mail_messages WHERE watch = ?1 AND account = ?2 AND folder = ?3
                   AND uidvalidity = ?4 AND uid = ?5",
            )?
            .query_row(
                params![watch, p.account, p.folder, p.uidvalidity, p.uid],
                |r| r.get(0),
            )
            .optional()?;
        if exists.is_some() {
            return Ok(MailRecorded::Already);
        }
        // Taken before, under another UIDVALIDITY (or folder) of this watch?
        let earlier: Option<Option<i64>> = tx
            .prepare_cached(
                "SELECT run_id FROM mail_messages WHERE watch = ?1 AND key = ?2
                   AND status != 'malformed'
                   AND NOT (account = ?3 AND folder = ?4 AND uidvalidity = ?5)
                 ORDER BY received_at LIMIT 1",
            )?
            .query_row(
                params![watch, m.key, p.account, p.folder, p.uidvalidity],
                |r| r.get(0),
            )
            .optional()?;
        let (status, run_id, notice_id, result) = match (&m.outcome, earlier) {
            (MailOutcome::Start(_), Some(run)) => (
                MailStatus::Duplicate,
                run,
                None,
                MailRecorded::Duplicate { run },
            ),
            (MailOutcome::Start(new), None) => {
                let run = insert_run(&tx, new, at)?;
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
                let notice = notices::raise_in(
                    &tx,
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
        record(&tx, watch, &ev, at)?;
        tx.commit()?;
        Ok(result)
    }

    /// SqliteJournal that `after` was applied to these messages.
    pub fn mail_flagged(
        &mut self,
        watch: &str,
        account: &str,
        folder: &str,
        uidvalidity: u32,
        uids: Vec<u32>,
        how: &str,
    ) -> Result<()> {
        if uids.is_empty() {
            return Ok(());
        }
        let at = self.now();
        let tx = self.write_tx()?;
        // Another tick may have applied and journaled it already.
        let mut still = Vec::with_capacity(uids.len());
        {
            let mut stmt = tx.prepare_cached(
                "SELECT 1 FROM mail_messages WHERE watch = ?1 AND account = ?2 AND folder = ?3
                   AND uidvalidity = ?4 AND uid = ?5 AND flagged_at IS NULL",
            )?;
            for uid in uids {
                if stmt
                    .query_row(params![watch, account, folder, uidvalidity, uid], |r| {
                        r.get::<_, i64>(0)
                    })
                    .optional()?
                    .is_some()
                {
                    still.push(uid);
                }
            }
        }
        if still.is_empty() {
            return Ok(());
        }
        let uids = still;
        let ev = MailEvent::Flagged {
            account: account.to_string(),
            folder: folder.to_string(),
            uidvalidity,
            uids,
            how: how.to_string(),
        };
        record(&tx, watch, &ev, at)?;
        tx.commit()?;
        Ok(())
    }

    /// SqliteJournal the folder's UIDVALIDITY when it is new or changed. Returns the
    /// earlier value when it changed (`Some(None)` the first time it is seen);
    /// `None` when it is unchanged (nothing written).
    pub fn mail_validity(
        &mut self,
        watch: &str,
        account: &str,
        folder: &str,
        to: u32,
    ) -> Result<Option<Option<u32>>> {
        // The usual case writes nothing (and takes no write lock).
        if get_watch(&self.conn, watch)?.is_none_or(|w| w.uidvalidity == Some(to)) {
            return Ok(None);
        }
        let at = self.now();
        let tx = self.write_tx()?;
        let Some(w) = get_watch(&tx, watch)? else {
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
        record(&tx, watch, &ev, at)?;
        tx.commit()?;
        Ok(Some(w.uidvalidity))
    }

    /// A poll of the watch failed. Returns when its failure streak started, and
    /// whether this poll started it.
    pub fn mail_poll_failed(&mut self, watch: &str, error: &str) -> Result<(Millis, bool)> {
        let at = self.now();
        let tx = self.write_tx()?;
        let Some(w) = get_watch(&tx, watch)? else {
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
        record(&tx, watch, &ev, at)?;
        tx.commit()?;
        Ok((w.failing_since.unwrap_or(at), w.failing_since.is_none()))
    }

    /// A poll of the watch worked: end its failure streak, if any. Writes nothing
    /// when it was not failing.
    pub fn mail_poll_ok(&mut self, watch: &str) -> Result<bool> {
        if get_watch(&self.conn, watch)?.is_none_or(|w| w.failing_since.is_none()) {
            return Ok(false);
        }
        let at = self.now();
        let tx = self.write_tx()?;
        if get_watch(&tx, watch)?.is_none_or(|w| w.failing_since.is_none()) {
            return Ok(false);
        }
        record(&tx, watch, &MailEvent::PollRecovered, at)?;
        tx.commit()?;
        Ok(true)
    }

    /// The latest messages a watch decided, newest first.
    pub fn mail_messages(&self, watch: &str, limit: usize) -> Result<Vec<MailRecord>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT m.watch, m.account, m.folder, m.uidvalidity, m.uid, m.message_id, m.status,
                    m.run_id, r.status, m.notice_id, m.received_at, m.flagged_at
             FROM mail_messages m LEFT JOIN runs r ON r.id = m.run_id
             WHERE m.watch = ?1 ORDER BY m.received_at DESC, m.uid DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![watch, limit as i64], |r| {
            let status: String = r.get(6)?;
            let run_status: Option<String> = r.get(8)?;
            Ok(MailRecord {
                watch: r.get(0)?,
                place: MailPlace {
                    account: r.get(1)?,
                    folder: r.get(2)?,
                    uidvalidity: r.get::<_, i64>(3)? as u32,
                    uid: r.get::<_, i64>(4)? as u32,
                },
                message_id: r.get(5)?,
                status: MailStatus::parse(&status).unwrap_or(MailStatus::Started),
                run_id: r.get(7)?,
                run_status: run_status.as_deref().and_then(RunStatus::parse),
                notice_id: r.get(9)?,
                received_at: r.get(10)?,
                flagged_at: r.get(11)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Whether a cron schedule is registered under `name` (one name, one schedule).
    pub fn has_cron_schedule(&self, name: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM schedules WHERE name = ?1")?
            .query_row(params![name], |r| r.get::<_, i64>(0))
            .optional()?
            .is_some())
    }
}

/// Adding a schedule under a name another kind of schedule holds.
pub fn conflicting_kind(name: &str, other: &str) -> Error {
    Error::conflict(format!(
        "{other} named `{name}` is registered; one name holds one schedule"
    ))
    .with_hint(format!(
        "remove it first with: aios schedule remove {}",
        crate::connectors::shell::quote(name)
    ))
}
