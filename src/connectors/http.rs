//! `http` steps: one request; the response's status, headers and body (parsed when
//! it is JSON) become the step's output. This file owns the kind: its step fields,
//! rendering (with the `Idempotency-Key` of a non-read-only request), description,
//! validation and commit.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json, json};
use toml::de::DeValue;

use super::{
    AfterTimeout, Connector, Description, ExecError, RenderCx, Resources, Touch, cap_text,
};
use crate::workflow::Tmpl;
use crate::workflow::diag::Diagnostic;
use crate::workflow::kinds::{StepFields, opt_tmpl, req_tmpl};
use crate::workflow::read::{get, key_span};

const MAX_BODY: usize = 4 << 20;

/// An http step as written in the workflow.
#[derive(Debug, Clone)]
pub struct HttpSpec {
    /// Upper-case method name (GET, POST, ...).
    pub method: String,
    pub url: Tmpl,
    pub headers: Vec<(String, Tmpl)>,
    pub query: Vec<(String, Tmpl)>,
    /// A JSON body whose string leaves are templates (a leaf that is exactly one
    /// `{{ expr }}` keeps the expression's type).
    pub json: Option<Json>,
    pub body: Option<Tmpl>,
    /// Accepted statuses; empty means any 2xx.
    pub expect_status: Vec<u16>,
}

/// A rendered request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpAction {
    pub method: String,
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Accepted statuses; empty means any 2xx.
    #[serde(default)]
    pub expect_status: Vec<u16>,
    /// Sent as the `Idempotency-Key` header so servers can drop duplicates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// Methods that change nothing on the server: safe to repeat, sent without a key.
fn read_only(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS")
}

impl Connector for HttpAction {
    type Spec = HttpSpec;
    const FIELDS: &'static [&'static str] = &[
        "method",
        "url",
        "headers",
        "query",
        "json",
        "body",
        "expect_status",
    ];
    const DEFAULT_TIMEOUT: Option<Duration> = Some(Duration::from_secs(30));
    /// A retry carries the same `Idempotency-Key`.
    const AFTER_TIMEOUT: AfterTimeout = AfterTimeout::Retry;

    fn read(f: StepFields<'_, '_>) -> Option<HttpSpec> {
        let StepFields {
            cx,
            t,
            span,
            ctx,
            uses,
        } = f;
        let mut method = "GET".to_string();
        if let Some(v) = get(t, "method")
            && let Some(m) = cx.string("method", v)
        {
            if !m.is_empty() && m.chars().all(|c| c.is_ascii_alphabetic()) {
                method = m.to_ascii_uppercase();
            } else {
                cx.push(
                    Diagnostic::new(format!("invalid HTTP method `{m}`"))
                        .at(v.span())
                        .label("not a method")
                        .hint("use a method name like GET, POST, PUT, PATCH or DELETE"),
                );
            }
        }
        let url = req_tmpl(cx, t, "url", &span, ctx, uses);
        let headers = get(t, "headers")
            .map(|v| cx.tmpl_map("headers", v, uses))
            .unwrap_or_default();
        let query = get(t, "query")
            .map(|v| cx.tmpl_map("query", v, uses))
            .unwrap_or_default();
        let json = get(t, "json").and_then(|v| cx.json("json", v, Some(uses)));
        let body = opt_tmpl(cx, t, "body", uses);
        if get(t, "json").is_some() && get(t, "body").is_some() {
            cx.push(
                Diagnostic::new("an http step takes `json` or `body`, not both")
                    .at(key_span(t, "body").unwrap_or(span))
                    .label("second body")
                    .hint("`json` sends a JSON document; `body` sends text as it is"),
            );
        }
        let mut expect_status = Vec::new();
        if let Some(v) = get(t, "expect_status") {
            let items: Vec<_> = match v.get_ref() {
                DeValue::Array(a) => a.iter().collect(),
                _ => vec![v],
            };
            for item in items {
                let Some(n) = cx.integer("expect_status", item) else {
                    continue;
                };
                match u16::try_from(n) {
                    Ok(code) if (100..=599).contains(&code) => expect_status.push(code),
                    _ => cx.push(
                        Diagnostic::new(format!("invalid HTTP status `{n}`"))
                            .at(item.span())
                            .label("not a status")
                            .hint("statuses are between 100 and 599"),
                    ),
                }
            }
        }
        Some(HttpSpec {
            method,
            url: url?,
            headers,
            query,
            json,
            body,
            expect_status,
        })
    }

    fn always_idempotent(spec: &HttpSpec) -> bool {
        read_only(&spec.method)
    }

    /// Nothing outside the file to check.
    fn check(_: &Self::Spec, _: &super::CheckCx<'_>) -> Vec<crate::workflow::diag::Diagnostic> {
        Vec::new()
    }

    fn render(h: &HttpSpec, r: &RenderCx<'_>) -> Result<HttpAction, String> {
        let mut headers = BTreeMap::new();
        for (k, v) in &h.headers {
            headers.insert(k.clone(), r.text(v)?);
        }
        let mut query = BTreeMap::new();
        for (k, v) in &h.query {
            query.insert(k.clone(), r.text(v)?);
        }
        let json = h.json.as_ref().map(|j| r.json(j)).transpose()?;
        let body = h.body.as_ref().map(|b| r.text(b)).transpose()?;
        Ok(HttpAction {
            method: h.method.clone(),
            url: r.text(&h.url)?,
            headers,
            query,
            json,
            body,
            expect_status: h.expect_status.clone(),
            idempotency_key: (!read_only(&h.method)).then(|| r.idempotency_key()),
        })
    }

    fn validate(&self) -> Result<(), String> {
        let h = self;
        if h.method.is_empty() || !h.method.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(format!("`{}` is not an HTTP method", h.method));
        }
        let url = reqwest::Url::parse(&h.url)
            .map_err(|e| format!("`{}` is not a valid URL: {e}", h.url))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "URL `{}` must start with http:// or https://",
                h.url
            ));
        }
        for (k, v) in &h.headers {
            reqwest::header::HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| format!("`{k}` is not a valid header name"))?;
            reqwest::header::HeaderValue::from_str(v).map_err(|_| {
                format!("the value of header `{k}` has characters HTTP does not allow")
            })?;
        }
        if h.json.is_some() && h.body.is_some() {
            return Err("set either `json` or `body`, not both".into());
        }
        if let Some(bad) = h.expect_status.iter().find(|s| !(100..=599).contains(*s)) {
            return Err(format!("{bad} is not an HTTP status"));
        }
        Ok(())
    }

    /// The operator may change the whole request, its idempotency key included.
    fn validate_edit(&self, _proposed: &HttpAction) -> Result<(), String> {
        self.validate()
    }

    /// The step's `approve` decides.
    fn must_ask(&self) -> bool {
        false
    }

    fn touches(&self) -> Vec<Touch> {
        vec![Touch::Http {
            method: self.method.to_ascii_uppercase(),
            url: self.url.clone(),
        }]
    }

    /// The request's host (and port).
    fn target(&self) -> Option<super::Target> {
        super::Target::of_url(&self.url)
    }

    fn summary(&self) -> String {
        format!("{} {}", self.method, self.url)
    }

    fn describe(&self) -> Description {
        let h = self;
        let mut d = Description::new(&h.method, &h.url);
        if !h.query.is_empty() {
            let q: Vec<String> = h.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            d = d.header("query", q.join("&"));
        }
        for (k, v) in &h.headers {
            d = d.header(k, v);
        }
        if let Some(key) = &h.idempotency_key {
            d = d.meta("Idempotency-Key", key);
        }
        if let Some(j) = &h.json {
            let pretty = serde_json::to_string_pretty(j).unwrap_or_default();
            d = d.body("json", "application/json", pretty);
        } else if let Some(b) = &h.body {
            let ct = h
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                .map(|(_, v)| v.as_str())
                .unwrap_or("text/plain");
            d = d.body("body", ct, b);
        }
        if !h.expect_status.is_empty() {
            let s: Vec<String> = h.expect_status.iter().map(|s| s.to_string()).collect();
            d = d.note(format!("expect status {}", s.join(", ")));
        }
        d
    }

    async fn commit(self, res: &Resources) -> Result<Json, ExecError> {
        let client = res.http()?;
        send(self, &client).await
    }
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
        ExecError::transient(format!(
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
        ExecError::transient(format!(
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
            ExecError::transient(msg)
        } else {
            ExecError::refused(msg)
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
