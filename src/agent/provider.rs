//! Calling a provider over HTTP: one logical call, with retries and backoff on 429,
//! 5xx and connection errors (honouring `Retry-After`), clear errors for 401/403 (the
//! key) and 404 (the model) that name the provider and the model, a refused schema
//! form told apart from other refusals, and streamed replies read as they come.
//! Also the model lists (`/v1/models`, Ollama's `/api/tags`) for `aios llm models`.
//! Reading a whole reply's body is [`super::reply`]'s.
//!
//! The key only ever goes into a request header; errors never include it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::StatusCode;

use super::config::{ProviderConfig, ProviderKind};
use super::reply::{error_detail, parse_reply};
use super::stream::Assembler;
use super::structured::{Form, refuses_schema};
use super::wire::*;
use super::{CallFailure, Chat, FailureKind, Reply};

/// The longest `Retry-After` honoured; longer asks fail the call (retryable).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The HTTP client for a provider: its `connect_timeout` applies to every call.
/// A provider at an `http://` URL speaks no TLS: its client loads no root
/// certificates (reading and parsing the system's costs milliseconds at every
/// process's first call), so a redirect of it to `https://` fails verification.
pub fn client(p: &ProviderConfig) -> reqwest::Result<reqwest::Client> {
    let builder = reqwest::Client::builder()
        .user_agent(concat!("aios/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(p.connect_timeout);
    let plain = p
        .base_url
        .get(..7)
        .is_some_and(|s| s.eq_ignore_ascii_case("http://"));
    if plain {
        builder.tls_certs_only([]).build()
    } else {
        builder.build()
    }
}

/// The server's root for Ollama's own API (a `/v1` suffix is tolerated).
fn ollama_root(p: &ProviderConfig) -> &str {
    p.base_url.strip_suffix("/v1").unwrap_or(&p.base_url)
}

fn anthropic_root(p: &ProviderConfig) -> String {
    if p.base_url.ends_with("/v1") {
        p.base_url.clone()
    } else {
        format!("{}/v1", p.base_url)
    }
}

/// The endpoint a call goes to.
pub fn endpoint(p: &ProviderConfig) -> String {
    match p.kind {
        ProviderKind::OpenAi => format!("{}/chat/completions", p.base_url),
        ProviderKind::Anthropic => format!("{}/messages", anthropic_root(p)),
        ProviderKind::Ollama => format!("{}/api/chat", ollama_root(p)),
    }
}

/// Where the provider lists its models.
pub fn models_endpoint(p: &ProviderConfig) -> String {
    match p.kind {
        ProviderKind::OpenAi => format!("{}/models", p.base_url),
        ProviderKind::Anthropic => format!("{}/models", anthropic_root(p)),
        ProviderKind::Ollama => format!("{}/api/tags", ollama_root(p)),
    }
}

fn authorize(p: &ProviderConfig, mut req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    match p.kind {
        ProviderKind::OpenAi | ProviderKind::Ollama => {
            if let Some(k) = &p.api_key {
                req = req.bearer_auth(k.expose());
            }
        }
        ProviderKind::Anthropic => {
            req = req.header("anthropic-version", "2023-06-01");
            if let Some(k) = &p.api_key {
                req = req.header("x-api-key", k.expose());
            }
        }
    }
    req
}

fn missing_key(p: &ProviderConfig, who: &str) -> Option<CallFailure> {
    match (&p.api_key_env, &p.api_key) {
        (Some(var), None) => Some(
            CallFailure::fatal(format!("{who} needs an API key, but {var} is not set"), 0)
                .with_hint(format!(
                    "export {var}=..., or put `{var}=...` in the secrets file (mode 0600)"
                )),
        ),
        _ => None,
    }
}

/// Make one call (with its HTTP retries). `timeout` bounds each HTTP attempt;
/// `pieces` counts streamed content pieces as they arrive (the live line reads it).
pub async fn call(
    client: &reqwest::Client,
    p: &ProviderConfig,
    model: &str,
    chat: &Chat,
    timeout: Duration,
    pieces: Option<Arc<AtomicU64>>,
) -> Result<Reply, CallFailure> {
    let who = format!("provider `{}` (model `{model}`)", p.name);
    if let Some(f) = missing_key(p, &who) {
        return Err(f);
    }
    let url = endpoint(p);
    // A turn that offers tools is asked whole (tool calls are read from the reply).
    let stream = p.stream && chat.tools.is_empty();
    let body = match p.kind {
        ProviderKind::OpenAi => serde_json::to_vec(&OpenAiRequest::new(model, chat, stream)),
        ProviderKind::Anthropic => serde_json::to_vec(&AnthropicRequest::new(model, chat, stream)),
        ProviderKind::Ollama => serde_json::to_vec(&OllamaRequest::new(model, chat, stream)),
    }
    .map_err(|e| CallFailure::fatal(format!("{who}: cannot encode the request: {e}"), 0))?;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let last = attempt > p.max_retries;
        let req = client
            .post(&url)
            .timeout(timeout)
            .header("content-type", "application/json")
            .body(body.clone());
        let req = authorize(p, req);
        let sent = req.send().await;
        let resp = match sent {
            Ok(resp) => resp,
            Err(e) => {
                if !last {
                    tokio::time::sleep(backoff(p, attempt)).await;
                    continue;
                }
                let what = if e.is_connect() && e.is_timeout() {
                    format!(
                        "no connection to {} within {} (connect_timeout)",
                        p.base_url,
                        crate::clock::format_duration(p.connect_timeout)
                    )
                } else if e.is_timeout() {
                    format!("no reply within {}", crate::clock::format_duration(timeout))
                } else if e.is_connect() {
                    format!("cannot connect to {}", p.base_url)
                } else {
                    plain(&e)
                };
                return Err(CallFailure::retryable(
                    format!("{who}: {what} ({})", crate::text::count(attempt, "attempt")),
                    attempt,
                )
                .with_hint("check that the server runs and `base_url` is right"));
            }
        };
        let status = resp.status();
        if status.is_success() {
            let streamed = resp
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|c| c.contains("event-stream") || c.contains("ndjson"));
            let read = if streamed {
                read_stream(p.kind, resp, pieces.as_deref()).await
            } else {
                match resp.text().await {
                    Ok(t) => parse_reply(p.kind, &t).map_err(Broken::Unreadable),
                    Err(e) => Err(Broken::Cut(plain(&e), e.is_timeout())),
                }
            };
            match read {
                Ok(mut r) => {
                    r.http_attempts = attempt;
                    return Ok(r);
                }
                Err(Broken::Cut(_, _)) if !last => {
                    tokio::time::sleep(backoff(p, attempt)).await;
                    continue;
                }
                Err(Broken::Cut(e, timed_out)) => {
                    let what = if timed_out {
                        format!(
                            "the reply did not finish within {}",
                            crate::clock::format_duration(timeout)
                        )
                    } else {
                        format!("the reply broke off: {e}")
                    };
                    return Err(CallFailure::retryable(format!("{who}: {what}"), attempt));
                }
                Err(Broken::Unreadable(e)) => {
                    return Err(CallFailure::retryable(
                        format!("{who} sent a reply aios cannot read: {e}"),
                        attempt,
                    ));
                }
            }
        }
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = resp.text().await.unwrap_or_default();
        let detail = error_detail(&text);
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            if chat.form == Form::Schema && refuses_schema(p.kind, status.as_u16(), &detail) {
                return Err(schema_refused(&who, status, &detail, attempt));
            }
            if !last {
                let wait = match retry_after {
                    Some(d) if d <= MAX_RETRY_AFTER => d,
                    Some(_) => {
                        return Err(CallFailure::retryable(
                            format!(
                                "{who}: HTTP {} and a Retry-After beyond {}s: {detail}",
                                status.as_u16(),
                                MAX_RETRY_AFTER.as_secs()
                            ),
                            attempt,
                        ));
                    }
                    None => backoff(p, attempt),
                };
                tokio::time::sleep(wait).await;
                continue;
            }
            return Err(CallFailure::retryable(
                format!(
                    "{who}: HTTP {} after {}: {detail}",
                    status.as_u16(),
                    crate::text::count(attempt, "attempt")
                ),
                attempt,
            ));
        }
        if chat.form == Form::Schema && refuses_schema(p.kind, status.as_u16(), &detail) {
            return Err(schema_refused(&who, status, &detail, attempt));
        }
        let (msg, hint) = match status.as_u16() {
            401 | 403 => (
                format!(
                    "{who} refused the API key (HTTP {}): {detail}",
                    status.as_u16()
                ),
                key_hint(p),
            ),
            404 => (
                format!(
                    "{who}: not found (HTTP 404), the model or the endpoint does not exist: {detail}"
                ),
                format!(
                    "check [models] `name` and `base_url` of [providers.{}] ({url})",
                    p.name
                ),
            ),
            n => (
                format!("{who}: HTTP {n}: {detail}"),
                "the request was refused; see the provider's message".to_string(),
            ),
        };
        return Err(CallFailure::fatal(msg, attempt).with_hint(hint));
    }
}

fn key_hint(p: &ProviderConfig) -> String {
    match &p.api_key_env {
        Some(v) => format!("check the key in {v}"),
        None => format!(
            "set api_key_env in [providers.{}] to the variable holding the key",
            p.name
        ),
    }
}

fn schema_refused(who: &str, status: StatusCode, detail: &str, attempt: u32) -> CallFailure {
    CallFailure {
        message: format!(
            "{who} refused the schema form (HTTP {}): {detail}",
            status.as_u16()
        ),
        hint: None,
        kind: FailureKind::SchemaRefused,
        http_attempts: attempt,
    }
}

/// Why a successful status did not give a reply.
enum Broken {
    /// The body stopped coming (connection closed, or the attempt's time ran out).
    Cut(String, bool),
    /// It came, but is not a reply.
    Unreadable(String),
}

async fn read_stream(
    kind: ProviderKind,
    mut resp: reqwest::Response,
    pieces: Option<&AtomicU64>,
) -> Result<Reply, Broken> {
    let mut a = Assembler::new(kind);
    let mut pending: Vec<u8> = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(bytes)) => {
                pending.extend_from_slice(&bytes);
                // Only whole UTF-8 characters go to the assembler.
                let valid = match std::str::from_utf8(&pending) {
                    Ok(_) => pending.len(),
                    Err(e) => e.valid_up_to(),
                };
                let text = String::from_utf8_lossy(&pending[..valid]).into_owned();
                pending.drain(..valid);
                let n = a.feed(&text).map_err(Broken::Unreadable)?;
                if let Some(c) = pieces {
                    c.fetch_add(n, Ordering::Relaxed);
                }
            }
            Ok(None) => break,
            Err(e) => return Err(Broken::Cut(plain(&e), e.is_timeout())),
        }
    }
    a.finish().map_err(|e| Broken::Cut(e, false))
}

fn backoff(p: &ProviderConfig, attempt: u32) -> Duration {
    let d = p
        .retry_backoff
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(10));
    d.min(Duration::from_secs(30))
}

/// A reqwest error and its cause (never headers, so never a key).
fn plain(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(src) = std::error::Error::source(e) {
        s.push_str(&format!(": {src}"));
    }
    s
}

/// What a provider's model list said.
#[derive(Debug, Clone, PartialEq)]
pub enum Listing {
    /// The model names it serves.
    Models(Vec<String>),
    /// The server answered but has no model list (404).
    NoList,
}

/// Ask a provider which models it serves (a free request): for `aios llm models`
/// and `aios llm ping`.
pub async fn list_models(
    client: &reqwest::Client,
    p: &ProviderConfig,
    timeout: Duration,
) -> Result<Listing, CallFailure> {
    let who = format!("provider `{}`", p.name);
    if let Some(f) = missing_key(p, &who) {
        return Err(f);
    }
    let url = models_endpoint(p);
    let resp = authorize(p, client.get(&url).timeout(timeout))
        .send()
        .await
        .map_err(|e| {
            let what = if e.is_connect() && e.is_timeout() {
                format!(
                    "no connection within {} (connect_timeout)",
                    crate::clock::format_duration(p.connect_timeout)
                )
            } else if e.is_timeout() {
                format!("no reply within {}", crate::clock::format_duration(timeout))
            } else if e.is_connect() {
                "cannot connect".to_string()
            } else {
                plain(&e)
            };
            CallFailure::retryable(format!("{who}: {what} ({url})"), 1)
                .with_hint("check that the server runs and `base_url` is right")
        })?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    match status.as_u16() {
        200..=299 => {}
        404 | 405 => return Ok(Listing::NoList),
        401 | 403 => {
            return Err(CallFailure::fatal(
                format!(
                    "{who} refused the API key (HTTP {}): {}",
                    status.as_u16(),
                    error_detail(&text)
                ),
                1,
            )
            .with_hint(key_hint(p)));
        }
        n => {
            return Err(CallFailure::fatal(
                format!("{who}: HTTP {n}: {}", error_detail(&text)),
                1,
            ));
        }
    }
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| CallFailure::fatal(format!("{who}: the model list is not JSON ({e})"), 1))?;
    let list = match p.kind {
        ProviderKind::Ollama => v["models"].as_array(),
        _ => v["data"].as_array(),
    };
    let names = list
        .into_iter()
        .flatten()
        .filter_map(|m| {
            m.get("id")
                .or_else(|| m.get("name"))
                .and_then(|x| x.as_str())
                .map(str::to_string)
        })
        .collect();
    Ok(Listing::Models(names))
}
