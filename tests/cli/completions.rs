//! The checked-in shell completions match what the binary generates.

use std::path::Path;

use crate::support::Test;

fn assert_fresh(shell: &str, file: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let generated = Test::new().aios(&["completions", shell]).success().stdout;
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        generated == checked_in,
        "{file} is stale or missing; regenerate it with:\n  cargo build && ./target/debug/aios completions {shell} > {file}"
    );
}

#[test]
fn bash_completions_are_fresh() {
    assert_fresh("bash", "completions/aios.bash");
}

#[test]
fn zsh_completions_are_fresh() {
    assert_fresh("zsh", "completions/_aios");
}

#[test]
fn fish_completions_are_fresh() {
    assert_fresh("fish", "completions/aios.fish");
}

#[test]
fn unknown_shell_is_a_usage_error() {
    Test::new()
        .aios(&["completions", "tcsh"])
        .code(2)
        .stderr_contains("invalid value 'tcsh'");
}
