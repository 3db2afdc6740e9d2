//! Landlock for a step's child (Linux).
//!
//! The rule set is built in the parent, before the fork, with the `landlock` crate:
//! every path is opened (`O_PATH`) and added as a rule there. The child then only
//! makes two system calls between fork and exec, `prctl(PR_SET_NO_NEW_PRIVS)` and
//! `landlock_restrict_self(fd)` on the rule set's descriptor it inherited: no
//! allocation, no lock, nothing that is unsafe after a fork of a threaded process
//! (the crate's own `restrict_self` is not used there: it builds a status value and
//! may allocate). The descriptor is close-on-exec, so the program never holds it,
//! and the parent closes its copy once the child started.
//!
//! What is handled depends on the ABI in use (the kernel's, see [`kernel_abi`]):
//! every filesystem right the ABI knows; TCP bind and connect from ABI 4 when the
//! step has no network (UDP from ABI 10, connecting to a named UNIX socket from ABI
//! 9); from ABI 6 signals to processes outside the sandbox, and abstract UNIX
//! sockets when the step has no network.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::sync::OnceLock;

use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, PathBeneath, PathFd,
    Ruleset, RulesetAttr, RulesetCreatedAttr, Scope,
};

use super::{SYSTEM_DEVICES, SYSTEM_READ, Sandbox};

/// The kernel's Landlock ABI version, 0 when it has none (not built in, or
/// disabled at boot), with why. Asked once per process.
pub fn kernel_abi() -> (i32, &'static str) {
    static ABI_SEEN: OnceLock<(i32, &'static str)> = OnceLock::new();
    *ABI_SEEN.get_or_init(|| {
        // SAFETY: the documented version query: no pointer is read.
        let v = unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                std::ptr::null::<u8>(),
                0usize,
                1u32, // LANDLOCK_CREATE_RULESET_VERSION
            )
        };
        if v > 0 {
            (v as i32, "")
        } else {
            match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::EOPNOTSUPP) => (0, "Landlock is disabled on this kernel"),
                _ => (0, "this kernel has no Landlock"),
            }
        }
    })
}

/// A rule set ready to restrict a child, and what it enforces.
#[derive(Debug)]
pub struct Rules {
    fd: OwnedFd,
    /// The ABI it was built for.
    pub abi: i32,
    /// TCP (and, where the ABI has it, UDP) denied.
    pub network_denied: bool,
}

/// Why a rule set could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// A declared path does not exist (or cannot be opened).
    Path {
        key: &'static str,
        path: String,
        error: String,
    },
    /// The kernel refused the rule set.
    Landlock(String),
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::Path { key, path, error } => write!(
                f,
                "the sandbox cannot grant `{path}` (in `{key}`): {error}; a path must exist before the step runs"
            ),
            BuildError::Landlock(e) => write!(f, "the Landlock rule set was refused: {e}"),
        }
    }
}

/// Build the rule set of `sandbox` for a child working in `cwd` (readable and
/// writable, like `writable`: the step's private temporary folder), at `abi`
/// (1 or more). `deny_network` is whether TCP is denied (false on ABI < 4).
pub fn build(
    sandbox: &Sandbox,
    cwd: &Path,
    writable: &[&Path],
    abi: i32,
    deny_network: bool,
) -> Result<Rules, BuildError> {
    let v = ABI::from(abi);
    let ll = |e: landlock::RulesetError| BuildError::Landlock(e.to_string());
    let mut fs = AccessFs::from_all(v);
    if !deny_network {
        // Connecting to a named UNIX socket is networking too (ABI 9).
        fs.remove(AccessFs::ResolveUnix);
    }
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(fs)
        .map_err(ll)?;
    let net = AccessNet::from_all(v);
    if deny_network && !net.is_empty() {
        ruleset = ruleset.handle_access(net).map_err(ll)?;
    }
    if abi >= 6 {
        let mut scopes: BitFlags<Scope> = Scope::Signal.into();
        if deny_network {
            scopes |= Scope::AbstractUnixSocket;
        }
        ruleset = ruleset.scope(scopes).map_err(ll)?;
    }
    let mut created = ruleset.create().map_err(ll)?;
    let read = AccessFs::from_read(v);
    let file = AccessFs::from_file(v);
    let data = AccessFs::ReadFile | AccessFs::ReadDir;
    // A rule on a file takes file rights only (asked of what was opened, so the
    // rights fit the very object the rule is on).
    let rule = |path: &Path, access: BitFlags<AccessFs>| -> std::io::Result<_> {
        let fd = PathFd::new(path).map_err(|e| match e {
            landlock::PathFdError::OpenCall { source, .. } => source,
            other => std::io::Error::other(other.to_string()),
        })?;
        let access = if is_dir(&fd)? { access } else { access & file };
        Ok(PathBeneath::new(fd, access))
    };
    for p in SYSTEM_READ {
        let path = Path::new(p);
        // Configuration and /proc are data, not programs.
        let access = if p.starts_with("/etc") || *p == "/proc" {
            data
        } else {
            read
        };
        if let Ok(r) = rule(path, access) {
            created = created.add_rule(r).map_err(ll)?;
        }
    }
    let device = AccessFs::ReadFile | AccessFs::WriteFile | (fs & AccessFs::Truncate);
    for (p, writable) in SYSTEM_DEVICES {
        let access = if *writable {
            device
        } else {
            BitFlags::from(AccessFs::ReadFile)
        };
        if let Ok(r) = rule(Path::new(p), access) {
            created = created.add_rule(r).map_err(ll)?;
        }
    }
    let declared = sandbox
        .read
        .iter()
        .map(|p| ("read", p.as_str(), read))
        .chain(sandbox.write.iter().map(|p| ("write", p.as_str(), fs)));
    for (key, p, access) in declared {
        let r = rule(Path::new(p), access).map_err(|e| BuildError::Path {
            key,
            path: p.to_string(),
            error: e.to_string(),
        })?;
        created = created.add_rule(r).map_err(ll)?;
    }
    for w in std::iter::once(cwd).chain(writable.iter().copied()) {
        let r = rule(w, fs).map_err(|e| BuildError::Path {
            key: "cwd",
            path: w.display().to_string(),
            error: e.to_string(),
        })?;
        created = created.add_rule(r).map_err(ll)?;
    }
    let fd: Option<OwnedFd> = created.into();
    let fd = fd.ok_or_else(|| BuildError::Landlock("no rule set was created".into()))?;
    Ok(Rules {
        fd,
        abi,
        network_denied: deny_network,
    })
}

impl Rules {
    /// Restrict the child of `cmd` with these rules between fork and exec. Keep
    /// `self` alive until the child has started (its descriptor is what the child
    /// inherits).
    pub fn install(&self, cmd: &mut tokio::process::Command) {
        let fd = self.fd.as_raw_fd();
        // SAFETY: two plain system calls on an inherited descriptor; errors are
        // read from errno without allocating.
        unsafe {
            cmd.pre_exec(move || restrict(fd));
        }
    }

    /// [`Rules::install`] for a `std` command.
    pub fn install_std(&self, cmd: &mut std::process::Command) {
        use std::os::unix::process::CommandExt;
        let fd = self.fd.as_raw_fd();
        // SAFETY: as in `install`.
        unsafe {
            cmd.pre_exec(move || restrict(fd));
        }
    }
}

/// Whether an opened path is a folder.
fn is_dir(fd: &impl AsFd) -> std::io::Result<bool> {
    // SAFETY: fstat on a descriptor we hold, into a zeroed local.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(fd.as_fd().as_raw_fd(), &mut st) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(st.st_mode & libc::S_IFMT == libc::S_IFDIR)
    }
}

/// In the child, between fork and exec: no new privileges (a setuid program
/// cannot gain any), then the rule set. Async-signal-safe.
fn restrict(fd: i32) -> std::io::Result<()> {
    // SAFETY: plain system calls with constant or inherited arguments.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::syscall(libc::SYS_landlock_restrict_self, fd, 0u32) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
