//! Command-line types (clap derive only; no logic).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "aios",
    version,
    about = "Run durable TOML workflows whose side effects wait for your approval",
    long_about = None,
    propagate_version = true,
    arg_required_else_help = true,
    after_help = "Data lives in one SQLite file under the data directory, or under AIOS_HOME.\nDocs: README.md"
)]
pub struct Cli {
    /// Keep config and data in DIR instead of the default locations
    #[arg(long, global = true, env = "AIOS_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a run of a workflow file
    Run(RunArgs),
    /// Validate workflow files without running them
    Check(CheckArgs),
    /// Review what waits for your decision: a full-screen TUI on a terminal, else the list
    Inbox(InboxArgs),
    /// Approve an inbox item, commit its action and continue the run
    Approve(ApproveArgs),
    /// Reject an inbox item and continue the run
    Reject(RejectArgs),
    /// List runs
    Runs(RunsArgs),
    /// Show a run: steps, status, outputs and timeline
    Show(ShowArgs),
    /// Print a run's events in order
    Log(LogArgs),
    /// Continue a waiting, failed or interrupted run
    Resume(ResumeArgs),
    /// Cancel a run
    Cancel(CancelArgs),
    /// Rebuild a run's state from its events and compare it with the stored state
    Replay(ReplayArgs),
    /// Print a shell completion script
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The workflow file (TOML)
    pub file: PathBuf,
    /// Set an input: NAME=VALUE (repeatable)
    #[arg(short, long = "input", value_name = "NAME=VALUE")]
    pub inputs: Vec<String>,
    /// Print the run as JSON when the command ends
    #[arg(long)]
    pub json: bool,
    /// Do not print progress
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Workflow files to check
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InboxArgs {
    #[command(subcommand)]
    pub command: Option<InboxCommand>,
}

#[derive(Debug, Subcommand)]
pub enum InboxCommand {
    /// List pending items (the default)
    List(InboxListArgs),
    /// Show one item in full: the exact action, its evidence, its run and step
    Show(InboxShowArgs),
}

#[derive(Debug, Args, Default)]
pub struct InboxListArgs {
    /// Include decided and cancelled items
    #[arg(long)]
    pub all: bool,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InboxShowArgs {
    /// The item's id
    pub id: i64,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
    /// Print only the action, as JSON ready to edit for `aios approve --edit`
    #[arg(long, conflicts_with = "json")]
    pub action: bool,
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The inbox item's id
    pub id: i64,
    /// Commit this edited action instead (a JSON or TOML file; see `aios inbox show ID --action`)
    #[arg(long, value_name = "FILE")]
    pub edit: Option<PathBuf>,
    /// Fill in a field of an approval gate: NAME=VALUE (repeatable)
    #[arg(long = "field", value_name = "NAME=VALUE")]
    pub fields: Vec<String>,
    /// For an interrupted step: it did happen; mark it done instead of running it again
    #[arg(long, conflicts_with_all = ["edit", "fields"])]
    pub done: bool,
    /// A note kept with the decision
    #[arg(long)]
    pub reason: Option<String>,
    /// Commit the decision but do not continue the run
    #[arg(long)]
    pub no_resume: bool,
    /// Approve a STALE item (its evidence changed since it was proposed)
    #[arg(long)]
    pub confirm_stale: bool,
    /// Print the run as JSON when the command ends
    #[arg(long)]
    pub json: bool,
    /// Do not print progress
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct RejectArgs {
    /// The inbox item's id
    pub id: i64,
    /// Why (kept with the decision and shown to the run)
    #[arg(long, required = true)]
    pub reason: String,
    /// Record the decision but do not continue the run
    #[arg(long)]
    pub no_resume: bool,
    /// Print the run as JSON when the command ends
    #[arg(long)]
    pub json: bool,
    /// Do not print progress
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StatusArg {
    Running,
    Waiting,
    Succeeded,
    Failed,
    Cancelled,
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Only runs with this status
    #[arg(long, value_enum)]
    pub status: Option<StatusArg>,
    /// At most this many runs, newest first
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The run's id
    pub run: i64,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// The run's id
    pub run: i64,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The run's id
    pub run: i64,
    /// Print the run as JSON when the command ends
    #[arg(long)]
    pub json: bool,
    /// Do not print progress
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The run's id
    pub run: i64,
    /// Why (kept in the journal)
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The run's id (default: every run)
    pub run: Option<i64>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}
