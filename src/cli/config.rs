//! `aios config …` arguments.

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the path of config.toml (whether or not it exists)
    Path,
    /// Print the configuration with its secrets hidden (`secret("NAME")` stays a name)
    Show(ConfigShowArgs),
    /// Open config.toml in $VISUAL or $EDITOR, then check that it still reads
    Edit,
}

#[derive(Debug, Args)]
pub struct ConfigShowArgs {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}
