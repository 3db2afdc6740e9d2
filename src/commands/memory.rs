//! `aios memory add|search|forget|import|list`: notes, and search over notes, decisions
//! and outcomes (full text, plus vectors when `[embeddings]` is configured).

use std::path::Path;

use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::ui;
use super::{CmdResult, Ctx, Exit};
use crate::cli::{MemoryArgs, MemoryCommand, MemoryKindArg};
use crate::clock::format_ms;
use crate::error::Error;
use crate::journal::{DocRecord, Journal, NewNote};
use crate::memory::{self, Embedder, EmbeddingsConfig, Hit, QueryVector};
use crate::secrets::Secrets;

/// Documents embedded per command at most (the rest on later commands).
const BACKFILL: usize = 2000;

pub fn memory(ctx: &Ctx, args: MemoryArgs) -> CmdResult {
    match args.command {
        MemoryCommand::Add(a) => {
            let note = NewNote {
                text: a.text.trim().to_string(),
                tags: clean_tags(a.tags),
                source: a.source,
            };
            if note.text.is_empty() {
                return Err(Error::invalid("the note is empty")
                    .with_hint("aios memory add \"what to remember\" --tag customer:acme")
                    .into());
            }
            let embedder = embedder(ctx, &ctx.secrets()?)?;
            let mut journal = ctx.journal()?;
            let id = journal.add_notes(std::slice::from_ref(&note))?[0];
            let embedded = embedder
                .as_ref()
                .map(|e| backfill(ctx, &mut journal, e))
                .unwrap_or(false);
            if a.json {
                let doc = journal.doc(id)?;
                ui::print_json(&json!({ "note": doc, "embedded": embedded }));
            } else {
                ui::println(&format!("memory {id} added"));
            }
            Ok(Exit::Ok)
        }
        MemoryCommand::Search(a) => {
            let embedder = embedder(ctx, &ctx.secrets()?)?;
            let mut journal = ctx.journal()?;
            let kinds: Vec<&str> = a
                .kind
                .iter()
                .map(|k| match k {
                    MemoryKindArg::Note => "note",
                    MemoryKindArg::Decision => "decision",
                    MemoryKindArg::Outcome => "outcome",
                })
                .collect();
            let qv = match &embedder {
                None => {
                    note(ctx, "full-text search only: no [embeddings] in config.toml");
                    None
                }
                Some(e) => {
                    backfill(ctx, &mut journal, e);
                    match e.embed_blocking(std::slice::from_ref(&a.query)) {
                        Ok(mut v) => Some(QueryVector {
                            model: e.model().to_string(),
                            vec: v.pop().unwrap_or_default(),
                        }),
                        Err(err) => {
                            warn(ctx, &format!("{err}; searching full text only"));
                            None
                        }
                    }
                }
            };
            let hits = memory::search(&journal, &a.query, a.k, &kinds, qv.as_ref())?;
            if a.json {
                ui::print_json(&Json::Array(hits.iter().map(hit_json).collect()));
                return Ok(Exit::Ok);
            }
            if hits.is_empty() {
                ui::println("no memory matches");
                return Ok(Exit::Ok);
            }
            ui::print(&render_docs(ctx, hits.iter().map(|h| &h.doc)));
            Ok(Exit::Ok)
        }
        MemoryCommand::Forget(a) => {
            let mut journal = ctx.journal()?;
            let doc = journal.forget_note(a.id)?;
            ui::println(&format!(
                "memory {} forgotten: {}",
                doc.id,
                crate::connectors::truncate_line(&doc.text, 60)
            ));
            Ok(Exit::Ok)
        }
        MemoryCommand::List(a) => {
            let journal = ctx.reader()?;
            let tag = a.tag.as_deref().map(str::trim).filter(|t| !t.is_empty());
            let notes = journal.notes(tag)?;
            if a.json {
                ui::print_json(&Json::Array(notes.iter().map(doc_json).collect()));
            } else if notes.is_empty() {
                ui::println(&match tag {
                    Some(t) => format!("no notes tagged `{t}`"),
                    None => {
                        "no notes yet; add one with: aios memory add \"what to remember\"".into()
                    }
                });
            } else {
                ui::print(&render_docs(ctx, notes.iter()));
            }
            Ok(Exit::Ok)
        }
        MemoryCommand::Import(a) => {
            let notes = read_jsonl(&a.file)?;
            let embedder = embedder(ctx, &ctx.secrets()?)?;
            let mut journal = ctx.journal()?;
            let ids = journal.add_notes(&notes)?;
            if let Some(e) = &embedder {
                backfill(ctx, &mut journal, e);
            }
            if a.json {
                ui::print_json(&json!(ids));
            } else {
                ui::println(&format!(
                    "imported {} from {}",
                    crate::text::count(ids.len(), "note"),
                    a.file.display()
                ));
            }
            Ok(Exit::Ok)
        }
    }
}

fn clean_tags(tags: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        let t = t.trim().to_string();
        if !t.is_empty() && !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// The embedder, when `[embeddings]` is configured. The API key is read from the
/// variable the section names (never from the file).
pub(crate) fn embedder(ctx: &Ctx, secrets: &Secrets) -> Result<Option<Embedder>, Error> {
    let Some(cfg) = EmbeddingsConfig::from_config(&ctx.config()?)? else {
        return Ok(None);
    };
    let key = match &cfg.api_key_env {
        Some(var) => match ctx.key(var, secrets) {
            Some(v) => Some(v),
            None => {
                return Err(Error::invalid(format!(
                    "[embeddings] api_key_env names `{var}`, which is not set"
                ))
                .with_hint(format!(
                    "export {var}=..., or keep it with: aios secret set {var} (or remove api_key_env for a local server)"
                )));
            }
        },
        None => None,
    };
    Ok(Some(Embedder::new(cfg, key)))
}

/// Embed documents that have no vector yet; a failure is a warning (full text
/// keeps working, and they are embedded on a later command). True when all are.
fn backfill(ctx: &Ctx, journal: &mut Journal, e: &Embedder) -> bool {
    match memory::embed_missing(journal, e, BACKFILL) {
        Ok(_) => true,
        Err(err) => {
            warn(
                ctx,
                &format!("{err}; vectors will be added on a later command"),
            );
            false
        }
    }
}

fn note(ctx: &Ctx, msg: &str) {
    ui::eprint(&format!("{}\n", ctx.ui.err().dim(msg)));
}

fn warn(ctx: &Ctx, msg: &str) {
    ui::eprint(&format!("{} {msg}\n", ctx.ui.err().yellow("warning:")));
}

/// One line of `aios memory import`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportLine {
    text: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    source: Option<String>,
}

/// Read every line first: one bad line stops the import before anything is written.
fn read_jsonl(path: &Path) -> Result<Vec<NewNote>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let err = format!("cannot read {}: {e}", path.display());
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::not_found(err)
        } else {
            Error::invalid(err)
        }
    })?;
    let mut notes = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("{}:{}", path.display(), i + 1);
        let hint = "each line is one JSON object: {\"text\": \"...\", \"tags\": [\"...\"], \"source\": \"...\"}; nothing was imported";
        let l: ImportLine = serde_json::from_str(line)
            .map_err(|e| Error::invalid(format!("{at}: {e}")).with_hint(hint))?;
        if l.text.trim().is_empty() {
            return Err(Error::invalid(format!("{at}: `text` is empty")).with_hint(hint));
        }
        notes.push(NewNote {
            text: l.text.trim().to_string(),
            tags: clean_tags(l.tags),
            source: l
                .source
                .or_else(|| Some(format!("import {}", path.display()))),
        });
    }
    if notes.is_empty() {
        return Err(Error::invalid(format!("{} holds no notes", path.display()))
            .with_hint("each line is one JSON object: {\"text\": \"...\"}"));
    }
    Ok(notes)
}

/// The JSON form of a listed note (scripting interface).
fn doc_json(d: &DocRecord) -> Json {
    json!({
        "id": d.id,
        "kind": d.kind,
        "text": d.text,
        "tags": d.tags,
        "source": d.source,
        "run_id": d.run_id,
        "step_id": d.step_id,
        "workflow": d.workflow,
        "created_at": format_ms(d.created_at),
    })
}

/// The JSON form of a search result (scripting interface): the note's, then its
/// ranks.
fn hit_json(h: &Hit) -> Json {
    let mut j = doc_json(&h.doc);
    j["score"] = json!(h.score);
    j["fts_rank"] = json!(h.fts_rank);
    j["vector_rank"] = json!(h.vector_rank);
    j
}

fn render_docs<'a>(ctx: &Ctx, docs: impl Iterator<Item = &'a DocRecord>) -> String {
    let s = ctx.ui.out();
    let mut out = String::new();
    for d in docs {
        let mut meta = vec![d.kind.clone()];
        if let (Some(r), Some(w)) = (d.run_id, &d.workflow) {
            meta.push(match &d.step_id {
                Some(st) => format!("run {r} ({w}/{st})"),
                None => format!("run {r} ({w})"),
            });
        }
        if !d.tags.is_empty() {
            meta.push(d.tags.join(", "));
        }
        meta.push(format_ms(d.created_at));
        out.push_str(&format!(
            "{} {}\n",
            s.bold(&format!("{:>5}", d.id)),
            s.dim(&meta.join(" · "))
        ));
        for line in d.text.lines() {
            out.push_str(&format!("       {line}\n"));
        }
    }
    out
}
