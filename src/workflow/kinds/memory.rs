//! `memory`: read memory into the run. Lists the notes (by tag), the outcomes of past
//! runs (by workflow) or the decisions the journal holds, newest first, optionally
//! narrowed by a full-text search, as a list later templates and agents read. It
//! reads only: never proposed, safe to repeat, carried out by dry runs too.

use super::{Policy, StepFields, StepKind, opt_tmpl};
use crate::workflow::Tmpl;
use crate::workflow::diag::Diagnostic;
use crate::workflow::read::get;

/// What a `memory` step lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryFind {
    Notes,
    Outcomes,
    Decisions,
}

impl MemoryFind {
    pub const NAMES: &'static [&'static str] = &["notes", "outcomes", "decisions"];

    /// The word of `find`.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// The document kind in memory (`note`, `outcome`, `decision`).
    pub fn doc_kind(self) -> &'static str {
        match self {
            MemoryFind::Notes => "note",
            MemoryFind::Outcomes => "outcome",
            MemoryFind::Decisions => "decision",
        }
    }
}

/// The most items one `memory` step may list.
pub const MAX_LIMIT: i64 = 100;
/// How many it lists without `limit`.
pub const DEFAULT_LIMIT: usize = 10;

/// `kind = "memory"`: list notes, outcomes or decisions from memory (read-only).
#[derive(Debug, Clone)]
pub struct MemorySpec {
    pub find: MemoryFind,
    /// Notes carrying this tag (exactly).
    pub tag: Option<Tmpl>,
    /// Free text: only documents matching it (full-text, every word optional).
    pub search: Option<Tmpl>,
    /// Only documents of runs of this workflow (by its `name`).
    pub workflow: Option<Tmpl>,
    pub limit: usize,
}

impl StepKind for MemorySpec {
    const NAME: &'static str = "memory";
    const FIELDS: &'static [&'static str] = &["find", "tag", "search", "workflow", "limit"];
    const POLICY: Policy = Policy::PURE;

    fn read(f: StepFields<'_, '_>) -> Option<MemorySpec> {
        let StepFields {
            cx,
            t,
            span: _,
            ctx: _,
            uses,
        } = f;
        let find = match get(t, "find") {
            Some(v) => match cx.choice("find", v, MemoryFind::NAMES)? {
                0 => MemoryFind::Notes,
                1 => MemoryFind::Outcomes,
                _ => MemoryFind::Decisions,
            },
            None => MemoryFind::Notes,
        };
        let tag = opt_tmpl(cx, t, "tag", uses);
        if let Some(v) = get(t, "tag")
            && find != MemoryFind::Notes
        {
            cx.push(
                Diagnostic::new(format!("`tag` lists notes, but this step finds {}", find.name()))
                    .at(v.span())
                    .label("only notes have tags")
                    .hint(format!(
                        "narrow {} with `workflow = \"NAME\"` or `search = \"…\"`, or set find = \"notes\"",
                        find.name()
                    )),
            );
        }
        let search = opt_tmpl(cx, t, "search", uses);
        let workflow = opt_tmpl(cx, t, "workflow", uses);
        let limit = match get(t, "limit") {
            Some(v) => {
                let n = cx.integer("limit", v)?;
                if !(1..=MAX_LIMIT).contains(&n) {
                    cx.push(
                        Diagnostic::new(format!("`limit` is {n}"))
                            .at(v.span())
                            .label(format!("not between 1 and {MAX_LIMIT}"))
                            .hint(format!(
                                "limit is how many items the step lists, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})"
                            )),
                    );
                    return None;
                }
                n as usize
            }
            None => DEFAULT_LIMIT,
        };
        Some(MemorySpec {
            find,
            tag,
            search,
            workflow,
            limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::StepSpec;
    use crate::workflow::tests::{hint, one, wf};

    fn spec(step: &str) -> MemorySpec {
        let src = wf(&format!("[[steps]]\nid = \"m\"\nkind = \"memory\"\n{step}"));
        let w = crate::workflow::load(&src, "t.toml").unwrap();
        let StepSpec::Memory(m) = &w.steps[0].spec else {
            panic!("{:?}", w.steps[0].spec)
        };
        m.clone()
    }

    #[test]
    fn reads_its_fields_with_defaults() {
        let m = spec("");
        assert_eq!(
            (m.find, m.tag, m.search, m.workflow, m.limit),
            (MemoryFind::Notes, None, None, None, DEFAULT_LIMIT)
        );
        let m = spec(
            "find = \"outcomes\"\nworkflow = \"{{ inputs.w }}\"\nsearch = \"open\"\nlimit = 3\n[inputs.w]\ndefault = \"launch\"",
        );
        assert_eq!(m.find, MemoryFind::Outcomes);
        assert_eq!(m.workflow.as_deref(), Some("{{ inputs.w }}"));
        assert_eq!(m.search.as_deref(), Some("open"));
        assert_eq!(m.limit, 3);
        assert_eq!(spec("tag = \"idea\"").tag.as_deref(), Some("idea"));
        assert_eq!(spec("find = \"decisions\"").find, MemoryFind::Decisions);
    }

    #[test]
    fn mistakes_are_pinned_to_their_field() {
        let step = |rest: &str| {
            wf(&format!(
                "[[steps]]\nid = \"m\"\nkind = \"memory\"\n{rest}\n"
            ))
        };
        let (d, at) = one(&step("find = \"note\""));
        assert_eq!(d.message, "invalid value `note` for `find`");
        assert_eq!(at, "\"note\"");
        assert!(
            hint(&d).starts_with("did you mean `notes`?"),
            "{}",
            hint(&d)
        );
        let (d, at) = one(&step("limit = 0"));
        assert_eq!(d.message, "`limit` is 0");
        assert_eq!(at, "0");
        let (d, _) = one(&step("limit = 101"));
        assert!(hint(&d).contains("1 to 100"), "{}", hint(&d));
        let (d, at) = one(&step("find = \"outcomes\"\ntag = \"idea\""));
        assert_eq!(d.message, "`tag` lists notes, but this step finds outcomes");
        assert_eq!(at, "\"idea\"");
        let (d, _) = one(&step("tag = \"{{ steps.nope.output }}\""));
        assert!(d.message.contains("nope"), "{}", d.message);
        let (d, at) = one(&step("query = \"x\""));
        assert!(d.message.contains("`query`"), "{}", d.message);
        assert_eq!(at, "query");
        let (d, _) = one(&step("dry_output = 1"));
        assert_eq!(d.message, "a memory step has no `dry_output`");
        let (d, _) = one(&step("approve = \"always\""));
        assert_eq!(d.message, "memory steps have no side effects");
    }
}
