//! The concerns the PostgreSQL backend does not carry yet: every method answers
//! [`not_supported`], so a command that reaches one stops with that error before
//! writing anything. One `impl` block per trait and nothing else: a block goes when
//! its concern's real implementation lands.

use std::collections::HashSet;

use serde_json::Value as Json;

use super::{PgJournal, not_supported};
use crate::clock::Millis;
use crate::connectors::Target;
use crate::error::Result;
use crate::health::breaker::{Admit, Breaker, BreakerEvent, BreakerPolicy};
use crate::journal::notify::{DigestFacts, NewNotification, NotificationRecord, NotifySources};
use crate::journal::stats::Stats;
use crate::journal::store::*;
use crate::journal::*;

impl BreakerStore for PgJournal {
    // No breaker can trip here (recording a step's verdict is refused), so the
    // answers that list breakers or the steps they hold are true without reading:
    // `tick`, `status` and the TUI ask them.
    fn breakers(&self) -> Result<Vec<Breaker>> {
        Ok(Vec::new())
    }
    fn breaker(&self, _target: &Target) -> Result<Option<Breaker>> {
        Ok(None)
    }
    fn breaker_admit(
        &mut self,
        _target: &Target,
        _policy: &BreakerPolicy,
        _by: &str,
    ) -> Result<Admit> {
        Err(not_supported("circuit breakers"))
    }
    fn breaker_report(
        &mut self,
        _target: &Target,
        _policy: &BreakerPolicy,
        _verdict: &Verdict,
    ) -> Result<Option<BreakerEvent>> {
        Err(not_supported("circuit breakers"))
    }
    fn close_breaker(&mut self, _target: &Target, _by: &str) -> Result<Breaker> {
        Err(not_supported("circuit breakers"))
    }
    fn breaker_events(&self, _target: &Target) -> Result<Vec<(Millis, BreakerEvent)>> {
        Err(not_supported("circuit breakers"))
    }
    fn replay_breakers(&self) -> Result<(usize, Vec<String>)> {
        Err(not_supported("circuit breakers"))
    }
    fn held_steps(&self) -> Result<Vec<HeldStep>> {
        Ok(Vec::new())
    }
}

impl MailStore for PgJournal {
    fn put_mail_watch(&mut self, _spec: MailWatchSpec, _source: &str) -> Result<bool> {
        Err(not_supported("mail watches"))
    }
    // No mail watch can exist here (adding one is refused), so the answers that
    // list or look for watches are true without reading: `schedule add` and `tick`
    // ask them.
    fn has_mail_watch(&self, _name: &str) -> Result<bool> {
        Ok(false)
    }
    fn mail_watch(&self, _name: &str) -> Result<MailWatchRecord> {
        Err(not_supported("mail watches"))
    }
    fn mail_watches(&self) -> Result<Vec<MailWatchRecord>> {
        Ok(Vec::new())
    }
    fn mail_watch_source(&self, _name: &str) -> Result<(MailWatchRecord, String)> {
        Err(not_supported("mail watches"))
    }
    fn set_mail_watch_paused(&mut self, _name: &str, _paused: bool) -> Result<bool> {
        Err(not_supported("mail watches"))
    }
    fn remove_mail_watch(&mut self, _name: &str) -> Result<()> {
        Err(not_supported("mail watches"))
    }
    fn mail_decided(
        &self,
        _watch: &str,
        _account: &str,
        _folder: &str,
        _uidvalidity: u32,
        _uids: &[u32],
    ) -> Result<HashSet<u32>> {
        Err(not_supported("mail watches"))
    }
    fn mail_unflagged(
        &self,
        _watch: &str,
        _account: &str,
        _folder: &str,
        _uidvalidity: u32,
    ) -> Result<Vec<u32>> {
        Err(not_supported("mail watches"))
    }
    fn record_mail(&mut self, _watch: &str, _m: IncomingMail) -> Result<MailRecorded> {
        Err(not_supported("mail watches"))
    }
    fn mail_flagged(
        &mut self,
        _watch: &str,
        _account: &str,
        _folder: &str,
        _uidvalidity: u32,
        _uids: Vec<u32>,
        _how: &str,
    ) -> Result<()> {
        Err(not_supported("mail watches"))
    }
    fn mail_validity(
        &mut self,
        _watch: &str,
        _account: &str,
        _folder: &str,
        _to: u32,
    ) -> Result<Option<Option<u32>>> {
        Err(not_supported("mail watches"))
    }
    fn mail_poll_failed(&mut self, _watch: &str, _error: &str) -> Result<(Millis, bool)> {
        Err(not_supported("mail watches"))
    }
    fn mail_poll_ok(&mut self, _watch: &str) -> Result<bool> {
        Err(not_supported("mail watches"))
    }
    fn mail_messages(&self, _watch: &str, _limit: usize) -> Result<Vec<MailRecord>> {
        Err(not_supported("mail watches"))
    }
    fn has_cron_schedule(&self, name: &str) -> Result<bool> {
        // Schedules are ported: read them.
        match ScheduleStore::schedule(self, name) {
            Ok(_) => Ok(true),
            Err(e) if e.kind == crate::error::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}

impl MemoryStore for PgJournal {
    fn commit_allocated(
        &mut self,
        _run_id: i64,
        _build: impl FnOnce(&Alloc<'_>) -> Result<Vec<Event>>,
    ) -> Result<Vec<Event>> {
        Err(not_supported("memory"))
    }
    fn set_fact(
        &mut self,
        _entity: &str,
        _key: &str,
        _value: &Json,
        _origin: FactOrigin,
    ) -> Result<FactRecord> {
        Err(not_supported("memory"))
    }
    fn fact(&self, _entity: &str, _key: &str) -> Result<Option<FactRecord>> {
        Err(not_supported("memory"))
    }
    fn fact_version(&self, _entity: &str, _key: &str) -> Result<Option<i64>> {
        Err(not_supported("memory"))
    }
    fn facts(&self, _entity: &str) -> Result<Vec<FactRecord>> {
        Err(not_supported("memory"))
    }
    fn fact_history(&self, _entity: &str, _key: &str) -> Result<Vec<FactRecord>> {
        Err(not_supported("memory"))
    }
    fn fact_entities(&self) -> Result<Vec<String>> {
        Err(not_supported("memory"))
    }
    fn add_notes(&mut self, _notes: &[NewNote]) -> Result<Vec<i64>> {
        Err(not_supported("memory"))
    }
    fn doc(&self, _id: i64) -> Result<Option<DocRecord>> {
        Err(not_supported("memory"))
    }
    fn docs(&self, _ids: &[i64]) -> Result<Vec<DocRecord>> {
        Err(not_supported("memory"))
    }
    fn forget_note(&mut self, _id: i64) -> Result<DocRecord> {
        Err(not_supported("memory"))
    }
    fn search_fts(
        &self,
        _query: &str,
        _limit: usize,
        _kinds: &[&str],
    ) -> Result<Vec<(DocRecord, f64)>> {
        Err(not_supported("memory"))
    }
    fn term_doc_counts(&self, _words: &[String]) -> Result<(i64, Vec<i64>)> {
        Err(not_supported("memory"))
    }
    fn doc_counts(&self) -> Result<Vec<(String, i64)>> {
        Err(not_supported("memory"))
    }
    fn put_vectors(&mut self, _rows: &[VectorRow]) -> Result<()> {
        Err(not_supported("memory"))
    }
    fn docs_missing_vectors(&self, _model: &str, _limit: usize) -> Result<Vec<(i64, String)>> {
        Err(not_supported("memory"))
    }
    fn scan_sketches(&self, _f: impl FnMut(i64, &[u8])) -> Result<()> {
        Err(not_supported("memory"))
    }
    fn vectors(&self, _docs: &[i64], _model: &str) -> Result<Vec<(i64, Vec<f32>)>> {
        Err(not_supported("memory"))
    }
    fn step_decisions(
        &self,
        _workflow: &str,
        _step: &str,
        _limit: usize,
    ) -> Result<Vec<DocRecord>> {
        Err(not_supported("memory"))
    }
    fn outcomes(&self, _run: i64) -> Result<Vec<OutcomeRecord>> {
        Err(not_supported("memory"))
    }
    fn all_facts(&self) -> Result<Vec<FactRecord>> {
        Err(not_supported("memory"))
    }
    fn unset_fact(
        &mut self,
        _entity: &str,
        _key: &str,
        _by: &str,
        _note: Option<String>,
    ) -> Result<FactRecord> {
        Err(not_supported("memory"))
    }
    fn replay_fact_tombstones(&self) -> Result<(usize, Vec<String>)> {
        Err(not_supported("memory"))
    }
    fn replay_recorded_facts(&self) -> Result<(usize, Vec<String>)> {
        Err(not_supported("memory"))
    }
    fn notes(&self, _tag: Option<&str>) -> Result<Vec<DocRecord>> {
        Err(not_supported("memory"))
    }
    fn list_docs(
        &self,
        _kind: &str,
        _tag: Option<&str>,
        _workflow: Option<&str>,
        _fts: Option<&str>,
        _limit: usize,
    ) -> Result<Vec<DocRecord>> {
        Err(not_supported("memory"))
    }
}

impl NotifyStore for PgJournal {
    fn queue_notifications(&mut self, _items: &[NewNotification]) -> Result<Vec<i64>> {
        Err(not_supported("notifications"))
    }
    fn claim_notifications(
        &mut self,
        _by: &str,
        _hold: Millis,
        _limit: usize,
    ) -> Result<Vec<NotificationRecord>> {
        Err(not_supported("notifications"))
    }
    fn notification_sent(&mut self, _id: i64, _by: &str, _reply: &str) -> Result<bool> {
        Err(not_supported("notifications"))
    }
    fn notification_failed(
        &mut self,
        _id: i64,
        _by: &str,
        _error: &str,
        _next_at: Option<Millis>,
    ) -> Result<bool> {
        Err(not_supported("notifications"))
    }
    fn notification_keys(&self, _key: &str) -> Result<Vec<String>> {
        Err(not_supported("notifications"))
    }
    fn notifications(&self, _limit: usize) -> Result<Vec<NotificationRecord>> {
        Err(not_supported("notifications"))
    }
    fn notify_sources(&self, _horizon: Millis) -> Result<NotifySources> {
        Err(not_supported("notifications"))
    }
    fn digest_facts(&self, _since: Millis, _day: Millis, _month: Millis) -> Result<DigestFacts> {
        Err(not_supported("notifications"))
    }
}

impl RunUpkeep for PgJournal {
    fn replay(&mut self, _run: i64) -> Result<ReplayReport> {
        Err(not_supported(
            "replaying and pruning runs, and changing a run's workflow",
        ))
    }
    fn change_workflow(&mut self, _run_id: i64, _source: &str, _events: &[Event]) -> Result<i64> {
        Err(not_supported(
            "replaying and pruning runs, and changing a run's workflow",
        ))
    }
    fn prune_dry_runs(&mut self) -> Result<Pruned> {
        Err(not_supported(
            "replaying and pruning runs, and changing a run's workflow",
        ))
    }
}

impl StatsStore for PgJournal {
    fn stats(&self, _daily_cap_usd: Option<f64>, _monthly_cap_usd: Option<f64>) -> Result<Stats> {
        Err(not_supported("statistics (`aios stats`)"))
    }
}

impl TrustStore for PgJournal {
    fn step_stats(&self, _workflow: &str, _step: &str) -> Result<StepStats> {
        Err(not_supported("trust marks and step statistics"))
    }
    fn all_step_stats(&self) -> Result<Vec<StepStats>> {
        Err(not_supported("trust marks and step statistics"))
    }
    fn trust_marks(&self, _workflow: &str, _step: &str) -> Result<Vec<TrustMark>> {
        Err(not_supported("trust marks and step statistics"))
    }
    fn mark_trust(
        &mut self,
        _run: i64,
        _workflow: &str,
        _step: &str,
        _promoted: bool,
        _by: &str,
        _reason: Option<String>,
    ) -> Result<TrustMark> {
        Err(not_supported("trust marks and step statistics"))
    }
}
impl VersionStore for PgJournal {
    // Never an error: a fact's version is read through memory, which answers
    // not-supported here, so a fact reference is `Unknown` (never stale); a
    // workflow file is read from disk as on SQLite.
    fn current_version(&self, kind: &str, key: &str) -> CurrentVersion {
        super::super::versions::current_version_with(kind, key, |entity, k| {
            MemoryStore::fact_version(self, entity, k)
        })
    }
    fn stale_refs(&self, refs: &[VersionRef], cache: &mut VersionCache) -> Vec<StaleRef> {
        super::super::versions::stale_refs_with(refs, cache, |kind, key| {
            VersionStore::current_version(self, kind, key)
        })
    }
    fn stale(&self, evidence: &Json) -> Vec<StaleRef> {
        self.stale_refs(&versions_of(evidence), &mut VersionCache::default())
    }
}
