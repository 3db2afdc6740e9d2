//! `aios breakers`, `aios status`, `aios backup` and `aios restore`: the
//! command-line types of the operator's health commands.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BreakersArgs {
    #[command(subcommand)]
    pub command: Option<BreakersCommand>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum BreakersCommand {
    /// Close a target's open breaker by hand (the held steps go at the next tick)
    Close(BreakerCloseArgs),
}

#[derive(Debug, Args)]
pub struct BreakerCloseArgs {
    /// The target, as `aios breakers` lists it (http:HOST, smtp:ACCOUNT, mcp:SERVER,
    /// llm:PROVIDER)
    pub target: String,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the copy (a file, or a folder to put `aios-DATE.db` in)
    /// [default: the `[backup] dir`, else `backups/` in the data folder]
    pub path: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup to restore (made by `aios backup`)
    pub path: PathBuf,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The PostgreSQL database to copy into: postgres://USER[:PASSWORD]@HOST[:PORT]/DB
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// Copy into a database that is not empty, replacing the aios journal there
    /// (other tables are left alone)
    #[arg(long)]
    pub force: bool,
    /// Copy runs that are still running or leased, as they stand
    #[arg(long)]
    pub allow_active: bool,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
    /// Report progress on stderr every this many events
    #[arg(long, value_name = "N", default_value_t = 5000, hide = true)]
    pub progress_every: u64,
}
