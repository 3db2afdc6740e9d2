//! The inbox TUI driven through a pseudo-terminal (`openpty`): the real binary, keys
//! in, a small terminal emulator reading the screen out. Also the stale-evidence rule
//! of `aios approve` and `aios inbox` without a terminal. Acting on runs is in
//! `tui_runs.rs`, with the same pty.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Child, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::support::{Test, step};

const COLS: u16 = 80;
const ROWS: u16 = 24;

/// What the terminal shows, rebuilt from the escape sequences the TUI writes (cursor
/// moves, clears, text): enough of a VT100 for ratatui's crossterm backend.
struct Screen {
    cells: Vec<Vec<char>>,
    row: usize,
    col: usize,
    state: Parse,
    csi: String,
    utf8: Vec<u8>,
    raw: Vec<u8>,
    closed: bool,
    /// Answers owed to the program (a cursor position report).
    replies: Vec<u8>,
}

#[derive(PartialEq)]
enum Parse {
    Text,
    Escape,
    Csi,
}

impl Screen {
    fn new() -> Screen {
        Screen {
            cells: vec![vec![' '; COLS as usize]; ROWS as usize],
            row: 0,
            col: 0,
            state: Parse::Text,
            csi: String::new(),
            utf8: Vec::new(),
            raw: Vec::new(),
            closed: false,
            replies: Vec::new(),
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        self.raw.extend_from_slice(bytes);
        for &b in bytes {
            match self.state {
                Parse::Escape => {
                    self.state = if b == b'[' { Parse::Csi } else { Parse::Text };
                    self.csi.clear();
                }
                Parse::Csi => {
                    if (0x40..=0x7e).contains(&b) {
                        self.state = Parse::Text;
                        self.csi_done(b as char);
                    } else {
                        self.csi.push(b as char);
                    }
                }
                Parse::Text => match b {
                    0x1b => self.state = Parse::Escape,
                    b'\r' => self.col = 0,
                    b'\n' => self.row = (self.row + 1).min(ROWS as usize - 1),
                    0..=0x1f => {}
                    _ => {
                        self.utf8.push(b);
                        if let Ok(s) = std::str::from_utf8(&self.utf8) {
                            let c = s.chars().next().unwrap();
                            self.utf8.clear();
                            self.put(c);
                        } else if self.utf8.len() > 4 {
                            self.utf8.clear();
                        }
                    }
                },
            }
        }
    }

    fn put(&mut self, c: char) {
        if self.row < ROWS as usize && self.col < COLS as usize {
            self.cells[self.row][self.col] = c;
        }
        self.col += 1;
    }

    fn csi_done(&mut self, f: char) {
        let args: Vec<usize> = self
            .csi
            .trim_start_matches('?')
            .split(';')
            .map(|a| a.parse().unwrap_or(0))
            .collect();
        let arg = |i: usize, d: usize| args.get(i).copied().filter(|v| *v > 0).unwrap_or(d);
        match f {
            'H' | 'f' => {
                self.row = arg(0, 1) - 1;
                self.col = arg(1, 1) - 1;
            }
            'J' if self.csi == "2" => {
                for r in &mut self.cells {
                    r.fill(' ');
                }
            }
            'K' => {
                let row = self.row.min(ROWS as usize - 1);
                for c in self.col.min(COLS as usize)..COLS as usize {
                    self.cells[row][c] = ' ';
                }
            }
            'C' => self.col += arg(0, 1),
            'D' => self.col = self.col.saturating_sub(arg(0, 1)),
            'A' => self.row = self.row.saturating_sub(arg(0, 1)),
            'B' => self.row = (self.row + arg(0, 1)).min(ROWS as usize - 1),
            'G' => self.col = arg(0, 1) - 1,
            'n' if self.csi == "6" => {
                let report = format!("\x1b[{};{}R", self.row + 1, self.col + 1);
                self.replies.extend_from_slice(report.as_bytes());
            }
            _ => {}
        }
    }

    fn text(&self) -> String {
        self.cells
            .iter()
            .map(|r| r.iter().collect::<String>().trim_end().to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// `aios ARGS` running on the slave side of a pseudo-terminal.
pub(crate) struct Pty {
    master: File,
    child: Child,
    screen: Arc<(Mutex<Screen>, Condvar)>,
}

impl Pty {
    pub(crate) fn spawn(t: &Test, args: &[&str], env: &[(&str, &str)]) -> Pty {
        let mut master = 0;
        let mut slave = 0;
        let size = libc::winsize {
            ws_row: ROWS,
            ws_col: COLS,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: valid out-pointers; a null name and termios are allowed.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                &size as *const libc::winsize as *mut libc::winsize,
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: openpty returned two fresh descriptors we now own.
        let (master, slave) = unsafe { (File::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let mut cmd = t.args(args).into_command();
        cmd.env("TERM", "xterm");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        use std::os::unix::process::CommandExt;
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn aios on a pty");
        drop(cmd);
        let screen = Arc::new((Mutex::new(Screen::new()), Condvar::new()));
        let reader = master.try_clone().unwrap();
        let mut answer = master.try_clone().unwrap();
        let shared = screen.clone();
        std::thread::spawn(move || {
            let mut reader = reader;
            let mut buf = [0u8; 8192];
            loop {
                let n = reader.read(&mut buf).unwrap_or(0);
                let (lock, cv) = &*shared;
                let mut s = lock.lock().unwrap();
                if n == 0 {
                    s.closed = true;
                    cv.notify_all();
                    return;
                }
                s.feed(&buf[..n]);
                if !s.replies.is_empty() {
                    let _ = answer.write_all(&std::mem::take(&mut s.replies));
                }
                cv.notify_all();
            }
        });
        Pty {
            master,
            child,
            screen,
        }
    }

    /// Wait until the screen shows `text` (at most 20 s).
    pub(crate) fn wait_for(&self, text: &str) {
        let (lock, cv) = &*self.screen;
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut s = lock.lock().unwrap();
        while !s.text().contains(text) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero() && !s.closed,
                "the screen never showed {text:?}; it shows:\n{}",
                s.text()
            );
            s = cv.wait_timeout(s, left).unwrap().0;
        }
    }

    pub(crate) fn keys(&mut self, keys: &str) {
        self.master.write_all(keys.as_bytes()).unwrap();
    }

    /// Wait for the process to exit; its status code and everything it wrote.
    pub(crate) fn exit(mut self) -> (Option<i32>, Vec<u8>) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the TUI did not exit");
            }
            // Polling for process exit: a condition loop with a deadline.
            std::thread::sleep(Duration::from_millis(20));
        };
        let (lock, cv) = &*self.screen;
        let mut s = lock.lock().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !s.closed && Instant::now() < deadline {
            s = cv.wait_timeout(s, Duration::from_millis(100)).unwrap().0;
        }
        (status.code(), s.raw.clone())
    }
}

/// A test that fails before `exit` (a `wait_for` that times out) must not leave its
/// `aios` running on the pty: it is killed and reaped.
impl Drop for Pty {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

const LEAVE_ALT_SCREEN: &[u8] = b"\x1b[?1049l";

pub(crate) fn restored(raw: &[u8]) -> bool {
    raw.windows(LEAVE_ALT_SCREEN.len())
        .any(|w| w == LEAVE_ALT_SCREEN)
}

pub(crate) fn write_wf(name: &str, file: &str, content: &str) -> String {
    format!(
        r#"
name = "{name}"

[[steps]]
id = "note"
kind = "file"
path = "{file}"
content = "{content}"

[[steps]]
id = "after"
kind = "set"
values = {{ done = "yes" }}
"#
    )
}

/// Two waiting runs: item 1 writes a.txt (run 1), item 2 writes b.txt (run 2).
pub(crate) fn two_waiting() -> Test {
    let t = Test::new()
        .write(
            "a.toml",
            &write_wf("alpha", "a.txt", "hello from the inbox"),
        )
        .write("b.toml", &write_wf("beta", "b.txt", "second"));
    t.aios(&["run", "a.toml"]).success();
    t.aios(&["run", "b.toml"]).success();
    t
}

#[test]
fn open_select_approve_and_watch_the_run_complete() {
    let t = two_waiting();
    let mut tui = Pty::spawn(&t, &["inbox"], &[]);
    tui.wait_for("waiting for you");
    // The list's order is `aios inbox list`'s: the item waiting longest first.
    tui.wait_for("#1 action · note");
    // The detail pane shows the action (its body under its size).
    tui.wait_for("20 bytes:");
    tui.keys("a");
    tui.wait_for("run 1 succeeded");
    tui.keys("\t");
    tui.wait_for("succeeded ██████████ 2/2");
    tui.keys("q");
    let (code, raw) = tui.exit();
    assert_eq!(code, Some(0));
    assert!(restored(&raw), "the alternate screen was not left");
    assert_eq!(t.read("a.txt"), "hello from the inbox");
    assert_eq!(t.show(1)["status"], "succeeded");
    let pending = t.inbox();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["id"], 2);
}

#[test]
fn items_decided_elsewhere_go_and_new_ones_come_without_a_restart() {
    let t = Test::new().write("a.toml", &write_wf("alpha", "a.txt", "x"));
    t.aios(&["run", "a.toml"]).success();
    let mut tui = Pty::spawn(&t, &["inbox"], &[]);
    tui.wait_for("#1 action · note");
    t.aios(&["reject", "1", "--reason", "from another terminal"])
        .code(1);
    // The action goes; the run's failure item comes.
    tui.wait_for("#2 failure · note");
    t.write("b.toml", &write_wf("beta", "b.txt", "y"))
        .aios(&["run", "b.toml"])
        .success();
    // Its item comes too (ID 3, run 2; the RUN column sits between).
    tui.wait_for("2 beta");
    tui.keys("\x03"); // Ctrl-C
    let (code, raw) = tui.exit();
    assert_eq!(code, Some(0));
    assert!(restored(&raw));
}

#[test]
fn editor_edit_is_diffed_then_committed() {
    let t = Test::new().write("a.toml", &write_wf("alpha", "a.txt", "hello"));
    t.aios(&["run", "a.toml"]).success();
    // A non-interactive "editor" that changes the action's content.
    let mut tui = Pty::spawn(&t, &["inbox"], &[("EDITOR", "sed -i s/hello/HELLO/")]);
    tui.wait_for("5 bytes:");
    tui.keys("e");
    tui.wait_for("approve #1 with this edit?");
    tui.wait_for(r#"+  "content": "HELLO","#);
    tui.keys("y");
    tui.wait_for("run 1 succeeded");
    tui.keys("q");
    assert_eq!(tui.exit().0, Some(0));
    assert_eq!(t.read("a.txt"), "HELLO");
    let log = t.aios(&["log", "1"]).success().stdout;
    assert!(
        log.contains("approved by") && log.contains("(with edits)"),
        "{log}"
    );
}

#[test]
fn reject_with_a_reason_and_snooze_from_the_tui() {
    let t = two_waiting();
    let mut tui = Pty::spawn(&t, &["inbox"], &[]);
    tui.wait_for("#1 action · note");
    tui.keys("j");
    tui.wait_for("#2 action · note");
    tui.keys("s");
    tui.wait_for("snooze #2");
    tui.keys("\r");
    tui.wait_for("1 item snoozed until");
    tui.wait_for("2 pending · 1 snoozed");
    tui.wait_for("#1 action · note");
    tui.keys("r");
    tui.wait_for("reject #1");
    tui.keys("not now\r");
    tui.wait_for("run 1 failed (step `note` failed");
    tui.keys("q");
    assert_eq!(tui.exit().0, Some(0));
    assert_eq!(t.show(1)["status"], "failed");
    // Snoozed, not decided: still pending for the CLI, and journaled; beside it,
    // the failure item of run 1.
    let kinds: Vec<String> = t
        .inbox()
        .iter()
        .map(|i| i["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["failure", "action"]);
    t.aios(&["inbox", "show", "2"])
        .success()
        .stdout_contains("snoozed until");
    t.aios(&["log", "2"])
        .success()
        .stdout_contains("inbox item 2 snoozed by");
    t.aios(&["replay"]).success();
}

#[test]
fn a_stale_item_needs_confirmation_in_the_tui() {
    let t = Test::new().write("a.toml", &write_wf("alpha", "a.txt", "v1"));
    t.aios(&["run", "a.toml"]).success();
    t.put("a.toml", &write_wf("alpha", "a.txt", "v2"));
    let mut tui = Pty::spawn(&t, &["inbox"], &[]);
    tui.wait_for("STALE workflow_file");
    tui.keys("a");
    tui.wait_for("approve #1 — STALE");
    tui.keys("n");
    tui.keys("a");
    tui.wait_for("approve #1 — STALE");
    tui.keys("y");
    tui.wait_for("run 1 succeeded");
    tui.keys("q");
    assert_eq!(tui.exit().0, Some(0));
    // What was proposed is what was committed: the snapshot, not the edited file.
    assert_eq!(t.read("a.txt"), "v1");
}

#[test]
fn approve_refuses_a_stale_item_without_confirm_stale() {
    let t = Test::new().write("a.toml", &write_wf("alpha", "a.txt", "v1"));
    t.aios(&["run", "a.toml"]).success();
    t.aios(&["approve", "1", "--no-resume"]).success();
    t.aios(&["resume", "1"]).success();
    // A second run, then the workflow file changes under its pending item.
    t.aios(&["run", "a.toml"]).success();
    t.put("a.toml", &write_wf("alpha", "a.txt", "v2"));
    let path = t.join("a.toml").display().to_string();
    t.aios(&["inbox", "show", "2"])
        .success()
        .stdout_contains(&format!(
            "STALE workflow_file {path} changed since it was proposed"
        ));
    let out = t.aios(&["approve", "2"]).code(4);
    assert_eq!(
        out.stderr,
        format!(
            "error: inbox item 2 is STALE: workflow_file {path} changed since it was proposed\n\
             hint: review it with `aios inbox show 2`; approve it anyway with `aios approve 2 --confirm-stale`, or reject it\n"
        )
    );
    assert_eq!(t.inbox().len(), 1, "nothing was decided");
    let shown = t.aios(&["inbox", "show", "2", "--json"]).success().json();
    assert_eq!(shown["stale"][0]["kind"], "workflow_file");
    // Deleting the file is a change too.
    std::fs::remove_file(t.join("a.toml")).unwrap();
    t.aios(&["approve", "2"])
        .code(4)
        .stderr_contains("no longer exists");
    // Rejecting needs no confirmation; approving with it works.
    t.aios(&["approve", "2", "--confirm-stale"]).success();
    assert_eq!(step(&t.show(2), "note")["status"], "succeeded");
}

#[test]
fn inbox_without_a_terminal_prints_the_list() {
    let t = Test::new().write("a.toml", &write_wf("alpha", "a.txt", "x"));
    t.aios(&["run", "a.toml"]).success();
    t.aios(&["inbox"])
        .success()
        .stdout_contains("write a.txt (1 byte)");
}

/// A gate's fields are filled in a form in the TUI (Tab between them, types checked
/// before anything is decided), never by going to the CLI.
#[test]
fn a_gate_is_approved_with_its_fields_from_a_form() {
    let t = Test::new().write(
        "gate.toml",
        r#"
name = "gate"

[[steps]]
id = "go"
kind = "approval"
title = "Launch?"
fields = { seats = { type = "integer" }, channel = { type = "string", required = false, default = "email" } }

[[steps]]
id = "after"
kind = "set"
values = { seats = "{{ steps.go.output.fields.seats }}" }
"#,
    );
    t.aios(&["run", "gate.toml"]).success();
    let mut tui = Pty::spawn(&t, &["inbox"], &[]);
    tui.wait_for("FIELDS (a asks for them in a form)");
    tui.keys("a");
    tui.wait_for("approve #1");
    tui.wait_for("▸ seats (integer, required)");
    tui.keys("ten\r");
    tui.wait_for("▸ channel (string)");
    tui.keys("\r");
    tui.wait_for("not an integer: use a whole number, like 42");
    tui.keys("\x7f\x7f\x7f12\t\r");
    tui.wait_for("run 1 succeeded");
    tui.keys("q");
    assert_eq!(tui.exit().0, Some(0));
    let show = t.show(1);
    assert_eq!(step(&show, "go")["output"]["fields"]["seats"], 12);
    assert_eq!(step(&show, "go")["output"]["fields"]["channel"], "email");
    assert_eq!(step(&show, "after")["output"]["seats"], 12);
}

/// The detail of an action that reads a secret shows its placeholder; nothing the
/// TUI draws, before or after approving it, holds the value.
#[test]
fn a_secret_shows_as_its_placeholder_in_the_detail() {
    use crate::secrets::templates::{TOKEN, pay};
    let server = crate::support::http::Server::start();
    server.respond(
        "/v1/charges",
        crate::support::http::Response::json(200, serde_json::json!({"seen_key": TOKEN})),
    );
    let t = Test::new().write("pay.toml", &pay(&server));
    t.args(&["secret", "set", "API_TOKEN"])
        .stdin(TOKEN)
        .run()
        .success();
    t.aios(&["run", "pay.toml"]).success();
    let mut tui = Pty::spawn(&t, &["inbox"], &[]);
    tui.wait_for("#1 action · charge");
    tui.wait_for("Bearer secret(\"API_TOKEN\")");
    tui.keys("a");
    tui.wait_for("run 1 succeeded");
    tui.keys("q");
    let (code, raw) = tui.exit();
    assert_eq!(code, Some(0));
    assert!(!raw.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()));
    assert_eq!(
        server.requests_to("/v1/charges")[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
}

#[test]
fn a_failure_item_is_decided_in_the_tui_compensate_proposes_the_undo() {
    let t = Test::new().write(
        "wf.toml",
        r#"
name = "saga"

[[steps]]
id = "write"
kind = "file"
approve = "never"
path = "ledger.md"
mode = "append"
content = "booked\n"
undo = { kind = "file", path = "ledger.md", mode = "append", content = "cancelled\n" }

[[steps]]
id = "fail"
kind = "shell"
approve = "never"
on_reject = "skip"
argv = ["sh", "-c", "exit 3"]
"#,
    );
    t.aios(&["run", "wf.toml"]).code(1);
    let mut tui = Pty::spawn(&t, &["inbox"], &[]);
    tui.wait_for("#1 failure · fail");
    tui.wait_for("a retry  p skip  c undo  r abandon");
    tui.keys("c");
    // The compensation run proposes the undo; approved, it is committed.
    tui.wait_for("#2 action · undo_write");
    tui.keys("a");
    tui.wait_for("run 2 succeeded");
    tui.keys("q");
    assert_eq!(tui.exit().0, Some(0));
    assert_eq!(t.read("ledger.md"), "booked\ncancelled\n");
    assert_eq!(t.show(1)["status"], "failed");
    assert_eq!(t.show(2)["status"], "succeeded");
}
