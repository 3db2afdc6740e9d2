//! Calling a provider over HTTP: one logical call, with retries and backoff on 429,
//! 5xx and connection errors (honouring `Retry-After`), and clear errors for 401/403
//! (the key) and 404 (the model) that name the provider and the model.
//!
//! The key only ever goes into a request header; errors never include it.

use std::time::Duration;

use reqwest::StatusCode;

use super::config::{ProviderConfig, ProviderKind};
use super::wire::*;
use super::{CallFailure, Chat, Reply};

/// The longest `Retry-After` honoured; longer asks fail the call (retryable).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The endpoint a call goes to.
pub fn endpoint(p: &ProviderConfig) -> String {
    match p.kind {
        ProviderKind::OpenAi => format!("{}/chat/completions", p.base_url),
        ProviderKind::Anthropic => {
            if p.base_url.ends_with("/v1") {
                format!("{}/messages", p.base_url)
            } else {
                format!("{}/v1/messages", p.base_url)
            }
        }
    }
}

/// Make one call (with its HTTP retries). `timeout` overrides the provider's.
pub async fn call(
    client: &reqwest::Client,
    p: &ProviderConfig,
    model: &str,
    chat: &Chat,
    timeout: Option<Duration>,
) -> Result<Reply, CallFailure> {
    let who = format!("provider `{}` (model `{model}`)", p.name);
    if let (Some(var), None) = (&p.api_key_env, &p.api_key) {
        return Err(
            CallFailure::fatal(format!("{who} needs an API key, but {var} is not set"), 0)
                .with_hint(format!(
                    "export {var}=..., or put `{var}=...` in the secrets file (mode 0600)"
                )),
        );
    }
    let url = endpoint(p);
    let body = match p.kind {
        ProviderKind::OpenAi => serde_json::to_vec(&OpenAiRequest::new(model, chat)),
        ProviderKind::Anthropic => serde_json::to_vec(&AnthropicRequest::new(model, chat)),
    }
    .map_err(|e| CallFailure::fatal(format!("{who}: cannot encode the request: {e}"), 0))?;
    let timeout = timeout.unwrap_or(p.timeout);
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let last = attempt > p.max_retries;
        let mut req = client
            .post(&url)
            .timeout(timeout)
            .header("content-type", "application/json")
            .body(body.clone());
        match p.kind {
            ProviderKind::OpenAi => {
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
        let (status, retry_after, text) = match req.send().await {
            Ok(resp) => {
                let status = resp.status();
                let retry_after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                match resp.text().await {
                    Ok(t) => (status, retry_after, t),
                    Err(e) if !last => {
                        let _ = e;
                        tokio::time::sleep(backoff(p, attempt)).await;
                        continue;
                    }
                    Err(e) => {
                        return Err(CallFailure::retryable(
                            format!("{who}: the reply broke off: {}", plain(&e)),
                            attempt,
                        ));
                    }
                }
            }
            Err(e) => {
                if !last {
                    tokio::time::sleep(backoff(p, attempt)).await;
                    continue;
                }
                let what = if e.is_timeout() {
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
        if status.is_success() {
            return parse_reply(p.kind, &text)
                .map(|mut r| {
                    r.http_attempts = attempt;
                    r
                })
                .map_err(|e| {
                    CallFailure::retryable(
                        format!("{who} sent a reply aios cannot read: {e}"),
                        attempt,
                    )
                });
        }
        let detail = error_detail(&text);
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
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
        let (msg, hint) = match status.as_u16() {
            401 | 403 => (
                format!(
                    "{who} refused the API key (HTTP {}): {detail}",
                    status.as_u16()
                ),
                match &p.api_key_env {
                    Some(v) => format!("check the key in {v}"),
                    None => format!(
                        "set api_key_env in [providers.{}] to the variable holding the key",
                        p.name
                    ),
                },
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

/// The provider's error message, or the start of the body.
fn error_detail(body: &str) -> String {
    if let Ok(b) = serde_json::from_str::<ErrorBody>(body)
        && let Some(m) = b.error.message
    {
        return crate::connectors::truncate_line(&m, 200);
    }
    let t = body.trim();
    if t.is_empty() {
        "(empty body)".into()
    } else {
        crate::connectors::truncate_line(t, 200)
    }
}

/// Read a successful reply.
pub fn parse_reply(kind: ProviderKind, body: &str) -> Result<Reply, String> {
    let short = |e: serde_json::Error| format!("not the expected JSON ({e})");
    match kind {
        ProviderKind::OpenAi => {
            let r: OpenAiResponse = serde_json::from_str(body).map_err(short)?;
            let text = r
                .choices
                .into_iter()
                .next()
                .and_then(|c| c.message.content)
                .ok_or("the reply has no message")?;
            let u = r.usage.unwrap_or(OpenAiUsage {
                prompt_tokens: 0,
                completion_tokens: 0,
            });
            Ok(Reply {
                text,
                tokens_in: u.prompt_tokens,
                tokens_out: u.completion_tokens,
                http_attempts: 1,
            })
        }
        ProviderKind::Anthropic => {
            let r: AnthropicResponse = serde_json::from_str(body).map_err(short)?;
            let text: String = r
                .content
                .iter()
                .filter(|b| b.kind == "text")
                .filter_map(|b| b.text.as_deref())
                .collect();
            if r.content.is_empty() {
                return Err("the reply has no content".into());
            }
            let u = r.usage.unwrap_or(AnthropicUsage {
                input_tokens: 0,
                output_tokens: 0,
            });
            Ok(Reply {
                text,
                tokens_in: u.input_tokens,
                tokens_out: u.output_tokens,
                http_attempts: 1,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_wire_formats() {
        let r = parse_reply(
            ProviderKind::OpenAi,
            r#"{"choices":[{"message":{"role":"assistant","content":"hi"}}],"usage":{"prompt_tokens":3,"completion_tokens":1}}"#,
        )
        .unwrap();
        assert_eq!((r.text.as_str(), r.tokens_in, r.tokens_out), ("hi", 3, 1));
        let r = parse_reply(
            ProviderKind::Anthropic,
            r#"{"content":[{"type":"text","text":"yo"}],"usage":{"input_tokens":5,"output_tokens":2}}"#,
        )
        .unwrap();
        assert_eq!((r.text.as_str(), r.tokens_in, r.tokens_out), ("yo", 5, 2));
        assert!(
            parse_reply(ProviderKind::OpenAi, "{not json")
                .unwrap_err()
                .starts_with("not the expected JSON")
        );
        assert_eq!(
            error_detail(r#"{"error":{"message":"bad key"}}"#),
            "bad key"
        );
    }
}
