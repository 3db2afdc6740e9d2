//! The traits cannot drift from the journal: every public method of the SQLite
//! [`SqliteJournal`](crate::journal::SqliteJournal) is named by a trait of this module,
//! or is one of the few that belong to the SQLite file itself (opening it, its path,
//! its clock), which the [`Journal`](crate::journal::Journal) facade names by hand.
//! Read from the sources, so a method added to the SQLite journal without its trait
//! fails here (the program reaches the journal through the facade, whose methods are
//! written from the traits: a method in no trait would be out of its reach). A trait
//! method the facade does not dispatch cannot compile: `concern!` writes both.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Public methods of `SqliteJournal` that are about the SQLite file, not a concern a
/// second backend implements; the facade has each, saying what it does on PostgreSQL.
const SQLITE_ONLY: &[&str] = &[
    "open",
    "open_any",
    "open_read_only",
    "is_read_only",
    "path",
    "clock",
    "with_gate",
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            // The other backend and this interface are not the SQLite journal.
            if name != "pg" && name != "store" && name != "migrations" && name != "testdata" {
                sources(&path, out);
            }
        } else if name.ends_with(".rs")
            && !name.starts_with("tests")
            && name != "testing.rs"
            && name != "facade.rs"
        {
            out.push(path);
        }
    }
}

/// `pub fn NAME` directly inside an `impl SqliteJournal` block, by file.
fn journal_methods() -> BTreeMap<String, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/journal");
    let mut files = Vec::new();
    sources(&dir, &mut files);
    let mut found = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut depth: i64 = 0;
        let mut inside: Option<i64> = None;
        for line in text.lines() {
            let t = line.trim_end();
            if inside.is_none()
                && t.starts_with("impl")
                && (t.ends_with(" SqliteJournal {")
                    || t.ends_with(" super::SqliteJournal {")
                    || t.ends_with(" crate::journal::SqliteJournal {"))
                && !t.contains(" for ")
            {
                inside = Some(depth);
            }
            if let (Some(at), Some(rest)) = (inside, line.strip_prefix("    pub fn "))
                && depth == at + 1
            {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                found
                    .entry(name)
                    .or_insert_with(|| file.display().to_string());
            }
            depth += t.matches('{').count() as i64 - t.matches('}').count() as i64;
            if inside.is_some_and(|at| depth <= at) {
                inside = None;
            }
        }
    }
    found
}

#[test]
fn every_public_journal_method_is_named_by_a_store_trait() {
    let methods = journal_methods();
    assert!(
        methods.len() > 100,
        "the source scan found only {} methods: {methods:?}",
        methods.len()
    );
    let traits = include_str!("mod.rs");
    let missing: Vec<String> = methods
        .iter()
        .filter(|(name, _)| {
            !SQLITE_ONLY.contains(&name.as_str())
                && !traits.contains(&format!("fn {name}("))
                && !traits.contains(&format!("fn {name}<"))
        })
        .map(|(name, file)| format!("{name} ({file})"))
        .collect();
    assert!(
        missing.is_empty(),
        "public SqliteJournal methods no store trait names (add each to its concern's trait in \
         src/journal/store/mod.rs and delegate in store/sqlite*.rs): {missing:?}"
    );
    let facade = include_str!("../facade.rs");
    for name in SQLITE_ONLY {
        assert!(
            methods.contains_key(*name),
            "`{name}` is no longer a SqliteJournal method"
        );
        assert!(
            facade.contains(&format!("    pub fn {name}(")),
            "the Journal facade has no `{name}`: say in src/journal/facade.rs what it does on PostgreSQL"
        );
    }
}
