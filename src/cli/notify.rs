//! `aios notify …` arguments (clap derive only).

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct NotifyArgs {
    #[command(subcommand)]
    pub command: NotifyCommand,
}

#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Send a test message now through one channel of [notify], or all of them
    Test(NotifyTestArgs),
    /// List the channels of [notify] and the latest notifications with their status
    List(NotifyListArgs),
}

#[derive(Debug, Args)]
pub struct NotifyTestArgs {
    /// The channel ([notify.NAME] in the config); all channels when omitted
    pub channel: Option<String>,
}

#[derive(Debug, Args)]
pub struct NotifyListArgs {
    /// How many notifications to show
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}
