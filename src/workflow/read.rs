//! Typed reads from the spanned TOML tree: every wrong type, bad value or unknown key
//! becomes a [`Diagnostic`] pushed on [`Cx`], and reading goes on.

use std::collections::HashMap;
use std::ops::Range;
use std::time::Duration;

use serde_json::Value as Json;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diag::Diagnostic;
use super::duration::{DURATION_HINT, parse_duration};
use super::model::Retry;
use super::suggest::did_you_mean;
use crate::template;

pub(crate) type Span = Range<usize>;
pub(crate) type Val<'a> = Spanned<DeValue<'a>>;
pub(crate) type Table<'a> = DeTable<'a>;

/// A template found in a step, with the variables it reads (dotted paths) and the
/// secrets it names.
#[derive(Debug, Clone, Default)]
pub(crate) struct TemplateUse {
    pub span: Span,
    pub vars: Vec<String>,
    /// Names read with `secret("NAME")`.
    pub secrets: Vec<String>,
    /// `secret("NAME")` written as plain text outside `{{ }}`.
    pub literal: Vec<String>,
    /// It is the step's `when` condition.
    pub condition: bool,
    /// It is in the step's `dry_output` (a stand-in output kept in the journal).
    pub dry: bool,
}

/// "a string", "an integer", ...: a TOML value's type with its article.
pub(crate) fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// The value under `key`, if present.
pub(crate) fn get<'t, 'a>(t: &'t Table<'a>, key: &str) -> Option<&'t Val<'a>> {
    t.iter().find(|(k, _)| k.get_ref() == key).map(|(_, v)| v)
}

/// The span of `key` itself (not its value), if present.
pub(crate) fn key_span(t: &Table<'_>, key: &str) -> Option<Span> {
    t.iter()
        .find(|(k, _)| k.get_ref() == key)
        .map(|(k, _)| k.span())
}

/// A TOML integer as i64, if it fits.
pub(crate) fn int_value(v: &DeValue<'_>) -> Option<i64> {
    match v {
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
        _ => None,
    }
}

/// Whether `s` is an identifier: `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// What checking one template found: the variables it reads (sorted), or the
/// description of its syntax error.
type Checked = Result<Vec<String>, String>;

fn check_template(s: &str) -> Checked {
    match template::env().template_from_str(s) {
        Ok(t) => {
            let mut vars: Vec<String> = t.undeclared_variables(true).into_iter().collect();
            vars.sort();
            Ok(vars)
        }
        Err(e) => Err(template::describe(&e)),
    }
}

/// Templates of a file are checked ahead on every core when they hold at least
/// this much text (minijinja parses and compiles about 10 MB/s on one core).
const PRECHECK_FROM: usize = 512 * 1024;

/// Check every template-looking string of the tree at once, on every core, keyed
/// by where it starts; [`Cx::template`] takes its result from here (and checks
/// anything not found itself). Empty for files with little template text.
pub(crate) fn precheck_templates(root: &Table<'_>) -> HashMap<usize, Checked> {
    fn collect<'t>(v: &'t Val<'_>, out: &mut Vec<(usize, &'t str)>) {
        match v.get_ref() {
            DeValue::String(s) if template::is_template(s) => out.push((v.span().start, s)),
            DeValue::Array(items) => items.iter().for_each(|i| collect(i, out)),
            DeValue::Table(t) => t.iter().for_each(|(_, i)| collect(i, out)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    root.iter().for_each(|(_, v)| collect(v, &mut found));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let text: usize = found.iter().map(|f| f.1.len()).sum();
    if threads < 2 || text < PRECHECK_FROM {
        return HashMap::new();
    }
    let chunk = found.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = found
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|(at, s)| (*at, check_template(s)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        // A worker that panicked leaves its templates to be checked inline.
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_default())
            .collect()
    })
}

/// Collects diagnostics while the tree is read.
#[derive(Debug, Default)]
pub(crate) struct Cx {
    pub diags: super::diag::Diagnostics,
    /// Templates checked ahead ([`precheck_templates`]), by where they start.
    pub templates: HashMap<usize, Checked>,
}

impl Cx {
    pub fn push(&mut self, d: Diagnostic) {
        // Everything read here is in the file: every mistake has its place.
        debug_assert!(d.span.is_some(), "a diagnostic without a place: {d:?}");
        self.diags.push(d);
    }

    /// How many diagnostics were pushed so far (kept or not).
    pub fn count(&self) -> usize {
        self.diags.total
    }

    /// Whether another diagnostic would be kept: when not, callers count it with
    /// [`Cx::count_one`] instead of building it (suggestions cost time).
    pub fn keeps(&self) -> bool {
        self.diags.list.len() < super::diag::MAX_KEPT
    }

    /// Count a diagnostic that would not be kept.
    pub fn count_one(&mut self) {
        self.diags.total += 1;
    }

    /// `expected a string, found an integer`, labelled with the key.
    pub fn wrong_type(&mut self, key: &str, v: &Val<'_>, expected: &str) {
        self.push(
            Diagnostic::new(format!(
                "expected {expected}, found {}",
                type_name(v.get_ref())
            ))
            .at(v.span())
            .label(format!("`{key}` must be {expected}")),
        );
    }

    pub fn string(&mut self, key: &str, v: &Val<'_>) -> Option<String> {
        match v.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            _ => {
                self.wrong_type(key, v, "a string");
                None
            }
        }
    }

    pub fn boolean(&mut self, key: &str, v: &Val<'_>) -> Option<bool> {
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.wrong_type(key, v, "a boolean");
                None
            }
        }
    }

    pub fn integer(&mut self, key: &str, v: &Val<'_>) -> Option<i64> {
        match v.get_ref() {
            DeValue::Integer(_) => {
                let n = int_value(v.get_ref());
                if n.is_none() {
                    self.push(
                        Diagnostic::new(format!("integer `{key}` is out of range"))
                            .at(v.span())
                            .label("too large"),
                    );
                }
                n
            }
            _ => {
                self.wrong_type(key, v, "an integer");
                None
            }
        }
    }

    pub fn table<'v, 'a>(&mut self, key: &str, v: &'v Val<'a>) -> Option<&'v Table<'a>> {
        match v.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => {
                self.wrong_type(key, v, "a table");
                None
            }
        }
    }

    pub fn array<'v, 'a>(&mut self, key: &str, v: &'v Val<'a>) -> Option<&'v [Val<'a>]> {
        match v.get_ref() {
            DeValue::Array(a) => Some(a),
            _ => {
                self.wrong_type(key, v, "an array");
                None
            }
        }
    }

    /// One of a fixed set of strings; returns its index.
    pub fn choice(&mut self, key: &str, v: &Val<'_>, options: &[&str]) -> Option<usize> {
        let s = self.string(key, v)?;
        if let Some(i) = options.iter().position(|o| *o == s) {
            return Some(i);
        }
        let list = quoted_list(options);
        let hint = match did_you_mean(&s, options.iter().copied()) {
            Some(dym) => format!("{dym} `{key}` is one of {list}"),
            None => format!("`{key}` is one of {list}"),
        };
        self.push(
            Diagnostic::new(format!("invalid value `{s}` for `{key}`"))
                .at(v.span())
                .label(format!("not a valid `{key}`"))
                .hint(hint),
        );
        None
    }

    /// A duration: a string like "30s" or a non-negative integer of seconds.
    pub fn duration(&mut self, key: &str, v: &Val<'_>) -> Option<Duration> {
        let bad = |text: &str| {
            Diagnostic::new(format!("invalid duration `{text}`"))
                .at(v.span())
                .label("not a duration")
                .hint(DURATION_HINT)
        };
        match v.get_ref() {
            DeValue::String(s) => match parse_duration(s) {
                Ok(d) => Some(d),
                Err(_) => {
                    self.push(bad(s));
                    None
                }
            },
            DeValue::Integer(i) => match int_value(v.get_ref()).and_then(|n| u64::try_from(n).ok())
            {
                Some(n) => Some(Duration::from_secs(n)),
                None => {
                    self.push(bad(&i.to_string()));
                    None
                }
            },
            _ => {
                self.wrong_type(key, v, "a duration");
                None
            }
        }
    }

    /// A retry table: `attempts` (required, >= 1), `backoff`, `max_backoff`.
    /// `owner` names where it is: "step `a`" or "[defaults]".
    pub fn retry(&mut self, v: &Val<'_>, owner: &str) -> Option<Retry> {
        let t = self.table("retry", v)?;
        let ctx = format!("in `retry` of {owner}");
        self.unknown_keys(t, &["attempts", "backoff", "max_backoff"], &ctx);
        let mut retry = Retry::default();
        let mut ok = true;
        match get(t, "attempts") {
            Some(a) => match self.integer("attempts", a) {
                Some(n) if n >= 1 && u32::try_from(n).is_ok() => retry.attempts = n as u32,
                Some(n) => {
                    ok = false;
                    self.push(
                        Diagnostic::new(format!("`attempts` must be at least 1, found {n}"))
                            .at(a.span())
                            .label("invalid attempts")
                            .hint("attempts counts the first try: 1 means no retry"),
                    );
                }
                None => ok = false,
            },
            None => {
                ok = false;
                self.missing("attempts", v.span(), &ctx);
            }
        }
        if let Some(b) = get(t, "backoff") {
            ok &= self
                .duration("backoff", b)
                .map(|d| retry.backoff = d)
                .is_some();
        }
        if let Some(b) = get(t, "max_backoff") {
            match self.duration("max_backoff", b) {
                Some(d) if d < retry.backoff => {
                    ok = false;
                    self.push(
                        Diagnostic::new("`max_backoff` is shorter than `backoff`")
                            .at(b.span())
                            .label("too short"),
                    );
                }
                Some(d) => retry.max_backoff = d,
                None => ok = false,
            }
        }
        ok.then_some(retry)
    }

    /// `missing required key `url` in step `fetch``, pointing at the table.
    pub fn missing(&mut self, key: &str, span: Span, ctx: &str) {
        self.push(
            Diagnostic::new(format!("missing required key `{key}` {ctx}"))
                .at(span)
                .label(format!("`{key}` is required here")),
        );
    }

    /// Report every key of `t` not in `allowed`, with the nearest allowed key.
    pub fn unknown_keys(&mut self, t: &Table<'_>, allowed: &[&str], ctx: &str) {
        for (k, _) in t.iter() {
            let key: &str = k.get_ref();
            if allowed.contains(&key) {
                continue;
            }
            if !self.keeps() {
                self.count_one();
                continue;
            }
            let hint = did_you_mean(key, allowed.iter().copied())
                .unwrap_or_else(|| format!("valid keys: {}", allowed.join(", ")));
            self.push(
                Diagnostic::new(format!("unknown key `{key}` {ctx}").trim_end().to_string())
                    .at(k.span())
                    .label("unknown key")
                    .hint(hint),
            );
        }
    }

    /// Check a string that may be a template; record the variables it reads.
    pub fn template(&mut self, s: &str, span: Span, uses: &mut Vec<TemplateUse>) {
        let scan = crate::secrets::scan::secret_uses(s);
        if !template::is_template(s) {
            if !scan.literals.is_empty() {
                uses.push(TemplateUse {
                    span,
                    literal: scan.literals,
                    ..TemplateUse::default()
                });
            }
            return;
        }
        let checked = match self.templates.remove(&span.start) {
            Some(c) => c,
            None => check_template(s),
        };
        match checked {
            Ok(vars) => {
                for p in scan.problems {
                    self.push(
                        Diagnostic::new(p)
                            .at(span.clone())
                            .label("in this template")
                            .hint(
                                "read a secret with {{ secret(\"NAME\") }}, its name written out",
                            ),
                    );
                }
                uses.push(TemplateUse {
                    span,
                    vars,
                    secrets: scan.names,
                    literal: scan.literals,
                    condition: false,
                    dry: false,
                });
            }
            Err(e) => self.push(
                Diagnostic::new(format!("invalid template: {e}"))
                    .at(span)
                    .label("in this template"),
            ),
        }
    }

    /// A string field that may be a template.
    pub fn tmpl(&mut self, key: &str, v: &Val<'_>, uses: &mut Vec<TemplateUse>) -> Option<String> {
        let s = self.string(key, v)?;
        self.template(&s, v.span(), uses);
        Some(s)
    }

    /// A table of string -> template (`env`, `headers`, `query`), in file order.
    pub fn tmpl_map(
        &mut self,
        key: &str,
        v: &Val<'_>,
        uses: &mut Vec<TemplateUse>,
    ) -> Vec<(String, String)> {
        let Some(t) = self.table(key, v) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(t.len());
        for (k, val) in t.iter() {
            if let Some(s) = self.tmpl(&format!("{key}.{}", k.get_ref()), val, uses) {
                out.push((k.get_ref().to_string(), s));
            }
        }
        out
    }

    /// Convert any TOML value to JSON. With `uses`, string leaves are checked as templates.
    pub fn json(
        &mut self,
        key: &str,
        v: &Val<'_>,
        mut uses: Option<&mut Vec<TemplateUse>>,
    ) -> Option<Json> {
        Some(match v.get_ref() {
            DeValue::String(s) => {
                if let Some(u) = uses {
                    self.template(s, v.span(), u);
                }
                Json::String(s.to_string())
            }
            DeValue::Integer(_) => Json::from(self.integer(key, v)?),
            DeValue::Float(f) => {
                let text = f.as_str().replace('_', "");
                match text
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                {
                    Some(n) => Json::Number(n),
                    None => {
                        self.push(
                            Diagnostic::new(format!(
                                "`{}` cannot be represented in JSON",
                                f.as_str()
                            ))
                            .at(v.span())
                            .label("not a finite number"),
                        );
                        return None;
                    }
                }
            }
            DeValue::Boolean(b) => Json::Bool(*b),
            DeValue::Datetime(d) => Json::String(d.to_string()),
            DeValue::Array(a) => {
                let mut out = Vec::with_capacity(a.len());
                let mut ok = true;
                for item in a.iter() {
                    match self.json(key, item, uses.as_deref_mut()) {
                        Some(j) => out.push(j),
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                Json::Array(out)
            }
            DeValue::Table(t) => {
                let mut out = serde_json::Map::with_capacity(t.len());
                let mut ok = true;
                for (k, item) in t.iter() {
                    match self.json(key, item, uses.as_deref_mut()) {
                        Some(j) => {
                            out.insert(k.get_ref().to_string(), j);
                        }
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                Json::Object(out)
            }
        })
    }
}

/// `a`, `b` or `c`
pub(crate) fn quoted_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.join(""),
    }
}
