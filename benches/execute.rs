//! The sample database and execution: making the small CIM Wizard sample database (no
//! server needed), then, when a PostgreSQL + PostGIS server is reachable through
//! `SQLSYNTH_BENCH_DB` (a connection string to an empty database the bench may fill),
//! executing the seed corpus on it and `generate` with and without `--execute`.
//!
//! `SQLSYNTH_BENCH_DB="dbname=bench" cargo bench -p sqlsynth-benches --bench execute`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sqlsynth::execute::postgres::{run_script, PostgresExecutor};
use sqlsynth::execute::{ExecuteOptions, QueryExecutor};
use sqlsynth::pipeline::{NoProgress, Pipeline};
use sqlsynth::sampledb::SampleDb;
use sqlsynth::SchemaPack;
use sqlsynth_benches::typical_queries;

fn sample_db(c: &mut Criterion) {
    let pack = SchemaPack::default_pack();
    let mut group = c.benchmark_group("sample_db");
    group.sample_size(10);
    group.bench_function("make_small_sql", |b| {
        b.iter(|| {
            SampleDb::generate(&pack, "small", 42)
                .unwrap()
                .to_sql()
                .unwrap()
                .len()
        })
    });
    group.finish();
}

fn execute(c: &mut Criterion) {
    let Ok(conninfo) = std::env::var("SQLSYNTH_BENCH_DB") else {
        eprintln!("SQLSYNTH_BENCH_DB is not set: the execution benches are skipped");
        return;
    };
    let pack = SchemaPack::default_pack();
    let sql = SampleDb::generate(&pack, "small", 42)
        .unwrap()
        .to_sql()
        .unwrap();
    run_script(&conninfo, &sql).expect("the sample database loads into SQLSYNTH_BENCH_DB");
    let executor = PostgresExecutor::connect(&conninfo, ExecuteOptions::default()).unwrap();
    let queries = typical_queries();
    let refs: Vec<&str> = queries.iter().map(String::as_str).collect();
    let mut group = c.benchmark_group("execute");
    group.sample_size(10);
    group.throughput(Throughput::Elements(refs.len() as u64));
    group.bench_function("seed_corpus_2_jobs", |b| {
        b.iter(|| executor.execute_batch(&refs).len())
    });
    group.finish();

    let mut group = c.benchmark_group("generate_500");
    group.sample_size(10);
    group.throughput(Throughput::Elements(500));
    group.bench_function("without_execute", |b| {
        b.iter(|| {
            let p = Pipeline::builder(&pack)
                .rows(500)
                .seed(42)
                .threads(1)
                .build()
                .unwrap();
            p.stream(&NoProgress, |_| Ok(()))
                .unwrap()
                .generation
                .accepted
        })
    });
    group.bench_function("with_execute", |b| {
        b.iter(|| {
            let p = Pipeline::builder(&pack)
                .rows(500)
                .seed(42)
                .threads(1)
                .executor(&executor)
                .allow_empty(true)
                .build()
                .unwrap();
            p.stream(&NoProgress, |_| Ok(()))
                .unwrap()
                .generation
                .accepted
        })
    });
    group.finish();
}

criterion_group!(benches, sample_db, execute);
criterion_main!(benches);
