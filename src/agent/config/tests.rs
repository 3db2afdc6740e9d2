//! Typing the agent's config sections: providers, models, caps, secrets.
use super::*;

fn cfg(text: &str) -> ConfigFile {
    ConfigFile {
        path: Some(PathBuf::from("/home/x/config.toml")),
        source: text.into(),
        table: toml::from_str(text).unwrap(),
    }
}

#[test]
fn empty_config_means_heuristic_for_every_alias() {
    let s = from_config(&ConfigFile::default(), &|_| None).unwrap();
    let t = s.resolve("fast").unwrap();
    assert!(t.is_heuristic());
    assert_eq!(t.provider_name(), "heuristic");
}

#[test]
fn providers_models_and_caps_are_typed() {
    let c = cfg(r#"
[providers.local]
kind = "openai"
base_url = "http://127.0.0.1:11434/v1/"
[providers.anthropic]
kind = "anthropic"
api_key_env = "ANTHROPIC_API_KEY"
timeout = "30s"
[models.fast]
provider = "local"
name = "llama3.2"
[models.smart]
provider = "anthropic"
name = "claude-x"
usd_per_mtok_in = 3
usd_per_mtok_out = 15.0
[budget]
daily_usd = 2.0
monthly_usd = 30
"#);
    let s = from_config(&c, &|k| {
        (k == "ANTHROPIC_API_KEY").then(|| "sk-test".to_string())
    })
    .unwrap();
    let fast = s.resolve("fast").unwrap();
    let Backend::Provider(p) = &fast.backend else {
        panic!()
    };
    assert_eq!(p.base_url, "http://127.0.0.1:11434/v1");
    assert!(p.api_key.is_none());
    let smart = s.resolve("smart").unwrap();
    let Backend::Provider(p) = &smart.backend else {
        panic!()
    };
    assert_eq!(p.api_key.as_ref().unwrap().expose(), "sk-test");
    assert!(!format!("{p:?}").contains("sk-test"));
    assert_eq!(p.timeout, Duration::from_secs(30));
    assert!((smart.cost(1_000_000, 100_000) - 4.5).abs() < 1e-9);
    assert_eq!(
        s.caps,
        Caps {
            daily_usd: Some(2.0),
            monthly_usd: Some(30.0)
        }
    );
    assert!(s.resolve("heuristic").unwrap().is_heuristic());
    let e = s.resolve("nope").unwrap_err();
    assert!(
        e.contains("no [models.nope]") && e.contains("fast, smart"),
        "{e}"
    );
}

#[test]
fn mistakes_name_the_file_and_key() {
    let e = from_config(&cfg("[providers.x]\nkind = \"openia\"\n"), &|_| None).unwrap_err();
    assert_eq!(
        e.message,
        "/home/x/config.toml: `providers.x.kind` is `openia`, not a provider kind"
    );
    assert!(e.hint.unwrap().contains("openai"));
    let e = from_config(
        &cfg("[models.m]\nprovider = \"p\"\nname = \"n\"\n"),
        &|_| None,
    )
    .unwrap_err();
    assert!(
        e.message.contains("`models.m.provider` names `p`"),
        "{}",
        e.message
    );
    let e = from_config(&cfg("[budget]\ndaily = 2\n"), &|_| None).unwrap_err();
    assert_eq!(
        e.message,
        "/home/x/config.toml: `budget.daily` is not a known key"
    );
    let e = from_config(&cfg("[budget]\ndaily_usd = -1\n"), &|_| None).unwrap_err();
    assert!(e.message.contains("must be 0 or more"));
}

#[test]
fn secrets_files_parse_and_never_echo_values() {
    let v = parse_secrets("# keys\nA=1\nexport B=\"two\"\n\nC='x=y'\n", "s.env").unwrap();
    assert_eq!(
        v,
        vec![
            ("A".into(), "1".into()),
            ("B".into(), "two".into()),
            ("C".into(), "x=y".into())
        ]
    );
    let e = parse_secrets("sk-secret-value\n", "s.env").unwrap_err();
    assert_eq!(e.message, "s.env:1: not a NAME=value line");
    let c = cfg("[secrets]\nfile = \"secrets.env\"\n");
    assert_eq!(
        secrets_file(&c).unwrap(),
        Some(PathBuf::from("/home/x/secrets.env"))
    );
}
