//! A real SMTP server for the tests: `tests/smtp_server.py` (aiosmtpd, from the venv
//! `.ci/setup` installs under `$AIOS_TEST_SERVERS`), with STARTTLS or implicit TLS
//! (a CA and a server certificate for 127.0.0.1 made here with rcgen), AUTH, scripted
//! replies and a hold after DATA. It records each message to a folder the test
//! reads. A missing venv fails the test with a message naming `.ci/setup`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

use serde_json::Value as Json;

use super::mcp::servers_dir;

/// How the server protects connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    Starttls,
    Implicit,
    None,
}

impl Tls {
    fn arg(self) -> &'static str {
        match self {
            Tls::Starttls => "starttls",
            Tls::Implicit => "implicit",
            Tls::None => "none",
        }
    }
}

/// What the server asks and answers.
#[derive(Debug, Clone)]
pub struct Opts {
    pub tls: Tls,
    /// Login required (user, password).
    pub auth: Option<(String, String)>,
    /// Answers to the next messages, in order (then 250).
    pub replies: Vec<String>,
    /// Wait for [`SmtpServer::release`] before answering a message.
    pub hold: bool,
}

impl Default for Opts {
    fn default() -> Opts {
        Opts {
            tls: Tls::Starttls,
            auth: Some(("ada".into(), PASSWORD.into())),
            replies: Vec::new(),
            hold: false,
        }
    }
}

/// The password the default server takes (planted: no output may show it).
pub const PASSWORD: &str = "pw-Zq8vXk2mLr7";

/// A message the server accepted.
#[derive(Debug, Clone)]
pub struct Received {
    pub bytes: Vec<u8>,
    pub envelope: Json,
}

impl Received {
    pub fn text(&self) -> String {
        String::from_utf8(self.bytes.clone()).expect("an ASCII message")
    }
}

pub struct SmtpServer {
    child: Child,
    _stdin: ChildStdin,
    pub port: u16,
    pub dir: PathBuf,
    /// The CA that signed the server's certificate (PEM), for `ca_file`.
    pub ca_file: PathBuf,
    pub opts: Opts,
}

fn python() -> PathBuf {
    let p = servers_dir().join("venv/bin/python");
    assert!(
        p.exists() && servers_dir().join("venv/bin/aiosmtpd").exists(),
        "aiosmtpd is missing ({}): run .ci/setup to install the test servers (or set AIOS_TEST_SERVERS)",
        p.display()
    );
    p
}

/// A CA and a certificate for 127.0.0.1 and localhost signed by it, as PEM files in
/// `dir`: (ca.pem, cert.pem, key.pem).
pub fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "aios test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut leaf =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "aios test server");
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&paths.0, ca_cert.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl SmtpServer {
    /// Start a server recording into `dir` (created).
    pub fn start(dir: &Path, opts: Opts) -> SmtpServer {
        std::fs::create_dir_all(dir).unwrap();
        let (ca_file, cert, key) = certificates(dir);
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_server.py");
        let mut last = String::new();
        // A port picked free may be taken by the time the server binds it: try again.
        for _ in 0..5 {
            let port = free_port();
            let mut cmd = Command::new(python());
            cmd.arg(&script)
                .arg("--dir")
                .arg(dir)
                .arg("--port")
                .arg(port.to_string())
                .arg("--tls")
                .arg(opts.tls.arg())
                .arg("--cert")
                .arg(&cert)
                .arg("--key")
                .arg(&key);
            if let Some((u, p)) = &opts.auth {
                cmd.args(["--user", u, "--password", p]);
            }
            for r in &opts.replies {
                cmd.args(["--reply", r]);
            }
            if opts.hold {
                cmd.arg("--hold");
            }
            let mut child = cmd
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start tests/smtp_server.py");
            let stdin = child.stdin.take().unwrap();
            let mut out = BufReader::new(child.stdout.take().unwrap());
            let mut line = String::new();
            let _ = out.read_line(&mut line);
            if line.trim() == format!("READY {port}") {
                return SmtpServer {
                    child,
                    _stdin: stdin,
                    port,
                    dir: dir.to_path_buf(),
                    ca_file,
                    opts,
                };
            }
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            last = String::from_utf8_lossy(&out.stderr).into_owned();
        }
        panic!("the test SMTP server did not start: {last}");
    }

    /// `[smtp]` (or `[smtp.NAME]`) for this server: its port, TLS mode, the CA to
    /// trust, the login (password as `secret("SMTP_PASSWORD")`), and a sender.
    pub fn config(&self, name: Option<&str>) -> String {
        let header = match name {
            Some(n) => format!("[smtp.{n}]"),
            None => "[smtp]".to_string(),
        };
        let mut s = format!(
            "{header}\nhost = \"127.0.0.1\"\nport = {}\ntls = \"{}\"\nfrom = \"Ada <ada@example.com>\"\ntimeout = \"10s\"\n",
            self.port,
            self.opts.tls.arg()
        );
        if self.opts.tls != Tls::None {
            s.push_str(&format!(
                "ca_file = {:?}\n",
                self.ca_file.display().to_string()
            ));
        }
        if let Some((u, _)) = &self.opts.auth {
            s.push_str(&format!(
                "user = \"{u}\"\npassword = 'secret(\"SMTP_PASSWORD\")'\n"
            ));
        }
        s
    }

    /// Messages accepted so far, in order.
    pub fn messages(&self) -> Vec<Received> {
        let mut out = Vec::new();
        for n in 1.. {
            let eml = self.dir.join(format!("msg-{n}.eml"));
            let Ok(bytes) = std::fs::read(&eml) else {
                break;
            };
            let meta = std::fs::read_to_string(self.dir.join(format!("msg-{n}.json"))).unwrap();
            out.push(Received {
                bytes,
                envelope: serde_json::from_str(&meta).unwrap(),
            });
        }
        out
    }

    fn lines(&self, name: &str) -> Vec<Json> {
        std::fs::read_to_string(self.dir.join(name))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Every message the client tried to send (each with the server's reply).
    pub fn attempts(&self) -> Vec<Json> {
        self.lines("attempts.jsonl")
    }

    /// Every login (user, ok).
    pub fn logins(&self) -> Vec<Json> {
        self.lines("auth.jsonl")
    }

    /// Let a held message be answered.
    pub fn release(&self) {
        std::fs::write(self.dir.join("release"), "").unwrap();
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
