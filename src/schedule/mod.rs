//! Schedules: cron triggers that never lose a run.
//!
//! - [`cron`]: expressions and time zones (croner + jiff), DST-correct
//! - [`plan`]: the pure decision of which scheduled instants run (catch-up, window)
//! - [`missed`]: what became of missed instants, told exactly (tick line, notice)
//! - [`tick`]: one pass: fire what is due (overlap policies), continue runs that can go on
//! - [`deadlines`]: decision deadlines of inbox items (`on_timeout`), applied by a tick
//!
//! A schedule is registered from a workflow's `[trigger]` with a snapshot of the
//! workflow (its source and hash, like a run's); fired runs use that snapshot, never
//! the file as it is now. Every decided instant is journaled (`fires`), keyed by
//! schedule and instant, in the same transaction as the run it starts.

pub mod cron;
pub mod deadlines;
pub mod hooks;
pub mod missed;
pub mod plan;
pub mod serve;
pub mod signatures;
pub mod tick;

use std::path::Path;

use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::journal::{FireRecord, FireStatus, Journal, RunStatus, ScheduleRecord, ScheduleSpec};
use crate::workflow::{self, Workflow};

pub use tick::{TickItem, TickReport, tick};

/// A schedule whose last this many started runs failed is unhealthy.
pub const FAILING_AFTER: usize = 3;

/// Register (or update) the schedule of a validated workflow. `path` is the file's
/// absolute path; `default_zone` the machine's zone, used when the trigger names none.
/// Returns the registered spec and whether an existing schedule was replaced.
pub fn add(
    journal: &mut Journal,
    path: &Path,
    source: &str,
    wf: &Workflow,
    default_zone: &str,
) -> Result<(ScheduleRecord, bool)> {
    let Some(trigger) = &wf.trigger else {
        return Err(
            Error::invalid(format!("workflow `{}` has no [trigger] table", wf.name)).with_hint(
                "add a [trigger] table with a `cron` expression, like cron = \"0 9 * * MON\"",
            ),
        );
    };
    let Some(cron_expr) = &trigger.cron else {
        return Err(Error::invalid(format!(
            "workflow `{}` has an imap trigger, not a cron one",
            wf.name
        ))
        .with_hint("register it with: aios schedule add FILE"));
    };
    let inputs = workflow::resolve_json_inputs(wf, &trigger.inputs).map_err(|diags| {
        let first = diags.first().map(|d| d.message.clone()).unwrap_or_default();
        let mut e = Error::invalid(format!(
            "[trigger] inputs do not fit `{}`: {first}",
            wf.name
        ));
        if let Some(h) = diags.first().and_then(|d| d.hint.clone()) {
            e = e.with_hint(h);
        }
        e
    })?;
    let zone = trigger
        .timezone
        .clone()
        .unwrap_or_else(|| default_zone.to_string());
    let spec_cron = cron::CronSpec::new(cron_expr, &zone).map_err(Error::invalid)?;
    let dir = path.parent().unwrap_or(Path::new("/"));
    let spec = ScheduleSpec {
        name: wf.name.clone(),
        path: path.display().to_string(),
        dir: dir.display().to_string(),
        source_hash: crate::journal::source_hash(source),
        cron: cron_expr.clone(),
        timezone: zone,
        overlap: trigger.overlap.as_str().to_string(),
        catch_up: trigger.catch_up.as_str().to_string(),
        catch_up_window: trigger.catch_up_window.as_millis() as Millis,
        inputs,
    };
    let name = spec.name.clone();
    let replaced = journal.add_schedule(spec, source, |c| spec_cron.next_after(c))?;
    Ok((journal.schedule(&name)?, replaced))
}

/// The cron of a stored schedule.
pub fn cron_of(s: &ScheduleRecord) -> Result<cron::CronSpec> {
    cron::CronSpec::new(&s.spec.cron, &s.spec.timezone).map_err(|e| {
        Error::storage(format!("schedule `{}` no longer loads: {e}", s.spec.name))
            .with_hint(readd_hint(&s.spec.path))
    })
}

/// The hint for a stored schedule that no longer loads: add its file again (the
/// command names the file it was added from).
pub fn readd_hint(path: &str) -> String {
    format!(
        "fix the file if needed, then take a new snapshot with: aios schedule add {}",
        crate::connectors::shell::quote(path)
    )
}

/// Pause or resume a schedule; false when it already was.
pub fn set_paused(journal: &mut Journal, name: &str, paused: bool) -> Result<bool> {
    let s = journal.schedule(name)?;
    let c = cron_of(&s)?;
    journal.set_schedule_paused(name, paused, |at| c.next_after(at))
}

/// Whether a schedule needs attention, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Ok,
    Paused,
    /// The last [`FAILING_AFTER`] runs failed.
    Failing(usize),
    /// An instant is overdue: nothing has ticked since it was due.
    Late(Millis),
}

impl Health {
    pub fn word(&self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Paused => "paused",
            Health::Failing(_) => "failing",
            Health::Late(_) => "late",
        }
    }

    pub fn detail(&self, now: Millis) -> Option<String> {
        match self {
            Health::Failing(n) => {
                Some(format!("the last {} failed", crate::text::count(*n, "run")))
            }
            Health::Late(due) => Some(format!(
                "due {} ago and not fired: is `aios tick` running (cron, systemd timer or `aios daemon`)?",
                crate::clock::age(now, *due)
            )),
            _ => None,
        }
    }
}

/// Judge a schedule from its latest fires (newest first).
pub fn health(s: &ScheduleRecord, fires: &[FireRecord], now: Millis) -> Health {
    if s.paused {
        return Health::Paused;
    }
    if let Some(due) = s.next_due
        && now - due > plan::GRACE
    {
        return Health::Late(due);
    }
    let finished: Vec<RunStatus> = fires
        .iter()
        .filter(|f| f.status == FireStatus::Started)
        .filter_map(|f| f.run_status)
        .filter(|st| st.is_terminal())
        .take(FAILING_AFTER)
        .collect();
    if finished.len() == FAILING_AFTER && finished.iter().all(|s| *s == RunStatus::Failed) {
        return Health::Failing(FAILING_AFTER);
    }
    Health::Ok
}

/// Put a notice in the inbox for each schedule that is late (an instant more than
/// the grace period overdue: nothing is ticking). Called where the operator looks
/// (`aios inbox`, `aios inbox list`, `aios schedule list`), since a missing tick
/// cannot report itself. Raised once per overdue instant. Returns the new notices.
pub fn flag_late(journal: &mut Journal) -> Result<Vec<i64>> {
    if journal.is_read_only() {
        // Opened read-only (a data folder this user may not write): nothing is
        // raised; `aios schedule list` still shows the schedule as late.
        return Ok(Vec::new());
    }
    let now = journal.now();
    let mut raised = Vec::new();
    for s in journal.schedules()? {
        if s.paused {
            continue;
        }
        let Health::Late(due) = health(&s, &[], now) else {
            continue;
        };
        let name = s.spec.name.clone();
        let summary = format!(
            "schedule {name} has not fired since {}: is `aios tick` running (cron, systemd timer or `aios daemon`)?",
            crate::clock::format_ms(due)
        );
        let key = format!("late:{name}:{due}");
        let data = serde_json::json!({ "due_at": crate::clock::format_ms(due) });
        if let Some(id) = journal.raise_notice(&name, "late", &key, &summary, data)? {
            raised.push(id);
        }
    }
    Ok(raised)
}
