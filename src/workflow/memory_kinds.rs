//! The memory step kinds: `remember` (write a note), `fact` (set a fact) and
//! `outcome` (attach measured results to the run). None has side effects outside
//! the journal, so none is proposed.

use super::diag::Diagnostic;
use super::kinds::req_tmpl;
use super::model::{FactSpec, OutcomeSpec, RememberSpec};
use super::read::{Cx, Span, Table, TemplateUse, get};
use crate::template::is_template;

pub(crate) fn remember(
    cx: &mut Cx,
    t: &Table<'_>,
    span: Span,
    ctx: &str,
    uses: &mut Vec<TemplateUse>,
) -> Option<RememberSpec> {
    let text = req_tmpl(cx, t, "text", &span, ctx, uses);
    if let (Some(s), Some(v)) = (&text, get(t, "text"))
        && s.trim().is_empty()
    {
        cx.push(
            Diagnostic::new("`text` is empty")
                .at(v.span())
                .label("nothing to remember")
                .hint("text is the note to keep, like \"Launched {{ inputs.offer }}\""),
        );
    }
    let mut tags = Vec::new();
    if let Some(v) = get(t, "tags")
        && let Some(items) = cx.array("tags", v)
    {
        for item in items {
            if let Some(s) = cx.tmpl("tags", item, uses) {
                tags.push(s);
            }
        }
    }
    Some(RememberSpec { text: text?, tags })
}

pub(crate) fn fact(
    cx: &mut Cx,
    t: &Table<'_>,
    span: Span,
    ctx: &str,
    uses: &mut Vec<TemplateUse>,
) -> Option<FactSpec> {
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

pub(crate) fn outcome(
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
