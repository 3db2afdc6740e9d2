//! Keeping aios's own secrets out of reach of the programs its steps run.
//!
//! A step's child starts with an explicit environment (never aios's), but on Linux a
//! process can also read another's `/proc/PID/environ`, `cmdline` and `mem`. Three
//! measures close that, each checked by the CLI tests as root and as an unprivileged
//! user:
//!
//! 1. [`harden_process`], first thing in `main`: aios makes itself non-dumpable
//!    (`PR_SET_DUMPABLE` 0), so a process of the same unprivileged user can no longer
//!    open its `environ`, `mem` or `maps`; then it moves its environment to the heap and
//!    zeroes the block `/proc/PID/environ` shows, because root may still read that file
//!    whatever the dumpable flag says.
//! 2. [`scrub_args`]: values that must not stay on aios's command line (a secret
//!    input given with `--input`) are overwritten in the block `/proc/PID/cmdline`
//!    shows, which anyone on the machine may read.
//! 3. [`isolate_child`], between fork and exec of every step's child: the child loses
//!    `CAP_SYS_PTRACE` (bounding, inheritable, ambient and effective sets), so even a
//!    step running as root cannot read aios's memory (`/proc/PID/mem`,
//!    `process_vm_readv`, ptrace attach): the kernel's ptrace check then asks for a
//!    capability the child cannot get back, even through a setuid program.
//!
//! What this does not stop: a step runs as the same user as aios and can read the
//! same files (the store's folder included); a step that is root with other
//! capabilities (loading a kernel module, reading physical memory) can still read
//! anything. The README's security section says so.

use std::ffi::c_char;

/// `CAP_SYS_PTRACE` (linux/capability.h).
const CAP_SYS_PTRACE: u32 = 19;

/// The process's `/proc/self/stat` fields `first` and `second` (1-based, as
/// proc(5) numbers them), when they can be read.
fn stat_pair(first: usize, second: usize) -> Option<(usize, usize)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Field 2 (the command name) is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3.
    let a = fields.get(first.checked_sub(3)?)?.parse().ok()?;
    let b = fields.get(second.checked_sub(3)?)?.parse().ok()?;
    (a != 0 && b > a).then_some((a, b))
}

unsafe extern "C" {
    /// The C library's environment (glibc and musl both have it).
    static mut environ: *const *const c_char;
}

/// Make this process non-dumpable and empty the environment block that
/// `/proc/self/environ` shows (the environment itself stays usable: it now lives on
/// the heap). Returns whether both held.
///
/// # Safety
///
/// Call it before any other thread starts: it rewrites the environment.
pub unsafe fn harden_process() -> bool {
    // SAFETY: prctl with constant arguments.
    let dumpable = unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } == 0;
    // SAFETY: the caller guarantees no other thread runs.
    let scrubbed = unsafe { scrub_environ() };
    dumpable && scrubbed
}

/// # Safety
///
/// As [`harden_process`].
unsafe fn scrub_environ() -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Some((start, end)) = stat_pair(50, 51) else {
        return false;
    };
    // Setting each variable again makes the C library point at a heap copy.
    let vars: Vec<_> = std::env::vars_os().collect();
    for (k, v) in &vars {
        let (kb, vb) = (k.as_bytes(), v.as_bytes());
        if kb.is_empty() || kb.contains(&b'=') || kb.contains(&0) || vb.contains(&0) {
            continue;
        }
        // SAFETY: single-threaded (the caller's promise); valid name and value.
        unsafe { std::env::set_var(k, v) };
    }
    // Strings the environment still points into (variables that could not be set
    // again) are kept; everything else in the block is zeroed.
    let mut keep: Vec<(usize, usize)> = Vec::new();
    // SAFETY: `environ` is a null-terminated array of C strings, read while no other
    // thread runs.
    unsafe {
        let mut p = environ;
        while !p.is_null() && !(*p).is_null() {
            let s = *p as usize;
            if (start..end).contains(&s) {
                let len = std::ffi::CStr::from_ptr(*p).to_bytes_with_nul().len();
                keep.push((s, s + len));
            }
            p = p.add(1);
        }
    }
    keep.sort_unstable();
    let mut at = start;
    for (s, e) in keep.iter().copied().chain(std::iter::once((end, end))) {
        if s > at {
            // SAFETY: [start, end) is this process's initial environment block on
            // its stack, writable, and nothing points into [at, s) any more.
            unsafe { std::ptr::write_bytes(at as *mut u8, 0, s - at) };
        }
        at = at.max(e);
    }
    keep.is_empty()
}

/// Overwrite every occurrence of `values` in the block `/proc/self/cmdline` shows
/// with `*` (same length). Call it once the arguments were parsed (later reads of
/// `std::env::args` see the stars). Returns whether the block could be found.
pub fn scrub_args(values: &[&str]) -> bool {
    let Some((start, end)) = stat_pair(48, 49) else {
        return false;
    };
    // SAFETY: [start, end) is this process's argument block on its initial stack:
    // mapped, writable, and held by no Rust reference (the standard library keeps
    // raw pointers to it and copies the strings when asked).
    let block = unsafe { std::slice::from_raw_parts_mut(start as *mut u8, end - start) };
    for v in values
        .iter()
        .map(|v| v.as_bytes())
        .filter(|v| !v.is_empty())
    {
        let mut i = 0;
        while i + v.len() <= block.len() {
            if &block[i..i + v.len()] == v {
                block[i..i + v.len()].fill(b'*');
                i += v.len();
            } else {
                i += 1;
            }
        }
    }
    true
}

/// The kernel's capability header and data (linux/capability.h, version 3).
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAP_V3: u32 = 0x2008_0522;

/// In a freshly forked child, before exec: give up `CAP_SYS_PTRACE` for good.
/// Only async-signal-safe system calls; failures are ignored (an unprivileged
/// process has nothing to give up).
fn drop_ptrace() {
    // SAFETY: plain system calls on this (child) process with valid arguments.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        );
        libc::prctl(
            libc::PR_CAPBSET_DROP,
            CAP_SYS_PTRACE as libc::c_ulong,
            0,
            0,
            0,
        );
        let mut head = CapHeader {
            version: CAP_V3,
            pid: 0,
        };
        let mut data = [CapData::default(); 2];
        if libc::syscall(libc::SYS_capget, &mut head, data.as_mut_ptr()) == 0 {
            let bit = !(1u32 << CAP_SYS_PTRACE);
            data[0].effective &= bit;
            data[0].permitted &= bit;
            data[0].inheritable &= bit;
            libc::syscall(libc::SYS_capset, &mut head, data.as_ptr());
        }
    }
}

/// Make a step's child unable to read aios's memory (see the module doc). Every
/// program aios starts on a step's behalf goes through this (shell steps; tool
/// servers too).
pub fn isolate_child(cmd: &mut tokio::process::Command) {
    // SAFETY: `drop_ptrace` makes only async-signal-safe system calls.
    unsafe {
        cmd.pre_exec(|| {
            drop_ptrace();
            Ok(())
        });
    }
}

/// [`isolate_child`] for a `std` command.
pub fn isolate_std_child(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: `drop_ptrace` makes only async-signal-safe system calls.
    unsafe {
        cmd.pre_exec(|| {
            drop_ptrace();
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_found() {
        let (a, e) = stat_pair(48, 49).expect("arg block");
        assert!(e > a);
        let (s, t) = stat_pair(50, 51).expect("env block");
        assert!(t >= s);
    }

    /// A child that gave up CAP_SYS_PTRACE does not have it, whoever runs the test.
    #[test]
    fn an_isolated_child_lacks_ptrace() {
        let mut cmd = std::process::Command::new("sh");
        cmd.args(["-c", "grep CapEff /proc/self/status"]);
        isolate_std_child(&mut cmd);
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let hex = text.split_whitespace().nth(1).expect("CapEff");
        let caps = u64::from_str_radix(hex, 16).unwrap();
        assert_eq!(caps & (1 << CAP_SYS_PTRACE), 0, "{text}");
    }
}
