//! What `import` copies besides the run log and the schedules' log: the other event
//! logs (circuit breakers, mail watches, notifications) replayed through this
//! backend's code, and what memory holds outside events (notes added by hand,
//! embeddings), with the embeddings compared after the copy.

use std::collections::{HashMap, VecDeque};

use postgres::Transaction;

use super::import::Count;
use crate::clock::Millis;
use crate::connectors::Target;
use crate::error::{Error, Result};
use crate::health::breaker::BreakerEvent;
use crate::journal::MailEvent;
use crate::journal::export::{DOC_KEY, Export, StoredVector, normalise};
use crate::journal::notify::NotifyEvent;

/// Replay one of the other event logs (`export::LOGS`) through this backend's own
/// code: each event appended to its log and projected onto its rows.
pub(super) fn replay_log(
    tx: &mut Transaction<'_>,
    table: &str,
    events: Vec<(String, String, Millis)>,
) -> Result<()> {
    let unreadable = |e: serde_json::Error| {
        Error::storage(format!(
            "an event of {table} in the journal cannot be read: {e}"
        ))
    };
    for (key, data, at) in events {
        match table {
            "breaker_events" => {
                let target = Target::parse(&key).map_err(Error::storage)?;
                let ev: BreakerEvent = serde_json::from_str(&data).map_err(unreadable)?;
                let before = super::breakers::read(tx, &target)?;
                super::breakers::record(tx, &target, before, &ev, at)?;
            }
            "mail_events" => {
                let ev: MailEvent = serde_json::from_str(&data).map_err(unreadable)?;
                super::mail::record(tx, &key, &ev, at)?;
            }
            "notify_events" => {
                let id: i64 = key.parse().map_err(|_| {
                    Error::storage(format!("notification `{key}` of the journal has no id"))
                })?;
                let ev: NotifyEvent = serde_json::from_str(&data).map_err(unreadable)?;
                super::notify::replay(tx, id, &ev, at)?;
            }
            other => unreachable!("no replay of {other}"),
        }
    }
    Ok(())
}

/// What memory holds outside events: the notes added by hand (with their ids),
/// then the embeddings, each moved to its document's id in the copy.
pub(super) fn copy_memory(tx: &mut Transaction<'_>, ex: &Export<'_>) -> Result<()> {
    tx.execute(
        "INSERT INTO memory_docs (id, kind, text, tags, source, created_at)
         SELECT id, kind, text, tags, source, created_at
         FROM json_populate_recordset(NULL::memory_docs, $1::TEXT::JSON)",
        &[&ex.manual_notes()?],
    )?;
    let ids = doc_ids(tx, ex)?;
    for (doc, model, vec, sketch) in ex.vectors()? {
        let Some(id) = ids.get(&doc) else {
            continue; // a vector of no document: nothing searches it
        };
        tx.execute(
            "INSERT INTO memory_vectors (doc_id, model, dim, vec) VALUES ($1, $2, $3, $4)",
            &[id, &model, &(vec.len() as i64), &vec],
        )?;
        if let Some(bits) = sketch {
            tx.execute(
                "INSERT INTO memory_sketches (doc_id, bits) VALUES ($1, $2)",
                &[id, &bits],
            )?;
        }
    }
    Ok(())
}

/// SQLite's document ids → the copy's: notes keep theirs; a decision or outcome is
/// matched with the copy's document of the same contents (the n-th of equal ones
/// with the n-th, both in id order).
fn doc_ids(tx: &mut Transaction<'_>, ex: &Export<'_>) -> Result<HashMap<i64, i64>> {
    let mut copied: HashMap<String, VecDeque<i64>> = HashMap::new();
    for r in tx.query(
        &format!(
            "SELECT id, json_build_array({DOC_KEY})::TEXT FROM memory_docs WHERE kind <> 'note' ORDER BY id"
        ),
        &[],
    )? {
        let key: String = r.get(1);
        let key = normalise(serde_json::from_str(&key)?).to_string();
        copied.entry(key).or_default().push_back(r.get(0));
    }
    let mut out: HashMap<i64, i64> = tx
        .query("SELECT id FROM memory_docs WHERE kind = 'note'", &[])?
        .iter()
        .map(|r| (r.get(0), r.get(0)))
        .collect();
    for (id, key) in ex.derived_docs()? {
        if let Some(to) = copied.get_mut(&key).and_then(|q| q.pop_front()) {
            out.insert(id, to);
        }
    }
    Ok(out)
}

/// The embeddings on both sides, keyed by their document's contents (its id for a
/// note), compared; their counts join `tables`.
pub(super) fn compare_vectors(
    tx: &mut Transaction<'_>,
    ex: &Export<'_>,
    tables: &mut Vec<Count>,
    out: &mut Vec<String>,
) -> Result<()> {
    let ids = doc_ids(tx, ex)?;
    let mut a: Vec<StoredVector> = ex
        .vectors()?
        .into_iter()
        .filter_map(|(doc, m, v, s)| ids.get(&doc).map(|id| (*id, m, v, s)))
        .collect();
    let mut b: Vec<StoredVector> = tx
        .query(
            "SELECT v.doc_id, v.model, v.vec, s.bits FROM memory_vectors v
             LEFT JOIN memory_sketches s ON s.doc_id = v.doc_id ORDER BY v.doc_id",
            &[],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    a.sort_by_key(|v| v.0);
    b.sort_by_key(|v| v.0);
    let sqlite = ex.vectors()?.len() as i64;
    tables.push(Count {
        name: "memory_vectors".into(),
        sqlite,
        postgres: b.len() as i64,
    });
    if sqlite != b.len() as i64 {
        out.push(format!(
            "memory_vectors: {} in SQLite, {} on PostgreSQL",
            crate::text::count(sqlite as usize, "row"),
            b.len()
        ));
    }
    for (x, y) in a.iter().zip(&b).filter(|(x, y)| x != y).take(5) {
        out.push(format!(
            "memory_vectors: the embedding of document {} ({}) differs on PostgreSQL (document {}, {})",
            x.0, x.1, y.0, y.1
        ));
    }
    Ok(())
}
