//! The words of refused requests: what the TUI and the CLI show when an edit or a
//! decision does not fit its item.

use serde_json::json;

use super::*;
use crate::journal::ProposalKind;

fn file_item() -> ProposalRecord {
    crate::tui::update::tests::record(
        4,
        ProposalKind::Action,
        json!({"kind": "file", "root": "/w", "path": "a.txt", "content": "hi", "mode": "write"}),
    )
}

#[test]
fn a_bad_edit_from_the_tui_reads_as_one_sentence() {
    let edit = |text: &str| Edit {
        origin: "the edit".into(),
        text: text.into(),
        secrets: Default::default(),
        trust: Default::default(),
    };
    let escape = json!({"kind": "file", "root": "/w", "path": "../x", "content": "hi"});
    let e = preview_edit(&file_item(), &edit(&escape.to_string())).unwrap_err();
    assert_eq!(
        e.message,
        "the edit is not valid: path `../x` escapes the root folder"
    );
    let e = preview_edit(&file_item(), &edit(r#"{"kind": "file", "colour": 1}"#)).unwrap_err();
    assert!(
        e.message
            .starts_with("the edit is not a valid action: unknown field `colour`"),
        "{}",
        e.message
    );
    let e = preview_edit(&file_item(), &edit("{ nope")).unwrap_err();
    assert!(
        e.message.starts_with("the edit is neither JSON ("),
        "{}",
        e.message
    );
    assert_eq!(
        e.hint.as_deref(),
        Some("edit the JSON printed by `aios inbox show 4 --action`")
    );
    // Unchanged, but written with the old `append` word: nothing to diff.
    let same =
        json!({"kind": "file", "root": "/w", "path": "a.txt", "content": "hi", "append": false});
    assert_eq!(
        preview_edit(&file_item(), &edit(&same.to_string())).unwrap(),
        (None, None)
    );
}

#[test]
fn next_lists_what_fits_the_item() {
    assert_eq!(
        next(&file_item()),
        "aios approve 4 · aios approve 4 --edit FILE · aios reject 4 --reason \"...\""
    );
}
