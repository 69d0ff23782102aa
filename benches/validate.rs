//! Validator throughput: parse + resolve + type-check + five metrics, per query.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sqlsynth::{SchemaPack, Validator};
use sqlsynth_benches::typical_queries;

fn validate(c: &mut Criterion) {
    let pack = SchemaPack::default_pack();
    let validator = Validator::new(&pack);
    let queries = typical_queries();
    let mut group = c.benchmark_group("validate");
    group.throughput(Throughput::Elements(queries.len() as u64));
    group.bench_function("seed_corpus", |b| {
        b.iter(|| {
            let mut valid = 0usize;
            for q in &queries {
                valid += usize::from(validator.validate(q).valid);
            }
            valid
        })
    });
    group.bench_function("parse_only", |b| {
        b.iter(|| {
            queries
                .iter()
                .map(|q| sqlsynth::sql::parse(q).map(|s| s.len()).unwrap_or(0))
                .sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, validate);
criterion_main!(benches);
