//! Circuit breakers, one per connector target ([`Target`]): after `failures`
//! consecutive transient failures (5xx, 429, timeouts, connection errors) the
//! breaker opens for a cooldown; steps aimed at it wait instead of burning their
//! retries. When the cooldown has passed, the next step let through is a probe
//! (half-open): its success closes the breaker, its failure opens it again for
//! twice the cooldown, up to `max_cooldown`.
//!
//! Pure: the decisions ([`admit`], [`on_failure`], [`on_success`]) and the
//! projection of events onto a breaker ([`apply`]) read no clock and do no IO. The
//! journal stores the events and the projection in one transaction
//! (`crate::journal` `breakers.rs`); the driver asks before a commit and reports
//! after it; `[breakers]` in the config sets the policy ([`BreakerSettings`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::clock::Millis;
use crate::config::ConfigFile;
use crate::connectors::Target;
use crate::error::{Error, Result};

/// When a target's breaker opens and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Consecutive transient failures that open the breaker.
    pub failures: u32,
    /// The first cooldown (ms); each failed probe doubles it.
    pub cooldown: Millis,
    /// The longest cooldown (ms).
    pub max_cooldown: Millis,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        BreakerPolicy {
            failures: 5,
            cooldown: 60_000,
            max_cooldown: 30 * 60_000,
        }
    }
}

impl BreakerPolicy {
    /// The cooldown of the `trips`-th opening since the breaker was last closed.
    pub fn cooldown_for(&self, trips: u32) -> Millis {
        let exp = trips.saturating_sub(1).min(30);
        self.cooldown
            .saturating_mul(1i64 << exp)
            .min(self.max_cooldown.max(self.cooldown))
    }
}

/// `[breakers]` in the config: the default policy, per-target overrides (or `enabled
/// = false`), and when an open breaker reaches the inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Whether breakers are on at all (`[breakers] enabled`, default true).
    pub enabled: bool,
    pub default: BreakerPolicy,
    /// `None`: this target has no breaker (`enabled = false` in its table).
    pub targets: BTreeMap<Target, Option<BreakerPolicy>>,
    /// A breaker open (not closed since) this long raises an inbox notice (ms).
    pub notify_after: Millis,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        BreakerSettings {
            enabled: true,
            default: BreakerPolicy::default(),
            targets: BTreeMap::new(),
            notify_after: 15 * 60_000,
        }
    }
}

impl BreakerSettings {
    /// The policy of `target`, or `None` when it has no breaker.
    pub fn policy(&self, target: &Target) -> Option<BreakerPolicy> {
        if !self.enabled {
            return None;
        }
        match self.targets.get(target) {
            Some(p) => *p,
            None => Some(self.default),
        }
    }

    /// Read `[breakers]` (absent: the defaults).
    pub fn from_config(cfg: &ConfigFile) -> Result<BreakerSettings> {
        let mut s = BreakerSettings::default();
        let Some(v) = cfg.section("breakers") else {
            return Ok(s);
        };
        let origin = cfg.origin();
        let Some(t) = v.as_table() else {
            return Err(bad(
                &origin,
                "breakers",
                "must be a table",
                "write it as [breakers]",
            ));
        };
        // A key holding `:` with a table is a target's own table.
        let is_target = |k: &str, v: &toml::Value| k.contains(':') && v.is_table();
        let globals: toml::Table = t
            .iter()
            .filter(|(k, v)| !is_target(k, v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        known_keys(
            &origin,
            "breakers",
            &globals,
            GLOBAL_KEYS,
            "; a target's own table is [breakers.\"KIND:NAME\"], like [breakers.\"http:api.example.com\"]",
        )?;
        if let Some(d) = duration(&origin, "breakers", &globals, "notify_after")? {
            s.notify_after = d;
        }
        let (enabled, default) = policy(&origin, "breakers", &globals, BreakerPolicy::default())?;
        s.enabled = enabled;
        s.default = default;
        for (k, v) in t.iter().filter(|(k, v)| is_target(k, v)) {
            let prefix = format!("breakers.\"{k}\"");
            let target = Target::parse(k).map_err(|e| {
                bad(
                    &origin,
                    &prefix,
                    &format!("does not name a target: {e}"),
                    "name it KIND:NAME, like [breakers.\"http:api.example.com\"]",
                )
            })?;
            let tt = v.as_table().expect("filtered on tables");
            known_keys(&origin, &prefix, tt, TARGET_KEYS, "")?;
            let (on, p) = policy(&origin, &prefix, tt, s.default)?;
            s.targets.insert(target, on.then_some(p));
        }
        Ok(s)
    }
}

pub(crate) const GLOBAL_KEYS: &[&str] = &[
    "enabled",
    "failures",
    "cooldown",
    "max_cooldown",
    "notify_after",
];
pub(crate) const TARGET_KEYS: &[&str] = &["enabled", "failures", "cooldown", "max_cooldown"];

fn bad(origin: &str, key: &str, what: &str, hint: &str) -> Error {
    Error::invalid(format!("{origin}: `{key}` {what}")).with_hint(hint.to_string())
}

fn known_keys(
    origin: &str,
    prefix: &str,
    t: &toml::Table,
    allowed: &[&str],
    more: &str,
) -> Result<()> {
    for k in t.keys() {
        if !allowed.contains(&k.as_str()) {
            let hint = crate::workflow::suggest::did_you_mean(k, allowed.iter().copied())
                .unwrap_or_else(|| format!("valid keys: {}{more}", allowed.join(", ")));
            return Err(bad(
                origin,
                &format!("{prefix}.{k}"),
                "is not a known key",
                &hint,
            ));
        }
    }
    Ok(())
}

/// A duration key above zero, in ms.
fn duration(origin: &str, prefix: &str, t: &toml::Table, key: &str) -> Result<Option<Millis>> {
    let full = format!("{prefix}.{key}");
    match t.get(key) {
        None => Ok(None),
        Some(toml::Value::String(s)) => match crate::workflow::parse_duration(s) {
            Ok(d) if !d.is_zero() => Ok(Some(d.as_millis() as Millis)),
            _ => Err(bad(
                origin,
                &full,
                &format!("is `{s}`, not a duration above zero"),
                crate::workflow::duration::DURATION_HINT,
            )),
        },
        Some(_) => Err(bad(
            origin,
            &full,
            "must be a duration",
            &format!("quote it, like {key} = \"60s\""),
        )),
    }
}

/// `enabled`, `failures`, `cooldown` and `max_cooldown` of one table, over `base`.
fn policy(
    origin: &str,
    prefix: &str,
    t: &toml::Table,
    base: BreakerPolicy,
) -> Result<(bool, BreakerPolicy)> {
    let mut p = base;
    let enabled = match t.get("enabled") {
        None => true,
        Some(toml::Value::Boolean(b)) => *b,
        Some(_) => {
            return Err(bad(
                origin,
                &format!("{prefix}.enabled"),
                "must be true or false",
                "write enabled = false to turn the breaker off",
            ));
        }
    };
    if let Some(v) = t.get("failures") {
        p.failures = match v.as_integer() {
            Some(n) if (1..=1000).contains(&n) => n as u32,
            _ => {
                return Err(bad(
                    origin,
                    &format!("{prefix}.failures"),
                    "must be a whole number from 1 to 1000",
                    "like failures = 5",
                ));
            }
        };
    }
    if let Some(d) = duration(origin, prefix, t, "cooldown")? {
        p.cooldown = d;
    }
    let max = duration(origin, prefix, t, "max_cooldown")?;
    if let Some(d) = max {
        p.max_cooldown = d;
    }
    // A cooldown above the inherited cap (not written here) raises the cap.
    if max.is_none() {
        p.max_cooldown = p.max_cooldown.max(p.cooldown);
    }
    if p.max_cooldown < p.cooldown {
        let show =
            |ms: Millis| crate::clock::format_duration(std::time::Duration::from_millis(ms as u64));
        return Err(bad(
            origin,
            &format!("{prefix}.max_cooldown"),
            &format!(
                "({}) is shorter than the cooldown ({})",
                show(p.max_cooldown),
                show(p.cooldown)
            ),
            "make max_cooldown at least the cooldown",
        ));
    }
    Ok((enabled, p))
}

/// Where a breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls go through; `failures` counts consecutive transient failures.
    Closed,
    /// Calls wait until `until`.
    Open,
    /// A probe is out (until `until`); other calls wait for its verdict.
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }

    pub fn parse(s: &str) -> Option<BreakerState> {
        match s {
            "closed" => Some(BreakerState::Closed),
            "open" => Some(BreakerState::Open),
            "half_open" => Some(BreakerState::HalfOpen),
            _ => None,
        }
    }
}

/// One target's breaker, as projected from its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breaker {
    pub target: Target,
    pub state: BreakerState,
    /// Consecutive transient failures (reset when the target answers).
    pub failures: u32,
    /// Times it opened since it was last closed (the cooldown doubles with each).
    pub trips: u32,
    /// When it first opened in this episode (not closed since).
    pub opened_at: Option<Millis>,
    /// Open: when the cooldown ends. Half-open: when the probe is given up on.
    pub until: Option<Millis>,
    /// Half-open: who probes (`run 12, step fetch`).
    pub probe: Option<String>,
    pub last_error: Option<String>,
    pub updated_at: Millis,
}

impl Breaker {
    fn new(target: Target, at: Millis) -> Breaker {
        Breaker {
            target,
            state: BreakerState::Closed,
            failures: 0,
            trips: 0,
            opened_at: None,
            until: None,
            probe: None,
            last_error: None,
            updated_at: at,
        }
    }

    /// Whether calls to the target are held back (open or half-open).
    pub fn is_tripped(&self) -> bool {
        self.state != BreakerState::Closed
    }
}

/// A breaker's state change. Field names are part of the on-disk format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BreakerEvent {
    /// A transient failure, counted while the breaker stays closed.
    Failed { error: String, failures: u32 },
    /// The breaker opened (or opened again after a failed probe) until `until`.
    Opened {
        error: String,
        failures: u32,
        trips: u32,
        until: Millis,
    },
    /// The cooldown passed: one call goes through as a probe, given up on at `until`.
    Probing { by: String, until: Millis },
    /// The target answered: the breaker closed and its counts were reset.
    Closed { reason: String },
}

impl BreakerEvent {
    pub fn type_name(&self) -> &'static str {
        match self {
            BreakerEvent::Failed { .. } => "failed",
            BreakerEvent::Opened { .. } => "opened",
            BreakerEvent::Probing { .. } => "probing",
            BreakerEvent::Closed { .. } => "closed",
        }
    }
}

/// The projection: `b` (absent: a target never seen) after `ev` at `at`.
pub fn apply(b: Option<Breaker>, target: &Target, ev: &BreakerEvent, at: Millis) -> Breaker {
    let mut b = b.unwrap_or_else(|| Breaker::new(target.clone(), at));
    b.updated_at = at;
    match ev {
        BreakerEvent::Failed { error, failures } => {
            b.state = BreakerState::Closed;
            b.failures = *failures;
            b.last_error = Some(error.clone());
        }
        BreakerEvent::Opened {
            error,
            failures,
            trips,
            until,
        } => {
            if b.state == BreakerState::Closed || b.opened_at.is_none() {
                b.opened_at = Some(at);
            }
            b.state = BreakerState::Open;
            b.failures = *failures;
            b.trips = *trips;
            b.until = Some(*until);
            b.probe = None;
            b.last_error = Some(error.clone());
        }
        BreakerEvent::Probing { by, until } => {
            b.state = BreakerState::HalfOpen;
            b.probe = Some(by.clone());
            b.until = Some(*until);
        }
        BreakerEvent::Closed { .. } => {
            b.state = BreakerState::Closed;
            b.failures = 0;
            b.trips = 0;
            b.opened_at = None;
            b.until = None;
            b.probe = None;
        }
    }
    b
}

/// Whether a call to the target may go now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admit {
    /// Closed (or no breaker): go.
    Go,
    /// The cooldown passed: go as the probe (journal [`BreakerEvent::Probing`] first).
    Probe(BreakerEvent),
    /// Wait until `until` (the cooldown's end, or the probe's), for `reason`.
    Wait { until: Millis, reason: String },
}

/// Whether `by` may call the target of `b` at `now`.
pub fn admit(b: Option<&Breaker>, policy: &BreakerPolicy, now: Millis, by: &str) -> Admit {
    let Some(b) = b else { return Admit::Go };
    let until = b.until.unwrap_or(now);
    match b.state {
        BreakerState::Closed => Admit::Go,
        BreakerState::Open | BreakerState::HalfOpen if now < until => Admit::Wait {
            until,
            reason: wait_reason(b, until),
        },
        BreakerState::Open | BreakerState::HalfOpen => Admit::Probe(BreakerEvent::Probing {
            by: by.to_string(),
            // A probe that never reports (its process died) is given up on after
            // a cooldown; the next call probes then.
            until: now + policy.cooldown_for(b.trips.max(1)),
        }),
    }
}

fn wait_reason(b: &Breaker, until: Millis) -> String {
    let last = b
        .last_error
        .as_deref()
        .map(|e| format!("; last: {}", crate::connectors::truncate_line(e, 120)))
        .unwrap_or_default();
    match b.state {
        BreakerState::HalfOpen => format!(
            "circuit breaker {} is half-open: {} probes it (until {}){last}",
            b.target,
            b.probe.as_deref().unwrap_or("another call"),
            crate::clock::format_ms(until)
        ),
        _ => format!(
            "circuit breaker {} is open until {} after {}{last}",
            b.target,
            crate::clock::format_ms(until),
            crate::text::count(b.failures as usize, "consecutive failure")
        ),
    }
}

/// The event (if any) a transient failure of a call to the target makes.
pub fn on_failure(
    b: Option<&Breaker>,
    policy: &BreakerPolicy,
    now: Millis,
    error: &str,
) -> Option<BreakerEvent> {
    let error = crate::connectors::truncate_line(error, 300);
    let (state, failures, trips) =
        b.map(|b| (b.state, b.failures, b.trips))
            .unwrap_or((BreakerState::Closed, 0, 0));
    match state {
        BreakerState::Closed if failures + 1 >= policy.failures => Some(BreakerEvent::Opened {
            error,
            failures: failures + 1,
            trips: 1,
            until: now + policy.cooldown_for(1),
        }),
        BreakerState::Closed => Some(BreakerEvent::Failed {
            error,
            failures: failures + 1,
        }),
        // The probe failed: open again, for longer.
        BreakerState::HalfOpen => Some(BreakerEvent::Opened {
            error,
            failures: failures + 1,
            trips: trips + 1,
            until: now + policy.cooldown_for(trips + 1),
        }),
        // A call that left before the breaker opened: it is open already.
        BreakerState::Open => None,
    }
}

/// The event (if any) a call the target answered makes.
pub fn on_success(b: Option<&Breaker>) -> Option<BreakerEvent> {
    let b = b?;
    match b.state {
        BreakerState::Closed if b.failures == 0 => None,
        BreakerState::Closed => Some(BreakerEvent::Closed {
            reason: format!(
                "answered after {}",
                crate::text::count(b.failures as usize, "failure")
            ),
        }),
        BreakerState::HalfOpen => Some(BreakerEvent::Closed {
            reason: "the probe was answered".into(),
        }),
        BreakerState::Open => Some(BreakerEvent::Closed {
            reason: "a call was answered".into(),
        }),
    }
}

#[cfg(test)]
mod tests;
