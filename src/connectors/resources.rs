//! What commits share: the environment children start with, and clients built on
//! first use and kept for as long as the driver runs (a run that only writes files
//! builds no HTTP client).
//!
//! Adding a resource (IMAP sessions) is one member here, built lazily by its own
//! accessor from what [`ExecEnv`] holds (its `config` for a connector's own
//! section); connectors that do not use it are not touched. The SMTP accounts and
//! the connections kept to them are [`Resources::smtp`]. Tool-server sessions are the process's [`McpPool`] (given by the caller
//! in [`ExecEnv`], shared by every driver of the process), each server started on
//! first use.

use std::sync::{Arc, OnceLock};

use super::ExecError;
use crate::clock::Clock;
use crate::config::ConfigFile;
use crate::mcp::McpPool;
use crate::secrets::Secrets;

/// What committing needs from the outside world, given by the caller.
#[derive(Debug, Clone, Default)]
pub struct ExecEnv {
    /// The only environment a shell child starts with (PATH, HOME, locale...).
    pub child_env: Vec<(String, String)>,
    /// The process's tool servers (none configured by default).
    pub mcp: Arc<McpPool>,
    /// The operator's configuration file, as read by the command layer: a connector
    /// types its own section from it (`[smtp]` for email) when it checks, renders or
    /// commits. Empty by default.
    pub config: Arc<ConfigFile>,
    /// The clock commits read (an email's `Date`): the journal's, so `AIOS_NOW`
    /// holds for them too.
    pub clock: Clock,
    /// The highest Landlock ABI shell steps may use (`AIOS_LANDLOCK_ABI`, a testing
    /// aid: 0 acts as if the kernel had no Landlock); `None`: the kernel's.
    pub landlock_abi: Option<i32>,
}

/// The bag of resources a commit draws from. Shared by every commit (and LLM call)
/// of one driver; each member is built on first use.
#[derive(Debug, Default)]
pub struct Resources {
    env: ExecEnv,
    secrets: Secrets,
    http: OnceLock<Result<reqwest::Client, String>>,
    /// The `[smtp]` accounts and the connections kept to them (email steps).
    smtp: OnceLock<Result<Arc<crate::smtp::Transport>, String>>,
}

impl Resources {
    pub fn new(env: ExecEnv) -> Resources {
        Resources {
            env,
            secrets: Secrets::default(),
            http: OnceLock::new(),
            smtp: OnceLock::new(),
        }
    }

    /// Commits resolve `secret("NAME")` from `secrets` (the run's view) and redact
    /// what comes back with it. A session that needs a secret when it connects (an
    /// SMTP password, a tool server's environment) resolves it here too.
    pub fn with_secrets(mut self, secrets: Secrets) -> Resources {
        self.secrets = secrets;
        self
    }

    /// The run's secrets.
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// The environment children start with.
    pub fn env(&self) -> &ExecEnv {
        &self.env
    }

    /// The HTTP client (connection pool), built on first use.
    pub fn http(&self) -> Result<reqwest::Client, ExecError> {
        self.http
            .get_or_init(|| {
                reqwest::Client::builder()
                    .user_agent(concat!("aios/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| format!("cannot build the HTTP client: {e}"))
            })
            .clone()
            .map_err(ExecError::fatal)
    }

    /// The SMTP accounts of the config (typed on first use) and the connections
    /// kept to them for the next message.
    pub fn smtp(&self) -> Result<Arc<crate::smtp::Transport>, ExecError> {
        self.smtp
            .get_or_init(|| {
                crate::smtp::config::from_config(&self.env.config)
                    .map(|s| Arc::new(crate::smtp::Transport::new(s)))
                    .map_err(|e| match e.hint {
                        Some(h) => format!("{} ({h})", e.message),
                        None => e.message,
                    })
            })
            .clone()
            .map_err(ExecError::fatal)
    }

    /// The process's tool servers; each starts on first use.
    pub fn mcp(&self) -> &McpPool {
        &self.env.mcp
    }

    /// Whether the HTTP client was built (for tests).
    #[cfg(test)]
    pub(crate) fn has_http(&self) -> bool {
        self.http.get().is_some()
    }
}
