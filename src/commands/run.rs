//! `aios run` and `aios resume`, and the report printed when a driven run stops.

use std::path::Path;

use anyhow::Context as _;

use super::ui::{self, Progress};
use super::{CmdResult, Ctx, Exit, show};
use crate::cli::{ResumeArgs, RunArgs};
use crate::engine::{self, Mode, NewRun, RunOutcome};
use crate::error::Error;
use crate::journal::{Journal, ProposalStatus, RunStatus, RunTimes};
use crate::workflow;

/// Read a workflow file's bytes, or explain why not.
fn read_workflow(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| {
        let kind = if e.kind() == std::io::ErrorKind::NotFound {
            crate::error::ErrorKind::NotFound
        } else {
            crate::error::ErrorKind::Invalid
        };
        Error::new(kind, format!("cannot read {}: {e}", path.display()))
            .with_hint("pass the path of a workflow .toml file")
    })
}

/// Load and validate a workflow file, printing its diagnostics on failure. The
/// secrets it reads must be in the store (or the secrets file), and its steps must
/// fit their personas as far as the file tells (see [`crate::trust::literals`]).
pub fn load_workflow(ctx: &Ctx, path: &Path) -> Result<(String, workflow::Workflow), Error> {
    load_checked(ctx, path, true)
}

/// [`load_workflow`]; with `secrets` false, secrets that are not set are not
/// problems (`aios plan` lists them instead).
pub fn load_checked(
    ctx: &Ctx,
    path: &Path,
    secrets: bool,
) -> Result<(String, workflow::Workflow), Error> {
    let origin = path.display().to_string();
    let (source, diags) = match diagnose(ctx, path, secrets)? {
        (source, Ok(wf)) => return Ok((source, wf)),
        (source, Err(diags)) => (source, diags),
    };
    ui::eprint(&format!(
        "{}\n",
        diags.render(&source, &origin, ctx.ui.color_err)
    ));
    Err(Error::invalid(format!(
        "{origin} is not a valid workflow ({})",
        diags.count()
    ))
    .with_hint(format!(
        "fix the problems above; `aios check {}` checks without running",
        crate::connectors::shell::quote(&origin)
    )))
}

/// Read and validate a workflow file without printing: its source, and the
/// workflow or its diagnostics. An unreadable file is the error.
#[allow(clippy::type_complexity)]
pub fn diagnose(
    ctx: &Ctx,
    path: &Path,
    secrets: bool,
) -> Result<(String, Result<workflow::Workflow, workflow::Diagnostics>), Error> {
    let bytes = read_workflow(path)?;
    let origin = path.display().to_string();
    let (source, loaded) = match String::from_utf8(bytes) {
        Ok(source) => {
            let loaded = workflow::load(&source, &origin);
            (source, loaded)
        }
        // Shown with the invalid bytes replaced; the text before the first one is
        // the file's own, so the position is exact.
        Err(e) => {
            let diags = workflow::not_utf8(e.as_bytes(), e.utf8_error().valid_up_to());
            (
                String::from_utf8_lossy(e.as_bytes()).into_owned(),
                Err(diags),
            )
        }
    };
    let diags = match loaded {
        Ok(wf) => {
            let mut problems = Vec::new();
            if secrets && !wf.secrets.is_empty() {
                let secrets = ctx.secrets()?;
                problems = workflow::unknown_secrets(&wf, |n| secrets.knows(n));
            }
            // The personas: one not configured, literal values out of scope.
            let dir = workflow_dir(path);
            problems.extend(crate::trust::literals::check(
                &wf,
                &source,
                &dir,
                &ctx.trust()?,
            ));
            if problems.is_empty() {
                return Ok((source, Ok(wf)));
            }
            let mut diags = workflow::Diagnostics::from(problems);
            diags.sort();
            diags
        }
        Err(diags) => diags,
    };
    Ok((source, Err(diags)))
}

pub fn run(ctx: &Ctx, args: RunArgs) -> CmdResult {
    let (source, wf) = load_workflow(ctx, &args.file)?;
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
    let inputs = match workflow::resolve_inputs(&wf, &given) {
        Ok(i) => i,
        Err(diags) => {
            let origin = args.file.display().to_string();
            ui::eprint(&format!(
                "{}
",
                workflow::diag::render(&diags, &source, &origin, ctx.ui.color_err)
            ));
            return Err(Error::invalid(format!(
                "the inputs do not fit {origin} ({})",
                crate::text::count(diags.len(), "problem")
            ))
            .into());
        }
    };
    let abs = std::path::absolute(&args.file)
        .with_context(|| format!("cannot resolve {}", args.file.display()))?;
    let dir = abs.parent().unwrap_or(Path::new("/")).to_path_buf();
    let mut env = ctx.run_env()?;
    let dry = match (args.dry_run, args.with_llm) {
        (false, _) => None,
        (true, false) => {
            // Offline drafts: no provider is called, no query embedded.
            env.agent = Default::default();
            env.embedder = None;
            Some(crate::journal::DryMode::Offline)
        }
        (true, true) => {
            ui::eprint(&format!(
                "{} --with-llm calls the configured models for real: what they cost is spent, and counts against your budgets\n",
                ctx.ui.err().yellow("note:")
            ));
            Some(crate::journal::DryMode::Llm)
        }
    };
    // Secret inputs: the journal keeps placeholders; the values wait in the store
    // under the run's uid, and leave this process's command line. A dry run commits
    // nothing, so it keeps no value anywhere.
    let (inputs, secret_values) = workflow::split_secret_inputs(&wf, inputs);
    let uid = engine::new_uid();
    if !secret_values.is_empty() {
        let values: Vec<&str> = secret_values.iter().map(|(_, v)| v.as_str()).collect();
        crate::secrets::process::scrub_args(&values);
        if dry.is_none() {
            crate::secrets::Store::new(&ctx.data_dir).put_run(
                &uid,
                &secret_values,
                &crate::clock::format_ms(ctx.clock.now_ms()),
            )?;
        }
    }
    let mut journal = ctx.journal()?;
    let mut progress = Progress::new(ctx.ui, args.quiet || args.json);
    let path = args.file.display().to_string();
    let new = NewRun {
        workflow: &wf,
        source: &source,
        path: Some(&path),
        dir: &dir,
        inputs,
        uid: Some(uid),
        dry,
    };
    if args.detach {
        return detach(&mut journal, new, args.json);
    }
    let outcome = engine::start(&mut journal, new, &env, &mut progress)?;
    if dry.is_some() {
        return super::dry::report(ctx, &journal, &outcome, &path, args.json);
    }
    report(ctx, &journal, &outcome, args.json)
}

/// `aios run --detach`: the run is created and queued for any worker in one
/// transaction; no step runs here.
fn detach(journal: &mut Journal, new: NewRun<'_>, json: bool) -> CmdResult {
    let source = new.source;
    let created = engine::created_event(new);
    let crate::journal::Event::RunCreated { uid, workflow, .. } = &created else {
        unreachable!("created_event makes a RunCreated event");
    };
    let (uid, workflow) = (uid.clone(), workflow.clone());
    let id = journal.create_queued_run(source, created, &[])?;
    if json {
        ui::print_json(&serde_json::json!({
            "run": id,
            "uid": uid,
            "workflow": workflow,
            "status": "queued",
        }));
    } else {
        ui::println(&format!("run {id} ({workflow}) queued for a worker"));
    }
    Ok(Exit::Ok)
}

pub fn resume(ctx: &Ctx, args: ResumeArgs) -> CmdResult {
    let Some(file) = &args.workflow else {
        let mut journal = ctx.journal()?;
        let mut progress = Progress::new(ctx.ui, args.quiet || args.json);
        let outcome = engine::resume(
            &mut journal,
            args.run,
            &ctx.run_env()?,
            &mut progress,
            Mode::Continue,
        )?;
        return report(ctx, &journal, &outcome, args.json);
    };
    // The corrected file is checked as `aios run` checks one, then against the run.
    let (source, wf) = load_workflow(ctx, file)?;
    let env = ctx.run_env()?;
    super::check::tool_steps(
        ctx,
        file,
        &source,
        &wf,
        Some(&env.exec.mcp),
        crate::mcp::Lookup::Cache,
    )?;
    let abs =
        std::path::absolute(file).with_context(|| format!("cannot resolve {}", file.display()))?;
    let dir = abs.parent().unwrap_or(Path::new("/")).display().to_string();
    let path = file.display().to_string();
    let by = ctx.operator();
    let mut journal = ctx.journal()?;
    let mut progress = Progress::new(ctx.ui, args.quiet || args.json);
    let outcome = engine::resume_on(
        &mut journal,
        args.run,
        engine::steer::Revision {
            workflow: &wf,
            source: &source,
            path: Some(&path),
            dir: &dir,
            by: &by,
        },
        &env,
        &mut progress,
    )?;
    report(ctx, &journal, &outcome, args.json)
}

/// How long a finished run took, from its creation: `1.2s`, or `2h30m (1.2s active,
/// the rest waiting)` for a run that waited for decisions or timers.
fn took(t: &RunTimes) -> String {
    let d = |ms: i64| crate::clock::format_duration(std::time::Duration::from_millis(ms as u64));
    if t.waited {
        format!("{} ({} active, the rest waiting)", d(t.total), d(t.active))
    } else {
        d(t.total)
    }
}

/// The run's workflow file (absolute) when a step of it failed on its definition (a
/// template, a `when` condition, a path that could not be rendered): the way on is
/// that file, corrected, as the run's new definition.
fn definition_file(
    journal: &Journal,
    run: &crate::journal::RunRecord,
) -> Result<Option<String>, Error> {
    let Some(name) = run.path.as_deref().and_then(|p| Path::new(p).file_name()) else {
        return Ok(None);
    };
    let failed: Vec<String> = journal
        .steps(run.id)?
        .into_iter()
        .filter(|st| st.status == crate::journal::StepStatus::Failed)
        .map(|st| st.step_id)
        .collect();
    // The last failure of each failed step says whether it failed at render.
    let mut last: std::collections::HashMap<String, bool> = Default::default();
    for e in journal.events(run.id)? {
        if let crate::journal::Event::StepFailed {
            step, at_render, ..
        } = e.event
        {
            last.insert(step, at_render);
        }
    }
    let at_render = failed.iter().any(|s| last.get(s).copied().unwrap_or(false));
    Ok(at_render.then(|| Path::new(&run.dir).join(name).display().to_string()))
}

/// Print where a run stands after driving it, and pick the exit code.
pub fn report(ctx: &Ctx, journal: &Journal, outcome: &RunOutcome, json: bool) -> CmdResult {
    let id = outcome.run_id;
    let code = match outcome.status {
        RunStatus::Succeeded | RunStatus::Waiting | RunStatus::Running => Exit::Ok,
        RunStatus::Failed | RunStatus::Cancelled => Exit::Failed,
    };
    if json {
        ui::print_json(&show::run_json(journal, id)?);
        return Ok(code);
    }
    let s = ctx.ui.out();
    let run = journal.run(id)?;
    if let Some(h) = &outcome.handoff {
        ui::println(&format!(
            "run {id} ({}): step {} needs a worker tagged {}; queued (see `aios workers`)",
            run.workflow,
            h.step,
            h.tags.join(", ")
        ));
        return Ok(code);
    }
    let extra = agent_report(journal, id)?;
    match outcome.status {
        RunStatus::Succeeded => {
            let steps = journal.steps(id)?;
            ui::println(&format!(
                "run {id} ({}) {} in {}: {}",
                run.workflow,
                s.run_status(RunStatus::Succeeded),
                took(&journal.run_times(id)?),
                crate::text::count(steps.len(), "step")
            ));
        }
        RunStatus::Waiting => {
            let mut pending: Vec<_> = journal
                .run_proposals(id)?
                .into_iter()
                .filter(|p| p.status == ProposalStatus::Pending)
                .collect();
            crate::inbox::order::sort_records(&mut pending);
            let mut text = format!(
                "run {id} ({}) is {}",
                run.workflow,
                s.run_status(RunStatus::Waiting)
            );
            let wakes = journal.wake_times(id)?;
            if pending.is_empty() && !wakes.is_empty() {
                let (step, due) = &wakes[0];
                text.push_str(&format!(
                    " until {} (step `{step}`{}); `aios tick` continues it then (or: aios resume {id})\n",
                    crate::clock::format_ms(*due),
                    if wakes.len() > 1 {
                        format!(" and {} more", wakes.len() - 1)
                    } else {
                        String::new()
                    }
                ));
            } else if pending.is_empty() {
                text.push_str(&format!(
                    ": decisions were committed; continue it with: aios resume {id}\n"
                ));
            } else {
                text.push_str(" for you:\n");
                for p in &pending {
                    text.push_str(&format!(
                        "  inbox {:<4} {:<9} {:<18} {}\n",
                        p.id,
                        p.kind.as_str(),
                        p.step_id,
                        p.summary
                    ));
                }
                let first = &pending[0];
                text.push_str(&format!(
                    "next: aios inbox show {} · {}\n",
                    first.id,
                    crate::inbox::next(first)
                ));
            }
            ui::print(&text);
        }
        RunStatus::Failed => {
            let err = outcome.error.clone().unwrap_or_default();
            let detail = journal
                .steps(id)?
                .into_iter()
                .filter(|st| st.status == crate::journal::StepStatus::Failed)
                .filter_map(|st| st.error.map(|e| format!("  {}: {e}\n", st.step_id)))
                .collect::<String>();
            // The items the failure withdrew from the inbox, which a resume puts back.
            let waiting: Vec<String> = journal
                .steps(id)?
                .into_iter()
                .filter(|st| {
                    matches!(
                        st.status,
                        crate::journal::StepStatus::Waiting
                            | crate::journal::StepStatus::NeedsAttention
                    )
                })
                .map(|st| st.step_id)
                .collect();
            let withdrawn: Vec<String> = journal
                .run_proposals(id)?
                .into_iter()
                .filter(|p| p.status == ProposalStatus::Withdrawn && waiting.contains(&p.step_id))
                .map(|p| format!("{} ({})", p.id, p.step_id))
                .collect();
            let withdrawn = if withdrawn.is_empty() {
                String::new()
            } else {
                format!(
                    "withdrawn from the inbox until the run is resumed: {} {}\n",
                    crate::text::noun(withdrawn.len(), "item", "items"),
                    withdrawn.join(", ")
                )
            };
            // Its failure item, unless a compensation was chosen at once (a saga).
            let failure = journal
                .run_proposals(id)?
                .into_iter()
                .rev()
                .find(|p| p.kind == crate::journal::ProposalKind::Failure);
            let failure = match failure {
                Some(p) if p.status == ProposalStatus::Pending => format!(
                    "failure item {} waits in the inbox: {}\n",
                    p.id,
                    crate::inbox::next(&p)
                ),
                Some(p) if p.status == ProposalStatus::Approved => format!(
                    "failure item {} was decided: compensate (on_failure); the undo waits in the inbox\n",
                    p.id
                ),
                _ => String::new(),
            };
            let hint = match definition_file(journal, &run)? {
                Some(file) => format!(
                    "fix the workflow file, then continue the run on it: aios resume {id} --workflow {}",
                    crate::connectors::shell::quote(&file)
                ),
                None => format!("fix the cause, then continue with: aios resume {id}"),
            };
            ui::print(&format!(
                "run {id} ({}) {}: {err}\n{detail}{withdrawn}{failure}{} {hint}\n",
                run.workflow,
                s.run_status(RunStatus::Failed),
                s.cyan_bold("hint:")
            ));
        }
        RunStatus::Cancelled => {
            ui::println(&format!("run {id} ({}) was cancelled", run.workflow));
        }
        RunStatus::Running => {
            ui::println(&format!("run {id} ({}) is running", run.workflow));
        }
    }
    ui::print(&extra);
    Ok(code)
}

/// What the run's agent steps add to its report: which answers came from a
/// fallback (an offline draft, or a later model), and the text answers in full.
fn agent_report(journal: &Journal, id: i64) -> Result<String, Error> {
    let mut notes = String::new();
    let mut answers = String::new();
    for st in journal.steps(id)? {
        if st.kind != "agent" || st.status != crate::journal::StepStatus::Succeeded {
            continue;
        }
        let Some(out) = &st.output else { continue };
        let note = ui::agent_note(out);
        if !note.is_empty() {
            let note = note.trim().trim_start_matches('(').trim_end_matches(')');
            notes.push_str(&format!("  {}: {note}\n", st.step_id));
        }
        if out.get("json").is_none()
            && let Some(text) = out["text"].as_str()
        {
            let by = if out["heuristic"] == true {
                "offline draft, no LLM".to_string()
            } else {
                format!(
                    "`{}` via {}",
                    out["model"].as_str().unwrap_or("?"),
                    out["provider"].as_str().unwrap_or("?")
                )
            };
            answers.push_str(&format!("answer of `{}` ({by}):\n", st.step_id));
            for line in text.trim_end().lines() {
                answers.push_str(&format!("  {line}\n"));
            }
        }
    }
    if !notes.is_empty() {
        notes = format!("fallbacks:\n{notes}");
    }
    Ok(notes + &answers)
}

/// The absolute folder of a workflow file (relative paths in its steps start here).
fn workflow_dir(path: &Path) -> std::path::PathBuf {
    std::path::absolute(path)
        .ok()
        .and_then(|a| a.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| std::path::PathBuf::from("/"))
}
