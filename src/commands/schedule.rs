//! `aios schedule add|list|pause|resume|remove`, `aios tick` and `aios daemon`.

use anyhow::Context as _;
use serde_json::{Value as Json, json};

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::cli::{DaemonArgs, ScheduleArgs, ScheduleCommand, TickArgs};
use crate::clock::format_ms;
use crate::engine::Quiet;
use crate::error::Error;
use crate::journal::{FireRecord, Journal};
use crate::schedule::{self, TickItem, TickReport};

pub fn schedule(ctx: &Ctx, args: ScheduleArgs) -> CmdResult {
    match args.command {
        ScheduleCommand::Add(a) => add(ctx, &a.file),
        ScheduleCommand::List(a) => list(ctx, a.json),
        ScheduleCommand::Pause(a) => pause(ctx, &a.name, true),
        ScheduleCommand::Resume(a) => pause(ctx, &a.name, false),
        ScheduleCommand::Install(a) => super::install::install(ctx, a.write),
        ScheduleCommand::Remove(a) => {
            let mut journal = ctx.journal()?;
            if journal.has_mail_watch(&a.name)? {
                journal.remove_mail_watch(&a.name)?;
            } else {
                journal.remove_schedule(&a.name)?;
            }
            ui::println(&format!("schedule {} removed", a.name));
            Ok(Exit::Ok)
        }
    }
}

/// The machine's time zone (IANA name), the default of a `[trigger]`.
fn machine_zone() -> String {
    jiff::tz::TimeZone::try_system()
        .ok()
        .and_then(|z| z.iana_name().map(str::to_string))
        .unwrap_or_else(|| "UTC".into())
}

fn add(ctx: &Ctx, file: &std::path::Path) -> CmdResult {
    let (source, wf) = super::run::load_workflow(ctx, file)?;
    super::check::tool_steps(ctx, file, &source, &wf, None, crate::mcp::Lookup::Cache)?;
    let abs =
        std::path::absolute(file).with_context(|| format!("cannot resolve {}", file.display()))?;
    let mut journal = ctx.journal()?;
    if wf.trigger.as_ref().is_some_and(|t| t.imap.is_some()) {
        return add_mail(ctx, &mut journal, &abs, &source, &wf);
    }
    if journal.has_mail_watch(&wf.name)? {
        return Err(crate::journal::conflicting_kind(&wf.name, "a mail schedule").into());
    }
    let (s, replaced) = schedule::add(&mut journal, &abs, &source, &wf, &machine_zone())?;
    let cron = schedule::cron_of(&s)?;
    let next = s
        .next_due
        .map(|t| cron.local(t))
        .unwrap_or_else(|| "never".into());
    ui::println(&format!(
        "schedule {} {} ({} {}); next fire {next}",
        s.spec.name,
        if replaced { "updated" } else { "added" },
        s.spec.cron,
        s.spec.timezone,
    ));
    if replaced {
        ui::println("the new snapshot is used from the next fire on");
    }
    Ok(Exit::Ok)
}

/// `schedule add` of a workflow whose trigger is `imap`.
fn add_mail(
    ctx: &Ctx,
    journal: &mut Journal,
    abs: &std::path::Path,
    source: &str,
    wf: &crate::workflow::Workflow,
) -> CmdResult {
    let settings = ctx.mail_settings()?;
    let (w, replaced) = crate::mail::add(journal, abs, source, wf, &settings, &ctx.secrets()?)?;
    ui::println(&format!(
        "schedule {} {} ({}, search {}, then {}); `aios tick` starts a run per new message",
        w.spec.name,
        if replaced { "updated" } else { "added" },
        crate::mail::describe_watch(&w),
        w.spec.search,
        crate::mail::describe_after(&w),
    ));
    if replaced {
        ui::println("the new snapshot is used from the next message on");
    }
    Ok(Exit::Ok)
}

fn pause(ctx: &Ctx, name: &str, paused: bool) -> CmdResult {
    let mut journal = ctx.journal()?;
    let changed = if journal.has_mail_watch(name)? {
        journal.set_mail_watch_paused(name, paused)?
    } else {
        schedule::set_paused(&mut journal, name, paused)?
    };
    let word = if paused { "paused" } else { "resumed" };
    if changed {
        ui::println(&format!("schedule {name} {word}"));
    } else {
        ui::println(&format!("schedule {name} was already {word}"));
    }
    Ok(Exit::Ok)
}

fn fire_json(f: &FireRecord) -> Json {
    json!({
        "due_at": format_ms(f.due_at),
        "status": f.status.as_str(),
        "reason": f.reason,
        "run_id": f.run_id,
        "run_status": f.run_status.map(|s| s.as_str()),
        "instants": f.instants,
        "first_due_at": format_ms(f.first_due_at),
    })
}

/// "succeeded (run 4)", "skipped: …", "queued".
fn fire_result(f: &FireRecord) -> String {
    match (f.run_id, f.run_status) {
        (Some(r), Some(st)) => format!("{st} (run {r})"),
        _ => f.status.as_str().to_string(),
    }
}

fn list(ctx: &Ctx, as_json: bool) -> CmdResult {
    let mut journal = ctx.reader_or_writer()?;
    schedule::flag_late(&mut journal)?;
    let now = journal.now();
    let mut rows = Vec::new();
    for s in journal.schedules()? {
        let fires = journal.fires(&s.spec.name, 20)?;
        let health = schedule::health(&s, &fires, now);
        let cron = schedule::cron_of(&s)?;
        rows.push((s, fires, health, cron));
    }
    let mut mail = Vec::new();
    for w in journal.mail_watches()? {
        let messages = journal.mail_messages(&w.spec.name, 20)?;
        let health = crate::mail::health(&w, &messages);
        mail.push((w, messages, health));
    }
    if as_json {
        let mut arr: Vec<(String, Json)> = rows
            .iter()
            .map(|(s, fires, health, _)| {
                let j = json!({
                    "name": s.spec.name,
                    "path": s.spec.path,
                    "trigger": "cron",
                    "cron": s.spec.cron,
                    "timezone": s.spec.timezone,
                    "overlap": s.spec.overlap,
                    "catch_up": s.spec.catch_up,
                    "paused": s.paused,
                    "next_fire": if s.paused { None } else { s.next_due.map(format_ms) },
                    "last_fire": fires.first().map(fire_json),
                    "recent_fires": fires.iter().take(10).map(fire_json).collect::<Vec<_>>(),
                    "health": health.word(),
                    "health_detail": health.detail(now),
                });
                (s.spec.name.clone(), j)
            })
            .collect();
        for (w, messages, health) in &mail {
            arr.push((w.spec.name.clone(), mail_json(w, messages, health)));
        }
        arr.sort_by(|a, b| a.0.cmp(&b.0));
        ui::print_json(&Json::Array(arr.into_iter().map(|(_, j)| j).collect()));
        return Ok(Exit::Ok);
    }
    if rows.is_empty() && mail.is_empty() {
        ui::println("no schedules; register one with: aios schedule add FILE");
        return Ok(Exit::Ok);
    }
    let st = ctx.ui.out();
    let w = rows
        .iter()
        .map(|r| r.0.spec.name.len())
        .chain(mail.iter().map(|m| m.0.spec.name.len()))
        .max()
        .unwrap_or(8)
        .max(8);
    let mut out = st.bold(&format!(
        "{:<w$}  {:<16}  {:<22}  {:<22}  {:<22}  {}",
        "NAME", "CRON", "NEXT", "LAST", "RESULT", "HEALTH"
    ));
    out.push('\n');
    // (name, its line, its notes), sorted by name whatever the kind.
    let mut lines: Vec<(String, String, String)> = Vec::new();
    for (s, fires, health, cron) in &rows {
        let mut notes = String::new();
        let next = match (s.paused, s.next_due) {
            (true, _) => "-".to_string(),
            (false, Some(t)) => cron.local(t),
            (false, None) => "never".to_string(),
        };
        let (last, result) = match fires.first() {
            Some(f) => (cron.local(f.due_at), fire_result(f)),
            None => ("-".to_string(), "-".to_string()),
        };
        let h = match health {
            schedule::Health::Ok => st.green("ok"),
            schedule::Health::Paused => st.dim("paused"),
            other => st.red_bold(other.word()),
        };
        let line = format!(
            "{:<w$}  {:<16}  {:<22}  {:<22}  {:<22}  {h}\n",
            s.spec.name, s.spec.cron, next, last, result
        );
        if let Some(d) = health.detail(now) {
            notes.push_str(&format!("{}: {d}\n", s.spec.name));
        }
        if let Some(f) = fires.first()
            && let Some(r) = &f.reason
        {
            notes.push_str(&format!("{}: last fire {}: {r}\n", s.spec.name, f.status));
        }
        lines.push((s.spec.name.clone(), line, notes));
    }
    for (m, messages, health) in &mail {
        let next = if m.paused { "-" } else { "every tick" };
        let (last, result) = match messages.first() {
            Some(r) => (format_ms(r.received_at), mail_result(r)),
            None => ("-".to_string(), "-".to_string()),
        };
        let h = match health {
            crate::mail::Health::Ok => st.green("ok"),
            crate::mail::Health::Paused => st.dim("paused"),
            other => st.red_bold(other.word()),
        };
        let line = format!(
            "{:<w$}  {:<16}  {:<22}  {:<22}  {:<22}  {h}\n",
            m.spec.name,
            crate::mail::describe_watch(m),
            next,
            last,
            result
        );
        let notes = match health.detail() {
            Some(d) => format!("{}: {d}\n", m.spec.name),
            None => String::new(),
        };
        lines.push((m.spec.name.clone(), line, notes));
    }
    lines.sort_by(|a, b| a.0.cmp(&b.0));
    let mut notes = String::new();
    for (_, line, n) in lines {
        out.push_str(&line);
        notes.push_str(&n);
    }
    out.push_str(&notes);
    ui::print(&out);
    Ok(Exit::Ok)
}

/// After a tick: the daily backup (`[backup]`), then the tick's heartbeat (what
/// `aios status` reads). Their failures are items of the report, like others.
fn routine(ctx: &Ctx, journal: &mut Journal, report: &mut TickReport, who: &str) {
    let by = format!("{who} {}", ctx.owner.as_string());
    let daily = ctx
        .backup_settings()
        .and_then(|s| crate::health::backup::daily(journal, &s, &by));
    match daily {
        Ok(Some(made)) => report.items.push(TickItem::BackedUp {
            path: made.path.display().to_string(),
            bytes: made.bytes,
            removed: made.removed.len(),
        }),
        Ok(None) => {}
        Err(e) => report.items.push(TickItem::error(None, None, &e)),
    }
    let detail = json!({ "items": report.items.len(), "errors": report.has_errors() });
    if let Err(e) = journal.beat("tick", &by, &detail) {
        report.items.push(TickItem::error(None, None, &e));
    }
}

/// "succeeded (run 4)", "malformed (inbox 7)", "duplicate of run 2".
fn mail_result(r: &crate::journal::MailRecord) -> String {
    use crate::journal::MailStatus;
    match (r.status, r.run_id, r.run_status) {
        (MailStatus::Started, Some(run), Some(st)) => format!("{st} (run {run})"),
        (MailStatus::Malformed, _, _) => match r.notice_id {
            Some(n) => format!("malformed (inbox {n})"),
            None => "malformed".to_string(),
        },
        (MailStatus::Duplicate, Some(run), _) => format!("duplicate of run {run}"),
        (status, _, _) => status.as_str().to_string(),
    }
}

fn mail_message_json(r: &crate::journal::MailRecord) -> Json {
    json!({
        "account": r.place.account,
        "folder": r.place.folder,
        "uidvalidity": r.place.uidvalidity,
        "uid": r.place.uid,
        "message_id": r.message_id,
        "status": r.status.as_str(),
        "run_id": r.run_id,
        "run_status": r.run_status.map(|s| s.as_str()),
        "notice_id": r.notice_id,
        "received_at": format_ms(r.received_at),
        "flagged_at": r.flagged_at.map(format_ms),
    })
}

fn mail_json(
    w: &crate::journal::MailWatchRecord,
    messages: &[crate::journal::MailRecord],
    health: &crate::mail::Health,
) -> Json {
    json!({
        "name": w.spec.name,
        "path": w.spec.path,
        "trigger": "imap",
        "imap": {
            "account": w.spec.account,
            "folder": w.spec.folder,
            "search": w.spec.search,
            "after": w.spec.after,
            "move_to": w.spec.move_to,
            "max_per_tick": w.spec.max_per_tick,
            "uidvalidity": w.uidvalidity,
        },
        "cron": null,
        "timezone": null,
        "paused": w.paused,
        "next_fire": null,
        "last_message": messages.first().map(mail_message_json),
        "recent_messages": messages.iter().take(10).map(mail_message_json).collect::<Vec<_>>(),
        "health": health.word(),
        "health_detail": health.detail(),
    })
}

pub fn tick(ctx: &Ctx, args: TickArgs) -> CmdResult {
    let mut journal = ctx.journal()?;
    let mut report = schedule::tick(&mut journal, &ctx.run_env()?, &mut Quiet)?;
    super::secret::sweep(ctx, &journal)?;
    routine(ctx, &mut journal, &mut report, "aios tick");
    // After the runs: a slow or failing channel never holds one up.
    let notes = super::notify::pass(ctx, &mut journal);
    let code = print_report(
        ctx,
        &journal,
        &report,
        notes.as_ref().ok(),
        args.json,
        args.quiet,
    )?;
    match notes {
        Ok(_) => Ok(code),
        Err(e) => {
            ctx.ui.print_error(&anyhow::Error::from(e));
            Ok(Exit::Failed)
        }
    }
}

fn item_json(i: &TickItem) -> Json {
    match i {
        TickItem::Fired {
            schedule,
            due_at,
            run,
            status,
            queued,
        } => {
            json!({"type": "fired", "schedule": schedule, "due_at": format_ms(*due_at), "run_id": run, "status": status.map(|s| s.as_str()), "from_queue": queued})
        }
        TickItem::Skipped {
            schedule,
            due_at,
            reason,
        } => {
            json!({"type": "skipped", "schedule": schedule, "due_at": format_ms(*due_at), "reason": reason})
        }
        TickItem::SkippedOld {
            schedule, count, ..
        } => {
            json!({"type": "skipped_old", "schedule": schedule, "count": count})
        }
        TickItem::Queued { schedule, due_at } => {
            json!({"type": "queued", "schedule": schedule, "due_at": format_ms(*due_at)})
        }
        TickItem::Cancelled { schedule, run } => {
            json!({"type": "cancelled", "schedule": schedule, "run_id": run})
        }
        TickItem::Continued { run, status } => {
            json!({"type": "continued", "run_id": run, "status": status.as_str()})
        }
        TickItem::HandedOn { run, step, tags } => {
            json!({"type": "handed_off", "run_id": run, "step": step, "tags": tags})
        }
        TickItem::TimedOut { item, run, applied } => {
            json!({"type": "timed_out", "item": item, "run_id": run, "applied": applied})
        }
        TickItem::Reminded {
            item,
            run,
            reminder,
            next_due,
        } => json!({
            "type": "reminded", "item": item, "run_id": run, "reminder": reminder,
            "next_deadline": format_ms(*next_due),
        }),
        TickItem::Notice {
            item,
            schedule,
            summary,
        } => json!({"type": "notice", "item": item, "schedule": schedule, "summary": summary}),
        TickItem::BackedUp {
            path,
            bytes,
            removed,
        } => json!({"type": "backup", "path": path, "bytes": bytes, "removed": removed}),
        TickItem::Mail(crate::mail::MailItem::Started {
            schedule,
            folder,
            uid,
            subject,
            run,
            status,
        }) => json!({
            "type": "mail", "schedule": schedule, "folder": folder, "uid": uid,
            "subject": subject, "run_id": run, "status": status.map(|s| s.as_str()),
        }),
        TickItem::Mail(crate::mail::MailItem::Duplicate {
            schedule,
            folder,
            uid,
            run,
        }) => json!({
            "type": "mail_duplicate", "schedule": schedule, "folder": folder, "uid": uid,
            "run_id": run,
        }),
        TickItem::Error {
            run,
            schedule,
            message,
            hint,
        } => {
            json!({"type": "error", "run_id": run, "schedule": schedule, "message": message, "hint": hint})
        }
    }
}

fn print_report(
    ctx: &Ctx,
    journal: &Journal,
    report: &TickReport,
    notes: Option<&crate::notify::PassReport>,
    as_json: bool,
    quiet: bool,
) -> CmdResult {
    let empty = crate::notify::PassReport::default();
    let sent = notes.unwrap_or(&empty);
    let code = if report.has_errors() {
        Exit::Failed
    } else {
        Exit::Ok
    };
    if as_json {
        let items: Vec<Json> = report.items.iter().map(item_json).collect();
        ui::print_json(&json!({
            "items": items,
            "missed": report.missed.iter().map(|m| {
                let mut j = m.data();
                j["schedule"] = m.schedule.clone().into();
                j["summary"] = m.summary().into();
                j
            }).collect::<Vec<_>>(),
            "notifications": super::notify::report_json(sent),
        }));
        return Ok(code);
    }
    let st = ctx.ui.out();
    let mut out = String::new();
    for i in &report.items {
        let line = match i {
            TickItem::Fired {
                schedule,
                due_at,
                run,
                status,
                queued,
            } => format!(
                "fired {schedule} ({}{}): run {run} {}",
                format_ms(*due_at),
                if *queued { ", was queued" } else { "" },
                status
                    .map(|s| st.run_status(s))
                    .unwrap_or_else(|| "stopped".into())
            ),
            TickItem::Skipped {
                schedule,
                due_at,
                reason,
            } => format!("skipped {schedule} ({}): {reason}", format_ms(*due_at)),
            TickItem::SkippedOld {
                schedule,
                count,
                window,
            } => format!(
                "skipped {schedule}: {} older than its catch_up_window ({})",
                crate::text::count(*count, "instant"),
                crate::clock::format_duration(std::time::Duration::from_millis(
                    (*window).max(0) as u64
                ))
            ),
            TickItem::Queued { schedule, due_at } => format!(
                "queued {schedule} ({}): the previous run is still going",
                format_ms(*due_at)
            ),
            TickItem::Cancelled { schedule, run } => {
                format!("cancelled run {run} of {schedule} (overlap = \"cancel_running\")")
            }
            TickItem::Continued { run, status } => {
                format!("continued run {run}: {}", st.run_status(*status))
            }
            TickItem::HandedOn { run, step, tags } => format!(
                "continued run {run}: step {step} needs a worker tagged {}; queued (see `aios workers`)",
                tags.join(", ")
            ),
            TickItem::TimedOut { item, run, applied }
                if applied.starts_with(crate::trust::POLICY_PREFIX) =>
            {
                format!(
                    "inbox {item} (run {run}): not vetoed in its quiet period; approved by {applied}"
                )
            }
            TickItem::TimedOut { item, run, applied } => format!(
                "inbox {item} (run {run}): no decision by its deadline; applied on_timeout = \"{applied}\""
            ),
            TickItem::Reminded {
                item,
                run,
                reminder,
                next_due,
            } => format!(
                "inbox {item} (run {run}): no decision by its deadline; reminder {reminder}, next deadline {}",
                format_ms(*next_due)
            ),
            TickItem::Notice { item, summary, .. } => format!("{summary} (inbox {item})"),
            TickItem::BackedUp {
                path,
                bytes,
                removed,
            } => format!(
                "backed up the database to {path} ({}){}",
                crate::text::count(*bytes, "byte"),
                if *removed > 0 {
                    format!(
                        "; removed {}",
                        crate::text::count(*removed, "older daily copy")
                    )
                } else {
                    String::new()
                }
            ),
            TickItem::Mail(crate::mail::MailItem::Started {
                schedule,
                folder,
                uid,
                subject,
                run,
                status,
            }) => format!(
                "mail {schedule} ({folder} uid {uid}, {}): run {run} {}",
                crate::mail::quoted_subject(subject),
                status
                    .map(|s| st.run_status(s))
                    .unwrap_or_else(|| "stopped".into())
            ),
            TickItem::Mail(crate::mail::MailItem::Duplicate {
                schedule,
                folder,
                uid,
                run,
            }) => format!(
                "mail {schedule} ({folder} uid {uid}): already taken{} before the folder's UIDVALIDITY changed; no new run",
                run.map(|r| format!(" by run {r}")).unwrap_or_default()
            ),
            TickItem::Error {
                run,
                schedule,
                message,
                hint,
            } => {
                let what = match (run, schedule) {
                    (Some(r), _) => format!("run {r}: "),
                    (None, Some(s)) => format!("schedule {s}: "),
                    (None, None) => String::new(),
                };
                let mut line = format!("{} {what}{message}", st.red_bold("error:"));
                if let Some(h) = hint {
                    line.push_str(&format!("\n{} {h}", st.cyan_bold("hint:")));
                }
                line
            }
        };
        if !quiet || matches!(i, TickItem::Error { .. }) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    let _ = journal;
    if !quiet {
        out.push_str(&super::notify::report_lines(sent));
    } else {
        // Failures are errors of a kind: shown even when quiet.
        let failed = crate::notify::PassReport {
            sent: Vec::new(),
            failed: sent.failed.clone(),
        };
        out.push_str(&super::notify::report_lines(&failed));
    }
    ui::print(&out);
    Ok(code)
}

/// Parse `--every`.
fn interval(s: &str) -> Result<std::time::Duration, Error> {
    match crate::workflow::parse_duration(s) {
        Ok(d) if d >= std::time::Duration::from_secs(1) => Ok(d),
        Ok(_) => Err(Error::invalid(format!("--every {s} is too short"))
            .with_hint("tick at most once a second, e.g. --every 30s")),
        Err(e) => Err(Error::invalid(format!("--every: {e}"))
            .with_hint(crate::workflow::duration::DURATION_HINT)),
    }
}

pub fn daemon(ctx: &Ctx, args: DaemonArgs) -> CmdResult {
    let every = interval(&args.every)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the daemon's timer")?;
    // Handlers are installed before the first tick: a signal that arrives while a
    // tick runs is kept and ends the loop once the tick is done.
    let mut signals = {
        let _guard = rt.enter();
        Signals::new().context("cannot install the signal handlers")?
    };
    let lock_path = ctx.data_dir.join("daemon.lock");
    std::fs::create_dir_all(&ctx.data_dir)
        .with_context(|| format!("cannot create {}", ctx.data_dir.display()))?;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("cannot open {}", lock_path.display()))?;
    if lock.try_lock().is_err() {
        return Err(Error::conflict(format!(
            "another aios daemon already runs on {}",
            ctx.data_dir.display()
        ))
        .with_hint("stop it first, or use `aios tick` for a single pass")
        .into());
    }
    // The lock file names its holder (for people, and for tests to know it is up).
    {
        use std::io::Write;
        let mut f = &lock;
        let _ = f.set_len(0);
        let _ = writeln!(f, "{}", std::process::id());
    }
    ui::eprint(&format!(
        "aios daemon: ticking every {} (pid {}); stop with Ctrl-C or SIGTERM\n",
        crate::clock::format_duration(every),
        std::process::id()
    ));
    let mut n = 0u64;
    let mut code = Exit::Ok;
    loop {
        let mut journal = ctx.journal()?;
        let ticked = schedule::tick(&mut journal, &ctx.run_env()?, &mut Quiet)
            .and_then(|r| super::secret::sweep(ctx, &journal).map(|_| r))
            .map(|mut r| {
                routine(ctx, &mut journal, &mut r, "aios daemon");
                r
            });
        match ticked {
            Ok(report) => {
                let notes = super::notify::pass(ctx, &mut journal);
                if print_report(ctx, &journal, &report, notes.as_ref().ok(), false, false)?
                    != Exit::Ok
                {
                    code = Exit::Failed;
                }
                if let Err(e) = notes {
                    ctx.ui.print_error(&anyhow::Error::from(e));
                    code = Exit::Failed;
                }
            }
            Err(e) => {
                ctx.ui.print_error(&anyhow::Error::from(e));
                code = Exit::Failed;
            }
        }
        drop(journal);
        n += 1;
        if args.ticks.is_some_and(|max| n >= max) {
            break;
        }
        let stopped = rt.block_on(async {
            tokio::select! {
                _ = tokio::time::sleep(every) => false,
                _ = signals.recv() => true,
            }
        });
        if stopped {
            break;
        }
    }
    ui::eprint("aios daemon: stopped\n");
    drop(lock);
    Ok(code)
}

/// SIGTERM and SIGINT (Ctrl-C).
#[cfg(unix)]
pub(super) struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    pub(super) fn new() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    pub(super) async fn recv(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}

#[cfg(not(unix))]
pub(super) struct Signals;

#[cfg(not(unix))]
impl Signals {
    pub(super) fn new() -> std::io::Result<Signals> {
        Ok(Signals)
    }

    pub(super) async fn recv(&mut self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}
