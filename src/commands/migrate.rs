//! `aios migrate --to postgres://…`: copy this journal (the SQLite file of the data
//! folder) into a PostgreSQL database, rebuild the projections there from the
//! events, compare them with SQLite's and report the counts. The copy itself is
//! `journal::pg::import`; this prints its progress (stderr) and report (stdout), and
//! never shows the password of the URL.

use serde_json::json;

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::cli::MigrateArgs;
use crate::error::Error;
use crate::journal::export::open_source;
use crate::journal::pg::import::{Count, ImportOptions, ImportReport, import};
use crate::journal::pg::redact;

/// The password in `url`, if it has one (to scrub from every message).
fn password(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let creds = &rest[..rest.rfind('@')?];
    let (_, pw) = creds.split_once(':')?;
    (!pw.is_empty()).then_some(pw)
}

/// `e` without the password anywhere in its words.
fn scrub(mut e: Error, url: &str) -> Error {
    if let Some(pw) = password(url) {
        e.message = e.message.replace(pw, "***");
        e.hint = e.hint.map(|h| h.replace(pw, "***"));
    }
    e
}

pub fn migrate(ctx: &Ctx, args: MigrateArgs) -> CmdResult {
    let url = args.to.as_str();
    let path = ctx.db_path();
    let src = open_source(&path, ctx.clock, ctx.open_options())?;
    let opts = ImportOptions {
        force: args.force,
        allow_active: args.allow_active,
        progress_every: args.progress_every,
    };
    let to = redact(url);
    let mut progress = |done: u64, total: u64| {
        ui::eprint(&if done == 0 {
            format!(
                "copying {} from {} into {to}\n",
                crate::text::count(total as usize, "event"),
                path.display()
            )
        } else {
            format!("copied {done} of {total} events\n")
        });
    };
    let report = import(&src, url, &opts, &mut progress).map_err(|e| scrub(e, url))?;
    if args.json {
        ui::print_json(&to_json(&report));
    } else {
        print_report(ctx, &report);
    }
    Ok(if report.committed {
        Exit::Ok
    } else {
        Exit::Failed
    })
}

fn to_json(r: &ImportReport) -> serde_json::Value {
    let counts = |v: &[crate::journal::pg::import::Count], key: &str| -> Vec<serde_json::Value> {
        v.iter()
            .map(|c| json!({key: c.name, "sqlite": c.sqlite, "postgres": c.postgres}))
            .collect()
    };
    json!({
        "to": r.to,
        "committed": r.committed,
        "runs": r.runs,
        "events": r.events,
        "tables": counts(&r.tables, "table"),
        "events_by_kind": counts(&r.events_by_kind, "kind"),
        "differences": r.differences,
        "replaced": r.replaced.as_ref().map(|c| c.describe()),
    })
}

fn print_report(ctx: &Ctx, r: &ImportReport) {
    let s = ctx.ui.out();
    let width = r
        .tables
        .iter()
        .chain(&r.events_by_kind)
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0)
        .max(5);
    let mut text = String::new();
    if let Some(before) = &r.replaced {
        text.push_str(&format!(
            "replaced what {} held: {}\n",
            r.to,
            before.describe()
        ));
    }
    // Two columns of counts under a heading: tables, then events by kind.
    let mut section = |lead: &str, heading: &str, counts: &[Count]| {
        text.push_str(&format!(
            "{lead}{heading:width$}  {:>8}  {:>10}\n",
            "sqlite", "postgres"
        ));
        for c in counts {
            text.push_str(&format!(
                "{:width$}  {:>8}  {:>10}\n",
                c.name, c.sqlite, c.postgres
            ));
        }
    };
    section("", "table", &r.tables);
    section("\n", "event", &r.events_by_kind);
    if r.committed {
        text.push_str(&format!(
            "\n{} copied {} ({}) into {}: the state rebuilt there from the events matches this journal's\n",
            s.green("ok"),
            crate::text::count(r.runs as usize, "run"),
            crate::text::count(r.events as usize, "event"),
            r.to
        ));
    } else {
        text.push_str(&format!(
            "\n{} the state rebuilt on PostgreSQL differs from this journal's; nothing was copied:\n",
            s.red_bold("mismatch")
        ));
        for d in &r.differences {
            text.push_str(&format!("  {d}\n"));
        }
    }
    ui::print(&text);
}
