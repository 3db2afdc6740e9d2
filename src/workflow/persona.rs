//! The trust layer's keys of a workflow: `persona = "NAME"` (top level or on a step)
//! and the workflow's own `[[autonomy]]` rules (typed by [`crate::trust::autonomy`]).

use super::diag::Diagnostic;
use super::read::{Cx, Val};

/// `persona = "NAME"` (whether it is configured is checked with the config).
pub(crate) fn read_persona(cx: &mut Cx, v: &Val<'_>) -> Option<String> {
    let name = cx.string("persona", v)?;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        cx.push(
            Diagnostic::new(format!("`{name}` is not a persona name"))
                .at(v.span())
                .label("not a persona name")
                .hint("name a [personas.NAME] section of config.toml (letters, digits, `_`, `-`)"),
        );
        return None;
    }
    Some(name)
}

/// `[[autonomy]]` rules of the workflow: they match only its own steps.
pub(crate) fn read_autonomy(
    cx: &mut Cx,
    v: &Val<'_>,
    workflow: Option<&str>,
) -> Vec<crate::trust::Rule> {
    let Some(items) = cx.array("autonomy", v) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        let Some(json) = cx.json("autonomy", item, None) else {
            continue;
        };
        match crate::trust::autonomy::read_rule(&json, Some(workflow.unwrap_or(""))) {
            Ok(r) => out.push(r),
            Err(e) => cx.push(
                Diagnostic::new(e)
                    .at(item.span())
                    .label("in this rule")
                    .hint("see \"Autonomy\" in the README for the rule's keys"),
            ),
        }
    }
    out
}
