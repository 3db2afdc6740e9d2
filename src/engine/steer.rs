//! Steering a run onto a corrected definition (`aios resume RUN --workflow FILE`).
//!
//! Pure: [`review`] compares the definition a run was started with (or last
//! continued on) with a new one, against where each step of the run stands, and
//! either refuses with every problem found or returns the [`Event::WorkflowChanged`]
//! to journal. The rules ([`RULES`]) are printed with a refusal and in the README:
//!
//! - a step that finished (succeeded or skipped) stays, with the same kind, and
//!   keeps its output (a change to its definition applies to later runs); every
//!   step it needs must have finished too;
//! - a step in progress (waiting on an inbox item, sleeping, interrupted) stays
//!   exactly as it was; except a step whose item was withdrawn when the run failed
//!   (undecided): it may change, and proposes again from the new definition;
//! - a step that failed or has not run may change (its kind too) or be removed;
//! - new steps may be added (they run when their needs are met);
//! - the workflow keeps its name; an input the run was not given needs a default;
//!   an input the run was given keeps its type and whether it is secret.

use std::collections::HashMap;

use serde_json::Value as Json;

use crate::journal::{
    Event, ProposalKind, ProposalRecord, ProposalStatus, RunRecord, StepDecl, StepRecord,
    StepStatus,
};
use crate::workflow::{Step, Workflow};

/// The rules a new definition must follow, as printed with a refusal.
pub const RULES: &str = "steps that finished (succeeded or skipped) stay, with the same kind, and keep their output (a change to them applies to later runs), and what they need must have finished too; steps in progress (waiting on the inbox, sleeping, interrupted) stay exactly as they were, except that a step whose inbox item was withdrawn when the run failed may change (it proposes again); steps that failed or have not run may change, change kind or be removed; new steps may be added; the workflow keeps its name; an input the run was not given needs a default, and one it was given keeps its type";

/// The definition a run is to continue on.
#[derive(Debug, Clone)]
pub struct Revision<'a> {
    pub workflow: &'a Workflow,
    pub source: &'a str,
    /// The file as given (for display), and its absolute folder: relative paths in
    /// steps start there from now on.
    pub path: Option<&'a str>,
    pub dir: &'a str,
    /// Who asked for it (`user@host`).
    pub by: &'a str,
}

/// Where a step of the run stands, for these rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stand {
    /// Succeeded or skipped: its output stands.
    Finished(StepStatus),
    /// Waiting on an item, sleeping or interrupted: it stays as it is.
    InProgress,
    /// Its proposal or gate was withdrawn when the run failed, undecided: it may
    /// change, and then proposes again from the new definition (item `.0` stays
    /// withdrawn).
    Withdrawn(i64),
    /// Failed, or not run yet: it takes the new definition.
    Open(StepStatus),
}

fn stand(rec: &StepRecord, items: &[ProposalRecord]) -> Stand {
    match rec.status {
        StepStatus::Succeeded | StepStatus::Skipped => Stand::Finished(rec.status),
        StepStatus::Waiting => {
            let last = items.iter().rev().find(|p| p.step_id == rec.step_id);
            match last {
                Some(p)
                    if p.status == ProposalStatus::Withdrawn
                        && p.attempt == rec.attempts
                        && matches!(p.kind, ProposalKind::Action | ProposalKind::Approval) =>
                {
                    Stand::Withdrawn(p.id)
                }
                _ => Stand::InProgress,
            }
        }
        StepStatus::NeedsAttention | StepStatus::Running => Stand::InProgress,
        StepStatus::Failed | StepStatus::Pending => Stand::Open(rec.status),
    }
}

/// A change to journal: the [`Event::WorkflowChanged`], then a [`Event::StepReset`]
/// for each step that proposes again from the new definition.
#[derive(Debug, Clone)]
pub struct Change {
    pub events: Vec<Event>,
}

/// Review `rev` for run `run` (started with, or last continued on, `old` from
/// `old_source`). `Ok(None)`: nothing changed. `Err`: every problem, one per line.
pub fn review(
    run: &RunRecord,
    old: &Workflow,
    rev: &Revision<'_>,
    steps: &[StepRecord],
    items: &[ProposalRecord],
) -> Result<Option<Change>, Vec<String>> {
    let new = rev.workflow;
    let new_hash = crate::journal::source_hash(rev.source);
    if new_hash == run.source_hash && rev.path == run.path.as_deref() && rev.dir == run.dir {
        return Ok(None);
    }
    let file = rev.path.unwrap_or("the new definition");
    let old_tables = step_tables(&run.source);
    let new_tables = step_tables(rev.source);
    let old_fp = fingerprints(old, &old_tables);
    let new_fp = fingerprints(new, &new_tables);
    let old_index: HashMap<&str, usize> = index(old);
    let new_index: HashMap<&str, usize> = index(new);
    let records: HashMap<&str, &StepRecord> =
        steps.iter().map(|r| (r.step_id.as_str(), r)).collect();
    let mut problems = Vec::new();
    let mut changes = Vec::new();
    let mut resets = Vec::new();

    if new.name != run.workflow {
        problems.push(format!(
            "the workflow is named `{}` in {file}, but run {} is a run of `{}`: keep the name",
            new.name, run.id, run.workflow
        ));
    }

    // The run's steps, in the old order.
    for s in &old.steps {
        let Some(rec) = records.get(s.id.as_str()) else {
            continue;
        };
        let st = stand(rec, items);
        let Some(&j) = new_index.get(s.id.as_str()) else {
            match st {
                Stand::Withdrawn(item) => changes.push(format!(
                    "step `{}` removed (its inbox item {item} stays withdrawn)",
                    s.id
                )),
                Stand::Finished(status) => problems.push(format!(
                    "step `{}` {}: it must stay in the workflow (its output stands, and later steps may read it)",
                    s.id,
                    status_words(status)
                )),
                Stand::InProgress => problems.push(format!(
                    "step `{}` {}: it must stay in the workflow",
                    s.id,
                    in_progress(s, rec, items)
                )),
                Stand::Open(StepStatus::Failed) => changes.push(format!(
                    "step `{}` removed (it had failed; its failure stays in the log)",
                    s.id
                )),
                Stand::Open(_) => {
                    changes.push(format!("step `{}` removed (it had not run)", s.id))
                }
            }
            continue;
        };
        let n = &new.steps[j];
        let same_kind = n.kind() == s.kind();
        let changed = old_fp.get(s.id.as_str()) != new_fp.get(n.id.as_str());
        match st {
            Stand::Finished(status) => {
                if !same_kind {
                    problems.push(format!(
                        "step `{}` {} as {} step: in {file} it is {} step, and a step that ran keeps its kind",
                        s.id,
                        status_words(status),
                        article(s.kind().name()),
                        article(n.kind().name())
                    ));
                }
                for &need in &n.needs {
                    let nid = new.steps[need].id.as_str();
                    let done = records
                        .get(nid)
                        .is_some_and(|r| matches!(stand(r, items), Stand::Finished(_)));
                    if !done {
                        problems.push(format!(
                            "step `{}` {}, so what it needs must have finished too: `{nid}` has not{}",
                            s.id,
                            status_words(status),
                            if old_index.contains_key(nid) {
                                ""
                            } else {
                                " (it is new; add it after the steps that ran, or give them `needs`)"
                            }
                        ));
                    }
                }
                if changed && same_kind {
                    changes.push(format!(
                        "step `{}` changed: it {}, and keeps its output (the change applies to later runs)",
                        s.id,
                        status_words(status)
                    ));
                }
            }
            Stand::InProgress => {
                if changed || !same_kind {
                    problems.push(format!(
                        "step `{}` {}: it must stay exactly as it was{}",
                        s.id,
                        in_progress(s, rec, items),
                        if rec.status == StepStatus::Waiting && !s.policy().timer {
                            " (decide the item first; once it is rejected, the step may change)"
                        } else {
                            ""
                        }
                    ));
                }
            }
            Stand::Withdrawn(item) => {
                if changed || !same_kind {
                    changes.push(format!(
                        "step `{}` changed: its inbox item {item}, withdrawn when the run failed, stays withdrawn, and the step proposes again from the new definition",
                        s.id
                    ));
                    resets.push(Event::StepReset {
                        step: s.id.clone(),
                        reason: format!(
                            "its definition changed; inbox item {item} stays withdrawn"
                        ),
                    });
                }
            }
            Stand::Open(status) => {
                if changed || !same_kind {
                    let kind = if same_kind {
                        String::new()
                    } else {
                        format!(" (now {} step)", article(n.kind().name()))
                    };
                    changes.push(match status {
                        StepStatus::Failed => format!(
                            "step `{}` changed{kind}: it failed, and runs again on the new definition",
                            s.id
                        ),
                        _ => format!(
                            "step `{}` changed{kind}: it has not run, and runs on the new definition",
                            s.id
                        ),
                    });
                }
            }
        }
    }
    for n in &new.steps {
        if !old_index.contains_key(n.id.as_str()) {
            changes.push(format!(
                "step `{}` added ({} step): it runs when what it needs has finished",
                n.id,
                article(n.kind().name())
            ));
        }
    }

    let inputs_added = check_inputs(run, old, new, file, &mut problems, &mut changes);
    if old.max_parallel != new.max_parallel {
        changes.push(format!(
            "max_parallel {} -> {}",
            old.max_parallel, new.max_parallel
        ));
    }
    if old.budget != new.budget {
        let cap = |b: Option<f64>| b.map_or("none".to_string(), crate::agent::budget::usd);
        changes.push(format!(
            "[budget] max_usd {} -> {}",
            cap(old.budget.max_usd),
            cap(new.budget.max_usd)
        ));
    }
    if rev.path != run.path.as_deref() {
        changes.push(format!(
            "the file: {} -> {file}",
            run.path.as_deref().unwrap_or("(none)")
        ));
    }
    if rev.dir != run.dir {
        changes.push(format!(
            "relative paths in steps now start in {} (they started in {})",
            rev.dir, run.dir
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    if changes.is_empty() {
        changes.push("no step changed (only comments, spacing or descriptions)".into());
    }
    let diff = similar::TextDiff::from_lines(run.source.as_str(), rev.source)
        .unified_diff()
        .context_radius(2)
        .header(
            &format!(
                "{} (as run {} had it)",
                run.path.as_deref().unwrap_or("the definition"),
                run.id
            ),
            file,
        )
        .to_string();
    let changed = Event::WorkflowChanged {
        source_hash: new_hash,
        previous_hash: run.source_hash.clone(),
        path: rev.path.map(str::to_string),
        dir: rev.dir.to_string(),
        steps: new
            .steps
            .iter()
            .map(|s| StepDecl {
                id: s.id.clone(),
                kind: s.kind().name().to_string(),
            })
            .collect(),
        inputs_added,
        changes,
        diff,
        by: rev.by.to_string(),
    };
    let mut events = vec![changed];
    events.extend(resets);
    Ok(Some(Change { events }))
}

/// The inputs: the run's values must fit the new declarations; an input the run was
/// not given takes its default (returned, to be added to the run's inputs).
fn check_inputs(
    run: &RunRecord,
    old: &Workflow,
    new: &Workflow,
    file: &str,
    problems: &mut Vec<String>,
    changes: &mut Vec<String>,
) -> serde_json::Map<String, Json> {
    let mut added = serde_json::Map::new();
    let given = run.inputs.as_object();
    for decl in &new.inputs {
        let value = given.and_then(|g| g.get(&decl.name));
        let was_secret = old
            .inputs
            .iter()
            .find(|d| d.name == decl.name)
            .map(|d| d.secret);
        match value {
            Some(v) => {
                if was_secret.is_some_and(|s| s != decl.secret) || (was_secret.is_none() && decl.secret) {
                    problems.push(format!(
                        "input `{}`: {file} {} it secret; keep `secret` as it was",
                        decl.name,
                        if decl.secret { "makes" } else { "no longer makes" }
                    ));
                } else if !decl.secret && crate::workflow::check_json(decl.ty, v).is_err() {
                    problems.push(format!(
                        "input `{}`: run {} was given {}, which is not {} as {file} declares",
                        decl.name,
                        run.id,
                        crate::connectors::truncate_line(&v.to_string(), 60),
                        crate::workflow::type_article(decl.ty)
                    ));
                }
            }
            None => match &decl.default {
                Some(d) => {
                    changes.push(format!(
                        "input `{}` added with its default {}",
                        decl.name,
                        crate::connectors::truncate_line(&d.to_string(), 60)
                    ));
                    added.insert(decl.name.clone(), d.clone());
                }
                None if decl.required => problems.push(format!(
                    "input `{}` is required by {file}, and run {} was not given it: give it a default",
                    decl.name, run.id
                )),
                None => {}
            },
        }
    }
    added
}

/// What a step in progress is doing, in words: "waits on inbox item 3".
fn in_progress(s: &Step, rec: &StepRecord, items: &[ProposalRecord]) -> String {
    let item = items
        .iter()
        .rev()
        .find(|p| {
            p.step_id == s.id
                && matches!(
                    p.status,
                    ProposalStatus::Pending | ProposalStatus::Withdrawn
                )
        })
        .map(|p| p.id);
    match (rec.status, item) {
        (StepStatus::Waiting, _) if s.policy().timer => "sleeps until its time".to_string(),
        (StepStatus::Waiting, Some(id)) => {
            format!("waits on inbox item {id}, proposed from the old definition")
        }
        (StepStatus::NeedsAttention, Some(id)) => {
            format!("was interrupted (its outcome is unknown) and waits on inbox item {id}")
        }
        (StepStatus::Running, _) | (StepStatus::NeedsAttention, None) => {
            "was interrupted while it ran (its outcome is unknown)".to_string()
        }
        _ => format!("is {}", rec.status),
    }
}

fn status_words(s: StepStatus) -> &'static str {
    match s {
        StepStatus::Skipped => "was skipped",
        _ => "succeeded",
    }
}

fn article(kind: &str) -> String {
    match kind.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an `{kind}`"),
        _ => format!("a `{kind}`"),
    }
}

fn index(wf: &Workflow) -> HashMap<&str, usize> {
    wf.steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect()
}

/// Each step's table as written (comments and layout aside), by id.
fn step_tables(source: &str) -> HashMap<String, toml::Value> {
    let Ok(doc) = toml::from_str::<toml::Table>(source) else {
        return HashMap::new();
    };
    let Some(toml::Value::Array(steps)) = doc.get("steps") else {
        return HashMap::new();
    };
    steps
        .iter()
        .filter_map(|s| {
            let mut t = s.as_table()?.clone();
            let id = t.get("id")?.as_str()?.to_string();
            // A description is for people: changing it changes nothing that runs.
            t.remove("description");
            Some((id, toml::Value::Table(t)))
        })
        .collect()
}

/// What decides how a step runs: its table as written, plus what it inherits (the
/// steps it needs when `needs` is absent, `[defaults]`), by id.
fn fingerprints<'w>(
    wf: &'w Workflow,
    tables: &HashMap<String, toml::Value>,
) -> HashMap<&'w str, String> {
    wf.steps
        .iter()
        .map(|s| {
            let needs: Vec<&str> = s.needs.iter().map(|&n| wf.steps[n].id.as_str()).collect();
            let fp = format!(
                "{:?}|{needs:?}|{:?}|{:?}",
                tables.get(&s.id),
                s.timeout,
                s.retry
            );
            (s.id.as_str(), fp)
        })
        .collect()
}

#[cfg(test)]
mod tests;
