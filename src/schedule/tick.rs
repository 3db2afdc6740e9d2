//! One tick: apply expired decision deadlines, fire every due instant of every
//! schedule (catch-up and overlap policies), poll the mail watches (a run per new
//! message, `crate::mail::poll`), then continue runs that can go on (a
//! crashed executor's, decisions taken with `--no-resume` or by a deadline, `wait`
//! steps whose end passed). Safe to run concurrently: each decision is one
//! immediate transaction keyed by (schedule, instant), and runs are driven under
//! their lease.

use std::path::PathBuf;

use super::missed::Missed;
use super::plan::{self, Decided};
use crate::clock::Millis;
use crate::engine::{self, Mode, NewRun, Observer, RunEnv};
use crate::error::{Error, ErrorKind, Result};
use crate::journal::{
    FireOutcome, FirePlan, FireState, FireStatus, Journal, NewFireRun, RunStatus, ScheduleEvent,
};
use crate::workflow::{self, CatchUp, Overlap};

/// Something a tick did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TickItem {
    /// A run was started for a scheduled instant and driven until it stopped.
    Fired {
        schedule: String,
        due_at: Millis,
        run: i64,
        status: Option<RunStatus>,
        queued: bool,
    },
    /// An instant was not run.
    Skipped {
        schedule: String,
        due_at: Millis,
        reason: String,
    },
    /// Instants older than the catch-up window (`window`) were skipped.
    SkippedOld {
        schedule: String,
        count: u64,
        window: Millis,
    },
    /// An instant waits for the previous run (`overlap = "queue"`).
    Queued { schedule: String, due_at: Millis },
    /// A previous run was cancelled (`overlap = "cancel_running"`).
    Cancelled { schedule: String, run: i64 },
    /// A run was continued.
    Continued { run: i64, status: RunStatus },
    /// A run was continued up to a step that needs worker tags (`runs_on`), and
    /// queued for the workers that have them.
    HandedOn {
        run: i64,
        step: String,
        tags: Vec<String>,
    },
    /// An inbox item's deadline passed: its `on_timeout` (`reject`, `approve`,
    /// `fail`) was applied as a decision.
    TimedOut {
        item: i64,
        run: i64,
        applied: String,
    },
    /// An inbox item's deadline passed (`on_timeout = "remind"`): it was surfaced
    /// again with a new deadline.
    Reminded {
        item: i64,
        run: i64,
        reminder: u32,
        next_due: Millis,
    },
    /// A message of a mail watch was taken (see [`crate::mail::MailItem`]).
    Mail(crate::mail::MailItem),
    /// A notice entered the inbox (missed fires, a failing schedule).
    Notice {
        item: i64,
        schedule: String,
        summary: String,
    },
    /// The daily backup was made (`[backup]`), and older daily copies removed.
    BackedUp {
        path: String,
        bytes: u64,
        removed: usize,
    },
    /// Something stopped with an error (the tick went on with everything else): a
    /// run being driven, a schedule being fired, or a deadline being applied.
    Error {
        run: Option<i64>,
        schedule: Option<String>,
        message: String,
        /// What to do about it: a command that runs as written.
        hint: Option<String>,
    },
}

impl TickItem {
    /// An error item from a core error, about a run or a schedule.
    pub fn error(run: Option<i64>, schedule: Option<&str>, e: &Error) -> TickItem {
        TickItem::Error {
            run,
            schedule: schedule.map(str::to_string),
            message: e.message.clone(),
            hint: e.hint.clone(),
        }
    }
}

/// Put what needs the operator's eye in the inbox: one notice per missed-fire
/// decision of this tick, and one per failing streak of a schedule (keyed by the
/// streak's last run, so it is raised once however many ticks see it).
fn raise_notices(journal: &mut Journal, now: Millis, report: &mut TickReport) -> Result<()> {
    for m in report.missed.clone() {
        let summary = m.summary();
        let mut data = m.data();
        data["decided_at"] = crate::clock::format_ms(now).into();
        let key = format!("missed:{}:{now}", m.schedule);
        if let Some(item) = journal.raise_notice(&m.schedule, "missed", &key, &summary, data)? {
            report.items.push(TickItem::Notice {
                item,
                schedule: m.schedule,
                summary,
            });
        }
    }
    for f in report.failed.clone() {
        let schedule = f.schedule;
        let summary = format!("schedule {schedule} could not fire: {}", f.message);
        let data = serde_json::json!({
            "error": f.message,
            "hint": f.hint,
            "due_at": f.due.map(crate::clock::format_ms),
        });
        // Once per instant that could not be decided, however many ticks retry it.
        let key = format!("error:{schedule}:{}", f.due.unwrap_or(now));
        if let Some(item) = journal.raise_notice(&schedule, "error", &key, &summary, data)? {
            report.items.push(TickItem::Notice {
                item,
                schedule,
                summary,
            });
        }
    }
    for s in journal.schedules()? {
        let fires = journal.fires(&s.spec.name, 20)?;
        let super::Health::Failing(n) = super::health(&s, &fires, now) else {
            continue;
        };
        let runs: Vec<i64> = fires
            .iter()
            .filter_map(|f| {
                f.run_id
                    .filter(|_| f.run_status.is_some_and(|st| st.is_terminal()))
            })
            .take(n)
            .collect();
        let Some(last) = runs.first() else { continue };
        let name = s.spec.name.clone();
        let summary = format!(
            "schedule {name} is failing: its last {} failed (runs {})",
            crate::text::count(n, "run"),
            runs.iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let key = format!("failing:{name}:{last}");
        let data = serde_json::json!({ "runs": runs });
        if let Some(item) = journal.raise_notice(&name, "failing", &key, &summary, data)? {
            report.items.push(TickItem::Notice {
                item,
                schedule: name,
                summary,
            });
        }
    }
    Ok(())
}

/// One notice per episode of a circuit breaker that stays open (not closed since
/// it first opened) for `notify_after` or longer, keyed by the target and when it
/// opened. The notice's "schedule" is the target.
fn breaker_notices(
    journal: &mut Journal,
    now: Millis,
    notify_after: Millis,
    report: &mut TickReport,
) -> Result<()> {
    let tripped: Vec<_> = journal
        .breakers()?
        .into_iter()
        .filter(|b| b.is_tripped() && b.opened_at.is_some_and(|t| now - t >= notify_after))
        .collect();
    if tripped.is_empty() {
        return Ok(());
    }
    let held = journal.held_steps()?;
    for b in tripped {
        let target = b.target.to_string();
        let opened = b.opened_at.unwrap_or(now);
        let waiting: Vec<_> = held.iter().filter(|h| h.target == target).collect();
        let summary = format!(
            "circuit breaker {target} has been open since {} ({}); {} wait for it",
            crate::clock::format_ms(opened),
            crate::text::count(b.trips as usize, "trip"),
            crate::text::count(waiting.len(), "step"),
        );
        let data = serde_json::json!({
            "target": target,
            "opened_at": crate::clock::format_ms(opened),
            "trips": b.trips,
            "until": b.until.map(crate::clock::format_ms),
            "last_error": b.last_error,
            "held": waiting.iter().map(|h| serde_json::json!({"run": h.run, "step": h.step})).collect::<Vec<_>>(),
            "hint": format!("aios breakers close {target}"),
        });
        let key = format!("breaker:{target}:{opened}");
        if let Some(item) = journal.raise_notice(&target, "breaker", &key, &summary, data)? {
            report.items.push(TickItem::Notice {
                item,
                schedule: target,
                summary,
            });
        }
    }
    Ok(())
}

/// Everything one tick did, plus missed-fire summaries per schedule.
#[derive(Debug, Clone, Default)]
pub struct TickReport {
    pub items: Vec<TickItem>,
    /// What became of the missed instants, for each schedule that had some.
    pub missed: Vec<Missed>,
    /// Schedules that could not fire.
    pub failed: Vec<FailedSchedule>,
}

/// A schedule a tick could not fire.
#[derive(Debug, Clone)]
pub struct FailedSchedule {
    pub schedule: String,
    /// The instant it was due (the notice is raised once per instant).
    pub due: Option<Millis>,
    pub message: String,
    pub hint: Option<String>,
}

impl TickReport {
    /// Whether something stopped with an error (the command exits 1).
    pub fn has_errors(&self) -> bool {
        self.items
            .iter()
            .any(|i| matches!(i, TickItem::Error { .. }))
    }
}

/// How long a run may stay `running` without a lease before a tick takes it over.
pub const STALE: Millis = 30_000;

/// Fire what is due at the journal's clock and continue what can go on. One
/// failing part never stops the others: a schedule that cannot fire, a deadline
/// that cannot be applied or a run that cannot be driven is reported as an
/// [`TickItem::Error`] (and a failing schedule as an inbox notice), and the tick
/// goes on with everything else.
pub fn tick(
    journal: &mut Journal,
    env: &RunEnv,
    observer: &mut dyn Observer,
) -> Result<TickReport> {
    let mut report = TickReport::default();
    let now = journal.now();
    let mut driven = Vec::new();
    // Deadlines first: a run whose item was just decided continues below.
    if let Err(e) = super::deadlines::apply(journal, now, &mut report.items) {
        report.items.push(TickItem::error(None, None, &e));
    }
    let due = journal.due_schedules(now).unwrap_or_else(|e| {
        report.items.push(TickItem::error(None, None, &e));
        Vec::new()
    });
    for name in due {
        let mut missed = None;
        let fired = fire_schedule(
            journal,
            &name,
            now,
            env,
            observer,
            &mut report,
            &mut driven,
            &mut missed,
        );
        if let Some(m) = missed.filter(|m| m.count > 0) {
            report.missed.push(m);
        }
        if let Err(e) = fired {
            report.items.push(TickItem::error(None, Some(&name), &e));
            let due = journal.schedule(&name).ok().and_then(|s| s.next_due);
            report.failed.push(FailedSchedule {
                schedule: name,
                due,
                message: e.message.clone(),
                hint: e.hint.clone(),
            });
        }
    }
    // Mail watches: one run per new message (see crate::mail::poll).
    crate::mail::poll::poll_all(journal, env, observer, &mut report, &mut driven);
    let to_continue = journal.runs_to_continue(now, STALE).unwrap_or_else(|e| {
        report.items.push(TickItem::error(None, None, &e));
        Vec::new()
    });
    for run in to_continue {
        if driven.contains(&run) {
            continue;
        }
        match engine::resume(journal, run, env, observer, Mode::Continue) {
            Ok(o) => report.items.push(match o.handoff {
                Some(h) => TickItem::HandedOn {
                    run,
                    step: h.step,
                    tags: h.tags,
                },
                None => TickItem::Continued {
                    run,
                    status: o.status,
                },
            }),
            // Another live process executes it, or it just finished: not ours.
            Err(e) if e.kind == ErrorKind::Conflict => {}
            Err(e) => report.items.push(TickItem::error(Some(run), None, &e)),
        }
    }
    if let Err(e) = raise_notices(journal, now, &mut report) {
        report.items.push(TickItem::error(None, None, &e));
    }
    if let Err(e) = breaker_notices(journal, now, env.breakers.notify_after, &mut report) {
        report.items.push(TickItem::error(None, None, &e));
    }
    Ok(report)
}

/// Decide (and drive) every due instant of one schedule; `missed` collects what
/// became of the missed ones, also when a later pass fails.
#[allow(clippy::too_many_arguments)]
fn fire_schedule(
    journal: &mut Journal,
    name: &str,
    now: Millis,
    env: &RunEnv,
    observer: &mut dyn Observer,
    report: &mut TickReport,
    driven: &mut Vec<i64>,
    missed: &mut Option<Missed>,
) -> Result<()> {
    // Each pass decides up to one run; loop until nothing is left to decide.
    for _ in 0..10_000 {
        let (record, source) = match journal.schedule_source(name) {
            Ok(x) => x,
            Err(e) if e.kind == ErrorKind::NotFound => break,
            Err(e) => return Err(e),
        };
        let cron = super::cron_of(&record)?;
        let wf = engine_snapshot(&source, &record.spec.path)?;
        let missed = missed.get_or_insert_with(|| {
            Missed::new(name, &record.spec.catch_up, record.spec.catch_up_window)
        });
        let hash = record.spec.source_hash.clone();
        let dir = PathBuf::from(&record.spec.dir);
        let path = record.spec.path.clone();
        let inputs = record.spec.inputs.clone();
        let mut items = Vec::new();
        let mut late_start = false;
        let mut from_queue = false;
        let outcome = journal.decide_fires(name, |st: &FireState| {
            if st.schedule.spec.source_hash != hash {
                // Re-added meanwhile: decide with the new snapshot next pass.
                return Ok(Some(FirePlan::default()));
            }
            let new_run = || NewFireRun {
                source: source.clone(),
                created: engine::created_event(NewRun {
                    uid: None,
                    dry: None,
                    workflow: &wf,
                    source: &source,
                    path: Some(&path),
                    dir: &dir,
                    inputs: inputs.clone(),
                }),
            };
            let plan = plan_fires(st, &cron, now, &mut items, missed, &mut late_start, new_run);
            from_queue = plan
                .as_ref()
                .and_then(|p| p.start.as_ref())
                .is_some_and(|s| s.2);
            Ok(plan)
        })?;
        report.items.append(&mut items);
        match outcome {
            FireOutcome::Nothing => break,
            FireOutcome::Decided { started: None } => {}
            FireOutcome::Decided {
                started: Some((run, due_at)),
            } => {
                driven.push(run);
                if late_start {
                    missed.ran.push((due_at, run));
                }
                let status = match engine::resume(journal, run, env, observer, Mode::Continue) {
                    Ok(o) => Some(o.status),
                    Err(e) => {
                        report.items.push(TickItem::error(Some(run), None, &e));
                        None
                    }
                };
                report.items.push(TickItem::Fired {
                    schedule: name.to_string(),
                    due_at,
                    run,
                    status,
                    queued: from_queue,
                });
            }
        }
    }
    Ok(())
}

fn engine_snapshot(source: &str, origin: &str) -> Result<workflow::Workflow> {
    workflow::load(source, origin).map_err(|d| {
        let first = d.first().map(|d| d.message.clone()).unwrap_or_default();
        Error::storage(format!(
            "the workflow stored with schedule {origin} no longer loads ({}: {first})",
            d.count()
        ))
        .with_hint(super::readd_hint(origin))
    })
}

/// The decision of one pass, from what the transaction read. Pure.
fn plan_fires(
    st: &FireState,
    cron: &super::cron::CronSpec,
    now: Millis,
    items: &mut Vec<TickItem>,
    missed: &mut Missed,
    late_start: &mut bool,
    new_run: impl Fn() -> NewFireRun,
) -> Option<FirePlan> {
    let s = &st.schedule;
    let name = s.spec.name.clone();
    let overlap = Overlap::parse(&s.spec.overlap).unwrap_or(Overlap::Skip);
    // A queued instant goes first once the schedule is idle.
    if let Some(q) = st.queued
        && st.active.is_empty()
    {
        return Some(FirePlan {
            start: Some((q, new_run(), true)),
            ..FirePlan::default()
        });
    }
    let due = s.next_due.is_some_and(|d| d <= now);
    if !due {
        return None;
    }
    let catch_up = CatchUp::parse(&s.spec.catch_up).unwrap_or(CatchUp::Latest);
    let d: Decided = plan::decide(cron, s.cursor, now, catch_up, s.spec.catch_up_window);
    let mut p = FirePlan::default();
    missed.count += d.missed;
    if let Some((count, first, last)) = d.old {
        missed.old += count;
        p.events.push(ScheduleEvent::SkippedOld {
            count,
            first,
            last,
            window: Some(s.spec.catch_up_window),
        });
        items.push(TickItem::SkippedOld {
            schedule: name.clone(),
            count,
            window: s.spec.catch_up_window,
        });
    }
    missed.caught_up_skips += d.skips.len() as u64;
    for (t, why) in &d.skips {
        p.events.push(skipped(*t, why));
        items.push(TickItem::Skipped {
            schedule: name.clone(),
            due_at: *t,
            reason: why.clone(),
        });
    }
    if let Some(t) = d.run {
        let late = now - t > plan::GRACE;
        let busy = !st.active.is_empty() || st.queued.is_some();
        let going = st.active.first().copied();
        match (busy, overlap) {
            (false, _) | (true, Overlap::Allow) => {
                p.start = Some((t, new_run(), false));
                *late_start = late;
            }
            (true, Overlap::Skip) => {
                let why = match going {
                    Some(r) => {
                        format!("run {r} of this schedule is still going (overlap = \"skip\")")
                    }
                    None => "an earlier fire of this schedule is still queued (overlap = \"skip\")"
                        .to_string(),
                };
                if late {
                    missed.overlapped.push((t, going));
                }
                p.events.push(skipped(t, &why));
                items.push(TickItem::Skipped {
                    schedule: name.clone(),
                    due_at: t,
                    reason: why,
                });
            }
            (true, Overlap::Queue) => {
                if late {
                    missed.queued.push((t, going));
                }
                p.events.push(ScheduleEvent::Fired {
                    due_at: t,
                    status: FireStatus::Queued,
                    reason: Some("the previous run is still going (overlap = \"queue\")".into()),
                    run_id: None,
                });
                items.push(TickItem::Queued {
                    schedule: name.clone(),
                    due_at: t,
                });
            }
            (true, Overlap::CancelRunning) => {
                *late_start = late;
                for &r in &st.active {
                    if late {
                        missed.cancelled.push(r);
                    }
                    p.cancel.push((
                        r,
                        format!(
                            "superseded by the fire of {} (overlap = \"cancel_running\")",
                            crate::clock::format_ms(t)
                        ),
                    ));
                    items.push(TickItem::Cancelled {
                        schedule: name.clone(),
                        run: r,
                    });
                }
                p.start = Some((t, new_run(), false));
            }
        }
    }
    p.events.push(ScheduleEvent::Advanced {
        cursor: d.cursor,
        next_due: cron.next_after(d.cursor),
    });
    Some(p)
}

fn skipped(t: Millis, why: &str) -> ScheduleEvent {
    ScheduleEvent::Fired {
        due_at: t,
        status: FireStatus::Skipped,
        reason: Some(why.to_string()),
        run_id: None,
    }
}
