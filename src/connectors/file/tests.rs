//! The file connector's commit against a racing swapper, and its edit rule (the root
//! stays as proposed). The sandbox's single operations are tested in
//! `connectors/sandbox/tests.rs`; end-to-end escapes in `tests/cli/sandbox.rs`.

use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::*;
use crate::connectors::{Action, Resources};

fn action(root: &Path, path: &str, content: &str, append: bool) -> FileAction {
    FileAction {
        root: root.display().to_string(),
        path: path.into(),
        content: content.into(),
        mode: if append {
            FileMode::Append
        } else {
            FileMode::Write
        },
    }
}

#[test]
fn the_root_cannot_be_edited() {
    let proposed = action(Path::new("/srv/out"), "a.txt", "x", false);
    let mut edit = proposed.clone();
    edit.root = "/".into();
    edit.path = "etc/cron.d/x".into();
    let err = edit.validate_edit(&proposed).unwrap_err();
    assert_eq!(
        err,
        r#"`root` cannot be edited (proposed "/srv/out", edited "/"); an edit may change the path, content and mode beneath the root"#
    );
    // Spelled differently is still a change: the root is compared as written.
    edit.root = "/srv/out/".into();
    edit.path = "a.txt".into();
    assert!(edit.validate_edit(&proposed).is_err());
    let mut ok = proposed.clone();
    ok.path = "b/c.txt".into();
    ok.content = "y".into();
    ok.mode = FileMode::Append;
    assert_eq!(ok.validate_edit(&proposed), Ok(()));
}

/// Every file (and symlink target) under `dir`, with its content.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                stack.push(p.clone());
                out.insert(p, b"<dir>".to_vec());
            } else if meta.is_symlink() {
                out.insert(
                    p.clone(),
                    std::fs::read_link(&p)
                        .unwrap()
                        .into_os_string()
                        .into_encoded_bytes(),
                );
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// What the swapper does, over and over until told to stop, inside `root` only:
/// - `t.txt` becomes a regular file, then a symlink to `outside/victim.txt` (each by
///   an atomic rename over the name);
/// - `d` becomes a symlink to `outside`, then a real folder again;
/// - every temporary file aios creates (`.aios-*`) that it sees is replaced by a
///   symlink to `outside/victim.txt`.
///
/// Hard links are not swapped here: a planted one is refused (see the sandbox's
/// tests), but one swapped in between an append's open and its check is the limit
/// the README states (Linux's `fs.protected_hardlinks` only lets a process link a
/// file it could already write).
fn swapper(root: PathBuf, outside: PathBuf, stop: Arc<AtomicBool>, swaps: Arc<AtomicU64>) {
    let victim = outside.join("victim.txt");
    let at = |n: &str| root.join(n);
    let over = |from: &str, to: &Path| {
        let _ = std::fs::rename(at(from), to);
    };
    while !stop.load(Ordering::Relaxed) {
        // The target: a file, then a symlink out.
        let _ = std::fs::write(at(".racer-f"), "racer");
        over(".racer-f", &at("t.txt"));
        let _ = symlink(&victim, at(".racer-l"));
        over(".racer-l", &at("t.txt"));
        // The parent folder: a symlink out, then a folder again.
        if std::fs::symlink_metadata(at("d")).is_ok_and(|m| m.is_dir()) {
            over("d", &at(".racer-gone"));
            let _ = std::fs::remove_dir_all(at(".racer-gone"));
        }
        let _ = symlink(&outside, at(".racer-dl"));
        over(".racer-dl", &at("d"));
        let _ = std::fs::remove_file(at(".racer-dl"));
        // Temporary names, in the root and in `d` while it is a real folder (the
        // swapper never lists through its own symlink).
        for folder in [root.clone(), at("d")] {
            if !std::fs::symlink_metadata(&folder).is_ok_and(|m| m.is_dir()) {
                continue;
            }
            let Ok(entries) = std::fs::read_dir(&folder) else {
                continue;
            };
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(".aios-") {
                    let _ = symlink(&victim, folder.join(".racer-t"));
                    let _ = std::fs::rename(folder.join(".racer-t"), e.path());
                }
            }
        }
        if std::fs::symlink_metadata(at("d")).is_ok_and(|m| m.is_symlink()) {
            let _ = std::fs::remove_file(at("d"));
        }
        let _ = std::fs::create_dir(at("d"));
        swaps.fetch_add(1, Ordering::Relaxed);
    }
}

/// Issue 10: 8 of 300 appends landed outside the root while a racer swapped a file and
/// a symlink. Now 1,000 writes and appends (half each) race a swapper and nothing outside
/// the root changes.
#[test]
fn a_racing_swapper_gets_no_write_outside_in_1000_tries() {
    const TRIES: usize = 1000;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(root.join("d")).unwrap();
    std::fs::create_dir_all(outside.join("d")).unwrap();
    std::fs::write(outside.join("victim.txt"), "keep").unwrap();
    std::fs::write(outside.join("x.txt"), "keep x").unwrap();
    // The temporary name the old implementation used, planted in advance.
    symlink(outside.join("victim.txt"), root.join(".t.txt.aios-tmp")).unwrap();
    let before = snapshot(&outside);

    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicU64::new(0));
    let racer = {
        let (root, outside, stop, swaps) =
            (root.clone(), outside.clone(), stop.clone(), swaps.clone());
        std::thread::spawn(move || swapper(root, outside, stop, swaps))
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while swaps.load(Ordering::Relaxed) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the swapper never ran"
        );
        std::thread::yield_now();
    }

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let res = Resources::default();
    let (mut ok, mut escapes, mut other) = (0, 0, 0);
    for i in 0..TRIES {
        // Each pair of tries writes then appends; the target alternates every pair.
        let append = i % 2 == 1;
        let path = if i % 4 < 2 { "t.txt" } else { "d/x.txt" };
        let a = Action::File(action(&root, path, "aios\n", append));
        match rt.block_on(a.commit(&res, None, &crate::trust::Persona::open())) {
            Ok(_) => ok += 1,
            Err(e) if e.message.contains("escapes the root folder") => escapes += 1,
            Err(_) => other += 1,
        }
    }
    stop.store(true, Ordering::Relaxed);
    racer.join().unwrap();

    let counts = format!(
        "{ok} committed, {escapes} refused as escapes, {other} other errors, {} swaps",
        swaps.load(Ordering::Relaxed)
    );
    assert_eq!(
        snapshot(&outside),
        before,
        "outside the root changed: {counts}"
    );
    assert_eq!(ok + escapes + other, TRIES);
    // The swapper did get in the way, and aios still committed most of the time.
    assert!(escapes + other > 0, "{counts}");
    assert!(ok > 0, "{counts}");
    // The planted name was never touched.
    assert_eq!(
        std::fs::read_link(root.join(".t.txt.aios-tmp")).unwrap(),
        outside.join("victim.txt")
    );
}
