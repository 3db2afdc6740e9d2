//! `aios fact …` and `aios memory …` arguments: facts with their history, notes
//! and the search over memory (clap derive only; no logic).

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

#[derive(Debug, Args)]
pub struct FactArgs {
    #[command(subcommand)]
    pub command: FactCommand,
}

#[derive(Debug, Subcommand)]
pub enum FactCommand {
    /// Set a fact; the previous value stays in its history
    Set(FactSetArgs),
    /// Print an entity's current facts, or one fact's value
    Get(FactGetArgs),
    /// Print every version of a fact, oldest first
    History(FactHistoryArgs),
    /// List the current facts of every entity, or of one
    List(FactListArgs),
    /// Unset a fact; its history keeps every version and the unset
    Unset(FactUnsetArgs),
}

#[derive(Debug, Args)]
pub struct FactListArgs {
    /// Only this entity, like customer:acme
    pub entity: Option<String>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct FactUnsetArgs {
    /// The entity, like customer:acme
    pub entity: String,
    /// The key, like plan
    pub key: String,
    /// Why it was unset (kept with the tombstone version)
    #[arg(long)]
    pub note: Option<String>,
    /// Print the tombstone version as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct FactSetArgs {
    /// The entity, like customer:acme
    pub entity: String,
    /// The key, like plan
    pub key: String,
    /// The value: JSON (42, true, [1,2], {"a":1}, "quoted") or plain text
    pub value: String,
    /// Why it changed (kept with this version)
    #[arg(long)]
    pub note: Option<String>,
    /// The inbox item whose decision this fact records
    #[arg(long, value_name = "ITEM")]
    pub decision: Option<i64>,
    /// Print the new version as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct FactGetArgs {
    /// The entity, like customer:acme
    pub entity: String,
    /// Only this key (prints its value alone)
    pub key: Option<String>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct FactHistoryArgs {
    pub entity: String,
    pub key: String,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MemoryArgs {
    #[command(subcommand)]
    pub command: MemoryCommand,
}

#[derive(Debug, Subcommand)]
pub enum MemoryCommand {
    /// Add a note
    Add(MemoryAddArgs),
    /// Search notes, decisions and outcomes
    Search(MemorySearchArgs),
    /// Remove a note from memory and every index
    Forget(MemoryForgetArgs),
    /// Add notes from a JSON Lines file in one transaction
    Import(MemoryImportArgs),
    /// List notes, oldest first
    List(MemoryListArgs),
}

#[derive(Debug, Args)]
pub struct MemoryListArgs {
    /// Only notes with this tag, like customer:acme
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MemoryAddArgs {
    /// The note's text
    pub text: String,
    /// A tag (repeatable), like customer:acme
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Where it comes from (default: manual)
    #[arg(long)]
    pub source: Option<String>,
    /// Print the note as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MemoryKindArg {
    Note,
    Decision,
    Outcome,
}

#[derive(Debug, Args)]
pub struct MemorySearchArgs {
    /// What to look for (free text)
    pub query: String,
    /// How many results
    #[arg(long, short, default_value_t = 5)]
    pub k: usize,
    /// Only documents of this kind (repeatable)
    #[arg(long, value_enum)]
    pub kind: Vec<MemoryKindArg>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MemoryForgetArgs {
    /// The note's id (from `aios memory search`)
    pub id: i64,
}

#[derive(Debug, Args)]
pub struct MemoryImportArgs {
    /// A file with one {"text", "tags"?, "source"?} object per line
    pub file: PathBuf,
    /// Print the new ids as JSON
    #[arg(long)]
    pub json: bool,
}
