//! Stale evidence. A proposal's `evidence.versions` lists the versioned things it was
//! built from, `[{kind, key, version}]`; the resolver here reads their current versions
//! and reports those that changed. A stale proposal needs an explicit confirmation to
//! be approved (see [`crate::inbox::decide`]).
//!
//! Kinds resolved now:
//! - `workflow_file`: `key` is the absolute path of a run's workflow file, `version`
//!   the SHA-256 of the source the run started with; the file on disk is hashed.
//! - `fact`: `key` is `entity/key` (split at the last `/`), `version` the fact's
//!   version number when the proposal was built.
//!
//! A kind this build does not know resolves to [`CurrentVersion::Unknown`] and never
//! makes an item stale.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use super::SqliteJournal;

/// One versioned thing a proposal was built from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRef {
    pub kind: String,
    pub key: String,
    pub version: Version,
}

/// A recorded version as it was written: a hash (text) or a number (a fact's
/// version). Compared as its decimal text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Version {
    Number(serde_json::Number),
    Text(String),
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Version::Number(n) => write!(f, "{n}"),
            Version::Text(s) => f.write_str(s),
        }
    }
}

impl From<String> for Version {
    fn from(s: String) -> Version {
        Version::Text(s)
    }
}

impl From<&str> for Version {
    fn from(s: &str) -> Version {
        Version::Text(s.to_string())
    }
}

impl From<i64> for Version {
    fn from(n: i64) -> Version {
        Version::Number(n.into())
    }
}

/// What a version reference resolves to now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CurrentVersion {
    /// This build cannot tell (unknown kind): never stale.
    Unknown,
    /// The thing is gone (file deleted).
    Missing,
    Is(String),
}

/// A reference whose version changed since the proposal was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaleRef {
    pub kind: String,
    pub key: String,
    pub recorded: String,
    /// `None` when the thing no longer exists.
    pub current: Option<String>,
}

impl StaleRef {
    /// One line for people: "workflow_file /x/launch.toml changed since".
    pub fn describe(&self) -> String {
        match &self.current {
            Some(_) => format!("{} {} changed since it was proposed", self.kind, self.key),
            None => format!("{} {} no longer exists", self.kind, self.key),
        }
    }
}

/// Resolved versions, so a list of many items resolves each thing once.
#[derive(Debug, Default)]
pub struct VersionCache {
    known: HashMap<(String, String), CurrentVersion>,
}

/// The version references of a proposal's evidence (entry by entry: one malformed
/// entry does not hide the others).
pub fn versions_of(evidence: &Json) -> Vec<VersionRef> {
    super::Evidence::of(evidence).versions
}

/// SHA-256 (hex) of a workflow source (or a file's bytes): how runs, schedules and
/// hooks record the source they snapshot, and how a `workflow_file` version is
/// compared. The one hash function of the crate for sources.
pub fn source_hash(bytes: impl AsRef<[u8]>) -> String {
    hex::encode(Sha256::digest(bytes.as_ref()))
}

/// The current version of `(kind, key)`, a fact's read with `fact_version` (both
/// backends' resolver).
pub(super) fn resolve(
    kind: &str,
    key: &str,
    fact_version: impl FnOnce(&str, &str) -> crate::error::Result<Option<i64>>,
) -> CurrentVersion {
    match kind {
        "workflow_file" => match std::fs::read(key) {
            Ok(bytes) => CurrentVersion::Is(source_hash(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => CurrentVersion::Missing,
            Err(_) => CurrentVersion::Unknown,
        },
        "fact" => match key.rsplit_once('/') {
            Some((entity, k)) => match fact_version(entity, k) {
                Ok(Some(v)) => CurrentVersion::Is(v.to_string()),
                Ok(None) => CurrentVersion::Missing,
                Err(_) => CurrentVersion::Unknown,
            },
            None => CurrentVersion::Unknown,
        },
        _ => CurrentVersion::Unknown,
    }
}

/// The references among `refs` that changed, resolved with `current` through
/// `cache` (both backends').
pub(super) fn stale_refs_by(
    refs: &[VersionRef],
    cache: &mut VersionCache,
    current: impl Fn(&str, &str) -> CurrentVersion,
) -> Vec<StaleRef> {
    let mut out = Vec::new();
    for r in refs {
        let cur = cache
            .known
            .entry((r.kind.clone(), r.key.clone()))
            .or_insert_with(|| current(&r.kind, &r.key))
            .clone();
        let current = match cur {
            CurrentVersion::Unknown => continue,
            CurrentVersion::Missing => None,
            CurrentVersion::Is(v) if v == r.version.to_string() => continue,
            CurrentVersion::Is(v) => Some(v),
        };
        out.push(StaleRef {
            kind: r.kind.clone(),
            key: r.key.clone(),
            recorded: r.version.to_string(),
            current,
        });
    }
    out
}

impl SqliteJournal {
    /// The current version of `(kind, key)`.
    pub fn current_version(&self, kind: &str, key: &str) -> CurrentVersion {
        resolve(kind, key, |entity, k| self.fact_version(entity, k))
    }

    /// The references among `refs` that changed, resolving through `cache`.
    pub fn stale_refs(&self, refs: &[VersionRef], cache: &mut VersionCache) -> Vec<StaleRef> {
        stale_refs_by(refs, cache, |kind, key| self.current_version(kind, key))
    }

    /// The stale references of a proposal's evidence (empty: not stale).
    pub fn stale(&self, evidence: &Json) -> Vec<StaleRef> {
        self.stale_refs(&versions_of(evidence), &mut VersionCache::default())
    }
}
