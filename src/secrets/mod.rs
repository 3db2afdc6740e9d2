//! Secrets are names until commit.
//!
//! This module owns everything about secret values: where they are kept ([`Store`]:
//! one 0600 file per secret under `<data dir>/secrets/`, plus the secrets file of the
//! LLM providers), how text names them ([`SecretRef`], written `secret("NAME")`),
//! how a rendered action holds them (sealed text: placeholders, see
//! [`placeholder`]), how they are put back in memory at commit or connect time
//! ([`Secrets::resolve`], [`Secrets::resolve_config`]) and how they are taken out of
//! anything that is kept ([`Redactor`]). [`process`] keeps them out of reach of the
//! programs steps run (`/proc`).
//!
//! The API other parts build on:
//!
//! - a config value that may name a secret (`env = { TOKEN = 'secret("GH_TOKEN")' }`,
//!   `password = 'secret("SMTP_PASSWORD")'`): check it when the config is read with
//!   [`SecretRef::parse_config`] (and [`Secrets::knows`]), resolve it when connecting
//!   with [`Secrets::resolve_config`];
//! - a rendered action's strings: resolved by [`Secrets::resolve`] /
//!   [`Secrets::resolve_json`] in `Action::commit`, never journaled;
//! - anything about to be journaled or shown: [`Secrets::redact`] /
//!   [`Secrets::redact_json`] (every known value: the store, the secrets file, the
//!   providers' keys, hook secrets, the run's secret inputs, and what was injected).
//!
//! Nothing here reads the environment: the command layer hands in what it read.

mod name;
pub mod placeholder;
pub mod process;
mod redact;
pub mod scan;
mod store;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::Value as Json;

use crate::error::{Error, Result};

pub use name::{NAME_HINT, valid_name};
pub use placeholder::{SecretRef, placeholder as placeholder_of};
pub use redact::{MIN_LEN, Redactor};
pub use store::{Entry, Store};

/// A secret value. Never printed (its `Debug` is redacted), never serialized.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Every place a secret can come from, as one lookup: the store, then the secrets
/// file (`secrets.env`); for a run, its secret inputs (`inputs.NAME`). Also values
/// that are only ever redacted (the providers' API keys read from the environment,
/// hook secrets). Cheap to clone; the store is read when a value is asked for, so a
/// secret set while a server runs is seen by its next commit.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    store: Option<Store>,
    file: Arc<Vec<(String, Secret)>>,
    file_path: Option<PathBuf>,
    redact_only: Arc<Vec<(String, Secret)>>,
    run: Option<String>,
    redactor: Arc<Mutex<Option<Redactor>>>,
}

impl Secrets {
    /// Secrets from `store` alone.
    pub fn new(store: Store) -> Secrets {
        Secrets {
            store: Some(store),
            ..Secrets::default()
        }
    }

    /// Also the secrets file at `path` (its `NAME=value` lines), after the store.
    pub fn with_file(mut self, path: PathBuf, pairs: Vec<(String, String)>) -> Secrets {
        self.file = Arc::new(
            pairs
                .into_iter()
                .map(|(k, v)| (k, Secret::new(v)))
                .collect(),
        );
        self.file_path = Some(path);
        self.redactor = Default::default();
        self
    }

    /// Also redact `value` (named `name`) wherever it appears, though templates
    /// cannot read it (a provider's API key from the environment, a hook's secret).
    pub fn with_redacted(mut self, name: &str, value: &str) -> Secrets {
        Arc::make_mut(&mut self.redact_only).push((name.into(), Secret::new(value)));
        self.redactor = Default::default();
        self
    }

    /// The view of one run (by its uid): its secret inputs resolve too, and are
    /// redacted too.
    pub fn for_run(&self, uid: &str) -> Secrets {
        Secrets {
            run: Some(uid.to_string()),
            redactor: Default::default(),
            ..self.clone()
        }
    }

    /// The store, when there is one.
    pub fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }

    /// The secrets file, when one was read.
    pub fn file_path(&self) -> Option<&std::path::Path> {
        self.file_path.as_deref()
    }

    /// The names the secrets file holds.
    pub fn file_names(&self) -> impl Iterator<Item = &str> {
        self.file.iter().map(|(k, _)| k.as_str())
    }

    /// Whether a template may read `name` (it is in the store or the secrets file).
    /// Reads no value.
    pub fn knows(&self, name: &str) -> bool {
        self.store.as_ref().is_some_and(|s| s.contains(name))
            || self.file.iter().any(|(k, _)| k == name)
    }

    /// The value of a reference: a secret input of this run, else the store, else
    /// the secrets file. Not set: an error naming it, with the command that sets it.
    pub fn get(&self, r: &SecretRef) -> Result<Secret> {
        if let Some(input) = r.input() {
            let found = match (&self.store, &self.run) {
                (Some(s), Some(uid)) => s.run_input(uid, input)?,
                _ => None,
            };
            return found.ok_or_else(|| {
                Error::not_found(format!(
                    "the secret input `{input}` of this run is no longer kept (it is deleted when a run succeeds or is cancelled)"
                ))
                .with_hint("start a new run with the input")
            });
        }
        if let Some(s) = &self.store
            && let Some(v) = s.get(r.name())?
        {
            self.note(r.name(), v.expose());
            return Ok(v);
        }
        if let Some((_, v)) = self.file.iter().find(|(k, _)| k == r.name()) {
            return Ok(v.clone());
        }
        Err(
            Error::not_found(format!("the secret `{}` is not set", r.name()))
                .with_hint(format!("aios secret set {}", r.name())),
        )
    }

    /// Sealed text with its placeholders replaced by their values, in memory.
    pub fn resolve(&self, sealed: &str) -> Result<String> {
        placeholder::resolve(sealed, |r| self.get(r).map(|s| s.expose().to_string()))
    }

    /// Every string of a JSON value (object keys too) resolved, like [`Self::resolve`].
    pub fn resolve_json(&self, v: &Json) -> Result<Json> {
        Ok(match v {
            Json::String(s) => Json::String(self.resolve(s)?),
            Json::Array(items) => Json::Array(
                items
                    .iter()
                    .map(|i| self.resolve_json(i))
                    .collect::<Result<_>>()?,
            ),
            Json::Object(map) => {
                let mut out = serde_json::Map::with_capacity(map.len());
                for (k, v) in map {
                    out.insert(self.resolve(k)?, self.resolve_json(v)?);
                }
                Json::Object(out)
            }
            other => other.clone(),
        })
    }

    /// A configuration value: `secret("NAME")` is that secret's value, anything else
    /// is the value itself.
    pub fn resolve_config(&self, value: &str) -> Result<String> {
        match SecretRef::parse_config(value).map_err(Error::invalid)? {
            Some(r) => self.get(&r).map(|s| s.expose().to_string()),
            None => Ok(value.to_string()),
        }
    }

    /// Redact a value that was just injected (so what comes back is redacted even
    /// when the store changed after this view's redactor was built).
    fn note(&self, name: &str, value: &str) {
        let mut guard = self
            .redactor
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(r) = guard.as_mut() {
            r.add(name, value);
        }
    }

    fn with<T>(&self, f: impl FnOnce(&Redactor) -> T) -> T {
        let mut guard = self
            .redactor
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let r = guard.get_or_insert_with(|| self.build_redactor());
        f(r)
    }

    fn build_redactor(&self) -> Redactor {
        let mut r = Redactor::default();
        if let Some(s) = &self.store {
            for (k, v) in s.values() {
                r.add(&k, v.expose());
            }
            if let Some(uid) = &self.run {
                for (k, v) in s.run_values(uid) {
                    r.add(&format!("{}{k}", placeholder::INPUT_PREFIX), v.expose());
                }
            }
        }
        for (k, v) in self.file.iter().chain(self.redact_only.iter()) {
            r.add(k, v.expose());
        }
        r
    }

    /// Whether nothing is known to redact.
    pub fn nothing_to_redact(&self) -> bool {
        self.with(Redactor::is_empty)
    }

    /// `s` with every known secret value replaced by its placeholder.
    pub fn redact(&self, s: &str) -> String {
        self.with(|r| r.redact(s).into_owned())
    }

    /// Every string of `v` redacted, in place. Returns whether anything was.
    pub fn redact_json(&self, v: &mut Json) -> bool {
        self.with(|r| r.redact_json(v))
    }

    /// The name of a known secret whose value appears in `s`, if any.
    pub fn find_value(&self, s: &str) -> Option<String> {
        self.with(|r| r.find(s).map(str::to_string))
    }
}

/// Sealed text resolved against `secrets` (see [`Secrets::resolve`]).
pub fn resolve(sealed: &str, secrets: &Secrets) -> Result<String> {
    secrets.resolve(sealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_order_and_redaction() {
        let home = tempfile::tempdir().unwrap();
        let store = Store::new(home.path());
        store.set("A", "from-store", "t").unwrap();
        store
            .put_run("r1", &[("pw".into(), "input-value".into())], "t")
            .unwrap();
        let s = Secrets::new(store)
            .with_file(
                home.path().join("secrets.env"),
                vec![
                    ("A".into(), "from-file".into()),
                    ("B".into(), "file-b".into()),
                ],
            )
            .with_redacted("OPENAI_API_KEY", "sk-env-key");
        assert!(s.knows("A") && s.knows("B") && !s.knows("C"));
        assert_eq!(
            s.resolve("x secret(\"A\") secret(\"B\")").unwrap(),
            "x from-store file-b"
        );
        let e = s.resolve("secret(\"C\")").unwrap_err();
        assert_eq!(e.message, "the secret `C` is not set");
        assert_eq!(e.hint.as_deref(), Some("aios secret set C"));
        // A run's inputs only in its own view.
        assert!(s.resolve("secret(\"inputs.pw\")").is_err());
        let run = s.for_run("r1");
        assert_eq!(run.resolve("secret(\"inputs.pw\")").unwrap(), "input-value");
        assert_eq!(
            run.redact("from-store file-b sk-env-key input-value from-file"),
            "secret(\"A\") secret(\"B\") secret(\"OPENAI_API_KEY\") secret(\"inputs.pw\") secret(\"A\")"
        );
        assert_eq!(s.resolve_config("secret(\"B\")").unwrap(), "file-b");
        assert_eq!(s.resolve_config("literal").unwrap(), "literal");
        assert!(s.resolve_config("secret(B)").is_err());
        assert!(format!("{:?}", Secret::new("x")).contains("redacted"));
    }

    /// A value set after the view's redactor was built is redacted once injected.
    #[test]
    fn injected_values_are_redacted() {
        let home = tempfile::tempdir().unwrap();
        let store = Store::new(home.path());
        let s = Secrets::new(store.clone());
        assert!(s.nothing_to_redact());
        store.set("LATE", "late-value", "t").unwrap();
        assert_eq!(s.resolve("secret(\"LATE\")").unwrap(), "late-value");
        assert_eq!(s.redact("late-value"), "secret(\"LATE\")");
    }
}
