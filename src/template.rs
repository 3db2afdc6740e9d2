//! Templates: one configured minijinja environment, the run-time context
//! (`inputs`, `steps.<id>.output|status`, `run.id`, `run.started_at`, `run.workflow`) and rendering.
//!
//! Strings without `{{` or `{%` are plain text and never reach the engine. A string that
//! is exactly one `{{ expr }}` can be evaluated "natively" so `set` values and JSON bodies
//! keep numbers, lists and objects instead of their text.
//!
//! Secrets: `secret("NAME")` (and a secret input) evaluate to a marker, never to the
//! value (see [`crate::secrets::placeholder`]). [`Context::render_sealed`] (what
//! connectors render their actions with) turns the markers into `secret("NAME")`
//! placeholders, resolved at commit, and escapes any text that only looks like one;
//! [`Context::render`] (everything else) turns them into that text, which names the
//! secret and holds nothing of it. [`crate::secrets::scan`] finds the names a
//! template reads, for the checks at load time.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use minijinja::value::{Enumerator, Object, ObjectRepr, Serde, Value};
use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value as Json;

/// Names a template may read at top level.
pub const GLOBALS: &[&str] = &["inputs", "steps", "run", "facts", "config"];

/// Per-template fuel: bounds loops so a bad template cannot hang a run.
const FUEL: u64 = 1_000_000;

/// The shared environment: strict undefined, fuel-limited, no auto-escaping.
pub fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(FUEL));
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.add_function("fact", fact_function);
        env.add_function("secret", secret_function);
        if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()
        {
            env.set_syntax(syntax);
        }
        env
    })
}

/// True when the string contains template syntax.
pub fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// If `s` is exactly one `{{ expr }}` (surrounding whitespace allowed), the expression.
pub fn sole_expression(s: &str) -> Option<&str> {
    let t = s.trim();
    let inner = t.strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    if inner.contains("}}") || inner.contains("{{") {
        return None;
    }
    Some(inner.trim())
}

fn ser<T: serde::Serialize>(v: T) -> Value {
    Value::from(Serde(v))
}

/// A step's state as templates see it.
#[derive(Debug, Clone)]
pub struct StepView {
    pub status: &'static str,
    pub output: Json,
}

/// The template context of one run. Cheap to share; step results are added as they
/// arrive and read lazily, so rendering does not copy every earlier output.
#[derive(Debug, Clone)]
pub struct Context {
    inner: Arc<ContextInner>,
}

#[derive(Debug)]
struct ContextInner {
    inputs: Value,
    run: Value,
    steps: Arc<Steps>,
    /// `facts["entity"].key`: read from the journal when a template asks.
    facts: OnceLock<Arc<crate::journal::FactReader>>,
    /// `config.SECTION`: what the configuration names (see [`ConfigNames`]).
    config: OnceLock<Arc<ConfigNames>>,
    /// `output`: in an undo's templates, the output of the step it undoes.
    output: Option<Value>,
}

/// `config.SECTION`: the names a section of config.toml configures (`config.smtp`
/// is `["default", "work"]` for `[smtp]` with its own keys and `[smtp.work]`), so a
/// workflow can test what exists: `when = "'default' in config.smtp"`. Names only,
/// never a value. Any section gives a list, empty when the config lacks it.
#[derive(Debug, Default)]
pub struct ConfigNames(pub std::collections::BTreeMap<String, Vec<String>>);

impl Object for ConfigNames {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let names = self.0.get(key.as_str()?).cloned().unwrap_or_default();
        Some(Value::from(names))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.0.keys().map(|k| Value::from(k.as_str())).collect())
    }
}

/// `facts`: entity -> { key: current value }, looked up lazily.
#[derive(Debug)]
struct Facts(Arc<crate::journal::FactReader>);

impl Object for Facts {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let facts = self.0.facts(key.as_str()?).ok()?;
        if facts.is_empty() {
            return None;
        }
        let map: serde_json::Map<String, Json> =
            facts.into_iter().map(|f| (f.key, f.value)).collect();
        Some(ser(Json::Object(map)))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::NonEnumerable
    }
}

/// `fact("customer:acme", "plan")`: a fact's current value, with a clear error
/// when the entity or key is unknown.
fn fact_function(
    state: &minijinja::State<'_, '_>,
    entity: String,
    key: String,
) -> Result<Value, minijinja::Error> {
    let err = |msg: String| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, msg);
    let facts = state
        .lookup("facts")
        .filter(|f| !f.is_undefined())
        .ok_or_else(|| err("facts are not available here".into()))?;
    let ent = facts.get_item(&Value::from(entity.as_str()))?;
    if ent.is_undefined() {
        return Err(err(format!("no facts about `{entity}`")));
    }
    let v = ent.get_attr(&key)?;
    if v.is_undefined() {
        return Err(err(format!("`{entity}` has no fact `{key}`")));
    }
    Ok(v)
}

/// `secret("NAME")`: a marker that becomes the placeholder of the secret when the
/// template is sealed into an action (the value itself never enters a template).
fn secret_function(name: String) -> Result<Value, minijinja::Error> {
    if !crate::secrets::valid_name(&name) {
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("`{name}` is not a secret name"),
        ));
    }
    Ok(Value::from(crate::secrets::placeholder::sentinel(&name)))
}

#[derive(Debug, Default)]
struct Steps {
    map: RwLock<HashMap<String, Value>>,
}

impl Object for Steps {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        self.map.read().ok()?.get(key).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let keys: Vec<Value> = match self.map.read() {
            Ok(m) => m.keys().map(|k| Value::from(k.as_str())).collect(),
            Err(_) => Vec::new(),
        };
        Enumerator::Values(keys)
    }
}

#[derive(Debug)]
struct Root(Arc<ContextInner>);

impl Object for Root {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "inputs" => Some(self.0.inputs.clone()),
            "run" => Some(self.0.run.clone()),
            "steps" => Some(Value::from_dyn_object(self.0.steps.clone())),
            "facts" => self
                .0
                .facts
                .get()
                .map(|r| Value::from_object(Facts(r.clone()))),
            "config" => Some(Value::from_dyn_object(
                self.0.config.get().cloned().unwrap_or_default(),
            )),
            "output" => self.0.output.clone(),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(GLOBALS)
    }
}

impl Context {
    pub fn new(inputs: &Json, run_id: i64, started_at: &str) -> Context {
        Context::with_secret_inputs(inputs, &[], run_id, started_at, "")
    }

    /// A context whose inputs named in `secret` are secret inputs: templates see a
    /// marker for each (as for `secret("NAME")`), never a value. `workflow` is the
    /// run's workflow name (`run.workflow`).
    pub fn with_secret_inputs(
        inputs: &Json,
        secret: &[&str],
        run_id: i64,
        started_at: &str,
        workflow: &str,
    ) -> Context {
        let run =
            serde_json::json!({ "id": run_id, "started_at": started_at, "workflow": workflow });
        let mut inputs = inputs.clone();
        if let Some(map) = inputs.as_object_mut() {
            for name in secret {
                if let Some(v) = map.get_mut(*name) {
                    *v = Json::String(crate::secrets::placeholder::sentinel(&format!(
                        "{}{name}",
                        crate::secrets::placeholder::INPUT_PREFIX
                    )));
                }
            }
        }
        Context {
            inner: Arc::new(ContextInner {
                inputs: ser(&inputs),
                run: ser(&run),
                steps: Arc::new(Steps::default()),
                facts: OnceLock::new(),
                config: OnceLock::new(),
                output: None,
            }),
        }
    }

    /// The same context (inputs, run, steps, facts, config) where templates also read
    /// `output`: an undo's context, `output` being its step's output.
    pub fn with_output(&self, output: &Json) -> Context {
        let facts = OnceLock::new();
        if let Some(r) = self.inner.facts.get() {
            let _ = facts.set(r.clone());
        }
        let config = OnceLock::new();
        if let Some(c) = self.inner.config.get() {
            let _ = config.set(c.clone());
        }
        Context {
            inner: Arc::new(ContextInner {
                inputs: self.inner.inputs.clone(),
                run: self.inner.run.clone(),
                steps: self.inner.steps.clone(),
                facts,
                config,
                output: Some(ser(output)),
            }),
        }
    }

    /// Let templates read facts (`facts["entity"].key`, `fact(entity, key)`).
    pub fn attach_facts(&self, reader: Arc<crate::journal::FactReader>) {
        let _ = self.inner.facts.set(reader);
    }

    /// Let templates read what the configuration names (`config.smtp`).
    pub fn attach_config(&self, names: ConfigNames) {
        let _ = self.inner.config.set(Arc::new(names));
    }

    /// Record (or replace) a step's status and output.
    pub fn set_step(&self, id: &str, view: &StepView) {
        let v = ser(serde_json::json!({
            "status": view.status,
            "output": view.output,
        }));
        if let Ok(mut m) = self.inner.steps.map.write() {
            m.insert(id.to_string(), v);
        }
    }

    /// A step's recorded output, as JSON.
    pub fn step_output(&self, id: &str) -> Option<Json> {
        let map = self.inner.steps.map.read().ok()?;
        let v = map.get(id)?.get_attr("output").ok()?;
        serde_json::to_value(&v).ok()
    }

    fn value(&self) -> Value {
        Value::from_object(Root(self.inner.clone()))
    }

    /// Render a string template to text. A secret in it becomes the text
    /// `secret("NAME")`.
    pub fn render(&self, src: &str) -> Result<String, String> {
        if !is_template(src) {
            return Ok(src.to_string());
        }
        let raw = env()
            .render_str(src, self.value())
            .map_err(|e| describe(&e))?;
        crate::secrets::placeholder::plain(&raw)
    }

    /// Render a string template into sealed text (for an action): secrets become
    /// placeholders resolved at commit; everything else, literal text and values
    /// alike, is text, escaped where it looks like a placeholder.
    pub fn render_sealed(&self, src: &str) -> Result<String, String> {
        if !is_template(src) {
            return Ok(crate::secrets::placeholder::escape(src).into_owned());
        }
        let raw = env()
            .render_str(src, self.value())
            .map_err(|e| describe(&e))?;
        crate::secrets::placeholder::seal(&raw)
    }

    /// Evaluate a condition (`when`): the expression's truthiness.
    pub fn condition(&self, expr: &str) -> Result<bool, String> {
        let e = env().compile_expression(expr).map_err(|e| describe(&e))?;
        let v = e.eval(self.value()).map_err(|e| describe(&e))?;
        Ok(v.is_true())
    }

    /// Render a JSON value whose string leaves are templates. A leaf that is exactly one
    /// `{{ expr }}` keeps the expression's type. Secrets become `secret("NAME")` text.
    pub fn render_json(&self, v: &Json) -> Result<Json, String> {
        self.render_json_as(v, false)
    }

    /// [`Self::render_json`] into sealed text (for an action), like
    /// [`Self::render_sealed`]: every string of the result, object keys too.
    pub fn render_json_sealed(&self, v: &Json) -> Result<Json, String> {
        self.render_json_as(v, true)
    }

    fn render_json_as(&self, v: &Json, sealed: bool) -> Result<Json, String> {
        match v {
            Json::String(s) => {
                if let Some(expr) = sole_expression(s) {
                    let e = env().compile_expression(expr).map_err(|e| describe(&e))?;
                    let out = e.eval(self.value()).map_err(|e| describe(&e))?;
                    if out.is_undefined() {
                        return Err(format!("`{expr}` is undefined"));
                    }
                    let value = serde_json::to_value(&out).map_err(|e| e.to_string())?;
                    strings(value, &|t| {
                        if sealed {
                            crate::secrets::placeholder::seal(t)
                        } else {
                            crate::secrets::placeholder::plain(t)
                        }
                    })
                } else if sealed {
                    self.render_sealed(s).map(Json::String)
                } else {
                    self.render(s).map(Json::String)
                }
            }
            Json::Array(items) => items
                .iter()
                .map(|i| self.render_json_as(i, sealed))
                .collect::<Result<Vec<_>, _>>()
                .map(Json::Array),
            Json::Object(map) => {
                let mut out = serde_json::Map::with_capacity(map.len());
                for (k, v) in map {
                    let key = if sealed {
                        crate::secrets::placeholder::escape(k).into_owned()
                    } else {
                        k.clone()
                    };
                    out.insert(key, self.render_json_as(v, sealed)?);
                }
                Ok(Json::Object(out))
            }
            other => Ok(other.clone()),
        }
    }
}

/// Apply `f` to every string of a JSON value (object keys too).
fn strings(v: Json, f: &dyn Fn(&str) -> Result<String, String>) -> Result<Json, String> {
    Ok(match v {
        Json::String(s) => Json::String(f(&s)?),
        Json::Array(items) => Json::Array(
            items
                .into_iter()
                .map(|i| strings(i, f))
                .collect::<Result<_, _>>()?,
        ),
        Json::Object(map) => {
            let mut out = serde_json::Map::with_capacity(map.len());
            for (k, v) in map {
                out.insert(f(&k)?, strings(v, f)?);
            }
            Json::Object(out)
        }
        other => other,
    })
}

/// A one-line description of a template error, with its detail when there is one.
pub fn describe(e: &minijinja::Error) -> String {
    let mut s = match e.detail() {
        Some(d) => format!("{}: {}", e.kind(), d),
        None => e.kind().to_string(),
    };
    if let Some(line) = e.line()
        && line > 1
    {
        s.push_str(&format!(" (template line {line})"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Context {
        let c = Context::new(&json!({"name": "Ada", "n": 2}), 7, "2026-11-21T10:00:00Z");
        c.set_step(
            "a",
            &StepView {
                status: "succeeded",
                output: json!({"list": [1, 2], "s": "x"}),
            },
        );
        c
    }

    #[test]
    fn run_reads_its_id_start_and_workflow() {
        let c = Context::with_secret_inputs(&json!({}), &[], 7, "2026-11-21T10:00:00Z", "news");
        assert_eq!(
            c.render("{{ run.id }} {{ run.started_at }} {{ run.workflow }}")
                .unwrap(),
            "7 2026-11-21T10:00:00Z news"
        );
    }

    #[test]
    fn plain_strings_pass_through() {
        assert_eq!(ctx().render("hello {name}").unwrap(), "hello {name}");
    }

    #[test]
    fn renders_inputs_steps_and_run() {
        let c = ctx();
        assert_eq!(
            c.render("{{ inputs.name }} {{ steps.a.output.s }} {{ steps.a.status }} {{ run.id }}")
                .unwrap(),
            "Ada x succeeded 7"
        );
    }

    #[test]
    fn undefined_is_an_error() {
        let err = ctx().render("{{ inputs.nope }}").unwrap_err();
        assert!(err.contains("undefined"), "{err}");
        assert!(ctx().render("{{ steps.zzz.output }}").is_err());
    }

    #[test]
    fn sole_expression_keeps_type() {
        let c = ctx();
        assert_eq!(
            c.render_json(&json!({"l": "{{ steps.a.output.list }}", "n": "{{ inputs.n + 1 }}", "t": "n={{ inputs.n }}"}))
                .unwrap(),
            json!({"l": [1, 2], "n": 3, "t": "n=2"})
        );
    }

    #[test]
    fn an_undo_reads_output_beside_everything_else() {
        let c = ctx();
        assert!(
            c.render("{{ output }}").is_err(),
            "no output outside an undo"
        );
        let u = c.with_output(&json!({"body": {"id": 42}}));
        assert_eq!(
            u.render("/items/{{ output.body.id }} {{ inputs.name }} {{ steps.a.output.s }}")
                .unwrap(),
            "/items/42 Ada x"
        );
        assert_eq!(
            u.render_json(&json!("{{ output.body.id }}")).unwrap(),
            json!(42)
        );
    }

    #[test]
    fn conditions() {
        let c = ctx();
        assert!(c.condition("inputs.n > 1").unwrap());
        assert!(!c.condition("steps.a.output.s == 'y'").unwrap());
        assert!(c.condition("inputs.n >").is_err());
    }
}

#[cfg(test)]
mod secret_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_render_as_placeholders_never_values() {
        let c =
            Context::with_secret_inputs(&json!({"pw": "p4ss-value", "n": 1}), &["pw"], 1, "t", "w");
        assert_eq!(
            c.render_sealed("Bearer {{ secret(\"TOKEN\") }} {{ inputs.pw }} secret(\"X\")")
                .unwrap(),
            "Bearer secret(\"TOKEN\") secret(\"inputs.pw\") secret\\(\"X\")"
        );
        assert_eq!(
            c.render("{{ secret(\"TOKEN\") }}").unwrap(),
            "secret(\"TOKEN\")"
        );
        assert_eq!(
            c.render_json_sealed(&json!({"a": "{{ secret('T') }}", "b": "{{ inputs }}"}))
                .unwrap(),
            json!({"a": "secret(\"T\")", "b": {"pw": "secret(\"inputs.pw\")", "n": 1}})
        );
        let err = c.render_sealed("{{ secret('T') | upper }}").unwrap_err();
        assert_eq!(err, crate::secrets::placeholder::MANGLED);
        assert!(c.render_sealed("{{ secret('a b') }}").is_err());
    }
}
