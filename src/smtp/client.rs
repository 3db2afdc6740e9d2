//! Sending one message through an [`Account`], phase by phase, so a failure says
//! what it leaves behind: nothing sent (try again, or not: [`Failure::Retry`],
//! [`Failure::Fatal`]), or perhaps sent ([`Failure::Unknown`]: the connection broke
//! or timed out after the message's last byte, before the server's answer). SMTP has
//! no idempotency key, so only the last case may have delivered the message, and a
//! caller never repeats it by itself.
//!
//! Each exchange with the server (connecting with TLS, logging in, each command, the
//! message and its answer) is bounded by the account's `timeout`. Connections that
//! sent a message are kept idle in a [`Connections`] for the next message of the same
//! account; a kept connection that went stale is replaced before anything is sent.

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::ClientId;
use std::collections::HashMap;
use std::sync::Mutex;

use super::config::{Account, Tls};

/// What a failed send leaves behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Nothing was sent, and another attempt may succeed (the server could not be
    /// reached, timed out, or answered 4xx).
    Retry,
    /// Nothing was sent, and another attempt will not help (5xx, a refused login, a
    /// certificate that cannot be trusted, an address the server cannot take).
    Fatal,
    /// The message may have been delivered: the exchange broke after its last byte.
    Unknown,
}

/// A failed send: what it leaves behind and why, naming the account and server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    pub failure: Failure,
    pub message: String,
}

/// The server's answer to an accepted message (`250 2.0.0 Ok: queued as 4F2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub reply: String,
    /// Whether a kept connection was used (none was opened for this message).
    pub reused: bool,
}

/// Idle connections by account, kept for the next message (one per account).
#[derive(Default)]
pub struct Connections {
    idle: Mutex<HashMap<String, AsyncSmtpConnection>>,
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Connections")
    }
}

impl Connections {
    fn take(&self, account: &str) -> Option<AsyncSmtpConnection> {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(account)
    }

    fn keep(&self, account: &str, conn: AsyncSmtpConnection) {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(account.to_string(), conn);
    }
}

/// The phase of the exchange, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connect,
    Login,
    Mail,
    Rcpt,
    Data,
    Message,
}

impl Phase {
    fn what(self) -> &'static str {
        match self {
            Phase::Connect => "connecting",
            Phase::Login => "logging in",
            Phase::Mail => "giving the sender (MAIL FROM)",
            Phase::Rcpt => "giving a recipient (RCPT TO)",
            Phase::Data => "starting the message (DATA)",
            Phase::Message => "sending the message",
        }
    }
}

/// The innermost cause of `e`, said once (lettre's messages repeat their sources).
fn cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    loop {
        if let Some(inner) = cur
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            cur = inner;
            continue;
        }
        match cur.source() {
            Some(next) => cur = next,
            None => return cur.to_string(),
        }
    }
}

/// The TLS error behind `e`, if it is one (a certificate that cannot be trusted, a
/// handshake the server broke off).
fn tls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<rustls::Error>() {
            return Some(t);
        }
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            cur = Some(inner);
            continue;
        }
        cur = err.source();
    }
    None
}

/// Turn a lettre error of `phase` into a [`SendError`].
fn classify(account: &Account, phase: Phase, e: &lettre::transport::smtp::Error) -> SendError {
    let who = account.label();
    if let Some(code) = e.status() {
        let reply = std::error::Error::source(e)
            .map(|s| s.to_string())
            .unwrap_or_default();
        let reply = format!("{code} {reply}").trim().to_string();
        let failure = if e.is_transient() {
            Failure::Retry
        } else {
            Failure::Fatal
        };
        let message = match phase {
            Phase::Login => format!(
                "{who} refused the login of `{}`: {reply}",
                account.user.as_deref().unwrap_or("")
            ),
            Phase::Message => format!("{who} did not accept the message: {reply}"),
            _ => format!("{who} answered {reply} while {}", phase.what()),
        };
        return SendError { failure, message };
    }
    let detail = match tls_error(e) {
        Some(rustls::Error::InvalidCertificate(c)) => {
            use rustls::CertificateError as C;
            let why = match c {
                C::UnknownIssuer => {
                    "it is signed by an authority this machine does not trust".to_string()
                }
                C::NotValidForName | C::NotValidForNameContext { .. } => {
                    format!("it is not valid for `{}`", account.host)
                }
                C::Expired | C::ExpiredContext { .. } => "it has expired".to_string(),
                C::NotValidYet | C::NotValidYetContext { .. } => "it is not valid yet".to_string(),
                C::Revoked => "it was revoked".to_string(),
                _ => rustls::Error::InvalidCertificate(c.clone()).to_string(),
            };
            format!("the server's certificate cannot be trusted: {why}")
        }
        Some(t) => t.to_string(),
        None => cause(e),
    };
    if e.is_tls() || tls_error(e).is_some() {
        let hint = if account.ca_file.is_some() {
            "check that `ca_file` holds the certificate (or its CA) the server presents"
        } else if super::config::is_loopback(&account.host) {
            "trust the server's certificate with `ca_file` (its CA's PEM file), or set tls_insecure_loopback = true for a local test server"
        } else {
            "trust the server's certificate with `ca_file` = its CA's PEM file"
        };
        return SendError {
            failure: Failure::Fatal,
            message: format!(
                "TLS with {who} failed while {}: {detail}; {hint}",
                phase.what()
            ),
        };
    }
    if phase == Phase::Message {
        return SendError {
            failure: Failure::Unknown,
            message: format!(
                "the connection to {who} broke after the message was sent, before the server answered ({detail}): it may have been delivered"
            ),
        };
    }
    // A network or connection error, or a garbled answer, may pass; a client error
    // (no login mechanism in common, an address the server cannot take) will not.
    SendError {
        failure: if e.is_client() {
            Failure::Fatal
        } else {
            Failure::Retry
        },
        message: if phase == Phase::Connect {
            format!("cannot connect to {who}: {detail}")
        } else {
            format!("{who} failed while {}: {detail}", phase.what())
        },
    }
}

fn timed_out(account: &Account, phase: Phase) -> SendError {
    let t = crate::clock::format_duration(account.timeout);
    if phase == Phase::Message {
        SendError {
            failure: Failure::Unknown,
            message: format!(
                "{} did not answer within {t} after the message was sent: it may have been delivered",
                account.label()
            ),
        }
    } else {
        SendError {
            failure: Failure::Retry,
            message: format!(
                "{} did not answer within {t} while {}",
                account.label(),
                phase.what()
            ),
        }
    }
}

/// Run one phase under the account's timeout.
async fn phase<T>(
    account: &Account,
    p: Phase,
    fut: impl std::future::Future<Output = Result<T, lettre::transport::smtp::Error>>,
) -> Result<T, SendError> {
    match tokio::time::timeout(account.timeout, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(classify(account, p, &e)),
        Err(_) => Err(timed_out(account, p)),
    }
}

fn tls_parameters(account: &Account) -> Result<TlsParameters, SendError> {
    let fatal = |m: String| SendError {
        failure: Failure::Fatal,
        message: m,
    };
    let mut b = TlsParameters::builder(
        account
            .host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
    );
    if let Some(path) = &account.ca_file {
        let pem = std::fs::read(path).map_err(|e| {
            fatal(format!(
                "cannot read `ca_file` {} of {}: {e}",
                path.display(),
                account.label()
            ))
        })?;
        let cert = Certificate::from_pem(&pem).map_err(|e| {
            fatal(format!(
                "`ca_file` {} of {} holds no PEM certificate: {}",
                path.display(),
                account.label(),
                cause(&e)
            ))
        })?;
        b = b.add_root_certificate(cert);
    }
    if account.tls_insecure_loopback {
        b = b.dangerous_accept_invalid_certs(true);
    }
    b.build_rustls().map_err(|e| {
        fatal(format!(
            "cannot set up TLS for {}: {}",
            account.label(),
            cause(&e)
        ))
    })
}

/// Open a connection: TCP (and TLS), EHLO, STARTTLS when asked, login.
pub async fn connect(
    account: &Account,
    password: Option<&str>,
) -> Result<AsyncSmtpConnection, SendError> {
    let hello = ClientId::default();
    let addr = (
        account
            .host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        account.port,
    );
    let tls = match account.tls {
        Tls::None => None,
        Tls::StartTls | Tls::Implicit => Some(tls_parameters(account)?),
    };
    let implicit = match account.tls {
        Tls::Implicit => tls.clone(),
        _ => None,
    };
    let mut conn = phase(
        account,
        Phase::Connect,
        AsyncSmtpConnection::connect_tokio1(addr, Some(account.timeout), &hello, implicit, None),
    )
    .await?;
    if account.tls == Tls::StartTls {
        if !conn.can_starttls() {
            let e = SendError {
                failure: Failure::Fatal,
                message: format!(
                    "{} does not offer STARTTLS; nothing was sent in clear (use tls = \"implicit\" if it speaks TLS from the start)",
                    account.label()
                ),
            };
            close(conn, &e).await;
            return Err(e);
        }
        let params = tls.expect("starttls has TLS parameters");
        phase(account, Phase::Connect, conn.starttls(params, &hello)).await?;
    }
    if let (Some(user), Some(password)) = (&account.user, password) {
        let creds = Credentials::new(user.clone(), password.to_string());
        let r = phase(
            account,
            Phase::Login,
            conn.auth(&[Mechanism::Plain, Mechanism::Login], &creds),
        )
        .await;
        if let Err(e) = r {
            close(conn, &e).await;
            return Err(e);
        }
    }
    Ok(conn)
}

/// Close a connection after a failure: politely (QUIT, for at most 2 s) when the
/// server is answering, at once when it may be stuck (a timeout, an unknown outcome).
async fn close(mut conn: AsyncSmtpConnection, e: &SendError) {
    if e.failure == Failure::Unknown || e.message.contains("did not answer within") {
        drop(conn);
    } else {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), conn.abort()).await;
    }
}

/// Send `message` (the formatted bytes) to `envelope`'s recipients through
/// `account`, reusing a kept connection when there is one.
pub async fn send(
    account: &Account,
    password: Option<&str>,
    envelope: &Envelope,
    message: &[u8],
    connections: &Connections,
) -> Result<Accepted, SendError> {
    // A kept connection may have gone stale (the server hung up meanwhile): until
    // the message itself is sent, nothing happened, so a fresh one takes over.
    if let Some(mut conn) = connections.take(&account.name) {
        match exchange(account, &mut conn, envelope, message).await {
            Ok(reply) => {
                connections.keep(&account.name, conn);
                return Ok(Accepted {
                    reply,
                    reused: true,
                });
            }
            Err((p, e)) if p != Phase::Message => close(conn, &e).await,
            Err((_, e)) => {
                close(conn, &e).await;
                return Err(e);
            }
        }
    }
    let mut conn = connect(account, password).await?;
    match exchange(account, &mut conn, envelope, message).await {
        Ok(reply) => {
            connections.keep(&account.name, conn);
            Ok(Accepted {
                reply,
                reused: false,
            })
        }
        Err((_, e)) => {
            close(conn, &e).await;
            Err(e)
        }
    }
}

/// MAIL FROM, RCPT TO each, DATA, the message: the server's final answer.
async fn exchange(
    account: &Account,
    conn: &mut AsyncSmtpConnection,
    envelope: &Envelope,
    message: &[u8],
) -> Result<String, (Phase, SendError)> {
    let at = |p: Phase| move |e: SendError| (p, e);
    use lettre::transport::smtp::extension::{Extension, MailBodyParameter, MailParameter};
    let mut params = Vec::new();
    let refuse = |what: &str| {
        (
            Phase::Mail,
            SendError {
                failure: Failure::Fatal,
                message: format!("{} does not support {what}", account.label()),
            },
        )
    };
    let non_ascii = envelope
        .to()
        .iter()
        .chain(envelope.from())
        .any(|a: &lettre::Address| !AsRef::<str>::as_ref(a).is_ascii());
    if non_ascii {
        if !conn.server_info().supports_feature(Extension::SmtpUtfEight) {
            return Err(refuse("addresses beyond ASCII (SMTPUTF8)"));
        }
        params.push(MailParameter::SmtpUtfEight);
    }
    if !message.is_ascii() {
        if !conn.server_info().supports_feature(Extension::EightBitMime) {
            return Err(refuse("8-bit messages (8BITMIME)"));
        }
        params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    phase(
        account,
        Phase::Mail,
        conn.command(Mail::new(envelope.from().cloned(), params)),
    )
    .await
    .map_err(at(Phase::Mail))?;
    for to in envelope.to() {
        phase(
            account,
            Phase::Rcpt,
            conn.command(Rcpt::new(to.clone(), Vec::new())),
        )
        .await
        .map_err(|mut e| {
            if e.failure != Failure::Unknown {
                e.message = format!("{} (recipient {to})", e.message);
            }
            (Phase::Rcpt, e)
        })?;
    }
    phase(account, Phase::Data, conn.command(Data))
        .await
        .map_err(at(Phase::Data))?;
    // The message's last line break is the first half of the end of data
    // (CRLF . CRLF): the server keeps exactly these bytes.
    let body = message.strip_suffix(b"\r\n").unwrap_or(message);
    let r = phase(account, Phase::Message, conn.message(body))
        .await
        .map_err(at(Phase::Message))?;
    let text: Vec<&str> = r.message().collect();
    Ok(format!("{} {}", r.code(), text.join(" "))
        .trim()
        .to_string())
}
