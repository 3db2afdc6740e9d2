//! `aios workers`: the live workers (their tags, how many runs at a time, when they
//! started and were last heard from, the runs they hold with each run's current
//! steps and lease), the workers gone in the last day, and the runs queued for
//! workers (with a hint when no live worker has the tags one needs).

use serde_json::{Value as Json, json};

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::cli::WorkersArgs;
use crate::clock::{Millis, format_ms};
use crate::error::Error;
use crate::journal::{Journal, StepStatus, WorkItem, WorkerRecord, tags_cover};

/// How long a gone worker is still listed.
const GONE_FOR: Millis = 24 * 3_600_000;

/// A run a worker holds, or one queued.
fn run_json(journal: &Journal, w: &WorkItem) -> Result<Json, Error> {
    let run = journal.run(w.run_id)?;
    let steps: Vec<String> = journal
        .steps(w.run_id)?
        .into_iter()
        .filter(|s| s.status == StepStatus::Running)
        .map(|s| s.step_id)
        .collect();
    Ok(json!({
        "run": w.run_id,
        "workflow": run.workflow,
        "status": run.status.as_str(),
        "steps": steps,
        "tags": w.tags,
        "queued_at": format_ms(w.queued_at),
        "attempts": w.attempts,
        "claimed_by": w.claimed_by,
        "lease_expires": w.lease_expires.map(format_ms),
    }))
}

fn worker_json(w: &WorkerRecord, runs: Vec<Json>, live: bool) -> Json {
    json!({
        "id": w.id,
        "tags": w.tags,
        "concurrency": w.concurrency,
        "lease_ms": w.lease_ms,
        "started_at": format_ms(w.started_at),
        "heartbeat_at": format_ms(w.heartbeat_at),
        "stopped_at": w.stopped_at.map(format_ms),
        "live": live,
        "runs": runs,
    })
}

pub fn workers(ctx: &Ctx, args: WorkersArgs) -> CmdResult {
    let journal = ctx.reader()?;
    let now = journal.now();
    let records = journal.worker_records(now - GONE_FOR)?;
    let items = journal.work_items()?;
    // A worker of this host whose process has ended is gone at once (killed, it
    // could not say so); others are live until their heartbeat is older than their lease.
    let ended_here = |w: &WorkerRecord| {
        crate::journal::Owner::parse(&w.id)
            .is_some_and(|o| o.host == ctx.owner.host && !crate::journal::process_alive(o.pid))
    };
    let (live, gone): (Vec<&WorkerRecord>, Vec<&WorkerRecord>) =
        records.iter().partition(|w| w.live(now) && !ended_here(w));
    // The runs a worker's claim still holds: a gone worker's too, until its lease
    // passes and another worker may take them over.
    let held = |w: &WorkerRecord| -> Result<Vec<Json>, crate::error::Error> {
        items
            .iter()
            .filter(|i| i.claimed_by.as_deref() == Some(w.id.as_str()) && !i.claimable(now))
            .map(|i| run_json(&journal, i))
            .collect()
    };
    let mut live_json = Vec::new();
    for w in &live {
        live_json.push(worker_json(w, held(w)?, true));
    }
    let mut gone_json = Vec::new();
    for w in &gone {
        gone_json.push(worker_json(w, held(w)?, false));
    }
    let mut queue = Vec::new();
    for item in items.iter().filter(|i| i.claimable(now)) {
        let mut v = run_json(&journal, item)?;
        v["covered"] = live.iter().any(|w| tags_cover(&w.tags, &item.tags)).into();
        queue.push(v);
    }
    if args.json {
        ui::print_json(&json!({
            "workers": live_json,
            "gone": gone_json,
            "queue": queue,
        }));
        return Ok(Exit::Ok);
    }
    if live_json.is_empty() && gone_json.is_empty() && queue.is_empty() {
        ui::println(
            "no workers, and no runs queued for them (queue one with `aios run FILE --detach`, drive them with `aios worker`)",
        );
        return Ok(Exit::Ok);
    }
    let s = ctx.ui.out();
    let mut out = String::new();
    let tags = |v: &Json| {
        let t: Vec<&str> = v["tags"]
            .as_array()
            .map(|a| a.iter().filter_map(Json::as_str).collect())
            .unwrap_or_default();
        if t.is_empty() {
            "no tags".to_string()
        } else {
            format!("tags {}", t.join(", "))
        }
    };
    let text = |v: &Json, k: &str| v[k].as_str().unwrap_or("").to_string();
    out.push_str(&format!(
        "{}\n",
        s.bold(&format!("live workers: {}", live_json.len()))
    ));
    for w in &live_json {
        out.push_str(&format!(
            "  {}  {}, {} at a time, started {}, last heard {}\n",
            text(w, "id"),
            tags(w),
            w["concurrency"],
            text(w, "started_at"),
            text(w, "heartbeat_at"),
        ));
        for r in w["runs"].as_array().into_iter().flatten() {
            let steps: Vec<&str> = r["steps"]
                .as_array()
                .map(|a| a.iter().filter_map(Json::as_str).collect())
                .unwrap_or_default();
            out.push_str(&format!(
                "    run {} ({}){}, lease until {}\n",
                r["run"],
                text(r, "workflow"),
                if steps.is_empty() {
                    String::new()
                } else {
                    format!(" at {}", steps.join(", "))
                },
                text(r, "lease_expires"),
            ));
        }
    }
    if !gone_json.is_empty() {
        out.push_str(&format!(
            "{}\n",
            s.bold(&format!("gone in the last day: {}", gone_json.len()))
        ));
        for w in &gone_json {
            out.push_str(&format!(
                "  {}  {}, {}\n",
                text(w, "id"),
                tags(w),
                match w["stopped_at"].as_str() {
                    Some(at) => format!("stopped {at}"),
                    None => format!(
                        "last heard {}, did not stop cleanly (killed, or lost)",
                        text(w, "heartbeat_at")
                    ),
                }
            ));
            for r in w["runs"].as_array().into_iter().flatten() {
                out.push_str(&format!(
                    "    run {} ({}) still claimed: another worker takes it over after {}\n",
                    r["run"],
                    text(r, "workflow"),
                    text(r, "lease_expires"),
                ));
            }
        }
    }
    out.push_str(&format!(
        "{}\n",
        s.bold(&format!("queued runs: {}", queue.len()))
    ));
    let mut uncovered = Vec::new();
    for q in &queue {
        out.push_str(&format!(
            "  run {} ({})  needs {}, queued {}, claimed {}\n",
            q["run"],
            text(q, "workflow"),
            match tags(q).as_str() {
                "no tags" => "any worker".to_string(),
                t => format!("a worker with {t}"),
            },
            text(q, "queued_at"),
            crate::text::count(q["attempts"].as_u64().unwrap_or(0), "time"),
        ));
        if q["covered"] == false {
            uncovered.push(q);
        }
    }
    for q in uncovered {
        let t: Vec<&str> = q["tags"]
            .as_array()
            .map(|a| a.iter().filter_map(Json::as_str).collect())
            .unwrap_or_default();
        out.push_str(&format!(
            "{} no live worker can take run {}: start one with: aios worker{}\n",
            s.cyan_bold("hint:"),
            q["run"],
            if t.is_empty() {
                String::new()
            } else {
                format!(" --tags {}", t.join(","))
            }
        ));
    }
    ui::print(&out);
    Ok(Exit::Ok)
}
