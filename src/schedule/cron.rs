//! Cron expressions (croner, 5 fields or an `@daily`-style macro) evaluated in an
//! IANA time zone (jiff). DST-correct: a fire in a skipped hour happens once after
//! the gap; a repeated hour fires once.

use croner::parser::{CronParser, Seconds, Year};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::clock::Millis;

/// A parsed cron expression and the zone it is read in.
#[derive(Debug, Clone)]
pub struct CronSpec {
    cron: croner::Cron,
    tz: TimeZone,
    /// The expression as written.
    pub expr: String,
    /// The zone's IANA name.
    pub zone: String,
}

/// Parse a 5-field expression or a macro (`@yearly`, `@monthly`, `@weekly`,
/// `@daily`, `@hourly`). The error is a sentence to show the user.
pub fn parse_expr(expr: &str) -> Result<croner::Cron, String> {
    let trimmed = expr.trim();
    if trimmed.is_empty() {
        return Err("the cron expression is empty".into());
    }
    if !trimmed.starts_with('@') {
        let n = trimmed.split_whitespace().count();
        if n != 5 {
            return Err(format!(
                "a cron expression has 5 fields (minute hour day-of-month month day-of-week), found {n}"
            ));
        }
    }
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(trimmed)
        .map_err(|e| format!("invalid cron expression `{trimmed}`: {e}"))
}

/// Look up an IANA zone name.
pub fn parse_zone(name: &str) -> Result<TimeZone, String> {
    TimeZone::get(name).map_err(|_| format!("unknown time zone `{name}`"))
}

impl CronSpec {
    pub fn new(expr: &str, zone: &str) -> Result<CronSpec, String> {
        Ok(CronSpec {
            cron: parse_expr(expr)?,
            tz: parse_zone(zone)?,
            expr: expr.trim().to_string(),
            zone: zone.to_string(),
        })
    }

    /// The first fire strictly after `after` (ms since the epoch), if any. A wall-clock
    /// time that happens twice (the repeated hour when clocks go back) fires only the
    /// first time, whatever the expression.
    pub fn next_after(&self, after: Millis) -> Option<Millis> {
        let t = Timestamp::from_millisecond(after).ok()?;
        let mut z = t.to_zoned(self.tz.clone());
        // A few rounds are enough: only the instants of one repeated hour are skipped.
        for _ in 0..200 {
            z = self.cron.find_next_occurrence(&z, false).ok()?;
            if !self.is_repeat(&z) {
                return Some(z.timestamp().as_millisecond());
            }
        }
        None
    }

    /// Whether `z` is the second occurrence of its wall-clock time (in a fold).
    fn is_repeat(&self, z: &jiff::Zoned) -> bool {
        match self.tz.to_ambiguous_timestamp(z.datetime()).offset() {
            jiff::tz::AmbiguousOffset::Fold { after, .. } => z.offset() == after,
            _ => false,
        }
    }

    /// The fires in `(after, until]`, oldest first, at most `limit` of them.
    pub fn between(&self, after: Millis, until: Millis, limit: usize) -> Vec<Millis> {
        let mut out = Vec::new();
        let mut cur = after;
        while out.len() < limit {
            match self.next_after(cur) {
                Some(t) if t <= until => {
                    out.push(t);
                    cur = t;
                }
                _ => break,
            }
        }
        out
    }

    /// How many fires are in `(after, until]`, counting at most `cap`.
    pub fn count_between(&self, after: Millis, until: Millis, cap: usize) -> usize {
        self.between(after, until, cap).len()
    }

    /// A fire instant shown in the schedule's zone: `2026-03-29 03:00 CEST`.
    pub fn local(&self, at: Millis) -> String {
        match Timestamp::from_millisecond(at) {
            Ok(t) => t
                .to_zoned(self.tz.clone())
                .strftime("%Y-%m-%d %H:%M %Z")
                .to_string(),
            Err(_) => at.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> Millis {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    fn utc(m: Millis) -> String {
        crate::clock::format_ms(m)
    }

    #[test]
    fn weekly_in_berlin() {
        let c = CronSpec::new("0 9 * * MON", "Europe/Berlin").unwrap();
        // Saturday 2026-11-21: next Monday 09:00 CET = 08:00Z.
        assert_eq!(
            utc(c.next_after(ms("2026-11-21T09:30:00Z")).unwrap()),
            "2026-11-23T08:00:00Z"
        );
    }

    #[test]
    fn skipped_hour_fires_once_after_the_gap() {
        // 2026-03-29: Berlin jumps from 02:00 to 03:00.
        let c = CronSpec::new("30 2 * * *", "Europe/Berlin").unwrap();
        let fires = c.between(ms("2026-03-28T12:00:00Z"), ms("2026-03-30T12:00:00Z"), 10);
        let shown: Vec<String> = fires.iter().map(|&f| c.local(f)).collect();
        assert_eq!(shown, ["2026-03-29 03:00 CEST", "2026-03-30 02:30 CEST"]);
    }

    #[test]
    fn repeated_hour_fires_once() {
        // 2026-10-25: Berlin goes from 03:00 CEST back to 02:00 CET.
        let c = CronSpec::new("30 2 * * *", "Europe/Berlin").unwrap();
        let fires = c.between(ms("2026-10-24T12:00:00Z"), ms("2026-10-25T12:00:00Z"), 10);
        assert_eq!(
            fires.len(),
            1,
            "{:?}",
            fires.iter().map(|&f| utc(f)).collect::<Vec<_>>()
        );
        // Every 30 minutes in the repeated hour: 02:00 and 02:30 once each, not twice.
        let c = CronSpec::new("*/30 2 * * *", "Europe/Berlin").unwrap();
        let fires = c.between(ms("2026-10-24T12:00:00Z"), ms("2026-10-25T12:00:00Z"), 10);
        let shown: Vec<String> = fires.iter().map(|&f| c.local(f)).collect();
        assert_eq!(shown, ["2026-10-25 02:00 CEST", "2026-10-25 02:30 CEST"]);
        // Hourly: the repeated 02:00 CET is not a second 02:00.
        let c = CronSpec::new("0 * * * *", "Europe/Berlin").unwrap();
        let fires = c.between(ms("2026-10-24T23:30:00Z"), ms("2026-10-25T02:30:00Z"), 10);
        let shown: Vec<String> = fires.iter().map(|&f| c.local(f)).collect();
        assert_eq!(shown, ["2026-10-25 02:00 CEST", "2026-10-25 03:00 CET"]);
    }

    #[test]
    fn macros_last_and_nth() {
        let c = CronSpec::new("@daily", "UTC").unwrap();
        assert_eq!(
            utc(c.next_after(ms("2026-11-21T09:30:00Z")).unwrap()),
            "2026-11-22T00:00:00Z"
        );
        let c = CronSpec::new("0 12 L * *", "UTC").unwrap();
        assert_eq!(
            utc(c.next_after(ms("2026-02-02T00:00:00Z")).unwrap()),
            "2026-02-28T12:00:00Z"
        );
        let c = CronSpec::new("0 8 * * MON#2", "UTC").unwrap();
        assert_eq!(
            utc(c.next_after(ms("2026-11-01T00:00:00Z")).unwrap()),
            "2026-11-09T08:00:00Z"
        );
        let c = CronSpec::new("0-10/5 9-10 * * 1-5", "UTC").unwrap();
        assert_eq!(
            c.between(ms("2026-11-23T00:00:00Z"), ms("2026-11-23T23:59:00Z"), 100)
                .len(),
            6
        );
    }

    #[test]
    fn bad_expressions_and_zones() {
        assert!(parse_expr("0 9 * *").unwrap_err().contains("5 fields"));
        assert!(parse_expr("0 0 9 * * MON").unwrap_err().contains("found 6"));
        assert!(parse_expr("61 * * * *").is_err());
        assert!(parse_expr("").is_err());
        assert!(parse_zone("Mars/Olympus").is_err());
        assert!(parse_expr("@hourly").is_ok());
    }
}
