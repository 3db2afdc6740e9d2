//! `aios llm …` arguments: the call log, a prompt through an alias, the models,
//! the providers' health (clap derive only; no logic).

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct LlmArgs {
    #[command(subcommand)]
    pub command: LlmCommand,
}

#[derive(Debug, Subcommand)]
pub enum LlmCommand {
    /// Show LLM calls, newest first: one line each, or prompts and replies with --full
    Log(LlmLogArgs),
    /// Send a prompt through a model alias and print the reply (journaled like any call)
    Prompt(LlmPromptArgs),
    /// List the model aliases and the models each provider reports
    Models(LlmModelsArgs),
    /// Check that each provider answers, accepts its key and serves its aliases' models
    Ping(LlmPingArgs),
}

#[derive(Debug, Args)]
pub struct LlmLogArgs {
    /// Only the calls of this run (0: those of `aios llm prompt`)
    #[arg(long, value_name = "RUN")]
    pub run: Option<i64>,
    /// Only the calls of this step
    #[arg(long, value_name = "STEP")]
    pub step: Option<String>,
    /// Only failed calls and invalid replies
    #[arg(long)]
    pub errors: bool,
    /// At most N calls (the newest)
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Show each call's prompt, reply and error in full
    #[arg(long)]
    pub full: bool,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LlmPromptArgs {
    /// The prompt
    pub prompt: String,
    /// The model alias ([models.ALIAS] in the config, or `heuristic`)
    #[arg(
        short = 'm',
        long = "model",
        value_name = "ALIAS",
        default_value = "default"
    )]
    pub model: String,
    /// A system prompt
    #[arg(long, value_name = "TEXT")]
    pub system: Option<String>,
    /// The reply's limit in tokens
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub max_tokens: u32,
    /// Print the call as JSON instead of the reply
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LlmModelsArgs {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LlmPingArgs {
    /// Only the provider of this model alias
    #[arg(short = 'm', long = "model", value_name = "ALIAS")]
    pub model: Option<String>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}
