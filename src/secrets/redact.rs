//! Redaction: known secret values in text that is about to be kept (a step's output,
//! an error, an LLM call record) are replaced by their placeholder `secret("NAME")`.
//!
//! Forms found: the plain value; the value as a JSON string holds it (quotes,
//! backslashes and control characters escaped, optionally `\/` and `\uXXXX` for
//! non-ASCII); percent-encoded (any mix of encoded and plain bytes, `+` for a space
//! too); base64 (standard or URL-safe alphabet, padded or not, at any alignment
//! inside a base64 word, as in an echoed `Authorization: Basic …` header: the whole
//! word is replaced). Not found: other encodings (hex, HTML entities, quoted-printable,
//! double encodings), hashes, compressed or split text. Values shorter than
//! [`MIN_LEN`] bytes are not redacted: they cannot be told apart from ordinary text.

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, MatchKind};
use serde_json::Value as Json;

use super::placeholder::placeholder;

/// Shortest value redacted.
pub const MIN_LEN: usize = 4;

#[derive(Debug, Clone)]
struct Known {
    name: String,
    mark: String,
    value: String,
}

/// Replaces known secret values by their placeholders. Cheap when empty; otherwise
/// one pass over the text for the exact forms of every value at once, a decoded
/// view when the text holds `%`, and a look inside base64 words long enough to hold
/// a value.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    known: Vec<Known>,
    /// Every exact form (the value, its JSON escapes), longest match first, and
    /// which value each pattern is a form of.
    exact: Option<(AhoCorasick, Vec<usize>)>,
    /// Whether a value holds a space (`+` may then encode part of it).
    space: bool,
    /// The shortest base64 word that can hold a value whole.
    min_b64: usize,
}

impl Redactor {
    /// A redactor of `(name, value)` pairs; the name is what the mark says.
    pub fn new<N: AsRef<str>, V: AsRef<str>>(pairs: impl IntoIterator<Item = (N, V)>) -> Redactor {
        let mut r = Redactor::default();
        for (n, v) in pairs {
            r.push(n.as_ref(), v.as_ref());
        }
        r.build();
        r
    }

    /// Also redact `value` as `secret("name")`.
    pub fn add(&mut self, name: &str, value: &str) {
        if self.push(name, value) {
            self.build();
        }
    }

    fn push(&mut self, name: &str, value: &str) -> bool {
        if value.len() < MIN_LEN || self.known.iter().any(|k| k.value == value) {
            return false;
        }
        self.known.push(Known {
            name: name.to_string(),
            mark: placeholder(name),
            value: value.to_string(),
        });
        true
    }

    /// Everything of `other` too.
    pub fn extend(&mut self, other: &Redactor) {
        let mut any = false;
        for k in &other.known {
            any |= self.push(&k.name, &k.value);
        }
        if any {
            self.build();
        }
    }

    fn build(&mut self) {
        let mut patterns = Vec::new();
        let mut owner = Vec::new();
        for (i, k) in self.known.iter().enumerate() {
            for f in forms(&k.value) {
                patterns.push(f);
                owner.push(i);
            }
        }
        self.exact = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
            .ok()
            .map(|ac| (ac, owner));
        self.space = self.known.iter().any(|k| k.value.contains(' '));
        self.min_b64 = self
            .known
            .iter()
            .map(|k| (k.value.len() * 4).div_ceil(3))
            .min()
            .unwrap_or(0);
    }

    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }

    /// The name of a known value that appears in `s` (in any form), if any.
    pub fn find(&self, s: &str) -> Option<&str> {
        self.known
            .iter()
            .find(|k| {
                let one = Redactor::new([(&k.name, &k.value)]);
                matches!(one.redact(s), Cow::Owned(_))
            })
            .map(|k| k.name.as_str())
    }

    /// `s` with every known value replaced by its mark. `Owned` only when something
    /// was replaced.
    pub fn redact<'a>(&self, s: &'a str) -> Cow<'a, str> {
        let Some((ac, owner)) = &self.exact else {
            return Cow::Borrowed(s);
        };
        if s.len() < MIN_LEN {
            return Cow::Borrowed(s);
        }
        let mut out = Cow::Borrowed(s);
        if ac.is_match(s) {
            let mut r = String::with_capacity(s.len());
            let mut last = 0;
            for m in ac.find_iter(s) {
                r.push_str(&s[last..m.start()]);
                r.push_str(&self.known[owner[m.pattern().as_usize()]].mark);
                last = m.end();
            }
            r.push_str(&s[last..]);
            out = Cow::Owned(r);
        }
        if out.contains('%') || (self.space && out.contains('+')) {
            for plus in [true, false] {
                if !plus && !self.space {
                    continue;
                }
                if let Some(r) = self.replace_decoded(&out, plus) {
                    out = Cow::Owned(r);
                }
            }
        }
        if let Some(r) = self.replace_base64(&out) {
            out = Cow::Owned(r);
        }
        out
    }

    /// Redact every string of a JSON value (object keys too), in place. Returns
    /// whether anything was replaced.
    pub fn redact_json(&self, v: &mut Json) -> bool {
        if self.is_empty() {
            return false;
        }
        match v {
            Json::String(s) => {
                if let Cow::Owned(r) = self.redact(s) {
                    *s = r;
                    true
                } else {
                    false
                }
            }
            Json::Array(items) => items
                .iter_mut()
                .fold(false, |any, i| self.redact_json(i) | any),
            Json::Object(map) => {
                let needs_keys = map.keys().any(|k| matches!(self.redact(k), Cow::Owned(_)));
                if needs_keys {
                    let old = std::mem::take(map);
                    for (k, mut val) in old {
                        self.redact_json(&mut val);
                        map.insert(self.redact(&k).into_owned(), val);
                    }
                    true
                } else {
                    map.values_mut()
                        .fold(false, |any, i| self.redact_json(i) | any)
                }
            }
            _ => false,
        }
    }

    /// Find values in the percent-decoded view of `s` (with `+` as a space when
    /// `plus`) and replace the text they came from. `None` when none is found.
    fn replace_decoded(&self, s: &str, plus: bool) -> Option<String> {
        let (ac, owner) = self.exact.as_ref()?;
        let b = s.as_bytes();
        let mut decoded = Vec::with_capacity(b.len());
        // For each decoded byte: where its text starts and ends in `s`.
        let mut spans = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%'
                && i + 2 < b.len()
                && let (Some(h), Some(l)) = (hex_val(b[i + 1]), hex_val(b[i + 2]))
            {
                decoded.push(h * 16 + l);
                spans.push((i, i + 3));
                i += 3;
            } else {
                decoded.push(if plus && b[i] == b'+' { b' ' } else { b[i] });
                spans.push((i, i + 1));
                i += 1;
            }
        }
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        for m in ac.find_iter(&decoded) {
            let (start, end) = (spans[m.start()].0, spans[m.end() - 1].1);
            if start < last || !s.is_char_boundary(start) || !s.is_char_boundary(end) {
                continue;
            }
            out.push_str(&s[last..start]);
            out.push_str(&self.known[owner[m.pattern().as_usize()]].mark);
            last = end;
        }
        if last == 0 {
            return None;
        }
        out.push_str(&s[last..]);
        Some(out)
    }

    /// Replace each base64 word (a run of base64 characters) whose decoding, at any
    /// of the four alignments, holds a value.
    fn replace_base64(&self, s: &str) -> Option<String> {
        let (ac, owner) = self.exact.as_ref()?;
        let b = s.as_bytes();
        let is_b64 = |c: u8| b64_val(c).is_some() || c == b'=';
        let mut out = String::new();
        let mut last = 0;
        let mut i = 0;
        while i < b.len() {
            if !is_b64(b[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < b.len() && is_b64(b[i]) {
                i += 1;
            }
            let word = &b[start..i];
            if word.len() < self.min_b64 {
                continue;
            }
            let hit = (0..4).find_map(|skip| {
                let d = b64_decode(word.get(skip..)?);
                ac.find(&d[..]).map(|m| owner[m.pattern().as_usize()])
            });
            if let Some(k) = hit {
                out.push_str(&s[last..start]);
                out.push_str(&self.known[k].mark);
                last = i;
            }
        }
        if last == 0 {
            return None;
        }
        out.push_str(&s[last..]);
        Some(out)
    }
}

/// The exact forms of a value: itself, and how a JSON string holds it (escaped,
/// with `\/`, with `\uXXXX` for non-ASCII).
fn forms(value: &str) -> Vec<String> {
    let mut out = vec![value.to_string()];
    let json = serde_json::to_string(value).unwrap_or_default();
    let json = json
        .strip_prefix('"')
        .and_then(|j| j.strip_suffix('"'))
        .unwrap_or(&json);
    for f in [
        json.to_string(),
        json.replace('/', "\\/"),
        ascii_json(json),
        ascii_json(json).replace('/', "\\/"),
    ] {
        if !out.contains(&f) {
            out.push(f);
        }
    }
    out
}

/// A JSON-escaped string with every non-ASCII character as `\uXXXX` (surrogate
/// pairs beyond the BMP), the way `ensure_ascii` encoders write it.
fn ascii_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for u in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn b64_val(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    }
}

/// Decode base64 leniently (either alphabet; stops at `=`; trailing bits dropped).
fn b64_decode(chars: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(chars.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in chars {
        let Some(v) = b64_val(c) else { break };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r() -> Redactor {
        Redactor::new([
            ("TOKEN", "s3cr/et \"v\"é"),
            ("SHORT", "abc"),
            ("PW", "hunter2!"),
        ])
    }

    const T: &str = "secret(\"TOKEN\")";
    const P: &str = "secret(\"PW\")";

    #[test]
    fn plain_and_json_forms() {
        let r = r();
        assert_eq!(r.redact("x s3cr/et \"v\"é y"), format!("x {T} y"));
        assert_eq!(
            r.redact(r#"{"k":"s3cr/et \"v\"é"}"#),
            format!(r#"{{"k":"{T}"}}"#)
        );
        assert_eq!(r.redact(r#""s3cr\/et \"v\"\u00e9""#), format!("\"{T}\""));
        // Too short to redact.
        assert_eq!(r.redact("abc"), "abc");
        assert!(matches!(r.redact("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn percent_encoded_forms() {
        let r = r();
        for enc in [
            "s3cr%2Fet%20%22v%22%C3%A9",
            "s3cr%2fet+%22v%22%c3%a9",
            "s3cr/et%20\"v\"%C3%A9",
        ] {
            assert_eq!(
                r.redact(&format!("?q={enc}&x=1")),
                format!("?q={T}&x=1"),
                "{enc}"
            );
        }
        assert_eq!(r.redact("pw=hunter2%21"), format!("pw={P}"));
    }

    #[test]
    fn base64_forms_at_any_alignment() {
        let r = r();
        let b64 = |s: &str| {
            // A tiny standard encoder for the test.
            const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let b = s.as_bytes();
            let mut out = String::new();
            for c in b.chunks(3) {
                let n = (c[0] as u32) << 16
                    | (*c.get(1).unwrap_or(&0) as u32) << 8
                    | *c.get(2).unwrap_or(&0) as u32;
                for i in 0..4 {
                    if i <= c.len() {
                        out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
                    } else {
                        out.push('=');
                    }
                }
            }
            out
        };
        for user in ["", "u:", "us:", "use:"] {
            let header = format!("Basic {}", b64(&format!("{user}hunter2!")));
            assert_eq!(r.redact(&header), format!("Basic {P}"), "{user}");
        }
        let url_safe = b64("ab:hunter2!?>").replace('+', "-").replace('/', "_");
        assert_eq!(r.redact(&url_safe), P);
        // A word that does not hold it stays.
        assert_eq!(r.redact("aGVsbG8gd29ybGQ="), "aGVsbG8gd29ybGQ=");
    }

    #[test]
    fn json_values_and_keys() {
        let r = r();
        let mut v = serde_json::json!({"hunter2!": ["a hunter2! b", 1, {"x": "hunter2!"}]});
        r.redact_json(&mut v);
        assert_eq!(v, serde_json::json!({P: [format!("a {P} b"), 1, {"x": P}]}));
        assert_eq!(r.find("xx hunter2! yy"), Some("PW"));
        assert_eq!(r.find("nothing"), None);
    }

    #[test]
    fn longer_values_first() {
        let r = Redactor::new([("A", "abcd"), ("B", "abcdef")]);
        assert_eq!(r.redact("abcdef abcd"), "secret(\"B\") secret(\"A\")");
    }
}
