//! Step kinds: their fields, the unknown-key check of a step, and each kind's spec.

use toml::de::DeValue;

use super::diag::Diagnostic;
use super::model::{AgentSpec, ApprovalSpec, FieldDecl, OutputFormat, SetSpec, StepSpec};
use super::parse::{ident_hint, typed_decl};
use super::read::{Cx, Span, Table, TemplateUse, get, is_ident, key_span};
use super::suggest::did_you_mean;
use crate::connectors::ConnectorKind;

/// Keys every step may have.
pub(crate) const COMMON_KEYS: &[&str] = &[
    "id",
    "kind",
    "description",
    "needs",
    "when",
    "timeout",
    "retry",
    "approve",
    "on_reject",
    "idempotent",
    "approval_timeout",
    "on_timeout",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Acts on the world through a connector.
    Connector(ConnectorKind),
    Set,
    Approval,
    Agent,
    Remember,
    Fact,
    Outcome,
    Wait,
}

impl Kind {
    const BUILTIN: [Kind; 7] = [
        Kind::Set,
        Kind::Approval,
        Kind::Agent,
        Kind::Remember,
        Kind::Fact,
        Kind::Outcome,
        Kind::Wait,
    ];

    /// Every kind, in the order messages list them.
    pub fn all() -> impl Iterator<Item = Kind> {
        ConnectorKind::ALL
            .iter()
            .map(|c| Kind::Connector(*c))
            .chain(Self::BUILTIN)
    }

    /// The kind named `name`.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::all().find(|k| k.name() == name)
    }

    /// Kinds that only write to the journal (memory): never proposed, idempotent.
    pub fn is_memory(self) -> bool {
        matches!(self, Kind::Remember | Kind::Fact | Kind::Outcome)
    }

    /// Kinds with no side effect and no inbox item: `approve` never applies.
    pub fn never_proposed(self) -> bool {
        matches!(self, Kind::Set | Kind::Agent | Kind::Wait) || self.is_memory()
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Connector(c) => c.name(),
            Kind::Set => "set",
            Kind::Approval => "approval",
            Kind::Agent => "agent",
            Kind::Remember => "remember",
            Kind::Fact => "fact",
            Kind::Outcome => "outcome",
            Kind::Wait => "wait",
        }
    }

    /// The keys this kind adds to the common ones.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Kind::Connector(c) => c.fields(),
            Kind::Set => &["values"],
            Kind::Approval => &["title", "body", "fields"],
            Kind::Agent => &[
                "model",
                "system",
                "prompt",
                "output",
                "schema",
                "offline",
                "max_tokens",
                "context",
            ],
            Kind::Remember => &["text", "tags"],
            Kind::Fact => &["entity", "key", "value"],
            Kind::Outcome => &["values"],
            Kind::Wait => &["duration", "until"],
        }
    }
}

/// Report keys that are neither common nor fields of the step's kind. A key of another
/// kind says so; without a known kind, any kind's field is accepted.
pub(crate) fn check_step_keys(cx: &mut Cx, t: &Table<'_>, kind: Option<Kind>, ctx: &str) {
    for (k, _) in t.iter() {
        let key: &str = k.get_ref();
        if COMMON_KEYS.contains(&key) {
            continue;
        }
        let allowed: Vec<&str> = match kind {
            Some(kind) => COMMON_KEYS.iter().chain(kind.fields()).copied().collect(),
            None => COMMON_KEYS
                .iter()
                .copied()
                .chain(Kind::all().flat_map(|k| k.fields().iter().copied()))
                .collect(),
        };
        if allowed.contains(&key) {
            continue;
        }
        let dym = did_you_mean(key, allowed.iter().copied());
        let other = Kind::all().find(|o| o.fields().contains(&key));
        let d = match (kind, other) {
            (Some(kind), Some(_)) => {
                let list = format!("{} steps take: {}", kind.name(), kind.fields().join(", "));
                Diagnostic::new(format!("`{key}` is not a field of {} steps", kind.name()))
                    .label("not a field of this kind")
                    .hint(match dym {
                        Some(d) => format!("{d} {list}"),
                        None => list,
                    })
            }
            _ => {
                let hint = dym.unwrap_or_else(|| match kind {
                    Some(kind) => format!(
                        "{} steps take: {}, besides {}",
                        kind.name(),
                        kind.fields().join(", "),
                        COMMON_KEYS.join(", ")
                    ),
                    None => format!("steps take: {}", COMMON_KEYS.join(", ")),
                });
                Diagnostic::new(format!("unknown key `{key}` {ctx}"))
                    .label("unknown key")
                    .hint(hint)
            }
        };
        cx.push(d.at(k.span()));
    }
}

/// Read the kind-specific fields of a step.
pub(crate) fn read_spec(
    cx: &mut Cx,
    kind: Kind,
    t: &Table<'_>,
    span: Span,
    ctx: &str,
    uses: &mut Vec<TemplateUse>,
) -> Option<StepSpec> {
    let before = cx.diags.len();
    let spec = match kind {
        Kind::Connector(c) => c
            .read(StepFields {
                cx,
                t,
                span,
                ctx,
                uses,
            })
            .map(StepSpec::Action),
        Kind::Set => set(cx, t, span, ctx, uses).map(StepSpec::Set),
        Kind::Approval => approval(cx, t, span, ctx, uses).map(StepSpec::Approval),
        Kind::Agent => agent(cx, t, span, ctx, uses).map(StepSpec::Agent),
        Kind::Remember => {
            super::memory_kinds::remember(cx, t, span, ctx, uses).map(StepSpec::Remember)
        }
        Kind::Fact => super::memory_kinds::fact(cx, t, span, ctx, uses).map(StepSpec::Fact),
        Kind::Outcome => {
            super::memory_kinds::outcome(cx, t, span, ctx, uses).map(StepSpec::Outcome)
        }
        Kind::Wait => super::timer_kinds::wait(cx, t, span, uses).map(StepSpec::Wait),
    };
    if cx.diags.len() > before { None } else { spec }
}

/// A step's table while its kind reads its own fields.
pub(crate) struct StepFields<'s, 't> {
    pub cx: &'s mut Cx,
    pub t: &'s Table<'t>,
    /// The step's `[[steps]]` header (or inline table).
    pub span: Span,
    /// Where the step is, for messages: "in step `x`".
    pub ctx: &'s str,
    /// The templates read, with the variables they use.
    pub uses: &'s mut Vec<TemplateUse>,
}

pub(crate) fn opt_tmpl(
    cx: &mut Cx,
    t: &Table<'_>,
    key: &str,
    uses: &mut Vec<TemplateUse>,
) -> Option<String> {
    get(t, key).and_then(|v| cx.tmpl(key, v, uses))
}

pub(crate) fn req_tmpl(
    cx: &mut Cx,
    t: &Table<'_>,
    key: &str,
    span: &Span,
    ctx: &str,
    uses: &mut Vec<TemplateUse>,
) -> Option<String> {
    match get(t, key) {
        Some(v) => cx.tmpl(key, v, uses),
        None => {
            cx.missing(key, span.clone(), ctx);
            None
        }
    }
}

fn set(
    cx: &mut Cx,
    t: &Table<'_>,
    span: Span,
    ctx: &str,
    uses: &mut Vec<TemplateUse>,
) -> Option<SetSpec> {
    let Some(v) = get(t, "values") else {
        cx.missing("values", span, ctx);
        return None;
    };
    let table = cx.table("values", v)?;
    let mut values = Vec::with_capacity(table.len());
    for (k, item) in table.iter() {
        if let Some(j) = cx.json(k.get_ref(), item, Some(uses)) {
            values.push((k.get_ref().to_string(), j));
        }
    }
    Some(SetSpec { values })
}

fn approval(
    cx: &mut Cx,
    t: &Table<'_>,
    span: Span,
    ctx: &str,
    uses: &mut Vec<TemplateUse>,
) -> Option<ApprovalSpec> {
    let title = req_tmpl(cx, t, "title", &span, ctx, uses);
    let body = opt_tmpl(cx, t, "body", uses);
    let mut fields = Vec::new();
    if let Some(v) = get(t, "fields")
        && let Some(ft) = cx.table("fields", v)
    {
        for (k, fv) in ft.iter() {
            let name: &str = k.get_ref();
            if !is_ident(name) {
                cx.push(
                    Diagnostic::new(format!("invalid field name `{name}`"))
                        .at(k.span())
                        .label("invalid name")
                        .hint(ident_hint(name, "the approver's answers are read by name")),
                );
            }
            let Some(decl) = cx.table(name, fv) else {
                continue;
            };
            cx.unknown_keys(
                decl,
                &["type", "default", "required", "description"],
                &format!("in field `{name}`"),
            );
            if let Some((ty, default, required, description)) =
                typed_decl(cx, decl, &format!("field `{name}`"))
            {
                fields.push(FieldDecl {
                    name: name.to_string(),
                    ty,
                    required,
                    default,
                    description,
                });
            }
        }
    }
    Some(ApprovalSpec {
        title: title?,
        body,
        fields,
    })
}

/// Default `max_tokens` of an agent step.
pub(crate) const DEFAULT_MAX_TOKENS: u32 = 1024;

fn agent(
    cx: &mut Cx,
    t: &Table<'_>,
    span: Span,
    ctx: &str,
    uses: &mut Vec<TemplateUse>,
) -> Option<AgentSpec> {
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
    let output = match get(t, "output").and_then(|v| cx.choice("output", v, &["text", "json"])) {
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
    let context = get(t, "context").and_then(|v| super::read_context(cx, v, uses));
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
