//! What became of the instants a schedule missed while nothing ticked, collected
//! from the decisions one tick journaled, and the one exact sentence the tick
//! prints and the inbox notice keeps ("4 runs of daily were missed …; ran the one
//! of … (run 7); skipped 3 (catch_up = "latest")"). Pure: no IO.

use serde_json::{Value as Json, json};

use crate::clock::{Millis, format_ms};
use crate::text::{count, noun};

/// The missed instants of one schedule in one tick, by what happened to them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Missed {
    pub schedule: String,
    /// Every missed instant decided (those outside the window included).
    pub count: u64,
    /// Skipped for being older than the catch-up window (`window`).
    pub old: u64,
    pub window: Millis,
    /// Skipped by the `catch_up` policy (named in `catch_up`).
    pub caught_up_skips: u64,
    pub catch_up: String,
    /// Started: (instant, run).
    pub ran: Vec<(Millis, i64)>,
    /// Queued behind a run still going (`overlap = "queue"`): (instant, that run).
    pub queued: Vec<(Millis, Option<i64>)>,
    /// Skipped because a run was still going (`overlap = "skip"`): (instant, that run).
    pub overlapped: Vec<(Millis, Option<i64>)>,
    /// Earlier runs cancelled to start a missed instant (`overlap = "cancel_running"`).
    pub cancelled: Vec<i64>,
}

impl Missed {
    pub fn new(schedule: &str, catch_up: &str, window: Millis) -> Missed {
        Missed {
            schedule: schedule.to_string(),
            catch_up: catch_up.to_string(),
            window,
            ..Missed::default()
        }
    }

    /// The latest missed instant that was started, if any.
    pub fn latest_ran(&self) -> Option<Millis> {
        self.ran.iter().map(|r| r.0).max()
    }

    /// The sentence: how many were missed, then what happened to them.
    pub fn summary(&self) -> String {
        let n = self.count;
        let mut parts = Vec::new();
        match self.ran.as_slice() {
            [] if self.queued.is_empty() => parts.push("ran none of them".to_string()),
            [] => {}
            [(t, run)] if n == 1 => parts.push(format!("ran it (run {run}, {})", format_ms(*t))),
            [(t, run)] => parts.push(format!("ran the one of {} (run {run})", format_ms(*t))),
            many => {
                let runs = many
                    .iter()
                    .map(|r| r.1.to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                let k = many.len() as u64;
                let which = if k == n {
                    format!("all {k}")
                } else {
                    k.to_string()
                };
                parts.push(format!("ran {which} (runs {runs})"));
            }
        }
        if !self.cancelled.is_empty() {
            let runs = self
                .cancelled
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            parts.push(format!(
                "cancelled {} {runs} to do so (overlap = \"cancel_running\")",
                noun(self.cancelled.len(), "run", "runs")
            ));
        }
        for (t, run) in &self.queued {
            parts.push(format!(
                "queued the one of {} until {} finishes (overlap = \"queue\")",
                format_ms(*t),
                the_run(*run)
            ));
        }
        for (t, run) in &self.overlapped {
            parts.push(format!(
                "skipped the one of {}: {} was still going (overlap = \"skip\")",
                format_ms(*t),
                the_run(*run)
            ));
        }
        if self.caught_up_skips > 0 {
            parts.push(format!(
                "skipped {} (catch_up = \"{}\")",
                self.caught_up_skips, self.catch_up
            ));
        }
        if self.old > 0 {
            parts.push(format!(
                "skipped {} older than the catch_up_window ({})",
                self.old,
                crate::clock::format_duration(std::time::Duration::from_millis(
                    self.window.max(0) as u64
                ))
            ));
        }
        format!(
            "{} of {} {} missed while nothing ticked; {}",
            count(n, "run"),
            self.schedule,
            noun(n, "was", "were"),
            parts.join("; ")
        )
    }

    /// The same facts as JSON (the notice's details, `tick --json`).
    pub fn data(&self) -> Json {
        json!({
            "count": self.count,
            "ran": self.latest_ran().map(format_ms),
            "runs": self.ran.iter().map(|(t, r)| json!({"due_at": format_ms(*t), "run_id": r})).collect::<Vec<_>>(),
            "queued": self.queued.iter().map(|(t, r)| json!({"due_at": format_ms(*t), "behind_run": r})).collect::<Vec<_>>(),
            "skipped_overlap": self.overlapped.iter().map(|(t, r)| json!({"due_at": format_ms(*t), "running": r})).collect::<Vec<_>>(),
            "skipped_catch_up": self.caught_up_skips,
            "skipped_old": self.old,
            "cancelled": self.cancelled,
        })
    }
}

fn the_run(run: Option<i64>) -> String {
    match run {
        Some(r) => format!("run {r}"),
        None => "the previous run".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> Millis {
        s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    fn missed(count: u64) -> Missed {
        Missed {
            count,
            ..Missed::new("weekly", "latest", 7 * 86_400_000)
        }
    }

    #[test]
    fn the_latest_ran() {
        let m = Missed {
            caught_up_skips: 2,
            ran: vec![(ms("2026-11-21T09:00:00Z"), 9)],
            ..missed(3)
        };
        assert_eq!(
            m.summary(),
            "3 runs of weekly were missed while nothing ticked; ran the one of 2026-11-21T09:00:00Z (run 9); skipped 2 (catch_up = \"latest\")"
        );
    }

    #[test]
    fn one_missed_and_run() {
        let m = Missed {
            ran: vec![(ms("2026-11-21T09:00:00Z"), 4)],
            ..missed(1)
        };
        assert_eq!(
            m.summary(),
            "1 run of weekly was missed while nothing ticked; ran it (run 4, 2026-11-21T09:00:00Z)"
        );
    }

    #[test]
    fn skipped_for_overlap_is_not_said_to_have_run() {
        let m = Missed {
            caught_up_skips: 2,
            overlapped: vec![(ms("2026-11-21T09:00:00Z"), Some(1))],
            ..missed(3)
        };
        assert_eq!(
            m.summary(),
            "3 runs of weekly were missed while nothing ticked; ran none of them; skipped the one of 2026-11-21T09:00:00Z: run 1 was still going (overlap = \"skip\"); skipped 2 (catch_up = \"latest\")"
        );
        assert_eq!(m.data()["ran"], Json::Null);
    }

    #[test]
    fn all_ran_and_old_ones_skipped() {
        let m = Missed {
            old: 18,
            window: 2 * 86_400_000,
            ran: vec![
                (ms("2026-11-19T09:00:00Z"), 1),
                (ms("2026-11-20T09:00:00Z"), 2),
            ],
            catch_up: "all".into(),
            ..missed(20)
        };
        assert_eq!(
            m.summary(),
            "20 runs of weekly were missed while nothing ticked; ran 2 (runs 1, 2); skipped 18 older than the catch_up_window (2d)"
        );
        let m = Missed {
            ran: m.ran.clone(),
            ..missed(2)
        };
        assert!(m.summary().ends_with("; ran all 2 (runs 1, 2)"));
    }

    #[test]
    fn queued_behind_a_run() {
        let m = Missed {
            queued: vec![(ms("2026-11-21T09:00:00Z"), Some(3))],
            ..missed(1)
        };
        assert_eq!(
            m.summary(),
            "1 run of weekly was missed while nothing ticked; queued the one of 2026-11-21T09:00:00Z until run 3 finishes (overlap = \"queue\")"
        );
    }
}
