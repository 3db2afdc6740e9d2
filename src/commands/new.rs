//! `aios new NAME [--from WORKFLOW]` and `aios new --list`: a new workflow file from
//! the embedded library or a minimal skeleton; never over an existing file.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::cli::NewArgs;
use crate::error::Error;
use crate::workflow::library;

pub fn new(ctx: &Ctx, args: NewArgs) -> CmdResult {
    if args.list {
        let s = ctx.ui.out();
        let mut out = String::new();
        for (name, src) in library::LIBRARY {
            out.push_str(&format!(
                "{}  {}\n",
                s.bold(&format!("{name:<10}")),
                library::description(src).unwrap_or_default()
            ));
        }
        ui::print(&out);
        return Ok(Exit::Ok);
    }
    let arg = args.name.unwrap_or_default();
    let (path, name) = if arg.ends_with(".toml") || arg.contains('/') {
        let p = PathBuf::from(&arg);
        let p = if p.extension().is_some_and(|e| e == "toml") {
            p
        } else {
            p.with_extension("toml")
        };
        let stem = p
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        (p, stem)
    } else {
        (PathBuf::from(format!("{arg}.toml")), arg.clone())
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Error::invalid(format!(
            "`{name}` is not a workflow name: use letters, digits, `-` and `_`"
        ))
        .with_hint("aios new my-workflow")
        .into());
    }
    let text = match &args.from {
        None => library::skeleton(&name),
        Some(from) => {
            let src = library::get(from).ok_or_else(|| {
                let known = library::LIBRARY.iter().map(|(n, _)| *n);
                let hint = crate::workflow::suggest::did_you_mean(from, known)
                    .map(|h| format!("{h}; or list them: aios new --list"))
                    .unwrap_or_else(|| "aios new --list".into());
                Error::not_found(format!("no library workflow `{from}`")).with_hint(hint)
            })?;
            library::renamed(src, &name)
        }
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut f = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Error::conflict(format!(
                "{} exists; aios new never overwrites a file",
                path.display()
            ))
            .with_hint(format!("aios new {name}-2"))
            .into());
        }
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
    };
    f.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    let from = args
        .from
        .map(|f| format!(" from the library's `{f}`"))
        .unwrap_or_default();
    ui::println(&format!(
        "created {}{from}\nnext: aios check {p} && aios run {p}",
        path.display(),
        p = path.display()
    ));
    Ok(Exit::Ok)
}
