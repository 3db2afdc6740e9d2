//! Email in: workflows started once per message of an IMAP folder.
//!
//! - [`config`]: `[imap]` / `[imap.NAME]` accounts of the config file (password as
//!   `secret("NAME")`, resolved only when connecting)
//! - [`trigger`]: `[trigger] imap = { account, folder, search, after, move_to }`
//! - [`client`]: the IMAP session (async-imap on tokio, rustls)
//! - [`mime`]: reading a message (mail-parser): addresses, subject, bodies in any
//!   charset, attachments with safe names; pure
//! - [`store`]: saving the message and its attachments beneath the data directory,
//!   through the file sandbox
//! - [`poll`]: what `aios tick` does for each watch, exactly once per message
//!
//! A watch is registered by `aios schedule add` ([`add`]) with a snapshot of the
//! workflow, like a cron schedule, and shares the schedules' names (one name, one
//! schedule). The journal side (registry, messages, their events) is
//! `crate::journal`'s `mail` module.

pub mod client;
pub mod config;
pub mod mime;
pub mod poll;
pub mod store;
pub mod trigger;

use std::path::Path;

use serde_json::Value as Json;

pub use config::{Account, MailSettings, Tls};
pub use poll::MailItem;
pub use trigger::{After, ImapTrigger};

use crate::error::{Error, Result};
use crate::journal::{Journal, MailWatchRecord, MailWatchSpec};
use crate::secrets::Secrets;
use crate::workflow::{self, Workflow};

/// Register (or update) the mail watch of a validated workflow whose trigger is
/// `imap`. `path` is the file's absolute path. The account must be configured and
/// its password's secret set. Returns the registered watch and whether an existing
/// one was replaced.
pub fn add(
    journal: &mut Journal,
    path: &Path,
    source: &str,
    wf: &Workflow,
    settings: &MailSettings,
    secrets: &Secrets,
) -> Result<(MailWatchRecord, bool)> {
    let Some(trigger) = wf.trigger.as_ref() else {
        return Err(
            Error::invalid(format!("workflow `{}` has no [trigger] table", wf.name))
                .with_hint("add a [trigger] table with imap = { folder = \"INBOX\" }"),
        );
    };
    let Some(imap) = &trigger.imap else {
        return Err(Error::invalid(format!(
            "workflow `{}` has a cron trigger, not an imap one",
            wf.name
        )));
    };
    let account = settings.account(imap.account.as_deref())?;
    if !secrets.knows(&account.password) {
        return Err(Error::invalid(format!(
            "{} reads its password from the secret `{}`, which is not set",
            account.describe(),
            account.password
        ))
        .with_hint(format!("aios secret set {}", account.password)));
    }
    // `message` is filled by each message: check the rest with a stand-in.
    let mut given = trigger.inputs.clone();
    given.insert(
        trigger::MESSAGE_INPUT.to_string(),
        Json::Object(Default::default()),
    );
    let mut inputs = workflow::resolve_json_inputs(wf, &given).map_err(|diags| {
        let first = diags.first().map(|d| d.message.clone()).unwrap_or_default();
        let mut e = Error::invalid(format!(
            "[trigger] inputs do not fit `{}`: {first}",
            wf.name
        ));
        if let Some(h) = diags.first().and_then(|d| d.hint.clone()) {
            e = e.with_hint(h);
        }
        e
    })?;
    if let Json::Object(m) = &mut inputs {
        m.remove(trigger::MESSAGE_INPUT);
    }
    let dir = path.parent().unwrap_or(Path::new("/"));
    let spec = MailWatchSpec {
        name: wf.name.clone(),
        path: path.display().to_string(),
        dir: dir.display().to_string(),
        source_hash: crate::journal::source_hash(source),
        account: account.name.clone(),
        folder: imap.folder.clone(),
        search: imap.search.clone(),
        after: imap.after.as_str().to_string(),
        move_to: imap.move_to.clone(),
        max_per_tick: imap.max_per_tick,
        inputs,
    };
    let replaced = journal.put_mail_watch(spec, source)?;
    Ok((journal.mail_watch(&wf.name)?, replaced))
}

/// "imap default/INBOX": where a watch reads, for listings.
pub fn describe_watch(w: &MailWatchRecord) -> String {
    format!("imap {}/{}", w.spec.account, w.spec.folder)
}

/// What happens to a message once its run is recorded, in words.
pub fn describe_after(w: &MailWatchRecord) -> String {
    match (After::parse(&w.spec.after), &w.spec.move_to) {
        (Some(After::Move), Some(to)) => format!("moved to {to}"),
        (Some(After::Keep), _) => "left as it is".to_string(),
        _ => "marked seen".to_string(),
    }
}

/// A subject for a one-line listing: quoted, control characters as spaces, cut to
/// 60 characters (`…` marks the cut); `(no subject)` when empty.
pub fn quoted_subject(subject: &str) -> String {
    let flat: String = subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = flat.trim();
    if flat.is_empty() {
        return "(no subject)".to_string();
    }
    let mut out: String = flat.chars().take(60).collect();
    if flat.chars().count() > 60 {
        out.push('…');
    }
    format!("{out:?}")
}

/// Whether a mail watch needs attention, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Ok,
    Paused,
    /// Its polls fail (since when, and the last error).
    NotReading {
        since: crate::clock::Millis,
        error: String,
    },
    /// The runs of its last [`crate::schedule::FAILING_AFTER`] messages failed.
    Failing(Vec<i64>),
}

impl Health {
    pub fn word(&self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Paused => "paused",
            Health::NotReading { .. } | Health::Failing(_) => "failing",
        }
    }

    pub fn detail(&self) -> Option<String> {
        match self {
            Health::NotReading { since, error } => Some(format!(
                "cannot read its mail since {}: {error}",
                crate::clock::format_ms(*since)
            )),
            Health::Failing(runs) => Some(format!(
                "the last {} failed",
                crate::text::count(runs.len(), "run")
            )),
            _ => None,
        }
    }
}

/// Judge a mail watch from its state and latest messages (newest first).
pub fn health(w: &MailWatchRecord, messages: &[crate::journal::MailRecord]) -> Health {
    if w.paused {
        return Health::Paused;
    }
    if let Some(since) = w.failing_since {
        return Health::NotReading {
            since,
            error: w.last_error.clone().unwrap_or_default(),
        };
    }
    let n = crate::schedule::FAILING_AFTER;
    let finished: Vec<(i64, crate::journal::RunStatus)> = messages
        .iter()
        .filter_map(|m| Some((m.run_id?, m.run_status?)))
        .filter(|(_, st)| st.is_terminal())
        .take(n)
        .collect();
    if finished.len() == n
        && finished
            .iter()
            .all(|(_, s)| *s == crate::journal::RunStatus::Failed)
    {
        return Health::Failing(finished.iter().map(|(r, _)| *r).collect());
    }
    Health::Ok
}
