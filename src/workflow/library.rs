//! The workflow library: the repository's `workflows/` files (and the example),
//! embedded in the binary for `aios new --from` and `aios new --list`.

/// `(name, source)` of each library workflow; the name is the file's stem.
pub const LIBRARY: &[(&str, &str)] = &[
    ("hello", include_str!("../../examples/hello.toml")),
    (
        "invoice-chaser",
        include_str!("../../workflows/invoice-chaser.toml"),
    ),
    ("launch", include_str!("../../workflows/launch.toml")),
    (
        "lead-followup",
        include_str!("../../workflows/lead-followup.toml"),
    ),
    (
        "newsletter",
        include_str!("../../workflows/newsletter.toml"),
    ),
    (
        "onboarding",
        include_str!("../../workflows/onboarding.toml"),
    ),
    (
        "outcome-review",
        include_str!("../../workflows/outcome-review.toml"),
    ),
    ("support", include_str!("../../workflows/support.toml")),
    (
        "weekly-report",
        include_str!("../../workflows/weekly-report.toml"),
    ),
];

/// A library workflow's source, by name.
pub fn get(name: &str) -> Option<&'static str> {
    LIBRARY.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// A workflow's `description`, if it has one.
pub fn description(source: &str) -> Option<String> {
    let t: toml::Table = toml::from_str(source).ok()?;
    t.get("description")?.as_str().map(str::to_string)
}

/// `source` with its top-level `name = "…"` line set to `name`.
pub fn renamed(source: &str, name: &str) -> String {
    let mut done = false;
    let mut out: Vec<String> = Vec::new();
    for line in source.lines() {
        if !done && line.starts_with("name = ") {
            out.push(format!("name = {}", toml::Value::String(name.to_string())));
            done = true;
        } else if !done && line.starts_with('[') {
            // Past the top level with no name line: the file keeps its own.
            done = true;
            out.push(line.to_string());
        } else {
            out.push(line.to_string());
        }
    }
    let mut s = out.join("\n");
    if source.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// The minimal workflow of `aios new NAME`: one input, a computed value, and a
/// file written after your approval.
pub fn skeleton(name: &str) -> String {
    format!(
        r#"# {name}: say here what this workflow does, its inputs and what it needs.
#   aios run {name}.toml --input who=Ada
# Reference: README "The workflow format (v1)"; check it with `aios check {name}.toml`.
name = {q}
description = "What this workflow does, in one line"

[inputs.who]
type = "string"
default = "world"
description = "Who it is for"

[[steps]]
id = "draft"
kind = "set"
values = {{ text = "Hello, {{{{ inputs.who }}}}!" }}

[[steps]]
id = "save"
kind = "file"                 # proposed: waits in `aios inbox` for your approval
root = "out"
path = "{name}-{{{{ inputs.who | lower }}}}.txt"
content = "{{{{ steps.draft.output.text }}}}\n"
"#,
        q = toml::Value::String(name.to_string())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file of `workflows/` is in the library (it cannot drift).
    #[test]
    fn every_workflow_file_is_in_the_library() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows");
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                let stem = p.file_stem().unwrap().to_str().unwrap();
                assert_eq!(
                    get(stem),
                    Some(std::fs::read_to_string(&p).unwrap().as_str()),
                    "workflows/{stem}.toml is not in src/workflow/library.rs"
                );
            }
        }
    }

    /// Every file of `workflows/` has a row in the README's table of shipped workflows.
    #[test]
    fn every_workflow_file_has_a_readme_row() {
        let readme = include_str!("../../README.md");
        for (name, source) in LIBRARY {
            if *name == "hello" {
                continue;
            }
            assert!(
                readme.contains(&format!("\n| `workflows/{name}.toml` | ")),
                "README has no library table row for workflows/{name}.toml"
            );
            // And its header says what it does before the first key.
            assert!(source.starts_with("# "), "{name} has no header comment");
        }
    }

    #[test]
    fn renamed_sets_the_top_level_name_only() {
        let s = renamed(get("launch").unwrap(), "my-launch");
        assert!(s.contains("\nname = \"my-launch\"\n"));
        assert!(!s.contains("\nname = \"launch\"\n"));
        assert_eq!(s.lines().count(), get("launch").unwrap().lines().count());
    }

    #[test]
    fn each_has_a_description() {
        for (n, s) in LIBRARY {
            assert!(description(s).is_some(), "{n} has no description");
        }
        assert!(description(&skeleton("x")).is_some());
    }
}
