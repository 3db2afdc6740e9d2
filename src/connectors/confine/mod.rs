//! Confining a step's process: what a `shell` step's program may touch (its
//! [`Sandbox`]: Landlock on Linux) and how much it may use (its [`Limits`]: rlimits
//! and the output kept).
//!
//! This module owns the rendered forms (journaled with the action, shown in the
//! proposal, checked when the operator edits it), their reading from the workflow
//! ([`spec`]), and applying them to a child: [`landlock`] builds the rule set before
//! the fork and restricts the child between fork and exec; [`limits`] sets rlimits
//! there too; [`capture`] keeps at most the allowed bytes of what the child prints.
//!
//! Between fork and exec only async-signal-safe work happens: every path is opened,
//! every rule added and every value computed in the parent; the child makes a few
//! plain system calls (`setrlimit`, `prctl`, `landlock_restrict_self`) on data it
//! already holds, and allocates nothing.
//!
//! Where personas plug in: [`Sandbox::at_least`] says whether an action's sandbox is
//! as strict as a required [`SandboxMode`], with the message to show when not.

pub mod capture;
#[cfg(target_os = "linux")]
pub mod landlock;
pub mod limits;
pub mod spec;

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use limits::Limits;
pub use spec::SandboxSpec;

/// How strictly a sandbox must hold, weakest first (so modes compare: `Off <
/// BestEffort < Required`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SandboxMode {
    /// No sandbox: the program runs with the operator's rights.
    Off,
    /// Sandboxed where the kernel can; otherwise it runs unsandboxed, and says so.
    BestEffort,
    /// Sandboxed, or the step fails (the default).
    Required,
}

impl SandboxMode {
    /// The words a workflow writes, in the order messages list them.
    pub const WORDS: &'static [&'static str] = &["required", "best_effort", "off"];

    pub fn as_str(self) -> &'static str {
        match self {
            SandboxMode::Off => "off",
            SandboxMode::BestEffort => "best_effort",
            SandboxMode::Required => "required",
        }
    }

    pub fn parse(s: &str) -> Option<SandboxMode> {
        match s {
            "off" => Some(SandboxMode::Off),
            "best_effort" => Some(SandboxMode::BestEffort),
            "required" => Some(SandboxMode::Required),
            _ => None,
        }
    }

    /// Whether this mode is at least as strict as `required`.
    pub fn at_least(self, required: SandboxMode) -> bool {
        self >= required
    }
}

impl std::fmt::Display for SandboxMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rendered sandbox: what the program may touch besides the system paths every
/// program needs ([`SYSTEM_READ`], [`SYSTEM_DEVICES`]) and its working directory
/// (readable and writable). Paths are absolute and normalized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sandbox {
    pub mode: SandboxMode,
    /// Readable (and executable) beneath each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read: Vec<String>,
    /// Readable, writable and executable beneath each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub write: Vec<String>,
    /// TCP connect and bind allowed (denied otherwise, where the kernel can).
    #[serde(default)]
    pub network: bool,
}

/// Read-only (and executable) for every sandboxed program: the system's programs
/// and libraries, the dynamic loader's cache, the locale, time zone, user and group
/// names, name resolution and certificates, and `/proc` (another process's
/// `environ`, `mem` or `fd` stay closed: Landlock denies a sandboxed process any
/// ptrace-like access to processes outside its sandbox). Paths missing on the
/// machine are skipped.
pub const SYSTEM_READ: &[&str] = &[
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/ld.so.preload",
    "/etc/alternatives",
    "/etc/locale.alias",
    "/etc/locale.conf",
    "/etc/default/locale",
    "/etc/localtime",
    "/etc/timezone",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/hosts",
    "/etc/host.conf",
    "/etc/resolv.conf",
    "/etc/gai.conf",
    "/etc/services",
    "/etc/protocols",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/pki",
    "/proc",
];

/// Devices every sandboxed program may use: read and write for the first three,
/// read for the random sources.
pub const SYSTEM_DEVICES: &[(&str, bool)] = &[
    ("/dev/null", true),
    ("/dev/zero", true),
    ("/dev/full", true),
    ("/dev/random", false),
    ("/dev/urandom", false),
];

impl Sandbox {
    /// No sandbox (and what an action journaled before sandboxes existed means).
    pub fn off() -> Sandbox {
        Sandbox {
            mode: SandboxMode::Off,
            read: Vec::new(),
            write: Vec::new(),
            network: false,
        }
    }

    /// The persona check: `Ok` when this sandbox is at least as strict as
    /// `required`, else the message saying what it is and what was required.
    pub fn at_least(&self, required: SandboxMode) -> Result<(), String> {
        if self.mode.at_least(required) {
            Ok(())
        } else {
            Err(format!(
                "the step's sandbox is `{}`, and `{required}` is required",
                self.mode
            ))
        }
    }

    /// Check an operator's edit (`self`) of the `proposed` sandbox: it may tighten
    /// it (a stricter mode, fewer paths, network off), never widen it. A path kept
    /// must be written as proposed (a readable path may come from `read` or
    /// `write`); `cwd` is the edited and proposed working directories, which must be
    /// equal when the proposal is sandboxed (the working directory is writable).
    pub fn within(&self, proposed: &Sandbox, cwd: (&str, &str)) -> Result<(), String> {
        let hint = "an edit may tighten the sandbox, never widen it; reject the proposal and change the workflow instead";
        if proposed.mode == SandboxMode::Off {
            return Ok(());
        }
        if self.mode < proposed.mode {
            return Err(format!(
                "the edit lowers the sandbox from `{}` to `{}`: {hint}",
                proposed.mode, self.mode
            ));
        }
        if self.network && !proposed.network {
            return Err(format!("the edit allows the network: {hint}"));
        }
        if cwd.0 != cwd.1 {
            return Err(format!(
                "`cwd` cannot be edited on a sandboxed step (proposed {:?}, edited {:?}): the working directory is writable in the sandbox",
                cwd.1, cwd.0
            ));
        }
        for p in &self.read {
            if !proposed.read.contains(p) && !proposed.write.contains(p) {
                return Err(format!(
                    "the edit lets the step read `{p}`, which the proposed sandbox does not: {hint}"
                ));
            }
        }
        for p in &self.write {
            if !proposed.write.contains(p) {
                return Err(format!(
                    "the edit lets the step write `{p}`, which the proposed sandbox does not: {hint}"
                ));
            }
        }
        Ok(())
    }

    /// Check the rendered paths: absolute, normalized, no NUL.
    pub fn validate(&self) -> Result<(), String> {
        for (key, paths) in [("read", &self.read), ("write", &self.write)] {
            for p in paths {
                if p.contains('\0') {
                    return Err(format!("sandbox `{key}` path {p:?} contains a NUL byte"));
                }
                if !Path::new(p).is_absolute() {
                    return Err(format!(
                        "sandbox `{key}` path `{p}` must be absolute after rendering"
                    ));
                }
                if normalize(Path::new(p)).as_os_str() != Path::new(p).as_os_str() {
                    return Err(format!(
                        "sandbox `{key}` path `{p}` is not normalized (write it without `.`, `..` or `//`)"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The sandbox for a person, one line: `required, no network`.
    pub fn headline(&self) -> String {
        match self.mode {
            SandboxMode::Off => "off: the program runs with your rights".to_string(),
            mode => format!(
                "{mode} (Landlock), {}",
                if self.network {
                    "network allowed"
                } else {
                    "no network"
                }
            ),
        }
    }
}

/// What a sandbox comes to on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// No sandbox asked for.
    Off,
    /// Landlock at `abi`; `warning` when part of the sandbox cannot hold here
    /// (`best_effort` only).
    Apply {
        abi: i32,
        deny_network: bool,
        warning: Option<String>,
    },
    /// `best_effort` without Landlock: the program runs unsandboxed.
    Unsandboxed { warning: String },
}

/// The first ABI with TCP rules.
pub const NETWORK_ABI: i32 = 4;

/// Decide how `s` runs with the Landlock ABI at hand (`abi`; 0 when there is none,
/// `why` says why). `Err`: a required sandbox cannot hold, with the message.
pub fn plan(s: &Sandbox, abi: i32, why: &str) -> Result<Plan, String> {
    if s.mode == SandboxMode::Off {
        return Ok(Plan::Off);
    }
    let required = s.mode == SandboxMode::Required;
    if abi <= 0 {
        return if required {
            Err(format!(
                "the step's sandbox is required, but {why}: the program was not started"
            ))
        } else {
            Ok(Plan::Unsandboxed {
                warning: format!(
                    "ran without a sandbox: {why} (the step's sandbox is best_effort)"
                ),
            })
        };
    }
    if !s.network && abi < NETWORK_ABI {
        if required {
            return Err(format!(
                "the step's sandbox is required and denies the network, but this kernel's Landlock (ABI {abi}) cannot restrict TCP (ABI {NETWORK_ABI}, Linux 6.7, can): the program was not started"
            ));
        }
        return Ok(Plan::Apply {
            abi,
            deny_network: false,
            warning: Some(format!(
                "the network was not restricted: this kernel's Landlock (ABI {abi}) cannot restrict TCP (the step's sandbox is best_effort)"
            )),
        });
    }
    Ok(Plan::Apply {
        abi,
        deny_network: !s.network,
        warning: None,
    })
}

/// The Landlock ABI shell steps use: the kernel's, at most `cap` (`ExecEnv`'s
/// testing aid), with why there is none when it is 0.
pub fn landlock_abi(cap: Option<i32>) -> (i32, String) {
    #[cfg(target_os = "linux")]
    let (kernel, why) = landlock::kernel_abi();
    #[cfg(not(target_os = "linux"))]
    let (kernel, why) = (0, "Landlock is a Linux feature");
    match cap {
        Some(c) if c < kernel => (
            c.max(0),
            "Landlock is turned off (AIOS_LANDLOCK_ABI=0, a testing aid)".to_string(),
        ),
        _ => (kernel, why.to_string()),
    }
}

/// A sandboxed step's own temporary folder (its `TMPDIR`): created empty (0700)
/// beside the others, writable in its sandbox, removed with everything in it when
/// the step ends.
#[derive(Debug)]
pub struct StepTmp {
    path: PathBuf,
}

impl StepTmp {
    pub fn create(base: &Path) -> std::io::Result<StepTmp> {
        use std::os::unix::fs::DirBuilderExt;
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).map_err(std::io::Error::other)?;
        let path = base.join(format!("aios-step-{}", hex::encode(nonce)));
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(StepTmp { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for StepTmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// `a/./b/../c` is `a/c`, `//x` is `/x`: lexically, without touching the disk (a
/// `..` at the top of an absolute path stays at the top).
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                // `/..` is `/`.
                Some(Component::RootDir) => {}
                _ => out.push(".."),
            },
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(if p.is_absolute() { "/" } else { "." });
    }
    out
}

#[cfg(test)]
mod tests;
