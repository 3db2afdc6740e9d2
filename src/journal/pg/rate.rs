//! Rate-limit turns on PostgreSQL: `journal::rate`'s rule (the next turn under
//! `count/per` is now, or the `count`-th latest turn plus `per`), given out in a
//! transaction that holds an advisory lock on the target: every process on every
//! machine using this database takes turns together.

use super::PgJournal;
use super::project::{append, apply};
use crate::clock::Millis;
use crate::error::Result;
use crate::journal::Taker;
use crate::journal::store::{RateStore, RunStore};
use crate::journal::types::Event;
use crate::rate::Rate;

impl RateStore for PgJournal {
    fn take_turn(
        &mut self,
        taker: Taker<'_>,
        target: &str,
        rate: &Rate,
    ) -> Result<(Millis, Option<Event>)> {
        let now = self.now();
        let per = rate.per_ms();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(1634299765, hashtext($1))",
            &[&target],
        )?;
        let kth: Option<Millis> = tx
            .query_opt(
                "SELECT at FROM rate_grants WHERE target = $1 ORDER BY at DESC LIMIT 1 OFFSET $2",
                &[&target, &(i64::from(rate.count) - 1)],
            )?
            .map(|r| r.get(0));
        let turn = match kth {
            Some(at) => now.max(at.saturating_add(per)),
            None => now,
        };
        tx.execute(
            "INSERT INTO rate_grants (target, at) VALUES ($1, $2)",
            &[&target, &turn],
        )?;
        // A turn a full window before now cannot hold anyone back any more.
        tx.execute(
            "DELETE FROM rate_grants WHERE target = $1 AND at <= $2",
            &[&target, &now.saturating_sub(per)],
        )?;
        let mut waited = None;
        if turn > now {
            let ev = Event::StepThrottled {
                step: taker.step.to_string(),
                attempt: taker.attempt,
                target: target.to_string(),
                rate: rate.to_string(),
                until: turn,
            };
            append(&mut tx, taker.run, &ev, now)?;
            apply(&mut tx, taker.run, &ev, now)?;
            waited = Some(ev);
        }
        tx.commit()?;
        Ok((turn, waited))
    }

    fn turns(&self, target: &str) -> Result<Vec<Millis>> {
        Ok(self
            .conn()
            .query(
                "SELECT at FROM rate_grants WHERE target = $1 ORDER BY at",
                &[&target],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }
}
