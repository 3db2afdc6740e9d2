//! `aios cancel RUN`: stop a run for good (see [`crate::engine::cancel`]).

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::cli::CancelArgs;
use crate::journal::RunStatus;

pub fn cancel(ctx: &Ctx, args: CancelArgs) -> CmdResult {
    let mut journal = ctx.journal()?;
    let done = crate::engine::cancel::cancel(&mut journal, args.run, args.reason, &ctx.data_dir)?;
    let mut msg = format!(
        "run {} ({}) {}",
        done.run.id,
        done.run.workflow,
        ctx.ui.out().run_status(RunStatus::Cancelled)
    );
    if let Some(owner) = &done.executor {
        msg.push_str(&format!(
            "; process {owner} executing it stops within a second"
        ));
    }
    ui::println(&msg);
    Ok(Exit::Ok)
}
