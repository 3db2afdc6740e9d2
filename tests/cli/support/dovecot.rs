//! A real IMAP server for the tests (and `benches/imap.rs`, which includes this file):
//! Debian's dovecot-imapd, installed by `.ci/setup`, started in the foreground from a
//! temp folder (passwd-file user `ada`, Maildir, a free loopback port) and stopped
//! when dropped. A missing dovecot fails the test with a message naming `.ci/setup`.
//!
//! Dovecot refuses to run mail processes as root: run as root (CI), the mail user is
//! `nobody`; otherwise it is the current user.
//!
//! Also here: [`Imap`], a small synchronous IMAP client the tests append and inspect
//! messages with, and [`Proxy`], a TCP relay that can stop forwarding a client's
//! commands at a chosen one (to kill aios at a precise point).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The IMAP user every server has.
pub const USER: &str = "ada";
/// Its password (stored by tests as the secret `IMAP_PASSWORD`).
pub const PASSWORD: &str = "s3cret-imap-pass";

fn dovecot_bin() -> PathBuf {
    for p in ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    if let Ok(out) = Command::new("sh")
        .args(["-c", "command -v dovecot"])
        .output()
        && out.status.success()
    {
        let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !p.is_empty() {
            return PathBuf::from(p);
        }
    }
    panic!(
        "dovecot is missing: run .ci/setup to install the test servers (it installs dovecot-imapd)"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn is_root() -> bool {
    // SAFETY: plain FFI call without arguments.
    unsafe { libc::geteuid() == 0 }
}

fn current_user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| {
            let out = Command::new("id").arg("-un").output().unwrap();
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        })
}

/// A running dovecot.
pub struct Dovecot {
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// The plain IMAP port (STARTTLS offered when started with TLS).
    pub port: u16,
    /// The implicit-TLS port (IMAPS), when started with TLS.
    pub tls_port: Option<u16>,
}

impl Dovecot {
    /// A server without TLS.
    pub fn start() -> Dovecot {
        Dovecot::launch(false)
    }

    /// A server with a self-signed certificate for `localhost` / 127.0.0.1 (see
    /// [`Dovecot::cert`]): STARTTLS on [`Dovecot::port`], IMAPS on `tls_port`.
    pub fn start_tls() -> Dovecot {
        Dovecot::launch(true)
    }

    fn launch(tls: bool) -> Dovecot {
        let bin = dovecot_bin();
        let mut last = String::new();
        for _ in 0..5 {
            match Dovecot::try_launch(&bin, tls) {
                Ok(d) => return d,
                Err(e) => last = e,
            }
        }
        panic!("dovecot did not start: {last}");
    }

    fn try_launch(bin: &Path, tls: bool) -> Result<Dovecot, String> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix("aios-dovecot-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        // The mail and login processes run as other users: they must get through.
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o711)).unwrap();
        for sub in ["run", "state", "mail"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        let (uid, gid, internal, login) = if is_root() {
            let nobody = 65534;
            std::os::unix::fs::chown(d.join("mail"), Some(nobody), Some(nobody)).unwrap();
            (
                nobody,
                nobody,
                "dovecot".to_string(),
                "dovenull".to_string(),
            )
        } else {
            // SAFETY: plain FFI calls without arguments.
            let (u, g) = unsafe { (libc::getuid(), libc::getgid()) };
            let me = current_user();
            (u, g, me.clone(), me)
        };
        std::fs::write(
            d.join("passwd"),
            format!(
                "{USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{}/mail/{USER}\n",
                d.display()
            ),
        )
        .unwrap();
        let port = free_port();
        let mut tls_port = None;
        let mut ssl = "ssl = no\n".to_string();
        let mut listeners = format!("  inet_listener imap {{\n    port = {port}\n  }}\n");
        if tls {
            let ok = Command::new("openssl")
                .args([
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:prime256v1",
                    "-nodes",
                    "-days",
                    "3650",
                    "-subj",
                    "/CN=aios test imap server",
                    "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-addext",
                    "basicConstraints=critical,CA:FALSE",
                    "-keyout",
                ])
                .arg(d.join("key.pem"))
                .arg("-out")
                .arg(d.join("cert.pem"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map_err(|e| format!("openssl is missing ({e}): run .ci/setup"))?;
            assert!(ok.success(), "openssl could not make a certificate");
            let p = free_port();
            tls_port = Some(p);
            ssl = format!(
                "ssl = yes\nssl_cert = <{d}/cert.pem\nssl_key = <{d}/key.pem\n",
                d = d.display()
            );
            listeners.push_str(&format!(
                "  inet_listener imaps {{\n    port = {p}\n    ssl = yes\n  }}\n"
            ));
        }
        let first_valid = if is_root() { 100 } else { uid.min(100) };
        // No delays after a failed login: `auth_failure_delay` for the failure's reply,
        // and loopback trusted so anvil's auth penalty (2 s, doubling, before the next
        // login from the IP) does not slow the login a test makes after a wrong password
        // (on a loaded machine that next login was lost).
        let conf = format!(
            "protocols = imap\nlisten = 127.0.0.1\nbase_dir = {d}/run\nstate_dir = {d}/state\n\
             log_path = {d}/dovecot.log\n{ssl}disable_plaintext_auth = no\n\
             auth_mechanisms = plain login\nauth_failure_delay = 0\n\
             login_trusted_networks = 127.0.0.0/8\n\
             mail_max_userip_connections = 100\nmail_location = maildir:~/Maildir\n\
             mail_fsync = never\n\
             first_valid_uid = {first_valid}\ndefault_internal_user = {internal}\n\
             default_login_user = {login}\n\
             service imap-login {{\n{listeners}}}\n\
             passdb {{\n  driver = passwd-file\n  args = {d}/passwd\n}}\n\
             userdb {{\n  driver = passwd-file\n  args = {d}/passwd\n}}\n",
            d = d.display()
        );
        std::fs::write(d.join("dovecot.conf"), conf).unwrap();
        let child = Command::new(bin)
            .arg("-F")
            .arg("-c")
            .arg(d.join("dovecot.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run dovecot: {e}"))?;
        let mut server = Dovecot {
            dir,
            child: Some(child),
            port,
            tls_port,
        };
        // Ready when it greets on its port (or failed when it exited).
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(c) = server.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                let mut err = String::new();
                if let Some(mut e) = c.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                server.child = None;
                return Err(format!("dovecot exited ({status}): {err}{}", server.log()));
            }
            if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut line = String::new();
                if BufReader::new(s).read_line(&mut line).is_ok() && line.starts_with("* OK") {
                    return Ok(server);
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "dovecot did not greet within 20 s: {}",
                    server.log()
                ));
            }
            // Polling for the server to listen: a condition loop with a deadline.
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The self-signed certificate (PEM), when started with TLS.
    pub fn cert(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    /// The server's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    /// A logged-in client.
    pub fn client(&self) -> Imap {
        Imap::connect(self.port)
    }

    /// Append a message to `folder`; its UID.
    pub fn append(&self, folder: &str, raw: &[u8]) -> u32 {
        self.client().append(folder, raw)
    }

    /// The flags of message `uid` in `folder`.
    pub fn flags(&self, folder: &str, uid: u32) -> Vec<String> {
        let mut c = self.client();
        c.select(folder);
        c.flags(uid)
    }

    /// The UIDs in `folder`.
    pub fn uids(&self, folder: &str) -> Vec<u32> {
        let mut c = self.client();
        c.select(folder);
        c.search("ALL")
    }

    pub fn create_folder(&self, name: &str) {
        self.client().ok(&format!("CREATE \"{name}\""));
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SIGTERM: the master stops its children too.
        // SAFETY: plain FFI call with the pid of our own child, not yet reaped.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            // Polling for the server to exit: a condition loop with a deadline.
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A small synchronous IMAP client (tagged commands, LITERAL+ appends).
pub struct Imap {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    tag: u32,
}

impl Imap {
    pub fn connect(port: u16) -> Imap {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect to dovecot");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut c = Imap {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
            tag: 0,
        };
        let mut greeting = String::new();
        c.reader.read_line(&mut greeting).unwrap();
        assert!(greeting.starts_with("* OK"), "dovecot greeted {greeting:?}");
        c.ok(&format!("LOGIN {USER} \"{PASSWORD}\""));
        c
    }

    /// Send a command (and `literal` after it, as `{N+}`); every line up to the
    /// tagged answer, which must be OK.
    fn send(&mut self, command: &str, literal: Option<&[u8]>) -> Vec<String> {
        self.tag += 1;
        let tag = format!("t{}", self.tag);
        match literal {
            Some(bytes) => {
                self.writer
                    .write_all(format!("{tag} {command} {{{}+}}\r\n", bytes.len()).as_bytes())
                    .unwrap();
                self.writer.write_all(bytes).unwrap();
                self.writer.write_all(b"\r\n").unwrap();
            }
            None => self
                .writer
                .write_all(format!("{tag} {command}\r\n").as_bytes())
                .unwrap(),
        }
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).unwrap();
            assert!(n > 0, "dovecot closed the connection during {command:?}");
            if let Some(rest) = line.strip_prefix(&format!("{tag} ")) {
                assert!(rest.starts_with("OK"), "{command:?}: {line}");
                lines.push(line);
                return lines;
            }
            lines.push(line);
        }
    }

    pub fn ok(&mut self, command: &str) -> Vec<String> {
        self.send(command, None)
    }

    pub fn select(&mut self, folder: &str) -> Vec<String> {
        self.ok(&format!("SELECT \"{folder}\""))
    }

    /// Append; the new message's UID (from APPENDUID).
    pub fn append(&mut self, folder: &str, raw: &[u8]) -> u32 {
        let lines = self.send(&format!("APPEND \"{folder}\""), Some(raw));
        let last = lines.last().unwrap();
        let at = last.find("APPENDUID ").expect("APPENDUID") + "APPENDUID ".len();
        last[at..]
            .split_whitespace()
            .nth(1)
            .unwrap()
            .trim_end_matches(']')
            .parse()
            .unwrap()
    }

    /// Append many messages in one command (MULTIAPPEND, RFC 3502), each with
    /// `flags` (like `(\\Seen)`).
    pub fn append_many(&mut self, folder: &str, flags: &str, messages: &[Vec<u8>]) {
        self.tag += 1;
        let tag = format!("t{}", self.tag);
        let mut out = format!("{tag} APPEND \"{folder}\"").into_bytes();
        for m in messages {
            out.extend_from_slice(format!(" {flags} {{{}+}}\r\n", m.len()).as_bytes());
            out.extend_from_slice(m);
        }
        out.extend_from_slice(b"\r\n");
        self.writer.write_all(&out).unwrap();
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).unwrap();
            assert!(n > 0, "dovecot closed the connection during APPEND");
            if let Some(rest) = line.strip_prefix(&format!("{tag} ")) {
                assert!(rest.starts_with("OK"), "APPEND: {line}");
                return;
            }
        }
    }

    /// The UIDs matching a search key in the selected folder.
    pub fn search(&mut self, key: &str) -> Vec<u32> {
        let lines = self.ok(&format!("UID SEARCH {key}"));
        let mut uids: Vec<u32> = lines
            .iter()
            .filter_map(|l| l.strip_prefix("* SEARCH"))
            .flat_map(|l| l.split_whitespace().filter_map(|u| u.parse().ok()))
            .collect();
        uids.sort_unstable();
        uids
    }

    /// The flags of a message of the selected folder (but `\Recent`, which only
    /// says this session is the first to see it).
    pub fn flags(&mut self, uid: u32) -> Vec<String> {
        let lines = self.ok(&format!("UID FETCH {uid} (FLAGS)"));
        let line = lines
            .iter()
            .find(|l| l.contains("FLAGS ("))
            .unwrap_or_else(|| panic!("no message with uid {uid}: {lines:?}"));
        let at = line.find("FLAGS (").unwrap() + "FLAGS (".len();
        let end = line[at..].find(')').unwrap() + at;
        line[at..end]
            .split_whitespace()
            .filter(|f| *f != "\\Recent")
            .map(str::to_string)
            .collect()
    }

    /// The selected folder's UIDVALIDITY.
    pub fn uidvalidity(&mut self, folder: &str) -> u32 {
        let lines = self.select(folder);
        let line = lines.iter().find(|l| l.contains("UIDVALIDITY")).unwrap();
        let at = line.find("UIDVALIDITY ").unwrap() + "UIDVALIDITY ".len();
        line[at..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }
}

/// A TCP relay in front of a server. While a hold pattern is set, the first client
/// command line containing it is not forwarded (nor is anything the client sends
/// after it): the client waits for an answer that does not come.
pub struct Proxy {
    pub port: u16,
    hold: Arc<Mutex<Option<String>>>,
    held: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    pub fn start(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let hold: Arc<Mutex<Option<String>>> = Arc::default();
        let held: Arc<AtomicBool> = Arc::default();
        let stop: Arc<AtomicBool> = Arc::default();
        let (h, hd, st) = (hold.clone(), held.clone(), stop.clone());
        std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let _ = client.set_nonblocking(false);
                        let server = TcpStream::connect(("127.0.0.1", target)).unwrap();
                        relay(client, server, h.clone(), hd.clone());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Proxy {
            port,
            hold,
            held,
            stop,
        }
    }

    /// Stop forwarding at the first client line containing `pattern` (new and open
    /// connections); `None` forwards everything again (new connections).
    pub fn hold_at(&self, pattern: Option<&str>) {
        *self.hold.lock().unwrap() = pattern.map(str::to_string);
        self.held.store(false, Ordering::SeqCst);
    }

    /// Whether a command was held.
    pub fn held(&self) -> bool {
        self.held.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn relay(
    client: TcpStream,
    server: TcpStream,
    hold: Arc<Mutex<Option<String>>>,
    held: Arc<AtomicBool>,
) {
    let (mut c_read, mut s_write) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let (mut s_read, mut c_write) = (server, client);
    // Server to client: as it comes.
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut s_read, &mut c_write);
        let _ = c_write.shutdown(std::net::Shutdown::Both);
    });
    // Client to server: line by line, held at the pattern.
    std::thread::spawn(move || {
        let mut pending: Vec<u8> = Vec::new();
        let mut buf = [0u8; 64 * 1024];
        loop {
            let n = match c_read.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            pending.extend_from_slice(&buf[..n]);
            let pattern = hold.lock().unwrap().clone();
            if let Some(p) = pattern
                && let Some(at) = find(&pending, p.as_bytes())
            {
                // Forward what came before the held line's start, then nothing.
                let line_start = pending[..at]
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(0, |i| i + 1);
                let _ = s_write.write_all(&pending[..line_start]);
                held.store(true, Ordering::SeqCst);
                // Keep the connection open, swallowing the rest.
                while let Ok(n) = c_read.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                }
                break;
            }
            // Keep an incomplete last line (a pattern may span reads).
            let keep_from = pending
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |i| i + 1);
            if s_write.write_all(&pending[..keep_from]).is_err() {
                break;
            }
            pending.drain(..keep_from);
        }
        let _ = s_write.shutdown(std::net::Shutdown::Both);
    });
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
