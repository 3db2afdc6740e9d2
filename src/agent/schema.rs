//! The JSON Schema subset agent steps use: `type`, `required`, `properties`, `items`,
//! `enum` (plus `default`, `examples`, `description`, `title`, which only document or
//! feed the offline heuristic). Checked when a workflow loads; applied to replies.

use serde_json::{Map, Value as Json};

/// Shown with every schema problem.
pub const SCHEMA_HINT: &str = "schemas use type, required, properties, items and enum (plus default, examples, description, title)";

const KEYS: &[&str] = &[
    "type",
    "required",
    "properties",
    "items",
    "enum",
    "default",
    "examples",
    "description",
    "title",
];
const TYPES: &[&str] = &[
    "object", "array", "string", "number", "integer", "boolean", "null",
];

/// Check that `schema` only uses the supported subset, and uses it well.
pub fn check_schema(schema: &Json) -> Result<(), String> {
    check_at(schema, "$")
}

fn check_at(s: &Json, path: &str) -> Result<(), String> {
    let Json::Object(m) = s else {
        return Err(format!("{path} must be a table (a schema)"));
    };
    for k in m.keys() {
        if !KEYS.contains(&k.as_str()) {
            return Err(format!("{path}: `{k}` is not supported"));
        }
    }
    match m.get("type") {
        None => {}
        Some(Json::String(t)) if TYPES.contains(&t.as_str()) => {}
        Some(Json::Array(ts))
            if !ts.is_empty()
                && ts
                    .iter()
                    .all(|t| t.as_str().is_some_and(|t| TYPES.contains(&t))) => {}
        Some(other) => {
            return Err(format!(
                "{path}: `type` {other} is not one of {}",
                TYPES.join(", ")
            ));
        }
    }
    if let Some(r) = m.get("required") {
        let ok = r
            .as_array()
            .is_some_and(|a| a.iter().all(|x| x.is_string()));
        if !ok {
            return Err(format!(
                "{path}: `required` must be a list of property names"
            ));
        }
    }
    if let Some(p) = m.get("properties") {
        let Json::Object(props) = p else {
            return Err(format!("{path}: `properties` must be a table of schemas"));
        };
        for (k, v) in props {
            check_at(v, &format!("{path}.{k}"))?;
        }
    }
    if let Some(i) = m.get("items") {
        check_at(i, &format!("{path}[]"))?;
    }
    if let Some(e) = m.get("enum")
        && e.as_array().is_none_or(|a| a.is_empty())
    {
        return Err(format!("{path}: `enum` must be a non-empty list"));
    }
    if let Some(e) = m.get("examples")
        && !e.is_array()
    {
        return Err(format!("{path}: `examples` must be a list"));
    }
    Ok(())
}

fn type_of(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

fn matches_type(v: &Json, t: &str) -> bool {
    let actual = type_of(v);
    actual == t || (t == "number" && actual == "integer")
}

/// Validate `value` against `schema`; every problem, with its JSON path.
pub fn validate(schema: &Json, value: &Json) -> Result<(), Vec<String>> {
    let mut errs = Vec::new();
    validate_at(schema, value, "$", &mut errs);
    if errs.is_empty() { Ok(()) } else { Err(errs) }
}

fn validate_at(s: &Json, v: &Json, path: &str, errs: &mut Vec<String>) {
    let Json::Object(m) = s else { return };
    match m.get("type") {
        Some(Json::String(t)) if !matches_type(v, t) => {
            errs.push(format!("{path}: expected {t}, found {}", type_of(v)));
            return;
        }
        Some(Json::Array(ts))
            if !ts
                .iter()
                .any(|t| t.as_str().is_some_and(|t| matches_type(v, t))) =>
        {
            let names: Vec<&str> = ts.iter().filter_map(|t| t.as_str()).collect();
            errs.push(format!(
                "{path}: expected {}, found {}",
                names.join(" or "),
                type_of(v)
            ));
            return;
        }
        _ => {}
    }
    if let Some(Json::Array(options)) = m.get("enum")
        && !options.contains(v)
    {
        let list: Vec<String> = options.iter().map(|o| o.to_string()).collect();
        errs.push(format!("{path}: {v} is not one of {}", list.join(", ")));
    }
    if let Json::Object(obj) = v {
        if let Some(Json::Array(req)) = m.get("required") {
            for r in req.iter().filter_map(|r| r.as_str()) {
                if !obj.contains_key(r) {
                    errs.push(format!("{path}: missing required property `{r}`"));
                }
            }
        }
        if let Some(Json::Object(props)) = m.get("properties") {
            for (k, ps) in props {
                if let Some(x) = obj.get(k) {
                    validate_at(ps, x, &format!("{path}.{k}"), errs);
                }
            }
        }
    }
    if let (Json::Array(items), Some(is)) = (v, m.get("items")) {
        for (i, x) in items.iter().enumerate() {
            validate_at(is, x, &format!("{path}[{i}]"), errs);
        }
    }
}

/// A value that fits `schema`, built from its `default`s and first `examples`
/// (string leaves may be templates; the caller renders them). Used by the offline
/// heuristic provider.
pub fn example(schema: &Json, name: &str) -> Json {
    let Json::Object(m) = schema else {
        return Json::Null;
    };
    if let Some(d) = m.get("default") {
        return d.clone();
    }
    if let Some(e) = m
        .get("examples")
        .and_then(|e| e.as_array())
        .and_then(|a| a.first())
    {
        return e.clone();
    }
    if let Some(first) = m
        .get("enum")
        .and_then(|e| e.as_array())
        .and_then(|a| a.first())
    {
        return first.clone();
    }
    let ty = match m.get("type") {
        Some(Json::String(t)) => t.as_str(),
        Some(Json::Array(ts)) => ts.first().and_then(|t| t.as_str()).unwrap_or("string"),
        _ if m.contains_key("properties") => "object",
        _ => "string",
    };
    match ty {
        "object" => {
            let mut out = Map::new();
            if let Some(Json::Object(props)) = m.get("properties") {
                for (k, ps) in props {
                    out.insert(k.clone(), example(ps, k));
                }
            }
            Json::Object(out)
        }
        "array" => match m.get("items") {
            Some(i) => Json::Array(vec![example(i, name)]),
            None => Json::Array(Vec::new()),
        },
        "number" | "integer" => Json::from(0),
        "boolean" => Json::Bool(false),
        "null" => Json::Null,
        _ => Json::String(format!("({name}: offline draft)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Json {
        json!({
            "type": "object",
            "required": ["subject", "body"],
            "properties": {
                "subject": {"type": "string"},
                "body": {"type": "string"},
                "tone": {"enum": ["warm", "plain"]},
                "tags": {"type": "array", "items": {"type": "string"}},
                "score": {"type": "number"}
            }
        })
    }

    #[test]
    fn accepts_the_subset_and_refuses_the_rest() {
        check_schema(&schema()).unwrap();
        assert_eq!(
            check_schema(&json!({"type": "object", "additionalProperties": false})).unwrap_err(),
            "$: `additionalProperties` is not supported"
        );
        assert!(check_schema(&json!({"type": "strin"})).is_err());
        assert!(
            check_schema(&json!({"properties": {"a": {"type": 3}}}))
                .unwrap_err()
                .starts_with("$.a:")
        );
        assert!(check_schema(&json!({"enum": []})).is_err());
    }

    #[test]
    fn validates_with_paths() {
        validate(&schema(), &json!({"subject": "s", "body": "b", "score": 1})).unwrap();
        let errs = validate(
            &schema(),
            &json!({"subject": 3, "tone": "loud", "tags": ["a", 1]}),
        )
        .unwrap_err();
        assert_eq!(
            errs,
            vec![
                "$: missing required property `body`",
                "$.subject: expected string, found integer",
                "$.tone: \"loud\" is not one of \"warm\", \"plain\"",
                "$.tags[1]: expected string, found integer",
            ]
        );
        assert_eq!(
            validate(&schema(), &json!([1])).unwrap_err(),
            vec!["$: expected object, found array"]
        );
    }

    #[test]
    fn examples_fit_the_schema() {
        let s = json!({
            "type": "object",
            "properties": {
                "a": {"type": "string", "default": "{{ inputs.x }}"},
                "b": {"type": "integer", "examples": [7]},
                "c": {"type": "array", "items": {"type": "string"}},
                "d": {"type": "string"}
            }
        });
        let e = example(&s, "out");
        assert_eq!(
            e,
            json!({"a": "{{ inputs.x }}", "b": 7, "c": ["(c: offline draft)"], "d": "(d: offline draft)"})
        );
        validate(&schema(), &example(&schema(), "x")).unwrap();
    }
}
