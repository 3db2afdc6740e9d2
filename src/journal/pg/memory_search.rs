//! Memory reads for search on PostgreSQL: `journal::memory_search` — documents, the
//! full-text index (a `tsvector` column with a GIN index, see migration 0008), the
//! embedding vectors, the decisions of a step and a run's outcomes.
//!
//! The full-text queries the callers pass are FTS5 expressions (`"a" OR "b"`, as
//! `memory::fts_query` writes them): their quoted terms become phrase queries OR-ed
//! together. Ranking approximates SQLite's bm25: each term's `ts_rank` (text weighed
//! above tags, normalized by the document's length) times its bm25 inverse document
//! frequency, so a rare word counts more than one most documents hold. Scores are
//! returned negated, lower is better, as bm25's. The two rankings agree on what a
//! user relies on (the document that holds the rare words first, nothing that holds
//! none of them), not on every score.
//!
//! Vectors are stored exactly (`REAL[]`) with their sign sketch (`BYTEA`); the caller
//! scans the sketches and ranks the closest by exact cosine (`memory::search`).
//! pgvector is not needed.

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, GenericClient, Row};
use serde_json::Value as Json;

use crate::error::Result;
use crate::journal::{DocRecord, OutcomeRecord, VectorRow};

const DOC_COLS: &str = "d.id, d.kind, d.text, d.tags, d.source, d.run_id, d.step_id, d.workflow,
    d.proposal_id, d.decision, d.created_at";

fn doc_row(r: &Row) -> DocRecord {
    let tags: &str = r.get(3);
    DocRecord {
        id: r.get(0),
        kind: r.get(1),
        text: r.get(2),
        tags: serde_json::from_str(tags).unwrap_or_default(),
        source: r.get(4),
        run_id: r.get(5),
        step_id: r.get(6),
        workflow: r.get(7),
        proposal_id: r.get(8),
        decision: r.get(9),
        created_at: r.get(10),
    }
}

/// The terms of an FTS5 expression: its quoted strings (`""` inside one is a quote),
/// or, when nothing is quoted, its bare words other than FTS5's operators.
pub(super) fn fts_terms(expr: &str) -> Vec<String> {
    let mut terms = Vec::new();
    let mut chars = expr.chars().peekable();
    let mut bare = String::new();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if c != '"' {
            bare.push(c);
            continue;
        }
        quoted = true;
        let mut term = String::new();
        while let Some(c) = chars.next() {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    term.push('"');
                } else {
                    break;
                }
            } else {
                term.push(c);
            }
        }
        if !term.trim().is_empty() {
            terms.push(term);
        }
    }
    if !quoted {
        terms.extend(
            bare.split(|c: char| c.is_whitespace() || c == '(' || c == ')')
                .filter(|w| !w.is_empty() && !matches!(*w, "OR" | "AND" | "NOT" | "NEAR"))
                .map(str::to_string),
        );
    }
    terms
}

/// The tsquery of the terms in `$N` (a `TEXT[]`): each a phrase, OR-ed.
fn tsquery(param: &str) -> String {
    format!(
        "(SELECT aios_tsquery_or(phraseto_tsquery('aios_memory', aios_memory_words(w))) FROM unnest({param}::TEXT[]) w)"
    )
}

pub(super) fn doc(c: &mut impl GenericClient, id: i64) -> Result<Option<DocRecord>> {
    Ok(c.query_opt(
        &format!("SELECT {DOC_COLS} FROM memory_docs d WHERE d.id = $1"),
        &[&id],
    )?
    .map(|r| doc_row(&r)))
}

/// Documents by id, in the order asked (missing ids are left out).
pub(super) fn docs(c: &mut impl GenericClient, ids: &[i64]) -> Result<Vec<DocRecord>> {
    let found: std::collections::HashMap<i64, DocRecord> = c
        .query(
            &format!("SELECT {DOC_COLS} FROM memory_docs d WHERE d.id = ANY($1)"),
            &[&ids],
        )?
        .iter()
        .map(|r| {
            let d = doc_row(r);
            (d.id, d)
        })
        .collect();
    Ok(ids.iter().filter_map(|id| found.get(id).cloned()).collect())
}

/// Every note, oldest first; with `tag`, only the notes that carry it.
pub(super) fn notes(c: &mut impl GenericClient, tag: Option<&str>) -> Result<Vec<DocRecord>> {
    Ok(c.query(
        &format!(
            "SELECT {DOC_COLS} FROM memory_docs d WHERE d.kind = 'note'
               AND ($1::TEXT IS NULL OR d.tags::jsonb ? $1)
             ORDER BY d.id"
        ),
        &[&tag],
    )?
    .iter()
    .map(doc_row)
    .collect())
}

/// Full-text search: `query` is an FTS5 expression (see the module's doc). Best
/// first, with negated scores (lower is better); ties by id.
pub(super) fn search_fts(
    c: &mut impl GenericClient,
    query: &str,
    limit: usize,
    kinds: &[&str],
) -> Result<Vec<(DocRecord, f64)>> {
    let terms = fts_terms(query);
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    // A term's weight is bm25's inverse document frequency, clamped to 1e-6 as FTS5
    // does when more than half of the documents hold the term (so counting stops
    // there). The number of documents is an upper bound: every id handed out.
    let sql = format!(
        "WITH terms AS (
             SELECT phraseto_tsquery('aios_memory', aios_memory_words(w)) AS q FROM unnest($1::TEXT[]) w
         ), n AS MATERIALIZED (
             SELECT greatest(CASE WHEN is_called THEN last_value ELSE 0 END, 1)::FLOAT8 AS total
             FROM memory_doc_ids
         ), weighted AS MATERIALIZED (
             SELECT array_agg(t.q) AS qs,
                    array_agg(greatest(ln((n.total - c.df + 0.5) / (c.df + 0.5)), 1e-6)) AS idfs
             FROM terms t CROSS JOIN n
             CROSS JOIN LATERAL (
                 SELECT count(*)::FLOAT8 AS df FROM (
                     SELECT 1 FROM memory_docs m WHERE m.fts @@ t.q LIMIT n.total::BIGINT / 2 + 1
                 ) held
             ) c
         )
         SELECT {DOC_COLS}, s.score
         FROM memory_docs d CROSS JOIN weighted w
         CROSS JOIN LATERAL (
             SELECT (-sum(u.idf * ts_rank('{{0.1, 0.2, 0.5, 1.0}}'::FLOAT4[], d.fts, u.q, 1)))::FLOAT8 AS score
             FROM unnest(w.qs, w.idfs) AS u(q, idf)
         ) s
         WHERE d.fts @@ (SELECT aios_tsquery_or(q) FROM terms)
           AND (cardinality($3::TEXT[]) = 0 OR d.kind = ANY($3::TEXT[]))
         ORDER BY s.score, d.id LIMIT $2"
    );
    let limit = limit.min(i64::MAX as usize) as i64;
    Ok(c.query(&sql, &[&terms, &limit, &kinds])?
        .iter()
        .map(|r| (doc_row(r), r.get::<_, f64>(11)))
        .collect())
}

/// For each word, how many documents hold it (after the index's own cutting and
/// stemming), and an upper bound of the number of documents (every id handed out).
pub(super) fn term_doc_counts(
    c: &mut impl GenericClient,
    words: &[String],
) -> Result<(i64, Vec<i64>)> {
    let counts = c
        .query(
            "SELECT (SELECT count(*) FROM memory_docs d
                     WHERE d.fts @@ phraseto_tsquery('aios_memory', aios_memory_words(u.w)))
             FROM unnest($1::TEXT[]) WITH ORDINALITY AS u(w, i) ORDER BY u.i",
            &[&words],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let total: i64 = c
        .query_one(
            "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM memory_doc_ids",
            &[],
        )?
        .get(0);
    Ok((total, counts))
}

/// Store (or replace) embeddings, in one transaction.
pub(super) fn put_vectors(c: &mut Client, rows: &[VectorRow]) -> Result<()> {
    let mut tx = super::begin(c)?;
    let v = tx.prepare(
        "INSERT INTO memory_vectors (doc_id, model, dim, vec) VALUES ($1, $2, $3, $4)
         ON CONFLICT (doc_id) DO UPDATE SET model = $2, dim = $3, vec = $4",
    )?;
    let s = tx.prepare(
        "INSERT INTO memory_sketches (doc_id, bits) VALUES ($1, $2)
         ON CONFLICT (doc_id) DO UPDATE SET bits = $2",
    )?;
    for r in rows {
        tx.execute(&v, &[&r.doc, &r.model, &(r.vec.len() as i64), &r.vec])?;
        tx.execute(&s, &[&r.doc, &r.sketch])?;
    }
    tx.commit()?;
    Ok(())
}

/// Documents without a vector of `model`, oldest first.
pub(super) fn docs_missing_vectors(
    c: &mut impl GenericClient,
    model: &str,
    limit: usize,
) -> Result<Vec<(i64, String)>> {
    Ok(c.query(
        "SELECT d.id, d.text FROM memory_docs d LEFT JOIN memory_vectors v ON v.doc_id = d.id
         WHERE v.doc_id IS NULL OR v.model != $1 ORDER BY d.id LIMIT $2",
        &[&model, &(limit.min(i64::MAX as usize) as i64)],
    )?
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect())
}

/// Call `f(doc, sketch)` for every stored sketch, streamed (the first pass of
/// vector search).
pub(super) fn scan_sketches(c: &mut Client, mut f: impl FnMut(i64, &[u8])) -> Result<()> {
    let none: [&str; 0] = [];
    let mut rows = c.query_raw("SELECT doc_id, bits FROM memory_sketches", none)?;
    while let Some(r) = rows.next()? {
        f(r.get(0), r.get::<_, &[u8]>(1));
    }
    Ok(())
}

/// The vectors of `docs` made with `model`, in the order asked.
pub(super) fn vectors(
    c: &mut impl GenericClient,
    docs: &[i64],
    model: &str,
) -> Result<Vec<(i64, Vec<f32>)>> {
    let found: std::collections::HashMap<i64, Vec<f32>> = c
        .query(
            "SELECT doc_id, vec FROM memory_vectors WHERE doc_id = ANY($1) AND model = $2",
            &[&docs, &model],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    Ok(docs
        .iter()
        .filter_map(|d| found.get(d).map(|v| (*d, v.clone())))
        .collect())
}

/// The last decisions on `step` of workflow `workflow`, newest first (up to `limit`).
pub(super) fn step_decisions(
    c: &mut impl GenericClient,
    workflow: &str,
    step: &str,
    limit: usize,
) -> Result<Vec<DocRecord>> {
    Ok(c.query(
        &format!(
            "SELECT {DOC_COLS} FROM memory_docs d
             WHERE d.kind = 'decision' AND d.workflow = $1 AND d.step_id = $2
             ORDER BY d.id DESC LIMIT $3"
        ),
        &[&workflow, &step, &(limit.min(i64::MAX as usize) as i64)],
    )?
    .iter()
    .map(doc_row)
    .collect())
}

/// Documents of one kind, newest first, up to `limit`: with `tag`, only those
/// carrying it; with `workflow`, only those of its runs; with `fts` (an FTS5
/// expression), only those matching it.
pub(super) fn list_docs(
    c: &mut impl GenericClient,
    kind: &str,
    tag: Option<&str>,
    workflow: Option<&str>,
    fts: Option<&str>,
    limit: usize,
) -> Result<Vec<DocRecord>> {
    let terms: Option<Vec<String>> = fts.map(fts_terms);
    if terms.as_ref().is_some_and(|t| t.is_empty()) {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {DOC_COLS} FROM memory_docs d
         WHERE d.kind = $1
           AND ($2::TEXT IS NULL OR d.tags::jsonb ? $2)
           AND ($3::TEXT IS NULL OR d.workflow = $3)
           AND ($4::TEXT[] IS NULL OR d.fts @@ {q})
         ORDER BY d.id DESC LIMIT $5",
        q = tsquery("$4")
    );
    Ok(c.query(
        &sql,
        &[
            &kind,
            &tag,
            &workflow,
            &terms,
            &(limit.min(i64::MAX as usize) as i64),
        ],
    )?
    .iter()
    .map(doc_row)
    .collect())
}

/// The outcomes recorded for a run, by key.
pub(super) fn outcomes(c: &mut impl GenericClient, run: i64) -> Result<Vec<OutcomeRecord>> {
    Ok(c.query(
        r#"SELECT key, value, step_id, at FROM outcomes WHERE run_id = $1 ORDER BY key COLLATE "C""#,
        &[&run],
    )?
    .iter()
    .map(|r| {
        let v: String = r.get(1);
        OutcomeRecord {
            key: r.get(0),
            value: serde_json::from_str(&v).unwrap_or(Json::String(v)),
            step_id: r.get(2),
            at: r.get(3),
        }
    })
    .collect())
}
