//! Embeddings: the `[embeddings]` section of config.toml and a client for an
//! OpenAI-compatible `/v1/embeddings` endpoint (OpenAI, Ollama, llama.cpp, vLLM).
//!
//! ```toml
//! [embeddings]
//! url = "http://127.0.0.1:11434/v1"   # base URL; /embeddings is appended
//! model = "all-minilm"
//! api_key_env = "OPENAI_API_KEY"      # optional: the NAME of the variable holding the key
//! timeout = "30s"                     # optional
//! ```
//!
//! The key itself is never stored: the command layer reads the named variable and
//! hands it to [`Embedder::new`].

use std::time::Duration;

use serde_json::{Value as Json, json};

use crate::config::ConfigFile;
use crate::error::{Error, Result};

pub(crate) const KEYS: &[&str] = &["url", "model", "api_key_env", "timeout", "batch"];

/// The typed `[embeddings]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingsConfig {
    /// The full endpoint (`.../embeddings`).
    pub endpoint: String,
    pub model: String,
    pub api_key_env: Option<String>,
    pub timeout: Duration,
    /// Texts per request.
    pub batch: usize,
}

impl EmbeddingsConfig {
    /// The section, if configured. A present but invalid section is an error.
    pub fn from_config(cfg: &ConfigFile) -> Result<Option<EmbeddingsConfig>> {
        let Some(v) = cfg.section("embeddings") else {
            return Ok(None);
        };
        let bad = |msg: String| {
            Error::invalid(format!("{}: [embeddings] {msg}", cfg.origin())).with_hint(
                "[embeddings] takes url = \"http://127.0.0.1:11434/v1\", model = \"...\", and optionally api_key_env, timeout, batch",
            )
        };
        let t = v.as_table().ok_or_else(|| bad("must be a table".into()))?;
        for k in t.keys() {
            if !KEYS.contains(&k.as_str()) {
                let hint = crate::workflow::suggest::did_you_mean(k, KEYS.iter().copied());
                return Err(bad(format!(
                    "has an unknown key `{k}`{}",
                    hint.map(|h| format!(" ({h})")).unwrap_or_default()
                )));
            }
        }
        let string = |k: &str| -> Result<Option<String>> {
            match t.get(k) {
                None => Ok(None),
                Some(toml::Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
                Some(_) => Err(bad(format!("`{k}` must be a non-empty string"))),
            }
        };
        let url = string("url")?.ok_or_else(|| bad("needs `url`".into()))?;
        let model = string("model")?.ok_or_else(|| bad("needs `model`".into()))?;
        let parsed =
            reqwest::Url::parse(&url).map_err(|e| bad(format!("`url` is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(bad("`url` must be http or https".into()));
        }
        let base = url.trim_end_matches('/');
        let endpoint = if base.ends_with("/embeddings") {
            base.to_string()
        } else {
            format!("{base}/embeddings")
        };
        let timeout = match string("timeout")? {
            Some(s) => {
                crate::workflow::parse_duration(&s).map_err(|e| bad(format!("`timeout`: {e}")))?
            }
            None => Duration::from_secs(30),
        };
        let batch = match t.get("batch") {
            None => 64,
            Some(toml::Value::Integer(n)) if *n >= 1 => *n as usize,
            Some(_) => return Err(bad("`batch` must be an integer of at least 1".into())),
        };
        Ok(Some(EmbeddingsConfig {
            endpoint,
            model,
            api_key_env: string("api_key_env")?,
            timeout,
            batch,
        }))
    }
}

/// Turns texts into vectors through the configured endpoint.
#[derive(Debug, Clone)]
pub struct Embedder {
    pub config: EmbeddingsConfig,
    api_key: Option<String>,
}

impl Embedder {
    /// `api_key`: the value of the variable `api_key_env` names, read by the caller.
    pub fn new(config: EmbeddingsConfig, api_key: Option<String>) -> Embedder {
        Embedder { config, api_key }
    }

    pub fn model(&self) -> &str {
        &self.config.model
    }

    /// The key's name (`api_key_env`) and value, when there is one (for redaction).
    pub fn key_source(&self) -> Option<(String, String)> {
        Some((self.config.api_key_env.clone()?, self.api_key.clone()?))
    }

    /// Embed `texts` (in batches), in order.
    pub async fn embed(&self, client: &reqwest::Client, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(self.config.batch.max(1)) {
            out.extend(self.embed_batch(client, chunk).await?);
        }
        Ok(out)
    }

    async fn embed_batch(
        &self,
        client: &reqwest::Client,
        texts: &[String],
    ) -> Result<Vec<Vec<f32>>> {
        let endpoint = &self.config.endpoint;
        let unreachable = |e: String| {
            Error::other(format!("the embedding endpoint {endpoint} failed: {e}")).with_hint(
                "check [embeddings] in config.toml and that the server runs; remove the section to use full-text search alone",
            )
        };
        let mut req = client
            .post(endpoint)
            .timeout(self.config.timeout)
            .json(&json!({ "model": self.config.model, "input": texts }));
        if let Some(k) = &self.api_key {
            req = req.bearer_auth(k);
        }
        let resp = req.send().await.map_err(|e| unreachable(e.to_string()))?;
        let status = resp.status();
        let body: Json = resp
            .json()
            .await
            .map_err(|e| unreachable(format!("HTTP {status}, not JSON: {e}")))?;
        if !status.is_success() {
            let msg = body["error"]["message"]
                .as_str()
                .or(body["error"].as_str())
                .unwrap_or("no message");
            return Err(unreachable(format!("HTTP {status}: {msg}")));
        }
        parse_response(&body, texts.len()).map_err(unreachable)
    }

    /// [`Embedder::embed`] on a runtime of its own (for callers outside async code).
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::other(format!("cannot start the executor: {e}")))?;
        let client = reqwest::Client::builder()
            .user_agent(concat!("aios/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::other(format!("cannot build the HTTP client: {e}")))?;
        rt.block_on(self.embed(&client, texts))
    }
}

/// `{"data": [{"index": i, "embedding": [...]}, ...]}` -> vectors in input order.
fn parse_response(body: &Json, n: usize) -> std::result::Result<Vec<Vec<f32>>, String> {
    let data = body["data"]
        .as_array()
        .ok_or("the response has no `data` array")?;
    if data.len() != n {
        return Err(format!(
            "asked for {}, got {}",
            crate::text::count(n, "embedding"),
            data.len()
        ));
    }
    let mut out: Vec<Option<Vec<f32>>> = vec![None; n];
    for (pos, item) in data.iter().enumerate() {
        let i = item["index"].as_u64().map(|i| i as usize).unwrap_or(pos);
        let v: Vec<f32> = item["embedding"]
            .as_array()
            .ok_or("an item has no `embedding` array")?
            .iter()
            .map(|x| {
                x.as_f64()
                    .map(|f| f as f32)
                    .ok_or("an embedding holds a non-number")
            })
            .collect::<std::result::Result<_, _>>()?;
        if v.is_empty() {
            return Err("an embedding is empty".into());
        }
        *out.get_mut(i).ok_or("an item's index is out of range")? = Some(v);
    }
    out.into_iter()
        .map(|v| v.ok_or_else(|| "an input got no embedding".to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Result<Option<EmbeddingsConfig>> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        std::fs::write(&p, text).unwrap();
        EmbeddingsConfig::from_config(&ConfigFile::load(&p).unwrap())
    }

    #[test]
    fn absent_section_means_no_embeddings() {
        assert_eq!(cfg("[budget]\nx = 1\n").unwrap(), None);
    }

    #[test]
    fn base_url_gets_the_embeddings_path() {
        let c = cfg("[embeddings]\nurl = \"http://127.0.0.1:11434/v1/\"\nmodel = \"m\"\n")
            .unwrap()
            .unwrap();
        assert_eq!(c.endpoint, "http://127.0.0.1:11434/v1/embeddings");
        assert_eq!(c.batch, 64);
        let c = cfg("[embeddings]\nurl = \"http://h/v1/embeddings\"\nmodel = \"m\"\n")
            .unwrap()
            .unwrap();
        assert_eq!(c.endpoint, "http://h/v1/embeddings");
    }

    #[test]
    fn bad_sections_say_what_is_wrong() {
        let e = cfg("[embeddings]\nmodel = \"m\"\n").unwrap_err();
        assert!(e.message.contains("needs `url`"), "{}", e.message);
        let e = cfg("[embeddings]\nurl = \"ftp://x\"\nmodel = \"m\"\n").unwrap_err();
        assert!(e.message.contains("http or https"), "{}", e.message);
        let e = cfg("[embeddings]\nurl = \"http://x\"\nmodel = \"m\"\nmodle = 1\n").unwrap_err();
        assert!(e.message.contains("unknown key `modle`"), "{}", e.message);
    }

    #[test]
    fn responses_are_put_in_input_order() {
        let body = json!({"data": [
            {"index": 1, "embedding": [0.0, 1.0]},
            {"index": 0, "embedding": [1.0, 0.0]}
        ]});
        assert_eq!(
            parse_response(&body, 2).unwrap(),
            vec![vec![1.0, 0.0], vec![0.0, 1.0]]
        );
        assert!(parse_response(&json!({"data": []}), 1).is_err());
        assert!(parse_response(&json!({"oops": 1}), 1).is_err());
    }
}
