//! `agent`: an LLM call, metered and capped. Pure computation for the engine: never
//! proposed (what it drafts reaches the world through a later, proposed step).

use serde_json::Value as Json;
use toml::de::DeValue;

use super::{Policy, StepFields, StepKind, opt_tmpl, req_tmpl};
use crate::workflow::diag::Diagnostic;
use crate::workflow::read::{get, key_span};
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
    ];
    const POLICY: Policy = Policy::PURE;

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
        Some(AgentSpec {
            models,
            system,
            prompt: prompt?,
            output,
            schema,
            offline,
            max_tokens,
            context,
        })
    }
}

/// Default `max_tokens` of an agent step.
pub(crate) const DEFAULT_MAX_TOKENS: u32 = 1024;
