//! The detail pane: the selected item for a person (what will happen, why, from
//! what): its run and step, staleness, the gate or the action, the edit, who drafted
//! it and the evidence it was built from.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use serde_json::Value as Json;

use super::action::{action_lines, diff_lines, json_lines};
use super::{Theme, heading};
use crate::clock::{Millis, age, format_ms};
use crate::tui::model::{Detail, Model};

pub(super) fn draw_detail(m: &Model, f: &mut Frame, area: Rect, t: Theme) {
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
