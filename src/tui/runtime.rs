//! The runtime: owns the terminal and a journal connection, performs the commands
//! `update` returns, polls the journal (cheaply: only events newer than the last one
//! seen are looked at) and drives approved runs in background threads.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use super::message::{Cmd, Msg};
use super::model::{Detail, Item, Model, Screen, Settings, Timeline};
pub use super::terminal::{Term, run};
use super::terminal::{enter_terminal, restore_terminal, term_error};
use crate::clock::Clock;
use crate::engine::{self, Mode, Quiet, RunEnv};
use crate::error::{Error, ErrorKind, Result};
use crate::inbox::{self, DecideRequest, Edit};
use crate::journal::{
    Decision, InboxRow, Journal, OpenOptions, ProposalRecord, RunStatus, RunSummary, VersionCache,
};

/// What the TUI needs from the outside world (read by `commands/`, passed in).
#[derive(Debug, Clone)]
pub struct TuiSettings {
    /// The SQLite file (its folder holds the editor's files), unless `pg` is set.
    pub db_path: PathBuf,
    /// The PostgreSQL database the journal is on instead (`AIOS_DATABASE_URL`).
    pub pg: Option<crate::journal::pg::PgPool>,
    pub clock: Clock,
    pub open: OpenOptions,
    /// How background drives run (owner, child environment).
    pub run_env: RunEnv,
    /// Who decides (`user@host`).
    pub operator: String,
    pub no_color: bool,
    /// `$VISUAL` or `$EDITOR` (a command line; the file name is appended).
    pub editor: Option<String>,
    /// How often the journal is polled for changes made elsewhere.
    pub poll: Duration,
}

impl TuiSettings {
    /// A journal of its own, on the database the TUI was started on.
    fn journal(&self) -> Result<Journal> {
        match &self.pg {
            Some(pool) => pool.journal(self.clock).map(Journal::from),
            None => Journal::open(&self.db_path, self.clock, self.open),
        }
    }
}

/// Messages from background threads.
enum Bg {
    Ended {
        run: i64,
        outcome: std::result::Result<String, String>,
    },
}

/// Performs commands and polls; used by [`run`] and by the benchmark.
pub struct Runtime {
    pub journal: Journal,
    pub(super) settings: TuiSettings,
    /// The newest event seen.
    seq: i64,
    /// The pending rows last loaded, and which of them were stale.
    rows: Vec<InboxRow>,
    stale: BTreeSet<i64>,
    driving: BTreeSet<i64>,
    /// Runs decided on while this process drove them: drive again when it stops.
    again: BTreeSet<i64>,
    /// The tripped breakers last sent (sent again only when they change).
    breakers: Option<Vec<crate::health::Breaker>>,
    tx: mpsc::Sender<Bg>,
    rx: mpsc::Receiver<Bg>,
}

impl Runtime {
    pub fn new(settings: TuiSettings) -> Result<Runtime> {
        let journal = settings.journal()?;
        let (tx, rx) = mpsc::channel();
        Ok(Runtime {
            journal,
            settings,
            seq: 0,
            rows: Vec::new(),
            stale: BTreeSet::new(),
            driving: BTreeSet::new(),
            again: BTreeSet::new(),
            breakers: None,
            tx,
            rx,
        })
    }

    /// The model's settings.
    pub fn model_settings(&self) -> Settings {
        Settings {
            no_color: self.settings.no_color,
            external_editor: self.settings.editor.is_some(),
        }
    }

    /// The items of `rows`, with their staleness resolved.
    fn items(&mut self) -> Vec<Item> {
        let mut cache = VersionCache::default();
        let mut stale = BTreeSet::new();
        for r in &self.rows {
            if !r.versions.is_empty()
                && !self.journal.stale_refs(&r.versions, &mut cache).is_empty()
            {
                stale.insert(r.id);
            }
        }
        let items = self
            .rows
            .iter()
            .map(|r| Item::new(r.clone(), stale.contains(&r.id)))
            .collect();
        self.stale = stale;
        items
    }

    /// Staleness depends on things outside the journal (files): re-check it, and say
    /// whether it changed.
    fn stale_changed(&mut self) -> bool {
        let mut cache = VersionCache::default();
        let now: BTreeSet<i64> = self
            .rows
            .iter()
            .filter(|r| {
                !r.versions.is_empty()
                    && !self.journal.stale_refs(&r.versions, &mut cache).is_empty()
            })
            .map(|r| r.id)
            .collect();
        now != self.stale
    }

    /// Look for changes (all of them when `force`): new or decided items, run
    /// progress, staleness, the clock.
    pub fn poll(&mut self, m: &Model, force: bool) -> Result<Vec<Msg>> {
        let mut out = vec![Msg::Tick(self.settings.clock.now_ms())];
        let ch = self.journal.changes_since(self.seq)?;
        self.seq = ch.seq;
        let mut inbox_changed = force || ch.inbox;
        if inbox_changed {
            self.rows = self.journal.inbox_rows()?;
        }
        if inbox_changed || self.stale_changed() {
            inbox_changed = true;
            let items = self.items();
            out.push(Msg::Inbox(items));
        }
        if force || ch.runs || ch.inbox {
            out.push(Msg::Runs(self.journal.runs(None, 500)?));
            if let Screen::Timeline { run, .. } = m.screen {
                out.push(Msg::Timeline(Box::new(self.timeline(run)?)));
            }
            if m.screen == Screen::Overview {
                out.push(Msg::Stats(Box::new(self.stats()?)));
            }
        }
        // Breakers have their own log (no run event when one closes): a small table,
        // read on every look.
        if let Some(b) = self.tripped_breakers(force)? {
            out.push(b);
        }
        // The shown detail may have changed (decided elsewhere, snoozed, stale).
        if (inbox_changed || ch.runs)
            && let Some(d) = &m.detail
            && self.rows.iter().any(|r| r.id == d.record.id)
        {
            out.push(Msg::Detail(Box::new(self.detail(d.record.id)?)));
        }
        while let Ok(bg) = self.rx.try_recv() {
            match bg {
                Bg::Ended { run, outcome } => {
                    self.driving.remove(&run);
                    out.push(Msg::DriveEnded { run, outcome });
                    if self.again.remove(&run) {
                        out.extend(self.drive(run));
                    }
                }
            }
        }
        Ok(out)
    }

    /// The open and half-open breakers, when they changed since last sent (or `force`).
    fn tripped_breakers(&mut self, force: bool) -> Result<Option<Msg>> {
        let now: Vec<_> = self
            .journal
            .breakers()?
            .into_iter()
            .filter(|b| b.is_tripped())
            .collect();
        if !force && self.breakers.as_ref() == Some(&now) {
            return Ok(None);
        }
        self.breakers = Some(now.clone());
        Ok(Some(Msg::Breakers(now)))
    }

    /// The Overview tab's figures, against the config's caps (as `aios stats`).
    fn stats(&self) -> Result<crate::journal::stats::Stats> {
        let caps = self.settings.run_env.agent.caps;
        self.journal.stats(caps.daily_usd, caps.monthly_usd)
    }

    fn detail(&self, id: i64) -> Result<Detail> {
        let record = self.journal.proposal(id)?;
        let stale = self.journal.stale(&record.evidence);
        let snoozed_until = self.journal.snoozed_until(id)?;
        Ok(Detail::new(record, stale, snoozed_until))
    }

    fn timeline(&self, run: i64) -> Result<Timeline> {
        let r = self.journal.run(run)?;
        let steps = self.journal.steps(run)?;
        let done = steps
            .iter()
            .filter(|s| {
                matches!(
                    s.status,
                    crate::journal::StepStatus::Succeeded | crate::journal::StepStatus::Skipped
                )
            })
            .count() as i64;
        let events = self
            .journal
            .events(run)?
            .iter()
            .map(|e| (e.at, crate::commands::log::describe(&e.event)))
            .collect();
        Ok(Timeline {
            run: RunSummary {
                id: r.id,
                workflow: r.workflow,
                status: r.status,
                created_at: r.created_at,
                updated_at: r.updated_at,
                steps_total: steps.len() as i64,
                steps_done: done,
            },
            error: r.error,
            inputs: engine::cancel::shown_inputs(&r.inputs),
            steps,
            events,
        })
    }

    /// Continue `run` in a background thread with its own journal connection.
    fn drive(&mut self, run: i64) -> Vec<Msg> {
        if self.driving.contains(&run) {
            // The live driver may be about to stop: make sure the decision is seen.
            self.again.insert(run);
            return Vec::new();
        }
        self.driving.insert(run);
        let tx = self.tx.clone();
        let s = self.settings.clone();
        std::thread::spawn(move || {
            let result = s.journal().and_then(|mut j| {
                engine::resume(&mut j, run, &s.run_env, &mut Quiet, Mode::Continue)
            });
            let outcome = match result {
                Ok(o) => match o.status {
                    RunStatus::Waiting => Ok("waits for you".to_string()),
                    RunStatus::Failed => Err(format!(
                        "failed ({})",
                        o.error.unwrap_or_else(|| "see its timeline".into())
                    )),
                    s => Ok(s.as_str().to_string()),
                },
                Err(e) if e.kind == ErrorKind::Conflict => Ok(format!(
                    "continues elsewhere ({}); the decision is recorded",
                    e.message
                )),
                Err(e) => Err(format!("stopped: {}", e.message)),
            };
            let _ = tx.send(Bg::Ended { run, outcome });
        });
        vec![Msg::DriveStarted(run)]
    }

    /// Propose the compensation of failed run `run` in a background thread (as
    /// `aios approve ID --compensate` does).
    fn compensate(&mut self, run: i64) -> Vec<Msg> {
        self.driving.insert(run);
        let tx = self.tx.clone();
        let s = self.settings.clone();
        std::thread::spawn(move || {
            let result = s.journal().and_then(|mut j| {
                let plan = engine::compensate::plan(&j, run, &[], &s.run_env)?;
                engine::compensate::propose(&mut j, &plan, &s.run_env, &mut Quiet)
            });
            let outcome = match result {
                Ok(Some(o)) => Ok(format!(
                    "is undone by run {}, which waits for you",
                    o.run_id
                )),
                Ok(None) => Ok("has nothing that can be undone".to_string()),
                Err(e) => Err(format!("cannot be undone: {}", e.message)),
            };
            let _ = tx.send(Bg::Ended { run, outcome });
        });
        vec![Msg::DriveStarted(run)]
    }

    /// Perform one command. `term` is needed to hand the screen to an editor.
    pub fn perform(&mut self, cmd: Cmd, m: &Model, term: Option<&mut Term>) -> Result<Vec<Msg>> {
        match cmd {
            Cmd::Quit => Ok(Vec::new()),
            Cmd::LoadDetail(id) => match self.detail(id) {
                Ok(d) => Ok(vec![Msg::Detail(Box::new(d))]),
                // Decided and gone meanwhile: the next poll removes it.
                Err(e) if e.kind == ErrorKind::NotFound => Ok(Vec::new()),
                Err(e) => Err(e),
            },
            Cmd::LoadTimeline(run) => Ok(vec![Msg::Timeline(Box::new(self.timeline(run)?))]),
            Cmd::LoadStats => Ok(vec![Msg::Stats(Box::new(self.stats()?))]),
            Cmd::Decide {
                ids,
                decision,
                reason,
                edit,
                fields,
                confirm_stale,
            } => {
                let mut done = Vec::new();
                let mut failed = Vec::new();
                let mut runs = BTreeSet::new();
                let mut compensate = BTreeSet::new();
                for id in ids {
                    let req = DecideRequest {
                        decision,
                        reason: reason.clone(),
                        edit: edit.as_ref().map(|text| Edit {
                            origin: "the edit".into(),
                            text: text.clone(),
                            secrets: self.settings.run_env.secrets.clone(),
                            trust: self.settings.run_env.trust.clone(),
                        }),
                        fields: fields.clone(),
                        by: self.settings.operator.clone(),
                        confirm_stale,
                    };
                    match inbox::decide(&mut self.journal, id, req) {
                        Ok(p) => {
                            done.push((id, verb(&p)));
                            // A notice belongs to no run: nothing to continue. A
                            // failure item abandoned or compensated closes its run
                            // (a compensation is proposed as a run of its own).
                            let closes = p.kind == crate::journal::ProposalKind::Failure
                                && (p.decision == Some(crate::journal::Decision::Reject)
                                    || crate::journal::FailureChoice::of(p.fields.as_ref())
                                        == crate::journal::FailureChoice::Compensate);
                            if closes && p.decision == Some(crate::journal::Decision::Approve) {
                                compensate.insert(p.run_id);
                            } else if p.kind != crate::journal::ProposalKind::Notice && !closes {
                                runs.insert(p.run_id);
                            }
                        }
                        // The message alone: its hint is a command line, and every
                        // choice has its key here.
                        Err(e) => failed.push((id, e.message)),
                    }
                }
                let mut out = vec![Msg::Decided { done, failed }];
                for run in runs {
                    out.extend(self.drive(run));
                }
                for run in compensate {
                    out.extend(self.compensate(run));
                }
                out.extend(self.poll(m, false)?);
                Ok(out)
            }
            Cmd::Snooze { ids, until } => {
                let mut failed = Vec::new();
                let mut count = 0;
                for id in ids {
                    match self.journal.snooze(id, until, &self.settings.operator) {
                        Ok(_) => count += 1,
                        Err(e) => failed.push((id, with_hint(&e))),
                    }
                }
                let mut out = vec![Msg::Snoozed {
                    count,
                    until,
                    failed,
                }];
                out.extend(self.poll(m, false)?);
                Ok(out)
            }
            Cmd::Unsnooze(ids) => {
                let mut done = 0;
                let mut failed = Vec::new();
                for id in ids {
                    match self.journal.unsnooze(id, &self.settings.operator) {
                        Ok(_) => done += 1,
                        Err(e) => failed.push(format!("item {id}: {}", e.message)),
                    }
                }
                let msg = match failed.first() {
                    Some(e) => Msg::Status {
                        text: format!("not unsnoozed: {e}"),
                        error: true,
                    },
                    None => Msg::Status {
                        text: format!("{} back in the inbox", crate::text::count(done, "item")),
                        error: false,
                    },
                };
                let mut out = vec![msg];
                out.extend(self.poll(m, false)?);
                Ok(out)
            }
            Cmd::Resume(run) => {
                let mut out = self.drive(run);
                out.extend(self.poll(m, false)?);
                Ok(out)
            }
            Cmd::Cancel { run, reason } => {
                let data_dir = self
                    .settings
                    .db_path
                    .parent()
                    .map(PathBuf::from)
                    .unwrap_or_default();
                let msg = match engine::cancel::cancel(&mut self.journal, run, reason, &data_dir) {
                    Ok(done) => Msg::Status {
                        text: match done.executor {
                            Some(owner) => format!(
                                "run {run} cancelled; process {owner} executing it stops within a second"
                            ),
                            None => format!("run {run} cancelled"),
                        },
                        error: false,
                    },
                    Err(e) => Msg::Status {
                        text: e.message,
                        error: true,
                    },
                };
                let mut out = vec![msg];
                out.extend(self.poll(m, false)?);
                Ok(out)
            }
            Cmd::CloseBreaker(target) => {
                let msg = match self.journal.close_breaker(&target, "the operator") {
                    Ok(b) => Msg::Status {
                        text: format!(
                            "circuit breaker {} closed: the steps it held go at the next tick",
                            b.target
                        ),
                        error: false,
                    },
                    Err(e) => Msg::Status {
                        text: e.message,
                        error: true,
                    },
                };
                let mut out = vec![msg];
                out.extend(self.poll(m, false)?);
                Ok(out)
            }
            Cmd::CheckEdit { id, text } => {
                let result = self.journal.proposal(id).and_then(|p| {
                    inbox::preview_edit(
                        &p,
                        &Edit {
                            origin: "the edit".into(),
                            text: text.clone(),
                            secrets: self.settings.run_env.secrets.clone(),
                            trust: self.settings.run_env.trust.clone(),
                        },
                    )
                });
                let result = match result {
                    Ok((_, diff)) => Ok(diff),
                    Err(e) => Err(e.message),
                };
                Ok(vec![Msg::EditChecked { id, text, result }])
            }
            Cmd::ExternalEdit { id, text } => {
                let edited = match term {
                    Some(term) => self.external_edit(id, &text, term)?,
                    None => None,
                };
                Ok(vec![Msg::EditorClosed {
                    id,
                    text: edited.filter(|t| *t != text),
                }])
            }
        }
    }

    /// Hand the terminal to `$VISUAL`/`$EDITOR` on a file holding `text`; take it back.
    fn external_edit(&self, id: i64, text: &str, term: &mut Term) -> Result<Option<String>> {
        let Some(editor) = self.settings.editor.clone() else {
            return Ok(None);
        };
        let dir = self
            .settings
            .db_path
            .parent()
            .map(PathBuf::from)
            .unwrap_or_default();
        let path = dir.join(format!("inbox-{id}-edit.json"));
        // Private, like the database the action comes from.
        let written = {
            use std::io::Write as _;
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            opts.open(&path)
                .and_then(|mut f| f.write_all(text.as_bytes()))
        };
        written.map_err(|e| Error::other(format!("cannot write {}: {e}", path.display())))?;
        restore_terminal();
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{editor} \"$1\""))
            .arg("aios-edit")
            .arg(&path)
            .status();
        enter_terminal().map_err(term_error)?;
        term.clear().map_err(term_error)?;
        let edited = std::fs::read_to_string(&path);
        let _ = std::fs::remove_file(&path);
        match status {
            Ok(s) if s.success() => Ok(edited.ok()),
            _ => Ok(None),
        }
    }
}

fn verb(p: &ProposalRecord) -> &'static str {
    match p.decision {
        Some(Decision::Approve) if p.edited.is_some() => "approved with edits",
        Some(Decision::Approve) => "approved",
        Some(Decision::Reject) => "rejected",
        Some(Decision::Done) => "marked done",
        None => "decided",
    }
}

fn with_hint(e: &Error) -> String {
    match &e.hint {
        Some(h) => format!("{} ({h})", e.message),
        None => e.message.clone(),
    }
}
