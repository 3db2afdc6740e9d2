//! The checked-in man pages (completions/man/) match what clap_mangen makes of
//! the CLI: one page for `aios` and one per subcommand (`aios-run.1`,
//! `aios-schedule-add.1`, …). Regenerate with
//! `AIOS_WRITE_MAN=1 cargo test --test cli man::`.

use std::path::Path;

use clap::CommandFactory;

fn pages() -> Vec<(String, Vec<u8>)> {
    let mut cmd = aios::cli::Cli::command();
    cmd.build();
    let mut out = Vec::new();
    add(&cmd, "aios", &mut out);
    out
}

fn add(cmd: &clap::Command, name: &str, out: &mut Vec<(String, Vec<u8>)>) {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .title(name.to_uppercase())
        .render(&mut buf)
        .unwrap();
    out.push((format!("{name}.1"), buf));
    for sub in cmd.get_subcommands() {
        if sub.get_name() != "help" {
            add(sub, &format!("{name}-{}", sub.get_name()), out);
        }
    }
}

#[test]
fn man_pages_are_fresh() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions/man");
    let pages = pages();
    if std::env::var_os("AIOS_WRITE_MAN").is_some() {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in &pages {
            std::fs::write(dir.join(name), text).unwrap();
        }
    }
    let mut stale = Vec::new();
    for (name, text) in &pages {
        if std::fs::read(dir.join(name)).ok().as_ref() != Some(text) {
            stale.push(name.clone());
        }
    }
    let mut extra: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| !pages.iter().any(|(p, _)| p == n))
                .collect()
        })
        .unwrap_or_default();
    stale.append(&mut extra);
    assert!(
        stale.is_empty(),
        "completions/man is stale ({}); regenerate it with:\n  AIOS_WRITE_MAN=1 cargo test --test cli man::",
        stale.join(", ")
    );
    // The top page names each subcommand's page and points to the README.
    let top = String::from_utf8(pages[0].1.clone()).unwrap();
    assert!(top.contains("aios\\-init(1)"), "{top}");
    assert!(top.contains("aios\\-doctor(1)"), "{top}");
    assert!(top.contains("Docs: README.md"), "{top}");
}
