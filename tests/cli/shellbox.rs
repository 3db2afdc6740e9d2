//! Sandboxed shell steps, end to end with real processes: what a step may read,
//! write and connect to (Landlock), what happens without Landlock (`best_effort`,
//! `required`), resource limits, the output cap, the proposal and its edits.
//!
//! The suite runs as root on CI: root passes every permission check, so each
//! denial below is the sandbox's (the same step with `sandbox = "off"` succeeds).

use std::net::TcpListener;

use crate::support::{Test, step};

/// A workspace: the workflow in `flow/` (its folder, the step's working
/// directory), `secret.txt` and `out/` beside it, outside the step's reach.
fn workspace(step: &str) -> Test {
    let t = Test::new()
        .write(
            "flow/wf.toml",
            &format!("name = \"box\"\n[[steps]]\nid = \"s\"\nkind = \"shell\"\napprove = \"never\"\n{step}"),
        )
        .write("secret.txt", "the-secret-4242");
    std::fs::create_dir_all(t.join("out")).unwrap();
    t
}

fn run(t: &Test, code: i32) -> serde_json::Value {
    t.aios(&["run", "flow/wf.toml"]).code(code);
    step(&t.show(1), "s").clone()
}

#[test]
fn a_step_reads_only_what_it_declares() {
    let script = "script = \"cat ../secret.txt\"\n";
    let t = workspace(script);
    let s = run(&t, 1);
    let err = s["error"].as_str().unwrap();
    assert!(err.starts_with("`sh` exited with status 1: "), "{err}");
    assert!(err.contains("Permission denied"), "{err}");
    assert!(
        err.contains("the sandbox lets a step touch only its working directory"),
        "{err}"
    );
    assert!(!err.contains("the-secret-4242"));

    let t = workspace(&format!(
        "{script}sandbox = {{ read = [\"../secret.txt\"] }}\n"
    ));
    let s = run(&t, 0);
    assert_eq!(s["output"]["stdout"], "the-secret-4242");
    assert!(
        s["output"]["sandbox"]
            .as_str()
            .unwrap()
            .starts_with("landlock ABI "),
        "{s}"
    );

    // Without the sandbox the same step reads it: the denial above was Landlock's.
    let t = workspace(&format!("{script}sandbox = \"off\"\n"));
    assert_eq!(run(&t, 0)["output"]["stdout"], "the-secret-4242");
}

/// As an unprivileged user too (`nobody` when the suite runs as root).
#[test]
fn an_unprivileged_step_is_confined_the_same_way() {
    let t = workspace("script = \"cat ../secret.txt\"\n");
    t.give_to_unprivileged();
    t.args(&["run", "flow/wf.toml"])
        .unprivileged()
        .run()
        .code(1)
        .stdout_contains("Permission denied");
}

#[test]
fn a_step_writes_only_its_working_directory_and_what_it_declares() {
    let script = "script = \"echo a > here.txt && echo b > ../out/x.txt\"\n";
    let t = workspace(script);
    let err = run(&t, 1)["error"].as_str().unwrap().to_string();
    assert!(err.contains("Permission denied"), "{err}");
    assert_eq!(t.read("flow/here.txt"), "a\n");
    assert!(!t.join("out/x.txt").exists());

    let t = workspace(&format!("{script}sandbox = {{ write = [\"../out\"] }}\n"));
    run(&t, 0);
    assert_eq!(t.read("out/x.txt"), "b\n");
    // Declared for reading only, it stays unwritten.
    let t = workspace(&format!("{script}sandbox = {{ read = [\"../out\"] }}\n"));
    run(&t, 1);
    assert!(!t.join("out/x.txt").exists());
}

/// A TCP listener the test starts: whether a connection reached it.
fn listener() -> (u16, impl Fn() -> bool) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    l.set_nonblocking(true).unwrap();
    (port, move || l.accept().is_ok())
}

#[test]
fn the_network_is_denied_unless_declared() {
    let (port, reached) = listener();
    let script = format!(
        "argv = [\"bash\", \"-c\", \"exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected\"]\n"
    );
    let t = workspace(&script);
    let err = run(&t, 1)["error"].as_str().unwrap().to_string();
    assert!(err.contains("Permission denied"), "{err}");
    assert!(!reached(), "a connection got through");

    let t = workspace(&format!("{script}sandbox = {{ network = true }}\n"));
    assert_eq!(run(&t, 0)["output"]["stdout"], "connected\n");
    assert!(reached());
}

/// Landlock keeps a sandboxed step out of other processes: their environment
/// (`/proc/PID/environ`) is closed, and signals do not reach them.
#[test]
fn other_processes_are_out_of_reach() {
    let mut other = std::process::Command::new("sleep")
        .arg("60")
        .env("OTHER_TOKEN", "tok-other-5151")
        .spawn()
        .unwrap();
    let script = format!(
        "script = \"cat /proc/{p}/environ | tr '\\\\0' '\\\\n' | grep OTHER_TOKEN; kill {p}\"\n",
        p = other.id()
    );
    let t = workspace(&script);
    let err = run(&t, 1)["error"].as_str().unwrap().to_string();
    assert!(!err.contains("tok-other-5151"), "{err}");
    assert!(
        other.try_wait().unwrap().is_none(),
        "the signal got through"
    );
    let t = workspace(&format!("{script}sandbox = \"off\"\n"));
    assert_eq!(
        run(&t, 0)["output"]["stdout"],
        "OTHER_TOKEN=tok-other-5151\n"
    );
    let _ = other.kill();
    other.wait().unwrap();
}

/// Each sandboxed step has its own TMPDIR, removed when it ends.
#[test]
fn a_step_has_a_private_temporary_folder() {
    let t = workspace("script = \"f=$(mktemp) && echo x > $f && echo $TMPDIR\"\n");
    let s = run(&t, 0);
    let tmp = s["output"]["stdout"].as_str().unwrap().trim().to_string();
    assert!(tmp.contains("/aios-step-"), "{tmp}");
    assert!(
        !std::path::Path::new(&tmp).exists(),
        "{tmp} was left behind"
    );
}

/// Without Landlock (AIOS_LANDLOCK_ABI=0 acts so): `required` fails before the
/// program starts; `best_effort` runs it and says so in the step's output and in
/// what the run prints.
#[test]
fn without_landlock_required_fails_and_best_effort_says_so() {
    let script = "script = \"touch ran && cat ../secret.txt\"\n";
    let t = workspace(script).env("AIOS_LANDLOCK_ABI", "0");
    let err = run(&t, 1)["error"].as_str().unwrap().to_string();
    assert_eq!(
        err,
        "the step's sandbox is required, but Landlock is turned off (AIOS_LANDLOCK_ABI=0, a testing aid): the program was not started"
    );
    assert!(!t.join("flow/ran").exists());

    let t =
        workspace(&format!("{script}sandbox = \"best_effort\"\n")).env("AIOS_LANDLOCK_ABI", "0");
    let out = t.aios(&["run", "flow/wf.toml"]).success();
    let warning = "ran without a sandbox: Landlock is turned off (AIOS_LANDLOCK_ABI=0, a testing aid) (the step's sandbox is best_effort)";
    assert!(
        out.stderr.contains(&format!("! s: {warning}")),
        "{}",
        out.stderr
    );
    let s = step(&t.show(1), "s").clone();
    assert_eq!(s["output"]["stdout"], "the-secret-4242");
    assert_eq!(
        s["output"]["sandbox"],
        "none: Landlock is turned off (AIOS_LANDLOCK_ABI=0, a testing aid)"
    );
    assert_eq!(s["output"]["warnings"][0], warning);
    t.aios(&["log", "1"])
        .success()
        .stdout_contains(&format!("s: warning: {warning}"));
    t.args(&["run", "flow/wf.toml"])
        .env("AIOS_LANDLOCK_ABI", "zero")
        .run()
        .code(2)
        .stderr_contains("error: AIOS_LANDLOCK_ABI=`zero` is not a Landlock ABI version");
}

/// Landlock before ABI 4 cannot deny TCP: `required` refuses a step without
/// network, `best_effort` runs it with files confined and says so.
#[test]
fn an_abi_without_network_rules_is_refused_or_noted() {
    let script = "script = \"cat ../secret.txt\"\n";
    let t = workspace(script).env("AIOS_LANDLOCK_ABI", "3");
    let err = run(&t, 1)["error"].as_str().unwrap().to_string();
    assert!(
        err.contains("cannot restrict TCP") && err.contains("ABI 3"),
        "{err}"
    );
    let t = workspace("script = \"echo hi\"\nsandbox = \"best_effort\"\n")
        .env("AIOS_LANDLOCK_ABI", "3");
    let s = run(&t, 0);
    assert_eq!(
        s["output"]["sandbox"],
        "landlock ABI 3; network not restricted"
    );
    assert!(
        s["output"]["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("the network was not restricted")
    );
    // Files are still confined at ABI 3.
    let t = workspace(&format!("{script}sandbox = {{ network = true }}\n"))
        .env("AIOS_LANDLOCK_ABI", "3");
    assert!(
        run(&t, 1)["error"]
            .as_str()
            .unwrap()
            .contains("Permission denied")
    );
}

#[test]
fn limits_reach_the_program() {
    let t = workspace(
        "script = \"ulimit -t; ulimit -v; ulimit -n; ulimit -c; ulimit -p\"\nlimits = { cpu = \"30s\", memory = \"256MiB\", files = 64, processes = 500 }\n",
    );
    assert_eq!(run(&t, 0)["output"]["stdout"], "30\n262144\n64\n0\n500\n");
    // Past its memory, an allocation fails.
    let t = workspace(
        "argv = [\"dd\", \"if=/dev/zero\", \"of=/dev/null\", \"bs=200M\", \"count=1\"]\nlimits = { memory = \"64MiB\" }\n",
    );
    let err = run(&t, 1)["error"].as_str().unwrap().to_string();
    assert!(err.contains("memory exhausted"), "{err}");
    // The default: 1024 files, no core dumps.
    let t = workspace("script = \"ulimit -n; ulimit -c\"\n");
    assert_eq!(run(&t, 0)["output"]["stdout"], "1024\n0\n");
}

#[test]
fn the_cpu_limit_stops_a_busy_loop() {
    let t = workspace(
        "script = \"while :; do :; done\"\nlimits = { cpu = \"1s\" }\nretry = { attempts = 3 }\n",
    );
    let s = run(&t, 1);
    assert_eq!(
        s["error"],
        "`sh` was stopped when it had used its 1s of CPU time (limits.cpu)"
    );
    // Stopped at its limit, it would be stopped there again: not retried.
    assert_eq!(s["attempts"], 1);
}

#[test]
fn output_past_the_limit_is_cut_with_a_note() {
    let t = workspace(
        "script = \"head -c 100000 /dev/zero | tr '\\\\0' a; echo oops >&2\"\nlimits = { output = \"1KiB\" }\n",
    );
    let s = run(&t, 0);
    assert_eq!(
        s["output"]["stdout"],
        format!(
            "{}\n[… 98976 more bytes cut: limits.output keeps 1 KiB]",
            "a".repeat(1024)
        )
    );
    assert_eq!(s["output"]["stderr"], "oops\n");
}

/// The proposal shows the sandbox and the limits; an edit may tighten them,
/// never widen them.
#[test]
fn the_proposal_shows_the_sandbox_and_an_edit_cannot_widen_it() {
    let t = Test::new()
        .write(
            "flow/wf.toml",
            r#"name = "box"
[[steps]]
id = "s"
kind = "shell"
argv = ["ls", "../data"]
sandbox = { read = ["../data"], write = ["../out"], network = true }
limits = { cpu = "10s" }
"#,
        )
        .write("data/a.txt", "a");
    std::fs::create_dir_all(t.join("out")).unwrap();
    t.aios(&["run", "flow/wf.toml"]).success();
    let id = t.item("s").to_string();
    let root = t.path().display().to_string();
    t.aios(&["inbox", "show", &id])
        .success()
        .stdout_contains(&format!(
            "  $ ls ../data\n    in {root}/flow\n    sandbox required (Landlock), network allowed\n    \
             reads {root}/data\n    writes the working directory, {root}/out\n    limits cpu 10s, files 1024, output 1 MiB\n"
        ));
    let action = t.aios(&["inbox", "show", &id, "--action"]).success().json();
    let widen = |f: &dyn Fn(&mut serde_json::Value), want: &str| {
        let mut a = action.clone();
        f(&mut a);
        t.put("edit.json", &a.to_string());
        t.aios(&["approve", &id, "--edit", "edit.json"])
            .code(2)
            .stderr_contains(want);
    };
    widen(
        &|a| a["sandbox"]["read"] = serde_json::json!(["/etc"]),
        "the edit lets the step read `/etc`, which the proposed sandbox does not",
    );
    widen(
        &|a| a["sandbox"]["mode"] = "off".into(),
        "the edit lowers the sandbox from `required` to `off`",
    );
    widen(
        &|a| a["limits"]["cpu_secs"] = 60.into(),
        "the edit raises the `cpu` limit",
    );
    widen(
        &|a| a["cwd"] = "/".into(),
        "`cwd` cannot be edited on a sandboxed step",
    );
    // Nothing was decided; a tightening edit is accepted and runs as edited.
    let mut tight = action.clone();
    tight["sandbox"]["network"] = false.into();
    tight["sandbox"]["write"] = serde_json::json!([]);
    t.put("edit.json", &tight.to_string());
    t.aios(&["approve", &id, "--edit", "edit.json"]).success();
    let s = step(&t.show(1), "s").clone();
    assert_eq!(s["status"], "succeeded");
    assert_eq!(s["output"]["stdout"], "a.txt\n");
}

#[test]
fn mistakes_in_sandbox_and_limits_are_diagnosed() {
    let t = Test::new().write(
        "wf.toml",
        r#"name = "box"
[inputs.dir]
default = "x"
[[steps]]
id = "a"
kind = "shell"
argv = ["true"]
sandbox = "sometimes"
[[steps]]
id = "b"
kind = "shell"
argv = ["true"]
sandbox = { read = ["{{ inputs.dir }}", "~/notes"], writes = [] }
[[steps]]
id = "c"
kind = "shell"
argv = ["true"]
limits = { cpu = "10ms", memory = "lots", files = 0 }
"#,
    );
    let out = t.aios(&["check", "wf.toml"]).code(2);
    for want in [
        "invalid value `sometimes` for `sandbox`",
        "sandbox path `{{ inputs.dir }}` is a template",
        "sandbox path `~/notes` starts with `~`, which is not expanded",
        "unknown key `writes` in `sandbox` of step `b`",
        "the `cpu` limit must be at least 1s",
        "invalid size `lots`",
        "the `files` limit must be at least 1, found 0",
    ] {
        assert!(
            out.stderr.contains(want),
            "missing {want:?} in:\n{}",
            out.stderr
        );
    }
}

/// A step past its timeout is stopped and its temporary folder removed.
#[test]
fn a_timed_out_step_leaves_no_temporary_folder() {
    let t = workspace(
        "script = \"echo $TMPDIR > ../out/tmp; exec sleep 30\"\nsandbox = { write = [\"../out\"] }\ntimeout = \"1s\"\n",
    );
    run(&t, 1);
    let tmp = t.read("out/tmp");
    let tmp = tmp.trim();
    crate::support::wait_until("the step's TMPDIR to go", || {
        !std::path::Path::new(tmp).exists()
    });
}
