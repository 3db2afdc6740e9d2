//! Where data lives: AIOS_HOME / --home, file permissions, unusable homes.

use std::os::unix::fs::PermissionsExt;

use crate::support::Test;

#[test]
fn the_database_is_private() {
    let t = Test::new();
    t.aios(&["runs"]).success();
    let mode = std::fs::metadata(t.db()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "aios.db mode is {:o}", mode & 0o777);
}

#[test]
fn home_flag_works_like_aios_home() {
    let t = Test::new().copy("examples/hello.toml", "hello.toml");
    t.args(&["--home", "data", "run", "hello.toml"])
        .no_home()
        .run()
        .success();
    assert!(t.join("data/aios.db").exists());
    assert!(!t.db().exists());
    let runs = t
        .args(&["runs", "--json", "--home", "data"])
        .no_home()
        .run()
        .success()
        .json();
    assert_eq!(runs.as_array().unwrap().len(), 1);
    // The same folder through the environment.
    let data = t.join("data");
    let runs = t
        .args(&["runs", "--json"])
        .no_home()
        .env("AIOS_HOME", data.to_str().unwrap())
        .run()
        .success()
        .json();
    assert_eq!(runs[0]["workflow"], "hello");
}

#[test]
fn a_home_that_cannot_be_created_exits_5_with_a_hint() {
    let t = Test::new().write("afile", "not a folder");
    t.args(&["--home", "afile/sub", "runs"])
        .no_home()
        .run()
        .code(5)
        .stderr_is(
            "error: cannot create the data directory afile/sub: Not a directory (os error 20)\nhint: set AIOS_HOME (or --home) to a writable folder\n",
        );
}

#[test]
fn a_bad_aios_now_is_a_usage_error() {
    Test::new()
        .args(&["runs"])
        .env("AIOS_NOW", "yesterday")
        .run()
        .code(2)
        .stderr_contains("error: AIOS_NOW=`yesterday` is not an RFC 3339 instant")
        .stderr_contains("hint: use a form like 2026-11-21T09:30:00Z, or unset AIOS_NOW");
}
