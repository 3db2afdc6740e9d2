//! `set`: values computed from templates (a string leaf that is exactly one
//! `{{ expr }}` keeps the expression's type). Pure: never proposed, safe to repeat.

use serde_json::Value as Json;

use super::{Policy, StepFields, StepKind, json_values};

#[derive(Debug, Clone)]
pub struct SetSpec {
    /// Name -> value; string leaves are templates (a leaf that is exactly one
    /// `{{ expr }}` keeps the expression's type).
    pub values: Vec<(String, Json)>,
}

impl StepKind for SetSpec {
    const NAME: &'static str = "set";
    const FIELDS: &'static [&'static str] = &["values"];
    const POLICY: Policy = Policy::PURE;

    fn read(f: StepFields<'_, '_>) -> Option<SetSpec> {
        let StepFields {
            cx,
            t,
            span,
            ctx,
            uses,
        } = f;
        let (values, _) = json_values(cx, t, "values", span, ctx, uses)?;
        Some(SetSpec { values })
    }
}
