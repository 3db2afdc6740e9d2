//! `aios log RUN`: the run's events in order. Run 0 is no workflow's run: it holds
//! the events that happen outside runs (facts set and unset by hand, schedule
//! notices, `aios llm prompt` calls), and `aios log 0` lists them under a line that
//! says so.

use serde_json::json;

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::cli::LogArgs;
use crate::clock::format_ms;
use crate::journal::Event;

/// One line describing an event.
pub fn describe(ev: &Event) -> String {
    match ev {
        Event::RunCreated {
            workflow, steps, ..
        } => {
            format!(
                "run created from `{workflow}` ({})",
                crate::text::count(steps.len(), "step")
            )
        }
        Event::RunStatus { status, error } => match error {
            Some(e) => format!("run {status}: {e}"),
            None => format!("run {status}"),
        },
        Event::RunCancelled { reason } => match reason {
            Some(r) => format!("run cancelled: {r}"),
            None => "run cancelled".into(),
        },
        Event::StepStarted { step, attempt } => format!("{step}: started (attempt {attempt})"),
        Event::StepSucceeded { step, .. } => format!("{step}: succeeded"),
        Event::StepFailed {
            step,
            attempt,
            error,
            retry_at,
            ..
        } => {
            let first = error.lines().next().unwrap_or("");
            match retry_at {
                Some(at) => format!(
                    "{step}: attempt {attempt} failed, retry at {}: {first}",
                    format_ms(*at)
                ),
                None => format!("{step}: failed (attempt {attempt}): {first}"),
            }
        }
        Event::StepSkipped { step, reason } => format!("{step}: skipped ({reason})"),
        Event::LlmCall(c) => {
            let who = if c.heuristic {
                "offline heuristic draft (no LLM)".to_string()
            } else {
                format!(
                    "{}/{}, {}, {}, {}ms{}",
                    c.provider,
                    c.model,
                    crate::text::count(c.tokens_in + c.tokens_out, "token"),
                    crate::agent::budget::usd(c.cost_usd),
                    c.latency_ms,
                    if crate::agent::turns::is_truncated(c.finish_reason.as_deref()) {
                        ", cut at max_tokens"
                    } else {
                        ""
                    }
                )
            };
            match &c.error {
                Some(e) => format!(
                    "{}: LLM call ({who}) failed: {}",
                    c.step,
                    e.lines().next().unwrap_or("")
                ),
                None => format!("{}: LLM call ({who})", c.step),
            }
        }
        Event::AgentTool {
            step,
            tool,
            error,
            proposal,
            ..
        } => format!(
            "{step}: tool call {tool}{}{}",
            match proposal {
                Some(p) => format!(" (proposal {p})"),
                None => String::new(),
            },
            if *error { ": error" } else { "" }
        ),
        Event::StepReset { step, reason } => format!("{step}: reset to pending ({reason})"),
        Event::ProposalCreated {
            proposal,
            step,
            kind,
            summary,
            ..
        } => format!("{step}: inbox item {proposal} ({kind}): {summary}"),
        Event::ProposalDecided {
            proposal,
            step,
            decision,
            reason,
            by,
            edited,
            ..
        } => {
            let verb = match decision {
                crate::journal::Decision::Approve => "approved",
                crate::journal::Decision::Reject => "rejected",
                crate::journal::Decision::Done => "marked done",
            };
            let mut s = format!("{step}: inbox item {proposal} {verb} by {by}");
            if edited.is_some() {
                s.push_str(" (with edits)");
            }
            if let Some(r) = reason {
                s.push_str(&format!(": {r}"));
            }
            s
        }
        Event::FactSet {
            step,
            entity,
            key,
            value,
            version,
        } => format!("{step}: fact {entity} {key} = {value} (version {version})"),
        Event::FactUnset {
            entity,
            key,
            version,
            by,
            ..
        } => format!("fact {entity} {key} unset by {by} (version {version})"),
        Event::FactRecorded {
            entity,
            key,
            value,
            version,
            by,
            ..
        } => format!(
            "fact {entity} {key} = {value} set by {} (version {version})",
            by.as_deref().unwrap_or("the operator")
        ),
        Event::NoteAdded { step, note, .. } => format!("{step}: note {note} remembered"),
        Event::NoteForgotten { note } => format!("note {note} forgotten"),
        Event::TimerSet { step, due_at, .. } => {
            format!("{step}: waiting until {}", format_ms(*due_at))
        }
        Event::StepHeld { step, reason, .. } => format!("{step}: held: {reason}"),
        Event::DeadlineSet {
            proposal,
            due_at,
            on_timeout,
            ..
        } => format!(
            "inbox {proposal}: decide by {} (then: {on_timeout})",
            format_ms(*due_at)
        ),
        Event::ProposalWithdrawn {
            proposal,
            step,
            reason,
        } => format!("{step}: inbox item {proposal} withdrawn ({reason})"),
        Event::TrustChanged {
            workflow,
            step,
            level,
            by,
            reason,
        } => {
            let what = if level == "promoted" {
                "promoted: its proposals are decided by policy"
            } else {
                "demoted: its proposals wait for the operator again"
            };
            let mut s = format!("{step}: {workflow}.{step} {what} (by {by})");
            if let Some(r) = reason {
                s.push_str(&format!(": {r}"));
            }
            s
        }
        Event::WorkflowChanged {
            path, changes, by, ..
        } => format!(
            "the run continues on {}, changed by {by}: {}",
            path.as_deref().unwrap_or("a new definition"),
            crate::text::count(changes.len(), "change")
        ),
        Event::StepRehearsed {
            step,
            would,
            summary,
            ..
        } => format!("{step}: dry run, would {would}: {summary}"),
        Event::ProposalReopened { proposal, step } => {
            format!("{step}: inbox item {proposal} back in the inbox (the run was resumed)")
        }
        Event::ProposalReminded {
            proposal,
            reminder,
            next_due,
            ..
        } => format!(
            "inbox {proposal}: no decision by its deadline; reminder {reminder}, next deadline {}",
            format_ms(*next_due)
        ),
        Event::OutcomeRecorded { step, values } => {
            let pairs = crate::memory::outcome_pairs(values);
            match step {
                Some(step) => format!("{step}: outcome {pairs}"),
                None => format!("outcome {pairs}"),
            }
        }
        Event::NoticeRaised {
            notice,
            schedule,
            summary,
            ..
        } => format!("notice {notice} about schedule {schedule}: {summary}"),
        Event::NoticeAcknowledged { notice, by, .. } => {
            format!("notice {notice} acknowledged by {by}")
        }
        Event::StepThrottled {
            step,
            target,
            rate,
            until,
            ..
        } => format!(
            "{step}: waits for its turn under the rate limit {} ({rate}) until {}",
            crate::connectors::Target::display_name(target),
            format_ms(*until)
        ),
        Event::StepWarned { step, warning, .. } => format!("{step}: warning: {warning}"),
        Event::ProposalUnsnoozed { proposal, step, by } => {
            format!("{step}: inbox item {proposal} unsnoozed by {by}")
        }
        Event::ProposalSnoozed {
            proposal,
            step,
            until,
            by,
        } => format!(
            "{step}: inbox item {proposal} snoozed by {by} until {}",
            format_ms(*until)
        ),
    }
}

/// What run 0 is, the first line of `aios log 0`.
const RUN_ZERO: &str = "run 0 is no workflow's run: it holds what happens outside runs (facts set and unset by hand, schedule notices, `aios llm prompt` calls)";

pub fn log(ctx: &Ctx, args: LogArgs) -> CmdResult {
    let journal = ctx.reader()?;
    if args.run != crate::journal::notices::NO_RUN {
        journal.run(args.run)?;
    }
    let events = journal.events(args.run)?;
    if args.json {
        let arr: Vec<_> = events
            .iter()
            .map(|e| {
                json!({
                    "seq": e.seq,
                    "at": format_ms(e.at),
                    "type": e.event.type_name(),
                    "step": e.event.step(),
                    "data": e.event,
                })
            })
            .collect();
        ui::print_json(&serde_json::Value::Array(arr));
        return Ok(Exit::Ok);
    }
    let s = ctx.ui.out();
    let mut out = String::new();
    if args.run == crate::journal::notices::NO_RUN {
        out.push_str(&format!("{}\n", s.dim(RUN_ZERO)));
        if events.is_empty() {
            out.push_str("nothing yet\n");
        }
    }
    for e in &events {
        out.push_str(&format!(
            "{:>5}  {}  {}\n",
            e.seq,
            s.dim(&format_ms(e.at)),
            describe(&e.event)
        ));
        if let Event::ProposalDecided { diff: Some(d), .. } = &e.event {
            for line in d.lines() {
                out.push_str(&format!("         {line}\n"));
            }
        }
        if let Event::WorkflowChanged { changes, diff, .. } = &e.event {
            for c in changes {
                out.push_str(&format!("         - {c}\n"));
            }
            for line in diff.lines() {
                out.push_str(&format!("         {line}\n"));
            }
        }
    }
    ui::print(&out);
    Ok(Exit::Ok)
}
