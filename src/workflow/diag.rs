//! Diagnostics: a user mistake with its place in the file, rendered rustc-style
//! (file:line:column, the source line, a caret underline, a hint). Bounded
//! whatever the file: at most [`MAX_KEPT`] are kept and [`MAX_SHOWN`] shown (then
//! "and N more problems"), echoed lines are cut to a window around the caret, and
//! positions are found in one pass over the file.

use std::ops::{Deref, Range};

/// At most this many diagnostics are shown; the rest are counted.
pub const MAX_SHOWN: usize = 50;

/// At most this many diagnostics are kept while a file is read; the rest are
/// counted only (a file with 100,000 wrong values costs no more than one with 1,000).
pub const MAX_KEPT: usize = 1000;

/// An echoed source line is cut to about this many characters around the caret.
pub const MAX_LINE: usize = 100;

/// Messages, labels and hints quote the file: they are cut to this many characters.
const MAX_TEXT: usize = 300;

/// The diagnostics of a file: the first ones found (at most [`MAX_KEPT`], ordered
/// by position) and how many there were in all.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Diagnostics {
    pub list: Vec<Diagnostic>,
    pub total: usize,
}

impl Diagnostics {
    /// Keep `d` (while fewer than [`MAX_KEPT`] are kept) and count it.
    pub fn push(&mut self, d: Diagnostic) {
        self.total += 1;
        if self.list.len() < MAX_KEPT {
            self.list.push(d);
        }
    }

    /// "3 problems", "1 problem": how many there were in all.
    pub fn count(&self) -> String {
        crate::text::count(self.total, "problem")
    }

    /// Order by where they start in the file (those without a span first).
    pub fn sort(&mut self) {
        self.list.sort_by_key(|d| d.span.as_ref().map(|s| s.start));
    }

    /// Rendered like [`render`], saying how many more there were than shown.
    pub fn render(&self, source: &str, origin: &str, color: bool) -> String {
        render_counted(&self.list, self.total, source, origin, color)
    }
}

impl From<Vec<Diagnostic>> for Diagnostics {
    fn from(list: Vec<Diagnostic>) -> Self {
        let mut d = Diagnostics::default();
        for x in list {
            d.push(x);
        }
        d
    }
}

impl Deref for Diagnostics {
    type Target = [Diagnostic];
    fn deref(&self) -> &[Diagnostic] {
        &self.list
    }
}

/// One mistake found while loading a workflow or its inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub message: String,
    /// Byte range in the source; `None` when the mistake has no place in the file.
    pub span: Option<Range<usize>>,
    /// Short text printed under the caret.
    pub label: Option<String>,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>) -> Self {
        Diagnostic {
            message: message.into(),
            span: None,
            label: None,
            hint: None,
        }
    }

    pub fn at(mut self, span: Range<usize>) -> Self {
        self.span = Some(span);
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

const RED: &str = "\x1b[1;31m";
const BLUE: &str = "\x1b[1;34m";
const CYAN: &str = "\x1b[1;36m";
const RESET: &str = "\x1b[0m";

fn paint(text: &str, code: &str, color: bool) -> String {
    if color && !text.is_empty() {
        format!("{code}{text}{RESET}")
    } else {
        text.to_string()
    }
}

/// The largest char boundary of `s` not after `at`.
fn floor_boundary(s: &str, at: usize) -> usize {
    let mut i = at.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Width of a piece of a source line as printed (tabs are shown as four spaces).
fn width(s: &str) -> usize {
    s.chars().map(|c| if c == '\t' { 4 } else { 1 }).sum()
}

/// Render diagnostics rustc-style: `error: ...`, `--> origin:line:col`, the source line,
/// carets under the span (on its first line) and the hint. Blank line between them.
/// At most [`MAX_SHOWN`] are rendered, then "and N more problems".
pub fn render(diags: &[Diagnostic], source: &str, origin: &str, color: bool) -> String {
    render_counted(diags, diags.len(), source, origin, color)
}

/// [`render`] of the first of `total` diagnostics (`diags` may hold only some).
fn render_counted(
    diags: &[Diagnostic],
    total: usize,
    source: &str,
    origin: &str,
    color: bool,
) -> String {
    let mut at = Locator::new(source);
    let shown = &diags[..diags.len().min(MAX_SHOWN)];
    let mut blocks: Vec<String> = shown
        .iter()
        .map(|d| render_one(d, source, origin, color, &mut at))
        .collect();
    let more = total.saturating_sub(shown.len());
    if more > 0 {
        blocks.push(format!(
            "{} (only the first {} are shown; fix them, then check again)\n",
            paint(
                &format!("and {}", crate::text::count(more, "more problem")),
                RED,
                color
            ),
            shown.len()
        ));
    }
    blocks.join("\n")
}

/// `s` cut to `max` characters, with "…" when cut.
fn clip(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]).into(),
        None => s.into(),
    }
}

/// Line and column of any byte offset of a source, in one pass to index its lines.
pub struct Lines<'a> {
    source: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    pub fn new(source: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(
            source
                .bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        Lines { source, starts }
    }

    /// The 1-based line and column (in characters) of byte offset `at`.
    pub fn position(&self, at: usize) -> (usize, usize) {
        let at = floor_boundary(self.source, at);
        let line = self.starts.partition_point(|&s| s <= at);
        let start = self.starts[line - 1];
        (line, self.source[start..at].chars().count() + 1)
    }
}

/// Line and column of byte offsets, found by scanning forward from the last one
/// asked (diagnostics come ordered by position: one pass over the file).
struct Locator<'a> {
    source: &'a str,
    pos: usize,
    line: usize,
    line_start: usize,
}

impl<'a> Locator<'a> {
    fn new(source: &'a str) -> Self {
        Locator {
            source,
            pos: 0,
            line: 1,
            line_start: 0,
        }
    }

    /// (line number, byte offset where that line starts) of `at`, a char boundary.
    fn locate(&mut self, at: usize) -> (usize, usize) {
        if at < self.pos {
            *self = Locator::new(self.source);
        }
        let chunk = &self.source.as_bytes()[self.pos..at];
        let newlines = chunk.iter().filter(|&&b| b == b'\n').count();
        if newlines > 0 {
            self.line += newlines;
            let last = chunk.iter().rposition(|&b| b == b'\n').unwrap_or(0);
            self.line_start = self.pos + last + 1;
        }
        self.pos = at;
        (self.line, self.line_start)
    }
}

fn render_one(
    d: &Diagnostic,
    source: &str,
    origin: &str,
    color: bool,
    at: &mut Locator<'_>,
) -> String {
    let mut out = format!(
        "{}: {}\n",
        paint("error", RED, color),
        clip(&d.message, MAX_TEXT)
    );
    let hint = d.hint.as_deref().map(|h| clip(h, MAX_TEXT));
    let Some(span) = &d.span else {
        if let Some(hint) = &hint {
            out.push_str(&format!("  = {}: {hint}\n", paint("hint", CYAN, color)));
        }
        return out;
    };
    let start = floor_boundary(source, span.start);
    let end = floor_boundary(source, span.end.max(start));
    let (line_no, line_start) = at.locate(start);
    let line_end = source[start..]
        .find('\n')
        .map_or(source.len(), |i| start + i);
    let line_end = if source[..line_end].ends_with('\r') {
        (line_end - 1).max(start)
    } else {
        line_end
    };
    let column = source[line_start..start].chars().count() + 1;
    // The echoed piece of the line: about MAX_LINE characters around the caret.
    let from = source[line_start..start]
        .char_indices()
        .rev()
        .nth(MAX_LINE / 3 - 1)
        .map_or(line_start, |(i, _)| line_start + i);
    let room = MAX_LINE - source[from..start].chars().count();
    let to = source[start..line_end]
        .char_indices()
        .nth(room)
        .map_or(line_end, |(i, _)| start + i);
    let (lead, tail) = (
        if from > line_start { "…" } else { "" },
        if to < line_end { "…" } else { "" },
    );
    let before = &source[from..start];
    let under_end = end.min(to).max(start);
    let carets = width(&source[start..under_end]).max(1);

    let w = line_no.to_string().len();
    let pad = " ".repeat(w);
    let bar = paint("|", BLUE, color);
    out.push_str(&format!(
        "{pad}{} {origin}:{line_no}:{column}\n",
        paint("-->", BLUE, color)
    ));
    out.push_str(&format!("{pad} {bar}\n"));
    out.push_str(&format!(
        "{} {bar} {lead}{}{tail}\n",
        paint(&line_no.to_string(), BLUE, color),
        source[from..to].replace('\t', "    ")
    ));
    let mut under = format!(
        "{pad} {bar} {}{}",
        " ".repeat(width(lead) + width(before)),
        paint(&"^".repeat(carets), RED, color)
    );
    if let Some(label) = &d.label {
        under.push(' ');
        under.push_str(&clip(label, MAX_TEXT));
    }
    out.push_str(under.trim_end());
    out.push('\n');
    if let Some(hint) = &hint {
        out.push_str(&format!("{pad} {bar}\n"));
        out.push_str(&format!(
            "{pad} {} {}: {hint}\n",
            paint("=", BLUE, color),
            paint("hint", CYAN, color)
        ));
    }
    out
}

#[cfg(test)]
mod lines_tests {
    use super::Lines;

    #[test]
    fn positions_are_one_based_in_characters() {
        let l = Lines::new("ab\néx = 1\n");
        assert_eq!(l.position(0), (1, 1));
        assert_eq!(l.position(2), (1, 3));
        assert_eq!(l.position(3), (2, 1));
        assert_eq!(l.position(5), (2, 2)); // after the two-byte é
        assert_eq!(l.position(12), (3, 1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_rustc() {
        let mut src = String::new();
        for i in 1..12 {
            src.push_str(&format!("# line {i}\n"));
        }
        let start = src.len();
        src.push_str("nedds = [\"segment\"]\n");
        let d = Diagnostic::new("unknown key `nedds` in step `draft`")
            .at(start..start + 5)
            .label("unknown key")
            .hint("did you mean `needs`?");
        let want = "\
error: unknown key `nedds` in step `draft`
  --> launch.toml:12:1
   |
12 | nedds = [\"segment\"]
   | ^^^^^ unknown key
   |
   = hint: did you mean `needs`?
";
        assert_eq!(render(&[d], &src, "launch.toml", false), want);
    }

    #[test]
    fn multibyte_before_span_counts_chars() {
        let src = "title = \"héllo\" x\n";
        let start = src.find('x').unwrap();
        let d = Diagnostic::new("bad").at(start..start + 1).label("here");
        let want = "\
error: bad
 --> f.toml:1:17
  |
1 | title = \"héllo\" x
  |                 ^ here
";
        assert_eq!(render(&[d], src, "f.toml", false), want);
    }

    #[test]
    fn span_at_end_of_file_and_no_span() {
        let src = "name = \"x";
        let a = Diagnostic::new("invalid basic string").at(9..9);
        let b = Diagnostic::new("missing input").hint("pass it");
        let want = "\
error: invalid basic string
 --> w.toml:1:10
  |
1 | name = \"x
  |          ^

error: missing input
  = hint: pass it
";
        assert_eq!(render(&[a, b], src, "w.toml", false), want);
    }

    #[test]
    fn span_crossing_lines_underlines_to_end_of_line() {
        let src = "a = \"\"\"x\nyz\"\"\"\n";
        let d = Diagnostic::new("m").at(4..src.len() - 1).label("l");
        let out = render(&[d], src, "f", false);
        assert!(out.contains("1 | a = \"\"\"x\n  |     ^^^^ l\n"), "{out}");
    }

    #[test]
    fn out_of_range_and_mid_char_spans_do_not_panic() {
        let src = "é\n";
        #[allow(clippy::reversed_empty_ranges)]
        let spans = [1..2, 50..60, 2..1];
        for span in spans {
            let d = Diagnostic::new("m").at(span);
            let _ = render(&[d], src, "f", true);
        }
    }

    #[test]
    fn at_most_50_are_shown_then_how_many_more() {
        let src = "x\n".repeat(60);
        let mut all = Diagnostics::default();
        for i in 0..60 {
            all.push(Diagnostic::new(format!("m{i}")).at(2 * i..2 * i + 1));
        }
        let out = all.render(&src, "f", false);
        assert_eq!(out.matches("error: m").count(), 50);
        assert!(out.contains(" --> f:50:1\n"), "{out}");
        assert!(!out.contains("error: m50"), "{out}");
        assert!(out.ends_with(
            "\nand 10 more problems (only the first 50 are shown; fix them, then check again)\n"
        ));
        assert_eq!(all.count(), "60 problems");
    }

    #[test]
    fn only_the_first_kept_diagnostics_are_stored_but_all_are_counted() {
        let mut all = Diagnostics::default();
        for i in 0..(MAX_KEPT + 5) {
            all.push(Diagnostic::new("m").at(i..i + 1));
        }
        assert_eq!((all.len(), all.total), (MAX_KEPT, MAX_KEPT + 5));
        let out = all.render(&" ".repeat(MAX_KEPT + 10), "f", false);
        assert!(out.contains("and 955 more problems"), "{out}");
    }

    #[test]
    fn a_long_line_is_cut_to_a_window_around_the_caret() {
        let line = format!("{}X{}", "a".repeat(500), "b".repeat(500));
        let at = 500;
        let d = Diagnostic::new("m").at(at..at + 1).label("here");
        let out = render(&[d], &line, "f", false);
        let want = format!(
            "error: m\n --> f:1:501\n  |\n1 | …{}X{}…\n  | {}^ here\n",
            "a".repeat(MAX_LINE / 3),
            "b".repeat(MAX_LINE - MAX_LINE / 3 - 1),
            " ".repeat(1 + MAX_LINE / 3)
        );
        assert_eq!(out, want);
        // A span over the whole line underlines the window only.
        let d = Diagnostic::new("m").at(0..line.len());
        let out = render(&[d], &line, "f", false);
        assert!(
            out.contains(&format!("  | {}\n", "^".repeat(MAX_LINE))),
            "{out}"
        );
    }

    #[test]
    fn long_messages_and_hints_are_clipped() {
        let d = Diagnostic::new(format!("unknown key `{}`", "k".repeat(1000)))
            .at(0..1)
            .hint("h".repeat(1000));
        let out = render(&[d], "k\n", "f", false);
        assert!(
            out.lines().all(|l| l.chars().count() <= MAX_TEXT + 20),
            "{out}"
        );
        assert!(out.contains("…"), "{out}");
    }

    #[test]
    fn color_uses_ansi_escapes() {
        let d = Diagnostic::new("m").at(0..1).hint("h");
        let out = render(&[d], "x\n", "f", true);
        assert!(out.starts_with("\x1b[1;31merror\x1b[0m: m\n"), "{out}");
        assert!(out.contains("\x1b[1;34m-->\x1b[0m"), "{out}");
        assert!(out.contains("\x1b[1;31m^\x1b[0m"), "{out}");
        assert!(out.contains("\x1b[1;36mhint\x1b[0m: h"), "{out}");
    }
}
