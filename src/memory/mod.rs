//! Memory: what makes the next run better informed than the last.
//!
//! - Facts: canonical (entity, key) -> JSON value, versioned, with provenance
//!   (manual, run/step, decision). Templates read them as `facts["customer:acme"].plan`
//!   or `fact("customer:acme", "plan")`.
//! - Documents: notes (text + tags + source), decisions (every approve / edit /
//!   reject with its reason and diff, indexed from the journal) and run outcomes,
//!   searchable with SQLite FTS5 (bm25) or PostgreSQL's `tsvector` and, when
//!   `[embeddings]` is configured, with vectors too; both rankings are fused by
//!   reciprocal rank fusion.
//! - Retrieval for prompts: [`retrieve`] answers a step's `context` table with
//!   notes, fact versions and earlier decisions; [`render_context`] turns that into
//!   prompt text, and [`Retrieved::versions`] into the evidence a proposal records.
//!
//! - Listing for `memory` steps: [`list`] (notes by tag, outcomes of past runs).
//!
//! Storage (all SQL) is in `journal::memory`; this module holds the logic.

pub mod embed;
pub mod list;
pub mod vector;

use std::collections::{BinaryHeap, HashMap};

use serde::Serialize;
use serde_json::{Value as Json, json};

use crate::error::{Error, Result};
use crate::journal::store::MemoryStore;
use crate::journal::{DocRecord, FactRecord, Journal};
use crate::workflow::ContextSpec;
pub use embed::{Embedder, EmbeddingsConfig};

/// A fused entry: (score, full-text rank, vector rank).
type Fused = (f64, Option<usize>, Option<usize>);

/// Reciprocal rank fusion constant (the usual 60).
const RRF_K: f64 = 60.0;

/// Candidates taken from each ranking before fusion.
fn pool(k: usize) -> usize {
    (k * 4).max(40)
}

/// An FTS5 MATCH expression for free text: every word becomes a quoted term, OR-ed
/// together, so punctuation, operators and quotes in the query can never be a
/// syntax error. `None` when the text has no searchable word.
pub fn fts_query(text: &str) -> Option<String> {
    terms_query(&words(text))
}

/// The searchable words of free text, lower-cased, without repeats.
fn words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in text.split(|c: char| !c.is_alphanumeric()) {
        let w = w.to_lowercase();
        if !w.is_empty() && !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

fn terms_query(words: &[String]) -> Option<String> {
    let terms: Vec<String> = words.iter().map(|w| format!("\"{w}\"")).collect();
    (!terms.is_empty()).then(|| terms.join(" OR "))
}

/// Below this many documents every word is searched (scoring them all is cheap).
const PRUNE_ABOVE: i64 = 5_000;

/// In a large index, leave out words that at least half of all documents hold:
/// bm25 gives them no weight (FTS5 clamps their IDF to ~0), yet matching them means
/// scoring most of the index. Words no document holds are left out too. When every
/// word is that common, the rarest one is kept.
fn weighty_words(journal: &impl MemoryStore, words: Vec<String>) -> Result<Vec<String>> {
    if words.is_empty() {
        return Ok(words);
    }
    let (total, counts) = journal.term_doc_counts(&words)?;
    if total < PRUNE_ABOVE {
        return Ok(words);
    }
    let kept: Vec<String> = words
        .iter()
        .zip(&counts)
        .filter(|(_, n)| **n > 0 && **n * 2 < total)
        .map(|(w, _)| w.clone())
        .collect();
    if !kept.is_empty() {
        return Ok(kept);
    }
    Ok(words
        .into_iter()
        .zip(counts)
        .filter(|(_, n)| *n > 0)
        .min_by_key(|(_, n)| *n)
        .map(|(w, _)| vec![w])
        .unwrap_or_default())
}

/// A query vector and the model that made it (vectors of other models are ignored).
#[derive(Debug, Clone)]
pub struct QueryVector {
    pub model: String,
    pub vec: Vec<f32>,
}

/// One search result.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    #[serde(flatten)]
    pub doc: DocRecord,
    /// The fused score (higher is better).
    pub score: f64,
    /// 1-based rank in the full-text ranking, if it was there.
    pub fts_rank: Option<usize>,
    /// 1-based rank in the vector ranking, if it was there.
    pub vector_rank: Option<usize>,
}

/// Search documents. `kinds` limits the kinds (`note`, `decision`, `outcome`);
/// empty means all. With `vector`, the full-text and vector rankings are fused.
/// Either journal backend (the full-text ranking is each backend's own: bm25 on
/// SQLite, its approximation on PostgreSQL, see `journal::pg::memory_search`).
pub fn search(
    journal: &impl MemoryStore,
    text: &str,
    k: usize,
    kinds: &[&str],
    vector: Option<&QueryVector>,
) -> Result<Vec<Hit>> {
    if k == 0 {
        return Ok(Vec::new());
    }
    let n = pool(k);
    let fts: Vec<i64> = match terms_query(&weighty_words(journal, words(text))?) {
        Some(q) => journal
            .search_fts(&q, n, kinds)?
            .into_iter()
            .map(|(d, _)| d.id)
            .collect(),
        None => Vec::new(),
    };
    let vec_ranked: Vec<i64> = match vector {
        Some(qv) => vector_ranking(journal, qv, n, kinds)?,
        None => Vec::new(),
    };
    let mut fused: HashMap<i64, Fused> = HashMap::new();
    for (i, id) in fts.iter().enumerate() {
        let e = fused.entry(*id).or_insert((0.0, None, None));
        e.0 += 1.0 / (RRF_K + (i + 1) as f64);
        e.1 = Some(i + 1);
    }
    for (i, id) in vec_ranked.iter().enumerate() {
        let e = fused.entry(*id).or_insert((0.0, None, None));
        e.0 += 1.0 / (RRF_K + (i + 1) as f64);
        e.2 = Some(i + 1);
    }
    let mut ranked: Vec<(i64, Fused)> = fused.into_iter().collect();
    // Higher score first; ties by the better single rank, then the newer document.
    ranked.sort_by(|a, b| {
        b.1.0
            .total_cmp(&a.1.0)
            .then_with(|| best(a.1).cmp(&best(b.1)))
            .then_with(|| b.0.cmp(&a.0))
    });
    ranked.truncate(k);
    let ids: Vec<i64> = ranked.iter().map(|(id, _)| *id).collect();
    let docs: HashMap<i64, DocRecord> =
        journal.docs(&ids)?.into_iter().map(|d| (d.id, d)).collect();
    Ok(ranked
        .into_iter()
        .filter_map(|(id, (score, f, v))| {
            docs.get(&id).map(|d| Hit {
                doc: d.clone(),
                score,
                fts_rank: f,
                vector_rank: v,
            })
        })
        .collect())
}

fn best(x: Fused) -> usize {
    x.1.unwrap_or(usize::MAX).min(x.2.unwrap_or(usize::MAX))
}

/// Vector ranking: scan every sign sketch (Hamming distance), then rank the
/// closest candidates by exact cosine over their stored f32 vectors.
fn vector_ranking(
    journal: &impl MemoryStore,
    qv: &QueryVector,
    n: usize,
    kinds: &[&str],
) -> Result<Vec<i64>> {
    let q = vector::sketch(&qv.vec);
    let candidates = (n * 8).max(256);
    // Max-heap on distance: keeps the `candidates` smallest.
    let mut heap: BinaryHeap<(u32, i64)> = BinaryHeap::with_capacity(candidates + 1);
    journal.scan_sketches(|id, bits| {
        if bits.len() != q.len() {
            return;
        }
        let d = vector::hamming(&q, bits);
        if heap.len() < candidates {
            heap.push((d, id));
        } else if let Some(top) = heap.peek()
            && d < top.0
        {
            heap.pop();
            heap.push((d, id));
        }
    })?;
    let ids: Vec<i64> = heap.into_iter().map(|(_, id)| id).collect();
    let mut scored: Vec<(f32, i64)> = journal
        .vectors(&ids, &qv.model)?
        .into_iter()
        .map(|(id, v)| (vector::cosine(&qv.vec, &v), id))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)));
    let mut out = Vec::with_capacity(n);
    if kinds.is_empty() {
        out.extend(scored.into_iter().take(n).map(|(_, id)| id));
    } else {
        for (_, id) in scored {
            if out.len() >= n {
                break;
            }
            if let Some(d) = journal.doc(id)?
                && kinds.contains(&d.kind.as_str())
            {
                out.push(id);
            }
        }
    }
    Ok(out)
}

/// Embed documents that have no vector of the embedder's model yet (notes written by
/// runs, decisions, outcomes, or notes added before embeddings were configured).
/// Returns how many were embedded.
pub fn embed_missing(journal: &mut Journal, embedder: &Embedder, limit: usize) -> Result<usize> {
    let missing = journal.docs_missing_vectors(embedder.model(), limit)?;
    if missing.is_empty() {
        return Ok(0);
    }
    let texts: Vec<String> = missing.iter().map(|(_, t)| t.clone()).collect();
    let vecs = embedder.embed_blocking(&texts)?;
    let rows: Vec<crate::journal::VectorRow> = missing
        .iter()
        .zip(vecs)
        .map(|((id, _), v)| crate::journal::VectorRow {
            doc: *id,
            model: embedder.model().to_string(),
            sketch: vector::sketch(&v),
            vec: v,
        })
        .collect();
    journal.put_vectors(&rows)?;
    Ok(rows.len())
}

/// The current version of a fact, for staleness checks of proposals built from it.
pub fn current_fact_version(journal: &Journal, entity: &str, key: &str) -> Result<Option<i64>> {
    journal.fact_version(entity, key)
}

/// A fact that does not exist: says which keys (or entities) do.
pub fn unknown_fact(journal: &Journal, entity: &str, key: Option<&str>) -> Result<Error> {
    let facts = journal.facts(entity)?;
    if facts.is_empty() {
        let entities = journal.fact_entities()?;
        let hint = match crate::workflow::suggest::did_you_mean(
            entity,
            entities.iter().map(|s| s.as_str()),
        ) {
            Some(d) => d,
            None if entities.is_empty() => format!(
                "no facts yet; set one with: aios fact set {} {} VALUE",
                crate::connectors::shell::quote(entity),
                key.map(crate::connectors::shell::quote)
                    .unwrap_or_else(|| "KEY".into())
            ),
            None => format!("known entities: {}", short_list(&entities)),
        };
        return Ok(Error::not_found(format!("no facts about `{entity}`")).with_hint(hint));
    }
    let keys: Vec<String> = facts.iter().map(|f| f.key.clone()).collect();
    let key = key.unwrap_or("");
    let hint = crate::workflow::suggest::did_you_mean(key, keys.iter().map(|s| s.as_str()))
        .unwrap_or_else(|| format!("`{entity}` has: {}", short_list(&keys)));
    Ok(Error::not_found(format!("`{entity}` has no fact `{key}`")).with_hint(hint))
}

fn short_list(items: &[String]) -> String {
    const MAX: usize = 10;
    let mut s = items
        .iter()
        .take(MAX)
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > MAX {
        s.push_str(&format!(", … ({} in all)", items.len()));
    }
    s
}

/// A value typed on the command line: JSON when it parses as JSON (numbers, true,
/// lists, objects, quoted strings), otherwise the text itself.
pub fn parse_value(raw: &str) -> Json {
    match serde_json::from_str::<Json>(raw) {
        Ok(v) => v,
        Err(_) => Json::String(raw.to_string()),
    }
}

/// `open_rate=0.41 replies=3`: an outcome's values as text.
pub fn outcome_pairs(values: &Json) -> String {
    crate::journal::outcome_text(values)
}

/// Where retrieval happens: the workflow and step asking (for `decisions = k`).
#[derive(Debug, Clone)]
pub struct Scope {
    pub workflow: String,
    pub step: String,
    /// Steps of the same workflow built from this one's work (an agent step's
    /// downstream proposals): decisions on them are corrections of this step too.
    pub feeds: Vec<String>,
}

impl Scope {
    /// A step's own scope, feeding nothing else.
    pub fn step(workflow: impl Into<String>, step: impl Into<String>) -> Scope {
        Scope {
            workflow: workflow.into(),
            step: step.into(),
            feeds: Vec::new(),
        }
    }
}

/// What a step's `context` retrieved: exactly the notes, fact versions and
/// decisions put into its prompt.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Retrieved {
    pub notes: Vec<Hit>,
    pub facts: Vec<FactRecord>,
    pub decisions: Vec<DocRecord>,
    /// Entities asked for that have no facts.
    pub missing_entities: Vec<String>,
    /// Whether vectors took part in the note search.
    pub hybrid: bool,
}

impl Retrieved {
    /// The versions a proposal built from this context records as evidence:
    /// `{kind: "fact", key: "entity/key", version}` per fact used.
    pub fn versions(&self) -> Vec<Json> {
        self.facts
            .iter()
            .map(|f| json!({ "kind": "fact", "key": format!("{}/{}", f.entity, f.key), "version": f.version }))
            .collect()
    }

    /// The ids of the documents used (notes, outcomes and decisions).
    pub fn doc_ids(&self) -> Vec<i64> {
        self.notes
            .iter()
            .map(|h| h.doc.id)
            .chain(self.decisions.iter().map(|d| d.id))
            .collect()
    }

    /// The evidence record: `{versions, notes, decisions}`.
    pub fn evidence(&self) -> Json {
        json!({
            "versions": self.versions(),
            "notes": self.notes.iter().map(|h| h.doc.id).collect::<Vec<_>>(),
            "decisions": self.decisions.iter().map(|d| d.id).collect::<Vec<_>>(),
        })
    }
}

/// Answer a (rendered) `context` table: `memory` searched for `k` notes and
/// outcomes, every current fact of each entity in `facts`, and the last `decisions`
/// decisions on the same workflow step (and the steps it feeds, `Scope::feeds`),
/// informative ones (a reason or an edit) first. `vector` is the embedded `memory`
/// query when embeddings are configured.
pub fn retrieve(
    journal: &Journal,
    spec: &ContextSpec,
    scope: &Scope,
    vector: Option<&QueryVector>,
) -> Result<Retrieved> {
    let mut out = Retrieved {
        hybrid: vector.is_some(),
        ..Retrieved::default()
    };
    if let Some(q) = &spec.memory {
        out.notes = search(journal, q, spec.k, &["note", "outcome"], vector)?;
    }
    for entity in &spec.facts {
        let facts = journal.facts(entity)?;
        if facts.is_empty() {
            out.missing_entities.push(entity.clone());
        }
        out.facts.extend(facts);
    }
    if spec.decisions > 0 {
        let limit = spec.decisions * 5;
        let mut recent = journal.step_decisions(&scope.workflow, &scope.step, limit)?;
        for fed in &scope.feeds {
            if *fed != scope.step {
                recent.extend(journal.step_decisions(&scope.workflow, fed, limit)?);
            }
        }
        // Newest first across the steps, then the same limit as for one step.
        recent.sort_by_key(|d| std::cmp::Reverse(d.id));
        recent.truncate(limit);
        let informative =
            |d: &DocRecord| d.text.contains("\nreason: ") || d.text.contains("\nedit:\n");
        let mut picked: Vec<DocRecord> =
            recent.iter().filter(|d| informative(d)).cloned().collect();
        picked.extend(recent.iter().filter(|d| !informative(d)).cloned());
        picked.truncate(spec.decisions);
        picked.sort_by_key(|d| std::cmp::Reverse(d.id));
        out.decisions = picked;
    }
    Ok(out)
}

/// Prompt text for what was retrieved: facts with their versions, notes with their
/// ids, then the operator's earlier decisions on this step. Empty when nothing was.
pub fn render_context(r: &Retrieved) -> String {
    let mut s = String::new();
    if !r.facts.is_empty() {
        s.push_str("Known facts (entity key = value):\n");
        for f in &r.facts {
            s.push_str(&format!(
                "- {} {} = {} (version {})\n",
                f.entity, f.key, f.value, f.version
            ));
        }
    }
    if !r.notes.is_empty() {
        if !s.is_empty() {
            s.push('\n');
        }
        s.push_str("Relevant notes:\n");
        for h in &r.notes {
            let tags = if h.doc.tags.is_empty() {
                String::new()
            } else {
                format!(" [{}]", h.doc.tags.join(", "))
            };
            s.push_str(&format!(
                "- (memory {}){tags} {}\n",
                h.doc.id,
                indent(&h.doc.text)
            ));
        }
    }
    if !r.decisions.is_empty() {
        if !s.is_empty() {
            s.push('\n');
        }
        s.push_str("The operator's earlier decisions on this step (follow their corrections):\n");
        for d in &r.decisions {
            s.push_str(&format!("- {}\n", indent(&d.text)));
        }
    }
    s
}

fn indent(text: &str) -> String {
    text.trim_end().replace('\n', "\n  ")
}

#[cfg(test)]
mod tests;
