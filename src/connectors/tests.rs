//! Connectors without a run: journaled actions, validation, edits, descriptions,
//! commits and the resources they build on first use.

use std::collections::BTreeMap;

use super::confine::{Limits, Sandbox};
use super::file::{FileAction, FileMode};
use super::http::HttpAction;
use super::shell::ShellAction;
use super::*;
use serde_json::json;

fn file(root: &str, path: &str) -> Action {
    Action::File(FileAction {
        root: root.into(),
        path: path.into(),
        content: "hi".into(),
        mode: FileMode::Write,
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
    let res = Resources::default();
    let err = rt.block_on(f.commit(&res)).unwrap_err();
    assert!(err.message.contains("escapes"), "{}", err.message);
    assert!(!outside.join("evil.txt").exists());

    let Action::File(ok) = file(root.to_str().unwrap(), "sub/dir/ok.txt") else {
        unreachable!()
    };
    let out = rt.block_on(ok.commit(&res)).unwrap();
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
    let res = Resources::new(ExecEnv {
        child_env: vec![("PATH".into(), "/usr/bin:/bin".into())],
        ..ExecEnv::default()
    });
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
        sandbox: Sandbox::off(),
        limits: Limits::default(),
    };
    let out = rt.block_on(a.commit(&res)).unwrap();
    assert_eq!(out["stdout"], "hi \n");
    assert_eq!(out["exit_code"], 0);

    let fail = ShellAction {
        argv: vec!["sh".into(), "-c".into(), "echo boom >&2; exit 3".into()],
        cwd: "/".into(),
        env: BTreeMap::new(),
        json: false,
        sandbox: Sandbox::off(),
        limits: Limits::default(),
    };
    let err = rt.block_on(fail.commit(&res)).unwrap_err();
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
        sandbox: Sandbox::off(),
        limits: Limits::default(),
    };
    let out = rt.block_on(json_out.commit(&res)).unwrap();
    assert_eq!(out["json"], json!({"a": [1]}));
}

fn http_action() -> HttpAction {
    let mut headers = BTreeMap::new();
    headers.insert("Content-Type".to_string(), "application/json".to_string());
    let mut query = BTreeMap::new();
    query.insert("week".to_string(), "47".to_string());
    query.insert("q".to_string(), "a b".to_string());
    HttpAction {
        method: "POST".into(),
        url: "https://hooks.example.com/T0".into(),
        headers,
        query,
        json: Some(json!({"text": "Launch!"})),
        body: None,
        expect_status: vec![201, 202],
        idempotency_key: Some("aios-u1-post-1".into()),
    }
}

/// `aios inbox show` prints these texts: the same as before connectors described
/// their actions in parts.
#[test]
fn descriptions_print_as_inbox_show_always_did() {
    let shell = Action::Shell(ShellAction {
        argv: vec![
            "git".into(),
            "commit".into(),
            "-m".into(),
            "it's done".into(),
        ],
        cwd: "/w".into(),
        env: BTreeMap::from([("LANG".to_string(), "C".to_string())]),
        json: true,
        sandbox: Sandbox::off(),
        limits: Limits::default(),
    });
    assert_eq!(
        shell.describe().to_text(),
        "$ git commit -m 'it'\\''s done'\n  in /w\n  env LANG=C\n  sandbox off: the program runs with your rights\n  stdout parsed as JSON"
    );
    assert_eq!(shell.summary(), "run git commit -m 'it'\\''s done'");

    let http = Action::Http(http_action());
    assert_eq!(
        http.describe().to_text(),
        "POST https://hooks.example.com/T0\n  query: q=a b&week=47\n  Content-Type: application/json\n  \
         Idempotency-Key: aios-u1-post-1\n  json:\n  │ {\n  │   \"text\": \"Launch!\"\n  │ }\n  \
         expect status 201, 202"
    );
    let mut plain = http_action();
    plain.json = None;
    plain.body = Some("line 1\nline 2".into());
    let d = plain.describe();
    let body = d.body.as_ref().unwrap();
    assert_eq!(
        (body.label.as_str(), body.content_type.as_str()),
        ("body", "application/json")
    );
    assert!(d.to_text().contains("\n  body:\n  │ line 1\n  │ line 2\n"));

    let mut f = FileAction {
        root: "/w/out".into(),
        path: "notes.md".into(),
        content: "# Notes\n\nhi\n".into(),
        mode: FileMode::Write,
    };
    assert_eq!(
        Action::File(f.clone()).describe().to_text(),
        "write notes.md\n  in /w/out\n  12 bytes:\n  │ # Notes\n  │ \n  │ hi"
    );
    f.mode = FileMode::Append;
    assert_eq!(
        Action::File(f.clone()).summary(),
        "append to notes.md (12 bytes)"
    );
}

/// Actions exactly as the journal of earlier builds holds them (inbox items'
/// `action`) still load and describe.
#[test]
fn actions_as_journaled_before_still_load() {
    let stored = [
        r#"{"kind":"shell","argv":["sh","-c","echo hi"],"cwd":"/w","env":{},"json":false}"#,
        r#"{"kind":"shell","argv":["ls"],"cwd":"/w"}"#,
        r#"{"kind":"http","method":"POST","url":"https://x.test/h","headers":{"A":"b"},"query":{},"json":{"n":1},"expect_status":[],"idempotency_key":"aios-0190-post-1"}"#,
        r#"{"kind":"http","method":"GET","url":"https://x.test/h","headers":{},"query":{"a":"1"},"expect_status":[200]}"#,
        r#"{"kind":"file","root":"/w","path":"out/a.txt","content":"hi","mode":"append"}"#,
    ];
    for text in stored {
        let a: Action = serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert!(a.validate().is_ok(), "{text}");
        // Written back, it is the same document (what `--action` prints and edits).
        let again: Json = serde_json::to_value(&a).unwrap();
        let before: Json = serde_json::from_str(text).unwrap();
        for (k, v) in before.as_object().unwrap() {
            assert_eq!(&again[k], v, "{text}: {k}");
        }
    }
}

/// Builds before `mode` journaled a file action's mode as `append: bool`: such an
/// action loads with the same meaning and is written back with `mode`, the word the
/// workflow uses.
#[test]
fn file_actions_journaled_with_append_load_as_mode() {
    for (old, mode) in [("true", "append"), ("false", "write")] {
        let text = format!(
            r#"{{"kind":"file","root":"/w","path":"a.txt","content":"hi","append":{old}}}"#
        );
        let a: Action = serde_json::from_str(&text).unwrap();
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v["mode"], mode, "{text}");
        assert!(v.get("append").is_none(), "{v}");
        assert_eq!(serde_json::from_value::<Action>(v).unwrap(), a);
    }
    let Action::File(f) = serde_json::from_value::<Action>(json!({
        "kind": "file", "root": "/w", "path": "a.txt", "content": "hi", "append": true
    }))
    .unwrap() else {
        panic!("not a file action")
    };
    assert_eq!(f.mode, FileMode::Append);
    assert_eq!(Action::File(f).summary(), "append to a.txt (2 bytes)");
    // Absent: a write, as before.
    let a: Action = serde_json::from_value(
        json!({"kind": "file", "root": "/w", "path": "a.txt", "content": "hi"}),
    )
    .unwrap();
    assert_eq!(serde_json::to_value(&a).unwrap()["mode"], "write");
    // Both, agreeing, load; disagreeing, they are refused with a reason.
    assert!(serde_json::from_value::<Action>(json!({
        "kind": "file", "root": "/w", "path": "a", "content": "", "mode": "append", "append": true
    }))
    .is_ok());
    let err = serde_json::from_value::<Action>(json!({
        "kind": "file", "root": "/w", "path": "a", "content": "", "mode": "write", "append": true
    }))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("`mode = \"write\"` and `append = true` disagree; give `mode` only"),
        "{err}"
    );
    let err = serde_json::from_value::<Action>(json!({
        "kind": "file", "root": "/w", "path": "a", "content": "", "mode": "overwrite"
    }))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("unknown variant `overwrite`, expected `write` or `append`"),
        "{err}"
    );
}

#[test]
fn each_connector_is_journaled_under_its_kind_word() {
    let actions = [
        Action::Shell(ShellAction {
            argv: vec!["ls".into()],
            cwd: "/".into(),
            env: BTreeMap::new(),
            json: false,
            sandbox: Sandbox::off(),
            limits: Limits::default(),
        }),
        Action::Http(http_action()),
        file("/r", "a"),
    ];
    for a in actions {
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v["kind"], a.kind());
        assert_eq!(a.connector().name(), a.kind());
    }
}

#[test]
fn an_edit_keeps_the_kind_and_passes_the_connectors_checks() {
    let proposed = file("/r", "a.txt");
    assert!(file("/r", "b.txt").validate_edit(&proposed).is_ok());
    assert!(file("/r", "../b.txt").validate_edit(&proposed).is_err());
    let err = Action::Http(http_action())
        .validate_edit(&proposed)
        .unwrap_err();
    assert!(
        err.contains("turns a file action into a http action"),
        "{err}"
    );
}

/// Commits share resources built on first use: writing a file builds no HTTP
/// client; an HTTP commit builds it (and fails cleanly when nothing listens).
#[test]
fn resources_are_built_on_first_use() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let res = Resources::default();
    let a = file(tmp.path().to_str().unwrap(), "a.txt");
    rt.block_on(a.commit(&res, None, &crate::trust::Persona::open()))
        .unwrap();
    assert!(!res.has_http());
    let mut h = http_action();
    h.url = "http://127.0.0.1:1/x".into();
    let err = rt
        .block_on(Action::Http(h).commit(&res, None, &crate::trust::Persona::open()))
        .unwrap_err();
    assert!(
        err.retryable && err.message.contains("cannot connect"),
        "{}",
        err.message
    );
    assert!(res.has_http());
}
