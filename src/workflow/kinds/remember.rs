//! `remember`: write a note to memory (journaled with the run). No side effect
//! outside the journal: never proposed, safe to repeat.

use super::{Policy, StepFields, StepKind, req_tmpl};
use crate::workflow::Tmpl;
use crate::workflow::diag::Diagnostic;
use crate::workflow::read::get;

/// `kind = "remember"`: write a note to memory (no approval; journaled with the run).
#[derive(Debug, Clone)]
pub struct RememberSpec {
    pub text: Tmpl,
    pub tags: Vec<Tmpl>,
}

impl StepKind for RememberSpec {
    const NAME: &'static str = "remember";
    const FIELDS: &'static [&'static str] = &["text", "tags"];
    const POLICY: Policy = Policy::PURE;

    fn read(f: StepFields<'_, '_>) -> Option<RememberSpec> {
        let StepFields {
            cx,
            t,
            span,
            ctx,
            uses,
        } = f;
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
}
