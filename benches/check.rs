//! `aios check` on hostile files of up to 10 MB: the report must stay bounded (the
//! first 50 problems, then a count) and every file must be checked in under 1 s and
//! 100 MB of memory. Runs the release binary on generated files (process start
//! included); prints a markdown table (median wall of 3 runs, peak RSS, bytes
//! printed) and PASS/FAIL per target.
//!
//! `cargo bench --bench check` (`-- --quick`: one run each).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

const MAX_WALL: Duration = Duration::from_secs(1);
const MAX_RSS_KIB: u64 = 100 * 1024;
const HEADER: &str = "name = \"x\"\n";

type Out<'a> = &'a mut dyn Write;

/// One step whose `needs` holds `n` items made by `item`.
fn needs_of(w: Out<'_>, n: usize, item: impl Fn(usize) -> String) {
    write!(
        w,
        "{HEADER}[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = {{ a = 1 }}\nneeds = ["
    )
    .unwrap();
    for i in 0..n {
        if i > 0 {
            w.write_all(b",").unwrap();
        }
        w.write_all(item(i).as_bytes()).unwrap();
    }
    w.write_all(b"]\n").unwrap();
}

/// `n` steps written by `step(i)`.
fn steps(w: Out<'_>, n: usize, step: impl Fn(usize) -> String) {
    w.write_all(HEADER.as_bytes()).unwrap();
    for i in 0..n {
        w.write_all(step(i).as_bytes()).unwrap();
    }
}

fn chained(i: usize, body: &str) -> String {
    let needs = if i > 0 {
        format!("needs = [\"s{}\"]\n", i - 1)
    } else {
        String::new()
    };
    format!("[[steps]]\nid = \"s{i}\"\nkind = \"set\"\n{needs}values = {{ v = \"{body}\" }}\n")
}

/// A case: what it is, and how to write its file. Files are written as a stream:
/// the bench process stays small, so a child's peak RSS (which starts from its
/// parent's when it is spawned) is its own.
type Case = (&'static str, fn(Out<'_>));

const CASES: &[Case] = &[
    (
        "needs = [1,1,…], 20,000 wrong elements (40 KB; was 9.6 s, 2.6 GB)",
        |w| needs_of(w, 20_000, |_| "1".into()),
    ),
    (
        "needs = [1,1,…], 5,000,000 elements (10 MB, over the token limit)",
        |w| needs_of(w, 5_000_000, |_| "1".into()),
    ),
    ("needs of 240,000 unknown 40-character ids", |w| {
        needs_of(w, 240_000, |i| format!("\"s{i:038}\""))
    }),
    ("80,000 unknown 121-character keys in a step", |w| {
        write!(
            w,
            "{HEADER}[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = {{ a = 1 }}\n"
        )
        .unwrap();
        for i in 0..80_000 {
            writeln!(w, "k{i:0120} = 1").unwrap();
        }
    }),
    ("one 10 MB string", |w| {
        write!(
            w,
            "{HEADER}[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = {{ a = \""
        )
        .unwrap();
        for _ in 0..10_000 {
            w.write_all(&[b'x'; 1000]).unwrap();
        }
        w.write_all(b"\" }\n").unwrap();
    }),
    ("70,000 templates reading unknown inputs", |w| {
        write!(
            w,
            "{HEADER}[[steps]]\nid = \"a\"\nkind = \"set\"\nvalues = {{ "
        )
        .unwrap();
        for i in 0..70_000 {
            let sep = if i > 0 { ", " } else { "" };
            write!(
                w,
                "{sep}k{i} = \"{{{{ inputs.nope{i} ~ '{}' }}}}\"",
                "y".repeat(100)
            )
            .unwrap();
        }
        w.write_all(b" }\n").unwrap();
    }),
    ("12,000 valid steps, a chain", |w| {
        steps(w, 12_000, |i| chained(i, &"x".repeat(800)))
    }),
    ("12,000 steps in one dependency cycle", |w| {
        steps(w, 12_000, |i| {
            format!(
                "[[steps]]\nid = \"s{i}\"\nkind = \"set\"\nneeds = [\"s{}\"]\nvalues = {{ v = \"{}\" }}\n",
                (i + 1) % 12_000,
                "x".repeat(800)
            )
        })
    }),
    ("12,000 steps reading steps they do not need", |w| {
        steps(w, 12_000, |i| {
            format!(
                "[[steps]]\nid = \"s{i}\"\nkind = \"set\"\nvalues = {{ v = \"{{{{ steps.s{}.output.v }}}}{}\" }}\n",
                (i * 7919) % 12_000,
                "z".repeat(780)
            )
        })
    }),
    (
        "4,000 chained steps, each template reading the 100 before",
        |w| {
            steps(w, 4_000, |i| {
                let reads: Vec<String> = (i.saturating_sub(100)..i)
                    .map(|j| format!("{{{{steps.s{j}.output.v}}}}"))
                    .collect();
                chained(i, &reads.join(" "))
            })
        },
    ),
];

/// One `aios check FILE`: wall time, peak RSS (KiB), bytes printed, exit code.
// The child is reaped by `wait4` (for its peak RSS), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
fn check(bin: &Path, file: &Path, out: &Path) -> (Duration, u64, u64, Option<i32>) {
    let sink = std::fs::File::create(out).expect("output file");
    let start = Instant::now();
    let child = Command::new(bin)
        .arg("check")
        .arg(file)
        .env_clear()
        .env("AIOS_HOME", file.parent().unwrap())
        .stdout(sink.try_clone().unwrap())
        .stderr(sink)
        .stdin(Stdio::null())
        .spawn()
        .expect("run aios");
    let (status, rss, _) = common::wait4(child.id()).unwrap_or_else(|e| panic!("{e}"));
    let took = start.elapsed();
    let printed = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    (took, rss, printed, status.code())
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let runs = if quick { 1 } else { 3 };
    let bin = common::aios_binary().unwrap_or_else(|e| panic!("{e}"));
    let dir = std::env::temp_dir().join(format!("aios-bench-check-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    println!("| file | size | exit | median wall | peak RSS | printed | result |");
    println!("|---|---:|---:|---:|---:|---:|---|");
    let mut failed = 0;
    for (i, (what, write)) in CASES.iter().enumerate() {
        let file = dir.join(format!("case{i}.toml"));
        {
            let mut w = std::io::BufWriter::new(std::fs::File::create(&file).expect("case file"));
            write(&mut w);
            w.flush().expect("write case");
        }
        let size = std::fs::metadata(&file).expect("case file").len();
        let out = dir.join("out.txt");
        let mut walls = Vec::new();
        let (mut rss, mut printed, mut code) = (0, 0, None);
        for _ in 0..runs {
            let (w, r, p, c) = check(&bin, &file, &out);
            walls.push(w);
            rss = rss.max(r);
            (printed, code) = (p, c);
        }
        walls.sort();
        let wall = walls[walls.len() / 2];
        let ok = wall < MAX_WALL && rss < MAX_RSS_KIB && printed < 64 * 1024;
        failed += usize::from(!ok);
        println!(
            "| {what} | {:.1} MB | {} | {:.0} ms | {:.1} MiB | {:.1} KB | {} |",
            size as f64 / 1e6,
            code.map_or("-".into(), |c| c.to_string()),
            wall.as_secs_f64() * 1000.0,
            rss as f64 / 1024.0,
            printed as f64 / 1000.0,
            if ok { "PASS" } else { "FAIL" }
        );
        let _ = std::fs::remove_file(&file);
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "\ntargets: under {} ms, under {} MiB, under 64 KB printed; {} of {} cases failed",
        MAX_WALL.as_millis(),
        MAX_RSS_KIB / 1024,
        failed,
        CASES.len()
    );
}
