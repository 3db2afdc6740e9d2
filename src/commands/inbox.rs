//! `aios inbox`: the TUI on a terminal (the list otherwise); `aios inbox list|show`:
//! what waits for the operator; `aios inbox unsnooze ID`: show a snoozed item again.

use std::io::IsTerminal;

use serde_json::{Value as Json, json};

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::cli::{InboxArgs, InboxCommand, InboxListArgs, InboxShowArgs};
use crate::clock::{age, format_ms};
use crate::inbox::view::{ItemView, Shown, Subject};
use crate::journal::{
    BudgetStop, Evidence, Failure, InboxRow, ProposalKind, ProposalRecord, ProposalStatus, Rescue,
};

pub fn inbox(ctx: &Ctx, args: InboxArgs) -> CmdResult {
    match args.command {
        None if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() => tui(ctx),
        None => list(ctx, InboxListArgs::default()),
        Some(InboxCommand::List(a)) => list(ctx, a),
        Some(InboxCommand::Show(a)) => show(ctx, a),
        Some(InboxCommand::Unsnooze(a)) => {
            let p = ctx.journal()?.unsnooze(a.id, &ctx.operator())?;
            ui::println(&format!(
                "inbox item {} ({}) is back in the inbox",
                p.id, p.summary
            ));
            Ok(Exit::Ok)
        }
    }
}

/// The full-screen inbox. Reads the environment it needs here (NO_COLOR, the editor).
fn tui(ctx: &Ctx) -> CmdResult {
    crate::schedule::flag_late(&mut ctx.journal()?)?;
    let editor = ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|v| !v.trim().is_empty());
    crate::tui::run(crate::tui::TuiSettings {
        db_path: ctx.db_path(),
        pg: ctx.pg_pool()?,
        clock: ctx.clock,
        open: crate::journal::OpenOptions {
            lock_timeout: ctx.lock_timeout,
            ..crate::journal::OpenOptions::default()
        },
        run_env: ctx.run_env()?,
        operator: ctx.operator(),
        no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        editor,
        poll: std::time::Duration::from_millis(500),
    })?;
    Ok(Exit::Ok)
}

/// What a line of `aios inbox list` (and its JSON) shows of an item: read from a
/// full record (`--all`), or from the light rows of the pending items (the list's
/// cost is its length, not the size of each item's action and evidence).
struct Listed<'a> {
    id: i64,
    kind: &'a str,
    run_id: i64,
    workflow: &'a str,
    step_id: &'a str,
    status: ProposalStatus,
    summary: &'a str,
    created_at: crate::clock::Millis,
    decided_by: Option<&'a str>,
    reason: Option<&'a str>,
    deadline: Option<crate::clock::Millis>,
    on_timeout: Option<&'a str>,
    reminders: u32,
    offline: bool,
}

impl<'a> Listed<'a> {
    fn of_record(p: &'a ProposalRecord) -> Listed<'a> {
        Listed {
            id: p.id,
            kind: p.kind.as_str(),
            run_id: p.run_id,
            workflow: &p.workflow,
            step_id: &p.step_id,
            status: p.status,
            summary: &p.summary,
            created_at: p.created_at,
            decided_by: p.decided_by.as_deref(),
            reason: p.reason.as_deref(),
            deadline: p.deadline,
            on_timeout: p.on_timeout.as_deref(),
            reminders: p.reminders,
            offline: offline_draft(p),
        }
    }

    fn of_row(r: &'a InboxRow) -> Listed<'a> {
        Listed {
            id: r.id,
            kind: &r.kind,
            run_id: r.run_id,
            workflow: &r.workflow,
            step_id: &r.step_id,
            status: ProposalStatus::Pending,
            summary: &r.summary,
            created_at: r.created_at,
            decided_by: None,
            reason: None,
            deadline: r.deadline,
            on_timeout: r.on_timeout.as_deref(),
            reminders: r.reminders,
            offline: r.offline,
        }
    }

    fn is(&self, kind: ProposalKind) -> bool {
        self.kind == kind.as_str()
    }
}

pub(super) fn item_json(p: &ProposalRecord) -> serde_json::Value {
    listed_json(&Listed::of_record(p))
}

fn listed_json(p: &Listed<'_>) -> serde_json::Value {
    let mut v = json!({
        "id": p.id,
        "kind": p.kind,
        "run_id": p.run_id,
        "step_id": p.step_id,
        "status": p.status.as_str(),
        "summary": p.summary,
        "created_at": format_ms(p.created_at),
    });
    // Who or what decided it (the operator, `policy:NAME`, `aios (timeout)`).
    if let Some(by) = &p.decided_by {
        v["decided_by"] = json!(by);
    }
    // A notice is about a schedule, not a run: no run or step, and the schedule.
    if p.is(ProposalKind::Notice) {
        v["run_id"] = Json::Null;
        v["step_id"] = Json::Null;
        v["schedule"] = json!(p.workflow);
    }
    // Items with a decision deadline say when, what then, and how often they were
    // surfaced again (`on_timeout = "remind"`).
    if let Some(d) = p.deadline {
        v["deadline"] = json!(format_ms(d));
        v["on_timeout"] = json!(p.on_timeout);
        v["reminders"] = json!(p.reminders);
    }
    v
}

/// ` (decide by …, then reject)` / ` (reminder 2; decide by …)` for the list.
fn deadline_note(p: &Listed<'_>) -> String {
    if let (Some(d), ProposalStatus::Pending, Some(by)) = (
        p.deadline,
        p.status,
        p.on_timeout
            .filter(|o| o.starts_with(crate::trust::POLICY_PREFIX)),
    ) {
        return format!(" ({by} approves it at {} unless you decide)", format_ms(d));
    }
    match (p.deadline, p.status) {
        (Some(d), crate::journal::ProposalStatus::Pending) => {
            let when = format_ms(d);
            if p.reminders > 0 {
                format!(" (reminder {}; decide by {when})", p.reminders)
            } else {
                format!(
                    " (decide by {when}, then {})",
                    p.on_timeout.unwrap_or("reject")
                )
            }
        }
        _ => String::new(),
    }
}

fn list(ctx: &Ctx, args: InboxListArgs) -> CmdResult {
    let mut journal = ctx.reader_or_writer()?;
    crate::schedule::flag_late(&mut journal)?;
    // Pending items (the common case) come from their light rows; `--all` lists
    // every item ever made, from the full records.
    let records = if args.all {
        let mut all = journal.inbox(true)?;
        crate::inbox::order::sort_records(&mut all);
        all
    } else {
        Vec::new()
    };
    let rows = if args.all {
        Vec::new()
    } else {
        let mut pending = journal.inbox_rows()?;
        pending.sort_by(|a, b| {
            crate::inbox::order::cmp(
                crate::inbox::order::Key::of_row(a),
                crate::inbox::order::Key::of_row(b),
            )
        });
        pending
    };
    let items: Vec<Listed<'_>> = if args.all {
        records.iter().map(Listed::of_record).collect()
    } else {
        rows.iter().map(Listed::of_row).collect()
    };
    if args.json {
        ui::print_json(&serde_json::Value::Array(
            items.iter().map(listed_json).collect(),
        ));
        return Ok(Exit::Ok);
    }
    if items.is_empty() {
        ui::println("inbox is empty: nothing waits for you");
        return Ok(Exit::Ok);
    }
    let s = ctx.ui.out();
    let now = journal.now();
    let step_w = items
        .iter()
        .map(|p| p.step_id.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let wf_w = items
        .iter()
        .map(|p| p.workflow.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let mut out = s.bold(&format!(
        "{:>5}  {:<9}  {:>5}  {:<wf_w$}  {:<step_w$}  {:>5}  SUMMARY",
        "ID", "KIND", "RUN", "WORKFLOW", "STEP", "AGE"
    ));
    out.push('\n');
    for p in &items {
        let kind = format!("{:<9}", p.kind);
        let kind = if p.is(ProposalKind::Attention) {
            s.red_bold(&kind)
        } else {
            kind
        };
        let mut summary = p.summary.to_string();
        if p.offline {
            summary.push_str(" (offline draft, no LLM)");
        }
        summary.push_str(&deadline_note(p));
        if args.all {
            summary = match (&p.decided_by, p.status) {
                // Who or what decided it: the operator, `policy:NAME`, `aios (timeout)`.
                (Some(by), ProposalStatus::Approved | ProposalStatus::Rejected) => {
                    format!("[{} by {by}] {summary}", p.status)
                }
                _ => format!("[{}] {summary}", p.status),
            };
            if p.status == ProposalStatus::Withdrawn
                && let Some(why) = &p.reason
            {
                summary.push_str(&format!(" ({why})"));
            }
        }
        let (run, step) = if p.is(ProposalKind::Notice) {
            ("-".to_string(), "-")
        } else {
            (p.run_id.to_string(), p.step_id)
        };
        out.push_str(&format!(
            "{:>5}  {kind}  {run:>5}  {:<wf_w$}  {step:<step_w$}  {:>5}  {summary}\n",
            p.id,
            p.workflow,
            age(now, p.created_at),
        ));
    }
    ui::print(&out);
    Ok(Exit::Ok)
}

fn show(ctx: &Ctx, args: InboxShowArgs) -> CmdResult {
    let journal = ctx.reader()?;
    let p = journal.proposal(args.id)?;
    if args.action {
        ui::println(&crate::inbox::view::edit_start(&p));
        return Ok(Exit::Ok);
    }
    if args.json {
        let mut v = item_json(&p);
        v["attempt"] = json!(p.attempt);
        v["workflow"] = json!(p.workflow);
        v["action"] = p.action.clone();
        v["edited"] = json!(p.edited);
        v["evidence"] = p.evidence.clone();
        v["decision"] = json!(p.decision.map(|d| d.as_str()));
        v["reason"] = json!(p.reason);
        v["fields"] = json!(p.fields);
        v["decided_by"] = json!(p.decided_by);
        v["decided_at"] = json!(p.decided_at.map(format_ms));
        v["stale"] = json!(journal.stale(&p.evidence));
        v["snoozed_until"] = json!(journal.snoozed_until(p.id)?.map(format_ms));
        ui::print_json(&v);
        return Ok(Exit::Ok);
    }
    let s = ctx.ui.out();
    if p.kind == ProposalKind::Notice {
        ui::print(&notice_text(&p, s));
        return Ok(Exit::Ok);
    }
    let mut t = format!(
        "{} · {} · {}\n",
        s.bold(&format!("inbox {}", p.id)),
        p.kind,
        match p.status {
            crate::journal::ProposalStatus::Pending => s.yellow("pending"),
            other => other.as_str().to_string(),
        }
    );
    t.push_str(&format!(
        "run {} ({}) · step {} · attempt {} · created {}\n\n",
        p.run_id,
        p.workflow,
        p.step_id,
        p.attempt,
        format_ms(p.created_at)
    ));
    if p.status == crate::journal::ProposalStatus::Pending {
        let mut notes = String::new();
        for st in journal.stale(&p.evidence) {
            notes.push_str(&format!("{} {}\n", s.red_bold("STALE"), st.describe()));
        }
        if let Some(u) = journal.snoozed_until(p.id)?.filter(|u| *u > journal.now()) {
            notes.push_str(&format!("snoozed until {}\n", format_ms(u)));
        }
        if let Some(note) = Evidence::of(&p.evidence).policy {
            notes.push_str(&format!("{}\n", crate::inbox::view::policy_line(&note, &p)));
        }
        if !notes.is_empty() {
            t.push_str(&notes);
            t.push('\n');
        }
    }
    let view = ItemView::of(&p);
    match &view.subject {
        Subject::Gate(g) => {
            t.push_str(&format!("{}\n", s.bold(&g.title)));
            if let Some(body) = &g.body {
                t.push_str(&format!("\n{body}\n"));
            }
            if !g.fields.is_empty() {
                t.push_str(&format!("\n{}\n", s.bold("fields")));
                for f in &g.fields {
                    t.push_str(&format!("  {}\n", f.describe()));
                }
            }
        }
        Subject::Budget(b) => {
            t.push_str(&format!("{}\n", s.bold(BudgetStop::HEADLINE)));
            for (label, value) in b.lines() {
                t.push_str(&format!("  {label:<10} {value}\n"));
            }
        }
        Subject::Action {
            interrupted,
            action,
        } => {
            if *interrupted {
                t.push_str(&format!("{}\n\n", s.red_bold(&view.attention_line())));
            }
            t.push_str(&format!("{}\n", s.bold("action")));
            match action {
                Shown::Described(d) => t.push_str(&indent(&d.to_text())),
                Shown::Unreadable(j) => t.push_str(&indent(
                    &serde_json::to_string_pretty(j).unwrap_or_default(),
                )),
            }
            if let Some(d) = &p.diff {
                t.push_str(&format!(
                    "\n{}\n{}",
                    s.bold("edited by the operator"),
                    indent(d)
                ));
            }
        }
        Subject::Rescue(r) => {
            t.push_str(&rescue_text(r, s));
            if let Some(d) = &p.diff {
                t.push_str(&format!(
                    "\n{}\n{}",
                    s.bold("the operator's reply"),
                    indent(d)
                ));
            }
        }
        Subject::Failure(f) => {
            t.push_str(&format!("{}\n", s.bold(Failure::HEADLINE)));
            for (label, value) in f.lines() {
                t.push_str(&format!("  {label:<10} {value}\n"));
            }
        }
        // Notices were printed above.
        Subject::Notice => {}
    }
    let ev = &view.evidence;
    if let Some(up) = &ev.upstream
        && !up.is_empty()
    {
        t.push_str(&format!("\n{}\n", s.bold("built from")));
        for (k, v) in up {
            t.push_str(&format!(
                "  {k}: {}\n",
                crate::connectors::truncate_line(&v.to_string(), 100)
            ));
        }
    }
    if !ev.agents.is_empty() {
        t.push_str(&format!("\n{}\n", s.bold("drafted by")));
        for a in &ev.agents {
            let who = if a.is_heuristic() {
                s.yellow(&a.who())
            } else {
                a.who()
            };
            let conf = match a.confidence {
                Some(c) => format!(" · confidence {c:.2}"),
                None => String::new(),
            };
            t.push_str(&format!("  {}: {who}{conf}\n", a.step));
            if let Some(r) = &a.rationale {
                t.push_str(&format!("    rationale: {r}\n"));
            }
        }
    }
    if p.status == ProposalStatus::Withdrawn {
        t.push_str(&format!(
            "\n{} {}\n",
            s.bold("withdrawn:"),
            p.reason.as_deref().unwrap_or("its run ended")
        ));
        if p.run_status == crate::journal::RunStatus::Failed {
            t.push_str(&format!(
                "{} aios resume {} (continues the run; the items its steps wait on come back)\n",
                s.cyan_bold("next:"),
                p.run_id
            ));
        }
    } else if let Some(d) = p.decision {
        t.push_str(&format!(
            "\n{} {} by {} at {}{}\n",
            s.bold("decided:"),
            d,
            p.decided_by.as_deref().unwrap_or("?"),
            p.decided_at.map(format_ms).unwrap_or_default(),
            p.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ));
    } else if p.status == ProposalStatus::Pending {
        t.push_str(&format!("\n{}\n", s.cyan_bold("next:")));
        let choices = crate::inbox::choices::of(&view);
        let lines: Vec<(String, String)> = choices
            .iter()
            .map(|c| (c.command(p.id), c.describe(p.id)))
            .collect();
        let w = lines
            .iter()
            .map(|(c, _)| c.chars().count())
            .max()
            .unwrap_or(0);
        for (command, what) in lines {
            t.push_str(&format!("  {command:<w$}  {what}\n"));
        }
    }
    ui::print(&t);
    Ok(Exit::Ok)
}

/// Whether an item was built from an offline heuristic draft (no LLM).
fn offline_draft(p: &ProposalRecord) -> bool {
    Evidence::of(&p.evidence).offline_draft()
}

/// A rescue for `aios inbox show`: each reply with its error, why the step stopped,
/// what a reply must be, and the offline draft.
fn rescue_text(r: &Rescue, s: ui::Style) -> String {
    let mut t = format!("{}\n", s.bold(Rescue::HEADLINE));
    if !r.replies.is_empty() {
        t.push_str(&format!("\n{}\n", s.bold("replies")));
    }
    for x in &r.replies {
        t.push_str(&format!("  {}\n", x.headline()));
        if let Some(text) = &x.response {
            t.push_str(&indent(&indent(text)));
        }
        if let Some(e) = &x.error {
            t.push_str(&format!("    {} {e}\n", s.red_bold("error:")));
        }
    }
    t.push_str(&format!(
        "\n{}\n{}",
        s.bold("why the step stopped"),
        indent(&r.error)
    ));
    t.push_str(&format!(
        "\n{}\n",
        s.bold(&format!("{} (--edit FILE)", r.expects()))
    ));
    if let Some(schema) = &r.request.schema {
        t.push_str(&indent(
            &serde_json::to_string_pretty(schema).unwrap_or_default(),
        ));
    }
    match r.offline_text() {
        None => t.push_str("\nno offline draft fits this step's output\n"),
        Some(d) => t.push_str(&format!(
            "\n{}\n{}",
            s.bold("offline draft (--offline)"),
            indent(&d)
        )),
    }
    t
}

fn indent(s: &str) -> String {
    let mut out = String::new();
    for line in s.lines() {
        out.push_str("  ");
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `aios inbox show` of a notice: what happened to which schedule, and what to do.
fn notice_text(p: &ProposalRecord, s: ui::Style) -> String {
    let mut t = format!(
        "{} · notice · {}\n",
        s.bold(&format!("inbox {}", p.id)),
        if p.status == crate::journal::ProposalStatus::Pending {
            s.yellow("pending")
        } else {
            "acknowledged".to_string()
        }
    );
    t.push_str(&format!(
        "schedule {} · created {}\n\n{}\n",
        p.workflow,
        format_ms(p.created_at),
        p.summary
    ));
    if let Some(details) = p.action.get("details").filter(|d| !d.is_null()) {
        t.push_str(&format!(
            "\n{}\n{}\n",
            s.bold("details"),
            serde_json::to_string_pretty(details).unwrap_or_default()
        ));
    }
    match &p.decided_by {
        Some(by) => t.push_str(&format!(
            "\n{} by {by} at {}\n",
            s.bold("acknowledged"),
            p.decided_at.map(format_ms).unwrap_or_default()
        )),
        None => t.push_str(&format!(
            "\n{} aios schedule list · aios approve {} (acknowledge it)\n",
            s.cyan_bold("next:"),
            p.id
        )),
    }
    t
}
