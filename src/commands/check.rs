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
    let config = ctx.config()?;
    let probe = Probe(Cell::new(false));
    let diags = crate::connectors::check_workflow(wf, &probe, &config);
    if !probe.0.get() {
        return report(ctx, path, source, diags, false);
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
    if lookup == Lookup::CacheThenLive {
        let st = ctx.ui.err();
        for (server, why) in catalog.unavailable() {
            ui::eprint(&format!(
                "{} {}: tool steps on server `{server}` were not checked: {why}\n",
                st.yellow("note:"),
                path.display(),
            ));
        }
    }
    report(ctx, path, source, diags, true)
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
