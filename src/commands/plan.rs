//! `aios plan FILE`: what a run would do, without running it (see [`crate::plan`]).

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::agent::budget::usd;
use crate::cli::PlanArgs;
use crate::error::Error;
use crate::plan::{Asks, Plan, PlanCx};
use crate::workflow;

pub fn plan(ctx: &Ctx, args: PlanArgs) -> CmdResult {
    let (source, wf) = super::run::load_checked(ctx, &args.file, false)?;
    let env = ctx.run_env()?;
    super::check::tool_steps(
        ctx,
        &args.file,
        &source,
        &wf,
        Some(&env.exec.mcp),
        crate::mcp::Lookup::Cache,
    )?;
    let given = super::split_pairs(&args.inputs, "--input")?;
    // A required input not given is part of the plan, not a mistake.
    let missing: Vec<String> = wf
        .inputs
        .iter()
        .filter(|d| d.required && d.default.is_none() && !given.iter().any(|(k, _)| *k == d.name))
        .map(|d| d.name.clone())
        .collect();
    let mut relaxed = wf.clone();
    for d in &mut relaxed.inputs {
        if missing.contains(&d.name) {
            d.required = false;
        }
    }
    let inputs = match workflow::resolve_inputs(&relaxed, &given) {
        Ok(i) => workflow::split_secret_inputs(&wf, i).0,
        Err(diags) => {
            let origin = args.file.display().to_string();
            ui::eprint(&format!(
                "{}\n",
                workflow::diag::render(&diags, &source, &origin, ctx.ui.color_err)
            ));
            return Err(Error::invalid(format!(
                "the inputs do not fit {origin} ({})",
                crate::text::count(diags.len(), "problem")
            ))
            .into());
        }
    };
    let secrets = ctx.secrets()?;
    let known = |name: &str| secrets.knows(name);
    let catalog = env.exec.mcp.catalog(crate::mcp::Lookup::Cache);
    let plan = crate::plan::plan(
        &wf,
        &PlanCx {
            agent: &env.agent,
            tools: &catalog,
            secret_known: &known,
            inputs: &inputs,
            missing: &missing,
        },
    );
    if args.json {
        let mut v = serde_json::to_value(&plan)?;
        v["file"] = args.file.display().to_string().into();
        ui::print_json(&v);
    } else {
        ui::print(&text(&plan, &args.file.display().to_string()));
    }
    Ok(Exit::Ok)
}

/// The plan for people.
fn text(p: &Plan, file: &str) -> String {
    let mut out = format!(
        "plan of `{}` ({file}): {} in {}\n",
        p.workflow,
        crate::text::count(p.steps.len(), "step"),
        crate::text::count(p.groups.len(), "group")
    );
    if let Some(obj) = p.inputs.as_object()
        && !obj.is_empty()
    {
        let pairs: Vec<String> = obj
            .iter()
            .map(|(k, v)| {
                if p.secret_inputs.contains(k) {
                    format!("{k}=secret")
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        out.push_str(&format!("inputs: {}\n", pairs.join(", ")));
    }
    for m in &p.missing_inputs {
        out.push_str(&format!(
            "input `{m}` is required and not given: a run needs --input {m}=VALUE\n"
        ));
    }
    out.push_str(&format!(
        "\norder (the steps of a group may run at once, at most {}):\n",
        p.max_parallel
    ));
    let id_w = p.steps.iter().map(|s| s.id.len()).max().unwrap_or(0);
    let kind_w = p.steps.iter().map(|s| s.kind.len()).max().unwrap_or(0);
    let num_w = p.groups.len().to_string().len() + 1;
    for (g, ids) in p.groups.iter().enumerate() {
        for (k, id) in ids.iter().enumerate() {
            let Some(s) = p.steps.iter().find(|s| &s.id == id) else {
                continue;
            };
            let num = if k == 0 {
                format!("{}.", g + 1)
            } else {
                String::new()
            };
            let asks = match s.asks {
                Asks::Always => "asks",
                Asks::May => "may ask",
                Asks::Never => "runs",
            };
            let mut line = format!(
                "  {num:<num_w$} {id:<id_w$}  {:<kind_w$}  {asks}: {}",
                s.kind, s.why
            );
            if s.asks != Asks::Never {
                match s.on_reject {
                    Some("skip") => line.push_str("; a rejection skips it"),
                    Some(_) => line.push_str("; a rejection fails the run"),
                    None => {}
                }
            }
            if let Some(d) = &s.deadline {
                line.push_str(&format!("; {d}"));
            }
            out.push_str(line.trim_end());
            out.push('\n');
            if let Some(w) = &s.when {
                let pad = " ".repeat(2 + num_w + 1 + id_w + 2 + kind_w + 2);
                let now = match s.when_now {
                    Some(true) => ": true with these inputs".to_string(),
                    Some(false) => ": false with these inputs, so it is skipped".to_string(),
                    None => ": decided when the run gets there".to_string(),
                };
                out.push_str(&format!("{pad}when `{w}`{now}\n"));
            }
        }
    }
    out.push('\n');
    let of = |a: Asks| -> Vec<&str> {
        p.steps
            .iter()
            .filter(|s| s.asks == a)
            .map(|s| s.id.as_str())
            .collect()
    };
    let (always, may, never) = (of(Asks::Always), of(Asks::May), of(Asks::Never));
    let list = |v: &[&str]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    out.push_str(&format!(
        "asks for approval: {} ({} of {})\n",
        list(&always),
        always.len(),
        p.steps.len()
    ));
    if !may.is_empty() {
        out.push_str(&format!("may ask: {}\n", list(&may)));
    }
    out.push_str(&format!("never asks: {}\n", list(&never)));
    if !p.secrets.is_empty() {
        let s: Vec<String> = p
            .secrets
            .iter()
            .map(|s| {
                if s.set {
                    format!("{} (set)", s.name)
                } else {
                    format!("{} (not set: aios secret set {})", s.name, s.name)
                }
            })
            .collect();
        out.push_str(&format!("secrets: {}\n", s.join(", ")));
    }
    if !p.secret_inputs.is_empty() {
        out.push_str(&format!("secret inputs: {}\n", p.secret_inputs.join(", ")));
    }
    for s in &p.servers {
        out.push_str(&format!(
            "tool server `{}`: {} (listing {})\n",
            s.server,
            s.tools.join(", "),
            s.listing
        ));
    }
    let llm = &p.llm;
    if !llm.steps.is_empty() {
        out.push_str(&format!(
            "LLM calls: expected {}, at most {} (prompts as written, about 4 characters a token; replies of max_tokens)\n",
            usd(llm.expected_usd),
            usd(llm.max_usd)
        ));
        for s in &llm.steps {
            let models: Vec<String> = s
                .models
                .iter()
                .map(|m| match &m.error {
                    Some(_) => format!("{} (not configured)", m.alias),
                    None if m.provider == "heuristic" => {
                        format!("{} (offline, free)", m.alias)
                    }
                    None => format!(
                        "{} ({}/{}, {} and {} per million tokens in and out)",
                        m.alias,
                        m.provider,
                        m.model,
                        usd(m.usd_per_mtok_in),
                        usd(m.usd_per_mtok_out)
                    ),
                })
                .collect();
            out.push_str(&format!(
                "  {}: {}; max_tokens {}, prompt about {}: expected {}, at most {} ({})\n",
                s.id,
                models.join(", then "),
                s.max_tokens,
                crate::text::count(s.prompt_tokens as usize, "token"),
                usd(s.expected_usd),
                usd(s.max_usd),
                crate::text::count(s.max_calls as usize, "call")
            ));
        }
        let cap = |c: Option<f64>| c.map_or("none".to_string(), usd);
        out.push_str(&format!(
            "caps: run {} (the workflow's [budget]), daily {}, monthly {}\n",
            cap(llm.run_cap),
            cap(llm.daily_cap),
            cap(llm.monthly_cap)
        ));
    }
    out
}
