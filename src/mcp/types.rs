//! What aios keeps of MCP's types: a tool as listed (name, description, input schema,
//! annotations), a call's result (structured content or its content list), progress,
//! and the errors of talking to a server. Our own types, so the journal, the cache and
//! the CLI's JSON do not change with the SDK's.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

/// A tool's annotations. Every one is a hint from the server: `read_only` decides
/// whether a call may run without approval; the others are shown to the operator.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Annotations {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "readOnlyHint"
    )]
    pub read_only: Option<bool>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "destructiveHint"
    )]
    pub destructive: Option<bool>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "idempotentHint"
    )]
    pub idempotent: Option<bool>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "openWorldHint"
    )]
    pub open_world: Option<bool>,
}

impl Annotations {
    /// Annotated `readOnlyHint: true`.
    pub fn is_read_only(&self) -> bool {
        self.read_only == Some(true)
    }

    /// `read-only, not destructive, idempotent, closed world` (only the hints given;
    /// the spec's defaults apply to the others and are said as such).
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        match self.read_only {
            Some(true) => parts.push("read-only"),
            Some(false) => parts.push("not read-only"),
            None => parts.push("not read-only (no readOnlyHint)"),
        }
        if self.read_only != Some(true) {
            match self.destructive {
                Some(false) => parts.push("not destructive"),
                Some(true) => parts.push("destructive"),
                None => parts.push("may be destructive (no destructiveHint)"),
            }
            match self.idempotent {
                Some(true) => parts.push("idempotent"),
                _ => parts.push("not idempotent"),
            }
        }
        match self.open_world {
            Some(false) => parts.push("closed world"),
            Some(true) => parts.push("open world"),
            None => {}
        }
        parts.join(", ")
    }
}

/// A tool as its server lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolInfo {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A JSON Schema object for its arguments.
    pub input_schema: Json,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Json>,
    #[serde(default)]
    pub annotations: Annotations,
}

impl ToolInfo {
    /// From the SDK's tool (annotations absent = every hint unknown).
    pub(crate) fn from_sdk(t: &rmcp::model::Tool) -> ToolInfo {
        let a = t.annotations.as_ref();
        ToolInfo {
            name: t.name.to_string(),
            title: t.title.clone().or_else(|| a.and_then(|a| a.title.clone())),
            description: t.description.as_ref().map(|d| d.to_string()),
            input_schema: Json::Object((*t.input_schema).clone()),
            output_schema: t
                .output_schema
                .as_ref()
                .map(|s| Json::Object((**s).clone())),
            annotations: Annotations {
                read_only: a.and_then(|a| a.read_only_hint),
                destructive: a.and_then(|a| a.destructive_hint),
                idempotent: a.and_then(|a| a.idempotent_hint),
                open_world: a.and_then(|a| a.open_world_hint),
            },
        }
    }
}

/// What a call returned.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    /// The server said the call failed (`isError`).
    pub is_error: bool,
    /// `structuredContent`, when given.
    pub structured: Option<Json>,
    /// The content list as the server sent it (`{type: "text", text}`, images…).
    pub content: Vec<Json>,
}

impl ToolResult {
    /// The step's output: the structured content when given, else the content list
    /// with each text item as its text (other items as the server sent them).
    pub fn output(&self) -> Json {
        if let Some(s) = &self.structured {
            return s.clone();
        }
        Json::Array(
            self.content
                .iter()
                .map(|c| match (c.get("type"), c.get("text")) {
                    (Some(Json::String(t)), Some(Json::String(text))) if t == "text" => {
                        Json::String(text.clone())
                    }
                    _ => c.clone(),
                })
                .collect(),
        )
    }

    /// The text items, one per line (what an error says, what a person reads).
    pub fn text(&self) -> String {
        let texts: Vec<&str> = self
            .content
            .iter()
            .filter(|c| c.get("type").and_then(Json::as_str) == Some("text"))
            .filter_map(|c| c.get("text").and_then(Json::as_str))
            .collect();
        texts.join("\n")
    }

    pub(crate) fn from_sdk(r: &rmcp::model::CallToolResult) -> ToolResult {
        let content = match serde_json::to_value(&r.content) {
            Ok(Json::Array(a)) => a,
            _ => Vec::new(),
        };
        ToolResult {
            is_error: r.is_error == Some(true),
            structured: r.structured_content.clone(),
            content,
        }
    }
}

/// A progress notification of a call in flight.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub progress: f64,
    pub total: Option<f64>,
    pub message: Option<String>,
}

impl Progress {
    /// `3/5` or `3`, with the message: `3/5 copying`.
    pub fn line(&self) -> String {
        let n = |x: f64| {
            if x.fract() == 0.0 && x.abs() < 1e15 {
                format!("{}", x as i64)
            } else {
                format!("{x}")
            }
        };
        let mut s = match self.total {
            Some(t) => format!("{}/{}", n(self.progress), n(t)),
            None => n(self.progress),
        };
        if let Some(m) = &self.message {
            s.push(' ');
            s.push_str(m);
        }
        s
    }
}

/// Called with each progress notification of a call.
pub type ProgressFn = std::sync::Arc<dyn Fn(Progress) + Send + Sync>;

/// Arguments of a call: a JSON object.
pub type Args = Map<String, Json>;

/// Talking to a server went wrong. Every message names the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum McpError {
    /// No `[mcp.NAME]` in the config.
    NotConfigured {
        server: String,
        origin: String,
        known: String,
    },
    /// It could not be started, reached or initialized.
    Start { server: String, message: String },
    /// No answer in time (the request was cancelled).
    Timeout {
        server: String,
        what: String,
        after: Duration,
    },
    /// The connection ended before the answer: the server exited, crashed or hung up.
    Closed {
        server: String,
        what: String,
        detail: String,
    },
    /// The server answered with an error (unknown tool, invalid arguments…).
    Refused {
        server: String,
        what: String,
        message: String,
    },
    /// An answer aios cannot use.
    Protocol {
        server: String,
        what: String,
        message: String,
    },
}

impl McpError {
    /// Whether trying again later might work (a server that was down, slow or died).
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            McpError::Start { .. } | McpError::Timeout { .. } | McpError::Closed { .. }
        )
    }

    pub fn server(&self) -> &str {
        match self {
            McpError::NotConfigured { server, .. }
            | McpError::Start { server, .. }
            | McpError::Timeout { server, .. }
            | McpError::Closed { server, .. }
            | McpError::Refused { server, .. }
            | McpError::Protocol { server, .. } => server,
        }
    }
}

impl std::fmt::Display for McpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            McpError::NotConfigured {
                server,
                origin,
                known,
            } => write!(
                f,
                "no MCP server `{server}` is configured ({origin} has no [mcp.{server}]; configured: {known})"
            ),
            McpError::Start { server, message } => {
                write!(f, "MCP server `{server}` could not be started: {message}")
            }
            McpError::Timeout {
                server,
                what,
                after,
            } => write!(
                f,
                "MCP server `{server}` did not answer {what} within {}; the request was cancelled",
                crate::clock::format_duration(*after)
            ),
            McpError::Closed {
                server,
                what,
                detail,
            } => write!(
                f,
                "MCP server `{server}` closed the connection during {what}{detail}"
            ),
            McpError::Refused {
                server,
                what,
                message,
            } => write!(f, "MCP server `{server}` refused {what}: {message}"),
            McpError::Protocol {
                server,
                what,
                message,
            } => write!(
                f,
                "MCP server `{server}` gave an unusable answer to {what}: {message}"
            ),
        }
    }
}

impl std::error::Error for McpError {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn output_prefers_structured_content_else_decodes_text() {
        let r = ToolResult {
            is_error: false,
            structured: None,
            content: vec![
                json!({"type": "text", "text": "Echo: hi"}),
                json!({"type": "image", "data": "AAAA", "mimeType": "image/png"}),
            ],
        };
        assert_eq!(
            r.output(),
            json!(["Echo: hi", {"type": "image", "data": "AAAA", "mimeType": "image/png"}])
        );
        assert_eq!(r.text(), "Echo: hi");
        let s = ToolResult {
            structured: Some(json!({"temperature": 33})),
            ..r
        };
        assert_eq!(s.output(), json!({"temperature": 33}));
    }

    #[test]
    fn annotations_read_as_words() {
        let ro = Annotations {
            read_only: Some(true),
            destructive: Some(false),
            idempotent: Some(true),
            open_world: Some(false),
        };
        assert!(ro.is_read_only());
        assert_eq!(ro.describe(), "read-only, closed world");
        let none = Annotations::default();
        assert!(!none.is_read_only());
        assert_eq!(
            none.describe(),
            "not read-only (no readOnlyHint), may be destructive (no destructiveHint), not idempotent"
        );
        let w = Annotations {
            read_only: Some(false),
            destructive: Some(true),
            idempotent: None,
            open_world: Some(true),
        };
        assert_eq!(
            w.describe(),
            "not read-only, destructive, not idempotent, open world"
        );
        // Serialized with MCP's names (the cache and `mcp tools --json`).
        assert_eq!(
            serde_json::to_value(&ro).unwrap(),
            json!({"readOnlyHint": true, "destructiveHint": false, "idempotentHint": true, "openWorldHint": false})
        );
    }

    #[test]
    fn progress_reads_as_a_fraction() {
        let p = Progress {
            progress: 3.0,
            total: Some(5.0),
            message: Some("copying".into()),
        };
        assert_eq!(p.line(), "3/5 copying");
        let q = Progress {
            progress: 0.5,
            total: None,
            message: None,
        };
        assert_eq!(q.line(), "0.5");
    }

    #[test]
    fn errors_name_the_server_and_say_if_retrying_helps() {
        let t = McpError::Timeout {
            server: "files".into(),
            what: "`tools/call write`".into(),
            after: Duration::from_secs(2),
        };
        assert_eq!(
            t.to_string(),
            "MCP server `files` did not answer `tools/call write` within 2s; the request was cancelled"
        );
        assert!(t.retryable());
        let r = McpError::Refused {
            server: "files".into(),
            what: "`tools/call nope`".into(),
            message: "Tool nope not found".into(),
        };
        assert!(!r.retryable());
        assert_eq!(r.server(), "files");
    }
}
