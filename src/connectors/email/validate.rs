//! Validation of a rendered `email` action, and of an operator's edit of one: what
//! may change (recipients, subject, body, headers, attachments beneath the root) and
//! what stays as proposed (account, sender, root, Message-ID).

use std::path::Path;

use super::{EmailAction, message};
use crate::connectors::sandbox::RelPath;
use crate::smtp;

/// Whether a rendered (or edited) email can be sent as it stands.
pub(super) fn validate(email: &EmailAction) -> Result<(), String> {
    if !smtp::config::valid_name(&email.account) {
        return Err(format!("`{}` is not an account name", email.account));
    }
    message::mailbox(&email.from).map_err(|e| format!("`from`: {e}"))?;
    for (field, list) in [
        ("to", &email.to),
        ("cc", &email.cc),
        ("bcc", &email.bcc),
        ("reply_to", &email.reply_to),
    ] {
        for a in list.iter() {
            message::mailbox(a).map_err(|e| format!("`{field}`: {e}"))?;
        }
    }
    if email.recipients().is_empty() {
        return Err("the email has no recipient: `to`, `cc` and `bcc` are empty".into());
    }
    if email.subject.contains(['\r', '\n']) {
        return Err("the subject has a line break".into());
    }
    if email.text.is_none() && email.html.is_none() && email.markdown.is_none() {
        return Err("the email has no body: set `text`, `markdown` or `html`".into());
    }
    if email.html.is_some() && email.markdown.is_some() {
        return Err("set `html` or `markdown`, not both".into());
    }
    for (k, v) in &email.headers {
        message::check_header(k, v)?;
    }
    if !Path::new(&email.root).is_absolute() {
        return Err(format!(
            "`root` must be an absolute path, got `{}`",
            email.root
        ));
    }
    for a in &email.attachments {
        RelPath::new(&a.path).map_err(|e| format!("attachment {e}"))?;
        if a.name.trim().is_empty() || a.name.contains(['\r', '\n', '/']) {
            return Err(format!("attachment name `{}` is not a file name", a.name));
        }
        lettre::message::header::ContentType::parse(&a.content_type)
            .map_err(|_| format!("`{}` is not a content type", a.content_type))?;
    }
    let id = email.message_id.trim();
    if !(id.starts_with('<') && id.ends_with('>') && id.contains('@'))
        || id.contains(char::is_whitespace)
    {
        return Err(format!("`{}` is not a Message-ID", email.message_id));
    }
    Ok(())
}

/// Recipients, subject, body, headers and attachments beneath the root may be
/// edited; the account, the sender, the root and the Message-ID stay as proposed.
/// An attachment that carries a size or sha256 must be a proposed one, as shown.
pub(super) fn validate_edit(email: &EmailAction, proposed: &EmailAction) -> Result<(), String> {
    for (what, a, b) in [
        ("account", &email.account, &proposed.account),
        ("from", &email.from, &proposed.from),
        ("root", &email.root, &proposed.root),
        ("message_id", &email.message_id, &proposed.message_id),
    ] {
        if a != b {
            return Err(format!(
                "`{what}` cannot be edited (proposed {b:?}, edited {a:?}); an edit may change the recipients, subject, body, headers and attachments beneath the root"
            ));
        }
    }
    for a in &email.attachments {
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
    validate(email)
}
