//! The sandbox's rules without a kernel: plans, edits, rendering, descriptions.

use super::*;

fn sandbox(mode: SandboxMode, read: &[&str], write: &[&str], network: bool) -> Sandbox {
    Sandbox {
        mode,
        read: read.iter().map(|s| s.to_string()).collect(),
        write: write.iter().map(|s| s.to_string()).collect(),
        network,
    }
}

#[test]
fn modes_order_from_off_to_required() {
    use SandboxMode::*;
    assert!(Off < BestEffort && BestEffort < Required);
    assert!(Required.at_least(BestEffort) && Required.at_least(Required));
    assert!(!BestEffort.at_least(Required));
    assert!(Off.at_least(Off));
    for w in SandboxMode::WORDS {
        assert_eq!(SandboxMode::parse(w).unwrap().as_str(), *w);
    }
}

/// The persona check says what the sandbox is and what was required.
#[test]
fn at_least_names_both_modes() {
    let s = sandbox(SandboxMode::BestEffort, &[], &[], false);
    assert_eq!(s.at_least(SandboxMode::BestEffort), Ok(()));
    assert_eq!(
        s.at_least(SandboxMode::Required),
        Err("the step's sandbox is `best_effort`, and `required` is required".into())
    );
    assert!(Sandbox::off().at_least(SandboxMode::BestEffort).is_err());
}

#[test]
fn plans_follow_the_mode_and_the_abi() {
    let req = sandbox(SandboxMode::Required, &[], &[], false);
    let best = sandbox(SandboxMode::BestEffort, &[], &[], false);
    let off = Sandbox::off();
    assert_eq!(plan(&off, 7, ""), Ok(Plan::Off));
    assert_eq!(plan(&off, 0, "none"), Ok(Plan::Off));
    assert_eq!(
        plan(&req, 7, ""),
        Ok(Plan::Apply {
            abi: 7,
            deny_network: true,
            warning: None
        })
    );
    // No Landlock: required refuses, best_effort runs unsandboxed and says so.
    let err = plan(&req, 0, "this kernel has no Landlock").unwrap_err();
    assert_eq!(
        err,
        "the step's sandbox is required, but this kernel has no Landlock: the program was not started"
    );
    assert_eq!(
        plan(&best, 0, "this kernel has no Landlock"),
        Ok(Plan::Unsandboxed {
            warning: "ran without a sandbox: this kernel has no Landlock (the step's sandbox is best_effort)".into()
        })
    );
    // ABI 3 cannot deny the network: required refuses unless the network is allowed.
    assert!(plan(&req, 3, "").unwrap_err().contains("ABI 3"));
    let net = sandbox(SandboxMode::Required, &[], &[], true);
    assert_eq!(
        plan(&net, 3, ""),
        Ok(Plan::Apply {
            abi: 3,
            deny_network: false,
            warning: None
        })
    );
    match plan(&best, 3, "").unwrap() {
        Plan::Apply {
            deny_network: false,
            warning: Some(w),
            ..
        } => assert!(w.starts_with("the network was not restricted"), "{w}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_edit_may_tighten_the_sandbox_never_widen_it() {
    let proposed = sandbox(SandboxMode::BestEffort, &["/data"], &["/out"], true);
    let cwd = ("/w", "/w");
    // Tighter: stricter mode, fewer paths, a written path only read, no network.
    let tighter = sandbox(SandboxMode::Required, &["/out"], &[], false);
    assert_eq!(tighter.within(&proposed, cwd), Ok(()));
    assert_eq!(proposed.within(&proposed, cwd), Ok(()));
    let cases = [
        (
            sandbox(SandboxMode::Off, &["/data"], &["/out"], true),
            "lowers the sandbox from `best_effort` to `off`",
        ),
        (
            sandbox(SandboxMode::BestEffort, &["/data", "/etc"], &["/out"], true),
            "read `/etc`",
        ),
        (
            sandbox(
                SandboxMode::BestEffort,
                &["/data"],
                &["/out", "/data"],
                true,
            ),
            "write `/data`",
        ),
        (
            // A path beneath a declared one is another path: refused as written.
            sandbox(SandboxMode::BestEffort, &["/data/x"], &["/out"], true),
            "read `/data/x`",
        ),
    ];
    for (edit, want) in cases {
        let err = edit.within(&proposed, cwd).unwrap_err();
        assert!(err.contains(want), "{err}");
    }
    let no_net = sandbox(SandboxMode::BestEffort, &[], &[], false);
    let err = proposed.within(&no_net, cwd).unwrap_err();
    assert!(err.contains("allows the network"), "{err}");
    let err = proposed.within(&proposed, ("/", "/w")).unwrap_err();
    assert!(err.contains("`cwd` cannot be edited"), "{err}");
    // Nothing to widen when the proposal had no sandbox.
    assert_eq!(
        sandbox(SandboxMode::Off, &[], &[], true).within(&Sandbox::off(), ("/", "/w")),
        Ok(())
    );
}

#[test]
fn paths_normalize_lexically() {
    let n = |p: &str| normalize(Path::new(p)).display().to_string();
    assert_eq!(n("/a/./b/../c"), "/a/c");
    assert_eq!(n("//a//b/"), "/a/b");
    assert_eq!(n("/.."), "/");
    assert_eq!(n("/a/../../b"), "/b");
    assert_eq!(n("a/../../b"), "../b");
    assert_eq!(n("../../x"), "../../x");
    assert_eq!(n("."), ".");
}

#[test]
fn declared_paths_render_from_the_workflow_folder() {
    let spec = SandboxSpec {
        mode: SandboxMode::Required,
        read: vec![
            "data".into(),
            "/etc/app.conf".into(),
            "../shared/./x".into(),
        ],
        write: vec!["out".into()],
        network: false,
    };
    let s = spec.render(Path::new("/home/ada/flows"));
    assert_eq!(
        s.read,
        [
            "/home/ada/flows/data",
            "/etc/app.conf",
            "/home/ada/shared/x"
        ]
    );
    assert_eq!(s.write, ["/home/ada/flows/out"]);
    assert_eq!(s.validate(), Ok(()));
    let bad = sandbox(SandboxMode::Required, &["/a/../b"], &[], false);
    assert!(bad.validate().unwrap_err().contains("not normalized"));
    let rel = sandbox(SandboxMode::Required, &[], &["out"], false);
    assert!(rel.validate().unwrap_err().contains("must be absolute"));
}

#[test]
fn headlines_say_the_mode_and_the_network() {
    assert_eq!(
        sandbox(SandboxMode::Required, &[], &[], false).headline(),
        "required (Landlock), no network"
    );
    assert_eq!(
        sandbox(SandboxMode::BestEffort, &[], &[], true).headline(),
        "best_effort (Landlock), network allowed"
    );
    assert_eq!(
        Sandbox::off().headline(),
        "off: the program runs with your rights"
    );
}

/// A step's temporary folder is private and goes away with the step.
#[test]
fn a_step_tmp_is_private_and_removed() {
    use std::os::unix::fs::PermissionsExt;
    let base = tempfile::tempdir().unwrap();
    let t = StepTmp::create(base.path()).unwrap();
    let p = t.path().to_path_buf();
    std::fs::write(p.join("scratch"), "x").unwrap();
    assert_eq!(
        std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
        0o700
    );
    drop(t);
    assert!(!p.exists());
}
