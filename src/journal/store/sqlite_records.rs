//! The SQLite journal's delegation for mail, memory and notifications (the
//! records beside runs), split from `sqlite.rs` along its seams.

use std::collections::HashSet;

use serde_json::Value as Json;

use super::*;
use crate::clock::Millis;
use crate::error::Result;
use crate::journal::notify::{DigestFacts, NewNotification, NotificationRecord, NotifySources};
use crate::journal::*;

impl MailStore for SqliteJournal {
    fn put_mail_watch(&mut self, spec: MailWatchSpec, source: &str) -> Result<bool> {
        SqliteJournal::put_mail_watch(self, spec, source)
    }
    fn has_mail_watch(&self, name: &str) -> Result<bool> {
        SqliteJournal::has_mail_watch(self, name)
    }
    fn mail_watch(&self, name: &str) -> Result<MailWatchRecord> {
        SqliteJournal::mail_watch(self, name)
    }
    fn mail_watches(&self) -> Result<Vec<MailWatchRecord>> {
        SqliteJournal::mail_watches(self)
    }
    fn mail_watch_source(&self, name: &str) -> Result<(MailWatchRecord, String)> {
        SqliteJournal::mail_watch_source(self, name)
    }
    fn set_mail_watch_paused(&mut self, name: &str, paused: bool) -> Result<bool> {
        SqliteJournal::set_mail_watch_paused(self, name, paused)
    }
    fn remove_mail_watch(&mut self, name: &str) -> Result<()> {
        SqliteJournal::remove_mail_watch(self, name)
    }
    fn mail_decided(
        &self,
        watch: &str,
        account: &str,
        folder: &str,
        uidvalidity: u32,
        uids: &[u32],
    ) -> Result<HashSet<u32>> {
        SqliteJournal::mail_decided(self, watch, account, folder, uidvalidity, uids)
    }
    fn mail_unflagged(
        &self,
        watch: &str,
        account: &str,
        folder: &str,
        uidvalidity: u32,
    ) -> Result<Vec<u32>> {
        SqliteJournal::mail_unflagged(self, watch, account, folder, uidvalidity)
    }
    fn record_mail(&mut self, watch: &str, m: IncomingMail) -> Result<MailRecorded> {
        SqliteJournal::record_mail(self, watch, m)
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
        SqliteJournal::mail_flagged(self, watch, account, folder, uidvalidity, uids, how)
    }
    fn mail_validity(
        &mut self,
        watch: &str,
        account: &str,
        folder: &str,
        to: u32,
    ) -> Result<Option<Option<u32>>> {
        SqliteJournal::mail_validity(self, watch, account, folder, to)
    }
    fn mail_poll_failed(&mut self, watch: &str, error: &str) -> Result<(Millis, bool)> {
        SqliteJournal::mail_poll_failed(self, watch, error)
    }
    fn mail_poll_ok(&mut self, watch: &str) -> Result<bool> {
        SqliteJournal::mail_poll_ok(self, watch)
    }
    fn mail_messages(&self, watch: &str, limit: usize) -> Result<Vec<MailRecord>> {
        SqliteJournal::mail_messages(self, watch, limit)
    }
    fn has_cron_schedule(&self, name: &str) -> Result<bool> {
        SqliteJournal::has_cron_schedule(self, name)
    }
}

impl MemoryStore for SqliteJournal {
    fn commit_allocated(
        &mut self,
        run_id: i64,
        build: impl FnOnce(&Alloc<'_>) -> Result<Vec<Event>>,
    ) -> Result<Vec<Event>> {
        SqliteJournal::commit_allocated(self, run_id, build)
    }
    fn set_fact(
        &mut self,
        entity: &str,
        key: &str,
        value: &Json,
        origin: FactOrigin,
    ) -> Result<FactRecord> {
        SqliteJournal::set_fact(self, entity, key, value, origin)
    }
    fn fact(&self, entity: &str, key: &str) -> Result<Option<FactRecord>> {
        SqliteJournal::fact(self, entity, key)
    }
    fn fact_version(&self, entity: &str, key: &str) -> Result<Option<i64>> {
        SqliteJournal::fact_version(self, entity, key)
    }
    fn facts(&self, entity: &str) -> Result<Vec<FactRecord>> {
        SqliteJournal::facts(self, entity)
    }
    fn fact_history(&self, entity: &str, key: &str) -> Result<Vec<FactRecord>> {
        SqliteJournal::fact_history(self, entity, key)
    }
    fn fact_entities(&self) -> Result<Vec<String>> {
        SqliteJournal::fact_entities(self)
    }
    fn add_notes(&mut self, notes: &[NewNote]) -> Result<Vec<i64>> {
        SqliteJournal::add_notes(self, notes)
    }
    fn doc(&self, id: i64) -> Result<Option<DocRecord>> {
        SqliteJournal::doc(self, id)
    }
    fn docs(&self, ids: &[i64]) -> Result<Vec<DocRecord>> {
        SqliteJournal::docs(self, ids)
    }
    fn forget_note(&mut self, id: i64) -> Result<DocRecord> {
        SqliteJournal::forget_note(self, id)
    }
    fn search_fts(
        &self,
        query: &str,
        limit: usize,
        kinds: &[&str],
    ) -> Result<Vec<(DocRecord, f64)>> {
        SqliteJournal::search_fts(self, query, limit, kinds)
    }
    fn term_doc_counts(&self, words: &[String]) -> Result<(i64, Vec<i64>)> {
        SqliteJournal::term_doc_counts(self, words)
    }
    fn doc_counts(&self) -> Result<Vec<(String, i64)>> {
        SqliteJournal::doc_counts(self)
    }
    fn put_vectors(&mut self, rows: &[VectorRow]) -> Result<()> {
        SqliteJournal::put_vectors(self, rows)
    }
    fn docs_missing_vectors(&self, model: &str, limit: usize) -> Result<Vec<(i64, String)>> {
        SqliteJournal::docs_missing_vectors(self, model, limit)
    }
    fn scan_sketches(&self, f: impl FnMut(i64, &[u8])) -> Result<()> {
        SqliteJournal::scan_sketches(self, f)
    }
    fn vectors(&self, docs: &[i64], model: &str) -> Result<Vec<(i64, Vec<f32>)>> {
        SqliteJournal::vectors(self, docs, model)
    }
    fn step_decisions(&self, workflow: &str, step: &str, limit: usize) -> Result<Vec<DocRecord>> {
        SqliteJournal::step_decisions(self, workflow, step, limit)
    }
    fn outcomes(&self, run: i64) -> Result<Vec<OutcomeRecord>> {
        SqliteJournal::outcomes(self, run)
    }
    fn all_facts(&self) -> Result<Vec<FactRecord>> {
        SqliteJournal::all_facts(self)
    }
    fn unset_fact(
        &mut self,
        entity: &str,
        key: &str,
        by: &str,
        note: Option<String>,
    ) -> Result<FactRecord> {
        SqliteJournal::unset_fact(self, entity, key, by, note)
    }
    fn replay_fact_tombstones(&self) -> Result<(usize, Vec<String>)> {
        SqliteJournal::replay_fact_tombstones(self)
    }
    fn replay_recorded_facts(&self) -> Result<(usize, Vec<String>)> {
        SqliteJournal::replay_recorded_facts(self)
    }
    fn notes(&self, tag: Option<&str>) -> Result<Vec<DocRecord>> {
        SqliteJournal::notes(self, tag)
    }
    fn list_docs(
        &self,
        kind: &str,
        tag: Option<&str>,
        workflow: Option<&str>,
        fts: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DocRecord>> {
        SqliteJournal::list_docs(self, kind, tag, workflow, fts, limit)
    }
}

impl NotifyStore for SqliteJournal {
    fn queue_notifications(&mut self, items: &[NewNotification]) -> Result<Vec<i64>> {
        SqliteJournal::queue_notifications(self, items)
    }
    fn claim_notifications(
        &mut self,
        by: &str,
        hold: Millis,
        limit: usize,
    ) -> Result<Vec<NotificationRecord>> {
        SqliteJournal::claim_notifications(self, by, hold, limit)
    }
    fn notification_sent(&mut self, id: i64, by: &str, reply: &str) -> Result<bool> {
        SqliteJournal::notification_sent(self, id, by, reply)
    }
    fn notification_failed(
        &mut self,
        id: i64,
        by: &str,
        error: &str,
        next_at: Option<Millis>,
    ) -> Result<bool> {
        SqliteJournal::notification_failed(self, id, by, error, next_at)
    }
    fn notification_keys(&self, key: &str) -> Result<Vec<String>> {
        SqliteJournal::notification_keys(self, key)
    }
    fn notifications(&self, limit: usize) -> Result<Vec<NotificationRecord>> {
        SqliteJournal::notifications(self, limit)
    }
    fn notify_sources(&self, horizon: Millis) -> Result<NotifySources> {
        SqliteJournal::notify_sources(self, horizon)
    }
    fn digest_facts(&self, since: Millis, day: Millis, month: Millis) -> Result<DigestFacts> {
        SqliteJournal::digest_facts(self, since, day, month)
    }
}
