//! Tools an agent step may call (`tools = [...]` on the step): what is offered to the
//! model, the calls it makes and their results. Pure: resolving the step's list
//! against MCP listings, the name each tool has on the wire, and aios's own
//! read-only tools' definitions. Running a call is the driver's
//! (`engine/driver/tools.rs`).
//!
//! Names: an MCP tool is written `SERVER.TOOL` in the step (`SERVER.*` for all of a
//! server's tools) and offered to the model as `SERVER__TOOL` (providers accept only
//! letters, digits, `_` and `-` in a tool's name). aios's own tools are
//! `memory.search`, `fact.get`, `decisions.recent` and `run.output` (offered as
//! `memory__search`, ...).

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::mcp::{Annotations, ToolInfo};

/// Default `max_turns` of an agent step with tools.
pub const DEFAULT_MAX_TURNS: u32 = 8;

/// aios's own tools, all read-only.
pub const AIOS_TOOLS: &[&str] = &[
    "memory.search",
    "fact.get",
    "decisions.recent",
    "run.output",
];

/// Where a tool's calls go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum ToolSource {
    /// A tool of an MCP server (`[mcp.SERVER]`).
    Mcp {
        server: String,
        tool: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        annotations: Option<Annotations>,
    },
    /// One of [`AIOS_TOOLS`].
    Aios { name: String },
}

/// A tool offered to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolDef {
    /// Its name on the wire (`SERVER__TOOL`, `memory__search`).
    pub name: String,
    pub description: String,
    /// A JSON Schema object for its arguments.
    pub input_schema: Json,
    /// Runs inline (annotated `readOnlyHint`, or one of aios's own); otherwise each
    /// call is a proposal.
    pub read_only: bool,
    #[serde(flatten)]
    pub source: ToolSource,
}

/// What the wire format sends of a tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireTool {
    pub name: String,
    pub description: String,
    pub input_schema: Json,
}

impl ToolDef {
    pub fn wire(&self) -> WireTool {
        WireTool {
            name: self.name.clone(),
            description: self.description.clone(),
            input_schema: self.input_schema.clone(),
        }
    }

    /// How the step names it (`SERVER.TOOL`, `memory.search`).
    pub fn label(&self) -> String {
        match &self.source {
            ToolSource::Mcp { server, tool, .. } => format!("{server}.{tool}"),
            ToolSource::Aios { name } => name.clone(),
        }
    }
}

/// A call the model made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's id of the call (its result refers to it).
    pub id: String,
    /// The tool's wire name.
    pub name: String,
    /// Its arguments (an object; what the model sent when it was not valid JSON is
    /// kept as a string).
    pub arguments: Json,
}

/// The name a tool has on the wire: `.` becomes `__`, anything else a provider
/// refuses becomes `_`, at most 64 characters.
pub fn wire_name(label: &str) -> String {
    let s: String = label
        .replace('.', "__")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    s.chars().take(64).collect()
}

/// Whether `pattern` (`*` matches any run of characters) matches `name`.
pub fn glob(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some((b'*', rest)) => (0..=n.len()).any(|i| go(rest, &n[i..])),
            Some((c, rest)) => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

/// A `tools` entry split: `(SERVER, TOOL-GLOB)` (TOOL-GLOB empty without a `.`), or
/// `None` for aios's own tools.
pub fn split(entry: &str) -> Option<(&str, &str)> {
    if AIOS_TOOLS.contains(&entry) {
        return None;
    }
    Some(entry.split_once('.').unwrap_or((entry, "")))
}

/// What an entry of the step's `tools` matched in a server's listing.
pub fn matching<'a>(tool_glob: &str, listing: &'a [ToolInfo]) -> Vec<&'a ToolInfo> {
    listing
        .iter()
        .filter(|t| glob(tool_glob, &t.name))
        .collect()
}

/// The definition offered for an MCP tool.
pub fn mcp_def(server: &str, t: &ToolInfo) -> ToolDef {
    let label = format!("{server}.{}", t.name);
    let mut description = t.description.clone().unwrap_or_default();
    if !t.annotations.is_read_only() {
        if !description.is_empty() {
            description.push(' ');
        }
        description.push_str(
            "(Side effect: each call waits for the operator's approval; say why you make it.)",
        );
    }
    ToolDef {
        name: wire_name(&label),
        description,
        input_schema: object_schema(&t.input_schema),
        read_only: t.annotations.is_read_only(),
        source: ToolSource::Mcp {
            server: server.to_string(),
            tool: t.name.clone(),
            title: t.title.clone(),
            annotations: Some(t.annotations.clone()),
        },
    }
}

/// A schema providers accept for arguments: an object schema.
fn object_schema(s: &Json) -> Json {
    if s.get("type").and_then(Json::as_str) == Some("object") {
        s.clone()
    } else {
        json!({"type": "object", "properties": {}})
    }
}

/// The definition of one of aios's own tools (`None` for another name).
pub fn aios_def(name: &str) -> Option<ToolDef> {
    let (description, schema) = match name {
        "memory.search" => (
            "Search aios's memory (notes, past decisions, outcomes) by full text. Returns up to `k` hits, best first: {hits: [{kind, id, text, score}]}.",
            json!({
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "what to look for"},
                    "k": {"type": "integer", "description": "how many hits (1 to 20, default 5)"}
                },
                "required": ["query"]
            }),
        ),
        "fact.get" => (
            "Read facts aios keeps about an entity. Returns {entity, facts: {KEY: {value, version}}} (only `key` when given).",
            json!({
                "type": "object",
                "properties": {
                    "entity": {"type": "string", "description": "the entity, like customer:42"},
                    "key": {"type": "string", "description": "one fact's key (all of them when absent)"}
                },
                "required": ["entity"]
            }),
        ),
        "decisions.recent" => (
            "The operator's most recent decisions on proposals, newest first: {decisions: [{proposal, workflow, step, summary, decision, reason, at}]}.",
            json!({
                "type": "object",
                "properties": {
                    "workflow": {"type": "string", "description": "only this workflow's"},
                    "limit": {"type": "integer", "description": "how many (1 to 50, default 10)"}
                }
            }),
        ),
        "run.output" => (
            "The outputs of a run's succeeded steps: {run, workflow, status, steps: {STEP: output}} (only `step` when given).",
            json!({
                "type": "object",
                "properties": {
                    "run": {"type": "integer", "description": "the run's id"},
                    "step": {"type": "string", "description": "one step's id"}
                },
                "required": ["run"]
            }),
        ),
        _ => return None,
    };
    Some(ToolDef {
        name: wire_name(name),
        description: description.to_string(),
        input_schema: schema,
        read_only: true,
        source: ToolSource::Aios {
            name: name.to_string(),
        },
    })
}

/// The tools a step offers: its `tools` entries resolved against the servers'
/// listings, in the order written (a tool matched twice is offered once).
pub fn resolve(
    entries: &[String],
    catalog: &dyn crate::mcp::ToolCatalog,
) -> Result<Vec<ToolDef>, String> {
    let mut out: Vec<ToolDef> = Vec::new();
    for entry in entries {
        let defs: Vec<ToolDef> = match split(entry) {
            None => aios_def(entry).into_iter().collect(),
            Some((server, glob)) => {
                let listing = catalog.tools(server).map_err(|e| match e {
                    crate::mcp::CatalogError::NotConfigured(m) => m,
                    crate::mcp::CatalogError::Unavailable(why) => {
                        format!("the tools of server `{server}` could not be listed: {why}")
                    }
                })?;
                let found = matching(glob, &listing.tools);
                if found.is_empty() {
                    return Err(format!("`{entry}` matches no tool of server `{server}`"));
                }
                found.into_iter().map(|t| mcp_def(server, t)).collect()
            }
        };
        for d in defs {
            if !out.iter().any(|o| o.name == d.name) {
                out.push(d);
            }
        }
    }
    Ok(out)
}

/// The tool result the model sees for a rejected proposal.
pub fn rejected(reason: Option<&str>) -> Json {
    json!({
        "error": "the operator rejected this call",
        "reason": reason.unwrap_or("no reason given"),
    })
}

/// The result of a call interrupted in flight that the operator marked done.
pub fn marked_done() -> Json {
    json!({
        "done": true,
        "note": "the call was interrupted; the operator says it was made",
    })
}

/// The result of a call interrupted in flight that the operator says did not happen.
pub fn not_made(reason: Option<&str>) -> Json {
    json!({
        "error": "the call was interrupted; the operator says it was not made",
        "reason": reason.unwrap_or("no reason given"),
    })
}

/// The text a tool result is sent as.
pub fn result_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_and_globs() {
        assert_eq!(wire_name("everything.get-sum"), "everything__get-sum");
        assert_eq!(wire_name("memory.search"), "memory__search");
        assert_eq!(wire_name("a b/c"), "a_b_c");
        assert!(glob("*", "echo"));
        assert!(glob("get-*", "get-sum"));
        assert!(!glob("get-*", "echo"));
        assert!(glob("echo", "echo"));
        assert_eq!(split("everything.*"), Some(("everything", "*")));
        assert_eq!(split("memory.search"), None);
        assert_eq!(split("bad"), Some(("bad", "")));
    }

    #[test]
    fn aios_tools_are_defined_and_read_only() {
        for n in AIOS_TOOLS {
            let d = aios_def(n).unwrap();
            assert!(d.read_only);
            assert_eq!(d.input_schema["type"], "object");
            assert_eq!(d.label(), *n);
        }
        assert!(aios_def("memory.write").is_none());
    }

    #[test]
    fn side_effecting_tools_say_so() {
        let t = ToolInfo {
            name: "add".into(),
            title: None,
            description: Some("Adds.".into()),
            input_schema: json!({"type": "object"}),
            output_schema: None,
            annotations: Annotations::default(),
        };
        let d = mcp_def("srv", &t);
        assert!(!d.read_only);
        assert!(d.description.contains("approval"));
        assert_eq!(d.name, "srv__add");
    }
}
