//! An IMAP session with one account (async-imap on tokio, TLS by rustls): connect
//! (implicit TLS, STARTTLS, or plain text to this machine), log in, select a folder,
//! search, fetch, flag and move. Every step has the account's `timeout`, and every
//! failure becomes an [`Error`] that names the account and the server and says what
//! to check; the password is never part of one.

use std::sync::Arc;
use std::time::Duration;

use async_imap::{Client, Session as ImapSession};
use futures_util::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::config::{Account, Tls};
use crate::error::{Error, Result};

/// A byte stream an IMAP session runs over (TCP, or TLS over TCP).
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug> Io for T {}

/// A logged-in session.
pub struct Session {
    inner: ImapSession<Box<dyn Io>>,
    account: Account,
}

/// A selected folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selected {
    pub uidvalidity: u32,
    pub exists: u32,
}

fn failed(account: &Account, what: &str, e: impl std::fmt::Display) -> Error {
    Error::other(format!("{}: {what}: {e}", account.describe()))
}

async fn timed<T, E: std::fmt::Display>(
    account: &Account,
    what: &str,
    f: impl std::future::Future<Output = std::result::Result<T, E>>,
) -> Result<T> {
    match tokio::time::timeout(account.timeout, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(failed(account, what, e)),
        Err(_) => Err(Error::other(format!(
            "{}: no answer within {} ({what})",
            account.describe(),
            crate::clock::format_duration(account.timeout)
        ))
        .with_hint(format!(
            "check that the server is up and reachable, or raise `timeout` in [{}]",
            table(account)
        ))),
    }
}

/// The config table of an account: `imap` or `imap.NAME`.
pub fn table(account: &Account) -> String {
    if account.name == super::config::DEFAULT_ACCOUNT {
        "imap".to_string()
    } else {
        format!("imap.{}", account.name)
    }
}

fn tls_config(account: &Account) -> Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| failed(account, "TLS setup failed", e))?;
    let config = match &account.ca_file {
        Some(path) => {
            use rustls_pki_types::pem::PemObject;
            let bad_ca = |e: &dyn std::fmt::Display| {
                Error::invalid(format!(
                    "{}: cannot read ca_file {}: {e}",
                    account.describe(),
                    path.display()
                ))
                .with_hint(format!(
                    "point `ca_file` in [{}] at a PEM file of the server's certificate or its CA",
                    table(account)
                ))
            };
            let mut roots = rustls::RootCertStore::empty();
            let certs =
                rustls_pki_types::CertificateDer::pem_file_iter(path).map_err(|e| bad_ca(&e))?;
            for cert in certs {
                let cert = cert.map_err(|e| bad_ca(&e))?;
                roots.add(cert).map_err(|e| bad_ca(&e))?;
            }
            if roots.is_empty() {
                return Err(bad_ca(&"it holds no certificate"));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        None => {
            use rustls_platform_verifier::BuilderVerifierExt;
            builder
                .with_platform_verifier()
                .map_err(|e| failed(account, "TLS setup failed", e))?
                .with_no_client_auth()
        }
    };
    Ok(config)
}

async fn tls_handshake(account: &Account, tcp: TcpStream) -> Result<Box<dyn Io>> {
    let config = tls_config(account)?;
    let name = rustls_pki_types::ServerName::try_from(account.host.clone())
        .map_err(|e| failed(account, "not a TLS server name", e))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tls = match tokio::time::timeout(account.timeout, connector.connect(name, tcp)).await {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => {
            return Err(Error::other(format!(
                "{}: TLS handshake failed: {e}",
                account.describe()
            ))
            .with_hint(format!(
                "check `tls` and `port` in [{t}] (\"implicit\" is port 993, \"starttls\" port 143); a server with a private or self-signed certificate needs `ca_file` in [{t}]",
                t = table(account)
            )));
        }
        Err(_) => return Err(timeout(account, "TLS handshake")),
    };
    Ok(Box::new(tls))
}

async fn greeting<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug>(
    account: &Account,
    client: &mut Client<T>,
) -> Result<()> {
    match timed(account, "waiting for the greeting", client.read_response()).await? {
        Some(_) => Ok(()),
        None => Err(Error::other(format!(
            "{}: the server closed the connection before greeting",
            account.describe()
        ))
        .with_hint(format!(
            "check `host`, `port` and `tls` in [{}]: is it an IMAP server?",
            table(account)
        ))),
    }
}

impl Session {
    /// Connect and log in.
    pub async fn open(account: &Account, password: &str) -> Result<Session> {
        let tcp = match tokio::time::timeout(
            account.timeout,
            TcpStream::connect((account.host.as_str(), account.port)),
        )
        .await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                return Err(
                    Error::other(format!("cannot reach {}: {e}", account.describe())).with_hint(
                        format!(
                            "check `host` and `port` in [{}], and that the server is up",
                            table(account)
                        ),
                    ),
                );
            }
            Err(_) => {
                return Err(Error::other(format!(
                    "cannot reach {}: no answer within {}",
                    account.describe(),
                    crate::clock::format_duration(account.timeout)
                ))
                .with_hint(format!(
                    "check `host` and `port` in [{}], and that the server is up",
                    table(account)
                )));
            }
        };
        let _ = tcp.set_nodelay(true);
        let stream: Box<dyn Io> = match account.tls {
            Tls::Implicit => tls_handshake(account, tcp).await?,
            Tls::None => Box::new(tcp),
            Tls::Starttls => {
                let mut plain = Client::new(tcp);
                greeting(account, &mut plain).await?;
                timed(
                    account,
                    "STARTTLS",
                    plain.run_command_and_check_ok("STARTTLS", None),
                )
                .await
                .map_err(|e| {
                    e.with_hint(format!(
                        "the server does not offer STARTTLS here: check `tls` and `port` in [{}]",
                        table(account)
                    ))
                })?;
                tls_handshake(account, plain.into_inner()).await?
            }
        };
        let mut client = Client::new(stream);
        if account.tls != Tls::Starttls {
            greeting(account, &mut client).await?;
        }
        let login = tokio::time::timeout(account.timeout, client.login(&account.user, password));
        let inner = match login.await {
            Ok(Ok(s)) => s,
            Ok(Err((e, _))) => {
                let why = match e {
                    async_imap::error::Error::No(text) | async_imap::error::Error::Bad(text) => {
                        server_text(&text)
                    }
                    other => other.to_string(),
                };
                return Err(Error::other(format!(
                    "{} refused the login of `{}`: {}",
                    account.describe(),
                    account.user,
                    why.trim()
                ))
                .with_hint(format!(
                    "check `user` in [{}] and the password: aios secret set {}",
                    table(account),
                    account.password
                )));
            }
            Err(_) => {
                return Err(Error::other(format!(
                    "{}: no answer within {} (login)",
                    account.describe(),
                    crate::clock::format_duration(account.timeout)
                )));
            }
        };
        Ok(Session {
            inner,
            account: account.clone(),
        })
    }

    /// Select a folder (read-write: flags and moves need it).
    pub async fn select(&mut self, folder: &str) -> Result<Selected> {
        let account = &self.account;
        let mbox = match tokio::time::timeout(account.timeout, self.inner.select(folder)).await {
            Ok(Ok(m)) => m,
            Ok(Err(async_imap::error::Error::No(text))) => {
                return Err(Error::other(format!(
                    "{}: folder `{folder}` cannot be opened: {}",
                    account.describe(),
                    server_text(&text)
                ))
                .with_hint(
                    "check `folder` in the workflow's [trigger] imap (names are the server's, like \"INBOX\"), then: aios schedule add FILE",
                ));
            }
            Ok(Err(e)) => return Err(failed(account, &format!("SELECT {folder}"), e)),
            Err(_) => return Err(timeout(account, "SELECT")),
        };
        let Some(uidvalidity) = mbox.uid_validity else {
            return Err(Error::other(format!(
                "{}: folder `{folder}` has no UIDVALIDITY: the server does not support UIDs",
                account.describe()
            )));
        };
        Ok(Selected {
            uidvalidity,
            exists: mbox.exists,
        })
    }

    /// The UIDs of the messages matching `key`, ascending.
    pub async fn search(&mut self, key: &str) -> Result<Vec<u32>> {
        let account = &self.account;
        let set = timed(
            account,
            &format!("UID SEARCH {key}"),
            self.inner.uid_search(key),
        )
        .await?;
        let mut uids: Vec<u32> = set.into_iter().collect();
        uids.sort_unstable();
        Ok(uids)
    }

    /// The whole message `uid` as the server has it, without setting `\Seen`;
    /// `None` when it is gone (expunged meanwhile).
    pub async fn fetch(&mut self, uid: u32) -> Result<Option<Vec<u8>>> {
        let account = self.account.clone();
        let what = format!("UID FETCH {uid}");
        let fut = async {
            let stream = self
                .inner
                .uid_fetch(uid.to_string(), "(UID RFC822.SIZE BODY.PEEK[])")
                .await?;
            let fetches: Vec<_> = stream.try_collect().await?;
            Ok::<_, async_imap::error::Error>(
                fetches
                    .iter()
                    .find(|f| f.uid == Some(uid))
                    .and_then(|f| f.body().map(<[u8]>::to_vec)),
            )
        };
        timed(&account, &what, fut).await
    }

    /// Set `\Seen` on these messages.
    pub async fn mark_seen(&mut self, uids: &[u32]) -> Result<()> {
        if uids.is_empty() {
            return Ok(());
        }
        let account = self.account.clone();
        let set = uid_set(uids);
        let fut = async {
            let stream = self.inner.uid_store(&set, "+FLAGS.SILENT (\\Seen)").await?;
            let _: Vec<_> = stream.try_collect().await?;
            Ok::<_, async_imap::error::Error>(())
        };
        timed(&account, "UID STORE \\Seen", fut).await
    }

    /// Move these messages to `folder` (the server must offer MOVE, RFC 6851).
    pub async fn move_to(&mut self, uids: &[u32], folder: &str) -> Result<()> {
        if uids.is_empty() {
            return Ok(());
        }
        let account = self.account.clone();
        let set = uid_set(uids);
        match tokio::time::timeout(account.timeout, self.inner.uid_mv(&set, folder)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(failed(&account, &format!("UID MOVE to `{folder}`"), e)
                .with_hint(
                    "check that `move_to` of the workflow's [trigger] imap names a folder that exists, then: aios schedule add FILE",
                )),
            Err(_) => Err(timeout(&account, "UID MOVE")),
        }
    }

    /// Log out (best effort: the connection closes either way).
    pub async fn logout(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.inner.logout()).await;
    }
}

fn timeout(account: &Account, what: &str) -> Error {
    Error::other(format!(
        "{}: no answer within {} ({what})",
        account.describe(),
        crate::clock::format_duration(account.timeout)
    ))
}

/// The server's words in a `NO`/`BAD` answer, as async-imap hands them over
/// (`code: …, info: Some("[AUTHENTICATIONFAILED] Authentication failed.")`).
fn server_text(s: &str) -> String {
    const AT: &str = "info: Some(\"";
    match (s.find(AT), s.rfind("\")")) {
        (Some(i), Some(j)) if j > i + AT.len() => s[i + AT.len()..j]
            .replace("\\\"", "\"")
            .replace("\\\\", "\\"),
        _ => s.trim().to_string(),
    }
}

/// `1,3:5,9` from sorted UIDs.
pub fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        });
        i += 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    #[test]
    fn server_words_are_taken_out_of_the_error() {
        assert_eq!(
            super::server_text(
                r#"code: None, info: Some("[AUTHENTICATIONFAILED] Authentication \"failed\".")"#
            ),
            r#"[AUTHENTICATIONFAILED] Authentication "failed"."#
        );
        assert_eq!(super::server_text(" plain words "), "plain words");
    }

    #[test]
    fn uid_sets_are_compact() {
        assert_eq!(super::uid_set(&[9, 1, 3, 4, 5, 3]), "1,3:5,9");
        assert_eq!(super::uid_set(&[7]), "7");
    }
}
