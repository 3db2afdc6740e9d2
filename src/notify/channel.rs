//! Delivering one notification through one channel: an ntfy-compatible push, an
//! email through an `[smtp]` account, `notify-send`, or a command. Each send has
//! its own deadline, so a stuck channel never holds a tick for long; errors name
//! the channel and its server and never carry a secret's value.

use std::process::Stdio;
use std::time::Duration;

use super::config::{Channel, ChannelKind};
use crate::clock::Clock;
use crate::secrets::Secrets;
use crate::smtp::{Failure, Transport};

/// How long one send may take.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(20);

/// What channels send with.
pub struct SendCx<'a> {
    pub http: reqwest::Client,
    pub secrets: &'a Secrets,
    pub smtp: &'a Transport,
    pub child_env: &'a [(String, String)],
    pub clock: Clock,
}

/// One message to deliver.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    /// What the notification is about (for Message-IDs): `waiting:12`.
    pub key: &'a str,
    pub event: &'a str,
    pub title: &'a str,
    pub body: &'a str,
}

/// Send `m` through `ch`: the receiver's short reply, or why not.
pub async fn send(ch: &Channel, m: &Message<'_>, cx: &SendCx<'_>) -> Result<String, String> {
    match tokio::time::timeout(SEND_TIMEOUT, deliver(ch, m, cx)).await {
        Ok(r) => r.map_err(|e| cx.secrets.redact(&e)),
        Err(_) => Err(format!(
            "channel `{}` ({}) did not finish within {}",
            ch.name,
            ch.kind.name(),
            crate::clock::format_duration(SEND_TIMEOUT)
        )),
    }
}

async fn deliver(ch: &Channel, m: &Message<'_>, cx: &SendCx<'_>) -> Result<String, String> {
    let name = &ch.name;
    match &ch.kind {
        ChannelKind::Ntfy { url, topic, token } => {
            let target = format!("{url}/{topic}");
            let mut req = cx
                .http
                .post(&target)
                .header("Title", header_safe(m.title))
                .header("Tags", format!("aios,{}", m.event))
                .body(m.body.to_string());
            if let Some(r) = token {
                let t = cx
                    .secrets
                    .get(r)
                    .map_err(|e| format!("the token of channel `{name}`: {}", e.message))?;
                req = req.bearer_auth(t.expose());
            }
            let resp = req
                .send()
                .await
                .map_err(|e| format!("channel `{name}`: cannot reach {target}: {}", cause(&e)))?;
            let status = resp.status();
            let text = resp.text().await.unwrap_or_default();
            let text: String = text.trim().chars().take(200).collect();
            if status.is_success() {
                Ok(format!("{target} answered {}", status.as_u16()))
            } else {
                Err(format!(
                    "channel `{name}`: {target} answered {}: {text}",
                    status.as_u16()
                ))
            }
        }
        ChannelKind::Email { account, to } => {
            let acct = cx
                .smtp
                .settings
                .account(account)
                .map_err(|e| format!("channel `{name}`: {}", e.message))?;
            let from = acct.from.clone().or_else(|| acct.user.clone()).ok_or_else(|| {
                format!(
                    "channel `{name}`: {} has no `from` (add from = \"aios@…\" to its [smtp] table)",
                    acct.label()
                )
            })?;
            let password = match &acct.password {
                Some(r) => Some(
                    cx.secrets
                        .get(r)
                        .map_err(|e| format!("the password of {}: {}", acct.label(), e.message))?
                        .expose()
                        .to_string(),
                ),
                None => None,
            };
            let domain = from
                .rsplit('@')
                .next()
                .unwrap_or("aios")
                .trim_end_matches('>');
            let id = format!(
                "<aios.notify.{}.{}@{domain}>",
                m.key
                    .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "."),
                cx.clock.now_ms()
            );
            let mut b = lettre::Message::builder()
                .from(
                    crate::connectors::email::message::mailbox(&from)
                        .map_err(|e| format!("channel `{name}`: {e}"))?,
                )
                .subject(m.title)
                .date(std::time::SystemTime::from(cx.clock.now()))
                .message_id(Some(id));
            for a in to {
                b = b.to(crate::connectors::email::message::mailbox(a)
                    .map_err(|e| format!("channel `{name}`: {e}"))?);
            }
            let msg = b
                .header(lettre::message::header::ContentType::TEXT_PLAIN)
                .body(m.body.to_string())
                .map_err(|e| format!("channel `{name}`: cannot build the email: {e}"))?;
            let sent = crate::smtp::client::send(
                acct,
                password.as_deref(),
                msg.envelope(),
                &msg.formatted(),
                &cx.smtp.connections,
            )
            .await
            .map_err(|e| {
                let unknown = if e.failure == Failure::Unknown {
                    " (it may have been delivered)"
                } else {
                    ""
                };
                format!("channel `{name}`: {}{unknown}", e.message)
            })?;
            Ok(sent.reply)
        }
        ChannelKind::Desktop => {
            let argv = vec![
                "notify-send".to_string(),
                "--app-name=aios".to_string(),
                m.title.to_string(),
                m.body.to_string(),
            ];
            run(name, &argv, m, cx).await
        }
        ChannelKind::Command { argv } => run(name, argv, m, cx).await,
    }
}

/// Run a channel's program with the message in its environment.
async fn run(
    name: &str,
    argv: &[String],
    m: &Message<'_>,
    cx: &SendCx<'_>,
) -> Result<String, String> {
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
        .envs(cx.child_env.iter().map(|(k, v)| (k, v)))
        .env("AIOS_NOTIFY_EVENT", m.event)
        .env("AIOS_NOTIFY_TITLE", m.title)
        .env("AIOS_NOTIFY_BODY", m.body)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    crate::secrets::process::isolate_child(&mut cmd);
    let out = cmd.output().await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!("channel `{name}`: `{}` is not on the PATH", argv[0])
        } else {
            format!("channel `{name}`: cannot start `{}`: {e}", argv[0])
        }
    })?;
    if out.status.success() {
        Ok(format!("`{}` exited 0", argv[0]))
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let err: String = err.trim().chars().take(300).collect();
        Err(format!(
            "channel `{name}`: `{}` {}{}",
            argv[0],
            match out.status.code() {
                Some(c) => format!("exited {c}"),
                None => "was killed by a signal".to_string(),
            },
            if err.is_empty() {
                String::new()
            } else {
                format!(": {err}")
            }
        ))
    }
}

/// Header values are one line of printable text.
fn header_safe(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// An error and its causes, on one line.
fn cause(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = c.source();
    }
    s
}
