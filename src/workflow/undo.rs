//! Compensation in workflow files: a step's `undo` (an action of any connector
//! kind that undoes what the step did, read and checked like a step of that kind)
//! and the top-level `on_failure` (what a failed run does: ask in the inbox, or
//! propose its compensations at once, a saga).
//!
//! An undo's templates read `output` (the step's own output), `inputs`, `run`,
//! facts and the steps the step depends on; they are checked with the rest of the
//! file's references in [`super::refs`].

use super::diag::Diagnostic;
use super::kinds::{Asks, Kind, StepFields};
use super::read::{Cx, Span, TemplateUse, Val, get};
use super::suggest::did_you_mean;
use crate::connectors::{ActionSpec, ConnectorKind};

/// What a failed run does (`on_failure`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnFailure {
    /// A failure item waits in the inbox for the operator's choice (the default).
    #[default]
    Ask,
    /// The failure item is decided `compensate` at once: the committed steps'
    /// compensations are proposed (a saga).
    Compensate,
}

impl OnFailure {
    pub const WORDS: &'static [&'static str] = &["ask", "compensate"];

    pub fn as_str(self) -> &'static str {
        Self::WORDS[self as usize]
    }
}

/// A step's `undo`, read: the action's fields, with the templates it reads.
#[derive(Debug, Clone)]
pub(crate) struct DraftUndo {
    pub spec: Option<ActionSpec>,
    pub uses: Vec<TemplateUse>,
}

/// Read `on_failure`.
pub(crate) fn read_on_failure(cx: &mut Cx, v: &Val<'_>) -> (OnFailure, Span) {
    let mode = match cx.choice("on_failure", v, OnFailure::WORDS) {
        Some(1) => OnFailure::Compensate,
        _ => OnFailure::Ask,
    };
    (mode, v.span())
}

/// Read a step's `undo` table: `kind` (a connector) and that connector's fields.
/// `kind` is the step's own kind: only a step that acts has something to undo.
pub(crate) fn read_undo(cx: &mut Cx, v: &Val<'_>, kind: Kind, name: &str) -> Option<DraftUndo> {
    let span = v.span();
    if kind.policy().asks != Asks::Proposal {
        cx.push(
            Diagnostic::new(format!(
                "{name} is a `{kind}` step: it has no side effect to undo"
            ))
            .at(span)
            .label("`undo` is not allowed here")
            .hint(format!(
                "`undo` is for the steps that act ({}); remove it",
                connector_names().join(", ")
            )),
        );
        return None;
    }
    let t = cx.table("undo", v)?;
    let ctx = format!("in the undo of {name}");
    let connector = match get(t, "kind") {
        Some(kv) => read_connector(cx, kv)?,
        None => {
            cx.push(
                Diagnostic::new(format!("missing required key `kind` {ctx}"))
                    .at(span.clone())
                    .label("`kind` is required here")
                    .hint(format!(
                        "an undo is an action: kind = one of {}, with that kind's fields",
                        connector_names().join(", ")
                    )),
            );
            return None;
        }
    };
    let allowed: Vec<&str> = std::iter::once("kind")
        .chain(connector.fields().iter().copied())
        .collect();
    let before = cx.count();
    for (k, _) in t.iter() {
        let key: &str = k.get_ref();
        if allowed.contains(&key) {
            continue;
        }
        let list = format!(
            "an undo of kind {} takes: {}",
            connector.name(),
            connector.fields().join(", ")
        );
        cx.push(
            Diagnostic::new(format!("unknown key `{key}` {ctx}"))
                .at(k.span())
                .label("unknown key")
                .hint(match did_you_mean(key, allowed.iter().copied()) {
                    Some(d) => format!("{d} {list}"),
                    None => list,
                }),
        );
    }
    let mut uses = Vec::new();
    let spec = connector.read(StepFields {
        cx,
        t,
        span: span.clone(),
        ctx: &ctx,
        uses: &mut uses,
    });
    let spec = if cx.count() > before { None } else { spec };
    Some(DraftUndo { spec, uses })
}

fn read_connector(cx: &mut Cx, v: &Val<'_>) -> Option<ConnectorKind> {
    let s = cx.string("kind", v)?;
    if let Some(c) = ConnectorKind::ALL.iter().find(|c| c.name() == s) {
        return Some(*c);
    }
    let names = connector_names();
    let list = format!("an undo is an action of kind: {}", names.join(", "));
    let hint = match did_you_mean(&s, names.iter().copied()) {
        Some(d) => format!("{d} {list}"),
        None => list,
    };
    cx.push(
        Diagnostic::new(format!("unknown kind `{s}` for an undo"))
            .at(v.span())
            .label("not a kind of action")
            .hint(hint),
    );
    None
}

fn connector_names() -> Vec<&'static str> {
    ConnectorKind::ALL.iter().map(|c| c.name()).collect()
}
