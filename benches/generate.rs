//! Generation throughput: for structure rows sampled from GaussianCopula fitted on the
//! seed corpus (constraint-checked, as the pipeline feeds them), token selection + AST
//! assembly + question, and the same followed by scoring with the five metrics.
//! One thread; samples per second.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sqlsynth::assemble::PostgisAssembler;
use sqlsynth::select::PackSelector;
use sqlsynth::synth::{GaussianCopula, GaussianCopulaParams};
use sqlsynth::{
    Assembler, Candidate, SchemaPack, Structure, Synthesizer, TokenSelector, Validator,
};

fn rows(pack: &SchemaPack, n: usize) -> Vec<Structure> {
    let table = sqlsynth_benches::seed_feature_table(pack);
    let model = GaussianCopula::new(GaussianCopulaParams::default())
        .unwrap()
        .fit(&table)
        .unwrap();
    model
        .sample_n(40 * n as u64, 42)
        .iter()
        .filter_map(|r| Structure::from_row(r).ok())
        .filter(|s| s.violation().is_none())
        .take(n)
        .collect()
}

fn generate(c: &mut Criterion) {
    let pack = SchemaPack::default_pack();
    let rows = rows(&pack, 1000);
    let selector = PackSelector::new(&pack);
    let validator = Validator::new(&pack);
    let mut group = c.benchmark_group("generate");
    group.throughput(Throughput::Elements(rows.len() as u64));
    group.bench_function("select_assemble", |b| {
        b.iter(|| {
            let mut bytes = 0usize;
            for (i, row) in rows.iter().enumerate() {
                let mut rng = sqlsynth::rng::stream(42, sqlsynth::rng::SELECT, i as u64);
                let plan = selector.select(&pack, row, &mut rng).unwrap();
                // A plan whose question would say one thing twice is dropped, as a run does.
                if let Ok(a) = PostgisAssembler.assemble(&pack, &plan) {
                    bytes += a.sql.len();
                }
            }
            bytes
        })
    });
    group.bench_function("select_assemble_score", |b| {
        b.iter(|| {
            let mut valid = 0usize;
            for (i, row) in rows.iter().enumerate() {
                let mut rng = sqlsynth::rng::stream(42, sqlsynth::rng::SELECT, i as u64);
                let plan = selector.select(&pack, row, &mut rng).unwrap();
                let Ok(a) = PostgisAssembler.assemble(&pack, &plan) else {
                    continue;
                };
                let report = validator.validate_candidate(&Candidate {
                    sql: a.sql,
                    question: Some(a.question),
                    requested: Some(row.clone()),
                });
                valid += usize::from(report.valid);
            }
            valid
        })
    });
    group.finish();
}

criterion_group!(benches, generate);
criterion_main!(benches);
