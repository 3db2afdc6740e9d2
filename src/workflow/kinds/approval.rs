//! `approval`: a go/no-go gate with a title, a body and typed fields the approver
//! fills in. Always asks; its `timeout` is the decision deadline.

use serde_json::Value as Json;

use super::{Asks, Idempotent, Policy, StepFields, StepKind, Timeout, opt_tmpl, req_tmpl};
use crate::workflow::diag::Diagnostic;
use crate::workflow::parse::{ident_hint, typed_decl};
use crate::workflow::read::{get, is_ident};
use crate::workflow::{InputType, Tmpl};

#[derive(Debug, Clone)]
pub struct ApprovalSpec {
    pub title: Tmpl,
    pub body: Option<Tmpl>,
    pub fields: Vec<FieldDecl>,
}

/// A typed field the approver fills in on an `approval` step.
#[derive(Debug, Clone)]
pub struct FieldDecl {
    pub name: String,
    pub ty: InputType,
    pub required: bool,
    pub default: Option<Json>,
    pub description: Option<String>,
}

impl StepKind for ApprovalSpec {
    const NAME: &'static str = "approval";
    const FIELDS: &'static [&'static str] = &["title", "body", "fields"];
    const POLICY: Policy = Policy {
        asks: Asks::Always,
        timeout: Timeout::Decision,
        idempotent: Idempotent::Always,
        timer: false,
    };

    fn read(f: StepFields<'_, '_>) -> Option<ApprovalSpec> {
        let StepFields {
            cx,
            t,
            span,
            ctx,
            uses,
        } = f;
        let title = req_tmpl(cx, t, "title", &span, ctx, uses);
        let body = opt_tmpl(cx, t, "body", uses);
        let mut fields = Vec::new();
        if let Some(v) = get(t, "fields")
            && let Some(ft) = cx.table("fields", v)
        {
            for (k, fv) in ft.iter() {
                let name: &str = k.get_ref();
                if !is_ident(name) {
                    cx.push(
                        Diagnostic::new(format!("invalid field name `{name}`"))
                            .at(k.span())
                            .label("invalid name")
                            .hint(ident_hint(name, "the approver's answers are read by name")),
                    );
                }
                let Some(decl) = cx.table(name, fv) else {
                    continue;
                };
                cx.unknown_keys(
                    decl,
                    &["type", "default", "required", "description"],
                    &format!("in field `{name}`"),
                );
                if let Some((ty, default, required, description)) =
                    typed_decl(cx, decl, &format!("field `{name}`"))
                {
                    fields.push(FieldDecl {
                        name: name.to_string(),
                        ty,
                        required,
                        default,
                        description,
                    });
                }
            }
        }
        Some(ApprovalSpec {
            title: title?,
            body,
            fields,
        })
    }
}

impl ApprovalSpec {
    /// Whether a field must be answered (required, with no default).
    pub fn needs_answers(&self) -> bool {
        self.fields
            .iter()
            .any(|f| f.required && f.default.is_none())
    }
}
