//! The message itself: addresses parsed and written back the one way the headers
//! carry them, Markdown rendered to HTML, attachments read beneath their root (and
//! checked against what the proposal showed), and the MIME message built the same
//! way every time from the same action (boundaries derived from the Message-ID), so
//! a retry sends the very bytes the first attempt did, but for `Date`.

use std::time::SystemTime;

use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment as MimeAttachment, Body, Mailbox, MultiPart, SinglePart};
use sha2::{Digest, Sha256};

use super::{EmailAction, EmailAttachment};
use crate::connectors::sandbox::{RelPath, Root};

/// The most a message's attachments may hold in all (most servers refuse more).
pub const MAX_ATTACHMENTS: u64 = 25 * 1024 * 1024;

/// Headers the step's own fields set; `headers` may not set them.
const RESERVED: &[&str] = &[
    "from",
    "sender",
    "to",
    "cc",
    "bcc",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
    "return-path",
];

/// Split a list of addresses at its commas (not those in quotes or `<…>`).
fn split_list(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut quoted, mut angle, mut start) = (false, false, 0);
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

/// One mailbox (`ada@example.com`, `Ada Lovelace <ada@example.com>`), written back as
/// the header will carry it.
pub fn mailbox(s: &str) -> Result<Mailbox, String> {
    let t = s.trim();
    let parsed: Mailbox = t
        .parse()
        .map_err(|_| format!("`{t}` is not an email address"))?;
    // The parser stops at what it understands: nothing may be left after it.
    let email = parsed.email.to_string();
    if t != email && !t.ends_with(&format!("<{email}>")) {
        return Err(format!("`{t}` is not an email address"));
    }
    Ok(parsed)
}

/// Addresses from rendered values: strings (each may list several, comma
/// separated) or lists of strings. Written back as the headers will carry them.
pub fn addresses(field: &str, values: &[serde_json::Value]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for v in values {
        match v {
            serde_json::Value::String(s) => {
                for part in split_list(s) {
                    out.push(
                        mailbox(part)
                            .map_err(|e| format!("`{field}`: {e}"))?
                            .to_string(),
                    );
                }
            }
            serde_json::Value::Array(items) => out.extend(addresses(field, items)?),
            serde_json::Value::Null => {}
            other => {
                return Err(format!(
                    "`{field}` must give addresses (text, or a list of text), got {}",
                    crate::connectors::truncate_line(&other.to_string(), 60)
                ));
            }
        }
    }
    Ok(out)
}

/// Check a header the step sets by name.
pub fn check_header(name: &str, value: &str) -> Result<(), String> {
    if name.is_empty() || !name.bytes().all(|b| (33..=126).contains(&b) && b != b':') {
        return Err(format!("`{name}` is not a header name"));
    }
    if RESERVED.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(format!(
            "header `{name}` is set by the step's own fields (from, to, cc, bcc, reply_to, subject, the body, attachments); `headers` may not set it"
        ));
    }
    if value.contains(['\r', '\n']) {
        return Err(format!("the value of header `{name}` has a line break"));
    }
    Ok(())
}

/// Markdown rendered to an HTML document.
pub fn markdown_html(md: &str) -> String {
    use pulldown_cmark::{Options, Parser, html};
    let mut body = String::with_capacity(md.len() * 3 / 2);
    let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    html::push_html(&mut body, Parser::new_ext(md, opts));
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n{body}</body></html>\n"
    )
}

/// The content type of an attachment from its name's extension.
pub fn content_type_of(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "txt" | "log" => "text/plain",
        "md" => "text/markdown",
        "csv" => "text/csv",
        "html" | "htm" => "text/html",
        "ics" => "text/calendar",
        "json" => "application/json",
        "xml" => "application/xml",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "webp" => "image/webp",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        _ => "application/octet-stream",
    }
}

/// A file's sha256, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Read each attachment beneath `root` (a regular file, no symlink out of it),
/// within [`MAX_ATTACHMENTS`] in all. With `check`, a file whose size or sha256
/// differs from the action's (what the proposal showed) is an error.
pub fn read_attachments(
    root: &str,
    list: &[EmailAttachment],
) -> Result<Vec<Vec<u8>>, (String, bool)> {
    if list.is_empty() {
        return Ok(Vec::new());
    }
    let root = Root::open(root).map_err(|e| (e.to_string(), e.is_retryable()))?;
    let mut left = MAX_ATTACHMENTS;
    let mut out = Vec::with_capacity(list.len());
    for a in list {
        let rel = RelPath::new(&a.path).map_err(|e| (format!("attachment {e}"), false))?;
        let bytes = root.read(&rel, left).map_err(|e| {
            let msg = match e {
                crate::connectors::sandbox::SandboxError::TooLarge { .. } => format!(
                    "the attachments are larger than {} in all (at `{}`)",
                    crate::text::count(MAX_ATTACHMENTS, "byte"),
                    a.path
                ),
                other => format!("attachment {other}"),
            };
            (msg, false)
        })?;
        left -= bytes.len() as u64;
        if let Some(size) = a.size
            && size != bytes.len() as u64
        {
            return Err((
                format!(
                    "attachment `{}` changed since it was proposed ({} then, {} now); nothing was sent",
                    a.path,
                    crate::text::count(size, "byte"),
                    crate::text::count(bytes.len(), "byte")
                ),
                false,
            ));
        }
        if let Some(sha) = &a.sha256
            && *sha != sha256_hex(&bytes)
        {
            return Err((
                format!(
                    "attachment `{}` changed since it was proposed (same size, other content); nothing was sent",
                    a.path
                ),
                false,
            ));
        }
        out.push(bytes);
    }
    Ok(out)
}

/// A MIME boundary derived from the Message-ID (the same on every retry).
fn boundary(message_id: &str, kind: &str) -> String {
    let h = sha256_hex(message_id.as_bytes());
    format!("aios-{kind}-{}", &h[..24])
}

/// The message as sent: headers from the action, `Date` from `now`, the body parts
/// and the attachments (`files`, in the action's order).
pub fn build(
    a: &EmailAction,
    files: Vec<Vec<u8>>,
    now: SystemTime,
) -> Result<lettre::Message, String> {
    let mut b = lettre::Message::builder()
        .from(mailbox(&a.from)?)
        .date(now)
        .message_id(Some(a.message_id.clone()));
    for r in &a.reply_to {
        b = b.reply_to(mailbox(r)?);
    }
    for r in &a.to {
        b = b.to(mailbox(r)?);
    }
    for r in &a.cc {
        b = b.cc(mailbox(r)?);
    }
    for r in &a.bcc {
        b = b.bcc(mailbox(r)?);
    }
    b = b.subject(a.subject.clone());
    for (k, v) in &a.headers {
        check_header(k, v)?;
        let name = HeaderName::new_from_ascii(k.clone())
            .map_err(|_| format!("`{k}` is not a header name"))?;
        b = b.raw_header(HeaderValue::new(name, v.clone()));
    }
    let html = a.html_part();
    let text = a.text_part();
    let body: Option<MultiPart> = match (&text, &html) {
        (Some(t), Some(h)) => Some(
            MultiPart::alternative()
                .boundary(boundary(&a.message_id, "alt"))
                .singlepart(SinglePart::plain(t.to_string()))
                .singlepart(SinglePart::html(h.to_string())),
        ),
        _ => None,
    };
    let single = || match (&text, &html) {
        (Some(t), None) => SinglePart::plain(t.to_string()),
        (None, Some(h)) => SinglePart::html(h.to_string()),
        _ => SinglePart::plain(String::new()),
    };
    let message = if a.attachments.is_empty() {
        match body {
            Some(alt) => b.multipart(alt),
            None => b.singlepart(single()),
        }
    } else {
        let builder = MultiPart::mixed().boundary(boundary(&a.message_id, "mixed"));
        let mut mixed = match body {
            Some(alt) => builder.multipart(alt),
            None => builder.singlepart(single()),
        };
        for (att, bytes) in a.attachments.iter().zip(files) {
            let ct = ContentType::parse(&att.content_type)
                .map_err(|_| format!("`{}` is not a content type", att.content_type))?;
            // Base64 whatever the file: its bytes arrive exactly (line endings too).
            let body = Body::new_with_encoding(bytes, ContentTransferEncoding::Base64)
                .map_err(|_| format!("attachment `{}` cannot be encoded", att.name))?;
            mixed = mixed.singlepart(MimeAttachment::new(att.name.clone()).body(body, ct));
        }
        b.multipart(mixed)
    };
    message.map_err(|e| format!("the message cannot be built: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_lists_split_outside_quotes_and_angles() {
        let got = addresses(
            "to",
            &[serde_json::json!(
                "\"Lovelace, Ada\" <ada@example.com>, bob@example.com"
            )],
        )
        .unwrap();
        assert_eq!(
            got,
            ["\"Lovelace, Ada\" <ada@example.com>", "bob@example.com"]
        );
        let got = addresses(
            "cc",
            &[serde_json::json!(["Eve <eve@example.com>", "x@y.org"])],
        )
        .unwrap();
        assert_eq!(got, ["Eve <eve@example.com>", "x@y.org"]);
        for bad in ["bob@", "bob", "bob@example.com garbage", "<>"] {
            let e = addresses("to", &[serde_json::json!(bad)]).unwrap_err();
            assert!(e.starts_with("`to`: `"), "{bad}: {e}");
        }
        assert!(addresses("to", &[serde_json::json!(3)]).is_err());
    }

    #[test]
    fn headers_the_fields_own_are_refused() {
        assert!(check_header("X-Campaign", "launch").is_ok());
        assert!(check_header("In-Reply-To", "<a@b>").is_ok());
        assert!(
            check_header("Bcc", "x@y")
                .unwrap_err()
                .contains("own fields")
        );
        assert!(check_header("X Bad", "v").is_err());
        assert!(
            check_header("X-A", "a\r\nBcc: evil@x")
                .unwrap_err()
                .contains("line break")
        );
    }

    #[test]
    fn markdown_becomes_html() {
        let h = markdown_html("# Hi\n\nBook a **slot**.\n");
        assert!(
            h.contains("<h1>Hi</h1>") && h.contains("<strong>slot</strong>"),
            "{h}"
        );
        assert_eq!(content_type_of("slots.PDF"), "application/pdf");
        assert_eq!(content_type_of("noext"), "application/octet-stream");
    }
}
