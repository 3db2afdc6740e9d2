//! `fact`: set a fact (versioned, with the run and step as its source). No side
//! effect outside the journal: never proposed, safe to repeat.

use serde_json::Value as Json;

use super::{Policy, StepFields, StepKind, req_tmpl};
use crate::template::is_template;
use crate::workflow::Tmpl;
use crate::workflow::diag::Diagnostic;
use crate::workflow::read::get;

/// `kind = "fact"`: set a fact; versioned, with the run and step as its source.
#[derive(Debug, Clone)]
pub struct FactSpec {
    pub entity: Tmpl,
    pub key: Tmpl,
    /// Any value; string leaves are templates (a sole `{{ expr }}` keeps its type).
    pub value: Json,
}

impl StepKind for FactSpec {
    const NAME: &'static str = "fact";
    const FIELDS: &'static [&'static str] = &["entity", "key", "value"];
    const POLICY: Policy = Policy::PURE;

    fn read(f: StepFields<'_, '_>) -> Option<FactSpec> {
        let StepFields {
            cx,
            t,
            span,
            ctx,
            uses,
        } = f;
        let entity = req_tmpl(cx, t, "entity", &span, ctx, uses);
        let key = req_tmpl(cx, t, "key", &span, ctx, uses);
        for (name, val) in [("entity", &entity), ("key", &key)] {
            if let (Some(s), Some(v)) = (val, get(t, name))
                && !is_template(s)
                && s.trim().is_empty()
            {
                cx.push(
                    Diagnostic::new(format!("`{name}` is empty"))
                        .at(v.span())
                        .label(format!("empty {name}"))
                        .hint("a fact is entity + key + value, like entity = \"customer:acme\", key = \"plan\""),
                );
            }
        }
        let value = match get(t, "value") {
            Some(v) => cx.json("value", v, Some(uses)),
            None => {
                cx.missing("value", span, ctx);
                None
            }
        };
        Some(FactSpec {
            entity: entity?,
            key: key?,
            value: value?,
        })
    }
}
