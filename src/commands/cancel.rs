//! `aios cancel RUN`: stop a run for good.

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::cli::CancelArgs;
use crate::error::Error;
use crate::journal::{Event, RunStatus};

pub fn cancel(ctx: &Ctx, args: CancelArgs) -> CmdResult {
    let mut journal = ctx.journal()?;
    let run = journal.run(args.run)?;
    // A failed run whose failure item waits is still open: cancelling it closes it
    // (and withdraws the item).
    let awaits_choice = run.status == RunStatus::Failed
        && journal.run_proposals(run.id)?.iter().any(|p| {
            p.kind == crate::journal::ProposalKind::Failure
                && p.status == crate::journal::ProposalStatus::Pending
        });
    if run.status.is_terminal() && !awaits_choice {
        let was = match run.status {
            RunStatus::Cancelled => "was already cancelled",
            RunStatus::Failed => "already failed",
            _ => "already succeeded",
        };
        return Err(
            Error::conflict(format!("run {} {was}; there is nothing to cancel", run.id))
                .with_hint(format!("see it with: aios show {}", run.id))
                .into(),
        );
    }
    journal.commit(
        run.id,
        &[Event::RunCancelled {
            reason: args.reason.clone(),
        }],
    )?;
    // A cancelled run never goes on: its secret inputs are forgotten.
    crate::secrets::Store::new(&ctx.data_dir).remove_run(&run.uid)?;
    let mut msg = format!(
        "run {} ({}) {}",
        run.id,
        run.workflow,
        ctx.ui.out().run_status(RunStatus::Cancelled)
    );
    if let (Some(owner), Some(exp)) = (&run.lease_owner, run.lease_expires)
        && exp > journal.now()
    {
        msg.push_str(&format!(
            "; process {owner} executing it stops within a second"
        ));
    }
    ui::println(&msg);
    Ok(Exit::Ok)
}
