//! `view(model, frame)`: draws the model, reads nothing else. Only the rows on screen
//! are built, so a frame costs the same with 10 items or 10,000. Snapshot tested on
//! ratatui's `TestBackend` in `view/tests.rs`.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, TableState, Wrap};
use serde_json::Value as Json;

use super::model::{Detail, Item, Model, Overlay, Screen, Timeline};
use crate::clock::{Millis, age, format_ms};
use crate::journal::{RunStatus, StepStatus};

/// Wider than this: list and detail side by side; else stacked.
const WIDE: u16 = 120;

/// How many list rows fit on a screen of `size` (the same layout `view` draws).
pub fn list_capacity(size: (u16, u16)) -> usize {
    let (w, h) = size;
    let body = h.saturating_sub(2);
    let list_h = if w >= WIDE {
        body
    } else {
        narrow_list_height(body)
    };
    list_h.saturating_sub(3) as usize
}

fn narrow_list_height(body: u16) -> u16 {
    (body * 9 / 20).max(5).min(body)
}

/// Styles, with colour only when allowed.
#[derive(Clone, Copy)]
struct Theme {
    color: bool,
}

impl Theme {
    fn fg(self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }
    fn bold(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }
    fn dim(self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }
    fn alert(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
    fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }
}

pub fn view(m: &Model, f: &mut Frame) {
    let t = Theme {
        color: !m.settings.no_color,
    };
    let area = f.area();
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(m, f, header, t);
    match m.screen {
        Screen::Inbox => draw_inbox(m, f, body, t),
        Screen::Runs => draw_runs(m, f, body, t),
        Screen::Timeline { run, .. } => draw_timeline(m, f, body, t, run),
    }
    draw_footer(m, f, footer, t);
    draw_overlay(m, f, area, t);
}

fn draw_header(m: &Model, f: &mut Frame, area: Rect, t: Theme) {
    let tab = |name: &str, on: bool| {
        if on {
            Span::styled(
                format!(" {name} "),
                t.selected().add_modifier(Modifier::BOLD),
            )
        } else {
            Span::styled(format!(" {name} "), t.dim())
        }
    };
    let on_inbox = m.screen == Screen::Inbox;
    let mut spans = vec![
        Span::styled("aios ", t.bold()),
        tab("Inbox", on_inbox),
        tab("Runs", !on_inbox),
        Span::raw("  "),
    ];
    let mut facts = vec![format!("{} pending", m.items.len())];
    let snoozed = m.snoozed();
    if snoozed > 0 {
        facts.push(format!("{snoozed} snoozed"));
    }
    if !m.marks.is_empty() {
        facts.push(format!("{} marked", m.marks.len()));
    }
    if !m.filter.is_empty() {
        facts.push(format!("filter \"{}\": {}", m.filter, m.visible.len()));
    }
    if !m.driving.is_empty() {
        let runs: Vec<String> = m.driving.iter().map(|r| r.to_string()).collect();
        facts.push(format!("driving run {}", runs.join(", ")));
    }
    spans.push(Span::raw(facts.join(" · ")));
    f.render_widget(Line::from(spans), area);
}

fn draw_footer(m: &Model, f: &mut Frame, area: Rect, t: Theme) {
    if let Some(input) = &m.filter_input {
        let [slash, rest] =
            Layout::horizontal([Constraint::Length(1), Constraint::Min(1)]).areas(area);
        f.render_widget(Span::styled("/", t.bold()), slash);
        f.render_widget(input, rest);
        return;
    }
    if let Some(s) = &m.status {
        let style = if s.error {
            t.alert()
        } else {
            t.fg(Color::Green)
        };
        f.render_widget(Line::styled(s.text.clone(), style), area);
        return;
    }
    let keys: &[(&str, &str)] = match m.screen {
        Screen::Inbox => &[
            ("a", "approve"),
            ("e", "edit"),
            ("r", "reject"),
            ("s", "snooze"),
            ("␣", "mark"),
            ("/", "filter"),
            ("tab", "runs"),
            ("⏎", "run"),
            ("?", "help"),
            ("q", "quit"),
        ],
        Screen::Runs => &[
            ("j/k", "move"),
            ("⏎", "timeline"),
            ("tab", "inbox"),
            ("?", "help"),
            ("q", "quit"),
        ],
        Screen::Timeline { .. } => &[
            ("j/k", "scroll"),
            ("esc", "back"),
            ("tab", "runs"),
            ("?", "help"),
            ("q", "quit"),
        ],
    };
    let mut spans = Vec::new();
    for (k, what) in keys {
        spans.push(Span::styled(*k, t.bold().patch(t.fg(Color::Cyan))));
        spans.push(Span::raw(format!(" {what}  ")));
    }
    f.render_widget(Line::from(spans), area);
}

fn draw_inbox(m: &Model, f: &mut Frame, area: Rect, t: Theme) {
    let (list_area, detail_area) = if area.width >= WIDE {
        let [l, d] = Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
            .areas(area);
        (l, d)
    } else {
        let [l, d] = Layout::vertical([
            Constraint::Length(narrow_list_height(area.height)),
            Constraint::Min(0),
        ])
        .areas(area);
        (l, d)
    };
    draw_list(m, f, list_area, t);
    draw_detail(m, f, detail_area, t);
}

fn draw_list(m: &Model, f: &mut Frame, area: Rect, t: Theme) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Line::styled(" waiting for you ", t.bold()));
    if m.visible.is_empty() {
        let msg = if !m.loaded {
            vec![Line::raw("loading…")]
        } else if m.items.is_empty() {
            vec![
                Line::styled("Nothing waits for you.", t.bold()),
                Line::raw(""),
                Line::raw("Proposals, approval gates and interrupted steps show up here"),
                Line::raw("as soon as a run asks. tab: runs · q: quit"),
            ]
        } else if !m.filter.is_empty() {
            vec![Line::raw(format!(
                "No item matches \"{}\" (esc clears the filter).",
                m.filter
            ))]
        } else {
            vec![Line::raw(format!(
                "Nothing to show: {} snoozed, back when their time is up.",
                m.items.len()
            ))]
        };
        f.render_widget(
            Paragraph::new(msg).block(block).wrap(Wrap { trim: false }),
            area,
        );
        return;
    }
    let wide = area.width >= 100;
    let (wf_w, step_w) = if wide { (14, 14) } else { (10, 10) };
    let cap = list_capacity(m.size).max(1);
    let end = (m.offset + cap).min(m.visible.len());
    let rows: Vec<Row> = m.visible[m.offset..end]
        .iter()
        .map(|&i| item_row(&m.items[i], m, t))
        .collect();
    let widths = [
        Constraint::Length(1),
        Constraint::Length(9),
        Constraint::Length(5),
        Constraint::Length(wf_w),
        Constraint::Length(step_w),
        Constraint::Min(10),
        Constraint::Length(4),
        Constraint::Length(4),
    ];
    let header = Row::new([
        "", "KIND", "ID", "WORKFLOW", "STEP", "SUMMARY", "CONF", "AGE",
    ])
    .style(t.bold());
    let position = if m.visible.len() > cap {
        format!(" {}/{} ", m.cursor + 1, m.visible.len())
    } else {
        String::new()
    };
    let table = Table::new(rows, widths)
        .header(header)
        .block(block.title_bottom(Line::raw(position).right_aligned()))
        .row_highlight_style(t.selected());
    let mut state = TableState::default().with_selected(Some(m.cursor - m.offset));
    f.render_stateful_widget(table, area, &mut state);
}

fn item_row<'a>(it: &'a Item, m: &Model, t: Theme) -> Row<'a> {
    let r = &it.row;
    let mark = if m.marks.contains(&r.id) { "●" } else { " " };
    let kind_style = match r.kind.as_str() {
        "attention" => t.alert(),
        "action" | "approval" => Style::new(),
        _ => t.fg(Color::Yellow),
    };
    let mut summary = Vec::new();
    if it.stale {
        summary.push(Span::styled("STALE ", t.alert()));
    }
    summary.push(Span::raw(r.summary.as_str()));
    let conf = r
        .confidence
        .map(|c| format!("{:>3}%", (c * 100.0).round() as i64))
        .unwrap_or_default();
    Row::new(vec![
        Cell::from(Span::styled(mark, t.fg(Color::Cyan))),
        Cell::from(Span::styled(r.kind.as_str(), kind_style)),
        Cell::from(format!("{:>5}", r.id)),
        Cell::from(r.workflow.as_str()),
        Cell::from(r.step_id.as_str()),
        Cell::from(Line::from(summary)),
        Cell::from(conf),
        Cell::from(format!("{:>4}", age(m.now, r.created_at))),
    ])
}

fn draw_detail(m: &Model, f: &mut Frame, area: Rect, t: Theme) {
    let Some(sel) = m.selected() else {
        f.render_widget(Block::default().borders(Borders::ALL), area);
        return;
    };
    let title = format!(" #{} {} · {} ", sel.row.id, sel.row.kind, sel.row.step_id);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Line::styled(title, t.bold()));
    let text = match m.selected_detail() {
        Some(d) => detail_text(d, m.now, t),
        None => Text::raw("loading…"),
    };
    f.render_widget(
        Paragraph::new(text)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((m.detail_scroll, 0)),
        area,
    );
}

fn heading(s: &str, t: Theme) -> Line<'static> {
    Line::styled(s.to_string(), t.bold().patch(t.fg(Color::Cyan)))
}

/// The selected item for a person: what will happen, why, from what.
fn detail_text(d: &Detail, now: Millis, t: Theme) -> Text<'static> {
    let p = &d.record;
    let mut lines: Vec<Line<'static>> = Vec::new();
    lines.push(Line::raw(format!(
        "run {} ({}) · step {} · attempt {} · {} ago",
        p.run_id,
        p.workflow,
        p.step_id,
        p.attempt,
        age(now, p.created_at)
    )));
    for s in &d.stale {
        lines.push(Line::from(vec![
            Span::styled("STALE ", t.alert()),
            Span::raw(s.describe()),
        ]));
    }
    if !d.stale.is_empty() {
        lines.push(Line::styled(
            "approving asks for a confirmation; reject it and re-run to rebuild it",
            t.dim(),
        ));
    }
    if let Some(u) = d.snoozed_until.filter(|u| *u > now) {
        lines.push(Line::raw(format!("snoozed until {}", format_ms(u))));
    }
    if let Some(c) = p.evidence.get("confidence").and_then(Json::as_f64) {
        lines.push(Line::raw(format!(
            "confidence {}%",
            (c * 100.0).round() as i64
        )));
    }
    lines.push(Line::raw(""));
    match d.kind.as_str() {
        "approval" => gate_lines(&p.action, &mut lines, t),
        "action" | "attention" => {
            if d.kind == "attention" {
                lines.push(Line::styled(
                    "The process running this step stopped before recording its result;",
                    t.alert(),
                ));
                lines.push(Line::styled("it may or may not have happened.", t.alert()));
                lines.push(Line::styled(
                    "a: run it again · r: fail the step · (aios approve ID --done: it happened)",
                    t.dim(),
                ));
                lines.push(Line::raw(""));
            }
            lines.push(heading("ACTION", t));
            action_lines(p.final_action(), &mut lines, t);
        }
        _ => {
            lines.push(heading(&d.kind.to_uppercase(), t));
            lines.push(Line::raw(p.summary.clone()));
            json_lines(&p.action, &mut lines);
        }
    }
    if let Some(diff) = &p.diff {
        lines.push(Line::raw(""));
        lines.push(heading("EDITED", t));
        diff_lines(diff, &mut lines, t);
    }
    if let Some(agents) = p.evidence.get("agents").and_then(Json::as_array)
        && !agents.is_empty()
    {
        lines.push(Line::raw(""));
        lines.push(heading("DRAFTED BY", t));
        for a in agents {
            let step = a["step"].as_str().unwrap_or("?");
            let who = if a["heuristic"].as_bool().unwrap_or(false) {
                "offline heuristic draft, NOT an LLM".to_string()
            } else {
                format!(
                    "{} via {}",
                    a["model"].as_str().unwrap_or("?"),
                    a["provider"].as_str().unwrap_or("?")
                )
            };
            let conf = a["confidence"]
                .as_f64()
                .map(|c| format!(" · confidence {}%", (c * 100.0).round() as i64))
                .unwrap_or_default();
            let style = if a["heuristic"].as_bool().unwrap_or(false) {
                t.alert()
            } else {
                ratatui::style::Style::default()
            };
            lines.push(Line::styled(format!("{step}: {who}{conf}"), style));
            if let Some(r) = a["rationale"].as_str() {
                lines.push(Line::raw(format!("  {r}")));
            }
        }
    } else if let Some(r) = p.evidence.get("rationale").and_then(Json::as_str) {
        lines.push(Line::raw(""));
        lines.push(heading("RATIONALE", t));
        for l in r.lines() {
            lines.push(Line::raw(l.to_string()));
        }
    }
    if let Some(up) = p.evidence.get("upstream").and_then(Json::as_object)
        && !up.is_empty()
    {
        lines.push(Line::raw(""));
        lines.push(heading("BUILT FROM", t));
        for (k, v) in up {
            lines.push(Line::raw(format!(
                "{k}: {}",
                crate::connectors::truncate_line(&v.to_string(), 200)
            )));
        }
    }
    if let Some(obj) = p.evidence.as_object() {
        let others: Vec<_> = obj
            .iter()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "upstream" | "versions" | "rationale" | "confidence" | "agents"
                )
            })
            .collect();
        if !others.is_empty() {
            lines.push(Line::raw(""));
            lines.push(heading("CONTEXT", t));
            for (k, v) in others {
                let v = match v {
                    Json::String(s) => s.clone(),
                    v => v.to_string(),
                };
                lines.push(Line::raw(format!(
                    "{k}: {}",
                    crate::connectors::truncate_line(&v, 200)
                )));
            }
        }
    }
    Text::from(lines)
}

fn gate_lines(action: &Json, lines: &mut Vec<Line<'static>>, t: Theme) {
    lines.push(heading("APPROVAL GATE", t));
    lines.push(Line::styled(
        action["title"].as_str().unwrap_or("").to_string(),
        t.bold(),
    ));
    if let Some(body) = action["body"].as_str() {
        lines.push(Line::raw(""));
        for l in body.lines() {
            lines.push(Line::raw(l.to_string()));
        }
    }
    if let Some(fields) = action["fields"].as_array()
        && !fields.is_empty()
    {
        lines.push(Line::raw(""));
        lines.push(heading("FIELDS (a asks for them)", t));
        for fd in fields {
            let mut s = format!(
                "{} ({}{})",
                fd["name"].as_str().unwrap_or("?"),
                fd["type"].as_str().unwrap_or("string"),
                if fd["required"].as_bool().unwrap_or(false) && fd["default"].is_null() {
                    ", required"
                } else {
                    ""
                }
            );
            if !fd["default"].is_null() {
                s.push_str(&format!(" default {}", fd["default"]));
            }
            if let Some(d) = fd["description"].as_str() {
                s.push_str(&format!(": {d}"));
            }
            lines.push(Line::raw(s));
        }
    }
}

fn kv(k: &str, v: String, t: Theme) -> Line<'static> {
    Line::from(vec![Span::styled(format!("{k}: "), t.bold()), Span::raw(v)])
}

/// Quote an argument the way a shell would need it.
fn shell_quote(a: &str) -> String {
    if !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
    {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', r"'\''"))
    }
}

/// An action rendered for a person, by its `kind`; kinds this build does not know
/// show as pretty JSON.
fn action_lines(a: &Json, lines: &mut Vec<Line<'static>>, t: Theme) {
    let s = |k: &str| a[k].as_str().unwrap_or("").to_string();
    match a["kind"].as_str().unwrap_or("") {
        "file" => {
            let append = a["append"].as_bool().unwrap_or(false);
            let content = s("content");
            lines.push(kv(
                if append { "append to" } else { "write" },
                format!("{} ({} bytes)", s("path"), content.len()),
                t,
            ));
            lines.push(kv("in", s("root"), t));
            lines.push(Line::raw(""));
            for l in content.lines() {
                lines.push(Line::raw(l.to_string()));
            }
        }
        "http" => {
            let mut url = s("url");
            if let Some(q) = a["query"].as_object()
                && !q.is_empty()
            {
                let qs: Vec<String> = q
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                    .collect();
                url = format!("{url}?{}", qs.join("&"));
            }
            lines.push(Line::from(vec![
                Span::styled(format!("{} ", s("method")), t.bold()),
                Span::raw(url),
            ]));
            if let Some(h) = a["headers"].as_object() {
                for (k, v) in h {
                    lines.push(kv(k, v.as_str().unwrap_or("").to_string(), t));
                }
            }
            if let Some(k) = a["idempotency_key"].as_str() {
                lines.push(Line::styled(format!("Idempotency-Key: {k}"), t.dim()));
            }
            if !a["json"].is_null() {
                lines.push(Line::raw(""));
                json_lines(&a["json"], lines);
            } else if let Some(b) = a["body"].as_str() {
                lines.push(Line::raw(""));
                for l in b.lines() {
                    lines.push(Line::raw(l.to_string()));
                }
            }
            if let Some(e) = a["expect_status"].as_array()
                && !e.is_empty()
            {
                let e: Vec<String> = e.iter().map(|v| v.to_string()).collect();
                lines.push(Line::styled(
                    format!("expects status {}", e.join(", ")),
                    t.dim(),
                ));
            }
        }
        "shell" => {
            let argv: Vec<String> = a["argv"]
                .as_array()
                .map(|v| {
                    v.iter()
                        .map(|x| shell_quote(x.as_str().unwrap_or("")))
                        .collect()
                })
                .unwrap_or_default();
            lines.push(Line::from(vec![
                Span::styled("$ ", t.bold()),
                Span::raw(argv.join(" ")),
            ]));
            lines.push(kv("in", s("cwd"), t));
            if let Some(env) = a["env"].as_object() {
                for (k, v) in env {
                    lines.push(kv("env", format!("{k}={}", v.as_str().unwrap_or("")), t));
                }
            }
        }
        "email" => {
            for h in ["from", "to", "cc", "bcc", "reply_to", "subject"] {
                let v = match &a[h] {
                    Json::Null => continue,
                    Json::String(s) => s.clone(),
                    Json::Array(v) => v
                        .iter()
                        .map(|x| x.as_str().map(str::to_string).unwrap_or(x.to_string()))
                        .collect::<Vec<_>>()
                        .join(", "),
                    v => v.to_string(),
                };
                let name = match h {
                    "reply_to" => "Reply-To".to_string(),
                    h => format!("{}{}", h[..1].to_uppercase(), &h[1..]),
                };
                lines.push(kv(&name, v, t));
            }
            lines.push(Line::raw(""));
            let body = a["body"].as_str().or(a["text"].as_str()).unwrap_or("");
            for l in body.lines() {
                lines.push(Line::raw(l.to_string()));
            }
        }
        _ => json_lines(a, lines),
    }
}

fn json_lines(v: &Json, lines: &mut Vec<Line<'static>>) {
    let pretty = serde_json::to_string_pretty(v).unwrap_or_default();
    for l in pretty.lines() {
        lines.push(Line::raw(l.to_string()));
    }
}

fn diff_lines(diff: &str, lines: &mut Vec<Line<'static>>, t: Theme) {
    for l in diff.lines() {
        let style = if l.starts_with("+++") || l.starts_with("---") {
            t.bold()
        } else if l.starts_with('+') {
            t.fg(Color::Green)
        } else if l.starts_with('-') {
            t.fg(Color::Red)
        } else if l.starts_with("@@") {
            t.fg(Color::Cyan)
        } else {
            Style::new()
        };
        lines.push(Line::styled(l.to_string(), style));
    }
}

fn status_style(s: RunStatus, t: Theme) -> Style {
    match s {
        RunStatus::Succeeded => t.fg(Color::Green),
        RunStatus::Failed => t.alert(),
        RunStatus::Waiting => t.fg(Color::Yellow),
        RunStatus::Running => t.fg(Color::Cyan),
        RunStatus::Cancelled => t.dim(),
    }
}

fn bar(done: i64, total: i64, width: usize) -> String {
    let filled = if total > 0 {
        ((done.max(0) as usize) * width / total as usize).min(width)
    } else {
        0
    };
    format!("{}{}", "█".repeat(filled), "░".repeat(width - filled))
}

fn draw_runs(m: &Model, f: &mut Frame, area: Rect, t: Theme) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Line::styled(" runs ", t.bold()));
    if m.runs.is_empty() {
        f.render_widget(
            Paragraph::new("No runs yet. Start one with: aios run FILE").block(block),
            area,
        );
        return;
    }
    let inner = area.height.saturating_sub(3) as usize;
    let offset = m.runs_cursor.saturating_sub(inner.saturating_sub(1));
    let rows: Vec<Row> = m
        .runs
        .iter()
        .skip(offset)
        .take(inner.max(1))
        .map(|r| {
            let driving = if m.driving.contains(&r.id) {
                "⟳"
            } else {
                " "
            };
            Row::new(vec![
                Cell::from(Span::styled(driving, t.fg(Color::Cyan))),
                Cell::from(format!("{:>5}", r.id)),
                Cell::from(r.workflow.clone()),
                Cell::from(Span::styled(r.status.as_str(), status_style(r.status, t))),
                Cell::from(format!(
                    "{} {}/{}",
                    bar(r.steps_done, r.steps_total, 10),
                    r.steps_done,
                    r.steps_total
                )),
                Cell::from(format!("{:>4}", age(m.now, r.updated_at))),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(1),
            Constraint::Length(5),
            Constraint::Min(12),
            Constraint::Length(9),
            Constraint::Length(18),
            Constraint::Length(7),
        ],
    )
    .header(Row::new(["", "RUN", "WORKFLOW", "STATUS", "STEPS", "UPDATED"]).style(t.bold()))
    .block(block)
    .row_highlight_style(t.selected());
    let mut state = TableState::default().with_selected(Some(m.runs_cursor - offset));
    f.render_stateful_widget(table, area, &mut state);
}

fn step_symbol(s: StepStatus, t: Theme) -> Span<'static> {
    match s {
        StepStatus::Succeeded => Span::styled("✓", t.fg(Color::Green)),
        StepStatus::Failed => Span::styled("✗", t.alert()),
        StepStatus::Running => Span::styled("▸", t.fg(Color::Cyan)),
        StepStatus::Waiting => Span::styled("?", t.fg(Color::Yellow)),
        StepStatus::NeedsAttention => Span::styled("!", t.alert()),
        StepStatus::Skipped => Span::styled("-", t.dim()),
        StepStatus::Pending => Span::styled("·", t.dim()),
    }
}

fn timeline_text(tl: &Timeline, driving: bool, t: Theme) -> Text<'static> {
    let mut lines = vec![Line::from(vec![
        Span::raw(format!("run {} · {} · ", tl.run.id, tl.run.workflow)),
        Span::styled(tl.run.status.as_str(), status_style(tl.run.status, t)),
        Span::raw(format!(
            " · {}/{} steps done{}",
            tl.run.steps_done,
            tl.run.steps_total,
            if driving {
                " · driven by this process"
            } else {
                ""
            }
        )),
    ])];
    if let Some(e) = &tl.error {
        lines.push(Line::styled(e.clone(), t.alert()));
    }
    lines.push(Line::raw(""));
    lines.push(heading("STEPS", t));
    for s in &tl.steps {
        let mut spans = vec![
            step_symbol(s.status, t),
            Span::raw(format!(" {} ({}) {}", s.step_id, s.kind, s.status)),
        ];
        if s.attempts > 1 {
            spans.push(Span::raw(format!(" · {} attempts", s.attempts)));
        }
        if let Some(e) = &s.error {
            spans.push(Span::styled(
                format!(" · {}", crate::connectors::truncate_line(e, 80)),
                t.dim(),
            ));
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::raw(""));
    lines.push(heading("TIMELINE", t));
    for (at, what) in &tl.events {
        lines.push(Line::from(vec![
            Span::styled(format!("{} ", format_ms(*at)), t.dim()),
            Span::raw(what.clone()),
        ]));
    }
    Text::from(lines)
}

fn draw_timeline(m: &Model, f: &mut Frame, area: Rect, t: Theme, run: i64) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Line::styled(format!(" run {run} "), t.bold()));
    let text = match m.timeline.as_ref().filter(|tl| tl.run.id == run) {
        Some(tl) => timeline_text(tl, m.driving.contains(&run), t),
        None => Text::raw("loading…"),
    };
    f.render_widget(
        Paragraph::new(text)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((m.timeline_scroll, 0)),
        area,
    );
}

/// A rectangle of at most `w` x `h` centred in `area`.
fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn popup(f: &mut Frame, area: Rect, title: String, t: Theme) -> Rect {
    f.render_widget(Clear, area);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Line::styled(title, t.bold()));
    let inner = block.inner(area);
    f.render_widget(block, area);
    inner
}

fn ids_label(ids: &[i64]) -> String {
    match ids {
        [one] => format!("#{one}"),
        _ => format!("{} items", ids.len()),
    }
}

/// A prompt: a few lines of text, an input, an optional error, a hint line.
struct Prompt<'a> {
    title: String,
    about: &'a str,
    input: &'a ratatui_textarea::TextArea<'static>,
    input_rows: u16,
    error: &'a Option<String>,
    hint: &'a str,
}

fn prompt(f: &mut Frame, area: Rect, p: Prompt<'_>, t: Theme) {
    let Prompt {
        title,
        about,
        input,
        input_rows,
        error,
        hint,
    } = p;
    let about = vec![Line::raw(about.to_string())];
    // popup borders + text + boxed input + error + hint
    let h = 2 + about.len() as u16 + input_rows + 2 + u16::from(error.is_some()) + 1;
    let inner = popup(f, centered(area, 70, h), title, t);
    let [about_a, input_a, err_a, hint_a] = Layout::vertical([
        Constraint::Length(about.len() as u16),
        Constraint::Length(input_rows + 2),
        Constraint::Length(u16::from(error.is_some())),
        Constraint::Length(1),
    ])
    .areas(inner);
    f.render_widget(Paragraph::new(about).wrap(Wrap { trim: false }), about_a);
    let boxed = Block::default().borders(Borders::ALL);
    let input_inner = boxed.inner(input_a);
    f.render_widget(boxed, input_a);
    f.render_widget(input, input_inner);
    if let Some(e) = error {
        f.render_widget(Line::styled(e.clone(), t.alert()), err_a);
    }
    f.render_widget(Line::styled(hint.to_string(), t.dim()), hint_a);
}

const HELP: &[(&str, &str)] = &[
    ("j k ↑ ↓", "move; PgUp PgDn ctrl-u ctrl-d g G: jump"),
    ("J K", "scroll the detail pane"),
    ("a", "approve (the marked items, else the selected one)"),
    (
        "e",
        "edit the action ($EDITOR, else inline), see the diff, approve",
    ),
    ("r", "reject, with a reason"),
    ("s", "snooze: hide until a time (30m, 4h, 2d)"),
    ("space", "mark / unmark; esc unmarks all"),
    ("/", "filter by kind, workflow, step, summary or #id"),
    ("tab", "switch between the inbox and the runs"),
    ("enter", "open the run's timeline (esc: back)"),
    ("?", "this help"),
    ("q  ctrl-c", "quit"),
];

fn draw_overlay(m: &Model, f: &mut Frame, area: Rect, t: Theme) {
    match &m.overlay {
        Overlay::None => {}
        Overlay::Help => {
            let inner = popup(
                f,
                centered(area, 78, HELP.len() as u16 + 6),
                " keys ".into(),
                t,
            );
            let mut lines: Vec<Line> = HELP
                .iter()
                .map(|(k, what)| {
                    Line::from(vec![
                        Span::styled(format!("{k:>10}  "), t.bold().patch(t.fg(Color::Cyan))),
                        Span::raw(*what),
                    ])
                })
                .collect();
            lines.push(Line::raw(""));
            lines.push(Line::styled(
                "STALE items were built from something that changed since; approving asks twice.",
                t.dim(),
            ));
            lines.push(Line::styled("any key closes this help", t.dim()));
            f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
        }
        Overlay::Reject { ids, input, error } => prompt(
            f,
            area,
            Prompt {
                title: format!(" reject {} ", ids_label(ids)),
                about: "Why? The reason is kept with the decision.",
                input,
                input_rows: 1,
                error,
                hint: "enter reject · esc cancel",
            },
            t,
        ),
        Overlay::Snooze { ids, input, error } => prompt(
            f,
            area,
            Prompt {
                title: format!(" snooze {} ", ids_label(ids)),
                about: "Hide until how long from now? It stays pending meanwhile.",
                input,
                input_rows: 1,
                error,
                hint: "enter snooze · esc cancel",
            },
            t,
        ),
        Overlay::Fields { id, input, error } => {
            let rows = (input.lines().len() as u16).clamp(1, 8);
            prompt(
                f,
                area,
                Prompt {
                    title: format!(" approve gate #{id} "),
                    about: "Fill in the fields, one NAME=VALUE per line.",
                    input,
                    input_rows: rows,
                    error,
                    hint: "ctrl-s approve · esc cancel",
                },
                t,
            )
        }
        Overlay::Editor { id, input, error } => {
            let r = centered(
                area,
                area.width.saturating_sub(4),
                area.height.saturating_sub(2),
            );
            let inner = popup(f, r, format!(" edit the action of #{id} (JSON) "), t);
            let [err_a, input_a, hint_a] = Layout::vertical([
                Constraint::Length(u16::from(error.is_some()) * 2),
                Constraint::Min(1),
                Constraint::Length(1),
            ])
            .areas(inner);
            if let Some(e) = error {
                f.render_widget(
                    Paragraph::new(Line::styled(e.clone(), t.alert())).wrap(Wrap { trim: false }),
                    err_a,
                );
            }
            f.render_widget(input, input_a);
            f.render_widget(
                Line::styled("ctrl-s check and review the diff · esc cancel", t.dim()),
                hint_a,
            );
        }
        Overlay::ConfirmEdit { id, diff, .. } => {
            let r = centered(
                area,
                area.width.saturating_sub(4),
                area.height.saturating_sub(2),
            );
            let inner = popup(f, r, format!(" approve #{id} with this edit? "), t);
            let [d, hint_a] =
                Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
            let mut lines = Vec::new();
            diff_lines(diff, &mut lines, t);
            f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), d);
            f.render_widget(
                Line::styled(
                    "y approve with the edit · e edit again · n/esc cancel",
                    t.dim(),
                ),
                hint_a,
            );
        }
        Overlay::ConfirmStale { approval, stale } => {
            let h = stale.len().min(10) as u16 + 6;
            let inner = popup(
                f,
                centered(area, 74, h),
                format!(" approve {} — STALE ", ids_label(&approval.ids)),
                t,
            );
            let mut lines = vec![Line::styled(
                "Built from something that changed since it was proposed:",
                t.alert(),
            )];
            for s in stale.iter().take(10) {
                lines.push(Line::raw(s.clone()));
            }
            lines.push(Line::raw(""));
            lines.push(Line::styled(
                "y approve anyway · n/esc cancel (r rejects it; a re-run rebuilds it)",
                t.dim(),
            ));
            f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
        }
        Overlay::ConfirmQuit => {
            let runs: Vec<String> = m.driving.iter().map(|r| r.to_string()).collect();
            let inner = popup(f, centered(area, 70, 7), " quit? ".into(), t);
            let lines = vec![
                Line::raw(format!(
                    "This process still drives run {}.",
                    runs.join(", ")
                )),
                Line::raw("Quitting stops it where it is; `aios resume RUN` continues it."),
                Line::raw(""),
                Line::styled("y quit now · n/esc stay", t.dim()),
            ];
            f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
        }
    }
}

#[cfg(test)]
mod tests;
