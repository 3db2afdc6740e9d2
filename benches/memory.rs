//! Memory benchmark: search over 100,000 notes, in process, through the library's
//! own API (`memory::search` on an open journal, as the CLI and the agent step use it).
//!
//! Run it with `cargo bench --bench memory` (a few minutes: building the corpus is
//! most of it), or `cargo bench --bench memory -- --quick` (20,000 notes).
//!
//! The corpus is synthetic and deterministic (a fixed-seed xorshift): notes of 8 to
//! 30 words drawn with a Zipf-like skew from a 20,000-word vocabulary, each with one
//! 384-dimension unit vector around one of 1,000 cluster centres. Queries are 2 to 4
//! words of the vocabulary, and for vector search a perturbed copy of a note's vector.
//!
//! Reported: the median and p95 of full-text top-10 and hybrid top-10 (full text +
//! vectors fused by reciprocal rank fusion) over 200 queries each after 20 warm-ups;
//! recall@10 of the vector ranking (two-pass: sign sketch, then exact cosine) against
//! exact brute-force cosine; and the cost of adding one note (its own transaction)
//! at growing sizes, to show it does not grow with n. Targets: full-text median
//! under 10 ms, hybrid median under 50 ms. Missed targets are FAIL lines; the exit
//! code is non-zero only when the bench itself could not run.

use std::time::{Duration, Instant};

use aios::clock::Clock;
use aios::journal::{Journal, NewNote, OpenOptions, VectorRow};
use aios::memory::{self, QueryVector, vector};

const DIM: usize = 384;
const CLUSTERS: usize = 1000;
const VOCAB: usize = 20_000;
const QUERIES: usize = 200;
const WARMUPS: usize = 20;
const TARGET_FTS: Duration = Duration::from_millis(10);
const TARGET_HYBRID: Duration = Duration::from_millis(50);

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Roughly normal (sum of uniforms).
    fn gauss(&mut self) -> f32 {
        let mut s = 0.0;
        for _ in 0..4 {
            s += (self.next() >> 11) as f32 / (1u64 << 53) as f32;
        }
        (s - 2.0) * 1.7
    }

    /// A Zipf-like word index: small indices are much more frequent.
    fn word(&mut self) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((VOCAB as f64).powf(u) as usize)
            .saturating_sub(1)
            .min(VOCAB - 1)
    }
}

fn word(i: usize) -> String {
    const SYL: &[&str] = &[
        "ka", "lo", "mi", "ren", "sto", "va", "qui", "dor", "pe", "zu", "bri", "tan", "el", "os",
        "fa", "nu",
    ];
    let mut s = String::new();
    let mut n = i + 1;
    while n > 0 {
        s.push_str(SYL[n % SYL.len()]);
        n /= SYL.len();
    }
    s
}

fn unit(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

fn main() {
    if let Err(e) = bench() {
        eprintln!("memory bench FAILED: {e}");
        std::process::exit(1);
    }
}

fn bench() -> Result<(), String> {
    let quick = std::env::args().any(|a| a == "--quick");
    let n: usize = if quick { 20_000 } else { 100_000 };
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut j = Journal::open(
        &dir.path().join("aios.db"),
        Clock::System,
        OpenOptions::default(),
    )
    .map_err(|e| e.to_string())?;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let centres: Vec<Vec<f32>> = (0..CLUSTERS)
        .map(|_| {
            let mut v: Vec<f32> = (0..DIM).map(|_| rng.gauss()).collect();
            unit(&mut v);
            v
        })
        .collect();

    // Build the corpus in batches, timing single-note inserts as it grows.
    let mut all_vecs: Vec<(i64, Vec<f32>)> = Vec::with_capacity(n);
    let mut insert_rows: Vec<(usize, Duration)> = Vec::new();
    let checkpoints: Vec<usize> = [1_000, 10_000, 50_000, 100_000]
        .into_iter()
        .filter(|c| *c <= n)
        .collect();
    let build = Instant::now();
    let batch = 5_000;
    let mut made = 0;
    while made < n {
        let size = batch.min(n - made);
        let notes: Vec<NewNote> = (0..size)
            .map(|_| {
                let len = 8 + rng.below(23);
                let text = (0..len)
                    .map(|_| word(rng.word()))
                    .collect::<Vec<_>>()
                    .join(" ");
                NewNote {
                    text,
                    tags: vec![format!("customer:{}", word(rng.below(500)))],
                    source: None,
                }
            })
            .collect();
        let ids = j.add_notes(&notes).map_err(|e| e.to_string())?;
        let rows: Vec<VectorRow> = ids
            .iter()
            .map(|id| {
                let c = &centres[rng.below(CLUSTERS)];
                let mut v: Vec<f32> = c.iter().map(|x| x + 0.04 * rng.gauss()).collect();
                unit(&mut v);
                all_vecs.push((*id, v.clone()));
                VectorRow {
                    doc: *id,
                    model: "bench-384".into(),
                    sketch: vector::sketch(&v),
                    vec: v,
                }
            })
            .collect();
        j.put_vectors(&rows).map_err(|e| e.to_string())?;
        made += size;
        // Single inserts at the checkpoints this batch crossed (or reached).
        for c in &checkpoints {
            if made >= *c && made - size < *c {
                let mut times = Vec::new();
                for i in 0..200 {
                    let note = NewNote {
                        text: format!("probe note {i} {}", word(rng.word())),
                        tags: vec![],
                        source: None,
                    };
                    let t = Instant::now();
                    j.add_notes(std::slice::from_ref(&note))
                        .map_err(|e| e.to_string())?;
                    times.push(t.elapsed());
                }
                times.sort();
                insert_rows.push((made, percentile(&times, 0.5)));
            }
        }
    }
    let build_time = build.elapsed();

    // Queries.
    let queries: Vec<(String, QueryVector, Vec<f32>)> = (0..QUERIES + WARMUPS)
        .map(|_| {
            let words = 2 + rng.below(3);
            let text = (0..words)
                .map(|_| word(rng.word()))
                .collect::<Vec<_>>()
                .join(" ");
            let (_, base) = &all_vecs[rng.below(all_vecs.len())];
            let mut v: Vec<f32> = base.iter().map(|x| x + 0.02 * rng.gauss()).collect();
            unit(&mut v);
            (
                text,
                QueryVector {
                    model: "bench-384".into(),
                    vec: v.clone(),
                },
                v,
            )
        })
        .collect();

    let time_all = |hybrid: bool| -> Result<(Vec<Duration>, usize), String> {
        let mut times = Vec::with_capacity(QUERIES);
        let mut results = 0;
        for (i, (text, qv, _)) in queries.iter().enumerate() {
            let t = Instant::now();
            let hits = memory::search(&j, text, 10, &[], hybrid.then_some(qv))
                .map_err(|e| e.to_string())?;
            let took = t.elapsed();
            if i >= WARMUPS {
                times.push(took);
                results += hits.len();
            }
        }
        times.sort();
        Ok((times, results))
    };
    let (fts, fts_results) = time_all(false)?;
    let (hybrid, hybrid_results) = time_all(true)?;

    // Recall@10 of the vector ranking against exact brute force (on 50 queries).
    let mut recall_sum = 0.0;
    let recall_queries = 50;
    for (_, qv, v) in queries.iter().skip(WARMUPS).take(recall_queries) {
        let mut exact: Vec<(f32, i64)> = all_vecs
            .iter()
            .map(|(id, x)| (vector::cosine(v, x), *id))
            .collect();
        exact.sort_by(|a, b| b.0.total_cmp(&a.0));
        let truth: Vec<i64> = exact.iter().take(10).map(|(_, id)| *id).collect();
        let got = memory::search(&j, "", 10, &[], Some(qv)).map_err(|e| e.to_string())?;
        let hit = got.iter().filter(|h| truth.contains(&h.doc.id)).count();
        recall_sum += hit as f64 / 10.0;
    }
    let recall = recall_sum / recall_queries as f64;
    let db_bytes = std::fs::metadata(dir.path().join("aios.db"))
        .map(|m| m.len())
        .unwrap_or(0)
        + std::fs::metadata(dir.path().join("aios.db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);

    if fts_results == 0 || hybrid_results == 0 {
        return Err("searches returned nothing: the corpus or the index is broken".into());
    }

    println!("## memory search, {n} notes, {DIM}-dimension vectors\n");
    println!(
        "corpus built in {:.1} s; database {:.0} MB; {QUERIES} queries after {WARMUPS} warm-ups\n",
        build_time.as_secs_f64(),
        db_bytes as f64 / 1e6
    );
    println!("| search (top 10) | median | p95 | target |");
    println!("|---|---:|---:|---|");
    let fm = percentile(&fts, 0.5);
    let hm = percentile(&hybrid, 0.5);
    println!(
        "| full text (FTS5, bm25) | {} | {} | < 10 ms {} |",
        ms(fm),
        ms(percentile(&fts, 0.95)),
        verdict(fm < TARGET_FTS)
    );
    println!(
        "| hybrid (FTS5 + vectors, RRF) | {} | {} | < 50 ms {} |",
        ms(hm),
        ms(percentile(&hybrid, 0.95)),
        verdict(hm < TARGET_HYBRID)
    );
    println!("\nvector ranking recall@10 against exact cosine: {recall:.3}\n");
    println!("| notes in memory | add one note (own transaction), median |");
    println!("|---:|---:|");
    for (size, d) in &insert_rows {
        println!("| {size} | {:.1} µs |", d.as_secs_f64() * 1e6);
    }
    Ok(())
}
