//! A step's resource limits: rlimits set in the child between fork and exec (CPU
//! seconds, address space, open files, processes; no core dumps), and how much of
//! its output is kept (applied while it is read, see [`super::capture`]).

use serde::{Deserialize, Serialize};

/// An rlimit resource as the C library types it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
type Resource = libc::__rlimit_resource_t;
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
type Resource = libc::c_int;

/// What a `shell` step's program may use. `None`: no limit of aios's own (the
/// process's inherited limit stays).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// CPU seconds (`RLIMIT_CPU`): past them the program gets `SIGXCPU`, a second
    /// later `SIGKILL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_secs: Option<u64>,
    /// Address space in bytes (`RLIMIT_AS`): allocations past it fail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// Open files (`RLIMIT_NOFILE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_files: Option<u64>,
    /// Processes of the user (`RLIMIT_NPROC`: it counts every process of the
    /// user, not only the step's; root is exempt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processes: Option<u64>,
    /// Bytes kept of stdout, and of stderr; the rest is counted and dropped.
    #[serde(default = "default_output")]
    pub output_bytes: u64,
}

/// The default `output`: 1 MiB of each stream.
pub const DEFAULT_OUTPUT: u64 = 1 << 20;
/// The default `files`.
pub const DEFAULT_OPEN_FILES: u64 = 1024;

fn default_output() -> u64 {
    DEFAULT_OUTPUT
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            cpu_secs: None,
            memory_bytes: None,
            open_files: Some(DEFAULT_OPEN_FILES),
            processes: None,
            output_bytes: DEFAULT_OUTPUT,
        }
    }
}

impl Limits {
    /// Check an operator's edit (`self`) of the `proposed` limits: each may be
    /// lowered, none raised or removed.
    pub fn within(&self, proposed: &Limits) -> Result<(), String> {
        let raised = |name: &str, edited: Option<u64>, was: Option<u64>| match (edited, was) {
            (_, None) => None,
            (None, Some(_)) => Some(format!("the edit removes the `{name}` limit")),
            (Some(e), Some(w)) if e > w => Some(format!("the edit raises the `{name}` limit")),
            _ => None,
        };
        let problem = raised("cpu", self.cpu_secs, proposed.cpu_secs)
            .or_else(|| raised("memory", self.memory_bytes, proposed.memory_bytes))
            .or_else(|| raised("files", self.open_files, proposed.open_files))
            .or_else(|| raised("processes", self.processes, proposed.processes))
            .or_else(|| {
                raised(
                    "output",
                    Some(self.output_bytes),
                    Some(proposed.output_bytes),
                )
            });
        match problem {
            Some(p) => Err(format!(
                "{p}: an edit may lower a step's limits, never raise them"
            )),
            None => Ok(()),
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("cpu", self.cpu_secs),
            ("memory", self.memory_bytes),
            ("files", self.open_files),
            ("processes", self.processes),
            ("output", Some(self.output_bytes)),
        ] {
            if v == Some(0) {
                return Err(format!("the `{name}` limit must be more than 0"));
            }
        }
        Ok(())
    }

    /// The limits for a person: `cpu 30s, memory 512 MiB, files 1024, output 1 MiB`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = self.cpu_secs {
            parts.push(format!(
                "cpu {}",
                crate::clock::format_duration(std::time::Duration::from_secs(s))
            ));
        }
        if let Some(b) = self.memory_bytes {
            parts.push(format!("memory {}", bytes(b)));
        }
        if let Some(n) = self.open_files {
            parts.push(format!("files {n}"));
        }
        if let Some(n) = self.processes {
            parts.push(format!("processes {n}"));
        }
        parts.push(format!("output {}", bytes(self.output_bytes)));
        parts.join(", ")
    }

    /// The rlimits to set in the child, computed before the fork.
    pub fn rlimits(&self) -> Rlimits {
        let mut r = Rlimits {
            list: [(0, 0, 0); 5],
            len: 0,
        };
        let mut push = |res: Resource, soft: u64, hard: u64| {
            r.list[r.len] = (res, soft, hard);
            r.len += 1;
        };
        push(libc::RLIMIT_CORE, 0, 0);
        if let Some(s) = self.cpu_secs {
            // The soft limit sends SIGXCPU; the hard one, a second later, SIGKILL.
            push(libc::RLIMIT_CPU, s, s.saturating_add(1));
        }
        if let Some(b) = self.memory_bytes {
            push(libc::RLIMIT_AS, b, b);
        }
        if let Some(n) = self.open_files {
            push(libc::RLIMIT_NOFILE, n, n);
        }
        if let Some(n) = self.processes {
            push(libc::RLIMIT_NPROC, n, n);
        }
        r
    }
}

/// rlimits ready for the child: a fixed array, so applying them allocates nothing.
#[derive(Debug, Clone, Copy)]
pub struct Rlimits {
    list: [(Resource, u64, u64); 5],
    len: usize,
}

impl Rlimits {
    /// Set each limit, never above the hard limit the process already has (a
    /// process may lower its hard limit, not raise it). Only `getrlimit` and
    /// `setrlimit`: safe between fork and exec.
    pub fn apply(&self) -> std::io::Result<()> {
        for &(res, soft, hard) in &self.list[..self.len] {
            let mut cur = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: plain system calls with a valid pointer to a local.
            unsafe {
                if libc::getrlimit(res, &mut cur) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let max = cur.rlim_max;
                let new = libc::rlimit {
                    rlim_cur: soft.min(max),
                    rlim_max: hard.min(max),
                };
                if libc::setrlimit(res, &new) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
        }
        Ok(())
    }
}

/// `1 MiB`, `512 KiB`, `100 bytes`: sizes as limits show them.
pub fn bytes(n: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (size, unit) in UNITS {
        if n >= size && n.is_multiple_of(size) {
            return format!("{} {unit}", n / size);
        }
    }
    crate::text::count(n, "byte")
}

/// Parse a size: an integer of bytes, or a number and a unit (`B`, `KB`, `MB`, `GB`
/// in thousands; `KiB`, `MiB`, `GiB` in 1024s; `K`, `M`, `G` as the latter).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let invalid = || format!("invalid size `{s}`");
    if digits == 0 {
        return Err(invalid());
    }
    let n: u64 = t[..digits].parse().map_err(|_| invalid())?;
    let per: u64 = match t[digits..].trim() {
        "" | "B" => 1,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "K" | "KiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        _ => return Err(invalid()),
    };
    n.checked_mul(per).ok_or_else(invalid)
}

/// The hint shown with an invalid size.
pub const SIZE_HINT: &str =
    "use a number of bytes, or a number and a unit, like 512KiB, 100MB or 1GiB";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(parse_bytes("1024"), Ok(1024));
        assert_eq!(parse_bytes("512KiB"), Ok(512 << 10));
        assert_eq!(parse_bytes("100MB"), Ok(100_000_000));
        assert_eq!(parse_bytes("1 GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("2M"), Ok(2 << 20));
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("1TB").is_err());
        assert!(parse_bytes("99999999999999999999").is_err());
        assert_eq!(bytes(1 << 20), "1 MiB");
        assert_eq!(bytes(1536), "1536 bytes");
        assert_eq!(bytes(3 << 30), "3 GiB");
    }

    #[test]
    fn an_edit_may_lower_limits_not_raise_them() {
        let proposed = Limits {
            cpu_secs: Some(10),
            memory_bytes: None,
            ..Limits::default()
        };
        let lower = Limits {
            cpu_secs: Some(5),
            memory_bytes: Some(1 << 20),
            output_bytes: 10,
            ..proposed
        };
        assert_eq!(lower.within(&proposed), Ok(()));
        let raised = Limits {
            cpu_secs: Some(11),
            ..proposed
        };
        assert!(
            raised
                .within(&proposed)
                .unwrap_err()
                .contains("raises the `cpu` limit")
        );
        let removed = Limits {
            open_files: None,
            ..proposed
        };
        assert!(
            removed
                .within(&proposed)
                .unwrap_err()
                .contains("removes the `files` limit")
        );
        let more_output = Limits {
            output_bytes: DEFAULT_OUTPUT + 1,
            ..proposed
        };
        assert!(more_output.within(&proposed).is_err());
    }

    /// The limits reach the child: `ulimit` in a shell started through them.
    #[test]
    fn rlimits_reach_the_child() {
        use std::os::unix::process::CommandExt;
        let l = Limits {
            cpu_secs: Some(7),
            memory_bytes: Some(512 << 20),
            open_files: Some(64),
            processes: None,
            output_bytes: 100,
        };
        let r = l.rlimits();
        let mut cmd = std::process::Command::new("sh");
        cmd.args(["-c", "ulimit -t; ulimit -v; ulimit -n; ulimit -c"]);
        // SAFETY: `apply` only calls getrlimit and setrlimit.
        unsafe {
            cmd.pre_exec(move || r.apply());
        }
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(text, "7\n524288\n64\n0\n");
    }
}
