//! The test harness: a [`Test`] owns a temp directory that is both `AIOS_HOME` and the
//! workspace for workflow files, and runs the `aios` binary in a cleared environment.
//!
//! The journal's backend is chosen by `AIOS_TEST_BACKEND` (`backend.rs`): unset or
//! `sqlite`, the SQLite file in the home; `postgres`, a fresh database on the
//! throwaway server ([`postgres`]) for each test, named to every command by
//! `AIOS_DATABASE_URL` (a test that sets its own keeps it). Tests about the SQLite
//! file itself start with [`Test::sqlite_only`]; in postgres mode they print
//! `SQLITE-ONLY <test>: <why>` on stderr and stop, and `.ci/run` lists them.

mod backend;
pub mod dovecot;
pub mod http;
pub mod llm;
pub mod mcp;
pub mod postgres;
pub mod smtp;
pub mod wire;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value as Json;

pub use backend::on_postgres;

pub const BIN: &str = env!("CARGO_BIN_EXE_aios");

/// A fixed instant for tests whose asserted text contains time.
pub const NOW: &str = "2026-11-21T09:30:00Z";

/// A hermetic aios home + workspace.
pub struct Test {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    /// In postgres mode, this test's database, created on first use.
    database: OnceLock<String>,
}

impl Test {
    pub fn new() -> Test {
        Test {
            dir: tempfile::Builder::new()
                .prefix("aios-test-")
                .tempdir()
                .expect("temp dir"),
            env: Vec::new(),
            database: OnceLock::new(),
        }
    }

    /// The temp directory (AIOS_HOME, HOME and the working directory).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn join(&self, rel: &str) -> PathBuf {
        self.path().join(rel)
    }

    /// Write a file in the workspace (parent folders are created).
    pub fn write(self, rel: &str, text: &str) -> Test {
        self.put(rel, text);
        self
    }

    /// Like [`Test::write`], without consuming the test.
    pub fn put(&self, rel: &str, text: &str) {
        let p = self.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, text).unwrap();
    }

    /// Copy a file of this repository into the workspace.
    pub fn copy(self, repo_rel: &str, rel: &str) -> Test {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(repo_rel);
        let text = std::fs::read_to_string(&src).unwrap();
        self.write(rel, &text)
    }

    pub fn read(&self, rel: &str) -> String {
        let p = self.join(rel);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
    }

    /// An environment variable for every command of this test.
    pub fn env(mut self, k: &str, v: &str) -> Test {
        self.env.push((k.into(), v.into()));
        self
    }

    /// Start a command: `t.args(&["runs", "--json"]).run()`.
    pub fn args(&self, args: &[&str]) -> Cmd<'_> {
        Cmd {
            test: self,
            args: args.iter().map(|s| s.to_string()).collect(),
            env: Vec::new(),
            home: true,
            fsize: None,
            nofile: None,
            real_clock: false,
            input: None,
            unprivileged: false,
        }
    }

    /// Shorthand for `self.args(args).run()`.
    pub fn aios(&self, args: &[&str]) -> Output {
        self.args(args).run()
    }

    /// `show RUN --json`.
    pub fn show(&self, run: i64) -> Json {
        self.aios(&["show", &run.to_string(), "--json"])
            .success()
            .json()
    }

    /// `inbox list --json`.
    pub fn inbox(&self) -> Vec<Json> {
        match self.aios(&["inbox", "list", "--json"]).success().json() {
            Json::Array(a) => a,
            other => panic!("inbox list --json is not an array: {other}"),
        }
    }

    /// The id of the one pending inbox item of `step`.
    pub fn item(&self, step: &str) -> i64 {
        let items: Vec<i64> = self
            .inbox()
            .iter()
            .filter(|i| i["step_id"] == step)
            .map(|i| i["id"].as_i64().unwrap())
            .collect();
        assert_eq!(items.len(), 1, "pending items of step {step}: {items:?}");
        items[0]
    }

    /// The SQLite journal file. In postgres mode there is none: a test that calls
    /// this fails, to be ported (read through the CLI or [`Test::sql`]) or marked
    /// [`Test::sqlite_only`].
    pub fn db(&self) -> PathBuf {
        assert!(
            !on_postgres(),
            "t.db() is the SQLite file, and this test runs on PostgreSQL \
             (AIOS_TEST_BACKEND=postgres): read through the CLI or t.sql(), or start the test \
             with Test::sqlite_only(\"why\")"
        );
        self.join("aios.db")
    }

    /// Let file permissions bind the commands run with [`Cmd::unprivileged`]. Run
    /// as root (CI containers), chmod binds nobody, so those commands run as
    /// `nobody` (uid and gid 65534) and the workspace is handed to that user here.
    /// Run as anyone else, a no-op: permissions bind already.
    pub fn give_to_unprivileged(&self) {
        if !is_root() {
            return;
        }
        fn chown_tree(p: &Path) {
            std::os::unix::fs::lchown(p, Some(NOBODY), Some(NOBODY)).unwrap();
            if p.is_dir() && !p.is_symlink() {
                for e in std::fs::read_dir(p).unwrap() {
                    chown_tree(&e.unwrap().path());
                }
            }
        }
        chown_tree(self.path());
    }
}

/// The user unprivileged commands run as when the tests run as root.
const NOBODY: u32 = 65534;

fn is_root() -> bool {
    // SAFETY: plain FFI call without arguments.
    unsafe { libc::geteuid() == 0 }
}

/// The aios binary at a path `nobody` can reach: the build's own when every folder
/// above it lets others through, else a link (or copy) in a world-readable folder.
fn unprivileged_bin() -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    static BIN_FOR_NOBODY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN_FOR_NOBODY
        .get_or_init(|| {
            let bin = Path::new(BIN);
            let reachable = bin
                .ancestors()
                .skip(1)
                .all(|d| std::fs::metadata(d).is_ok_and(|m| m.permissions().mode() & 0o001 != 0));
            if reachable {
                return bin.to_path_buf();
            }
            let dir = std::env::temp_dir().join(format!("aios-test-bin-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
            let to = dir.join("aios");
            let _ = std::fs::remove_file(&to);
            if std::fs::hard_link(bin, &to).is_err() {
                std::fs::copy(bin, &to).unwrap();
            }
            to
        })
        .clone()
}

pub struct Cmd<'a> {
    test: &'a Test,
    args: Vec<String>,
    env: Vec<(String, String)>,
    home: bool,
    fsize: Option<u64>,
    nofile: Option<u64>,
    real_clock: bool,
    input: Option<String>,
    unprivileged: bool,
}

impl Cmd<'_> {
    /// Run as a user file permissions bind: as `nobody` when the tests run as root
    /// (see [`Test::give_to_unprivileged`]), as the current user otherwise.
    pub fn unprivileged(mut self) -> Self {
        self.unprivileged = true;
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    /// Limit the size of any file the process writes (RLIMIT_FSIZE), as a full disk
    /// does: writes past it fail with EFBIG instead of killing the process.
    pub fn file_size_limit(mut self, bytes: u64) -> Self {
        self.fsize = Some(bytes);
        self
    }

    /// Limit how many files the process may have open (RLIMIT_NOFILE, soft and hard),
    /// as a small `ulimit -n` does.
    pub fn open_files_limit(mut self, n: u64) -> Self {
        self.nofile = Some(n);
        self
    }

    /// Read the system clock instead of the pinned [`NOW`]. A test that asks for this
    /// must not depend on the date (CI runs the suite with the clock a year ahead).
    pub fn real_clock(mut self) -> Self {
        self.real_clock = true;
        self
    }

    /// Pipe `text` to the command's stdin (instead of /dev/null).
    pub fn stdin(mut self, text: &str) -> Self {
        self.input = Some(text.to_string());
        self
    }

    /// Do not set AIOS_HOME (for `--home` tests).
    pub fn no_home(mut self) -> Self {
        self.home = false;
        self
    }

    fn command(&self) -> Command {
        let drop_root = self.unprivileged && is_root();
        let mut c = Command::new(if drop_root {
            unprivileged_bin()
        } else {
            PathBuf::from(BIN)
        });
        if drop_root {
            use std::os::unix::process::CommandExt;
            // SAFETY: only async-signal-safe calls between fork and exec.
            unsafe {
                c.pre_exec(|| {
                    if libc::setgroups(0, std::ptr::null()) != 0
                        || libc::setgid(NOBODY) != 0
                        || libc::setuid(NOBODY) != 0
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        c.args(&self.args)
            .current_dir(self.test.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("NO_COLOR", "1")
            .env("HOME", self.test.path());
        if self.home {
            c.env("AIOS_HOME", self.test.path());
        }
        // A shifted clock (CI's `faketime` pass) reaches the aios processes too.
        for (k, v) in std::env::vars_os() {
            let k_str = k.to_string_lossy();
            if k_str == "LD_PRELOAD" || k_str.starts_with("FAKETIME") {
                c.env(&k, v);
            }
        }
        // Every command reads a pinned clock unless the test asks for the real one
        // (the test's own AIOS_NOW, set below, wins).
        if !self.real_clock {
            c.env("AIOS_NOW", NOW);
        }
        // Postgres mode: the test's database (the test's own AIOS_DATABASE_URL, set
        // below, wins).
        if on_postgres()
            && !self.env.iter().any(|(k, _)| k == "AIOS_DATABASE_URL")
            && let Some(url) = self.test.database_url()
        {
            c.env("AIOS_DATABASE_URL", url);
        }
        for (k, v) in self.test.env.iter().chain(&self.env) {
            c.env(k, v);
        }
        if let Some(n) = self.nofile {
            use std::os::unix::process::CommandExt;
            // SAFETY: only async-signal-safe calls between fork and exec.
            unsafe {
                c.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: n,
                        rlim_max: n,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        if let Some(limit) = self.fsize {
            use std::os::unix::process::CommandExt;
            // SAFETY: only async-signal-safe calls between fork and exec.
            unsafe {
                c.pre_exec(move || {
                    libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                    let lim = libc::rlimit {
                        rlim_cur: limit,
                        rlim_max: limit,
                    };
                    if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        c
    }

    pub fn run(self) -> Output {
        let out = match &self.input {
            None => self
                .command()
                .stdin(Stdio::null())
                .output()
                .expect("run aios"),
            Some(text) => {
                let mut child = self
                    .command()
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn aios");
                let mut stdin = child.stdin.take().unwrap();
                let text = text.clone();
                let writer = std::thread::spawn(move || {
                    use std::io::Write;
                    let _ = stdin.write_all(text.as_bytes());
                });
                let out = child.wait_with_output().expect("wait for aios");
                writer.join().unwrap();
                out
            }
        };
        Output {
            args: self.args.join(" "),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            code: out.status.code(),
        }
    }

    /// Run with stdout a pipe whose reading end is already closed (`aios ... | head`
    /// where head has exited).
    pub fn run_closed_stdout(self) -> Output {
        let mut child = self
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn aios");
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait for aios");
        Output {
            args: self.args.join(" "),
            stdout: String::new(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            code: out.status.code(),
        }
    }

    /// The command with the test's environment, for callers that wire its stdio
    /// themselves (the TUI tests attach a pseudo-terminal).
    pub fn into_command(self) -> Command {
        self.command()
    }

    /// Start in the background; collect with [`Background::wait`].
    pub fn spawn(self) -> Background {
        let child = self
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn aios");
        Background {
            args: self.args.join(" "),
            child: Some(child),
        }
    }
}

/// An aios process running in the background. Killed if dropped while running.
pub struct Background {
    args: String,
    child: Option<Child>,
}

impl Background {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Wait for it to exit (at most 30 s, then kill it and fail).
    pub fn wait(mut self) -> Output {
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("`aios {}` did not finish within 30 s", self.args);
            }
            // Polling for process exit: a condition loop with a deadline.
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        Output {
            args: self.args.clone(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            code: out.status.code(),
        }
    }

    /// SIGKILL it (no chance to clean up) and reap it.
    pub fn kill9(mut self) {
        let mut child = self.child.take().unwrap();
        // SAFETY: plain FFI call with the pid of our own child, which has not been reaped.
        let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
        assert_eq!(rc, 0, "kill -9 failed");
        let status = child.wait().unwrap();
        assert!(
            status.code().is_none(),
            "aios exited instead of being killed"
        );
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// What a finished command printed and how it exited.
#[derive(Debug)]
pub struct Output {
    pub args: String,
    pub stdout: String,
    pub stderr: String,
    pub code: Option<i32>,
}

impl Output {
    fn fail(&self, what: &str) -> ! {
        panic!(
            "`aios {}`: {what}\n--- exit: {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.args, self.code, self.stdout, self.stderr
        )
    }

    pub fn code(self, n: i32) -> Self {
        if self.code != Some(n) {
            self.fail(&format!("expected exit code {n}"));
        }
        self
    }

    pub fn success(self) -> Self {
        self.code(0)
    }

    pub fn stdout_contains(self, s: &str) -> Self {
        if !self.stdout.contains(s) {
            self.fail(&format!("stdout lacks {s:?}"));
        }
        self
    }

    pub fn stderr_contains(self, s: &str) -> Self {
        if !self.stderr.contains(s) {
            self.fail(&format!("stderr lacks {s:?}"));
        }
        self
    }

    pub fn stdout_is(self, s: &str) -> Self {
        if self.stdout != s {
            self.fail(&format!("stdout is not exactly:\n{s}"));
        }
        self
    }

    pub fn stderr_is(self, s: &str) -> Self {
        if self.stderr != s {
            self.fail(&format!("stderr is not exactly:\n{s}"));
        }
        self
    }

    pub fn json(&self) -> Json {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| self.fail(&format!("stdout is not one JSON document: {e}")))
    }
}

/// The sorted keys of a JSON object.
pub fn keys(v: &Json) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect();
    k.sort();
    k
}

pub fn sorted(k: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = k.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// Poll `cond` every 20 ms until it holds; fail after 10 s with `what`.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The statuses of a run's steps, from `show --json`, as (id, status).
pub fn step_statuses(show: &Json) -> Vec<(String, String)> {
    show["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_string(),
                s["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A step of a `show --json` object by id.
pub fn step<'a>(show: &'a Json, id: &str) -> &'a Json {
    show["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step {id} in {show}"))
}

/// This machine's host name as aios reads it.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}
