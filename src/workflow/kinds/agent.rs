//! `agent`: an LLM call, metered and capped. Pure computation for the engine: never
//! proposed (what it drafts reaches the world through a later, proposed step). Its
//! `timeout` is the deadline of all an attempt's calls; `temperature`, `top_p`,
//! `seed` and `stop` are its sampling settings; `tools` and `max_turns` its tool loop
//! (see [`crate::agent::tools`]).

use serde_json::Value as Json;
use toml::de::DeValue;

use std::time::Duration;

use super::{Policy, StepFields, StepKind, Timeout, opt_tmpl, req_tmpl};
use crate::workflow::diag::Diagnostic;
use crate::workflow::read::{Cx, Span, Table, get, key_span};
use crate::workflow::{ContextSpec, OutputFormat, Tmpl};

/// An LLM call: pure computation for the engine (never proposed), metered and capped.
#[derive(Debug, Clone)]
pub struct AgentSpec {
    /// Model aliases (`[models.ALIAS]` in the config), tried in order; never empty
    /// (`["default"]` when the step names none).
    pub models: Vec<String>,
    pub system: Option<Tmpl>,
    pub prompt: Tmpl,
    /// `json`: the reply is parsed (and validated against `schema`).
    pub output: OutputFormat,
    /// A JSON Schema subset (type, required, properties, items, enum).
    pub schema: Option<Json>,
    /// What the offline `heuristic` provider answers; string leaves are templates.
    pub offline: Option<Json>,
    /// Upper bound of the reply's tokens (also used to estimate a call's cost).
    pub max_tokens: u32,
    /// What memory goes into the prompt (`context = { memory, k, facts, decisions }`).
    pub context: Option<ContextSpec>,
    /// `temperature`, `top_p`, `seed`, `stop` (they win over the model alias's).
    pub sampling: crate::agent::Sampling,
    /// The tools the model may call: `SERVER.TOOL`, `SERVER.GLOB` (MCP servers of
    /// the config) and aios's own (`memory.search`, ...), as written.
    pub tools: Vec<(String, Span)>,
    /// The most calls of the model in one attempt's tool loop.
    pub max_turns: u32,
}

impl StepKind for AgentSpec {
    const NAME: &'static str = "agent";
    const FIELDS: &'static [&'static str] = &[
        "model",
        "system",
        "prompt",
        "output",
        "schema",
        "offline",
        "max_tokens",
        "context",
        "temperature",
        "top_p",
        "seed",
        "stop",
        "tools",
        "max_turns",
    ];
    /// `timeout` is the step's deadline: every call, repair and fallback of an
    /// attempt (default 10 minutes).
    const POLICY: Policy = Policy {
        timeout: Timeout::Execution(Some(Duration::from_secs(600))),
        ..Policy::PURE
    };

    fn read(f: StepFields<'_, '_>) -> Option<AgentSpec> {
        let StepFields {
            cx,
            t,
            span,
            ctx,
            uses,
        } = f;
        let mut models = Vec::new();
        if let Some(v) = get(t, "model") {
            let items: Vec<_> = match v.get_ref() {
                DeValue::Array(a) => a.iter().collect(),
                _ => vec![v],
            };
            if items.is_empty() {
                cx.push(
                    Diagnostic::new("`model` must name at least one model")
                        .at(v.span())
                        .label("empty list")
                        .hint("name an alias from [models] in your config, like model = \"fast\""),
                );
            }
            for item in items {
                if let Some(m) = cx.string("model", item) {
                    if m.trim().is_empty() || m.chars().any(char::is_whitespace) {
                        cx.push(
                            Diagnostic::new(format!("invalid model alias `{m}`"))
                                .at(item.span())
                                .label("not an alias")
                                .hint("a model alias is a name from [models] in your config (or `heuristic`)"),
                        );
                    } else {
                        models.push(m);
                    }
                }
            }
        }
        if models.is_empty() {
            models.push("default".to_string());
        }
        let system = opt_tmpl(cx, t, "system", uses);
        let prompt = req_tmpl(cx, t, "prompt", &span, ctx, uses);
        let output = match get(t, "output").and_then(|v| cx.choice("output", v, &["text", "json"]))
        {
            Some(1) => OutputFormat::Json,
            _ => OutputFormat::Text,
        };
        let mut schema = None;
        if let Some(v) = get(t, "schema") {
            if let Some(j) = cx.json("schema", v, Some(uses)) {
                match crate::agent::schema::check_schema(&j) {
                    Ok(()) => schema = Some(j),
                    Err(e) => cx.push(
                        Diagnostic::new(format!("invalid `schema`: {e}"))
                            .at(v.span())
                            .label("not a supported JSON Schema")
                            .hint(crate::agent::schema::SCHEMA_HINT),
                    ),
                }
            }
            if output != OutputFormat::Json {
                cx.push(
                    Diagnostic::new("`schema` needs `output = \"json\"`")
                        .at(key_span(t, "schema").unwrap_or(span.clone()))
                        .label("a text reply is not validated")
                        .hint("add output = \"json\" to this step, or remove `schema`"),
                );
            }
        }
        let offline = get(t, "offline").and_then(|v| cx.json("offline", v, Some(uses)));
        let mut max_tokens = DEFAULT_MAX_TOKENS;
        if let Some(v) = get(t, "max_tokens")
            && let Some(n) = cx.integer("max_tokens", v)
        {
            match u32::try_from(n) {
                Ok(n) if (1..=1_000_000).contains(&n) => max_tokens = n,
                _ => cx.push(
                    Diagnostic::new(format!(
                        "`max_tokens` must be between 1 and 1000000, found {n}"
                    ))
                    .at(v.span())
                    .label("out of range")
                    .hint("max_tokens bounds the reply's length (and its estimated cost)"),
                ),
            }
        }
        let context = get(t, "context").and_then(|v| crate::workflow::read_context(cx, v, uses));
        let sampling = sampling(cx, t);
        let tools = read_tools(cx, t);
        let mut max_turns = crate::agent::tools::DEFAULT_MAX_TURNS;
        if let Some(v) = get(t, "max_turns")
            && let Some(n) = cx.integer("max_turns", v)
        {
            match u32::try_from(n) {
                Ok(n) if (1..=100).contains(&n) => max_turns = n,
                _ => cx.push(
                    Diagnostic::new(format!("`max_turns` must be between 1 and 100, found {n}"))
                        .at(v.span())
                        .label("out of range")
                        .hint("max_turns bounds the model's calls in one attempt's tool loop (default 8)"),
                ),
            }
            if tools.is_empty() {
                cx.push(
                    Diagnostic::new("`max_turns` needs `tools`")
                        .at(v.span())
                        .label("a step without tools makes one call")
                        .hint("add tools = [\"memory.search\"] (or an MCP server's tools), or remove `max_turns`"),
                );
            }
        }
        Some(AgentSpec {
            models,
            system,
            prompt: prompt?,
            output,
            schema,
            offline,
            max_tokens,
            context,
            sampling,
            tools,
            max_turns,
        })
    }
}

/// The step's `tools`: each `SERVER.TOOL` (a `*` glob allowed in TOOL) or one of
/// aios's own tools. Whether a server and its tools exist is checked against the
/// configuration (`aios check`), not here.
fn read_tools(cx: &mut Cx, t: &Table<'_>) -> Vec<(String, Span)> {
    let Some(v) = get(t, "tools") else {
        return Vec::new();
    };
    let DeValue::Array(items) = v.get_ref() else {
        cx.wrong_type("tools", v, "a list of strings");
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        let Some(s) = cx.string("tools", item) else {
            continue;
        };
        let ok = match crate::agent::tools::split(&s) {
            None => true,
            Some((server, tool)) => {
                !server.is_empty()
                    && server
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                    && !tool.is_empty()
            }
        };
        if !ok {
            cx.push(
                Diagnostic::new(format!("`{s}` is not a tool"))
                    .at(item.span())
                    .label("not SERVER.TOOL")
                    .hint(format!(
                        "write SERVER.TOOL or SERVER.* for an [mcp.SERVER] of your config, or one of aios's own: {}",
                        crate::agent::tools::AIOS_TOOLS.join(", ")
                    )),
            );
            continue;
        }
        out.push((s, item.span()));
    }
    out
}

/// Default `max_tokens` of an agent step.
pub(crate) const DEFAULT_MAX_TOKENS: u32 = 1024;

/// An agent step's `temperature`, `top_p`, `seed` and `stop`.
fn sampling(cx: &mut Cx, t: &Table<'_>) -> crate::agent::Sampling {
    use crate::agent::sampling as smp;
    let mut s = smp::Sampling::default();
    let bad = |cx: &mut Cx, v: &crate::workflow::read::Val<'_>, msg: String| {
        cx.push(
            Diagnostic::new(msg)
                .at(v.span())
                .label("out of range")
                .hint(smp::HINT),
        )
    };
    for key in ["temperature", "top_p"] {
        let Some(v) = get(t, key) else { continue };
        let n = match v.get_ref() {
            DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
            DeValue::Integer(_) => crate::workflow::read::int_value(v.get_ref()).map(|i| i as f64),
            _ => {
                cx.wrong_type(key, v, "a number");
                continue;
            }
        };
        let checked = match n {
            Some(n) if key == "temperature" => smp::temperature(n),
            Some(n) => smp::top_p(n),
            None => Err(format!("`{key}` is not a number")),
        };
        match checked {
            Ok(n) if key == "temperature" => s.temperature = Some(n),
            Ok(n) => s.top_p = Some(n),
            Err(e) => bad(cx, v, e),
        }
    }
    if let Some(v) = get(t, "seed") {
        s.seed = cx.integer("seed", v);
    }
    if let Some(v) = get(t, "stop") {
        let list: Option<Vec<String>> = match v.get_ref() {
            DeValue::String(x) => Some(vec![x.to_string()]),
            DeValue::Array(a) => a
                .iter()
                .map(|x| match x.get_ref() {
                    DeValue::String(x) => Some(x.to_string()),
                    _ => None,
                })
                .collect(),
            _ => None,
        };
        match list.map(smp::stop) {
            Some(Ok(l)) => s.stop = l,
            Some(Err(e)) => bad(cx, v, e),
            None => cx.wrong_type("stop", v, "a string or a list of strings"),
        }
    }
    s
}
