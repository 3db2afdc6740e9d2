//! Reading a fetched message (RFC 5322 + MIME, with mail-parser): headers decoded
//! from any charset to UTF-8, the text and HTML bodies, the attachments with safe
//! file names. Pure: no IO (saving is [`super::store`]'s job).
//!
//! A message is *malformed* when no header can be read from it, or when it has no
//! sender address: it cannot start a run (a notice goes to the inbox instead).

use sha2::{Digest, Sha256};

use mail_parser::{Address, MessageParser, MimeHeaders, PartType};

/// Bodies longer than this are cut (at a character boundary) in the run's input;
/// the whole message is saved next to its attachments.
pub const MAX_BODY: usize = 1 << 20;

/// A mailbox: display name (may be empty) and address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub name: String,
    pub address: String,
}

/// An attachment, its name made safe to use as a file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A message, read.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The Message-ID header without its angle brackets.
    pub message_id: Option<String>,
    /// The Message-ID, or a hash of the header block: recognizes the message in
    /// another folder or under another UIDVALIDITY.
    pub key: String,
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub reply_to: Vec<Mailbox>,
    pub subject: String,
    /// RFC 3339, when the Date header can be read.
    pub date: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub text: String,
    pub html: Option<String>,
    /// A body was longer than [`MAX_BODY`] and was cut.
    pub truncated: bool,
    pub attachments: Vec<Attachment>,
}

/// The key of a message without a Message-ID: a hash of its header block.
fn header_key(raw: &[u8]) -> String {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n"))
        .unwrap_or(raw.len().min(64 * 1024));
    format!("sha256:{}", hex::encode(Sha256::digest(&raw[..end])))
}

fn mailboxes(a: Option<&Address<'_>>) -> Vec<Mailbox> {
    a.map(|a| {
        a.iter()
            .filter_map(|m| {
                let address = m.address()?.trim();
                (!address.is_empty()).then(|| Mailbox {
                    name: m.name().unwrap_or("").trim().to_string(),
                    address: address.to_string(),
                })
            })
            .collect()
    })
    .unwrap_or_default()
}

fn ids(v: &mail_parser::HeaderValue<'_>) -> Vec<String> {
    match v {
        mail_parser::HeaderValue::Text(t) => vec![t.to_string()],
        mail_parser::HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    }
}

/// `s` cut to at most `max` bytes at a character boundary; whether it was cut.
fn cut(s: String, max: usize) -> (String, bool) {
    if s.len() <= max {
        return (s, false);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (s[..end].to_string(), true)
}

/// Read `raw`; `Err` names why it is malformed.
pub fn parse(raw: &[u8]) -> Result<Parsed, String> {
    let Some(msg) = MessageParser::default().parse(raw) else {
        return Err("no header could be read: it is not an email message".to_string());
    };
    let from = mailboxes(msg.from())
        .into_iter()
        .next()
        .or_else(|| mailboxes(msg.sender()).into_iter().next());
    let Some(from) = from else {
        return Err("it has no sender address (a From header with an address)".to_string());
    };
    let message_id = msg
        .message_id()
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::to_string);
    let key = match &message_id {
        Some(id) => format!("id:{id}"),
        None => header_key(raw),
    };
    let mut text = String::new();
    for i in 0..msg.text_body_count() {
        if let Some(t) = msg.body_text(i) {
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            text.push_str(&t);
        }
    }
    let mut html: Option<String> = None;
    for part in msg.html_bodies() {
        if let PartType::Html(h) = &part.body {
            let all = html.get_or_insert_with(String::new);
            if !all.is_empty() {
                all.push('\n');
            }
            all.push_str(h);
        }
    }
    let (text, cut_text) = cut(text, MAX_BODY);
    let (html, cut_html) = match html {
        Some(h) => {
            let (h, c) = cut(h, MAX_BODY);
            (Some(h), c)
        }
        None => (None, false),
    };
    let mut attachments: Vec<Attachment> = Vec::new();
    for (i, part) in msg.attachments().enumerate() {
        let content_type = part
            .content_type()
            .map(|c| match c.subtype() {
                Some(s) => format!("{}/{}", c.ctype(), s).to_ascii_lowercase(),
                None => c.ctype().to_ascii_lowercase(),
            })
            .unwrap_or_else(|| "application/octet-stream".to_string());
        let fallback = if part.is_message() {
            format!("attachment-{}.eml", i + 1)
        } else {
            format!("attachment-{}", i + 1)
        };
        let wanted = part
            .attachment_name()
            .map(sanitize_name)
            .filter(|n| !n.is_empty())
            .unwrap_or(fallback);
        let name = unique(&wanted, attachments.iter().map(|a| a.name.as_str()));
        attachments.push(Attachment {
            name,
            content_type,
            bytes: part.contents().to_vec(),
        });
    }
    Ok(Parsed {
        message_id,
        key,
        from,
        to: mailboxes(msg.to()),
        cc: mailboxes(msg.cc()),
        reply_to: mailboxes(msg.reply_to()),
        subject: msg.subject().unwrap_or("").trim().to_string(),
        date: msg.date().map(|d| d.to_rfc3339()),
        in_reply_to: ids(msg.in_reply_to()).into_iter().next(),
        references: ids(msg.references()),
        text,
        html,
        truncated: cut_text || cut_html,
        attachments,
    })
}

/// Longest file name kept, in bytes (the extension is kept when cut).
const MAX_NAME: usize = 120;

/// A sender's file name made safe: only its last path component, no control
/// characters, none of `/ \ : * ? " < > |`, no leading dots or spaces (no hidden
/// file, no `..`), at most [`MAX_NAME`] bytes. Empty when nothing is left.
pub fn sanitize_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .map(|c| {
            if c.is_control() || "/\\:*?\"<>|".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = cleaned
        .trim_start_matches(['.', ' ', '_'])
        .trim_end_matches(['.', ' '])
        .to_string();
    if trimmed.len() <= MAX_NAME {
        return trimmed;
    }
    // Keep a short extension.
    let (stem, ext) = match trimmed.rfind('.') {
        Some(i) if trimmed.len() - i <= 16 => (&trimmed[..i], &trimmed[i..]),
        _ => (trimmed.as_str(), ""),
    };
    let mut end = MAX_NAME - ext.len();
    while !stem.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{ext}", &stem[..end])
}

/// `name`, or `stem (2).ext`, `stem (3).ext`… when `taken` has it (case-insensitively).
pub fn unique<'a>(name: &str, taken: impl Iterator<Item = &'a str> + Clone) -> String {
    let clash = |n: &str| taken.clone().any(|t| t.eq_ignore_ascii_case(n));
    if !clash(name) {
        return name.to_string();
    }
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    };
    (2..)
        .map(|n| format!("{stem} ({n}){ext}"))
        .find(|n| !clash(n))
        .expect("a free name")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_safe() {
        assert_eq!(sanitize_name("report.pdf"), "report.pdf");
        assert_eq!(sanitize_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_name("C:\\Users\\ada\\x.doc"), "x.doc");
        assert_eq!(sanitize_name("..."), "");
        assert_eq!(sanitize_name(".bashrc"), "bashrc");
        assert_eq!(sanitize_name("a\u{0}b\nc?.txt"), "a_b_c_.txt");
        assert_eq!(sanitize_name("résumé été.pdf"), "résumé été.pdf");
        let long = format!("{}.tar.gz", "é".repeat(200));
        let s = sanitize_name(&long);
        assert!(s.len() <= MAX_NAME && s.ends_with(".gz"), "{s}");
        assert_eq!(
            unique("a.txt", ["a.txt", "A (2).txt"].into_iter()),
            "a (3).txt"
        );
        assert_eq!(unique("b", ["b"].into_iter()), "b (2)");
    }

    #[test]
    fn bodies_are_cut_at_a_character_boundary() {
        let (s, c) = cut("ééé".to_string(), 3);
        assert_eq!((s.as_str(), c), ("é", true));
        let (s, c) = cut("abc".to_string(), 3);
        assert_eq!((s.as_str(), c), ("abc", false));
    }

    #[test]
    fn plain_message() {
        let raw = b"From: Ada Lovelace <ada@example.com>\r\nTo: support@example.com, Bob <bob@example.com>\r\nCc: c@example.com\r\nSubject: Help with my order\r\nDate: Sat, 21 Nov 2026 09:00:00 +0000\r\nMessage-ID: <m1@example.com>\r\n\r\nHello,\r\nmy order is late.\r\n";
        let p = parse(raw).unwrap();
        assert_eq!(p.message_id.as_deref(), Some("m1@example.com"));
        assert_eq!(p.key, "id:m1@example.com");
        assert_eq!(
            p.from,
            Mailbox {
                name: "Ada Lovelace".into(),
                address: "ada@example.com".into()
            }
        );
        assert_eq!(p.to.len(), 2);
        assert_eq!(p.cc[0].address, "c@example.com");
        assert_eq!(p.subject, "Help with my order");
        assert_eq!(p.date.as_deref(), Some("2026-11-21T09:00:00Z"));
        assert_eq!(p.text, "Hello,\r\nmy order is late.\r\n");
        assert!(p.html.is_none() && p.attachments.is_empty() && !p.truncated);
    }

    #[test]
    fn charsets_are_decoded() {
        // ISO-8859-1 body and an encoded-word subject.
        let mut raw = b"From: a@example.com\r\nSubject: =?ISO-8859-1?Q?Caf=E9_cr=E8me?=\r\nContent-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n".to_vec();
        raw.extend_from_slice(b"Un caf\xe9, s'il vous pla\xeet\r\n");
        let p = parse(&raw).unwrap();
        assert_eq!(p.subject, "Café crème");
        assert_eq!(p.text, "Un café, s'il vous plaît\r\n");
        // Shift_JIS: 日本語 is 93 FA 96 7B 8C EA.
        let mut raw = b"From: b@example.jp\r\nSubject: =?Shift_JIS?B?k/qWe4zq?=\r\nContent-Type: text/plain; charset=Shift_JIS\r\n\r\n".to_vec();
        raw.extend_from_slice(b"\x93\xfa\x96\x7b\x8c\xea\r\n");
        let p = parse(&raw).unwrap();
        assert_eq!(p.subject, "日本語");
        assert_eq!(p.text.trim_end(), "日本語");
    }

    #[test]
    fn multipart_with_attachments() {
        let raw = b"From: a@example.com\r\nSubject: files\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: multipart/alternative; boundary=YY\r\n\r\n--YY\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--YY\r\nContent-Type: text/html\r\n\r\n<p>see attached</p>\r\n--YY--\r\n--XX\r\nContent-Type: application/pdf; name=\"../../report.pdf\"\r\nContent-Disposition: attachment; filename=\"../../report.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQ=\r\n--XX\r\nContent-Type: text/plain; name=report.pdf\r\nContent-Disposition: attachment; filename=report.pdf\r\n\r\nsecond\r\n--XX\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment\r\n\r\nraw\r\n--XX--\r\n";
        let p = parse(raw).unwrap();
        assert_eq!(p.text.trim(), "see attached");
        assert_eq!(
            p.html.as_deref().map(str::trim),
            Some("<p>see attached</p>")
        );
        let names: Vec<&str> = p.attachments.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["report.pdf", "report (2).pdf", "attachment-3"]);
        assert_eq!(p.attachments[0].bytes, b"%PDF-1.4");
        assert_eq!(p.attachments[0].content_type, "application/pdf");
        assert!(p.message_id.is_none() && p.key.starts_with("sha256:"));
    }

    #[test]
    fn malformed_messages_say_why() {
        assert!(parse(b"").unwrap_err().contains("no header"));
        let e = parse(b"Subject: no sender\r\n\r\nbody\r\n").unwrap_err();
        assert!(e.contains("no sender address"), "{e}");
        let e = parse(b"From: not an address at all\r\n\r\nx\r\n").unwrap_err();
        assert!(e.contains("no sender address"), "{e}");
    }
}
