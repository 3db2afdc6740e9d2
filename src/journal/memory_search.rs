//! Memory reads for search: documents, the full-text index, vectors, the decisions
//! of a step and a run's outcomes. (Writes and facts are in `journal/memory.rs`.)

use rusqlite::{OptionalExtension, params};
use serde_json::Value as Json;

use super::SqliteJournal;
use super::memory::{DOC_COLS, DocRecord, OutcomeRecord, VectorRow, doc_row};
use super::memory_common::forgettable;
use super::types::Event;
use crate::error::Result;

impl SqliteJournal {
    /// One document.
    pub fn doc(&self, id: i64) -> Result<Option<DocRecord>> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {DOC_COLS} FROM memory_docs d WHERE d.id = ?1"
            ))?
            .query_row(params![id], doc_row)
            .optional()?)
    }

    /// Every note, oldest first; with `tag`, only the notes that carry it.
    pub fn notes(&self, tag: Option<&str>) -> Result<Vec<DocRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {DOC_COLS} FROM memory_docs d WHERE d.kind = 'note'
               AND (?1 IS NULL OR EXISTS (SELECT 1 FROM json_each(d.tags) t WHERE t.value = ?1))
             ORDER BY d.id"
        ))?;
        let rows = stmt.query_map(params![tag], doc_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Documents by id, in the order asked (missing ids are left out).
    pub fn docs(&self, ids: &[i64]) -> Result<Vec<DocRecord>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(d) = self.doc(*id)? {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// Remove a note from the documents, the full-text index and the vectors. A
    /// note a run wrote is forgotten through a `note_forgotten` event of that run.
    pub fn forget_note(&mut self, id: i64) -> Result<DocRecord> {
        let doc = forgettable(id, self.doc(id)?)?;
        match doc.run_id {
            Some(run) => {
                self.commit(run, &[Event::NoteForgotten { note: id }])?;
            }
            None => {
                let _gate = self.gate_guard();
                self.conn
                    .prepare_cached("DELETE FROM memory_docs WHERE id = ?1")?
                    .execute(params![id])?;
            }
        }
        Ok(doc)
    }

    /// Full-text search: `query` is an FTS5 MATCH expression (see
    /// `memory::fts_query`). Best first, with bm25 scores (lower is better).
    pub fn search_fts(
        &self,
        query: &str,
        limit: usize,
        kinds: &[&str],
    ) -> Result<Vec<(DocRecord, f64)>> {
        // Rank inside the full-text index first (no join per match), then read the
        // documents of the best ones only.
        if kinds.is_empty() {
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT {DOC_COLS}, f.score FROM (
                    SELECT rowid AS id, bm25(memory_fts, 1.0, 0.5) AS score FROM memory_fts
                    WHERE memory_fts MATCH ?1 ORDER BY score LIMIT ?2
                 ) f JOIN memory_docs d ON d.id = f.id ORDER BY f.score"
            ))?;
            let rows = stmt.query_map(params![query, limit as i64], |r| {
                Ok((doc_row(r)?, r.get::<_, f64>(11)?))
            })?;
            return Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?);
        }
        let kinds_json = serde_json::to_string(kinds).unwrap_or_else(|_| "[]".into());
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {DOC_COLS}, bm25(memory_fts, 1.0, 0.5) AS score
             FROM memory_fts JOIN memory_docs d ON d.id = memory_fts.rowid
             WHERE memory_fts MATCH ?1
               AND d.kind IN (SELECT value FROM json_each(?3))
             ORDER BY score LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![query, limit as i64, kinds_json], |r| {
            Ok((doc_row(r)?, r.get::<_, f64>(11)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// For each word, how many documents hold it (after the index's own tokenizing
    /// and stemming), and an upper bound of the number of documents.
    pub fn term_doc_counts(&self, words: &[String]) -> Result<(i64, Vec<i64>)> {
        self.conn.execute_batch(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.memory_query USING fts5(t, tokenize = 'porter unicode61');
             CREATE VIRTUAL TABLE IF NOT EXISTS temp.memory_query_terms USING fts5vocab(temp, memory_query, 'instance');
             DELETE FROM temp.memory_query;",
        )?;
        {
            let mut ins = self
                .conn
                .prepare_cached("INSERT INTO temp.memory_query (rowid, t) VALUES (?1, ?2)")?;
            for (i, w) in words.iter().enumerate() {
                ins.execute(params![i as i64, w])?;
            }
        }
        let mut counts = vec![0i64; words.len()];
        {
            let mut stmt = self.conn.prepare_cached(
                "SELECT q.doc, max(coalesce((SELECT v.doc FROM memory_fts_terms v WHERE v.term = q.term), 0))
                 FROM temp.memory_query_terms q GROUP BY q.doc",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
            for row in rows {
                let (i, n) = row?;
                if let Some(c) = counts.get_mut(i as usize) {
                    *c = n;
                }
            }
        }
        let total: i64 = self.conn.query_row(
            "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'memory_docs'), 0),
                        coalesce((SELECT max(id) FROM memory_docs), 0))",
            [],
            |r| r.get(0),
        )?;
        Ok((total, counts))
    }

    /// How many documents of each kind there are.
    pub fn doc_counts(&self) -> Result<Vec<(String, i64)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT kind, count(*) FROM memory_docs GROUP BY kind ORDER BY kind")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Store (or replace) embeddings, in one transaction.
    pub fn put_vectors(&mut self, rows: &[VectorRow]) -> Result<()> {
        let tx = self.write_tx()?;
        {
            let mut v = tx.prepare_cached(
                "INSERT OR REPLACE INTO memory_vectors (doc_id, model, dim, vec) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut s = tx.prepare_cached(
                "INSERT OR REPLACE INTO memory_sketches (doc_id, bits) VALUES (?1, ?2)",
            )?;
            for r in rows {
                let bytes: Vec<u8> = r.vec.iter().flat_map(|f| f.to_le_bytes()).collect();
                v.execute(params![r.doc, r.model, r.vec.len() as i64, bytes])?;
                s.execute(params![r.doc, r.sketch])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Documents without a vector of `model`, oldest first.
    pub fn docs_missing_vectors(&self, model: &str, limit: usize) -> Result<Vec<(i64, String)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.id, d.text FROM memory_docs d LEFT JOIN memory_vectors v ON v.doc_id = d.id
             WHERE v.doc_id IS NULL OR v.model != ?1 ORDER BY d.id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![model, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Call `f(doc, sketch)` for every stored sketch (the first pass of vector search).
    pub fn scan_sketches(&self, mut f: impl FnMut(i64, &[u8])) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT doc_id, bits FROM memory_sketches")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            if let rusqlite::types::ValueRef::Blob(b) = r.get_ref(1)? {
                f(id, b);
            }
        }
        Ok(())
    }

    /// The vectors of `docs` made with `model`.
    pub fn vectors(&self, docs: &[i64], model: &str) -> Result<Vec<(i64, Vec<f32>)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT vec FROM memory_vectors WHERE doc_id = ?1 AND model = ?2")?;
        let mut out = Vec::with_capacity(docs.len());
        for d in docs {
            let blob: Option<Vec<u8>> =
                stmt.query_row(params![d, model], |r| r.get(0)).optional()?;
            if let Some(b) = blob {
                let v = b
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                out.push((*d, v));
            }
        }
        Ok(out)
    }

    /// The last decisions on `step` of workflow `workflow`, newest first (up to `limit`).
    pub fn step_decisions(
        &self,
        workflow: &str,
        step: &str,
        limit: usize,
    ) -> Result<Vec<DocRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {DOC_COLS} FROM memory_docs d
             WHERE d.kind = 'decision' AND d.workflow = ?1 AND d.step_id = ?2
             ORDER BY d.id DESC LIMIT ?3"
        ))?;
        let rows = stmt.query_map(params![workflow, step, limit as i64], doc_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Documents of one kind (`note`, `outcome`, `decision`), newest first, up to
    /// `limit`: with `tag`, only those carrying it; with `workflow`, only those of
    /// its runs; with `fts` (an FTS5 MATCH expression, see `memory::fts_query`), only
    /// those matching it. What a `memory` step lists.
    pub fn list_docs(
        &self,
        kind: &str,
        tag: Option<&str>,
        workflow: Option<&str>,
        fts: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DocRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {DOC_COLS} FROM memory_docs d
             WHERE d.kind = ?1
               AND (?2 IS NULL OR EXISTS (SELECT 1 FROM json_each(d.tags) WHERE value = ?2))
               AND (?3 IS NULL OR d.workflow = ?3)
               AND (?4 IS NULL OR d.id IN (SELECT rowid FROM memory_fts WHERE memory_fts MATCH ?4))
             ORDER BY d.id DESC LIMIT ?5"
        ))?;
        let rows = stmt.query_map(params![kind, tag, workflow, fts, limit as i64], doc_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The outcomes recorded for a run, by key.
    pub fn outcomes(&self, run: i64) -> Result<Vec<OutcomeRecord>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT key, value, step_id, at FROM outcomes WHERE run_id = ?1 ORDER BY key",
        )?;
        let rows = stmt.query_map(params![run], |r| {
            let v: String = r.get(1)?;
            Ok(OutcomeRecord {
                key: r.get(0)?,
                value: serde_json::from_str(&v).unwrap_or(Json::String(v)),
                step_id: r.get(2)?,
                at: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}
