//! The agent's configuration, typed from the config file's sections:
//! `[providers.NAME]`, `[models.ALIAS]`, `[budget]` and `[secrets]`.
//!
//! API keys are resolved by the command layer (environment, then the secrets file)
//! through the `secret` lookup it passes in; this module never reads the environment.
//! A key is held as a [`Secret`] (its `Debug` is redacted) and only ever goes into
//! an HTTP header.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use toml::Value;

use super::sampling::{self, Sampling};
use crate::config::ConfigFile;
use crate::error::{Error, Result};

const KIND_HINT: &str = "kind = \"openai\" (any OpenAI-compatible server: llama.cpp, vLLM, LM Studio, OpenRouter), \"ollama\" or \"anthropic\"";

/// Which wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// OpenAI Chat Completions: OpenAI, Ollama, llama.cpp server, vLLM, OpenRouter, Groq...
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
    /// Ollama's own chat API (`/api/chat`), which takes a JSON Schema as `format`.
    Ollama,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Ollama => "ollama",
        }
    }
}

/// An API key (see [`crate::secrets::Secret`]).
pub use crate::secrets::Secret;

#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub name: String,
    pub kind: ProviderKind,
    /// Without a trailing slash, e.g. `http://127.0.0.1:11434/v1`.
    pub base_url: String,
    /// The variable (or secrets-file name) holding the key.
    pub api_key_env: Option<String>,
    /// The key, when `api_key_env` resolved to one.
    pub api_key: Option<Secret>,
    /// Whole request (per HTTP attempt).
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Extra HTTP attempts on 429, 5xx and connection errors.
    pub max_retries: u32,
    /// First delay between HTTP attempts (doubles; `Retry-After` wins when given).
    pub retry_backoff: Duration,
    /// Ask for the reply as a stream (tokens show on the live line as they come).
    pub stream: bool,
}

#[derive(Debug, Clone)]
pub struct ModelConfig {
    pub alias: String,
    pub provider: String,
    /// The provider's name for the model.
    pub name: String,
    pub usd_per_mtok_in: f64,
    pub usd_per_mtok_out: f64,
    /// The alias's sampling settings (a step's own win).
    pub sampling: Sampling,
}

/// Spending caps across runs (`[budget]` in the config).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Caps {
    pub daily_usd: Option<f64>,
    pub monthly_usd: Option<f64>,
}

/// Everything agent steps need from the configuration.
#[derive(Debug, Clone, Default)]
pub struct AgentSettings {
    /// The config file's name, for messages.
    pub origin: String,
    pub providers: BTreeMap<String, ProviderConfig>,
    pub models: BTreeMap<String, ModelConfig>,
    pub caps: Caps,
}

/// Who answers a call.
#[derive(Debug, Clone)]
pub enum Backend {
    /// The offline heuristic provider (no network, no cost).
    Heuristic,
    Provider(ProviderConfig),
}

/// A model alias resolved to a provider, a model name and prices.
#[derive(Debug, Clone)]
pub struct Target {
    pub alias: String,
    pub backend: Backend,
    pub model: String,
    pub usd_per_mtok_in: f64,
    pub usd_per_mtok_out: f64,
    /// The alias's sampling settings.
    pub sampling: Sampling,
}

impl Target {
    pub fn provider_name(&self) -> &str {
        match &self.backend {
            Backend::Heuristic => "heuristic",
            Backend::Provider(p) => &p.name,
        }
    }

    pub fn is_heuristic(&self) -> bool {
        matches!(self.backend, Backend::Heuristic)
    }

    /// USD for these token counts.
    pub fn cost(&self, tokens_in: u64, tokens_out: u64) -> f64 {
        (tokens_in as f64 * self.usd_per_mtok_in + tokens_out as f64 * self.usd_per_mtok_out)
            / 1_000_000.0
    }
}

/// The alias that always means the offline provider.
pub const HEURISTIC: &str = "heuristic";

impl AgentSettings {
    /// Resolve a model alias. With no `[providers]` and no `[models]` at all, every
    /// alias is the offline heuristic provider (a fresh machine runs as is).
    pub fn resolve(&self, alias: &str) -> std::result::Result<Target, String> {
        let heuristic = || Target {
            alias: alias.to_string(),
            backend: Backend::Heuristic,
            model: HEURISTIC.to_string(),
            usd_per_mtok_in: 0.0,
            usd_per_mtok_out: 0.0,
            sampling: Sampling::default(),
        };
        if alias == HEURISTIC || (self.models.is_empty() && self.providers.is_empty()) {
            return Ok(heuristic());
        }
        let Some(m) = self.models.get(alias) else {
            let known: Vec<&str> = self.models.keys().map(String::as_str).collect();
            return Err(format!(
                "model `{alias}` is not configured: {} has no [models.{alias}] (configured: {}); add one, or use `heuristic` for the offline drafts",
                self.origin,
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ));
        };
        // Checked when the config was read.
        let p = self.providers.get(&m.provider).cloned().ok_or_else(|| {
            format!(
                "model `{alias}` names provider `{}`, which is not configured",
                m.provider
            )
        })?;
        Ok(Target {
            alias: alias.to_string(),
            backend: Backend::Provider(p),
            model: m.name.clone(),
            usd_per_mtok_in: m.usd_per_mtok_in,
            usd_per_mtok_out: m.usd_per_mtok_out,
            sampling: m.sampling.clone(),
        })
    }
}

fn bad(origin: &str, key: &str, what: &str, hint: &str) -> Error {
    Error::invalid(format!("{origin}: `{key}` {what}")).with_hint(hint.to_string())
}

fn table<'a>(origin: &str, key: &str, v: &'a Value) -> Result<&'a toml::Table> {
    v.as_table().ok_or_else(|| {
        bad(
            origin,
            key,
            "must be a table",
            &format!("write it as [{key}]"),
        )
    })
}

/// The keys of a `[providers.NAME]` table.
pub(crate) const PROVIDER_KEYS: &[&str] = &[
    "kind",
    "base_url",
    "api_key_env",
    "timeout",
    "connect_timeout",
    "max_retries",
    "retry_backoff",
    // Read by crate::rate (README "Rate limits").
    "rate",
    "stream",
];

/// The keys of a `[models.ALIAS]` table besides the sampling ones.
pub(crate) const MODEL_KEYS: &[&str] = &["provider", "name", "usd_per_mtok_in", "usd_per_mtok_out"];

fn known_keys(origin: &str, prefix: &str, t: &toml::Table, allowed: &[&str]) -> Result<()> {
    for k in t.keys() {
        if !allowed.contains(&k.as_str()) {
            let hint = crate::workflow::suggest::did_you_mean(k, allowed.iter().copied())
                .unwrap_or_else(|| format!("valid keys: {}", allowed.join(", ")));
            return Err(bad(
                origin,
                &format!("{prefix}.{k}"),
                "is not a known key",
                &hint,
            ));
        }
    }
    Ok(())
}

fn string(origin: &str, key: &str, v: Option<&Value>) -> Result<Option<String>> {
    match v {
        None => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(bad(
            origin,
            key,
            "must be a non-empty string",
            "quote it: key = \"...\"",
        )),
    }
}

fn usd(origin: &str, key: &str, v: Option<&Value>) -> Result<Option<f64>> {
    let n = match v {
        None => return Ok(None),
        Some(Value::Integer(i)) => *i as f64,
        Some(Value::Float(f)) => *f,
        Some(_) => {
            return Err(bad(
                origin,
                key,
                "must be a number",
                "write an amount in USD, like 2.50",
            ));
        }
    };
    if !n.is_finite() || n < 0.0 {
        return Err(bad(
            origin,
            key,
            "must be 0 or more",
            "write an amount in USD, like 2.50",
        ));
    }
    Ok(Some(n))
}

fn duration(origin: &str, key: &str, v: Option<&Value>, default: Duration) -> Result<Duration> {
    match v {
        None => Ok(default),
        Some(Value::Integer(i)) if *i >= 0 => Ok(Duration::from_secs(*i as u64)),
        Some(Value::String(s)) => crate::workflow::parse_duration(s).map_err(|_| {
            bad(
                origin,
                key,
                &format!("`{s}` is not a duration"),
                crate::workflow::duration::DURATION_HINT,
            )
        }),
        Some(_) => Err(bad(
            origin,
            key,
            "must be a duration",
            crate::workflow::duration::DURATION_HINT,
        )),
    }
}

/// Type the agent's sections of `cfg`. `secret(NAME)` resolves a key name (the
/// command layer looks in the environment, then in the secrets file).
pub fn from_config(
    cfg: &ConfigFile,
    secret: &dyn Fn(&str) -> Option<String>,
) -> Result<AgentSettings> {
    let origin = cfg.origin();
    let o = origin.as_str();
    let mut s = AgentSettings {
        origin: origin.clone(),
        ..AgentSettings::default()
    };
    if let Some(v) = cfg.section("providers") {
        for (name, pv) in table(o, "providers", v)? {
            let key = format!("providers.{name}");
            let t = table(o, &key, pv)?;
            known_keys(o, &key, t, PROVIDER_KEYS)?;
            let kind = match string(o, &format!("{key}.kind"), t.get("kind"))?.as_deref() {
                Some("openai") => ProviderKind::OpenAi,
                Some("anthropic") => ProviderKind::Anthropic,
                Some("ollama") => ProviderKind::Ollama,
                Some(other) => {
                    return Err(bad(
                        o,
                        &format!("{key}.kind"),
                        &format!("is `{other}`, not a provider kind"),
                        KIND_HINT,
                    ));
                }
                None => {
                    return Err(bad(o, &format!("{key}.kind"), "is missing", KIND_HINT));
                }
            };
            let base_url = string(o, &format!("{key}.base_url"), t.get("base_url"))?
                .unwrap_or_else(|| match kind {
                    ProviderKind::OpenAi => "https://api.openai.com/v1".into(),
                    ProviderKind::Anthropic => "https://api.anthropic.com".into(),
                    ProviderKind::Ollama => "http://127.0.0.1:11434".into(),
                });
            if reqwest::Url::parse(&base_url)
                .map(|u| !matches!(u.scheme(), "http" | "https"))
                .unwrap_or(true)
            {
                return Err(bad(
                    o,
                    &format!("{key}.base_url"),
                    &format!("`{base_url}` is not an http(s) URL"),
                    "like base_url = \"http://127.0.0.1:11434/v1\"",
                ));
            }
            let api_key_env = string(o, &format!("{key}.api_key_env"), t.get("api_key_env"))?;
            let api_key = api_key_env
                .as_deref()
                .and_then(secret)
                .filter(|k| !k.is_empty())
                .map(Secret::new);
            let max_retries = match t.get("max_retries") {
                None => 2,
                Some(Value::Integer(n)) if (0..=10).contains(n) => *n as u32,
                Some(_) => {
                    return Err(bad(
                        o,
                        &format!("{key}.max_retries"),
                        "must be an integer from 0 to 10",
                        "max_retries = 2 retries twice after the first try",
                    ));
                }
            };
            let stream = match t.get("stream") {
                None => false,
                Some(Value::Boolean(b)) => *b,
                Some(_) => {
                    return Err(bad(
                        o,
                        &format!("{key}.stream"),
                        "must be true or false",
                        "stream = true asks for the reply as it is written",
                    ));
                }
            };
            s.providers.insert(
                name.clone(),
                ProviderConfig {
                    name: name.clone(),
                    kind,
                    base_url: base_url.trim_end_matches('/').to_string(),
                    api_key_env,
                    api_key,
                    timeout: duration(
                        o,
                        &format!("{key}.timeout"),
                        t.get("timeout"),
                        Duration::from_secs(120),
                    )?,
                    connect_timeout: duration(
                        o,
                        &format!("{key}.connect_timeout"),
                        t.get("connect_timeout"),
                        Duration::from_secs(10),
                    )?,
                    max_retries,
                    retry_backoff: duration(
                        o,
                        &format!("{key}.retry_backoff"),
                        t.get("retry_backoff"),
                        Duration::from_millis(500),
                    )?,
                    stream,
                },
            );
        }
    }
    if let Some(v) = cfg.section("models") {
        for (alias, mv) in table(o, "models", v)? {
            let key = format!("models.{alias}");
            let t = table(o, &key, mv)?;
            let mut allowed = MODEL_KEYS.to_vec();
            allowed.extend_from_slice(sampling::KEYS);
            known_keys(o, &key, t, &allowed)?;
            let sampling = sampling::from_toml(t).map_err(|(k, e)| {
                Error::invalid(format!("{o}: `{key}.{k}`: {e}")).with_hint(sampling::HINT)
            })?;
            let provider =
                string(o, &format!("{key}.provider"), t.get("provider"))?.ok_or_else(|| {
                    bad(
                        o,
                        &format!("{key}.provider"),
                        "is missing",
                        "name a [providers.NAME] table: provider = \"local\"",
                    )
                })?;
            if !s.providers.contains_key(&provider) {
                let known: Vec<&str> = s.providers.keys().map(String::as_str).collect();
                return Err(bad(
                    o,
                    &format!("{key}.provider"),
                    &format!("names `{provider}`, which has no [providers.{provider}] table"),
                    &format!(
                        "configured providers: {}",
                        if known.is_empty() {
                            "none".into()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
            let name = string(o, &format!("{key}.name"), t.get("name"))?.ok_or_else(|| {
                bad(
                    o,
                    &format!("{key}.name"),
                    "is missing",
                    "the provider's model name: name = \"llama3.2\"",
                )
            })?;
            s.models.insert(
                alias.clone(),
                ModelConfig {
                    alias: alias.clone(),
                    provider,
                    name,
                    usd_per_mtok_in: usd(
                        o,
                        &format!("{key}.usd_per_mtok_in"),
                        t.get("usd_per_mtok_in"),
                    )?
                    .unwrap_or(0.0),
                    usd_per_mtok_out: usd(
                        o,
                        &format!("{key}.usd_per_mtok_out"),
                        t.get("usd_per_mtok_out"),
                    )?
                    .unwrap_or(0.0),
                    sampling,
                },
            );
        }
    }
    if let Some(v) = cfg.section("budget") {
        let t = table(o, "budget", v)?;
        known_keys(o, "budget", t, &["daily_usd", "monthly_usd"])?;
        s.caps = Caps {
            daily_usd: usd(o, "budget.daily_usd", t.get("daily_usd"))?,
            monthly_usd: usd(o, "budget.monthly_usd", t.get("monthly_usd"))?,
        };
    }
    Ok(s)
}

/// `[secrets] file`, when set (relative paths start at the config file's folder).
pub fn secrets_file(cfg: &ConfigFile) -> Result<Option<PathBuf>> {
    let o = cfg.origin();
    let Some(v) = cfg.section("secrets") else {
        return Ok(None);
    };
    let t = table(&o, "secrets", v)?;
    known_keys(&o, "secrets", t, &["file"])?;
    let Some(f) = string(&o, "secrets.file", t.get("file"))? else {
        return Ok(None);
    };
    let p = PathBuf::from(f);
    Ok(Some(match (&cfg.path, p.is_absolute()) {
        (Some(cp), false) => cp.parent().map(|d| d.join(&p)).unwrap_or(p),
        _ => p,
    }))
}

/// Parse a secrets file: `NAME=value` lines; blank lines and `#` comments ignored;
/// values may be quoted. Errors name the line, never the value.
pub fn parse_secrets(text: &str, origin: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let l = l.strip_prefix("export ").unwrap_or(l);
        let Some((k, v)) = l.split_once('=') else {
            return Err(
                Error::invalid(format!("{origin}:{}: not a NAME=value line", i + 1))
                    .with_hint("write one secret per line, like ANTHROPIC_API_KEY=sk-..."),
            );
        };
        let k = k.trim();
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(Error::invalid(format!(
                "{origin}:{}: `{k}` is not a variable name",
                i + 1
            ))
            .with_hint("names hold letters, digits and `_`"));
        }
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|x| x.strip_suffix('"'))
            .or_else(|| v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
            .unwrap_or(v);
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
