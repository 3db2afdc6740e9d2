//! The pure part of `tick`: which scheduled instants run and which are skipped,
//! given the cursor, the clock and the schedule's policies. No IO, no clock.

use super::cron::CronSpec;
use crate::clock::Millis;
use crate::workflow::CatchUp;

/// An instant at most this late is "on time" (cron may start a tick a bit late, a
/// laptop may wake a few minutes after the hour); later ones are "missed".
pub const GRACE: Millis = 5 * 60_000;

/// At most this many instants are decided per decision (the rest next time).
pub const MAX_INSTANTS: usize = 1000;

/// At most this many instants older than the window are counted one by one.
const MAX_OLD: usize = 100_000;

/// Decisions for the instants after a schedule's cursor, up to and including the
/// first one to run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decided {
    /// Instants older than the catch-up window: (count, first, last).
    pub old: Option<(u64, Millis, Millis)>,
    /// Instants not run, oldest first, with the reason.
    pub skips: Vec<(Millis, String)>,
    /// The instant to run now, if any.
    pub run: Option<Millis>,
    /// How many of the decided instants were missed (not on time), run or not.
    pub missed: u64,
    /// The new cursor: every instant up to here is decided.
    pub cursor: Millis,
}

impl Decided {
    pub fn is_empty(&self) -> bool {
        self.old.is_none() && self.skips.is_empty() && self.run.is_none()
    }
}

/// Decide the instants in `(cursor, now]`.
pub fn decide(
    cron: &CronSpec,
    cursor: Millis,
    now: Millis,
    catch_up: CatchUp,
    window: Millis,
) -> Decided {
    let mut d = Decided {
        cursor,
        ..Decided::default()
    };
    let window_start = now.saturating_sub(window);
    if cursor < window_start {
        let old = cron.between(cursor, window_start, MAX_OLD);
        if let (Some(&first), Some(&last)) = (old.first(), old.last()) {
            d.old = Some((old.len() as u64, first, last));
            d.missed += old.len() as u64;
        }
        // Past MAX_OLD instants, the rest of the old ones are skipped uncounted.
        d.cursor = window_start;
    }
    let recent = cron.between(d.cursor, now, MAX_INSTANTS);
    let complete = recent.len() < MAX_INSTANTS;
    let on_time = recent
        .last()
        .copied()
        .filter(|&t| complete && now - t <= GRACE);
    let last_missed = recent.iter().rev().find(|&&t| Some(t) != on_time).copied();
    for &t in &recent {
        d.cursor = t;
        if Some(t) == on_time {
            d.run = Some(t);
            break;
        }
        d.missed += 1;
        let run = match catch_up {
            CatchUp::All => true,
            CatchUp::Latest => on_time.is_none() && complete && Some(t) == last_missed,
            CatchUp::None => false,
        };
        if run {
            d.run = Some(t);
            break;
        }
        let why = match catch_up {
            CatchUp::None => "missed while nothing ticked (catch_up = \"none\")",
            _ => "missed while nothing ticked; a later fire runs instead (catch_up = \"latest\")",
        };
        d.skips.push((t, why.to_string()));
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> Millis {
        s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    const DAY: Millis = 86_400_000;

    fn daily() -> CronSpec {
        CronSpec::new("0 9 * * *", "UTC").unwrap()
    }

    #[test]
    fn nothing_due() {
        let d = decide(
            &daily(),
            ms("2026-11-21T09:00:00Z"),
            ms("2026-11-21T12:00:00Z"),
            CatchUp::Latest,
            7 * DAY,
        );
        assert!(d.is_empty());
        assert_eq!(d.cursor, ms("2026-11-21T09:00:00Z"));
    }

    #[test]
    fn on_time_runs_whatever_catch_up_says() {
        for c in [CatchUp::None, CatchUp::Latest, CatchUp::All] {
            let d = decide(
                &daily(),
                ms("2026-11-20T10:00:00Z"),
                ms("2026-11-21T09:01:00Z"),
                c,
                7 * DAY,
            );
            assert_eq!(d.run, Some(ms("2026-11-21T09:00:00Z")));
            assert_eq!(d.missed, 0);
        }
    }

    #[test]
    fn three_missed_latest_runs_the_last() {
        // Off from Wednesday to Saturday noon: 09:00 Thu, Fri, Sat were missed.
        let cursor = ms("2026-11-18T10:00:00Z");
        let now = ms("2026-11-21T12:00:00Z");
        let d = decide(&daily(), cursor, now, CatchUp::Latest, 7 * DAY);
        assert_eq!(d.skips.len(), 2);
        assert_eq!(d.run, Some(ms("2026-11-21T09:00:00Z")));
        assert_eq!(d.missed, 3);
        let d = decide(&daily(), cursor, now, CatchUp::None, 7 * DAY);
        assert_eq!((d.skips.len(), d.run), (3, None));
        assert_eq!(d.cursor, ms("2026-11-21T09:00:00Z"));
        let d = decide(&daily(), cursor, now, CatchUp::All, 7 * DAY);
        assert_eq!(
            (d.skips.len(), d.run),
            (0, Some(ms("2026-11-19T09:00:00Z")))
        );
        let d = decide(&daily(), d.cursor, now, CatchUp::All, 7 * DAY);
        assert_eq!(d.run, Some(ms("2026-11-20T09:00:00Z")));
    }

    #[test]
    fn on_time_fire_supersedes_missed_ones() {
        let d = decide(
            &daily(),
            ms("2026-11-18T10:00:00Z"),
            ms("2026-11-21T09:02:00Z"),
            CatchUp::Latest,
            7 * DAY,
        );
        assert_eq!(d.skips.len(), 2);
        assert_eq!(d.run, Some(ms("2026-11-21T09:00:00Z")));
    }

    #[test]
    fn outside_the_window_is_skipped() {
        // Off for 30 days with a 7 day window: 23 old instants, 7 recent.
        let d = decide(
            &daily(),
            ms("2026-10-22T10:00:00Z"),
            ms("2026-11-21T12:00:00Z"),
            CatchUp::All,
            7 * DAY,
        );
        let (count, first, _) = d.old.unwrap();
        assert_eq!((count, first), (23, ms("2026-10-23T09:00:00Z")));
        assert_eq!(d.run, Some(ms("2026-11-15T09:00:00Z")));
    }

    #[test]
    fn a_long_sleep_of_an_every_minute_schedule_is_bounded() {
        let c = CronSpec::new("* * * * *", "UTC").unwrap();
        let d = decide(
            &c,
            ms("2026-11-01T00:00:00Z"),
            ms("2026-11-21T00:00:00Z"),
            CatchUp::Latest,
            DAY,
        );
        assert!(
            d.run.is_none(),
            "more than MAX_INSTANTS: the latest is decided next time"
        );
        assert_eq!(d.skips.len(), MAX_INSTANTS);
        let d = decide(
            &c,
            ms("2026-11-20T23:00:00Z"),
            ms("2026-11-21T00:00:30Z"),
            CatchUp::Latest,
            DAY,
        );
        assert_eq!(d.run, Some(ms("2026-11-21T00:00:00Z")));
    }
}
