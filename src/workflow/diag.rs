//! Diagnostics: a user mistake with its place in the file, rendered rustc-style
//! (file:line:column, the source line, a caret underline, a hint).

use std::ops::Range;

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
pub fn render(diags: &[Diagnostic], source: &str, origin: &str, color: bool) -> String {
    let blocks: Vec<String> = diags
        .iter()
        .map(|d| render_one(d, source, origin, color))
        .collect();
    blocks.join("\n")
}

fn render_one(d: &Diagnostic, source: &str, origin: &str, color: bool) -> String {
    let mut out = format!("{}: {}\n", paint("error", RED, color), d.message);
    let Some(span) = &d.span else {
        if let Some(hint) = &d.hint {
            out.push_str(&format!("  = {}: {hint}\n", paint("hint", CYAN, color)));
        }
        return out;
    };
    let start = floor_boundary(source, span.start);
    let end = floor_boundary(source, span.end.max(start));
    let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[start..]
        .find('\n')
        .map_or(source.len(), |i| start + i);
    let line_no = source[..start].matches('\n').count() + 1;
    let text = source[line_start..line_end].trim_end_matches('\r');
    let before = &source[line_start..start];
    let column = before.chars().count() + 1;
    let under_end = end.min(line_start + text.len()).max(start);
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
        "{} {bar} {}\n",
        paint(&line_no.to_string(), BLUE, color),
        text.replace('\t', "    ")
    ));
    let mut under = format!(
        "{pad} {bar} {}{}",
        " ".repeat(width(before)),
        paint(&"^".repeat(carets), RED, color)
    );
    if let Some(label) = &d.label {
        under.push(' ');
        under.push_str(label);
    }
    out.push_str(under.trim_end());
    out.push('\n');
    if let Some(hint) = &d.hint {
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
    fn color_uses_ansi_escapes() {
        let d = Diagnostic::new("m").at(0..1).hint("h");
        let out = render(&[d], "x\n", "f", true);
        assert!(out.starts_with("\x1b[1;31merror\x1b[0m: m\n"), "{out}");
        assert!(out.contains("\x1b[1;34m-->\x1b[0m"), "{out}");
        assert!(out.contains("\x1b[1;31m^\x1b[0m"), "{out}");
        assert!(out.contains("\x1b[1;36mhint\x1b[0m: h"), "{out}");
    }
}
