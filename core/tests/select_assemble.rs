//! Token selection + assembly over the structure rows of the seed corpus: every plan
//! assembles to SQL that parses, round-trips, resolves and validates; the question states
//! every literal; the realised structure is what re-extraction from the SQL finds.

mod common;

use std::io::Cursor;
use std::path::Path;

use sqlsynth::assemble::PostgisAssembler;
use sqlsynth::read::{ReadOptions, Stage1Reader};
use sqlsynth::select::PackSelector;
use sqlsynth::{
    Assembler, Candidate, FeatureExtractor, SchemaPack, Structure, TokenSelector, Validator,
};

/// The plan assembled, or `None` when its question would say one thing twice (the
/// pipeline drops those as `question_ambiguous`); any other failure fails the test.
fn assembled(pack: &SchemaPack, plan: &sqlsynth::QueryPlan) -> Option<sqlsynth::Assembled> {
    match PostgisAssembler.assemble(pack, plan) {
        Ok(a) => Some(a),
        Err(sqlsynth::GenerateError::AmbiguousQuestion(_)) => None,
        Err(e) => panic!("assembles: {e}"),
    }
}

fn seed_rows(pack: &SchemaPack) -> Vec<Structure> {
    let text = pack.corpus_jsonl().expect("embedded corpus").to_string();
    let reader = Stage1Reader::from_reader(
        Path::new("corpus.jsonl"),
        Box::new(Cursor::new(text.into_bytes())),
        ReadOptions::default(),
    );
    let ex = FeatureExtractor::new(pack);
    reader
        .map(|r| {
            let r = r.expect("seed corpus reads");
            ex.extract(&r.sql, &r.labels())
                .expect("seed parses")
                .structure
        })
        .collect()
}

#[test]
fn seed_structures_assemble_to_valid_faithful_sql() {
    let pack = SchemaPack::default_pack();
    let selector = PackSelector::new(&pack);
    let validator = Validator::new(&pack);
    let rows = seed_rows(&pack);
    let mut n = 0usize;
    let mut invalid = 0usize;
    let mut match_sum = 0.0;
    let mut exact = 0usize;
    let mut shown = 0usize;
    for (i, row) in rows.iter().enumerate() {
        for k in 0..10u64 {
            let mut rng = sqlsynth::rng::stream(7, sqlsynth::rng::SELECT, (i as u64) * 100 + k);
            let plan = selector.select(&pack, row, &mut rng).expect("plan");
            // A plan whose question would say one thing twice is dropped, as a run does.
            let Some(a) = assembled(&pack, &plan) else {
                continue;
            };
            n += 1;
            if std::env::var_os("SQLSYNTH_SHOW").is_some() && k == 0 && i % 9 == 0 {
                eprintln!(
                    "==== deviations {:?}\n{}\n{}\n",
                    plan.deviations
                        .iter()
                        .map(|d| &d.column)
                        .collect::<Vec<_>>(),
                    a.sql,
                    a.question
                );
            }
            // Round trip: parse → print → parse gives the same AST.
            let parsed = sqlsynth::sql::parse(&a.sql).expect("parses");
            assert_eq!(parsed.len(), 1);
            assert_eq!(parsed[0].to_string(), a.statement.to_string(), "round trip");
            for l in plan.literals() {
                assert!(
                    common::literal_stated(&pack, &a.question, l),
                    "literal {} missing from question {:?}\n{}",
                    l.text(),
                    a.question,
                    a.sql
                );
            }
            let report = validator.validate_candidate(&Candidate {
                sql: a.sql.clone(),
                question: Some(a.question.clone()),
                requested: Some(plan.realized.clone()),
            });
            let cm = report
                .breakdown
                .iter()
                .find(|m| m.metric == "complexity_match")
                .unwrap()
                .score;
            if !report.valid || cm < 1.0 {
                invalid += usize::from(!report.valid);
                if shown < 12 {
                    shown += 1;
                    eprintln!(
                        "---- valid={} cm={cm}\n{}\n{}",
                        report.valid, a.sql, a.question
                    );
                    for f in &report.findings {
                        eprintln!("  {f}");
                    }
                }
            }
            match_sum += cm;
            exact += usize::from(plan.deviations.is_empty());
        }
    }
    eprintln!(
        "plans {n}, invalid {invalid}, exact {exact}, realized-vs-sql match mean {:.4}",
        match_sum / n as f64
    );
    assert_eq!(invalid, 0);
    assert!(match_sum / n as f64 > 0.999);
}

/// One version per statement: every query that reads a table with a `version_column` (a
/// project's scenario) pins it, groups or counts by it, or ties it to another relation's;
/// never two different versions in one statement.
#[test]
fn versioned_tables_are_read_in_one_version() {
    let pack = SchemaPack::default_pack();
    let selector = PackSelector::new(&pack);
    let versioned: Vec<(String, String)> = pack
        .tables()
        .filter_map(|(s, t)| {
            t.version_column
                .clone()
                .map(|c| (format!("{}.{}", s.name, t.name), c))
        })
        .collect();
    assert!(
        !versioned.is_empty(),
        "the CIM Wizard pack declares versions"
    );
    let rows = seed_rows(&pack);
    let (mut reading, mut pinned) = (0usize, 0usize);
    for (i, row) in rows.iter().enumerate() {
        for k in 0..5u64 {
            let mut rng = sqlsynth::rng::stream(11, sqlsynth::rng::SELECT, (i as u64) * 100 + k);
            let plan = selector.select(&pack, row, &mut rng).expect("plan");
            let Some(a) = assembled(&pack, &plan) else {
                continue;
            };
            let sql = a.sql;
            let Some((_, col)) = versioned.iter().find(|(t, _)| sql.contains(t.as_str())) else {
                continue;
            };
            reading += 1;
            // Literal values the statement compares the version column with.
            let mut values: Vec<&str> = sql
                .split(&format!(".{col} = '"))
                .skip(1)
                .filter_map(|rest| rest.split('\'').next())
                .collect();
            values.sort();
            values.dedup();
            assert!(values.len() <= 1, "two versions in one statement:\n{sql}");
            let grouped_or_counted = sql.contains("DISTINCT ") && sql.contains(&format!(".{col})"))
                || sql
                    .split("GROUP BY")
                    .nth(1)
                    .is_some_and(|g| g.lines().next().unwrap_or("").contains(col.as_str()));
            if values.len() == 1 {
                pinned += 1;
            } else {
                assert!(
                    grouped_or_counted || sql.contains(&format!(".{col} = ")),
                    "a versioned table read in every version:\n{sql}"
                );
            }
        }
    }
    assert!(reading > 300, "{reading} statements read a versioned table");
    assert!(
        pinned * 10 >= reading * 8,
        "{pinned} of {reading} statements pin one version"
    );
}

/// Column roles shape the aggregates: sums only of measures the pack calls additive,
/// never of keys or codes; and no per-entity count of a relation that is one row per
/// entity once the version is pinned (a building's properties in one scenario).
#[test]
fn aggregates_follow_the_column_roles() {
    let pack = SchemaPack::default_pack();
    let selector = PackSelector::new(&pack);
    let (mut measured, mut statements) = (0usize, 0usize);
    let mut per_building_counts: Vec<String> = Vec::new();
    for (i, row) in seed_rows(&pack).iter().enumerate() {
        for k in 0..5u64 {
            let mut rng = sqlsynth::rng::stream(13, sqlsynth::rng::SELECT, (i as u64) * 100 + k);
            let plan = selector.select(&pack, row, &mut rng).expect("plan");
            let Some(a) = assembled(&pack, &plan) else {
                continue;
            };
            let sql = a.sql;
            for (f, rest) in ["SUM(", "AVG(", "MAX(", "MIN("]
                .iter()
                .flat_map(|f| sql.split(f).skip(1).map(move |r| (*f, r)))
            {
                let arg = rest.split(')').next().unwrap_or("");
                let Some((alias, col)) = arg.split_once('.') else {
                    continue;
                };
                if alias.contains('(') || col.contains(' ') {
                    continue;
                }
                // The alias's table, from `schema.table AS alias`.
                let Some(table) = sql
                    .split(&format!(" AS {alias}\n"))
                    .next()
                    .and_then(|s| s.rsplit([' ', '(']).next())
                    .filter(|t| t.contains('.'))
                    .or_else(|| {
                        sql.split(&format!(" AS {alias} "))
                            .next()
                            .and_then(|s| s.rsplit([' ', '(']).next())
                    })
                else {
                    continue;
                };
                let Some(info) = table.split_once('.').and_then(|(s, t)| pack.table(s, t)) else {
                    continue;
                };
                let Some(role) = info.role(col) else { continue };
                measured += 1;
                assert_eq!(role, sqlsynth::ColumnRole::Measure, "{f}{arg}) in\n{sql}");
                if f == "SUM(" {
                    assert!(
                        info.additive.iter().any(|c| c == col),
                        "{f}{arg}) in\n{sql}"
                    );
                }
            }
            statements += 1;
            if sql.contains("GROUP BY b.id")
                && (sql.contains("COUNT(DISTINCT bp.") || sql.contains("COUNT(DISTINCT bhc."))
            {
                per_building_counts.push(sql);
            }
        }
    }
    assert!(measured > 20, "{measured} aggregates of columns");
    // Left: a building grouped for another join's rows (buses within 70 m) still counts
    // its one cached height row (the "every joined relation is read" step).
    assert!(
        per_building_counts.len() * 100 <= statements,
        "{} of {statements} statements count rows that are one per building, e.g.\n{}",
        per_building_counts.len(),
        per_building_counts
            .first()
            .map(String::as_str)
            .unwrap_or("")
    );
}
