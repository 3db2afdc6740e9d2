//! The trust layer's storage: statistics of each (workflow, step)'s proposed actions
//! (proposals, unchanged approvals, edits, rejections, the streak of unchanged
//! approvals, outcomes) and its trust marks (promoted / demoted, `trust_changed`
//! events). Dry runs are left out. Demotion by an edit or a rejection is journaled by [`SqliteJournal::decide`]
//! in the decision's own transaction ([`demote_on_decision`]).

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use serde_json::{Map, Value as Json};

use super::{Event, SqliteJournal, append, project};
use crate::clock::Millis;
use crate::error::Result;

/// The last promotion or demotion of a step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrustMark {
    /// `promoted` or `demoted`.
    pub level: String,
    pub by: String,
    pub reason: Option<String>,
    #[serde(serialize_with = "ser_ms")]
    pub at: Millis,
}

fn ser_ms<S: serde::Serializer>(ms: &Millis, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&crate::clock::format_ms(*ms))
}

/// What the operator (and policies) did with one step's proposed actions.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StepStats {
    pub workflow: String,
    pub step: String,
    /// Proposed actions, in every state.
    pub proposals: u64,
    /// Approved as proposed (also by a policy).
    pub approved_unchanged: u64,
    /// Approved with an edit.
    pub edited: u64,
    pub rejected: u64,
    pub pending: u64,
    /// Of the approvals, how many a policy took.
    pub by_policy: u64,
    /// Decisions since the last demotion.
    pub decided: u64,
    /// Consecutive unchanged approvals, newest first, since the last edit,
    /// rejection or demotion.
    pub streak: u64,
    /// The last promotion or demotion.
    pub mark: Option<TrustMark>,
    /// The latest value of each outcome key of the workflow's runs (since the
    /// step's last promotion, when it is promoted).
    pub outcomes: Map<String, Json>,
}

impl StepStats {
    /// Whether its last mark is a promotion.
    pub fn promoted(&self) -> bool {
        self.mark.as_ref().is_some_and(|m| m.level == PROMOTED)
    }

    /// Why it was promoted or demoted.
    pub fn mark_reason(&self) -> Option<&str> {
        self.mark.as_ref().and_then(|m| m.reason.as_deref())
    }

    /// `5 of 5 times`, or `the last 3 times (of 7 decided)`.
    pub fn streak_text(&self) -> String {
        if self.streak == self.decided {
            format!("{} of {} times", self.streak, self.decided)
        } else {
            format!(
                "the last {} (of {} decided)",
                crate::text::count(self.streak as usize, "time"),
                self.decided
            )
        }
    }

    /// `WORKFLOW.STEP`.
    pub fn id(&self) -> String {
        format!("{}.{}", self.workflow, self.step)
    }
}

pub const PROMOTED: &str = "promoted";
pub const DEMOTED: &str = "demoted";

fn last_mark(conn: &rusqlite::Connection, workflow: &str, step: &str) -> Result<Option<TrustMark>> {
    Ok(conn
        .prepare_cached(
            "SELECT level, by, reason, at FROM trust_marks WHERE workflow = ?1 AND step = ?2 ORDER BY id DESC LIMIT 1",
        )?
        .query_row(params![workflow, step], |r| {
            Ok(TrustMark {
                level: r.get(0)?,
                by: r.get(1)?,
                reason: r.get(2)?,
                at: r.get(3)?,
            })
        })
        .optional()?)
}

fn stats(conn: &rusqlite::Connection, workflow: &str, step: &str) -> Result<StepStats> {
    let mark = last_mark(conn, workflow, step)?;
    // Decisions and demotions are ordered by their events' seq (many can share a
    // millisecond).
    let demoted_at: Option<i64> = conn
        .prepare_cached(
            "SELECT max(seq) FROM trust_marks WHERE workflow = ?1 AND step = ?2 AND level = 'demoted'",
        )?
        .query_row(params![workflow, step], |r| r.get(0))?;
    let decisions = conn
        .prepare_cached(
            "SELECT p.status, p.decision, p.edited IS NOT NULL, coalesce(p.decided_by, ''),
                (SELECT max(e.seq) FROM events e WHERE e.run_id = p.run_id AND e.step_id = p.step_id
                   AND e.type = 'proposal_decided' AND json_extract(e.data, '$.proposal') = p.id) AS dseq
             FROM proposals p JOIN runs r ON r.id = p.run_id
             WHERE r.workflow = ?1 AND p.step_id = ?2 AND p.kind = 'action' AND r.dry IS NULL
             ORDER BY dseq IS NULL, dseq DESC, p.id DESC",
        )?
        .query_map(params![workflow, step], |r| {
            Ok(DecisionRow {
                status: r.get(0)?,
                decision: r.get(1)?,
                edited: r.get(2)?,
                by: r.get(3)?,
                seq: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let since = outcomes_since(mark.as_ref());
    let outcomes = conn
        .prepare_cached(
            "SELECT o.key, o.value FROM outcomes o JOIN runs r ON r.id = o.run_id
             WHERE r.workflow = ?1 AND o.at >= ?2 AND r.dry IS NULL ORDER BY o.at, o.run_id",
        )?
        .query_map(params![workflow, since], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(tally(workflow, step, mark, demoted_at, decisions, outcomes))
}

/// A proposed action of a step, as its statistics count it.
pub(super) struct DecisionRow {
    pub status: String,
    pub decision: Option<String>,
    pub edited: bool,
    /// Who decided (empty: not decided).
    pub by: String,
    /// Its `proposal_decided` event's seq.
    pub seq: Option<i64>,
}

/// From when a step's outcomes count: its promotion, when it is promoted.
pub(super) fn outcomes_since(mark: Option<&TrustMark>) -> Millis {
    match mark {
        Some(m) if m.level == PROMOTED => m.at,
        _ => Millis::MIN,
    }
}

/// A step's statistics from its rows (both backends'): its last `mark`, the seq of
/// its last demotion, its proposed actions newest decision first, and its
/// workflow's outcomes `(key, JSON)` oldest first.
pub(super) fn tally(
    workflow: &str,
    step: &str,
    mark: Option<TrustMark>,
    demoted_at: Option<i64>,
    decisions: Vec<DecisionRow>,
    outcomes: Vec<(String, String)>,
) -> StepStats {
    let mut s = StepStats {
        workflow: workflow.to_string(),
        step: step.to_string(),
        ..StepStats::default()
    };
    let mut counting = true;
    for d in decisions {
        s.proposals += 1;
        let unchanged = match (d.status.as_str(), d.decision.as_deref()) {
            ("pending", _) => {
                s.pending += 1;
                continue;
            }
            ("approved", Some("approve")) if !d.edited => {
                s.approved_unchanged += 1;
                if d.by.starts_with(crate::trust::POLICY_PREFIX) {
                    s.by_policy += 1;
                }
                true
            }
            ("approved", Some("approve")) => {
                s.edited += 1;
                false
            }
            ("rejected", _) => {
                s.rejected += 1;
                false
            }
            // Withdrawn, or marked done: no verdict on the proposal.
            _ => continue,
        };
        let after_demotion = match (demoted_at, d.seq) {
            (Some(dm), Some(at)) => at > dm,
            (Some(_), None) => false,
            (None, _) => true,
        };
        if after_demotion {
            s.decided += 1;
            if counting && unchanged {
                s.streak += 1;
            } else {
                counting = false;
            }
        }
    }
    for (k, v) in outcomes {
        s.outcomes
            .insert(k, serde_json::from_str(&v).unwrap_or(Json::String(v)));
    }
    s.mark = mark;
    s
}

/// In the transaction of a decision on an action item: an edit or a rejection of a
/// promoted step demotes it (journaled with the reason, under the item's run).
pub(super) fn demote_on_decision(
    tx: &rusqlite::Transaction<'_>,
    p: &super::ProposalRecord,
    at: Millis,
) -> Result<()> {
    if p.kind != super::ProposalKind::Action {
        return Ok(());
    }
    let why = match (p.decision, p.edited.is_some()) {
        (Some(super::Decision::Reject), _) => "rejected",
        (Some(super::Decision::Approve), true) => "edited",
        _ => return Ok(()),
    };
    let promoted = last_mark(tx, &p.workflow, &p.step_id)?.is_some_and(|m| m.level == PROMOTED);
    if !promoted {
        return Ok(());
    }
    let by = p.decided_by.clone().unwrap_or_default();
    let ev = Event::TrustChanged {
        workflow: p.workflow.clone(),
        step: p.step_id.clone(),
        level: DEMOTED.into(),
        by: by.clone(),
        reason: Some(format!(
            "inbox item {} was {why} by {by}{}",
            p.id,
            p.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        )),
    };
    append(tx, p.run_id, &ev, at)?;
    project::apply(tx, p.run_id, &ev, at)?;
    Ok(())
}

impl SqliteJournal {
    /// The statistics of one step of `workflow`.
    pub fn step_stats(&self, workflow: &str, step: &str) -> Result<StepStats> {
        stats(&self.conn, workflow, step)
    }

    /// The statistics of every step that proposed an action or was promoted or
    /// demoted, by workflow and step.
    pub fn all_step_stats(&self) -> Result<Vec<StepStats>> {
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT r.workflow, p.step_id FROM proposals p JOIN runs r ON r.id = p.run_id WHERE p.kind = 'action'
             UNION SELECT workflow, step FROM trust_marks ORDER BY 1, 2",
        )?;
        let pairs = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        pairs.iter().map(|(w, s)| stats(&self.conn, w, s)).collect()
    }

    /// Every promotion and demotion of a step, oldest first.
    pub fn trust_marks(&self, workflow: &str, step: &str) -> Result<Vec<TrustMark>> {
        let mut stmt = self.conn.prepare(
            "SELECT level, by, reason, at FROM trust_marks WHERE workflow = ?1 AND step = ?2 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![workflow, step], |r| {
            Ok(TrustMark {
                level: r.get(0)?,
                by: r.get(1)?,
                reason: r.get(2)?,
                at: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Promote (`promoted = true`) or demote a step, journaled under `run` (0: by
    /// hand, of no run).
    pub fn mark_trust(
        &mut self,
        run: i64,
        workflow: &str,
        step: &str,
        promoted: bool,
        by: &str,
        reason: Option<String>,
    ) -> Result<TrustMark> {
        let at = self.now();
        let tx = self.write_tx()?;
        let ev = Event::TrustChanged {
            workflow: workflow.to_string(),
            step: step.to_string(),
            level: if promoted { PROMOTED } else { DEMOTED }.to_string(),
            by: by.to_string(),
            reason,
        };
        append(&tx, run, &ev, at)?;
        project::apply(&tx, run, &ev, at)?;
        let m = last_mark(&tx, workflow, step)?.expect("just written");
        tx.commit()?;
        Ok(m)
    }
}
