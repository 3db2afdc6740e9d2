//! `outcome`: attach measured results to the run. No side effect outside the
//! journal: never proposed, safe to repeat.

use serde_json::Value as Json;

use super::{Asks, Idempotent, Policy, StepFields, StepKind, Timeout};
use crate::workflow::diag::Diagnostic;
use crate::workflow::read::{Cx, Span, Table, TemplateUse, get};

/// `kind = "outcome"`: attach measured results to this run.
#[derive(Debug, Clone)]
pub struct OutcomeSpec {
    pub values: Vec<(String, Json)>,
}

impl StepKind for OutcomeSpec {
    const NAME: &'static str = "outcome";
    const FIELDS: &'static [&'static str] = &["values"];
    const POLICY: Policy = Policy {
        asks: Asks::Never,
        timeout: Timeout::Execution(None),
        idempotent: Idempotent::Always,
        timer: false,
    };

    fn read(f: StepFields<'_, '_>) -> Option<OutcomeSpec> {
        let StepFields {
            cx,
            t,
            span,
            ctx,
            uses,
        } = f;
        read(cx, t, span, ctx, uses)
    }
}

fn read(
    cx: &mut Cx,
    t: &Table<'_>,
    span: Span,
    ctx: &str,
    uses: &mut Vec<TemplateUse>,
) -> Option<OutcomeSpec> {
    let Some(v) = get(t, "values") else {
        cx.missing("values", span, ctx);
        return None;
    };
    let table = cx.table("values", v)?;
    if table.is_empty() {
        cx.push(
            Diagnostic::new("`values` is empty")
                .at(v.span())
                .label("no outcome")
                .hint("values names what was measured, like { open_rate = 0.41, replies = 3 }"),
        );
    }
    let mut values = Vec::with_capacity(table.len());
    for (k, item) in table.iter() {
        if let Some(j) = cx.json(k.get_ref(), item, Some(uses)) {
            values.push((k.get_ref().to_string(), j));
        }
    }
    Some(OutcomeSpec { values })
}
