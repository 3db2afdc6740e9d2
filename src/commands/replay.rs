//! `aios replay [RUN]`: rebuild runs' state from their events and compare.

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::cli::ReplayArgs;

pub fn replay(ctx: &Ctx, args: ReplayArgs) -> CmdResult {
    let mut journal = ctx.journal()?;
    let ids: Vec<i64> = match args.run {
        Some(id) => vec![id],
        None => journal
            .runs(None, usize::MAX >> 1)?
            .iter()
            .map(|r| r.id)
            .collect(),
    };
    let s = ctx.ui.out();
    let mut bad = 0;
    for id in ids {
        let report = journal.replay(id)?;
        if report.differences.is_empty() {
            ui::println(&format!(
                "{} run {id}: {} events replay to the stored state",
                s.green("ok"),
                report.events
            ));
        } else {
            bad += 1;
            ui::println(&format!(
                "{} run {id}: the stored state differs from its events:",
                s.red_bold("mismatch")
            ));
            for d in &report.differences {
                ui::println(&format!("  {d}"));
            }
        }
    }
    Ok(if bad == 0 { Exit::Ok } else { Exit::Failed })
}
