//! `aios stats [--json]`: the control room's figures over the last 30 days, as
//! computed by [`crate::journal::Journal::stats`] (the TUI draws the same).

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::agent::budget::usd;
use crate::cli::StatsArgs;

/// A sparkline of `values` (one character each), scaled to the largest.
fn spark(values: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().cloned().fold(0.0_f64, f64::max);
    values
        .iter()
        .map(|v| {
            if max <= 0.0 || *v <= 0.0 {
                '·'
            } else {
                BARS[((v / max) * 7.0).round().clamp(0.0, 7.0) as usize]
            }
        })
        .collect()
}

pub fn stats(ctx: &Ctx, args: StatsArgs) -> CmdResult {
    let settings = super::llm::agent_settings(ctx, &ctx.secrets()?)?;
    let journal = ctx.reader()?;
    let st = journal.stats(settings.caps.daily_usd, settings.caps.monthly_usd)?;
    if args.json {
        ui::print_json(&serde_json::to_value(&st)?);
        return Ok(Exit::Ok);
    }
    let first = st.days.first().map(|d| d.date.as_str()).unwrap_or("");
    let last = st.days.last().map(|d| d.date.as_str()).unwrap_or("");
    let spent: f64 = st.days.iter().map(|d| d.spent_usd).sum();
    let today = st.days.last().map(|d| d.spent_usd).unwrap_or(0.0);
    let cap = |c: Option<f64>| c.map(|c| format!(" of {}", usd(c))).unwrap_or_default();
    let mut out = format!("last 30 days ({first} to {last})\n\n");
    out.push_str(&format!(
        "LLM spend   {} in 30 days; today {}{}, this month {}{}\n",
        usd(spent),
        usd(today),
        cap(st.daily_cap_usd),
        usd(st.spent_month_usd),
        cap(st.monthly_cap_usd)
    ));
    let spend: Vec<f64> = st.days.iter().map(|d| d.spent_usd).collect();
    out.push_str(&format!("  per day   {}\n", spark(&spend)));
    if let Some(c) = st.daily_cap_usd {
        let over = st.days.iter().filter(|d| d.spent_usd > c).count();
        if over > 0 {
            out.push_str(&format!(
                "  over the daily cap on {}\n",
                crate::text::count(over, "day")
            ));
        }
    }
    let decided: Vec<f64> = st.days.iter().map(|d| d.decided as f64).collect();
    out.push_str(&format!(
        "decided     {}{}\n  per day   {}\n",
        crate::text::count(st.decided, "item"),
        st.median_decide_ms
            .map(|ms| format!(
                ", median time to decide {}",
                crate::clock::format_duration(std::time::Duration::from_millis(ms as u64))
            ))
            .unwrap_or_default(),
        spark(&decided)
    ));
    if st.failures.is_empty() {
        out.push_str("failures    none\n");
    } else {
        let f: Vec<String> = st
            .failures
            .iter()
            .map(|f| format!("{} {}", f.workflow, f.failed))
            .collect();
        out.push_str(&format!("failures    {}\n", f.join(" · ")));
    }
    if st.outcomes.is_empty() {
        out.push_str("outcomes    none recorded (aios outcome RUN KEY=VALUE)\n");
    } else {
        out.push_str("outcomes\n");
        for s in &st.outcomes {
            let values: Vec<f64> = s.points.iter().map(|p| p.value).collect();
            let last = s.points.last().map(|p| p.value).unwrap_or(0.0);
            out.push_str(&format!(
                "  {} {}: {} over {} (last {last})\n",
                s.workflow,
                s.key,
                spark(&values),
                crate::text::count(s.points.len(), "run")
            ));
        }
    }
    ui::print(&out);
    Ok(Exit::Ok)
}
