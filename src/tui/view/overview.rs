//! The Overview tab: the figures of `aios stats` (one library function,
//! [`crate::journal::Journal::stats`]) as charts: LLM spend per day against the daily
//! cap (a bar chart), items decided per day (a sparkline) with the median time to
//! decide, failures per workflow (horizontal bars) and each numeric outcome per
//! workflow over its runs (a line chart). Above them, while any is open or
//! half-open, the circuit breakers (as `aios breakers` lists them; `x` closes the
//! selected one).

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::Color;
use ratatui::symbols::Marker;
use ratatui::text::Line;
use ratatui::widgets::{
    Axis, Bar, BarChart, BarGroup, Block, Borders, Chart, Dataset, GraphType, Paragraph, Sparkline,
    Wrap,
};

use super::Theme;
use crate::agent::budget::usd;
use crate::clock::Millis;
use crate::health::BreakerState;
use crate::journal::stats::Stats;
use crate::tui::model::Model;

fn boxed(title: String, t: Theme) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .title(Line::styled(title, t.bold()))
}

pub(super) fn draw_overview(m: &Model, f: &mut Frame, area: Rect, t: Theme) {
    let area = if m.breakers.is_empty() {
        area
    } else {
        let rows = breakers_height(m, area.width);
        let [top, rest] =
            Layout::vertical([Constraint::Length(rows), Constraint::Min(3)]).areas(area);
        draw_breakers(m, f, top, t);
        rest
    };
    let Some(st) = &m.stats else {
        f.render_widget(
            Paragraph::new("loading…").block(boxed(" overview ".into(), t)),
            area,
        );
        return;
    };
    let [spend_a, decided_a, rest] = Layout::vertical([
        Constraint::Percentage(40),
        Constraint::Length(4),
        Constraint::Min(3),
    ])
    .areas(area);
    draw_spend(st, f, spend_a, t);
    draw_decided(st, f, decided_a, t);
    let [fail_a, out_a] = if rest.width >= 60 {
        Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(rest)
    } else {
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(rest)
    };
    draw_failures(st, f, fail_a, t);
    draw_outcomes(st, f, out_a, t);
}

/// How many rows the breakers panel takes: a line per breaker (two below 60
/// columns), at most four breakers (two below 60 columns), and its border.
fn breakers_height(m: &Model, width: u16) -> u16 {
    let n = m.breakers.len() as u16;
    if width >= 60 {
        n.min(4) + 2
    } else {
        n.min(2) * 2 + 2
    }
}

/// The tripped breakers: target, state, consecutive failures, and when the next
/// call may probe (with the cooldown) or who probes now; the selected one marked.
fn draw_breakers(m: &Model, f: &mut Frame, area: Rect, t: Theme) {
    let time = |ms: Millis| {
        let s = crate::clock::format_ms(ms);
        s.get(11..19).map(|hms| format!("{hms}Z")).unwrap_or(s)
    };
    let wide = area.width >= 60;
    let per = if wide { 1 } else { 2 };
    let visible = (area.height.saturating_sub(2) as usize / per).max(1);
    let skip = (m.breakers_cursor + 1).saturating_sub(visible);
    let mut lines: Vec<Line> = Vec::new();
    for (i, b) in m.breakers.iter().enumerate().skip(skip).take(visible) {
        let failures = crate::text::count(b.failures as usize, "failure");
        let (when, cooldown) = match b.state {
            BreakerState::Open => match b.until {
                Some(u) if u <= m.now => ("probe due".to_string(), String::new()),
                Some(u) => {
                    let cool = std::time::Duration::from_millis(
                        u.saturating_sub(b.updated_at).max(0) as u64,
                    );
                    (
                        format!("probe at {}", time(u)),
                        format!(" (cooldown {})", crate::clock::format_duration(cool)),
                    )
                }
                None => (String::new(), String::new()),
            },
            BreakerState::HalfOpen => (
                format!("probing: {}", b.probe.as_deref().unwrap_or("a call")),
                String::new(),
            ),
            BreakerState::Closed => (String::new(), String::new()),
        };
        let selected = i == m.breakers_cursor;
        let head = format!(
            "{} {}  {}",
            if selected { "›" } else { " " },
            b.target,
            b.state.as_str().replace('_', "-"),
        );
        let style = if selected { t.selected() } else { t.alert() };
        if wide {
            lines.push(Line::styled(
                format!("{head}  {failures}  {when}{cooldown}"),
                style,
            ));
        } else {
            // Below 60 columns: when it may go again first, the count after it
            // (cut at the edge when it does not fit; `aios breakers` has it all).
            lines.push(Line::styled(head, style));
            lines.push(Line::styled(format!("    {when} · {failures}"), style));
        }
    }
    let title = format!(" circuit breakers · {} open · x close ", m.breakers.len());
    f.render_widget(Paragraph::new(lines).block(boxed(title, t)), area);
}

fn draw_spend(st: &Stats, f: &mut Frame, area: Rect, t: Theme) {
    let cents = |usd: f64| (usd * 100.0).round().max(0.0) as u64;
    let today = st.days.last().map(|d| d.spent_usd).unwrap_or(0.0);
    let cap = |c: Option<f64>| c.map(|c| format!(" of {}", usd(c))).unwrap_or_default();
    let title = format!(
        " LLM spend/day · today {}{} · month {}{} ",
        usd(today),
        cap(st.daily_cap_usd),
        usd(st.spent_month_usd),
        cap(st.monthly_cap_usd)
    );
    let values: Vec<u64> = st.days.iter().map(|d| cents(d.spent_usd)).collect();
    let highest = values.iter().copied().max().unwrap_or(0);
    // No numbers on one-column bars: the title says today's and the month's.
    let bars: Vec<Bar> = values
        .iter()
        .map(|v| Bar::new(*v).text_value(String::new()))
        .collect();
    // Against the cap: a day at the cap fills the height.
    let max = st.daily_cap_usd.map(cents).unwrap_or(0).max(highest).max(1);
    let inner_w = area.width.saturating_sub(2);
    let gap = u16::from(inner_w >= 60);
    let chart = BarChart::default()
        .block(boxed(title, t))
        .data(BarGroup::default().bars(&bars))
        .bar_width(1)
        .bar_gap(gap)
        .max(max)
        .bar_style(t.fg(Color::Cyan));
    f.render_widget(chart, area);
}

fn draw_decided(st: &Stats, f: &mut Frame, area: Rect, t: Theme) {
    let median = st
        .median_decide_ms
        .map(|ms| {
            format!(
                ", median {}",
                crate::clock::format_duration(std::time::Duration::from_millis(ms as u64))
            )
        })
        .unwrap_or_default();
    let title = format!(" decided/day · {}{median} ", st.decided);
    let data: Vec<u64> = st.days.iter().map(|d| d.decided.max(0) as u64).collect();
    f.render_widget(
        Sparkline::default()
            .block(boxed(title, t))
            .data(&data)
            .style(t.fg(Color::Green)),
        area,
    );
}

fn draw_failures(st: &Stats, f: &mut Frame, area: Rect, t: Theme) {
    let block = boxed(" failures/workflow ".into(), t);
    if st.failures.is_empty() {
        f.render_widget(
            Paragraph::new("no run failed in 30 days").block(block),
            area,
        );
        return;
    }
    let data: Vec<(&str, u64)> = st
        .failures
        .iter()
        .map(|x| (x.workflow.as_str(), x.failed.max(0) as u64))
        .collect();
    f.render_widget(
        BarChart::default()
            .block(block)
            .direction(Direction::Horizontal)
            .data(data.as_slice())
            .bar_width(1)
            .bar_gap(0)
            .bar_style(t.alert()),
        area,
    );
}

fn draw_outcomes(st: &Stats, f: &mut Frame, area: Rect, t: Theme) {
    let names: Vec<String> = st
        .outcomes
        .iter()
        .take(4)
        .map(|s| format!("{} {}", s.workflow, s.key))
        .collect();
    let block = if names.is_empty() {
        boxed(" outcomes/run ".into(), t)
    } else {
        boxed(format!(" outcomes/run · {} ", names.join(", ")), t)
    };
    if st.outcomes.is_empty() {
        f.render_widget(
            Paragraph::new("none recorded: aios outcome RUN NAME=VALUE")
                .block(block)
                .wrap(Wrap { trim: false }),
            area,
        );
        return;
    }
    const COLORS: [Color; 4] = [Color::Cyan, Color::Yellow, Color::Magenta, Color::Green];
    let series: Vec<Vec<(f64, f64)>> = st
        .outcomes
        .iter()
        .map(|s| {
            s.points
                .iter()
                .enumerate()
                .map(|(i, p)| (i as f64, p.value))
                .collect()
        })
        .collect();
    let longest = series.iter().map(Vec::len).max().unwrap_or(1).max(2) as f64;
    let (lo, hi) = series
        .iter()
        .flatten()
        .fold((f64::MAX, f64::MIN), |(lo, hi), p| {
            (lo.min(p.1), hi.max(p.1))
        });
    let (lo, hi) = if hi > lo {
        (lo.min(0.0), hi)
    } else {
        (0.0, hi.max(1.0))
    };
    let datasets: Vec<Dataset> = st
        .outcomes
        .iter()
        .zip(&series)
        .enumerate()
        .take(4)
        .map(|(i, (s, pts))| {
            Dataset::default()
                .name(format!("{} {}", s.workflow, s.key))
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(t.fg(COLORS[i % COLORS.len()]))
                .data(pts)
        })
        .collect();
    let chart = Chart::new(datasets)
        .block(block)
        .x_axis(Axis::default().bounds([0.0, longest - 1.0]))
        .y_axis(
            Axis::default()
                .bounds([lo, hi])
                .labels([format!("{lo}"), format!("{hi}")]),
        );
    f.render_widget(chart, area);
}
