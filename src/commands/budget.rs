//! `aios budget`: LLM spending and tokens today and this month (UTC) against the
//! config's caps, and this month's spending and tokens per workflow (tokens matter
//! for local models, which cost $0).

use serde_json::json;

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::agent::budget::{period_starts, usd};
use crate::cli::BudgetArgs;

pub fn budget(ctx: &Ctx, args: BudgetArgs) -> CmdResult {
    let settings = super::llm::agent_settings(ctx, &ctx.secrets()?)?;
    let journal = ctx.reader()?;
    let (day, month) = period_starts(journal.now());
    let today = journal.llm_spent_since(day)?;
    let this_month = journal.llm_spent_since(month)?;
    let per = journal.llm_spend_by_workflow(month)?;
    let (day_in, day_out) = journal.llm_tokens_since(day)?;
    let (month_in, month_out) = journal.llm_tokens_since(month)?;
    let caps = settings.caps;
    if args.json {
        ui::print_json(&json!({
            "today": { "spent_usd": today, "cap_usd": caps.daily_usd, "tokens_in": day_in, "tokens_out": day_out },
            "month": { "spent_usd": this_month, "cap_usd": caps.monthly_usd, "tokens_in": month_in, "tokens_out": month_out },
            "workflows": per.iter().map(|w| json!({
                "workflow": w.workflow, "calls": w.calls, "spent_usd": w.usd,
                "tokens_in": w.tokens_in, "tokens_out": w.tokens_out,
            })).collect::<Vec<_>>(),
        }));
        return Ok(Exit::Ok);
    }
    let money = |spent: f64, cap: Option<f64>| match cap {
        Some(c) => format!(
            "{:>9} of {} ({:.0}%)",
            usd(spent),
            usd(c),
            if c > 0.0 { spent / c * 100.0 } else { 100.0 }
        ),
        None => format!("{:>9} (no cap)", usd(spent)),
    };
    let rows = [
        ("today", money(today, caps.daily_usd), day_in, day_out),
        (
            "this month",
            money(this_month, caps.monthly_usd),
            month_in,
            month_out,
        ),
    ];
    let w = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for (what, m, tin, tout) in &rows {
        out.push_str(&format!(
            "{what:<11} {m:<w$}  {} ({tin} in, {tout} out)\n",
            crate::text::count(tin + tout, "token")
        ));
    }
    if per.is_empty() {
        out.push_str("no LLM calls this month\n");
    } else {
        let w = per
            .iter()
            .map(|p| p.workflow.len())
            .max()
            .unwrap_or(8)
            .max(8);
        out.push_str(&format!(
            "\n{}\n",
            ctx.ui.out().bold(&format!(
                "{:<w$}  {:>5}  {:>10}  {:>10}  {:>9}",
                "WORKFLOW", "CALLS", "TOKENS IN", "TOKENS OUT", "SPENT"
            ))
        ));
        for p in &per {
            out.push_str(&format!(
                "{:<w$}  {:>5}  {:>10}  {:>10}  {:>9}\n",
                p.workflow,
                p.calls,
                p.tokens_in,
                p.tokens_out,
                usd(p.usd)
            ));
        }
    }
    if caps.daily_usd.is_none() && caps.monthly_usd.is_none() {
        out.push_str("caps: set [budget] daily_usd and monthly_usd in the config file; a workflow caps one run with [budget] max_usd\n");
    }
    ui::print(&out);
    Ok(Exit::Ok)
}
