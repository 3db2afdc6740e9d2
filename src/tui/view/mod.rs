//! `view(model, frame)`: draws the model, reads nothing else. Only the rows on screen
//! are built, so a frame costs the same with 10 items or 10,000. Snapshot tested on
//! ratatui's `TestBackend` in `view/tests.rs`.
//!
//! This file owns the frame: the layout (header, body, footer; list and detail side
//! by side or stacked), the `Theme` and the header and footer lines. The body and
//! the popups are drawn by `list` (the inbox list), `detail` (the selected item),
//! `action` (an action by kind, and diffs), `runs` (the runs table and a run's
//! timeline), `overview` (the charts of `aios stats`) and `overlays` (help, prompts, the editor, confirmations).

mod action;
mod detail;
mod list;
mod overlays;
mod overview;
mod runs;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::model::{Model, Screen};
use detail::draw_detail;
use list::draw_list;
use overlays::draw_overlay;
pub use overlays::help_max_scroll;
use runs::{draw_runs, draw_timeline};

// `tests.rs` reaches these through `use super::*`, as it did when this was one file.
#[cfg(test)]
use super::model::Timeline;
#[cfg(test)]
use crate::journal::StepStatus;

/// Wider than this: list and detail side by side; else stacked.
pub const WIDE: u16 = 120;

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
        Screen::Overview => overview::draw_overview(m, f, body, t),
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
    let on_overview = m.screen == Screen::Overview;
    let mut spans = vec![
        Span::styled("aios ", t.bold()),
        tab("Inbox", on_inbox),
        tab("Runs", !on_inbox && !on_overview),
        tab("Overview", on_overview),
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
        // Never cut: a long line takes the rows above the footer too.
        let rows = wrapped_rows(&s.text, area.width).min(area.y + 1);
        let status = Rect::new(area.x, area.y + 1 - rows, area.width, rows);
        f.render_widget(Clear, status);
        f.render_widget(
            Paragraph::new(Line::styled(s.text.clone(), style)).wrap(Wrap { trim: true }),
            status,
        );
        return;
    }
    let mut spans = Vec::new();
    // Any open breaker is said first, whatever the screen (the Overview lists them).
    let marker = breakers_marker(m);
    let width = match &marker {
        Some(text) => {
            spans.push(Span::styled(text.clone(), t.alert()));
            spans.push(Span::raw("  "));
            area.width.saturating_sub(text.chars().count() as u16 + 2)
        }
        None => area.width,
    };
    let keys = footer_keys(m, width);
    for (k, what) in keys {
        spans.push(Span::styled(k, t.bold().patch(t.fg(Color::Cyan))));
        spans.push(Span::raw(format!(" {what}  ")));
    }
    f.render_widget(Line::from(spans), area);
}

/// `✗ 1 breaker open` (`✗ 2 breakers`, below 60 columns) while any circuit breaker
/// is open or half-open.
fn breakers_marker(m: &Model) -> Option<String> {
    let n = m.breakers.len();
    if n == 0 {
        return None;
    }
    let what = crate::text::count_as(n, "breaker", "breakers");
    Some(if m.size.0 >= 60 {
        format!("✗ {what} open")
    } else {
        format!("✗ {what}")
    })
}

/// The footer's keys: on the inbox, the selected item's own choices (`a retry  d
/// done  r fail` for an interrupted step) before the keys of the list; dropped from
/// the least needed until the line fits `width` (`? help` and `q quit` always stay).
fn footer_keys(m: &Model, width: u16) -> Vec<(String, String)> {
    let own = |k: &str, w: &str| (k.to_string(), w.to_string());
    let mut keys: Vec<(String, String)> = match m.screen {
        Screen::Inbox => {
            let mut keys: Vec<(String, String)> = if !m.marks.is_empty() {
                vec![own("a", "approve"), own("r", "reject")]
            } else {
                m.choices()
                    .iter()
                    .map(|c| (c.key.to_string(), c.short.to_string()))
                    .collect()
            };
            if m.show_snoozed {
                keys.extend([own("u", "unsnooze"), own("z", "inbox")]);
            } else {
                keys.push(own("s", "snooze"));
                if m.snoozed() > 0 {
                    keys.push(own("z", "snoozed"));
                }
            }
            keys.extend([
                own("␣", "mark"),
                own("/", "filter"),
                own("tab", "runs"),
                own("⏎", "run"),
                own("?", "help"),
                own("q", "quit"),
            ]);
            keys
        }
        Screen::Runs => {
            let mut keys = run_keys(m, m.runs.get(m.runs_cursor));
            keys.extend([
                own("j/k", "move"),
                own("⏎", "timeline"),
                own("tab", "overview"),
                own("?", "help"),
                own("q", "quit"),
            ]);
            keys
        }
        Screen::Overview => {
            let mut keys = Vec::new();
            if !m.breakers.is_empty() {
                keys.push(own("x", "close"));
                keys.push(own("j/k", "move"));
            }
            keys.extend([
                own("r", "refresh"),
                own("tab", "inbox"),
                own("?", "help"),
                own("q", "quit"),
            ]);
            keys
        }
        Screen::Timeline { run, .. } => {
            let mut keys = run_keys(
                m,
                m.timeline
                    .as_ref()
                    .map(|tl| &tl.run)
                    .filter(|r| r.id == run),
            );
            keys.extend([
                own("j/k", "scroll"),
                own("esc", "back"),
                own("tab", "runs"),
                own("?", "help"),
                own("q", "quit"),
            ]);
            keys
        }
    };
    let len = |keys: &[(String, String)]| -> usize {
        keys.iter()
            .map(|(k, w)| k.chars().count() + w.chars().count() + 3)
            .sum::<usize>()
            .saturating_sub(2)
    };
    // The list's keys go first; on the runs, the `o` of a run; never a choice of the
    // selected item (its `o` is a rescue's offline draft), `?` or `q`.
    let mut order = vec!["⏎", "tab", "/", "␣", "j/k", "z", "s"];
    if m.screen != Screen::Inbox {
        order.push("o");
    }
    for drop in order {
        if len(&keys) <= width as usize {
            break;
        }
        keys.retain(|(k, _)| k != drop);
    }
    // Still too wide (40 columns): the last keys before `? help`, keeping `q quit`.
    while len(&keys) > width as usize && keys.len() > 2 {
        let Some(i) = keys.iter().rposition(|(k, _)| k != "?" && k != "q") else {
            break;
        };
        keys.remove(i);
    }
    keys
}

/// The keys acting on `run` (see `update::runs`): resume or retry while it can go
/// on, cancel while it is not finished, and open its waiting item. A failed run with
/// a failure item in the inbox offers that item's choices instead of the resume:
/// retry, skip and undo (once the item is loaded, when it offers them), abandon.
fn run_keys(m: &Model, run: Option<&crate::journal::RunSummary>) -> Vec<(String, String)> {
    let Some(run) = run else {
        return Vec::new();
    };
    let mut keys = Vec::new();
    let failure = (run.status == crate::journal::RunStatus::Failed)
        .then(|| crate::tui::update::failure_item(m, run.id))
        .flatten();
    if let Some(id) = failure {
        let loaded = m.detail.as_ref().filter(|d| d.record.id == id);
        let offered = loaded
            .map(|d| crate::inbox::choices::of(&d.view))
            .unwrap_or_default();
        for (k, word) in [
            ("r", "retry"),
            ("p", "skip"),
            ("u", "undo"),
            ("x", "abandon"),
        ] {
            let choice = k.chars().next().and_then(crate::tui::update::failure_key);
            let always = matches!(k, "r" | "x");
            if always || offered.iter().any(|c| Some(c.key) == choice) {
                keys.push((k.to_string(), word.to_string()));
            }
        }
    } else if let Some(word) = crate::tui::update::resume_word(run.status) {
        keys.push(("r".to_string(), word.to_string()));
    }
    if !run.status.is_terminal() {
        keys.push(("c".to_string(), "cancel".to_string()));
    }
    keys.push(("o".to_string(), "item".to_string()));
    keys
}

/// How many rows `text` takes wrapped at `width` (words kept whole where they fit,
/// a longer word split).
fn wrapped_rows(text: &str, width: u16) -> u16 {
    let width = width.max(1) as usize;
    let mut rows: usize = 1;
    let mut used = 0;
    for word in text.split(' ') {
        let w = word.chars().count();
        if used > 0 && used + 1 + w <= width {
            used += 1 + w;
            continue;
        }
        if used == 0 && w <= width {
            used = w;
            continue;
        }
        if used > 0 {
            rows += 1;
        }
        let extra = w.saturating_sub(1) / width;
        rows += extra;
        used = w - extra * width;
    }
    rows.min(u16::MAX as usize) as u16
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

fn heading(s: &str, t: Theme) -> Line<'static> {
    Line::styled(s.to_string(), t.bold().patch(t.fg(Color::Cyan)))
}

#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
mod tests_control;
#[cfg(test)]
mod tests_decided;
#[cfg(test)]
pub(crate) mod tests_runs;
