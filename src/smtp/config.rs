//! `[smtp]` and `[smtp.NAME]` in config.toml, typed: the SMTP accounts email steps
//! and email notifications send through. Keys at the top of `[smtp]` are the account
//! named `default` (the one a step without `account` uses); each `[smtp.NAME]` table
//! is another account.
//!
//! A password is always `secret("NAME")`, resolved when a message is sent, never
//! stored or shown. `tls = "none"` and `tls_insecure_loopback` are refused for a host
//! that is not the machine itself: a password or a message never crosses a network
//! in clear or to an unverified server. Nothing here reads the process environment.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Value;

use crate::config::ConfigFile;
use crate::error::{Error, Result};
use crate::secrets::SecretRef;

/// How the connection to the server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// Plain connection upgraded with `STARTTLS` before anything else (port 587);
    /// a server that does not offer it is refused.
    StartTls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// No encryption: loopback hosts only (a local relay, a test server).
    None,
}

impl Tls {
    pub fn as_str(self) -> &'static str {
        match self {
            Tls::StartTls => "starttls",
            Tls::Implicit => "implicit",
            Tls::None => "none",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Tls::StartTls => 587,
            Tls::Implicit => 465,
            Tls::None => 25,
        }
    }
}

/// One SMTP account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// `default` for the keys of `[smtp]`, else the `NAME` of `[smtp.NAME]`.
    pub name: String,
    pub host: String,
    pub port: u16,
    pub tls: Tls,
    /// Who to log in as (`AUTH`); with `password`.
    pub user: Option<String>,
    /// The secret holding the password.
    pub password: Option<SecretRef>,
    /// The sender a step without `from` uses.
    pub from: Option<String>,
    /// PEM certificates trusted besides the system's (a private CA, a self-signed
    /// server): absolute, resolved against the config file's folder.
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate: loopback hosts only.
    pub tls_insecure_loopback: bool,
    /// How long connecting, and each exchange with the server, may take.
    pub timeout: Duration,
}

impl Account {
    /// `host:port`.
    pub fn server(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// How messages name it: account `work` (smtp.example.com:587).
    pub fn label(&self) -> String {
        format!("SMTP account `{}` ({})", self.name, self.server())
    }
}

/// Every configured account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SmtpSettings {
    /// The config file's name, for messages.
    pub origin: String,
    pub accounts: BTreeMap<String, Account>,
}

/// The account a step or channel without `account` uses.
pub const DEFAULT_ACCOUNT: &str = "default";

/// The default for `timeout`.
pub const TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) const KEYS: &[&str] = &[
    "host",
    "port",
    "tls",
    "user",
    "password",
    "from",
    "ca_file",
    "tls_insecure_loopback",
    "timeout",
];

impl SmtpSettings {
    /// An account by name, or an error naming the configured ones.
    pub fn account(&self, name: &str) -> Result<&Account> {
        self.accounts.get(name).ok_or_else(|| {
            let known = self.known();
            let hint = if self.accounts.is_empty() {
                if name == DEFAULT_ACCOUNT {
                    "add [smtp] with host, port, tls, user and password = 'secret(\"NAME\")' to config.toml".to_string()
                } else {
                    format!("add [smtp.{name}] with host, port, tls, user and password = 'secret(\"NAME\")' to config.toml")
                }
            } else {
                crate::workflow::suggest::did_you_mean(name, self.accounts.keys().map(String::as_str))
                    .map(|d| format!("{d} configured: {known}"))
                    .unwrap_or_else(|| format!("configured: {known}; add [smtp.{name}] to config.toml, or name one of them"))
            };
            Error::invalid(if self.accounts.is_empty() {
                format!("no SMTP account `{name}`: {} has no [smtp] section", self.origin)
            } else {
                format!("no SMTP account `{name}` in {}", self.origin)
            })
            .with_hint(hint)
        })
    }

    /// The configured names, for messages: `default, work` or `none`.
    pub fn known(&self) -> String {
        if self.accounts.is_empty() {
            "none".to_string()
        } else {
            self.accounts.keys().cloned().collect::<Vec<_>>().join(", ")
        }
    }
}

/// Whether `host` is this machine: `localhost` or a loopback address.
pub fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn bad(origin: &str, key: &str, what: &str, hint: impl Into<String>) -> Error {
    Error::invalid(format!("{origin}: `{key}` {what}")).with_hint(hint.into())
}

/// Type the `[smtp]` section of `cfg`. Relative `ca_file` paths start at the config
/// file's folder.
pub fn from_config(cfg: &ConfigFile) -> Result<SmtpSettings> {
    let origin = cfg.origin();
    let mut out = SmtpSettings {
        origin: origin.clone(),
        accounts: BTreeMap::new(),
    };
    let Some(section) = cfg.section("smtp") else {
        return Ok(out);
    };
    let base = cfg
        .path
        .as_ref()
        .and_then(|p| p.parent())
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let o = origin.as_str();
    let section = section.as_table().ok_or_else(|| {
        bad(
            o,
            "smtp",
            "must be a table",
            "write [smtp] with host = \"…\" (and [smtp.NAME] for more accounts)",
        )
    })?;
    // The keys of [smtp] itself are the default account; its tables, the others.
    let own: toml::Table = section
        .iter()
        .filter(|(_, v)| !v.is_table())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !own.is_empty() {
        if section.get(DEFAULT_ACCOUNT).is_some_and(Value::is_table) {
            return Err(bad(
                o,
                "smtp.default",
                "repeats the account the keys of [smtp] already are",
                "keep one: the keys of [smtp], or [smtp.default]",
            ));
        }
        out.accounts.insert(
            DEFAULT_ACCOUNT.to_string(),
            account(o, "smtp", DEFAULT_ACCOUNT, &own, &base)?,
        );
    }
    for (name, v) in section {
        let Some(t) = v.as_table() else { continue };
        let key = format!("smtp.{name}");
        if !valid_name(name) {
            return Err(bad(
                o,
                &key,
                "is not a valid account name",
                "use letters, digits, `_` and `-`",
            ));
        }
        out.accounts
            .insert(name.clone(), account(o, &key, name, t, &base)?);
    }
    Ok(out)
}

/// Account names: letters, digits, `_` and `-`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn string<'a>(o: &str, key: &str, t: &'a toml::Table, k: &str) -> Result<Option<&'a str>> {
    match t.get(k) {
        None => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.as_str())),
        Some(_) => Err(bad(
            o,
            &format!("{key}.{k}"),
            "must be a non-empty string",
            "quote it: key = \"value\"",
        )),
    }
}

fn account(o: &str, key: &str, name: &str, t: &toml::Table, base: &Path) -> Result<Account> {
    for k in t.keys() {
        if !KEYS.contains(&k.as_str()) {
            let hint = crate::workflow::suggest::did_you_mean(k, KEYS.iter().copied())
                .unwrap_or_else(|| format!("an account takes: {}", KEYS.join(", ")));
            return Err(bad(o, &format!("{key}.{k}"), "is not a known key", hint));
        }
    }
    let host = string(o, key, t, "host")?
        .ok_or_else(|| {
            bad(
                o,
                key,
                "needs `host`",
                "like host = \"smtp.example.com\" (the server email is sent through)",
            )
        })?
        .trim()
        .to_string();
    if host.contains(char::is_whitespace) || host.contains('/') {
        return Err(bad(
            o,
            &format!("{key}.host"),
            &format!("`{host}` is not a host name"),
            "a host name or address, without a scheme or port: host = \"smtp.example.com\"",
        ));
    }
    let tls = match string(o, key, t, "tls")? {
        None | Some("starttls") => Tls::StartTls,
        Some("implicit") => Tls::Implicit,
        Some("none") => Tls::None,
        Some(other) => {
            return Err(bad(
                o,
                &format!("{key}.tls"),
                &format!("`{other}` is not a TLS mode"),
                "tls = \"starttls\" (port 587, the default), \"implicit\" (port 465) or \"none\" (loopback hosts only)",
            ));
        }
    };
    let loopback = is_loopback(&host);
    if tls == Tls::None && !loopback {
        return Err(bad(
            o,
            &format!("{key}.tls"),
            &format!("is \"none\" for `{host}`, which is not this machine"),
            "use tls = \"starttls\" or \"implicit\": without TLS, only a loopback host (localhost, 127.0.0.1, ::1) is allowed",
        ));
    }
    let port = match t.get("port") {
        None => tls.default_port(),
        Some(Value::Integer(p)) if (1..=65535).contains(p) => *p as u16,
        Some(_) => {
            return Err(bad(
                o,
                &format!("{key}.port"),
                "must be a port number (1-65535)",
                format!("like port = {}", tls.default_port()),
            ));
        }
    };
    let user = string(o, key, t, "user")?.map(str::to_string);
    let password = match t.get("password") {
        None => None,
        Some(Value::String(s)) => match SecretRef::parse_config(s) {
            Ok(Some(r)) => Some(r),
            Ok(None) => {
                return Err(bad(
                    o,
                    &format!("{key}.password"),
                    "is written in the config file; a password is kept as a secret",
                    "store it with `aios secret set SMTP_PASSWORD`, then write password = 'secret(\"SMTP_PASSWORD\")'",
                ));
            }
            Err(e) => {
                return Err(bad(
                    o,
                    &format!("{key}.password"),
                    "is not a secret reference",
                    format!("{e}; like password = 'secret(\"SMTP_PASSWORD\")'"),
                ));
            }
        },
        Some(_) => {
            return Err(bad(
                o,
                &format!("{key}.password"),
                "must be a string",
                "password = 'secret(\"SMTP_PASSWORD\")'",
            ));
        }
    };
    match (&user, &password) {
        (Some(_), None) => {
            return Err(bad(
                o,
                key,
                "has `user` but no `password`",
                "add password = 'secret(\"SMTP_PASSWORD\")', or remove `user` for a server that needs no login",
            ));
        }
        (None, Some(_)) => {
            return Err(bad(
                o,
                key,
                "has `password` but no `user`",
                "add user = \"…\", the name to log in with",
            ));
        }
        _ => {}
    }
    let from = match string(o, key, t, "from")? {
        Some(f) => {
            if let Err(e) = f.parse::<lettre::message::Mailbox>() {
                return Err(bad(
                    o,
                    &format!("{key}.from"),
                    &format!("`{f}` is not an email address ({e})"),
                    "like from = \"Ada <ada@example.com>\"",
                ));
            }
            Some(f.to_string())
        }
        None => None,
    };
    let ca_file = string(o, key, t, "ca_file")?.map(|p| base.join(p));
    let tls_insecure_loopback = match t.get("tls_insecure_loopback") {
        None => false,
        Some(Value::Boolean(b)) => *b,
        Some(_) => {
            return Err(bad(
                o,
                &format!("{key}.tls_insecure_loopback"),
                "must be true or false",
                "tls_insecure_loopback = true",
            ));
        }
    };
    if tls_insecure_loopback && !loopback {
        return Err(bad(
            o,
            &format!("{key}.tls_insecure_loopback"),
            &format!("is only for a loopback host, not `{host}`"),
            "trust the server's certificate with ca_file = \"its-ca.pem\" instead",
        ));
    }
    if tls == Tls::None && (tls_insecure_loopback || ca_file.is_some()) {
        return Err(bad(
            o,
            key,
            "sets certificate options with tls = \"none\"",
            "use tls = \"starttls\" or \"implicit\", or remove ca_file and tls_insecure_loopback",
        ));
    }
    let timeout = match t.get("timeout") {
        None => TIMEOUT,
        Some(Value::String(s)) => crate::workflow::parse_duration(s).map_err(|e| {
            bad(
                o,
                &format!("{key}.timeout"),
                &format!("is not a duration: {e}"),
                crate::workflow::duration::DURATION_HINT,
            )
        })?,
        Some(Value::Integer(n)) if *n > 0 => Duration::from_secs(*n as u64),
        Some(_) => {
            return Err(bad(
                o,
                &format!("{key}.timeout"),
                "is not a duration",
                crate::workflow::duration::DURATION_HINT,
            ));
        }
    };
    if timeout.is_zero() {
        return Err(bad(
            o,
            &format!("{key}.timeout"),
            "is zero",
            "like timeout = \"30s\"",
        ));
    }
    Ok(Account {
        name: name.to_string(),
        host,
        port,
        tls,
        user,
        password,
        from,
        ca_file,
        tls_insecure_loopback,
        timeout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<SmtpSettings> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        std::fs::write(&p, text).unwrap();
        let cfg = ConfigFile::load(&p).unwrap();
        from_config(&cfg)
    }

    #[test]
    fn the_default_and_named_accounts() {
        let s = load(
            "[smtp]\nhost = \"smtp.example.com\"\nuser = \"ada\"\npassword = 'secret(\"SMTP_PW\")'\nfrom = \"Ada <ada@example.com>\"\n\n[smtp.work]\nhost = \"mail.work.example\"\ntls = \"implicit\"\ntimeout = \"10s\"\n\n[smtp.local]\nhost = \"127.0.0.1\"\nport = 2525\ntls = \"none\"\n",
        )
        .unwrap();
        assert_eq!(s.known(), "default, local, work");
        let d = s.account("default").unwrap();
        assert_eq!((d.port, d.tls), (587, Tls::StartTls));
        assert_eq!(d.password.as_ref().unwrap().name(), "SMTP_PW");
        assert_eq!(d.label(), "SMTP account `default` (smtp.example.com:587)");
        let w = s.account("work").unwrap();
        assert_eq!(
            (w.port, w.tls, w.timeout),
            (465, Tls::Implicit, Duration::from_secs(10))
        );
        assert_eq!(s.account("local").unwrap().server(), "127.0.0.1:2525");
        let e = s.account("wrok").unwrap_err();
        assert_eq!(e.message, format!("no SMTP account `wrok` in {}", s.origin));
        assert!(e.hint.unwrap().contains("did you mean `work`?"));
        let none = load("[budget]\n").unwrap();
        let e = none.account("default").unwrap_err();
        assert!(e.message.contains("has no [smtp] section"), "{}", e.message);
    }

    #[test]
    fn unsafe_or_wrong_settings_are_refused_with_a_hint() {
        let cases = [
            (
                "[smtp]\nhost = \"smtp.example.com\"\ntls = \"none\"\n",
                "`smtp.tls` is \"none\" for `smtp.example.com`, which is not this machine",
            ),
            (
                "[smtp]\nhost = \"smtp.example.com\"\ntls_insecure_loopback = true\n",
                "`smtp.tls_insecure_loopback` is only for a loopback host",
            ),
            (
                "[smtp]\nhost = \"h\"\nuser = \"u\"\npassword = \"hunter2\"\n",
                "`smtp.password` is written in the config file",
            ),
            (
                "[smtp]\nhost = \"h\"\nuser = \"u\"\n",
                "`smtp` has `user` but no `password`",
            ),
            (
                "[smtp.x]\nhots = \"h\"\n",
                "`smtp.x.hots` is not a known key",
            ),
            ("[smtp.x]\nport = 25\n", "`smtp.x` needs `host`"),
            (
                "[smtp]\nhost = \"h\"\ntls = \"ssl\"\n",
                "`ssl` is not a TLS mode",
            ),
            (
                "[smtp]\nhost = \"h\"\nfrom = \"not an address\"\n",
                "is not an email address",
            ),
            (
                "[smtp]\nhost = \"h\"\nport = 70000\n",
                "`smtp.port` must be a port number",
            ),
        ];
        for (text, want) in cases {
            let e = load(text).unwrap_err();
            assert!(e.message.contains(want), "{text}: {}", e.message);
            assert!(e.hint.is_some(), "{text}");
            assert!(!e.message.contains("hunter2") && !e.hint.unwrap().contains("hunter2"));
        }
        assert!(is_loopback("localhost") && is_loopback("127.0.0.2") && is_loopback("::1"));
        assert!(!is_loopback("10.0.0.1") && !is_loopback("example.com"));
    }
}
