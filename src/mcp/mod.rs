//! MCP (Model Context Protocol) tool servers, through the official SDK (`rmcp`):
//! their configuration (`[mcp.NAME]`, [`config`]), one connection and the API callers
//! use on it ([`Session`]: `list_tools`, `call_tool`), the per-process pool that starts
//! servers on first use and stops them ([`McpPool`]), the listing cache ([`cache`])
//! and the check of a call's arguments against a tool's input schema ([`schema`]).
//!
//! The `tool` step kind (`connectors::tool`) and `aios mcp` are built on this; a
//! tool-calling agent loop will use the same [`Session`] API.

pub mod cache;
pub mod config;
mod launch;
mod pool;
pub mod schema;
mod session;
mod types;

use std::sync::Arc;

use crate::clock::Millis;

pub use cache::Cache;
pub use config::{McpSettings, ServerConfig};
pub use pool::{Catalog, Lookup, McpPool, SecretFn};
pub use session::Session;
pub use types::{Annotations, Args, McpError, Progress, ProgressFn, ToolInfo, ToolResult};

/// A server's tools as known now.
#[derive(Debug, Clone)]
pub struct Listing {
    pub tools: Arc<[ToolInfo]>,
    /// When the listing comes from the cache: when it was fetched.
    pub cached_at: Option<Millis>,
}

impl Listing {
    pub fn tool(&self, name: &str) -> Option<&ToolInfo> {
        self.tools.iter().find(|t| t.name == name)
    }
}

/// Why a server's tools are not known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogError {
    /// No `[mcp.NAME]` in the config (the message says what is configured).
    NotConfigured(String),
    /// It could not be reached and nothing is cached (why).
    Unavailable(String),
}

/// Where checking and rendering a `tool` step find a server's tools.
pub trait ToolCatalog {
    fn tools(&self, server: &str) -> Result<Listing, CatalogError>;
}

/// A catalog that knows no server (for code paths without a configuration).
pub struct NoServers;

impl ToolCatalog for NoServers {
    fn tools(&self, server: &str) -> Result<Listing, CatalogError> {
        Err(CatalogError::NotConfigured(format!(
            "no MCP server `{server}` is configured"
        )))
    }
}

#[cfg(test)]
pub(crate) mod tests;
