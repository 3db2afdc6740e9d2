//! `aios undo RUN [STEP…]`: propose the compensations of a run's committed steps
//! (their `undo`), latest first, as a compensation run whose proposals wait in the
//! inbox; `--plan` lists them, and the committed steps that cannot be undone,
//! without proposing anything (see [`crate::engine::compensate`]).

use serde_json::json;

use super::ui::{self, Progress};
use super::{CmdResult, Ctx, Exit};
use crate::cli::UndoArgs;
use crate::engine::compensate::{self, Undo, UndoPlan};
use crate::journal::Journal;

pub fn undo(ctx: &Ctx, args: UndoArgs) -> CmdResult {
    let mut journal = ctx.journal()?;
    if args.plan {
        let plan = compensate::plan(&journal, args.run, &args.steps, &ctx.run_env()?)?;
        if args.json {
            ui::print_json(&plan_json(&plan));
        } else {
            ui::print(&plan_text(ctx, &plan));
        }
        return Ok(Exit::Ok);
    }
    propose_and_report(
        ctx,
        &mut journal,
        args.run,
        &args.steps,
        args.json,
        args.quiet,
    )
}

/// Propose the compensations of run `run` (of `steps`, or all) and say where they
/// wait; used by `aios undo` and by `aios approve ID --compensate`.
pub fn propose_and_report(
    ctx: &Ctx,
    journal: &mut Journal,
    run: i64,
    steps: &[String],
    json: bool,
    quiet: bool,
) -> CmdResult {
    let env = ctx.run_env()?;
    let plan = compensate::plan(journal, run, steps, &env)?;
    let mut progress = Progress::new(ctx.ui, quiet || json);
    let outcome = compensate::propose(journal, &plan, &env, &mut progress)?;
    let Some(outcome) = outcome else {
        if json {
            ui::print_json(&json!({ "run": run, "compensation": null, "plan": plan_json(&plan) }));
        } else {
            ui::print(&plan_text(ctx, &plan));
            ui::println(&format!("nothing of run {run} can be undone"));
        }
        return Ok(Exit::Ok);
    };
    if !json {
        let n = plan.actions().count();
        ui::eprint(&format!(
            "run {} proposes the undo of run {run}: {}, latest first, one at a time\n",
            outcome.run_id,
            crate::text::count(n, "compensation")
        ));
        for e in plan.entries.iter() {
            if !matches!(e.undo, Undo::Action(_)) {
                ui::eprint(&format!("  {}\n", entry_line(e)));
            }
        }
    }
    super::run::report(ctx, journal, &outcome, json)
}

fn entry_line(e: &compensate::Entry) -> String {
    match &e.undo {
        Undo::Action(a) => format!("{} ({}): undo: {}", e.step, e.kind, a.describe().headline()),
        Undo::None => format!(
            "{} ({}): cannot be undone (it declares no `undo`)",
            e.step, e.kind
        ),
        Undo::Broken(why) => format!(
            "{} ({}): cannot be undone: its `undo` does not render: {why}",
            e.step, e.kind
        ),
        Undo::Done { by } => format!("{} ({}): already undone by run {by}", e.step, e.kind),
    }
}

fn plan_text(ctx: &Ctx, plan: &UndoPlan) -> String {
    let s = ctx.ui.out();
    if plan.entries.is_empty() {
        return format!(
            "run {} ({}) committed no side effect; there is nothing to undo\n",
            plan.run, plan.workflow
        );
    }
    let mut t = format!(
        "{} (the latest committed first):\n",
        s.bold(&format!("undo of run {} ({})", plan.run, plan.workflow))
    );
    for e in &plan.entries {
        t.push_str(&format!("  {}\n", entry_line(e)));
    }
    if let Some(id) = plan.in_progress {
        t.push_str(&format!(
            "run {id} is undoing it now: decide its items (aios inbox list)\n"
        ));
    }
    t
}

fn plan_json(plan: &UndoPlan) -> serde_json::Value {
    json!({
        "run": plan.run,
        "workflow": plan.workflow,
        "in_progress": plan.in_progress,
        "steps": plan.entries.iter().map(|e| {
            let (status, detail) = match &e.undo {
                Undo::Action(a) => ("undo", serde_json::to_value(a).unwrap_or_default()),
                Undo::None => ("cannot_be_undone", json!(null)),
                Undo::Broken(why) => ("broken", json!(why)),
                Undo::Done { by } => ("undone", json!(by)),
            };
            json!({
                "step": e.step,
                "kind": e.kind,
                "committed_at": e.committed_at.map(crate::clock::format_ms),
                "status": status,
                "undo": detail,
            })
        }).collect::<Vec<_>>(),
    })
}
