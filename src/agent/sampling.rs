//! Sampling settings of a call: `temperature`, `top_p`, `seed` and `stop`, set per
//! model alias (`[models.ALIAS]` in the config) and per step (the workflow file); a
//! step's setting wins over its alias's. Each check here is shared by both readers.

use serde::{Deserialize, Serialize};

/// What a call asks of the sampler. Unset fields are left to the server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Stop sequences (empty: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
}

/// The keys, for "valid keys" hints.
pub const KEYS: &[&str] = &["temperature", "top_p", "seed", "stop"];

/// Shown with a sampling mistake.
pub const HINT: &str =
    "temperature = 0.2 (0 to 2), top_p = 0.9 (0 to 1), seed = 42, stop = [\"\\n\\n\"]";

impl Sampling {
    pub fn is_empty(&self) -> bool {
        *self == Sampling::default()
    }

    /// These settings, with `base` filling what they leave unset.
    pub fn over(&self, base: &Sampling) -> Sampling {
        Sampling {
            temperature: self.temperature.or(base.temperature),
            top_p: self.top_p.or(base.top_p),
            seed: self.seed.or(base.seed),
            stop: if self.stop.is_empty() {
                base.stop.clone()
            } else {
                self.stop.clone()
            },
        }
    }
}

/// Check a `temperature`.
pub fn temperature(t: f64) -> Result<f64, String> {
    if t.is_finite() && (0.0..=2.0).contains(&t) {
        Ok(t)
    } else {
        Err(format!("`temperature` must be from 0 to 2, found {t}"))
    }
}

/// Check a `top_p`.
pub fn top_p(p: f64) -> Result<f64, String> {
    if p.is_finite() && p > 0.0 && p <= 1.0 {
        Ok(p)
    } else {
        Err(format!("`top_p` must be above 0 and at most 1, found {p}"))
    }
}

/// Check `stop` sequences.
pub fn stop(s: Vec<String>) -> Result<Vec<String>, String> {
    if s.iter().any(String::is_empty) {
        return Err("`stop` sequences must not be empty strings".into());
    }
    if s.len() > 4 {
        return Err(format!(
            "`stop` takes at most 4 sequences (OpenAI's limit), found {}",
            s.len()
        ));
    }
    Ok(s)
}

/// Read the sampling keys of a TOML table (the config's `[models.ALIAS]`). Other keys
/// are left to the caller.
pub fn from_toml(t: &toml::Table) -> Result<Sampling, (String, String)> {
    let num = |k: &str| -> Result<Option<f64>, (String, String)> {
        match t.get(k) {
            None => Ok(None),
            Some(toml::Value::Float(f)) => Ok(Some(*f)),
            Some(toml::Value::Integer(i)) => Ok(Some(*i as f64)),
            Some(_) => Err((k.to_string(), "must be a number".into())),
        }
    };
    let mut s = Sampling::default();
    if let Some(v) = num("temperature")? {
        s.temperature = Some(temperature(v).map_err(|e| ("temperature".into(), e))?);
    }
    if let Some(v) = num("top_p")? {
        s.top_p = Some(top_p(v).map_err(|e| ("top_p".into(), e))?);
    }
    match t.get("seed") {
        None => {}
        Some(toml::Value::Integer(i)) => s.seed = Some(*i),
        Some(_) => return Err(("seed".into(), "must be an integer".into())),
    }
    match t.get("stop") {
        None => {}
        Some(toml::Value::String(x)) => {
            s.stop = stop(vec![x.clone()]).map_err(|e| ("stop".into(), e))?
        }
        Some(toml::Value::Array(a)) => {
            let strings: Option<Vec<String>> =
                a.iter().map(|v| v.as_str().map(str::to_string)).collect();
            let Some(strings) = strings else {
                return Err((
                    "stop".into(),
                    "must be a string or a list of strings".into(),
                ));
            };
            s.stop = stop(strings).map_err(|e| ("stop".into(), e))?;
        }
        Some(_) => {
            return Err((
                "stop".into(),
                "must be a string or a list of strings".into(),
            ));
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_setting_wins_over_its_alias() {
        let alias = Sampling {
            temperature: Some(0.7),
            seed: Some(1),
            stop: vec!["END".into()],
            ..Sampling::default()
        };
        let step = Sampling {
            temperature: Some(0.0),
            top_p: Some(0.5),
            ..Sampling::default()
        };
        assert_eq!(
            step.over(&alias),
            Sampling {
                temperature: Some(0.0),
                top_p: Some(0.5),
                seed: Some(1),
                stop: vec!["END".into()],
            }
        );
        assert!(Sampling::default().is_empty());
    }

    #[test]
    fn values_are_checked() {
        let t: toml::Table =
            toml::from_str("temperature = 0\ntop_p = 1\nseed = -3\nstop = \"\\n\"").unwrap();
        let s = from_toml(&t).unwrap();
        assert_eq!(
            (s.temperature, s.top_p, s.seed, s.stop),
            (Some(0.0), Some(1.0), Some(-3), vec!["\n".to_string()])
        );
        for (text, key) in [
            ("temperature = 3", "temperature"),
            ("temperature = \"hot\"", "temperature"),
            ("top_p = 0", "top_p"),
            ("seed = 1.5", "seed"),
            ("stop = [\"\"]", "stop"),
            ("stop = [1]", "stop"),
            ("stop = [\"a\",\"b\",\"c\",\"d\",\"e\"]", "stop"),
        ] {
            let t: toml::Table = toml::from_str(text).unwrap();
            assert_eq!(from_toml(&t).unwrap_err().0, key, "{text}");
        }
    }
}
