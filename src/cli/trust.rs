//! `aios persona …` and `aios trust …` arguments (clap derive only).

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct PersonaArgs {
    #[command(subcommand)]
    pub command: PersonaCommand,
}

#[derive(Debug, Subcommand)]
pub enum PersonaCommand {
    /// List the personas ([personas.NAME] in the config, and `default`)
    List(PersonaListArgs),
    /// Print a persona's effective scopes
    Show(PersonaShowArgs),
}

#[derive(Debug, Args)]
pub struct PersonaListArgs {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PersonaShowArgs {
    /// The persona's name
    pub name: String,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct TrustArgs {
    #[command(subcommand)]
    pub command: Option<TrustCommand>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Let a step's proposals be decided by policy from now on (journaled)
    Promote(TrustMarkArgs),
    /// Send a step back to asking (journaled)
    Demote(TrustMarkArgs),
}

#[derive(Debug, Args)]
pub struct TrustMarkArgs {
    /// WORKFLOW.STEP (the workflow's name, then the step's id)
    pub target: String,
    /// Why (kept in the journal)
    #[arg(long)]
    pub reason: Option<String>,
}
