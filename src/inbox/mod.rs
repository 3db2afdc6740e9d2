//! Decisions on inbox items: one code path for every front end (`aios approve`,
//! `aios reject`, the TUI). Checks the request against the item (edits are validated
//! and diffed, gate fields typed), then records it once through the journal's
//! compare-and-swap. An approval of a stale item (one whose evidence changed since it
//! was proposed, see [`crate::journal::StaleRef`]) needs `confirm_stale`.
//!
//! [`view`]: what an item shows, the same for `aios inbox show` and the TUI.
//! [`order`]: the one order of the inbox, most urgent first.
//! [`choices`]: what the operator may answer to each kind of item.

pub mod choices;
pub mod diff;
mod failure;
pub mod order;
pub mod view;

use serde_json::{Map, Value as Json};

use crate::connectors::Action;
use crate::error::{Error, Result};
use crate::journal::{
    BudgetStop, Decision, DecisionInput, Gate, Journal, ProposalKind, ProposalRecord,
};
use crate::workflow::InputType;

/// An operator's edit of a proposed action.
#[derive(Debug, Clone)]
pub struct Edit {
    /// Where it came from (for messages).
    pub origin: String,
    /// JSON or TOML text of the whole action.
    pub text: String,
    /// The known secrets: an edit holding one's value is refused (an action holds
    /// secrets by name only).
    pub secrets: crate::secrets::Secrets,
    /// The personas: an edit may not take the action out of its step's persona.
    pub trust: std::sync::Arc<crate::trust::TrustSettings>,
}

/// What the operator asks for.
#[derive(Debug, Clone)]
pub struct DecideRequest {
    pub decision: Decision,
    pub reason: Option<String>,
    pub edit: Option<Edit>,
    /// Approval gate fields, `NAME=VALUE` already split. On a budget item:
    /// `raise_usd=USD` (let the run spend that much more than its caps) or
    /// `switch=true` (use the step's next model).
    pub fields: Vec<(String, String)>,
    /// Who decides (for the journal).
    pub by: String,
    /// Approve even though the item's evidence changed since it was proposed.
    pub confirm_stale: bool,
}

/// Validate and record a decision. Fails if the item was already decided, its run
/// was cancelled, or the request does not fit the item.
pub fn decide(journal: &mut Journal, id: i64, req: DecideRequest) -> Result<ProposalRecord> {
    let p = journal.proposal(id)?;
    if p.kind == ProposalKind::Notice {
        return acknowledge(journal, &p, req);
    }
    if p.kind == ProposalKind::Rescue {
        return rescue(journal, &p, req);
    }
    if p.kind == ProposalKind::Failure {
        return failure::decide(journal, &p, req);
    }
    let what = match p.kind {
        ProposalKind::Action => "a proposed action",
        ProposalKind::Approval => "an approval gate",
        ProposalKind::Attention => "an interrupted step",
        ProposalKind::Budget => "a budget stop",
        ProposalKind::Notice => "a notice",
        ProposalKind::Rescue => "a rescue",
        ProposalKind::Failure => "a failure",
    };
    if req.fields.iter().any(|(k, _)| k == choices::OFFLINE) {
        return Err(Error::invalid(format!(
            "item {id} is {what}; --offline only applies to a rescue (an agent step every model failed)"
        ))
        .with_hint(next(&p)));
    }
    if req.decision == Decision::Done && p.kind != ProposalKind::Attention {
        return Err(Error::invalid(format!(
            "item {id} is {what}; --done only applies to interrupted steps"
        ))
        .with_hint(next(&p)));
    }
    if !req.fields.is_empty() && p.kind == ProposalKind::Budget && req.decision != Decision::Approve
    {
        return Err(Error::invalid(
            "--raise and --switch approve a budget stop; a rejection takes neither",
        ));
    }
    if !req.fields.is_empty() && !matches!(p.kind, ProposalKind::Approval | ProposalKind::Budget) {
        return Err(Error::invalid(format!(
            "item {id} is {what}; only approval gates have fields"
        ))
        .with_hint(next(&p)));
    }
    if req.edit.is_some() && matches!(p.kind, ProposalKind::Approval | ProposalKind::Budget) {
        return Err(
            Error::invalid(format!("item {id} is {what}; there is no action to edit"))
                .with_hint(next(&p)),
        );
    }
    if req.edit.is_some() && req.decision == Decision::Done {
        return Err(Error::invalid(
            "--done says the action already happened, so it takes no edit; an edit is committed by approving it",
        )
        .with_hint(next(&p)));
    }
    if req.edit.is_some() && req.decision == Decision::Reject {
        return Err(Error::invalid("a rejection takes no edit"));
    }
    if req.decision == Decision::Approve && !req.confirm_stale {
        let stale = journal.stale(&p.evidence);
        if !stale.is_empty() {
            let what: Vec<String> = stale.iter().map(|s| s.describe()).collect();
            return Err(Error::conflict(format!(
                "inbox item {id} is STALE: {}",
                what.join("; ")
            ))
            .with_hint(format!(
                "review it with `aios inbox show {id}`; approve it anyway with `aios approve {id} --confirm-stale`, or reject it"
            )));
        }
    }
    let (edited, diff) = match &req.edit {
        Some(e) => {
            // The run's secret inputs are known values too.
            let uid = journal.run(p.run_id)?.uid;
            let (edited, diff) = check_edit(&p, e, &e.secrets.for_run(&uid))?;
            if let Some(action) = &edited {
                check_scope(journal, &p, action, e)?;
            }
            (edited, diff)
        }
        None => (None, None),
    };
    let fields = match (p.kind, req.decision) {
        (ProposalKind::Approval, Decision::Approve) => Some(check_fields(&p, &req.fields)?),
        (ProposalKind::Budget, Decision::Approve) => Some(check_budget(&p, &req.fields)?),
        _ => None,
    };
    journal.decide(
        id,
        DecisionInput {
            decision: req.decision,
            reason: req.reason,
            fields,
            edited,
            diff,
            by: req.by,
        },
    )
}

/// An edited action must stay in the scopes of its step's persona (the trust
/// layer's check of an edit; commit checks again).
fn check_scope(journal: &Journal, p: &ProposalRecord, edited: &Json, e: &Edit) -> Result<()> {
    let Ok(action) = serde_json::from_value::<Action>(edited.clone()) else {
        return Ok(());
    };
    let wf = crate::engine::snapshot(journal, p.run_id)?;
    let Some(step) = wf.steps.iter().find(|s| s.id == p.step_id) else {
        return Ok(());
    };
    let persona = e.trust.persona_of(&wf, step).map_err(Error::invalid)?;
    persona.check(&action).map_err(|why| {
        Error::invalid(format!("{} is not valid: {why}", e.origin)).with_hint(format!(
            "keep the action within the persona (aios persona show {}); start from: aios inbox show {} --action",
            persona.name, p.id
        ))
    })
}

/// Check an edit without deciding: the validated action and the diff against the
/// proposal (both `None` when the edit changes nothing). The TUI shows this before
/// it commits; [`decide`] runs the same check again.
pub fn preview_edit(p: &ProposalRecord, e: &Edit) -> Result<(Option<Json>, Option<String>)> {
    if p.kind == ProposalKind::Approval {
        return Err(Error::invalid(format!(
            "item {} is an approval gate; there is no action to edit",
            p.id
        )));
    }
    if p.kind == ProposalKind::Rescue {
        let (edited, diff) = check_rescue_edit(p, e, &e.secrets)?;
        return Ok((Some(edited), diff));
    }
    check_edit(p, e, &e.secrets)
}

/// What may be done with an item, as commands: `aios approve 3 --field date=VALUE ·
/// aios reject 3 --reason "..."` (the hint of a request that does not fit it).
pub fn next(p: &ProposalRecord) -> String {
    choices::of(&view::ItemView::of(p))
        .iter()
        .map(|c| c.command(p.id))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// A rescue: the operator's reply (`--edit`), the offline draft (`--offline`), a
/// retry (neither), or a rejection. Recorded as `fields.rescue = edit | offline |
/// retry`; the reply goes in `edited` as `{text, json}`.
fn rescue(journal: &mut Journal, p: &ProposalRecord, req: DecideRequest) -> Result<ProposalRecord> {
    let id = p.id;
    let offline = req.fields.iter().any(|(k, _)| k == choices::OFFLINE);
    if req.decision == Decision::Done
        || req.fields.iter().any(|(k, _)| k != choices::OFFLINE)
        || (offline && req.edit.is_some())
    {
        return Err(Error::invalid(format!(
            "item {id} is a rescue: give the step's reply with --edit FILE, accept its offline draft with --offline, or approve it alone to run the step again"
        ))
        .with_hint(next(p)));
    }
    if req.decision == Decision::Reject && (offline || req.edit.is_some()) {
        return Err(
            Error::invalid("--edit and --offline are ways to approve a rescue").with_hint(next(p)),
        );
    }
    let (fields, edited, diff) = match (req.decision, &req.edit) {
        (Decision::Reject, _) => (None, None, None),
        (_, Some(e)) => {
            // The run's secret inputs are known values too.
            let uid = journal.run(p.run_id)?.uid;
            let (edited, diff) = check_rescue_edit(p, e, &e.secrets.for_run(&uid))?;
            (
                Some(serde_json::json!({"rescue": "edit"})),
                Some(edited),
                diff,
            )
        }
        (_, None) if offline => {
            if crate::journal::Rescue::of(&p.action)
                .offline_text()
                .is_none()
            {
                return Err(Error::invalid(format!(
                    "the step of item {id} has no offline draft that fits its output"
                ))
                .with_hint(next(p)));
            }
            (Some(serde_json::json!({"rescue": "offline"})), None, None)
        }
        (_, None) => (Some(serde_json::json!({"rescue": "retry"})), None, None),
    };
    journal.decide(
        id,
        DecisionInput {
            decision: req.decision,
            reason: req.reason,
            fields,
            edited,
            diff,
            by: req.by,
        },
    )
}

/// Check the operator's reply against the step's output (JSON and its schema, or
/// text): `{text, json}` and the diff from the draft it starts from
/// ([`crate::journal::Rescue::draft`]). A reply holding a secret's value is
/// refused: it would become the step's output, kept in the journal.
fn check_rescue_edit(
    p: &ProposalRecord,
    e: &Edit,
    secrets: &crate::secrets::Secrets,
) -> Result<(Json, Option<String>)> {
    if let Some(name) = secrets.find_value(&e.text) {
        return Err(Error::invalid(format!(
            "{} holds the value of the secret `{name}`: a step's reply is kept in the journal, and secret values never go there",
            e.origin
        ))
        .with_hint(format!(
            "take the value out of the reply (start from: aios inbox show {} --action)",
            p.id
        )));
    }
    let req: crate::agent::AgentRequest = serde_json::from_value(p.action["request"].clone())
        .map_err(|err| {
            Error::storage(format!(
                "inbox item {} holds an unreadable request: {err}",
                p.id
            ))
        })?;
    let text = e.text.trim_end_matches(['\n', '\r']).to_string();
    let value = crate::agent::interpret(&req, &text).map_err(|err| {
        Error::invalid(format!(
            "the reply in {} does not fit the step's output: {err}",
            e.origin
        ))
        .with_hint(format!(
            "fix it and approve again; the step's schema is in: aios inbox show {}",
            p.id
        ))
    })?;
    let mut edited = serde_json::json!({ "text": text });
    if let Some(v) = value {
        edited["json"] = v;
    }
    let before = crate::journal::Rescue::of(&p.action).draft();
    let (old, new) = (format!("{}\n", before.trim_end()), format!("{text}\n"));
    let diff = (old.trim_end() != new.trim_end()).then(|| {
        similar::TextDiff::from_lines(&old, &new)
            .unified_diff()
            .context_radius(2)
            .header("last reply", "yours")
            .to_string()
    });
    Ok((edited, diff))
}

/// Approving or rejecting a notice acknowledges it; nothing else applies to one.
fn acknowledge(
    journal: &mut Journal,
    p: &ProposalRecord,
    req: DecideRequest,
) -> Result<ProposalRecord> {
    let id = p.id;
    if req.decision == Decision::Done || req.edit.is_some() || !req.fields.is_empty() {
        return Err(Error::invalid(format!(
            "item {id} is a notice about schedule `{}`; it can only be acknowledged",
            p.workflow
        ))
        .with_hint(format!("acknowledge it with: aios approve {id}")));
    }
    Ok(journal
        .acknowledge_notice(id, &req.by, req.reason)?
        .as_proposal())
}

/// Parse, validate and diff an edited action. Returns (edited, diff), or (None, None)
/// when the edit changes nothing.
fn check_edit(
    p: &ProposalRecord,
    e: &Edit,
    secrets: &crate::secrets::Secrets,
) -> Result<(Option<Json>, Option<String>)> {
    if let Some(name) = secrets.find_value(&e.text) {
        return Err(Error::invalid(format!(
            "{} holds the value of the secret `{name}`: an action holds secrets by name only, and their values never go into the journal",
            e.origin
        ))
        .with_hint(format!(
            "keep the proposed action's placeholders, like secret(\"NAME\"), where the value goes (start from: aios inbox show {} --action)",
            p.id
        )));
    }
    let value = parse_edit(p.id, e)?;
    let action: Action = serde_json::from_value(value).map_err(|err| {
        Error::invalid(format!("{} is not a valid action: {err}", e.origin))
            .with_hint(format!("start from: aios inbox show {} --action", p.id))
    })?;
    action.validate().map_err(|err| {
        Error::invalid(format!("{} is not valid: {err}", e.origin))
            .with_hint(format!("start from: aios inbox show {} --action", p.id))
    })?;
    let original: Action = serde_json::from_value(p.action.clone()).map_err(|err| {
        Error::storage(format!(
            "inbox item {} holds an unreadable action: {err}",
            p.id
        ))
    })?;
    if original.kind() != action.kind() {
        return Err(Error::invalid(format!(
            "the edit turns a {} action into a {} action; an edit may change the action, not its kind",
            original.kind(),
            action.kind()
        ))
        .with_hint("reject this item instead, and change the workflow"));
    }
    action.validate_edit(&original).map_err(|err| {
        Error::invalid(format!("{} is not valid: {err}", e.origin))
            .with_hint(format!("start from: aios inbox show {} --action", p.id))
    })?;
    if original == action {
        return Ok((None, None));
    }
    // Texts (an email body, a file's content) line by line, the rest as JSON.
    let edited = serde_json::to_value(&action)?;
    let diff = diff::action_diff(&serde_json::to_value(&original)?, &edited);
    Ok((Some(edited), Some(diff)))
}

fn parse_edit(id: i64, e: &Edit) -> Result<Json> {
    let as_json = serde_json::from_str::<Json>(&e.text);
    if let Ok(v) = as_json {
        return Ok(v);
    }
    match toml::from_str::<toml::Table>(&e.text) {
        Ok(t) => serde_json::to_value(t).map_err(Error::from),
        Err(terr) => {
            let jerr = as_json.err().map(|e| e.to_string()).unwrap_or_default();
            Err(Error::invalid(format!(
                "{} is neither JSON ({jerr}) nor TOML ({})",
                e.origin,
                terr.message()
            ))
            .with_hint(format!(
                "edit the JSON printed by `aios inbox show {id} --action`"
            )))
        }
    }
}

/// A budget stop is approved by raising the run's allowance or switching model.
fn check_budget(p: &ProposalRecord, given: &[(String, String)]) -> Result<Json> {
    let id = p.id;
    let stop = BudgetStop::of(&p.action);
    let hint = || next(p);
    match given {
        [(k, v)] if k == choices::RAISE => match choices::parse_usd(v) {
            Ok(x) => Ok(serde_json::json!({ "raise_usd": x })),
            Err(e) => Err(Error::invalid(format!("the raise must be {e}"))
                .with_hint(format!("like: aios approve {id} --raise 2.50"))),
        },
        [(k, _)] if k == choices::SWITCH => match &stop.next_model {
            Some(next) => Ok(serde_json::json!({ "switch_to": next })),
            None => Err(Error::invalid(format!(
                "the step of item {id} has no model after `{}` to switch to",
                stop.model.as_deref().unwrap_or("?")
            ))
            .with_hint(hint())),
        },
        _ => Err(Error::invalid(format!(
            "item {id} is a budget stop: approving it raises the run's allowance or switches the step's model"
        ))
        .with_hint(hint())),
    }
}

/// Type the operator's field values against the gate's declared fields.
fn check_fields(p: &ProposalRecord, given: &[(String, String)]) -> Result<Json> {
    let declared = Gate::of(&p.action).fields;
    let mut out = Map::new();
    let mut problems = Vec::new();
    for (name, raw) in given {
        let Some(decl) = declared.iter().find(|d| d.name == *name) else {
            let names: Vec<&str> = declared.iter().map(|d| d.name.as_str()).collect();
            problems.push(format!(
                "unknown field `{name}` (this gate has: {})",
                if names.is_empty() {
                    "no fields".to_string()
                } else {
                    names.join(", ")
                }
            ));
            continue;
        };
        let ty = InputType::parse(&decl.ty).unwrap_or(InputType::String);
        match crate::workflow::convert(ty, raw) {
            Ok(v) => {
                out.insert(name.clone(), v);
            }
            Err(hint) => problems.push(format!(
                "field `{name}` must be {}, got `{raw}` ({hint})",
                crate::workflow::type_article(ty)
            )),
        }
    }
    for d in &declared {
        if out.contains_key(&d.name) {
            continue;
        }
        if let Some(default) = &d.default {
            out.insert(d.name.clone(), default.clone());
        } else if d.required {
            problems.push(format!("field `{}` is required", d.name));
        }
    }
    if problems.is_empty() {
        Ok(Json::Object(out))
    } else {
        let approve = choices::of(&view::ItemView::of(p))
            .first()
            .map(|c| c.command(p.id))
            .unwrap_or_default();
        Err(Error::invalid(problems.join("; ")).with_hint(format!(
            "approve it with: {approve} (its fields: aios inbox show {})",
            p.id
        )))
    }
}

/// Who decides when a deadline passes (`on_timeout`), in the journal.
pub const TIMEOUT_DECIDER: &str = "aios (timeout)";

/// Apply an item's `on_timeout` (`reject`, `approve` or `fail`) once its deadline
/// passed: the same checks and compare-and-swap as an operator's decision, decided
/// by [`TIMEOUT_DECIDER`]. `fail` is a rejection marked `{"on_timeout": "fail"}`
/// in its fields, which fails the step whatever its `on_reject` says. (`remind` is
/// not a decision: see [`Journal::remind`].)
pub fn decide_on_timeout(
    journal: &mut Journal,
    p: &ProposalRecord,
    on_timeout: crate::workflow::OnTimeout,
) -> Result<ProposalRecord> {
    use crate::workflow::OnTimeout;
    let by_when = p
        .deadline
        .map(crate::clock::format_ms)
        .unwrap_or_else(|| "its deadline".into());
    let reason = Some(format!(
        "no decision by {by_when} (on_timeout = \"{}\")",
        on_timeout.as_str()
    ));
    match on_timeout {
        OnTimeout::Approve | OnTimeout::Reject => decide(
            journal,
            p.id,
            DecideRequest {
                decision: if on_timeout == OnTimeout::Approve {
                    Decision::Approve
                } else {
                    Decision::Reject
                },
                reason,
                edit: None,
                fields: Vec::new(),
                by: TIMEOUT_DECIDER.into(),
                // A deadline never approves what changed since it was proposed: the
                // stale check refuses, and the item waits for a person.
                confirm_stale: false,
            },
        ),
        OnTimeout::Fail => journal.decide(
            p.id,
            DecisionInput {
                decision: Decision::Reject,
                reason,
                fields: Some(serde_json::json!({ "on_timeout": "fail" })),
                edited: None,
                diff: None,
                by: TIMEOUT_DECIDER.into(),
            },
        ),
        OnTimeout::Remind => Err(Error::invalid(
            "a reminder is not a decision; the item stays pending",
        )),
    }
}

/// An autonomy policy in `notify` mode: the item's quiet period passed and nobody
/// decided, so `policy:RULE` approves it through [`decide`] (never a stale item:
/// that one waits for a person). Refused (a conflict) when the step was demoted
/// since the item was proposed.
pub fn decide_after_quiet(
    journal: &mut Journal,
    p: &ProposalRecord,
    rule: &str,
) -> Result<ProposalRecord> {
    let stats = journal.step_stats(&p.workflow, &p.step_id)?;
    if let Some(m) = &stats.mark
        && m.level == "demoted"
        && m.at >= p.created_at
    {
        return Err(Error::conflict(format!(
            "step `{}` was demoted since inbox item {} was proposed; it waits for you",
            p.step_id, p.id
        )));
    }
    let why = crate::journal::Evidence::of(&p.evidence)
        .policy
        .map(|n| n.reason)
        .unwrap_or_else(|| format!("policy {rule}"));
    decide(
        journal,
        p.id,
        DecideRequest {
            decision: Decision::Approve,
            reason: Some(format!("{why}; not vetoed within its quiet period")),
            edit: None,
            fields: Vec::new(),
            by: crate::trust::policy_decider(rule),
            confirm_stale: false,
        },
    )
}

/// Whether a recorded rejection was a deadline's `on_timeout = "fail"`.
pub fn is_timeout_failure(p: &ProposalRecord) -> bool {
    p.decision == Some(Decision::Reject)
        && p.decided_by.as_deref() == Some(TIMEOUT_DECIDER)
        && p.fields.as_ref().is_some_and(|f| f["on_timeout"] == "fail")
}

#[cfg(test)]
mod tests;
