//! Which journal a command uses: `AIOS_DATABASE_URL`, else `[database] url` in the
//! config, names a PostgreSQL database; neither means the SQLite file in the data
//! folder (the default).

use crate::config::ConfigFile;
use crate::error::{Error, Result};

/// The PostgreSQL URL chosen by `env_url` (the value of `AIOS_DATABASE_URL`) or by
/// `[database] url` in `cfg`; `None` for the SQLite journal.
pub fn database_url(env_url: Option<&str>, cfg: &ConfigFile) -> Result<Option<String>> {
    if let Some(url) = env_url.filter(|u| !u.trim().is_empty()) {
        return check(url, "AIOS_DATABASE_URL").map(Some);
    }
    let Some(v) = cfg.section("database") else {
        return Ok(None);
    };
    let origin = cfg.origin();
    let Some(t) = v.as_table() else {
        return Err(
            Error::invalid(format!("{origin}: `database` must be a table"))
                .with_hint("write it as [database] with url = \"postgres://USER@HOST/DB\""),
        );
    };
    for k in t.keys() {
        if k != "url" {
            return Err(
                Error::invalid(format!("{origin}: `database.{k}` is not a known key"))
                    .with_hint("valid keys: url"),
            );
        }
    }
    match t.get("url") {
        None => Ok(None),
        Some(u) => match u.as_str() {
            Some(url) => check(url, &format!("{origin}: `database.url`")).map(Some),
            None => Err(
                Error::invalid(format!("{origin}: `database.url` must be a string"))
                    .with_hint("like url = \"postgres://aios@127.0.0.1:5432/aios\""),
            ),
        },
    }
}

fn check(url: &str, what: &str) -> Result<String> {
    if super::is_postgres_url(url) {
        Ok(url.to_string())
    } else {
        Err(Error::invalid(format!(
            "{what} is not a PostgreSQL URL (it must start with postgres://)"
        ))
        .with_hint("write it as postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE, or unset it for the SQLite journal"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> ConfigFile {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        std::fs::write(&p, text).unwrap();
        ConfigFile::load(&p).unwrap()
    }

    #[test]
    fn the_environment_wins_then_the_config_then_sqlite() {
        let c = cfg("[database]\nurl = \"postgres://a@h/db\"\n");
        assert_eq!(
            database_url(Some("postgresql://b@h/x"), &c)
                .unwrap()
                .as_deref(),
            Some("postgresql://b@h/x")
        );
        assert_eq!(
            database_url(None, &c).unwrap().as_deref(),
            Some("postgres://a@h/db")
        );
        assert_eq!(database_url(Some(""), &cfg("")).unwrap(), None);
        assert_eq!(database_url(None, &cfg("[database]\n")).unwrap(), None);
    }

    #[test]
    fn a_url_that_is_not_postgres_or_an_unknown_key_is_refused() {
        let e = database_url(Some("mysql://x"), &cfg("")).unwrap_err();
        assert!(
            e.message
                .contains("AIOS_DATABASE_URL is not a PostgreSQL URL"),
            "{}",
            e.message
        );
        let e = database_url(None, &cfg("[database]\nuri = \"postgres://x\"\n")).unwrap_err();
        assert!(
            e.message.contains("`database.uri` is not a known key"),
            "{}",
            e.message
        );
        let e = database_url(None, &cfg("[database]\nurl = 5\n")).unwrap_err();
        assert!(e.message.contains("must be a string"), "{}", e.message);
    }
}
