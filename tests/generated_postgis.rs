//! Ground truth for generation: queries assembled from the seed corpus's structure rows
//! (ten plans per row) must EXPLAIN without error in PostgreSQL + PostGIS loaded from the
//! pack's DDL. Run through `scripts/test`.

use std::io::Cursor;
use std::path::Path;

use sqlsynth::assemble::PostgisAssembler;
use sqlsynth::read::{ReadOptions, Stage1Reader};
use sqlsynth::select::PackSelector;
use sqlsynth::{Assembler, FeatureExtractor, SchemaPack, TokenSelector};
use sqlsynth_tests::{Case, Postgis};

#[test]
#[ignore = "needs PostgreSQL + PostGIS: run scripts/test"]
fn assembled_queries_explain_in_postgis() {
    let pack = SchemaPack::default_pack();
    let text = pack
        .corpus_jsonl()
        .expect("embedded corpus")
        .as_bytes()
        .to_vec();
    let reader = Stage1Reader::from_reader(
        Path::new("corpus.jsonl"),
        Box::new(Cursor::new(text)),
        ReadOptions::default(),
    );
    let ex = FeatureExtractor::new(&pack);
    let records: Vec<_> = reader.map(|r| r.expect("seed corpus reads")).collect();
    let rows: Vec<_> = records
        .iter()
        .map(|r| {
            ex.extract(&r.sql, &r.labels())
                .expect("seed parses")
                .structure
        })
        .collect();
    // The selector draws on the seeds as the pipeline's does: their variants are checked too.
    let ids: Vec<String> = records
        .iter()
        .map(|r| r.id.clone().unwrap_or_default())
        .collect();
    let (selector, lifted) = PackSelector::new(&pack).with_seeds(
        &pack,
        records
            .iter()
            .zip(&rows)
            .zip(&ids)
            .map(|((r, row), id)| (id.as_str(), r.sql.as_str(), row.sql_type)),
    );
    assert!(lifted.lifted >= 180, "{lifted:?}");
    let mut cases = Vec::new();
    let mut varied = 0;
    for (i, row) in rows.iter().enumerate() {
        for k in 0..10u64 {
            let mut rng = sqlsynth::rng::stream(11, sqlsynth::rng::SELECT, i as u64 * 100 + k);
            let plan = selector.select(&pack, row, &mut rng).expect("plan");
            varied += usize::from(plan.derived_from.is_some());
            // A plan whose question would say one thing twice is dropped, as a run does.
            let a = match PostgisAssembler.assemble(&pack, &plan) {
                Ok(a) => a,
                Err(sqlsynth::GenerateError::AmbiguousQuestion(_)) => continue,
                Err(e) => panic!("assembles: {e}"),
            };
            cases.push(Case {
                id: format!("row{i}:{k}"),
                sql: a.sql,
            });
        }
    }
    assert!(
        varied > 300,
        "only {varied} of {} plans vary a seed",
        cases.len()
    );
    let pg = Postgis::with_ddl("sqlsynth_gen", &pack.ddl());
    let results = pg.explain_all(&cases);
    let failures: Vec<String> = cases
        .iter()
        .zip(&results)
        .filter_map(|(c, r)| {
            r.as_ref()
                .err()
                .map(|e| format!("{}: {e}\n{}", c.id, c.sql))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} assembled queries fail EXPLAIN:\n{}",
        failures.len(),
        cases.len(),
        failures
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n\n")
    );
}

#[test]
#[ignore = "needs PostgreSQL + PostGIS: run scripts/test"]
fn pipeline_records_explain_in_postgis() {
    use sqlsynth::pipeline::{GenerateOptions, NoProgress, Stage2Job, Stage2Record};
    let pack = SchemaPack::default_pack();
    let out = std::env::temp_dir().join(format!("sqlsynth-gen-pg-{}", std::process::id()));
    let job = Stage2Job {
        out: out.clone(),
        options: GenerateOptions {
            rows: 3000,
            seed: 1234,
            ..GenerateOptions::default()
        },
        ..Stage2Job::new()
    };
    job.run(&pack, &NoProgress).expect("generation runs");
    let cases: Vec<Case> = std::fs::read_to_string(out.join("stage2.jsonl"))
        .expect("records written")
        .lines()
        .map(|l| {
            let r: Stage2Record = serde_json::from_str(l).expect("records are JSON");
            Case {
                id: r.id,
                sql: r.sql_postgis,
            }
        })
        .collect();
    assert_eq!(cases.len(), 3000);
    let pg = Postgis::with_ddl("sqlsynth_pipe", &pack.ddl());
    let results = pg.explain_all(&cases);
    let failures: Vec<String> = cases
        .iter()
        .zip(&results)
        .filter_map(|(c, r)| {
            r.as_ref()
                .err()
                .map(|e| format!("{}: {e}\n{}", c.id, c.sql))
        })
        .collect();
    std::fs::remove_dir_all(&out).ok();
    assert!(
        failures.is_empty(),
        "{} of {} generated records fail EXPLAIN:\n{}",
        failures.len(),
        cases.len(),
        failures
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n\n")
    );
}
