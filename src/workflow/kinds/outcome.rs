//! `outcome`: attach measured results to the run. No side effect outside the
//! journal: never proposed, safe to repeat.

use serde_json::Value as Json;

use super::{Policy, StepFields, StepKind, json_values};
use crate::workflow::diag::Diagnostic;

/// `kind = "outcome"`: attach measured results to this run.
#[derive(Debug, Clone)]
pub struct OutcomeSpec {
    pub values: Vec<(String, Json)>,
}

impl StepKind for OutcomeSpec {
    const NAME: &'static str = "outcome";
    const FIELDS: &'static [&'static str] = &["values"];
    const POLICY: Policy = Policy::PURE;

    fn read(f: StepFields<'_, '_>) -> Option<OutcomeSpec> {
        let StepFields {
            cx,
            t,
            span,
            ctx,
            uses,
        } = f;
        let before = cx.count();
        let (values, at) = json_values(cx, t, "values", span, ctx, uses)?;
        // No values and no mistake in them: the table is empty.
        if values.is_empty() && cx.count() == before {
            cx.push(
                Diagnostic::new("`values` is empty")
                    .at(at)
                    .label("no outcome")
                    .hint("values names what was measured, like { open_rate = 0.41, replies = 3 }"),
            );
        }
        Some(OutcomeSpec { values })
    }
}
