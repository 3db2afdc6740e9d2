//! The secret store: one file per secret under `<data dir>/secrets/` (folder 0700,
//! files 0600), and a run's secret inputs under `secrets/runs/<run uid>/` until the
//! run ends. A file holds `{"value": …, "set_at": …}`; it is written to a fresh,
//! exclusively created temporary file and renamed into place, so a reader never sees
//! half a secret and two writers never share a temporary file.
//!
//! Nothing here reads the environment or the journal. A file or folder that others
//! may read is refused (as the secrets file is), never silently used.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Secret;
use super::name::{NAME_HINT, valid_name};
use crate::error::{Error, Result};

/// The folder of the store under the data directory.
pub const DIR: &str = "secrets";
/// Where runs' secret inputs live inside the store.
const RUNS: &str = "runs";

/// A secret as listed: its name and when it was set, never its value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    pub name: String,
    /// RFC 3339, as the clock read when it was set.
    pub set_at: String,
}

#[derive(Serialize, Deserialize)]
struct FileBody {
    value: String,
    set_at: String,
}

/// The store of one data directory. Cheap to clone; touches the disk only when asked.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// The store of the data directory `data_dir` (nothing is created yet).
    pub fn new(data_dir: &Path) -> Store {
        Store {
            dir: data_dir.join(DIR),
        }
    }

    /// Its folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> Result<PathBuf> {
        if !valid_name(name) {
            return Err(
                Error::invalid(format!("`{name}` is not a secret name")).with_hint(NAME_HINT)
            );
        }
        Ok(self.dir.join(name))
    }

    fn run_dir(&self, uid: &str) -> Result<PathBuf> {
        if uid.is_empty() || !uid.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(Error::other(format!("`{uid}` is not a run uid")));
        }
        Ok(self.dir.join(RUNS).join(uid))
    }

    /// Set `name` to `value`. Returns whether it replaced an earlier value.
    pub fn set(&self, name: &str, value: &str, set_at: &str) -> Result<bool> {
        let path = self.path(name)?;
        let existed = path.exists();
        write_private(&self.dir, &path, value, set_at)?;
        Ok(existed)
    }

    /// The value of `name`, `None` when it is not set.
    pub fn get(&self, name: &str) -> Result<Option<Secret>> {
        read_value(&self.path(name)?)
    }

    /// Whether `name` is set (its value is not read).
    pub fn contains(&self, name: &str) -> bool {
        self.path(name).is_ok_and(|p| p.is_file())
    }

    /// Remove `name`. Returns whether it was there.
    pub fn remove(&self, name: &str) -> Result<bool> {
        let path = self.path(name)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(storage(&path, e)),
        }
    }

    /// Every secret of the store, by name, without values.
    pub fn list(&self) -> Result<Vec<Entry>> {
        list_dir(&self.dir)
    }

    /// Every name and value, for redaction. Entries that cannot be read are left
    /// out: a value aios cannot read is one it never injects.
    pub fn values(&self) -> Vec<(String, Secret)> {
        values_of(&self.dir)
    }

    /// Keep a run's secret inputs (its uid names the folder) until it ends.
    pub fn put_run(&self, uid: &str, inputs: &[(String, String)], set_at: &str) -> Result<()> {
        let dir = self.run_dir(uid)?;
        for (name, value) in inputs {
            if !valid_name(name) {
                return Err(Error::invalid(format!("`{name}` is not an input name")));
            }
            write_private(&dir, &dir.join(name), value, set_at)?;
        }
        Ok(())
    }

    /// A run's secret input, `None` when it is not kept (any more).
    pub fn run_input(&self, uid: &str, name: &str) -> Result<Option<Secret>> {
        if !valid_name(name) {
            return Ok(None);
        }
        read_value(&self.run_dir(uid)?.join(name))
    }

    /// A run's secret inputs, for redaction (unreadable ones left out).
    pub fn run_values(&self, uid: &str) -> Vec<(String, Secret)> {
        match self.run_dir(uid) {
            Ok(d) => values_of(&d),
            Err(_) => Vec::new(),
        }
    }

    /// Forget a run's secret inputs (the run ended).
    pub fn remove_run(&self, uid: &str) -> Result<()> {
        let dir = self.run_dir(uid)?;
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(storage(&dir, e)),
        }
    }

    /// The runs with kept secret inputs: (run uid, inputs).
    pub fn runs(&self) -> Result<Vec<(String, Vec<Entry>)>> {
        let root = self.dir.join(RUNS);
        let mut out = Vec::new();
        let rd = match fs::read_dir(&root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(storage(&root, e)),
        };
        for e in rd {
            let e = e.map_err(|e| storage(&root, e))?;
            let Some(uid) = e.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if e.path().is_dir() && uid.chars().all(|c| c.is_ascii_alphanumeric()) {
                out.push((uid, list_dir(&e.path())?));
            }
        }
        out.sort();
        Ok(out)
    }
}

fn storage(path: &Path, e: std::io::Error) -> Error {
    Error::storage(format!(
        "cannot use the secret store at {}: {e}",
        path.display()
    ))
    .with_hint("check that the data directory is yours and writable")
}

/// Create `dir` (and its parents) and make it 0700.
fn private_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| storage(dir, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|e| storage(dir, e))?;
    }
    Ok(())
}

/// Write `path` (0600) through an exclusively created temporary file in `dir`.
fn write_private(dir: &Path, path: &Path, value: &str, set_at: &str) -> Result<()> {
    private_dir(dir)?;
    if let Some(parent) = dir.parent()
        && parent.ends_with(RUNS)
    {
        private_dir(parent)?;
    }
    let body = serde_json::to_vec(&FileBody {
        value: value.to_string(),
        set_at: set_at.to_string(),
    })
    .map_err(|e| Error::other(format!("cannot encode a secret: {e}")))?;
    let mut tag = [0u8; 8];
    getrandom::fill(&mut tag)
        .map_err(|e| Error::other(format!("cannot read random bytes from the OS: {e}")))?;
    let tmp = dir.join(format!(".tmp-{}", hex::encode(tag)));
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let written = (|| {
        let mut f = opts.open(&tmp)?;
        f.write_all(&body)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok::<_, std::io::Error>(())
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(storage(path, e));
    }
    Ok(())
}

/// Refuse a file or folder that others may read or write.
fn check_private(path: &Path, meta: &fs::Metadata) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(Error::storage(format!(
                "{} is open to others (mode {mode:04o}); aios does not use it",
                path.display()
            ))
            .with_hint(format!("restrict it with: chmod go-rwx {}", path.display())));
        }
    }
    #[cfg(not(unix))]
    let _ = (path, meta);
    Ok(())
}

fn read_body(path: &Path) -> Result<Option<FileBody>> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(storage(path, e)),
    };
    if !meta.is_file() {
        return Err(Error::storage(format!(
            "{} is not a plain file; aios does not use it",
            path.display()
        )));
    }
    check_private(path, &meta)?;
    if let Some(dir) = path.parent()
        && let Ok(m) = fs::metadata(dir)
    {
        check_private(dir, &m)?;
    }
    let bytes = fs::read(path).map_err(|e| storage(path, e))?;
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        Error::storage(format!("{} is damaged: {e}", path.display()))
            .with_hint("set the secret again with: aios secret set NAME")
    })
}

fn read_value(path: &Path) -> Result<Option<Secret>> {
    Ok(read_body(path)?.map(|b| Secret::new(b.value)))
}

fn names_in(dir: &Path) -> Result<Vec<String>> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(storage(dir, e)),
    };
    let mut names = Vec::new();
    for e in rd {
        let e = e.map_err(|e| storage(dir, e))?;
        if let Some(n) = e.file_name().to_str()
            && valid_name(n)
            && e.file_type().is_ok_and(|t| t.is_file())
        {
            names.push(n.to_string());
        }
    }
    names.sort();
    Ok(names)
}

fn list_dir(dir: &Path) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    for name in names_in(dir)? {
        if let Some(b) = read_body(&dir.join(&name))? {
            out.push(Entry {
                name,
                set_at: b.set_at,
            });
        }
    }
    Ok(out)
}

fn values_of(dir: &Path) -> Vec<(String, Secret)> {
    let Ok(names) = names_in(dir) else {
        return Vec::new();
    };
    names
        .into_iter()
        .filter_map(|n| match read_value(&dir.join(&n)) {
            Ok(Some(v)) => Some((n, v)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn set_get_list_remove() {
        let home = tempfile::tempdir().unwrap();
        let s = Store::new(home.path());
        assert_eq!(s.list().unwrap(), vec![]);
        assert!(s.get("A").unwrap().is_none());
        assert!(!s.set("A", "one", "2026-11-21T09:30:00Z").unwrap());
        assert!(s.set("A", "two", "2026-11-22T09:30:00Z").unwrap());
        s.set("B", "b\nwith \"quotes\"", "t").unwrap();
        assert_eq!(s.get("A").unwrap().unwrap().expose(), "two");
        assert_eq!(s.get("B").unwrap().unwrap().expose(), "b\nwith \"quotes\"");
        assert!(s.contains("A") && !s.contains("C"));
        let names: Vec<_> = s.list().unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["A", "B"]);
        assert_eq!(s.list().unwrap()[0].set_at, "2026-11-22T09:30:00Z");
        #[cfg(unix)]
        {
            assert_eq!(mode(s.dir()), 0o700);
            assert_eq!(mode(&s.dir().join("A")), 0o600);
        }
        // No temporary file is left behind.
        let left: Vec<_> = fs::read_dir(s.dir()).unwrap().collect();
        assert_eq!(left.len(), 2);
        assert!(s.remove("A").unwrap());
        assert!(!s.remove("A").unwrap());
        assert!(s.set("no-dash", "x", "t").is_err());
        assert!(s.get("../x").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn files_open_to_others_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().unwrap();
        let s = Store::new(home.path());
        s.set("A", "x", "t").unwrap();
        fs::set_permissions(s.dir().join("A"), fs::Permissions::from_mode(0o644)).unwrap();
        let e = s.get("A").unwrap_err();
        assert!(e.message.contains("open to others"), "{}", e.message);
        assert!(s.values().is_empty());
    }

    #[test]
    fn run_inputs_live_until_removed() {
        let home = tempfile::tempdir().unwrap();
        let s = Store::new(home.path());
        s.put_run("abc123", &[("pw".into(), "p".into())], "t")
            .unwrap();
        assert_eq!(s.run_input("abc123", "pw").unwrap().unwrap().expose(), "p");
        assert!(s.run_input("abc123", "other").unwrap().is_none());
        assert_eq!(s.runs().unwrap().len(), 1);
        // Run folders are not secrets of the store.
        assert!(s.list().unwrap().is_empty());
        s.remove_run("abc123").unwrap();
        assert!(s.run_input("abc123", "pw").unwrap().is_none());
        assert!(s.runs().unwrap().is_empty());
        assert!(s.put_run("../x", &[], "t").is_err());
    }
}
