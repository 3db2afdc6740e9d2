//! The popups drawn over a screen: help, the reject / snooze / fields prompts, the
//! inline JSON editor and the confirmations (edit diff, stale, quit).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::Theme;
use super::action::diff_lines;
use crate::tui::model::{Model, Overlay};

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
        _ => crate::text::count(ids.len(), "item"),
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

pub(super) fn draw_overlay(m: &Model, f: &mut Frame, area: Rect, t: Theme) {
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
