//! Personas: `[personas.NAME]` in the config file, typed, and the check of a rendered
//! action against one (its [`Touch`]es and the secrets it names).
//!
//! A named persona allows only what it lists: a key left out allows nothing of its
//! connector (`"*"` in a list allows anything). The built-in `default` persona, which
//! a workflow without `persona` runs under, allows everything aios allows anyway,
//! unless the config defines `[personas.default]`.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;
use toml::Value;

use crate::connectors::confine::SandboxMode;
use crate::connectors::{Action, Touch};
use crate::error::{Error, Result};

/// The persona a workflow or step without `persona` runs under.
pub const DEFAULT: &str = "default";

/// What a persona requires of shell steps' sandbox (`sandbox = "required" |
/// "best_effort"`), checked against the mode each step's action declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SandboxRule {
    /// Shell steps must declare `sandbox` mode `required` (the default): they run
    /// confined or not at all.
    Required,
    /// Shell steps must declare `required` or `best_effort` (sandboxed where the
    /// system can); only `off` is refused.
    BestEffort,
}

/// One persona's effective scopes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Persona {
    pub name: String,
    /// HTTP hosts: `api.example.com`, `*.example.com` (its subdomains), either with
    /// `:PORT` (only that port).
    pub http_hosts: Vec<String>,
    /// HTTP methods, upper case.
    pub http_methods: Vec<String>,
    /// Folders a `file` step's `root` must be (or be beneath): absolute.
    pub file_roots: Vec<String>,
    /// Programs a shell step may start (its argv[0] as written; a `script` is `sh`).
    pub shell_programs: Vec<String>,
    /// Addresses an email may be sent from.
    pub email_from: Vec<String>,
    /// Domains every recipient of an email must be at.
    pub email_to_domains: Vec<String>,
    /// `SERVER.TOOL` globs (`*` matches any run of characters).
    pub mcp_tools: Vec<String>,
    /// Secrets (store names) its actions may name.
    pub secrets: Vec<String>,
    /// Model aliases its agent steps may use.
    pub models: Vec<String>,
    /// What agent calls under this persona may cost per UTC day / month, on top of
    /// the global `[budget]`.
    pub max_usd_day: Option<f64>,
    pub max_usd_month: Option<f64>,
    pub sandbox: Option<SandboxRule>,
    /// `runs_on`: the worker tags its steps need (sorted; added to each step's own).
    pub runs_on: Vec<String>,
    /// Whether it is the built-in `default` (not written in the config).
    pub builtin: bool,
}

/// The keys of a `[personas.NAME]` section, in the order `aios persona show` prints.
pub const KEYS: &[&str] = &[
    "http_hosts",
    "http_methods",
    "file_roots",
    "shell_programs",
    "email_from",
    "email_to_domains",
    "mcp_tools",
    "secrets",
    "models",
    "max_usd_day",
    "max_usd_month",
    "sandbox",
    "runs_on",
];

const ANY: &str = "*";

impl Persona {
    /// The built-in `default`: allows everything.
    pub fn open() -> Persona {
        let any = || vec![ANY.to_string()];
        Persona {
            name: DEFAULT.into(),
            http_hosts: any(),
            http_methods: any(),
            file_roots: any(),
            shell_programs: any(),
            email_from: any(),
            email_to_domains: any(),
            mcp_tools: any(),
            secrets: any(),
            models: any(),
            max_usd_day: None,
            max_usd_month: None,
            sandbox: None,
            runs_on: Vec::new(),
            builtin: true,
        }
    }

    /// Check a rendered (or edited) action: every place it touches and every secret
    /// it names. The error names the persona and the rule.
    pub fn check(&self, action: &Action) -> std::result::Result<(), String> {
        for t in action.touches() {
            self.check_touch(&t)?;
        }
        for r in crate::connectors::secret_refs(action) {
            // A run's own secret inputs are the operator's, given at run time.
            if r.input().is_none() {
                self.check_secret(r.name())?;
            }
        }
        Ok(())
    }

    fn refuse(&self, what: String, key: &str, list: &[String]) -> String {
        format!(
            "persona `{}` does not allow {what}: it is not in its `{key}` ({})",
            self.name,
            if list.is_empty() {
                "empty: nothing is allowed".to_string()
            } else {
                list.join(", ")
            }
        )
    }

    /// Check one place an action touches.
    pub fn check_touch(&self, t: &Touch) -> std::result::Result<(), String> {
        match t {
            Touch::Http { method, url } => {
                self.check_method(method)?;
                self.check_url(url)
            }
            Touch::Program { program, sandbox } => {
                if !self.shell_programs.iter().any(|p| p == ANY || p == program) {
                    return Err(self.refuse(
                        format!("the program `{program}`"),
                        "shell_programs",
                        &self.shell_programs,
                    ));
                }
                let (needed, word) = match self.sandbox {
                    None => return Ok(()),
                    Some(SandboxRule::Required) => (SandboxMode::Required, "required"),
                    Some(SandboxRule::BestEffort) => (SandboxMode::BestEffort, "best_effort"),
                };
                if !sandbox.at_least(needed) {
                    return Err(format!(
                        "persona `{}` requires shell steps to run sandboxed (sandbox = \"{word}\"), and this step's sandbox is `{sandbox}`: leave the step's `sandbox` out (the default is `required`) or make it stricter",
                        self.name
                    ));
                }
                Ok(())
            }
            Touch::FileRoot { root } => {
                if has(&self.file_roots, ANY) {
                    return Ok(());
                }
                let root = normalize(Path::new(root));
                if self
                    .file_roots
                    .iter()
                    .any(|r| root.starts_with(normalize(Path::new(r))))
                {
                    Ok(())
                } else {
                    Err(self.refuse(
                        format!("files under {}", root.display()),
                        "file_roots",
                        &self.file_roots,
                    ))
                }
            }
            Touch::Tool { server, tool } => {
                let name = format!("{server}.{tool}");
                if self.mcp_tools.iter().any(|g| glob(g, &name)) {
                    Ok(())
                } else {
                    Err(self.refuse(format!("the tool {name}"), "mcp_tools", &self.mcp_tools))
                }
            }
            Touch::Email { from, to } => {
                self.check_sender(from)?;
                to.iter().try_for_each(|r| self.check_recipient(r))
            }
        }
    }

    /// Whether its emails may be sent from `from` (`Name <addr>` or `addr`).
    pub fn check_sender(&self, from: &str) -> std::result::Result<(), String> {
        let addr = bare_address(from);
        if self
            .email_from
            .iter()
            .any(|f| f == ANY || f.eq_ignore_ascii_case(addr))
        {
            Ok(())
        } else {
            Err(self.refuse(
                format!("sending from {addr}"),
                "email_from",
                &self.email_from,
            ))
        }
    }

    /// Whether its emails may go to `to` (its domain is in `email_to_domains`).
    pub fn check_recipient(&self, to: &str) -> std::result::Result<(), String> {
        if has(&self.email_to_domains, ANY) {
            return Ok(());
        }
        let addr = bare_address(to);
        let domain = addr.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
        if self
            .email_to_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(domain))
        {
            Ok(())
        } else {
            Err(self.refuse(
                format!("the recipient {addr}"),
                "email_to_domains",
                &self.email_to_domains,
            ))
        }
    }

    /// Whether its HTTP steps may use `method` (upper case).
    pub fn check_method(&self, method: &str) -> std::result::Result<(), String> {
        if self.http_methods.iter().any(|m| m == ANY || m == method) {
            Ok(())
        } else {
            Err(self.refuse(
                format!("the HTTP method {method}"),
                "http_methods",
                &self.http_methods,
            ))
        }
    }

    /// Whether its HTTP steps may reach the host (and port) of `url`.
    pub fn check_url(&self, url: &str) -> std::result::Result<(), String> {
        if has(&self.http_hosts, ANY) {
            return Ok(());
        }
        let Some((host, port)) = host_port(url) else {
            return Err(format!(
                "persona `{}` allows only the hosts in its `http_hosts`, and `{url}` has no host it can check",
                self.name
            ));
        };
        if self.http_hosts.iter().any(|p| host_matches(p, &host, port)) {
            Ok(())
        } else {
            Err(self.refuse(
                format!("the HTTP host {host}:{port}"),
                "http_hosts",
                &self.http_hosts,
            ))
        }
    }

    /// Whether an action under this persona may name the store secret `name`.
    pub fn check_secret(&self, name: &str) -> std::result::Result<(), String> {
        if self.secrets.iter().any(|s| s == ANY || glob(s, name)) {
            Ok(())
        } else {
            Err(self.refuse(format!("the secret `{name}`"), "secrets", &self.secrets))
        }
    }

    /// Whether its agent steps may use the model alias `alias`.
    pub fn check_model(&self, alias: &str) -> std::result::Result<(), String> {
        if has(&self.models, ANY) || has(&self.models, alias) {
            Ok(())
        } else {
            Err(self.refuse(format!("the model alias `{alias}`"), "models", &self.models))
        }
    }
}

/// `Name <addr@x>` -> `addr@x`; a bare address as it is.
fn bare_address(s: &str) -> &str {
    match (s.rfind('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => s[a + 1..b].trim(),
        _ => s.trim(),
    }
}

fn has(list: &[String], x: &str) -> bool {
    list.iter().any(|s| s == x)
}

/// `*` matches any run of characters (also none); everything else matches itself.
pub fn glob(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !s.starts_with(first) || s.len() < first.len() + last.len() || !s.ends_with(last) {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for p in &parts[1..parts.len() - 1] {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    true
}

/// The host (lower case) and port of an absolute http(s) URL.
pub fn host_port(url: &str) -> Option<(String, u16)> {
    let u = reqwest::Url::parse(url).ok()?;
    let host = u.host_str()?.to_ascii_lowercase();
    Some((host, u.port_or_known_default()?))
}

/// `api.example.com`, `*.example.com` (subdomains only), either with `:PORT`.
pub fn host_matches(pattern: &str, host: &str, port: u16) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let (p_host, p_port) = match pattern.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !p.is_empty() => {
            (h.to_string(), p.parse::<u16>().ok())
        }
        _ => (pattern.clone(), None),
    };
    if p_port.is_some_and(|p| p != port) {
        return false;
    }
    match p_host.strip_prefix("*.") {
        Some(suffix) => host.ends_with(&format!(".{suffix}")),
        None => p_host == host,
    }
}

/// `a/./b/../c` -> `a/c`, without touching the filesystem.
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn bad(origin: &str, name: &str, key: &str, what: &str) -> Error {
    Error::invalid(format!("{origin}: [personas.{name}] `{key}` {what}")).with_hint(format!(
        "see \"Personas\" in the README; a persona takes: {}",
        KEYS.join(", ")
    ))
}

/// Read one `[personas.NAME]` section. `home` expands `~/` in `file_roots`; relative
/// roots start at `base` (the config file's folder).
pub fn read(
    origin: &str,
    name: &str,
    v: &Value,
    home: Option<&Path>,
    base: &Path,
) -> Result<Persona> {
    let t = v.as_table().ok_or_else(|| {
        Error::invalid(format!("{origin}: `personas.{name}` must be a table"))
            .with_hint(format!("write it as [personas.{name}]"))
    })?;
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        || name.is_empty()
    {
        return Err(
            Error::invalid(format!("{origin}: `{name}` is not a persona name"))
                .with_hint("persona names hold letters, digits, `_` and `-`"),
        );
    }
    for k in t.keys() {
        if !KEYS.contains(&k.as_str()) {
            return Err(bad(origin, name, k, "is not a persona key"));
        }
    }
    let list = |key: &str| -> Result<Vec<String>> {
        match t.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| bad(origin, name, key, "must be a list of strings"))
                })
                .collect(),
            Some(_) => Err(bad(origin, name, key, "must be a list of strings")),
        }
    };
    let usd = |key: &str| -> Result<Option<f64>> {
        match t.get(key) {
            None => Ok(None),
            Some(v) => match v.as_float().or_else(|| v.as_integer().map(|i| i as f64)) {
                Some(x) if x >= 0.0 && x.is_finite() => Ok(Some(x)),
                _ => Err(bad(origin, name, key, "must be a number of USD, 0 or more")),
            },
        }
    };
    let http_methods = list("http_methods")?
        .into_iter()
        .map(|m| m.to_ascii_uppercase())
        .collect();
    let file_roots = list("file_roots")?
        .into_iter()
        .map(|r| {
            if r == ANY {
                return Ok(r);
            }
            let p = match (r.strip_prefix("~/"), home) {
                (Some(rest), Some(h)) => h.join(rest),
                (Some(_), None) => {
                    return Err(bad(
                        origin,
                        name,
                        "file_roots",
                        "starts with `~/`, and HOME is not set",
                    ));
                }
                (None, _) => base.join(&r),
            };
            Ok(normalize(&p).display().to_string())
        })
        .collect::<Result<Vec<_>>>()?;
    let sandbox = match t.get("sandbox") {
        None => None,
        Some(v) => match v.as_str() {
            Some("required") => Some(SandboxRule::Required),
            Some("best_effort") => Some(SandboxRule::BestEffort),
            _ => {
                return Err(bad(
                    origin,
                    name,
                    "sandbox",
                    "must be \"required\" or \"best_effort\"",
                ));
            }
        },
    };
    for h in list("http_hosts")? {
        if h.contains('/') || h.is_empty() || (h.contains('*') && !h.starts_with("*.") && h != ANY)
        {
            return Err(bad(
                origin,
                name,
                "http_hosts",
                &format!(
                    "holds `{h}`: write a host (`api.example.com`), its subdomains (`*.example.com`), either with `:PORT`"
                ),
            ));
        }
    }
    let runs_on = match t.get("runs_on") {
        None => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(_)) => list("runs_on")?,
        Some(_) => {
            return Err(bad(
                origin,
                name,
                "runs_on",
                "must be a tag or a list of tags",
            ));
        }
    };
    if let Some(t) = runs_on.iter().find(|t| !crate::workflow::valid_tag(t)) {
        return Err(Error::invalid(format!(
            "{origin}: [personas.{name}] `runs_on` holds `{t}`, which is not a worker tag"
        ))
        .with_hint(crate::workflow::TAG_HINT));
    }
    let runs_on = crate::journal::tag_set(&runs_on);
    Ok(Persona {
        name: name.to_string(),
        http_hosts: list("http_hosts")?,
        http_methods,
        file_roots,
        shell_programs: list("shell_programs")?,
        email_from: list("email_from")?,
        email_to_domains: list("email_to_domains")?,
        mcp_tools: list("mcp_tools")?,
        secrets: list("secrets")?,
        models: list("models")?,
        max_usd_day: usd("max_usd_day")?,
        max_usd_month: usd("max_usd_month")?,
        sandbox,
        runs_on,
        builtin: false,
    })
}

/// Every persona: the configured ones and `default`.
#[derive(Debug, Clone, Default)]
pub struct Personas {
    pub by_name: BTreeMap<String, Persona>,
}

impl Personas {
    /// The persona named `name` (`None`: `default`).
    pub fn get(&self, name: Option<&str>) -> Option<&Persona> {
        self.by_name.get(name.unwrap_or(DEFAULT))
    }

    /// The configured names, for messages.
    pub fn known(&self) -> String {
        self.by_name.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_hosts() {
        assert!(glob("helpdesk.*", "helpdesk.search"));
        assert!(!glob("helpdesk.*", "billing.search"));
        assert!(glob("*.read_*", "crm.read_contact"));
        assert!(glob("a", "a") && !glob("a", "ab"));
        assert!(host_matches("*.example.com", "api.example.com", 443));
        assert!(!host_matches("*.example.com", "example.com", 443));
        assert!(!host_matches("*.example.com", "evil-example.com", 443));
        assert!(host_matches("api.x:8080", "api.x", 8080));
        assert!(!host_matches("api.x:8080", "api.x", 80));
        assert!(host_matches("API.X", "api.x", 1));
    }

    #[test]
    fn a_named_persona_allows_only_what_it_lists() {
        let v: Value = toml::from_str(
            "http_hosts = [\"*.example.com\"]\nhttp_methods = [\"get\"]\nfile_roots = [\"~/support\"]",
        )
        .unwrap();
        let p = read(
            "config.toml",
            "support",
            &v,
            Some(Path::new("/home/me")),
            Path::new("/cfg"),
        )
        .unwrap();
        assert_eq!(p.file_roots, vec!["/home/me/support".to_string()]);
        let get = |url: &str| Touch::Http {
            method: "GET".into(),
            url: url.into(),
        };
        assert!(p.check_touch(&get("https://api.example.com/x")).is_ok());
        let e = p.check_touch(&get("https://evil.test/x")).unwrap_err();
        assert!(
            e.contains("persona `support`") && e.contains("http_hosts"),
            "{e}"
        );
        let post = Touch::Http {
            method: "POST".into(),
            url: "https://api.example.com".into(),
        };
        assert!(p.check_touch(&post).unwrap_err().contains("http_methods"));
        let prog = Touch::Program {
            program: "git".into(),
            sandbox: SandboxMode::Off,
        };
        assert!(p.check_touch(&prog).unwrap_err().contains("empty"));
        assert!(
            p.check_touch(&Touch::FileRoot {
                root: "/home/me/support/./a".into()
            })
            .is_ok()
        );
        assert!(
            p.check_touch(&Touch::FileRoot {
                root: "/home/me/support/../x".into()
            })
            .is_err()
        );
        assert!(Persona::open().check_touch(&prog).is_ok());
    }

    #[test]
    fn a_sandbox_rule_refuses_weaker_shell_sandboxes() {
        let prog = |sandbox| Touch::Program {
            program: "echo".into(),
            sandbox,
        };
        let persona = |rule: &str| {
            let v: Value = toml::from_str(&format!(
                "shell_programs = [\"echo\"]\nsandbox = \"{rule}\""
            ))
            .unwrap();
            read("c.toml", "boxed", &v, None, Path::new("/")).unwrap()
        };
        let required = persona("required");
        assert!(required.check_touch(&prog(SandboxMode::Required)).is_ok());
        for weaker in [SandboxMode::BestEffort, SandboxMode::Off] {
            let e = required.check_touch(&prog(weaker)).unwrap_err();
            assert!(
                e.contains(
                    "persona `boxed` requires shell steps to run sandboxed (sandbox = \"required\")"
                ) && e.contains(&format!("this step's sandbox is `{weaker}`")),
                "{e}"
            );
        }
        let best = persona("best_effort");
        assert!(best.check_touch(&prog(SandboxMode::Required)).is_ok());
        assert!(best.check_touch(&prog(SandboxMode::BestEffort)).is_ok());
        assert!(best.check_touch(&prog(SandboxMode::Off)).is_err());
        // Without a rule, any sandbox will do.
        let v: Value = toml::from_str("shell_programs = [\"echo\"]").unwrap();
        let free = read("c.toml", "free", &v, None, Path::new("/")).unwrap();
        assert!(free.check_touch(&prog(SandboxMode::Off)).is_ok());
    }

    #[test]
    fn bad_keys_are_named() {
        let v: Value = toml::from_str("http_host = [\"a\"]").unwrap();
        let e = read("c.toml", "x", &v, None, Path::new("/")).unwrap_err();
        assert!(e.message.contains("`http_host` is not a persona key"));
        let v: Value = toml::from_str("sandbox = \"yes\"").unwrap();
        assert!(read("c.toml", "x", &v, None, Path::new("/")).is_err());
    }
}
