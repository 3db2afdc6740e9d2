//! Copying an SQLite journal into PostgreSQL (`aios migrate --to postgres://…`): the
//! event log first, in the order it was written (run 0's events of no run
//! included), each event appended and projected by this backend's own `append` and
//! `apply` (the code a live run commits through), then the schedules' log, the
//! breakers', the mail watches' and the notifications' through theirs; the records
//! that are not events (workflow sources, webhooks, heartbeats, rate-limit turns,
//! notes added by hand with their ids, embeddings moved to their document's id in
//! the copy) copied as they are. Memory's document ids are moved past SQLite's
//! highest before the replay, so the decisions and outcomes it indexes never take a
//! note's id; every other id sequence is moved past the copied ids after it. The
//! projections rebuilt that way are then compared with the SQLite journal's, as
//! `aios replay` compares (`journal::export::COMPARED`, and the embeddings).
//!
//! All of it is one transaction: a record that cannot be inserted, a difference in
//! the comparison or any error rolls it back, and the target holds no copied
//! record. A target that already holds something is refused unless forced; forced,
//! the aios journal there is replaced in that same transaction (other tables are
//! left alone). The SQLite journal is only read.

use std::time::Duration;

use postgres::{Client, GenericClient, NoTls, Transaction};
use serde::Serialize;
use serde_json::Value as Json;

use super::import_concerns::{compare_vectors, copy_memory, replay_log};
use super::project::{append, apply};
use super::{MIGRATIONS, PgPool, redact};
use crate::error::{Error, Result};
use crate::journal::SqliteJournal;
use crate::journal::export::{COMPARED, Compared, Export, LOGS, normalise};

/// What a target database holds before a copy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TargetContents {
    /// aios's tables that hold rows: (table, rows).
    pub journal: Vec<(String, i64)>,
    /// Tables aios did not create.
    pub other_tables: Vec<String>,
}

impl TargetContents {
    pub fn is_empty(&self) -> bool {
        self.journal.is_empty() && self.other_tables.is_empty()
    }

    /// What is there, in words: "an aios journal (12 events, 2 runs) and 1 table
    /// aios did not create (invoices)".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.journal.is_empty() {
            let rows: Vec<String> = self
                .journal
                .iter()
                .map(|(t, n)| format!("{n} {t}"))
                .collect();
            parts.push(format!("an aios journal ({})", rows.join(", ")));
        }
        if !self.other_tables.is_empty() {
            parts.push(format!(
                "{} aios did not create ({})",
                crate::text::count(self.other_tables.len(), "table"),
                self.other_tables.join(", ")
            ));
        }
        parts.join(" and ")
    }
}

/// How a copy goes.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Copy into a database that is not empty, replacing the aios journal there.
    pub force: bool,
    /// Copy runs that are still running or leased, as they stand.
    pub allow_active: bool,
    /// Call the progress callback every this many events (0: never).
    pub progress_every: u64,
}

/// Rows (or events) on each side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    pub name: String,
    pub sqlite: i64,
    pub postgres: i64,
}

/// What a copy did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// The target, its password hidden.
    pub to: String,
    pub runs: i64,
    pub events: i64,
    /// Rows per table: the event logs, then each compared projection.
    pub tables: Vec<Count>,
    /// Events per type.
    pub events_by_kind: Vec<Count>,
    /// Where the rebuilt projections differ from SQLite's (then nothing was copied).
    pub differences: Vec<String>,
    /// What the target held and the copy replaced (`force`).
    pub replaced: Option<TargetContents>,
    /// Whether the copy was committed (no differences).
    pub committed: bool,
}

/// The advisory lock a copy holds for its transaction ("aios" + "migr" in ASCII).
const IMPORT_LOCK: i64 = 0x6169_6f73_6d69_6772;

/// aios's tables on PostgreSQL: every table its migrations create.
fn aios_tables() -> Vec<&'static str> {
    let mut out = Vec::new();
    for (_, text) in MIGRATIONS {
        let mut rest = *text;
        while let Some(i) = rest.find("CREATE TABLE ") {
            rest = &rest[i + "CREATE TABLE ".len()..];
            let name = rest
                .split(|c: char| c.is_whitespace() || c == '(')
                .next()
                .unwrap_or("");
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

/// What the database `client` is connected to holds.
pub fn inspect(client: &mut impl GenericClient) -> Result<TargetContents> {
    let tables: Vec<String> = client
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
            &[],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let ours = aios_tables();
    let mut found = TargetContents::default();
    for t in tables {
        if t == "aios_migrations" {
            continue;
        }
        if let Some(name) = ours.iter().find(|o| **o == t) {
            let n: i64 = client
                .query_one(&format!("SELECT count(*) FROM {name}"), &[])?
                .get(0);
            if n > 0 {
                found.journal.push((t, n));
            }
        } else {
            found.other_tables.push(t);
        }
    }
    Ok(found)
}

/// The hint of every failure to reach or use the target.
fn target_hint(url: &str) -> String {
    format!(
        "check that the server at {} runs and that the user, password and database in --to are right (create the database first: createdb); nothing was copied",
        redact(url)
    )
}

/// Connect to the target to look at it (a short timeout: an unreachable server is
/// reported, not waited for).
fn probe(url: &str) -> Result<Client> {
    let mut config: postgres::Config = url.parse().map_err(|e| {
        Error::invalid(format!(
            "`{}` is not a valid PostgreSQL URL: {e}",
            redact(url)
        ))
        .with_hint("write it as postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
    })?;
    config.connect_timeout(Duration::from_secs(10));
    config.connect(NoTls).map_err(|e| {
        let mut e = Error::from(e);
        e.hint = Some(target_hint(url));
        e
    })
}

/// Copy the journal `src` into the PostgreSQL database at `url`; `progress` is
/// called with (events copied, events in all) as the copy starts (0 copied), then
/// every `opts.progress_every` events.
pub fn import(
    src: &SqliteJournal,
    url: &str,
    opts: &ImportOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ImportReport> {
    if !super::is_postgres_url(url) {
        return Err(
            Error::invalid(format!("`{}` is not a PostgreSQL URL", redact(url)))
                .with_hint("write it as postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE"),
        );
    }
    let ex = Export::new(src)?;
    if !opts.allow_active {
        let active = ex.active_runs(src.now())?;
        if !active.is_empty() {
            let list: Vec<String> = active
                .iter()
                .map(|(id, holder)| match holder {
                    Some(h) => format!("run {id} (executed by process {h})"),
                    None => format!("run {id}"),
                })
                .collect();
            return Err(Error::conflict(format!(
                "{} still running: {}; nothing was copied",
                crate::text::noun(active.len(), "a run is", "runs are"),
                list.join(", ")
            ))
            .with_hint("stop `aios daemon` and `aios serve` and wait for the runs to stop (aios runs --status running), or copy them as they stand with --allow-active"));
        }
    }

    let before = inspect(&mut probe(url)?)?;
    if !before.is_empty() && !opts.force {
        return Err(Error::conflict(format!(
            "the database {} is not empty: it holds {}",
            redact(url),
            before.describe()
        ))
        .with_hint("migrate into a new database (createdb), or add --force to replace the aios journal there (other tables are left alone)"));
    }

    let pool = PgPool::connect(url).map_err(|mut e| {
        e.hint = Some(target_hint(url));
        e
    })?;
    let journal = pool.journal(src.clock())?;
    let mut conn = journal.conn();
    let mut tx = super::begin(&mut conn)?;
    // Two copies into one database take turns here; the second sees what the first
    // committed (the look above was outside any transaction) and stops unless --force.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&IMPORT_LOCK])?;
    let before = inspect(&mut *tx)?;
    if !before.is_empty() && !opts.force {
        return Err(Error::conflict(format!(
            "the database {} is not empty any more: another copy wrote into it meanwhile ({}); nothing was copied",
            redact(url),
            before.describe()
        ))
        .with_hint("migrate into a new database (createdb), or add --force to replace the aios journal there (other tables are left alone)"));
    }
    let replaced = if before.journal.is_empty() {
        None
    } else {
        tx.batch_execute(&format!(
            "TRUNCATE {} RESTART IDENTITY",
            aios_tables().join(", ")
        ))?;
        Some(before.clone())
    };

    copy_rows(&mut tx, &ex, "sources", &["hash", "text"])?;
    // Decisions and outcomes indexed by the replay take ids after every id SQLite's
    // memory gave out, so they never collide with a note's (notes keep theirs).
    let last_doc = ex.last_doc_id()?;
    tx.execute(
        "SELECT setval('memory_doc_ids', greatest($1::BIGINT, 1), $1::BIGINT > 0)",
        &[&last_doc],
    )?;
    let kinds = ex.event_kinds()?;
    let total: i64 = kinds.iter().map(|(_, n)| n).sum();
    progress(0, total as u64);
    let mut done = 0u64;
    ex.for_each_event(|e| {
        let copied = append(&mut tx, e.run_id, &e.event, e.at)
            .and_then(|_| apply(&mut tx, e.run_id, &e.event, e.at));
        if let Err(mut err) = copied {
            err.message = format!(
                "{} (event {} of the journal, `{}` of {}): nothing was copied",
                err.message,
                e.seq,
                e.event.type_name(),
                if e.run_id == 0 {
                    "no run".to_string()
                } else {
                    format!("run {}", e.run_id)
                }
            );
            return Err(err);
        }
        done += 1;
        if opts.progress_every > 0 && done.is_multiple_of(opts.progress_every) {
            progress(done, total as u64);
        }
        Ok(())
    })?;
    for (name, ev, at) in ex.schedule_events()? {
        super::schedule::record(&mut tx, &name, &ev, at)?;
    }
    copy_rows(
        &mut tx,
        &ex,
        "hooks",
        &[
            "name",
            "path",
            "dir",
            "source_hash",
            "created_at",
            "updated_at",
            "format",
            "payload",
            "tolerance_s",
        ],
    )?;
    copy_rows(&mut tx, &ex, "heartbeats", &["name", "at", "by", "detail"])?;
    copy_rows(&mut tx, &ex, "rate_grants", &["target", "at"])?;
    // Runs queued for workers (copied with --allow-active) stay queued, unclaimed: a
    // claim belonged to a worker of the SQLite journal.
    tx.execute(
        "INSERT INTO work (run_id, tags, queued_at, attempts)
         SELECT run_id, string_to_array(tags, ','), queued_at, attempts
         FROM json_to_recordset($1::TEXT::JSON) AS w(run_id BIGINT, tags TEXT, queued_at BIGINT, attempts INTEGER)",
        &[&ex.rows("work", &["run_id", "tags", "queued_at", "attempts"])?],
    )?;
    let mut logs = Vec::new();
    for (table, key) in LOGS {
        let events = ex.log(table, key)?;
        logs.push((*table, events.len() as i64));
        replay_log(&mut tx, table, events)?;
    }
    copy_memory(&mut tx, &ex)?;
    // New ids continue after the copied ones (and after pruned dry runs' ids).
    tx.execute(
        "SELECT setval('run_ids', greatest(m, 1), m > 0)
         FROM (SELECT greatest(coalesce(max(id), 0), $1::BIGINT) AS m FROM runs) s",
        &[&ex.last_pruned_run()?],
    )?;
    tx.execute(
        "SELECT setval('notification_ids', greatest(m, 1), m > 0)
         FROM (SELECT coalesce(max(id), 0) AS m FROM notifications) s",
        &[],
    )?;
    tx.execute(
        "SELECT setval('inbox_ids', greatest(m, 1), m > 0)
         FROM (SELECT greatest((SELECT coalesce(max(id), 0) FROM proposals),
                               (SELECT coalesce(max(id), 0) FROM notices)) AS m) s",
        &[],
    )?;

    let mut differences = Vec::new();
    let mut tables = Vec::new();
    let target_kinds: Vec<(String, i64)> = tx
        .query(
            "SELECT type, count(*) FROM events GROUP BY type ORDER BY type",
            &[],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let events_by_kind = counts(&kinds, &target_kinds);
    for c in &events_by_kind {
        if c.sqlite != c.postgres {
            differences.push(format!(
                "events `{}`: {} in SQLite, {} on PostgreSQL",
                c.name, c.sqlite, c.postgres
            ));
        }
    }
    let target_events: i64 = target_kinds.iter().map(|(_, n)| n).sum();
    tables.push(Count {
        name: "events".into(),
        sqlite: total,
        postgres: target_events,
    });
    let schedule_events: i64 = tx
        .query_one("SELECT count(*) FROM schedule_events", &[])?
        .get(0);
    tables.push(Count {
        name: "schedule_events".into(),
        sqlite: ex.schedule_events()?.len() as i64,
        postgres: schedule_events,
    });
    for (table, sqlite) in logs {
        let postgres: i64 = tx
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])?
            .get(0);
        if sqlite != postgres {
            differences.push(format!(
                "{table}: {sqlite} in SQLite, {postgres} on PostgreSQL"
            ));
        }
        tables.push(Count {
            name: table.into(),
            sqlite,
            postgres,
        });
    }
    for c in COMPARED {
        let a = ex.snapshot(c)?;
        let b = snapshot(&mut tx, c)?;
        tables.push(Count {
            name: c.table.into(),
            sqlite: a.len() as i64,
            postgres: b.len() as i64,
        });
        compare(c.table, &a, &b, &mut differences);
    }
    let runs = tables
        .iter()
        .find(|t| t.name == "runs")
        .map_or(0, |t| t.sqlite);
    compare_vectors(&mut tx, &ex, &mut tables, &mut differences)?;
    let committed = differences.is_empty();
    if committed {
        tx.commit()?;
    }
    Ok(ImportReport {
        to: redact(url),
        runs,
        events: total,
        tables,
        events_by_kind,
        differences,
        replaced,
        committed,
    })
}

/// Copy `table`'s rows as they are (a record that is not an event).
fn copy_rows(tx: &mut Transaction<'_>, ex: &Export<'_>, table: &str, cols: &[&str]) -> Result<()> {
    let rows = ex.rows(table, cols)?;
    let cols = cols.join(", ");
    tx.execute(
        &format!(
            "INSERT INTO {table} ({cols}) SELECT {cols} FROM json_populate_recordset(NULL::{table}, $1::TEXT::JSON)"
        ),
        &[&rows],
    )?;
    Ok(())
}

fn counts(a: &[(String, i64)], b: &[(String, i64)]) -> Vec<Count> {
    let mut names: Vec<&String> = a.iter().chain(b).map(|(n, _)| n).collect();
    names.sort();
    names.dedup();
    let of = |v: &[(String, i64)], n: &str| v.iter().find(|(k, _)| k == n).map_or(0, |(_, c)| *c);
    names
        .into_iter()
        .map(|n| Count {
            name: n.clone(),
            sqlite: of(a, n),
            postgres: of(b, n),
        })
        .collect()
}

/// A compared projection's rows on PostgreSQL, normalised and ordered as
/// `Export::snapshot` orders SQLite's.
fn snapshot(tx: &mut Transaction<'_>, c: &Compared) -> Result<Vec<Json>> {
    let sql = match c.order {
        Some(order) => format!(
            "SELECT json_build_array({})::TEXT FROM {} ORDER BY {order}",
            c.columns, c.table
        ),
        None => format!(
            "SELECT json_build_array({})::TEXT FROM {}",
            c.columns, c.table
        ),
    };
    let mut out = Vec::new();
    for r in tx.query(&sql, &[])? {
        let text: String = r.get(0);
        out.push(normalise(serde_json::from_str(&text)?));
    }
    if c.order.is_none() {
        out.sort_by_cached_key(|r| r.to_string());
    }
    Ok(out)
}

/// The differences between `table`'s rows in SQLite (`a`) and on PostgreSQL (`b`);
/// at most five differing rows are named.
fn compare(table: &str, a: &[Json], b: &[Json], out: &mut Vec<String>) {
    if a.len() != b.len() {
        out.push(format!(
            "{table}: {} in SQLite, {} on PostgreSQL",
            crate::text::count(a.len(), "row"),
            b.len()
        ));
    }
    for (x, y) in a.iter().zip(b).filter(|(x, y)| x != y).take(5) {
        out.push(format!(
            "{table}: SQLite     {x}\n{:>w$}PostgreSQL {y}",
            "",
            w = table.len() + 2
        ));
    }
}
