//! A step cannot read aios through `/proc`: its parent's environment (the caller's
//! `*_KEY` variables), command line (a secret input given with `--input`) and memory
//! (every value aios holds, the one it just put in included), whether aios and the
//! step run as root or as an unprivileged user.

use std::path::Path;

use crate::support::Test;

const TOKEN: &str = "tok-proc-memory-4e5f6a7b";
const PW: &str = "pw-proc-argv-8c9d0e1f";
const ENV_KEY: &str = "env-key-proc-2a3b4c5d";

/// A shell step that copies what it can read of its parent (aios) into files of
/// `out`: `environ`, `cmdline`, and every writable region of `mem` (through `maps`).
/// It runs without a sandbox: what is checked is aios's own hardening, which must
/// hold without Landlock (which would deny these reads by itself).
fn peek(out: &Path) -> String {
    format!(
        r#"name = "peek"
[inputs.pw]
secret = true
[[steps]]
id = "peek"
kind = "shell"
approve = "never"
sandbox = "off"
cwd = "{}"
env = {{ TOKEN = "{{{{ secret('API_TOKEN') }}}}", PW = "{{{{ inputs.pw }}}}" }}
script = """
p=$PPID
{{ tr '\\0' '\\n' < /proc/$p/environ; }} > environ 2> environ.err
{{ tr '\\0' ' ' < /proc/$p/cmdline; }} > cmdline 2> cmdline.err
head -c 1 /proc/$p/mem > /dev/null 2> mem.err
: > mem
grep ' rw-p ' /proc/$p/maps 2> maps.err | while read range rest; do
  s=${{range%-*}}; e=${{range#*-}}
  dd if=/proc/$p/mem bs=4096 skip=$((0x$s / 4096)) count=$(( (0x$e - 0x$s) / 4096 )) 2>/dev/null >> mem
done
printf '%s' "$TOKEN" > own-env
"""
"#,
        out.display()
    )
}

fn holds(path: &Path, needle: &str) -> bool {
    std::fs::read(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Run the peeking step as whoever runs the tests, or as an unprivileged user
/// (`nobody` when the tests run as root), and check what it found of aios.
fn peek_as(unprivileged: bool) {
    let t = Test::new();
    let out = t.join("peek");
    std::fs::create_dir_all(&out).unwrap();
    t.put("peek.toml", &peek(&out));
    if unprivileged {
        t.give_to_unprivileged();
    }
    let cmd = |args: &[&str]| {
        let c = t.args(args);
        if unprivileged { c.unprivileged() } else { c }
    };
    cmd(&["secret", "set", "API_TOKEN"])
        .stdin(TOKEN)
        .run()
        .success();
    let run = cmd(&["run", "peek.toml", "--input", &format!("pw={PW}")])
        .env("FOO_API_KEY", ENV_KEY)
        .run()
        .success();
    // The step ran and got what it was given.
    assert_eq!(std::fs::read_to_string(out.join("own-env")).unwrap(), TOKEN);
    // Nothing of aios's secrets in what it read.
    for f in ["environ", "cmdline", "mem"] {
        for v in [TOKEN, PW, ENV_KEY, "FOO_API_KEY"] {
            assert!(!holds(&out.join(f), v), "{f} of aios holds {v}");
        }
    }
    // The command line was read (anyone may), with the secret input starred out.
    let cmdline = std::fs::read_to_string(out.join("cmdline")).unwrap();
    assert!(
        cmdline.contains(&format!(
            "run peek.toml --input pw={}",
            "*".repeat(PW.len())
        )),
        "{cmdline}"
    );
    // The memory could not even be opened.
    let mem_err = std::fs::read_to_string(out.join("mem.err")).unwrap();
    assert!(mem_err.contains("Permission denied"), "{mem_err}");
    assert_eq!(std::fs::metadata(out.join("mem")).unwrap().len(), 0);
    assert!(!run.stdout.contains(TOKEN) && !run.stdout.contains(PW));
    let environ_err = std::fs::read_to_string(out.join("environ.err")).unwrap();
    let environ = std::fs::read_to_string(out.join("environ")).unwrap();
    if !unprivileged && is_root() {
        // Root may open the environment block whatever the dumpable flag says:
        // it is there, and empty (not even PATH).
        assert_eq!(environ_err, "");
        assert!(!environ.contains("PATH="), "{environ}");
    } else {
        // Not dumpable: a process of the same user cannot open it.
        assert!(environ_err.contains("Permission denied"), "{environ_err}");
    }
}

fn is_root() -> bool {
    // SAFETY: plain FFI call without arguments.
    unsafe { libc::geteuid() == 0 }
}

/// As root: the step is root too, yet cannot read aios's memory (it lost
/// CAP_SYS_PTRACE) and finds aios's environment block emptied.
#[test]
fn a_step_run_as_root_cannot_read_aios_through_proc() {
    assert!(
        is_root(),
        "this test checks the root case: run the suite as root (CI does)"
    );
    peek_as(false);
}

/// As an unprivileged user (`nobody` when the suite runs as root): aios is not
/// dumpable, so its environment and memory cannot be opened at all.
#[test]
fn a_step_run_as_an_unprivileged_user_cannot_read_aios_through_proc() {
    peek_as(true);
}
