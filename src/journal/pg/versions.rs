//! Stale evidence on PostgreSQL: `journal::versions` — the current version of what a
//! proposal's evidence points at, by the same resolver as SQLite's: a workflow
//! file's is the hash of the file on this machine, a fact's is its highest version
//! in `fact_versions` (memory's table: while this database has none, a fact's
//! version is unknown, which never makes an item stale).

use serde_json::Value as Json;

use super::PgJournal;
use crate::error::Result;
use crate::journal::store::VersionStore;
use crate::journal::versions::{resolve, stale_refs_by, versions_of};
use crate::journal::{CurrentVersion, StaleRef, VersionCache, VersionRef};

impl PgJournal {
    /// A fact's current version; an error when this database carries no facts.
    fn current_fact_version(&self, entity: &str, key: &str) -> Result<Option<i64>> {
        let mut conn = self.conn();
        let has_facts: bool = conn
            .query_one("SELECT to_regclass('fact_versions') IS NOT NULL", &[])?
            .get(0);
        if !has_facts {
            return Err(super::not_supported("memory"));
        }
        Ok(conn
            .query_one(
                "SELECT max(version)::BIGINT FROM fact_versions WHERE entity = $1 AND key = $2",
                &[&entity, &key],
            )?
            .get(0))
    }
}

impl VersionStore for PgJournal {
    fn current_version(&self, kind: &str, key: &str) -> CurrentVersion {
        resolve(kind, key, |entity, k| self.current_fact_version(entity, k))
    }

    fn stale_refs(&self, refs: &[VersionRef], cache: &mut VersionCache) -> Vec<StaleRef> {
        stale_refs_by(refs, cache, |kind, key| self.current_version(kind, key))
    }

    fn stale(&self, evidence: &Json) -> Vec<StaleRef> {
        self.stale_refs(&versions_of(evidence), &mut VersionCache::default())
    }
}
