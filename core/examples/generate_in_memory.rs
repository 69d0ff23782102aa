//! Generate 1,000 records through the streaming API: nothing is written to disk; each
//! accepted record (the same struct as one line of `stage2.jsonl`) comes to the closure.
//!
//! `cargo run --release --example generate_in_memory [ROWS] [SEED]` (default 1,000 rows,
//! seed 7)

use std::collections::BTreeMap;

use sqlsynth::pipeline::{NoProgress, Pipeline};
use sqlsynth::SchemaPack;

// The allocator is the embedding program's choice. Generation makes and drops many small
// strings, so this example picks mimalloc, as the `sqlsynth` binary does: the two then
// run the same code with the same allocator (benches/README.md compares them).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows: u64 = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 1_000,
    };
    let seed: u64 = match std::env::args().nth(2) {
        Some(n) => n.parse()?,
        None => 7,
    };
    let pack = SchemaPack::default_pack();
    let pipeline = Pipeline::builder(&pack).rows(rows).seed(seed).build()?;
    let mut per_type: BTreeMap<String, usize> = BTreeMap::new();
    let mut first = None;
    let stats = pipeline.stream(&NoProgress, |record| {
        *per_type.entry(record.sql_type.clone()).or_default() += 1;
        first.get_or_insert(record);
        Ok(())
    })?;
    let first = first.expect("at least one record");
    println!("{}\n{}\n", first.question, first.sql_postgis);
    println!(
        "{} records from {} sampled rows in {:.2} s; mean quality {:.3}",
        stats.generation.accepted,
        stats.generation.sampled,
        stats.timings["total"],
        stats.generation.quality_mean
    );
    for (t, n) in per_type {
        println!("  {t:<20} {n}");
    }
    Ok(())
}
