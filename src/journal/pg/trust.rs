//! Trust listings on PostgreSQL: `journal::trust` — each (workflow, step)'s
//! statistics (its proposed actions, decisions since its last demotion, the streak
//! of unchanged approvals, its workflow's outcomes) counted by the same
//! [`tally`] as SQLite's, and its trust marks, set by hand as `trust_changed`
//! events projected in their transaction. (Demotion by a decision is `runs.rs`'s,
//! in the decision's transaction.)

use postgres::GenericClient;

use super::PgJournal;
use super::project::{append, apply};
use crate::clock::Millis;
use crate::error::Result;
use crate::journal::store::{RunStore, TrustStore};
use crate::journal::trust::{DEMOTED, DecisionRow, PROMOTED, outcomes_since, tally};
use crate::journal::types::Event;
use crate::journal::{StepStats, TrustMark};

fn mark(r: &postgres::Row) -> TrustMark {
    TrustMark {
        level: r.get(0),
        by: r.get(1),
        reason: r.get(2),
        at: r.get(3),
    }
}

fn last_mark(c: &mut impl GenericClient, workflow: &str, step: &str) -> Result<Option<TrustMark>> {
    Ok(c.query_opt(
        "SELECT level, by, reason, at FROM trust_marks WHERE workflow = $1 AND step = $2
         ORDER BY id DESC LIMIT 1",
        &[&workflow, &step],
    )?
    .map(|r| mark(&r)))
}

fn stats(c: &mut impl GenericClient, workflow: &str, step: &str) -> Result<StepStats> {
    let last = last_mark(c, workflow, step)?;
    // Decisions and demotions are ordered by their events' seq (many can share a
    // millisecond).
    let demoted_at: Option<i64> = c
        .query_one(
            "SELECT max(seq) FROM trust_marks WHERE workflow = $1 AND step = $2 AND level = 'demoted'",
            &[&workflow, &step],
        )?
        .get(0);
    let decisions = c
        .query(
            "SELECT status, decision, edited, decided_by, dseq FROM (
               SELECT p.id, p.status, p.decision, p.edited IS NOT NULL AS edited,
                  coalesce(p.decided_by, '') AS decided_by,
                  (SELECT max(e.seq) FROM events e WHERE e.run_id = p.run_id AND e.step_id = p.step_id
                     AND e.type = 'proposal_decided' AND (e.data::json->>'proposal')::bigint = p.id) AS dseq
               FROM proposals p JOIN runs r ON r.id = p.run_id
               WHERE r.workflow = $1 AND p.step_id = $2 AND p.kind = 'action' AND r.dry IS NULL) d
             ORDER BY dseq IS NULL, dseq DESC, id DESC",
            &[&workflow, &step],
        )?
        .iter()
        .map(|r| DecisionRow {
            status: r.get(0),
            decision: r.get(1),
            edited: r.get(2),
            by: r.get(3),
            seq: r.get(4),
        })
        .collect();
    let since: Millis = outcomes_since(last.as_ref());
    let outcomes = c
        .query(
            "SELECT o.key, o.value FROM outcomes o JOIN runs r ON r.id = o.run_id
         WHERE r.workflow = $1 AND o.at >= $2 AND r.dry IS NULL ORDER BY o.at, o.run_id",
            &[&workflow, &since],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    Ok(tally(workflow, step, last, demoted_at, decisions, outcomes))
}

impl TrustStore for PgJournal {
    fn step_stats(&self, workflow: &str, step: &str) -> Result<StepStats> {
        stats(&mut *self.conn(), workflow, step)
    }

    fn all_step_stats(&self) -> Result<Vec<StepStats>> {
        let mut conn = self.conn();
        let pairs: Vec<(String, String)> = conn
            .query(
                "SELECT w, s FROM (
                   SELECT DISTINCT r.workflow, p.step_id FROM proposals p JOIN runs r ON r.id = p.run_id
                   WHERE p.kind = 'action'
                   UNION SELECT workflow, step FROM trust_marks) pairs (w, s)
                 ORDER BY w COLLATE \"C\", s COLLATE \"C\"",
                &[],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        pairs.iter().map(|(w, s)| stats(&mut *conn, w, s)).collect()
    }

    fn trust_marks(&self, workflow: &str, step: &str) -> Result<Vec<TrustMark>> {
        Ok(self
            .conn()
            .query(
                "SELECT level, by, reason, at FROM trust_marks WHERE workflow = $1 AND step = $2 ORDER BY id",
                &[&workflow, &step],
            )?
            .iter()
            .map(mark)
            .collect())
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
        let at = self.now();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        let ev = Event::TrustChanged {
            workflow: workflow.to_string(),
            step: step.to_string(),
            level: if promoted { PROMOTED } else { DEMOTED }.to_string(),
            by: by.to_string(),
            reason,
        };
        append(&mut tx, run, &ev, at)?;
        apply(&mut tx, run, &ev, at)?;
        let m = last_mark(&mut *tx, workflow, step)?.expect("just written");
        tx.commit()?;
        Ok(m)
    }
}
