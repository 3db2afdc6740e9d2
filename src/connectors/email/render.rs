//! Rendering an `email` step into the action that is proposed and sent: templates
//! filled, the sender and recipients parsed, attachments read beneath their root
//! for their sizes and sha256, the Message-ID fixed (kept on every retry).

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::{Email, EmailAction, EmailAttachment, EmailSpec, RenderCx, message};
use crate::connectors::sandbox::RelPath;
use crate::smtp::{self, DEFAULT_ACCOUNT};

/// The rendered action: templates filled, addresses parsed, attachments read for
/// their sizes and hashes, the Message-ID fixed.
pub(super) fn render(s: &EmailSpec, r: &RenderCx<'_>) -> Result<Email, String> {
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

/// Rendered attachments (a list of paths or `{path, name, content_type}` tables),
/// each read beneath `root` for its size and sha256, within
/// [`MAX_ATTACHMENTS`](super::MAX_ATTACHMENTS).
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
