//! Content diffs: an edit of a file's content (or an email's body) is journaled and
//! shown line by line, not as one escaped JSON line, by `aios log` and `inbox show`.

use crate::support::Test;

const WF: &str = r#"
name = "notes"

[[steps]]
id = "note"
kind = "file"
path = "note.md"
content = """
# Week 47
line two
line three
"""
"#;

#[test]
fn an_edited_content_is_a_line_diff_in_log_and_inbox_show() {
    let t = Test::new().write("n.toml", WF);
    t.aios(&["run", "n.toml"]).success();
    let mut action = t.aios(&["inbox", "show", "1", "--action"]).success().json();
    let content = action["content"]
        .as_str()
        .unwrap()
        .replace("line two", "line 2");
    action["content"] = content.into();
    let t = t.write("edit.json", &action.to_string());
    t.aios(&["approve", "1", "--edit", "edit.json"]).success();
    assert_eq!(t.read("note.md"), "# Week 47\nline 2\nline three\n");
    let log = t.aios(&["log", "1"]).success().stdout;
    for want in [
        "         --- proposed content\n",
        "         +++ edited content\n",
        "          # Week 47\n",
        "         -line two\n",
        "         +line 2\n",
        "          line three\n",
    ] {
        assert!(log.contains(want), "missing {want:?} in:\n{log}");
    }
    assert!(!log.contains("\\n"), "an escaped newline in:\n{log}");
    let show = t.aios(&["inbox", "show", "1"]).success().stdout;
    assert!(
        show.contains("-line two") && show.contains("+line 2"),
        "{show}"
    );
    assert!(!show.contains("\\n"), "{show}");
}
