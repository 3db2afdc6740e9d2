//! The detail pane: the selected item for a person (what will happen, why, from
//! what): its run and step, staleness, the gate or the action, the edit, who drafted
//! it and the evidence it was built from.

use super::action::{description_lines, diff_lines, json_lines};
use super::{Theme, heading};
use crate::clock::{Millis, age, format_ms};
use crate::inbox::view::{Shown, Subject};
use crate::journal::{BudgetStop, Gate, Rescue};
use crate::tui::model::{Detail, Model};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

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

/// The selected item for a person: what will happen, why, from what. Drawn from the
/// item's [`ItemView`] (what `aios inbox show` prints).
fn detail_text(d: &Detail, now: Millis, t: Theme) -> Text<'static> {
    let p = &d.record;
    let ev = &d.view.evidence;
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
    // Who or what decided it (the operator, `policy:NAME`, `aios (timeout)`), or the
    // policy that will.
    if let (Some(d), Some(by)) = (p.decision, &p.decided_by) {
        lines.push(Line::from(vec![
            Span::styled("decided ", t.bold()),
            Span::raw(format!(
                "{d} by {by}{}{}",
                p.decided_at
                    .map(|at| format!(" at {}", format_ms(at)))
                    .unwrap_or_default(),
                p.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            )),
        ]));
    } else if let Some(note) = &ev.policy {
        lines.push(Line::raw(crate::inbox::view::policy_line(note, p)));
    }
    if let Some(c) = ev.confidence {
        lines.push(Line::raw(format!(
            "confidence {}%",
            (c * 100.0).round() as i64
        )));
    }
    lines.push(Line::raw(""));
    match &d.view.subject {
        Subject::Gate(g) => gate_lines(g, &mut lines, t),
        Subject::Action {
            interrupted,
            action,
        } => {
            if *interrupted {
                lines.push(Line::styled(d.view.attention_line(), t.alert()));
                lines.push(Line::raw(""));
            }
            lines.push(heading("ACTION", t));
            match action {
                Shown::Described(desc) => description_lines(desc, &mut lines, t),
                Shown::Unreadable(j) => json_lines(j, &mut lines),
            }
        }
        Subject::Budget(b) => {
            lines.push(heading("BUDGET STOP", t));
            lines.push(Line::styled(BudgetStop::HEADLINE, t.bold()));
            for (label, value) in b.lines() {
                lines.push(Line::raw(format!("{label:<10} {value}")));
            }
        }
        Subject::Rescue(r) => rescue_lines(r, &mut lines, t),
        Subject::Failure(f) => {
            lines.push(heading("FAILURE", t));
            lines.push(Line::styled(crate::journal::Failure::HEADLINE, t.bold()));
            for (label, value) in f.lines() {
                lines.push(Line::raw(format!("{label:<10} {value}")));
            }
        }
        Subject::Notice => {
            lines.push(heading(&p.kind.as_str().to_uppercase(), t));
            lines.push(Line::raw(p.summary.clone()));
            json_lines(&p.action, &mut lines);
        }
    }
    if let Some(diff) = &p.diff {
        lines.push(Line::raw(""));
        lines.push(heading("EDITED", t));
        diff_lines(diff, &mut lines, t);
    }
    if !ev.agents.is_empty() {
        lines.push(Line::raw(""));
        lines.push(heading("DRAFTED BY", t));
        for a in &ev.agents {
            let conf = a
                .confidence
                .map(|c| format!(" · confidence {}%", (c * 100.0).round() as i64))
                .unwrap_or_default();
            let style = if a.is_heuristic() {
                t.alert()
            } else {
                ratatui::style::Style::default()
            };
            lines.push(Line::styled(
                format!("{}: {}{conf}", a.step, a.who()),
                style,
            ));
            if let Some(r) = &a.rationale {
                lines.push(Line::raw(format!("  {r}")));
            }
        }
    } else if let Some(r) = &ev.rationale {
        lines.push(Line::raw(""));
        lines.push(heading("RATIONALE", t));
        for l in r.lines() {
            lines.push(Line::raw(l.to_string()));
        }
    }
    if let Some(up) = &ev.upstream
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
    let choices = crate::inbox::choices::of(&d.view);
    if !choices.is_empty() {
        lines.push(Line::raw(""));
        lines.push(heading("CHOICES", t));
        for c in &choices {
            lines.push(Line::from(vec![
                Span::styled(format!("{}  ", c.key), t.bold()),
                Span::raw(c.label.clone()),
            ]));
        }
    }
    let context = ev.context();
    if !context.is_empty() {
        lines.push(Line::raw(""));
        lines.push(heading("CONTEXT", t));
        for (k, v) in context {
            lines.push(Line::raw(format!(
                "{k}: {}",
                crate::connectors::truncate_line(&v, 200)
            )));
        }
    }
    Text::from(lines)
}

/// A rescue: what each model replied and why it failed, what a reply must be, and
/// the offline draft (the keys that answer it are its CHOICES).
fn rescue_lines(r: &Rescue, lines: &mut Vec<Line<'static>>, t: Theme) {
    lines.push(heading("RESCUE", t));
    lines.push(Line::styled(Rescue::HEADLINE, t.alert()));
    if !r.replies.is_empty() {
        lines.push(Line::raw(""));
        lines.push(heading("REPLIES", t));
    }
    for x in &r.replies {
        lines.push(Line::styled(x.headline(), t.bold()));
        if let Some(text) = &x.response {
            for l in text.lines() {
                lines.push(Line::raw(format!("  {l}")));
            }
        }
        if let Some(e) = &x.error {
            lines.push(Line::styled(format!("  {e}"), t.alert()));
        }
    }
    lines.push(Line::raw(""));
    lines.push(heading(&format!("{} (e)", r.expects().to_uppercase()), t));
    if let Some(schema) = &r.request.schema {
        json_lines(schema, lines);
    }
    lines.push(Line::raw(""));
    match r.offline_text() {
        Some(d) => {
            lines.push(heading("OFFLINE DRAFT (o)", t));
            for l in d.lines() {
                lines.push(Line::raw(l.to_string()));
            }
        }
        None => lines.push(Line::styled(
            "no offline draft fits this step's output",
            t.dim(),
        )),
    }
}

fn gate_lines(g: &Gate, lines: &mut Vec<Line<'static>>, t: Theme) {
    lines.push(heading("APPROVAL GATE", t));
    lines.push(Line::styled(g.title.clone(), t.bold()));
    if let Some(body) = &g.body {
        lines.push(Line::raw(""));
        for l in body.lines() {
            lines.push(Line::raw(l.to_string()));
        }
    }
    if !g.fields.is_empty() {
        lines.push(Line::raw(""));
        lines.push(heading("FIELDS (a asks for them in a form)", t));
        for f in &g.fields {
            lines.push(Line::raw(f.describe()));
        }
    }
}
