//! An `email` step as written: its fields read from the workflow's TOML (addresses
//! and attachment paths written out are checked now, templates when rendered), and
//! the check of its SMTP account against the config (`aios check`).

use serde_json::Value as Json;
use toml::de::DeValue;

use super::{CheckCx, EmailFields, EmailSpec, Spans, message};
use crate::connectors::sandbox::RelPath;
use crate::smtp::{self, DEFAULT_ACCOUNT};
use crate::template::is_template;
use crate::workflow::diag::Diagnostic;
use crate::workflow::kinds::{StepFields, opt_tmpl, req_tmpl};
use crate::workflow::read::{Span, get, key_span};

pub(super) const FIELDS: &[&str] = &[
    "account",
    "from",
    "to",
    "cc",
    "bcc",
    "reply_to",
    "subject",
    "text",
    "html",
    "markdown",
    "attachments",
    "root",
    "headers",
];

/// An address field: a string (a template), or a list of them.
fn address_field(f: &mut StepFields<'_, '_>, key: &str) -> Option<Json> {
    let v = get(f.t, key)?;
    match v.get_ref() {
        DeValue::String(_) | DeValue::Array(_) => {
            // Addresses written out are checked now; templates when rendered.
            let items: Vec<&crate::workflow::read::Val<'_>> = match v.get_ref() {
                DeValue::Array(a) => a.iter().collect(),
                _ => vec![v],
            };
            for item in items {
                if let DeValue::String(text) = item.get_ref()
                    && !is_template(text)
                    && let Err(e) = message::addresses(key, &[Json::String(text.to_string())])
                {
                    f.cx.push(
                        Diagnostic::new(e)
                            .at(item.span())
                            .label("not an email address")
                            .hint("like \"ada@example.com\" or \"Ada Lovelace <ada@example.com>\""),
                    );
                }
            }
            f.cx.json(key, v, Some(f.uses))
        }
        _ => {
            f.cx.push(
                Diagnostic::new(format!("`{key}` must be an address or a list of addresses"))
                    .at(v.span())
                    .label("not an address")
                    .hint(format!(
                        "like {key} = \"ada@example.com\" or {key} = [\"Ada <ada@example.com>\", \"bob@example.com\"]"
                    )),
            );
            None
        }
    }
}

fn attachment_path_problem(cx: &mut crate::workflow::read::Cx, p: &str, span: Span) {
    if !is_template(p)
        && let Err(e) = RelPath::new(p)
    {
        cx.push(
            Diagnostic::new(format!("attachment path `{p}` {}", e.problem))
                .at(span)
                .label("unsafe path")
                .hint("use a path relative to the step's `root` (the workflow's folder by default), without `..` that leave it"),
        );
    }
}

/// The step's fields, read from its TOML table (templates parsed, addresses and
/// attachment paths written out checked now).
pub(super) fn read(mut f: StepFields<'_, '_>) -> Option<EmailSpec> {
    let account = match get(f.t, "account") {
        None => None,
        Some(v) => {
            let s = f.cx.string("account", v)?;
            if !smtp::config::valid_name(&s) {
                f.cx.push(
                    Diagnostic::new(format!("`{s}` is not an account name"))
                        .at(v.span())
                        .label("not a name")
                        .hint("name an SMTP account of the config: account = \"work\" for [smtp.work]; account names are letters, digits, `_` and `-` (no templates)"),
                );
                return None;
            }
            Some(s)
        }
    };
    let from = opt_tmpl(f.cx, f.t, "from", f.uses);
    if let (Some(text), Some(v)) = (&from, get(f.t, "from"))
        && !is_template(text)
        && let Err(e) = message::mailbox(text)
    {
        f.cx.push(
            Diagnostic::new(format!("`from`: {e}"))
                .at(v.span())
                .label("not an email address")
                .hint("like from = \"Ada <ada@example.com>\""),
        );
    }
    let to = address_field(&mut f, "to");
    let cc = address_field(&mut f, "cc");
    let bcc = address_field(&mut f, "bcc");
    let reply_to = address_field(&mut f, "reply_to");
    if ["to", "cc", "bcc"].iter().all(|k| get(f.t, k).is_none()) {
        f.cx.push(
            Diagnostic::new(format!("an email step needs a recipient {}", f.ctx))
                .at(f.span.clone())
                .label("no `to`, `cc` or `bcc`")
                .hint("add to = \"ada@example.com\" (or a list)"),
        );
    }
    let subject = req_tmpl(f.cx, f.t, "subject", &f.span, f.ctx, f.uses);
    let text = opt_tmpl(f.cx, f.t, "text", f.uses);
    let html = opt_tmpl(f.cx, f.t, "html", f.uses);
    let markdown = opt_tmpl(f.cx, f.t, "markdown", f.uses);
    if html.is_some() && markdown.is_some() {
        f.cx.push(
            Diagnostic::new("an email step takes `html` or `markdown`, not both")
                .at(key_span(f.t, "markdown").unwrap_or(f.span.clone()))
                .label("second HTML body")
                .hint("`markdown` is rendered to the HTML part; `html` is sent as written"),
        );
    }
    if text.is_none() && html.is_none() && markdown.is_none() {
        f.cx.push(
            Diagnostic::new(format!("an email step needs a body {}", f.ctx))
                .at(f.span.clone())
                .label("no `text`, `markdown` or `html`")
                .hint("add text = \"…\" (plain text), markdown = \"…\" (sent as text and as HTML) or html = \"…\""),
        );
    }
    let mut attachments = None;
    if let Some(v) = get(f.t, "attachments") {
        match v.get_ref() {
            DeValue::Array(items) => {
                for item in items.iter() {
                    match item.get_ref() {
                        DeValue::String(p) => attachment_path_problem(f.cx, p, item.span()),
                        DeValue::Table(t) => {
                            f.cx.unknown_keys(t, &["path", "name", "content_type"], "in an attachment");
                            match get(t, "path") {
                                Some(p) => {
                                    if let DeValue::String(s) = p.get_ref() {
                                        attachment_path_problem(f.cx, s, p.span());
                                    }
                                }
                                None => f.cx.push(
                                    Diagnostic::new("an attachment needs `path`")
                                        .at(item.span())
                                        .label("no path")
                                        .hint("like { path = \"slots.pdf\", name = \"Office hours.pdf\" }"),
                                ),
                            }
                        }
                        _ => f.cx.push(
                            Diagnostic::new("an attachment is a path, or a table with `path`")
                                .at(item.span())
                                .label("not an attachment")
                                .hint("like attachments = [\"slots.pdf\", { path = \"price.pdf\", name = \"Prices.pdf\" }]"),
                        ),
                    }
                }
                attachments = f.cx.json("attachments", v, Some(f.uses));
            }
            DeValue::String(s) if crate::template::sole_expression(s).is_some() => {
                attachments = f.cx.json("attachments", v, Some(f.uses));
            }
            _ => f.cx.push(
                Diagnostic::new("`attachments` must be a list of paths")
                    .at(v.span())
                    .label("not a list")
                    .hint(
                        "like attachments = [\"slots.pdf\"], paths relative to the step's `root`",
                    ),
            ),
        }
    }
    let root = opt_tmpl(f.cx, f.t, "root", f.uses);
    let headers = get(f.t, "headers")
        .map(|v| f.cx.tmpl_map("headers", v, f.uses))
        .unwrap_or_default();
    if let Some(v) = get(f.t, "headers") {
        for (k, _) in &headers {
            if let Err(e) = message::check_header(k, "") {
                f.cx.push(
                    Diagnostic::new(e)
                        .at(v.span())
                        .label("in these headers")
                        .hint("headers = { \"X-Campaign\" = \"launch\", \"In-Reply-To\" = \"<id@host>\" } for headers beyond the step's own fields"),
                );
            }
        }
    }
    Some(EmailSpec(Box::new(EmailFields {
        account,
        from,
        to,
        cc,
        bcc,
        reply_to,
        subject: subject?,
        text,
        html,
        markdown,
        attachments,
        root,
        headers,
        spans: Spans {
            step: f.span.clone(),
            account: get(f.t, "account").map(|v| v.span()),
        },
    })))
}

/// The account must be configured (unless the step has a `when`: it may be meant
/// for where it is, like `when = "'default' in config.smtp"`).
pub(super) fn check(s: &EmailSpec, cx: &CheckCx<'_>) -> Vec<Diagnostic> {
    let at = s
        .spans
        .account
        .clone()
        .unwrap_or_else(|| s.spans.step.clone());
    let settings = match smtp::config::from_config(cx.config) {
        Ok(settings) => settings,
        Err(e) => {
            return vec![
                Diagnostic::new(format!("the SMTP accounts cannot be read: {}", e.message))
                    .at(at)
                    .label("sends through an SMTP account")
                    .hint(e.hint.unwrap_or_else(|| "fix [smtp] in config.toml".into())),
            ];
        }
    };
    let name = s.account.as_deref().unwrap_or(DEFAULT_ACCOUNT);
    match settings.account(name) {
        Ok(_) => Vec::new(),
        Err(_) if cx.guarded => Vec::new(),
        Err(e) => vec![
            Diagnostic::new(e.message)
                .at(at)
                .label(if s.account.is_some() {
                    "not an account of the config"
                } else {
                    "no `account`: the default one"
                })
                .hint(format!(
                    "{} (or guard the step: when = \"'{name}' in config.smtp\")",
                    e.hint.unwrap_or_default()
                )),
        ],
    }
}
