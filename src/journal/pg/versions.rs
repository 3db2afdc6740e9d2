//! Stale evidence on PostgreSQL: `journal::versions` — the current version of what a
//! proposal's evidence points at, by the same resolver as SQLite's: a workflow
//! file's is the hash of the file on this machine, a fact's is memory's
//! `fact_version` (its highest version in `fact_versions`).

use serde_json::Value as Json;

use super::PgJournal;
use crate::journal::store::{MemoryStore, VersionStore};
use crate::journal::versions::{resolve, stale_refs_by, versions_of};
use crate::journal::{CurrentVersion, StaleRef, VersionCache, VersionRef};

impl VersionStore for PgJournal {
    fn current_version(&self, kind: &str, key: &str) -> CurrentVersion {
        resolve(kind, key, |entity, k| self.fact_version(entity, k))
    }

    fn stale_refs(&self, refs: &[VersionRef], cache: &mut VersionCache) -> Vec<StaleRef> {
        stale_refs_by(refs, cache, |kind, key| self.current_version(kind, key))
    }

    fn stale(&self, evidence: &Json) -> Vec<StaleRef> {
        self.stale_refs(&versions_of(evidence), &mut VersionCache::default())
    }
}
