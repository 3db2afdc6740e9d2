//! Inbound webhooks in the journal: a hook's name, the workflow snapshot it starts and
//! how requests to it are checked and read ([`HookSettings`]). Its secret is never
//! here (it lives in a 0600 file, see `schedule::hooks`). Also the batched, leased
//! creation of the runs a server accepts ([`SqliteJournal::create_runs`]).

use rusqlite::{OptionalExtension, params};

use super::types::Event;
use super::{Owner, SqliteJournal, append, next_run_id, project};
use crate::clock::Millis;
use crate::error::Result;

/// The signature scheme a hook's sender uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookFormat {
    /// `X-Aios-Signature: sha256=<hex>` over the body, or `Authorization: Bearer`.
    Aios,
    /// GitHub: `X-Hub-Signature-256: sha256=<hex>` over the body.
    Github,
    /// Stripe: `Stripe-Signature: t=<unix seconds>,v1=<hex>` over `t.body`.
    Stripe,
}

impl HookFormat {
    pub const ALL: [HookFormat; 3] = [HookFormat::Aios, HookFormat::Github, HookFormat::Stripe];

    pub fn as_str(self) -> &'static str {
        match self {
            HookFormat::Aios => "aios",
            HookFormat::Github => "github",
            HookFormat::Stripe => "stripe",
        }
    }

    pub fn parse(s: &str) -> Option<HookFormat> {
        HookFormat::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// How requests to a hook are checked and read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookSettings {
    pub format: HookFormat,
    /// The input that receives the whole body; `None`: one input per field.
    pub payload: Option<String>,
    /// How far (seconds) a `stripe` signature's timestamp may be from now.
    pub tolerance_s: i64,
}

impl Default for HookSettings {
    fn default() -> Self {
        HookSettings {
            format: HookFormat::Aios,
            payload: None,
            tolerance_s: 300,
        }
    }
}

/// A registered inbound webhook (`aios hook add`): the workflow snapshot it starts.
#[derive(Debug, Clone)]
pub struct HookRecord {
    pub name: String,
    pub path: String,
    pub dir: String,
    pub source_hash: String,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub settings: HookSettings,
}

const HOOK_COLS: &str = "h.name, h.path, h.dir, h.source_hash, h.created_at, h.updated_at, h.format, h.payload, h.tolerance_s";

impl SqliteJournal {
    /// Register (or update) a hook with a snapshot of its workflow and its settings.
    /// True when it already existed.
    pub fn put_hook(
        &mut self,
        name: &str,
        path: &str,
        dir: &str,
        source: &str,
        settings: &HookSettings,
    ) -> Result<bool> {
        let at = self.now();
        let hash = super::source_hash(source);
        let tx = self.write_tx()?;
        tx.prepare_cached("INSERT OR IGNORE INTO sources (hash, text) VALUES (?1, ?2)")?
            .execute(params![hash, source])?;
        let existed = tx
            .prepare_cached("SELECT 1 FROM hooks WHERE name = ?1")?
            .exists(params![name])?;
        tx.prepare_cached(
            "INSERT INTO hooks (name, path, dir, source_hash, created_at, updated_at, format, payload, tolerance_s)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8)
             ON CONFLICT (name) DO UPDATE SET path = ?2, dir = ?3, source_hash = ?4, updated_at = ?5,
                 format = ?6, payload = ?7, tolerance_s = ?8",
        )?
        .execute(params![
            name,
            path,
            dir,
            hash,
            at,
            settings.format.as_str(),
            settings.payload,
            settings.tolerance_s
        ])?;
        tx.commit()?;
        Ok(existed)
    }

    /// A hook and its workflow source, or `None` when there is no such hook.
    pub fn hook(&self, name: &str) -> Result<Option<(HookRecord, String)>> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {HOOK_COLS}, s.text FROM hooks h JOIN sources s ON s.hash = h.source_hash
                 WHERE h.name = ?1"
            ))?
            .query_row(params![name], |r| Ok((hook_row(r)?, r.get(9)?)))
            .optional()?)
    }

    /// Every hook, by name.
    pub fn hooks(&self) -> Result<Vec<HookRecord>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {HOOK_COLS} FROM hooks h ORDER BY h.name"))?;
        let rows = stmt.query_map([], hook_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Unregister a hook. False when there was none.
    pub fn remove_hook(&mut self, name: &str) -> Result<bool> {
        let _gate = self.gate_guard();
        Ok(self
            .conn
            .prepare_cached("DELETE FROM hooks WHERE name = ?1")?
            .execute(params![name])?
            > 0)
    }

    /// Create several runs in one transaction, each from its workflow source and its
    /// `RunCreated` event, and give each the lease of `owner` for `ttl_ms` (so that no
    /// other process starts driving a run before the caller does). All or nothing.
    /// Returns the new run ids, in order.
    pub fn create_runs(
        &mut self,
        runs: &[(&str, Event)],
        owner: &Owner,
        ttl_ms: i64,
    ) -> Result<Vec<i64>> {
        let at = self.now();
        let tx = self.write_tx()?;
        let mut ids = Vec::with_capacity(runs.len());
        for (source, created) in runs {
            if let Event::RunCreated { source_hash, .. } = created {
                tx.prepare_cached("INSERT OR IGNORE INTO sources (hash, text) VALUES (?1, ?2)")?
                    .execute(params![source_hash, source])?;
            }
            let id = next_run_id(&tx)?;
            append(&tx, id, created, at)?;
            project::apply(&tx, id, created, at)?;
            tx.prepare_cached(
                "UPDATE runs SET lease_owner = ?2, lease_expires = ?3 WHERE id = ?1",
            )?
            .execute(params![id, owner.as_string(), at + ttl_ms])?;
            ids.push(id);
        }
        tx.commit()?;
        Ok(ids)
    }
}

fn hook_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<HookRecord> {
    let format: String = r.get(6)?;
    Ok(HookRecord {
        name: r.get(0)?,
        path: r.get(1)?,
        dir: r.get(2)?,
        source_hash: r.get(3)?,
        created_at: r.get(4)?,
        updated_at: r.get(5)?,
        settings: HookSettings {
            // A format this build does not know (a newer aios wrote it) is an error,
            // never a guess at how to check a request.
            format: HookFormat::parse(&format).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    6,
                    rusqlite::types::Type::Text,
                    format!("unknown hook format `{format}`").into(),
                )
            })?,
            payload: r.get(7)?,
            tolerance_s: r.get(8)?,
        },
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::clock::Clock;
    use crate::journal::{OpenOptions, StepDecl, WriteGate};

    fn created(n: usize) -> Event {
        Event::RunCreated {
            dry: None,
            uid: format!("u{n}"),
            workflow: "w".into(),
            path: None,
            dir: "/tmp".into(),
            source_hash: "h".into(),
            inputs: serde_json::json!({ "n": n }),
            steps: vec![StepDecl {
                id: "a".into(),
                kind: "set".into(),
            }],
        }
    }

    fn open(dir: &tempfile::TempDir, lock_timeout: Duration) -> SqliteJournal {
        SqliteJournal::open(
            &dir.path().join("aios.db"),
            Clock::System,
            OpenOptions {
                lock_timeout,
                ..Default::default()
            },
        )
        .unwrap()
    }

    #[test]
    fn runs_are_created_together_and_leased_to_their_creator() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = open(&dir, Duration::from_secs(5));
        let me = Owner::new(std::process::id(), "here");
        let ids = j
            .create_runs(&[("src", created(1)), ("src", created(2))], &me, 30_000)
            .unwrap();
        assert_eq!(ids, [1, 2]);
        assert_eq!(j.run(2).unwrap().inputs["n"], 2);
        assert_eq!(j.run(1).unwrap().lease_owner, Some(me.as_string()));
        // Another process (a tick elsewhere) cannot take a run before it expires...
        let other = Owner::new(1, "elsewhere");
        assert!(j.acquire_lease(1, &other, 30_000).unwrap().is_err());
        // ...and its creator drives it.
        assert_eq!(j.acquire_lease(1, &me, 30_000).unwrap().unwrap(), None);
    }

    #[test]
    fn journals_sharing_a_gate_never_meet_a_locked_database() {
        let dir = tempfile::tempdir().unwrap();
        drop(open(&dir, Duration::ZERO));
        let gate = WriteGate::default();
        // No busy timeout at all: any overlap of two writers would fail at once.
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let mut j = open(&dir, Duration::ZERO).with_gate(gate.clone());
                std::thread::spawn(move || {
                    let me = Owner::new(std::process::id(), "here");
                    for i in 0..50 {
                        let ids = j
                            .create_runs(&[("src", created(t * 100 + i))], &me, 1_000)
                            .unwrap();
                        j.release_lease(ids[0], &me).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("no writer failed");
        }
        assert_eq!(
            open(&dir, Duration::ZERO).runs(None, 1000).unwrap().len(),
            400
        );
    }
}
