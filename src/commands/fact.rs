//! `aios fact set|get|history|list|unset`: versioned facts about entities. An unset
//! fact is a tombstone version: its history keeps it, and it has no current value.

use serde_json::{Value as Json, json};

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::cli::{FactArgs, FactCommand};
use crate::clock::format_ms;
use crate::error::Error;
use crate::journal::{FactOrigin, FactRecord};
use crate::memory;

pub fn fact(ctx: &Ctx, args: FactArgs) -> CmdResult {
    match args.command {
        FactCommand::Set(a) => {
            let (entity, key) = (a.entity.trim(), a.key.trim());
            if entity.is_empty() || key.is_empty() {
                return Err(Error::invalid("the entity and key must not be empty")
                    .with_hint("aios fact set customer:acme plan pro")
                    .into());
            }
            let mut journal = ctx.journal()?;
            let value = memory::parse_value(&a.value);
            let f = journal.set_fact(
                entity,
                key,
                &value,
                FactOrigin {
                    proposal: a.decision,
                    note: a.note,
                    by: Some(ctx.operator()),
                },
            )?;
            if a.json {
                ui::print_json(&record_json(&f));
            } else {
                ui::println(&format!(
                    "{} {} = {} (version {})",
                    f.entity, f.key, f.value, f.version
                ));
            }
            Ok(Exit::Ok)
        }
        FactCommand::Get(a) => {
            let journal = ctx.reader()?;
            match a.key {
                Some(key) => {
                    let f = match journal.fact(&a.entity, &key)? {
                        Some(f) if f.unset => return Err(unset_error(&f).into()),
                        Some(f) => f,
                        None => {
                            return Err(
                                memory::unknown_fact(&journal, &a.entity, Some(&key))?.into()
                            );
                        }
                    };
                    if a.json {
                        ui::print_json(&record_json(&f));
                    } else {
                        ui::println(&plain(&f.value));
                    }
                }
                None => {
                    let facts = journal.facts(&a.entity)?;
                    if facts.is_empty() {
                        return Err(memory::unknown_fact(&journal, &a.entity, None)?.into());
                    }
                    if a.json {
                        ui::print_json(&Json::Array(facts.iter().map(record_json).collect()));
                    } else {
                        ui::print(&render_facts(ctx, &facts));
                    }
                }
            }
            Ok(Exit::Ok)
        }
        FactCommand::History(a) => {
            let journal = ctx.reader()?;
            let h = journal.fact_history(&a.entity, &a.key)?;
            if h.is_empty() {
                return Err(memory::unknown_fact(&journal, &a.entity, Some(&a.key))?.into());
            }
            if a.json {
                ui::print_json(&Json::Array(h.iter().map(record_json).collect()));
                return Ok(Exit::Ok);
            }
            let s = ctx.ui.out();
            let mut out = String::new();
            for f in &h {
                let value = if f.unset {
                    s.yellow("(unset)")
                } else {
                    f.value.to_string()
                };
                out.push_str(&format!(
                    "v{:<3} {}  {}  {}",
                    f.version,
                    s.dim(&format_ms(f.at)),
                    value,
                    s.dim(&provenance(f))
                ));
                if let Some(n) = &f.note {
                    out.push_str(&format!(": {n}"));
                }
                out.push('\n');
            }
            ui::print(&out);
            Ok(Exit::Ok)
        }
        FactCommand::List(a) => {
            let journal = ctx.reader()?;
            let facts = match &a.entity {
                Some(entity) => {
                    let facts = journal.facts(entity)?;
                    if facts.is_empty() {
                        return Err(memory::unknown_fact(&journal, entity, None)?.into());
                    }
                    facts
                }
                None => journal.all_facts()?,
            };
            if a.json {
                ui::print_json(&Json::Array(facts.iter().map(record_json).collect()));
            } else if facts.is_empty() {
                ui::println("no facts yet; set one with: aios fact set customer:acme plan pro");
            } else {
                ui::print(&render_facts(ctx, &facts));
            }
            Ok(Exit::Ok)
        }
        FactCommand::Unset(a) => {
            let mut journal = ctx.journal()?;
            if journal.fact(&a.entity, &a.key)?.is_none() {
                return Err(memory::unknown_fact(&journal, &a.entity, Some(&a.key))?.into());
            }
            let f = journal.unset_fact(&a.entity, &a.key, &ctx.operator(), a.note)?;
            if a.json {
                ui::print_json(&record_json(&f));
            } else {
                ui::println(&format!(
                    "{} {} unset (version {}; its history keeps every version)",
                    f.entity, f.key, f.version
                ));
            }
            Ok(Exit::Ok)
        }
    }
}

/// `fact get` of a fact whose current version is a tombstone.
fn unset_error(f: &FactRecord) -> Error {
    let (e, k) = (
        crate::connectors::shell::quote(&f.entity),
        crate::connectors::shell::quote(&f.key),
    );
    Error::not_found(format!(
        "{} {} is unset (version {}, {}, {})",
        f.entity,
        f.key,
        f.version,
        provenance(f),
        format_ms(f.at)
    ))
    .with_hint(format!(
        "see its earlier values with: aios fact history {e} {k}; set it again with: aios fact set {e} {k} VALUE"
    ))
}

/// Current facts grouped under their entity, with version and provenance.
fn render_facts(ctx: &Ctx, facts: &[FactRecord]) -> String {
    let s = ctx.ui.out();
    let w = facts.iter().map(|f| f.key.len()).max().unwrap_or(3);
    let mut out = String::new();
    let mut entity: Option<&str> = None;
    for f in facts {
        if entity != Some(f.entity.as_str()) {
            out.push_str(&format!("{}\n", s.bold(&f.entity)));
            entity = Some(&f.entity);
        }
        out.push_str(&format!(
            "  {:<w$}  {}  {}\n",
            f.key,
            f.value,
            s.dim(&format!(
                "v{} · {} · {}",
                f.version,
                provenance(f),
                format_ms(f.at)
            ))
        ));
    }
    out
}

/// `manual by me@host`, `unset by me@host`, `run 3/upgrade`, `decision on inbox 4 (run 3/email)`.
fn provenance(f: &FactRecord) -> String {
    if f.unset {
        return format!("unset by {}", f.set_by.as_deref().unwrap_or("?"));
    }
    match f.source.as_str() {
        "run" => format!(
            "run {}/{}",
            f.run_id.unwrap_or_default(),
            f.step_id.as_deref().unwrap_or("?")
        ),
        "decision" => format!(
            "decision on inbox {} (run {}/{})",
            f.proposal_id.unwrap_or_default(),
            f.run_id.unwrap_or_default(),
            f.step_id.as_deref().unwrap_or("?")
        ),
        _ => match &f.set_by {
            Some(by) => format!("manual by {by}"),
            None => "manual".into(),
        },
    }
}

/// A value for a terminal: strings without quotes, the rest as JSON.
fn plain(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The JSON form of a fact version (scripting interface).
pub fn record_json(f: &FactRecord) -> Json {
    json!({
        "entity": f.entity,
        "key": f.key,
        "value": f.value,
        "version": f.version,
        "source": f.source,
        "run_id": f.run_id,
        "step_id": f.step_id,
        "proposal_id": f.proposal_id,
        "note": f.note,
        "set_by": f.set_by,
        "at": format_ms(f.at),
        "unset": f.unset,
    })
}
