//! `email` steps: one message sent through an SMTP account of the config (`[smtp]`,
//! `[smtp.NAME]`). This file owns the kind: its step fields, the check of its
//! account against the config (`aios check`), rendering (addresses parsed,
//! attachments read beneath their root for their sizes and hashes, the Message-ID
//! fixed), description, validation (also of an edit) and commit through
//! [`crate::smtp`]. [`message`] builds the MIME message.
//!
//! SMTP has no idempotency key: the Message-ID is fixed when the action is rendered
//! and kept on every retry, but a server cannot be asked whether it has a message.
//! So a commit retries only what certainly sent nothing (the server could not be
//! reached, or answered 4xx), fails on 5xx with the server's reply, and a send cut
//! off after the message's last byte (or a crash) goes to the inbox as needing
//! attention: never a silent resend.

pub(crate) mod message;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use toml::de::DeValue;

use super::describe::Attachment as Shown;
use super::sandbox::RelPath;
use super::{AfterTimeout, CheckCx, Connector, Description, ExecError, RenderCx, Resources, Touch};
use crate::smtp::{self, DEFAULT_ACCOUNT, Failure};
use crate::template::is_template;
use crate::workflow::Tmpl;
use crate::workflow::diag::Diagnostic;
use crate::workflow::kinds::{StepFields, opt_tmpl, req_tmpl};
use crate::workflow::read::{Span, get, key_span};

pub use message::{MAX_ATTACHMENTS, markdown_html};

/// An email step as written in the workflow (boxed: step specs stay small).
#[derive(Debug, Clone)]
pub struct EmailSpec(Box<EmailFields>);

impl std::ops::Deref for EmailSpec {
    type Target = EmailFields;
    fn deref(&self) -> &EmailFields {
        &self.0
    }
}

/// The fields of an email step.
#[derive(Debug, Clone)]
pub struct EmailFields {
    /// `[smtp.NAME]`; `None` is the default account (the keys of `[smtp]`).
    pub account: Option<String>,
    pub from: Option<Tmpl>,
    /// Each a JSON value whose string leaves are templates: one address, a list, or
    /// one `{{ expression }}` giving either.
    pub to: Option<Json>,
    pub cc: Option<Json>,
    pub bcc: Option<Json>,
    pub reply_to: Option<Json>,
    pub subject: Tmpl,
    pub text: Option<Tmpl>,
    pub html: Option<Tmpl>,
    pub markdown: Option<Tmpl>,
    /// Paths beneath `root` (strings, or `{ path, name, content_type }` tables).
    pub attachments: Option<Json>,
    /// The folder attachments are read beneath; default the workflow's folder.
    pub root: Option<Tmpl>,
    pub headers: Vec<(String, Tmpl)>,
    spans: Spans,
}

#[derive(Debug, Clone)]
struct Spans {
    step: Span,
    account: Option<Span>,
}

/// One attachment of a rendered email: where it is read from, and what the
/// proposal showed of it (checked again when it is sent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailAttachment {
    /// Relative to the action's `root`.
    pub path: String,
    /// The file name the recipient sees.
    pub name: String,
    pub content_type: String,
    /// Size and sha256 (hex) when rendered; a send whose file differs fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// A rendered email, as journaled (boxed: actions stay small; journaled as the
/// [`EmailAction`] it holds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(pub Box<EmailAction>);

impl std::ops::Deref for Email {
    type Target = EmailAction;
    fn deref(&self) -> &EmailAction {
        &self.0
    }
}

impl From<EmailAction> for Email {
    fn from(a: EmailAction) -> Email {
        Email(Box::new(a))
    }
}

/// The fields of a rendered email.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailAction {
    /// The SMTP account's name in the config.
    pub account: String,
    pub from: String,
    #[serde(default)]
    pub to: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cc: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bcc: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reply_to: Vec<String>,
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// Sent as the text part and, rendered, as the HTML part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub markdown: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The absolute folder attachments are read beneath.
    pub root: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<EmailAttachment>,
    /// Fixed when rendered, kept on every retry.
    pub message_id: String,
}

impl EmailAction {
    /// The text/plain part: `text`, else the Markdown source.
    fn text_part(&self) -> Option<&str> {
        self.text.as_deref().or(self.markdown.as_deref())
    }

    /// The text/html part: `html`, else the Markdown rendered.
    fn html_part(&self) -> Option<String> {
        match (&self.html, &self.markdown) {
            (Some(h), _) => Some(h.clone()),
            (None, Some(m)) => Some(markdown_html(m)),
            _ => None,
        }
    }

    /// Every recipient of the envelope (To, Cc, Bcc), each once.
    fn recipients(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for r in self.to.iter().chain(&self.cc).chain(&self.bcc) {
            if !out.contains(&r.as_str()) {
                out.push(r);
            }
        }
        out
    }
}

const FIELDS: &[&str] = &[
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

impl Connector for Email {
    type Spec = EmailSpec;
    const FIELDS: &'static [&'static str] = FIELDS;
    /// Each exchange with the server is bounded by its account's `timeout`.
    const DEFAULT_TIMEOUT: Option<Duration> = None;
    /// The server may have taken the message: the operator decides.
    const AFTER_TIMEOUT: AfterTimeout = AfterTimeout::Ask;

    fn read(mut f: StepFields<'_, '_>) -> Option<EmailSpec> {
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
                        .hint("like attachments = [\"slots.pdf\"], paths relative to the step's `root`"),
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

    fn always_idempotent(_: &EmailSpec) -> bool {
        false
    }

    /// The account must be configured (unless the step has a `when`: it may be meant
    /// for where it is, like `when = "'default' in config.smtp"`).
    fn check(s: &EmailSpec, cx: &CheckCx<'_>) -> Vec<Diagnostic> {
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

    fn render(s: &EmailSpec, r: &RenderCx<'_>) -> Result<Email, String> {
        let settings = smtp::config::from_config(r.config).map_err(|e| e.message)?;
        let name = s.account.as_deref().unwrap_or(DEFAULT_ACCOUNT);
        let account = settings.account(name).map_err(|e| match e.hint {
            Some(h) => format!("{}; {h}", e.message),
            None => e.message,
        })?;
        let from = match &s.from {
            Some(t) => r.text(t)?,
            None => account.from.clone().ok_or_else(|| {
                format!(
                    "no sender: set `from` on the step, or from = \"…\" in the {}",
                    account.label()
                )
            })?,
        };
        let from = message::mailbox(&from)
            .map_err(|e| format!("`from`: {e}"))?
            .to_string();
        let list = |field: &str, v: &Option<Json>| -> Result<Vec<String>, String> {
            match v {
                None => Ok(Vec::new()),
                Some(j) => message::addresses(field, &[r.json(j)?]),
            }
        };
        let root = match &s.root {
            Some(root) => r.path(&r.text(root)?),
            None => r.dir.display().to_string(),
        };
        let mut headers = BTreeMap::new();
        for (k, v) in &s.headers {
            headers.insert(k.clone(), r.text(v)?);
        }
        let attachments = match &s.attachments {
            None => Vec::new(),
            Some(j) => read_rendered_attachments(&root, &r.json(j)?)?,
        };
        let domain = from
            .rsplit_once('@')
            .map(|(_, d)| d.trim_end_matches('>').to_string())
            .unwrap_or_else(|| "localhost".into());
        Ok(Email::from(EmailAction {
            account: name.to_string(),
            from,
            to: list("to", &s.to)?,
            cc: list("cc", &s.cc)?,
            bcc: list("bcc", &s.bcc)?,
            reply_to: list("reply_to", &s.reply_to)?,
            subject: r.text(&s.subject)?,
            text: s.text.as_ref().map(|t| r.text(t)).transpose()?,
            html: s.html.as_ref().map(|t| r.text(t)).transpose()?,
            markdown: s.markdown.as_ref().map(|t| r.text(t)).transpose()?,
            headers,
            root,
            attachments,
            message_id: format!("<aios.{}.{}.{}@{domain}>", r.run_uid, r.step_id, r.attempt),
        }))
    }

    fn validate(&self) -> Result<(), String> {
        if !smtp::config::valid_name(&self.account) {
            return Err(format!("`{}` is not an account name", self.account));
        }
        message::mailbox(&self.from).map_err(|e| format!("`from`: {e}"))?;
        for (field, list) in [
            ("to", &self.to),
            ("cc", &self.cc),
            ("bcc", &self.bcc),
            ("reply_to", &self.reply_to),
        ] {
            for a in list.iter() {
                message::mailbox(a).map_err(|e| format!("`{field}`: {e}"))?;
            }
        }
        if self.recipients().is_empty() {
            return Err("the email has no recipient: `to`, `cc` and `bcc` are empty".into());
        }
        if self.subject.contains(['\r', '\n']) {
            return Err("the subject has a line break".into());
        }
        if self.text.is_none() && self.html.is_none() && self.markdown.is_none() {
            return Err("the email has no body: set `text`, `markdown` or `html`".into());
        }
        if self.html.is_some() && self.markdown.is_some() {
            return Err("set `html` or `markdown`, not both".into());
        }
        for (k, v) in &self.headers {
            message::check_header(k, v)?;
        }
        if !Path::new(&self.root).is_absolute() {
            return Err(format!(
                "`root` must be an absolute path, got `{}`",
                self.root
            ));
        }
        for a in &self.attachments {
            RelPath::new(&a.path).map_err(|e| format!("attachment {e}"))?;
            if a.name.trim().is_empty() || a.name.contains(['\r', '\n', '/']) {
                return Err(format!("attachment name `{}` is not a file name", a.name));
            }
            lettre::message::header::ContentType::parse(&a.content_type)
                .map_err(|_| format!("`{}` is not a content type", a.content_type))?;
        }
        let id = self.message_id.trim();
        if !(id.starts_with('<') && id.ends_with('>') && id.contains('@'))
            || id.contains(char::is_whitespace)
        {
            return Err(format!("`{}` is not a Message-ID", self.message_id));
        }
        Ok(())
    }

    /// Recipients, subject, body, headers and attachments beneath the root may be
    /// edited; the account, the sender, the root and the Message-ID stay as proposed.
    /// An attachment that carries a size or sha256 must be a proposed one, as shown.
    fn validate_edit(&self, proposed: &Email) -> Result<(), String> {
        for (what, a, b) in [
            ("account", &self.account, &proposed.account),
            ("from", &self.from, &proposed.from),
            ("root", &self.root, &proposed.root),
            ("message_id", &self.message_id, &proposed.message_id),
        ] {
            if a != b {
                return Err(format!(
                    "`{what}` cannot be edited (proposed {b:?}, edited {a:?}); an edit may change the recipients, subject, body, headers and attachments beneath the root"
                ));
            }
        }
        for a in &self.attachments {
            if a.size.is_none() && a.sha256.is_none() {
                continue;
            }
            let shown = proposed
                .attachments
                .iter()
                .any(|p| p.path == a.path && p.size == a.size && p.sha256 == a.sha256);
            if !shown {
                return Err(format!(
                    "attachment `{}` carries a size or sha256 the proposal did not show for it; remove `size` and `sha256` from an attachment you add or change (it is read as it is when sent)",
                    a.path
                ));
            }
        }
        self.validate()
    }

    /// The step's `approve` decides.
    fn must_ask(&self) -> bool {
        false
    }

    fn touches(&self) -> Vec<Touch> {
        vec![Touch::Email {
            from: self.from.clone(),
            to: self.recipients().into_iter().map(str::to_string).collect(),
        }]
    }

    fn target(&self) -> Option<super::Target> {
        Some(super::Target::new(super::TargetKind::Smtp, &self.account))
    }

    fn summary(&self) -> String {
        let to = self.recipients();
        let who = match to.len() {
            0 => "nobody".to_string(),
            1 => to[0].to_string(),
            n => format!("{} and {}", to[0], crate::text::count(n - 1, "other")),
        };
        format!("email {who}: {}", self.subject)
    }

    fn describe(&self) -> Description {
        let mut d = Description::new("email", &self.subject).header("From", &self.from);
        for (label, list) in [
            ("To", &self.to),
            ("Cc", &self.cc),
            ("Bcc", &self.bcc),
            ("Reply-To", &self.reply_to),
        ] {
            if !list.is_empty() {
                d = d.header(label, list.join(", "));
            }
        }
        d = d.header("Subject", &self.subject);
        for (k, v) in &self.headers {
            d = d.header(k, v);
        }
        d = d
            .meta("Message-ID", &self.message_id)
            .word("via", format!("SMTP account `{}`", self.account));
        let html = self.html_part();
        d = match (&self.text, &self.markdown, &self.html) {
            (Some(t), _, _) => d.body("text", "text/plain", t),
            (None, Some(m), _) => d.body(
                "markdown (the text part; rendered, the HTML part)",
                "text/markdown",
                m,
            ),
            (None, None, Some(h)) => d.body("html", "text/html", h),
            (None, None, None) => d,
        };
        for a in &self.attachments {
            d = d.attachment(Shown {
                name: if a.name == a.path {
                    a.name.clone()
                } else {
                    format!("{} (from {})", a.name, a.path)
                },
                size: a.size,
                content_type: Some(a.content_type.clone()),
            });
        }
        if let Some(h) = &html
            && (self.text.is_some() || self.markdown.is_some())
        {
            let from = if self.markdown.is_some() && self.html.is_none() {
                ", rendered from the Markdown"
            } else {
                ""
            };
            d = d.note(format!(
                "HTML part: {}{from} (`--action` shows it)",
                crate::text::count(h.len(), "byte")
            ));
        }
        if !self.attachments.is_empty() {
            d = d.note(format!("attachments read beneath {}", self.root));
        }
        d.note("Date: set when sent")
    }

    async fn commit(self, res: &Resources) -> Result<Json, ExecError> {
        let transport = res.smtp()?;
        let account = transport
            .settings
            .account(&self.account)
            .map_err(|e| ExecError::fatal(e.message))?
            .clone();
        let password = match &account.password {
            Some(r) => Some(
                res.secrets()
                    .get(r)
                    .map_err(|e| {
                        ExecError::fatal(format!(
                            "the password of {}: {}{}",
                            account.label(),
                            e.message,
                            e.hint.map(|h| format!(" ({h})")).unwrap_or_default()
                        ))
                    })?
                    .expose()
                    .to_string(),
            ),
            None => None,
        };
        let now = std::time::SystemTime::from(res.env().clock.now());
        let action: EmailAction = (*self.0).clone();
        let built = tokio::task::spawn_blocking(move || -> Result<_, ExecError> {
            let files = message::read_attachments(&action.root, &action.attachments).map_err(
                |(m, retry)| {
                    if retry {
                        ExecError::retryable(m)
                    } else {
                        ExecError::fatal(m)
                    }
                },
            )?;
            let sizes: Vec<usize> = files.iter().map(Vec::len).collect();
            let msg = message::build(&action, files, now).map_err(ExecError::fatal)?;
            Ok((msg.envelope().clone(), msg.formatted(), sizes))
        })
        .await
        .map_err(|e| ExecError::fatal(format!("building the email failed: {e}")))??;
        let (envelope, bytes, sizes) = built;
        let sent = smtp::client::send(
            &account,
            password.as_deref(),
            &envelope,
            &bytes,
            &transport.connections,
        )
        .await
        .map_err(|e| match e.failure {
            // Unreachable, timed out or 4xx: the account's server failed for now (its
            // circuit breaker counts it).
            Failure::Retry => ExecError::transient(e.message),
            // 5xx, a refused login or certificate: the server answered, it is up.
            Failure::Fatal => ExecError::refused(e.message),
            Failure::Unknown => ExecError {
                blame: super::Blame::Target,
                ..ExecError::unknown(e.message)
            },
        })?;
        Ok(json!({
            "message_id": self.message_id,
            "account": account.name,
            "server": account.server(),
            "from": self.from,
            "recipients": self.recipients(),
            "reply": sent.reply,
            "bytes": bytes.len(),
            "attachments": self.attachments.iter().zip(&sizes).map(|(a, n)| json!({ "name": a.name, "size": n })).collect::<Vec<_>>(),
        }))
    }
}

/// Rendered attachments (a list of paths or `{path, name, content_type}` tables),
/// each read beneath `root` for its size and sha256, within [`MAX_ATTACHMENTS`].
fn read_rendered_attachments(root: &str, j: &Json) -> Result<Vec<EmailAttachment>, String> {
    let items: Vec<Json> = match j {
        Json::Array(a) => a.clone(),
        Json::Null => Vec::new(),
        Json::String(_) | Json::Object(_) => vec![j.clone()],
        other => {
            return Err(format!(
                "`attachments` must give paths, got {}",
                crate::connectors::truncate_line(&other.to_string(), 60)
            ));
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let (path, name, ct) = match &item {
            Json::String(p) => (p.clone(), None, None),
            Json::Object(m) => {
                let s = |k: &str| m.get(k).and_then(Json::as_str).map(str::to_string);
                match s("path") {
                    Some(p) => (p, s("name"), s("content_type")),
                    None => return Err("an attachment has no `path`".into()),
                }
            }
            other => {
                return Err(format!(
                    "an attachment must be a path, got {}",
                    crate::connectors::truncate_line(&other.to_string(), 60)
                ));
            }
        };
        let rel = RelPath::new(&path).map_err(|e| format!("attachment {e}"))?;
        let name = name.unwrap_or_else(|| rel.file_name().to_string_lossy().into_owned());
        let content_type = ct.unwrap_or_else(|| message::content_type_of(&name).to_string());
        out.push(EmailAttachment {
            path,
            name,
            content_type,
            size: None,
            sha256: None,
        });
    }
    if out.is_empty() {
        return Ok(out);
    }
    let files = message::read_attachments(root, &out).map_err(|(m, _)| m)?;
    for (a, bytes) in out.iter_mut().zip(files) {
        a.size = Some(bytes.len() as u64);
        a.sha256 = Some(message::sha256_hex(&bytes));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
