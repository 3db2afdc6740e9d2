//! Finding `secret(...)` in a template's source without running it: the names a
//! step reads (checked against the store by `aios check`), uses that cannot be
//! checked (`secret` not called with one quoted name), and placeholder-shaped plain
//! text outside `{{ }}` (which stays text).

/// What a template says about secrets, found without running it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SecretScan {
    /// Names read with `secret("NAME")`, in order.
    pub names: Vec<String>,
    /// Uses that cannot be checked: `secret` not called with one quoted literal name.
    pub problems: Vec<String>,
    /// `secret("NAME")` written as plain text, outside `{{ }}` (it stays text).
    pub literals: Vec<String>,
}

/// Scan a template's source for `secret(...)`: in its tags (`{{ }}`, `{% %}`) every
/// use must be a call with one quoted name; outside them, text shaped like a
/// placeholder is noted (it is literal text, not a secret).
pub fn secret_uses(src: &str) -> SecretScan {
    let mut scan = SecretScan::default();
    if !src.contains("secret") {
        return scan;
    }
    let b = src.as_bytes();
    let mut i = 0;
    let mut text_start = 0;
    let mut raw = false;
    while i + 1 < b.len() {
        let open = &b[i..i + 2];
        let close: &[u8] = match open {
            b"{{" if !raw => b"}}",
            b"{%" => b"%}",
            b"{#" if !raw => b"#}",
            _ => {
                i += 1;
                continue;
            }
        };
        let Some(len) = find_close(&src[i + 2..], close) else {
            break;
        };
        let inner = &src[i + 2..i + 2 + len];
        let word = inner.trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
        if open == b"{%" {
            if word == "raw" && !raw {
                literal_placeholders(&src[text_start..i], &mut scan);
                raw = true;
                i += 2 + len + 2;
                text_start = i;
                continue;
            }
            if word == "endraw" && raw {
                raw = false;
                literal_placeholders(&src[text_start..i], &mut scan);
                i += 2 + len + 2;
                text_start = i;
                continue;
            }
        }
        if raw {
            i += 1;
            continue;
        }
        literal_placeholders(&src[text_start..i], &mut scan);
        if open != b"{#" {
            scan_expression(inner, &mut scan);
        }
        i += 2 + len + 2;
        text_start = i;
    }
    if text_start < src.len() {
        literal_placeholders(&src[text_start..], &mut scan);
    }
    scan
}

/// Where `close` ends a tag's inside, skipping quoted strings.
fn find_close(s: &str, close: &[u8]) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < b.len() {
        match quote {
            Some(q) => {
                if b[i] == b'\\' {
                    i += 1;
                } else if b[i] == q {
                    quote = None;
                }
            }
            None => {
                if b[i] == b'"' || b[i] == b'\'' {
                    quote = Some(b[i]);
                } else if b[i..].starts_with(close) {
                    return Some(i);
                }
            }
        }
        i += 1;
    }
    None
}

fn literal_placeholders(text: &str, scan: &mut SecretScan) {
    for r in super::placeholder::refs(text) {
        scan.literals.push(r.name().to_string());
    }
}

/// Find `secret` in an expression (outside string literals) and check its use.
fn scan_expression(e: &str, scan: &mut SecretScan) {
    let b = e.as_bytes();
    let mut i = 0;
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let skip_ws = |mut j: usize| {
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        j
    };
    while i < b.len() {
        let c = b[i];
        if c == b'"' || c == b'\'' {
            i += 1;
            while i < b.len() && b[i] != c {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            continue;
        }
        if !ident(c) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && ident(b[i]) {
            i += 1;
        }
        if &e[start..i] != "secret" {
            continue;
        }
        // An attribute (`x.secret`) is not the function.
        let before = e[..start].trim_end();
        if before.ends_with('.') {
            continue;
        }
        let bad = "`secret` takes the secret's name as one quoted literal: secret(\"NAME\")";
        let j = skip_ws(i);
        if j >= b.len() || b[j] != b'(' {
            scan.problems.push(bad.into());
            continue;
        }
        let k = skip_ws(j + 1);
        let q = b.get(k).copied();
        if !matches!(q, Some(b'"') | Some(b'\'')) {
            scan.problems.push(bad.into());
            continue;
        }
        let q = q.unwrap_or(b'"');
        let name_start = k + 1;
        let Some(len) = e[name_start..].find(q as char) else {
            scan.problems.push(bad.into());
            continue;
        };
        let name = &e[name_start..name_start + len];
        let after = skip_ws(name_start + len + 1);
        if after >= b.len() || b[after] != b')' {
            scan.problems.push(bad.into());
            continue;
        }
        if !super::valid_name(name) {
            scan.problems.push(format!(
                "`{name}` is not a secret name: {}",
                super::NAME_HINT
            ));
        } else {
            scan.names.push(name.to_string());
        }
        i = after + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_secret_uses() {
        let s = secret_uses("Bearer {{ secret(\"TOKEN\") }} {{- secret( 'B' ) -}}");
        assert_eq!(s.names, ["TOKEN", "B"]);
        assert!(s.problems.is_empty() && s.literals.is_empty());
        let s = secret_uses("{{ secret(inputs.x) }} {{ secret }} {{ secret('a-b') }}");
        assert_eq!(s.problems.len(), 3, "{s:?}");
        let s = secret_uses("plain secret(\"X\") {% raw %}{{ secret(y) }}{% endraw %}");
        assert_eq!(s.literals, ["X"]);
        assert!(s.problems.is_empty(), "{s:?}");
        // Inside a string literal or as an attribute it is not the function.
        let s = secret_uses("{{ \"secret(x)\" ~ steps.a.output.secret }}");
        assert_eq!(s, SecretScan::default());
    }
}
