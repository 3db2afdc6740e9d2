//! `aios secret set|list|rm`: values from a pipe or a terminal without echo (never
//! from the command line), listings of names and places (never values), and the
//! providers' keys as part of the same store.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::agent::{DRAFT, FREE_MODELS, GOOD, config};
use crate::support::Test;
use crate::support::llm::{LlmServer, Reply};

const VALUE: &str = "sk-live-store-7b1d1e2f";

#[cfg(unix)]
fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn set_reads_stdin_and_list_shows_names_and_places_never_values() {
    let t = Test::new();
    let kept = t.join("secrets/STRIPE_KEY").display().to_string();
    t.args(&["secret", "set", "STRIPE_KEY"])
        .stdin(&format!("{VALUE}\n"))
        .run()
        .success()
        .stdout_is(&format!(
            "secret STRIPE_KEY set (kept in {kept})\nuse it in a step: {{{{ secret(\"STRIPE_KEY\") }}}}\n"
        ));
    // One trailing newline dropped, nothing else.
    let body: Json = serde_json::from_str(&t.read("secrets/STRIPE_KEY")).unwrap();
    assert_eq!(body["value"], VALUE);
    assert_eq!(mode(&t.join("secrets")), 0o700);
    assert_eq!(mode(&t.join("secrets/STRIPE_KEY")), 0o600);
    t.args(&["secret", "set", "STRIPE_KEY"])
        .stdin("second value\n\n")
        .run()
        .success()
        .stdout_contains("secret STRIPE_KEY replaced");
    let body: Json = serde_json::from_str(&t.read("secrets/STRIPE_KEY")).unwrap();
    assert_eq!(body["value"], "second value\n");

    let list = t.aios(&["secret", "list"]).success();
    assert_eq!(
        list.stdout,
        format!(
            "NAME        SOURCE  SET                   WHERE\nSTRIPE_KEY  store   2026-11-21T09:30:00Z  {kept}\n"
        )
    );
    let json = t.aios(&["secret", "list", "--json"]).success().json();
    assert_eq!(
        json,
        serde_json::json!([{"name": "STRIPE_KEY", "source": "store", "where": kept,
            "set_at": "2026-11-21T09:30:00Z", "run_id": null}])
    );
    assert!(!list.stdout.contains("second value"));

    t.aios(&["secret", "rm", "STRIPE_KEY"])
        .success()
        .stdout_is("secret STRIPE_KEY removed\n");
    t.aios(&["secret", "rm", "STRIPE_KEY"])
        .code(3)
        .stderr_is("error: no secret STRIPE_KEY\nhint: aios secret list\n");
    t.aios(&["secret", "list"])
        .success()
        .stdout_is("no secrets; set one with: aios secret set NAME\n");
}

#[test]
fn a_value_is_never_taken_from_the_command_line() {
    let t = Test::new();
    let out = t
        .aios(&["secret", "set", "TOKEN", "hunter2-on-argv"])
        .code(2);
    assert_eq!(
        out.stderr,
        "error: aios secret set takes the value from the terminal or stdin, never from the command line (it would stay in your shell history and in the process list)\nhint: run `aios secret set TOKEN` and type the value, or pipe it: printf '%s' \"$VALUE\" | aios secret set TOKEN\n"
    );
    assert!(!t.join("secrets").exists());
    for (stdin, err) in [
        ("", "error: the value is empty; nothing was set\n"),
        ("\n", "error: the value is empty; nothing was set\n"),
        (
            "abc",
            "error: the value is shorter than 4 bytes: aios could not tell it apart from ordinary text to keep it out of what it stores\n",
        ),
    ] {
        let out = t
            .args(&["secret", "set", "TOKEN"])
            .stdin(stdin)
            .run()
            .code(2);
        assert!(out.stderr.starts_with(err), "{stdin:?}: {}", out.stderr);
    }
    t.args(&["secret", "set", "no-dash"])
        .stdin("value")
        .run()
        .code(2)
        .stderr_is("error: `no-dash` is not a secret name\nhint: a secret's name is letters, digits and `_`, starting with a letter or `_`, like STRIPE_KEY\n");
}

/// On a terminal the value is typed without echo: the terminal shows the prompt,
/// never the value, and the value is kept as typed.
#[test]
fn on_a_terminal_the_value_is_not_echoed() {
    let t = Test::new();
    let (mut master, slave) = pty();
    let mut cmd = t.args(&["secret", "set", "TTY_KEY"]).into_command();
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
    let mut child = cmd.spawn().expect("spawn aios on a pty");
    drop(cmd);
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let mut reader = master.try_clone().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    // The prompt shows once echo is off: only then is the value typed.
    while !String::from_utf8_lossy(&seen).contains("(typing is not shown): ") {
        assert!(
            Instant::now() < deadline,
            "no prompt: {:?}",
            String::from_utf8_lossy(&seen)
        );
        if let Ok(b) = rx.recv_timeout(Duration::from_millis(100)) {
            seen.extend(b);
        }
    }
    master.write_all(b"typed-on-a-tty-9f8e\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{}", String::from_utf8_lossy(&seen));
            break;
        }
        assert!(Instant::now() < deadline, "aios did not finish");
        if let Ok(b) = rx.recv_timeout(Duration::from_millis(50)) {
            seen.extend(b);
        }
    }
    while let Ok(b) = rx.recv_timeout(Duration::from_millis(200)) {
        seen.extend(b);
    }
    let screen = String::from_utf8_lossy(&seen);
    assert!(
        screen.contains("value of TTY_KEY (typing is not shown): "),
        "{screen}"
    );
    assert!(screen.contains("secret TTY_KEY set"), "{screen}");
    assert!(
        !screen.contains("typed-on-a-tty"),
        "the value was echoed: {screen}"
    );
    let body: Json = serde_json::from_str(&t.read("secrets/TTY_KEY")).unwrap();
    assert_eq!(body["value"], "typed-on-a-tty-9f8e");
}

fn pty() -> (File, OwnedFd) {
    let (mut master, mut slave) = (0, 0);
    // SAFETY: valid out-pointers; null name, termios and size are allowed.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: openpty returned two fresh descriptors we now own.
    unsafe { (File::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) }
}

/// The store, the secrets file, hook secrets and keys in the environment are one
/// list, each with where it is kept.
#[test]
fn list_says_where_each_secret_is_kept() {
    let server = LlmServer::start();
    let t = Test::new()
        .write("config.toml", &config(&server, "openai", FREE_MODELS))
        .write("secrets.env", "FILE_KEY=from-the-file\n")
        .write(
            "greet.toml",
            "name = \"g\"\n[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = { x = 1 }\n",
        );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        t.join("secrets.env"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    t.args(&["secret", "set", "STORE_KEY"])
        .stdin(VALUE)
        .run()
        .success();
    t.aios(&["hook", "add", "deploy", "greet.toml"]).success();
    let list = t
        .args(&["secret", "list", "--json"])
        .env("LLM_KEY", "sk-from-the-environment")
        .run()
        .success();
    let rows: Vec<(String, String, Json)> = list
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["source"].as_str().unwrap().to_string(),
                r["where"].clone(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (
                "STORE_KEY".into(),
                "store".into(),
                Json::from(t.join("secrets/STORE_KEY").display().to_string())
            ),
            (
                "FILE_KEY".into(),
                "secrets-file".into(),
                Json::from(t.join("secrets.env").display().to_string())
            ),
            (
                "hook:deploy".into(),
                "hook".into(),
                Json::from(t.join("hooks/deploy.secret").display().to_string())
            ),
            ("LLM_KEY".into(), "environment".into(), Json::Null),
        ]
    );
    for v in [VALUE, "from-the-file", "sk-from-the-environment"] {
        assert!(!list.stdout.contains(v), "{v} in {}", list.stdout);
    }
}

/// A provider's `api_key_env` finds its key in the store when the environment and
/// the secrets file do not have it.
#[test]
fn providers_read_their_keys_from_the_store() {
    let server = LlmServer::start();
    server.script(vec![Reply::openai(GOOD, 1, 1)]);
    let t = Test::new()
        .write("config.toml", &config(&server, "openai", FREE_MODELS))
        .write("wf.toml", DRAFT);
    // No key anywhere: the step's one model fails, and it waits on a rescue.
    t.aios(&["run", "wf.toml"])
        .success()
        .stdout_contains("rescue    draft")
        .stdout_contains("LLM_KEY");
    t.args(&["secret", "set", "LLM_KEY"])
        .stdin(VALUE)
        .run()
        .success();
    t.aios(&["run", "wf.toml"]).success();
    assert_eq!(
        server.seen()[0].header("authorization"),
        Some(format!("Bearer {VALUE}").as_str())
    );
}
