//! `aios show RUN`: status, inputs, steps with outputs, and the timeline.

use serde_json::{Value as Json, json};

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::cli::ShowArgs;
use crate::clock::format_ms;
use crate::connectors::Target;
use crate::error::Error;
use crate::journal::Journal;

/// The `show --json` object (scripting interface: `{id, workflow, status, inputs,
/// steps: [{id, kind, status, attempts, output, error, throttled, held}]}`;
/// `throttled` is `{until, limit}` while the step waits for its turn under a rate
/// limit, `held` is `{until, target}` while it waits for its target's circuit
/// breaker, else null). Targets are named `KIND:NAME` ([`Target`]), also those
/// journaled under an older `[rate]` key.
pub fn run_json(journal: &Journal, id: i64) -> Result<Json, Error> {
    let run = journal.run(id)?;
    let steps: Vec<Json> = journal
        .steps(id)?
        .into_iter()
        .map(|s| {
            json!({
                "id": s.step_id,
                "kind": s.kind,
                "status": s.status.as_str(),
                "attempts": s.attempts,
                "output": s.output,
                "error": s.error,
                "throttled": s.throttled.as_ref().map(|(until, limit)| json!({
                    "until": format_ms(*until),
                    "limit": limit_name(limit),
                })),
                "held": s.held.as_ref().map(|(target, until)| json!({
                    "until": format_ms(*until),
                    "target": Target::display_name(target),
                })),
            })
        })
        .collect();
    let mut v = json!({
        "id": run.id,
        "workflow": run.workflow,
        "status": run.status.as_str(),
        "inputs": run.inputs,
        "steps": steps,
    });
    // Only a dry run says so (`offline` or `llm`).
    if let Some(d) = run.dry {
        v["dry"] = d.as_str().into();
    }
    // Queued for workers (`aios run --detach`, or a step needing tags).
    if let Some(w) = journal.work_item(id)? {
        v["queued"] = json!({
            "tags": w.tags,
            "since": format_ms(w.queued_at),
            "claimed_by": w.claimed_by,
            "attempts": w.attempts,
        });
    }
    Ok(v)
}

/// A journaled `TARGET RATE` (`api.example.com 10/m`) with its target as named now
/// (`http:api.example.com 10/m`).
fn limit_name(limit: &str) -> String {
    match limit.split_once(' ') {
        Some((t, rate)) => format!("{} {rate}", Target::display_name(t)),
        None => Target::display_name(limit),
    }
}

pub fn show(ctx: &Ctx, args: ShowArgs) -> CmdResult {
    let journal = ctx.reader()?;
    if args.json {
        ui::print_json(&run_json(&journal, args.run)?);
        return Ok(Exit::Ok);
    }
    let s = ctx.ui.out();
    let run = journal.run(args.run)?;
    let steps = journal.steps(args.run)?;
    let items = journal.run_proposals(args.run)?;
    let mut t = format!(
        "{} · {} · {}\n",
        s.bold(&format!("run {}", run.id)),
        run.workflow,
        s.run_status(run.status)
    );
    if let Some(d) = run.dry {
        t.push_str(&format!(
            "dry run   {}; nothing was committed (listed by: aios runs --dry)\n",
            match d {
                crate::journal::DryMode::Offline => "offline drafts",
                crate::journal::DryMode::Llm => "with the configured LLMs (--with-llm)",
            }
        ));
    }
    if let Some(e) = &run.error {
        t.push_str(&format!("error     {e}\n"));
    }
    t.push_str(&format!(
        "workflow  {} (sha256 {})\n",
        run.path.as_deref().unwrap_or("-"),
        &run.source_hash[..12.min(run.source_hash.len())]
    ));
    t.push_str(&format!(
        "created   {}   updated {}\n",
        format_ms(run.created_at),
        format_ms(run.updated_at)
    ));
    let inputs = crate::engine::cancel::shown_inputs(&run.inputs);
    if !inputs.is_empty() {
        // A secret input's value is not in the journal: it says `secret`.
        let parts: Vec<String> = inputs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        t.push_str(&format!("inputs    {}\n", parts.join(" ")));
    }
    if let Some(owner) = &run.lease_owner {
        match journal.live_executor(&run, &ctx.owner) {
            Some(live) => t.push_str(&format!("executor  process {live}\n")),
            None if !run.status.is_terminal() => t.push_str(&format!(
                "executor  none: process {owner} stopped before the run ended; continue it with: aios resume {}\n",
                run.id
            )),
            None => {}
        }
    }
    let width = steps
        .iter()
        .map(|s| s.step_id.len())
        .max()
        .unwrap_or(4)
        .max(4);
    t.push_str(&format!("\n{}\n", s.bold("steps")));
    for st in &steps {
        let mut line = format!(
            "  {} {:<width$}  {:<8} {:<15}",
            s.step_glyph(st.status),
            st.step_id,
            st.kind,
            st.status.as_str(),
        );
        if st.attempts > 1 {
            line.push_str(&format!(" attempts {}", st.attempts));
        }
        if let Some(p) = items.iter().rev().find(|p| {
            p.step_id == st.step_id && p.status == crate::journal::ProposalStatus::Pending
        }) {
            line.push_str(&format!(" inbox {}", p.id));
        }
        t.push_str(line.trim_end());
        t.push('\n');
        if let Some(e) = &st.error {
            t.push_str(&format!(
                "      {} {}\n",
                s.dim("error"),
                e.lines().next().unwrap_or("")
            ));
        }
        if let Some((until, limit)) = &st.throttled {
            t.push_str(&format!(
                "      {} for its turn under the rate limit {}, until {}\n",
                s.dim("waits"),
                limit_name(limit),
                format_ms(*until)
            ));
        }
        if let Some((target, until)) = &st.held {
            t.push_str(&format!(
                "      {} for the circuit breaker {}, until {}\n",
                s.dim("waits"),
                Target::display_name(target),
                format_ms(*until)
            ));
        }
        if let Some(o) = &st.output
            && !o.is_null()
        {
            t.push_str(&format!(
                "      {} {}\n",
                s.dim("output"),
                crate::connectors::truncate_line(&o.to_string(), 100)
            ));
        }
    }
    t.push_str(&format!("\n{}\n", s.bold("timeline")));
    for e in journal.events(args.run)? {
        t.push_str(&format!(
            "  {}  {}\n",
            s.dim(&format_ms(e.at)),
            super::log::describe(&e.event)
        ));
    }
    ui::print(&t);
    Ok(Exit::Ok)
}
