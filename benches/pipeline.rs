//! Feature extraction (rows/s), the whole Stage 2 generation per 1,000 records
//! (sample → constraints → select → assemble → score → filter, one thread, no files), and
//! the library's two ways to run the whole job side by side: `Pipeline::stream` (records
//! handed to a closure) against `Pipeline::run` (records, stats and model written to files,
//! what `sqlsynth generate` does).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sqlsynth::assemble::PostgisAssembler;
use sqlsynth::features::RecordLabels;
use sqlsynth::pipeline::{GenerateOptions, Generator, NoProgress, Pipeline};
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
                .map(|q| {
                    ex.extract(q, &RecordLabels::default())
                        .unwrap()
                        .structure
                        .join_count
                })
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

fn stream_vs_files(c: &mut Criterion) {
    let pack = SchemaPack::default_pack();
    let rows = 2_000;
    let pipeline = Pipeline::builder(&pack)
        .rows(rows)
        .seed(42)
        .threads(1)
        .build()
        .unwrap();
    let out = std::env::temp_dir().join(format!("sqlsynth-bench-{}", std::process::id()));
    let mut group = c.benchmark_group("job");
    group.throughput(Throughput::Elements(rows));
    group.sample_size(10);
    group.bench_function("stream_2000_records", |b| {
        b.iter(|| {
            let mut n = 0usize;
            pipeline
                .stream(&NoProgress, |r| {
                    n += r.sql_postgis.len();
                    Ok(())
                })
                .unwrap();
            n
        })
    });
    group.bench_function("run_to_files_2000_records", |b| {
        b.iter(|| pipeline.run(&out, &NoProgress).unwrap().generation.accepted)
    });
    group.finish();
    std::fs::remove_dir_all(&out).ok();
}

criterion_group!(benches, pipeline, stream_vs_files);
criterion_main!(benches);
