//! The journal's interface, split by concern: one trait per kind of record (runs and
//! events, the inbox, leases, schedules and fires, the LLM ledger, memory, hooks,
//! breakers, rate limits, notifications, mail, trust, health, statistics, the
//! ready-work queue and its workers).
//!
//! Each backend implements every trait: the SQLite [`SqliteJournal`] by delegating to
//! its inherent methods (`sqlite.rs`), the PostgreSQL [`PgJournal`](super::pg::PgJournal)
//! in `journal::pg` (every concern; what only the SQLite file does, such as backups,
//! answers `pg::not_supported` there). The
//! traits are written through `concern!`, which also writes the [`Journal`] facade's
//! side: each method dispatched to the backend, as a trait impl and as an inherent
//! method (so call sites need no trait in scope). `tests_drift` fails when a public
//! SQLite journal method is named by no trait, so the journal cannot grow past them.
//!
//! Secrets are not journaled (only their names appear in workflows and hooks), so there
//! is no secrets concern here.

mod sqlite;
mod sqlite_records;
#[cfg(test)]
mod tests_drift;

use std::collections::HashSet;

use serde_json::Value as Json;

use super::facade::Backend;
use super::notices::NoticeRecord;
use super::notify::{DigestFacts, NewNotification, NotificationRecord, NotifySources};
use super::stats::Stats;
use super::*;
use crate::clock::Millis;
use crate::connectors::Target;
use crate::error::Result;
use crate::health::breaker::{Admit, Breaker, BreakerEvent, BreakerPolicy};
use crate::rate::Rate;

/// Writes a concern's trait as given, then [`Journal`]'s side of it: `impl Trait for
/// Journal` whose every method matches on the backend and calls the backend's method
/// of the same name with the same arguments, and the same methods inherent to
/// `Journal` (calling the trait's), so the program calls them without importing the
/// trait. Methods take `&self` or `&mut self` and return a value.
macro_rules! concern {
    (@munch $trait:ident [$($imp:tt)*] [$($inh:tt)*]) => {
        impl $trait for Journal {
            $($imp)*
        }
        impl Journal {
            $($inh)*
        }
    };
    (@munch $trait:ident [$($imp:tt)*] [$($inh:tt)*]
        $(#[$m:meta])* fn $name:ident(&self $(, $a:ident: $t:ty)* $(,)?) -> $r:ty;
        $($rest:tt)*
    ) => {
        concern!(@munch $trait
            [$($imp)*
                $(#[$m])*
                fn $name(&self $(, $a: $t)*) -> $r {
                    match &self.0 {
                        Backend::Sqlite(j) => j.$name($($a),*),
                        Backend::Postgres(j) => j.$name($($a),*),
                    }
                }
            ]
            [$($inh)*
                $(#[$m])*
                #[doc = concat!("See [`", stringify!($trait), "::", stringify!($name), "`].")]
                pub fn $name(&self $(, $a: $t)*) -> $r {
                    <Journal as $trait>::$name(self $(, $a)*)
                }
            ]
            $($rest)*
        );
    };
    (@munch $trait:ident [$($imp:tt)*] [$($inh:tt)*]
        $(#[$m:meta])* fn $name:ident(&mut self $(, $a:ident: $t:ty)* $(,)?) -> $r:ty;
        $($rest:tt)*
    ) => {
        concern!(@munch $trait
            [$($imp)*
                $(#[$m])*
                fn $name(&mut self $(, $a: $t)*) -> $r {
                    match &mut self.0 {
                        Backend::Sqlite(j) => j.$name($($a),*),
                        Backend::Postgres(j) => j.$name($($a),*),
                    }
                }
            ]
            [$($inh)*
                $(#[$m])*
                #[doc = concat!("See [`", stringify!($trait), "::", stringify!($name), "`].")]
                pub fn $name(&mut self $(, $a: $t)*) -> $r {
                    <Journal as $trait>::$name(self $(, $a)*)
                }
            ]
            $($rest)*
        );
    };
    ($(#[$attr:meta])* pub trait $trait:ident { $($body:tt)* }) => {
        $(#[$attr])*
        pub trait $trait {
            $($body)*
        }
        concern!(@munch $trait [] [] $($body)*);
    };
}

concern! {
/// Circuit breakers per target and the steps they hold.
pub trait BreakerStore {
    fn breakers(&self) -> Result<Vec<Breaker>>;
    fn breaker(&self, target: &Target) -> Result<Option<Breaker>>;
    fn breaker_admit(&mut self, target: &Target, policy: &BreakerPolicy, by: &str)
    -> Result<Admit>;
    fn breaker_report(
        &mut self,
        target: &Target,
        policy: &BreakerPolicy,
        verdict: &Verdict,
    ) -> Result<Option<BreakerEvent>>;
    fn close_breaker(&mut self, target: &Target, by: &str) -> Result<Breaker>;
    fn breaker_events(&self, target: &Target) -> Result<Vec<(Millis, BreakerEvent)>>;
    fn replay_breakers(&self) -> Result<(usize, Vec<String>)>;
    fn held_steps(&self) -> Result<Vec<HeldStep>>;
}
}

concern! {
/// Failure items: a failed run's item in the inbox, committed with its events.
pub trait FailureStore {
    fn commit_failure(
        &mut self,
        run_id: i64,
        events: &[Event],
        failure: &Failure,
        attempt: u32,
    ) -> Result<Vec<Event>>;
    fn withdraw_failure(&mut self, run: i64, why: &str) -> Result<Vec<Event>>;
}
}

concern! {
/// Runs and their events: creating runs (ids from the journal), committing events with their projections in one transaction, reading runs, steps and the log.
pub trait RunStore {
    fn runs_of_workflow(&self, name: &str) -> Result<Vec<(i64, RunStatus)>>;
    fn now(&self) -> Millis;
    fn commit(&mut self, run_id: i64, events: &[Event]) -> Result<i64>;
    fn create_run(&mut self, source: &str, created: Event) -> Result<i64>;
    fn run(&self, id: i64) -> Result<RunRecord>;
    fn runs(&self, status: Option<RunStatus>, limit: usize) -> Result<Vec<RunSummary>>;
    fn runs_of(
        &self,
        status: Option<RunStatus>,
        limit: usize,
        dry: bool,
    ) -> Result<Vec<RunSummary>>;
    fn run_by_uid(&self, uid: &str) -> Result<Option<(i64, RunStatus)>>;
    fn run_status(&self, id: i64) -> Result<RunStatus>;
    fn run_times(&self, id: i64) -> Result<RunTimes>;
    fn steps(&self, run: i64) -> Result<Vec<StepRecord>>;
    fn events(&self, run: i64) -> Result<Vec<EventRecord>>;
}
}

concern! {
/// Health: heartbeats, backups and the database's own checks.
pub trait HealthStore {
    fn beat(&mut self, name: &str, by: &str, detail: &Json) -> Result<()>;
    fn heartbeat(&self, name: &str) -> Result<Option<Heartbeat>>;
    fn backup_to(&self, dest: &Path) -> Result<u64>;
    fn live_leases(&self) -> Result<Vec<(i64, String)>>;
    fn restore_from(&mut self, src: &Path) -> Result<()>;
    fn pending_by_kind(&self) -> Result<Vec<PendingKind>>;
    fn next_wake(&self) -> Result<Option<Millis>>;
    fn active_runs(&self) -> Result<(i64, i64)>;
    fn integrity_check(&self) -> Result<String>;
}
}

concern! {
/// Webhooks: their settings and the requests received.
pub trait HookStore {
    fn put_hook(
        &mut self,
        name: &str,
        path: &str,
        dir: &str,
        source: &str,
        settings: &HookSettings,
    ) -> Result<bool>;
    fn hook(&self, name: &str) -> Result<Option<(HookRecord, String)>>;
    fn hooks(&self) -> Result<Vec<HookRecord>>;
    fn remove_hook(&mut self, name: &str) -> Result<bool>;
    fn create_runs(
        &mut self,
        runs: &[(&str, Event)],
        owner: &Owner,
        ttl_ms: i64,
    ) -> Result<Vec<i64>>;
}
}

concern! {
/// The inbox's views and upkeep: rows for the TUI, changes since a point, snoozes, reopening withdrawn items.
pub trait InboxUpkeep {
    fn inbox_rows(&self) -> Result<Vec<InboxRow>>;
    fn changes_since(&self, since: i64) -> Result<Changes>;
    fn snooze(&mut self, proposal: i64, until: Millis, by: &str) -> Result<ProposalRecord>;
    fn unsnooze(&mut self, proposal: i64, by: &str) -> Result<ProposalRecord>;
    fn snoozed_until(&self, proposal: i64) -> Result<Option<Millis>>;
    fn reopen_withdrawn(&mut self, run: i64) -> Result<Vec<Event>>;
}
}

concern! {
/// Leases: which process executes a run, until when.
pub trait LeaseStore {
    fn acquire_lease(
        &mut self,
        run: i64,
        owner: &Owner,
        ttl_ms: i64,
    ) -> Result<Result<Option<String>, LeaseHeld>>;
    fn renew_lease(&mut self, run: i64, owner: &Owner, ttl_ms: i64) -> Result<()>;
    fn abandon_lease(&mut self, run: i64, owner: &Owner) -> Result<()>;
    fn live_executor(&self, run: &super::RunRecord, me: &Owner) -> Option<String>;
    fn release_lease(&mut self, run: i64, owner: &Owner) -> Result<()>;
}
}

concern! {
/// The LLM ledger: every model call, its cost and outcome.
pub trait LlmLedger {
    fn llm_calls(&self, f: &CallFilter) -> Result<Vec<LlmCallRecord>>;
    fn schema_refusal(
        &self,
        provider: &str,
        model: &str,
        url: &str,
        since: Millis,
    ) -> Result<Option<(i64, Millis)>>;
    fn llm_tokens_since(&self, since: Millis) -> Result<(u64, u64)>;
    fn llm_spent_by_run(&self, run: i64) -> Result<f64>;
    fn llm_spent_since(&self, since: Millis) -> Result<f64>;
    fn llm_spent_by_persona_since(&self, persona: &str, since: Millis) -> Result<f64>;
    fn llm_spend_by_workflow(&self, since: Millis) -> Result<Vec<Spend>>;
    fn budget_raised(&self, run: i64) -> Result<f64>;
}
}

concern! {
/// Mail watches, message uids and their events.
pub trait MailStore {
    fn put_mail_watch(&mut self, spec: MailWatchSpec, source: &str) -> Result<bool>;
    fn has_mail_watch(&self, name: &str) -> Result<bool>;
    fn mail_watch(&self, name: &str) -> Result<MailWatchRecord>;
    fn mail_watches(&self) -> Result<Vec<MailWatchRecord>>;
    fn mail_watch_source(&self, name: &str) -> Result<(MailWatchRecord, String)>;
    fn set_mail_watch_paused(&mut self, name: &str, paused: bool) -> Result<bool>;
    fn remove_mail_watch(&mut self, name: &str) -> Result<()>;
    fn mail_decided(
        &self,
        watch: &str,
        account: &str,
        folder: &str,
        uidvalidity: u32,
        uids: &[u32],
    ) -> Result<HashSet<u32>>;
    fn mail_unflagged(
        &self,
        watch: &str,
        account: &str,
        folder: &str,
        uidvalidity: u32,
    ) -> Result<Vec<u32>>;
    fn record_mail(&mut self, watch: &str, m: IncomingMail) -> Result<MailRecorded>;
    fn mail_flagged(
        &mut self,
        watch: &str,
        account: &str,
        folder: &str,
        uidvalidity: u32,
        uids: Vec<u32>,
        how: &str,
    ) -> Result<()>;
    fn mail_validity(
        &mut self,
        watch: &str,
        account: &str,
        folder: &str,
        to: u32,
    ) -> Result<Option<Option<u32>>>;
    fn mail_poll_failed(&mut self, watch: &str, error: &str) -> Result<(Millis, bool)>;
    fn mail_poll_ok(&mut self, watch: &str) -> Result<bool>;
    fn mail_messages(&self, watch: &str, limit: usize) -> Result<Vec<MailRecord>>;
    fn has_cron_schedule(&self, name: &str) -> Result<bool>;
}
}

concern! {
/// Memory: facts, documents, search and vectors.
pub trait MemoryStore {
    fn commit_allocated(
        &mut self,
        run_id: i64,
        build: impl FnOnce(&Alloc<'_>) -> Result<Vec<Event>>,
    ) -> Result<Vec<Event>>;
    fn set_fact(
        &mut self,
        entity: &str,
        key: &str,
        value: &Json,
        origin: FactOrigin,
    ) -> Result<FactRecord>;
    fn fact(&self, entity: &str, key: &str) -> Result<Option<FactRecord>>;
    fn fact_version(&self, entity: &str, key: &str) -> Result<Option<i64>>;
    fn facts(&self, entity: &str) -> Result<Vec<FactRecord>>;
    fn fact_history(&self, entity: &str, key: &str) -> Result<Vec<FactRecord>>;
    fn fact_entities(&self) -> Result<Vec<String>>;
    fn add_notes(&mut self, notes: &[NewNote]) -> Result<Vec<i64>>;
    fn doc(&self, id: i64) -> Result<Option<DocRecord>>;
    fn docs(&self, ids: &[i64]) -> Result<Vec<DocRecord>>;
    fn forget_note(&mut self, id: i64) -> Result<DocRecord>;
    fn search_fts(
        &self,
        query: &str,
        limit: usize,
        kinds: &[&str],
    ) -> Result<Vec<(DocRecord, f64)>>;
    fn term_doc_counts(&self, words: &[String]) -> Result<(i64, Vec<i64>)>;
    fn doc_counts(&self) -> Result<Vec<(String, i64)>>;
    fn put_vectors(&mut self, rows: &[VectorRow]) -> Result<()>;
    fn docs_missing_vectors(&self, model: &str, limit: usize) -> Result<Vec<(i64, String)>>;
    fn scan_sketches(&self, f: impl FnMut(i64, &[u8])) -> Result<()>;
    fn vectors(&self, docs: &[i64], model: &str) -> Result<Vec<(i64, Vec<f32>)>>;
    fn step_decisions(&self, workflow: &str, step: &str, limit: usize) -> Result<Vec<DocRecord>>;
    fn outcomes(&self, run: i64) -> Result<Vec<OutcomeRecord>>;
    fn all_facts(&self) -> Result<Vec<FactRecord>>;
    fn unset_fact(
        &mut self,
        entity: &str,
        key: &str,
        by: &str,
        note: Option<String>,
    ) -> Result<FactRecord>;
    fn replay_fact_tombstones(&self) -> Result<(usize, Vec<String>)>;
    fn replay_recorded_facts(&self) -> Result<(usize, Vec<String>)>;
    fn notes(&self, tag: Option<&str>) -> Result<Vec<DocRecord>>;
    fn list_docs(
        &self,
        kind: &str,
        tag: Option<&str>,
        workflow: Option<&str>,
        fts: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DocRecord>>;
}
}

concern! {
/// The inbox: proposals created (ids from the journal, once per step attempt and kind), decided once (compare-and-swap), read.
pub trait InboxStore {
    #[allow(clippy::too_many_arguments)]
    fn create_proposal(
        &mut self,
        run_id: i64,
        step: &str,
        attempt: u32,
        kind: ProposalKind,
        summary: String,
        action: serde_json::Value,
        evidence: serde_json::Value,
    ) -> Result<Option<i64>>;
    #[allow(clippy::too_many_arguments)]
    fn create_proposal_with(
        &mut self,
        run_id: i64,
        step: &str,
        attempt: u32,
        kind: ProposalKind,
        summary: String,
        action: serde_json::Value,
        evidence: serde_json::Value,
        deadline: Option<(Millis, String)>,
    ) -> Result<Option<i64>>;
    fn decide(&mut self, proposal: i64, decide: DecisionInput) -> Result<ProposalRecord>;
    fn proposal(&self, id: i64) -> Result<ProposalRecord>;
    fn inbox(&self, all: bool) -> Result<Vec<ProposalRecord>>;
    fn run_proposals(&self, run: i64) -> Result<Vec<ProposalRecord>>;
}
}

concern! {
/// Notices: inbox items about schedules, not runs (ids shared with proposals).
pub trait NoticeStore {
    fn raise_notice(
        &mut self,
        schedule: &str,
        kind: &str,
        key: &str,
        summary: &str,
        data: Json,
    ) -> Result<Option<i64>>;
    fn notices(&self, all: bool) -> Result<Vec<NoticeRecord>>;
    fn notice(&self, id: i64) -> Result<Option<NoticeRecord>>;
    fn acknowledge_notice(
        &mut self,
        id: i64,
        by: &str,
        reason: Option<String>,
    ) -> Result<NoticeRecord>;
}
}

concern! {
/// Notifications: what was sent, to whom, and its delivery.
pub trait NotifyStore {
    fn queue_notifications(&mut self, items: &[NewNotification]) -> Result<Vec<i64>>;
    fn claim_notifications(
        &mut self,
        by: &str,
        hold: Millis,
        limit: usize,
    ) -> Result<Vec<NotificationRecord>>;
    fn notification_sent(&mut self, id: i64, by: &str, reply: &str) -> Result<bool>;
    fn notification_failed(
        &mut self,
        id: i64,
        by: &str,
        error: &str,
        next_at: Option<Millis>,
    ) -> Result<bool>;
    fn notification_keys(&self, key: &str) -> Result<Vec<String>>;
    fn notifications(&self, limit: usize) -> Result<Vec<NotificationRecord>>;
    fn notify_sources(&self, horizon: Millis) -> Result<NotifySources>;
    fn digest_facts(&self, since: Millis, day: Millis, month: Millis) -> Result<DigestFacts>;
}
}

concern! {
/// Rate limits: grants taken per target.
pub trait RateStore {
    fn take_turn(
        &mut self,
        taker: Taker<'_>,
        target: &str,
        rate: &Rate,
    ) -> Result<(Millis, Option<Event>)>;
    fn turns(&self, target: &str) -> Result<Vec<Millis>>;
}
}

concern! {
/// Runs' upkeep: replaying a run's projections, moving a run to a new workflow definition, pruning dry runs.
pub trait RunUpkeep {
    fn replay(&mut self, run: i64) -> Result<ReplayReport>;
    fn change_workflow(&mut self, run_id: i64, source: &str, events: &[Event]) -> Result<i64>;
    fn prune_dry_runs(&mut self) -> Result<Pruned>;
}
}

concern! {
/// Schedules and their fires (keyed per schedule and instant).
pub trait ScheduleStore {
    fn add_schedule(
        &mut self,
        spec: ScheduleSpec,
        source: &str,
        next_due: impl Fn(Millis) -> Option<Millis>,
    ) -> Result<bool>;
    fn schedule(&self, name: &str) -> Result<ScheduleRecord>;
    fn schedules(&self) -> Result<Vec<ScheduleRecord>>;
    fn set_schedule_paused(
        &mut self,
        name: &str,
        paused: bool,
        next_due: impl Fn(Millis) -> Option<Millis>,
    ) -> Result<bool>;
    fn remove_schedule(&mut self, name: &str) -> Result<()>;
    fn due_schedules(&self, now: Millis) -> Result<Vec<String>>;
    fn fires(&self, name: &str, limit: usize) -> Result<Vec<FireRecord>>;
    fn decide_fires(
        &mut self,
        name: &str,
        planner: impl FnOnce(&FireState) -> Result<Option<FirePlan>>,
    ) -> Result<FireOutcome>;
    fn schedule_source(&self, name: &str) -> Result<(ScheduleRecord, String)>;
    fn runs_to_continue(&self, now: Millis, stale_ms: Millis) -> Result<Vec<i64>>;
}
}

concern! {
/// Statistics over runs for `aios stats`.
pub trait StatsStore {
    fn stats(&self, daily_cap_usd: Option<f64>, monthly_cap_usd: Option<f64>) -> Result<Stats>;
}
}

concern! {
/// Timers and decision deadlines: when steps wake, which deadlines passed, reminders.
pub trait TimerStore {
    fn wake_times(&self, run: i64) -> Result<Vec<(String, Millis)>>;
    fn expired_deadlines(&self, now: Millis) -> Result<Vec<ProposalRecord>>;
    fn remind(&mut self, proposal: i64, seen: Millis, next_due: Millis) -> Result<Option<u32>>;
    fn next_deadline(&self, run: i64) -> Result<Option<Millis>>;
}
}

concern! {
/// Trust: autonomy marks and per-step statistics.
pub trait TrustStore {
    fn step_stats(&self, workflow: &str, step: &str) -> Result<StepStats>;
    fn all_step_stats(&self) -> Result<Vec<StepStats>>;
    fn trust_marks(&self, workflow: &str, step: &str) -> Result<Vec<TrustMark>>;
    fn mark_trust(
        &mut self,
        run: i64,
        workflow: &str,
        step: &str,
        promoted: bool,
        by: &str,
        reason: Option<String>,
    ) -> Result<TrustMark>;
}
}

concern! {
/// The ready-work queue and the workers that claim it (operational state, like leases: not events; see `journal::work`).
pub trait Work {
    fn create_queued_run(&mut self, source: &str, created: Event, tags: &[String]) -> Result<i64>;
    fn hand_off(&mut self, run: i64, tags: &[String], owner: &Owner) -> Result<()>;
    fn claim_work(
        &mut self,
        worker: &Owner,
        tags: &[String],
        ttl_ms: i64,
    ) -> Result<Option<WorkItem>>;
    fn renew_work(&mut self, run: i64, worker: &Owner, ttl_ms: i64) -> Result<bool>;
    fn finish_work(&mut self, run: i64, worker: &Owner) -> Result<bool>;
    fn work_items(&self) -> Result<Vec<WorkItem>>;
    fn work_item(&self, run: i64) -> Result<Option<WorkItem>>;
    fn register_worker(
        &mut self,
        worker: &Owner,
        tags: &[String],
        concurrency: u32,
        lease_ms: i64,
    ) -> Result<()>;
    fn worker_beat(&mut self, worker: &Owner) -> Result<()>;
    fn stop_worker(&mut self, worker: &Owner) -> Result<()>;
    fn worker_records(&self, since: Millis) -> Result<Vec<WorkerRecord>>;
}
}

concern! {
/// Versions of the records evidence points at, to tell a stale proposal.
pub trait VersionStore {
    fn current_version(&self, kind: &str, key: &str) -> CurrentVersion;
    fn stale_refs(&self, refs: &[VersionRef], cache: &mut VersionCache) -> Vec<StaleRef>;
    fn stale(&self, evidence: &Json) -> Vec<StaleRef>;
}
}
