//! Inbound webhooks: a hook is a name, a workflow snapshot and settings (in the
//! journal) and a secret (in a 0600 file under the data directory, never in the
//! journal). This module owns the secrets, the lookup of a hook for a request
//! ([`load`]) and the reading of a body into a run's inputs ([`inputs`]); the
//! signature schemes are in [`super::signatures`], the HTTP side in [`super::serve`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::Value as Json;

use crate::engine::{self, NewRun};
use crate::error::{Error, Result};
use crate::journal::{Event, HookRecord, HookSettings, Journal};
use crate::workflow::{self, Workflow};

/// Where a hook's secret is kept: `<data dir>/hooks/<name>.secret`, mode 0600.
pub fn secret_path(data_dir: &Path, name: &str) -> PathBuf {
    data_dir.join("hooks").join(format!("{name}.secret"))
}

/// Every hook's secret, by hook name (for redaction; unreadable files left out).
pub fn all_secrets(data_dir: &Path) -> Vec<(String, String)> {
    let Ok(rd) = std::fs::read_dir(data_dir.join("hooks")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(hook) = name.strip_suffix(".secret")
            && let Ok(Some(s)) = read_secret(&e.path())
        {
            out.push((hook.to_string(), s));
        }
    }
    out.sort();
    out
}

/// Hook names appear in URLs and file names: letters, digits, `-` and `_`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A new secret: 32 random bytes from the OS, hex.
pub fn new_secret() -> Result<String> {
    let mut buf = [0u8; 32];
    getrandom::fill(&mut buf)
        .map_err(|e| Error::other(format!("cannot read random bytes from the OS: {e}")))?;
    Ok(hex::encode(buf))
}

/// Write a secret file readable by its owner only (its folder 0700).
pub fn write_secret(path: &Path, secret: &str) -> Result<()> {
    let fail = |e: std::io::Error| {
        Error::storage(format!("cannot write {}: {e}", path.display()))
            .with_hint("check that the data directory is writable")
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(fail)?;
        }
    }
    let tmp = path.with_extension("secret.tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    {
        use std::io::Write;
        let mut f = opts.open(&tmp).map_err(fail)?;
        f.write_all(secret.as_bytes()).map_err(fail)?;
        f.sync_all().map_err(fail)?;
    }
    std::fs::rename(&tmp, path).map_err(fail)
}

/// Check a secret the operator gives (a provider's signing secret): 1 to 4096
/// bytes, no control characters, no blank space at either end (a secret file is
/// read back trimmed). The error says what is wrong, never the secret.
pub fn check_secret(s: &str) -> std::result::Result<(), String> {
    if s.is_empty() {
        return Err("the secret is empty".into());
    }
    if s.len() > 4096 {
        return Err("the secret is longer than 4096 bytes".into());
    }
    if s.chars().any(char::is_control) {
        return Err("the secret holds a control character (a second line?)".into());
    }
    if s.trim() != s {
        return Err("the secret starts or ends with blank space".into());
    }
    Ok(())
}

/// A hook's secret, or `None` when its file is missing.
pub fn read_secret(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s.trim().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::storage(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// Why a request was refused: an HTTP status and a message for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub status: u16,
    pub message: String,
}

pub fn refused(status: u16, message: impl Into<String>) -> Refused {
    Refused {
        status,
        message: message.into(),
    }
}

/// The server cannot answer for now (the journal is unavailable, the hook's secret
/// file is missing, its workflow no longer loads): `503`, try again later.
pub fn unavailable(message: impl Into<String>) -> Refused {
    refused(503, message)
}

/// A hook as a request to it needs it.
#[derive(Debug, Clone)]
pub struct Hook {
    pub record: HookRecord,
    pub source: Arc<str>,
    pub workflow: Arc<Workflow>,
    pub secret: String,
}

/// Parsed workflow snapshots by source hash, so a busy hook is not re-parsed on
/// every request.
#[derive(Debug, Default)]
pub struct WorkflowCache(Mutex<HashMap<String, Arc<Workflow>>>);

impl WorkflowCache {
    fn get(&self, hash: &str, source: &str, origin: &str) -> Option<Arc<Workflow>> {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(wf) = map.get(hash) {
            return Some(wf.clone());
        }
        let wf = Arc::new(workflow::load(source, origin).ok()?);
        if map.len() >= 64 {
            map.clear();
        }
        map.insert(hash.to_string(), wf.clone());
        Some(wf)
    }
}

/// Find hook `name` and its secret: `404` when there is no such hook, `503` when it
/// cannot be used now (see [`unavailable`]).
pub fn load(
    journal: &Journal,
    data_dir: &Path,
    name: &str,
    cache: &WorkflowCache,
) -> std::result::Result<Hook, Refused> {
    let not_found = || refused(404, format!("no hook `{name}`"));
    if !valid_name(name) {
        return Err(not_found());
    }
    let (record, source) = journal
        .hook(name)
        .map_err(|e| unavailable(format!("the journal cannot be read: {}", e.message)))?
        .ok_or_else(not_found)?;
    let secret = read_secret(&secret_path(data_dir, name))
        .map_err(|e| unavailable(e.message))?
        .ok_or_else(|| {
            unavailable(format!(
                "hook `{name}` has no secret file; re-add it with: aios hook add {name} FILE --rotate"
            ))
        })?;
    let workflow = cache
        .get(&record.source_hash, &source, &record.path)
        .ok_or_else(|| {
            unavailable(format!(
                "the workflow stored with hook `{name}` no longer loads; re-add it with: aios hook add {name} FILE"
            ))
        })?;
    Ok(Hook {
        record,
        source: source.into(),
        workflow,
        secret,
    })
}

/// Check that a hook's settings fit its workflow (at `hook add`): the `payload`
/// input is declared, and every other required input has a default (a payload hook
/// gives no other input). The error says what to change.
pub fn check_settings(wf: &Workflow, settings: &HookSettings) -> std::result::Result<(), String> {
    let Some(payload) = &settings.payload else {
        return Ok(());
    };
    if !wf.inputs.iter().any(|i| &i.name == payload) {
        return Err(format!(
            "workflow `{}` declares no input `{payload}` to receive the body; declare it:\n[inputs.{payload}]\ntype = \"object\"",
            wf.name
        ));
    }
    let unmet: Vec<&str> = wf
        .inputs
        .iter()
        .filter(|i| &i.name != payload && i.required && i.default.is_none())
        .map(|i| i.name.as_str())
        .collect();
    if !unmet.is_empty() {
        return Err(format!(
            "with --payload {payload} the body is the only input, but workflow `{}` also requires {}: give them a default or make them optional",
            wf.name,
            unmet
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(())
}

/// A body as the run's inputs: `400` when it is not JSON or does not fit. By
/// default each field of the (object) body is one input; with `payload` the whole
/// body is that one input. Either way values must have their declared JSON type.
pub fn inputs(hook: &Hook, body: &[u8]) -> std::result::Result<Json, Refused> {
    let value: Json = serde_json::from_slice(body)
        .map_err(|e| refused(400, format!("the body is not JSON: {e}")))?;
    let given = match &hook.record.settings.payload {
        Some(name) => serde_json::Map::from_iter([(name.clone(), value)]),
        None => match value {
            Json::Object(m) => m,
            _ => {
                return Err(refused(
                    400,
                    "the body must be a JSON object of the workflow's inputs",
                ));
            }
        },
    };
    let wf = &hook.workflow;
    workflow::resolve_typed_inputs(wf, &given).map_err(|d| {
        refused(
            400,
            format!(
                "the inputs do not fit workflow `{}`: {}",
                wf.name,
                d.iter()
                    .map(|d| d.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        )
    })
}

/// The `RunCreated` event of a run of `hook` with `inputs` (secret inputs already
/// replaced by their placeholders), under `uid` when the caller chose it.
pub fn run_created(hook: &Hook, inputs: Json, uid: Option<String>) -> Event {
    let dir = PathBuf::from(&hook.record.dir);
    engine::created_event(NewRun {
        workflow: &hook.workflow,
        source: &hook.source,
        path: Some(&hook.record.path),
        dir: &dir,
        inputs,
        uid,
        dry: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const WF: &str = r#"
name = "w"
[inputs.event]
type = "object"
[inputs.note]
type = "string"
default = "n"
[[steps]]
id = "a"
kind = "set"
values = { x = 1 }
"#;

    fn hook(payload: Option<&str>) -> Hook {
        let wf = workflow::load(WF, "w.toml").unwrap();
        Hook {
            record: HookRecord {
                name: "h".into(),
                path: "w.toml".into(),
                dir: "/tmp".into(),
                source_hash: "x".into(),
                created_at: 0,
                updated_at: 0,
                settings: HookSettings {
                    payload: payload.map(str::to_string),
                    ..Default::default()
                },
            },
            source: WF.into(),
            workflow: Arc::new(wf),
            secret: "s".into(),
        }
    }

    #[test]
    fn a_payload_hook_takes_the_whole_body_as_one_input() {
        let h = hook(Some("event"));
        let body = br#"{"action": "opened", "number": 7, "pull_request": {"title": "x"}}"#;
        let v = inputs(&h, body).unwrap();
        assert_eq!(v["event"]["pull_request"]["title"], "x");
        assert_eq!(v["note"], "n");
        // The body must still have the input's type.
        let e = inputs(&h, b"[1, 2]").unwrap_err();
        assert_eq!(e.status, 400);
        assert!(
            e.message
                .contains("input `event` must be an object, got an array"),
            "{}",
            e.message
        );
        // Field by field, the same body has unknown inputs.
        let e = inputs(&hook(None), body).unwrap_err();
        assert!(
            e.message.contains("unknown input `action`"),
            "{}",
            e.message
        );
        assert_eq!(inputs(&h, b"{nope").unwrap_err().status, 400);
    }

    #[test]
    fn settings_must_fit_the_workflow() {
        let wf = workflow::load(WF, "w.toml").unwrap();
        let with = |p: &str| HookSettings {
            payload: Some(p.into()),
            ..Default::default()
        };
        assert_eq!(check_settings(&wf, &with("event")), Ok(()));
        assert!(
            check_settings(&wf, &with("body"))
                .unwrap_err()
                .contains("declares no input `body`")
        );
        let e = check_settings(&wf, &with("note")).unwrap_err();
        assert!(e.contains("also requires `event`"), "{e}");
        assert_eq!(check_settings(&wf, &HookSettings::default()), Ok(()));
    }

    #[test]
    fn given_secrets_are_checked() {
        assert_eq!(check_secret("whsec_abc"), Ok(()));
        for bad in ["", " x", "x ", "a\nb", "a\tb"] {
            assert!(check_secret(bad).is_err(), "{bad:?}");
        }
        assert!(check_secret(&"x".repeat(4097)).is_err());
    }

    #[test]
    fn names_and_secrets() {
        assert!(valid_name("gh-push_1"));
        assert!(!valid_name("../x") && !valid_name("") && !valid_name("a b"));
        let a = new_secret().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, new_secret().unwrap());
    }
}
