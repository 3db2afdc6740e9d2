//! The file sandbox: every file operation aios performs on the operator's behalf
//! (a `file` step's write or append, and next an email's attachments) goes through a
//! [`Root`], a directory handle that resolves paths *beneath* itself, never outside.
//!
//! A [`Root`] is opened once, by its absolute path, as the operator declared it. From
//! then on every path is a [`RelPath`] (checked lexically: relative, no `..` past the
//! top) resolved by the kernel relative to the open directory, atomically: on Linux
//! `openat2` with `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS` (through `cap-std`), and on
//! older kernels and other systems `cap-std`'s component-by-component walk with
//! `O_NOFOLLOW`. Nothing here checks a path and then opens it: the check *is* the open.
//!
//! Symlinks: one inside the root is followed while what it points to stays beneath the
//! root (a relative link such as `latest -> reports/2026`). A link that leads out of the
//! root (`/etc/passwd`, `../../x`, or any absolute link, even one naming a place inside)
//! makes the operation fail with [`SandboxError::Escape`], and nothing is read, created
//! or written. The root itself may be a symlink: it is the operator's declaration.
//!
//! What each operation guarantees:
//! - [`Root::write_atomic`] writes a random, exclusively created (`O_EXCL`) temporary
//!   file in the target's folder and renames it into place relative to that folder's
//!   handle: readers see the old file or the new one; a symlink planted at any
//!   temporary name is never opened; a hard link at the target is replaced, never
//!   written through.
//! - [`Root::open_append`] opens (or creates) a regular file: a FIFO, a device or a
//!   folder is refused, and so is a file with more than one hard link (another link
//!   may be outside the root).
//! - [`Root::open_read`] / [`Root::read`] open a regular file (never a FIFO that would
//!   block or a device) and read it through the handle, with a size cap.
//! - [`Root::create_dir_all`] / [`Root::create_parents`] create missing folders
//!   beneath the root, one `mkdirat` at a time.
//!
//! Not covered: a process that can write inside the root can still change what is
//! there between two operations (aios never writes outside because of it). The
//! hard-link check of an append is made on the open file, after the open: a process
//! that swaps a hard link in and out of the root at that instant could have one
//! append land in the linked file. Linux's `fs.protected_hardlinks` (on by default)
//! only lets a process link a file it owns or could already write, so it gains no
//! file it could not write itself. Reads follow hard links as they are.

use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use cap_std::ambient_authority;
use cap_std::fs::{Dir, OpenOptions};

/// A relative path that lexically stays beneath its root: not empty, not absolute,
/// no `..` past the top, no NUL byte, normalized (`a/./b/../c` is `a/c`). The kernel
/// still resolves it beneath the root (symlinks are the [`Root`]'s business).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelPath {
    /// As written, for messages.
    given: String,
    norm: PathBuf,
}

/// Why a path cannot be used beneath a root.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("path `{path}` {problem}")]
pub struct PathError {
    pub path: String,
    pub problem: PathProblem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathProblem {
    Empty,
    Absolute,
    Escapes,
    IsRoot,
    Nul,
}

impl std::fmt::Display for PathProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PathProblem::Empty => "is empty",
            PathProblem::Absolute => "is absolute; it must be relative to the root folder",
            PathProblem::Escapes => "escapes the root folder",
            PathProblem::IsRoot => "names the root folder itself, not a file",
            PathProblem::Nul => "contains a NUL byte",
        })
    }
}

impl RelPath {
    /// Check and normalize `path`.
    pub fn new(path: &str) -> Result<RelPath, PathError> {
        let err = |problem| PathError {
            path: path.to_string(),
            problem,
        };
        if path.trim().is_empty() {
            return Err(err(PathProblem::Empty));
        }
        if path.contains('\0') {
            return Err(err(PathProblem::Nul));
        }
        if path.starts_with('/') || path.starts_with('\\') {
            return Err(err(PathProblem::Absolute));
        }
        let mut norm = PathBuf::new();
        for c in Path::new(path).components() {
            match c {
                Component::Normal(x) => norm.push(x),
                Component::CurDir => {}
                Component::ParentDir => {
                    if !norm.pop() {
                        return Err(err(PathProblem::Escapes));
                    }
                }
                Component::RootDir | Component::Prefix(_) => {
                    return Err(err(PathProblem::Absolute));
                }
            }
        }
        if norm.as_os_str().is_empty() {
            return Err(err(PathProblem::IsRoot));
        }
        Ok(RelPath {
            given: path.to_string(),
            norm,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.given
    }

    /// The normalized path (what is resolved beneath the root).
    pub fn as_path(&self) -> &Path {
        &self.norm
    }

    /// The folder it is in, relative to the root; `None` at the top.
    pub fn parent(&self) -> Option<&Path> {
        self.norm.parent().filter(|p| !p.as_os_str().is_empty())
    }

    /// Its last component.
    pub fn file_name(&self) -> &OsStr {
        // `new` guarantees at least one normal component, and the last one is normal.
        self.norm.file_name().unwrap_or(self.norm.as_os_str())
    }
}

/// A failed operation beneath a root. Nothing was written outside the root, whatever
/// the variant.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(transparent)]
    Path(#[from] PathError),
    /// Resolving the path would leave the root (a symlink pointing out of it).
    #[error("path `{path}` escapes the root folder {root} through a symlink")]
    Escape { root: String, path: String },
    #[error("`{path}` in {root} is not a regular file")]
    NotAFile { root: String, path: String },
    #[error(
        "`{path}` in {root} has {links} hard links; aios appends only to a file with one (another link may be outside the root)"
    )]
    HardLinked {
        root: String,
        path: String,
        links: u64,
    },
    #[error("`{path}` in {root} is larger than {max} bytes")]
    TooLarge {
        root: String,
        path: String,
        max: u64,
    },
    #[error("cannot open root folder {root}: {source}")]
    Root { root: String, source: io::Error },
    #[error("cannot {op} `{path}` in {root}: {source}")]
    Io {
        op: &'static str,
        root: String,
        path: String,
        source: io::Error,
    },
}

impl SandboxError {
    /// Whether trying again might succeed (an IO error such as a full disk); an escape,
    /// a bad path or a file of the wrong type stays what it is.
    pub fn is_retryable(&self) -> bool {
        matches!(self, SandboxError::Io { .. })
    }
}

/// An open directory that file operations cannot leave. See the module docs for what
/// each operation guarantees.
///
/// For email attachments (read files beneath a declared folder):
///
/// ```no_run
/// use aios::connectors::sandbox::{RelPath, Root};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let root = Root::open("/home/me/outbox")?; // the folder the workflow declared
/// let path = RelPath::new("invoices/2026-11.pdf")?; // checked when the action is rendered
/// let bytes = root.read(&path, 10 * 1024 * 1024)?; // a regular file beneath the root, at most 10 MiB
/// # let _ = bytes; Ok(()) }
/// ```
///
/// Validate paths with [`RelPath::new`] when an action is rendered or edited (a clear
/// error before anything is proposed), and open them through the [`Root`] only at
/// commit: the open is what enforces the sandbox, in the same system call.
#[derive(Debug)]
pub struct Root {
    dir: Dir,
    shown: String,
}

impl Root {
    /// Open an existing folder as a root. `path` should be absolute (it is resolved
    /// against the current directory otherwise); symlinks in it are followed: it is
    /// the operator's declaration.
    pub fn open(path: impl AsRef<Path>) -> Result<Root, SandboxError> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        match Dir::open_ambient_dir(path, ambient_authority()) {
            Ok(dir) => Ok(Root { dir, shown }),
            Err(source) => Err(SandboxError::Root {
                root: shown,
                source,
            }),
        }
    }

    /// Create the folder (and its missing parents) when missing, then open it.
    pub fn create(path: impl AsRef<Path>) -> Result<Root, SandboxError> {
        let path = path.as_ref();
        std::fs::create_dir_all(path).map_err(|source| SandboxError::Root {
            root: path.display().to_string(),
            source,
        })?;
        Root::open(path)
    }

    /// The root as it was given.
    pub fn display(&self) -> &str {
        &self.shown
    }

    /// Create `rel` and its missing parents as folders beneath the root.
    pub fn create_dir_all(&self, rel: &RelPath) -> Result<(), SandboxError> {
        self.mkdirs(rel.as_path(), rel.as_str())
    }

    /// Create the missing folders `rel` is in (errors name `rel`).
    pub fn create_parents(&self, rel: &RelPath) -> Result<(), SandboxError> {
        match rel.parent() {
            Some(parent) => self.mkdirs(parent, rel.as_str()),
            None => Ok(()),
        }
    }

    fn mkdirs(&self, dirs: &Path, shown: &str) -> Result<(), SandboxError> {
        self.dir.create_dir_all(dirs).map_err(|e| {
            // `mkdir` of an existing name says "exists" even when that name is a
            // symlink out of the root: opening it beneath says what it is.
            match self.dir.open_dir(dirs) {
                Err(open) if is_escape(&open) => self.fail("create folder", shown, open),
                _ => self.fail("create the folders of", shown, e),
            }
        })
    }

    /// Open a regular file beneath the root for reading.
    pub fn open_read(&self, rel: &RelPath) -> Result<std::fs::File, SandboxError> {
        let mut opts = OpenOptions::new();
        opts.read(true);
        self.open_regular(rel, &opts, "open")
    }

    /// Read a whole regular file beneath the root, refusing one larger than `max`
    /// bytes (checked while reading, so a file growing meanwhile is caught too).
    pub fn read(&self, rel: &RelPath, max: u64) -> Result<Vec<u8>, SandboxError> {
        let file = self.open_read(rel)?;
        let mut out = Vec::new();
        file.take(max.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|e| self.fail("read", rel.as_str(), e))?;
        if out.len() as u64 > max {
            return Err(SandboxError::TooLarge {
                root: self.shown.clone(),
                path: rel.as_str().to_string(),
                max,
            });
        }
        Ok(out)
    }

    /// Open a regular file beneath the root for appending, creating it when missing
    /// (its folder must exist: see [`Root::create_dir_all`]). A file with more than
    /// one hard link is refused: another link may be outside the root.
    pub fn open_append(&self, rel: &RelPath) -> Result<std::fs::File, SandboxError> {
        let mut opts = OpenOptions::new();
        opts.append(true).create(true);
        let file = self.open_regular(rel, &opts, "open")?;
        let links = nlink(&file).map_err(|e| self.fail("open", rel.as_str(), e))?;
        if links > 1 {
            return Err(SandboxError::HardLinked {
                root: self.shown.clone(),
                path: rel.as_str().to_string(),
                links,
            });
        }
        Ok(file)
    }

    /// Replace (or create) the file at `rel` with `content`, atomically: a random
    /// temporary file created exclusively in the target's folder, written, synced and
    /// renamed into place relative to that folder's handle. Its folder must exist.
    ///
    /// When `rel` is a symlink, the file it points to is replaced if it is beneath
    /// the root (found beneath the root, like every path), and the write is refused
    /// if it leads out. Whatever happens to the link meanwhile, the rename replaces a
    /// name in the folder the handle holds: it never writes through a link.
    pub fn write_atomic(&self, rel: &RelPath, content: &[u8]) -> Result<(), SandboxError> {
        let fail = |op, e| self.fail(op, rel.as_str(), e);
        let linked = match self.dir.symlink_metadata(rel.as_path()) {
            Ok(m) if m.is_symlink() => Some(
                self.dir
                    .canonicalize(rel.as_path())
                    .map_err(|e| fail("follow the symlink", e))?,
            ),
            _ => None,
        };
        let (folder, name) = match &linked {
            Some(target) => (
                match target.parent().filter(|p| !p.as_os_str().is_empty()) {
                    Some(p) => self.dir.open_dir(p),
                    None => self.dir.try_clone(),
                },
                target.file_name().unwrap_or(target.as_os_str()),
            ),
            None => (
                match rel.parent() {
                    Some(p) => self.dir.open_dir(p),
                    None => self.dir.try_clone(),
                },
                rel.file_name(),
            ),
        };
        let folder = folder.map_err(|e| fail("open the folder of", e))?;
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        let mut tries = 0;
        let (tmp, mut file) = loop {
            let tmp = temp_name();
            match folder.open_with(&tmp, &opts) {
                Ok(f) => break (tmp, f),
                // Someone holds that name (a planted symlink, say): draw another.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && tries < 8 => tries += 1,
                Err(e) => return Err(fail("create a temporary file for", e)),
            }
        };
        let written = (|| {
            file.write_all(content)?;
            file.sync_data()?;
            drop(file);
            folder.rename(&tmp, &folder, name)
        })();
        if let Err(e) = written {
            // Removes our name only: unlinkat never follows a symlink put in its place.
            let _ = folder.remove_file(&tmp);
            return Err(fail("write", e));
        }
        // Make the rename durable; a folder that cannot be synced is not an error.
        if let Ok(d) = folder.open(".") {
            let _ = d.sync_all();
        }
        Ok(())
    }

    fn open_regular(
        &self,
        rel: &RelPath,
        opts: &OpenOptions,
        op: &'static str,
    ) -> Result<std::fs::File, SandboxError> {
        let mut opts = opts.clone();
        // A FIFO must not block the open; a terminal must not become ours.
        #[cfg(unix)]
        {
            use cap_std::fs::OpenOptionsExt;
            opts.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
        }
        let file = self
            .dir
            .open_with(rel.as_path(), &opts)
            .map_err(|e| self.fail(op, rel.as_str(), e))?
            .into_std();
        let meta = file
            .metadata()
            .map_err(|e| self.fail(op, rel.as_str(), e))?;
        if !meta.is_file() {
            return Err(SandboxError::NotAFile {
                root: self.shown.clone(),
                path: rel.as_str().to_string(),
            });
        }
        #[cfg(unix)]
        clear_nonblock(&file).map_err(|e| self.fail(op, rel.as_str(), e))?;
        Ok(file)
    }

    fn fail(&self, op: &'static str, path: &str, source: io::Error) -> SandboxError {
        if is_escape(&source) {
            SandboxError::Escape {
                root: self.shown.clone(),
                path: path.to_string(),
            }
        } else {
            SandboxError::Io {
                op,
                root: self.shown.clone(),
                path: path.to_string(),
                source,
            }
        }
    }
}

/// cap-std reports a resolution that would leave the directory (the kernel's `EXDEV`
/// from `RESOLVE_BENEATH`, or its own walk) as a `PermissionDenied` error of its own,
/// with no OS error code; a real `EACCES` carries one.
fn is_escape(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::PermissionDenied && e.raw_os_error().is_none()
}

/// `.aios-` + 16 random hex digits + `.tmp`: unguessable, so nothing can be planted
/// at it in advance (and it is created with `O_EXCL` anyway, so a guessed name only
/// costs another draw).
fn temp_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        // No entropy source: still unique within the process, and still exclusive.
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        bytes = (n ^ (u64::from(std::process::id()) << 32)).to_le_bytes();
    }
    format!(".aios-{}.tmp", hex::encode(bytes))
}

#[cfg(unix)]
fn nlink(file: &std::fs::File) -> io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    Ok(file.metadata()?.nlink())
}

#[cfg(not(unix))]
fn nlink(_: &std::fs::File) -> io::Result<u64> {
    Ok(1)
}

#[cfg(unix)]
fn clear_nonblock(file: &std::fs::File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own, with integer arguments only.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests;
