//! The inbox list: one row per visible item (mark, kind, id, run, workflow, step, summary,
//! confidence, age), only the rows on screen, or a line saying why it is empty.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState, Wrap};

use super::{Theme, list_capacity};
use crate::clock::age;
use crate::tui::model::{Item, Model};

pub(super) fn draw_list(m: &Model, f: &mut Frame, area: Rect, t: Theme) {
    let title = if m.show_snoozed {
        " snoozed "
    } else {
        " waiting for you "
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Line::styled(title, t.bold()));
    if m.visible.is_empty() {
        let msg = if !m.loaded {
            vec![Line::raw("loading…")]
        } else if m.show_snoozed {
            vec![Line::raw("Nothing is snoozed. z: back to the inbox.")]
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
                "Nothing to show: {} snoozed, back when their time is up (z: see them).",
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
    // Narrow (under 60 columns, e.g. 40): mark, ID, RUN, KIND, SUMMARY, AGE only, so
    // the ID column never disappears.
    let narrow = area.width < 60;
    let (wf_w, step_w) = if wide { (14, 14) } else { (10, 10) };
    let cap = list_capacity(m.size).max(1);
    let end = (m.offset + cap).min(m.visible.len());
    let rows: Vec<Row> = m.visible[m.offset..end]
        .iter()
        .map(|&i| item_row(&m.items[i], m, t, narrow))
        .collect();
    let (widths, header) = if narrow {
        (
            vec![
                Constraint::Length(1),
                Constraint::Length(5),
                Constraint::Length(5),
                Constraint::Length(9),
                Constraint::Min(6),
                Constraint::Length(4),
            ],
            vec!["", "ID", "RUN", "KIND", "SUMMARY", "AGE"],
        )
    } else {
        (
            vec![
                Constraint::Length(1),
                Constraint::Length(9),
                Constraint::Length(5),
                Constraint::Length(5),
                Constraint::Length(wf_w),
                Constraint::Length(step_w),
                Constraint::Min(10),
                Constraint::Length(4),
                Constraint::Length(4),
            ],
            vec![
                "", "KIND", "ID", "RUN", "WORKFLOW", "STEP", "SUMMARY", "CONF", "AGE",
            ],
        )
    };
    let header = Row::new(header).style(t.bold());
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

fn item_row<'a>(it: &'a Item, m: &Model, t: Theme, narrow: bool) -> Row<'a> {
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
    if let Some(until) = r.snoozed_until.filter(|u| *u > m.now) {
        summary.push(Span::styled(
            format!("back in {} ", age(until, m.now)),
            t.dim(),
        ));
    }
    summary.push(Span::raw(r.summary.as_str()));
    let conf = r
        .confidence
        .map(|c| format!("{:>3}%", (c * 100.0).round() as i64))
        .unwrap_or_default();
    let mark = Cell::from(Span::styled(mark, t.fg(Color::Cyan)));
    let kind = Cell::from(Span::styled(r.kind.as_str(), kind_style));
    let id = Cell::from(format!("{:>5}", r.id));
    let age = Cell::from(format!("{:>4}", age(m.now, r.created_at)));
    if narrow {
        return Row::new(vec![
            mark,
            id,
            Cell::from(run_cell(r)),
            kind,
            Cell::from(Line::from(summary)),
            age,
        ]);
    }
    Row::new(vec![
        mark,
        kind,
        id,
        Cell::from(run_cell(r)),
        Cell::from(r.workflow.as_str()),
        Cell::from(r.step_id.as_str()),
        Cell::from(Line::from(summary)),
        Cell::from(conf),
        age,
    ])
}

/// The RUN column: the run's id, `-` for a notice (it belongs to a schedule), as in
/// `aios inbox list`.
fn run_cell(r: &crate::journal::InboxRow) -> String {
    if r.kind == "notice" {
        format!("{:>5}", "-")
    } else {
        format!("{:>5}", r.run_id)
    }
}
