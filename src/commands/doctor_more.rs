//! `aios doctor`'s mail and tick checks: each SMTP account of `[smtp]` and IMAP
//! account of `[imap]` connects and logs in (nothing is sent or read), and the last
//! tick is recent enough for what needs ticks (the verdict `aios status` gives).

use super::Ctx;
use super::doctor::{Check, check};
use crate::clock::{age, format_ms};
use crate::config::ConfigFile;
use crate::secrets::{SecretRef, Secrets};

/// One check per SMTP account: connect (TLS as configured), EHLO, log in, QUIT.
pub(super) fn smtp(cfg: &ConfigFile, secrets: &Secrets, checks: &mut Vec<Check>) {
    let Ok(settings) = crate::smtp::config::from_config(cfg) else {
        return; // listed once with the config's problems
    };
    for account in settings.accounts.values() {
        let what = format!("smtp {}", account.name);
        let password = match &account.password {
            None => None,
            Some(r) if !secrets.knows(r.name()) => {
                checks.push(unset(what, r.name()));
                continue;
            }
            Some(r) => match secrets.get(r) {
                Ok(s) => Some(s.expose().to_string()),
                Err(e) => {
                    checks.push(check(what, "fail", e.message));
                    continue;
                }
            },
        };
        let r = runtime().block_on(async {
            let mut conn = crate::smtp::client::connect(account, password.as_deref()).await?;
            let _ = conn.quit().await;
            Ok::<_, crate::smtp::SendError>(())
        });
        let login = if account.user.is_some() {
            format!(
                "logged in as {}",
                account.user.as_deref().unwrap_or_default()
            )
        } else {
            "connected (no login configured)".to_string()
        };
        checks.push(match r {
            Ok(()) => check(
                what,
                "ok",
                format!("{} ({}): {login}", account.server(), account.tls.as_str()),
            ),
            Err(e) => check(what, "fail", e.message),
        });
    }
}

/// One check per IMAP account: connect (TLS as configured), log in, log out.
pub(super) fn imap(ctx: &Ctx, cfg: &ConfigFile, secrets: &Secrets, checks: &mut Vec<Check>) {
    let Ok(settings) = crate::mail::config::from_config(cfg, &ctx.config_dir, &ctx.data_dir) else {
        return; // listed once with the config's problems
    };
    for account in settings.accounts.values() {
        let what = format!("imap {}", account.name);
        if !secrets.knows(&account.password) {
            checks.push(unset(what, &account.password));
            continue;
        }
        let password = match SecretRef::new(&account.password)
            .map_err(crate::error::Error::invalid)
            .and_then(|r| secrets.get(&r))
        {
            Ok(s) => s,
            Err(e) => {
                checks.push(check(what, "fail", e.message));
                continue;
            }
        };
        let r = runtime().block_on(async {
            let session = crate::mail::client::Session::open(account, password.expose()).await?;
            session.logout().await;
            Ok::<_, crate::error::Error>(())
        });
        checks.push(match r {
            Ok(()) => check(
                what,
                "ok",
                format!(
                    "{} ({}): logged in as {}",
                    account.server(),
                    account.tls.as_str(),
                    account.user
                ),
            ),
            Err(e) => check(
                what,
                "fail",
                match e.hint {
                    Some(h) => format!("{} (hint: {h})", e.message),
                    None => e.message,
                },
            ),
        });
    }
}

/// A login not tried: its password is not set (the secrets check lists it too).
fn unset(what: String, name: &str) -> Check {
    check(
        what,
        "warn",
        format!("login not tried: its password secret {name} is not set (aios secret set {name})"),
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime builds")
}

/// The last tick: when, by what, and whether it is late for what needs ticks
/// (schedules, runs waiting on time).
pub(super) fn last_tick(ctx: &Ctx, timer: bool, checks: &mut Vec<Check>) {
    // No journal yet: no tick recorded, and nothing that needs one.
    let journal = match super::doctor::existing_journal(ctx).transpose() {
        Ok(j) => j,
        Err(_) => return, // the database check says why
    };
    let ticking = match (|| -> crate::error::Result<_> {
        Ok(crate::health::status::Ticking {
            last: match &journal {
                Some(j) => j.heartbeat("tick")?,
                None => None,
            },
            daemon: crate::health::backup::daemon_pid(&ctx.data_dir),
            timer,
            needed: match &journal {
                Some(j) => j.schedules()?.iter().any(|s| !s.paused) || j.next_wake()?.is_some(),
                None => false,
            },
        })
    })() {
        Ok(t) => t,
        Err(e) => return checks.push(check("last tick", "fail", e.message)),
    };
    let now = ctx.clock.now_ms();
    let last = ticking
        .last
        .as_ref()
        .map(|h| format!("{} ({} ago, by {})", format_ms(h.at), age(now, h.at), h.by));
    let daemon = ticking
        .daemon
        .map(|pid| format!("; aios daemon running (pid {pid})"))
        .unwrap_or_default();
    let late_min = crate::health::status::TICK_LATE / 60_000;
    checks.push(match (ticking.verdict(now), last) {
        ("ok", Some(l)) => check("last tick", "ok", format!("{l}{daemon}")),
        ("ok", None) => check("last tick", "ok", format!("no tick recorded yet{daemon}")),
        ("idle", Some(l)) => check(
            "last tick",
            "ok",
            format!("{l}; nothing needs ticks yet"),
        ),
        ("idle", None) => check(
            "last tick",
            "warn",
            "no tick recorded; nothing needs ticks yet",
        ),
        (_, Some(l)) => check(
            "last tick",
            "fail",
            format!(
                "late: {l}, more than {late_min} minutes ago while schedules or timed waits need a tick every minute (aios schedule install --write)"
            ),
        ),
        (_, None) => check(
            "last tick",
            "fail",
            "no tick recorded, while schedules or timed waits need a tick every minute (aios schedule install --write)",
        ),
    });
}
