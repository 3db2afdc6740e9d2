//! `aios runs`: list runs, newest first: the newest 50 unless `--limit N` or
//! `--all` (the cost of a listing is its length, not the history's); `--dry`: the
//! dry runs, kept apart.

use serde_json::json;

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::cli::{RunsArgs, StatusArg};
use crate::clock::{age, format_ms};
use crate::journal::RunStatus;

pub fn runs(ctx: &Ctx, args: RunsArgs) -> CmdResult {
    if args.prune {
        return super::dry::prune(ctx);
    }
    let journal = ctx.reader()?;
    let status = args.status.map(|s| match s {
        StatusArg::Running => RunStatus::Running,
        StatusArg::Waiting => RunStatus::Waiting,
        StatusArg::Succeeded => RunStatus::Succeeded,
        StatusArg::Failed => RunStatus::Failed,
        StatusArg::Cancelled => RunStatus::Cancelled,
    });
    let limit = if args.all {
        usize::MAX >> 1
    } else {
        args.limit
    };
    // One more than shown: whether older runs were left out.
    let mut runs = journal.runs_of(status, limit.saturating_add(1), args.dry)?;
    let more = runs.len() > limit;
    runs.truncate(limit);
    if args.json {
        let arr: Vec<_> = runs
            .iter()
            .map(|r| {
                json!({
                    "id": r.id,
                    "workflow": r.workflow,
                    "status": r.status.as_str(),
                    "created_at": format_ms(r.created_at),
                    "updated_at": format_ms(r.updated_at),
                })
            })
            .collect();
        ui::print_json(&serde_json::Value::Array(arr));
        return Ok(Exit::Ok);
    }
    if runs.is_empty() {
        ui::println(match (status, args.dry) {
            (Some(_), false) => "no runs with that status",
            (None, false) => "no runs yet; start one with: aios run FILE",
            (Some(_), true) => "no dry runs with that status",
            (None, true) => "no dry runs; rehearse a workflow with: aios run --dry-run FILE",
        });
        return Ok(Exit::Ok);
    }
    let s = ctx.ui.out();
    let now = journal.now();
    let w = runs
        .iter()
        .map(|r| r.workflow.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let mut out = s.bold(&format!(
        "{:>5}  {:<w$}  {:<9}  {:>7}  {:>7}",
        "RUN", "WORKFLOW", "STATUS", "STEPS", "UPDATED"
    ));
    out.push('\n');
    for r in &runs {
        let status = format!("{:<9}", r.status.as_str());
        let status = status.replace(r.status.as_str(), &s.run_status(r.status));
        out.push_str(&format!(
            "{:>5}  {:<w$}  {}  {:>7}  {:>7}\n",
            r.id,
            r.workflow,
            status,
            format!("{}/{}", r.steps_done, r.steps_total),
            age(now, r.updated_at),
        ));
    }
    if more {
        out.push_str(&s.dim(&format!(
            "older runs not shown: aios runs --all, or --limit {}\n",
            limit.saturating_mul(2)
        )));
    }
    ui::print(&out);
    Ok(Exit::Ok)
}
