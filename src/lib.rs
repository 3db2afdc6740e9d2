//! aios: durable TOML workflows whose side effects wait for the operator's approval.
//!
//! Code map:
//! - [`agent`]: LLM providers, structured replies, cost estimates and budgets
//! - [`workflow`]: TOML source -> validated [`workflow::Workflow`] (diagnostics with spans)
//! - [`template`]: the minijinja environment and run-time template context
//! - [`text`]: counted nouns in the right number (one helper for every plural)
//! - [`engine`]: the pure run state machine and the driver that performs its effects
//! - [`journal`]: the SQLite event log and its projections; the only place with SQL
//! - [`connectors`]: one file per connector (shell, http, file, tool, email): its step
//!   fields, render, describe, validate, commit; the resources commits share
//! - [`mail`]: email in: IMAP accounts, the `[trigger] imap` that starts a run per
//!   message (exactly once), reading MIME, saving attachments beneath the data dir
//! - [`mcp`]: MCP tool servers: config, sessions (`list_tools`, `call_tool`), the
//!   per-process pool, the listing cache, argument checks
//! - [`inbox`]: deciding inbox items (one path for every front end), what an item
//!   shows and what may be answered to it (one view and one list of choices for every
//!   front end), and the inbox's one order
//! - [`memory`]: facts, notes, decisions and outcomes; search and prompt retrieval
//! - [`plan`]: what a run of a workflow would do, statically (`aios plan`)
//! - [`smtp`]: SMTP accounts (`[smtp]` in config.toml) and sending one message
//!   through one, saying whether a failure may have delivered it
//! - [`rate`]: rate limits per connector target (`[rate]`), shared through the journal
//! - [`secrets`]: the secret store, `secret("NAME")` placeholders, resolution at
//!   commit, redaction of what is kept, and keeping secrets out of steps' reach
//! - [`trust`]: personas (capability scopes checked at render, on an edit and at
//!   commit; literal violations for `aios check`) and autonomy rules that decide
//!   proposals as `policy:NAME` through [`inbox::decide`]
//! - [`commands`]: the CLI front end; the only module that prints
//! - [`tui`]: the inbox TUI (`aios inbox`): model / message / update / view
//!
//! Invariants (see DESIGN.md): the state machine does no IO; every state change is an
//! event appended in the same transaction as its projections; a run resumes from the
//! workflow snapshot stored with it; input is parsed, then validated, then executed;
//! secrets never enter the journal; the library never prints or exits.

pub mod agent;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod connectors;
pub mod engine;
pub mod error;
pub mod health;
pub mod inbox;
pub mod journal;
pub mod mail;
pub mod mcp;
pub mod memory;
pub mod notify;
pub mod plan;
pub mod rate;
pub mod schedule;
pub mod secrets;
pub mod smtp;
pub mod template;
pub mod text;
pub mod trust;
pub mod tui;
pub mod workflow;
