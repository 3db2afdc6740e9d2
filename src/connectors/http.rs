//! `http` steps: one request; the response's status, headers and body (parsed when
//! it is JSON) become the step's output.

use serde_json::{Map, Value as Json, json};

use super::{ExecError, HttpAction, cap_text};

const MAX_BODY: usize = 4 << 20;

pub(super) fn validate(h: &HttpAction) -> Result<(), String> {
    if h.method.is_empty() || !h.method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(format!("`{}` is not an HTTP method", h.method));
    }
    let url =
        reqwest::Url::parse(&h.url).map_err(|e| format!("`{}` is not a valid URL: {e}", h.url))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "URL `{}` must start with http:// or https://",
            h.url
        ));
    }
    for (k, v) in &h.headers {
        reqwest::header::HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| format!("`{k}` is not a valid header name"))?;
        reqwest::header::HeaderValue::from_str(v)
            .map_err(|_| format!("the value of header `{k}` has characters HTTP does not allow"))?;
    }
    if h.json.is_some() && h.body.is_some() {
        return Err("set either `json` or `body`, not both".into());
    }
    if let Some(bad) = h.expect_status.iter().find(|s| !(100..=599).contains(*s)) {
        return Err(format!("{bad} is not an HTTP status"));
    }
    Ok(())
}

pub(super) fn describe(h: &HttpAction) -> String {
    let mut out = format!("{} {}", h.method, h.url);
    if !h.query.is_empty() {
        let q: Vec<String> = h.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push_str(&format!("\n  query: {}", q.join("&")));
    }
    for (k, v) in &h.headers {
        out.push_str(&format!("\n  {k}: {v}"));
    }
    if let Some(key) = &h.idempotency_key {
        out.push_str(&format!("\n  Idempotency-Key: {key}"));
    }
    if let Some(j) = &h.json {
        let pretty = serde_json::to_string_pretty(j).unwrap_or_default();
        out.push_str("\n  json:");
        for line in pretty.lines() {
            out.push_str("\n  │ ");
            out.push_str(line);
        }
    }
    if let Some(b) = &h.body {
        out.push_str("\n  body:");
        for line in b.lines() {
            out.push_str("\n  │ ");
            out.push_str(line);
        }
    }
    if !h.expect_status.is_empty() {
        let s: Vec<String> = h.expect_status.iter().map(|s| s.to_string()).collect();
        out.push_str(&format!("\n  expect status {}", s.join(", ")));
    }
    out
}

pub(super) async fn send(h: HttpAction, client: &reqwest::Client) -> Result<Json, ExecError> {
    let method = reqwest::Method::from_bytes(h.method.as_bytes())
        .map_err(|_| ExecError::fatal(format!("`{}` is not an HTTP method", h.method)))?;
    let mut req = client.request(method, &h.url);
    if !h.query.is_empty() {
        req = req.query(&h.query);
    }
    for (k, v) in &h.headers {
        req = req.header(k.as_str(), v.as_str());
    }
    if let Some(key) = &h.idempotency_key {
        req = req.header("Idempotency-Key", key.as_str());
    }
    if let Some(j) = &h.json {
        req = req.json(j);
    } else if let Some(b) = &h.body {
        req = req.body(b.clone());
    }
    let resp = req.send().await.map_err(|e| {
        let what = if e.is_connect() {
            "cannot connect"
        } else if e.is_timeout() {
            "timed out"
        } else {
            "request failed"
        };
        ExecError::retryable(format!(
            "{} {}: {what} ({})",
            h.method,
            h.url,
            root_cause(&e)
        ))
    })?;
    let status = resp.status().as_u16();
    let mut headers = Map::new();
    for (k, v) in resp.headers() {
        headers.insert(
            k.as_str().to_string(),
            Json::String(String::from_utf8_lossy(v.as_bytes()).into_owned()),
        );
    }
    let is_json = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("json"));
    let bytes = resp.bytes().await.map_err(|e| {
        ExecError::retryable(format!(
            "{} {}: reading the response failed: {}",
            h.method,
            h.url,
            root_cause(&e)
        ))
    })?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = if is_json {
        serde_json::from_str(&text)
            .unwrap_or_else(|_| Json::String(cap_text(text.clone(), MAX_BODY)))
    } else {
        Json::String(cap_text(text.clone(), MAX_BODY))
    };
    let expected = if h.expect_status.is_empty() {
        (200..300).contains(&status)
    } else {
        h.expect_status.contains(&status)
    };
    if !expected {
        let excerpt = super::truncate_line(&text, 200);
        let msg = format!("{} {} answered {status}: {excerpt}", h.method, h.url);
        // Server trouble and rate limits may pass; other client errors will not.
        return Err(if status >= 500 || status == 429 || status == 408 {
            ExecError::retryable(msg)
        } else {
            ExecError::fatal(msg)
        });
    }
    Ok(json!({ "status": status, "headers": headers, "body": body }))
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
