//! Schedules and fires on PostgreSQL: `journal::schedule`'s registry, fires and
//! schedule event log, with the same decisions. Every transaction that writes a
//! schedule first takes a transaction-scoped advisory lock on its name, so the
//! writers of one schedule (ticks on several machines, `schedule add|pause|remove`)
//! take turns as they do under SQLite's write lock, and an instant is decided — and
//! its run created — exactly once ((schedule, due_at) is also the fires' key).

use postgres::{GenericClient, Row, Transaction};

use super::PgJournal;
use super::project::{append, apply as apply_run};
use super::runs::withdraw_pending;
use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::journal::inbox;
use crate::journal::schedule::*;
use crate::journal::store::{RunStore, ScheduleStore};
use crate::journal::types::{Event, RunStatus};

const SCHEDULE_COLS: &str = "name, path, dir, source_hash, cron, timezone, overlap, catch_up,
    catch_up_window, inputs, paused, cursor, next_due, created_at, updated_at";

fn schedule_row(r: &Row) -> ScheduleRecord {
    let inputs: &str = r.get(9);
    ScheduleRecord {
        spec: ScheduleSpec {
            name: r.get(0),
            path: r.get(1),
            dir: r.get(2),
            source_hash: r.get(3),
            cron: r.get(4),
            timezone: r.get(5),
            overlap: r.get(6),
            catch_up: r.get(7),
            catch_up_window: r.get(8),
            inputs: serde_json::from_str(inputs).unwrap_or(serde_json::Value::Null),
        },
        paused: r.get(10),
        cursor: r.get(11),
        next_due: r.get(12),
        created_at: r.get(13),
        updated_at: r.get(14),
    }
}

fn not_found(name: &str) -> Error {
    Error::not_found(format!("no schedule `{name}`"))
        .with_hint("list schedules with: aios schedule list")
}

fn get_schedule(c: &mut impl GenericClient, name: &str) -> Result<Option<ScheduleRecord>> {
    Ok(c.query_opt(
        &format!("SELECT {SCHEDULE_COLS} FROM schedules WHERE name = $1"),
        &[&name],
    )?
    .map(|r| schedule_row(&r)))
}

/// The latest instant ever decided for schedules named `name`.
fn last_decided(c: &mut impl GenericClient, name: &str) -> Result<Option<Millis>> {
    Ok(c.query_one(
        "SELECT max(due_at) FROM fires WHERE schedule = $1",
        &[&name],
    )?
    .get(0))
}

fn cursor_from(c: &mut impl GenericClient, name: &str, at: Millis) -> Result<Millis> {
    Ok(last_decided(c, name)?.map_or(at, |d| d.max(at)))
}

/// This schedule's turn among its writers, until the transaction ends (a mail
/// watch's too: one name, one schedule of either kind).
pub(super) fn lock(tx: &mut Transaction<'_>, name: &str) -> Result<()> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(1634299764, hashtext($1))",
        &[&name],
    )?;
    Ok(())
}

/// Append a schedule's event to its log and apply it (also `import`'s way in).
pub(super) fn record(
    tx: &mut Transaction<'_>,
    name: &str,
    ev: &ScheduleEvent,
    at: Millis,
) -> Result<()> {
    tx.execute(
        "INSERT INTO schedule_events (schedule, type, data, at) VALUES ($1, $2, $3, $4)",
        &[&name, &ev.type_name(), &serde_json::to_string(ev)?, &at],
    )?;
    apply(tx, name, ev, at)
}

fn apply(tx: &mut Transaction<'_>, name: &str, ev: &ScheduleEvent, at: Millis) -> Result<()> {
    match ev {
        ScheduleEvent::Added {
            spec,
            cursor,
            next_due,
            replaced,
        } => {
            let inputs = spec.inputs.to_string();
            if *replaced {
                tx.execute(
                    "UPDATE schedules SET path = $2, dir = $3, source_hash = $4, cron = $5,
                       timezone = $6, overlap = $7, catch_up = $8, catch_up_window = $9,
                       inputs = $10, next_due = $11, updated_at = $12 WHERE name = $1",
                    &[
                        &name,
                        &spec.path,
                        &spec.dir,
                        &spec.source_hash,
                        &spec.cron,
                        &spec.timezone,
                        &spec.overlap,
                        &spec.catch_up,
                        &spec.catch_up_window,
                        &inputs,
                        next_due,
                        &at,
                    ],
                )?;
            } else {
                tx.execute(
                    "INSERT INTO schedules (name, path, dir, source_hash, cron, timezone, overlap,
                       catch_up, catch_up_window, inputs, paused, cursor, next_due, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, false, $11, $12, $13, $13)",
                    &[
                        &name,
                        &spec.path,
                        &spec.dir,
                        &spec.source_hash,
                        &spec.cron,
                        &spec.timezone,
                        &spec.overlap,
                        &spec.catch_up,
                        &spec.catch_up_window,
                        &inputs,
                        cursor,
                        next_due,
                        &at,
                    ],
                )?;
            }
        }
        ScheduleEvent::Paused => {
            tx.execute(
                "UPDATE schedules SET paused = true, updated_at = $2 WHERE name = $1",
                &[&name, &at],
            )?;
        }
        ScheduleEvent::Resumed { cursor, next_due }
        | ScheduleEvent::Advanced { cursor, next_due } => {
            let resumed = matches!(ev, ScheduleEvent::Resumed { .. });
            tx.execute(
                "UPDATE schedules SET paused = CASE WHEN $4 THEN false ELSE paused END,
                   cursor = $2, next_due = $3, updated_at = $5 WHERE name = $1",
                &[&name, cursor, next_due, &resumed, &at],
            )?;
        }
        ScheduleEvent::Removed => {
            tx.execute("DELETE FROM schedules WHERE name = $1", &[&name])?;
        }
        ScheduleEvent::Fired {
            due_at,
            status,
            reason,
            run_id,
        } => {
            tx.execute(
                "INSERT INTO fires (schedule, due_at, status, reason, run_id, decided_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[&name, due_at, &status.as_str(), reason, run_id, &at],
            )?;
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
            tx.execute(
                "INSERT INTO fires (schedule, due_at, status, reason, run_id, decided_at, first_due_at, instants)
                 VALUES ($1, $2, 'skipped', $3, NULL, $4, $5, $6)",
                &[&name, last, &reason, &at, first, &(*count as i64)],
            )?;
        }
        ScheduleEvent::QueueStarted { due_at, run_id } => {
            tx.execute(
                "UPDATE fires SET status = 'started', run_id = $3, decided_at = $4
                 WHERE schedule = $1 AND due_at = $2",
                &[&name, due_at, run_id, &at],
            )?;
        }
    }
    Ok(())
}

impl ScheduleStore for PgJournal {
    fn add_schedule(
        &mut self,
        spec: ScheduleSpec,
        source: &str,
        next_due: impl Fn(Millis) -> Option<Millis>,
    ) -> Result<bool> {
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        lock(&mut tx, &spec.name)?;
        tx.execute(
            "INSERT INTO sources (hash, text) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING",
            &[&spec.source_hash, &source],
        )?;
        let existing = get_schedule(&mut *tx, &spec.name)?;
        let replaced = existing.is_some();
        let cursor = match existing {
            Some(e) => e.cursor,
            None => cursor_from(&mut *tx, &spec.name, at)?,
        };
        let name = spec.name.clone();
        let ev = ScheduleEvent::Added {
            next_due: next_due(cursor),
            spec: Box::new(spec),
            cursor,
            replaced,
        };
        record(&mut tx, &name, &ev, at)?;
        tx.commit()?;
        Ok(replaced)
    }

    fn schedule(&self, name: &str) -> Result<ScheduleRecord> {
        get_schedule(&mut *self.conn(), name)?.ok_or_else(|| not_found(name))
    }

    fn schedules(&self) -> Result<Vec<ScheduleRecord>> {
        Ok(self
            .conn()
            .query(
                &format!("SELECT {SCHEDULE_COLS} FROM schedules ORDER BY name"),
                &[],
            )?
            .iter()
            .map(schedule_row)
            .collect())
    }

    fn set_schedule_paused(
        &mut self,
        name: &str,
        paused: bool,
        next_due: impl Fn(Millis) -> Option<Millis>,
    ) -> Result<bool> {
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        lock(&mut tx, name)?;
        let s = get_schedule(&mut *tx, name)?.ok_or_else(|| not_found(name))?;
        if s.paused == paused {
            return Ok(false);
        }
        let ev = if paused {
            ScheduleEvent::Paused
        } else {
            let cursor = cursor_from(&mut *tx, name, at)?.max(s.cursor);
            ScheduleEvent::Resumed {
                cursor,
                next_due: next_due(cursor),
            }
        };
        record(&mut tx, name, &ev, at)?;
        tx.commit()?;
        Ok(true)
    }

    fn remove_schedule(&mut self, name: &str) -> Result<()> {
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        lock(&mut tx, name)?;
        get_schedule(&mut *tx, name)?.ok_or_else(|| not_found(name))?;
        record(&mut tx, name, &ScheduleEvent::Removed, at)?;
        tx.commit()?;
        Ok(())
    }

    fn due_schedules(&self, now: Millis) -> Result<Vec<String>> {
        Ok(self
            .conn()
            .query(
                "SELECT name FROM schedules WHERE NOT paused AND next_due <= $1
                 UNION
                 SELECT f.schedule FROM fires f JOIN schedules s ON s.name = f.schedule
                   WHERE f.status = 'queued' AND NOT s.paused
                 ORDER BY 1",
                &[&now],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    fn fires(&self, name: &str, limit: usize) -> Result<Vec<FireRecord>> {
        Ok(self
            .conn()
            .query(
                "SELECT f.schedule, f.due_at, f.status, f.reason, f.run_id, r.status, f.decided_at,
                        coalesce(f.first_due_at, f.due_at), f.instants
                 FROM fires f LEFT JOIN runs r ON r.id = f.run_id
                 WHERE f.schedule = $1 ORDER BY f.due_at DESC LIMIT $2",
                &[&name, &(limit.min(i64::MAX as usize) as i64)],
            )?
            .iter()
            .map(|r| FireRecord {
                schedule: r.get(0),
                due_at: r.get(1),
                status: FireStatus::parse(r.get(2)).unwrap_or(FireStatus::Skipped),
                reason: r.get(3),
                run_id: r.get(4),
                run_status: r.get::<_, Option<&str>>(5).and_then(RunStatus::parse),
                decided_at: r.get(6),
                first_due_at: r.get(7),
                instants: r.get::<_, i64>(8).max(0) as u64,
            })
            .collect())
    }

    fn decide_fires(
        &mut self,
        name: &str,
        planner: impl FnOnce(&FireState) -> Result<Option<FirePlan>>,
    ) -> Result<FireOutcome> {
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        lock(&mut tx, name)?;
        let Some(mut schedule) = get_schedule(&mut *tx, name)? else {
            return Ok(FireOutcome::Nothing);
        };
        if schedule.paused {
            return Ok(FireOutcome::Nothing);
        }
        if let Some(last) = last_decided(&mut *tx, name)?
            && last > schedule.cursor
        {
            schedule.cursor = last;
        }
        let active: Vec<i64> = tx
            .query(
                "SELECT r.id FROM fires f JOIN runs r ON r.id = f.run_id
                 WHERE f.schedule = $1 AND r.status IN ('running', 'waiting') ORDER BY r.id",
                &[&name],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let queued: Option<Millis> = tx
            .query_one(
                "SELECT min(due_at) FROM fires WHERE schedule = $1 AND status = 'queued'",
                &[&name],
            )?
            .get(0);
        let state = FireState {
            schedule,
            active,
            queued,
        };
        let Some(plan) = planner(&state)? else {
            return Ok(FireOutcome::Nothing);
        };
        for (run, reason) in &plan.cancel {
            // The run's row first, as every writer of a run takes it.
            tx.execute("SELECT 1 FROM runs WHERE id = $1 FOR UPDATE", &[run])?;
            let ev = Event::RunCancelled {
                reason: Some(reason.clone()),
            };
            if let Some(why) = inbox::ending(*run, &ev) {
                withdraw_pending(&mut tx, *run, &why, at)?;
            }
            append(&mut tx, *run, &ev, at)?;
            apply_run(&mut tx, *run, &ev, at)?;
        }
        let mut started = None;
        let mut events = plan.events;
        if let Some((due_at, new, was_queued)) = plan.start {
            if let Event::RunCreated { source_hash, .. } = &new.created {
                tx.execute(
                    "INSERT INTO sources (hash, text) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING",
                    &[source_hash, &new.source],
                )?;
            }
            let id: i64 = tx.query_one("SELECT nextval('run_ids')", &[])?.get(0);
            append(&mut tx, id, &new.created, at)?;
            apply_run(&mut tx, id, &new.created, at)?;
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
            record(&mut tx, name, ev, at)?;
        }
        tx.commit()?;
        Ok(FireOutcome::Decided { started })
    }

    fn schedule_source(&self, name: &str) -> Result<(ScheduleRecord, String)> {
        let s = self.schedule(name)?;
        let text: String = self
            .conn()
            .query_one(
                "SELECT text FROM sources WHERE hash = $1",
                &[&s.spec.source_hash],
            )?
            .get(0);
        Ok((s, text))
    }

    /// As SQLite's: a waiting run no item holds, whose timers are due or whose step
    /// was held by a circuit breaker that has closed since.
    fn runs_to_continue(&self, now: Millis, stale_ms: Millis) -> Result<Vec<i64>> {
        Ok(self
            .conn()
            .query(
                "SELECT id FROM runs WHERE status = 'running' AND dry IS NULL
                   AND (lease_owner IS NOT NULL OR updated_at <= $1)
                   AND id NOT IN (SELECT run_id FROM work)
                 UNION
                 SELECT r.id FROM runs r WHERE r.status = 'waiting' AND r.dry IS NULL
                   AND NOT EXISTS (SELECT 1 FROM proposals p WHERE p.run_id = r.id AND p.status = 'pending')
                   AND (NOT EXISTS (SELECT 1 FROM steps s WHERE s.run_id = r.id AND s.status = 'waiting' AND s.wake_at > $2)
                        OR EXISTS (SELECT 1 FROM steps s WHERE s.run_id = r.id AND s.status = 'waiting'
                                   AND (s.wake_at IS NULL OR s.wake_at <= $2
                                        OR (s.held IS NOT NULL AND NOT EXISTS (SELECT 1 FROM breakers b
                                            WHERE b.target = s.held AND b.state != 'closed')))))
                 ORDER BY 1",
                &[&(now - stale_ms), &now],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }
}
