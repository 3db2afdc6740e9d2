//! `aios status [--json]`: one screen of health ([`crate::health::status`]):
//! ticking, runs and pending items, failing or late schedules, open circuit
//! breakers, LLM spend, the database's size and the last backup. Exits 0 when all
//! is well, 1 when something needs the operator.

use serde_json::{Value as Json, json};

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::agent::budget::usd;
use crate::cli::StatusArgs;
use crate::clock::{age, format_ms};
use crate::health::status::{Database, Status, gather};

pub fn status(ctx: &Ctx, args: StatusArgs) -> CmdResult {
    let settings = super::llm::agent_settings(ctx, &ctx.secrets()?)?;
    let journal = ctx.reader()?;
    let timer = super::install::user_unit_dir()
        .map(|d| d.join("aios-tick.timer").exists())
        .unwrap_or(false);
    let st = gather(
        &journal,
        &ctx.db_path(),
        (settings.caps.daily_usd, settings.caps.monthly_usd),
        timer,
    )?;
    if args.json {
        ui::print_json(&to_json(&st));
    } else {
        ui::print(&text(ctx, &st));
    }
    Ok(if st.healthy() { Exit::Ok } else { Exit::Failed })
}

fn to_json(st: &Status) -> Json {
    let beat = |h: &Option<crate::journal::Heartbeat>| {
        h.as_ref()
            .map(|h| json!({ "at": format_ms(h.at), "by": h.by, "detail": h.detail }))
    };
    json!({
        "healthy": st.healthy(),
        "now": format_ms(st.now),
        "ticking": {
            "verdict": st.ticking.verdict(st.now),
            "last_tick": beat(&st.ticking.last),
            "daemon_pid": st.ticking.daemon,
            "systemd_timer": st.ticking.timer,
        },
        "runs": { "running": st.running, "waiting": st.waiting },
        "pending": st.pending.iter().map(|p| json!({
            "kind": p.kind, "count": p.count, "oldest": format_ms(p.oldest),
        })).collect::<Vec<_>>(),
        "schedules": st.schedules.iter().map(|s| json!({
            "name": s.name, "health": s.health, "detail": s.detail,
        })).collect::<Vec<_>>(),
        "breakers": st.breakers.iter().map(|b| super::breakers::to_json(b, &st.held)).collect::<Vec<_>>(),
        "spend": {
            "today_usd": st.spend.today, "daily_cap_usd": st.spend.daily_cap,
            "month_usd": st.spend.month, "monthly_cap_usd": st.spend.monthly_cap,
        },
        "database": match &st.database {
            Database::Sqlite { path, bytes } => json!({ "backend": "sqlite", "path": path.display().to_string(), "bytes": bytes }),
            Database::Postgres { url, bytes } => json!({ "backend": "postgresql", "url": url, "bytes": bytes }),
        },
        "last_backup": beat(&st.last_backup),
    })
}

fn size(bytes: u64) -> String {
    match bytes {
        0..1_024 => format!("{bytes} B"),
        1_024..1_048_576 => format!("{:.1} KiB", bytes as f64 / 1_024.0),
        1_048_576..1_073_741_824 => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
        _ => format!("{:.2} GiB", bytes as f64 / 1_073_741_824.0),
    }
}

fn text(ctx: &Ctx, st: &Status) -> String {
    let s = ctx.ui.out();
    let now = st.now;
    let mut out = String::new();
    let mut line = |label: &str, ok: bool, text: String| {
        let mark = if ok {
            s.green("✓")
        } else {
            s.red_bold("✗")
        };
        out.push_str(&format!("{mark} {label:<10} {text}\n"));
    };
    // Ticking.
    let t = &st.ticking;
    let mut how = Vec::new();
    if let Some(pid) = t.daemon {
        how.push(format!("aios daemon running (pid {pid})"));
    }
    if t.timer {
        how.push("systemd timer installed".into());
    }
    let last = match &t.last {
        Some(h) => format!(
            "last tick {} ago ({}, by {})",
            age(now, h.at),
            format_ms(h.at),
            h.by
        ),
        None => "no tick recorded".into(),
    };
    let verdict = t.verdict(now);
    let mut tick = last;
    if !how.is_empty() {
        tick.push_str(&format!("; {}", how.join(", ")));
    }
    match verdict {
        "late" | "never" => tick.push_str(
            "; schedules and timed waits need `aios tick` every minute (hint: aios schedule install)",
        ),
        "idle" => tick.push_str("; nothing needs ticks yet"),
        _ => {}
    }
    line("ticking", matches!(verdict, "ok" | "idle"), tick);
    // Runs and the inbox.
    line(
        "runs",
        true,
        format!("{} running, {} waiting", st.running, st.waiting),
    );
    let pending = if st.pending.is_empty() {
        "inbox empty".to_string()
    } else {
        let total: i64 = st.pending.iter().map(|p| p.count).sum();
        let oldest = st.pending.iter().map(|p| p.oldest).min().unwrap_or(now);
        format!(
            "{} pending ({}), the oldest {} old",
            total,
            st.pending
                .iter()
                .map(|p| format!("{} {}", p.count, p.kind))
                .collect::<Vec<_>>()
                .join(", "),
            age(now, oldest)
        )
    };
    line("inbox", true, pending);
    // Schedules.
    let sched = if st.schedules.is_empty() {
        "none failing or late".to_string()
    } else {
        st.schedules
            .iter()
            .map(|x| format!("{} {} ({})", x.name, x.health, x.detail))
            .collect::<Vec<_>>()
            .join("; ")
    };
    line("schedules", st.schedules.is_empty(), sched);
    // Breakers.
    let br = if st.breakers.is_empty() {
        "none open".to_string()
    } else {
        st.breakers
            .iter()
            .map(|b| {
                let name = b.target.to_string();
                let n = st.held.iter().filter(|h| h.target == name).count();
                format!(
                    "{name} {} ({} held)",
                    super::breakers::describe(b, now),
                    crate::text::count(n, "step")
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
            + " (aios breakers)"
    };
    line("breakers", st.breakers.is_empty(), br);
    // Spend.
    let money = |spent: f64, cap: Option<f64>| match cap {
        Some(c) => format!("{} of {}", usd(spent), usd(c)),
        None => usd(spent),
    };
    line(
        "spend",
        true,
        format!(
            "{} today, {} this month",
            money(st.spend.today, st.spend.daily_cap),
            money(st.spend.month, st.spend.monthly_cap)
        ),
    );
    line(
        "database",
        true,
        format!("{} ({})", size(st.database.bytes()), st.database.place()),
    );
    let backup = match &st.last_backup {
        Some(h) => format!(
            "last {} ago ({}) to {}",
            age(now, h.at),
            format_ms(h.at),
            h.detail["path"].as_str().unwrap_or("?")
        ),
        None => "none yet (hint: aios backup)".into(),
    };
    line("backup", true, backup);
    out
}
