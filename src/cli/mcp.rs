//! `aios mcp …` arguments (clap derive only).

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct McpArgs {
    #[command(subcommand)]
    pub command: McpCommand,
}

#[derive(Debug, Subcommand)]
pub enum McpCommand {
    /// List the configured tool servers with their status and tool count (starts each one)
    List(McpListArgs),
    /// List a server's tools: name, description, input schema, annotations
    Tools(McpToolsArgs),
    /// Call a tool once: at once when it is read-only, otherwise as a proposal in the inbox
    Call(McpCallArgs),
}

#[derive(Debug, Args)]
pub struct McpListArgs {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct McpToolsArgs {
    /// The server's name ([mcp.NAME] in the config)
    pub server: String,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct McpCallArgs {
    /// The server's name ([mcp.NAME] in the config)
    pub server: String,
    /// The tool to call
    pub tool: String,
    /// The arguments, a JSON object
    #[arg(long, value_name = "JSON", default_value = "{}")]
    pub args: String,
    /// How long to wait for the answer
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub timeout: String,
    /// Print the result (or the proposal's run) as JSON
    #[arg(long)]
    pub json: bool,
    /// Do not print progress
    #[arg(short, long)]
    pub quiet: bool,
}
