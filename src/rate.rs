//! Rate limits per connector target: how many commits (or LLM calls) a target
//! takes in a window, across runs and processes.
//!
//! This module owns a [`Rate`] (`"10/m"`) and the configured [`RateLimits`], by
//! [`Target`] (what an action or call goes to: an HTTP host, a tool server, an LLM
//! provider, an SMTP account; the one vocabulary circuit breakers use too) (the `[rate]` table of config.toml,
//! and `rate = "…"` on `[providers.NAME]` and `[mcp.NAME]`). The turns themselves
//! are given out by the journal ([`crate::journal::Journal::take_turn`]), so every
//! process using one journal shares them; the engine's driver asks for a turn before
//! a commit or a call and holds the step until it comes.
//!
//! A connector states its target in [`crate::connectors::Connector::target`]:
//! an email connector returns `smtp:ACCOUNT`.

use std::collections::BTreeMap;
use std::time::Duration;

use toml::Value;

use crate::config::ConfigFile;
use crate::connectors::Target;
use crate::error::{Error, Result};

/// At most `count` turns in any window of `per`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
    /// As written (`10/m`), for messages.
    text: String,
}

/// The hint shown with an invalid rate.
pub const RATE_HINT: &str =
    "write a number of calls per s, m, h or d, like \"10/m\", or per a duration, like \"5/10s\"";

impl Rate {
    /// Parse `COUNT/UNIT` (`10/m`, `1/s`, `100/h`, `1000/d`) or `COUNT/DURATION`
    /// (`5/10s`, `1/500ms`).
    pub fn parse(s: &str) -> std::result::Result<Rate, String> {
        let invalid = |why: &str| format!("`{s}` is not a rate: {why}");
        let (count, per) = s.split_once('/').ok_or_else(|| invalid("it has no `/`"))?;
        let count: u32 = count
            .trim()
            .parse()
            .map_err(|_| invalid("the count is not a whole number"))?;
        if count == 0 {
            return Err(invalid("the count must be at least 1"));
        }
        let per = per.trim();
        let per = if per.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
            crate::workflow::parse_duration(per)
        } else {
            crate::workflow::parse_duration(&format!("1{per}"))
        }
        .map_err(|_| invalid("the window is not a unit (s, m, h, d) or a duration"))?;
        if per.is_zero() {
            return Err(invalid("the window must be longer than 0"));
        }
        Ok(Rate {
            count,
            per,
            text: s.trim().to_string(),
        })
    }

    /// The window in milliseconds.
    pub fn per_ms(&self) -> i64 {
        i64::try_from(self.per.as_millis()).unwrap_or(i64::MAX)
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// The configured limits, by target (as [`Target`] prints it): `http:HOST` (every
/// port), `http:HOST:PORT` (one port), `mcp:NAME`, `llm:NAME`, `smtp:NAME`.
#[derive(Debug, Clone, Default)]
pub struct RateLimits {
    limits: BTreeMap<String, Rate>,
}

impl RateLimits {
    /// The limit a target is under, with its key: the most specific key declared.
    pub fn limit(&self, target: &Target) -> Option<(&str, &Rate)> {
        let exact = target.to_string();
        let host = target.http_host().map(|h| format!("http:{h}"));
        std::iter::once(exact)
            .chain(host)
            .find_map(|k| self.limits.get_key_value(&k))
            .map(|(k, r)| (k.as_str(), r))
    }

    pub fn is_empty(&self) -> bool {
        self.limits.is_empty()
    }

    /// Every limit, by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Rate)> {
        self.limits.iter().map(|(k, r)| (k.as_str(), r))
    }

    /// Add a limit from `where_` in `origin` (for messages); a key declared twice
    /// is an error naming both places. A config reader of another section (an
    /// SMTP account's `rate`) declares its limits here.
    pub fn declare(&mut self, key: &str, rate: Rate, origin: &str, where_: &str) -> Result<()> {
        let key = check_key(key).map_err(|(what, hint)| {
            Error::invalid(format!("{origin}: {where_}: `{key}` {what}")).with_hint(hint)
        })?;
        if let Some(old) = self.limits.get(&key) {
            return Err(Error::invalid(format!(
                "{origin}: {where_} limits `{key}` to {rate}, and it is already limited to {old}"
            ))
            .with_hint("declare each limit once: in [rate], or as `rate` on its [providers.NAME] or [mcp.NAME] table"));
        }
        self.limits.insert(key, rate);
        Ok(())
    }

    /// The limits of `cfg`: `[rate]`, and `rate` on `[providers.NAME]` and
    /// `[mcp.NAME]` tables.
    pub fn from_config(cfg: &ConfigFile) -> Result<RateLimits> {
        let origin = cfg.origin();
        let mut out = RateLimits::default();
        let rate_of = |where_: &str, v: &Value| -> Result<Rate> {
            let s = v.as_str().ok_or_else(|| {
                Error::invalid(format!("{origin}: {where_} must be a string like \"10/m\""))
                    .with_hint(RATE_HINT)
            })?;
            Rate::parse(s).map_err(|e| {
                Error::invalid(format!("{origin}: {where_}: {e}")).with_hint(RATE_HINT)
            })
        };
        if let Some(section) = cfg.section("rate") {
            let t = section.as_table().ok_or_else(|| {
                Error::invalid(format!("{origin}: [rate] must be a table of limits"))
                    .with_hint("write [rate] with lines like \"api.example.com\" = \"10/m\"")
            })?;
            for (k, v) in t {
                let where_ = format!("[rate] \"{k}\"");
                let rate = rate_of(&where_, v)?;
                out.declare(k, rate, &origin, &where_)?;
            }
        }
        for (section, prefix) in [("providers", "llm"), ("mcp", "mcp")] {
            let Some(t) = cfg.section(section).and_then(Value::as_table) else {
                continue;
            };
            for (name, v) in t {
                if let Some(r) = v.as_table().and_then(|t| t.get("rate")) {
                    let where_ = format!("{section}.{name}.rate");
                    let rate = rate_of(&where_, r)?;
                    out.declare(&format!("{prefix}:{name}"), rate, &origin, &where_)?;
                }
            }
        }
        Ok(out)
    }
}

/// A `[rate]` key as stored (the target it names, printed), or what is wrong with
/// it. A bare host (`api.example.com`, `127.0.0.1:8080`), as keys were written
/// before targets were one vocabulary, still names its `http:` target.
fn check_key(key: &str) -> std::result::Result<String, (String, String)> {
    let hint = "a key is a target: http:HOST (every port), http:HOST:PORT, mcp:NAME, llm:NAME or smtp:NAME";
    if key.contains('*') {
        return Err((
            "has a wildcard, which rate limits do not take".into(),
            format!("name each host: {hint}"),
        ));
    }
    Target::parse_or_host(key)
        .map(|t| t.to_string())
        .map_err(|e| (format!("does not name a target: {e}"), hint.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        let r = Rate::parse("10/m").unwrap();
        assert_eq!((r.count, r.per), (10, Duration::from_secs(60)));
        assert_eq!(r.to_string(), "10/m");
        assert_eq!(Rate::parse("1/s").unwrap().per, Duration::from_secs(1));
        assert_eq!(Rate::parse("5/10s").unwrap().per, Duration::from_secs(10));
        assert_eq!(
            Rate::parse("1/500ms").unwrap().per,
            Duration::from_millis(500)
        );
        assert_eq!(Rate::parse("1000/d").unwrap().per_ms(), 86_400_000);
        for bad in ["10", "0/m", "x/m", "10/fortnight", "10/0s", "-1/m"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn targets_find_their_most_specific_limit() {
        let mut l = RateLimits::default();
        l.declare("api.example.com", Rate::parse("10/m").unwrap(), "c", "w")
            .unwrap();
        l.declare(
            "API.example.com:8443",
            Rate::parse("1/s").unwrap(),
            "c",
            "w",
        )
        .unwrap();
        l.declare("mcp:github", Rate::parse("30/m").unwrap(), "c", "w")
            .unwrap();
        l.declare(
            "http:new.example.com",
            Rate::parse("2/s").unwrap(),
            "c",
            "w",
        )
        .unwrap();
        let get = |t: Target| l.limit(&t).map(|(k, r)| format!("{k} {r}"));
        let url = |u: &str| Target::of_url(u).unwrap();
        let named = |s: &str| Target::parse(s).unwrap();
        assert_eq!(
            get(url("https://api.example.com/v1?x=1")),
            Some("http:api.example.com 10/m".into())
        );
        assert_eq!(
            get(url("https://Api.Example.com:8443/v1")),
            Some("http:api.example.com:8443 1/s".into())
        );
        // Another port of the host falls back to the host's limit.
        assert_eq!(
            get(url("http://api.example.com:8080/")),
            Some("http:api.example.com 10/m".into())
        );
        assert_eq!(
            get(url("https://new.example.com/")),
            Some("http:new.example.com 2/s".into())
        );
        assert_eq!(get(url("https://other.example.com/")), None);
        assert_eq!(get(named("mcp:github")), Some("mcp:github 30/m".into()));
        assert_eq!(get(named("llm:github")), None);
        assert_eq!(get(named("smtp:work")), None);
    }

    #[test]
    fn keys_are_checked() {
        for good in [
            "api.example.com",
            "127.0.0.1:8080",
            "[::1]:80",
            "http:api.example.com",
            "http:127.0.0.1:8080",
            "smtp:work",
            "llm:local-1",
        ] {
            assert!(check_key(good).is_ok(), "{good}");
        }
        for bad in [
            "*.example.com",
            "mcp:",
            "llm:a b",
            "http://x.test/",
            "a b",
            "x.test/path",
        ] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }

    fn config(text: &str) -> ConfigFile {
        ConfigFile {
            path: None,
            source: text.into(),
            table: toml::from_str(text).unwrap(),
        }
    }

    #[test]
    fn limits_come_from_the_rate_table_and_server_tables() {
        let c = config(
            r#"
[rate]
"api.example.com" = "10/m"
"127.0.0.1:8443" = "1/s"
"http:new.example.com" = "5/s"
"smtp:work" = "20/h"
[providers.openai]
kind = "openai"
rate = "60/m"
[mcp.github]
command = ["gh-mcp"]
rate = "30/m"
"#,
        );
        let l = RateLimits::from_config(&c).unwrap();
        let all: Vec<String> = l.iter().map(|(k, r)| format!("{k}={r}")).collect();
        assert_eq!(
            all,
            [
                "http:127.0.0.1:8443=1/s",
                "http:api.example.com=10/m",
                "http:new.example.com=5/s",
                "llm:openai=60/m",
                "mcp:github=30/m",
                "smtp:work=20/h"
            ]
        );
    }

    #[test]
    fn a_limit_declared_twice_or_badly_is_refused() {
        let twice = config(
            "[rate]\n\"mcp:github\" = \"10/m\"\n[mcp.github]\ncommand = [\"x\"]\nrate = \"5/m\"\n",
        );
        let e = RateLimits::from_config(&twice).unwrap_err();
        assert!(
            e.message.contains("already limited to 10/m"),
            "{}",
            e.message
        );
        let bad = config("[rate]\n\"api.example.com\" = \"10 per minute\"\n");
        let e = RateLimits::from_config(&bad).unwrap_err();
        assert!(
            e.message
                .contains("[rate] \"api.example.com\": `10 per minute` is not a rate"),
            "{}",
            e.message
        );
        // The old and the new spelling of one host are one target.
        let both =
            config("[rate]\n\"api.example.com\" = \"10/m\"\n\"http:api.example.com\" = \"5/m\"\n");
        let e = RateLimits::from_config(&both).unwrap_err();
        assert!(
            e.message.contains("limits `http:api.example.com` to")
                && e.message.contains("already limited to"),
            "{}",
            e.message
        );
        let wild = config("[rate]\n\"*.example.com\" = \"10/m\"\n");
        let e = RateLimits::from_config(&wild).unwrap_err();
        assert!(e.message.contains("wildcard"), "{}", e.message);
    }
}
