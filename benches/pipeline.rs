//! Feature extraction (rows/s) and the whole Stage 2 generation per 1,000 records
//! (sample → constraints → select → assemble → score → filter, one thread, no files).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sqlsynth::assemble::PostgisAssembler;
use sqlsynth::features::RecordLabels;
use sqlsynth::pipeline::{GenerateOptions, Generator, NoProgress};
use sqlsynth::select::PackSelector;
use sqlsynth::synth::{GaussianCopula, GaussianCopulaParams};
use sqlsynth::{FeatureExtractor, SchemaPack, Synthesizer, Validator};
use sqlsynth_benches::{seed_feature_table, typical_queries};

fn pipeline(c: &mut Criterion) {
    let pack = SchemaPack::default_pack();
    let queries = typical_queries();
    let ex = FeatureExtractor::new(&pack);
    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Elements(queries.len() as u64));
    group.bench_function("extract_features_seed_corpus", |b| {
        b.iter(|| {
            queries
                .iter()
                .map(|q| ex.extract(q, &RecordLabels::default()).unwrap().join_count)
                .sum::<i64>()
        })
    });
    let model = GaussianCopula::new(GaussianCopulaParams::default())
        .unwrap()
        .fit(&seed_feature_table(&pack))
        .unwrap();
    let selector = PackSelector::new(&pack);
    let validator = Validator::new(&pack);
    let generator = Generator {
        pack: &pack,
        synthesizer: &model,
        selector: &selector,
        assembler: &PostgisAssembler,
        validator: &validator,
    };
    let opts = GenerateOptions {
        rows: 1000,
        threads: 1,
        ..GenerateOptions::default()
    };
    group.throughput(Throughput::Elements(1000));
    group.sample_size(20);
    group.bench_function("generate_1000_records", |b| {
        b.iter(|| {
            let mut n = 0usize;
            generator
                .run(&opts, &NoProgress, &mut |_| {
                    n += 1;
                    Ok(())
                })
                .unwrap();
            n
        })
    });
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
