//! `aios notify test|list`, and the notification pass `aios tick` and `aios daemon`
//! make after their runs ([`pass`]): the typed `[notify]` section, the secrets
//! and SMTP accounts a channel sends with, and how the outcome reads.

use serde_json::{Value as Json, json};

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::cli::{NotifyArgs, NotifyCommand, NotifyListArgs, NotifyTestArgs};
use crate::clock::format_ms;
use crate::error::Error;
use crate::journal::Journal;
use crate::notify::{self, NotifyEnv, PassReport};

pub fn notify(ctx: &Ctx, args: NotifyArgs) -> CmdResult {
    match args.command {
        NotifyCommand::Test(a) => test(ctx, a),
        NotifyCommand::List(a) => list(ctx, a),
    }
}

/// What a pass or a test sends with.
struct Parts {
    settings: notify::NotifySettings,
    secrets: crate::secrets::Secrets,
    smtp: crate::smtp::Transport,
}

fn parts(ctx: &Ctx) -> Result<Parts, Error> {
    let cfg = ctx.config()?;
    Ok(Parts {
        settings: notify::config::from_config(&cfg)?,
        secrets: ctx.agent_env()?.1,
        smtp: crate::smtp::Transport::new(crate::smtp::config::from_config(&cfg)?),
    })
}

/// The notification pass of one tick: what was sent and what failed, as lines
/// for the tick's report (empty when `[notify]` has no channel).
pub fn pass(ctx: &Ctx, journal: &mut Journal) -> Result<PassReport, Error> {
    // Without a channel, nothing else is read (the secrets, the SMTP accounts).
    if notify::config::from_config(&ctx.config()?)?
        .channels
        .is_empty()
    {
        return Ok(PassReport::default());
    }
    let p = parts(ctx)?;
    let env = NotifyEnv {
        settings: &p.settings,
        secrets: &p.secrets,
        smtp: &p.smtp,
        child_env: &ctx.child_env,
        clock: ctx.clock,
        by: format!("{}@{}:{}", ctx.owner.pid, ctx.owner.host, journal.now()),
    };
    notify::pass(journal, &env)
}

/// A pass's lines for people.
pub fn report_lines(r: &PassReport) -> String {
    let mut out = String::new();
    for o in &r.sent {
        out.push_str(&format!("notified {}: {}\n", o.channel, o.title));
    }
    for o in &r.failed {
        let then = match o.next_at {
            Some(t) => format!("tried again after {}", format_ms(t)),
            None => "given up".to_string(),
        };
        out.push_str(&format!(
            "notification {} to {} failed (try {}; {then}): {}\n",
            o.id, o.channel, o.attempt, o.detail
        ));
    }
    out
}

/// A pass's outcome as JSON.
pub fn report_json(r: &PassReport) -> Json {
    let one = |o: &notify::Outcome, status: &str| {
        json!({
            "id": o.id, "channel": o.channel, "title": o.title, "status": status,
            "attempt": o.attempt, "detail": o.detail,
            "next_at": o.next_at.map(format_ms),
        })
    };
    Json::Array(
        r.sent
            .iter()
            .map(|o| one(o, "sent"))
            .chain(r.failed.iter().map(|o| one(o, "failed")))
            .collect(),
    )
}

fn test(ctx: &Ctx, a: NotifyTestArgs) -> CmdResult {
    let p = parts(ctx)?;
    if p.settings.channels.is_empty() {
        return Err(Error::invalid(format!(
            "{} has no notification channel",
            p.settings.origin
        ))
        .with_hint("add a [notify.NAME] table with kind = \"ntfy\", \"email\", \"desktop\" or \"command\" (see README, Notifications)")
        .into());
    }
    let channels: Vec<&notify::Channel> = match &a.channel {
        Some(name) => match p.settings.channels.get(name) {
            Some(c) => vec![c],
            None => {
                let known: Vec<&str> = p.settings.channels.keys().map(String::as_str).collect();
                let first = known.first().copied().unwrap_or_default();
                return Err(Error::not_found(format!(
                    "no notification channel `{name}` in {}",
                    p.settings.origin
                ))
                .with_hint(
                    crate::workflow::suggest::did_you_mean(name, known.iter().copied())
                        .map(|d| format!("{d} configured: {}", known.join(", ")))
                        .unwrap_or_else(|| format!("aios notify test {first}")),
                )
                .into());
            }
        },
        None => p.settings.channels.values().collect(),
    };
    let env = NotifyEnv {
        settings: &p.settings,
        secrets: &p.secrets,
        smtp: &p.smtp,
        child_env: &ctx.child_env,
        clock: ctx.clock,
        by: "test".into(),
    };
    let st = ctx.ui.out();
    let mut code = Exit::Ok;
    let mut out = String::new();
    for (name, r) in notify::test(&env, &channels)? {
        match r {
            Ok(reply) => out.push_str(&format!("{} {name}: {reply}\n", st.green("sent"))),
            Err(e) => {
                code = Exit::Failed;
                out.push_str(&format!("{} {name}: {e}\n", st.red_bold("failed")));
            }
        }
    }
    ui::print(&out);
    Ok(code)
}

fn list(ctx: &Ctx, a: NotifyListArgs) -> CmdResult {
    let p = parts(ctx)?;
    let journal = ctx.journal()?;
    let rows = journal.notifications(a.limit)?;
    if a.json {
        ui::print_json(&json!({
            "channels": p.settings.channels.values().map(|c| json!({
                "name": c.name, "kind": c.kind.name(), "events": c.events,
            })).collect::<Vec<_>>(),
            "notifications": rows.iter().map(|n| json!({
                "id": n.id, "key": n.key, "channel": n.channel, "event": n.event,
                "title": n.title, "status": n.status, "attempts": n.attempts,
                "next_at": format_ms(n.next_at), "error": n.error, "reply": n.reply,
                "created_at": format_ms(n.created_at), "sent_at": n.sent_at.map(format_ms),
            })).collect::<Vec<_>>(),
        }));
        return Ok(Exit::Ok);
    }
    let st = ctx.ui.out();
    let mut out = String::new();
    if p.settings.channels.is_empty() {
        out.push_str("no notification channel (add [notify.NAME] to config.toml)\n");
    }
    for c in p.settings.channels.values() {
        out.push_str(&format!(
            "{} ({}): {}\n",
            st.bold(&c.name),
            c.kind.name(),
            c.events.join(", ")
        ));
    }
    for n in &rows {
        let status = match n.status.as_str() {
            "sent" => st.green("sent"),
            "failed" => st.red_bold("failed"),
            _ => st.yellow("pending"),
        };
        out.push_str(&format!(
            "{:>4} {status} {} {} {}{}\n",
            n.id,
            n.channel,
            format_ms(n.created_at),
            n.title,
            n.error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        ));
    }
    ui::print(&out);
    Ok(Exit::Ok)
}
