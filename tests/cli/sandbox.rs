//! The file sandbox end to end, one test per escape issue 10 found and its kin: a
//! symlink planted at the temporary name (before the run, or between proposal and
//! approval), a symlink at the target or a symlinked folder placed between proposal
//! and approval, appends racing a swapper, an edit of `root`, `..` and absolute paths
//! from templates and edits. The 1,000-try race is an in-process test of the
//! connector (`src/connectors/file/tests.rs`).

use std::os::unix::fs::symlink;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::support::{Test, step, wait_until};

/// A workspace with `out/` (the root) and `outside/secret.txt` ("keep").
fn workspace(wf: &str) -> Test {
    let t = Test::new()
        .write("wf.toml", wf)
        .write("outside/secret.txt", "keep");
    std::fs::create_dir_all(t.join("out")).unwrap();
    t
}

fn assert_outside_untouched(t: &Test) {
    let names: Vec<_> = std::fs::read_dir(t.join("outside"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["secret.txt"], "files outside the root");
    assert_eq!(t.read("outside/secret.txt"), "keep");
}

fn file_step(path: &str, mode: &str, approve: &str) -> String {
    format!(
        r#"
name = "box"

[inputs.p]
type = "string"
default = "{path}"

[[steps]]
id = "w"
kind = "file"
approve = "{approve}"
root = "out"
path = "{{{{ inputs.p }}}}"
content = "hello\n"
mode = "{mode}"
"#
    )
}

fn error_of(t: &Test) -> String {
    step(&t.show(1), "w")["error"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_symlink_planted_at_the_old_temporary_name_is_never_followed() {
    let t = workspace(&file_step("report.txt", "write", "never"));
    symlink(
        t.join("outside/secret.txt"),
        t.join("out/.report.txt.aios-tmp"),
    )
    .unwrap();
    t.aios(&["run", "wf.toml"]).success();
    assert_eq!(t.read("out/report.txt"), "hello\n");
    assert_outside_untouched(&t);
    // The planted link is left alone, and no temporary file is left behind.
    assert!(
        std::fs::symlink_metadata(t.join("out/.report.txt.aios-tmp"))
            .unwrap()
            .is_symlink()
    );
    assert_eq!(std::fs::read_dir(t.join("out")).unwrap().count(), 2);
}

#[test]
fn a_symlink_planted_at_the_temporary_name_after_the_proposal_is_never_followed() {
    let t = workspace(&file_step("report.txt", "write", "always"));
    t.aios(&["run", "wf.toml"]).success();
    let id = t.item("w").to_string();
    symlink(
        t.join("outside/secret.txt"),
        t.join("out/.report.txt.aios-tmp"),
    )
    .unwrap();
    t.aios(&["approve", &id]).success();
    assert_eq!(t.read("out/report.txt"), "hello\n");
    assert_outside_untouched(&t);
}

#[test]
fn a_symlink_placed_at_the_target_after_the_proposal_is_refused() {
    for mode in ["write", "append"] {
        let t = workspace(&file_step("report.txt", mode, "always"));
        t.aios(&["run", "wf.toml"]).success();
        let id = t.item("w").to_string();
        symlink(t.join("outside/secret.txt"), t.join("out/report.txt")).unwrap();
        let out = t.aios(&["approve", &id]).code(1);
        let err = format!(
            "path `report.txt` escapes the root folder {} through a symlink",
            t.join("out").display()
        );
        assert_eq!(error_of(&t), err, "{mode}");
        assert!(out.stdout.contains(&err), "{mode}: {}", out.stdout);
        assert_outside_untouched(&t);
    }
}

#[test]
fn a_folder_replaced_by_a_symlink_after_the_proposal_is_refused() {
    for mode in ["write", "append"] {
        let t = workspace(&file_step("sub/report.txt", mode, "always"));
        std::fs::create_dir_all(t.join("out/sub")).unwrap();
        t.aios(&["run", "wf.toml"]).success();
        let id = t.item("w").to_string();
        std::fs::remove_dir(t.join("out/sub")).unwrap();
        symlink(t.join("outside"), t.join("out/sub")).unwrap();
        t.aios(&["approve", &id]).code(1);
        assert_eq!(
            error_of(&t),
            format!(
                "path `sub/report.txt` escapes the root folder {} through a symlink",
                t.join("out").display()
            ),
            "{mode}"
        );
        assert_outside_untouched(&t);
    }
}

#[test]
fn symlinks_that_stay_inside_the_root_are_followed() {
    let t = workspace(&file_step("latest/report.txt", "append", "never"));
    std::fs::create_dir_all(t.join("out/2026")).unwrap();
    symlink("2026", t.join("out/latest")).unwrap();
    t.aios(&["run", "wf.toml"]).success();
    t.aios(&["run", "wf.toml"]).success();
    assert_eq!(t.read("out/2026/report.txt"), "hello\nhello\n");
}

#[test]
fn appends_racing_a_swapper_never_land_outside() {
    let t = workspace(&file_step("log.txt", "append", "never"));
    let root = t.join("out");
    let victim = t.join("outside/secret.txt");
    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicU64::new(0));
    let racer = {
        let (stop, swaps) = (stop.clone(), swaps.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ = std::fs::write(root.join(".f"), "racer\n");
                let _ = std::fs::rename(root.join(".f"), root.join("log.txt"));
                let _ = symlink(&victim, root.join(".l"));
                let _ = std::fs::rename(root.join(".l"), root.join("log.txt"));
                swaps.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    wait_until("the swapper runs", || swaps.load(Ordering::Relaxed) > 0);
    let (mut ok, mut refused) = (0, 0);
    for _ in 0..25 {
        let out = t.aios(&["run", "wf.toml", "--json"]);
        match out.code {
            Some(0) => ok += 1,
            Some(1) => {
                let run = out.json();
                let err = run["steps"][0]["error"].as_str().unwrap().to_string();
                assert!(err.contains("escapes the root folder"), "{err}");
                refused += 1;
            }
            other => panic!("exit {other:?}: {}", out.stderr),
        }
    }
    stop.store(true, Ordering::Relaxed);
    racer.join().unwrap();
    assert_eq!(ok + refused, 25);
    assert_outside_untouched(&t);
}

#[test]
fn an_edit_may_not_change_the_root() {
    let t = workspace(&file_step("report.txt", "write", "always"));
    t.aios(&["run", "wf.toml"]).success();
    let id = t.item("w");
    let ids = id.to_string();
    let mut action = t
        .aios(&["inbox", "show", &ids, "--action"])
        .success()
        .json();
    let proposed = action["root"].as_str().unwrap().to_string();
    let secret = t.join("outside/secret.txt");
    action["root"] = "/".into();
    action["path"] = secret.strip_prefix("/").unwrap().to_str().unwrap().into();
    t.put("edit.json", &action.to_string());
    t.aios(&["approve", &ids, "--edit", "edit.json"])
        .code(2)
        .stderr_contains(&format!(
            "error: edit.json is not valid: `root` cannot be edited (proposed {proposed:?}, edited \"/\"); an edit may change the path, content and mode beneath the root"
        ))
        .stderr_contains(&format!("hint: start from: aios inbox show {id} --action"));
    // Nothing decided, nothing written.
    assert_eq!(t.item("w"), id);
    assert!(!t.join("out/report.txt").exists());
    assert_outside_untouched(&t);
    // The hint's command runs as written.
    t.aios(&["inbox", "show", &ids, "--action"]).success();
}

#[test]
fn dotdot_and_absolute_paths_from_inputs_and_edits_are_refused() {
    for (input, problem) in [
        ("../outside/secret.txt", "escapes the root folder"),
        ("a/../../outside/secret.txt", "escapes the root folder"),
        ("ABS", "is absolute; it must be relative to the root folder"),
    ] {
        let t = workspace(&file_step("report.txt", "write", "never"));
        let abs = t.join("outside/secret.txt").display().to_string();
        let input = input.replace("ABS", &abs);
        t.aios(&["run", "wf.toml", "--input", &format!("p={input}")])
            .code(1);
        assert_eq!(error_of(&t), format!("path `{input}` {problem}"));
        assert_outside_untouched(&t);
    }
    // And through an edit.
    let t = workspace(&file_step("report.txt", "write", "always"));
    t.aios(&["run", "wf.toml"]).success();
    let ids = t.item("w").to_string();
    let mut action = t
        .aios(&["inbox", "show", &ids, "--action"])
        .success()
        .json();
    action["path"] = t.join("outside/secret.txt").display().to_string().into();
    t.put("edit.json", &action.to_string());
    t.aios(&["approve", &ids, "--edit", "edit.json"])
        .code(2)
        .stderr_contains("is absolute; it must be relative to the root folder");
    assert_outside_untouched(&t);
}
