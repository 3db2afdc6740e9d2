//! Command-line types (clap derive only; no logic).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod health;
pub use health::*;
mod config;
pub use config::*;
mod llm;
pub use llm::*;
mod mcp;
pub use mcp::*;
mod memory;
pub use memory::*;
mod notify;
pub use notify::*;
mod secret;
pub use secret::*;
mod trust;
pub use trust::*;
mod worker;
pub use worker::*;

#[derive(Debug, Parser)]
#[command(
    name = "aios",
    version,
    about = "Run durable TOML workflows whose side effects wait for your approval",
    long_about = None,
    propagate_version = true,
    arg_required_else_help = true,
    after_help = "Data lives in one SQLite file under the data directory, or under AIOS_HOME.\nDocs: README.md. Manual: `man aios`, `man aios-run`, … (install the pages of completions/man/: README \"Development\")"
)]
pub struct Cli {
    /// Keep config and data in DIR instead of the default locations (without the
    /// flag: the AIOS_HOME environment variable, when set)
    // AIOS_HOME is read by the command layer, not by clap: a value clap takes from
    // the environment shows in usage lines (`Usage: aios show --home <DIR> <RUN>`)
    // as if the flag were required.
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Set up: the data directory, a commented config.toml, the tick timer
    Init(InitArgs),
    /// Write a new workflow file from a library workflow or a minimal skeleton
    New(NewArgs),
    /// Check config, providers, tool servers, mail logins, secrets, ticking and the database
    Doctor(DoctorArgs),
    /// Start a run of a workflow file
    Run(RunArgs),
    /// Validate workflow files without running them
    Check(CheckArgs),
    /// Show what a run of a workflow would do, without running it: order, approvals, secrets, cost
    Plan(PlanArgs),
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
    /// Continue a waiting, failed or interrupted run (on a corrected file with --workflow)
    Resume(ResumeArgs),
    /// Cancel a run
    Cancel(CancelArgs),
    /// Propose the undo of a run's committed steps, latest first (their `undo`)
    Undo(UndoArgs),
    /// Rebuild a run's state from its events and compare it with the stored state
    Replay(ReplayArgs),
    /// Try prompts, list and check models, and inspect every LLM call
    Llm(LlmArgs),
    /// Print, show (secrets hidden) or edit config.toml
    Config(ConfigArgs),
    /// Set and read versioned facts (entity, key -> value)
    Fact(FactArgs),
    /// Add, search, forget and import memory notes
    Memory(MemoryArgs),
    /// Attach measured results to a run, or list them
    Outcome(OutcomeArgs),
    /// Show LLM spending today, this month and per workflow against the caps
    Budget(BudgetArgs),
    /// Show the last 30 days: LLM spend per day against the caps, items decided and
    /// the median time to decide, failures per workflow, outcomes over time
    Stats(StatsArgs),
    /// Print a shell completion script
    Completions(CompletionsArgs),
    /// Print the JSON Schema of workflow files or of config.toml (for editors)
    Schema(SchemaArgs),
    /// Register, list, pause, resume and remove scheduled workflows
    Schedule(ScheduleArgs),
    /// Fire the schedules that are due and continue runs that can go on
    Tick(TickArgs),
    /// Tick in a resident loop until interrupted (SIGINT/SIGTERM)
    Daemon(DaemonArgs),
    /// Claim queued runs (`aios run --detach`, tagged steps) and drive them, until interrupted
    Worker(WorkerArgs),
    /// List live workers with the runs they hold, and the runs queued for workers
    Workers(WorkersArgs),
    /// Register, list and remove inbound webhooks (for `aios serve`)
    Hook(HookArgs),
    /// Start workflows from signed HTTP requests (POST /hooks/NAME)
    Serve(ServeArgs),
    /// List MCP tool servers and their tools, or call a tool
    Mcp(McpArgs),
    /// Keep secrets for templates (`secret("NAME")`): set, list, remove
    Secret(SecretArgs),
    /// List personas and show their scopes (what a workflow may touch)
    Persona(PersonaArgs),
    /// Show how often each step's proposals were approved unchanged; promote or demote steps
    Trust(TrustArgs),
    /// Test the channels of [notify] and list what was sent to the operator
    Notify(NotifyArgs),
    /// One screen of health: ticking, pending items, schedules, breakers, spend, backups
    Status(StatusArgs),
    /// List the connector targets' circuit breakers, or close one by hand
    Breakers(BreakersArgs),
    /// Copy the database while it is in use (a consistent online backup)
    Backup(BackupArgs),
    /// Replace the database with a checked backup (the replaced one is kept aside)
    Restore(RestoreArgs),
    /// Copy this journal into a PostgreSQL database, rebuild its state there and compare
    Migrate(MigrateArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Install the tick timer (systemd user units) without asking
    #[arg(long, conflicts_with = "no_timer")]
    pub yes: bool,
    /// Do not install the tick timer, and do not ask
    #[arg(long)]
    pub no_timer: bool,
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// The workflow's name; the file is NAME.toml in the current directory (a name
    /// ending in .toml, or with a folder, is the file's path)
    #[arg(required_unless_present = "list")]
    pub name: Option<String>,
    /// Start from this library workflow (see --list) instead of the skeleton
    #[arg(long, value_name = "WORKFLOW")]
    pub from: Option<String>,
    /// List the library's workflows
    #[arg(long, conflicts_with_all = ["name", "from"])]
    pub list: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct HookArgs {
    #[command(subcommand)]
    pub command: HookCommand,
}

#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Register a hook that starts a workflow (prints its secret once)
    Add(HookAddArgs),
    /// List hooks
    List(ScheduleListArgs),
    /// Remove a hook and its secret
    Remove(HookNameArgs),
}

#[derive(Debug, Args)]
pub struct HookAddArgs {
    /// The hook's name (its URL is /hooks/NAME): letters, digits, `-`, `_`
    pub name: String,
    /// The workflow file (TOML) the hook starts
    pub file: PathBuf,
    /// Replace the secret of an existing hook with a new one
    #[arg(long, conflicts_with = "secret_stdin")]
    pub rotate: bool,
    /// How requests prove they come from the sender [default: aios for a new hook,
    /// else unchanged]
    #[arg(long, value_enum)]
    pub format: Option<HookFormatArg>,
    /// Pass the whole JSON body as this one input instead of one input per field
    #[arg(long, value_name = "INPUT")]
    pub payload: Option<String>,
    /// Take one input per field of the body again (undoes --payload)
    #[arg(long, conflicts_with = "payload")]
    pub fields: bool,
    /// How far a Stripe signature's timestamp may be from now, against replays
    /// [default: 5m for a new hook, else unchanged]
    #[arg(long, value_name = "DURATION")]
    pub tolerance: Option<String>,
    /// Read the secret from stdin (one trailing newline dropped) instead of making
    /// one; a Stripe hook takes Stripe's signing secret this way
    #[arg(long)]
    pub secret_stdin: bool,
}

/// The signature scheme of a hook's sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HookFormatArg {
    /// X-Aios-Signature: sha256=HEX, or Authorization: Bearer SECRET
    Aios,
    /// GitHub: X-Hub-Signature-256: sha256=HEX
    Github,
    /// Stripe: Stripe-Signature: t=TIMESTAMP,v1=HEX
    Stripe,
}

#[derive(Debug, Args)]
pub struct HookNameArgs {
    /// The hook's name
    pub name: String,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on (loopback by default; port 0 picks a free one)
    #[arg(long, default_value = "127.0.0.1:8787", value_name = "HOST:PORT")]
    pub addr: String,
    /// Refuse request bodies larger than this many bytes (413)
    #[arg(long, default_value_t = 1_048_576, value_name = "BYTES")]
    pub max_body: usize,
    /// How long a request's head may take to arrive, and then its body
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    pub read_timeout: String,
    /// Open connections at most (past it, the longest-waiting one is closed)
    #[arg(long, default_value_t = 1024, value_name = "N")]
    pub max_connections: usize,
    /// Threads driving accepted runs
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub workers: usize,
}

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    #[command(subcommand)]
    pub command: ScheduleCommand,
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Register a workflow's [trigger], cron or imap (stores its path and a snapshot)
    Add(ScheduleAddArgs),
    /// List schedules: next fire, last fire, last result, health
    List(ScheduleListArgs),
    /// Stop firing a schedule until it is resumed
    Pause(ScheduleNameArgs),
    /// Fire a paused schedule again (instants that passed while paused are not run)
    Resume(ScheduleNameArgs),
    /// Remove a schedule (its runs and fire history stay in the journal)
    Remove(ScheduleNameArgs),
    /// Print a crontab line and a systemd user timer that run `aios tick` every minute
    Install(ScheduleInstallArgs),
}

#[derive(Debug, Args)]
pub struct ScheduleInstallArgs {
    /// Write the systemd user units to ~/.config/systemd/user/ (the crontab is never edited)
    #[arg(long)]
    pub write: bool,
}

#[derive(Debug, Args)]
pub struct ScheduleAddArgs {
    /// The workflow file (TOML) with a [trigger] table
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct ScheduleListArgs {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ScheduleNameArgs {
    /// The schedule's name (the workflow's `name`)
    pub name: String,
}

#[derive(Debug, Args)]
pub struct TickArgs {
    /// Print what was done as JSON
    #[arg(long)]
    pub json: bool,
    /// Print nothing unless something failed
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// How often to tick
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub every: String,
    /// Tick this many times, then exit (default: until interrupted)
    #[arg(long, value_name = "N")]
    pub ticks: Option<u64>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The workflow file (TOML)
    pub file: PathBuf,
    /// Set an input: NAME=VALUE (repeatable)
    #[arg(short, long = "input", value_name = "NAME=VALUE")]
    pub inputs: Vec<String>,
    /// Rehearse the run: compute values and drafts, render every action exactly as
    /// it would be proposed, commit nothing (a dry run, kept apart from real runs)
    #[arg(long)]
    pub dry_run: bool,
    /// In a dry run, let agent steps call the configured models (they really pay)
    /// instead of the offline drafts
    #[arg(long, requires = "dry_run")]
    pub with_llm: bool,
    /// Print the run as JSON when the command ends
    #[arg(long)]
    pub json: bool,
    /// Do not print progress
    #[arg(short, long)]
    pub quiet: bool,
    /// Create the run and queue it for a worker (`aios worker`) instead of driving
    /// it here; exits at once
    #[arg(long, conflicts_with = "dry_run")]
    pub detach: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The workflow file (TOML)
    pub file: PathBuf,
    /// Set an input: NAME=VALUE (repeatable); conditions that read only inputs are
    /// evaluated with them
    #[arg(short, long = "input", value_name = "NAME=VALUE")]
    pub inputs: Vec<String>,
    /// Print the plan as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Workflow files to check
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Print the diagnostics as JSON (file, line, column, end, severity, message, hint)
    #[arg(long)]
    pub json: bool,
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
    /// Show a snoozed item in the inbox again now
    Unsnooze(InboxUnsnoozeArgs),
}

#[derive(Debug, Args)]
pub struct InboxUnsnoozeArgs {
    /// The item's id
    pub id: i64,
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
    /// Commit this edited action instead (a JSON or TOML file; see `aios inbox show ID --action`); for a rescue, the step's reply (JSON checked against its schema, or text)
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
    /// For a budget stop: let this run spend USD more than its caps
    #[arg(long, value_name = "USD", conflicts_with_all = ["edit", "fields", "done", "switch"])]
    pub raise: Option<String>,
    /// For a budget stop: use the step's next model instead
    #[arg(long, conflicts_with_all = ["edit", "fields", "done"])]
    pub switch: bool,
    /// For a rescue: accept the step's offline draft as its reply
    #[arg(long, conflicts_with_all = ["edit", "fields", "done", "raise", "switch"])]
    pub offline: bool,
    /// For a failure: skip the failed step and continue the run (when the step says on_reject = "skip")
    #[arg(long, conflicts_with_all = ["edit", "fields", "done", "raise", "switch", "offline"])]
    pub skip: bool,
    /// For a failure: leave the run failed and propose the undo of its committed steps
    #[arg(long, conflicts_with_all = ["edit", "fields", "done", "raise", "switch", "offline", "skip"])]
    pub compensate: bool,
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
    /// Every run (however long the history)
    #[arg(long, conflicts_with = "limit")]
    pub all: bool,
    /// List dry runs (`aios run --dry-run`) instead of real runs
    #[arg(long)]
    pub dry: bool,
    /// With --dry: remove every dry run (and its events) instead of listing them
    #[arg(long, requires = "dry", conflicts_with_all = ["status", "json"])]
    pub prune: bool,
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
    /// The run's id (0: what happened outside runs, like facts set by hand)
    pub run: i64,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The run's id
    pub run: i64,
    /// Continue on this corrected workflow file instead of the run's snapshot (steps
    /// that finished keep their output; see README "Steering runs")
    #[arg(long, value_name = "FILE")]
    pub workflow: Option<PathBuf>,
    /// Print the run as JSON when the command ends
    #[arg(long)]
    pub json: bool,
    /// Do not print progress
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct UndoArgs {
    /// The run's id
    pub run: i64,
    /// Undo only these steps (default: every committed step that declares an `undo`)
    pub steps: Vec<String>,
    /// List what would be undone, and what cannot be, without proposing anything
    #[arg(long)]
    pub plan: bool,
    /// Print the plan, or the compensation run, as JSON
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
pub struct SchemaArgs {
    /// Which file format
    #[arg(value_enum)]
    pub which: SchemaWhich,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemaWhich {
    /// A workflow file (workflows/*.toml)
    Workflow,
    /// config.toml
    Config,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct BudgetArgs {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct OutcomeArgs {
    /// The run's id
    pub run: i64,
    /// Measured results: NAME=VALUE (JSON or text); none lists the run's outcomes
    #[arg(value_name = "NAME=VALUE")]
    pub values: Vec<String>,
    /// Print the run's outcomes as JSON
    #[arg(long)]
    pub json: bool,
}
