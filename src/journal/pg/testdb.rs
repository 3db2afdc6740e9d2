//! A throwaway PostgreSQL for tests: one server per test process, started on first
//! use with `initdb` + `pg_ctl` in a temp folder on a free loopback port (as the
//! `postgres` user when the tests run as root: PostgreSQL refuses to run as root),
//! and a fresh database per test. A watcher process stops the server and removes its
//! folder when the test process has exited.
//!
//! PostgreSQL missing is a failure naming `.ci/setup`, never a skip. The binaries are
//! looked for in `AIOS_PG_BIN`, then the newest `/usr/lib/postgresql/*/bin`.
//!
//! This file is also compiled into the CLI test binary (`#[path]` include), so it
//! uses only std, libc and the `postgres` crate.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A running test server: connect as `aios` to `127.0.0.1:port`.
#[derive(Debug)]
pub struct TestServer {
    pub port: u16,
}

impl TestServer {
    /// The URL of database `db` on this server.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://aios@127.0.0.1:{}/{db}", self.port)
    }
}

fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("AIOS_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("pg_ctl").exists().then_some((v, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/pg_ctl, and AIOS_PG_BIN is unset): \
             run .ci/setup, which checks for it (the Debian `postgresql` package)"
        ),
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A command for one of PostgreSQL's programs, as `postgres` when we are root.
fn pg_command(bin: &Path, program: &str) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(program));
        c
    } else {
        Command::new(bin.join(program))
    }
}

fn run(mut c: Command, what: &str, log: &Path) {
    let out = c
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: could not start it ({e}); run .ci/setup"));
    if !out.status.success() {
        let server_log = std::fs::read_to_string(log).unwrap_or_default();
        panic!(
            "{what} failed ({}):\n{}\n{}\nserver log:\n{server_log}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn start() -> TestServer {
    let bin = bin_dir();
    let base = std::env::temp_dir().join(format!(
        "aios-pg-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&base).expect("create the server's folder");
    if is_root() {
        run(
            {
                let mut c = Command::new("chown");
                c.arg("postgres").arg(&base);
                c
            },
            "chown postgres (the test server's folder)",
            &base.join("log"),
        );
    }
    let data = base.join("data");
    let log = base.join("log");
    let mut initdb = pg_command(&bin, "initdb");
    initdb.arg("-D").arg(&data).args([
        "-A",
        "trust",
        "-U",
        "aios",
        "-E",
        "UTF8",
        "--locale=C",
        "--no-sync",
    ]);
    run(initdb, "initdb (the test PostgreSQL)", &log);
    // Another test process may take the port between our probe and the start: try a
    // few ports.
    for attempt in 0..5 {
        let port = free_port();
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=200",
            base.display()
        );
        let status = pg_command(&bin, "pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["-o", &opts, "-l"])
            .arg(&log)
            .args(["-w", "-t", "60", "start"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("start pg_ctl; run .ci/setup");
        if status.success() {
            watch(&bin, &base, &data);
            return TestServer { port };
        }
        if attempt == 4 {
            let server_log = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("the test PostgreSQL did not start ({status}); server log:\n{server_log}");
        }
    }
    unreachable!()
}

/// Stop the server and remove its folder once this process has exited (a watcher
/// process: a test binary runs no destructors of statics).
fn watch(bin: &Path, base: &Path, data: &Path) {
    let me = std::process::id();
    let stop = if is_root() {
        format!(
            "runuser -u postgres -- '{}' -D '{}' -m immediate stop",
            bin.join("pg_ctl").display(),
            data.display()
        )
    } else {
        format!(
            "'{}' -D '{}' -m immediate stop",
            bin.join("pg_ctl").display(),
            data.display()
        )
    };
    // Started in the background by a shell we wait for: the watcher belongs to init
    // from then on, and outlives this process by the time it takes to stop the server.
    let script = format!(
        "(while kill -0 {me} 2>/dev/null; do sleep 0.2; done; {stop} >/dev/null 2>&1; rm -rf '{}') &",
        base.display()
    );
    let status = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("start the test server's watcher");
    assert!(status.success(), "the test server's watcher: {status}");
}

/// The test server of this process, started on first use.
pub fn server() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(start)
}

/// A new, empty database on the test server; returns its URL.
pub fn fresh_database() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let s = server();
    let name = format!("t{}", NEXT.fetch_add(1, Ordering::SeqCst));
    let mut admin = postgres::Client::connect(&s.url("postgres"), postgres::NoTls)
        .expect("connect to the test PostgreSQL");
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create a test database");
    s.url(&name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_test_gets_an_empty_database_of_its_own_on_one_server() {
        let (a, b) = (super::fresh_database(), super::fresh_database());
        assert_ne!(a, b);
        let mut c = postgres::Client::connect(&a, postgres::NoTls).unwrap();
        c.batch_execute("CREATE TABLE t (x BIGINT); INSERT INTO t VALUES (1)")
            .unwrap();
        let mut d = postgres::Client::connect(&b, postgres::NoTls).unwrap();
        let tables: i64 = d
            .query_one(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(tables, 0);
        let v: String = c.query_one("SHOW server_version", &[]).unwrap().get(0);
        assert!(!v.is_empty());
    }
}
