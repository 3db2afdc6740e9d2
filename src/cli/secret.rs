//! `aios secret`: the secret store's command-line types.

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct SecretArgs {
    #[command(subcommand)]
    pub command: SecretCommand,
}

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Set a secret: typed on the terminal (not shown), or piped on stdin
    Set(SecretSetArgs),
    /// List secrets: names, where each is kept and when it was set (never values)
    List(SecretListArgs),
    /// Remove a secret from the store
    Rm(SecretNameArgs),
}

#[derive(Debug, Args)]
pub struct SecretSetArgs {
    /// The secret's name (letters, digits, `_`), as `secret("NAME")` reads it
    pub name: String,
    /// Refused: a value on the command line would stay in your shell history
    #[arg(hide = true, num_args = 0.., allow_hyphen_values = true)]
    pub value: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SecretListArgs {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SecretNameArgs {
    /// The secret's name
    pub name: String,
}
