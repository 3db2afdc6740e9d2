//! `aios backup [PATH]`: a consistent copy of the database while it is in use;
//! `aios restore PATH`: replace the database with a checked copy, keeping the
//! replaced one aside ([`crate::health::backup`]).

use std::path::PathBuf;

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::cli::{BackupArgs, RestoreArgs};
use crate::health::backup;

pub fn backup(ctx: &Ctx, args: BackupArgs) -> CmdResult {
    let settings = ctx.backup_settings()?;
    let mut journal = ctx.journal()?;
    let name = backup::manual_name(journal.now());
    let dest: PathBuf = match args.path {
        Some(p) if p.is_dir() || p.as_os_str().to_string_lossy().ends_with('/') => p.join(name),
        Some(p) => p,
        None => settings.dir.join(name),
    };
    let by = format!("aios backup {}", ctx.owner.as_string());
    let made = backup::backup(&mut journal, &dest, &by)?;
    ui::println(&format!(
        "{} backed up the database to {} ({})",
        ctx.ui.out().green("ok"),
        made.path.display(),
        crate::text::count(made.bytes, "byte")
    ));
    Ok(Exit::Ok)
}

pub fn restore(ctx: &Ctx, args: RestoreArgs) -> CmdResult {
    // A restore replaces the SQLite file: it would leave a PostgreSQL journal as it is.
    if ctx.pg_pool()?.is_some() {
        return Err(crate::journal::pg::not_supported("`aios restore`").into());
    }
    let r = backup::restore(&ctx.db_path(), &args.path, ctx.clock, ctx.open_options())?;
    let s = ctx.ui.out();
    ui::println(&format!(
        "{} restored {} ({}, {}; schema {})",
        s.green("ok"),
        r.from.path.display(),
        crate::text::count(r.from.runs as usize, "run"),
        crate::text::count(r.from.events as usize, "event"),
        r.from.schema
    ));
    ui::println(&format!(
        "the replaced database is kept as {} (restore it the same way to undo)",
        r.kept.display()
    ));
    Ok(Exit::Ok)
}
