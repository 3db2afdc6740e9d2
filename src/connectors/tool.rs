//! `tool` steps: one call of a tool on an MCP server (`[mcp.NAME]` in the config).
//! This file owns the kind: its step fields, the checks against the server's listing
//! (`aios check`), rendering (arguments evaluated, checked against the tool's input
//! schema, the tool's annotations attached), description, validation and commit
//! through the process's [`crate::mcp::McpPool`].
//!
//! A call runs without approval only when the step says `approve = "never"` and the
//! server annotates the tool `readOnlyHint`; any other call is proposed
//! ([`Connector::must_ask`]), and `aios check` refuses `approve = "never"` on a tool
//! known not to be read-only.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use toml::de::DeValue;

use super::{AfterTimeout, CheckCx, Connector, Description, ExecError, RenderCx, Resources, Touch};
use crate::mcp::{Annotations, CatalogError, McpError, schema};
use crate::workflow::diag::Diagnostic;
use crate::workflow::kinds::StepFields;
use crate::workflow::read::{Span, get, key_span};
use crate::workflow::{Approve, suggest};

/// A tool step as written in the workflow.
#[derive(Debug, Clone)]
pub struct ToolSpec {
    pub server: String,
    pub tool: String,
    /// A table whose string leaves are templates, or one `{{ expression }}` that gives
    /// a table.
    pub args: Json,
    /// Where things are in the file, for `aios check`'s messages.
    spans: Spans,
}

#[derive(Debug, Clone)]
struct Spans {
    step: Span,
    server: Span,
    tool: Span,
    args: Option<Span>,
    /// Each top-level argument's key.
    arg_keys: Vec<(String, Span)>,
    approve: Option<Span>,
}

/// A rendered tool call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolAction {
    /// The server's name in the config.
    pub server: String,
    pub tool: String,
    /// The exact arguments sent.
    #[serde(default)]
    pub arguments: Map<String, Json>,
    /// The tool's title, as listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The tool's annotations as listed when the call was rendered; absent when no
    /// listing could be had (the call then always waits for approval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Annotations>,
    /// Where the listing came from when it was not the running server (a cached
    /// listing, or why none could be had).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing: Option<String>,
}

fn is_server_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl Connector for ToolAction {
    type Spec = ToolSpec;
    const FIELDS: &'static [&'static str] = &["server", "tool", "args"];
    const DEFAULT_TIMEOUT: Option<Duration> = Some(Duration::from_secs(60));
    /// The server is told to cancel the call (as before: retried per `retry`).
    const AFTER_TIMEOUT: AfterTimeout = AfterTimeout::Retry;

    fn read(f: StepFields<'_, '_>) -> Option<ToolSpec> {
        let StepFields {
            cx,
            t,
            span,
            ctx,
            uses,
        } = f;
        let mut literal = |key: &str, what: &str, hint: &str| -> Option<(String, Span)> {
            let Some(v) = get(t, key) else {
                cx.missing(key, span.clone(), ctx);
                return None;
            };
            let s = cx.string(key, v)?;
            if crate::template::is_template(&s) {
                cx.push(
                    Diagnostic::new(format!("`{key}` must be written out, not a template"))
                        .at(v.span())
                        .label("a template")
                        .hint(format!(
                            "name the {what} itself, so `aios check` can check the call against it"
                        )),
                );
                return None;
            }
            if s.trim().is_empty() {
                cx.push(
                    Diagnostic::new(format!("`{key}` is empty"))
                        .at(v.span())
                        .label(format!("no {what}"))
                        .hint(hint.to_string()),
                );
                return None;
            }
            Some((s, v.span()))
        };
        let server = literal(
            "server",
            "server",
            "name a server of your config: server = \"github\" for [mcp.github]",
        );
        let tool = literal(
            "tool",
            "tool",
            "name one of the server's tools (`aios mcp tools SERVER` lists them)",
        );
        if let Some((s, sp)) = &server
            && !is_server_name(s)
        {
            cx.push(
                Diagnostic::new(format!("`{s}` is not a server name"))
                    .at(sp.clone())
                    .label("not a name")
                    .hint("server names are letters, digits, `_` and `-`, as in [mcp.NAME]"),
            );
        }
        let mut arg_keys = Vec::new();
        let mut args_span = None;
        let args = match get(t, "args") {
            None => Json::Object(Map::new()),
            Some(v) => {
                args_span = Some(v.span());
                match v.get_ref() {
                    DeValue::Table(table) => {
                        for (k, _) in table.iter() {
                            arg_keys.push((k.get_ref().to_string(), k.span()));
                        }
                        cx.json("args", v, Some(uses))?
                    }
                    DeValue::String(s) if crate::template::sole_expression(s).is_some() => {
                        cx.json("args", v, Some(uses))?
                    }
                    _ => {
                        cx.push(
                            Diagnostic::new("`args` must be a table of arguments")
                                .at(v.span())
                                .label("not a table")
                                .hint("like args = { message = \"Hi {{ inputs.name }}\" }, or args = \"{{ steps.x.output }}\" for a table made earlier"),
                        );
                        return None;
                    }
                }
            }
        };
        let (server, server_span) = server?;
        let (tool, tool_span) = tool?;
        Some(ToolSpec {
            server,
            tool,
            args,
            spans: Spans {
                step: span,
                server: server_span,
                tool: tool_span,
                args: args_span,
                arg_keys,
                approve: key_span(t, "approve"),
            },
        })
    }

    /// Whether a tool call is safe to repeat is only known from its server's
    /// annotations, which are hints: only the workflow's `idempotent` decides.
    fn always_idempotent(_: &ToolSpec) -> bool {
        false
    }

    fn check(s: &ToolSpec, cx: &CheckCx<'_>) -> Vec<Diagnostic> {
        let listing = match cx.tools.tools(&s.server) {
            Ok(l) => l,
            Err(CatalogError::NotConfigured(msg)) => {
                return vec![
                    Diagnostic::new(msg)
                        .at(s.spans.server.clone())
                        .label("not in the config")
                        .hint(format!(
                            "add [mcp.{}] with command = [...] or url = \"...\" to config.toml (`aios mcp list` shows the servers)",
                            s.server
                        )),
                ];
            }
            // Not known: `aios check` says so once per server.
            Err(CatalogError::Unavailable(_)) => return Vec::new(),
        };
        let Some(tool) = listing.tool(&s.tool) else {
            let names: Vec<&str> = listing.tools.iter().map(|t| t.name.as_str()).collect();
            let hint = match suggest::did_you_mean(&s.tool, names.iter().copied()) {
                Some(d) => d,
                None => format!(
                    "its tools: {}",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                ),
            };
            return vec![
                Diagnostic::new(format!("server `{}` has no tool `{}`", s.server, s.tool))
                    .at(s.spans.tool.clone())
                    .label("unknown tool")
                    .hint(hint),
            ];
        };
        let mut out = Vec::new();
        for p in schema::check(&tool.input_schema, &s.args, true) {
            let at = p
                .arg
                .as_ref()
                .and_then(|a| s.spans.arg_keys.iter().find(|(k, _)| k == a))
                .map(|(_, sp)| sp.clone())
                .or_else(|| s.spans.args.clone())
                .unwrap_or_else(|| s.spans.step.clone());
            out.push(
                Diagnostic::new(format!(
                    "the arguments do not fit `{}`: {}",
                    s.tool, p.message
                ))
                .at(at)
                .label("does not fit the tool's input schema")
                .hint(format!(
                    "`{}` takes: {}",
                    s.tool,
                    schema::takes(&tool.input_schema)
                )),
            );
        }
        if cx.approve == Approve::Never && !tool.annotations.is_read_only() {
            out.push(
                Diagnostic::new(format!(
                    "`approve = \"never\"` needs a read-only tool; `{}` on `{}` is {}",
                    s.tool,
                    s.server,
                    tool.annotations.describe()
                ))
                .at(s
                    .spans
                    .approve
                    .clone()
                    .unwrap_or_else(|| s.spans.step.clone()))
                .label("this call must be approved")
                .hint("remove `approve = \"never\"`: the call waits in the inbox as a proposal"),
            );
        }
        out
    }

    fn render(s: &ToolSpec, r: &RenderCx<'_>) -> Result<ToolAction, String> {
        let arguments = match r.json(&s.args)? {
            Json::Object(m) => m,
            other => {
                return Err(format!(
                    "`args` must give a table of arguments, got {}",
                    crate::connectors::truncate_line(&other.to_string(), 60)
                ));
            }
        };
        let mut action = ToolAction {
            server: s.server.clone(),
            tool: s.tool.clone(),
            arguments,
            title: None,
            annotations: None,
            listing: None,
        };
        match r.tools.tools(&s.server) {
            Ok(listing) => {
                let Some(tool) = listing.tool(&s.tool) else {
                    let names: Vec<&str> = listing.tools.iter().map(|t| t.name.as_str()).collect();
                    return Err(format!(
                        "server `{}` has no tool `{}` (its tools: {})",
                        s.server,
                        s.tool,
                        names.join(", ")
                    ));
                };
                let problems = schema::check(
                    &tool.input_schema,
                    &Json::Object(action.arguments.clone()),
                    false,
                );
                if !problems.is_empty() {
                    return Err(format!(
                        "the arguments do not fit `{}`: {}",
                        s.tool,
                        schema::describe(&problems)
                    ));
                }
                action.title = tool.title.clone();
                action.annotations = Some(tool.annotations.clone());
                action.listing = listing.cached_at.map(|at| {
                    format!(
                        "annotations from the listing cached at {} (the server could not be reached)",
                        crate::clock::format_ms(at)
                    )
                });
            }
            Err(CatalogError::NotConfigured(msg)) => return Err(msg),
            Err(CatalogError::Unavailable(why)) => {
                action.listing = Some(format!(
                    "annotations unknown: the server's tools could not be listed ({})",
                    crate::connectors::truncate_line(&why, 200)
                ));
            }
        }
        Ok(action)
    }

    fn validate(&self) -> Result<(), String> {
        if !is_server_name(&self.server) {
            return Err(format!("`{}` is not a server name", self.server));
        }
        if self.tool.trim().is_empty() {
            return Err("`tool` is empty: name the tool to call".into());
        }
        Ok(())
    }

    /// The operator may change the arguments; the server, the tool and what was
    /// listed about it stay as proposed (to call something else, reject this one).
    fn validate_edit(&self, proposed: &ToolAction) -> Result<(), String> {
        self.validate()?;
        if self.server != proposed.server || self.tool != proposed.tool {
            return Err(format!(
                "an edit may change the arguments only, not the server or the tool (proposed: `{}` on `{}`); reject this call instead",
                proposed.tool, proposed.server
            ));
        }
        if self.annotations != proposed.annotations
            || self.title != proposed.title
            || self.listing != proposed.listing
        {
            return Err(
                "the tool's annotations and title come from its server and cannot be edited".into(),
            );
        }
        Ok(())
    }

    fn must_ask(&self) -> bool {
        !self
            .annotations
            .as_ref()
            .is_some_and(Annotations::is_read_only)
    }

    fn touches(&self) -> Vec<Touch> {
        vec![Touch::Tool {
            server: self.server.clone(),
            tool: self.tool.clone(),
        }]
    }

    /// The tool server.
    fn target(&self) -> Option<super::Target> {
        Some(super::Target::new(super::TargetKind::Mcp, &self.server))
    }

    fn summary(&self) -> String {
        format!("call {} on {}", self.tool, self.server)
    }

    fn describe(&self) -> Description {
        let mut d = Description::new("call", &self.tool).word("on", &self.server);
        if let Some(t) = &self.title {
            d = d.word("titled", t);
        }
        let pretty =
            serde_json::to_string_pretty(&Json::Object(self.arguments.clone())).unwrap_or_default();
        d = d.body("arguments", "application/json", pretty);
        if let Some(a) = &self.annotations {
            d = d.note(format!("annotations: {}", a.describe()));
        }
        if let Some(l) = &self.listing {
            d = d.note(l);
        }
        if self.must_ask() {
            d = d.note("not annotated read-only: it runs only once approved");
        }
        d
    }

    async fn commit(self, res: &Resources) -> Result<Json, ExecError> {
        let session = res.mcp().session(&self.server).await.map_err(exec_error)?;
        let result = session
            .call_tool(&self.tool, self.arguments, None, None)
            .await
            .map_err(exec_error)?;
        if result.is_error {
            let text = match session.redact(Json::String(result.text())) {
                Json::String(s) => s,
                other => other.to_string(),
            };
            let text = if text.trim().is_empty() {
                "(no message)".to_string()
            } else {
                super::cap_text(text, 4096)
            };
            return Err(ExecError::refused(format!(
                "tool `{}` on `{}` reported an error: {text}",
                self.tool, self.server
            )));
        }
        Ok(session.redact(result.output()))
    }
}

fn exec_error(e: McpError) -> ExecError {
    if e.retryable() {
        // The server did not start, answer in time, or stay up.
        ExecError::transient(e.to_string())
    } else if matches!(e, McpError::Refused { .. }) {
        ExecError::refused(e.to_string())
    } else {
        ExecError::fatal(e.to_string())
    }
}
