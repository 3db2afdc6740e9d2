//! What there is to say, worked out from the journal's facts (pure: no IO): an
//! item waiting longer than `after`, a failed run, a schedule notice, a budget
//! stop, the daily digest. Each notification has a key that names what it is
//! about (`waiting:12`), so queuing the same key again for a channel is a no-op.

use jiff::Timestamp;
use jiff::civil::Time;
use jiff::tz::TimeZone;

use super::config::NotifySettings;
use crate::clock::{Millis, age, format_ms};
use crate::journal::notify::{DigestFacts, NewNotification, NotifySources, PendingItem};

/// How far back a failed run is still news.
pub const FAILED_HORIZON: Millis = 24 * 3_600_000;

/// A notification before it is queued per channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub key: String,
    pub event: &'static str,
    pub title: String,
    pub body: String,
}

impl Note {
    /// One row per channel that hears this event.
    pub fn for_channels(&self, settings: &NotifySettings) -> Vec<NewNotification> {
        settings
            .channels
            .values()
            .filter(|c| c.hears(self.event))
            .map(|c| NewNotification {
                key: self.key.clone(),
                channel: c.name.clone(),
                event: self.event.to_string(),
                title: self.title.clone(),
                body: self.body.clone(),
            })
            .collect()
    }
}

fn item_ref(p: &PendingItem) -> String {
    if p.kind == "notice" {
        format!("notice {}", p.id)
    } else {
        format!(
            "inbox {} (run {} of {}, step {})",
            p.id, p.run_id, p.workflow, p.step_id
        )
    }
}

/// The notes the sources give now: waiting items, budget stops and schedule
/// notices, failed runs.
pub fn notes(settings: &NotifySettings, src: &NotifySources, now: Millis) -> Vec<Note> {
    let after = settings.after.as_millis() as Millis;
    let mut out = Vec::new();
    for p in &src.pending {
        let key_id = if p.kind == "notice" {
            format!("notice:{}", p.id)
        } else {
            p.id.to_string()
        };
        if p.kind == "budget" {
            out.push(Note {
                key: format!("budget:{key_id}"),
                event: "budget",
                title: format!("aios: {} stopped at a budget cap", p.workflow),
                body: format!(
                    "{}\n{}\nDecide with: aios inbox show {}",
                    p.summary,
                    item_ref(p),
                    p.id
                ),
            });
        }
        if p.kind == "notice" {
            out.push(Note {
                key: format!("schedule:{key_id}"),
                event: "schedule",
                title: format!("aios: schedule {} needs a look", p.workflow),
                body: format!(
                    "{}\n{}\nAcknowledge with: aios inbox approve {}",
                    p.summary,
                    item_ref(p),
                    p.id
                ),
            });
        }
        if now - p.created_at >= after {
            out.push(Note {
                key: format!("waiting:{key_id}"),
                event: "waiting",
                title: format!("aios: an item has waited {}", age(now, p.created_at)),
                body: format!(
                    "{}\n{}, waiting since {}\nSee it with: aios inbox show {}",
                    p.summary,
                    item_ref(p),
                    format_ms(p.created_at),
                    p.id
                ),
            });
        }
    }
    for r in &src.failed {
        out.push(Note {
            key: format!("failed:{}:{}", r.id, r.finished_at),
            event: "failed",
            title: format!("aios: run {} of {} failed", r.id, r.workflow),
            body: format!(
                "{}\nfailed at {}\nSee it with: aios show {}",
                r.error.as_deref().unwrap_or("(no error recorded)"),
                format_ms(r.finished_at),
                r.id
            ),
        });
    }
    out
}

/// When today's digest is due: its key (`digest:YYYY-MM-DD`, the day in the
/// digest's zone) and the instant, once that instant has passed.
pub fn digest_due(settings: &NotifySettings, now: Millis) -> Option<(String, Millis)> {
    let (h, m) = settings.digest?;
    let tz = TimeZone::get(&settings.zone).unwrap_or(TimeZone::UTC);
    let here = Timestamp::from_millisecond(now).ok()?.to_zoned(tz);
    let at = here
        .date()
        .to_datetime(Time::new(h, m, 0, 0).ok()?)
        .to_zoned(here.time_zone().clone())
        .ok()?;
    let at_ms = at.timestamp().as_millisecond();
    (now >= at_ms).then(|| (format!("digest:{}", here.date()), at_ms))
}

/// The digest's text: what waits, what failed, what was spent, what came out.
pub fn digest(key: &str, src: &NotifySources, facts: &DigestFacts, now: Millis) -> Note {
    let mut b = String::new();
    b.push_str(&format!(
        "{} waiting in the inbox\n",
        crate::text::count(src.pending.len(), "item")
    ));
    for p in src.pending.iter().take(10) {
        b.push_str(&format!(
            "  - {} ({}, {} old)\n",
            p.summary,
            item_ref(p),
            age(now, p.created_at)
        ));
    }
    b.push_str(&format!(
        "{} failed, {} succeeded in the last day\n",
        crate::text::count(src.failed.len(), "run"),
        crate::text::count(facts.succeeded.max(0) as usize, "run")
    ));
    for r in src.failed.iter().take(10) {
        b.push_str(&format!(
            "  - run {} of {}: {}\n",
            r.id,
            r.workflow,
            r.error.as_deref().unwrap_or("(no error recorded)")
        ));
    }
    b.push_str(&format!(
        "LLM spend: ${:.2} today (UTC), ${:.2} this month\n",
        facts.spent_today, facts.spent_month
    ));
    // What autonomy policies decided in your place (the trust layer).
    if !facts.by_policy.is_empty() {
        b.push_str("Decided by policy:\n");
        for (item, run, wf, step, by, reason) in &facts.by_policy {
            b.push_str(&format!(
                "  - inbox {item} (run {run}, {wf}.{step}) approved by {by}: {reason}\n"
            ));
        }
    }
    if !facts.outcomes.is_empty() {
        b.push_str("Outcomes:\n");
        for o in &facts.outcomes {
            b.push_str(&format!(
                "  - run {} of {}: {} = {}\n",
                o.run_id, o.workflow, o.key, o.value
            ));
        }
    }
    Note {
        key: key.to_string(),
        event: "digest",
        title: format!("aios digest for {}", key.trim_start_matches("digest:")),
        body: b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::notify::FailedRun;

    fn pending(id: i64, kind: &str, created_at: Millis) -> PendingItem {
        PendingItem {
            id,
            kind: kind.into(),
            run_id: 7,
            workflow: "launch".into(),
            step_id: "go".into(),
            summary: "Launch it?".into(),
            created_at,
        }
    }

    #[test]
    fn waiting_budget_schedule_and_failed() {
        let s = NotifySettings::default();
        let hour = 3_600_000;
        let src = NotifySources {
            pending: vec![
                pending(1, "approval", 0),
                pending(2, "approval", hour),
                pending(3, "budget", hour),
                pending(4, "notice", hour),
            ],
            failed: vec![FailedRun {
                id: 9,
                workflow: "w".into(),
                error: Some("boom".into()),
                finished_at: 5,
            }],
        };
        let keys: Vec<String> = notes(&s, &src, hour + 1)
            .into_iter()
            .map(|n| n.key)
            .collect();
        assert_eq!(
            keys,
            ["waiting:1", "budget:3", "schedule:notice:4", "failed:9:5"]
        );
    }

    #[test]
    fn the_digest_is_due_once_its_time_has_passed_in_its_zone() {
        let s = NotifySettings {
            digest: Some((8, 0)),
            zone: "Europe/Paris".into(),
            ..NotifySettings::default()
        };
        let at = |t: &str| t.parse::<Timestamp>().unwrap().as_millisecond();
        assert_eq!(digest_due(&s, at("2026-11-21T06:59:00Z")), None);
        assert_eq!(
            digest_due(&s, at("2026-11-21T07:00:00Z")),
            Some(("digest:2026-11-21".into(), at("2026-11-21T07:00:00Z")))
        );
    }
}
