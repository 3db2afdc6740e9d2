//! The configuration file: `$AIOS_HOME/config.toml`, else `config.toml` in the
//! platform config directory (`~/.config/aios/` on Linux).
//!
//! This module only reads the file and keeps its TOML table; each area (agent,
//! memory, schedules) types its own section from [`ConfigFile::section`], so the
//! library reads configuration only through what the command layer hands it.

pub mod redact;
pub mod schema;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A loaded configuration file (or the empty default when there is none).
#[derive(Debug, Clone, Default)]
pub struct ConfigFile {
    /// Where it was read from; `None` when no file exists.
    pub path: Option<PathBuf>,
    /// Its text (for diagnostics with spans).
    pub source: String,
    pub table: toml::Table,
}

impl ConfigFile {
    /// Read `path` if it exists; a missing file is the empty configuration.
    pub fn load(path: &Path) -> Result<ConfigFile> {
        let source = match std::fs::read_to_string(path) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ConfigFile::default()),
            Err(e) => {
                return Err(Error::invalid(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        };
        let table: toml::Table = toml::from_str(&source).map_err(|e| {
            let at = e
                .span()
                .map(|s| {
                    let line = source[..s.start.min(source.len())].matches('\n').count() + 1;
                    format!(":{line}")
                })
                .unwrap_or_default();
            Error::invalid(format!(
                "{}{at} is not valid TOML: {}",
                path.display(),
                e.message()
            ))
            .with_hint("fix the file, or move it aside to use the defaults")
        })?;
        Ok(ConfigFile {
            path: Some(path.to_path_buf()),
            source,
            table,
        })
    }

    /// A top-level table (`[providers]`, `[budget]`, ...), if present.
    pub fn section(&self, name: &str) -> Option<&toml::Value> {
        self.table.get(name)
    }

    /// What each section configures, by name (for templates' `config.SECTION`):
    /// its sub-tables (`[smtp.work]` is `work`), and `default` when the section has
    /// keys of its own (`[smtp]` with `host = …`). Names only, never a value.
    pub fn names(&self) -> crate::template::ConfigNames {
        let mut out = std::collections::BTreeMap::new();
        for (section, v) in &self.table {
            let Some(t) = v.as_table() else { continue };
            let mut names = Vec::new();
            if t.iter().any(|(k, v)| !v.is_table() || k == "default") {
                names.push("default".to_string());
            }
            names.extend(
                t.iter()
                    .filter(|(k, v)| v.is_table() && k.as_str() != "default")
                    .map(|(k, _)| k.clone()),
            );
            out.insert(section.clone(), names);
        }
        crate::template::ConfigNames(out)
    }

    /// Where in the file a problem a section reader reported is: the deepest key of
    /// the first dotted path quoted in `message` (`budget.daily_usdd`, or `x` after
    /// a `[embeddings]` the message names) that the file holds, as 1-based line and
    /// column. `None` without a file, or when the message names no key of it.
    pub fn locate(&self, message: &str) -> Option<(usize, usize)> {
        use toml::de::{DeTable, DeValue};
        self.path.as_ref()?;
        let (root, _) = DeTable::parse_recoverable(&self.source);
        let quoted = |open: char, close: char| -> Vec<String> {
            let mut out = Vec::new();
            let mut rest = message;
            while let Some(i) = rest.find(open) {
                let after = &rest[i + open.len_utf8()..];
                let Some(j) = after.find(close) else { break };
                out.push(after[..j].to_string());
                rest = &after[j + close.len_utf8()..];
            }
            out
        };
        let bases: Vec<Vec<String>> = quoted('[', ']')
            .iter()
            .map(|b| key_path(b))
            .filter(|p| !p.is_empty())
            .collect();
        let mut candidates: Vec<Vec<String>> = Vec::new();
        for token in quoted('`', '`') {
            let path = key_path(&token);
            if path.is_empty() {
                continue;
            }
            for base in &bases {
                let mut p = base.clone();
                p.extend(path.iter().cloned());
                candidates.push(p);
            }
            candidates.push(path);
        }
        candidates.extend(bases.iter().cloned());
        let lines = crate::workflow::diag::Lines::new(&self.source);
        for path in candidates {
            let mut table = root.get_ref();
            let mut found = None;
            for (i, seg) in path.iter().enumerate() {
                let Some((k, v)) = table.iter().find(|(k, _)| k.get_ref() == seg) else {
                    break;
                };
                if i == path.len() - 1 {
                    found = Some(k.span().start);
                    break;
                }
                match v.get_ref() {
                    DeValue::Table(t) => table = t,
                    _ => {
                        found = Some(k.span().start);
                        break;
                    }
                }
            }
            if let Some(at) = found {
                return Some(lines.position(at));
            }
        }
        None
    }

    /// How to name this file in messages.
    pub fn origin(&self) -> String {
        self.path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "config.toml".into())
    }
}

/// `a.b."c.d"` as its keys: dots split, double quotes keep a key whole.
fn key_path(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.trim().chars() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => out.push(std::mem::take(&mut cur)),
            c if !quoted && c.is_whitespace() => return Vec::new(),
            c => cur.push(c),
        }
    }
    out.push(cur);
    if out.iter().any(|k| k.is_empty()) {
        return Vec::new();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let c = ConfigFile::load(&dir.path().join("config.toml")).unwrap();
        assert!(c.path.is_none() && c.table.is_empty());
    }

    #[test]
    fn bad_toml_names_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        std::fs::write(&p, "[budget]\ndaily_usd = = 2\n").unwrap();
        let e = ConfigFile::load(&p).unwrap_err();
        assert!(
            e.message.contains("config.toml:2 is not valid TOML"),
            "{}",
            e.message
        );
    }

    /// Templates see names only: a section's own keys make `default`, its tables
    /// their names; no value.
    #[test]
    fn names_of_sections() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        std::fs::write(
            &p,
            "[smtp]\nhost = \"mail.example.com\"\n[smtp.work]\nhost = \"w\"\n[mcp.x]\ncommand = [\"a\"]\n",
        )
        .unwrap();
        let names = ConfigFile::load(&p).unwrap().names().0;
        assert_eq!(names["smtp"], ["default", "work"]);
        assert_eq!(names["mcp"], ["x"]);
        assert!(!format!("{names:?}").contains("mail.example.com"));
    }

    #[test]
    fn problems_are_located_at_the_key_they_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        std::fs::write(
            &p,
            "[budget]\ndaily_usd = 1\n  daily_usdd = 2\n\n[breakers.\"http:a.b\"]\nfailures = 0\n[embeddings]\nurl = \"x\"\n",
        )
        .unwrap();
        let c = ConfigFile::load(&p).unwrap();
        let at = |m: &str| c.locate(m);
        assert_eq!(
            at("config.toml: `budget.daily_usdd` is not a known key"),
            Some((3, 3))
        );
        assert_eq!(
            at("`breakers.\"http:a.b\".failures` must be at least 1"),
            Some((6, 1))
        );
        assert_eq!(
            at("config.toml: [embeddings] has an unknown key `url`"),
            Some((8, 1))
        );
        // A key the file lacks: its deepest table that exists.
        assert_eq!(at("config.toml: [embeddings] needs `model`"), Some((7, 2)));
        assert_eq!(at("no key named here"), None);
        assert_eq!(ConfigFile::default().locate("`budget`"), None);
    }

    #[test]
    fn sections_are_reachable() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        std::fs::write(&p, "[budget]\ndaily_usd = 2.0\n").unwrap();
        let c = ConfigFile::load(&p).unwrap();
        assert_eq!(
            c.section("budget").unwrap()["daily_usd"].as_float(),
            Some(2.0)
        );
    }
}
