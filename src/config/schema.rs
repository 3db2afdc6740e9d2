//! The JSON Schema of `config.toml`, for editors and CI. Each area reads its own
//! section by hand (see [`super::ConfigFile::section`]), so the schema is written
//! by hand as the [`schemars::JsonSchema`] impl of [`ConfigToml`], from the
//! readers' own key lists where they have one; `aios doctor` stays the authority.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value as Json, json};

use crate::workflow::schema::{desc, duration};

/// The marker type whose schema is a `config.toml`.
pub struct ConfigToml;

impl JsonSchema for ConfigToml {
    fn schema_name() -> Cow<'static, str> {
        "aios config.toml".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        Schema::try_from(document()).expect("the config schema is an object")
    }
}

/// The whole schema as JSON (what is checked in as
/// `completions/schema/config.schema.json`).
pub fn config_schema() -> Json {
    schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<ConfigToml>()
        .to_value()
}

/// The top-level sections, in the order the README documents them.
pub(crate) const SECTIONS: &[&str] = &[
    "providers",
    "models",
    "budget",
    "secrets",
    "embeddings",
    "smtp",
    "imap",
    "notify",
    "mcp",
    "rate",
    "personas",
    "autonomy",
    "breakers",
    "backup",
];

fn document() -> Json {
    let props: Map<String, Json> = SECTIONS
        .iter()
        .map(|s| (s.to_string(), section(s)))
        .collect();
    json!({
        "description": "aios configuration (README.md documents every section). Check it with `aios doctor`.",
        "type": "object",
        "additionalProperties": false,
        "properties": props,
    })
}

/// The schema of a section; every name of [`SECTIONS`] has one.
pub(crate) fn section(name: &str) -> Json {
    match name {
        "providers" => desc(
            named(table(crate::agent::config::PROVIDER_KEYS, provider_key)),
            "LLM providers by name: [providers.NAME].",
        ),
        "models" => {
            let mut keys = crate::agent::config::MODEL_KEYS.to_vec();
            keys.extend_from_slice(crate::agent::sampling::KEYS);
            desc(
                named(table(&keys, model_key)),
                "Model aliases agent steps name: [models.ALIAS].",
            )
        }
        "budget" => desc(
            table(&["daily_usd", "monthly_usd"], |_| usd()),
            "Spending caps on LLM calls, in USD.",
        ),
        "secrets" => desc(
            table(&["file"], |_| {
                string("The secrets file (default: secrets.env in the data folder).")
            }),
            "Where `aios secret set` keeps secrets.",
        ),
        "embeddings" => desc(
            table(crate::memory::embed::KEYS, embeddings_key),
            "Vectors for memory search: an OpenAI-compatible /v1/embeddings endpoint.",
        ),
        "smtp" => desc(
            accounts(crate::smtp::config::KEYS, |k| account_key(k, true)),
            "Sending mail: the default account's keys, and [smtp.NAME] for more accounts.",
        ),
        "imap" => desc(
            accounts(crate::mail::config::KEYS, |k| account_key(k, false)),
            "Reading mail: the default account's keys, and [imap.NAME] for more accounts.",
        ),
        "notify" => {
            let mut t = table(crate::notify::config::TOP_KEYS, notify_key);
            t["additionalProperties"] = channel();
            desc(t, "Notifications: when, and [notify.NAME] channels.")
        }
        "mcp" => desc(
            named(table(crate::mcp::config::KEYS, mcp_key)),
            "Tool servers by name: [mcp.NAME] with `command` (stdio) or `url` (HTTP).",
        ),
        "rate" => desc(
            json!({"type": "object", "additionalProperties": rate()}),
            "Rate limits by target, like \"api.example.com\" = \"10/m\".",
        ),
        "personas" => desc(
            named(table(crate::trust::persona::KEYS, persona_key)),
            "Personas by name: the scopes a workflow or step runs under.",
        ),
        "autonomy" => desc(
            json!({"type": "array", "items": {
                "type": "object",
                "propertyNames": {"enum": crate::trust::autonomy::KEYS},
            }}),
            "Autonomy policies ([[autonomy]]): which proposals a policy may decide.",
        ),
        "breakers" => {
            let mut t = table(crate::health::breaker::GLOBAL_KEYS, breaker_key);
            t["additionalProperties"] = table(crate::health::breaker::TARGET_KEYS, breaker_key);
            desc(
                t,
                "Circuit breakers: the defaults, and [breakers.\"KIND:NAME\"] per target.",
            )
        }
        "backup" => desc(
            table(&["dir", "keep"], |k| match k {
                "dir" => string("Where backups go (default: backups/ in the data folder)."),
                _ => {
                    json!({"type": "integer", "minimum": 1, "description": "How many to keep (default 7)."})
                }
            }),
            "`aios backup`.",
        ),
        other => unreachable!("section `{other}` has no schema"),
    }
}

fn provider_key(k: &str) -> Json {
    match k {
        "kind" => {
            json!({"enum": ["openai", "anthropic", "ollama"], "description": "The API it speaks."})
        }
        "base_url" => string("The API's base URL."),
        "api_key_env" => string("The variable (or `aios secret`) holding the API key."),
        "timeout" | "connect_timeout" | "retry_backoff" => duration(),
        "max_retries" => json!({"type": "integer", "minimum": 0}),
        "rate" => rate(),
        "stream" => json!({"type": "boolean", "description": "Stream replies."}),
        other => unreachable!("provider key `{other}` has no schema"),
    }
}

fn model_key(k: &str) -> Json {
    match k {
        "provider" => string("The [providers.NAME] it is served by."),
        "name" => string("The provider's model name."),
        "usd_per_mtok_in" | "usd_per_mtok_out" => usd(),
        "temperature" | "top_p" => json!({"type": "number"}),
        "seed" => json!({"type": "integer"}),
        "stop" => strings_or_one(),
        other => unreachable!("model key `{other}` has no schema"),
    }
}

fn embeddings_key(k: &str) -> Json {
    match k {
        "url" => string("The endpoint's base URL."),
        "model" => string("The embedding model."),
        "api_key_env" => string("The variable (or `aios secret`) holding the API key."),
        "timeout" => duration(),
        "batch" => json!({"type": "integer", "minimum": 1}),
        other => unreachable!("embeddings key `{other}` has no schema"),
    }
}

fn account_key(k: &str, smtp: bool) -> Json {
    match k {
        "host" => string("The server's host name."),
        "port" => json!({"type": "integer", "minimum": 1, "maximum": 65535}),
        "tls" if smtp => json!({"enum": ["starttls", "implicit", "none"]}),
        "tls" => json!({"enum": crate::mail::config::Tls::WORDS}),
        "user" => string("The login."),
        "password" => {
            string("The password: write secret(\"NAME\") and keep it with `aios secret set NAME`.")
        }
        "from" => string("The default sender."),
        "ca_file" => string("A CA certificate (PEM) to trust."),
        "tls_insecure_loopback" => json!({"type": "boolean"}),
        "timeout" => duration(),
        other => unreachable!("account key `{other}` has no schema"),
    }
}

fn notify_key(k: &str) -> Json {
    match k {
        "after" => duration(),
        "digest" => string("The daily digest's time, like \"08:00\"."),
        "zone" => string("The digest's time zone (IANA name)."),
        other => unreachable!("notify key `{other}` has no schema"),
    }
}

fn channel() -> Json {
    json!({
        "type": "object",
        "required": ["kind"],
        "additionalProperties": false,
        "properties": {
            "kind": {"enum": ["ntfy", "email", "desktop", "command"]},
            "events": {"type": "array", "items": {"enum": crate::notify::config::EVENTS}},
            "url": {"type": "string"},
            "topic": {"type": "string"},
            "token": {"type": "string"},
            "account": {"type": "string"},
            "to": strings_or_one(),
            "command": {"type": "array", "items": {"type": "string"}},
        },
    })
}

fn mcp_key(k: &str) -> Json {
    match k {
        "command" => json!({"type": "array", "minItems": 1, "items": {"type": "string"}}),
        "env" | "headers" => json!({"type": "object", "additionalProperties": {"type": "string"}}),
        "cwd" | "url" => json!({"type": "string"}),
        "startup_timeout" => duration(),
        "rate" => rate(),
        other => unreachable!("mcp key `{other}` has no schema"),
    }
}

fn persona_key(k: &str) -> Json {
    match k {
        "max_usd_day" | "max_usd_month" => usd(),
        "sandbox" => json!({"description": "The sandbox its shell steps get at least."}),
        "runs_on" => json!({
            "description": "The worker tags its steps need (`aios worker --tags`), added to each step's own `runs_on`.",
            "oneOf": [
                {"type": "string", "pattern": "^[a-z0-9_-]+$"},
                {"type": "array", "items": {"type": "string", "pattern": "^[a-z0-9_-]+$"}},
            ],
        }),
        _ => json!({"type": "array", "items": {"type": "string"}}),
    }
}

fn breaker_key(k: &str) -> Json {
    match k {
        "enabled" => json!({"type": "boolean"}),
        "failures" => json!({"type": "integer", "minimum": 1}),
        "cooldown" | "max_cooldown" | "notify_after" => duration(),
        other => unreachable!("breaker key `{other}` has no schema"),
    }
}

/// A table with exactly `keys`, each typed by `f`.
fn table(keys: &[&str], f: impl Fn(&str) -> Json) -> Json {
    let props: Map<String, Json> = keys.iter().map(|k| (k.to_string(), f(k))).collect();
    json!({"type": "object", "additionalProperties": false, "properties": props})
}

/// Tables by name: `[SECTION.NAME]`, each of schema `each`.
fn named(each: Json) -> Json {
    json!({"type": "object", "additionalProperties": each})
}

/// The default account's keys at the top of the section, other accounts as tables.
fn accounts(keys: &[&str], f: impl Fn(&str) -> Json) -> Json {
    let mut t = table(keys, &f);
    t["additionalProperties"] = table(keys, &f);
    t
}

fn rate() -> Json {
    json!({"type": "string", "pattern": "^ *[0-9]+ */ *([0-9]*(ms|s|m|h|d))+ *$", "description": "A rate like 60/m (per s, m, h or d)."})
}

fn usd() -> Json {
    json!({"type": "number", "minimum": 0})
}

fn string(text: &str) -> Json {
    json!({"type": "string", "description": text})
}

fn strings_or_one() -> Json {
    json!({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]})
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every section has a schema, and each reader's key list is the section's keys.
    #[test]
    fn sections_carry_their_readers_key_lists() {
        let s = config_schema();
        let props = s["properties"].as_object().unwrap();
        assert_eq!(
            props.keys().map(String::as_str).collect::<Vec<_>>(),
            SECTIONS
        );
        let keys = |v: &Json| -> Vec<String> {
            v["properties"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect()
        };
        assert_eq!(keys(&props["smtp"]), crate::smtp::config::KEYS);
        assert_eq!(keys(&props["imap"]), crate::mail::config::KEYS);
        assert_eq!(
            keys(&props["providers"]["additionalProperties"]),
            crate::agent::config::PROVIDER_KEYS
        );
        assert_eq!(
            keys(&props["mcp"]["additionalProperties"]),
            crate::mcp::config::KEYS
        );
        assert_eq!(keys(&props["embeddings"]), crate::memory::embed::KEYS);
        assert_eq!(
            keys(&props["personas"]["additionalProperties"]),
            crate::trust::persona::KEYS
        );
    }
}
