//! The `context` table of a step: which memory goes into its prompt.
//!
//! `context = { memory = "{{ inputs.customer }} preferences", k = 5,
//! facts = ["customer:{{ inputs.customer }}"], decisions = 3 }`. Any kind that
//! builds a prompt reads it with [`read_context`]; `memory::retrieve` answers it.

use super::diag::Diagnostic;
use super::model::ContextSpec;
use super::read::{Cx, TemplateUse, Val, get};

pub(crate) const KEYS: &[&str] = &["memory", "k", "facts", "decisions"];

/// Most notes a context may ask for.
pub const MAX_K: i64 = 50;
/// Most decisions a context may ask for.
pub const MAX_DECISIONS: i64 = 50;

/// Read and validate a `context` table; every mistake is a diagnostic with a span.
pub(crate) fn read_context(
    cx: &mut Cx,
    v: &Val<'_>,
    uses: &mut Vec<TemplateUse>,
) -> Option<ContextSpec> {
    let t = cx.table("context", v)?;
    let before = cx.count();
    cx.unknown_keys(t, KEYS, "in `context`");
    let mut spec = ContextSpec::default();
    if let Some(m) = get(t, "memory") {
        spec.memory = cx.tmpl("context.memory", m, uses);
        if spec.memory.as_deref().is_some_and(|s| s.trim().is_empty()) {
            cx.push(
                Diagnostic::new("`context.memory` is empty")
                    .at(m.span())
                    .label("empty query")
                    .hint(
                        "memory is what to search for, like \"{{ inputs.customer }} preferences\"",
                    ),
            );
        }
    }
    if let Some(kv) = get(t, "k")
        && let Some(n) = cx.integer("k", kv)
    {
        if (1..=MAX_K).contains(&n) {
            spec.k = n as usize;
        } else {
            cx.push(
                Diagnostic::new(format!(
                    "`context.k` must be between 1 and {MAX_K}, found {n}"
                ))
                .at(kv.span())
                .label("out of range")
                .hint("k is how many notes go into the prompt"),
            );
        }
        if get(t, "memory").is_none() {
            cx.push(
                Diagnostic::new("`context.k` without `context.memory`")
                    .at(kv.span())
                    .label("nothing to search for")
                    .hint("add memory = \"what to search for\", or remove k"),
            );
        }
    }
    if let Some(fv) = get(t, "facts")
        && let Some(items) = cx.array("facts", fv)
    {
        for item in items {
            if let Some(s) = cx.tmpl("context.facts", item, uses) {
                if s.trim().is_empty() {
                    cx.push(
                        Diagnostic::new("an entity in `context.facts` is empty")
                            .at(item.span())
                            .label("empty entity")
                            .hint("facts lists entities, like \"customer:acme\""),
                    );
                } else {
                    spec.facts.push(s);
                }
            }
        }
    }
    if let Some(dv) = get(t, "decisions")
        && let Some(n) = cx.integer("decisions", dv)
    {
        if (0..=MAX_DECISIONS).contains(&n) {
            spec.decisions = n as usize;
        } else {
            cx.push(
                Diagnostic::new(format!(
                    "`context.decisions` must be between 0 and {MAX_DECISIONS}, found {n}"
                ))
                .at(dv.span())
                .label("out of range")
                .hint(
                    "decisions is how many of your last decisions on this step go into the prompt",
                ),
            );
        }
    }
    (cx.count() == before).then_some(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::read::Cx;

    fn read(src: &str) -> (Option<ContextSpec>, Vec<String>, Vec<TemplateUse>) {
        let doc = format!("context = {src}\n");
        let (root, errors) = toml::de::DeTable::parse_recoverable(&doc);
        assert!(errors.is_empty(), "{errors:?}");
        let mut cx = Cx::default();
        let mut uses = Vec::new();
        let v = get(root.get_ref(), "context").expect("context");
        let spec = read_context(&mut cx, v, &mut uses);
        let msgs = cx
            .diags
            .iter()
            .map(|d| {
                let hint = d.hint.clone().unwrap_or_default();
                format!("{} | {hint}", d.message)
            })
            .collect();
        (spec, msgs, uses)
    }

    #[test]
    fn a_full_context_is_read_with_its_templates() {
        let (spec, msgs, uses) = read(
            r#"{ memory = "{{ inputs.customer }} preferences", k = 3, facts = ["customer:{{ inputs.customer }}", "company"], decisions = 2 }"#,
        );
        assert!(msgs.is_empty(), "{msgs:?}");
        assert_eq!(
            spec.unwrap(),
            ContextSpec {
                memory: Some("{{ inputs.customer }} preferences".into()),
                k: 3,
                facts: vec!["customer:{{ inputs.customer }}".into(), "company".into()],
                decisions: 2,
            }
        );
        let vars: Vec<&str> = uses
            .iter()
            .flat_map(|u| u.vars.iter().map(|s| s.as_str()))
            .collect();
        assert_eq!(vars, ["inputs.customer", "inputs.customer"]);
    }

    #[test]
    fn defaults_are_five_notes_and_no_decisions() {
        let (spec, msgs, _) = read(r#"{ memory = "acme" }"#);
        assert!(msgs.is_empty());
        let spec = spec.unwrap();
        assert_eq!((spec.k, spec.decisions, spec.facts.len()), (5, 0, 0));
    }

    #[test]
    fn mistakes_are_diagnostics() {
        let (spec, msgs, _) = read(r#"{ memroy = "x", k = 0, decisions = -1, facts = "acme" }"#);
        assert!(spec.is_none());
        let all = msgs.join("\n");
        assert!(
            all.contains("unknown key `memroy` in `context` | did you mean `memory`?"),
            "{all}"
        );
        assert!(
            all.contains("`context.k` must be between 1 and 50, found 0"),
            "{all}"
        );
        assert!(
            all.contains("`context.k` without `context.memory`"),
            "{all}"
        );
        assert!(
            all.contains("`context.decisions` must be between 0 and 50, found -1"),
            "{all}"
        );
        assert!(all.contains("expected an array, found a string"), "{all}");
    }

    #[test]
    fn bad_templates_and_empty_entities_are_reported() {
        let (spec, msgs, _) = read(r#"{ memory = "{{ inputs.x ", facts = [""] }"#);
        assert!(spec.is_none());
        let all = msgs.join("\n");
        assert!(all.contains("invalid template"), "{all}");
        assert!(
            all.contains("an entity in `context.facts` is empty"),
            "{all}"
        );
    }

    #[test]
    fn a_rendered_context_has_no_templates_left() {
        let ctx = crate::template::Context::new(&serde_json::json!({"c": "acme"}), 1, "t");
        let spec = ContextSpec {
            memory: Some("{{ inputs.c }} emails".into()),
            k: 2,
            facts: vec!["customer:{{ inputs.c }}".into()],
            decisions: 1,
        };
        let r = spec.render(&ctx).unwrap();
        assert_eq!(r.memory.as_deref(), Some("acme emails"));
        assert_eq!(r.facts, vec!["customer:acme".to_string()]);
        let bad = ContextSpec {
            memory: Some("{{ inputs.nope }}".into()),
            ..ContextSpec::default()
        };
        assert!(bad.render(&ctx).unwrap_err().starts_with("context.memory:"));
    }
}
