//! `aios budget`: LLM spending today and this month (UTC) against the config's caps,
//! and this month's spending per workflow.

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
    let caps = settings.caps;
    if args.json {
        ui::print_json(&json!({
            "today": { "spent_usd": today, "cap_usd": caps.daily_usd },
            "month": { "spent_usd": this_month, "cap_usd": caps.monthly_usd },
            "workflows": per.iter().map(|w| json!({
                "workflow": w.workflow, "calls": w.calls, "spent_usd": w.usd,
            })).collect::<Vec<_>>(),
        }));
        return Ok(Exit::Ok);
    }
    let line = |what: &str, spent: f64, cap: Option<f64>| match cap {
        Some(c) => format!(
            "{what:<11} {:>9} of {} ({:.0}%)\n",
            usd(spent),
            usd(c),
            if c > 0.0 { spent / c * 100.0 } else { 100.0 }
        ),
        None => format!("{what:<11} {:>9} (no cap)\n", usd(spent)),
    };
    let mut out = String::new();
    out.push_str(&line("today", today, caps.daily_usd));
    out.push_str(&line("this month", this_month, caps.monthly_usd));
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
                "{:<w$}  {:>5}  {:>9}",
                "WORKFLOW", "CALLS", "SPENT"
            ))
        ));
        for p in &per {
            out.push_str(&format!(
                "{:<w$}  {:>5}  {:>9}\n",
                p.workflow,
                p.calls,
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
