//! What the operator sees of an `email` action: the one-line summary of lists and
//! the structured description the CLI and the TUI draw (headers, body, attachments,
//! notes).

use super::{Description, EmailAction};
use crate::connectors::describe::Attachment as Shown;

/// One line for lists: the first recipient, how many others, the subject.
pub(super) fn summary(email: &EmailAction) -> String {
    let to = email.recipients();
    let who = match to.len() {
        0 => "nobody".to_string(),
        1 => to[0].to_string(),
        n => format!("{} and {}", to[0], crate::text::count(n - 1, "other")),
    };
    format!("email {who}: {}", email.subject)
}

/// What the inbox shows of the email: its headers, body, attachments and notes.
pub(super) fn describe(email: &EmailAction) -> Description {
    let mut d = Description::new("email", &email.subject).header("From", &email.from);
    for (label, list) in [
        ("To", &email.to),
        ("Cc", &email.cc),
        ("Bcc", &email.bcc),
        ("Reply-To", &email.reply_to),
    ] {
        if !list.is_empty() {
            d = d.header(label, list.join(", "));
        }
    }
    d = d.header("Subject", &email.subject);
    for (k, v) in &email.headers {
        d = d.header(k, v);
    }
    d = d
        .meta("Message-ID", &email.message_id)
        .word("via", format!("SMTP account `{}`", email.account));
    let html = email.html_part();
    d = match (&email.text, &email.markdown, &email.html) {
        (Some(t), _, _) => d.body("text", "text/plain", t),
        (None, Some(m), _) => d.body(
            "markdown (the text part; rendered, the HTML part)",
            "text/markdown",
            m,
        ),
        (None, None, Some(h)) => d.body("html", "text/html", h),
        (None, None, None) => d,
    };
    for a in &email.attachments {
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
        && (email.text.is_some() || email.markdown.is_some())
    {
        let from = if email.markdown.is_some() && email.html.is_none() {
            ", rendered from the Markdown"
        } else {
            ""
        };
        d = d.note(format!(
            "HTML part: {}{from} (`--action` shows it)",
            crate::text::count(h.len(), "byte")
        ));
    }
    if !email.attachments.is_empty() {
        d = d.note(format!("attachments read beneath {}", email.root));
    }
    d.note("Date: set when sent")
}
