//! Landlock against the running kernel: a child restricted with [`Rules`] reads and
//! writes only what it was given, cannot connect out, and cannot signal outside.
//! These tests need a kernel with Landlock (the CI's reports ABI 7); without one
//! they fail, saying so.

use std::process::Command;

use super::*;
use crate::connectors::confine::SandboxMode;

fn abi() -> i32 {
    let (abi, why) = kernel_abi();
    assert!(
        abi >= 6,
        "these tests need Landlock ABI 6 or later: {why} (ABI {abi})"
    );
    abi
}

struct Dirs {
    _tmp: tempfile::TempDir,
    cwd: std::path::PathBuf,
    readable: std::path::PathBuf,
    writable: std::path::PathBuf,
    outside: std::path::PathBuf,
}

fn dirs() -> Dirs {
    let tmp = tempfile::tempdir().unwrap();
    let mk = |name: &str| {
        let p = tmp.path().join(name);
        std::fs::create_dir(&p).unwrap();
        std::fs::write(p.join("f"), name).unwrap();
        p
    };
    Dirs {
        cwd: mk("cwd"),
        readable: mk("readable"),
        writable: mk("writable"),
        outside: mk("outside"),
        _tmp: tmp,
    }
}

fn sandbox(d: &Dirs, network: bool) -> Sandbox {
    Sandbox {
        mode: SandboxMode::Required,
        read: vec![d.readable.display().to_string()],
        write: vec![d.writable.display().to_string()],
        network,
    }
}

/// Run `script` with `sh -c` in `d.cwd` under `rules`; the output's lines.
fn sh(rules: &Rules, d: &Dirs, script: &str) -> String {
    let mut cmd = Command::new("/bin/sh");
    // A plain environment, like a step's: nothing preloaded from the test's own
    // (faketime's library would need /dev/shm, which the sandbox does not give).
    cmd.args(["-c", script])
        .current_dir(&d.cwd)
        .env_clear()
        .env("PATH", "/usr/bin:/bin");
    rules.install_std(&mut cmd);
    let out = cmd.output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Each place answers as the sandbox says: read where declared, write where
/// declared and in the working directory, nothing outside (root included: Landlock
/// binds root as everyone).
#[test]
fn a_child_touches_only_what_it_was_given() {
    let d = dirs();
    let rules = build(&sandbox(&d, false), &d.cwd, &[], abi(), true).unwrap();
    let script = format!(
        "cat {r}/f; echo; cat {o}/f || echo no-read-outside; \
         echo w > {w}/new && echo wrote-writable; \
         echo w > {r}/new || echo no-write-readable; \
         echo w > {o}/new || echo no-write-outside; \
         echo w > here && echo wrote-cwd; \
         ls /usr/bin/env >/dev/null && echo system-ok",
        r = d.readable.display(),
        w = d.writable.display(),
        o = d.outside.display(),
    );
    let out = sh(&rules, &d, &script);
    for want in [
        "readable\n",
        "no-read-outside",
        "wrote-writable",
        "no-write-readable",
        "no-write-outside",
        "wrote-cwd",
        "system-ok",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    assert!(out.contains("Permission denied"), "{out}");
    assert!(!d.outside.join("new").exists());
    assert!(!d.readable.join("new").exists());
    assert!(d.writable.join("new").exists());
}

/// TCP connect is denied without `network`, allowed with it.
#[test]
fn the_network_is_denied_unless_allowed() {
    let d = dirs();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = format!(
        "if /usr/bin/bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port}'; then echo connected; else echo refused; fi"
    );
    let denied = build(&sandbox(&d, false), &d.cwd, &[], abi(), true).unwrap();
    assert!(sh(&denied, &d, &script).contains("refused"));
    let allowed = build(&sandbox(&d, true), &d.cwd, &[], abi(), false).unwrap();
    assert!(sh(&allowed, &d, &script).contains("connected"));
}

/// A sandboxed child cannot signal a process outside its sandbox (ABI 6).
#[test]
fn signals_stay_inside() {
    let d = dirs();
    let mut victim = Command::new("sleep").arg("30").spawn().unwrap();
    let rules = build(&sandbox(&d, false), &d.cwd, &[], abi(), true).unwrap();
    let out = sh(
        &rules,
        &d,
        &format!("kill -TERM {} || echo no-signal", victim.id()),
    );
    assert!(out.contains("no-signal"), "{out}");
    assert!(
        victim.try_wait().unwrap().is_none(),
        "the victim was killed"
    );
    victim.kill().unwrap();
    victim.wait().unwrap();
}

/// A declared path that is missing fails the build, naming it.
#[test]
fn a_missing_declared_path_is_named() {
    let d = dirs();
    let mut s = sandbox(&d, false);
    s.read.push(d.outside.join("nope").display().to_string());
    let err = build(&s, &d.cwd, &[], abi(), true).unwrap_err();
    assert!(
        err.to_string().contains("cannot grant") && err.to_string().contains("nope"),
        "{err}"
    );
}
