//! Backups: `[backup]` in the config (where daily copies go and how many are kept),
//! the daily copy `aios tick` makes, its rotation, and restoring a copy safely.
//! The copying itself is the journal's ([`Journal::backup_to`],
//! [`Journal::restore_from`]).

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::clock::{Millis, format_ms};
use crate::config::ConfigFile;
use crate::error::{Error, Result};
use crate::journal::{BackupFile, Journal, OpenOptions, check_backup};

/// `[backup]`: where copies go and how many daily ones are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSettings {
    /// Where `aios backup` (without PATH) and the daily copies write.
    pub dir: PathBuf,
    /// Daily copies kept (older ones are removed); `None`: no daily copies (no
    /// `[backup]` table).
    pub keep: Option<usize>,
}

impl BackupSettings {
    /// Read `[backup]`: `dir` (default `backups/` in the data folder; a relative
    /// path is relative to the config file's folder) and `keep` (default 7).
    pub fn from_config(cfg: &ConfigFile, data_dir: &Path) -> Result<BackupSettings> {
        let mut s = BackupSettings {
            dir: data_dir.join("backups"),
            keep: None,
        };
        let Some(v) = cfg.section("backup") else {
            return Ok(s);
        };
        let origin = cfg.origin();
        let bad = |key: &str, what: &str, hint: &str| {
            Error::invalid(format!("{origin}: `backup.{key}` {what}")).with_hint(hint.to_string())
        };
        let Some(t) = v.as_table() else {
            return Err(
                Error::invalid(format!("{origin}: `backup` must be a table"))
                    .with_hint("write it as [backup] with dir and keep"),
            );
        };
        for k in t.keys() {
            if !["dir", "keep"].contains(&k.as_str()) {
                return Err(bad(k, "is not a known key", "valid keys: dir, keep"));
            }
        }
        s.keep = Some(7);
        if let Some(d) = t.get("dir") {
            let Some(d) = d.as_str().filter(|d| !d.trim().is_empty()) else {
                return Err(bad(
                    "dir",
                    "must be a folder path",
                    "like dir = \"/var/backups/aios\"",
                ));
            };
            let d = PathBuf::from(d);
            let base = cfg
                .path
                .as_deref()
                .and_then(Path::parent)
                .unwrap_or(Path::new("."));
            s.dir = if d.is_absolute() { d } else { base.join(d) };
        }
        if let Some(k) = t.get("keep") {
            s.keep = match k.as_integer() {
                Some(n) if (1..=10_000).contains(&n) => Some(n as usize),
                _ => {
                    return Err(bad(
                        "keep",
                        "must be a whole number from 1 to 10000",
                        "like keep = 7",
                    ));
                }
            };
        }
        Ok(s)
    }
}

/// The file name of the daily copy of the UTC day of `now`: `aios-YYYY-MM-DD.db`.
pub fn daily_name(now: Millis) -> String {
    format!("aios-{}.db", &format_ms(now)[..10])
}

/// The file name of a copy made by hand at `now`: `aios-YYYY-MM-DDTHHMMSSZ.db`
/// (never removed by the rotation).
pub fn manual_name(now: Millis) -> String {
    let t = format_ms(now);
    format!("aios-{}T{}Z.db", &t[..10], t[11..19].replace(':', ""))
}

fn is_daily(name: &str) -> bool {
    let b = name.as_bytes();
    name.len() == "aios-YYYY-MM-DD.db".len()
        && name.starts_with("aios-")
        && name.ends_with(".db")
        && b[5..9].iter().all(u8::is_ascii_digit)
        && b[9] == b'-'
        && b[12] == b'-'
}

/// A copy made: where, how big, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Made {
    pub path: PathBuf,
    pub bytes: u64,
    /// Daily copies removed by the rotation.
    pub removed: Vec<PathBuf>,
}

/// Copy the database to `dest` and record it as the last backup.
pub fn backup(journal: &mut Journal, dest: &Path, by: &str) -> Result<Made> {
    let bytes = journal.backup_to(dest)?;
    let path = dest.canonicalize().unwrap_or_else(|_| dest.to_path_buf());
    journal.beat(
        "backup",
        by,
        &json!({ "path": path.display().to_string(), "bytes": bytes }),
    )?;
    Ok(Made {
        path,
        bytes,
        removed: Vec::new(),
    })
}

/// The daily copy (`aios tick`): when `[backup]` is set and today's copy is not
/// in its folder yet, make it, then keep the newest `keep` daily copies.
pub fn daily(journal: &mut Journal, s: &BackupSettings, by: &str) -> Result<Option<Made>> {
    let Some(keep) = s.keep else {
        return Ok(None);
    };
    let dest = s.dir.join(daily_name(journal.now()));
    if dest.exists() {
        return Ok(None);
    }
    let mut made = backup(journal, &dest, by)?;
    made.removed = rotate(&s.dir, keep)?;
    Ok(Some(made))
}

/// Remove all but the newest `keep` daily copies in `dir` (other files are left).
pub fn rotate(dir: &Path, keep: usize) -> Result<Vec<PathBuf>> {
    let mut daily: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| Error::storage(format!("cannot list {}: {e}", dir.display())))?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| is_daily(n))
        .collect();
    daily.sort();
    let mut removed = Vec::new();
    let n = daily.len().saturating_sub(keep);
    for name in &daily[..n] {
        let p = dir.join(name);
        std::fs::remove_file(&p)
            .map_err(|e| Error::storage(format!("cannot remove {}: {e}", p.display())))?;
        removed.push(p);
    }
    Ok(removed)
}

/// What stands in a restore's way: a daemon, or runs a live process executes.
pub fn restore_blockers(journal: &Journal, data_dir: &Path) -> Result<Vec<String>> {
    let mut why = Vec::new();
    if let Some(pid) = daemon_pid(data_dir) {
        why.push(format!("aios daemon (pid {pid}) ticks on this database"));
    }
    for (run, owner) in journal.live_leases()? {
        why.push(format!("run {run} is being executed by process {owner}"));
    }
    Ok(why)
}

/// The pid of the `aios daemon` that runs on `data_dir`, if one does (its
/// `daemon.lock` names a live process that holds the lock).
pub fn daemon_pid(data_dir: &Path) -> Option<u32> {
    let path = data_dir.join("daemon.lock");
    let pid: u32 = std::fs::read_to_string(&path).ok()?.trim().parse().ok()?;
    if !crate::journal::process_alive(pid) {
        return None;
    }
    let f = std::fs::File::open(&path).ok()?;
    match f.try_lock_shared() {
        Ok(()) => {
            let _ = f.unlock();
            None
        }
        Err(_) => Some(pid),
    }
}

/// A restore done: the copy restored, and where the replaced database was kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub from: BackupFile,
    pub kept: PathBuf,
}

/// Replace the database at `db` with the backup `src`: checked first (integrity, an
/// aios journal, a schema this build can open), refused while a daemon runs on it
/// or a run is being executed, the current database kept aside as
/// `aios.db.replaced-STAMP` beside it, then copied in under SQLite's locks and
/// migrated to this build's schema.
pub fn restore(
    db: &Path,
    src: &Path,
    clock: crate::clock::Clock,
    opts: OpenOptions,
) -> Result<Restored> {
    let from = check_backup(src)?;
    let data_dir = db.parent().unwrap_or(Path::new("."));
    let mut journal = Journal::open(db, clock, opts)?;
    let blockers = restore_blockers(&journal, data_dir)?;
    if !blockers.is_empty() {
        return Err(Error::conflict(format!(
            "cannot restore while the database is in use: {}",
            blockers.join("; ")
        ))
        .with_hint("stop the daemon (and aios serve), let running runs stop or cancel them, then run the restore again"));
    }
    let stamp = manual_name(journal.now());
    let kept = data_dir.join(format!(
        "aios.db.replaced-{}",
        stamp.trim_start_matches("aios-").trim_end_matches(".db")
    ));
    journal.backup_to(&kept)?;
    journal.restore_from(src)?;
    drop(journal);
    // Opening migrates a copy made by an older build.
    Journal::open(db, clock, opts)?;
    Ok(Restored { from, kept })
}
