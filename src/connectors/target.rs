//! Connector targets: the outside service a commit or an LLM call reaches, named
//! one way everywhere (circuit breakers, rate limits, `aios status`, `aios show`,
//! config tables): `KIND:NAME`. One type, one parser, one `Display`.
//!
//! | kind | name | example |
//! |---|---|---|
//! | `http` | the URL's host, with `:PORT` when the URL names a port | `http:api.example.com`, `http:127.0.0.1:8080` |
//! | `smtp` | the account (`[smtp.NAME]`; `default` for `[smtp]`) | `smtp:default` |
//! | `mcp` | the tool server (`[mcp.NAME]`) | `mcp:everything` |
//! | `llm` | the provider (`[providers.NAME]`) | `llm:openai` |
//!
//! A connector says which target an action reaches ([`super::Connector::target`]);
//! shell and file steps reach none. The scheme's default port (80, 443) is no port
//! of its own: `http:example.com:443` is read as `http:example.com`.
//!
//! `[rate]` keys written before targets were one vocabulary name an HTTP host bare
//! (`"api.example.com"`, `"127.0.0.1:8080"`); [`Target::parse_or_host`] still reads
//! them, and turns journaled under those names are shown under the new ones.

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
    /// names one other than 80 or 443. `None` when the URL does not parse or has no host.
    pub fn of_url(url: &str) -> Option<Target> {
        let u = reqwest::Url::parse(url).ok()?;
        let host = u.host_str()?.to_ascii_lowercase();
        Some(match u.port() {
            Some(80 | 443) | None => Target::new(TargetKind::Http, host),
            Some(p) => Target::new(TargetKind::Http, format!("{host}:{p}")),
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
            TargetKind::Http => http_name(name).ok_or_else(|| {
                format!("`{s}` does not name a host: write http:HOST or http:HOST:PORT (no scheme, path or wildcard)")
            })?,
            _ => name.to_string(),
        };
        Ok(Target { kind, name })
    }

    /// Read `KIND:NAME`, or a bare HTTP host (`api.example.com`, `127.0.0.1:8080`) as
    /// `[rate]` keys were written before: both name the same target.
    pub fn parse_or_host(s: &str) -> Result<Target, String> {
        match s.split_once(':') {
            Some((kind, _)) if TargetKind::parse(kind).is_some() => Target::parse(s),
            _ => Target::parse(&format!("http:{s}")),
        }
    }

    /// How a target name journaled by any version reads now: `api.example.com`
    /// (a turn taken under an old `[rate]` key) is `http:api.example.com`. A name
    /// that does not parse is shown as it was written.
    pub fn display_name(journaled: &str) -> String {
        Target::parse_or_host(journaled)
            .map(|t| t.to_string())
            .unwrap_or_else(|_| journaled.to_string())
    }

    /// The host of an HTTP target (its name without `:PORT`); `None` for the other
    /// kinds and for a host without a port.
    pub fn http_host(&self) -> Option<&str> {
        if self.kind != TargetKind::Http {
            return None;
        }
        let (host, port) = self.name.rsplit_once(':')?;
        (port.bytes().all(|b| b.is_ascii_digit()) && !host.is_empty() && !host.ends_with(':'))
            .then_some(host)
    }
}

/// An HTTP target's name: `host` or `host:port` in lower case, the scheme's default
/// ports dropped; `None` when `name` is not that.
fn http_name(name: &str) -> Option<String> {
    if name.contains(['*', '/', '@', '?', '#']) {
        return None;
    }
    let url = reqwest::Url::parse(&format!("http://{name}/")).ok()?;
    let host = url.host_str()?;
    let norm = match url.port() {
        Some(443) | None => host.to_string(), // 80 is http's own: `port()` hides it
        Some(p) => format!("{host}:{p}"),
    };
    // Anything the URL parser dropped or rewrote (besides case and a default port)
    // was not a host.
    let lower = name.to_ascii_lowercase();
    let written = lower
        .strip_suffix(":80")
        .or_else(|| lower.strip_suffix(":443"))
        .unwrap_or(&lower);
    (norm == written).then_some(norm)
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
        // The scheme's own port is no port of its own, nor is the other scheme's.
        assert_eq!(
            t("https://example.com:443/").as_deref(),
            Some("http:example.com")
        );
        assert_eq!(
            t("http://example.com:443/").as_deref(),
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
        for bad in [
            "http:*.example.com",
            "http:x.test/path",
            "http:a@b",
            "http:",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
        // Default ports are no ports of their own; hosts are lower case.
        assert_eq!(
            Target::parse("http:API.example.com:443")
                .unwrap()
                .to_string(),
            "http:api.example.com"
        );
        assert_eq!(
            Target::parse("http:[::1]:80").unwrap().to_string(),
            "http:[::1]"
        );
    }

    #[test]
    fn bare_hosts_are_http_targets_as_old_rate_keys_wrote_them() {
        let t = |s: &str| Target::parse_or_host(s).map(|t| t.to_string());
        assert_eq!(t("api.example.com").unwrap(), "http:api.example.com");
        assert_eq!(t("127.0.0.1:8080").unwrap(), "http:127.0.0.1:8080");
        assert_eq!(t("[::1]:80").unwrap(), "http:[::1]");
        assert_eq!(t("mcp:github").unwrap(), "mcp:github");
        assert_eq!(t("http:x.test").unwrap(), "http:x.test");
        assert!(t("*.example.com").is_err());
        assert!(t("a b").is_err());
        assert_eq!(
            Target::display_name("api.example.com"),
            "http:api.example.com"
        );
        assert_eq!(Target::display_name("smtp:work"), "smtp:work");
        assert_eq!(Target::display_name("not a target"), "not a target");
        let host = |s: &str| {
            Target::parse_or_host(s)
                .unwrap()
                .http_host()
                .map(String::from)
        };
        assert_eq!(host("x.test:8080").as_deref(), Some("x.test"));
        assert_eq!(host("[::1]:8080").as_deref(), Some("[::1]"));
        assert_eq!(host("[::1]"), None);
        assert_eq!(host("x.test"), None);
        assert_eq!(host("mcp:a"), None);
    }
}
