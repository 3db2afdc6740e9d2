//! The JSON Schema of a workflow file, for editors (taplo: Even Better TOML, Helix,
//! Neovim) and CI. Workflows are read by a hand-written, spanned parser (see
//! `parse`), not by serde, so the schema is written by hand here as the
//! [`schemars::JsonSchema`] impl of [`WorkflowFile`] — built from the parser's own
//! key lists (top level, inputs, each step kind's fields), so a key the parser
//! gains or loses changes the schema, and a test checks every key has a type.
//!
//! The schema helps while typing (completion, unknown keys, wrong types, the
//! words a choice takes); `aios check` stays the authority: templates, step
//! references, cycles and cross-key rules are beyond a schema.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Value as Json, json};

use super::kinds::{COMMON_KEYS, Kind};
use crate::connectors::ConnectorKind;

/// The marker type whose schema is a workflow file.
pub struct WorkflowFile;

/// An identifier (step ids, input names): what templates can name.
const IDENT: &str = "^[A-Za-z_][A-Za-z0-9_]*$";

impl JsonSchema for WorkflowFile {
    fn schema_name() -> Cow<'static, str> {
        "aios workflow".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        Schema::try_from(document()).expect("the workflow schema is an object")
    }
}

/// The whole schema as JSON, with `$schema` and `title` (what is checked in as
/// `completions/schema/workflow.schema.json`).
pub fn workflow_schema() -> Json {
    let root = schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<WorkflowFile>();
    root.to_value()
}

fn document() -> Json {
    let mut props = serde_json::Map::new();
    for key in super::parse::TOP_KEYS {
        props.insert(key.to_string(), top(key));
    }
    json!({
        "description": "An aios workflow (README: \"The workflow format\"). Check it with `aios check FILE`.",
        "type": "object",
        "required": ["name", "steps"],
        "additionalProperties": false,
        "properties": props,
    })
}

/// The schema of a top-level key; every key of `TOP_KEYS` has one.
pub(crate) fn top(key: &str) -> Json {
    match key {
        "name" => desc(
            json!({"type": "string", "minLength": 1}),
            "The workflow's name: runs, schedules and statistics are listed under it.",
        ),
        "description" => desc(string(), "What the workflow does, for people."),
        "max_parallel" => desc(
            json!({"type": "integer", "minimum": 1, "default": 4}),
            "How many steps may run at once.",
        ),
        "inputs" => desc(
            json!({
                "type": "object",
                "propertyNames": {"pattern": IDENT},
                "additionalProperties": input(),
            }),
            "Inputs the run takes (`aios run FILE --input NAME=VALUE`); templates read `inputs.NAME`.",
        ),
        "defaults" => desc(
            strict(&[("timeout", duration()), ("retry", retry())]),
            "Defaults for every step that does not set them.",
        ),
        "steps" => desc(
            json!({"type": "array", "minItems": 1, "items": step()}),
            "The steps, each a [[steps]] table with an `id` and a `kind`.",
        ),
        "trigger" => desc(
            trigger(),
            "Start runs on a schedule (`cron`) or on new mail (`imap`).",
        ),
        "budget" => desc(
            strict(&[(
                "max_usd",
                desc(
                    json!({"type": "number", "minimum": 0}),
                    "The most one run may spend on LLM calls, in USD.",
                ),
            )]),
            "Spending caps of one run.",
        ),
        "persona" => desc(
            json!({"type": "string", "pattern": "^[A-Za-z0-9_-]+$"}),
            "The persona (a [personas.NAME] section of config.toml) whose scopes every step runs under.",
        ),
        "autonomy" => desc(
            json!({"type": "array", "items": {
                "type": "object",
                "propertyNames": {"enum": crate::trust::autonomy::KEYS},
            }}),
            "Autonomy policies: which proposals a policy may decide instead of the operator.",
        ),
        "on_failure" => desc(
            json!({"enum": super::undo::OnFailure::WORDS}),
            "When the run fails: `ask` (default) or `compensate` (run the `undo` of finished steps).",
        ),
        other => unreachable!("top-level key `{other}` has no schema"),
    }
}

/// `[inputs.NAME]` (and an approval step's fields, without `secret`).
fn input() -> Json {
    let mut props = serde_json::Map::new();
    for key in super::parse::INPUT_KEYS {
        props.insert(key.to_string(), input_key(key));
    }
    json!({"type": "object", "additionalProperties": false, "properties": props})
}

pub(crate) fn input_key(key: &str) -> Json {
    match key {
        "type" => desc(
            json!({"enum": super::parse::TYPES, "default": "string"}),
            "The value's type.",
        ),
        "default" => desc(
            json!({}),
            "The value when none is given (of the declared type).",
        ),
        "required" => desc(
            json!({"type": "boolean"}),
            "Whether a value must be given (default: true without a default).",
        ),
        "description" => desc(string(), "What the input is, for people."),
        "secret" => desc(
            json!({"type": "boolean"}),
            "Never journaled: put in at commit (a string, with no default).",
        ),
        other => unreachable!("input key `{other}` has no schema"),
    }
}

fn trigger() -> Json {
    let mut props = serde_json::Map::new();
    for key in super::trigger::TRIGGER_KEYS {
        props.insert(key.to_string(), trigger_key(key));
    }
    json!({"type": "object", "additionalProperties": false, "properties": props})
}

pub(crate) fn trigger_key(key: &str) -> Json {
    match key {
        "cron" => desc(
            string(),
            "A cron expression (5 fields, like \"0 9 * * MON\").",
        ),
        "imap" => {
            let mut props = serde_json::Map::new();
            for k in crate::mail::trigger::KEYS {
                props.insert(k.to_string(), imap_key(k));
            }
            desc(
                json!({"type": "object", "additionalProperties": false, "properties": props}),
                "Start one run per new message of an [imap] account's folder.",
            )
        }
        "timezone" => desc(
            string(),
            "The cron expression's time zone (IANA name; default: the system's).",
        ),
        "overlap" => desc(
            json!({"enum": super::trigger::Overlap::WORDS}),
            "What to do when a fire comes while an earlier run still runs.",
        ),
        "catch_up" => desc(
            json!({"enum": super::trigger::CatchUp::WORDS}),
            "Which fires missed while nothing ticked still run.",
        ),
        "catch_up_window" => desc(duration(), "How old a missed fire may be and still run."),
        "inputs" => desc(
            json!({"type": "object"}),
            "The inputs each triggered run gets.",
        ),
        other => unreachable!("trigger key `{other}` has no schema"),
    }
}

pub(crate) fn imap_key(key: &str) -> Json {
    match key {
        "account" => desc(string(), "The [imap] account (default: `default`)."),
        "folder" => desc(string(), "The folder to watch (default: INBOX)."),
        "search" => desc(string(), "An IMAP SEARCH criterion narrowing the messages."),
        "after" => desc(string(), "Only messages after this date."),
        "move_to" => desc(string(), "Move each message here once its run started."),
        "max_per_tick" => desc(
            json!({"type": "integer", "minimum": 1}),
            "At most this many runs started per tick.",
        ),
        other => unreachable!("imap trigger key `{other}` has no schema"),
    }
}

/// A `[[steps]]` table: the common keys, the kind's fields (every kind's, for
/// completion), and per kind the keys it accepts.
fn step() -> Json {
    let mut props = serde_json::Map::new();
    for key in COMMON_KEYS {
        props.insert(key.to_string(), common(key));
    }
    let mut per_kind = Vec::new();
    for kind in Kind::all() {
        let mut own = serde_json::Map::new();
        for f in kind.fields() {
            let s = field(kind, f);
            own.insert(f.to_string(), s.clone());
            props.entry(f.to_string()).or_insert_with(
                || json!({"description": s.get("description").cloned().unwrap_or(Json::Null)}),
            );
        }
        let mut names: Vec<&str> = COMMON_KEYS.to_vec();
        names.extend_from_slice(kind.fields());
        per_kind.push(json!({
            "if": {"properties": {"kind": {"const": kind.name()}}, "required": ["kind"]},
            "then": {"properties": own, "propertyNames": {"enum": names}},
        }));
    }
    json!({
        "type": "object",
        "required": ["id", "kind"],
        "properties": props,
        "allOf": per_kind,
    })
}

/// The schema of a key every step may have; every key of `COMMON_KEYS` has one.
pub(crate) fn common(key: &str) -> Json {
    match key {
        "id" => desc(
            json!({"type": "string", "pattern": IDENT}),
            "The step's id: later steps read `steps.ID.output`.",
        ),
        "kind" => desc(
            json!({"enum": Kind::all().map(|k| k.name()).collect::<Vec<_>>()}),
            "What the step does.",
        ),
        "description" => desc(string(), "What the step does, for people."),
        "needs" => desc(
            json!({"type": "array", "items": {"type": "string", "pattern": IDENT}}),
            "The steps this one waits for (default: the step before it).",
        ),
        "when" => desc(
            string(),
            "A condition (template expression); the step is skipped when false.",
        ),
        "timeout" => desc(
            duration(),
            "How long the step may run (on an approval: how long it waits for a decision).",
        ),
        "retry" => retry(),
        "approve" => desc(
            json!({"enum": ["always", "never"]}),
            "Whether its action is proposed for approval (`always`, the default) or committed without asking.",
        ),
        "on_reject" => desc(
            json!({"enum": ["fail", "skip"]}),
            "When the proposal is rejected: fail the run (default) or skip the step.",
        ),
        "idempotent" => desc(
            json!({"type": "boolean"}),
            "Whether an interrupted step may simply run again on resume.",
        ),
        "approval_timeout" => desc(duration(), "How long its proposal waits for a decision."),
        "on_timeout" => desc(
            json!({"enum": super::model::OnTimeout::WORDS}),
            "What happens when the decision deadline passes.",
        ),
        "persona" => desc(
            json!({"type": "string", "pattern": "^[A-Za-z0-9_-]+$"}),
            "The persona this step runs under (else the workflow's).",
        ),
        "runs_on" => desc(
            json!({"oneOf": [
                {"type": "string", "pattern": "^[a-z0-9_-]+$"},
                {"type": "array", "items": {"type": "string", "pattern": "^[a-z0-9_-]+$"}},
            ]}),
            "The tags of the workers that may run this step (`aios worker --tags`); any other driver hands the run to them.",
        ),
        "undo" => desc(
            undo(),
            "How to undo the step's action (`aios undo`, on_failure = \"compensate\").",
        ),
        "dry_output" => desc(
            json!({}),
            "The output a dry run (`aios run --dry-run`) pretends the step had.",
        ),
        other => unreachable!("common step key `{other}` has no schema"),
    }
}

fn undo() -> Json {
    let mut props = serde_json::Map::new();
    let connectors: Vec<&str> = ConnectorKind::ALL.iter().map(|c| c.name()).collect();
    props.insert(
        "kind".into(),
        desc(json!({"enum": connectors}), "The connector that undoes it."),
    );
    for c in ConnectorKind::ALL {
        for f in c.fields() {
            props
                .entry(f.to_string())
                .or_insert_with(|| field(Kind::Connector(*c), f));
        }
    }
    json!({"type": "object", "required": ["kind"], "properties": props})
}

/// The schema of a kind's own field; every field of every kind has one.
pub(crate) fn field(kind: Kind, key: &str) -> Json {
    let s = string();
    let strings = json!({"type": "array", "items": {"type": "string"}});
    let one_or_more = json!({"anyOf": [{"type": "string"}, strings]});
    let table = json!({"type": "object"});
    let string_map = json!({"type": "object", "additionalProperties": {"type": "string"}});
    let (schema, text): (Json, &str) = match (kind.name(), key) {
        ("shell", "argv") => (
            json!({"type": "array", "minItems": 1, "items": {"type": "string"}}),
            "The program and its arguments (no shell).",
        ),
        ("shell", "script") => (s, "A script run by `sh -c` (instead of argv)."),
        ("shell", "cwd") => (s, "The working directory."),
        ("shell", "env") => (
            string_map,
            "Environment variables of the command (it sees no other).",
        ),
        ("shell", "output") => (
            json!({"enum": ["text", "json"]}),
            "How stdout becomes the step's output.",
        ),
        ("shell", "sandbox") => {
            let mut p = serde_json::Map::new();
            for k in crate::connectors::confine::spec::SANDBOX_KEYS {
                p.insert(
                    k.to_string(),
                    match *k {
                        "mode" => json!({"enum": crate::connectors::confine::SandboxMode::WORDS}),
                        "network" => json!({"type": "boolean"}),
                        _ => strings.clone(),
                    },
                );
            }
            (
                json!({"anyOf": [
                    {"enum": crate::connectors::confine::SandboxMode::WORDS},
                    {"type": "object", "additionalProperties": false, "properties": p},
                ]}),
                "The sandbox: a mode, or a table of paths it may read and write.",
            )
        }
        ("shell", "limits") => {
            let mut p = serde_json::Map::new();
            for k in crate::connectors::confine::spec::LIMIT_KEYS {
                p.insert(k.to_string(), json!({"type": ["string", "integer"]}));
            }
            (
                json!({"type": "object", "additionalProperties": false, "properties": p}),
                "Resource limits of the command.",
            )
        }
        ("http", "method") => (s, "The HTTP method (default GET)."),
        ("http", "url") => (s, "The URL."),
        ("http", "headers") => (string_map, "Request headers."),
        ("http", "query") => (table, "Query parameters."),
        ("http", "json") => (json!({}), "A JSON body."),
        ("http", "body") => (s, "A text body."),
        ("http", "expect_status") => (
            json!({"anyOf": [{"type": "integer"}, {"type": "array", "items": {"type": "integer"}}]}),
            "The status codes that count as success (default: 2xx).",
        ),
        ("file", "root") => (s, "The folder the file lives beneath."),
        ("file", "path") => (s, "The file's path, beneath root."),
        ("file", "content") => (s, "What to write."),
        ("file", "mode") => (
            json!({"enum": ["write", "append"]}),
            "Write (default) or append.",
        ),
        ("email", "account") => (s, "The [smtp] account (default: `default`)."),
        ("email", "from") => (s, "The sender (default: the account's)."),
        ("email", "to" | "cc" | "bcc") => (one_or_more, "Recipients: one address or a list."),
        ("email", "reply_to") => (one_or_more, "Reply-To addresses."),
        ("email", "subject") => (s, "The subject."),
        ("email", "text") => (s, "A plain-text body."),
        ("email", "html") => (s, "An HTML body."),
        ("email", "markdown") => (s, "A Markdown body (sent as text and HTML)."),
        ("email", "attachments") => (
            json!({"type": "array", "items": {"type": "object", "additionalProperties": false,
                "properties": {"path": {"type": "string"}, "name": {"type": "string"}, "content_type": {"type": "string"}}}}),
            "Files to attach, beneath root.",
        ),
        ("email", "root") => (s, "The folder attachments are read beneath."),
        ("email", "headers") => (string_map, "Extra headers."),
        ("tool", "server") => (s, "The [mcp.NAME] tool server."),
        ("tool", "tool") => (s, "The tool to call."),
        ("tool", "args") => (table, "The tool's arguments."),
        ("agent", "model") => (
            one_or_more,
            "The [models] alias (default: `default`), or a list tried in order (`heuristic`: the offline draft).",
        ),
        ("agent", "system") => (s, "The system prompt."),
        ("agent", "prompt") => (s, "The prompt (a template)."),
        ("agent", "output") => (
            json!({"enum": ["text", "json"]}),
            "Text, or JSON checked against `schema`.",
        ),
        ("agent", "schema") => (table, "The JSON Schema a JSON reply must match."),
        ("agent", "offline") => (
            json!({}),
            "The reply when no provider is configured (a heuristic draft).",
        ),
        ("agent", "max_tokens") => (
            json!({"type": "integer", "minimum": 1}),
            "The most tokens the reply may have.",
        ),
        ("agent", "context") => {
            let p: serde_json::Map<String, Json> = super::context::KEYS
                .iter()
                .map(|k| {
                    let v = match *k {
                        "facts" => strings.clone(),
                        "k" | "decisions" => json!({"type": "integer", "minimum": 0}),
                        _ => json!({}),
                    };
                    (k.to_string(), v)
                })
                .collect();
            (
                json!({"type": "object", "additionalProperties": false, "properties": p}),
                "What memory the prompt gets: notes, facts, past decisions.",
            )
        }
        ("agent", "temperature") => (json!({"type": "number"}), "Sampling temperature."),
        ("agent", "top_p") => (json!({"type": "number"}), "Nucleus sampling."),
        ("agent", "seed") => (json!({"type": "integer"}), "A sampling seed."),
        ("agent", "stop") => (one_or_more, "Stop sequences."),
        ("agent", "tools") => (
            strings,
            "Tools the agent may call (`server.tool`, `server.*`).",
        ),
        ("agent", "max_turns") => (
            json!({"type": "integer", "minimum": 1}),
            "The most tool-calling turns.",
        ),
        ("approval", "title") => (s, "The question."),
        ("approval", "body") => (s, "More detail for the approver."),
        ("approval", "fields") => {
            let mut decl = input();
            decl["properties"]
                .as_object_mut()
                .expect("an object")
                .remove("secret");
            (
                json!({"type": "object", "propertyNames": {"pattern": IDENT}, "additionalProperties": decl}),
                "Typed answers the approver gives; later steps read them.",
            )
        }
        ("fact", "entity") => (s, "The entity, like customer:acme."),
        ("fact", "key") => (s, "The key, like plan."),
        ("fact", "value") => (json!({}), "The value (a template or any TOML value)."),
        ("wait", "duration") => (duration(), "How long to wait."),
        ("wait", "until") => (s, "An instant (RFC 3339, a template) to wait until."),
        ("remember", "text") => (s, "The note."),
        ("remember", "tags") => (strings, "Its tags."),
        ("set" | "outcome", "values") => (table, "Named values (templates)."),
        ("memory", "find") => (
            json!({"enum": super::kinds::MemoryFind::NAMES}),
            "What to read: notes (default), outcomes of past runs, or decisions.",
        ),
        ("memory", "tag") => (s, "Notes with this tag only (a template)."),
        ("memory", "search") => (s, "Full-text search words (a template)."),
        ("memory", "workflow") => (s, "Outcomes or decisions of this workflow (a template)."),
        ("memory", "limit") => (
            json!({"type": "integer", "minimum": 1, "maximum": 100}),
            "The most items, newest first (default 10).",
        ),
        (k, f) => unreachable!("field `{f}` of kind `{k}` has no schema"),
    };
    desc(schema, text)
}

fn retry() -> Json {
    desc(
        json!({
            "type": "object",
            "required": ["attempts"],
            "additionalProperties": false,
            "properties": {
                "attempts": {"type": "integer", "minimum": 1, "description": "How many attempts in all."},
                "backoff": duration(),
                "max_backoff": duration(),
            },
        }),
        "Retry a failed step.",
    )
}

/// A duration: `30s`, `5m`, `1h30m`, `250ms`, `2d`; an integer is seconds.
pub(crate) fn duration() -> Json {
    json!({
        "description": "A duration like 30s, 5m, 1h30m, 250ms or 2d (an integer is seconds).",
        "anyOf": [
            {"type": "string", "pattern": "^([0-9]+(ms|s|m|h|d))+$"},
            {"type": "integer", "minimum": 0},
        ],
    })
}

fn string() -> Json {
    json!({"type": "string"})
}

/// A table with exactly these keys.
fn strict(keys: &[(&str, Json)]) -> Json {
    let mut props = serde_json::Map::new();
    for (k, v) in keys {
        props.insert(k.to_string(), v.clone());
    }
    json!({"type": "object", "additionalProperties": false, "properties": props})
}

/// `schema` with a description (kept when it has one).
pub(crate) fn desc(mut schema: Json, text: &str) -> Json {
    if let Some(o) = schema.as_object_mut() {
        o.entry("description").or_insert_with(|| json!(text));
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema is built from the parser's key lists, and every key of every list
    /// has a typed, described entry (a key without one panics here).
    #[test]
    fn every_key_the_parser_reads_has_a_described_schema() {
        let s = workflow_schema();
        let top: Vec<&str> = s["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(top, super::super::parse::TOP_KEYS);
        for key in COMMON_KEYS {
            assert!(common(key).get("description").is_some(), "{key}");
        }
        for kind in Kind::all() {
            for f in kind.fields() {
                assert!(
                    field(kind, f).get("description").is_some(),
                    "{} {f}",
                    kind.name()
                );
            }
        }
        let step = &s["properties"]["steps"]["items"];
        let kinds = step["properties"]["kind"]["enum"].as_array().unwrap();
        assert_eq!(kinds.len(), Kind::all().count());
        assert_eq!(step["allOf"].as_array().unwrap().len(), kinds.len());
        // Draft 7: what taplo and most editors validate.
        assert_eq!(s["$schema"], "http://json-schema.org/draft-07/schema#");
    }
}
