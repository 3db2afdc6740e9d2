//! `[notify]` in config.toml: when to speak (`after`, the daily `digest`) and the
//! channels to speak through (`[notify.NAME]` with a `kind`). Typed here, checked
//! whole (an unknown key or kind is an error naming it), never holding a secret's
//! value: a token stays a [`SecretRef`] until a channel sends.

use std::collections::BTreeMap;
use std::time::Duration;

use toml::Value;

use crate::config::ConfigFile;
use crate::error::{Error, Result};
use crate::secrets::SecretRef;

/// What notifications speak of.
pub const EVENTS: &[&str] = &["waiting", "failed", "schedule", "budget", "digest"];

pub(crate) const TOP_KEYS: &[&str] = &["after", "digest", "zone"];

/// How a channel delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelKind {
    /// An ntfy-compatible HTTP push: `POST url/topic` with the body as text and the
    /// title in the `Title` header; `Authorization: Bearer token` when one is given.
    Ntfy {
        url: String,
        topic: String,
        token: Option<SecretRef>,
    },
    /// An email through an SMTP account of `[smtp]`.
    Email { account: String, to: Vec<String> },
    /// `notify-send TITLE BODY`, when it is on the PATH.
    Desktop,
    /// A command (argv), with `AIOS_NOTIFY_EVENT`, `AIOS_NOTIFY_TITLE` and
    /// `AIOS_NOTIFY_BODY` in its environment.
    Command { argv: Vec<String> },
}

impl ChannelKind {
    pub fn name(&self) -> &'static str {
        match self {
            ChannelKind::Ntfy { .. } => "ntfy",
            ChannelKind::Email { .. } => "email",
            ChannelKind::Desktop => "desktop",
            ChannelKind::Command { .. } => "command",
        }
    }
}

/// One channel of `[notify.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub name: String,
    pub kind: ChannelKind,
    /// The events it hears (all by default).
    pub events: Vec<String>,
}

impl Channel {
    pub fn hears(&self, event: &str) -> bool {
        event == "test" || self.events.iter().any(|e| e == event)
    }
}

/// The typed `[notify]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifySettings {
    /// Where it was read from (for messages).
    pub origin: String,
    /// An item waiting longer than this is announced (once).
    pub after: Duration,
    /// The daily digest's time of day (`HH:MM`), in `zone`.
    pub digest: Option<(i8, i8)>,
    pub zone: String,
    pub channels: BTreeMap<String, Channel>,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            origin: "config.toml".into(),
            after: Duration::from_secs(3600),
            digest: None,
            zone: "UTC".into(),
            channels: BTreeMap::new(),
        }
    }
}

fn bad(origin: &str, key: &str, what: &str, hint: impl Into<String>) -> Error {
    Error::invalid(format!("{origin}: `{key}` {what}")).with_hint(hint.into())
}

fn string(o: &str, key: &str, t: &toml::Table, k: &str) -> Result<Option<String>> {
    match t.get(k) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(
            o,
            &format!("{key}.{k}"),
            "must be a string",
            format!("write {k} = \"…\""),
        )),
    }
}

fn strings(o: &str, key: &str, t: &toml::Table, k: &str) -> Result<Option<Vec<String>>> {
    match t.get(k) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
        Some(Value::Array(a)) if a.iter().all(Value::is_str) => Ok(Some(
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
        )),
        Some(_) => Err(bad(
            o,
            &format!("{key}.{k}"),
            "must be a string or a list of strings",
            format!("write {k} = [\"…\"]"),
        )),
    }
}

/// `HH:MM` as hour and minute.
fn time_of_day(s: &str) -> Option<(i8, i8)> {
    let (h, m) = s.split_once(':')?;
    let (h, m): (i8, i8) = (h.parse().ok()?, m.parse().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m) && s.len() == 5).then_some((h, m))
}

/// Type the `[notify]` section of `cfg` (the default, with no channel, when absent).
pub fn from_config(cfg: &ConfigFile) -> Result<NotifySettings> {
    let o = cfg.origin();
    let mut out = NotifySettings {
        origin: o.clone(),
        ..NotifySettings::default()
    };
    let Some(section) = cfg.section("notify") else {
        return Ok(out);
    };
    let o = o.as_str();
    let section = section.as_table().ok_or_else(|| {
        bad(
            o,
            "notify",
            "must be a table",
            "write [notify] and a [notify.NAME] table per channel",
        )
    })?;
    for (k, v) in section {
        if v.is_table() {
            continue;
        }
        if !TOP_KEYS.contains(&k.as_str()) {
            let hint = crate::workflow::suggest::did_you_mean(k, TOP_KEYS.iter().copied())
                .unwrap_or_else(|| {
                    format!(
                        "[notify] takes {}, and a [notify.NAME] table per channel",
                        TOP_KEYS.join(", ")
                    )
                });
            return Err(bad(o, &format!("notify.{k}"), "is not a known key", hint));
        }
    }
    if let Some(a) = string(o, "notify", section, "after")? {
        out.after = crate::workflow::duration::parse_duration(&a).map_err(|e| {
            bad(
                o,
                "notify.after",
                &format!("is not a duration ({e})"),
                crate::workflow::duration::DURATION_HINT,
            )
        })?;
    }
    if let Some(d) = string(o, "notify", section, "digest")? {
        out.digest = Some(time_of_day(&d).ok_or_else(|| {
            bad(
                o,
                "notify.digest",
                "is not a time of day",
                "write digest = \"08:00\" (HH:MM, 24-hour)",
            )
        })?);
    }
    if let Some(z) = string(o, "notify", section, "zone")? {
        jiff::tz::TimeZone::get(&z).map_err(|_| {
            bad(
                o,
                "notify.zone",
                &format!("`{z}` is not a known time zone"),
                "write an IANA name, like zone = \"Europe/Paris\" (UTC by default)",
            )
        })?;
        out.zone = z;
    }
    for (name, v) in section {
        let Some(t) = v.as_table() else { continue };
        let key = format!("notify.{name}");
        if !crate::smtp::config::valid_name(name) {
            return Err(bad(
                o,
                &key,
                "is not a valid channel name",
                "use letters, digits, `_` and `-`",
            ));
        }
        out.channels
            .insert(name.clone(), channel(o, &key, name, t)?);
    }
    Ok(out)
}

fn channel(o: &str, key: &str, name: &str, t: &toml::Table) -> Result<Channel> {
    let kind = string(o, key, t, "kind")?.ok_or_else(|| {
        bad(
            o,
            key,
            "needs `kind`",
            "kind = \"ntfy\", \"email\", \"desktop\" or \"command\"",
        )
    })?;
    let allowed: &[&str] = match kind.as_str() {
        "ntfy" => &["kind", "events", "url", "topic", "token"],
        "email" => &["kind", "events", "account", "to"],
        "desktop" => &["kind", "events"],
        "command" => &["kind", "events", "command"],
        other => {
            return Err(bad(
                o,
                &format!("{key}.kind"),
                &format!("`{other}` is not a channel kind"),
                "kind = \"ntfy\", \"email\", \"desktop\" or \"command\"",
            ));
        }
    };
    for k in t.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(bad(
                o,
                &format!("{key}.{k}"),
                "is not a known key",
                format!("a {kind} channel takes: {}", allowed.join(", ")),
            ));
        }
    }
    let need = |k: &str, example: &str| -> Result<String> {
        string(o, key, t, k)?
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| {
                bad(
                    o,
                    key,
                    &format!("needs `{k}`"),
                    format!("like {k} = {example}"),
                )
            })
    };
    let kind = match kind.as_str() {
        "ntfy" => {
            let url = need("url", "\"https://ntfy.sh\"")?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(bad(
                    o,
                    &format!("{key}.url"),
                    "must start with http:// or https://",
                    "like url = \"https://ntfy.sh\"",
                ));
            }
            let token = match string(o, key, t, "token")? {
                None => None,
                Some(v) => Some(
                    SecretRef::parse_config(&v)
                        .map_err(|e| bad(o, &format!("{key}.token"), &e, "token = 'secret(\"NAME\")'"))?
                        .ok_or_else(|| {
                            bad(
                                o,
                                &format!("{key}.token"),
                                "must be a secret, never the token itself",
                                "store it with `aios secret set NTFY_TOKEN` and write token = 'secret(\"NTFY_TOKEN\")'",
                            )
                        })?,
                ),
            };
            ChannelKind::Ntfy {
                url: url.trim_end_matches('/').to_string(),
                topic: need("topic", "\"my-aios\"")?,
                token,
            }
        }
        "email" => {
            let to = strings(o, key, t, "to")?.unwrap_or_default();
            if to.is_empty() {
                return Err(bad(o, key, "needs `to`", "like to = \"me@example.com\""));
            }
            for a in &to {
                crate::connectors::email::message::mailbox(a).map_err(|e| {
                    bad(o, &format!("{key}.to"), &e, "like to = \"me@example.com\"")
                })?;
            }
            ChannelKind::Email {
                account: string(o, key, t, "account")?
                    .unwrap_or_else(|| crate::smtp::DEFAULT_ACCOUNT.to_string()),
                to,
            }
        }
        "desktop" => ChannelKind::Desktop,
        _ => {
            let argv = strings(o, key, t, "command")?.unwrap_or_default();
            if argv.is_empty() || argv[0].trim().is_empty() {
                return Err(bad(
                    o,
                    key,
                    "needs `command`",
                    "like command = [\"sh\", \"-c\", \"echo \\\"$AIOS_NOTIFY_TITLE\\\" >> notes.txt\"]",
                ));
            }
            ChannelKind::Command { argv }
        }
    };
    let events = match strings(o, key, t, "events")? {
        None => EVENTS.iter().map(|e| e.to_string()).collect(),
        Some(es) => {
            for e in &es {
                if !EVENTS.contains(&e.as_str()) {
                    return Err(bad(
                        o,
                        &format!("{key}.events"),
                        &format!("names `{e}`, not an event"),
                        format!("events are: {}", EVENTS.join(", ")),
                    ));
                }
            }
            es
        }
    };
    Ok(Channel {
        name: name.to_string(),
        kind,
        events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<NotifySettings> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        std::fs::write(&p, text).unwrap();
        from_config(&ConfigFile::load(&p).unwrap())
    }

    #[test]
    fn channels_of_every_kind() {
        let s = load(
            "[notify]\nafter = \"30m\"\ndigest = \"08:15\"\nzone = \"Europe/Paris\"\n\
             [notify.phone]\nkind = \"ntfy\"\nurl = \"https://ntfy.sh/\"\ntopic = \"t\"\ntoken = 'secret(\"NTFY\")'\n\
             [notify.mail]\nkind = \"email\"\nto = [\"me@example.com\"]\nevents = [\"digest\"]\n\
             [notify.desk]\nkind = \"desktop\"\n\
             [notify.log]\nkind = \"command\"\ncommand = [\"sh\", \"-c\", \"true\"]\n",
        )
        .unwrap();
        assert_eq!(s.after, Duration::from_secs(1800));
        assert_eq!(s.digest, Some((8, 15)));
        assert_eq!(s.channels.len(), 4);
        let ChannelKind::Ntfy { url, token, .. } = &s.channels["phone"].kind else {
            panic!()
        };
        assert_eq!(url, "https://ntfy.sh");
        assert!(token.is_some());
        assert!(s.channels["mail"].hears("digest") && !s.channels["mail"].hears("failed"));
        assert!(s.channels["desk"].hears("failed"));
    }

    #[test]
    fn mistakes_are_named() {
        let e = load("[notify]\nafterr = \"1h\"\n").unwrap_err();
        assert!(
            e.message.contains("`notify.afterr` is not a known key"),
            "{}",
            e.message
        );
        let e = load("[notify.p]\nkind = \"ntfy\"\nurl = \"https://x\"\ntopic = \"t\"\ntoken = \"tk_plain\"\n")
            .unwrap_err();
        assert!(e.message.contains("must be a secret"), "{}", e.message);
        assert!(!e.message.contains("tk_plain"));
        let e = load("[notify.p]\nkind = \"pager\"\n").unwrap_err();
        assert!(
            e.message.contains("`pager` is not a channel kind"),
            "{}",
            e.message
        );
        let e = load("[notify]\ndigest = \"8am\"\n").unwrap_err();
        assert!(e.message.contains("notify.digest"), "{}", e.message);
        let e = load("[notify.m]\nkind = \"email\"\nto = \"not an address\"\n").unwrap_err();
        assert!(e.message.contains("notify.m.to"), "{}", e.message);
    }
}
