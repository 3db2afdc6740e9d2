//! An action drawn for a person from its connector's [`Description`] (the parts
//! `aios inbox show` prints), JSON, and a unified diff with its lines coloured.

use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use serde_json::Value as Json;

use super::Theme;
use crate::connectors::{Description, FieldStyle};

fn kv(k: &str, v: String, t: Theme) -> Line<'static> {
    Line::from(vec![Span::styled(format!("{k}: "), t.bold()), Span::raw(v)])
}

/// The parts of a description: the headline (its verb bold), fields, the body
/// under its label, attachments, notes (dimmed).
pub(super) fn description_lines(d: &Description, lines: &mut Vec<Line<'static>>, t: Theme) {
    lines.push(Line::from(vec![
        Span::styled(d.verb.clone(), t.bold()),
        Span::raw(format!(" {}", d.object)),
    ]));
    for f in &d.fields {
        match f.style {
            FieldStyle::Word | FieldStyle::Header => lines.push(kv(&f.label, f.value.clone(), t)),
            FieldStyle::Meta => {
                lines.push(Line::styled(format!("{}: {}", f.label, f.value), t.dim()))
            }
        }
    }
    if let Some(b) = &d.body {
        // The label (dimmed) sets the body apart from the fields.
        lines.push(Line::styled(format!("{}:", b.label), t.dim()));
        for l in b.text.lines() {
            lines.push(Line::raw(l.to_string()));
        }
    }
    for a in &d.attachments {
        lines.push(Line::raw(a.line()));
    }
    for n in &d.notes {
        lines.push(Line::styled(n.clone(), t.dim()));
    }
}

pub(super) fn json_lines(v: &Json, lines: &mut Vec<Line<'static>>) {
    let pretty = serde_json::to_string_pretty(v).unwrap_or_default();
    for l in pretty.lines() {
        lines.push(Line::raw(l.to_string()));
    }
}

pub(super) fn diff_lines(diff: &str, lines: &mut Vec<Line<'static>>, t: Theme) {
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
