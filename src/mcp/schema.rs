//! A tool call's arguments against the tool's input schema (JSON Schema as servers
//! write it): `type`, `required`, `properties`, `additionalProperties`, `items`,
//! `enum`, `const`, lengths, bounds, `anyOf`/`oneOf`/`allOf`. Other keywords are
//! left to the server, which checks the call again.
//!
//! Used twice: by `aios check`, on the step's arguments as written (a string that is a
//! template is not known yet: one that is a single `{{ expression }}` may become any
//! value and is not checked; other templates become text), and when a call is
//! rendered, on the exact arguments.

use serde_json::{Map, Value as Json};

/// One way the arguments do not fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The top-level argument it is about (`None`: the arguments as a whole).
    pub arg: Option<String>,
    /// `args.a.b[0]: expected a number, got a string`.
    pub message: String,
}

/// Check `args` against `schema`. `templates`: string leaves may be templates.
pub fn check(schema: &Json, args: &Json, templates: bool) -> Vec<Problem> {
    let mut out = Vec::new();
    let cx = Cx { templates };
    cx.at(schema, args, "args", None, &mut out);
    out
}

/// The problems as one sentence each, joined (for a step's error).
pub fn describe(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| p.message.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

struct Cx {
    templates: bool,
}

/// What a value is known to be.
enum Known<'a> {
    Value(&'a Json),
    /// A template that renders to text.
    Text,
    /// A single expression: any value.
    Any,
}

fn type_of(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "a table",
    }
}

fn fits(v: &Json, t: &str) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "integer" => match v {
            Json::Number(n) => {
                n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            _ => false,
        },
        "number" => v.is_number(),
        "string" => v.is_string(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        _ => true,
    }
}

fn short(v: &Json) -> String {
    let s = v.to_string();
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(39).collect::<String>())
    } else {
        s
    }
}

impl Cx {
    fn known<'a>(&self, v: &'a Json) -> Known<'a> {
        match v {
            Json::String(s) if self.templates && crate::template::is_template(s) => {
                if crate::template::sole_expression(s).is_some() {
                    Known::Any
                } else {
                    Known::Text
                }
            }
            other => Known::Value(other),
        }
    }

    fn push(&self, out: &mut Vec<Problem>, arg: Option<&str>, path: &str, msg: String) {
        out.push(Problem {
            arg: arg.map(str::to_string),
            message: format!("{path}: {msg}"),
        });
    }

    fn at(&self, s: &Json, v: &Json, path: &str, arg: Option<&str>, out: &mut Vec<Problem>) {
        let Json::Object(s) = s else { return };
        let known = self.known(v);
        if let Known::Any = known {
            return;
        }
        // Types.
        let types: Vec<&str> = match s.get("type") {
            Some(Json::String(t)) => vec![t.as_str()],
            Some(Json::Array(ts)) => ts.iter().filter_map(Json::as_str).collect(),
            _ => Vec::new(),
        };
        let v = match known {
            Known::Text => {
                if !types.is_empty() && !types.contains(&"string") {
                    self.push(
                        out,
                        arg,
                        path,
                        format!("expected {}, got text (a template)", types_words(&types)),
                    );
                }
                return;
            }
            Known::Value(v) => v,
            Known::Any => return,
        };
        if !types.is_empty() && !types.iter().any(|t| fits(v, t)) {
            self.push(
                out,
                arg,
                path,
                format!(
                    "expected {}, got {} ({})",
                    types_words(&types),
                    type_of(v),
                    short(v)
                ),
            );
            return;
        }
        if let Some(Json::Array(allowed)) = s.get("enum")
            && !allowed.contains(v)
        {
            let list: Vec<String> = allowed.iter().map(short).collect();
            self.push(
                out,
                arg,
                path,
                format!("{} is not one of {}", short(v), list.join(", ")),
            );
        }
        if let Some(c) = s.get("const")
            && c != v
        {
            self.push(out, arg, path, format!("must be {}", short(c)));
        }
        if let Json::String(text) = v {
            let n = text.chars().count() as u64;
            if let Some(min) = s.get("minLength").and_then(Json::as_u64)
                && n < min
            {
                self.push(out, arg, path, format!("shorter than {min} characters"));
            }
            if let Some(max) = s.get("maxLength").and_then(Json::as_u64)
                && n > max
            {
                self.push(out, arg, path, format!("longer than {max} characters"));
            }
        }
        if let Some(x) = v.as_f64() {
            let bound = |k: &str| s.get(k).and_then(Json::as_f64);
            if let Some(m) = bound("minimum")
                && x < m
            {
                self.push(out, arg, path, format!("{x} is less than the minimum {m}"));
            }
            if let Some(m) = bound("maximum")
                && x > m
            {
                self.push(out, arg, path, format!("{x} is more than the maximum {m}"));
            }
            if let Some(m) = bound("exclusiveMinimum")
                && x <= m
            {
                self.push(out, arg, path, format!("{x} must be more than {m}"));
            }
            if let Some(m) = bound("exclusiveMaximum")
                && x >= m
            {
                self.push(out, arg, path, format!("{x} must be less than {m}"));
            }
        }
        if let Json::Object(map) = v {
            self.object(s, map, path, arg, out);
        }
        if let Json::Array(items) = v {
            if let Some(min) = s.get("minItems").and_then(Json::as_u64)
                && (items.len() as u64) < min
            {
                self.push(out, arg, path, format!("needs at least {min} item(s)"));
            }
            if let Some(max) = s.get("maxItems").and_then(Json::as_u64)
                && (items.len() as u64) > max
            {
                self.push(out, arg, path, format!("takes at most {max} item(s)"));
            }
            if let Some(item_schema @ Json::Object(_)) = s.get("items") {
                for (i, item) in items.iter().enumerate() {
                    self.at(item_schema, item, &format!("{path}[{i}]"), arg, out);
                }
            }
        }
        for (key, all) in [("anyOf", false), ("oneOf", false), ("allOf", true)] {
            let Some(Json::Array(options)) = s.get(key) else {
                continue;
            };
            if all {
                for o in options {
                    self.at(o, v, path, arg, out);
                }
            } else if !options.is_empty()
                && !options.iter().any(|o| {
                    let mut sub = Vec::new();
                    self.at(o, v, path, arg, &mut sub);
                    sub.is_empty()
                })
            {
                self.push(
                    out,
                    arg,
                    path,
                    format!("{} fits none of the forms the tool accepts", short(v)),
                );
            }
        }
    }

    fn object(
        &self,
        s: &Map<String, Json>,
        map: &Map<String, Json>,
        path: &str,
        arg: Option<&str>,
        out: &mut Vec<Problem>,
    ) {
        let top = arg.is_none();
        let props = s.get("properties").and_then(Json::as_object);
        let what = if top { "argument" } else { "key" };
        if let Some(Json::Array(req)) = s.get("required") {
            for r in req.iter().filter_map(Json::as_str) {
                if !map.contains_key(r) {
                    self.push(out, arg, path, format!("missing required {what} `{r}`"));
                }
            }
        }
        for (k, val) in map {
            let sub = format!("{path}.{k}");
            let sub_arg = if top { Some(k.as_str()) } else { arg };
            match props.and_then(|p| p.get(k)) {
                Some(ps) => self.at(ps, val, &sub, sub_arg, out),
                None => match s.get("additionalProperties") {
                    Some(Json::Bool(false)) => {
                        let takes: Vec<&str> = props
                            .map(|p| p.keys().map(String::as_str).collect())
                            .unwrap_or_default();
                        let list = if takes.is_empty() {
                            "none".to_string()
                        } else {
                            takes.join(", ")
                        };
                        let mut msg = format!("unknown {what} `{k}` (it takes: {list})");
                        if let Some(d) =
                            crate::workflow::suggest::did_you_mean(k, takes.iter().copied())
                        {
                            msg.push_str(&format!("; {d}"));
                        }
                        self.push(out, sub_arg, path, msg);
                    }
                    Some(extra @ Json::Object(_)) => self.at(extra, val, &sub, sub_arg, out),
                    _ => {}
                },
            }
        }
    }
}

/// `a (number, required), b (string)`: what a tool's schema takes, for hints.
pub fn takes(schema: &Json) -> String {
    let Some(props) = schema.get("properties").and_then(Json::as_object) else {
        return "any arguments".to_string();
    };
    if props.is_empty() {
        return "no arguments".to_string();
    }
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Json::as_array)
        .map(|a| a.iter().filter_map(Json::as_str).collect())
        .unwrap_or_default();
    props
        .iter()
        .map(|(k, v)| {
            let ty = match v.get("type") {
                Some(Json::String(t)) => t.clone(),
                Some(Json::Array(ts)) => ts
                    .iter()
                    .filter_map(Json::as_str)
                    .collect::<Vec<_>>()
                    .join("|"),
                _ => "any".to_string(),
            };
            if required.contains(&k.as_str()) {
                format!("{k} ({ty}, required)")
            } else {
                format!("{k} ({ty})")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn types_words(types: &[&str]) -> String {
    let words: Vec<&str> = types
        .iter()
        .map(|t| match *t {
            "null" => "null",
            "boolean" => "a boolean",
            "integer" => "an integer",
            "number" => "a number",
            "string" => "a string",
            "array" => "a list",
            "object" => "a table",
            other => other,
        })
        .collect();
    words.join(" or ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sum_schema() -> Json {
        json!({
            "type": "object",
            "properties": {
                "a": {"type": "number", "description": "First number"},
                "b": {"type": "number"}
            },
            "required": ["a", "b"],
            "additionalProperties": false,
            "$schema": "http://json-schema.org/draft-07/schema#"
        })
    }

    fn msgs(p: Vec<Problem>) -> Vec<String> {
        p.into_iter().map(|p| p.message).collect()
    }

    #[test]
    fn fitting_arguments_pass() {
        assert!(check(&sum_schema(), &json!({"a": 1, "b": 2.5}), false).is_empty());
    }

    #[test]
    fn each_misfit_is_named_with_its_path() {
        let p = check(&sum_schema(), &json!({"a": "one", "c": 3}), false);
        assert_eq!(
            msgs(p.clone()),
            vec![
                "args: missing required argument `b`",
                "args.a: expected a number, got a string (\"one\")",
                "args: unknown argument `c` (it takes: a, b)",
            ]
        );
        assert_eq!(p[0].arg, None);
        assert_eq!(p[1].arg.as_deref(), Some("a"));
        assert_eq!(p[2].arg.as_deref(), Some("c"));
    }

    #[test]
    fn templates_are_unknown_until_rendered() {
        // A single expression may become a number: not checked yet.
        assert!(check(&sum_schema(), &json!({"a": "{{ inputs.n }}", "b": 1}), true).is_empty());
        // Text around an expression is text: not a number.
        assert_eq!(
            msgs(check(
                &sum_schema(),
                &json!({"a": "n={{ inputs.n }}", "b": 1}),
                true
            )),
            vec!["args.a: expected a number, got text (a template)"]
        );
        // Without templates (rendered arguments) the braces are just text.
        assert_eq!(
            msgs(check(
                &sum_schema(),
                &json!({"a": "{{ x }}", "b": 1}),
                false
            )),
            vec!["args.a: expected a number, got a string (\"{{ x }}\")"]
        );
    }

    #[test]
    fn enums_nesting_bounds_and_alternatives() {
        let s = json!({
            "type": "object",
            "properties": {
                "location": {"type": "string", "enum": ["New York", "Chicago"]},
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
                "n": {"type": "integer", "minimum": 1},
                "when": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                "opts": {"type": "object", "properties": {"deep": {"type": "boolean"}}, "additionalProperties": false}
            }
        });
        let p = check(
            &s,
            &json!({
                "location": "Paris",
                "tags": ["a", 2, "c"],
                "n": 0.5,
                "when": true,
                "opts": {"deep": "yes", "wide": 1}
            }),
            false,
        );
        assert_eq!(
            msgs(p),
            vec![
                "args.location: \"Paris\" is not one of \"New York\", \"Chicago\"",
                "args.tags: takes at most 2 item(s)",
                "args.tags[1]: expected a string, got an integer (2)",
                "args.n: expected an integer, got a number (0.5)",
                "args.when: true fits none of the forms the tool accepts",
                "args.opts.deep: expected a boolean, got a string (\"yes\")",
                "args.opts: unknown key `wide` (it takes: deep)",
            ]
        );
    }

    #[test]
    fn a_schema_without_properties_takes_anything() {
        assert!(check(&json!({"type": "object"}), &json!({"x": 1}), false).is_empty());
        assert!(check(&json!({}), &json!({"x": 1}), false).is_empty());
    }
}
