//! Placeholders: how a secret is named inside text until it is committed.
//!
//! A rendered action is *sealed text*: its strings may hold placeholders
//! `secret("NAME")`, which [`resolve`] replaces by the secret's value in memory at
//! commit time. Everything else in sealed text is literal, so text that merely looks
//! like a placeholder (a webhook's body, an HTTP response, a step's output) must not
//! become one: [`escape`] turns `secret("…` in such text into `secret\("…` (one more
//! backslash before the parenthesis for every run of them), and [`resolve`] takes one
//! back out. Only the template function `secret("NAME")` (and secret inputs) make real
//! placeholders, through a [`sentinel`] that carries a random per-process nonce data
//! cannot guess; [`seal`] turns a rendered template's sentinels into placeholders.

use std::borrow::Cow;
use std::sync::OnceLock;

use super::name::valid_name;

/// The text every placeholder starts with.
const OPEN: &str = "secret(\"";
/// The text every placeholder ends with.
const CLOSE: &str = "\")";
/// Where a run's secret inputs are named: `inputs.NAME`.
pub const INPUT_PREFIX: &str = "inputs.";

/// A reference to a secret by name: `secret("NAME")` in text, the name alone here.
/// A run's secret input is named `inputs.NAME`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SecretRef {
    name: String,
}

impl SecretRef {
    /// A reference to `name` (a store name like `STRIPE_KEY`, or `inputs.NAME`).
    pub fn new(name: &str) -> Result<SecretRef, String> {
        if valid_ref_name(name) {
            Ok(SecretRef { name: name.into() })
        } else {
            Err(format!(
                "`{name}` is not a secret name: names are letters, digits and `_`, starting with a letter or `_`"
            ))
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The secret input this names (`inputs.NAME` -> `NAME`), if it is one.
    pub fn input(&self) -> Option<&str> {
        self.name.strip_prefix(INPUT_PREFIX)
    }

    /// How the reference is written in text: `secret("NAME")`.
    pub fn placeholder(&self) -> String {
        placeholder(&self.name)
    }

    /// A configuration value that is exactly one placeholder (`password =
    /// 'secret("SMTP_PASSWORD")'`, surrounding blanks allowed) names that secret;
    /// anything else is a literal value (`None`). A value that starts like one but is
    /// not well formed is an error, so a typo is not taken for a password.
    pub fn parse_config(value: &str) -> Result<Option<SecretRef>, String> {
        let t = value.trim();
        let Some(rest) = t.strip_prefix("secret(") else {
            return Ok(None);
        };
        let inner = rest.strip_suffix(')').map(str::trim);
        let name = inner.and_then(|i| {
            i.strip_prefix('"')
                .and_then(|i| i.strip_suffix('"'))
                .or_else(|| i.strip_prefix('\'').and_then(|i| i.strip_suffix('\'')))
        });
        match name {
            Some(n) if valid_name(n) => Ok(Some(SecretRef { name: n.into() })),
            _ => Err(format!(
                "`{t}` is not a secret reference: write secret(\"NAME\") with a name of letters, digits and `_`"
            )),
        }
    }
}

impl std::fmt::Display for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.placeholder())
    }
}

/// `secret("NAME")`.
pub fn placeholder(name: &str) -> String {
    format!("{OPEN}{name}{CLOSE}")
}

fn valid_ref_name(name: &str) -> bool {
    valid_name(name.strip_prefix(INPUT_PREFIX).unwrap_or(name))
}

/// One piece of sealed text.
enum Piece<'a> {
    /// Literal text.
    Text(&'a str),
    /// `secret` followed by `n` >= 1 backslashes and `("`: literal `secret`, n - 1
    /// backslashes and `("`.
    Escaped(usize),
    /// A placeholder.
    Ref(&'a str),
}

/// Split sealed text into literal runs, escapes and placeholders.
fn pieces(sealed: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = sealed;
    let mut lit_start = 0usize;
    let bytes = sealed.as_bytes();
    let mut i = 0usize;
    while let Some(off) = rest.find("secret") {
        let at = i + off;
        let after = at + "secret".len();
        let mut j = after;
        while j < bytes.len() && bytes[j] == b'\\' {
            j += 1;
        }
        let slashes = j - after;
        if sealed[j..].starts_with("(\"") {
            if slashes > 0 {
                out.push(Piece::Text(&sealed[lit_start..at]));
                out.push(Piece::Escaped(slashes));
                lit_start = j + 2;
                i = lit_start;
                rest = &sealed[i..];
                continue;
            }
            let name_start = j + 2;
            if let Some(end) = sealed[name_start..].find(CLOSE) {
                let name = &sealed[name_start..name_start + end];
                if valid_ref_name(name) {
                    out.push(Piece::Text(&sealed[lit_start..at]));
                    out.push(Piece::Ref(name));
                    lit_start = name_start + end + CLOSE.len();
                    i = lit_start;
                    rest = &sealed[i..];
                    continue;
                }
            }
        }
        i = after;
        rest = &sealed[i..];
    }
    out.push(Piece::Text(&sealed[lit_start..]));
    out
}

/// Whether `s` could hold a placeholder or an escape (the fast path of every
/// function here).
fn may_hold(s: &str) -> bool {
    s.contains("secret")
}

/// Turn text into sealed text that means exactly this text: every `secret` followed
/// by backslashes (or none) and `("` gets one more backslash.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !may_hold(text) {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 8);
    let mut last = 0usize;
    let mut from = 0usize;
    while let Some(off) = text[from..].find("secret") {
        let after = from + off + "secret".len();
        let mut j = after;
        while j < bytes.len() && bytes[j] == b'\\' {
            j += 1;
        }
        if text[j..].starts_with("(\"") {
            out.push_str(&text[last..after]);
            out.push('\\');
            last = after;
        }
        from = after;
    }
    if last == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[last..]);
    Cow::Owned(out)
}

/// The placeholders in sealed text, in order (repeats included).
pub fn refs(sealed: &str) -> Vec<SecretRef> {
    if !may_hold(sealed) {
        return Vec::new();
    }
    pieces(sealed)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Ref(n) => Some(SecretRef { name: n.into() }),
            _ => None,
        })
        .collect()
}

/// Sealed text with its placeholders replaced by what `value` says (the secret's
/// value, at commit) and its escapes taken back out. The first error stops it.
pub fn resolve<E>(
    sealed: &str,
    mut value: impl FnMut(&SecretRef) -> Result<String, E>,
) -> Result<String, E> {
    if !may_hold(sealed) {
        return Ok(sealed.to_string());
    }
    let mut out = String::with_capacity(sealed.len());
    for p in pieces(sealed) {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Escaped(n) => {
                out.push_str("secret");
                out.extend(std::iter::repeat_n('\\', n - 1));
                out.push_str("(\"");
            }
            Piece::Ref(n) => out.push_str(&value(&SecretRef { name: n.into() })?),
        }
    }
    Ok(out)
}

/// A template that renders to `sealed` again: its text kept literal (in a raw block
/// when it holds template syntax), its placeholders as `{{ secret("NAME") }}`. Used
/// to write a rendered action back as a workflow step (a compensation run).
pub fn as_template(sealed: &str) -> String {
    let literal = |t: &str, out: &mut String| {
        if t.contains("{{") || t.contains("{%") || t.contains("{#") {
            out.push_str("{% raw %}");
            out.push_str(t);
            out.push_str("{% endraw %}");
        } else {
            out.push_str(t);
        }
    };
    if !may_hold(sealed) {
        let mut out = String::new();
        literal(sealed, &mut out);
        return out;
    }
    let mut out = String::with_capacity(sealed.len());
    for p in pieces(sealed) {
        match p {
            Piece::Text(t) => literal(t, &mut out),
            Piece::Escaped(n) => {
                out.push_str("secret");
                out.extend(std::iter::repeat_n('\\', n - 1));
                out.push_str("(\"");
            }
            Piece::Ref(n) => out.push_str(&format!("{{{{ secret(\"{n}\") }}}}")),
        }
    }
    out
}

/// Sealed text as plain text (escapes taken out, placeholders kept as written):
/// what a person reads.
pub fn unescape(sealed: &str) -> Cow<'_, str> {
    if !may_hold(sealed) {
        return Cow::Borrowed(sealed);
    }
    match resolve::<std::convert::Infallible>(sealed, |r| Ok(r.placeholder())) {
        Ok(s) => Cow::Owned(s),
        Err(never) => match never {},
    }
}

/// The nonce of this process's sentinels: 16 random hex digits, never written
/// anywhere (rendered text holds placeholders instead).
fn nonce() -> &'static str {
    static NONCE: OnceLock<String> = OnceLock::new();
    NONCE.get_or_init(|| {
        let mut buf = [0u8; 8];
        if getrandom::fill(&mut buf).is_err() {
            // No OS randomness: fall back on what differs between processes.
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            buf = ((t as u64) ^ ((std::process::id() as u64) << 32)).to_le_bytes();
        }
        hex::encode(buf)
    })
}

const S_OPEN: char = '\u{E000}';
const S_MID: char = '\u{E001}';
const S_CLOSE: char = '\u{E002}';

/// What the template function `secret("NAME")` (and a secret input) evaluates to:
/// a marker that [`seal`] turns into a placeholder. Text from outside cannot forge
/// one: it carries this process's random nonce.
pub fn sentinel(name: &str) -> String {
    format!("{S_OPEN}{}{S_MID}{name}{S_CLOSE}", nonce())
}

/// Why a rendered template could not be sealed.
pub const MANGLED: &str = "a secret can only be inserted as it is, like {{ secret(\"NAME\") }} or {{ inputs.NAME }}: filters and string operations cannot see its value";

/// Replace the sentinels of rendered text, with `wrap` applied to the text between
/// them. `Err` when a sentinel was taken apart (a filter ran on it).
fn replace_sentinels<'a>(
    raw: &'a str,
    wrap: impl for<'b> Fn(&'b str) -> Cow<'b, str>,
) -> Result<Cow<'a, str>, String> {
    let n = nonce();
    let head = format!("{S_OPEN}{n}{S_MID}");
    if !raw.contains(S_OPEN) && !taken_apart(raw, n) {
        return Ok(wrap(raw));
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find(&head) {
        out.push_str(&wrap(&rest[..at]));
        let after = &rest[at + head.len()..];
        let Some(end) = after.find(S_CLOSE) else {
            return Err(MANGLED.into());
        };
        let name = &after[..end];
        if !valid_ref_name(name) {
            return Err(MANGLED.into());
        }
        out.push_str(&placeholder(name));
        rest = &after[end + S_CLOSE.len_utf8()..];
    }
    out.push_str(&wrap(rest));
    if taken_apart(&out, n) {
        return Err(MANGLED.into());
    }
    Ok(Cow::Owned(out))
}

/// Whether `s` holds the nonce, in lower or upper case (a case filter ran on it;
/// mixed case still leaves the opening mark before a hex digit).
fn contains_nonce(s: &str, n: &str) -> bool {
    s.len() >= n.len() && (s.contains(n) || s.contains(nonce_upper()))
}

fn nonce_upper() -> &'static str {
    static UPPER: OnceLock<String> = OnceLock::new();
    UPPER.get_or_init(|| nonce().to_ascii_uppercase())
}

/// Whether the remains of a sentinel are left in `s`: its nonce, its inner marks,
/// or its opening mark before a hex digit (a cut one).
fn taken_apart(s: &str, n: &str) -> bool {
    contains_nonce(s, n)
        || s.contains(S_MID)
        || s.contains(S_CLOSE)
        || s.match_indices(S_OPEN).any(|(i, _)| {
            s[i + S_OPEN.len_utf8()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_hexdigit())
        })
}

/// A rendered template as sealed text (for an action): its text escaped, its
/// sentinels turned into placeholders.
pub fn seal(raw: &str) -> Result<String, String> {
    replace_sentinels(raw, escape).map(Cow::into_owned)
}

/// A rendered template as plain text (for anything but an action: a `set` value, a
/// gate's title): sentinels become the text `secret("NAME")`, which names the secret
/// and holds nothing of it.
pub fn plain(raw: &str) -> Result<String, String> {
    replace_sentinels(raw, |s| Cow::Borrowed(s)).map(Cow::into_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(r: &SecretRef) -> Result<String, String> {
        match r.name() {
            "TOKEN" => Ok("t0k".into()),
            "inputs.pw" => Ok("pw!".into()),
            other => Err(format!("no {other}")),
        }
    }

    #[test]
    fn placeholders_resolve_and_text_stays() {
        let s = "Bearer secret(\"TOKEN\") and secret(\"inputs.pw\")";
        assert_eq!(resolve(s, lookup).unwrap(), "Bearer t0k and pw!");
        assert_eq!(
            refs(s).iter().map(SecretRef::name).collect::<Vec<_>>(),
            ["TOKEN", "inputs.pw"]
        );
        assert_eq!(resolve("no secrets", lookup).unwrap(), "no secrets");
        assert_eq!(resolve("secret(\"NOPE\")", lookup).unwrap_err(), "no NOPE");
        // Not a placeholder: stays literal.
        for lit in [
            "secret(\"a b\")",
            "secret('TOKEN')",
            "secret(\"TOKEN\"",
            "secret",
        ] {
            assert_eq!(resolve(lit, lookup).unwrap(), lit);
            assert!(refs(lit).is_empty(), "{lit}");
        }
    }

    /// Whatever text data holds, escaping it and resolving gives it back, and it
    /// never names a secret.
    #[test]
    fn escaped_text_round_trips() {
        for text in [
            "secret(\"TOKEN\")",
            "secret\\(\"TOKEN\")",
            "secret\\\\(\"TOKEN\")",
            "xsecret(\"TOKEN\")secret(\"inputs.pw\")",
            "secretsecret(\"TOKEN\")",
            "plain",
            "secret(",
            "",
        ] {
            let sealed = escape(text);
            assert!(refs(&sealed).is_empty(), "{text} -> {sealed}");
            assert_eq!(
                resolve(&sealed, |_| Err::<String, _>("none")).unwrap(),
                text
            );
            assert_eq!(unescape(&sealed), text);
        }
        assert_eq!(escape("secret(\"X\")"), "secret\\(\"X\")");
    }

    #[test]
    fn sentinels_seal_into_placeholders() {
        let raw = format!("a {} b secret(\"TOKEN\")", sentinel("TOKEN"));
        let sealed = seal(&raw).unwrap();
        assert_eq!(sealed, "a secret(\"TOKEN\") b secret\\(\"TOKEN\")");
        assert_eq!(refs(&sealed).len(), 1);
        assert_eq!(
            plain(&raw).unwrap(),
            "a secret(\"TOKEN\") b secret(\"TOKEN\")"
        );
        // A filter took the sentinel apart.
        let upper = sentinel("TOKEN").to_uppercase();
        assert_eq!(seal(&upper).unwrap_err(), MANGLED);
        let cut = &sentinel("TOKEN")[..10];
        assert_eq!(seal(cut).unwrap_err(), MANGLED);
        // A sentinel of another process is refused, not taken for a placeholder.
        let other = "\u{E000}0000000000000000\u{E001}TOKEN\u{E002}";
        assert_eq!(seal(other).unwrap_err(), MANGLED);
        assert_eq!(
            seal("\u{E000} private use").unwrap(),
            "\u{E000} private use"
        );
    }

    #[test]
    fn config_values() {
        let r = SecretRef::parse_config(" secret(\"SMTP_PASSWORD\") ").unwrap();
        assert_eq!(r.unwrap().name(), "SMTP_PASSWORD");
        assert_eq!(
            SecretRef::parse_config("secret('X')")
                .unwrap()
                .unwrap()
                .name(),
            "X"
        );
        assert_eq!(SecretRef::parse_config("hunter2").unwrap(), None);
        assert!(SecretRef::parse_config("secret(X)").is_err());
        assert!(SecretRef::parse_config("secret(\"a-b\")").is_err());
        assert!(SecretRef::new("inputs.pw").is_ok());
        assert!(SecretRef::new("1X").is_err());
    }
}
