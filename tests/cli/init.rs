//! `aios init`: the data directory, a commented config.toml that is never
//! overwritten, the tick timer (asked only on a terminal) and the next commands.

use crate::support::Test;
use crate::tui::Pty;

#[test]
fn init_creates_the_data_dir_and_a_commented_config() {
    let t = Test::new();
    let home = t.join("fresh/aios");
    let out = t
        .args(&["--home", home.to_str().unwrap(), "init"])
        .no_home()
        .run()
        .success()
        .stdout_contains("created")
        .stdout_contains("every section commented out")
        // Not a terminal and no flag: never asks, never installs.
        .stdout_contains("timer     not installed: `aios schedule install`")
        .stdout_contains("aios new hello")
        .stdout_contains("aios run hello.toml")
        .stdout_contains("aios inbox");
    assert!(!out.stdout.contains("[y/N]"), "{}", out.stdout);
    match t.database_url() {
        // The journal is the database, migrated; no SQLite file beside the config.
        Some(url) => {
            assert!(
                out.stdout.contains(&format!("{url} (data)")),
                "{}",
                out.stdout
            );
            assert!(!home.join("aios.db").exists());
        }
        None => assert!(home.join("aios.db").is_file()),
    }
    let cfg = std::fs::read_to_string(home.join("config.toml")).unwrap();
    for section in [
        "# [providers.ollama]",
        "# [providers.llamacpp]",
        "# [providers.openai]",
        "# [providers.anthropic]",
        "# [budget]",
        "# [smtp]",
        "# [imap]",
        "# [notify]",
        "# [mcp.everything]",
        "# [rate]",
        "# [backup]",
        "# [personas.accounting]",
        "# [[autonomy]]",
    ] {
        assert!(cfg.contains(section), "no {section} in\n{cfg}");
    }
    assert!(!t.join(".config/systemd/user/aios-tick.timer").exists());
    // The commented file is a valid, empty configuration: commands read it.
    t.args(&["--home", home.to_str().unwrap(), "llm", "models"])
        .no_home()
        .run()
        .success();
}

#[test]
fn init_again_changes_nothing_and_says_what_exists() {
    let t = Test::new();
    t.aios(&["init"]).success();
    t.put("config.toml", "[budget]\ndaily_usd = 1.0\n");
    t.aios(&["init", "--no-timer"])
        .success()
        .stdout_contains("exists")
        .stdout_contains("config.toml (left as it is)")
        .stdout_contains(&match t.database_url() {
            Some(url) => format!("{url} (data)"),
            None => "aios.db (data)".to_string(),
        });
    assert_eq!(t.read("config.toml"), "[budget]\ndaily_usd = 1.0\n");
}

#[test]
fn init_yes_installs_the_timer() {
    let t = Test::new();
    t.aios(&["init", "--yes"])
        .success()
        .stdout_contains("written")
        .stdout_contains("aios-tick.timer")
        .stdout_contains("systemctl --user enable --now aios-tick.timer");
    let timer = t.read(".config/systemd/user/aios-tick.timer");
    assert!(timer.contains("OnCalendar"), "{timer}");
    let service = t.read(".config/systemd/user/aios-tick.service");
    assert!(service.contains("tick"), "{service}");
    t.aios(&["init", "--yes"])
        .success()
        .stdout_contains("unchanged");
}

#[test]
fn init_yes_and_no_timer_conflict() {
    Test::new()
        .aios(&["init", "--yes", "--no-timer"])
        .code(2)
        .stderr_contains("cannot be used with");
}

/// On a terminal `aios init` asks before installing the tick timer: "y" installs
/// the units, anything else (here a plain Enter, the default) leaves them out.
#[test]
fn init_on_a_terminal_asks_before_installing_the_timer() {
    for (answer, installed) in [("y\r", true), ("\r", false)] {
        let t = Test::new();
        let mut pty = Pty::spawn(&t, &["init"], &[]);
        pty.wait_for("Install the tick timer");
        pty.keys(answer);
        pty.wait_for("Next:");
        let (code, out) = pty.exit();
        let out = String::from_utf8_lossy(&out).into_owned();
        assert_eq!(code, Some(0), "{answer:?}: {out}");
        let timer = t.join(".config/systemd/user/aios-tick.timer");
        assert_eq!(timer.exists(), installed, "{answer:?}: {out}");
        if installed {
            assert!(
                out.contains("systemctl --user enable --now aios-tick.timer"),
                "{out}"
            );
        } else {
            assert!(out.contains("timer     not installed"), "{out}");
        }
        assert!(t.join("config.toml").is_file());
    }
}
