//! `aios breakers [--json]`: the connector targets' circuit breakers (every target
//! that has failed at least once), the steps each holds; `aios breakers close
//! TARGET` closes one by hand.

use serde_json::{Value as Json, json};

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::cli::{BreakersArgs, BreakersCommand};
use crate::clock::{Millis, format_ms};
use crate::connectors::Target;
use crate::error::Error;
use crate::health::{Breaker, BreakerState};
use crate::journal::HeldStep;

pub fn breakers(ctx: &Ctx, args: BreakersArgs) -> CmdResult {
    if let Some(BreakersCommand::Close(a)) = args.command {
        let target = Target::parse(&a.target)
            .map_err(|e| Error::invalid(e).with_hint("see every breaker with: aios breakers"))?;
        let mut journal = ctx.journal()?;
        let b = journal.close_breaker(&target, "the operator")?;
        let held = journal
            .held_steps()?
            .into_iter()
            .filter(|h| h.target == b.target.to_string())
            .count();
        let s = ctx.ui.out();
        ui::println(&format!(
            "{} circuit breaker {} closed",
            s.green("ok"),
            b.target
        ));
        if held > 0 {
            ui::println(&format!(
                "{} waiting for it will go at the next tick (aios tick)",
                crate::text::count_as(held, "step", "steps")
            ));
        }
        return Ok(Exit::Ok);
    }
    let journal = ctx.reader()?;
    let now = journal.now();
    let list = journal.breakers()?;
    let held = journal.held_steps()?;
    if args.json {
        ui::print_json(&Json::Array(
            list.iter().map(|b| to_json(b, &held)).collect(),
        ));
        return Ok(Exit::Ok);
    }
    if list.is_empty() {
        ui::println("no circuit breaker has seen a failure: every target answers");
        return Ok(Exit::Ok);
    }
    ui::print(&table(ctx, &list, &held, now));
    Ok(Exit::Ok)
}

/// One breaker as JSON (`aios breakers --json`, `aios status --json`).
pub fn to_json(b: &Breaker, held: &[HeldStep]) -> Json {
    let name = b.target.to_string();
    json!({
        "target": name,
        "state": b.state.as_str(),
        "failures": b.failures,
        "trips": b.trips,
        "opened_at": b.opened_at.map(format_ms),
        "until": b.until.map(format_ms),
        "probe": b.probe,
        "last_error": b.last_error,
        "updated_at": format_ms(b.updated_at),
        "held": held.iter().filter(|h| h.target == name)
            .map(|h| json!({ "run": h.run, "step": h.step, "until": format_ms(h.until) }))
            .collect::<Vec<_>>(),
    })
}

/// Where a breaker stands, in words.
pub fn describe(b: &Breaker, now: Millis) -> String {
    let until = |t: Option<Millis>| t.map(format_ms).unwrap_or_else(|| "-".into());
    match b.state {
        BreakerState::Open if b.until.is_some_and(|u| u <= now) => format!(
            "open, cooling down ended at {} (the next call probes)",
            until(b.until)
        ),
        BreakerState::Open => format!(
            "open until {} ({} since {})",
            until(b.until),
            crate::text::count(b.trips as usize, "trip"),
            until(b.opened_at)
        ),
        BreakerState::HalfOpen => format!(
            "half-open: {} probes it",
            b.probe.as_deref().unwrap_or("a call")
        ),
        BreakerState::Closed => format!(
            "closed, {} in a row",
            crate::text::count(b.failures as usize, "failure")
        ),
    }
}

fn table(ctx: &Ctx, list: &[Breaker], held: &[HeldStep], now: Millis) -> String {
    let s = ctx.ui.out();
    let w = list
        .iter()
        .map(|b| b.target.to_string().len())
        .max()
        .unwrap_or(6)
        .max(6);
    let mut out = format!(
        "{}\n",
        s.bold(&format!(
            "{:<w$}  {:<9}  {:>4}  {}",
            "TARGET", "STATE", "HELD", "DETAIL"
        ))
    );
    for b in list {
        let name = b.target.to_string();
        let n = held.iter().filter(|h| h.target == name).count();
        let state = match b.state {
            BreakerState::Closed => format!("{:<9}", "closed"),
            BreakerState::Open => s.red_bold(&format!("{:<9}", "open")),
            BreakerState::HalfOpen => s.yellow(&format!("{:<9}", "half-open")),
        };
        out.push_str(&format!(
            "{name:<w$}  {state}  {n:>4}  {}\n",
            describe(b, now)
        ));
        if let Some(e) = &b.last_error {
            out.push_str(&format!(
                "{:<w$}  {}\n",
                "",
                s.dim(&format!(
                    "last: {}",
                    crate::connectors::truncate_line(e, 100)
                ))
            ));
        }
    }
    if list.iter().any(Breaker::is_tripped) {
        out.push_str(&s.dim(
            "steps held by an open breaker go when it lets calls through (aios tick); close one by hand with: aios breakers close TARGET\n",
        ));
    }
    out
}
