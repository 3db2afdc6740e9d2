//! What commits share: the environment children start with, and clients built on
//! first use and kept for as long as the driver runs (a run that only writes files
//! builds no HTTP client).
//!
//! Adding a resource (an SMTP transport per account, IMAP sessions) is one member
//! here, built lazily by its own accessor; connectors that do not use it are not
//! touched. Tool-server sessions are the process's [`McpPool`] (given by the caller
//! in [`ExecEnv`], shared by every driver of the process), each server started on
//! first use.

use std::sync::{Arc, OnceLock};

use super::ExecError;
use crate::mcp::McpPool;
use crate::secrets::Secrets;

/// What committing needs from the outside world, given by the caller.
#[derive(Debug, Clone, Default)]
pub struct ExecEnv {
    /// The only environment a shell child starts with (PATH, HOME, locale...).
    pub child_env: Vec<(String, String)>,
    /// The process's tool servers (none configured by default).
    pub mcp: Arc<McpPool>,
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
}

impl Resources {
    pub fn new(env: ExecEnv) -> Resources {
        Resources {
            env,
            secrets: Secrets::default(),
            http: OnceLock::new(),
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
