//! Ground truth: the pack's DDL loaded into a real PostgreSQL 15 + PostGIS, and `EXPLAIN`
//! of each query, judge the validator. Run through `scripts/test`, which starts a
//! throw-away cluster and sets PGHOST / PGPORT.

use std::collections::BTreeMap;

use serde_json::Value;
use sqlsynth::{SchemaPack, Severity, Validator};
use sqlsynth_tests::{fixture_cases, mutations, seed_cases, Case, Postgis};

fn known_disagreements() -> BTreeMap<String, String> {
    include_str!("fixtures/known_disagreements.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("known disagreement lines are JSON");
            let reason = v["reason"].as_str().expect("reason").to_string();
            assert!(
                reason.len() > 20,
                "each known disagreement needs a real reason: {l}"
            );
            (v["id"].as_str().expect("id").to_string(), reason)
        })
        .collect()
}

#[test]
#[ignore = "needs PostgreSQL + PostGIS: run scripts/test"]
fn validator_agrees_with_postgis() {
    let pack = SchemaPack::default_pack();
    let pg = Postgis::with_ddl("sqlsynth_gt", &pack.ddl());

    let seeds = seed_cases();
    let fixtures = fixture_cases();
    let mut cases: Vec<Case> = seeds.clone();
    cases.extend(fixtures.iter().map(|(c, _)| c.clone()));
    for s in &seeds {
        for (name, sql) in mutations(&s.sql) {
            cases.push(Case {
                id: format!("{}:{name}", s.id),
                sql,
            });
        }
    }
    let truth = pg.explain_all(&cases);

    // 1. Every seed query EXPLAINs cleanly.
    let failing: Vec<String> = seeds
        .iter()
        .zip(&truth)
        .filter_map(|(c, t)| t.as_ref().err().map(|e| format!("{}: {e}", c.id)))
        .collect();
    assert!(
        failing.is_empty(),
        "seed queries PostgreSQL rejects:\n{}",
        failing.join("\n")
    );

    // 2. The fixture's recorded verdicts are still PostgreSQL's.
    let offset = seeds.len();
    for (i, (c, recorded)) in fixtures.iter().enumerate() {
        assert_eq!(
            truth[offset + i].is_ok(),
            *recorded,
            "fixture {} recorded the wrong verdict: {:?}",
            c.id,
            truth[offset + i]
        );
    }

    // 3. The validator's verdict agrees with PostgreSQL's, except for listed cases.
    let validator = Validator::new(&pack);
    let known = known_disagreements();
    let mut unexplained = Vec::new();
    let mut disagreeing = Vec::new();
    let mut per_kind: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (c, t) in cases.iter().zip(&truth) {
        let report = validator.validate(&c.sql);
        let kind =
            c.id.split_once(':')
                .map(|(_, k)| k.to_string())
                .unwrap_or_else(|| {
                    if c.id.starts_with("vc_") {
                        "fixture".into()
                    } else {
                        "seed".into()
                    }
                });
        let entry = per_kind.entry(kind).or_default();
        entry.0 += 1;
        if report.valid != t.is_ok() {
            entry.1 += 1;
            disagreeing.push(c.id.clone());
            if !known.contains_key(&c.id) {
                let ours: Vec<String> = report
                    .findings
                    .iter()
                    .filter(|f| f.severity == Severity::Error)
                    .map(|f| f.to_string())
                    .collect();
                unexplained.push(format!(
                    "{}: PostgreSQL {} / validator {}\n  pg: {:?}\n  ours: {:?}\n  sql: {}",
                    c.id,
                    if t.is_ok() { "accepts" } else { "rejects" },
                    if report.valid { "accepts" } else { "rejects" },
                    t.as_ref().err(),
                    ours,
                    c.sql.replace('\n', " ")
                ));
            }
        }
    }
    let stale: Vec<&String> = known.keys().filter(|k| !disagreeing.contains(k)).collect();
    let agreement = 1.0 - disagreeing.len() as f64 / cases.len() as f64;
    eprintln!(
        "{} queries, {} disagreements, agreement {:.2}%",
        cases.len(),
        disagreeing.len(),
        agreement * 100.0
    );
    for (k, (n, d)) in &per_kind {
        eprintln!("  {k:28} {n:5} queries, {d:3} disagreements");
    }
    assert!(
        cases.len() >= 500,
        "the ground-truth set must hold at least 500 queries"
    );
    assert!(
        unexplained.is_empty(),
        "{} unlisted disagreements:\n{}",
        unexplained.len(),
        unexplained.join("\n")
    );
    assert!(
        stale.is_empty(),
        "listed disagreements that now agree (remove them): {stale:?}"
    );
    assert!(agreement >= 0.99, "agreement {agreement:.4} is below 99%");
}
