//! `file` steps: write or append text to a path that must stay inside a root folder.
//! A path that escapes the root (`..`, absolute, or through a symlink) is refused,
//! when the workflow loads (a static path), when the action is rendered or edited,
//! and again when it is committed. This file owns the kind: its step fields,
//! rendering, description, validation and commit.

use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use super::{Connector, Description, ExecError, RenderCx, Resources};
use crate::template::is_template;
use crate::workflow::Tmpl;
use crate::workflow::diag::Diagnostic;
use crate::workflow::kinds::{StepFields, opt_tmpl, req_tmpl};
use crate::workflow::read::get;

/// A file step as written in the workflow.
#[derive(Debug, Clone)]
pub struct FileSpec {
    /// Directory the path must stay inside; relative to the workflow file's folder
    /// unless absolute. Defaults to that folder.
    pub root: Option<Tmpl>,
    pub path: Tmpl,
    pub content: Tmpl,
    pub mode: FileMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileMode {
    Write,
    Append,
}

/// A rendered write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileAction {
    /// Absolute directory the write must stay inside.
    pub root: String,
    /// Path relative to `root`.
    pub path: String,
    pub content: String,
    #[serde(default)]
    pub append: bool,
}

impl Connector for FileAction {
    type Spec = FileSpec;
    const FIELDS: &'static [&'static str] = &["root", "path", "content", "mode"];
    const DEFAULT_TIMEOUT: Option<Duration> = None;

    fn read(f: StepFields<'_, '_>) -> Option<FileSpec> {
        let StepFields {
            cx,
            t,
            span,
            ctx,
            uses,
        } = f;
        let root = opt_tmpl(cx, t, "root", uses);
        let path = req_tmpl(cx, t, "path", &span, ctx, uses);
        if let (Some(p), Some(v)) = (&path, get(t, "path"))
            && !is_template(p)
            && let Some(problem) = path_problem(p)
        {
            cx.push(
                Diagnostic::new(format!("file path `{p}` {problem}"))
                    .at(v.span())
                    .label("unsafe path")
                    .hint("use a path relative to the step's `root` (the workflow's folder by default), without `..` that leave it"),
            );
        }
        let content = req_tmpl(cx, t, "content", &span, ctx, uses);
        let mode = match get(t, "mode").and_then(|v| cx.choice("mode", v, &["write", "append"])) {
            Some(1) => FileMode::Append,
            _ => FileMode::Write,
        };
        Some(FileSpec {
            root,
            path: path?,
            content: content?,
            mode,
        })
    }

    /// Writing the same content twice gives the same file, but appending does not:
    /// only the workflow can say.
    fn always_idempotent(_: &FileSpec) -> bool {
        false
    }

    /// Nothing outside the file to check.
    fn check(_: &Self::Spec, _: &super::CheckCx<'_>) -> Vec<crate::workflow::diag::Diagnostic> {
        Vec::new()
    }

    fn render(f: &FileSpec, r: &RenderCx<'_>) -> Result<FileAction, String> {
        let root = match &f.root {
            Some(root) => r.path(&r.text(root)?),
            None => r.dir.display().to_string(),
        };
        Ok(FileAction {
            root,
            path: r.text(&f.path)?,
            content: r.text(&f.content)?,
            append: f.mode == FileMode::Append,
        })
    }

    fn validate(&self) -> Result<(), String> {
        if !Path::new(&self.root).is_absolute() {
            return Err(format!(
                "`root` must be an absolute path, got `{}`",
                self.root
            ));
        }
        lexical_relative(&self.path).map(|_| ())
    }

    /// The operator may change the path, content and mode; the root is checked again
    /// at commit (symlinks included).
    fn validate_edit(&self, _proposed: &FileAction) -> Result<(), String> {
        self.validate()
    }

    /// The step's `approve` decides.
    fn must_ask(&self) -> bool {
        false
    }

    fn summary(&self) -> String {
        format!(
            "{} {} ({} bytes)",
            self.verb(),
            self.path,
            self.content.len()
        )
    }

    fn describe(&self) -> Description {
        Description::new(self.verb(), &self.path)
            .word("in", &self.root)
            .body(
                format!("{} bytes", self.content.len()),
                "text/plain",
                &self.content,
            )
    }

    async fn commit(self, _res: &Resources) -> Result<Json, ExecError> {
        write(self).await
    }
}

impl FileAction {
    fn verb(&self) -> &'static str {
        if self.append { "append to" } else { "write" }
    }
}

/// Why a static path may not be used under a root, if it may not.
fn path_problem(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        return Some("is empty");
    }
    if path.starts_with('/') || path.starts_with('\\') || Path::new(path).is_absolute() {
        return Some("is absolute");
    }
    let mut depth: i64 = 0;
    for c in Path::new(path).components() {
        match c {
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return Some("escapes its root");
                }
            }
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return Some("is absolute"),
        }
    }
    None
}

/// The normalized relative path, or why it escapes the root.
fn lexical_relative(p: &str) -> Result<PathBuf, String> {
    if p.trim().is_empty() {
        return Err("`path` is empty".into());
    }
    let path = Path::new(p);
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(x) => out.push(x),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return Err(format!("path `{p}` escapes the root folder"));
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "path `{p}` is absolute; it must be relative to the root folder"
                ));
            }
        }
    }
    if out.as_os_str().is_empty() {
        return Err(format!(
            "path `{p}` names the root folder itself, not a file"
        ));
    }
    Ok(out)
}

/// Resolve the target under the root, following symlinks, and refuse escapes.
fn resolve(f: &FileAction) -> Result<PathBuf, ExecError> {
    let rel = lexical_relative(&f.path).map_err(ExecError::fatal)?;
    let root = Path::new(&f.root);
    std::fs::create_dir_all(root)
        .map_err(|e| ExecError::fatal(format!("cannot create root folder {}: {e}", f.root)))?;
    let root = root
        .canonicalize()
        .map_err(|e| ExecError::fatal(format!("cannot open root folder {}: {e}", f.root)))?;
    let target = root.join(&rel);
    let parent = target
        .parent()
        .ok_or_else(|| ExecError::fatal(format!("path `{}` has no parent folder", f.path)))?;
    // Create missing folders one by one, checking each existing one stays inside.
    let mut cur = root.clone();
    for c in parent
        .strip_prefix(&root)
        .unwrap_or(Path::new(""))
        .components()
    {
        cur.push(c);
        if !cur.exists() {
            std::fs::create_dir(&cur).map_err(|e| {
                ExecError::fatal(format!("cannot create folder {}: {e}", cur.display()))
            })?;
        }
        let real = cur
            .canonicalize()
            .map_err(|e| ExecError::fatal(format!("cannot open {}: {e}", cur.display())))?;
        if !real.starts_with(&root) {
            return Err(escape(f));
        }
    }
    if let Ok(meta) = std::fs::symlink_metadata(&target)
        && meta.file_type().is_symlink()
    {
        let real = target.canonicalize().map_err(|_| escape(f))?;
        if !real.starts_with(&root) {
            return Err(escape(f));
        }
    }
    Ok(target)
}

fn escape(f: &FileAction) -> ExecError {
    ExecError::fatal(format!(
        "path `{}` escapes the root folder {} through a symlink",
        f.path, f.root
    ))
}

pub(super) async fn write(f: FileAction) -> Result<Json, ExecError> {
    tokio::task::spawn_blocking(move || write_blocking(&f))
        .await
        .map_err(|e| ExecError::fatal(format!("file write task failed: {e}")))?
}

fn write_blocking(f: &FileAction) -> Result<Json, ExecError> {
    let target = resolve(f)?;
    let io =
        |e: std::io::Error| ExecError::retryable(format!("cannot write {}: {e}", target.display()));
    if f.append {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&target)
            .map_err(io)?;
        file.write_all(f.content.as_bytes()).map_err(io)?;
        file.sync_data().map_err(io)?;
    } else {
        // Write beside the target, then rename: readers never see half a file.
        let tmp = target.with_file_name(format!(
            ".{}.aios-tmp",
            target
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("file")
        ));
        let result = (|| {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(f.content.as_bytes())?;
            file.sync_data()?;
            std::fs::rename(&tmp, &target)
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(e));
        }
    }
    Ok(json!({
        "path": target.display().to_string(),
        "bytes": f.content.len(),
        "mode": if f.append { "append" } else { "write" },
    }))
}
