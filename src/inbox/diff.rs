//! The diff of an edited action as the operator reads it: every multi-line text in it
//! (an email's body, a file's content) as a unified diff of its lines, and the rest
//! of the action as a diff of its pretty JSON, where such a text stands as a short
//! marker instead of one long escaped line. Shown before an edit is approved (TUI),
//! journaled with the decision, and printed by `aios log` and `aios inbox show`.

use serde_json::Value as Json;

/// The diff from `before` (the proposal) to `after` (the edit); empty when they are
/// equal.
pub fn action_diff(before: &Json, after: &Json) -> String {
    let (mut a, mut b) = (before.clone(), after.clone());
    let mut texts = Vec::new();
    split(&mut a, &mut b, "", &mut texts);
    let mut out = String::new();
    if a != b {
        let pa = serde_json::to_string_pretty(&a).unwrap_or_default();
        let pb = serde_json::to_string_pretty(&b).unwrap_or_default();
        out.push_str(
            &similar::TextDiff::from_lines(&pa, &pb)
                .unified_diff()
                .context_radius(2)
                .header("proposed", "edited")
                .to_string(),
        );
    }
    for (path, x, y) in texts {
        out.push_str(
            &similar::TextDiff::from_lines(&x, &y)
                .unified_diff()
                .context_radius(2)
                .header(&format!("proposed {path}"), &format!("edited {path}"))
                .to_string(),
        );
    }
    out
}

/// Walk both values together; replace each multi-line string found at the same place
/// in both with the same marker, keeping `(path, before, after)` of those that differ.
fn split(a: &mut Json, b: &mut Json, path: &str, texts: &mut Vec<(String, String, String)>) {
    match (a, b) {
        (Json::Object(x), Json::Object(y)) => {
            for (k, va) in x.iter_mut() {
                if let Some(vb) = y.get_mut(k) {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    split(va, vb, &p, texts);
                }
            }
        }
        (Json::Array(x), Json::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter_mut().zip(y.iter_mut()).enumerate() {
                split(va, vb, &format!("{path}[{i}]"), texts);
            }
        }
        (Json::String(x), Json::String(y)) if x.contains('\n') || y.contains('\n') => {
            let marker = if x == y {
                format!(
                    "({}, unchanged)",
                    crate::text::count(x.lines().count(), "line")
                )
            } else {
                texts.push((path.to_string(), x.clone(), y.clone()));
                "(changed: its lines are diffed below)".to_string()
            };
            *x = marker.clone();
            *y = marker;
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_changed_body_is_diffed_line_by_line_not_as_escaped_json() {
        let before = json!({"kind": "email", "to": ["a@example.com"], "subject": "Hi",
            "body": "Hello Ada,\n\nthe launch is on Monday.\nSee you there.\n"});
        let after = json!({"kind": "email", "to": ["a@example.com"], "subject": "Hi",
            "body": "Hello Ada,\n\nthe launch is on Tuesday.\nSee you there.\n"});
        let d = action_diff(&before, &after);
        assert_eq!(
            d,
            "--- proposed body\n+++ edited body\n@@ -1,4 +1,4 @@\n Hello Ada,\n \n-the launch is on Monday.\n+the launch is on Tuesday.\n See you there.\n"
        );
        assert!(!d.contains("\\n"), "{d}");
    }

    #[test]
    fn other_fields_are_a_json_diff_with_the_text_as_a_marker() {
        let before = json!({"kind": "file", "path": "a.md", "content": "one\ntwo\n"});
        let after = json!({"kind": "file", "path": "b.md", "content": "one\ntwo\n"});
        let d = action_diff(&before, &after);
        assert!(
            d.contains("-  \"path\": \"a.md\",\n+  \"path\": \"b.md\","),
            "{d}"
        );
        assert!(d.contains("\"content\": \"(2 lines, unchanged)\""), "{d}");
        assert!(!d.contains("one\\ntwo"), "{d}");
        // Both changed: the JSON diff, then the text's.
        let after = json!({"kind": "file", "path": "b.md", "content": "one\n2\n"});
        let d = action_diff(&before, &after);
        assert!(d.contains("+  \"path\": \"b.md\","), "{d}");
        assert!(
            d.contains("--- proposed content\n+++ edited content\n"),
            "{d}"
        );
        assert!(d.contains("\n-two\n+2\n"), "{d}");
    }

    #[test]
    fn single_line_texts_stay_in_the_json_and_equal_actions_have_no_diff() {
        let before = json!({"kind": "file", "path": "a", "content": "hello"});
        let after = json!({"kind": "file", "path": "a", "content": "HELLO"});
        let d = action_diff(&before, &after);
        assert!(d.contains("+  \"content\": \"HELLO\""), "{d}");
        assert_eq!(action_diff(&before, &before), "");
    }
}
