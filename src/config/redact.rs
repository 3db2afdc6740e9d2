//! What `aios config show` prints: the configuration with its secrets hidden.
//! A `secret("NAME")` value is a name and stays; a literal value under a key that
//! looks like a secret (`password`, `token`, `api_key`, `secret`, `authorization`,
//! any case, anywhere in the key) is shown as `••••`. Names of variables
//! (`api_key_env`) are not secrets.

use toml::Value;

/// What a hidden value is shown as.
pub const HIDDEN: &str = "••••";

const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "token",
    "api_key",
    "apikey",
    "secret",
    "authorization",
    "private_key",
];

/// Whether a key's value would be a secret.
pub fn looks_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase().replace('-', "_");
    !k.ends_with("_env") && SECRET_WORDS.iter().any(|w| k.contains(w))
}

/// Whether `s` is only `secret("NAME")` placeholders (and text around them that
/// holds no secret word of its own, like `Bearer secret("T")`).
fn is_reference(s: &str) -> bool {
    s.contains("secret(\"") && {
        // Remove each placeholder; what is left must be short glue, not a value.
        let mut rest = s.to_string();
        while let Some(i) = rest.find("secret(\"") {
            match rest[i..].find("\")") {
                Some(j) => rest.replace_range(i..i + j + 2, ""),
                None => return false,
            }
        }
        rest.trim().len() <= 8 && !rest.chars().any(|c| c.is_ascii_digit())
    }
}

/// `table` with every literal secret replaced by [`HIDDEN`].
pub fn redact(table: &toml::Table) -> toml::Table {
    table
        .iter()
        .map(|(k, v)| (k.clone(), value(v, looks_secret(k))))
        .collect()
}

fn value(v: &Value, secret: bool) -> Value {
    match v {
        Value::Table(t) => Value::Table(
            t.iter()
                .map(|(k, v)| (k.clone(), value(v, secret || looks_secret(k))))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| value(x, secret)).collect()),
        Value::String(s) if secret && !is_reference(s) => Value::String(HIDDEN.into()),
        Value::Integer(_) | Value::Float(_) if secret => Value::String(HIDDEN.into()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_secrets_are_hidden_and_names_stay() {
        let t: toml::Table = toml::from_str(
            r#"
[smtp]
host = "smtp.example.com"
password = 'secret("SMTP_PASSWORD")'
[notify.phone]
token = "tk_live_123"
[providers.openai]
api_key_env = "OPENAI_API_KEY"
api_key = "sk-abc"
[mcp.gh]
env = { GITHUB_TOKEN = "ghp_x", LOG = "info", API_TOKEN = 'secret("T")' }
headers = { Authorization = "Bearer abc", X = 'Bearer secret("H")' }
"#,
        )
        .unwrap();
        let r = toml::to_string(&redact(&t)).unwrap();
        for leak in ["tk_live_123", "sk-abc", "ghp_x", "Bearer abc"] {
            assert!(!r.contains(leak), "{leak} in\n{r}");
        }
        let red = redact(&t);
        assert_eq!(
            red["smtp"]["password"].as_str(),
            Some("secret(\"SMTP_PASSWORD\")")
        );
        assert_eq!(red["smtp"]["host"].as_str(), Some("smtp.example.com"));
        assert_eq!(
            red["providers"]["openai"]["api_key_env"].as_str(),
            Some("OPENAI_API_KEY")
        );
        assert_eq!(red["providers"]["openai"]["api_key"].as_str(), Some(HIDDEN));
        assert_eq!(red["mcp"]["gh"]["env"]["LOG"].as_str(), Some("info"));
        assert_eq!(
            red["mcp"]["gh"]["env"]["API_TOKEN"].as_str(),
            Some("secret(\"T\")")
        );
        assert_eq!(
            red["mcp"]["gh"]["headers"]["X"].as_str(),
            Some("Bearer secret(\"H\")")
        );
        assert_eq!(r.matches(HIDDEN).count(), 4, "{r}");
    }

    #[test]
    fn a_placeholder_does_not_cover_a_literal() {
        assert!(!is_reference("secret(\"A\") and sk-1234567890"));
        assert!(is_reference("Bearer secret(\"A\")"));
    }
}
