//! The figures of the control room (`aios stats`, the TUI's Overview tab), computed
//! once here from the journal's projections over the last [`DAYS`] UTC days of the
//! journal's clock: LLM spend per day against the caps, items decided per day and the
//! median time to decide, failed runs per workflow, and recorded outcomes per
//! workflow over time. Dry runs are left out. Each query is bounded by the window.

use rusqlite::params;
use serde::Serialize;

use super::SqliteJournal;
use crate::clock::Millis;
use crate::error::Result;

/// How many days the figures cover, today included.
pub const DAYS: i64 = 30;
const DAY_MS: i64 = 86_400_000;

/// One UTC day of the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Day {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// What LLM calls cost that day.
    pub spent_usd: f64,
    /// Inbox items decided that day.
    pub decided: i64,
}

/// Runs of one workflow that failed in the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failures {
    pub workflow: String,
    pub failed: i64,
}

/// One recorded outcome (`aios outcome` or an `outcome` step) of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    pub run: i64,
    pub date: String,
    pub value: f64,
}

/// A numeric outcome of a workflow over time (e.g. the open rate of each launch).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    pub workflow: String,
    pub key: String,
    /// Oldest first.
    pub points: Vec<Point>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// [`DAYS`] days, oldest first, today last.
    pub days: Vec<Day>,
    pub daily_cap_usd: Option<f64>,
    pub monthly_cap_usd: Option<f64>,
    pub spent_month_usd: f64,
    pub decided: i64,
    /// The median time from proposal to decision of the items decided in the window.
    pub median_decide_ms: Option<i64>,
    /// Most failures first.
    pub failures: Vec<Failures>,
    pub outcomes: Vec<Series>,
}

fn date_of(ms: Millis) -> String {
    crate::clock::format_ms(ms).chars().take(10).collect()
}

/// The window of the figures at `now`: its first millisecond, the end of today and
/// the start of the month.
pub(super) fn window(now: Millis) -> (Millis, Millis, Millis) {
    let (today, month) = crate::agent::budget::period_starts(now);
    (today - (DAYS - 1) * DAY_MS, today + DAY_MS, month)
}

/// The rows the figures are made of (each backend reads them in its dialect).
pub(super) struct Rows {
    /// `(day index from the window's start, spent)`.
    pub spend: Vec<(i64, f64)>,
    /// `(decided at, decided at - created at)` of the items decided in the window.
    pub decided: Vec<(i64, i64)>,
    /// Most failures first, then by workflow.
    pub failures: Vec<Failures>,
    /// `(workflow, key, run, at, value as JSON)` by workflow, key, at, run.
    pub outcomes: Vec<(String, String, i64, i64, String)>,
    pub spent_month_usd: f64,
}

/// The figures of the window starting at `start`, from its rows.
pub(super) fn assemble(
    start: Millis,
    rows: Rows,
    daily_cap_usd: Option<f64>,
    monthly_cap_usd: Option<f64>,
) -> Stats {
    let mut days: Vec<Day> = (0..DAYS)
        .map(|i| Day {
            date: date_of(start + i * DAY_MS),
            spent_usd: 0.0,
            decided: 0,
        })
        .collect();
    for (i, usd) in rows.spend {
        if let Some(d) = days.get_mut(i as usize) {
            d.spent_usd = usd;
        }
    }
    let mut waits: Vec<i64> = Vec::new();
    for (at, wait) in rows.decided {
        if let Some(d) = days.get_mut(((at - start) / DAY_MS) as usize) {
            d.decided += 1;
        }
        waits.push(wait.max(0));
    }
    waits.sort_unstable();
    let median_decide_ms = match waits.len() {
        0 => None,
        n if n % 2 == 1 => Some(waits[n / 2]),
        n => Some((waits[n / 2 - 1] + waits[n / 2]) / 2),
    };
    let mut outcomes: Vec<Series> = Vec::new();
    for (workflow, key, run, at, value) in rows.outcomes {
        // Numbers (and booleans as 1/0) chart; other values are left out.
        let value = match serde_json::from_str::<serde_json::Value>(&value) {
            Ok(serde_json::Value::Number(n)) => n.as_f64(),
            Ok(serde_json::Value::Bool(b)) => Some(if b { 1.0 } else { 0.0 }),
            _ => None,
        };
        let Some(value) = value else { continue };
        let point = Point {
            run,
            date: date_of(at),
            value,
        };
        match outcomes.last_mut() {
            Some(s) if s.workflow == workflow && s.key == key => s.points.push(point),
            _ => outcomes.push(Series {
                workflow,
                key,
                points: vec![point],
            }),
        }
    }
    Stats {
        decided: days.iter().map(|d| d.decided).sum(),
        days,
        daily_cap_usd,
        monthly_cap_usd,
        spent_month_usd: rows.spent_month_usd,
        median_decide_ms,
        failures: rows.failures,
        outcomes,
    }
}

impl SqliteJournal {
    /// The figures of the last [`DAYS`] days, with the spending caps to draw them
    /// against (`[budget]` in the config: the caller reads it).
    pub fn stats(&self, daily_cap_usd: Option<f64>, monthly_cap_usd: Option<f64>) -> Result<Stats> {
        let (start, end, month) = window(self.now());
        let spend = self
            .conn
            .prepare_cached(
                "SELECT (at - ?1) / 86400000, sum(cost_usd) FROM llm_calls
                 WHERE at >= ?1 AND at < ?2 GROUP BY 1",
            )?
            .query_map(params![start, end], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let decided = self
            .conn
            .prepare_cached(
                "SELECT p.decided_at, p.decided_at - p.created_at FROM proposals p
                 JOIN runs r ON r.id = p.run_id
                 WHERE p.decided_at >= ?1 AND p.decided_at < ?2 AND r.dry IS NULL",
            )?
            .query_map(params![start, end], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let failures = self
            .conn
            .prepare_cached(
                "SELECT workflow, count(*) FROM runs
                 WHERE status = 'failed' AND dry IS NULL AND updated_at >= ?1 AND updated_at < ?2
                 GROUP BY workflow ORDER BY 2 DESC, 1",
            )?
            .query_map(params![start, end], |r| {
                Ok(Failures {
                    workflow: r.get(0)?,
                    failed: r.get(1)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let outcomes = self
            .conn
            .prepare_cached(
                "SELECT r.workflow, o.key, o.run_id, o.at, o.value FROM outcomes o
                 JOIN runs r ON r.id = o.run_id
                 WHERE o.at >= ?1 AND o.at < ?2 AND r.dry IS NULL
                 ORDER BY r.workflow, o.key, o.at, o.run_id",
            )?
            .query_map(params![start, end], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let rows = Rows {
            spend,
            decided,
            failures,
            outcomes,
            spent_month_usd: self.llm_spent_since(month)?,
        };
        Ok(assemble(start, rows, daily_cap_usd, monthly_cap_usd))
    }
}
