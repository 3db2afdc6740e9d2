//! `aios check FILE...`: validate workflows without running anything.

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::cli::CheckArgs;
use crate::error::ErrorKind;

pub fn check(ctx: &Ctx, args: CheckArgs) -> CmdResult {
    let mut worst = Exit::Ok;
    let s = ctx.ui.out();
    for path in &args.files {
        match super::run::load_workflow(ctx, path) {
            Ok((_, wf)) => ui::println(&format!(
                "{} {} ({}, {})",
                s.green("ok"),
                path.display(),
                wf.name,
                crate::text::count(wf.steps.len(), "step")
            )),
            Err(e) => {
                // An invalid workflow (2) outranks a missing file (3).
                if worst != Exit::Usage {
                    worst = Exit::from(e.kind);
                }
                if e.kind != ErrorKind::Invalid {
                    ctx.ui.print_error(&anyhow::Error::from(e));
                } else {
                    ui::eprint(&format!(
                        "{} {}\n",
                        ctx.ui.err().red_bold("error:"),
                        e.message
                    ));
                }
            }
        }
    }
    Ok(worst)
}
