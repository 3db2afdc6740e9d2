//! `set`: values computed from templates (a string leaf that is exactly one
//! `{{ expr }}` keeps the expression's type). Pure: never proposed, safe to repeat.

use serde_json::Value as Json;

use super::{Asks, Idempotent, Policy, StepFields, StepKind, Timeout};
use crate::workflow::read::{Cx, Span, Table, TemplateUse, get};

#[derive(Debug, Clone)]
pub struct SetSpec {
    /// Name -> value; string leaves are templates (a leaf that is exactly one
    /// `{{ expr }}` keeps the expression's type).
    pub values: Vec<(String, Json)>,
}

impl StepKind for SetSpec {
    const NAME: &'static str = "set";
    const FIELDS: &'static [&'static str] = &["values"];
    const POLICY: Policy = Policy {
        asks: Asks::Never,
        timeout: Timeout::Execution(None),
        idempotent: Idempotent::Always,
        timer: false,
    };

    fn read(f: StepFields<'_, '_>) -> Option<SetSpec> {
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
