//! Inbound webhooks: a hook is a name, a workflow snapshot (in the journal) and a
//! secret (in a 0600 file under the data directory, never in the journal). A request
//! is checked in a fixed order (hook known, then authenticated, then a JSON object,
//! then inputs that fit the workflow) and only then is a run created: nothing is
//! started on a bad request.
//!
//! Authentication: `X-Aios-Signature: sha256=<hex HMAC-SHA256 of the body keyed by
//! the secret>` (compared in constant time by `hmac`), or `Authorization: Bearer
//! <secret>` (compared in constant time here).

use std::path::{Path, PathBuf};

use hmac::{KeyInit, Mac};
use serde_json::Value as Json;
use sha2::Sha256;

use crate::engine::{self, NewRun};
use crate::error::{Error, Result};
use crate::journal::Journal;
use crate::workflow;

/// The signature header: `sha256=` + the hex HMAC-SHA256 of the raw body.
pub const SIGNATURE_HEADER: &str = "x-aios-signature";

/// Where a hook's secret is kept: `<data dir>/hooks/<name>.secret`, mode 0600.
pub fn secret_path(data_dir: &Path, name: &str) -> PathBuf {
    data_dir.join("hooks").join(format!("{name}.secret"))
}

/// Hook names appear in URLs and file names: letters, digits, `-` and `_`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A new secret: 32 random bytes from the OS, hex.
pub fn new_secret() -> Result<String> {
    let mut buf = [0u8; 32];
    getrandom::fill(&mut buf)
        .map_err(|e| Error::other(format!("cannot read random bytes from the OS: {e}")))?;
    Ok(hex::encode(buf))
}

/// Write a secret file readable by its owner only (its folder 0700).
pub fn write_secret(path: &Path, secret: &str) -> Result<()> {
    let fail = |e: std::io::Error| {
        Error::storage(format!("cannot write {}: {e}", path.display()))
            .with_hint("check that the data directory is writable")
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(fail)?;
        }
    }
    let tmp = path.with_extension("secret.tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    {
        use std::io::Write;
        let mut f = opts.open(&tmp).map_err(fail)?;
        f.write_all(secret.as_bytes()).map_err(fail)?;
        f.sync_all().map_err(fail)?;
    }
    std::fs::rename(&tmp, path).map_err(fail)
}

/// A hook's secret, or `None` when its file is missing.
pub fn read_secret(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s.trim().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::storage(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// `sha256=<hex>`: the signature header's value for `body`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// What a request presented.
#[derive(Debug, Clone, Copy)]
pub struct Credentials<'a> {
    /// The signature header's value.
    pub signature: Option<&'a str>,
    /// The `Authorization` header's value.
    pub authorization: Option<&'a str>,
}

/// Check a request's signature or bearer token against the hook's secret.
pub fn authenticate(
    secret: &str,
    body: &[u8],
    c: Credentials<'_>,
) -> std::result::Result<(), &'static str> {
    if let Some(sig) = c.signature {
        let hex_part = sig
            .trim()
            .strip_prefix("sha256=")
            .ok_or("the X-Aios-Signature header must be sha256=<hex HMAC-SHA256 of the body>")?;
        let given = hex::decode(hex_part).map_err(|_| "the signature is not hex")?;
        let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(body);
        return mac
            .verify_slice(&given)
            .map_err(|_| "the signature does not match the body");
    }
    if let Some(auth) = c.authorization {
        let token = auth
            .trim()
            .strip_prefix("Bearer ")
            .ok_or("the Authorization header must be `Bearer <token>`")?;
        return if constant_time_eq(token.trim().as_bytes(), secret.as_bytes()) {
            Ok(())
        } else {
            Err("the bearer token is not this hook's")
        };
    }
    Err("sign the body (X-Aios-Signature: sha256=...) or send Authorization: Bearer <token>")
}

/// Equal bytes, in time that depends only on the lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Why a request was refused: an HTTP status and a message for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub status: u16,
    pub message: String,
}

fn refused(status: u16, message: impl Into<String>) -> Refused {
    Refused {
        status,
        message: message.into(),
    }
}

/// Check a request to hook `name` and, when everything fits, create its run (not
/// driven yet). Returns the run id.
pub fn accept(
    journal: &mut Journal,
    data_dir: &Path,
    name: &str,
    creds: Credentials<'_>,
    body: &[u8],
) -> std::result::Result<i64, Refused> {
    let internal = |e: Error| refused(500, e.message);
    let Some((hook, source)) = (if valid_name(name) {
        journal.hook(name).map_err(internal)?
    } else {
        None
    }) else {
        return Err(refused(404, format!("no hook `{name}`")));
    };
    let secret = read_secret(&secret_path(data_dir, name))
        .map_err(internal)?
        .ok_or_else(|| {
            refused(
                500,
                format!("hook `{name}` has no secret file; re-add it with: aios hook add {name} FILE --rotate"),
            )
        })?;
    authenticate(&secret, body, creds).map_err(|m| refused(401, m))?;
    let value: Json = serde_json::from_slice(body)
        .map_err(|e| refused(400, format!("the body is not JSON: {e}")))?;
    let Json::Object(given) = value else {
        return Err(refused(
            400,
            "the body must be a JSON object of the workflow's inputs",
        ));
    };
    let wf = workflow::load(&source, &hook.path).map_err(|d| {
        refused(
            500,
            format!(
                "the workflow stored with hook `{name}` no longer loads ({})",
                d.count()
            ),
        )
    })?;
    let inputs = workflow::resolve_json_inputs(&wf, &given).map_err(|d| {
        refused(
            400,
            format!(
                "the inputs do not fit workflow `{}`: {}",
                wf.name,
                d.iter()
                    .map(|d| d.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        )
    })?;
    let dir = PathBuf::from(&hook.dir);
    engine::create(
        journal,
        NewRun {
            workflow: &wf,
            source: &source,
            path: Some(&hook.path),
            dir: &dir,
            inputs,
        },
    )
    .map_err(internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cret";

    fn creds<'a>(sig: Option<&'a str>, auth: Option<&'a str>) -> Credentials<'a> {
        Credentials {
            signature: sig,
            authorization: auth,
        }
    }

    #[test]
    fn signatures_and_bearer_tokens_are_checked() {
        let body = br#"{"a":1}"#;
        let sig = sign(SECRET, body);
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
        assert_eq!(authenticate(SECRET, body, creds(Some(&sig), None)), Ok(()));
        assert_eq!(
            authenticate(SECRET, b"{\"a\":2}", creds(Some(&sig), None)),
            Err("the signature does not match the body")
        );
        assert!(authenticate(SECRET, body, creds(Some("md5=00"), None)).is_err());
        assert!(authenticate(SECRET, body, creds(Some("sha256=zz"), None)).is_err());
        assert_eq!(
            authenticate(SECRET, body, creds(None, Some("Bearer s3cret"))),
            Ok(())
        );
        assert!(authenticate(SECRET, body, creds(None, Some("Bearer s3cre"))).is_err());
        assert!(authenticate(SECRET, body, creds(None, Some("Basic s3cret"))).is_err());
        assert!(authenticate(SECRET, body, creds(None, None)).is_err());
    }

    #[test]
    fn names_and_secrets() {
        assert!(valid_name("gh-push_1"));
        assert!(!valid_name("../x") && !valid_name("") && !valid_name("a b"));
        let a = new_secret().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, new_secret().unwrap());
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"ab", b"abc"));
    }
}
