//! The runs screen (a table of runs with their progress) and a run's timeline (its
//! inputs, steps and journaled events).

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState, Wrap};

use super::{Theme, heading};
use crate::clock::{age, format_ms};
use crate::journal::{RunStatus, StepStatus};
use crate::tui::model::{Model, Timeline};

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

pub(super) fn draw_runs(m: &Model, f: &mut Frame, area: Rect, t: Theme) {
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
    // Narrow (40 columns): no bar and no age, so the RUN column always shows.
    let narrow = area.width < 60;
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
            let steps = if narrow {
                format!("{}/{}", r.steps_done, r.steps_total)
            } else {
                format!(
                    "{} {}/{}",
                    bar(r.steps_done, r.steps_total, 10),
                    r.steps_done,
                    r.steps_total
                )
            };
            let mut cells = vec![
                Cell::from(Span::styled(driving, t.fg(Color::Cyan))),
                Cell::from(format!("{:>5}", r.id)),
                Cell::from(r.workflow.clone()),
                Cell::from(Span::styled(r.status.as_str(), status_style(r.status, t))),
                Cell::from(steps),
            ];
            if !narrow {
                cells.push(Cell::from(format!("{:>4}", age(m.now, r.updated_at))));
            }
            Row::new(cells)
        })
        .collect();
    let (widths, header) = if narrow {
        (
            vec![
                Constraint::Length(1),
                Constraint::Length(5),
                Constraint::Min(6),
                Constraint::Length(9),
                Constraint::Length(5),
            ],
            vec!["", "RUN", "WORKFLOW", "STATUS", "STEPS"],
        )
    } else {
        (
            vec![
                Constraint::Length(1),
                Constraint::Length(5),
                Constraint::Min(12),
                Constraint::Length(9),
                Constraint::Length(18),
                Constraint::Length(7),
            ],
            vec!["", "RUN", "WORKFLOW", "STATUS", "STEPS", "UPDATED"],
        )
    };
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(t.bold()))
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
            " · {}/{} {} done{}",
            tl.run.steps_done,
            tl.run.steps_total,
            crate::text::noun(tl.run.steps_total, "step", "steps"),
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
    if !tl.inputs.is_empty() {
        lines.push(Line::raw(""));
        lines.push(heading("INPUTS", t));
        for (k, v) in &tl.inputs {
            let style = if v == "secret" {
                t.dim()
            } else {
                ratatui::style::Style::new()
            };
            lines.push(Line::from(vec![
                Span::raw(format!("{k} = ")),
                Span::styled(v.clone(), style),
            ]));
        }
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

pub(super) fn draw_timeline(m: &Model, f: &mut Frame, area: Rect, t: Theme, run: i64) {
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
