//! `aios approve` and `aios reject`: record a decision (through [`crate::inbox`]),
//! then commit it and continue the run in the foreground.

use super::ui::{self, Progress};
use super::{CmdResult, Ctx, Exit};
use crate::cli::{ApproveArgs, RejectArgs};
use crate::engine::{self, Mode};
use crate::error::{Error, ErrorKind};
use crate::inbox::{self, DecideRequest, Edit};
use crate::journal::{Decision, FailureChoice, ProposalKind, ProposalRecord};

pub fn approve(ctx: &Ctx, args: ApproveArgs) -> CmdResult {
    let edit = match &args.edit {
        Some(path) => Some({
            let env = ctx.run_env()?;
            Edit {
                origin: path.display().to_string(),
                text: std::fs::read_to_string(path).map_err(|e| {
                    Error::new(
                        if e.kind() == std::io::ErrorKind::NotFound {
                            ErrorKind::NotFound
                        } else {
                            ErrorKind::Invalid
                        },
                        format!("cannot read the edit {}: {e}", path.display()),
                    )
                })?,
                secrets: env.secrets,
                trust: env.trust,
            }
        }),
        None => None,
    };
    let mut fields = super::split_pairs(&args.fields, "--field")?;
    if let Some(usd) = &args.raise {
        fields.push(("raise_usd".into(), usd.clone()));
    }
    if args.switch {
        fields.push(("switch".into(), "true".into()));
    }
    if args.offline {
        fields.push((crate::inbox::choices::OFFLINE.into(), "true".into()));
    }
    if args.skip {
        fields.push((crate::inbox::choices::SKIP.into(), "true".into()));
    }
    if args.compensate {
        fields.push((crate::inbox::choices::COMPENSATE.into(), "true".into()));
    }
    let req = DecideRequest {
        decision: if args.done {
            Decision::Done
        } else {
            Decision::Approve
        },
        reason: args.reason.clone(),
        edit,
        fields,
        by: ctx.operator(),
        confirm_stale: args.confirm_stale,
    };
    decide_and_continue(ctx, args.id, req, args.no_resume, args.json, args.quiet)
}

pub fn reject(ctx: &Ctx, args: RejectArgs) -> CmdResult {
    if args.reason.trim().is_empty() {
        return Err(Error::invalid("a rejection needs a reason")
            .with_hint("say why with --reason \"...\"")
            .into());
    }
    let req = DecideRequest {
        decision: Decision::Reject,
        reason: Some(args.reason.clone()),
        edit: None,
        fields: Vec::new(),
        by: ctx.operator(),
        confirm_stale: false,
    };
    decide_and_continue(ctx, args.id, req, args.no_resume, args.json, args.quiet)
}

fn decide_and_continue(
    ctx: &Ctx,
    id: i64,
    req: DecideRequest,
    no_resume: bool,
    json: bool,
    quiet: bool,
) -> CmdResult {
    let mut journal = ctx.journal()?;
    let p = inbox::decide(&mut journal, id, req)?;
    if p.kind == crate::journal::ProposalKind::Notice {
        if json {
            ui::print_json(&super::inbox::item_json(&p));
        } else {
            ui::println(&format!(
                "notice {} about schedule {} acknowledged",
                p.id, p.workflow
            ));
        }
        return Ok(Exit::Ok);
    }
    if !json {
        ui::eprint(&format!("{}\n", decided_line(&p)));
    }
    if p.kind == ProposalKind::Failure
        && (p.decision == Some(Decision::Reject)
            || FailureChoice::of(p.fields.as_ref()) == FailureChoice::Compensate)
    {
        return closed(ctx, &mut journal, &p, json);
    }
    let mode = if no_resume {
        Mode::CommitDecided
    } else {
        Mode::Continue
    };
    let mut progress = Progress::new(ctx.ui, quiet || json);
    match engine::resume(&mut journal, p.run_id, &ctx.run_env()?, &mut progress, mode) {
        Ok(outcome) => super::run::report(ctx, &journal, &outcome, json),
        Err(e) if e.kind == ErrorKind::Conflict => {
            // Another live process executes the run; it picks the decision up itself.
            ui::eprint(&format!(
                "{} the decision is recorded; {}\n",
                ctx.ui.err().cyan_bold("note:"),
                e.message
            ));
            if json {
                ui::print_json(&super::show::run_json(&journal, p.run_id)?);
            }
            Ok(Exit::Ok)
        }
        Err(e) => Err(e.into()),
    }
}

/// A failure item abandoned (rejected) or compensated: the run stays failed; a
/// compensation is proposed as a run of its own.
fn closed(
    ctx: &Ctx,
    journal: &mut crate::journal::Journal,
    p: &ProposalRecord,
    json: bool,
) -> CmdResult {
    if p.decision == Some(Decision::Reject) {
        if json {
            ui::print_json(&super::show::run_json(journal, p.run_id)?);
        } else {
            ui::println(&format!(
                "run {} ({}) abandoned: it stays {}",
                p.run_id,
                p.workflow,
                ctx.ui.out().run_status(crate::journal::RunStatus::Failed)
            ));
        }
        return Ok(Exit::Ok);
    }
    super::undo::propose_and_report(ctx, journal, p.run_id, &[], json, false)
}

fn decided_line(p: &ProposalRecord) -> String {
    let verb = match p.decision {
        Some(Decision::Approve) if p.kind == crate::journal::ProposalKind::Rescue => {
            match p.fields.as_ref().and_then(|f| f["rescue"].as_str()) {
                Some("edit") => "rescued with your reply",
                Some("offline") => "rescued with the offline draft",
                _ => "approved: the step runs again",
            }
        }
        Some(Decision::Approve) if p.kind == ProposalKind::Failure => {
            match FailureChoice::of(p.fields.as_ref()) {
                FailureChoice::Retry => "approved: the failed step runs again",
                FailureChoice::Skip => "approved: the failed step is skipped",
                FailureChoice::Compensate => "approved: the run is closed and its undo proposed",
            }
        }
        Some(Decision::Reject) if p.kind == ProposalKind::Failure => {
            "rejected: the run is abandoned"
        }
        Some(Decision::Approve) if p.edited.is_some() => "approved with edits",
        Some(Decision::Approve) => "approved",
        Some(Decision::Reject) => "rejected",
        Some(Decision::Done) => "marked done",
        None => "decided",
    };
    format!(
        "inbox {} {verb} (run {}, step {})",
        p.id, p.run_id, p.step_id
    )
}
