//! A shell step's `sandbox` and `limits` as written in the workflow, read with a
//! diagnostic (and its span) for every mistake, and rendered into a [`Sandbox`] and
//! [`Limits`].
//!
//! `sandbox` is a mode word (`"required"`, `"best_effort"`, `"off"`) or a table
//! `{ mode = "…", read = […], write = […], network = false }` (mode `required` when
//! not given). Its paths are written out, never templates: the boundary is what the
//! workflow declares, not what an input or a reply makes it. A relative path starts
//! at the workflow's folder.

use std::path::Path;
use std::time::Duration;

use toml::de::DeValue;

use super::limits::{self, Limits};
use super::{Sandbox, SandboxMode, normalize};
use crate::workflow::diag::Diagnostic;
use crate::workflow::read::{Cx, Val, get};

/// A step's `sandbox`, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxSpec {
    pub mode: SandboxMode,
    pub read: Vec<String>,
    pub write: Vec<String>,
    pub network: bool,
}

impl Default for SandboxSpec {
    /// What a shell step without `sandbox` gets: required, nothing declared.
    fn default() -> SandboxSpec {
        SandboxSpec {
            mode: SandboxMode::Required,
            read: Vec::new(),
            write: Vec::new(),
            network: false,
        }
    }
}

/// The keys of a `sandbox` table.
pub(crate) const SANDBOX_KEYS: &[&str] = &["mode", "read", "write", "network"];
/// The keys of a `limits` table.
pub(crate) const LIMIT_KEYS: &[&str] = &["cpu", "memory", "files", "processes", "output"];

const MODE_HINT: &str = "sandbox = \"required\" (the default), \"best_effort\" or \"off\", or a table like { read = [\"data\"], write = [\"out\"], network = false }";

impl SandboxSpec {
    /// Read `sandbox = …` of step `ctx`.
    pub(crate) fn read(cx: &mut Cx, v: &Val<'_>, ctx: &str) -> Option<SandboxSpec> {
        let mode = |cx: &mut Cx, v: &Val<'_>| {
            cx.choice("sandbox", v, SandboxMode::WORDS)
                .and_then(|i| SandboxMode::parse(SandboxMode::WORDS[i]))
        };
        match v.get_ref() {
            DeValue::String(_) => Some(SandboxSpec {
                mode: mode(cx, v)?,
                ..SandboxSpec::default()
            }),
            DeValue::Table(t) => {
                let before = cx.count();
                cx.unknown_keys(
                    t,
                    SANDBOX_KEYS,
                    &format!("in `sandbox` of {}", ctx.strip_prefix("in ").unwrap_or(ctx)),
                );
                let mut s = SandboxSpec::default();
                if let Some(m) = get(t, "mode") {
                    s.mode = mode(cx, m).unwrap_or(s.mode);
                }
                if let Some(n) = get(t, "network") {
                    s.network = cx.boolean("network", n).unwrap_or(false);
                }
                for (key, out) in [("read", &mut s.read), ("write", &mut s.write)] {
                    let Some(list) = get(t, key) else { continue };
                    let Some(items) = cx.array(key, list) else {
                        continue;
                    };
                    for item in items {
                        if let Some(p) = path(cx, key, item) {
                            out.push(p);
                        }
                    }
                }
                (cx.count() == before).then_some(s)
            }
            _ => {
                cx.push(
                    Diagnostic::new(format!(
                        "expected a string or a table, found {}",
                        crate::workflow::read::type_name(v.get_ref())
                    ))
                    .at(v.span())
                    .label("`sandbox` must be a mode or a table")
                    .hint(MODE_HINT),
                );
                None
            }
        }
    }

    /// The rendered sandbox: paths absolute (relative ones start at `dir`, the
    /// workflow's folder) and normalized, as sealed text.
    pub fn render(&self, dir: &Path) -> Sandbox {
        let abs = |p: &String| {
            let joined = normalize(&dir.join(p)).display().to_string();
            crate::secrets::placeholder::escape(&joined).into_owned()
        };
        Sandbox {
            mode: self.mode,
            read: self.read.iter().map(abs).collect(),
            write: self.write.iter().map(abs).collect(),
            network: self.network,
        }
    }
}

/// One declared path: a non-empty literal, without `~`.
fn path(cx: &mut Cx, key: &str, v: &Val<'_>) -> Option<String> {
    let p = cx.string(key, v)?;
    let problem = if p.trim().is_empty() {
        Some(("is empty", "name a folder or a file"))
    } else if crate::template::is_template(&p) {
        Some((
            "is a template",
            "write sandbox paths out: the sandbox is what the workflow declares, not what an input makes it",
        ))
    } else if p.starts_with('~') {
        Some((
            "starts with `~`, which is not expanded",
            "write the absolute path, or a path relative to the workflow's folder",
        ))
    } else if p.contains('\0') {
        Some(("contains a NUL byte", "remove it"))
    } else {
        None
    };
    match problem {
        Some((what, hint)) => {
            cx.push(
                Diagnostic::new(format!("sandbox path `{p}` {what}"))
                    .at(v.span())
                    .label("not a usable path")
                    .hint(hint),
            );
            None
        }
        None => Some(p),
    }
}

/// Read `limits = { … }` of step `ctx` (unset keys keep their defaults).
pub(crate) fn read_limits(cx: &mut Cx, v: &Val<'_>, ctx: &str) -> Option<Limits> {
    let t = cx.table("limits", v)?;
    let before = cx.count();
    cx.unknown_keys(
        t,
        LIMIT_KEYS,
        &format!("in `limits` of {}", ctx.strip_prefix("in ").unwrap_or(ctx)),
    );
    let mut l = Limits::default();
    if let Some(c) = get(t, "cpu")
        && let Some(d) = cx.duration("cpu", c)
    {
        if d < Duration::from_secs(1) {
            cx.push(
                Diagnostic::new("the `cpu` limit must be at least 1s")
                    .at(c.span())
                    .label("too short")
                    .hint("the kernel counts CPU time in whole seconds: cpu = \"30s\""),
            );
        } else {
            // Whole seconds, rounded up.
            l.cpu_secs = Some(d.as_secs() + u64::from(d.subsec_nanos() > 0));
        }
    }
    if let Some(m) = get(t, "memory") {
        l.memory_bytes = size(cx, "memory", m);
    }
    if let Some(o) = get(t, "output")
        && let Some(n) = size(cx, "output", o)
    {
        l.output_bytes = n;
    }
    for (key, slot) in [
        ("files", &mut l.open_files),
        ("processes", &mut l.processes),
    ] {
        if let Some(n) = get(t, key)
            && let Some(i) = cx.integer(key, n)
        {
            if i < 1 {
                cx.push(
                    Diagnostic::new(format!("the `{key}` limit must be at least 1, found {i}"))
                        .at(n.span())
                        .label("too small"),
                );
            } else {
                *slot = Some(i as u64);
            }
        }
    }
    (cx.count() == before).then_some(l)
}

/// A size: an integer of bytes or a string with a unit; more than 0.
fn size(cx: &mut Cx, key: &str, v: &Val<'_>) -> Option<u64> {
    let parsed = match v.get_ref() {
        DeValue::String(s) => limits::parse_bytes(s),
        DeValue::Integer(_) => cx
            .integer(key, v)
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| "a negative size".to_string()),
        _ => {
            cx.wrong_type(key, v, "a size");
            return None;
        }
    };
    match parsed {
        Ok(n) if n > 0 => Some(n),
        Ok(_) => {
            cx.push(
                Diagnostic::new(format!("the `{key}` limit must be more than 0 bytes"))
                    .at(v.span())
                    .label("too small")
                    .hint(limits::SIZE_HINT),
            );
            None
        }
        Err(e) => {
            cx.push(
                Diagnostic::new(e)
                    .at(v.span())
                    .label(format!("`{key}` must be a size"))
                    .hint(limits::SIZE_HINT),
            );
            None
        }
    }
}
