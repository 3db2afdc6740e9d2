//! `[mcp.NAME]` sections of the config file, typed: how to reach each tool server
//! (a command over stdio, or a streamable-HTTP URL), what environment or headers it
//! gets, and how long it may take to start.
//!
//! Values of `env` and `headers` are literal text or `secret("NAME")`, which names a
//! secret resolved only when the server is started (never stored in the journal,
//! never shown). Nothing here reads the process environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Value;

use crate::config::ConfigFile;
use crate::error::{Error, Result};

/// A value given to a server: literal text, or a secret named in the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigValue {
    Literal(String),
    /// `secret("NAME")`: resolved when the server starts.
    Secret(String),
}

/// How a server is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// A child process speaking MCP over its stdin/stdout.
    Stdio {
        /// The program and its arguments.
        command: Vec<String>,
        /// Its only environment besides the base variables (PATH, HOME, locale…).
        env: BTreeMap<String, ConfigValue>,
        /// Its working directory (absolute).
        cwd: PathBuf,
    },
    /// A streamable-HTTP endpoint.
    Http {
        url: String,
        headers: BTreeMap<String, ConfigValue>,
    },
}

/// One `[mcp.NAME]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    pub name: String,
    pub transport: Transport,
    /// How long starting (or connecting to) the server and listing its tools may take.
    pub startup_timeout: Duration,
}

/// Every configured server.
#[derive(Debug, Clone, Default)]
pub struct McpSettings {
    /// The config file's name, for messages.
    pub origin: String,
    pub servers: BTreeMap<String, ServerConfig>,
}

/// The default for `startup_timeout`.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// `rate` is read by [`crate::rate`] (README "Rate limits").
pub(crate) const KEYS: &[&str] = &[
    "command",
    "env",
    "cwd",
    "url",
    "headers",
    "startup_timeout",
    "rate",
];

impl McpSettings {
    pub fn get(&self, name: &str) -> Option<&ServerConfig> {
        self.servers.get(name)
    }

    /// The configured names, for messages: `a, b` or `none`.
    pub fn known(&self) -> String {
        if self.servers.is_empty() {
            "none".to_string()
        } else {
            self.servers.keys().cloned().collect::<Vec<_>>().join(", ")
        }
    }
}

impl ServerConfig {
    /// `stdio` or `http`.
    pub fn transport_name(&self) -> &'static str {
        match self.transport {
            Transport::Stdio { .. } => "stdio",
            Transport::Http { .. } => "http",
        }
    }

    /// What it runs or where it is, for listings (never a secret's value).
    pub fn target(&self) -> String {
        match &self.transport {
            Transport::Stdio { command, .. } => crate::connectors::shell::quote_argv(command),
            Transport::Http { url, .. } => url.clone(),
        }
    }

    /// A hash of how the server is reached (names of secrets, never their values):
    /// a cached tool listing made under another configuration is not used.
    pub fn fingerprint(&self) -> String {
        let text = format!("{:?}", self.transport);
        crate::journal::source_hash(&text)
    }

    /// The secret names it uses.
    pub fn secret_names(&self) -> Vec<&str> {
        let values = match &self.transport {
            Transport::Stdio { env, .. } => env.values(),
            Transport::Http { headers, .. } => headers.values(),
        };
        values
            .filter_map(|v| match v {
                ConfigValue::Secret(n) => Some(n.as_str()),
                ConfigValue::Literal(_) => None,
            })
            .collect()
    }
}

fn bad(origin: &str, key: &str, what: &str, hint: impl Into<String>) -> Error {
    Error::invalid(format!("{origin}: `{key}` {what}")).with_hint(hint.into())
}

/// `secret("NAME")` → the name.
pub fn secret_ref(s: &str) -> Option<&str> {
    let inner = s.trim().strip_prefix("secret(")?.strip_suffix(')')?.trim();
    let name = inner
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .or_else(|| inner.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))?;
    (!name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)))
    .then_some(name)
}

fn values(origin: &str, key: &str, v: &Value) -> Result<BTreeMap<String, ConfigValue>> {
    let t = v.as_table().ok_or_else(|| {
        bad(
            origin,
            key,
            "must be a table",
            format!("like {key} = {{ NAME = \"value\", TOKEN = 'secret(\"TOKEN\")' }}"),
        )
    })?;
    let mut out = BTreeMap::new();
    for (name, val) in t {
        let Value::String(s) = val else {
            return Err(bad(
                origin,
                &format!("{key}.{name}"),
                "must be a string",
                "quote it; a secret is written 'secret(\"NAME\")'",
            ));
        };
        let value = if s.trim_start().starts_with("secret(") {
            match secret_ref(s) {
                Some(n) => ConfigValue::Secret(n.to_string()),
                None => {
                    return Err(bad(
                        origin,
                        &format!("{key}.{name}"),
                        &format!("`{s}` is not a secret reference"),
                        "write it as 'secret(\"NAME\")' (letters, digits, `_`, `-`, `.`)",
                    ));
                }
            }
        } else {
            ConfigValue::Literal(s.clone())
        };
        out.insert(name.clone(), value);
    }
    Ok(out)
}

/// Type the `[mcp]` section of `cfg`. Relative `cwd` paths start at `base` (the
/// folder of the config file), which is also the default working directory.
pub fn from_config(cfg: &ConfigFile, base: &Path) -> Result<McpSettings> {
    let origin = cfg.origin();
    let o = origin.as_str();
    let mut s = McpSettings {
        origin: origin.clone(),
        servers: BTreeMap::new(),
    };
    let Some(section) = cfg.section("mcp") else {
        return Ok(s);
    };
    let section = section.as_table().ok_or_else(|| {
        bad(
            o,
            "mcp",
            "must be a table of servers",
            "write one [mcp.NAME] table per server",
        )
    })?;
    for (name, v) in section {
        let key = format!("mcp.{name}");
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(bad(
                o,
                &key,
                "is not a valid server name",
                "use letters, digits, `_` and `-`",
            ));
        }
        let t = v.as_table().ok_or_else(|| {
            bad(
                o,
                &key,
                "must be a table",
                format!("write it as [mcp.{name}] with command = [...] or url = \"...\""),
            )
        })?;
        for k in t.keys() {
            if !KEYS.contains(&k.as_str()) {
                let hint = crate::workflow::suggest::did_you_mean(k, KEYS.iter().copied())
                    .unwrap_or_else(|| format!("valid keys: {}", KEYS.join(", ")));
                return Err(bad(o, &format!("{key}.{k}"), "is not a known key", hint));
            }
        }
        let only_stdio = |k: &str| -> Result<()> {
            if t.contains_key(k) {
                return Err(bad(
                    o,
                    &format!("{key}.{k}"),
                    "only applies to a server started with `command`",
                    "an HTTP server takes url and headers",
                ));
            }
            Ok(())
        };
        let transport = match (t.get("command"), t.get("url")) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    o,
                    &key,
                    "has both `command` and `url`",
                    "a server is either started (command = [...], over stdio) or reached (url = \"...\", over HTTP)",
                ));
            }
            (None, None) => {
                return Err(bad(
                    o,
                    &key,
                    "needs `command` or `url`",
                    "command = [\"program\", \"arg\"] starts a server over stdio; url = \"http://…/mcp\" reaches one over HTTP",
                ));
            }
            (Some(c), None) => {
                if t.contains_key("headers") {
                    return Err(bad(
                        o,
                        &format!("{key}.headers"),
                        "only applies to a server reached by `url`",
                        "give a stdio server its settings in env = { … }",
                    ));
                }
                let command: Vec<String> = match c.as_array() {
                    Some(items) if !items.is_empty() => items
                        .iter()
                        .map(|i| i.as_str().map(str::to_string))
                        .collect::<Option<_>>()
                        .ok_or_else(|| {
                            bad(
                                o,
                                &format!("{key}.command"),
                                "must be a list of strings",
                                "like command = [\"node\", \"server.js\", \"stdio\"]",
                            )
                        })?,
                    _ => {
                        return Err(bad(
                            o,
                            &format!("{key}.command"),
                            "must be a non-empty list: the program and its arguments",
                            "like command = [\"node\", \"server.js\", \"stdio\"] (run without a shell)",
                        ));
                    }
                };
                if command[0].trim().is_empty() {
                    return Err(bad(
                        o,
                        &format!("{key}.command"),
                        "names no program",
                        "the first item is the program to run",
                    ));
                }
                let env = match t.get("env") {
                    Some(v) => values(o, &format!("{key}.env"), v)?,
                    None => BTreeMap::new(),
                };
                for k in env.keys() {
                    if k.is_empty() || k.contains('=') || k.contains('\0') {
                        return Err(bad(
                            o,
                            &format!("{key}.env.{k}"),
                            "is not a valid environment variable name",
                            "names hold letters, digits and `_`",
                        ));
                    }
                }
                let cwd = match t.get("cwd") {
                    Some(Value::String(p)) if !p.trim().is_empty() => base.join(p),
                    Some(_) => {
                        return Err(bad(
                            o,
                            &format!("{key}.cwd"),
                            "must be a folder path",
                            "like cwd = \"/srv/tools\" (relative paths start at the config file's folder)",
                        ));
                    }
                    None => base.to_path_buf(),
                };
                Transport::Stdio { command, env, cwd }
            }
            (None, Some(u)) => {
                only_stdio("env")?;
                only_stdio("cwd")?;
                let url = u.as_str().unwrap_or_default().to_string();
                let ok = reqwest::Url::parse(&url)
                    .map(|p| matches!(p.scheme(), "http" | "https"))
                    .unwrap_or(false);
                if !ok {
                    return Err(bad(
                        o,
                        &format!("{key}.url"),
                        "must be an http(s) URL",
                        "like url = \"http://127.0.0.1:3001/mcp\"",
                    ));
                }
                let headers = match t.get("headers") {
                    Some(v) => values(o, &format!("{key}.headers"), v)?,
                    None => BTreeMap::new(),
                };
                for (k, v) in &headers {
                    let name_ok = reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_ok();
                    let value_ok = match v {
                        ConfigValue::Literal(s) => {
                            reqwest::header::HeaderValue::from_str(s).is_ok()
                        }
                        ConfigValue::Secret(_) => true,
                    };
                    if !name_ok || !value_ok {
                        return Err(bad(
                            o,
                            &format!("{key}.headers.{k}"),
                            "is not a valid HTTP header",
                            "header names are letters, digits and `-`; values are printable text",
                        ));
                    }
                }
                Transport::Http { url, headers }
            }
        };
        let startup_timeout = match t.get("startup_timeout") {
            None => STARTUP_TIMEOUT,
            Some(Value::Integer(i)) if *i > 0 => Duration::from_secs(*i as u64),
            Some(Value::String(d)) => match crate::workflow::parse_duration(d) {
                Ok(d) if !d.is_zero() => d,
                _ => {
                    return Err(bad(
                        o,
                        &format!("{key}.startup_timeout"),
                        &format!("`{d}` is not a duration"),
                        crate::workflow::duration::DURATION_HINT,
                    ));
                }
            },
            Some(_) => {
                return Err(bad(
                    o,
                    &format!("{key}.startup_timeout"),
                    "must be a duration",
                    crate::workflow::duration::DURATION_HINT,
                ));
            }
        };
        s.servers.insert(
            name.clone(),
            ServerConfig {
                name: name.clone(),
                transport,
                startup_timeout,
            },
        );
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<McpSettings> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        std::fs::write(&p, text).unwrap();
        let cfg = ConfigFile::load(&p).unwrap();
        from_config(&cfg, Path::new("/etc/aios"))
    }

    #[test]
    fn stdio_and_http_servers_are_typed() {
        let s = load(
            r#"
[mcp.files]
command = ["node", "server.js", "stdio"]
env = { ROOT = "/srv", TOKEN = 'secret("FILES_TOKEN")' }
cwd = "tools"
startup_timeout = "5s"

[mcp.remote]
url = "https://example.com/mcp"
headers = { Authorization = 'secret("REMOTE_AUTH")', X-Team = "ops" }
"#,
        )
        .unwrap();
        let files = s.get("files").unwrap();
        assert_eq!(files.transport_name(), "stdio");
        assert_eq!(files.startup_timeout, Duration::from_secs(5));
        let Transport::Stdio { command, env, cwd } = &files.transport else {
            panic!("stdio")
        };
        assert_eq!(command, &["node", "server.js", "stdio"]);
        assert_eq!(env["ROOT"], ConfigValue::Literal("/srv".into()));
        assert_eq!(env["TOKEN"], ConfigValue::Secret("FILES_TOKEN".into()));
        assert_eq!(cwd, Path::new("/etc/aios/tools"));
        assert_eq!(files.secret_names(), vec!["FILES_TOKEN"]);
        assert_eq!(files.target(), "node server.js stdio");
        let remote = s.get("remote").unwrap();
        assert_eq!(remote.transport_name(), "http");
        assert_eq!(remote.startup_timeout, STARTUP_TIMEOUT);
        assert_eq!(remote.secret_names(), vec!["REMOTE_AUTH"]);
        assert_eq!(s.known(), "files, remote");
        // Secret values never reach the fingerprint; names and literals do.
        assert_ne!(files.fingerprint(), remote.fingerprint());
    }

    #[test]
    fn mistakes_name_the_key_and_hint() {
        let cases = [
            (
                "[mcp.a]\nurl = \"http://x\"\ncommand = [\"x\"]\n",
                "has both `command` and `url`",
            ),
            ("[mcp.a]\n", "needs `command` or `url`"),
            (
                "[mcp.a]\ncommand = []\n",
                "`mcp.a.command` must be a non-empty list",
            ),
            (
                "[mcp.a]\ncommand = [\"x\"]\ncomand = 1\n",
                "`mcp.a.comand` is not a known key",
            ),
            (
                "[mcp.a]\nurl = \"ftp://x\"\n",
                "`mcp.a.url` must be an http(s) URL",
            ),
            (
                "[mcp.a]\nurl = \"http://x\"\nenv = {}\n",
                "only applies to a server started with `command`",
            ),
            (
                "[mcp.a]\ncommand = [\"x\"]\nheaders = {}\n",
                "only applies to a server reached by `url`",
            ),
            (
                "[mcp.a]\ncommand = [\"x\"]\nenv = { K = 'secret(NAME)' }\n",
                "is not a secret reference",
            ),
            (
                "[mcp.a]\ncommand = [\"x\"]\nenv = { K = 1 }\n",
                "`mcp.a.env.K` must be a string",
            ),
            (
                "[mcp.a]\ncommand = [\"x\"]\nstartup_timeout = \"soon\"\n",
                "is not a duration",
            ),
            (
                "[mcp.\"a b\"]\ncommand = [\"x\"]\n",
                "is not a valid server name",
            ),
        ];
        for (text, want) in cases {
            let e = load(text).unwrap_err();
            assert!(e.message.contains(want), "{text}: {}", e.message);
            assert!(e.hint.is_some(), "{text}: no hint");
        }
    }

    #[test]
    fn secret_references_read_both_quotes() {
        assert_eq!(secret_ref("secret(\"A_B\")"), Some("A_B"));
        assert_eq!(secret_ref(" secret( 'x-1' ) "), Some("x-1"));
        assert_eq!(secret_ref("secret(\"\")"), None);
        assert_eq!(secret_ref("secret(\"a b\")"), None);
        assert_eq!(secret_ref("Bearer x"), None);
    }
}
