//! `aios check --json`: diagnostics as one JSON document for editors and CI.

use crate::support::{Test, keys, sorted};

const BAD: &str = "name = \"bad\"\nmax_paralel = 2\n\n[[steps]]\nid = \"a\"\nkind = \"shel\"\nargv = [\"echo\"]\n";

const GOOD: &str =
    "name = \"good\"\n\n[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = { x = \"1\" }\n";

#[test]
fn check_json_gives_positions_severity_message_and_hint() {
    let t = Test::new().write("bad.toml", BAD).write("good.toml", GOOD);
    let out = t
        .aios(&["check", "--json", "good.toml", "bad.toml", "missing.toml"])
        .code(2);
    assert_eq!(out.stderr, "", "JSON mode prints only the document");
    let j = out.json();
    assert_eq!(keys(&j), sorted(&["diagnostics", "files", "ok"]));
    assert_eq!(j["ok"], false);
    let files = j["files"].as_array().unwrap();
    assert_eq!(files.len(), 3);
    assert_eq!(
        keys(&files[0]),
        sorted(&["file", "ok", "problems", "steps", "workflow"])
    );
    assert_eq!(files[0]["ok"], true);
    assert_eq!(files[0]["workflow"], "good");
    assert_eq!(files[0]["steps"], 1);
    assert_eq!(files[1]["file"], "bad.toml");
    assert_eq!(files[1]["ok"], false);
    assert_eq!(files[1]["problems"], 2);
    assert_eq!(files[2]["ok"], false);

    let d = j["diagnostics"].as_array().unwrap();
    assert_eq!(d.len(), 3, "{j:#}");
    assert_eq!(
        keys(&d[0]),
        sorted(&[
            "column",
            "end_column",
            "end_line",
            "file",
            "hint",
            "label",
            "line",
            "message",
            "severity"
        ])
    );
    // `max_paralel` on line 2, columns 1 to 12 (end exclusive).
    assert_eq!(d[0]["file"], "bad.toml");
    assert_eq!(d[0]["line"], 2);
    assert_eq!(d[0]["column"], 1);
    assert_eq!(d[0]["end_line"], 2);
    assert_eq!(d[0]["end_column"], 12);
    assert_eq!(d[0]["severity"], "error");
    assert_eq!(d[0]["message"], "unknown key `max_paralel`");
    assert_eq!(d[0]["hint"], "did you mean `max_parallel`?");
    // `"shel"` on line 6, columns 8 to 14.
    assert_eq!(
        (d[1]["line"].clone(), d[1]["column"].clone()),
        (6.into(), 8.into())
    );
    assert_eq!(d[1]["end_column"], 14);
    assert_eq!(d[1]["message"], "unknown step kind `shel`");
    // A file that cannot be read: an error without a position.
    assert_eq!(d[2]["file"], "missing.toml");
    assert_eq!(d[2]["line"], serde_json::Value::Null);
    assert!(
        d[2]["message"]
            .as_str()
            .unwrap()
            .contains("cannot read missing.toml")
    );
}

#[test]
fn check_json_of_good_files_is_ok() {
    let t = Test::new().write("good.toml", GOOD);
    let j = t.aios(&["check", "--json", "good.toml"]).success().json();
    assert_eq!(j["ok"], true);
    assert_eq!(j["diagnostics"], serde_json::json!([]));
    // A missing file alone is exit 3, as without --json.
    t.aios(&["check", "--json", "nope.toml"]).code(3);
}
