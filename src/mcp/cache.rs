//! The tool listing of each server, cached under the data directory
//! (`mcp/NAME.json`): `aios check` validates tool steps against it when the server
//! is not running, and a proposal falls back to it when the server cannot be reached.
//! Written whenever a listing is fetched live (`aios mcp tools`, `aios mcp list`,
//! `aios check`, a run). A listing made under another configuration of the server
//! (another command or URL) is not used.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::config::ServerConfig;
use super::types::ToolInfo;
use crate::clock::{Clock, Millis};

#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    server: String,
    /// [`ServerConfig::fingerprint`] when it was listed.
    fingerprint: String,
    fetched_at: Millis,
    tools: Vec<ToolInfo>,
}

/// Where listings are cached, and the clock that stamps them.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
    clock: Clock,
}

impl Cache {
    /// Listings go to `data_dir/mcp/`.
    pub fn new(data_dir: &Path, clock: Clock) -> Cache {
        Cache {
            dir: data_dir.join("mcp"),
            clock,
        }
    }

    fn path(&self, server: &str) -> PathBuf {
        self.dir.join(format!("{server}.json"))
    }

    /// The cached listing of `cfg`'s server and when it was fetched, if one was made
    /// under the same configuration.
    pub fn load(&self, cfg: &ServerConfig) -> Option<(Millis, Vec<ToolInfo>)> {
        let text = std::fs::read_to_string(self.path(&cfg.name)).ok()?;
        let s: Stored = serde_json::from_str(&text).ok()?;
        (s.server == cfg.name && s.fingerprint == cfg.fingerprint())
            .then_some((s.fetched_at, s.tools))
    }

    /// Store a listing (a temporary file renamed into place). Best effort: a cache
    /// that cannot be written is only a cache.
    pub fn store(&self, cfg: &ServerConfig, tools: &[ToolInfo]) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let s = Stored {
            server: cfg.name.clone(),
            fingerprint: cfg.fingerprint(),
            fetched_at: self.clock.now_ms(),
            tools: tools.to_vec(),
        };
        let text = serde_json::to_string_pretty(&s).map_err(std::io::Error::other)?;
        let tmp = self
            .dir
            .join(format!(".{}.json.tmp-{}", cfg.name, std::process::id()));
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, self.path(&cfg.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::config::{STARTUP_TIMEOUT, Transport};
    use serde_json::json;

    fn server(name: &str, url: &str) -> ServerConfig {
        ServerConfig {
            name: name.into(),
            transport: Transport::Http {
                url: url.into(),
                headers: Default::default(),
            },
            startup_timeout: STARTUP_TIMEOUT,
        }
    }

    #[test]
    fn a_listing_reads_back_under_the_same_configuration_only() {
        let dir = tempfile::tempdir().unwrap();
        let at: jiff::Timestamp = "2026-11-21T09:30:00Z".parse().unwrap();
        let cache = Cache::new(dir.path(), Clock::Fixed(at));
        let a = server("a", "http://127.0.0.1:1/mcp");
        assert!(cache.load(&a).is_none());
        let tools = vec![ToolInfo {
            name: "echo".into(),
            title: None,
            description: Some("Echoes".into()),
            input_schema: json!({"type": "object"}),
            output_schema: None,
            annotations: Default::default(),
        }];
        cache.store(&a, &tools).unwrap();
        let (when, back) = cache.load(&a).unwrap();
        assert_eq!(when, at.as_millisecond());
        assert_eq!(back, tools);
        // The same name reached another way is another server: its listing is unknown.
        assert!(cache.load(&server("a", "http://127.0.0.1:2/mcp")).is_none());
        assert!(dir.path().join("mcp/a.json").is_file());
    }
}
