//! Notifications: what `aios tick` and `aios daemon` tell the operator through the
//! channels of `[notify]` ([`config`]): an item waiting longer than `after`, a
//! failed run, a schedule notice, a budget stop, the daily digest ([`events`]).
//! A pass queues what is new (once per key and channel, however many ticks race:
//! [`crate::journal::notify`]), claims what is due, sends it ([`channel`]) and
//! records the outcome; a failed send is tried again later with a doubling
//! backoff, and gives up after [`MAX_ATTEMPTS`]. A pass runs after the tick's runs,
//! so it never holds one up.

pub mod channel;
pub mod config;
pub mod events;

use std::time::Duration;

pub use config::{Channel, ChannelKind, NotifySettings};

use crate::clock::{Clock, Millis};
use crate::error::Result;
use crate::journal::Journal;
use crate::secrets::Secrets;
use crate::smtp::Transport;
use channel::{Message, SendCx};

/// Tries before a notification is given up.
pub const MAX_ATTEMPTS: u32 = 6;
/// The first retry's delay; it doubles up to [`MAX_BACKOFF`].
pub const BACKOFF: Millis = 30_000;
pub const MAX_BACKOFF: Millis = 3_600_000;
/// How long a claim holds (longer than a send may take).
const HOLD: Millis = 120_000;
/// At most this many sends per pass.
const BATCH: usize = 20;

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    pub sent: Vec<Outcome>,
    pub failed: Vec<Outcome>,
}

/// One send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub id: i64,
    pub channel: String,
    pub title: String,
    pub attempt: u32,
    /// The reply (sent) or the error (failed).
    pub detail: String,
    /// When it is tried again (`None`: given up, or sent).
    pub next_at: Option<Millis>,
}

/// What a pass needs besides the journal.
pub struct NotifyEnv<'a> {
    pub settings: &'a NotifySettings,
    pub secrets: &'a Secrets,
    pub smtp: &'a Transport,
    pub child_env: &'a [(String, String)],
    pub clock: Clock,
    /// Who claims (unique per process and pass).
    pub by: String,
}

/// The delay before try `attempt + 1`, after `attempt` failed.
pub fn backoff(attempt: u32) -> Millis {
    let shift = attempt.saturating_sub(1).min(20);
    (BACKOFF << shift).min(MAX_BACKOFF)
}

/// Queue what is new, then send what is due.
pub fn pass(journal: &mut Journal, env: &NotifyEnv<'_>) -> Result<PassReport> {
    if env.settings.channels.is_empty() {
        return Ok(PassReport::default());
    }
    let now = journal.now();
    let src = journal.notify_sources(now - events::FAILED_HORIZON)?;
    let mut rows: Vec<_> = events::notes(env.settings, &src, now)
        .iter()
        .flat_map(|n| n.for_channels(env.settings))
        .collect();
    if let Some((key, at)) = events::digest_due(env.settings, now) {
        // Only the digest's channels ask for its facts, and only once a day.
        let queued = journal.notification_keys(&key)?;
        if queued.len() < env.settings.channels.len() {
            let day = now - now.rem_euclid(86_400_000);
            let month = month_start(now);
            let facts = journal.digest_facts(at - 86_400_000, day, month)?;
            let since = journal.notify_sources(at - 86_400_000)?;
            rows.extend(events::digest(&key, &since, &facts, now).for_channels(env.settings));
        }
    }
    journal.queue_notifications(&rows)?;
    send_due(journal, env)
}

/// The first instant of `now`'s UTC month.
fn month_start(now: Millis) -> Millis {
    jiff::Timestamp::from_millisecond(now)
        .ok()
        .and_then(|t| {
            let d = t.to_zoned(jiff::tz::TimeZone::UTC).date();
            d.first_of_month()
                .to_zoned(jiff::tz::TimeZone::UTC)
                .ok()
                .map(|z| z.timestamp().as_millisecond())
        })
        .unwrap_or(now)
}

/// Send the due notifications this pass claims.
fn send_due(journal: &mut Journal, env: &NotifyEnv<'_>) -> Result<PassReport> {
    let claimed = journal.claim_notifications(&env.by, HOLD, BATCH)?;
    let mut report = PassReport::default();
    if claimed.is_empty() {
        return Ok(report);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| crate::error::Error::other(format!("cannot start notifications: {e}")))?;
    let cx = SendCx {
        http: http_client(),
        secrets: env.secrets,
        smtp: env.smtp,
        child_env: env.child_env,
        clock: env.clock,
    };
    for n in claimed {
        let result = match env.settings.channels.get(&n.channel) {
            Some(ch) => rt.block_on(channel::send(
                ch,
                &Message {
                    key: &n.key,
                    event: &n.event,
                    title: &n.title,
                    body: &n.body,
                },
                &cx,
            )),
            None => Err(format!(
                "channel `{}` is no longer in [notify] of {}",
                n.channel, env.settings.origin
            )),
        };
        let mut o = Outcome {
            id: n.id,
            channel: n.channel.clone(),
            title: n.title.clone(),
            attempt: n.attempts,
            detail: String::new(),
            next_at: None,
        };
        match result {
            Ok(reply) => {
                journal.notification_sent(n.id, &env.by, &reply)?;
                o.detail = reply;
                report.sent.push(o);
            }
            Err(e) => {
                let gone = !env.settings.channels.contains_key(&n.channel);
                let next = (!gone && n.attempts < MAX_ATTEMPTS)
                    .then(|| journal.now() + backoff(n.attempts));
                journal.notification_failed(n.id, &env.by, &e, next)?;
                o.detail = e;
                o.next_at = next;
                report.failed.push(o);
            }
        }
    }
    Ok(report)
}

/// The HTTP client pushes go through.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(channel::SEND_TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("aios/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// `aios notify test`: send a test message through `channels` now (not queued).
/// Each channel's result, in order.
pub fn test(
    env: &NotifyEnv<'_>,
    channels: &[&Channel],
) -> Result<Vec<(String, std::result::Result<String, String>)>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| crate::error::Error::other(format!("cannot start notifications: {e}")))?;
    let cx = SendCx {
        http: http_client(),
        secrets: env.secrets,
        smtp: env.smtp,
        child_env: env.child_env,
        clock: env.clock,
    };
    let at = crate::clock::format_ms(env.clock.now_ms());
    let body = format!(
        "A test notification from aios at {at}. This channel will hear: waiting items, failed runs, schedule notices, budget stops and the digest, as configured."
    );
    Ok(channels
        .iter()
        .map(|ch| {
            let r = rt.block_on(channel::send(
                ch,
                &Message {
                    key: "test",
                    event: "test",
                    title: "aios: test notification",
                    body: &body,
                },
                &cx,
            ));
            (ch.name.clone(), r)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        assert_eq!(backoff(1), 30_000);
        assert_eq!(backoff(2), 60_000);
        assert_eq!(backoff(3), 120_000);
        assert_eq!(backoff(30), MAX_BACKOFF);
    }
}
