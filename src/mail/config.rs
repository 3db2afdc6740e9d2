//! `[imap]` in the config file, typed: the IMAP accounts mail triggers read.
//!
//! `[imap]` with `host` (and the other keys) directly is the account `default`;
//! `[imap.NAME]` tables are named accounts; both may be given. The password is
//! always `secret("NAME")`: the name of a secret (`aios secret set NAME`), resolved
//! only when connecting, never stored in the journal or shown. Nothing here reads the
//! process environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Value;

use crate::config::ConfigFile;
use crate::error::{Error, Result};
use crate::secrets::SecretRef;

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// TLS from the first byte (IMAPS, port 993).
    Implicit,
    /// Plain text, then `STARTTLS` before logging in (port 143).
    Starttls,
    /// No TLS: only to a server on this machine (loopback).
    None,
}

impl Tls {
    pub const WORDS: &'static [&'static str] = &["implicit", "starttls", "none"];

    pub fn as_str(self) -> &'static str {
        match self {
            Tls::Implicit => "implicit",
            Tls::Starttls => "starttls",
            Tls::None => "none",
        }
    }

    fn parse(s: &str) -> Option<Tls> {
        match s {
            "implicit" => Some(Tls::Implicit),
            "starttls" => Some(Tls::Starttls),
            "none" => Some(Tls::None),
            _ => None,
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Tls::Implicit => 993,
            Tls::Starttls | Tls::None => 143,
        }
    }
}

/// One IMAP account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub tls: Tls,
    pub user: String,
    /// The name of the secret holding the password.
    pub password: String,
    /// Trust only the certificates of this PEM file (a private CA, a self-signed
    /// server) instead of the system's roots.
    pub ca_file: Option<PathBuf>,
    /// How long connecting, and each command after, may take.
    pub timeout: Duration,
}

impl Account {
    /// `host:port`, for messages.
    pub fn server(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// "imap account `support` (imap.example.com:993)", for messages.
    pub fn describe(&self) -> String {
        format!("imap account `{}` ({})", self.name, self.server())
    }
}

/// The configured accounts, and where fetched messages are kept.
#[derive(Debug, Clone, Default)]
pub struct MailSettings {
    /// The config file's name, for messages.
    pub origin: String,
    pub accounts: BTreeMap<String, Account>,
    /// Where each message and its attachments are saved (`<data dir>/mail`).
    pub mail_dir: PathBuf,
    /// `[imap]` could not be read: why, and the hint. Every account lookup fails
    /// with it (so a mistake there stops mail schedules, not every command).
    pub invalid: Option<(String, Option<String>)>,
}

/// The name of the account written directly in `[imap]`.
pub const DEFAULT_ACCOUNT: &str = "default";

/// The default `timeout`.
pub const TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) const KEYS: &[&str] = &[
    "host", "port", "tls", "user", "password", "ca_file", "timeout",
];

impl MailSettings {
    /// The configured names, for messages: `a, b` or `none`.
    pub fn known(&self) -> String {
        if self.accounts.is_empty() {
            "none".to_string()
        } else {
            self.accounts.keys().cloned().collect::<Vec<_>>().join(", ")
        }
    }

    /// The account a trigger without `account` uses: `default` (the one written
    /// directly in `[imap]`), else the only one configured.
    pub fn default_name(&self) -> Option<&str> {
        if self.accounts.contains_key(DEFAULT_ACCOUNT) {
            return Some(DEFAULT_ACCOUNT);
        }
        match self.accounts.len() {
            1 => self.accounts.keys().next().map(String::as_str),
            _ => None,
        }
    }

    /// The account named `name` (`None`: the default one), or an error naming what
    /// is configured.
    pub fn account(&self, name: Option<&str>) -> Result<&Account> {
        if let Some((message, hint)) = &self.invalid {
            let e = Error::invalid(message.clone());
            return Err(match hint {
                Some(h) => e.with_hint(h.clone()),
                None => e,
            });
        }
        let Some(name) = name.or_else(|| self.default_name()) else {
            return Err(if self.accounts.is_empty() {
                Error::invalid(format!("no imap account is configured in {}", self.origin))
                    .with_hint(format!(
                        "add an [imap] table (host, user, password = 'secret(\"IMAP_PASSWORD\")') to {}",
                        self.origin
                    ))
            } else {
                Error::invalid(format!(
                    "the trigger names no imap account and {} has several ({})",
                    self.origin,
                    self.known()
                ))
                .with_hint("say which one in the trigger: imap = { account = \"NAME\", … }")
            });
        };
        self.accounts.get(name).ok_or_else(|| {
            Error::invalid(format!(
                "imap account `{name}` is not configured in {} (configured: {})",
                self.origin,
                self.known()
            ))
            .with_hint(format!(
                "add an [imap.{name}] table (host, user, password) to {}, or name one of the configured accounts",
                self.origin
            ))
        })
    }
}

fn bad(origin: &str, table: &str, key: &str, what: &str, hint: impl Into<String>) -> Error {
    Error::invalid(format!("{origin}: [{table}] `{key}` {what}")).with_hint(hint.into())
}

fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

fn string(origin: &str, table: &str, t: &toml::Table, key: &str) -> Result<Option<String>> {
    match t.get(key) {
        None => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(bad(
            origin,
            table,
            key,
            "must be a non-empty string",
            format!("write it as {key} = \"…\""),
        )),
    }
}

fn account(
    origin: &str,
    name: &str,
    table: &str,
    t: &toml::Table,
    config_dir: &Path,
) -> Result<Account> {
    for k in t.keys() {
        if !KEYS.contains(&k.as_str()) {
            let hint = crate::workflow::suggest::did_you_mean(k, KEYS.iter().copied())
                .unwrap_or_else(|| format!("valid keys: {}", KEYS.join(", ")));
            return Err(
                Error::invalid(format!("{origin}: unknown key `{k}` in [{table}]")).with_hint(hint),
            );
        }
    }
    let need = |key: &str, example: &str| {
        bad(
            origin,
            table,
            key,
            "is missing",
            format!("add {key} = {example} to [{table}]"),
        )
    };
    let host =
        string(origin, table, t, "host")?.ok_or_else(|| need("host", "\"imap.example.com\""))?;
    let user =
        string(origin, table, t, "user")?.ok_or_else(|| need("user", "\"you@example.com\""))?;
    let tls = match t.get("tls") {
        None => Tls::Implicit,
        Some(Value::String(s)) => Tls::parse(s).ok_or_else(|| {
            bad(
                origin,
                table,
                "tls",
                &format!("is `{s}`"),
                "tls is \"implicit\" (port 993), \"starttls\" (port 143) or \"none\" (a server on this machine only)",
            )
        })?,
        Some(_) => {
            return Err(bad(
                origin,
                table,
                "tls",
                "must be a string",
                "tls = \"implicit\", \"starttls\" or \"none\"",
            ));
        }
    };
    if tls == Tls::None && !is_loopback(&host) {
        return Err(bad(
            origin,
            table,
            "tls",
            &format!("is \"none\" for {host}, which is not this machine"),
            "a password is never sent in clear text over the network: use tls = \"implicit\" or \"starttls\"",
        ));
    }
    let port = match t.get("port") {
        None => tls.default_port(),
        Some(Value::Integer(n)) if (1..=65535).contains(n) => *n as u16,
        Some(_) => {
            return Err(bad(
                origin,
                table,
                "port",
                "must be an integer from 1 to 65535",
                format!("port = {}", tls.default_port()),
            ));
        }
    };
    let password = match t.get("password") {
        None => return Err(need("password", "'secret(\"IMAP_PASSWORD\")'")),
        Some(Value::String(s)) => match SecretRef::parse_config(s) {
            Ok(Some(r)) => r.name().to_string(),
            // The value is never repeated: it may be the password itself.
            _ => {
                return Err(bad(
                    origin,
                    table,
                    "password",
                    "must name a secret, not hold the password",
                    "keep it with `aios secret set IMAP_PASSWORD`, then write password = 'secret(\"IMAP_PASSWORD\")'",
                ));
            }
        },
        Some(_) => {
            return Err(bad(
                origin,
                table,
                "password",
                "must be a string",
                "password = 'secret(\"IMAP_PASSWORD\")'",
            ));
        }
    };
    let ca_file = string(origin, table, t, "ca_file")?.map(|p| {
        let p = PathBuf::from(p);
        if p.is_absolute() {
            p
        } else {
            config_dir.join(p)
        }
    });
    let timeout = match t.get("timeout") {
        None => TIMEOUT,
        Some(v) => {
            let parsed = match v {
                Value::String(s) => crate::workflow::parse_duration(s).ok(),
                Value::Integer(n) => u64::try_from(*n).ok().map(Duration::from_secs),
                _ => None,
            };
            match parsed {
                Some(d) if !d.is_zero() => d,
                _ => {
                    return Err(bad(
                        origin,
                        table,
                        "timeout",
                        "must be a duration above zero",
                        crate::workflow::duration::DURATION_HINT,
                    ));
                }
            }
        }
    };
    Ok(Account {
        name: name.to_string(),
        host,
        port,
        tls,
        user,
        password,
        ca_file,
        timeout,
    })
}

/// [`from_config`], keeping a mistake in `[imap]` for the account lookups of mail
/// schedules instead of failing (what `aios tick` and every command that drives runs
/// use: a broken `[imap]` stops reading mail, not the rest).
pub fn from_config_or_invalid(
    cfg: &ConfigFile,
    config_dir: &Path,
    data_dir: &Path,
) -> MailSettings {
    from_config(cfg, config_dir, data_dir).unwrap_or_else(|e| MailSettings {
        origin: cfg.origin(),
        accounts: BTreeMap::new(),
        mail_dir: data_dir.join("mail"),
        invalid: Some((e.message, e.hint)),
    })
}

/// Read `[imap]` of the config file. Relative `ca_file` paths start at `config_dir`;
/// messages are kept beneath `data_dir/mail`.
pub fn from_config(cfg: &ConfigFile, config_dir: &Path, data_dir: &Path) -> Result<MailSettings> {
    let origin = cfg.origin();
    let mut settings = MailSettings {
        origin: origin.clone(),
        accounts: BTreeMap::new(),
        mail_dir: data_dir.join("mail"),
        invalid: None,
    };
    let Some(section) = cfg.section("imap") else {
        return Ok(settings);
    };
    let Some(t) = section.as_table() else {
        return Err(Error::invalid(format!("{origin}: `imap` must be a table"))
            .with_hint("write [imap] with host, user and password, or [imap.NAME] tables"));
    };
    let direct: toml::Table = t
        .iter()
        .filter(|(_, v)| !v.is_table())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !direct.is_empty() {
        if t.get(DEFAULT_ACCOUNT).is_some_and(Value::is_table) {
            return Err(Error::invalid(format!(
                "{origin}: [imap] has keys of its own and an [imap.{DEFAULT_ACCOUNT}] table: both would be the account `{DEFAULT_ACCOUNT}`"
            ))
            .with_hint("keep one of them"));
        }
        settings.accounts.insert(
            DEFAULT_ACCOUNT.to_string(),
            account(&origin, DEFAULT_ACCOUNT, "imap", &direct, config_dir)?,
        );
    }
    for (name, v) in t.iter() {
        let Some(sub) = v.as_table() else { continue };
        if !crate::workflow::read::is_ident(name) {
            return Err(Error::invalid(format!(
                "{origin}: [imap.{name}]: an account name is letters, digits and `_`"
            ))
            .with_hint("rename the table, e.g. [imap.support]"));
        }
        let table = format!("imap.{name}");
        settings.accounts.insert(
            name.clone(),
            account(&origin, name, &table, sub, config_dir)?,
        );
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<MailSettings> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        std::fs::write(&p, text).unwrap();
        let cfg = ConfigFile::load(&p).unwrap();
        from_config(&cfg, dir.path(), dir.path())
    }

    #[test]
    fn direct_and_named_accounts() {
        let s = load(
            "[imap]\nhost = \"127.0.0.1\"\nport = 1143\ntls = \"none\"\nuser = \"ada\"\npassword = 'secret(\"IMAP_PW\")'\n\n[imap.work]\nhost = \"imap.example.com\"\nuser = \"ada@example.com\"\npassword = 'secret(\"WORK_PW\")'\ntimeout = \"5s\"\nca_file = \"ca.pem\"\n",
        )
        .unwrap();
        assert_eq!(s.known(), "default, work");
        let d = s.account(None).unwrap();
        assert_eq!(
            (d.port, d.tls, d.password.as_str()),
            (1143, Tls::None, "IMAP_PW")
        );
        let w = s.account(Some("work")).unwrap();
        assert_eq!((w.port, w.tls), (993, Tls::Implicit));
        assert_eq!(w.timeout, Duration::from_secs(5));
        assert!(w.ca_file.as_ref().unwrap().is_absolute());
        assert_eq!(w.describe(), "imap account `work` (imap.example.com:993)");
    }

    #[test]
    fn one_named_account_is_the_default() {
        let s = load("[imap.only]\nhost = \"h\"\nuser = \"u\"\npassword = 'secret(\"P_W\")'\ntls = \"starttls\"\n").unwrap();
        assert_eq!(s.default_name(), Some("only"));
        assert_eq!(s.account(None).unwrap().port, 143);
    }

    #[test]
    fn mistakes_name_the_table_and_never_the_password() {
        let e = load("[imap]\nhost = \"h\"\nuser = \"u\"\npassword = \"hunter22\"\n").unwrap_err();
        assert!(
            e.message.contains("[imap] `password` must name a secret"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("hunter22") && !e.hint.clone().unwrap().contains("hunter22"));
        let e = load("[imap]\nhost = \"imap.example.com\"\ntls = \"none\"\nuser = \"u\"\npassword = 'secret(\"P_W\")'\n").unwrap_err();
        assert!(e.message.contains("not this machine"), "{}", e.message);
        let e = load("[imap.w]\nhots = \"h\"\n").unwrap_err();
        assert!(
            e.message.contains("unknown key `hots` in [imap.w]"),
            "{}",
            e.message
        );
        assert!(e.hint.unwrap().contains("host"));
        let e =
            load("[imap]\nhost = \"h\"\nuser = \"u\"\npassword = 'secret(\"P_W\")'\nport = 0\n")
                .unwrap_err();
        assert!(
            e.message.contains("`port` must be an integer"),
            "{}",
            e.message
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.toml"), "[imap]\nhost = 1\n").unwrap();
        let cfg = ConfigFile::load(&dir.path().join("config.toml")).unwrap();
        let kept = from_config_or_invalid(&cfg, dir.path(), dir.path());
        let e = kept.account(Some("default")).unwrap_err();
        assert!(
            e.message
                .contains("[imap] `host` must be a non-empty string"),
            "{}",
            e.message
        );
        let s = load("").unwrap();
        let e = s.account(None).unwrap_err();
        assert!(
            e.message.starts_with("no imap account is configured"),
            "{}",
            e.message
        );
        let s = load("[imap.a]\nhost = \"h\"\nuser = \"u\"\npassword = 'secret(\"P_W\")'\n[imap.b]\nhost = \"h\"\nuser = \"u\"\npassword = 'secret(\"P_W\")'\n").unwrap();
        assert!(
            s.account(None)
                .unwrap_err()
                .message
                .contains("has several (a, b)")
        );
        let e = s.account(Some("c")).unwrap_err();
        assert!(
            e.message.contains("imap account `c` is not configured"),
            "{}",
            e.message
        );
    }
}
