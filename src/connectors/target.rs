//! Connector targets: the outside service a commit or an LLM call reaches, named
//! one way everywhere (circuit breakers, `aios status`, config tables, and rate
//! limits): `KIND:NAME`.
//!
//! | kind | name | example |
//! |---|---|---|
//! | `http` | the URL's host, with `:PORT` when the URL names a port | `http:api.example.com`, `http:127.0.0.1:8080` |
//! | `smtp` | the account (`[smtp.NAME]`; `default` for `[smtp]`) | `smtp:default` |
//! | `mcp` | the tool server (`[mcp.NAME]`) | `mcp:everything` |
//! | `llm` | the provider (`[providers.NAME]`) | `llm:openai` |
//!
//! A connector says which target an action reaches ([`super::Connector::target`]);
//! shell and file steps reach none.

use std::fmt;

/// Which kind of service a target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TargetKind {
    Http,
    Smtp,
    Mcp,
    Llm,
}

impl TargetKind {
    pub const ALL: &'static [TargetKind] = &[
        TargetKind::Http,
        TargetKind::Smtp,
        TargetKind::Mcp,
        TargetKind::Llm,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Http => "http",
            TargetKind::Smtp => "smtp",
            TargetKind::Mcp => "mcp",
            TargetKind::Llm => "llm",
        }
    }

    pub fn parse(s: &str) -> Option<TargetKind> {
        TargetKind::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

/// One outside service, as `KIND:NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    pub kind: TargetKind,
    pub name: String,
}

impl Target {
    pub fn new(kind: TargetKind, name: impl Into<String>) -> Target {
        Target {
            kind,
            name: name.into(),
        }
    }

    /// The target of an HTTP request to `url`: its host, and `:PORT` when the URL
    /// names one. `None` when the URL does not parse or has no host.
    pub fn of_url(url: &str) -> Option<Target> {
        let u = reqwest::Url::parse(url).ok()?;
        let host = u.host_str()?.to_ascii_lowercase();
        Some(match u.port() {
            Some(p) => Target::new(TargetKind::Http, format!("{host}:{p}")),
            None => Target::new(TargetKind::Http, host),
        })
    }

    /// Read `KIND:NAME` (as written in config tables and on the command line).
    pub fn parse(s: &str) -> Result<Target, String> {
        let (kind, name) = s.split_once(':').ok_or_else(|| {
            format!("`{s}` is not a target: write KIND:NAME (http:api.example.com, smtp:ACCOUNT, mcp:SERVER, llm:PROVIDER)")
        })?;
        let kind = TargetKind::parse(kind).ok_or_else(|| {
            format!("`{kind}` is not a kind of target: use http, smtp, mcp or llm (as in http:api.example.com)")
        })?;
        if name.trim().is_empty() || name.chars().any(char::is_whitespace) {
            return Err(format!("`{s}` has no name after `{}:`", kind.as_str()));
        }
        let name = match kind {
            TargetKind::Http => name.to_ascii_lowercase(),
            _ => name.to_string(),
        };
        Ok(Target { kind, name })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_host_and_explicit_port() {
        let t = |u: &str| Target::of_url(u).map(|t| t.to_string());
        assert_eq!(
            t("https://API.example.com/v1/x?y=1").as_deref(),
            Some("http:api.example.com")
        );
        assert_eq!(
            t("http://127.0.0.1:8080/hook").as_deref(),
            Some("http:127.0.0.1:8080")
        );
        // The scheme's own port is no port of its own.
        assert_eq!(
            t("https://example.com:443/").as_deref(),
            Some("http:example.com")
        );
        assert_eq!(t("not a url"), None);
    }

    #[test]
    fn targets_parse_and_print_the_same() {
        for s in [
            "http:api.example.com",
            "smtp:default",
            "mcp:time",
            "llm:openai",
        ] {
            assert_eq!(Target::parse(s).unwrap().to_string(), s);
        }
        assert!(
            Target::parse("api.example.com")
                .unwrap_err()
                .contains("KIND:NAME")
        );
        assert!(
            Target::parse("ftp:x")
                .unwrap_err()
                .contains("http, smtp, mcp or llm")
        );
        assert!(Target::parse("mcp:").is_err());
    }
}
