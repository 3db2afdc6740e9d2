//! Step kinds: their fields, the unknown-key check of a step, and each kind's spec.

use std::path::{Component, Path};

use toml::de::DeValue;

use super::diag::Diagnostic;
use super::model::{
    AgentSpec, ApprovalSpec, FieldDecl, FileMode, FileSpec, HttpSpec, OutputFormat, SetSpec,
    ShellSpec, StepSpec,
};
use super::parse::{ident_hint, typed_decl};
use super::read::{Cx, Span, Table, TemplateUse, get, is_ident, key_span};
use super::suggest::did_you_mean;
use crate::template::is_template;

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

/// Kind names, in the order of [`Kind::ALL`].
pub(crate) const KINDS: &[&str] = &[
    "shell", "http", "file", "set", "approval", "agent", "remember", "fact", "outcome", "wait",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Shell,
    Http,
    File,
    Set,
    Approval,
    Agent,
    Remember,
    Fact,
    Outcome,
    Wait,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::Shell,
        Kind::Http,
        Kind::File,
        Kind::Set,
        Kind::Approval,
        Kind::Agent,
        Kind::Remember,
        Kind::Fact,
        Kind::Outcome,
        Kind::Wait,
    ];

    /// Kinds that only write to the journal (memory): never proposed, idempotent.
    pub fn is_memory(self) -> bool {
        matches!(self, Kind::Remember | Kind::Fact | Kind::Outcome)
    }

    /// Kinds with no side effect and no inbox item: `approve` never applies.
    pub fn never_proposed(self) -> bool {
        matches!(self, Kind::Set | Kind::Agent | Kind::Wait) || self.is_memory()
    }

    pub fn name(self) -> &'static str {
        KINDS[self as usize]
    }

    /// The keys this kind adds to the common ones.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Kind::Shell => &["argv", "script", "cwd", "env", "output"],
            Kind::Http => &[
                "method",
                "url",
                "headers",
                "query",
                "json",
                "body",
                "expect_status",
            ],
            Kind::File => &["root", "path", "content", "mode"],
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
    let allowed: Vec<&str> = match kind {
        Some(kind) => COMMON_KEYS.iter().chain(kind.fields()).copied().collect(),
        None => COMMON_KEYS
            .iter()
            .copied()
            .chain(Kind::ALL.iter().flat_map(|k| k.fields().iter().copied()))
            .collect(),
    };
    for (k, _) in t.iter() {
        let key: &str = k.get_ref();
        if allowed.contains(&key) {
            continue;
        }
        if !cx.keeps() {
            cx.count_one();
            continue;
        }
        let dym = did_you_mean(key, allowed.iter().copied());
        let other = Kind::ALL.iter().find(|o| o.fields().contains(&key));
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
    let before = cx.count();
    let spec = match kind {
        Kind::Shell => shell(cx, t, span, uses).map(StepSpec::Shell),
        Kind::Http => http(cx, t, span, ctx, uses).map(StepSpec::Http),
        Kind::File => file(cx, t, span, ctx, uses).map(StepSpec::File),
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
    if cx.count() > before { None } else { spec }
}

fn opt_tmpl(cx: &mut Cx, t: &Table<'_>, key: &str, uses: &mut Vec<TemplateUse>) -> Option<String> {
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

fn shell(cx: &mut Cx, t: &Table<'_>, span: Span, uses: &mut Vec<TemplateUse>) -> Option<ShellSpec> {
    let mut argv = Vec::new();
    let argv_v = get(t, "argv");
    if let Some(v) = argv_v
        && let Some(items) = cx.array("argv", v)
    {
        if items.is_empty() {
            cx.push(
                Diagnostic::new("`argv` must not be empty")
                    .at(v.span())
                    .label("empty")
                    .hint("argv is the program and its arguments, like [\"ls\", \"-l\"]"),
            );
        }
        for item in items {
            if let Some(s) = cx.tmpl("argv", item, uses) {
                argv.push(s);
            }
        }
    }
    let script = opt_tmpl(cx, t, "script", uses);
    match (argv_v, get(t, "script")) {
        (Some(_), Some(_)) => cx.push(
            Diagnostic::new("a shell step takes `argv` or `script`, not both")
                .at(key_span(t, "script").unwrap_or(span))
                .label("second command")
                .hint("argv runs a program directly; script runs through `sh -c`"),
        ),
        (None, None) => cx.push(
            Diagnostic::new("a shell step needs `argv` or `script`")
                .at(span)
                .label("no command")
                .hint(
                    "add argv = [\"program\", \"arg\"], or script = \"...\" to run it with `sh -c`",
                ),
        ),
        _ => {}
    }
    let cwd = opt_tmpl(cx, t, "cwd", uses);
    let env = get(t, "env")
        .map(|v| cx.tmpl_map("env", v, uses))
        .unwrap_or_default();
    let output = match get(t, "output").and_then(|v| cx.choice("output", v, &["text", "json"])) {
        Some(1) => OutputFormat::Json,
        _ => OutputFormat::Text,
    };
    Some(ShellSpec {
        argv,
        script,
        cwd,
        env,
        output,
    })
}

fn http(
    cx: &mut Cx,
    t: &Table<'_>,
    span: Span,
    ctx: &str,
    uses: &mut Vec<TemplateUse>,
) -> Option<HttpSpec> {
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

/// Why a static path may not be used under a root, if it may not.
pub(crate) fn path_problem(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        return Some("is empty");
    }
    if path.starts_with('/') || path.starts_with('\\') || Path::new(path).is_absolute() {
        return Some("is absolute");
    }
    let mut depth: i64 = 0;
    for c in Path::new(path).components() {
        match c {
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return Some("escapes its root");
                }
            }
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return Some("is absolute"),
        }
    }
    None
}

fn file(
    cx: &mut Cx,
    t: &Table<'_>,
    span: Span,
    ctx: &str,
    uses: &mut Vec<TemplateUse>,
) -> Option<FileSpec> {
    let root = opt_tmpl(cx, t, "root", uses);
    let path = req_tmpl(cx, t, "path", &span, ctx, uses);
    if let (Some(p), Some(v)) = (&path, get(t, "path"))
        && !is_template(p)
        && let Some(problem) = path_problem(p)
    {
        cx.push(
            Diagnostic::new(format!("file path `{p}` {problem}"))
                .at(v.span())
                .label("unsafe path")
                .hint("use a path relative to the step's `root` (the workflow's folder by default), without `..` that leave it"),
        );
    }
    let content = req_tmpl(cx, t, "content", &span, ctx, uses);
    let mode = match get(t, "mode").and_then(|v| cx.choice("mode", v, &["write", "append"])) {
        Some(1) => FileMode::Append,
        _ => FileMode::Write,
    };
    Some(FileSpec {
        root,
        path: path?,
        content: content?,
        mode,
    })
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
