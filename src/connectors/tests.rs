use super::*;
use serde_json::json;

fn file(root: &str, path: &str) -> Action {
    Action::File(FileAction {
        root: root.into(),
        path: path.into(),
        content: "hi".into(),
        append: false,
    })
}

#[test]
fn actions_round_trip_as_json_and_reject_unknown_fields() {
    let a = file("/tmp/x", "a.txt");
    let v = serde_json::to_value(&a).unwrap();
    assert_eq!(v["kind"], "file");
    assert_eq!(serde_json::from_value::<Action>(v).unwrap(), a);
    let bad = json!({"kind": "file", "root": "/r", "path": "p", "content": "", "colour": 1});
    assert!(serde_json::from_value::<Action>(bad).is_err());
}

#[test]
fn file_paths_may_not_escape_the_root() {
    assert!(file("/r", "a/b.txt").validate().is_ok());
    assert!(file("/r", "a/../b.txt").validate().is_ok());
    for bad in ["../x", "a/../../x", "/etc/passwd", "", "."] {
        assert!(file("/r", bad).validate().is_err(), "{bad} accepted");
    }
    assert!(file("rel", "a").validate().is_err());
}

#[test]
fn file_writes_refuse_symlinks_out_of_the_root() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let a = file(root.to_str().unwrap(), "link/evil.txt");
    let Action::File(f) = a else { unreachable!() };
    let err = rt.block_on(file::write(f)).unwrap_err();
    assert!(err.message.contains("escapes"), "{}", err.message);
    assert!(!outside.join("evil.txt").exists());

    let Action::File(ok) = file(root.to_str().unwrap(), "sub/dir/ok.txt") else {
        unreachable!()
    };
    let out = rt.block_on(file::write(ok)).unwrap();
    assert_eq!(out["bytes"], 2);
    assert_eq!(
        std::fs::read_to_string(root.join("sub/dir/ok.txt")).unwrap(),
        "hi"
    );
}

#[test]
fn http_actions_are_validated() {
    let mut h = HttpAction {
        method: "POST".into(),
        url: "http://127.0.0.1:1/x".into(),
        headers: Default::default(),
        query: Default::default(),
        json: Some(json!({})),
        body: None,
        expect_status: vec![],
        idempotency_key: None,
    };
    assert!(Action::Http(h.clone()).validate().is_ok());
    h.url = "ftp://x".into();
    assert!(Action::Http(h.clone()).validate().is_err());
    h.url = "not a url".into();
    assert!(Action::Http(h.clone()).validate().is_err());
    h.url = "https://example.com".into();
    h.body = Some("x".into());
    assert!(Action::Http(h).validate().is_err());
}

#[test]
fn shell_argv_is_quoted_for_display() {
    let argv: Vec<String> = ["echo", "hello world", "it's", "a=b"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        shell::quote_argv(&argv),
        r"echo 'hello world' 'it'\''s' a=b"
    );
}

#[test]
fn shell_runs_without_a_shell_and_with_an_explicit_environment() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let env = ExecEnv {
        child_env: vec![("PATH".into(), "/usr/bin:/bin".into())],
    };
    let mut vars = BTreeMap::new();
    vars.insert("GREETING".to_string(), "hi".to_string());
    let a = ShellAction {
        argv: vec![
            "sh".into(),
            "-c".into(),
            "echo \"$GREETING $SECRET\"; echo '{\"n\": 1}' >&2".into(),
        ],
        cwd: "/".into(),
        env: vars,
        json: false,
    };
    let out = rt.block_on(shell::run(a, &env)).unwrap();
    assert_eq!(out["stdout"], "hi \n");
    assert_eq!(out["exit_code"], 0);

    let fail = ShellAction {
        argv: vec!["sh".into(), "-c".into(), "echo boom >&2; exit 3".into()],
        cwd: "/".into(),
        env: BTreeMap::new(),
        json: false,
    };
    let err = rt.block_on(shell::run(fail, &env)).unwrap_err();
    assert!(
        err.message.contains("status 3") && err.message.contains("boom"),
        "{}",
        err.message
    );

    let json_out = ShellAction {
        argv: vec!["echo".into(), "{\"a\": [1]}".into()],
        cwd: "/".into(),
        env: BTreeMap::new(),
        json: true,
    };
    let out = rt.block_on(shell::run(json_out, &env)).unwrap();
    assert_eq!(out["json"], json!({"a": [1]}));
}
