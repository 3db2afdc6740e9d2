//! What both journal backends' memory share, so SQLite (`memory.rs`) and PostgreSQL
//! (`pg/memory.rs`) take the same decisions in the same words: the numbers a memory
//! step is handed inside its transaction ([`Alloc`]), the checks before a note is
//! forgotten or a fact unset, and how `aios replay` compares the facts rebuilt from
//! run 0's events with the stored ones. No SQL here.

use serde_json::Value as Json;

use super::memory::{DocRecord, FactRecord};
use super::types::{Event, EventRecord};
use crate::clock::Millis;
use crate::error::{Error, Result};

/// How a backend hands out fact versions and note ids inside its transaction.
pub(super) trait Allocate {
    fn next_fact_version(&self, entity: &str, key: &str) -> Result<i64>;
    fn next_note_id(&self) -> Result<i64>;
}

/// Numbers handed out inside a memory transaction, so the events that carry them
/// replay to the same rows.
pub struct Alloc<'t> {
    by: &'t dyn Allocate,
}

impl<'t> Alloc<'t> {
    pub(super) fn new(by: &'t dyn Allocate) -> Alloc<'t> {
        Alloc { by }
    }

    /// The version the next write of (entity, key) gets.
    pub fn next_fact_version(&self, entity: &str, key: &str) -> Result<i64> {
        self.by.next_fact_version(entity, key)
    }

    /// The id the next note gets.
    pub fn next_note_id(&self) -> Result<i64> {
        self.by.next_note_id()
    }
}

/// The error of a memory write to run `run_id` whose status is `status` (`None`:
/// there is no such run), if it may not be written.
pub(super) fn refuse_write(run_id: i64, status: Option<&str>) -> Result<()> {
    match status {
        None => {
            Err(Error::not_found(format!("no run {run_id}")).with_hint("list runs with: aios runs"))
        }
        Some("cancelled") => Err(Error::conflict(format!("run {run_id} was cancelled"))),
        _ => Ok(()),
    }
}

/// Document `id` (`doc`, as read), if it is a note that may be forgotten.
pub(super) fn forgettable(id: i64, doc: Option<DocRecord>) -> Result<DocRecord> {
    let doc = doc.ok_or_else(|| {
        Error::not_found(format!("no memory {id}"))
            .with_hint("find ids with: aios memory search \"...\"")
    })?;
    if doc.kind != "note" {
        let article = if doc.kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        return Err(Error::invalid(format!(
            "memory {id} is {article} {}, not a note; only notes can be forgotten",
            doc.kind
        ))
        .with_hint("decisions and outcomes are part of their run's record"));
    }
    Ok(doc)
}

/// The version a tombstone of (entity, key) gets, given its current version.
pub(super) fn tombstone_version(
    entity: &str,
    key: &str,
    current: Option<FactRecord>,
) -> Result<i64> {
    match current {
        None => Err(Error::not_found(format!("`{entity}` has no fact `{key}`"))),
        Some(f) if f.unset => Err(Error::conflict(format!(
            "{entity} {key} is already unset (version {})",
            f.version
        ))
        .with_hint(format!(
            "see its versions with: aios fact history {} {}",
            crate::connectors::shell::quote(entity),
            crate::connectors::shell::quote(key)
        ))),
        Some(f) => Ok(f.version + 1),
    }
}

/// A stored tombstone as replay compares it: entity, key, version, by, note, at.
pub(super) type TombstoneRow = (String, String, i64, Option<String>, Option<String>, Millis);

/// Rebuild the tombstones from run 0's `fact_unset` events and compare them with
/// the `stored` ones: the number of events, and the differences.
pub(super) fn compare_tombstones(
    run0: Vec<EventRecord>,
    stored: Vec<TombstoneRow>,
) -> (usize, Vec<String>) {
    let mut rebuilt: Vec<TombstoneRow> = Vec::new();
    for e in run0 {
        if let Event::FactUnset {
            entity,
            key,
            version,
            by,
            note,
        } = e.event
        {
            rebuilt.push((entity, key, version, Some(by), note, e.at));
        }
    }
    rebuilt.sort();
    let show = |r: &TombstoneRow| {
        format!(
            "{} {} version {} by {}",
            r.0,
            r.1,
            r.2,
            r.3.as_deref().unwrap_or("?")
        )
    };
    let mut differences = Vec::new();
    for r in stored.iter().filter(|r| !rebuilt.contains(r)) {
        differences.push(format!(
            "fact tombstone {}: stored, but no event rebuilds it",
            show(r)
        ));
    }
    for r in rebuilt.iter().filter(|r| !stored.contains(r)) {
        differences.push(format!(
            "fact tombstone {}: its event rebuilds a row that is not stored",
            show(r)
        ));
    }
    (rebuilt.len(), differences)
}

/// A stored version set outside any run as replay compares it: entity, key,
/// version, value (JSON text), source, run, step.
pub(super) type RecordedRow = (
    String,
    String,
    i64,
    String,
    String,
    Option<i64>,
    Option<String>,
);

/// Rebuild the versions set outside any run from run 0's `fact_recorded` events and
/// compare them with the `stored` ones (sources `manual` and `decision`; their value
/// as stored, compared as JSON): the number of events, and the differences.
pub(super) fn compare_recorded_facts(
    run0: Vec<EventRecord>,
    stored: Vec<RecordedRow>,
) -> (usize, Vec<String>) {
    let mut rebuilt: Vec<RecordedRow> = Vec::new();
    for e in run0 {
        if let Event::FactRecorded {
            entity,
            key,
            value,
            version,
            source,
            run,
            step,
            ..
        } = e.event
        {
            rebuilt.push((entity, key, version, value.to_string(), source, run, step));
        }
    }
    rebuilt.sort();
    let stored: Vec<RecordedRow> = stored
        .into_iter()
        .map(|mut r| {
            // Stored text and the event's value compare as JSON.
            if let Ok(v) = serde_json::from_str::<Json>(&r.3) {
                r.3 = v.to_string();
            }
            r
        })
        .collect();
    let show = |r: &RecordedRow| format!("{} {} version {} = {} ({})", r.0, r.1, r.2, r.3, r.4);
    let mut differences = Vec::new();
    for r in stored.iter().filter(|r| !rebuilt.contains(r)) {
        differences.push(format!(
            "fact {}: stored, but no event rebuilds it",
            show(r)
        ));
    }
    for r in rebuilt.iter().filter(|r| !stored.contains(r)) {
        differences.push(format!(
            "fact {}: its event rebuilds a row that is not stored",
            show(r)
        ));
    }
    (rebuilt.len(), differences)
}
