//! The spanned TOML tree -> a draft workflow: top-level keys, `[inputs]`,
//! `[defaults]` and each step's common keys, with effective values applied.

use std::time::Duration;

use serde_json::Value as Json;
use toml::de::DeValue;

use super::diag::Diagnostic;
use super::kinds::{self, Asks, Idempotent, Kind, Policy, StepSpec, Timeout};
use super::model::{Approve, Defaults, InputDecl, InputType, OnReject, Retry, RunBudget};
use super::read::{Cx, Span, Table, TemplateUse, Val, get, is_ident, key_span};
use super::suggest::did_you_mean;

pub(crate) const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "max_parallel",
    "inputs",
    "defaults",
    "steps",
    "trigger",
    "budget",
    "persona",
    "autonomy",
    "on_failure",
];
pub(crate) const INPUT_KEYS: &[&str] = &["type", "default", "required", "description", "secret"];
pub(crate) const TYPES: &[&str] = &["string", "number", "integer", "boolean", "list", "object"];
const IDENT_HINT: &str = "names start with a letter or `_` and hold only letters, digits and `_`";

/// A workflow read from the tree, before `needs` and templates are cross-checked.
#[derive(Debug, Default)]
pub(crate) struct Draft {
    pub name: Option<String>,
    pub description: Option<String>,
    pub max_parallel: usize,
    pub inputs: Vec<InputDecl>,
    pub defaults: Defaults,
    pub steps: Vec<DraftStep>,
    pub trigger: Option<super::trigger::Trigger>,
    pub budget: RunBudget,
    pub persona: Option<String>,
    pub autonomy: Vec<crate::trust::Rule>,
    pub on_failure: super::undo::OnFailure,
}

/// One step as read, with the spans the cross-checks need.
#[derive(Debug)]
pub(crate) struct DraftStep {
    /// The id when it is a valid identifier.
    pub id: Option<String>,
    pub id_span: Span,
    /// The `[[steps]]` header (or inline table).
    pub span: Span,
    /// `None` when the key is absent (the step before it in the file).
    pub needs: Option<Vec<(String, Span)>>,
    pub when: Option<String>,
    pub timeout: Option<Duration>,
    pub retry: Retry,
    pub approve: Approve,
    pub on_reject: OnReject,
    pub idempotent: bool,
    pub deadline: Option<super::model::Deadline>,
    /// `persona = "NAME"`: the persona it runs under (else the workflow's).
    pub persona: Option<String>,
    /// `runs_on`: the tags a worker needs to run it (sorted).
    pub runs_on: Vec<String>,
    pub dry_output: Option<Json>,
    pub spec: Option<StepSpec>,
    /// Templates (and the `when` expression) with the variables they read.
    pub uses: Vec<TemplateUse>,
    /// `undo`: the action that undoes the step (its templates read `output`).
    pub undo: Option<super::undo::DraftUndo>,
}

impl DraftStep {
    /// How messages name the step: `step `fetch`` or `step #3`.
    pub fn describe(&self, index: usize) -> String {
        match &self.id {
            Some(id) => format!("step `{id}`"),
            None => format!("step #{}", index + 1),
        }
    }
}

/// Hint for a bad identifier; suggests `_` for `-`.
pub(crate) fn ident_hint(name: &str, why: &str) -> String {
    if name.contains('-') && is_ident(&name.replace('-', "_")) {
        format!("use `{}` instead: {why}", name.replace('-', "_"))
    } else {
        IDENT_HINT.to_string()
    }
}

/// Read the whole document.
pub(crate) fn read_document(cx: &mut Cx, root: &Table<'_>) -> Draft {
    cx.unknown_keys(root, TOP_KEYS, "");
    let mut draft = Draft {
        max_parallel: 4,
        ..Draft::default()
    };
    match get(root, "name") {
        Some(v) => draft.name = cx.string("name", v),
        None => cx.push(
            Diagnostic::new("missing required key `name`")
                .at(0..0)
                .label("the workflow needs a name")
                .hint("add `name = \"...\"` at the top of the file"),
        ),
    }
    if let Some(v) = get(root, "description") {
        draft.description = cx.string("description", v);
    }
    if let Some(v) = get(root, "max_parallel")
        && let Some(n) = cx.integer("max_parallel", v)
    {
        match usize::try_from(n) {
            Ok(n) if n >= 1 => draft.max_parallel = n,
            _ => cx.push(
                Diagnostic::new(format!("`max_parallel` must be at least 1, found {n}"))
                    .at(v.span())
                    .label("too small")
                    .hint("max_parallel is how many steps may run at once"),
            ),
        }
    }
    if let Some(v) = get(root, "inputs")
        && let Some(t) = cx.table("inputs", v)
    {
        for (k, val) in t.iter() {
            if let Some(decl) = read_input(cx, k.get_ref(), k.span(), val) {
                draft.inputs.push(decl);
            }
        }
    }
    if let Some(v) = get(root, "defaults") {
        draft.defaults = read_defaults(cx, v);
    }
    if let Some(v) = get(root, "trigger") {
        draft.trigger = super::trigger::read_trigger(cx, v);
        refuse_secret_trigger_inputs(cx, v, &draft.inputs);
        if let DeValue::Table(t) = v.get_ref()
            && let Some(imap) = get(t, "imap")
        {
            crate::mail::trigger::check_inputs(cx, imap, t, &draft.inputs);
        }
    }
    if let Some(v) = get(root, "budget") {
        draft.budget = read_budget(cx, v);
    }
    if let Some(v) = get(root, "persona") {
        draft.persona = super::persona::read_persona(cx, v);
    }
    if let Some(v) = get(root, "autonomy") {
        draft.autonomy = super::persona::read_autonomy(cx, v, draft.name.as_deref());
    }
    let on_failure = get(root, "on_failure").map(|v| super::undo::read_on_failure(cx, v));
    match get(root, "steps") {
        Some(v) => match v.get_ref() {
            DeValue::Array(items) if !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    if let Some(step) = read_step(cx, i, item, &draft.defaults) {
                        draft.steps.push(step);
                    }
                }
            }
            DeValue::Array(_) => cx.push(no_steps().at(v.span())),
            _ => cx.wrong_type("steps", v, "an array of tables"),
        },
        None => cx.push(no_steps().at(0..0)),
    }
    if let Some((mode, span)) = on_failure {
        draft.on_failure = mode;
        if mode == super::undo::OnFailure::Compensate
            && !draft.steps.is_empty()
            && draft.steps.iter().all(|s| s.undo.is_none())
        {
            cx.push(
                Diagnostic::new("`on_failure = \"compensate\"`, but no step says how to undo it")
                    .at(span)
                    .label("nothing to compensate")
                    .hint("give the steps that act an `undo = { kind = \"…\", … }`, or remove on_failure"),
            );
        }
    }
    draft
}

fn no_steps() -> Diagnostic {
    Diagnostic::new("a workflow needs at least one step")
        .label("no steps")
        .hint("add a [[steps]] table with an `id` and a `kind`")
}

/// A trigger's `inputs` are in the workflow file, which every run stores: a secret
/// input cannot be given there.
fn refuse_secret_trigger_inputs(cx: &mut Cx, trigger: &Val<'_>, decls: &[InputDecl]) {
    let DeValue::Table(t) = trigger.get_ref() else {
        return;
    };
    let Some(DeValue::Table(inputs)) = get(t, "inputs").map(|v| v.get_ref()) else {
        return;
    };
    for (k, _) in inputs.iter() {
        if decls.iter().any(|d| d.secret && d.name == *k.get_ref()) {
            cx.push(
                Diagnostic::new(format!(
                    "secret input `{}` cannot be given in [trigger] inputs",
                    k.get_ref()
                ))
                .at(k.span())
                .label("a secret written in the workflow")
                .hint("keep the value with `aios secret set NAME` and read it with {{ secret(\"NAME\") }} instead of an input"),
            );
        }
    }
}

fn read_input(cx: &mut Cx, name: &str, span: Span, v: &Val<'_>) -> Option<InputDecl> {
    if !is_ident(name) {
        cx.push(
            Diagnostic::new(format!("invalid input name `{name}`"))
                .at(span.clone())
                .label("invalid name")
                .hint(ident_hint(name, "templates read `inputs.<name>`")),
        );
    }
    let t = cx.table(name, v)?;
    let ctx = format!("in input `{name}`");
    cx.unknown_keys(t, INPUT_KEYS, &ctx);
    let (ty, default, required, description) = typed_decl(cx, t, &format!("input `{name}`"))?;
    let mut secret = false;
    if let Some(s) = get(t, "secret") {
        secret = cx.boolean("secret", s)?;
    }
    if secret && ty != InputType::String {
        cx.push(
            Diagnostic::new(format!(
                "secret input `{name}` must be a string, not {}",
                type_article(ty)
            ))
            .at(get(t, "type").map(|v| v.span()).unwrap_or(span.clone()))
            .label("not a string")
            .hint("a secret input is text a step puts in at commit: remove `type` or make it \"string\""),
        );
        return None;
    }
    if secret && let Some(d) = get(t, "default") {
        cx.push(
            Diagnostic::new(format!("secret input `{name}` cannot have a default"))
                .at(d.span())
                .label("a secret written in the workflow")
                .hint("the workflow file is stored with every run: give the value with --input or a webhook, or keep it with `aios secret set NAME` and read it with {{ secret(\"NAME\") }}"),
        );
        return None;
    }
    is_ident(name).then(|| InputDecl {
        name: name.to_string(),
        ty,
        default,
        required,
        description,
        secret,
    })
}

/// The shared shape of inputs and approval fields: type, default, required, description.
pub(crate) fn typed_decl(
    cx: &mut Cx,
    t: &Table<'_>,
    what: &str,
) -> Option<(InputType, Option<Json>, bool, Option<String>)> {
    let mut ok = true;
    let mut ty = InputType::String;
    if let Some(v) = get(t, "type") {
        match cx.string("type", v) {
            Some(s) => match TYPES.iter().position(|x| *x == s) {
                Some(i) => ty = input_type(i),
                None => {
                    ok = false;
                    let list = format!("types: {}", TYPES.join(", "));
                    let hint = match did_you_mean(&s, TYPES.iter().copied()) {
                        Some(d) => format!("{d} {list}"),
                        None => list,
                    };
                    cx.push(
                        Diagnostic::new(format!("unknown type `{s}` for {what}"))
                            .at(v.span())
                            .label("unknown type")
                            .hint(hint),
                    );
                }
            },
            None => ok = false,
        }
    }
    let mut default = None;
    if let Some(v) = get(t, "default") {
        if ok && !default_matches(ty, v.get_ref()) {
            ok = false;
            cx.push(
                Diagnostic::new(format!(
                    "default of {what} must be {}, found {}",
                    type_article(ty),
                    super::read::type_name(v.get_ref())
                ))
                .at(v.span())
                .label(format!("not {}", type_article(ty)))
                .hint("change the default or the declared `type`"),
            );
        } else {
            default = cx.json("default", v, None);
            ok &= default.is_some();
        }
    }
    let mut required = default.is_none();
    if let Some(v) = get(t, "required") {
        match cx.boolean("required", v) {
            Some(b) => required = b,
            None => ok = false,
        }
    }
    let mut description = None;
    if let Some(v) = get(t, "description") {
        description = cx.string("description", v);
        ok &= description.is_some();
    }
    ok.then_some((ty, default, required, description))
}

fn input_type(i: usize) -> InputType {
    [
        InputType::String,
        InputType::Number,
        InputType::Integer,
        InputType::Boolean,
        InputType::List,
        InputType::Object,
    ][i.min(5)]
}

/// "a string", "an integer", ... for a declared type.
pub(crate) fn type_article(ty: InputType) -> String {
    match ty {
        InputType::Integer => "an integer".to_string(),
        InputType::Object => "an object".to_string(),
        other => format!("a {}", other.as_str()),
    }
}

fn default_matches(ty: InputType, v: &DeValue<'_>) -> bool {
    matches!(
        (ty, v),
        (InputType::String, DeValue::String(_))
            | (InputType::Number, DeValue::Integer(_) | DeValue::Float(_))
            | (InputType::Integer, DeValue::Integer(_))
            | (InputType::Boolean, DeValue::Boolean(_))
            | (InputType::List, DeValue::Array(_))
            | (InputType::Object, DeValue::Table(_))
    )
}

fn read_defaults(cx: &mut Cx, v: &Val<'_>) -> Defaults {
    let mut d = Defaults::default();
    let Some(t) = cx.table("defaults", v) else {
        return d;
    };
    cx.unknown_keys(t, &["timeout", "retry"], "in [defaults]");
    if let Some(v) = get(t, "timeout") {
        d.timeout = cx.duration("timeout", v);
    }
    if let Some(v) = get(t, "retry") {
        d.retry = cx.retry(v, "[defaults]");
    }
    d
}

fn read_budget(cx: &mut Cx, v: &Val<'_>) -> RunBudget {
    let mut b = RunBudget::default();
    let Some(t) = cx.table("budget", v) else {
        return b;
    };
    cx.unknown_keys(t, &["max_usd"], "in [budget]");
    if let Some(v) = get(t, "max_usd") {
        match v.get_ref() {
            DeValue::Integer(_) | DeValue::Float(_) => {
                match cx.json("max_usd", v, None).and_then(|j| j.as_f64()) {
                    Some(n) if n >= 0.0 && n.is_finite() => b.max_usd = Some(n),
                    Some(n) => cx.push(
                        Diagnostic::new(format!("`max_usd` must be 0 or more, found {n}"))
                            .at(v.span())
                            .label("negative")
                            .hint("max_usd is what the LLM calls of one run may cost, in USD"),
                    ),
                    None => {}
                }
            }
            _ => cx.wrong_type("max_usd", v, "a number"),
        }
    }
    b
}

fn read_step(cx: &mut Cx, index: usize, v: &Val<'_>, defaults: &Defaults) -> Option<DraftStep> {
    let t = cx.table("steps", v)?;
    let span = v.span();
    let mut step = DraftStep {
        id: None,
        id_span: span.clone(),
        span: span.clone(),
        needs: None,
        when: None,
        timeout: None,
        retry: Retry::default(),
        approve: Approve::Always,
        on_reject: OnReject::Fail,
        idempotent: false,
        deadline: None,
        persona: None,
        runs_on: Vec::new(),
        dry_output: None,
        spec: None,
        uses: Vec::new(),
        undo: None,
    };
    match get(t, "id") {
        Some(idv) => {
            step.id_span = idv.span();
            if let Some(id) = cx.string("id", idv) {
                if is_ident(&id) {
                    step.id = Some(id);
                } else {
                    cx.push(
                        Diagnostic::new(format!("invalid step id `{id}`"))
                            .at(idv.span())
                            .label("invalid id")
                            .hint(ident_hint(&id, "templates read `steps.<id>`")),
                    );
                }
            }
        }
        None => cx.missing("id", span.clone(), &format!("in step #{}", index + 1)),
    }
    let name = step.describe(index);
    let ctx = format!("in {name}");
    let kind = match get(t, "kind") {
        Some(kv) => read_kind(cx, kv),
        None => {
            cx.missing("kind", span.clone(), &ctx);
            None
        }
    };
    kinds::check_step_keys(cx, t, kind, &ctx);

    if let Some(nv) = get(t, "needs")
        && let Some(items) = cx.array("needs", nv)
    {
        let mut needs = Vec::with_capacity(items.len());
        for item in items {
            if let Some(s) = cx.string("needs", item) {
                needs.push((s, item.span()));
            }
        }
        step.needs = Some(needs);
    }
    if let Some(wv) = get(t, "when")
        && let Some(expr) = cx.string("when", wv)
    {
        check_when(cx, &expr, wv.span(), &mut step.uses);
        step.when = Some(expr);
    }
    // On a gate (`approval`) `timeout` is the decision deadline, read with `on_timeout`.
    let timeout = match kind.map(Kind::policy) {
        Some(Policy {
            timeout: Timeout::Decision,
            ..
        }) => None,
        _ => get(t, "timeout").and_then(|v| cx.duration("timeout", v)),
    };
    let retry = get(t, "retry").and_then(|v| cx.retry(v, &name));
    let approve = get(t, "approve").and_then(|v| cx.choice("approve", v, &["always", "never"]));
    if let Some(v) = get(t, "on_reject")
        && let Some(i) = cx.choice("on_reject", v, &["fail", "skip"])
    {
        step.on_reject = if i == 0 {
            OnReject::Fail
        } else {
            OnReject::Skip
        };
    }
    let idempotent = get(t, "idempotent").and_then(|v| cx.boolean("idempotent", v));
    if let Some(v) = get(t, "persona") {
        step.persona = super::persona::read_persona(cx, v);
    }
    if let Some(v) = get(t, "runs_on") {
        step.runs_on = super::persona::read_runs_on(cx, v);
    }
    if let Some(v) = get(t, "description") {
        cx.string("description", v);
    }

    if let Some(v) = get(t, "dry_output") {
        let before = step.uses.len();
        step.dry_output = cx.json("dry_output", v, Some(&mut step.uses));
        for u in &mut step.uses[before..] {
            u.dry = true;
        }
    }

    let Some(kind) = kind else {
        return Some(step);
    };
    if let Some(ks) = key_span(t, "dry_output")
        && !carried_out_in_dry_runs(kind).is_empty()
    {
        cx.push(
            Diagnostic::new(format!("a {kind} step has no `dry_output`"))
                .at(ks)
                .label("not used")
                .hint(format!(
                    "a dry run {} {kind} steps; `dry_output` stands in for the output of a step that acts (shell, http, file, tool, approval, remember, fact, outcome)",
                    carried_out_in_dry_runs(kind)
                )),
        );
    }
    step.spec = kinds::read_spec(cx, kind, t, span, &ctx, &mut step.uses);
    if let Some(v) = get(t, "undo") {
        step.undo = super::undo::read_undo(cx, v, kind, &name);
    }
    let policy = kind.policy();
    step.timeout = match policy.timeout {
        // A gate's `timeout` is its decision deadline (read below), never an
        // execution timeout, and `[defaults] timeout` does not apply to it.
        Timeout::Decision => None,
        Timeout::Forbidden(why) => {
            if let Some(ks) = key_span(t, "timeout") {
                cx.push(
                    Diagnostic::new(format!("a {kind} step has no `timeout`"))
                        .at(ks)
                        .label(format!("not a field of {kind} steps"))
                        .hint(why),
                );
            }
            None
        }
        Timeout::Execution(default) => timeout.or(defaults.timeout).or(default),
    };
    step.retry = retry.or(defaults.retry).unwrap_or_default();
    let approve_span = || key_span(t, "approve").unwrap_or_else(|| step.span.clone());
    step.approve = match (policy.asks, approve) {
        (Asks::Never, Some(0)) => {
            cx.push(
                Diagnostic::new(format!("{kind} steps have no side effects"))
                    .at(approve_span())
                    .label("`approve = \"always\"` is not allowed here")
                    .hint(format!(
                        "remove `approve`; {kind} steps never ask for approval"
                    )),
            );
            Approve::Never
        }
        (Asks::Always, Some(1)) => {
            cx.push(
                Diagnostic::new(format!("{kind} steps always ask for approval"))
                    .at(approve_span())
                    .label("`approve = \"never\"` is not allowed here")
                    .hint("remove `approve`, or use a set step"),
            );
            Approve::Always
        }
        (Asks::Never, _) => Approve::Never,
        (Asks::Always, _) => Approve::Always,
        (Asks::Proposal, Some(1)) => Approve::Never,
        (Asks::Proposal, _) => Approve::Always,
    };
    step.idempotent = match policy.idempotent {
        Idempotent::Always => true,
        Idempotent::Declared => {
            matches!(&step.spec, Some(StepSpec::Action(a)) if a.always_idempotent())
                || idempotent.unwrap_or(false)
        }
    };
    let gate_needs_fields = match &step.spec {
        Some(StepSpec::Approval(a)) => a.needs_answers(),
        _ => false,
    };
    step.deadline =
        super::deadline::deadline(cx, t, kind, step.approve, &step.span, gate_needs_fields);
    Some(step)
}

/// How a dry run treats a kind it carries out for real (empty: it does not, and the
/// step's `dry_output` stands in for its output).
fn carried_out_in_dry_runs(kind: Kind) -> &'static str {
    match kind {
        Kind::Set => "computes",
        Kind::Agent => "drafts with (offline, or with --with-llm)",
        Kind::Wait => "passes at once through",
        Kind::Memory => "reads memory in",
        Kind::Connector(_) | Kind::Approval | Kind::Remember | Kind::Fact | Kind::Outcome => "",
    }
}

fn read_kind(cx: &mut Cx, v: &Val<'_>) -> Option<Kind> {
    let s = cx.string("kind", v)?;
    if let Some(k) = Kind::parse(&s) {
        return Some(k);
    }
    let names: Vec<&str> = Kind::all().map(Kind::name).collect();
    let list = format!("kinds: {}", names.join(", "));
    let hint = match did_you_mean(&s, names.iter().copied()) {
        Some(d) => format!("{d} {list}"),
        None => list,
    };
    cx.push(
        Diagnostic::new(format!("unknown step kind `{s}`"))
            .at(v.span())
            .label("unknown kind")
            .hint(hint),
    );
    None
}

fn check_when(cx: &mut Cx, expr: &str, span: Span, uses: &mut Vec<TemplateUse>) {
    match crate::template::env().compile_expression(expr) {
        Ok(e) => {
            let mut vars: Vec<String> = e.undeclared_variables(true).into_iter().collect();
            vars.sort();
            let scan = crate::secrets::scan::secret_uses(&format!("{{{{ {expr} }}}}"));
            uses.push(TemplateUse {
                span,
                vars,
                secrets: scan.names,
                condition: true,
                ..TemplateUse::default()
            });
        }
        Err(e) => cx.push(
            Diagnostic::new(format!(
                "invalid `when` expression: {}",
                crate::template::describe(&e)
            ))
            .at(span)
            .label("in this expression")
            .hint("`when` is an expression without braces, like `inputs.count > 0`"),
        ),
    }
}
