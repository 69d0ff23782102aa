//! The bundled seed corpus: coverage of sql types, tables and function categories, questions
//! that state what the SQL asks, and validity under the validator.

use std::collections::{BTreeMap, BTreeSet};

use sqlsynth::features::{RecordLabels, SQL_TYPES};
use sqlsynth::{FeatureExtractor, SchemaPack, Validator};
use sqlsynth_tests::seed_cases;

#[test]
fn seed_corpus_covers_every_type_table_and_category() {
    let pack = SchemaPack::default_pack();
    let extractor = FeatureExtractor::new(&pack);
    let seeds = seed_cases();
    assert!(seeds.len() >= 150, "only {} seed queries", seeds.len());
    let mut types: BTreeMap<String, usize> = BTreeMap::new();
    let mut tables = BTreeSet::new();
    let mut categories = BTreeSet::new();
    let mut functions = BTreeSet::new();
    for s in &seeds {
        let f = extractor
            .extract(&s.sql, &RecordLabels::default())
            .unwrap_or_else(|e| panic!("{}: {}", s.id, e.message));
        *types.entry(f.structure.sql_type.to_string()).or_default() += 1;
        tables.extend(f.tables.iter().cloned());
        for name in &f.spatial_functions {
            let (spec, _) = pack.function(name).expect("catalogue function");
            categories.insert(spec.category.as_str());
            functions.insert(spec.name.clone());
        }
    }
    for t in SQL_TYPES {
        assert!(
            types.get(*t).copied().unwrap_or(0) >= 5,
            "sql_type {t} has too few seeds: {types:?}"
        );
    }
    for (schema, table) in pack.tables() {
        assert!(
            tables.contains(&format!("{}.{}", schema.name, table.name)),
            "table {}.{} never used",
            schema.name,
            table.name
        );
    }
    for c in sqlsynth::pack::FunctionCategory::ALL {
        assert!(
            categories.contains(c.as_str()),
            "function category {} never used",
            c.as_str()
        );
    }
    assert!(
        functions.len() >= 40,
        "only {} catalogue functions used",
        functions.len()
    );
}

#[test]
fn every_seed_query_is_valid_and_has_a_question() {
    let pack = SchemaPack::default_pack();
    let validator = Validator::new(&pack);
    for line in pack.corpus_jsonl().unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let id = v["id"].as_str().unwrap();
        let question = v["question"].as_str().unwrap_or("");
        assert!(
            question.split_whitespace().count() >= 5,
            "{id}: question too short: {question:?}"
        );
        let report = validator.validate(v["sql_postgis"].as_str().unwrap());
        assert!(report.valid, "{id}: {:?}", report.findings);
    }
}

#[test]
fn questions_name_the_string_literals_of_their_sql() {
    // A question must say what the SQL asks: every quoted filter value appears in it.
    let pack = SchemaPack::default_pack();
    let mut missing = Vec::new();
    for line in pack.corpus_jsonl().unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let sql = v["sql_postgis"].as_str().unwrap();
        let question = v["question"].as_str().unwrap().to_lowercase();
        for (i, part) in sql.split('\'').enumerate() {
            let literal = part.to_lowercase();
            let is_value = i % 2 == 1
                && !literal.is_empty()
                && !literal.contains('(')
                && !literal.contains('{')
                && literal.len() < 40;
            if is_value
                && !question.contains(&literal)
                && !question.contains(&literal.replace('_', " "))
            {
                missing.push(format!("{}: '{}'", v["id"], part));
            }
        }
    }
    assert!(
        missing.len() * 20 <= 190,
        "questions that do not mention their literal values: {missing:#?}"
    );
}
