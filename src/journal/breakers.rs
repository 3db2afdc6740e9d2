//! Circuit breakers in the journal: their own append-only log (`breaker_events`)
//! and its projection (`breakers`), one row per target, written in one transaction.
//! The decisions are [`crate::health::breaker`]'s (pure); this file reads the row,
//! asks, and journals what was decided. Asking before a call and reporting a call
//! the target answered write nothing while the breaker is closed and clean: the
//! cost of a healthy target is one indexed read.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::SqliteJournal;
use crate::clock::Millis;
use crate::connectors::Target;
use crate::error::{Error, Result};
use crate::health::breaker::{self, Admit, Breaker, BreakerEvent, BreakerPolicy, BreakerState};

/// What a finished call says about its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A transient failure of the target (5xx, 429, a timeout, no connection).
    Failed(String),
    /// The target answered (also with a refusal): it is up.
    Answered,
}

const COLS: &str =
    "target, state, failures, trips, opened_at, until, probe, last_error, updated_at";

fn row(r: &Row<'_>) -> rusqlite::Result<Breaker> {
    let target: String = r.get(0)?;
    let state: String = r.get(1)?;
    let bad = |what: String| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, what.into())
    };
    Ok(Breaker {
        target: Target::parse(&target).map_err(bad)?,
        state: BreakerState::parse(&state)
            .ok_or_else(|| bad(format!("unknown breaker state `{state}`")))?,
        failures: r.get(2)?,
        trips: r.get(3)?,
        opened_at: r.get(4)?,
        until: r.get(5)?,
        probe: r.get(6)?,
        last_error: r.get(7)?,
        updated_at: r.get(8)?,
    })
}

fn read(conn: &Connection, target: &Target) -> Result<Option<Breaker>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLS} FROM breakers WHERE target = ?1"))?
        .query_row(params![target.to_string()], row)
        .optional()?)
}

/// Append `ev` for `target` and project it onto its row, inside `tx`.
fn record(
    tx: &rusqlite::Transaction<'_>,
    target: &Target,
    before: Option<Breaker>,
    ev: &BreakerEvent,
    at: Millis,
) -> Result<Breaker> {
    let name = target.to_string();
    tx.prepare_cached(
        "INSERT INTO breaker_events (target, type, data, at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        name,
        ev.type_name(),
        serde_json::to_string(ev)?,
        at
    ])?;
    let b = breaker::apply(before, target, ev, at);
    write(tx, &b)?;
    Ok(b)
}

fn write(conn: &Connection, b: &Breaker) -> Result<()> {
    conn.prepare_cached(&format!(
        "INSERT OR REPLACE INTO breakers ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    ))?
    .execute(params![
        b.target.to_string(),
        b.state.as_str(),
        b.failures,
        b.trips,
        b.opened_at,
        b.until,
        b.probe,
        b.last_error,
        b.updated_at
    ])?;
    Ok(())
}

/// A breaker's fields in one line (replay's differences).
fn fields(b: &Breaker) -> String {
    let t = |v: Option<Millis>| v.map(crate::clock::format_ms).unwrap_or_else(|| "-".into());
    format!(
        "state={} failures={} trips={} opened_at={} until={} probe={} last_error={} updated_at={}",
        b.state.as_str(),
        b.failures,
        b.trips,
        t(b.opened_at),
        t(b.until),
        b.probe.as_deref().unwrap_or("-"),
        b.last_error.as_deref().unwrap_or("-"),
        crate::clock::format_ms(b.updated_at)
    )
}

impl SqliteJournal {
    /// Every target's breaker that has seen a failure, tripped ones first.
    pub fn breakers(&self) -> Result<Vec<Breaker>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLS} FROM breakers ORDER BY state = 'closed', target"
        ))?;
        let rows = stmt.query_map([], row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One target's breaker, if it has seen a failure.
    pub fn breaker(&self, target: &Target) -> Result<Option<Breaker>> {
        read(&self.conn, target)
    }

    /// Whether `by` (`run 3, step fetch`) may call `target` now. A call let through
    /// as the probe of an open breaker is journaled in the same transaction as the
    /// check, so two processes never both probe.
    pub fn breaker_admit(
        &mut self,
        target: &Target,
        policy: &BreakerPolicy,
        by: &str,
    ) -> Result<Admit> {
        let now = self.now();
        match breaker::admit(read(&self.conn, target)?.as_ref(), policy, now, by) {
            Admit::Probe(_) => {}
            other => return Ok(other),
        }
        let tx = self.write_tx()?;
        let b = read(&tx, target)?;
        let admit = breaker::admit(b.as_ref(), policy, now, by);
        if let Admit::Probe(ev) = &admit {
            record(&tx, target, b, ev, now)?;
            tx.commit()?;
        }
        Ok(admit)
    }

    /// Report how a call to `target` ended. Returns the event it caused, if any (a
    /// call the target answered while its breaker is closed and clean causes none,
    /// and writes nothing).
    pub fn breaker_report(
        &mut self,
        target: &Target,
        policy: &BreakerPolicy,
        verdict: &Verdict,
    ) -> Result<Option<BreakerEvent>> {
        let now = self.now();
        if *verdict == Verdict::Answered
            && breaker::on_success(read(&self.conn, target)?.as_ref()).is_none()
        {
            return Ok(None);
        }
        let tx = self.write_tx()?;
        let b = read(&tx, target)?;
        let ev = match verdict {
            Verdict::Failed(error) => breaker::on_failure(b.as_ref(), policy, now, error),
            Verdict::Answered => breaker::on_success(b.as_ref()),
        };
        if let Some(ev) = &ev {
            record(&tx, target, b, ev, now)?;
            tx.commit()?;
        }
        Ok(ev)
    }

    /// Close a tripped breaker by hand (`aios breakers close TARGET`).
    pub fn close_breaker(&mut self, target: &Target, by: &str) -> Result<Breaker> {
        let now = self.now();
        let tx = self.write_tx()?;
        let b = read(&tx, target)?;
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
        let b = record(&tx, target, b, &ev, now)?;
        tx.commit()?;
        Ok(b)
    }

    /// A target's breaker events, oldest first: `(at, event)`.
    pub fn breaker_events(&self, target: &Target) -> Result<Vec<(Millis, BreakerEvent)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT at, data FROM breaker_events WHERE target = ?1 ORDER BY seq")?;
        let rows = stmt.query_map(params![target.to_string()], |r| {
            Ok((r.get::<_, Millis>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for r in rows {
            let (at, data) = r?;
            out.push((at, serde_json::from_str(&data)?));
        }
        Ok(out)
    }

    /// Rebuild every breaker from its events and compare with the stored rows:
    /// `(events replayed, differences)`.
    pub fn replay_breakers(&self) -> Result<(usize, Vec<String>)> {
        let events = self
            .conn
            .prepare("SELECT target, at, data FROM breaker_events ORDER BY seq")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<Vec<(String, Millis, String)>>>()?;
        compare_replayed(events, self.breakers()?)
    }
}

/// Rebuild the breakers from their events `(target, at, data)` in log order and
/// compare them with the `stored` rows: `(events replayed, differences)`. Both
/// backends' replay.
pub(super) fn compare_replayed(
    events: Vec<(String, Millis, String)>,
    stored: Vec<Breaker>,
) -> Result<(usize, Vec<String>)> {
    let mut rebuilt: std::collections::BTreeMap<String, Breaker> = Default::default();
    let n = events.len();
    for (name, at, data) in events {
        let target = Target::parse(&name).map_err(Error::storage)?;
        let ev: BreakerEvent = serde_json::from_str(&data)?;
        // Keyed as the stored rows are read: by the target as named now (an
        // older `http:HOST:80` is `http:HOST`).
        let name = target.to_string();
        let before = rebuilt.remove(&name);
        rebuilt.insert(name, breaker::apply(before, &target, &ev, at));
    }
    let stored: std::collections::BTreeMap<String, Breaker> = stored
        .into_iter()
        .map(|b| (b.target.to_string(), b))
        .collect();
    let mut differences = Vec::new();
    for (name, b) in &stored {
        match rebuilt.get(name) {
            Some(r) if r == b => {}
            Some(r) => differences.push(format!(
                "breaker {name}: stored {}\n  rebuilt {}",
                fields(b),
                fields(r)
            )),
            None => differences.push(format!("breaker {name}: stored, but it has no events")),
        }
    }
    for name in rebuilt.keys().filter(|k| !stored.contains_key(*k)) {
        differences.push(format!(
            "breaker {name}: its events rebuild a row that is not stored"
        ));
    }
    Ok((n, differences))
}

/// A step whose call waits for its target's breaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldStep {
    pub run: i64,
    pub step: String,
    pub target: String,
    /// When it tries again (at the latest: `aios tick` continues it sooner when
    /// the breaker closes).
    pub until: Millis,
}

impl SqliteJournal {
    /// Every step waiting for a breaker, by target then run.
    pub fn held_steps(&self) -> Result<Vec<HeldStep>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT run_id, step_id, held, wake_at FROM steps
             WHERE held IS NOT NULL AND status = 'waiting' ORDER BY held, run_id, idx",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(HeldStep {
                run: r.get(0)?,
                step: r.get(1)?,
                target: r.get(2)?,
                until: r.get::<_, Option<Millis>>(3)?.unwrap_or(0),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::connectors::TargetKind;
    use crate::journal::OpenOptions;

    fn open(dir: &tempfile::TempDir, at: &str) -> SqliteJournal {
        SqliteJournal::open(
            &dir.path().join("aios.db"),
            Clock::Fixed(at.parse().unwrap()),
            OpenOptions::default(),
        )
        .unwrap()
    }

    #[test]
    fn one_process_probes_the_others_wait_and_the_rows_replay() {
        let dir = tempfile::tempdir().unwrap();
        let t = Target::new(TargetKind::Mcp, "time");
        let p = BreakerPolicy {
            failures: 2,
            cooldown: 60_000,
            max_cooldown: 600_000,
        };
        let mut j = open(&dir, "2026-01-01T00:00:00Z");
        // A healthy target writes nothing.
        assert_eq!(j.breaker_report(&t, &p, &Verdict::Answered).unwrap(), None);
        assert!(j.breakers().unwrap().is_empty());
        for _ in 0..2 {
            j.breaker_report(&t, &p, &Verdict::Failed("no answer".into()))
                .unwrap();
        }
        assert_eq!(j.breaker(&t).unwrap().unwrap().state, BreakerState::Open);
        assert!(matches!(
            j.breaker_admit(&t, &p, "run 1, step a").unwrap(),
            Admit::Wait { .. }
        ));
        // After the cooldown, two journals on one file: the first probes, the
        // second waits for its verdict.
        let mut a = open(&dir, "2026-01-01T00:01:00Z");
        let mut b = open(&dir, "2026-01-01T00:01:00Z");
        assert!(matches!(
            a.breaker_admit(&t, &p, "run 1, step a").unwrap(),
            Admit::Probe(_)
        ));
        match b.breaker_admit(&t, &p, "run 2, step b").unwrap() {
            Admit::Wait { reason, .. } => {
                assert!(reason.contains("run 1, step a probes it"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            a.breaker_report(&t, &p, &Verdict::Answered).unwrap(),
            Some(BreakerEvent::Closed {
                reason: "the probe was answered".into()
            })
        );
        assert_eq!(b.breaker_admit(&t, &p, "run 2, step b").unwrap(), Admit::Go);
        let (n, diff) = b.replay_breakers().unwrap();
        assert_eq!((n, diff), (4, vec![]));
        assert_eq!(b.breaker_events(&t).unwrap().len(), 4);
        // By hand: only an open (or counting) breaker closes.
        let e = b.close_breaker(&t, "the operator").unwrap_err();
        assert!(e.message.contains("is not open"), "{}", e.message);
    }

    #[test]
    fn a_breaker_journaled_under_an_older_name_replays_under_the_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let p = BreakerPolicy {
            failures: 1,
            cooldown: 60_000,
            max_cooldown: 600_000,
        };
        let mut j = open(&dir, "2026-01-01T00:00:00Z");
        let t = Target::of_url("http://y.test:8080/").unwrap();
        j.breaker_report(&t, &p, &Verdict::Failed("no answer".into()))
            .unwrap();
        // The same history, as an older aios journaled it for a URL naming the other
        // scheme's default port (`http://x.test:443/`).
        j.conn
            .execute_batch(&format!(
                "INSERT INTO breaker_events (target, type, data, at)
                   SELECT 'http:x.test:443', type, data, at FROM breaker_events
                   WHERE target = 'http:y.test:8080';
                 INSERT INTO breakers ({COLS})
                   SELECT 'http:x.test:443', state, failures, trips, opened_at, until, probe,
                          last_error, updated_at FROM breakers WHERE target = 'http:y.test:8080';"
            ))
            .unwrap();
        let names: Vec<String> = j
            .breakers()
            .unwrap()
            .iter()
            .map(|b| b.target.to_string())
            .collect();
        assert_eq!(names, ["http:x.test", "http:y.test:8080"]);
        let (n, diff) = j.replay_breakers().unwrap();
        assert_eq!((n, diff), (2, vec![]));
    }
}
