//! Schedules in the journal: the registry, the fires decided for each scheduled
//! instant, and their own append-only event log (`schedule_events`). Every change
//! is an event applied to the projections (`schedules`, `fires`) in the same
//! transaction; a fire that starts a run creates the run in that transaction too,
//! so a scheduled instant is decided (and its run created) exactly once, however
//! many `aios tick` processes race for it.

use rusqlite::{OptionalExtension, Row, Transaction, params};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::types::{Event, RunStatus};
use super::{SqliteJournal, append, next_run_id, project};
use crate::clock::Millis;
use crate::error::{Error, Result};

/// What the registry stores for a schedule (`aios schedule add`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleSpec {
    pub name: String,
    /// The workflow file as given to `schedule add` (absolute).
    pub path: String,
    /// The workflow file's folder: relative paths of fired runs start here.
    pub dir: String,
    /// The workflow snapshot fired runs use (stored in `sources`).
    pub source_hash: String,
    pub cron: String,
    pub timezone: String,
    pub overlap: String,
    pub catch_up: String,
    pub catch_up_window: Millis,
    /// Inputs of every fired run, already checked against the declarations.
    pub inputs: Json,
}

/// A schedule as stored.
#[derive(Debug, Clone)]
pub struct ScheduleRecord {
    pub spec: ScheduleSpec,
    pub paused: bool,
    /// Every scheduled instant at or before this one has been decided.
    pub cursor: Millis,
    /// The first scheduled instant after `cursor`.
    pub next_due: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

super::types::word_enum!(
    /// What was decided for one scheduled instant.
    FireStatus {
        /// A run was started for it.
        Started = "started",
        /// It waits for the schedule's previous run to finish (`overlap = "queue"`).
        Queued = "queued",
        /// It was not run (missed, outside the window, overlap, ...): see `reason`.
        Skipped = "skipped",
    }
);

/// A decided fire.
#[derive(Debug, Clone)]
pub struct FireRecord {
    pub schedule: String,
    pub due_at: Millis,
    pub status: FireStatus,
    pub reason: Option<String>,
    pub run_id: Option<i64>,
    /// The status of the fire's run, when it has one.
    pub run_status: Option<RunStatus>,
    pub decided_at: Millis,
    /// Instants older than the catch-up window are decided together: this row
    /// stands for `instants` of them, from `first_due_at` to `due_at`. Otherwise
    /// 1 and `due_at`.
    pub first_due_at: Millis,
    pub instants: u64,
}

/// A schedule's event. Field names are part of the on-disk format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ScheduleEvent {
    /// Registered (or re-registered with a new snapshot: `replaced`).
    Added {
        spec: Box<ScheduleSpec>,
        cursor: Millis,
        next_due: Option<Millis>,
        #[serde(default)]
        replaced: bool,
    },
    Paused,
    /// Resumed: instants while paused are not run; the cursor moves to now.
    Resumed {
        cursor: Millis,
        next_due: Option<Millis>,
    },
    Removed,
    /// One scheduled instant decided.
    Fired {
        due_at: Millis,
        status: FireStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run_id: Option<i64>,
    },
    /// Instants too old to catch up (outside the window), decided together.
    SkippedOld {
        count: u64,
        first: Millis,
        last: Millis,
        /// The catch-up window they were older than (absent in events written
        /// before it was recorded).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        window: Option<Millis>,
    },
    /// A queued fire's run was started.
    QueueStarted {
        due_at: Millis,
        run_id: i64,
    },
    /// The cursor moved past the decided instants.
    Advanced {
        cursor: Millis,
        next_due: Option<Millis>,
    },
}

impl ScheduleEvent {
    pub fn type_name(&self) -> &'static str {
        match self {
            ScheduleEvent::Added { .. } => "schedule_added",
            ScheduleEvent::Paused => "schedule_paused",
            ScheduleEvent::Resumed { .. } => "schedule_resumed",
            ScheduleEvent::Removed => "schedule_removed",
            ScheduleEvent::Fired { .. } => "fire_decided",
            ScheduleEvent::SkippedOld { .. } => "fires_skipped_old",
            ScheduleEvent::QueueStarted { .. } => "queued_fire_started",
            ScheduleEvent::Advanced { .. } => "schedule_advanced",
        }
    }
}

/// A run a fire creates: its `RunCreated` event and the workflow source it names.
#[derive(Debug, Clone)]
pub struct NewFireRun {
    pub source: String,
    pub created: Event,
}

/// What one decision transaction does to a schedule (built by the planner in
/// `crate::schedule` from the state it is shown).
#[derive(Debug, Clone, Default)]
pub struct FirePlan {
    /// Schedule events to append (fires decided, skips, the cursor moved).
    pub events: Vec<ScheduleEvent>,
    /// Runs of this schedule to cancel first (`overlap = "cancel_running"`).
    pub cancel: Vec<(i64, String)>,
    /// Start a run for this instant; `queued` when it was queued before.
    pub start: Option<(Millis, NewFireRun, bool)>,
}

/// What [`SqliteJournal::decide_fires`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FireOutcome {
    /// Nothing was due (or the schedule is gone or paused): nothing was written.
    Nothing,
    /// A plan was journaled; `started` is the run created and its instant.
    Decided { started: Option<(i64, Millis)> },
}

/// What the planner sees, read inside the decision transaction.
#[derive(Debug, Clone)]
pub struct FireState {
    pub schedule: ScheduleRecord,
    /// Runs of this schedule still running or waiting.
    pub active: Vec<i64>,
    /// The oldest queued instant, if any.
    pub queued: Option<Millis>,
}

const SCHEDULE_COLS: &str = "name, path, dir, source_hash, cron, timezone, overlap, catch_up,
    catch_up_window, inputs, paused, cursor, next_due, created_at, updated_at";

fn schedule_row(r: &Row<'_>) -> rusqlite::Result<ScheduleRecord> {
    let inputs: String = r.get(9)?;
    Ok(ScheduleRecord {
        spec: ScheduleSpec {
            name: r.get(0)?,
            path: r.get(1)?,
            dir: r.get(2)?,
            source_hash: r.get(3)?,
            cron: r.get(4)?,
            timezone: r.get(5)?,
            overlap: r.get(6)?,
            catch_up: r.get(7)?,
            catch_up_window: r.get(8)?,
            inputs: serde_json::from_str(&inputs).unwrap_or(Json::Null),
        },
        paused: r.get::<_, i64>(10)? != 0,
        cursor: r.get(11)?,
        next_due: r.get(12)?,
        created_at: r.get(13)?,
        updated_at: r.get(14)?,
    })
}

fn not_found(name: &str) -> Error {
    Error::not_found(format!("no schedule `{name}`"))
        .with_hint("list schedules with: aios schedule list")
}

/// The latest instant ever decided for schedules named `name` (kept across a remove
/// and a new add). A cursor never goes back before it: an instant is decided once.
fn last_decided(conn: &rusqlite::Connection, name: &str) -> Result<Option<Millis>> {
    Ok(conn
        .prepare_cached("SELECT max(due_at) FROM fires WHERE schedule = ?1")?
        .query_row(params![name], |r| r.get(0))?)
}

/// Where a cursor set at `at` really starts: never before an instant already
/// decided (a clock that was ahead, as `AIOS_NOW` dry runs are, then went back).
fn cursor_from(conn: &rusqlite::Connection, name: &str, at: Millis) -> Result<Millis> {
    Ok(last_decided(conn, name)?.map_or(at, |d| d.max(at)))
}

fn get_schedule(conn: &rusqlite::Connection, name: &str) -> Result<Option<ScheduleRecord>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {SCHEDULE_COLS} FROM schedules WHERE name = ?1"
        ))?
        .query_row(params![name], schedule_row)
        .optional()?)
}

/// Append a schedule event and apply it to the projections.
fn record(tx: &Transaction<'_>, name: &str, ev: &ScheduleEvent, at: Millis) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO schedule_events (schedule, type, data, at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        name,
        ev.type_name(),
        serde_json::to_string(ev)?,
        at
    ])?;
    apply(tx, name, ev, at)
}

/// How each schedule event changes `schedules` and `fires`.
fn apply(tx: &Transaction<'_>, name: &str, ev: &ScheduleEvent, at: Millis) -> Result<()> {
    match ev {
        ScheduleEvent::Added {
            spec,
            cursor,
            next_due,
            replaced,
        } => {
            if *replaced {
                tx.execute(
                    "UPDATE schedules SET path = ?2, dir = ?3, source_hash = ?4, cron = ?5,
                       timezone = ?6, overlap = ?7, catch_up = ?8, catch_up_window = ?9,
                       inputs = ?10, next_due = ?11, updated_at = ?12 WHERE name = ?1",
                    params![
                        name,
                        spec.path,
                        spec.dir,
                        spec.source_hash,
                        spec.cron,
                        spec.timezone,
                        spec.overlap,
                        spec.catch_up,
                        spec.catch_up_window,
                        spec.inputs.to_string(),
                        next_due,
                        at
                    ],
                )?;
            } else {
                tx.execute(
                    "INSERT INTO schedules (name, path, dir, source_hash, cron, timezone, overlap,
                       catch_up, catch_up_window, inputs, paused, cursor, next_due, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0, ?11, ?12, ?13, ?13)",
                    params![
                        name,
                        spec.path,
                        spec.dir,
                        spec.source_hash,
                        spec.cron,
                        spec.timezone,
                        spec.overlap,
                        spec.catch_up,
                        spec.catch_up_window,
                        spec.inputs.to_string(),
                        cursor,
                        next_due,
                        at
                    ],
                )?;
            }
        }
        ScheduleEvent::Paused => {
            tx.execute(
                "UPDATE schedules SET paused = 1, updated_at = ?2 WHERE name = ?1",
                params![name, at],
            )?;
        }
        ScheduleEvent::Resumed { cursor, next_due }
        | ScheduleEvent::Advanced { cursor, next_due } => {
            let paused = matches!(ev, ScheduleEvent::Resumed { .. });
            tx.execute(
                "UPDATE schedules SET paused = CASE WHEN ?4 THEN 0 ELSE paused END,
                   cursor = ?2, next_due = ?3, updated_at = ?5 WHERE name = ?1",
                params![name, cursor, next_due, paused, at],
            )?;
        }
        ScheduleEvent::Removed => {
            tx.execute("DELETE FROM schedules WHERE name = ?1", params![name])?;
        }
        ScheduleEvent::Fired {
            due_at,
            status,
            reason,
            run_id,
        } => {
            tx.prepare_cached(
                "INSERT INTO fires (schedule, due_at, status, reason, run_id, decided_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![name, due_at, status.as_str(), reason, run_id, at])?;
        }
        ScheduleEvent::SkippedOld {
            count,
            first,
            last,
            window,
        } => {
            let reason = match window {
                Some(w) => format!(
                    "older than the catch_up_window ({})",
                    crate::clock::format_duration(std::time::Duration::from_millis(
                        (*w).max(0) as u64
                    ))
                ),
                None => "older than the catch_up_window".to_string(),
            };
            tx.prepare_cached(
                "INSERT INTO fires (schedule, due_at, status, reason, run_id, decided_at,
                   first_due_at, instants)
                 VALUES (?1, ?2, 'skipped', ?3, NULL, ?4, ?5, ?6)",
            )?
            .execute(params![name, last, reason, at, first, *count as i64])?;
        }
        ScheduleEvent::QueueStarted { due_at, run_id } => {
            tx.execute(
                "UPDATE fires SET status = 'started', run_id = ?3, decided_at = ?4
                 WHERE schedule = ?1 AND due_at = ?2",
                params![name, due_at, run_id, at],
            )?;
        }
    }
    Ok(())
}

impl SqliteJournal {
    /// Register a schedule, or replace the snapshot and trigger of one with the same
    /// name (its cursor, pause state and history are kept). Returns true when replaced.
    pub fn add_schedule(
        &mut self,
        spec: ScheduleSpec,
        source: &str,
        next_due: impl Fn(Millis) -> Option<Millis>,
    ) -> Result<bool> {
        let at = self.now();
        let tx = self.write_tx()?;
        tx.prepare_cached("INSERT OR IGNORE INTO sources (hash, text) VALUES (?1, ?2)")?
            .execute(params![spec.source_hash, source])?;
        let existing = get_schedule(&tx, &spec.name)?;
        let replaced = existing.is_some();
        let cursor = match existing {
            Some(e) => e.cursor,
            None => cursor_from(&tx, &spec.name, at)?,
        };
        let name = spec.name.clone();
        let ev = ScheduleEvent::Added {
            next_due: next_due(cursor),
            spec: Box::new(spec),
            cursor,
            replaced,
        };
        record(&tx, &name, &ev, at)?;
        tx.commit()?;
        Ok(replaced)
    }

    pub fn schedule(&self, name: &str) -> Result<ScheduleRecord> {
        get_schedule(&self.conn, name)?.ok_or_else(|| not_found(name))
    }

    /// Every schedule, by name.
    pub fn schedules(&self) -> Result<Vec<ScheduleRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {SCHEDULE_COLS} FROM schedules ORDER BY name"
        ))?;
        let rows = stmt.query_map([], schedule_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Pause (`true`) or resume a schedule. Resuming moves the cursor to now: the
    /// instants that passed while paused are not run. Returns false when it already was.
    pub fn set_schedule_paused(
        &mut self,
        name: &str,
        paused: bool,
        next_due: impl Fn(Millis) -> Option<Millis>,
    ) -> Result<bool> {
        let at = self.now();
        let tx = self.write_tx()?;
        let s = get_schedule(&tx, name)?.ok_or_else(|| not_found(name))?;
        if s.paused == paused {
            return Ok(false);
        }
        let ev = if paused {
            ScheduleEvent::Paused
        } else {
            // Instants up to now are not run, and none decided before (the clock
            // may read earlier than an instant fired by a tick that ran ahead).
            let cursor = cursor_from(&tx, name, at)?.max(s.cursor);
            ScheduleEvent::Resumed {
                cursor,
                next_due: next_due(cursor),
            }
        };
        record(&tx, name, &ev, at)?;
        tx.commit()?;
        Ok(true)
    }

    /// Remove a schedule from the registry (its fires and runs stay in the journal).
    pub fn remove_schedule(&mut self, name: &str) -> Result<()> {
        let at = self.now();
        let tx = self.write_tx()?;
        get_schedule(&tx, name)?.ok_or_else(|| not_found(name))?;
        record(&tx, name, &ScheduleEvent::Removed, at)?;
        tx.commit()?;
        Ok(())
    }

    /// Names of schedules with something to do at `now`: an instant due, or a
    /// queued fire. One indexed query: cheap when nothing is due.
    pub fn due_schedules(&self, now: Millis) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT name FROM schedules WHERE paused = 0 AND next_due <= ?1
             UNION
             SELECT f.schedule FROM fires f JOIN schedules s ON s.name = f.schedule
               WHERE f.status = 'queued' AND s.paused = 0
             ORDER BY 1",
        )?;
        let rows = stmt.query_map(params![now], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The latest fires of a schedule, newest first.
    pub fn fires(&self, name: &str, limit: usize) -> Result<Vec<FireRecord>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT f.schedule, f.due_at, f.status, f.reason, f.run_id, r.status, f.decided_at,
                    coalesce(f.first_due_at, f.due_at), f.instants
             FROM fires f LEFT JOIN runs r ON r.id = f.run_id
             WHERE f.schedule = ?1 ORDER BY f.due_at DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![name, limit as i64], |r| {
            let status: String = r.get(2)?;
            let run_status: Option<String> = r.get(5)?;
            Ok(FireRecord {
                schedule: r.get(0)?,
                due_at: r.get(1)?,
                status: FireStatus::parse(&status).unwrap_or(FireStatus::Skipped),
                reason: r.get(3)?,
                run_id: r.get(4)?,
                run_status: run_status.as_deref().and_then(RunStatus::parse),
                decided_at: r.get(6)?,
                first_due_at: r.get(7)?,
                instants: r.get::<_, i64>(8)?.max(0) as u64,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Decide what to do for schedule `name` in one immediate transaction: the
    /// planner sees the schedule, its active runs and its oldest queued fire, and
    /// returns a [`FirePlan`] that is journaled atomically. Returns the id of the
    /// run started, if any. `None` from the planner (or a removed or paused
    /// schedule) changes nothing.
    pub fn decide_fires(
        &mut self,
        name: &str,
        planner: impl FnOnce(&FireState) -> Result<Option<FirePlan>>,
    ) -> Result<FireOutcome> {
        let at = self.now();
        let tx = self.write_tx()?;
        let Some(mut schedule) = get_schedule(&tx, name)? else {
            return Ok(FireOutcome::Nothing);
        };
        if schedule.paused {
            return Ok(FireOutcome::Nothing);
        }
        // A cursor left behind a decided instant (by an older aios whose resume
        // moved it back) is read as that instant: nothing is decided twice.
        if let Some(last) = last_decided(&tx, name)?
            && last > schedule.cursor
        {
            schedule.cursor = last;
        }
        let active: Vec<i64> = {
            let mut stmt = tx.prepare_cached(
                "SELECT r.id FROM fires f JOIN runs r ON r.id = f.run_id
                 WHERE f.schedule = ?1 AND r.status IN ('running', 'waiting') ORDER BY r.id",
            )?;
            stmt.query_map(params![name], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        let queued: Option<Millis> = tx
            .prepare_cached(
                "SELECT min(due_at) FROM fires WHERE schedule = ?1 AND status = 'queued'",
            )?
            .query_row(params![name], |r| r.get(0))?;
        let state = FireState {
            schedule,
            active,
            queued,
        };
        let Some(plan) = planner(&state)? else {
            return Ok(FireOutcome::Nothing);
        };
        for (run, reason) in &plan.cancel {
            let ev = Event::RunCancelled {
                reason: Some(reason.clone()),
            };
            if let Some(why) = super::inbox::ending(*run, &ev) {
                super::inbox::withdraw_pending(&tx, *run, &why, at)?;
            }
            append(&tx, *run, &ev, at)?;
            project::apply(&tx, *run, &ev, at)?;
        }
        let mut started = None;
        let mut events = plan.events;
        if let Some((due_at, new, was_queued)) = plan.start {
            if let Event::RunCreated { source_hash, .. } = &new.created {
                tx.prepare_cached("INSERT OR IGNORE INTO sources (hash, text) VALUES (?1, ?2)")?
                    .execute(params![source_hash, new.source])?;
            }
            let id = next_run_id(&tx)?;
            append(&tx, id, &new.created, at)?;
            project::apply(&tx, id, &new.created, at)?;
            // The fire's row is written before the cursor moves past it.
            let ev = if was_queued {
                ScheduleEvent::QueueStarted { due_at, run_id: id }
            } else {
                ScheduleEvent::Fired {
                    due_at,
                    status: FireStatus::Started,
                    reason: None,
                    run_id: Some(id),
                }
            };
            let pos = events
                .iter()
                .position(|e| matches!(e, ScheduleEvent::Advanced { .. }))
                .unwrap_or(events.len());
            events.insert(pos, ev);
            started = Some((id, due_at));
        }
        for ev in &events {
            record(&tx, name, ev, at)?;
        }
        tx.commit()?;
        Ok(FireOutcome::Decided { started })
    }

    /// A schedule and the text of its workflow snapshot.
    pub fn schedule_source(&self, name: &str) -> Result<(ScheduleRecord, String)> {
        let s = self.schedule(name)?;
        let text: String = self
            .conn
            .prepare_cached("SELECT text FROM sources WHERE hash = ?1")?
            .query_row(params![s.spec.source_hash], |r| r.get(0))?;
        Ok((s, text))
    }

    /// Runs `aios tick` should drive on: running runs whose executor may be gone
    /// (a lease, or none for longer than `stale_ms`), and waiting runs with nothing
    /// pending in the inbox (decisions taken with `--no-resume`), whose timers are
    /// due or whose steps' circuit breakers closed. Never a dry run.
    pub fn runs_to_continue(&self, now: Millis, stale_ms: Millis) -> Result<Vec<i64>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM runs WHERE status = 'running' AND dry IS NULL
               AND (lease_owner IS NOT NULL OR updated_at <= ?1)
               -- a run queued for workers is theirs (migration 0023)
               AND id NOT IN (SELECT run_id FROM work)
             UNION
             -- waiting runs no item holds, from the count of their pending items
             -- (migration 0020): the runs waiting at a gate are not read
             SELECT r.id FROM runs r INDEXED BY runs_waiting_free
             WHERE r.status = 'waiting' AND r.pending = 0 AND r.dry IS NULL
               AND NOT EXISTS (SELECT 1 FROM proposals p WHERE p.run_id = r.id AND p.status = 'pending')
               -- a run whose only waiting steps are timers not due yet stays asleep
               AND (NOT EXISTS (SELECT 1 FROM steps s WHERE s.run_id = r.id AND s.status = 'waiting' AND s.wake_at > ?2)
                    OR EXISTS (SELECT 1 FROM steps s WHERE s.run_id = r.id AND s.status = 'waiting'
                               AND (s.wake_at IS NULL OR s.wake_at <= ?2
                                    -- held by a breaker closed since (by hand, or by another call)
                                    OR (s.held IS NOT NULL AND NOT EXISTS (SELECT 1 FROM breakers b
                                        WHERE b.target = s.held AND b.state != 'closed')))))
             ORDER BY 1",
        )?;
        let rows = stmt.query_map(params![now - stale_ms, now], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
