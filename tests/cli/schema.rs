//! The JSON Schemas of workflow files and config.toml (completions/schema/): fresh
//! against the code (regenerate with `AIOS_WRITE_SCHEMA=1 cargo test --test cli
//! schema::`), printed by `aios schema`, and every shipped workflow and the whole
//! `aios init` config template validate against them, while typical mistakes do not.

use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use crate::support::Test;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn text(v: &Json) -> String {
    format!("{}\n", serde_json::to_string_pretty(v).unwrap())
}

fn schemas() -> [(&'static str, Json); 2] {
    [
        ("workflow", aios::workflow::schema::workflow_schema()),
        ("config", aios::config::schema::config_schema()),
    ]
}

#[test]
fn checked_in_schemas_are_fresh_and_printed_by_aios_schema() {
    let dir = repo("completions/schema");
    let write = std::env::var_os("AIOS_WRITE_SCHEMA").is_some();
    let mut stale = Vec::new();
    for (name, schema) in schemas() {
        let path = dir.join(format!("{name}.schema.json"));
        if write {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, text(&schema)).unwrap();
        }
        if std::fs::read_to_string(&path).ok() != Some(text(&schema)) {
            stale.push(path.display().to_string());
        }
        Test::new()
            .aios(&["schema", name])
            .success()
            .stdout_is(&text(&schema));
    }
    assert!(
        stale.is_empty(),
        "stale: {}; regenerate with:\n  AIOS_WRITE_SCHEMA=1 cargo test --test cli schema::",
        stale.join(", ")
    );
}

/// TOML as the JSON an editor's schema check sees (datetimes are strings).
fn to_json(v: &toml::Value) -> Json {
    match v {
        toml::Value::String(s) => Json::String(s.clone()),
        toml::Value::Integer(i) => Json::from(*i),
        toml::Value::Float(f) => Json::from(*f),
        toml::Value::Boolean(b) => Json::Bool(*b),
        toml::Value::Datetime(d) => Json::String(d.to_string()),
        toml::Value::Array(a) => Json::Array(a.iter().map(to_json).collect()),
        toml::Value::Table(t) => {
            Json::Object(t.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
    }
}

fn errors(schema: &Json, toml_text: &str) -> Vec<String> {
    let doc: toml::Table = toml::from_str(toml_text).unwrap();
    let v = jsonschema::validator_for(schema).expect("the schema compiles");
    v.iter_errors(&to_json(&toml::Value::Table(doc)))
        .map(|e| format!("{} at `{}`", e, e.instance_path()))
        .collect()
}

fn toml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            toml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "toml") {
            out.push(p);
        }
    }
}

#[test]
fn every_shipped_workflow_validates() {
    let schema = aios::workflow::schema::workflow_schema();
    let mut files = Vec::new();
    toml_files(&repo("workflows"), &mut files);
    toml_files(&repo("examples"), &mut files);
    assert!(files.len() >= 7, "{files:?}");
    let mut bad = Vec::new();
    for f in &files {
        for e in errors(&schema, &std::fs::read_to_string(f).unwrap()) {
            bad.push(format!("{}: {e}", f.display()));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn the_whole_init_config_template_validates() {
    let template = std::fs::read_to_string(repo("src/commands/init/config.toml")).unwrap();
    // Every commented-out setting, switched on.
    let on: String = template
        .lines()
        .filter(|l| !l.starts_with("##"))
        .map(|l| format!("{}\n", l.strip_prefix("# ").unwrap_or(l)))
        .collect();
    let doc: toml::Table = toml::from_str(&on).unwrap();
    assert!(doc.len() >= 10, "{on}");
    let e = errors(&aios::config::schema::config_schema(), &on);
    assert!(e.is_empty(), "{}", e.join("\n"));
}

#[test]
fn typical_mistakes_fail_the_schemas() {
    let wf = aios::workflow::schema::workflow_schema();
    let ok = "name = \"x\"\n[[steps]]\nid = \"a\"\nkind = \"shell\"\nargv = [\"true\"]\n";
    assert!(errors(&wf, ok).is_empty(), "{:?}", errors(&wf, ok));
    for (mistake, doc) in [
        ("an unknown top-level key", format!("nmae = \"y\"\n{ok}")),
        (
            "max_parallel as text",
            format!("max_parallel = \"4\"\n{ok}"),
        ),
        (
            "a field of another kind",
            format!("{ok}url = \"https://x.test\"\n"),
        ),
        ("an unknown kind", ok.replace("\"shell\"", "\"shel\"")),
        ("a bad duration", format!("{ok}timeout = \"5 minutes\"\n")),
        ("a step without an id", ok.replace("id = \"a\"\n", "")),
        ("a bad choice", format!("{ok}approve = \"sometimes\"\n")),
    ] {
        assert!(!errors(&wf, &doc).is_empty(), "{mistake} passed:\n{doc}");
    }
    let cfg = aios::config::schema::config_schema();
    let ok = "[smtp]\nhost = \"mail.test\"\nport = 587\n[smtp.work]\nhost = \"w.test\"\n";
    assert!(errors(&cfg, ok).is_empty(), "{:?}", errors(&cfg, ok));
    for (mistake, doc) in [
        ("an unknown section", format!("{ok}[smpt]\nhost = \"x\"\n")),
        ("an unknown account key", format!("{ok}hots = \"x\"\n")),
        ("a port as text", ok.replace("587", "\"587\"")),
        (
            "an unknown provider kind",
            format!("{ok}[providers.x]\nkind = \"gpt\"\n"),
        ),
        (
            "a bad rate",
            format!("{ok}[rate]\n\"api.test\" = \"fast\"\n"),
        ),
    ] {
        assert!(!errors(&cfg, &doc).is_empty(), "{mistake} passed:\n{doc}");
    }
}

#[test]
fn the_taplo_config_maps_workflows_to_the_schema() {
    let taplo: toml::Table =
        toml::from_str(&std::fs::read_to_string(repo(".taplo.toml")).unwrap()).unwrap();
    let rules = taplo["rule"].as_array().unwrap();
    let mut mapped = Vec::new();
    for r in rules {
        let path = r["schema"]["path"].as_str().unwrap();
        assert!(
            repo(path.trim_start_matches("./")).is_file(),
            "{path} does not exist"
        );
        for inc in r["include"].as_array().unwrap() {
            mapped.push((inc.as_str().unwrap().to_string(), path.to_string()));
        }
    }
    assert!(
        mapped.contains(&(
            "workflows/**/*.toml".into(),
            "./completions/schema/workflow.schema.json".into()
        )),
        "{mapped:?}"
    );
}
