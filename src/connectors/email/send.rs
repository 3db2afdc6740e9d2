//! Committing an `email` action: the account's password resolved, the attachments
//! read again and the MIME message built off the async runtime, then sent through
//! [`crate::smtp`]; each SMTP failure mapped to retry, refused or unknown.

use serde_json::{Value as Json, json};

use super::{Email, EmailAction, ExecError, Resources, message};
use crate::smtp::{self, Failure};

/// Send the approved message; the result names the server, the recipients, the
/// server's reply and the sizes sent.
pub(super) async fn commit(email: Email, res: &Resources) -> Result<Json, ExecError> {
    let transport = res.smtp()?;
    let account = transport
        .settings
        .account(&email.account)
        .map_err(|e| ExecError::fatal(e.message))?
        .clone();
    let password = match &account.password {
        Some(r) => Some(
            res.secrets()
                .get(r)
                .map_err(|e| {
                    ExecError::fatal(format!(
                        "the password of {}: {}{}",
                        account.label(),
                        e.message,
                        e.hint.map(|h| format!(" ({h})")).unwrap_or_default()
                    ))
                })?
                .expose()
                .to_string(),
        ),
        None => None,
    };
    let now = std::time::SystemTime::from(res.env().clock.now());
    let action: EmailAction = (*email.0).clone();
    let built = tokio::task::spawn_blocking(move || -> Result<_, ExecError> {
        let files = message::read_attachments(&action.root, &action.attachments).map_err(
            |(m, retry)| {
                if retry {
                    ExecError::retryable(m)
                } else {
                    ExecError::fatal(m)
                }
            },
        )?;
        let sizes: Vec<usize> = files.iter().map(Vec::len).collect();
        let msg = message::build(&action, files, now).map_err(ExecError::fatal)?;
        Ok((msg.envelope().clone(), msg.formatted(), sizes))
    })
    .await
    .map_err(|e| ExecError::fatal(format!("building the email failed: {e}")))??;
    let (envelope, bytes, sizes) = built;
    let sent = smtp::client::send(
        &account,
        password.as_deref(),
        &envelope,
        &bytes,
        &transport.connections,
    )
    .await
    .map_err(|e| match e.failure {
        // Unreachable, timed out or 4xx: the account's server failed for now (its
        // circuit breaker counts it).
        Failure::Retry => ExecError::transient(e.message),
        // 5xx, a refused login or certificate: the server answered, it is up.
        Failure::Fatal => ExecError::refused(e.message),
        Failure::Unknown => ExecError {
            blame: crate::connectors::Blame::Target,
            ..ExecError::unknown(e.message)
        },
    })?;
    Ok(json!({
        "message_id": email.message_id,
        "account": account.name,
        "server": account.server(),
        "from": email.from,
        "recipients": email.recipients(),
        "reply": sent.reply,
        "bytes": bytes.len(),
        "attachments": email.attachments.iter().zip(&sizes).map(|(a, n)| json!({ "name": a.name, "size": n })).collect::<Vec<_>>(),
    }))
}
