//! Circuit breakers on PostgreSQL: `journal::breakers` — their own append-only log
//! (`breaker_events`) and its projection (`breakers`), one row per target, written in
//! one transaction. Every decision (admit, report, close by hand) is taken in the
//! transaction that journals it, on the target's row read `FOR UPDATE` after an
//! advisory lock on the target (a row not there yet cannot be locked): two processes
//! on two machines never both probe, and a failure is counted once. The decisions
//! themselves are [`crate::health::breaker`]'s (pure). A step held by a breaker is
//! projected from its run's `step_held` in `project.rs`.

use postgres::{GenericClient, Row, Transaction};

use super::PgJournal;
use crate::clock::Millis;
use crate::connectors::Target;
use crate::error::{Error, Result};
use crate::health::breaker::{self, Admit, Breaker, BreakerEvent, BreakerPolicy, BreakerState};
use crate::journal::breakers::compare_replayed;
use crate::journal::store::{BreakerStore, RunStore};
use crate::journal::{HeldStep, Verdict};

const COLS: &str =
    "target, state, failures, trips, opened_at, until, probe, last_error, updated_at";

fn count(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

fn row(r: &Row) -> Result<Breaker> {
    let target: &str = r.get(0);
    let state: &str = r.get(1);
    Ok(Breaker {
        target: Target::parse(target).map_err(Error::storage)?,
        state: BreakerState::parse(state)
            .ok_or_else(|| Error::storage(format!("unknown breaker state `{state}`")))?,
        failures: count(r.get(2)),
        trips: count(r.get(3)),
        opened_at: r.get(4),
        until: r.get(5),
        probe: r.get(6),
        last_error: r.get(7),
        updated_at: r.get(8),
    })
}

pub(super) fn read(c: &mut impl GenericClient, target: &Target) -> Result<Option<Breaker>> {
    c.query_opt(
        &format!("SELECT {COLS} FROM breakers WHERE target = $1"),
        &[&target.to_string()],
    )?
    .map(|r| row(&r))
    .transpose()
}

/// The target's breaker for a decision: its writers take turns on an advisory
/// lock on the target, and its row is read `FOR UPDATE`.
fn read_locked(tx: &mut Transaction<'_>, target: &Target) -> Result<Option<Breaker>> {
    let name = target.to_string();
    tx.execute(
        "SELECT pg_advisory_xact_lock(1634299767, hashtext($1))",
        &[&name],
    )?;
    tx.query_opt(
        &format!("SELECT {COLS} FROM breakers WHERE target = $1 FOR UPDATE"),
        &[&name],
    )?
    .map(|r| row(&r))
    .transpose()
}

/// Append `ev` for `target` and project it onto its row, inside `tx`.
pub(super) fn record(
    tx: &mut Transaction<'_>,
    target: &Target,
    before: Option<Breaker>,
    ev: &BreakerEvent,
    at: Millis,
) -> Result<Breaker> {
    let name = target.to_string();
    tx.execute(
        "INSERT INTO breaker_events (target, type, data, at) VALUES ($1, $2, $3, $4)",
        &[&name, &ev.type_name(), &serde_json::to_string(ev)?, &at],
    )?;
    let b = breaker::apply(before, target, ev, at);
    tx.execute(
        &format!(
            "INSERT INTO breakers ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (target) DO UPDATE SET state = $2, failures = $3, trips = $4,
               opened_at = $5, until = $6, probe = $7, last_error = $8, updated_at = $9"
        ),
        &[
            &name,
            &b.state.as_str(),
            &i64::from(b.failures),
            &i64::from(b.trips),
            &b.opened_at,
            &b.until,
            &b.probe,
            &b.last_error,
            &b.updated_at,
        ],
    )?;
    Ok(b)
}

impl BreakerStore for PgJournal {
    fn breakers(&self) -> Result<Vec<Breaker>> {
        self.conn()
            .query(
                &format!(
                    "SELECT {COLS} FROM breakers ORDER BY state = 'closed', target COLLATE \"C\""
                ),
                &[],
            )?
            .iter()
            .map(row)
            .collect()
    }

    fn breaker(&self, target: &Target) -> Result<Option<Breaker>> {
        read(&mut *self.conn(), target)
    }

    fn breaker_admit(
        &mut self,
        target: &Target,
        policy: &BreakerPolicy,
        by: &str,
    ) -> Result<Admit> {
        let now = self.now();
        // A closed breaker (or none) lets the call go without a write.
        match breaker::admit(self.breaker(target)?.as_ref(), policy, now, by) {
            Admit::Probe(_) => {}
            other => return Ok(other),
        }
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        let b = read_locked(&mut tx, target)?;
        let admit = breaker::admit(b.as_ref(), policy, now, by);
        if let Admit::Probe(ev) = &admit {
            record(&mut tx, target, b, ev, now)?;
            tx.commit()?;
        }
        Ok(admit)
    }

    fn breaker_report(
        &mut self,
        target: &Target,
        policy: &BreakerPolicy,
        verdict: &Verdict,
    ) -> Result<Option<BreakerEvent>> {
        let now = self.now();
        if *verdict == Verdict::Answered
            && breaker::on_success(self.breaker(target)?.as_ref()).is_none()
        {
            return Ok(None);
        }
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        let b = read_locked(&mut tx, target)?;
        let ev = match verdict {
            Verdict::Failed(error) => breaker::on_failure(b.as_ref(), policy, now, error),
            Verdict::Answered => breaker::on_success(b.as_ref()),
        };
        if let Some(ev) = &ev {
            record(&mut tx, target, b, ev, now)?;
            tx.commit()?;
        }
        Ok(ev)
    }

    fn close_breaker(&mut self, target: &Target, by: &str) -> Result<Breaker> {
        let now = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        let b = read_locked(&mut tx, target)?;
        match &b {
            Some(b) if b.is_tripped() || b.failures > 0 => {}
            _ => {
                return Err(Error::conflict(format!(
                    "the circuit breaker of {target} is not open: calls to it go through"
                ))
                .with_hint("see every breaker with: aios breakers"));
            }
        }
        let ev = BreakerEvent::Closed {
            reason: format!("closed by {by}"),
        };
        let b = record(&mut tx, target, b, &ev, now)?;
        tx.commit()?;
        Ok(b)
    }

    fn breaker_events(&self, target: &Target) -> Result<Vec<(Millis, BreakerEvent)>> {
        self.conn()
            .query(
                "SELECT at, data FROM breaker_events WHERE target = $1 ORDER BY seq",
                &[&target.to_string()],
            )?
            .iter()
            .map(|r| Ok((r.get(0), serde_json::from_str(r.get(1))?)))
            .collect()
    }

    fn replay_breakers(&self) -> Result<(usize, Vec<String>)> {
        let events = self
            .conn()
            .query(
                "SELECT target, at, data FROM breaker_events ORDER BY seq",
                &[],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        compare_replayed(events, self.breakers()?)
    }

    fn held_steps(&self) -> Result<Vec<HeldStep>> {
        Ok(self
            .conn()
            .query(
                "SELECT run_id, step_id, held, wake_at FROM steps
                 WHERE held IS NOT NULL AND status = 'waiting'
                 ORDER BY held COLLATE \"C\", run_id, idx",
                &[],
            )?
            .iter()
            .map(|r| HeldStep {
                run: r.get(0),
                step: r.get(1),
                target: r.get(2),
                until: r.get::<_, Option<Millis>>(3).unwrap_or(0),
            })
            .collect())
    }
}
