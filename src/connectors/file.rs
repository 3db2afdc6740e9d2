//! `file` steps: write or append text to a path that must stay inside a root folder.
//! A path that escapes the root (`..`, absolute, or through a symlink) is refused,
//! both when the action is rendered or edited and again when it is committed.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use serde_json::{Value as Json, json};

use super::{ExecError, FileAction};

pub(super) fn validate(f: &FileAction) -> Result<(), String> {
    if !Path::new(&f.root).is_absolute() {
        return Err(format!("`root` must be an absolute path, got `{}`", f.root));
    }
    lexical_relative(&f.path).map(|_| ())
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

pub(super) fn describe(f: &FileAction) -> String {
    let verb = if f.append { "append to" } else { "write" };
    let mut out = format!(
        "{verb} {}\n  in {}\n  {}:\n",
        f.path,
        f.root,
        crate::text::count(f.content.len(), "byte")
    );
    for line in f.content.lines() {
        out.push_str("  │ ");
        out.push_str(line);
        out.push('\n');
    }
    out
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
