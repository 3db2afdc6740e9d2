//! Input values: checked against the declarations, typed, defaulted. Text from the
//! command line (`--input NAME=VALUE`) is converted by the declared type; JSON from a
//! webhook's body must already have the declared JSON type.

use serde_json::Value as Json;

use super::diag::Diagnostic;
use super::model::{InputType, Workflow};
use super::parse::type_article;
use super::suggest::did_you_mean;

/// Check and type the `--input NAME=VALUE` pairs against the declarations; apply
/// defaults. Returns a JSON object of every declared input that has a value.
pub fn resolve_inputs(wf: &Workflow, given: &[(String, String)]) -> Result<Json, Vec<Diagnostic>> {
    resolve(
        wf,
        given.iter().map(|(k, t)| (k.as_str(), Given::Text(t))),
        "pass it with --input NAME=VALUE",
    )
}

/// Check JSON values (a webhook's body) against the declarations without converting
/// them: each value must have its input's JSON type (`"3"` is not an integer, an
/// object is not a string, `null` is not a value); apply defaults.
pub fn resolve_typed_inputs(
    wf: &Workflow,
    given: &serde_json::Map<String, Json>,
) -> Result<Json, Vec<Diagnostic>> {
    resolve(
        wf,
        given.iter().map(|(k, v)| (k.as_str(), Given::Json(v))),
        "send it as a field of the JSON body",
    )
}

/// A value as given: command-line text, or typed JSON.
enum Given<'a> {
    Text(&'a str),
    Json(&'a Json),
}

fn resolve<'a>(
    wf: &Workflow,
    given: impl Iterator<Item = (&'a str, Given<'a>)>,
    missing_hint: &str,
) -> Result<Json, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let mut values: Vec<Option<Json>> = vec![None; wf.inputs.len()];
    let mut seen = vec![false; wf.inputs.len()];
    let names = || wf.inputs.iter().map(|i| i.name.as_str());
    for (name, value) in given {
        let Some(i) = wf.inputs.iter().position(|d| d.name == name) else {
            let declared = if wf.inputs.is_empty() {
                "this workflow declares no inputs".to_string()
            } else {
                format!(
                    "declared inputs: {}",
                    names().collect::<Vec<_>>().join(", ")
                )
            };
            let hint = match did_you_mean(name, names()) {
                Some(d) => format!("{d} {declared}"),
                None => declared,
            };
            diags.push(Diagnostic::new(format!("unknown input `{name}`")).hint(hint));
            continue;
        };
        if std::mem::replace(&mut seen[i], true) {
            diags.push(
                Diagnostic::new(format!("input `{name}` is given twice"))
                    .hint("pass each input once"),
            );
            continue;
        }
        let ty = wf.inputs[i].ty;
        // A secret input's value is never repeated in a message.
        let secret = wf.inputs[i].secret;
        let checked = match value {
            Given::Text(text) => convert(ty, text).map_err(|hint| (format!("`{text}`"), hint)),
            Given::Json(v) => check_json(ty, v).map_err(|hint| {
                let got = if secret {
                    describe_json(v)
                        .split(" (")
                        .next()
                        .unwrap_or("")
                        .to_string()
                } else {
                    describe_json(v)
                };
                (got, hint)
            }),
        };
        match checked {
            Ok(v) => values[i] = Some(v),
            Err((got, hint)) => diags.push(
                Diagnostic::new(format!(
                    "input `{name}` must be {}, got {got}",
                    type_article(ty)
                ))
                .hint(hint),
            ),
        }
    }
    let mut out = serde_json::Map::new();
    for (decl, (value, seen)) in wf.inputs.iter().zip(values.into_iter().zip(seen)) {
        match value.or_else(|| decl.default.clone()) {
            Some(v) => {
                out.insert(decl.name.clone(), v);
            }
            None if decl.required && !seen => diags.push(
                Diagnostic::new(format!("missing required input `{}`", decl.name))
                    .hint(missing_hint.replace("NAME", &decl.name)),
            ),
            None => {}
        }
    }
    if diags.is_empty() {
        Ok(Json::Object(out))
    } else {
        Err(diags)
    }
}

/// Split resolved inputs into what the journal keeps (each secret input replaced by
/// its placeholder `secret("inputs.NAME")`) and the secret inputs' values (which go
/// to the secret store, under the run, until it ends).
pub fn split_secret_inputs(wf: &Workflow, mut inputs: Json) -> (Json, Vec<(String, String)>) {
    let mut values = Vec::new();
    if let Some(map) = inputs.as_object_mut() {
        for decl in wf.inputs.iter().filter(|d| d.secret) {
            if let Some(v) = map.get_mut(&decl.name) {
                let text = match v.take() {
                    Json::String(s) => s,
                    other => other.to_string(),
                };
                *v = Json::String(crate::secrets::placeholder_of(&format!(
                    "{}{}",
                    crate::secrets::placeholder::INPUT_PREFIX,
                    decl.name
                )));
                values.push((decl.name.clone(), text));
            }
        }
    }
    (inputs, values)
}

/// Check one JSON value against its declared type (no conversion); the error is the
/// hint to show.
pub fn check_json(ty: InputType, v: &Json) -> Result<Json, &'static str> {
    let fits = match ty {
        InputType::String => v.is_string(),
        InputType::Integer => v.is_i64() || v.is_u64() && v.as_i64().is_some(),
        InputType::Number => v.is_number(),
        InputType::Boolean => v.is_boolean(),
        InputType::List => v.is_array(),
        InputType::Object => v.is_object(),
    };
    if fits {
        return Ok(v.clone());
    }
    Err(match (ty, v) {
        (_, Json::Null) => "leave the field out to use the input's default",
        (InputType::String, _) => "send a JSON string, like \"text\" (or declare the input's type)",
        (InputType::Integer, _) => "send a whole JSON number without quotes, like 42",
        (InputType::Number, _) => "send a JSON number without quotes, like 3 or 2.5",
        (InputType::Boolean, _) => "send true or false without quotes",
        (InputType::List, _) => "send a JSON array, like [\"a\", \"b\"]",
        (InputType::Object, _) => "send a JSON object, like {\"key\": \"value\"}",
    })
}

/// A JSON value for an error message: its type and a short rendering.
fn describe_json(v: &Json) -> String {
    let kind = match v {
        Json::Null => return "null".to_string(),
        Json::Bool(_) => "a boolean",
        Json::Number(n) if n.is_f64() => "a fractional number",
        Json::Number(_) => "an integer",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    };
    let text = v.to_string();
    let short: String = text.chars().take(40).collect();
    let more = if short.len() < text.len() { "…" } else { "" };
    format!("{kind} ({short}{more})")
}

/// Convert one command-line value by its declared type; the error is the hint to
/// show. Also used for approval-gate fields.
pub fn convert(ty: InputType, text: &str) -> Result<Json, &'static str> {
    match ty {
        InputType::String => Ok(Json::String(text.to_string())),
        InputType::Integer => text
            .parse::<i64>()
            .map(Json::from)
            .map_err(|_| "use a whole number, like 42"),
        InputType::Number => {
            const HINT: &str = "use a number, like 3 or 2.5";
            if let Ok(n) = text.parse::<i64>() {
                return Ok(Json::from(n));
            }
            text.parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Json::Number)
                .ok_or(HINT)
        }
        InputType::Boolean => match text {
            "true" => Ok(Json::Bool(true)),
            "false" => Ok(Json::Bool(false)),
            _ => Err("use true or false"),
        },
        InputType::List => match serde_json::from_str::<Json>(text) {
            Ok(v @ Json::Array(_)) => Ok(v),
            _ => Err("pass a JSON array, like [\"a\", \"b\"]"),
        },
        InputType::Object => match serde_json::from_str::<Json>(text) {
            Ok(v @ Json::Object(_)) => Ok(v),
            _ => Err("pass a JSON object, like {\"key\": \"value\"}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::load;
    use serde_json::json;

    const SRC: &str = r#"
name = "w"
[inputs.name]
[inputs.count]
type = "integer"
default = 3
[inputs.ratio]
type = "number"
required = false
[inputs.flag]
type = "boolean"
required = false
[inputs.tags]
type = "list"
required = false
[inputs.meta]
type = "object"
required = false
[[steps]]
id = "a"
kind = "set"
values = { x = 1 }
"#;

    fn wf() -> Workflow {
        load(SRC, "w.toml").unwrap()
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn errs(p: &[(&str, &str)]) -> Vec<Diagnostic> {
        resolve_inputs(&wf(), &pairs(p)).unwrap_err()
    }

    #[test]
    fn converts_by_type_and_applies_defaults() {
        let v = resolve_inputs(
            &wf(),
            &pairs(&[
                ("name", "Ada=1"),
                ("ratio", "2.5"),
                ("flag", "true"),
                ("tags", "[\"a\"]"),
                ("meta", "{\"k\": 1}"),
            ]),
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"name": "Ada=1", "count": 3, "ratio": 2.5, "flag": true, "tags": ["a"], "meta": {"k": 1}})
        );
    }

    #[test]
    fn optional_inputs_without_value_are_left_out() {
        let v = resolve_inputs(&wf(), &pairs(&[("name", "x"), ("count", "10")])).unwrap();
        assert_eq!(v, json!({"name": "x", "count": 10}));
    }

    #[test]
    fn number_is_integer_when_it_fits() {
        let v = resolve_inputs(&wf(), &pairs(&[("name", "x"), ("ratio", "7")])).unwrap();
        assert_eq!(v["ratio"], json!(7));
        assert!(v["ratio"].is_i64());
    }

    #[test]
    fn unknown_input_suggests_and_lists() {
        let e = errs(&[("name", "x"), ("cuont", "1")]);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].message, "unknown input `cuont`");
        assert_eq!(
            e[0].hint.as_deref(),
            Some("did you mean `count`? declared inputs: name, count, ratio, flag, tags, meta")
        );
    }

    #[test]
    fn json_values_must_have_the_declared_type() {
        let given = |v: Json| -> serde_json::Map<String, Json> { v.as_object().unwrap().clone() };
        let ok = resolve_typed_inputs(
            &wf(),
            &given(json!({"name": "Ada", "ratio": 2, "flag": false, "tags": [], "meta": {}})),
        )
        .unwrap();
        assert_eq!(
            ok,
            json!({"name": "Ada", "count": 3, "ratio": 2, "flag": false, "tags": [], "meta": {}})
        );
        let refused = |v: Json| -> Vec<String> {
            resolve_typed_inputs(&wf(), &given(v))
                .unwrap_err()
                .into_iter()
                .map(|d| d.message)
                .collect()
        };
        assert_eq!(
            refused(json!({"name": {"first": "Ada"}})),
            ["input `name` must be a string, got an object ({\"first\":\"Ada\"})"]
        );
        assert_eq!(
            refused(json!({"name": "x", "count": "3"})),
            ["input `count` must be an integer, got a string (\"3\")"]
        );
        assert_eq!(
            refused(json!({"name": "x", "count": 2.5})),
            ["input `count` must be an integer, got a fractional number (2.5)"]
        );
        assert_eq!(
            refused(json!({"name": 7, "flag": "true", "ratio": "1", "tags": "a", "meta": [1]}))
                .len(),
            5
        );
        assert_eq!(
            refused(json!({"name": null})),
            ["input `name` must be a string, got null"]
        );
        // A number that does not fit an i64 is not an integer input.
        assert_eq!(refused(json!({"name": "x", "count": u64::MAX})).len(), 1);
        let long = "y".repeat(100);
        let msg = &refused(json!({"name": "x", "count": long}))[0];
        assert!(msg.ends_with("…)") && msg.len() < 110, "{msg}");
    }

    #[test]
    fn given_twice() {
        let e = errs(&[("name", "x"), ("name", "y")]);
        assert_eq!(e[0].message, "input `name` is given twice");
        assert_eq!(e[0].hint.as_deref(), Some("pass each input once"));
    }

    #[test]
    fn bad_values_say_what_was_expected() {
        let e = errs(&[
            ("name", "x"),
            ("count", "ten"),
            ("ratio", "NaN"),
            ("flag", "yes"),
            ("tags", "{}"),
            ("meta", "[1]"),
        ]);
        let msgs: Vec<&str> = e.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            msgs,
            [
                "input `count` must be an integer, got `ten`",
                "input `ratio` must be a number, got `NaN`",
                "input `flag` must be a boolean, got `yes`",
                "input `tags` must be a list, got `{}`",
                "input `meta` must be an object, got `[1]`",
            ]
        );
        assert_eq!(e[0].hint.as_deref(), Some("use a whole number, like 42"));
        assert_eq!(e[2].hint.as_deref(), Some("use true or false"));
    }

    #[test]
    fn infinity_is_not_a_number() {
        let e = errs(&[("name", "x"), ("ratio", "inf")]);
        assert_eq!(e[0].message, "input `ratio` must be a number, got `inf`");
    }

    #[test]
    fn missing_required_input() {
        let e = errs(&[]);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].message, "missing required input `name`");
        assert_eq!(
            e[0].hint.as_deref(),
            Some("pass it with --input name=VALUE")
        );
    }

    #[test]
    fn all_problems_together() {
        let e = errs(&[("bogus", "1"), ("count", "x")]);
        assert_eq!(e.len(), 3, "{e:?}");
    }
}
