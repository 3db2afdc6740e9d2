//! `aios persona list|show` (effective scopes) and `aios trust` (each step's
//! statistics, its state, suggestions; `promote` and `demote` by hand).

use serde_json::{Value as Json, json};

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::cli::{PersonaArgs, PersonaCommand, TrustArgs, TrustCommand, TrustMarkArgs};
use crate::error::Error;
use crate::journal::StepStats;
use crate::trust::{Persona, Rule, TrustSettings};

pub fn persona(ctx: &Ctx, args: PersonaArgs) -> CmdResult {
    let trust = ctx.trust()?;
    match args.command {
        PersonaCommand::List(a) => {
            let all: Vec<&Persona> = trust.personas.by_name.values().collect();
            if a.json {
                ui::print_json(&serde_json::to_value(&all)?);
                return Ok(Exit::Ok);
            }
            let s = ctx.ui.out();
            let mut out = s.bold(&format!("{:<16}  {:<8}  SCOPES", "NAME", "SOURCE"));
            out.push('\n');
            for p in all {
                out.push_str(&format!(
                    "{:<16}  {:<8}  {}\n",
                    p.name,
                    if p.builtin { "built-in" } else { "config" },
                    summary(p)
                ));
            }
            ui::print(&out);
            Ok(Exit::Ok)
        }
        PersonaCommand::Show(a) => {
            let p = trust.personas.get(Some(&a.name)).ok_or_else(|| {
                Error::not_found(format!("no persona `{}`", a.name)).with_hint(format!(
                    "aios persona list (configured: {})",
                    trust.personas.known()
                ))
            })?;
            if a.json {
                ui::print_json(&serde_json::to_value(p)?);
                return Ok(Exit::Ok);
            }
            ui::print(&show(p, ctx));
            Ok(Exit::Ok)
        }
    }
}

fn list_text(l: &[String]) -> String {
    if l.iter().any(|x| x == "*") {
        "anything".into()
    } else if l.is_empty() {
        "nothing".into()
    } else {
        l.join(", ")
    }
}

fn summary(p: &Persona) -> String {
    if p.builtin {
        return "anything aios allows (no persona limits)".into();
    }
    let mut parts = Vec::new();
    for (what, l) in [
        ("http", &p.http_hosts),
        ("files", &p.file_roots),
        ("programs", &p.shell_programs),
        ("email to", &p.email_to_domains),
        ("tools", &p.mcp_tools),
        ("secrets", &p.secrets),
        ("models", &p.models),
    ] {
        if !l.is_empty() {
            parts.push(format!("{what}: {}", list_text(l)));
        }
    }
    if parts.is_empty() {
        "nothing".into()
    } else {
        parts.join("; ")
    }
}

fn show(p: &Persona, ctx: &Ctx) -> String {
    let s = ctx.ui.out();
    let mut t = format!(
        "{} ({})\n",
        s.bold(&format!("persona {}", p.name)),
        if p.builtin {
            "built-in: a workflow without `persona` runs under it"
        } else {
            "[personas] in config.toml"
        }
    );
    let usd = |x: Option<f64>| {
        x.map(|x| format!("${x:.2}"))
            .unwrap_or_else(|| "no cap of its own (the global [budget] applies)".into())
    };
    for (key, value) in [
        ("http_hosts", list_text(&p.http_hosts)),
        ("http_methods", list_text(&p.http_methods)),
        ("file_roots", list_text(&p.file_roots)),
        ("shell_programs", list_text(&p.shell_programs)),
        ("email_from", list_text(&p.email_from)),
        ("email_to_domains", list_text(&p.email_to_domains)),
        ("mcp_tools", list_text(&p.mcp_tools)),
        ("secrets", list_text(&p.secrets)),
        ("models", list_text(&p.models)),
        ("max_usd_day", usd(p.max_usd_day)),
        ("max_usd_month", usd(p.max_usd_month)),
        (
            "sandbox",
            match p.sandbox {
                Some(crate::trust::SandboxRule::Required) => "required".into(),
                Some(crate::trust::SandboxRule::BestEffort) => "best_effort".into(),
                None => "not required".into(),
            },
        ),
        (
            "runs_on",
            if p.runs_on.is_empty() {
                "any driver".into()
            } else {
                format!("workers tagged {}", p.runs_on.join(", "))
            },
        ),
    ] {
        t.push_str(&format!("  {key:<17} {value}\n"));
    }
    t
}

pub fn trust(ctx: &Ctx, args: TrustArgs) -> CmdResult {
    match args.command {
        Some(TrustCommand::Promote(a)) => mark(ctx, a, true),
        Some(TrustCommand::Demote(a)) => mark(ctx, a, false),
        None => list(ctx, args.json),
    }
}

/// Below this many unchanged approvals in a row, no promotion is suggested.
const SUGGEST_AFTER: u64 = 3;

/// The config rule whose workflow and step match `s` (the kind and persona are
/// known only when a proposal is made).
fn rule_of<'r>(trust: &'r TrustSettings, s: &StepStats) -> Option<&'r Rule> {
    let g = |p: &Option<String>, x: &str| {
        p.as_deref()
            .is_none_or(|p| crate::trust::persona::glob(p, x))
    };
    trust
        .rules
        .iter()
        .find(|r| g(&r.workflow, &s.workflow) && g(&r.step, &s.step))
}

/// `decided by policy:NAME`, `asks (policy:NAME after 2 more)` or `asks`.
fn state(trust: &TrustSettings, s: &StepStats) -> (String, Option<String>) {
    let rule = rule_of(trust, s);
    let name = rule
        .map(|r| r.name.clone())
        .unwrap_or_else(|| crate::trust::autonomy::PROMOTED.into());
    let by = crate::trust::policy_decider(&name);
    if s.promoted() || rule.is_some_and(|r| s.streak >= r.after) {
        return (format!("decided by {by}"), None);
    }
    let state = match rule {
        Some(r) => format!(
            "asks ({by} after {})",
            crate::text::count((r.after - s.streak) as usize, "more unchanged approval")
        ),
        None => "asks".into(),
    };
    let suggestion = (s.streak >= SUGGEST_AFTER).then(|| {
        format!(
            "approved unchanged {}: `aios trust promote {}`",
            s.streak_text(),
            s.id()
        )
    });
    (state, suggestion)
}

fn list(ctx: &Ctx, as_json: bool) -> CmdResult {
    let trust = ctx.trust()?;
    let journal = ctx.reader()?;
    let all = journal.all_step_stats()?;
    if as_json {
        let items: Vec<Json> = all
            .iter()
            .map(|s| {
                let (state, suggestion) = state(&trust, s);
                let mut v = serde_json::to_value(s).unwrap_or_default();
                v["state"] = json!(state);
                v["suggestion"] = json!(suggestion);
                v
            })
            .collect();
        ui::print_json(&Json::Array(items));
        return Ok(Exit::Ok);
    }
    if all.is_empty() {
        ui::println(
            "no step has proposed an action yet: `aios trust` counts decisions on proposals",
        );
        return Ok(Exit::Ok);
    }
    let s = ctx.ui.out();
    let w = all.iter().map(|x| x.id().len()).max().unwrap_or(4).max(4);
    let mut out = s.bold(&format!(
        "{:<w$}  {:>9}  {:>9}  {:>6}  {:>8}  {:>6}  STATE",
        "STEP", "PROPOSALS", "UNCHANGED", "EDITED", "REJECTED", "STREAK"
    ));
    out.push('\n');
    let mut notes = Vec::new();
    for x in &all {
        let (state, suggestion) = state(&trust, x);
        out.push_str(&format!(
            "{:<w$}  {:>9}  {:>9}  {:>6}  {:>8}  {:>6}  {state}\n",
            x.id(),
            x.proposals,
            x.approved_unchanged,
            x.edited,
            x.rejected,
            x.streak,
        ));
        if let Some(m) = &x.mark {
            notes.push(format!(
                "{}: {} by {} at {}{}",
                x.id(),
                m.level,
                m.by,
                crate::clock::format_ms(m.at),
                m.reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ));
        }
        if !x.outcomes.is_empty() {
            notes.push(format!(
                "{}: outcomes {}",
                x.id(),
                crate::journal::outcome_text(&Json::Object(x.outcomes.clone()))
            ));
        }
        if let Some(sg) = suggestion {
            notes.push(format!("{} {sg}", s.cyan_bold("suggestion:")));
        }
    }
    for n in notes {
        out.push_str(&format!("\n{n}"));
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    ui::print(&out);
    Ok(Exit::Ok)
}

fn mark(ctx: &Ctx, a: TrustMarkArgs, promote: bool) -> CmdResult {
    let Some((wf, step)) = a
        .target
        .rsplit_once('.')
        .filter(|(w, s)| !w.is_empty() && !s.is_empty())
    else {
        return Err(
            Error::invalid(format!("`{}` is not WORKFLOW.STEP", a.target))
                .with_hint("aios trust (lists the steps as WORKFLOW.STEP)")
                .into(),
        );
    };
    let mut journal = ctx.journal()?;
    let stats = journal.step_stats(wf, step)?;
    if stats.proposals == 0 && stats.mark.is_none() {
        return Err(Error::not_found(format!(
            "step `{step}` of workflow `{wf}` has proposed no action yet"
        ))
        .with_hint("aios trust (lists the steps that proposed actions)")
        .into());
    }
    // Demoting resets the streak of unchanged approvals too.
    if (promote && stats.promoted()) || (!promote && !stats.promoted() && stats.streak == 0) {
        return Err(Error::conflict(format!(
            "{} is already {}",
            a.target,
            if promote { "promoted" } else { "asking" }
        ))
        .with_hint("aios trust")
        .into());
    }
    let reason = a.reason.or_else(|| Some("by hand".into()));
    journal.mark_trust(0, wf, step, promote, &ctx.operator(), reason)?;
    let trust = ctx.trust()?;
    let by = crate::trust::policy_decider(
        &rule_of(&trust, &stats)
            .map(|r| r.name.clone())
            .unwrap_or_else(|| crate::trust::autonomy::PROMOTED.into()),
    );
    ui::println(&if promote {
        format!(
            "promoted {}: its proposals are decided by {by} from now on",
            a.target
        )
    } else {
        format!("demoted {}: its proposals wait for you again", a.target)
    });
    Ok(Exit::Ok)
}
