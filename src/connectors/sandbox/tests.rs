//! The sandbox alone: relative paths, each operation against symlinks (in and out of
//! the root), planted temporary names, FIFOs, hard links and size caps. The race
//! against a swapper is in `connectors/tests.rs`, through the file connector's commit.

use std::os::unix::fs::symlink;
use std::path::Path;

use super::*;

struct Fixture {
    _tmp: tempfile::TempDir,
    root_path: PathBuf,
    outside: PathBuf,
    root: Root,
}

/// `root/` (opened as the sandbox) and `outside/secret.txt` ("keep") beside it.
fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root_path = tmp.path().join("root");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "keep").unwrap();
    let root = Root::create(&root_path).unwrap();
    Fixture {
        _tmp: tmp,
        root_path,
        outside,
        root,
    }
}

fn rel(p: &str) -> RelPath {
    RelPath::new(p).unwrap()
}

fn assert_outside_untouched(f: &Fixture) {
    let names: Vec<_> = std::fs::read_dir(&f.outside)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["secret.txt"], "files outside the root");
    assert_eq!(
        std::fs::read_to_string(f.outside.join("secret.txt")).unwrap(),
        "keep"
    );
}

#[test]
fn relative_paths_are_normalized_and_may_not_leave_the_root() {
    assert_eq!(rel("a/./b/../c.txt").as_path(), Path::new("a/c.txt"));
    assert_eq!(rel("a/c.txt").parent(), Some(Path::new("a")));
    assert_eq!(rel("c.txt").parent(), None);
    assert_eq!(rel("a/c.txt").file_name(), "c.txt");
    assert_eq!(rel("a/../c.txt").as_str(), "a/../c.txt");
    for (bad, problem) in [
        ("", PathProblem::Empty),
        ("  ", PathProblem::Empty),
        ("/etc/passwd", PathProblem::Absolute),
        ("\\x", PathProblem::Absolute),
        ("../x", PathProblem::Escapes),
        ("a/../../x", PathProblem::Escapes),
        (".", PathProblem::IsRoot),
        ("a/..", PathProblem::IsRoot),
        ("a\0b", PathProblem::Nul),
    ] {
        assert_eq!(RelPath::new(bad).unwrap_err().problem, problem, "{bad:?}");
    }
    assert_eq!(
        RelPath::new("../x").unwrap_err().to_string(),
        "path `../x` escapes the root folder"
    );
}

#[test]
fn writes_create_folders_and_replace_files_atomically() {
    let f = fixture();
    f.root.create_dir_all(&rel("a/b")).unwrap();
    f.root.write_atomic(&rel("a/b/c.txt"), b"one").unwrap();
    f.root.write_atomic(&rel("a/b/c.txt"), b"two").unwrap();
    assert_eq!(
        std::fs::read_to_string(f.root_path.join("a/b/c.txt")).unwrap(),
        "two"
    );
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(f.root_path.join("a/b"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["c.txt"]);
    // A missing folder is an IO error, not created silently by the write.
    let err = f.root.write_atomic(&rel("nope/x.txt"), b"x").unwrap_err();
    assert!(matches!(err, SandboxError::Io { .. }), "{err}");
}

#[test]
fn a_symlinked_folder_leading_out_is_refused_for_every_operation() {
    let f = fixture();
    symlink(&f.outside, f.root_path.join("link")).unwrap();
    let escapes = |r: Result<(), SandboxError>| match r {
        Err(SandboxError::Escape { path, .. }) => assert!(path.starts_with("link")),
        other => panic!("not refused as an escape: {other:?}"),
    };
    escapes(f.root.write_atomic(&rel("link/secret.txt"), b"x"));
    escapes(f.root.write_atomic(&rel("link/new.txt"), b"x"));
    escapes(f.root.open_append(&rel("link/secret.txt")).map(drop));
    escapes(f.root.open_append(&rel("link/new.txt")).map(drop));
    escapes(f.root.open_read(&rel("link/secret.txt")).map(drop));
    escapes(f.root.create_dir_all(&rel("link/sub")));
    escapes(f.root.create_dir_all(&rel("link")));
    let err = f.root.write_atomic(&rel("link/x"), b"x").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "path `link/x` escapes the root folder {} through a symlink",
            f.root_path.display()
        )
    );
    assert!(!err.is_retryable());
    assert_outside_untouched(&f);
}

#[test]
fn a_symlink_out_of_the_root_at_the_target_is_refused_by_every_operation() {
    let f = fixture();
    symlink(f.outside.join("secret.txt"), f.root_path.join("t.txt")).unwrap();
    let escapes = |r: Result<(), SandboxError>| match r {
        Err(SandboxError::Escape { path, .. }) => assert_eq!(path, "t.txt"),
        other => panic!("not refused as an escape: {other:?}"),
    };
    escapes(f.root.write_atomic(&rel("t.txt"), b"x"));
    escapes(f.root.open_append(&rel("t.txt")).map(drop));
    escapes(f.root.open_read(&rel("t.txt")).map(drop));
    // A dangling link out of the root is not followed to create its target either.
    symlink(f.outside.join("new.txt"), f.root_path.join("d.txt")).unwrap();
    let err = f.root.open_append(&rel("d.txt")).unwrap_err();
    assert!(matches!(err, SandboxError::Escape { .. }), "{err}");
    let err = f.root.write_atomic(&rel("d.txt"), b"x").unwrap_err();
    assert!(matches!(err, SandboxError::Escape { .. }), "{err}");
    assert_outside_untouched(&f);
    // The links are left as they were, no temporary file behind.
    assert!(
        std::fs::symlink_metadata(f.root_path.join("t.txt"))
            .unwrap()
            .is_symlink()
    );
    let mut names: Vec<_> = std::fs::read_dir(&f.root_path)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["d.txt", "t.txt"]);
}

#[test]
fn symlinks_that_stay_inside_are_followed_but_absolute_ones_are_not() {
    let f = fixture();
    std::fs::create_dir_all(f.root_path.join("reports/2026")).unwrap();
    symlink("reports/2026", f.root_path.join("latest")).unwrap();
    symlink("../notes.txt", f.root_path.join("reports/notes")).unwrap();
    f.root.write_atomic(&rel("latest/a.txt"), b"a").unwrap();
    assert_eq!(
        std::fs::read_to_string(f.root_path.join("reports/2026/a.txt")).unwrap(),
        "a"
    );
    let mut file = f.root.open_append(&rel("reports/notes")).unwrap();
    file.write_all(b"n").unwrap();
    assert_eq!(
        std::fs::read_to_string(f.root_path.join("notes.txt")).unwrap(),
        "n"
    );
    assert_eq!(f.root.read(&rel("latest/a.txt"), 10).unwrap(), b"a");
    // A write to a link inside replaces the file it points to; the link stays.
    symlink("reports/2026/a.txt", f.root_path.join("current")).unwrap();
    f.root.write_atomic(&rel("current"), b"new").unwrap();
    assert!(
        std::fs::symlink_metadata(f.root_path.join("current"))
            .unwrap()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read_to_string(f.root_path.join("reports/2026/a.txt")).unwrap(),
        "new"
    );
    // An absolute link is refused even when it names a place inside the root.
    symlink(f.root_path.join("reports"), f.root_path.join("abs")).unwrap();
    let err = f.root.write_atomic(&rel("abs/b.txt"), b"b").unwrap_err();
    assert!(matches!(err, SandboxError::Escape { .. }), "{err}");
}

#[test]
fn planted_temporary_names_are_never_opened() {
    let f = fixture();
    // The names the old implementation used, and a guess at the new pattern.
    for planted in [".t.txt.aios-tmp", ".aios-0000000000000000.tmp"] {
        symlink(f.outside.join("secret.txt"), f.root_path.join(planted)).unwrap();
    }
    for _ in 0..20 {
        f.root.write_atomic(&rel("t.txt"), b"new").unwrap();
    }
    assert_outside_untouched(&f);
    assert_eq!(
        std::fs::read_to_string(f.root_path.join("t.txt")).unwrap(),
        "new"
    );
    let link = std::fs::read_link(f.root_path.join(".t.txt.aios-tmp")).unwrap();
    assert_eq!(link, f.outside.join("secret.txt"));
}

#[test]
fn fifos_devices_and_folders_are_not_regular_files() {
    let f = fixture();
    let fifo = f.root_path.join("pipe");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    // Neither open blocks on the FIFO (no writer, no reader), and both refuse it.
    let err = f.root.open_read(&rel("pipe")).unwrap_err();
    assert!(matches!(err, SandboxError::NotAFile { .. }), "{err}");
    let err = f.root.open_append(&rel("pipe")).unwrap_err();
    assert!(
        matches!(err, SandboxError::NotAFile { .. } | SandboxError::Io { .. }),
        "{err}"
    );
    std::fs::create_dir(f.root_path.join("dir")).unwrap();
    let err = f.root.open_read(&rel("dir")).unwrap_err();
    assert!(matches!(err, SandboxError::NotAFile { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!("`dir` in {} is not a regular file", f.root_path.display())
    );
}

#[test]
fn appends_refuse_a_file_with_another_hard_link() {
    let f = fixture();
    std::fs::hard_link(f.outside.join("secret.txt"), f.root_path.join("h.txt")).unwrap();
    let err = f.root.open_append(&rel("h.txt")).unwrap_err();
    assert!(
        matches!(err, SandboxError::HardLinked { links: 2, .. }),
        "{err}"
    );
    assert_outside_untouched(&f);
    // A write replaces the link: the outside file keeps its content.
    f.root.write_atomic(&rel("h.txt"), b"mine").unwrap();
    assert_outside_untouched(&f);
}

#[test]
fn reads_are_capped() {
    let f = fixture();
    f.root.write_atomic(&rel("big.bin"), &[7u8; 100]).unwrap();
    assert_eq!(f.root.read(&rel("big.bin"), 100).unwrap().len(), 100);
    let err = f.root.read(&rel("big.bin"), 99).unwrap_err();
    assert!(
        matches!(err, SandboxError::TooLarge { max: 99, .. }),
        "{err}"
    );
    let err = f.root.read(&rel("missing"), 99).unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(
        err.to_string().starts_with("cannot open `missing` in "),
        "{err}"
    );
}

#[test]
fn a_missing_root_is_reported_and_create_makes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let err = Root::open(tmp.path().join("nope")).unwrap_err();
    assert!(
        err.to_string().starts_with("cannot open root folder "),
        "{err}"
    );
    let root = Root::create(tmp.path().join("a/b")).unwrap();
    assert_eq!(root.display(), tmp.path().join("a/b").display().to_string());
}
