//! How a webhook request proves it comes from the hook's sender, per [`HookFormat`]:
//!
//! - `aios`: `X-Aios-Signature: sha256=<hex HMAC-SHA256 of the raw body>`, or
//!   `Authorization: Bearer <secret>`;
//! - `github`: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`;
//! - `stripe`: `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]`, each `v1` an
//!   HMAC-SHA256 of `<t>.<raw body>`; `t` must be within the hook's tolerance of the
//!   (injected) clock, so a captured request cannot be replayed later.
//!
//! The check is split in two so that a request is refused as early as its headers
//! allow: [`check_headers`] (before the body is read) and [`BodyCheck::verify`].
//! Every comparison with the secret or a MAC is constant-time.

use hmac::{KeyInit, Mac};
use sha2::Sha256;

use crate::journal::HookFormat;

/// The header of `aios` signatures.
pub const AIOS_HEADER: &str = "x-aios-signature";
/// The header of GitHub signatures.
pub const GITHUB_HEADER: &str = "x-hub-signature-256";
/// The header of Stripe signatures.
pub const STRIPE_HEADER: &str = "stripe-signature";

/// The credential headers a request presented.
#[derive(Debug, Clone, Copy, Default)]
pub struct Presented<'a> {
    pub aios_signature: Option<&'a str>,
    pub authorization: Option<&'a str>,
    pub github_signature: Option<&'a str>,
    pub stripe_signature: Option<&'a str>,
}

/// What is left to check once the body is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyCheck {
    /// Nothing: the credentials did not depend on the body (a bearer token).
    Done,
    /// The HMAC-SHA256 of `prefix` + body, keyed by the secret, must equal one of
    /// `macs` (Stripe may send several `v1` during a secret's rotation).
    Hmac { prefix: Vec<u8>, macs: Vec<Vec<u8>> },
}

/// HMAC-SHA256 of `prefix` + `body`, keyed by `secret`.
pub fn hmac_sha256(secret: &str, prefix: &[u8], body: &[u8]) -> Vec<u8> {
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(prefix);
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// `sha256=<hex>`: the `X-Aios-Signature` (and `X-Hub-Signature-256`) value for `body`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(hmac_sha256(secret, b"", body)))
}

/// A `sha256=<64 hex>` value, decoded.
fn sha256_hex(value: &str, header: &str) -> Result<Vec<u8>, String> {
    let hex_part = value.trim().strip_prefix("sha256=").ok_or_else(|| {
        format!("the {header} header must be sha256=<hex HMAC-SHA256 of the body>")
    })?;
    match hex::decode(hex_part) {
        Ok(b) if b.len() == 32 => Ok(b),
        _ => Err(format!(
            "the {header} signature is not 64 hex digits (sha256=<hex HMAC-SHA256 of the body>)"
        )),
    }
}

/// Check what the headers alone can tell: the right header for the hook's format, in
/// the right form, a bearer token, a Stripe timestamp within `tolerance_s` of
/// `now_s`. The error is the reason to give with `401`.
pub fn check_headers(
    format: HookFormat,
    secret: &str,
    p: &Presented<'_>,
    now_s: i64,
    tolerance_s: i64,
) -> Result<BodyCheck, String> {
    match format {
        HookFormat::Aios => {
            if let Some(sig) = p.aios_signature {
                let mac = sha256_hex(sig, "X-Aios-Signature")?;
                return Ok(BodyCheck::Hmac {
                    prefix: Vec::new(),
                    macs: vec![mac],
                });
            }
            if let Some(auth) = p.authorization {
                let token = auth
                    .trim()
                    .strip_prefix("Bearer ")
                    .ok_or("the Authorization header must be `Bearer <token>`")?;
                return if constant_time_eq(token.trim().as_bytes(), secret.as_bytes()) {
                    Ok(BodyCheck::Done)
                } else {
                    Err("the bearer token is not this hook's".into())
                };
            }
            Err(
                "sign the body (X-Aios-Signature: sha256=...) or send Authorization: Bearer <token>"
                    .into(),
            )
        }
        HookFormat::Github => {
            let sig = p.github_signature.ok_or(
                "this hook takes GitHub's signature: X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>",
            )?;
            Ok(BodyCheck::Hmac {
                prefix: Vec::new(),
                macs: vec![sha256_hex(sig, "X-Hub-Signature-256")?],
            })
        }
        HookFormat::Stripe => {
            let header = p.stripe_signature.ok_or(
                "this hook takes Stripe's signature: Stripe-Signature: t=<timestamp>,v1=<signature>",
            )?;
            let (t, macs) = parse_stripe(header)?;
            let off = now_s.saturating_sub(t);
            if off.abs() > tolerance_s {
                let when = if off > 0 { "old" } else { "ahead" };
                return Err(format!(
                    "the Stripe-Signature timestamp is {}s {when} (tolerance {tolerance_s}s): a replayed request, or a clock that is off",
                    off.abs()
                ));
            }
            Ok(BodyCheck::Hmac {
                prefix: format!("{t}.").into_bytes(),
                macs,
            })
        }
    }
}

/// `t=<unix seconds>,v1=<hex>,…`: the timestamp and every well-formed `v1` (other
/// schemes, like Stripe's test-mode `v0`, are ignored as Stripe's libraries do).
fn parse_stripe(header: &str) -> Result<(i64, Vec<Vec<u8>>), String> {
    let mut t = None;
    let mut macs = Vec::new();
    for part in header.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            continue;
        };
        match k {
            "t" => {
                t = Some(v.parse::<i64>().map_err(|_| {
                    "the Stripe-Signature timestamp `t=` is not a number of seconds".to_string()
                })?)
            }
            "v1" => {
                if let Ok(b) = hex::decode(v)
                    && b.len() == 32
                {
                    macs.push(b);
                }
            }
            _ => {}
        }
    }
    let t = t.ok_or("the Stripe-Signature header has no timestamp (t=...)")?;
    if macs.is_empty() {
        return Err("the Stripe-Signature header has no v1 signature of 64 hex digits".into());
    }
    Ok((t, macs))
}

impl BodyCheck {
    /// Check the body against what the headers promised. The error is the reason to
    /// give with `401`.
    pub fn verify(&self, secret: &str, body: &[u8]) -> Result<(), &'static str> {
        match self {
            BodyCheck::Done => Ok(()),
            BodyCheck::Hmac { prefix, macs } => {
                let expected = hmac_sha256(secret, prefix, body);
                // Every candidate is compared (no early exit on a match).
                let any = macs
                    .iter()
                    .fold(false, |acc, m| acc | constant_time_eq(&expected, m));
                if any {
                    Ok(())
                } else {
                    Err("the signature does not match the body")
                }
            }
        }
    }
}

/// Equal bytes, in time that depends only on the lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_253_400; // 2026-11-21T09:30:00Z

    fn check(
        format: HookFormat,
        secret: &str,
        p: Presented<'_>,
        body: &[u8],
    ) -> Result<(), String> {
        check_headers(format, secret, &p, NOW, 300)?
            .verify(secret, body)
            .map_err(str::to_string)
    }

    #[test]
    fn github_matches_the_documented_example() {
        // docs.github.com, "Validating webhook deliveries": this secret and payload
        // give this signature.
        let secret = "It's a Secret to Everybody";
        let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        let p = Presented {
            github_signature: Some(sig),
            ..Default::default()
        };
        assert_eq!(
            check(HookFormat::Github, secret, p, b"Hello, World!"),
            Ok(())
        );
        assert_eq!(
            check(HookFormat::Github, secret, p, b"Hello, World?"),
            Err("the signature does not match the body".into())
        );
        assert_eq!(sign(secret, b"Hello, World!"), sig);
        // GitHub's header is the only one a github hook reads.
        let aios = Presented {
            aios_signature: Some(sig),
            authorization: Some("Bearer It's a Secret to Everybody"),
            ..Default::default()
        };
        assert!(
            check(HookFormat::Github, secret, aios, b"Hello, World!")
                .unwrap_err()
                .contains("X-Hub-Signature-256")
        );
        for bad in ["sha1=00", "sha256=zz", "sha256=00ff"] {
            let p = Presented {
                github_signature: Some(bad),
                ..Default::default()
            };
            assert!(check(HookFormat::Github, secret, p, b"x").is_err(), "{bad}");
        }
    }

    #[test]
    fn stripe_checks_the_timestamp_and_any_v1() {
        // Computed outside aios (Python's hmac) for t=NOW and this body.
        let secret = "whsec_test_secret";
        let body = br#"{"id":"evt_1","type":"invoice.paid"}"#;
        let good = "68cef2978dd13d72625336c13508d677c3c83aa5c4961a0e8157ffcbb7f0d9aa";
        let other = "00".repeat(32);
        let stripe = |h: &str, now: i64| {
            let p = Presented {
                stripe_signature: Some(h),
                ..Default::default()
            };
            check_headers(HookFormat::Stripe, secret, &p, now, 300)
                .and_then(|c| c.verify(secret, body).map_err(str::to_string))
        };
        assert_eq!(stripe(&format!("t={NOW},v1={good}"), NOW), Ok(()));
        // Several v1 (a secret being rolled), v0 and unknown schemes ignored.
        assert_eq!(
            stripe(&format!("t={NOW},v1={other},v1={good},v0={other}"), NOW),
            Ok(())
        );
        assert_eq!(
            stripe(&format!("t={NOW},v1={other}"), NOW),
            Err("the signature does not match the body".into())
        );
        // The timestamp is signed: moving it breaks the signature.
        assert!(stripe(&format!("t={},v1={good}", NOW + 1), NOW).is_err());
        // Inside the window on either side; outside it is a replay.
        assert_eq!(stripe(&format!("t={NOW},v1={good}"), NOW + 300), Ok(()));
        assert_eq!(stripe(&format!("t={NOW},v1={good}"), NOW - 300), Ok(()));
        let late = stripe(&format!("t={NOW},v1={good}"), NOW + 301).unwrap_err();
        assert!(late.contains("301s old (tolerance 300s)"), "{late}");
        let early = stripe(&format!("t={NOW},v1={good}"), NOW - 400).unwrap_err();
        assert!(early.contains("400s ahead"), "{early}");
        assert!(
            stripe(&format!("v1={good}"), NOW)
                .unwrap_err()
                .contains("no timestamp")
        );
        assert!(
            stripe(&format!("t={NOW}"), NOW)
                .unwrap_err()
                .contains("no v1")
        );
        assert!(stripe(&format!("t=soon,v1={good}"), NOW).is_err());
        assert!(stripe(&format!("t={NOW},v1=abc"), NOW).is_err());
    }

    #[test]
    fn aios_takes_a_signature_or_a_bearer_token() {
        let secret = "s3cret";
        let body = br#"{"a":1}"#;
        let sig = sign(secret, body);
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
        fn with<'a>(sig: Option<&'a str>, auth: Option<&'a str>) -> Presented<'a> {
            Presented {
                aios_signature: sig,
                authorization: auth,
                ..Default::default()
            }
        }
        assert_eq!(
            check(HookFormat::Aios, secret, with(Some(&sig), None), body),
            Ok(())
        );
        assert_eq!(
            check(
                HookFormat::Aios,
                secret,
                with(Some(&sig), None),
                b"{\"a\":2}"
            ),
            Err("the signature does not match the body".into())
        );
        assert!(check(HookFormat::Aios, secret, with(Some("md5=00"), None), body).is_err());
        // A bearer token is settled before the body is read.
        assert_eq!(
            check_headers(
                HookFormat::Aios,
                secret,
                &with(None, Some("Bearer s3cret")),
                NOW,
                300
            ),
            Ok(BodyCheck::Done)
        );
        assert!(
            check(
                HookFormat::Aios,
                secret,
                with(None, Some("Bearer s3cre")),
                body
            )
            .is_err()
        );
        assert!(
            check(
                HookFormat::Aios,
                secret,
                with(None, Some("Basic s3cret")),
                body
            )
            .is_err()
        );
        assert!(check(HookFormat::Aios, secret, with(None, None), body).is_err());
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"ab", b"abc"));
    }
}
