//! One tick's poll of every mail watch, exactly once per message.
//!
//! For each watch that is not paused: connect and log in, select the folder, apply
//! `after` to messages recorded but not yet flagged (a crash came between the two),
//! search, drop the UIDs already decided, then for each new message (oldest first,
//! at most `max_per_tick`): fetch it without setting `\Seen`, read it, save it and
//! its attachments, record it with the run it starts in one transaction
//! ([`Journal::record_mail`]), and only then apply `after` (and journal that). The
//! runs started are driven once the session is closed.
//!
//! Crashes: killed before the record, nothing is recorded and the message is still
//! unseen: the next poll fetches it again (its files are rewritten in place) and
//! records it once. Killed after the record and before `after`, the message is
//! recorded: the next poll does not fetch it again, and flags it first thing.
//! Concurrent ticks race on the record: one transaction wins, the others write
//! nothing for that message.
//!
//! The IMAP session is async; each of its steps is driven by its own `block_on` and
//! the journal is called between them, never from inside the runtime: the PostgreSQL
//! backend's client blocks on a runtime of its own, which tokio refuses to start
//! inside another.
//!
//! UIDVALIDITY: UIDs are only meaningful under the folder's UIDVALIDITY, which is
//! part of every message's key. When it changes (the server rebuilt the folder),
//! messages get new UIDs; a message already taken under the old one is recognized
//! by its Message-ID (or a hash of its header block) and recorded as `duplicate`,
//! without a run, then flagged as `after` says. A notice says it happened.

use serde_json::{Value as Json, json};

use super::client::Session;
use super::mime::{self, Parsed};
use super::store;
use super::trigger::After;
use crate::engine::{self, Mode, NewRun, Observer, RunEnv};
use crate::error::{Error, Result};
use crate::journal::{
    IncomingMail, Journal, MailOutcome, MailPlace, MailRecorded, MailWatchRecord, NewFireRun,
    RunStatus,
};
use crate::schedule::{TickItem, TickReport};

/// What a poll did to one message, for the tick's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailItem {
    /// The message started a run, driven until it stopped.
    Started {
        schedule: String,
        folder: String,
        uid: u32,
        subject: String,
        run: i64,
        status: Option<RunStatus>,
    },
    /// The folder's UIDVALIDITY changed and this message had already been taken
    /// under the earlier one (by `run`): no second run.
    Duplicate {
        schedule: String,
        folder: String,
        uid: u32,
        run: Option<i64>,
    },
}

/// A run a poll started, to drive once the session is closed.
struct Started {
    uid: u32,
    subject: String,
    run: i64,
}

/// Poll every mail watch that is not paused. Errors are reported as items (and a
/// watch that fails raises one notice per failure streak); the tick goes on.
pub fn poll_all(
    journal: &mut Journal,
    env: &RunEnv,
    observer: &mut dyn Observer,
    report: &mut TickReport,
    driven: &mut Vec<i64>,
) {
    let watches = match journal.mail_watches() {
        Ok(w) => w,
        Err(e) => {
            report.items.push(TickItem::error(None, None, &e));
            return;
        }
    };
    let active: Vec<MailWatchRecord> = watches.into_iter().filter(|w| !w.paused).collect();
    if active.is_empty() {
        return;
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let e = Error::other(format!("cannot start the IMAP client: {e}"));
            report.items.push(TickItem::error(None, None, &e));
            return;
        }
    };
    for w in active {
        let name = w.spec.name.clone();
        let mut started = Vec::new();
        let polled = poll_watch(&rt, journal, env, &w, report, &mut started);
        // Runs recorded before a failure are driven all the same.
        for s in started {
            driven.push(s.run);
            let status = match engine::resume(journal, s.run, env, observer, Mode::Continue) {
                Ok(o) => Some(o.status),
                Err(e) => {
                    report.items.push(TickItem::error(Some(s.run), None, &e));
                    None
                }
            };
            report.items.push(TickItem::Mail(MailItem::Started {
                schedule: name.clone(),
                folder: w.spec.folder.clone(),
                uid: s.uid,
                subject: s.subject,
                run: s.run,
                status,
            }));
        }
        match polled {
            Ok(()) => {
                if let Err(e) = journal.mail_poll_ok(&name) {
                    report.items.push(TickItem::error(None, Some(&name), &e));
                }
            }
            Err(e) => failed(journal, env, &name, e, report),
        }
        if let Err(e) = failing_runs(journal, &w, report) {
            report.items.push(TickItem::error(None, Some(&name), &e));
        }
    }
}

/// A notice when the runs of the watch's last messages all failed, once per streak
/// (keyed by the streak's last run), as for a cron schedule.
fn failing_runs(journal: &mut Journal, w: &MailWatchRecord, report: &mut TickReport) -> Result<()> {
    let name = w.spec.name.as_str();
    let messages = journal.mail_messages(name, 20)?;
    let super::Health::Failing(runs) = super::health(w, &messages) else {
        return Ok(());
    };
    let Some(last) = runs.first() else {
        return Ok(());
    };
    let summary = format!(
        "schedule {name} is failing: the runs of its last {} failed (runs {})",
        crate::text::count(runs.len(), "message"),
        runs.iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let key = format!("failing:{name}:{last}");
    let data = json!({ "runs": runs });
    if let Some(item) = journal.raise_notice(name, "failing", &key, &summary, data)? {
        report.items.push(TickItem::Notice {
            item,
            schedule: name.to_string(),
            summary,
        });
    }
    Ok(())
}

/// Report a watch's failed poll: an error item, and a notice once per streak.
fn failed(journal: &mut Journal, env: &RunEnv, name: &str, e: Error, report: &mut TickReport) {
    // The password is never in a message; anything a server echoed is redacted.
    let message = env.secrets.redact(&e.message);
    let hint = e.hint.as_deref().map(|h| env.secrets.redact(h));
    report.items.push(TickItem::Error {
        run: None,
        schedule: Some(name.to_string()),
        message: message.clone(),
        hint: hint.clone(),
    });
    let mut raise = || -> Result<Option<i64>> {
        let (since, _) = journal.mail_poll_failed(name, &message)?;
        let summary = format!("schedule {name} could not read its mail: {message}");
        let data =
            json!({ "error": message, "hint": hint, "since": crate::clock::format_ms(since) });
        let key = format!("mail-error:{name}:{since}");
        journal.raise_notice(name, "mail_error", &key, &summary, data)
    };
    match raise() {
        Ok(Some(item)) => report.items.push(TickItem::Notice {
            item,
            schedule: name.to_string(),
            summary: format!("schedule {name} could not read its mail: {message}"),
        }),
        Ok(None) => {}
        Err(e) => report.items.push(TickItem::error(None, Some(name), &e)),
    }
}

fn snapshot(source: &str, origin: &str) -> Result<crate::workflow::Workflow> {
    crate::workflow::load(source, origin).map_err(|d| {
        let first = d.first().map(|d| d.message.clone()).unwrap_or_default();
        Error::storage(format!(
            "the workflow stored with schedule {origin} no longer loads ({}: {first})",
            d.count()
        ))
        .with_hint(crate::schedule::readd_hint(origin))
    })
}

fn poll_watch(
    rt: &tokio::runtime::Runtime,
    journal: &mut Journal,
    env: &RunEnv,
    watch: &MailWatchRecord,
    report: &mut TickReport,
    started: &mut Vec<Started>,
) -> Result<()> {
    let name = watch.spec.name.as_str();
    let (w, source) = journal.mail_watch_source(name)?;
    let account = env.mail.account(Some(&w.spec.account)).map_err(|e| {
        if env.mail.invalid.is_some() {
            // A mistake in [imap]: its own words and hint.
            let hint = e.hint.clone().unwrap_or_default();
            return Error::other(e.message).with_hint(hint);
        }
        let hint = format!(
            "add [{}] to {}, or change the trigger's account and run: aios schedule add {}",
            if w.spec.account == super::config::DEFAULT_ACCOUNT {
                "imap".to_string()
            } else {
                format!("imap.{}", w.spec.account)
            },
            env.mail.origin,
            crate::connectors::shell::quote(&w.spec.path)
        );
        Error::other(e.message).with_hint(hint)
    })?;
    let secret = crate::secrets::SecretRef::new(&account.password)
        .map_err(Error::invalid)
        .and_then(|r| env.secrets.get(&r))
        .map_err(|e| {
            let hint = e.hint.clone();
            let mut e = Error::other(format!("{}: {}", account.describe(), e.message));
            if let Some(h) = hint {
                e = e.with_hint(h);
            }
            e
        })?;
    let mut session = rt.block_on(Session::open(account, secret.expose()))?;
    drop(secret);
    let result = take_new(rt, journal, env, &w, &source, &mut session, report, started);
    rt.block_on(session.logout());
    result
}

#[allow(clippy::too_many_arguments)]
fn take_new(
    rt: &tokio::runtime::Runtime,
    journal: &mut Journal,
    env: &RunEnv,
    w: &MailWatchRecord,
    source: &str,
    session: &mut Session,
    report: &mut TickReport,
    started: &mut Vec<Started>,
) -> Result<()> {
    let name = w.spec.name.as_str();
    let (account, folder) = (w.spec.account.as_str(), w.spec.folder.as_str());
    let after = After::parse(&w.spec.after).unwrap_or(After::Seen);
    let selected = rt.block_on(session.select(folder))?;
    let validity = selected.uidvalidity;
    if let Some(Some(old)) = journal.mail_validity(name, account, folder, validity)? {
        let summary = format!(
            "folder {folder} of imap account `{account}` changed its UIDVALIDITY ({old} to {validity}): its messages have new UIDs; those taken before are recognized by their Message-ID and not started again"
        );
        let key = format!("mail-uidvalidity:{name}:{account}:{folder}:{validity}");
        let data = json!({ "account": account, "folder": folder, "from": old, "to": validity });
        if let Some(item) = journal.raise_notice(name, "mail_uidvalidity", &key, &summary, data)? {
            report.items.push(TickItem::Notice {
                item,
                schedule: name.to_string(),
                summary,
            });
        }
    }
    // Recorded by a poll that stopped before applying `after`.
    let pending = journal.mail_unflagged(name, account, folder, validity)?;
    apply_after(rt, journal, session, w, after, validity, &pending)?;
    if selected.exists == 0 {
        return Ok(());
    }
    let found = rt.block_on(session.search(&w.spec.search))?;
    let decided = journal.mail_decided(name, account, folder, validity, &found)?;
    let new: Vec<u32> = found
        .into_iter()
        .filter(|u| !decided.contains(u))
        .take(w.spec.max_per_tick as usize)
        .collect();
    if new.is_empty() {
        return Ok(());
    }
    // The snapshot is read only when a message will start a run.
    let wf = snapshot(source, &w.spec.path)?;
    let wf = &wf;
    let dir = std::path::PathBuf::from(&w.spec.dir);
    for uid in new {
        let Some(raw) = rt.block_on(session.fetch(uid))? else {
            continue; // expunged meanwhile
        };
        let place = MailPlace {
            account: account.to_string(),
            folder: folder.to_string(),
            uidvalidity: validity,
            uid,
        };
        let (incoming, subject) = match mime::parse(&raw) {
            Ok(parsed) => {
                let saved =
                    store::save(&env.mail.mail_dir, name, &place, &raw, &parsed.attachments)?;
                let mut message = message_input(&parsed, &saved, &place, raw.len());
                env.secrets.redact_json(&mut message);
                let mut inputs = w.spec.inputs.clone();
                if let Json::Object(m) = &mut inputs {
                    m.insert(super::trigger::MESSAGE_INPUT.to_string(), message);
                }
                let created = engine::created_event(NewRun {
                    workflow: wf,
                    source,
                    path: Some(&w.spec.path),
                    dir: &dir,
                    inputs,
                    uid: None,
                    dry: None,
                });
                let subject = env.secrets.redact(&parsed.subject);
                (
                    IncomingMail {
                        place: place.clone(),
                        message_id: parsed.message_id.clone(),
                        key: parsed.key.clone(),
                        outcome: MailOutcome::Start(NewFireRun {
                            source: source.to_string(),
                            created,
                        }),
                        done: after == After::Keep,
                    },
                    subject,
                )
            }
            Err(why) => {
                let saved = store::save(&env.mail.mail_dir, name, &place, &raw, &[])?;
                let summary = format!(
                    "a message in {folder} of imap account `{account}` (uid {uid}) cannot start {name}: {why}; it was left as it is, and saved at {}",
                    saved.raw.display()
                );
                let data = json!({
                    "account": account, "folder": folder, "uidvalidity": validity, "uid": uid,
                    "reason": why, "size": raw.len(), "raw": saved.raw.display().to_string(),
                });
                (
                    IncomingMail {
                        place: place.clone(),
                        message_id: None,
                        key: format!("uid:{validity}:{uid}"),
                        outcome: MailOutcome::Notice { summary, data },
                        done: true,
                    },
                    String::new(),
                )
            }
        };
        let summary = match &incoming.outcome {
            MailOutcome::Notice { summary, .. } => summary.clone(),
            MailOutcome::Start(_) => String::new(),
        };
        match journal.record_mail(name, incoming)? {
            MailRecorded::Started { run } => {
                started.push(Started { uid, subject, run });
                apply_after(rt, journal, session, w, after, validity, &[uid])?;
            }
            MailRecorded::Duplicate { run } => {
                report.items.push(TickItem::Mail(MailItem::Duplicate {
                    schedule: name.to_string(),
                    folder: folder.to_string(),
                    uid,
                    run,
                }));
                apply_after(rt, journal, session, w, after, validity, &[uid])?;
            }
            MailRecorded::Malformed { notice } => {
                if let Some(item) = notice {
                    report.items.push(TickItem::Notice {
                        item,
                        schedule: name.to_string(),
                        summary,
                    });
                }
            }
            // Another tick took it, or the watch was removed or paused meanwhile.
            MailRecorded::Already => {}
            MailRecorded::Gone => break,
        }
    }
    Ok(())
}

/// Apply `after` to recorded messages, then journal that it was.
fn apply_after(
    rt: &tokio::runtime::Runtime,
    journal: &mut Journal,
    session: &mut Session,
    w: &MailWatchRecord,
    after: After,
    validity: u32,
    uids: &[u32],
) -> Result<()> {
    if uids.is_empty() {
        return Ok(());
    }
    match (after, &w.spec.move_to) {
        (After::Move, Some(to)) => rt.block_on(session.move_to(uids, to))?,
        // Recorded as done: nothing to apply.
        (After::Keep, _) => return Ok(()),
        _ => rt.block_on(session.mark_seen(uids))?,
    }
    journal.mail_flagged(
        &w.spec.name,
        &w.spec.account,
        &w.spec.folder,
        validity,
        uids.to_vec(),
        &w.spec.after,
    )
}

fn mailbox(m: &mime::Mailbox) -> Json {
    json!({ "name": m.name, "address": m.address })
}

/// `inputs.message` of a run.
pub fn message_input(p: &Parsed, saved: &store::Saved, place: &MailPlace, size: usize) -> Json {
    json!({
        "message_id": p.message_id,
        "from": mailbox(&p.from),
        "to": p.to.iter().map(mailbox).collect::<Vec<_>>(),
        "cc": p.cc.iter().map(mailbox).collect::<Vec<_>>(),
        "reply_to": p.reply_to.iter().map(mailbox).collect::<Vec<_>>(),
        "subject": p.subject,
        "date": p.date,
        "in_reply_to": p.in_reply_to,
        "references": p.references,
        "text": p.text,
        "html": p.html,
        "truncated": p.truncated,
        "attachments": saved.attachments.iter().map(|a| json!({
            "name": a.name,
            "size": a.size,
            "path": a.path.display().to_string(),
            "content_type": a.content_type,
        })).collect::<Vec<_>>(),
        "size": size,
        "raw": saved.raw.display().to_string(),
        "imap": {
            "account": place.account,
            "folder": place.folder,
            "uidvalidity": place.uidvalidity,
            "uid": place.uid,
        },
    })
}
