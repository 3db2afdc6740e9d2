//! Turns under rate limits, given out in one write transaction so that every
//! process using this journal shares them (see [`crate::rate`]).
//!
//! A target's turns are rows of `rate_grants`, past and reserved ahead. The next
//! turn under `count/per` is now, or the `count`-th latest turn plus `per` when that
//! is later: then no window of length `per` ever holds more than `count` turns, and
//! callers who asked together are spaced out in the order they asked, each holding
//! its reserved turn. Turns older than one window are trimmed as new ones are given.

use rusqlite::{OptionalExtension, params};

use super::types::Event;
use super::{SqliteJournal, append, project};
use crate::clock::Millis;
use crate::error::Result;
use crate::rate::Rate;

/// Who takes a turn: a run's step (its wait, when there is one, is journaled).
#[derive(Debug, Clone, Copy)]
pub struct Taker<'a> {
    pub run: i64,
    pub step: &'a str,
    pub attempt: u32,
}

impl SqliteJournal {
    /// Take the next turn at `target` under `rate` for `taker`. Returns when the
    /// turn is: now (go), or later, in which case a `step_throttled` event is
    /// journaled in the same transaction and returned too (the caller tells its
    /// observer).
    pub fn take_turn(
        &mut self,
        taker: Taker<'_>,
        target: &str,
        rate: &Rate,
    ) -> Result<(Millis, Option<Event>)> {
        let now = self.now();
        let per = rate.per_ms();
        let tx = self.write_tx()?;
        let kth: Option<Millis> = tx
            .prepare_cached(
                "SELECT at FROM rate_grants WHERE target = ?1 ORDER BY at DESC LIMIT 1 OFFSET ?2",
            )?
            .query_row(params![target, i64::from(rate.count) - 1], |r| r.get(0))
            .optional()?;
        let turn = match kth {
            Some(at) => now.max(at.saturating_add(per)),
            None => now,
        };
        tx.prepare_cached("INSERT INTO rate_grants (target, at) VALUES (?1, ?2)")?
            .execute(params![target, turn])?;
        // A turn a full window before now cannot hold anyone back any more.
        tx.prepare_cached("DELETE FROM rate_grants WHERE target = ?1 AND at <= ?2")?
            .execute(params![target, now.saturating_sub(per)])?;
        let mut waited = None;
        if turn > now {
            let ev = Event::StepThrottled {
                step: taker.step.to_string(),
                attempt: taker.attempt,
                target: target.to_string(),
                rate: rate.to_string(),
                until: turn,
            };
            append(&tx, taker.run, &ev, now)?;
            project::apply(&tx, taker.run, &ev, now)?;
            waited = Some(ev);
        }
        tx.commit()?;
        Ok((turn, waited))
    }

    /// The turns given out at `target` (past and reserved), oldest first.
    pub fn turns(&self, target: &str) -> Result<Vec<Millis>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT at FROM rate_grants WHERE target = ?1 ORDER BY at")?;
        let rows = stmt.query_map(params![target], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::clock::Clock;
    use crate::journal::{OpenOptions, StepDecl};

    fn journal(dir: &tempfile::TempDir, at_ms: Millis) -> SqliteJournal {
        let now = jiff::Timestamp::from_millisecond(at_ms).unwrap();
        SqliteJournal::open(
            &dir.path().join("aios.db"),
            Clock::Fixed(now),
            OpenOptions::default(),
        )
        .unwrap()
    }

    const T0: Millis = 1_800_000_000_000;

    fn with_run(j: &mut SqliteJournal) -> i64 {
        j.create_run(
            "name = \"w\"",
            Event::RunCreated {
                uid: "u1".into(),
                workflow: "w".into(),
                path: None,
                dir: "/tmp".into(),
                source_hash: "h".into(),
                inputs: json!({}),
                steps: vec![StepDecl {
                    id: "post".into(),
                    kind: "http".into(),
                }],
                dry: None,
            },
        )
        .unwrap()
    }

    fn take(j: &mut SqliteJournal, run: i64, rate: &Rate) -> Millis {
        let taker = Taker {
            run,
            step: "post",
            attempt: 1,
        };
        j.take_turn(taker, "api.example.com", rate).unwrap().0
    }

    /// `2/m`: two go at once, the next two a minute after them, and so on, in
    /// the order they asked.
    #[test]
    fn turns_are_spaced_by_the_window() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = journal(&dir, T0);
        let run = with_run(&mut j);
        let rate = Rate::parse("2/m").unwrap();
        let turns: Vec<Millis> = (0..5).map(|_| take(&mut j, run, &rate) - T0).collect();
        assert_eq!(turns, [0, 0, 60_000, 60_000, 120_000]);
        // A wait is journaled with the turn, and shows on the step.
        let steps = j.steps(run).unwrap();
        assert_eq!(
            steps[0].throttled,
            Some((T0 + 120_000, "api.example.com 2/m".into()))
        );
        let throttled = j
            .events(run)
            .unwrap()
            .into_iter()
            .filter(|e| e.event.type_name() == "step_throttled")
            .count();
        assert_eq!(throttled, 3);
        // Later, turns a window old are trimmed; the reserved ones stay.
        drop(j);
        let mut j = journal(&dir, T0 + 200_000);
        assert_eq!(take(&mut j, run, &rate), T0 + 200_000);
        assert_eq!(j.turns("api.example.com").unwrap(), [T0 + 200_000]);
    }

    /// Whatever order and timing the asks come in, no window of `per` holds more
    /// than `count` turns, and nobody waits when a turn was free.
    #[test]
    fn no_window_ever_holds_more_than_the_rate() {
        let dir = tempfile::tempdir().unwrap();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let rate = Rate::parse("3/10s").unwrap();
        let mut now = T0;
        let mut all = Vec::new();
        let mut run = None;
        for _ in 0..120 {
            now += (next() % 7_000) as Millis;
            let mut j = journal(&dir, now);
            let r = *run.get_or_insert_with(|| with_run(&mut j));
            let turn = take(&mut j, r, &rate);
            assert!(turn >= now);
            if turn > now {
                // It waits only because the last window already holds 3 turns.
                assert!(all.iter().filter(|t| **t > now - 10_000).count() >= 3);
            }
            all.push(turn);
        }
        all.sort_unstable();
        for (i, t) in all.iter().enumerate() {
            let held = all[i..].iter().take_while(|u| **u < t + 10_000).count();
            assert!(held <= 3, "{held} turns in the window from {t}");
        }
    }
}
