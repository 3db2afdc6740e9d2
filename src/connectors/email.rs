//! `email` steps: one message sent through an SMTP account of the config (`[smtp]`,
//! `[smtp.NAME]`). This module owns the kind; this file holds its types (the step
//! as written, the rendered action as journaled) and the [`Connector`] impl, which
//! hands each part to the file that owns it:
//!
//! - [`read`]: the step's fields read from the workflow, and the check of its account
//!   against the config (`aios check`);
//! - [`render`]: rendering (addresses parsed, attachments read beneath their root for
//!   their sizes and hashes, the Message-ID fixed);
//! - [`validate`]: validation of a rendered action, also of an edit;
//! - [`show`]: the one-line summary and the description the inbox shows;
//! - [`send`]: commit through [`crate::smtp`];
//! - [`message`]: the MIME message.
//!
//! SMTP has no idempotency key: the Message-ID is fixed when the action is rendered
//! and kept on every retry, but a server cannot be asked whether it has a message.
//! So a commit retries only what certainly sent nothing (the server could not be
//! reached, or answered 4xx), fails on 5xx with the server's reply, and a send cut
//! off after the message's last byte (or a crash) goes to the inbox as needing
//! attention: never a silent resend.

pub(crate) mod message;
mod read;
mod render;
mod send;
mod show;
mod validate;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::{AfterTimeout, CheckCx, Connector, Description, ExecError, RenderCx, Resources, Touch};
use crate::workflow::Tmpl;
use crate::workflow::diag::Diagnostic;
use crate::workflow::kinds::StepFields;
use crate::workflow::read::Span;

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

impl Connector for Email {
    type Spec = EmailSpec;
    const FIELDS: &'static [&'static str] = read::FIELDS;
    /// Each exchange with the server is bounded by its account's `timeout`.
    const DEFAULT_TIMEOUT: Option<Duration> = None;
    /// The server may have taken the message: the operator decides.
    const AFTER_TIMEOUT: AfterTimeout = AfterTimeout::Ask;

    fn read(f: StepFields<'_, '_>) -> Option<EmailSpec> {
        read::read(f)
    }

    fn always_idempotent(_: &EmailSpec) -> bool {
        false
    }

    /// The account must be configured (unless the step has a `when`: it may be meant
    /// for where it is, like `when = "'default' in config.smtp"`).
    fn check(s: &EmailSpec, cx: &CheckCx<'_>) -> Vec<Diagnostic> {
        read::check(s, cx)
    }

    fn render(s: &EmailSpec, r: &RenderCx<'_>) -> Result<Email, String> {
        render::render(s, r)
    }

    fn validate(&self) -> Result<(), String> {
        validate::validate(self)
    }

    /// Recipients, subject, body, headers and attachments beneath the root may be
    /// edited; the account, the sender, the root and the Message-ID stay as proposed.
    fn validate_edit(&self, proposed: &Email) -> Result<(), String> {
        validate::validate_edit(self, proposed)
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
        show::summary(self)
    }

    fn describe(&self) -> Description {
        show::describe(self)
    }

    async fn commit(self, res: &Resources) -> Result<Json, ExecError> {
        send::commit(self, res).await
    }
}

#[cfg(test)]
mod tests;
