//! The trust layer's keys of a workflow: `persona = "NAME"` (top level or on a step)
//! and the workflow's own `[[autonomy]]` rules (typed by [`crate::trust::autonomy`]);
//! and where a step runs: `runs_on = "gpu"` (or a list), the tags of the workers
//! that may run it.

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

/// The hint shown with a tag that is not one.
pub const TAG_HINT: &str = "tags hold lower-case letters, digits, `_` and `-`, like runs_on = \"gpu\" or runs_on = [\"gpu\", \"eu\"]";

/// Whether `tag` is a worker tag: `[a-z0-9_-]+`.
pub fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// `runs_on = "TAG"` or `runs_on = ["TAG", …]`: the tags (sorted, no repeats).
pub(crate) fn read_runs_on(cx: &mut Cx, v: &Val<'_>) -> Vec<String> {
    let items: Vec<(String, crate::workflow::read::Span)> = match v.get_ref() {
        toml::de::DeValue::String(s) => vec![(s.to_string(), v.span())],
        toml::de::DeValue::Array(a) => a
            .iter()
            .filter_map(|i| cx.string("runs_on", i).map(|s| (s, i.span())))
            .collect(),
        _ => {
            cx.wrong_type("runs_on", v, "a tag or a list of tags");
            return Vec::new();
        }
    };
    let mut tags = Vec::new();
    for (tag, span) in items {
        if valid_tag(&tag) {
            tags.push(tag);
        } else {
            cx.push(
                Diagnostic::new(format!("`{tag}` is not a worker tag"))
                    .at(span)
                    .label("not a tag")
                    .hint(TAG_HINT),
            );
        }
    }
    crate::journal::tag_set(&tags)
}
