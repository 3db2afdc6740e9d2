//! `file` steps: write or append text to a path beneath a root folder. This file owns
//! the kind: its step fields, rendering, description, validation (also of an edit:
//! the root cannot be edited) and commit. The path is checked lexically when the
//! workflow loads (a literal path), when the action is rendered or edited; the commit
//! goes through the [`sandbox`](super::sandbox), where the kernel resolves the path
//! beneath the root in the same call that opens it (symlinks out of it are refused).

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use super::sandbox::{PathProblem, RelPath, Root, SandboxError};
use super::{AfterTimeout, Connector, Description, ExecError, RenderCx, Resources, Touch};
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

/// Whether a file step replaces the file or adds to its end: `mode = "write" |
/// "append"` in the workflow, in the journaled action and in an edit alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileMode {
    #[default]
    Write,
    Append,
}

impl FileMode {
    pub fn as_str(self) -> &'static str {
        match self {
            FileMode::Write => "write",
            FileMode::Append => "append",
        }
    }
}

/// A rendered write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "StoredFileAction")]
pub struct FileAction {
    /// Absolute directory the write must stay inside.
    pub root: String,
    /// Path relative to `root`.
    pub path: String,
    pub content: String,
    pub mode: FileMode,
}

/// A file action as read: `mode`, or `append: bool` as builds before `mode` wrote it
/// (journals keep those actions; they load the same).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredFileAction {
    root: String,
    path: String,
    content: String,
    #[serde(default)]
    mode: Option<FileMode>,
    #[serde(default)]
    append: Option<bool>,
}

impl TryFrom<StoredFileAction> for FileAction {
    type Error = String;

    fn try_from(s: StoredFileAction) -> Result<FileAction, String> {
        let old = s
            .append
            .map(|a| if a { FileMode::Append } else { FileMode::Write });
        let mode = match (s.mode, old) {
            (Some(m), Some(o)) if m != o => {
                return Err(format!(
                    "`mode = \"{}\"` and `append = {}` disagree; give `mode` only",
                    m.as_str(),
                    o == FileMode::Append
                ));
            }
            (Some(m), _) | (None, Some(m)) => m,
            (None, None) => FileMode::Write,
        };
        Ok(FileAction {
            root: s.root,
            path: s.path,
            content: s.content,
            mode,
        })
    }
}

impl Connector for FileAction {
    type Spec = FileSpec;
    const FIELDS: &'static [&'static str] = &["root", "path", "content", "mode"];
    const DEFAULT_TIMEOUT: Option<Duration> = None;
    /// A write lands whole or not at all.
    const AFTER_TIMEOUT: AfterTimeout = AfterTimeout::Retry;

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
            mode: f.mode,
        })
    }

    fn validate(&self) -> Result<(), String> {
        if !Path::new(&self.root).is_absolute() {
            return Err(format!(
                "`root` must be an absolute path, got `{}`",
                self.root
            ));
        }
        RelPath::new(&self.path)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// The operator may change the path, content and mode, never the root: the root
    /// is the boundary the workflow declared, and an edit stays inside it.
    fn validate_edit(&self, proposed: &FileAction) -> Result<(), String> {
        if self.root != proposed.root {
            return Err(format!(
                "`root` cannot be edited (proposed {:?}, edited {:?}); an edit may change the path, content and mode beneath the root",
                proposed.root, self.root
            ));
        }
        self.validate()
    }

    /// The step's `approve` decides.
    fn must_ask(&self) -> bool {
        false
    }

    fn touches(&self) -> Vec<Touch> {
        vec![Touch::FileRoot {
            root: self.root.clone(),
        }]
    }

    /// Local writes are not rate limited.
    fn target(&self) -> Option<super::Target> {
        None
    }

    fn summary(&self) -> String {
        format!(
            "{} {} ({})",
            self.verb(),
            self.path,
            crate::text::count(self.content.len(), "byte")
        )
    }

    fn describe(&self) -> Description {
        Description::new(self.verb(), &self.path)
            .word("in", &self.root)
            .body(
                crate::text::count(self.content.len(), "byte"),
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
        match self.mode {
            FileMode::Append => "append to",
            FileMode::Write => "write",
        }
    }
}

/// Why a static path may not be used under a root, if it may not.
fn path_problem(path: &str) -> Option<PathProblem> {
    RelPath::new(path).err().map(|e| e.problem)
}

pub(super) async fn write(f: FileAction) -> Result<Json, ExecError> {
    tokio::task::spawn_blocking(move || write_blocking(&f))
        .await
        .map_err(|e| ExecError::fatal(format!("file write task failed: {e}")))?
}

/// Open the root, create the path's folders beneath it, then write (a temporary file
/// renamed into place) or append, every step resolved beneath the root's handle.
fn write_blocking(f: &FileAction) -> Result<Json, ExecError> {
    let err = |e: SandboxError| {
        if e.is_retryable() {
            ExecError::retryable(e.to_string())
        } else {
            ExecError::fatal(e.to_string())
        }
    };
    let rel = RelPath::new(&f.path).map_err(|e| ExecError::fatal(e.to_string()))?;
    let root = Root::create(&f.root).map_err(err)?;
    root.create_parents(&rel).map_err(err)?;
    if f.mode == FileMode::Append {
        let mut file = root.open_append(&rel).map_err(err)?;
        let io = |e: std::io::Error| {
            ExecError::retryable(format!("cannot append to `{}` in {}: {e}", f.path, f.root))
        };
        file.write_all(f.content.as_bytes()).map_err(io)?;
        file.sync_data().map_err(io)?;
    } else {
        root.write_atomic(&rel, f.content.as_bytes()).map_err(err)?;
    }
    Ok(json!({
        "path": Path::new(&f.root).join(rel.as_path()).display().to_string(),
        "bytes": f.content.len(),
        "mode": f.mode.as_str(),
    }))
}

#[cfg(all(test, unix))]
mod tests;
