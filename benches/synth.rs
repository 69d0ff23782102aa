//! GaussianCopula: fit on the seed corpus's feature table, and sampling throughput
//! (unconditional and with `sql_type` fixed).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sqlsynth::synth::{GaussianCopula, GaussianCopulaParams};
use sqlsynth::{FeatureValue, FittedSynthesizer, SampleRequest, SchemaPack, Synthesizer};
use sqlsynth_benches::seed_feature_table;

fn synth(c: &mut Criterion) {
    let pack = SchemaPack::default_pack();
    let table = seed_feature_table(&pack);
    let gc = GaussianCopula::new(GaussianCopulaParams::default()).unwrap();
    let mut group = c.benchmark_group("gaussian_copula");
    group.bench_function("fit_seed_corpus", |b| b.iter(|| gc.fit(&table).unwrap()));
    let model = gc.fit(&table).unwrap();
    let n = 100_000u64;
    group.throughput(Throughput::Elements(n));
    group.bench_function("sample_100k", |b| {
        b.iter(|| {
            model
                .sample(&SampleRequest {
                    seed: 42,
                    rows: 0..n,
                    fixed: Vec::new(),
                })
                .unwrap()
                .len()
        })
    });
    group.bench_function("sample_100k_fixed_sql_type", |b| {
        b.iter(|| {
            model
                .sample(&SampleRequest {
                    seed: 42,
                    rows: 0..n,
                    fixed: vec![("sql_type".into(), FeatureValue::Cat("SPATIAL_JOIN".into()))],
                })
                .unwrap()
                .len()
        })
    });
    group.finish();
}

criterion_group!(benches, synth);
criterion_main!(benches);
