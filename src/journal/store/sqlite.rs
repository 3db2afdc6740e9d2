//! The SQLite journal implements every concern by delegating to its inherent methods.

use serde_json::Value as Json;

use super::*;
use crate::clock::Millis;
use crate::connectors::Target;
use crate::error::Result;
use crate::health::breaker::{Admit, Breaker, BreakerEvent, BreakerPolicy};
use crate::journal::notices::NoticeRecord;
use crate::journal::stats::Stats;
use crate::journal::*;
use crate::rate::Rate;

impl BreakerStore for SqliteJournal {
    fn breakers(&self) -> Result<Vec<Breaker>> {
        SqliteJournal::breakers(self)
    }
    fn breaker(&self, target: &Target) -> Result<Option<Breaker>> {
        SqliteJournal::breaker(self, target)
    }
    fn breaker_admit(
        &mut self,
        target: &Target,
        policy: &BreakerPolicy,
        by: &str,
    ) -> Result<Admit> {
        SqliteJournal::breaker_admit(self, target, policy, by)
    }
    fn breaker_report(
        &mut self,
        target: &Target,
        policy: &BreakerPolicy,
        verdict: &Verdict,
    ) -> Result<Option<BreakerEvent>> {
        SqliteJournal::breaker_report(self, target, policy, verdict)
    }
    fn close_breaker(&mut self, target: &Target, by: &str) -> Result<Breaker> {
        SqliteJournal::close_breaker(self, target, by)
    }
    fn breaker_events(&self, target: &Target) -> Result<Vec<(Millis, BreakerEvent)>> {
        SqliteJournal::breaker_events(self, target)
    }
    fn replay_breakers(&self) -> Result<(usize, Vec<String>)> {
        SqliteJournal::replay_breakers(self)
    }
    fn held_steps(&self) -> Result<Vec<HeldStep>> {
        SqliteJournal::held_steps(self)
    }
}

impl FailureStore for SqliteJournal {
    fn commit_failure(
        &mut self,
        run_id: i64,
        events: &[Event],
        failure: &Failure,
        attempt: u32,
    ) -> Result<Vec<Event>> {
        SqliteJournal::commit_failure(self, run_id, events, failure, attempt)
    }
    fn withdraw_failure(&mut self, run: i64, why: &str) -> Result<Vec<Event>> {
        SqliteJournal::withdraw_failure(self, run, why)
    }
}

impl RunStore for SqliteJournal {
    fn runs_of_workflow(&self, name: &str) -> Result<Vec<(i64, RunStatus)>> {
        SqliteJournal::runs_of_workflow(self, name)
    }
    fn now(&self) -> Millis {
        SqliteJournal::now(self)
    }
    fn commit(&mut self, run_id: i64, events: &[Event]) -> Result<i64> {
        SqliteJournal::commit(self, run_id, events)
    }
    fn create_run(&mut self, source: &str, created: Event) -> Result<i64> {
        SqliteJournal::create_run(self, source, created)
    }
    fn run(&self, id: i64) -> Result<RunRecord> {
        SqliteJournal::run(self, id)
    }
    fn runs(&self, status: Option<RunStatus>, limit: usize) -> Result<Vec<RunSummary>> {
        SqliteJournal::runs(self, status, limit)
    }
    fn runs_of(
        &self,
        status: Option<RunStatus>,
        limit: usize,
        dry: bool,
    ) -> Result<Vec<RunSummary>> {
        SqliteJournal::runs_of(self, status, limit, dry)
    }
    fn run_by_uid(&self, uid: &str) -> Result<Option<(i64, RunStatus)>> {
        SqliteJournal::run_by_uid(self, uid)
    }
    fn run_status(&self, id: i64) -> Result<RunStatus> {
        SqliteJournal::run_status(self, id)
    }
    fn run_times(&self, id: i64) -> Result<RunTimes> {
        SqliteJournal::run_times(self, id)
    }
    fn steps(&self, run: i64) -> Result<Vec<StepRecord>> {
        SqliteJournal::steps(self, run)
    }
    fn events(&self, run: i64) -> Result<Vec<EventRecord>> {
        SqliteJournal::events(self, run)
    }
}

impl HealthStore for SqliteJournal {
    fn beat(&mut self, name: &str, by: &str, detail: &Json) -> Result<()> {
        SqliteJournal::beat(self, name, by, detail)
    }
    fn heartbeat(&self, name: &str) -> Result<Option<Heartbeat>> {
        SqliteJournal::heartbeat(self, name)
    }
    fn backup_to(&self, dest: &Path) -> Result<u64> {
        SqliteJournal::backup_to(self, dest)
    }
    fn live_leases(&self) -> Result<Vec<(i64, String)>> {
        SqliteJournal::live_leases(self)
    }
    fn restore_from(&mut self, src: &Path) -> Result<()> {
        SqliteJournal::restore_from(self, src)
    }
    fn pending_by_kind(&self) -> Result<Vec<PendingKind>> {
        SqliteJournal::pending_by_kind(self)
    }
    fn next_wake(&self) -> Result<Option<Millis>> {
        SqliteJournal::next_wake(self)
    }
    fn active_runs(&self) -> Result<(i64, i64)> {
        SqliteJournal::active_runs(self)
    }
    fn integrity_check(&self) -> Result<String> {
        SqliteJournal::integrity_check(self)
    }
}

impl HookStore for SqliteJournal {
    fn put_hook(
        &mut self,
        name: &str,
        path: &str,
        dir: &str,
        source: &str,
        settings: &HookSettings,
    ) -> Result<bool> {
        SqliteJournal::put_hook(self, name, path, dir, source, settings)
    }
    fn hook(&self, name: &str) -> Result<Option<(HookRecord, String)>> {
        SqliteJournal::hook(self, name)
    }
    fn hooks(&self) -> Result<Vec<HookRecord>> {
        SqliteJournal::hooks(self)
    }
    fn remove_hook(&mut self, name: &str) -> Result<bool> {
        SqliteJournal::remove_hook(self, name)
    }
    fn create_runs(
        &mut self,
        runs: &[(&str, Event)],
        owner: &Owner,
        ttl_ms: i64,
    ) -> Result<Vec<i64>> {
        SqliteJournal::create_runs(self, runs, owner, ttl_ms)
    }
}

impl InboxUpkeep for SqliteJournal {
    fn inbox_rows(&self) -> Result<Vec<InboxRow>> {
        SqliteJournal::inbox_rows(self)
    }
    fn changes_since(&self, since: i64) -> Result<Changes> {
        SqliteJournal::changes_since(self, since)
    }
    fn snooze(&mut self, proposal: i64, until: Millis, by: &str) -> Result<ProposalRecord> {
        SqliteJournal::snooze(self, proposal, until, by)
    }
    fn unsnooze(&mut self, proposal: i64, by: &str) -> Result<ProposalRecord> {
        SqliteJournal::unsnooze(self, proposal, by)
    }
    fn snoozed_until(&self, proposal: i64) -> Result<Option<Millis>> {
        SqliteJournal::snoozed_until(self, proposal)
    }
    fn reopen_withdrawn(&mut self, run: i64) -> Result<Vec<Event>> {
        SqliteJournal::reopen_withdrawn(self, run)
    }
}

impl LeaseStore for SqliteJournal {
    fn acquire_lease(
        &mut self,
        run: i64,
        owner: &Owner,
        ttl_ms: i64,
    ) -> Result<Result<Option<String>, LeaseHeld>> {
        SqliteJournal::acquire_lease(self, run, owner, ttl_ms)
    }
    fn renew_lease(&mut self, run: i64, owner: &Owner, ttl_ms: i64) -> Result<()> {
        SqliteJournal::renew_lease(self, run, owner, ttl_ms)
    }
    fn abandon_lease(&mut self, run: i64, owner: &Owner) -> Result<()> {
        SqliteJournal::abandon_lease(self, run, owner)
    }
    fn live_executor(&self, run: &super::RunRecord, me: &Owner) -> Option<String> {
        SqliteJournal::live_executor(self, run, me)
    }
    fn release_lease(&mut self, run: i64, owner: &Owner) -> Result<()> {
        SqliteJournal::release_lease(self, run, owner)
    }
}

impl LlmLedger for SqliteJournal {
    fn llm_calls(&self, f: &CallFilter) -> Result<Vec<LlmCallRecord>> {
        SqliteJournal::llm_calls(self, f)
    }
    fn schema_refusal(
        &self,
        provider: &str,
        model: &str,
        url: &str,
        since: Millis,
    ) -> Result<Option<(i64, Millis)>> {
        SqliteJournal::schema_refusal(self, provider, model, url, since)
    }
    fn llm_tokens_since(&self, since: Millis) -> Result<(u64, u64)> {
        SqliteJournal::llm_tokens_since(self, since)
    }
    fn llm_spent_by_run(&self, run: i64) -> Result<f64> {
        SqliteJournal::llm_spent_by_run(self, run)
    }
    fn llm_spent_since(&self, since: Millis) -> Result<f64> {
        SqliteJournal::llm_spent_since(self, since)
    }
    fn llm_spent_by_persona_since(&self, persona: &str, since: Millis) -> Result<f64> {
        SqliteJournal::llm_spent_by_persona_since(self, persona, since)
    }
    fn llm_spend_by_workflow(&self, since: Millis) -> Result<Vec<Spend>> {
        SqliteJournal::llm_spend_by_workflow(self, since)
    }
    fn budget_raised(&self, run: i64) -> Result<f64> {
        SqliteJournal::budget_raised(self, run)
    }
}

impl InboxStore for SqliteJournal {
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
    ) -> Result<Option<i64>> {
        SqliteJournal::create_proposal(self, run_id, step, attempt, kind, summary, action, evidence)
    }
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
    ) -> Result<Option<i64>> {
        SqliteJournal::create_proposal_with(
            self, run_id, step, attempt, kind, summary, action, evidence, deadline,
        )
    }
    fn decide(&mut self, proposal: i64, decide: DecisionInput) -> Result<ProposalRecord> {
        SqliteJournal::decide(self, proposal, decide)
    }
    fn proposal(&self, id: i64) -> Result<ProposalRecord> {
        SqliteJournal::proposal(self, id)
    }
    fn inbox(&self, all: bool) -> Result<Vec<ProposalRecord>> {
        SqliteJournal::inbox(self, all)
    }
    fn run_proposals(&self, run: i64) -> Result<Vec<ProposalRecord>> {
        SqliteJournal::run_proposals(self, run)
    }
}

impl NoticeStore for SqliteJournal {
    fn raise_notice(
        &mut self,
        schedule: &str,
        kind: &str,
        key: &str,
        summary: &str,
        data: Json,
    ) -> Result<Option<i64>> {
        SqliteJournal::raise_notice(self, schedule, kind, key, summary, data)
    }
    fn notices(&self, all: bool) -> Result<Vec<NoticeRecord>> {
        SqliteJournal::notices(self, all)
    }
    fn notice(&self, id: i64) -> Result<Option<NoticeRecord>> {
        SqliteJournal::notice(self, id)
    }
    fn acknowledge_notice(
        &mut self,
        id: i64,
        by: &str,
        reason: Option<String>,
    ) -> Result<NoticeRecord> {
        SqliteJournal::acknowledge_notice(self, id, by, reason)
    }
}

impl RateStore for SqliteJournal {
    fn take_turn(
        &mut self,
        taker: Taker<'_>,
        target: &str,
        rate: &Rate,
    ) -> Result<(Millis, Option<Event>)> {
        SqliteJournal::take_turn(self, taker, target, rate)
    }
    fn turns(&self, target: &str) -> Result<Vec<Millis>> {
        SqliteJournal::turns(self, target)
    }
}

impl RunUpkeep for SqliteJournal {
    fn replay(&mut self, run: i64) -> Result<ReplayReport> {
        SqliteJournal::replay(self, run)
    }
    fn change_workflow(&mut self, run_id: i64, source: &str, events: &[Event]) -> Result<i64> {
        SqliteJournal::change_workflow(self, run_id, source, events)
    }
    fn prune_dry_runs(&mut self) -> Result<Pruned> {
        SqliteJournal::prune_dry_runs(self)
    }
}

impl ScheduleStore for SqliteJournal {
    fn add_schedule(
        &mut self,
        spec: ScheduleSpec,
        source: &str,
        next_due: impl Fn(Millis) -> Option<Millis>,
    ) -> Result<bool> {
        SqliteJournal::add_schedule(self, spec, source, next_due)
    }
    fn schedule(&self, name: &str) -> Result<ScheduleRecord> {
        SqliteJournal::schedule(self, name)
    }
    fn schedules(&self) -> Result<Vec<ScheduleRecord>> {
        SqliteJournal::schedules(self)
    }
    fn set_schedule_paused(
        &mut self,
        name: &str,
        paused: bool,
        next_due: impl Fn(Millis) -> Option<Millis>,
    ) -> Result<bool> {
        SqliteJournal::set_schedule_paused(self, name, paused, next_due)
    }
    fn remove_schedule(&mut self, name: &str) -> Result<()> {
        SqliteJournal::remove_schedule(self, name)
    }
    fn due_schedules(&self, now: Millis) -> Result<Vec<String>> {
        SqliteJournal::due_schedules(self, now)
    }
    fn fires(&self, name: &str, limit: usize) -> Result<Vec<FireRecord>> {
        SqliteJournal::fires(self, name, limit)
    }
    fn decide_fires(
        &mut self,
        name: &str,
        planner: impl FnOnce(&FireState) -> Result<Option<FirePlan>>,
    ) -> Result<FireOutcome> {
        SqliteJournal::decide_fires(self, name, planner)
    }
    fn schedule_source(&self, name: &str) -> Result<(ScheduleRecord, String)> {
        SqliteJournal::schedule_source(self, name)
    }
    fn runs_to_continue(&self, now: Millis, stale_ms: Millis) -> Result<Vec<i64>> {
        SqliteJournal::runs_to_continue(self, now, stale_ms)
    }
}

impl StatsStore for SqliteJournal {
    fn stats(&self, daily_cap_usd: Option<f64>, monthly_cap_usd: Option<f64>) -> Result<Stats> {
        SqliteJournal::stats(self, daily_cap_usd, monthly_cap_usd)
    }
}

impl TimerStore for SqliteJournal {
    fn wake_times(&self, run: i64) -> Result<Vec<(String, Millis)>> {
        SqliteJournal::wake_times(self, run)
    }
    fn expired_deadlines(&self, now: Millis) -> Result<Vec<ProposalRecord>> {
        SqliteJournal::expired_deadlines(self, now)
    }
    fn remind(&mut self, proposal: i64, seen: Millis, next_due: Millis) -> Result<Option<u32>> {
        SqliteJournal::remind(self, proposal, seen, next_due)
    }
    fn next_deadline(&self, run: i64) -> Result<Option<Millis>> {
        SqliteJournal::next_deadline(self, run)
    }
}

impl TrustStore for SqliteJournal {
    fn step_stats(&self, workflow: &str, step: &str) -> Result<StepStats> {
        SqliteJournal::step_stats(self, workflow, step)
    }
    fn all_step_stats(&self) -> Result<Vec<StepStats>> {
        SqliteJournal::all_step_stats(self)
    }
    fn trust_marks(&self, workflow: &str, step: &str) -> Result<Vec<TrustMark>> {
        SqliteJournal::trust_marks(self, workflow, step)
    }
    fn mark_trust(
        &mut self,
        run: i64,
        workflow: &str,
        step: &str,
        promoted: bool,
        by: &str,
        reason: Option<String>,
    ) -> Result<TrustMark> {
        SqliteJournal::mark_trust(self, run, workflow, step, promoted, by, reason)
    }
}

impl VersionStore for SqliteJournal {
    fn current_version(&self, kind: &str, key: &str) -> CurrentVersion {
        SqliteJournal::current_version(self, kind, key)
    }
    fn stale_refs(&self, refs: &[VersionRef], cache: &mut VersionCache) -> Vec<StaleRef> {
        SqliteJournal::stale_refs(self, refs, cache)
    }
    fn stale(&self, evidence: &Json) -> Vec<StaleRef> {
        SqliteJournal::stale(self, evidence)
    }
}

impl Work for SqliteJournal {
    fn create_queued_run(&mut self, source: &str, created: Event, tags: &[String]) -> Result<i64> {
        SqliteJournal::create_queued_run(self, source, created, tags)
    }
    fn hand_off(&mut self, run: i64, tags: &[String], owner: &Owner) -> Result<()> {
        SqliteJournal::hand_off(self, run, tags, owner)
    }
    fn claim_work(
        &mut self,
        worker: &Owner,
        tags: &[String],
        ttl_ms: i64,
    ) -> Result<Option<WorkItem>> {
        SqliteJournal::claim_work(self, worker, tags, ttl_ms)
    }
    fn renew_work(&mut self, run: i64, worker: &Owner, ttl_ms: i64) -> Result<bool> {
        SqliteJournal::renew_work(self, run, worker, ttl_ms)
    }
    fn finish_work(&mut self, run: i64, worker: &Owner) -> Result<bool> {
        SqliteJournal::finish_work(self, run, worker)
    }
    fn work_items(&self) -> Result<Vec<WorkItem>> {
        SqliteJournal::work_items(self)
    }
    fn work_item(&self, run: i64) -> Result<Option<WorkItem>> {
        SqliteJournal::work_item(self, run)
    }
    fn register_worker(
        &mut self,
        worker: &Owner,
        tags: &[String],
        concurrency: u32,
        lease_ms: i64,
    ) -> Result<()> {
        SqliteJournal::register_worker(self, worker, tags, concurrency, lease_ms)
    }
    fn worker_beat(&mut self, worker: &Owner) -> Result<()> {
        SqliteJournal::worker_beat(self, worker)
    }
    fn stop_worker(&mut self, worker: &Owner) -> Result<()> {
        SqliteJournal::stop_worker(self, worker)
    }
    fn worker_records(&self, since: Millis) -> Result<Vec<WorkerRecord>> {
        SqliteJournal::worker_records(self, since)
    }
}
