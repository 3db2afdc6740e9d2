//! `aios run --dry-run`: the report of a dry run (every action as it would be
//! proposed or committed, every gate and memory write), and `aios runs --dry
//! --prune`.

use serde_json::{Value as Json, json};

use super::ui;
use super::{CmdResult, Ctx, Exit, show};
use crate::connectors::Action;
use crate::engine::RunOutcome;
use crate::error::Error;
use crate::journal::{Event, Gate, Journal, RunStatus};

/// One thing the dry run would have done.
struct Rehearsal {
    step: String,
    would: String,
    summary: String,
    action: Json,
}

fn rehearsals(journal: &Journal, run: i64) -> Result<Vec<Rehearsal>, Error> {
    Ok(journal
        .events(run)?
        .into_iter()
        .filter_map(|e| match e.event {
            Event::StepRehearsed {
                step,
                would,
                summary,
                action,
                ..
            } => Some(Rehearsal {
                step,
                would,
                summary,
                action,
            }),
            _ => None,
        })
        .collect())
}

/// The `--json` form: the run as `aios show --json` prints it, with `dry` and what
/// it rehearsed.
pub fn run_json(journal: &Journal, run: i64) -> Result<Json, Error> {
    let mut v = show::run_json(journal, run)?;
    let r = journal.run(run)?;
    v["dry"] = r.dry.map(|d| d.as_str()).into();
    v["rehearsed"] = rehearsals(journal, run)?
        .into_iter()
        .map(|r| {
            json!({
                "step": r.step,
                "would": r.would,
                "summary": r.summary,
                "action": r.action,
            })
        })
        .collect::<Vec<_>>()
        .into();
    Ok(v)
}

/// Print what a dry run would have done, and pick the exit code.
pub fn report(
    ctx: &Ctx,
    journal: &Journal,
    outcome: &RunOutcome,
    file: &str,
    json: bool,
) -> CmdResult {
    let id = outcome.run_id;
    let code = match outcome.status {
        RunStatus::Failed | RunStatus::Cancelled => Exit::Failed,
        _ => Exit::Ok,
    };
    if json {
        ui::print_json(&run_json(journal, id)?);
        return Ok(code);
    }
    let s = ctx.ui.out();
    let run = journal.run(id)?;
    let done = rehearsals(journal, id)?;
    let mut t = match outcome.status {
        RunStatus::Failed => format!(
            "dry run {id} ({}) {}: {}\n",
            run.workflow,
            s.run_status(RunStatus::Failed),
            outcome.error.clone().unwrap_or_default()
        ),
        status => format!(
            "dry run {id} ({}) {}: nothing was committed, sent, written or remembered\n",
            run.workflow,
            s.run_status(status)
        ),
    };
    for st in journal.steps(id)? {
        if st.status == crate::journal::StepStatus::Failed
            && let Some(e) = &st.error
        {
            t.push_str(&format!("  {}: {e}\n", st.step_id));
        }
    }
    for r in &done {
        let how = match r.would.as_str() {
            "commit" => " (without asking: approve = \"never\")",
            "write" => " to memory",
            _ => "",
        };
        t.push_str(&format!(
            "\n{}\n",
            s.bold(&format!("{} would {}{how}:", r.step, r.would))
        ));
        let body = match r.would.as_str() {
            "ask" => gate_text(&Gate::of(&r.action)),
            "write" => r.summary.clone(),
            _ => match serde_json::from_value::<Action>(r.action.clone()) {
                Ok(a) => a.describe().to_text(),
                Err(_) => r.summary.clone(),
            },
        };
        for line in body.lines() {
            t.push_str(&format!("  {line}\n"));
        }
    }
    let count = |w: &str| done.iter().filter(|r| r.would == w).count();
    let mut parts = Vec::new();
    for (w, one, many) in [
        ("propose", "proposal", "proposals"),
        ("ask", "gate", "gates"),
        ("commit", "commit without asking", "commits without asking"),
        ("write", "memory write", "memory writes"),
    ] {
        let n = count(w);
        if n > 0 {
            parts.push(crate::text::count_as(n, one, many));
        }
    }
    t.push('\n');
    if !parts.is_empty() {
        t.push_str(&format!("rehearsed: {}\n", parts.join(", ")));
    }
    if outcome.status == RunStatus::Failed {
        t.push_str(&format!(
            "{} fix the workflow file, then dry-run it again: aios run --dry-run {}\n",
            s.cyan_bold("hint:"),
            crate::connectors::shell::quote(file)
        ));
    } else {
        t.push_str(&format!(
            "see it again: aios show {id} · dry runs: aios runs --dry · remove them: aios runs --dry --prune\n"
        ));
    }
    ui::print(&t);
    Ok(code)
}

fn gate_text(g: &Gate) -> String {
    let mut t = g.title.clone();
    if let Some(b) = &g.body {
        t.push_str(&format!("\n{b}"));
    }
    for f in &g.fields {
        t.push_str(&format!("\nfield {}", f.describe()));
    }
    t
}

/// `aios runs --dry --prune`: remove every dry run (and what it journaled).
pub fn prune(ctx: &Ctx) -> CmdResult {
    let mut journal = ctx.journal()?;
    let p = journal.prune_dry_runs()?;
    ui::println(&if p.runs == 0 {
        "no dry runs to remove".to_string()
    } else {
        format!(
            "removed {} ({})",
            crate::text::count(p.runs, "dry run"),
            crate::text::count(p.events, "event")
        )
    });
    Ok(Exit::Ok)
}
