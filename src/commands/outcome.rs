//! `aios outcome RUN NAME=VALUE...`: attach measured results to a run (journaled as
//! an event of that run, searchable with it); without values, list them.

use serde_json::{Value as Json, json};

use super::ui;
use super::{CmdResult, Ctx, Exit, split_pairs};
use crate::cli::OutcomeArgs;
use crate::clock::format_ms;
use crate::journal::Event;
use crate::memory;

pub fn outcome(ctx: &Ctx, args: OutcomeArgs) -> CmdResult {
    let pairs = split_pairs(&args.values, &format!("aios outcome {}", args.run))?;
    let mut journal = if pairs.is_empty() {
        ctx.reader()?
    } else {
        ctx.journal()?
    };
    let run = journal.run(args.run)?;
    if !pairs.is_empty() && run.dry.is_some() {
        return Err(crate::error::Error::conflict(format!(
            "run {} is a dry run: nothing it did happened, so it has no outcomes",
            run.id
        ))
        .with_hint("record outcomes on the real run: aios runs")
        .into());
    }
    if !pairs.is_empty() {
        let mut values = serde_json::Map::new();
        for (k, v) in pairs {
            values.insert(k, memory::parse_value(&v));
        }
        let values = Json::Object(values);
        journal.commit(
            run.id,
            &[Event::OutcomeRecorded {
                step: None,
                values: values.clone(),
            }],
        )?;
        if !args.json {
            ui::println(&format!(
                "run {} ({}): {}",
                run.id,
                run.workflow,
                memory::outcome_pairs(&values)
            ));
            return Ok(Exit::Ok);
        }
    }
    let outcomes = journal.outcomes(run.id)?;
    if args.json {
        let arr = outcomes
            .iter()
            .map(|o| json!({ "run_id": run.id, "key": o.key, "value": o.value, "step_id": o.step_id, "at": format_ms(o.at) }))
            .collect();
        ui::print_json(&Json::Array(arr));
        return Ok(Exit::Ok);
    }
    if outcomes.is_empty() {
        ui::println(&format!(
            "run {} has no outcomes yet; record some with: aios outcome {} NAME=VALUE",
            run.id, run.id
        ));
        return Ok(Exit::Ok);
    }
    let s = ctx.ui.out();
    let w = outcomes.iter().map(|o| o.key.len()).max().unwrap_or(3);
    let mut out = String::new();
    for o in &outcomes {
        let from = o
            .step_id
            .as_deref()
            .map(|st| format!(" · step {st}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "{:<w$}  {}  {}\n",
            o.key,
            o.value,
            s.dim(&format!("{}{from}", format_ms(o.at)))
        ));
    }
    ui::print(&out);
    Ok(Exit::Ok)
}
