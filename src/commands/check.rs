//! `aios check FILE...`: validate workflows without running anything. Also where a
//! loaded workflow's tool steps are checked against their servers' listings (for
//! `check`, and before `run`, `schedule add` and `hook add` record anything).

use std::cell::Cell;
use std::path::Path;

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::cli::CheckArgs;
use crate::error::{Error, ErrorKind};
use crate::mcp::{CatalogError, Listing, Lookup, McpPool, ToolCatalog};
use crate::workflow::{self, Workflow};

pub fn check(ctx: &Ctx, args: CheckArgs) -> CmdResult {
    if args.json {
        return check_json(ctx, &args.files);
    }
    let mut worst = Exit::Ok;
    let s = ctx.ui.out();
    for path in &args.files {
        let loaded = super::run::load_workflow(ctx, path).and_then(|(source, wf)| {
            tool_steps(ctx, path, &source, &wf, None, Lookup::CacheThenLive)?;
            Ok(wf)
        });
        match loaded {
            Ok(wf) => ui::println(&format!(
                "{} {} ({}, {})",
                s.green("ok"),
                path.display(),
                wf.name,
                crate::text::count(wf.steps.len(), "step")
            )),
            Err(e) => {
                // An invalid workflow (2) outranks a missing file (3).
                if worst != Exit::Usage {
                    worst = Exit::from(e.kind);
                }
                if e.kind != ErrorKind::Invalid {
                    ctx.ui.print_error(&anyhow::Error::from(e));
                } else {
                    ui::eprint(&format!(
                        "{} {}\n",
                        ctx.ui.err().red_bold("error:"),
                        e.message
                    ));
                }
            }
        }
    }
    Ok(worst)
}

/// Answers every lookup with "unknown", remembering that one was made: a workflow
/// without tool steps needs no configuration of tool servers.
struct Probe(Cell<bool>);

impl ToolCatalog for Probe {
    fn tools(&self, _server: &str) -> Result<Listing, CatalogError> {
        self.0.set(true);
        Err(CatalogError::Unavailable(String::new()))
    }
}

/// Check `wf`'s tool steps against their servers' listings, as `lookup` says to find
/// them (with `pool`, or the configuration's when `None`). Problems are printed with
/// their place in the file; with `Lookup::CacheThenLive` (`aios check`), so is a note
/// for each server that could not be checked.
pub fn tool_steps(
    ctx: &Ctx,
    path: &Path,
    source: &str,
    wf: &Workflow,
    pool: Option<&McpPool>,
    lookup: Lookup,
) -> Result<(), Error> {
    let found = tool_diagnostics(ctx, wf, pool, lookup)?;
    if lookup == Lookup::CacheThenLive {
        let st = ctx.ui.err();
        for (server, why) in &found.unchecked {
            ui::eprint(&format!(
                "{} {}: tool steps on server `{server}` were not checked: {why}\n",
                st.yellow("note:"),
                path.display(),
            ));
        }
    }
    report(ctx, path, source, found.diags, found.tools)
}

/// What checking a workflow against its configuration and tool servers found.
pub struct ToolCheck {
    pub diags: Vec<workflow::diag::Diagnostic>,
    /// The workflow has tool steps (checked against their servers).
    pub tools: bool,
    /// Servers that could not be asked, and why.
    pub unchecked: Vec<(String, String)>,
}

/// Check `wf` against the configuration and its tool servers' listings, without
/// printing.
pub fn tool_diagnostics(
    ctx: &Ctx,
    wf: &Workflow,
    pool: Option<&McpPool>,
    lookup: Lookup,
) -> Result<ToolCheck, Error> {
    let config = ctx.config()?;
    let probe = Probe(Cell::new(false));
    let diags = crate::connectors::check_workflow(wf, &probe, &config);
    if !probe.0.get() {
        return Ok(ToolCheck {
            diags,
            tools: false,
            unchecked: Vec::new(),
        });
    }
    let owned;
    let pool = match pool {
        Some(p) => p,
        None => {
            owned = ctx.mcp_pool()?;
            &owned
        }
    };
    let catalog = pool.catalog(lookup);
    let diags = crate::connectors::check_workflow(wf, &catalog, &config);
    let unchecked = if lookup == Lookup::CacheThenLive {
        catalog.unavailable()
    } else {
        Vec::new()
    };
    Ok(ToolCheck {
        diags,
        tools: true,
        unchecked,
    })
}

/// Print the problems `check_workflow` found, if any, as an error (`tools`: the
/// workflow has tool steps, checked against their servers).
fn report(
    ctx: &Ctx,
    path: &Path,
    source: &str,
    diags: Vec<workflow::diag::Diagnostic>,
    tools: bool,
) -> Result<(), Error> {
    if diags.is_empty() {
        return Ok(());
    }
    let origin = path.display().to_string();
    ui::eprint(&format!(
        "{}\n",
        workflow::diag::render(&diags, source, &origin, ctx.ui.color_err)
    ));
    let (what, hint) = if tools {
        (
            "its tool servers",
            "fix the problems above; `aios mcp tools SERVER` lists a server's tools",
        )
    } else {
        (
            "its configuration",
            "fix the problems above, in the workflow or in config.toml",
        )
    };
    Err(Error::invalid(format!(
        "{origin} does not fit {what} ({} problem{})",
        diags.len(),
        if diags.len() == 1 { "" } else { "s" }
    ))
    .with_hint(hint))
}

/// One diagnostic as JSON: where (1-based line and column, in characters; the end
/// is exclusive), how bad, what and what to do.
fn diag_json(
    file: &str,
    severity: &str,
    d: &workflow::diag::Diagnostic,
    lines: &workflow::diag::Lines<'_>,
) -> serde_json::Value {
    let (start, end) = match &d.span {
        Some(span) => (
            Some(lines.position(span.start)),
            Some(lines.position(span.end.max(span.start))),
        ),
        None => (None, None),
    };
    serde_json::json!({
        "file": file,
        "line": start.map(|p| p.0),
        "column": start.map(|p| p.1),
        "end_line": end.map(|p| p.0),
        "end_column": end.map(|p| p.1),
        "severity": severity,
        "message": d.message,
        "label": d.label,
        "hint": d.hint,
    })
}

/// `aios check --json`: every file's diagnostics as one JSON document (on stdout,
/// whatever was found); the exit code is the same as without `--json`.
fn check_json(ctx: &Ctx, files: &[std::path::PathBuf]) -> CmdResult {
    let mut worst = Exit::Ok;
    let mut out_files = Vec::new();
    let mut out_diags = Vec::new();
    for path in files {
        let file = path.display().to_string();
        let mut entry = serde_json::json!({"file": file, "ok": false});
        let problems;
        match super::run::diagnose(ctx, path, true) {
            Err(e) => {
                if worst != Exit::Usage {
                    worst = Exit::from(e.kind);
                }
                problems = 1;
                out_diags.push(serde_json::json!({
                    "file": file, "line": null, "column": null, "end_line": null,
                    "end_column": null, "severity": "error", "message": e.message,
                    "label": null, "hint": e.hint,
                }));
            }
            Ok((source, Err(diags))) => {
                worst = Exit::Usage;
                let lines = workflow::diag::Lines::new(&source);
                problems = diags.total;
                for d in diags.iter() {
                    out_diags.push(diag_json(&file, "error", d, &lines));
                }
            }
            Ok((source, Ok(wf))) => {
                let found = tool_diagnostics(ctx, &wf, None, Lookup::CacheThenLive)?;
                let lines = workflow::diag::Lines::new(&source);
                for (server, why) in &found.unchecked {
                    out_diags.push(serde_json::json!({
                        "file": file, "line": null, "column": null, "end_line": null,
                        "end_column": null, "severity": "warning",
                        "message": format!("tool steps on server `{server}` were not checked: {why}"),
                        "label": null, "hint": "aios mcp list",
                    }));
                }
                problems = found.diags.len();
                for d in &found.diags {
                    out_diags.push(diag_json(&file, "error", d, &lines));
                }
                if problems > 0 {
                    worst = Exit::Usage;
                }
                entry["workflow"] = wf.name.clone().into();
                entry["steps"] = wf.steps.len().into();
            }
        }
        entry["ok"] = (problems == 0).into();
        entry["problems"] = problems.into();
        out_files.push(entry);
    }
    ui::print_json(&serde_json::json!({
        "ok": worst == Exit::Ok,
        "files": out_files,
        "diagnostics": out_diags,
    }));
    Ok(worst)
}
