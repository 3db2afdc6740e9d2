//! The SQLite journal's delegation for mail, memory and notifications (the
//! records beside runs), split from `sqlite.rs` along its seams.

use std::collections::HashSet;

use serde_json::Value as Json;

use super::*;
use crate::clock::Millis;
use crate::error::Result;
use crate::journal::notify::{DigestFacts, NewNotification, NotificationRecord, NotifySources};
use crate::journal::*;

impl MailStore for Journal {
    fn put_mail_watch(&mut self, spec: MailWatchSpec, source: &str) -> Result<bool> {
        Journal::put_mail_watch(self, spec, source)
    }
    fn has_mail_watch(&self, name: &str) -> Result<bool> {
        Journal::has_mail_watch(self, name)
    }
    fn mail_watch(&self, name: &str) -> Result<MailWatchRecord> {
        Journal::mail_watch(self, name)
    }
    fn mail_watches(&self) -> Result<Vec<MailWatchRecord>> {
        Journal::mail_watches(self)
    }
    fn mail_watch_source(&self, name: &str) -> Result<(MailWatchRecord, String)> {
        Journal::mail_watch_source(self, name)
    }
    fn set_mail_watch_paused(&mut self, name: &str, paused: bool) -> Result<bool> {
        Journal::set_mail_watch_paused(self, name, paused)
    }
    fn remove_mail_watch(&mut self, name: &str) -> Result<()> {
        Journal::remove_mail_watch(self, name)
    }
    fn mail_decided(
        &self,
        watch: &str,
        account: &str,
        folder: &str,
        uidvalidity: u32,
        uids: &[u32],
    ) -> Result<HashSet<u32>> {
        Journal::mail_decided(self, watch, account, folder, uidvalidity, uids)
    }
    fn mail_unflagged(
        &self,
        watch: &str,
        account: &str,
        folder: &str,
        uidvalidity: u32,
    ) -> Result<Vec<u32>> {
        Journal::mail_unflagged(self, watch, account, folder, uidvalidity)
    }
    fn record_mail(&mut self, watch: &str, m: IncomingMail) -> Result<MailRecorded> {
        Journal::record_mail(self, watch, m)
    }
    fn mail_flagged(
        &mut self,
        watch: &str,
        account: &str,
        folder: &str,
        uidvalidity: u32,
        uids: Vec<u32>,
        how: &str,
    ) -> Result<()> {
        Journal::mail_flagged(self, watch, account, folder, uidvalidity, uids, how)
    }
    fn mail_validity(
        &mut self,
        watch: &str,
        account: &str,
        folder: &str,
        to: u32,
    ) -> Result<Option<Option<u32>>> {
        Journal::mail_validity(self, watch, account, folder, to)
    }
    fn mail_poll_failed(&mut self, watch: &str, error: &str) -> Result<(Millis, bool)> {
        Journal::mail_poll_failed(self, watch, error)
    }
    fn mail_poll_ok(&mut self, watch: &str) -> Result<bool> {
        Journal::mail_poll_ok(self, watch)
    }
    fn mail_messages(&self, watch: &str, limit: usize) -> Result<Vec<MailRecord>> {
        Journal::mail_messages(self, watch, limit)
    }
    fn has_cron_schedule(&self, name: &str) -> Result<bool> {
        Journal::has_cron_schedule(self, name)
    }
}

impl MemoryStore for Journal {
    fn commit_allocated(
        &mut self,
        run_id: i64,
        build: impl FnOnce(&Alloc<'_>) -> Result<Vec<Event>>,
    ) -> Result<Vec<Event>> {
        Journal::commit_allocated(self, run_id, build)
    }
    fn set_fact(
        &mut self,
        entity: &str,
        key: &str,
        value: &Json,
        origin: FactOrigin,
    ) -> Result<FactRecord> {
        Journal::set_fact(self, entity, key, value, origin)
    }
    fn fact(&self, entity: &str, key: &str) -> Result<Option<FactRecord>> {
        Journal::fact(self, entity, key)
    }
    fn fact_version(&self, entity: &str, key: &str) -> Result<Option<i64>> {
        Journal::fact_version(self, entity, key)
    }
    fn facts(&self, entity: &str) -> Result<Vec<FactRecord>> {
        Journal::facts(self, entity)
    }
    fn fact_history(&self, entity: &str, key: &str) -> Result<Vec<FactRecord>> {
        Journal::fact_history(self, entity, key)
    }
    fn fact_entities(&self) -> Result<Vec<String>> {
        Journal::fact_entities(self)
    }
    fn add_notes(&mut self, notes: &[NewNote]) -> Result<Vec<i64>> {
        Journal::add_notes(self, notes)
    }
    fn doc(&self, id: i64) -> Result<Option<DocRecord>> {
        Journal::doc(self, id)
    }
    fn docs(&self, ids: &[i64]) -> Result<Vec<DocRecord>> {
        Journal::docs(self, ids)
    }
    fn forget_note(&mut self, id: i64) -> Result<DocRecord> {
        Journal::forget_note(self, id)
    }
    fn search_fts(
        &self,
        query: &str,
        limit: usize,
        kinds: &[&str],
    ) -> Result<Vec<(DocRecord, f64)>> {
        Journal::search_fts(self, query, limit, kinds)
    }
    fn term_doc_counts(&self, words: &[String]) -> Result<(i64, Vec<i64>)> {
        Journal::term_doc_counts(self, words)
    }
    fn doc_counts(&self) -> Result<Vec<(String, i64)>> {
        Journal::doc_counts(self)
    }
    fn put_vectors(&mut self, rows: &[VectorRow]) -> Result<()> {
        Journal::put_vectors(self, rows)
    }
    fn docs_missing_vectors(&self, model: &str, limit: usize) -> Result<Vec<(i64, String)>> {
        Journal::docs_missing_vectors(self, model, limit)
    }
    fn scan_sketches(&self, f: impl FnMut(i64, &[u8])) -> Result<()> {
        Journal::scan_sketches(self, f)
    }
    fn vectors(&self, docs: &[i64], model: &str) -> Result<Vec<(i64, Vec<f32>)>> {
        Journal::vectors(self, docs, model)
    }
    fn step_decisions(&self, workflow: &str, step: &str, limit: usize) -> Result<Vec<DocRecord>> {
        Journal::step_decisions(self, workflow, step, limit)
    }
    fn outcomes(&self, run: i64) -> Result<Vec<OutcomeRecord>> {
        Journal::outcomes(self, run)
    }
    fn all_facts(&self) -> Result<Vec<FactRecord>> {
        Journal::all_facts(self)
    }
    fn unset_fact(
        &mut self,
        entity: &str,
        key: &str,
        by: &str,
        note: Option<String>,
    ) -> Result<FactRecord> {
        Journal::unset_fact(self, entity, key, by, note)
    }
    fn replay_fact_tombstones(&self) -> Result<(usize, Vec<String>)> {
        Journal::replay_fact_tombstones(self)
    }
    fn replay_recorded_facts(&self) -> Result<(usize, Vec<String>)> {
        Journal::replay_recorded_facts(self)
    }
    fn notes(&self, tag: Option<&str>) -> Result<Vec<DocRecord>> {
        Journal::notes(self, tag)
    }
    fn list_docs(
        &self,
        kind: &str,
        tag: Option<&str>,
        workflow: Option<&str>,
        fts: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DocRecord>> {
        Journal::list_docs(self, kind, tag, workflow, fts, limit)
    }
}

impl NotifyStore for Journal {
    fn queue_notifications(&mut self, items: &[NewNotification]) -> Result<Vec<i64>> {
        Journal::queue_notifications(self, items)
    }
    fn claim_notifications(
        &mut self,
        by: &str,
        hold: Millis,
        limit: usize,
    ) -> Result<Vec<NotificationRecord>> {
        Journal::claim_notifications(self, by, hold, limit)
    }
    fn notification_sent(&mut self, id: i64, by: &str, reply: &str) -> Result<bool> {
        Journal::notification_sent(self, id, by, reply)
    }
    fn notification_failed(
        &mut self,
        id: i64,
        by: &str,
        error: &str,
        next_at: Option<Millis>,
    ) -> Result<bool> {
        Journal::notification_failed(self, id, by, error, next_at)
    }
    fn notification_keys(&self, key: &str) -> Result<Vec<String>> {
        Journal::notification_keys(self, key)
    }
    fn notifications(&self, limit: usize) -> Result<Vec<NotificationRecord>> {
        Journal::notifications(self, limit)
    }
    fn notify_sources(&self, horizon: Millis) -> Result<NotifySources> {
        Journal::notify_sources(self, horizon)
    }
    fn digest_facts(&self, since: Millis, day: Millis, month: Millis) -> Result<DigestFacts> {
        Journal::digest_facts(self, since, day, month)
    }
}
