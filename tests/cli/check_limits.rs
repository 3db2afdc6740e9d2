//! `aios check` on hostile files: the report stays bounded (the first 50 problems,
//! then how many more; echoed lines cut around the caret), and mistakes of the file
//! as a whole (not UTF-8, nesting too deep, far too large) still have a position.

use crate::support::Test;

/// A one-step workflow whose `needs` is `n` integers on line 6.
fn needs_of_integers(n: usize) -> String {
    let list = vec!["1"; n].join(",");
    format!(
        "name = \"x\"\n[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = {{ a = 1 }}\nneeds = [{list}]\n"
    )
}

#[test]
fn twenty_thousand_mistakes_report_the_first_50_and_count_the_rest() {
    let t = Test::new().write("many.toml", &needs_of_integers(20_000));
    let out = t.aios(&["check", "many.toml"]).code(2);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    // The first one in full, its line cut to a window around the caret.
    let first = format!(
        "error: expected a string, found an integer\n --> many.toml:6:10\n  |\n6 | needs = [{}…\n  |          ^ `needs` must be a string\n\n",
        vec!["1"; 46].join(",")
    );
    assert!(out.stderr.starts_with(&first), "{}", &out.stderr[..600]);
    // The 50th is far along the line: the window starts with "…" too.
    assert!(
        out.stderr.contains(" --> many.toml:6:108\n  |\n6 | …,1,1,"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.matches("error: expected a string").count(), 50);
    assert!(out.stderr.ends_with(
        "and 19950 more problems (only the first 50 are shown; fix them, then check again)\n\n\
         error: many.toml is not a valid workflow (20000 problems)\n"
    ));
    // Before: 1.2 GB of output for this 40 KB file.
    assert!(out.stderr.len() < 16_000, "{} bytes", out.stderr.len());
    assert!(out.stderr.lines().all(|l| l.chars().count() < 140));
}

#[test]
fn a_file_of_more_than_500000_tokens_is_refused_where_the_limit_is_reached() {
    // 300,000 elements: 600,000 tokens (each `1` and each `,`).
    let t = Test::new().write("huge.toml", &needs_of_integers(300_000));
    let out = t.aios(&["check", "huge.toml"]).code(2);
    assert!(
        out.stderr.starts_with(
            "error: the file is too large for a workflow: it has more than 500000 TOML tokens\n --> huge.toml:6:"
        ),
        "{}",
        &out.stderr[..300.min(out.stderr.len())]
    );
    assert!(out.stderr.contains("^ the limit is reached here\n"));
    assert!(
        out.stderr
            .ends_with("error: huge.toml is not a valid workflow (1 problem)\n")
    );
}

#[test]
fn a_file_that_is_not_utf8_is_placed_at_its_first_invalid_byte() {
    let t = Test::new();
    std::fs::write(
        t.join("latin1.toml"),
        b"name = \"caf\xe9\"\n[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = { a = \"\xff\" }\n",
    )
    .unwrap();
    t.aios(&["check", "latin1.toml"]).code(2).stderr_is(
        "error: the file is not UTF-8 text: byte 0xE9 cannot be read as UTF-8\n \
         --> latin1.toml:1:12\n  |\n1 | name = \"caf\u{fffd}\"\n  |            ^ not UTF-8\n  |\n  \
         = hint: save the file as UTF-8 (a workflow is a UTF-8 TOML file)\n\n\
         error: latin1.toml is not a valid workflow (1 problem)\n",
    );
    // `run` says the same and records nothing.
    t.aios(&["run", "latin1.toml"])
        .code(2)
        .stderr_contains(" --> latin1.toml:1:12\n");
}

#[test]
fn nesting_too_deep_is_placed_where_the_limit_is_reached() {
    let deep = format!(
        "name = \"x\"\nmeta = {}{}\n[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = {{ a = 1 }}\n",
        "[".repeat(200),
        "]".repeat(200)
    );
    let t = Test::new().write("deep.toml", &deep);
    let out = t.aios(&["check", "deep.toml"]).code(2);
    // `meta = ` is 7 characters; the 81st `[` is column 88.
    assert!(
        out.stderr.starts_with(
            "error: invalid TOML: arrays and tables are nested too deeply (the limit is 80 levels)\n --> deep.toml:2:88\n"
        ),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("^ the limit is reached here\n"));
}
