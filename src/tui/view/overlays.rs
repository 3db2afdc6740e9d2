//! The popups drawn over a screen: help, the reject / snooze / cancel-run prompts, a choice's form
//! (a gate's fields, a budget stop's raise), the inline JSON editor and the
//! confirmations (bulk approve, edit diff, stale, quit).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::Theme;
use super::action::diff_lines;
use crate::tui::model::{Form, FormField, Model, Overlay};

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

const HELP_WIDTH: u16 = 78;

/// How far the help can scroll on a screen of `size` (its lines beyond the rows it
/// gets), for `update` to stop there.
pub fn help_max_scroll(size: (u16, u16)) -> u16 {
    let total = help_lines(size.0, Theme { color: false }).len() as u16;
    let visible = (total + 2).min(size.1).saturating_sub(2);
    total.saturating_sub(visible)
}

/// The help's lines for a screen `width` wide: one per key from 60 columns; below,
/// the key on its own line and its text wrapped under it, so nothing is cut.
fn help_lines(width: u16, t: Theme) -> Vec<Line<'static>> {
    let inner = width.min(HELP_WIDTH).saturating_sub(2) as usize;
    let key_style = t.bold().patch(t.fg(Color::Cyan));
    let mut lines = Vec::new();
    let notes = [
        "STALE: built from something that changed since; approving asks twice.",
        "any key but j/k closes this help",
    ];
    if inner >= 58 {
        for (k, what) in HELP {
            lines.push(Line::from(vec![
                Span::styled(format!("{k:>10}  "), key_style),
                Span::raw(*what),
            ]));
        }
        lines.push(Line::raw(""));
        for n in notes {
            lines.push(Line::styled(n, t.dim()));
        }
        return lines;
    }
    for (k, what) in HELP {
        if !k.is_empty() {
            lines.push(Line::styled(k.to_string(), key_style));
        }
        for l in wrap(what, inner.saturating_sub(2).max(8)) {
            lines.push(Line::raw(format!("  {l}")));
        }
    }
    lines.push(Line::raw(""));
    for n in notes {
        for l in wrap(n, inner.max(8)) {
            lines.push(Line::styled(l, t.dim()));
        }
    }
    lines
}

/// `text` in lines of at most `width` characters, broken at spaces (a longer word is
/// split).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let mut word = word.to_string();
        while word.chars().count() > width {
            if !line.is_empty() {
                out.push(std::mem::take(&mut line));
            }
            let head: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            out.push(head);
        }
        if line.is_empty() {
            line = word;
        } else if line.chars().count() + 1 + word.chars().count() <= width {
            line.push(' ');
            line.push_str(&word);
        } else {
            out.push(std::mem::replace(&mut line, word));
        }
    }
    if !line.is_empty() {
        out.push(line);
    }
    out
}

const HELP: &[(&str, &str)] = &[
    ("j k ↑ ↓", "move; PgUp PgDn ctrl-u ctrl-d g G: jump"),
    ("J K", "scroll the detail pane"),
    ("a", "approve the marked items, else the selected one"),
    (
        "",
        "(a gate asks for its fields, a budget stop for a raise)",
    ),
    ("d", "interrupted step: it happened, mark it done"),
    ("w", "budget stop: switch the step to its next model"),
    (
        "e",
        "edit the action ($EDITOR, else inline), see the diff, approve",
    ),
    (
        "o",
        "rescue: use the agent step's offline draft (e: write its reply)",
    ),
    ("r", "reject, with a reason (or fail the step)"),
    ("s", "snooze: hide until a time (30m, 4h, 2d)"),
    (
        "z",
        "the snoozed items (u: back in the inbox now); z again: the inbox",
    ),
    ("space", "mark / unmark; esc unmarks all"),
    ("/", "filter by kind, workflow, step, summary or #id"),
    (
        "tab",
        "the next tab: inbox, runs, overview (the charts of aios stats)",
    ),
    ("enter", "open the run's timeline (esc: back)"),
    ("", "runs and timeline:"),
    ("r", "resume the run (a failed one: retry its failed steps)"),
    ("c", "cancel the run, with a reason"),
    ("o", "open the item the run waits on"),
    ("", "a failed run with a failure item in the inbox:"),
    ("r", "retry the failed step and continue (aios approve ID)"),
    ("p", "skip the failed step, when its policy allows (--skip)"),
    ("u", "undo: propose the compensations (--compensate)"),
    ("x", "abandon the run, with a reason (aios reject ID)"),
    ("", "overview:"),
    ("j k", "select an open circuit breaker"),
    ("x", "close it by hand (aios breakers close TARGET)"),
    ("?", "this help"),
    ("q  ctrl-c", "quit"),
];

pub(super) fn draw_overlay(m: &Model, f: &mut Frame, area: Rect, t: Theme) {
    match &m.overlay {
        Overlay::None => {}
        Overlay::Help { scroll } => {
            let lines = help_lines(area.width, t);
            let total = lines.len() as u16;
            let h = (total + 2).min(area.height);
            let visible = h.saturating_sub(2);
            let scroll = (*scroll).min(total.saturating_sub(visible));
            let more = if visible < total {
                let range = format!("{}-{}/{total}", scroll + 1, (scroll + visible).min(total));
                if area.width >= 60 {
                    format!(" {range} · j/k scroll · other keys close ")
                } else {
                    format!(" {range} · j/k ")
                }
            } else {
                String::new()
            };
            let r = centered(area, HELP_WIDTH, h);
            f.render_widget(Clear, r);
            let block = Block::default()
                .borders(Borders::ALL)
                .title(Line::styled(" keys ", t.bold()))
                .title_bottom(Line::styled(more, t.dim()).right_aligned());
            let inner = block.inner(r);
            f.render_widget(block, r);
            // Wrapped here, not by the Paragraph: the scroll counts these lines.
            f.render_widget(Paragraph::new(lines).scroll((scroll, 0)), inner);
        }
        Overlay::Reject {
            ids,
            verb,
            input,
            error,
        } => prompt(
            f,
            area,
            Prompt {
                title: format!(" {verb} {} ", ids_label(ids)),
                about: "Why? The reason is kept with the decision.",
                input,
                input_rows: 1,
                error,
                hint: &format!("enter {verb} · esc cancel"),
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
        Overlay::Cancel { run, input } => prompt(
            f,
            area,
            Prompt {
                title: format!(" cancel run {run} "),
                about: "The run stops for good. Why? The reason is kept in the journal.",
                input,
                input_rows: 1,
                error: &None,
                hint: "enter cancel the run · esc keep it",
            },
            t,
        ),
        Overlay::Form(form) => draw_form(f, area, form, t),
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
                    if hint_a.width < 56 {
                        "y approve · e edit · esc cancel"
                    } else {
                        "y approve with the edit · e edit again · n/esc cancel"
                    },
                    t.dim(),
                ),
                hint_a,
            );
        }
        Overlay::ConfirmBulk { approval, kinds } => {
            let inner = popup(
                f,
                centered(area, 60, 7),
                format!(" approve {}? ", ids_label(&approval.ids)),
                t,
            );
            let what: Vec<String> = kinds.iter().map(|(k, n)| format!("{k}: {n}")).collect();
            let lines = vec![
                Line::raw(format!(
                    "Approve {} at once: {}.",
                    crate::text::count(approval.ids.len(), "item"),
                    what.join(", ")
                )),
                Line::raw("Each commits exactly what it proposes."),
                Line::raw(""),
                Line::styled("y approve them all · n/esc cancel", t.dim()),
            ];
            f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
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
            let resume: Vec<String> = m
                .driving
                .iter()
                .map(|r| format!("`aios resume {r}`"))
                .collect();
            let inner = popup(f, centered(area, 70, 8), " quit? ".into(), t);
            let lines = vec![
                Line::raw(format!(
                    "This process still drives {} {}.",
                    crate::text::noun(runs.len(), "run", "runs"),
                    runs.join(", ")
                )),
                Line::raw(format!(
                    "Quitting stops {} where {} {}; {} {} {} then.",
                    crate::text::noun(runs.len(), "it", "them"),
                    crate::text::noun(runs.len(), "it", "they"),
                    crate::text::noun(runs.len(), "is", "are"),
                    resume.join(", "),
                    crate::text::noun(runs.len(), "continues", "continue"),
                    crate::text::noun(runs.len(), "it", "them"),
                )),
                Line::raw(""),
                Line::styled("y quit now · n/esc stay", t.dim()),
            ];
            f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
        }
    }
}

/// A choice's form: what it does, then each input with its label, its box and why
/// it does not fit yet; the focused one is marked.
fn draw_form(f: &mut Frame, area: Rect, form: &Form, t: Theme) {
    let rows_of = |x: &FormField| 2 + u16::from(x.error.is_some());
    let body: u16 = form.fields.iter().map(rows_of).sum();
    // borders + what it does + a blank line + the fields + the hint
    let h = 2 + 2 + body + 1;
    let title = format!(" {} #{} ", form.choice.short, form.id);
    let inner = popup(f, centered(area, 72, h), title, t);
    let mut y = inner.y;
    let line = |f: &mut Frame, y: u16, l: Line<'_>| {
        if y < inner.y + inner.height {
            f.render_widget(l, Rect::new(inner.x, y, inner.width, 1));
        }
    };
    line(
        f,
        y,
        Line::raw(format!("{}.", capitalize(&form.choice.label))),
    );
    y += 2;
    for (i, field) in form.fields.iter().enumerate() {
        let focused = i == form.focus;
        let marker = if focused { "▸ " } else { "  " };
        line(
            f,
            y,
            Line::from(vec![
                Span::styled(marker, t.bold().patch(t.fg(Color::Cyan))),
                Span::styled(
                    field.input.label.clone(),
                    if focused { t.bold() } else { t.dim() },
                ),
            ]),
        );
        y += 1;
        if y < inner.y + inner.height {
            let boxed = Rect::new(inner.x + 2, y, inner.width.saturating_sub(2), 1);
            let mut text = field.text.clone();
            if !focused {
                text.set_cursor_style(ratatui::style::Style::default());
            }
            f.render_widget(&text, boxed);
        }
        y += 1;
        if let Some(e) = &field.error {
            line(f, y, Line::styled(format!("  {e}"), t.alert()));
            y += 1;
        }
    }
    let hint = if form.fields.len() > 1 {
        "tab/↑↓ move · enter next, on the last: decide · esc cancel"
    } else {
        "enter decide · esc cancel"
    };
    line(
        f,
        inner.y + inner.height.saturating_sub(1),
        Line::styled(hint, t.dim()),
    );
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
