//! Property tests over the whole space of structure rows (every column over its declared
//! range, every category, unrealisable combinations included) and over packs (CIM Wizard
//! and randomly trimmed variants of it): the assembled SQL parses to one statement,
//! round-trips (parse → print → parse gives the same AST), resolves every reference,
//! passes the validator, and its question is non-empty and mentions every literal.
//!
//! An optimised build runs 10,000 cases per property, which is what CI runs (`scripts/test`
//! runs this file with `--release`); a debug build runs 1,000 (~40 s instead of ~7 min).
//! `PROPTEST_CASES` overrides both; the documented long run is
//! `PROPTEST_CASES=1000000 cargo test --release -p sqlsynth --test properties`.

mod common;

use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::Value;
use sqlsynth::assemble::PostgisAssembler;
use sqlsynth::features::{Domain, FEATURE_COLUMNS};
use sqlsynth::select::PackSelector;
use sqlsynth::{
    Assembler, Candidate, FeatureValue, SchemaPack, Structure, StructureRow, TokenSelector,
    Validator,
};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) {
            1_000
        } else {
            10_000
        })
}

/// Any structure row the feature table can hold.
fn any_row() -> impl Strategy<Value = StructureRow> {
    let cells: Vec<BoxedStrategy<FeatureValue>> = FEATURE_COLUMNS
        .iter()
        .map(|(_, d)| match d {
            Domain::Int(lo, hi) => (*lo..=*hi).prop_map(FeatureValue::Int).boxed(),
            Domain::Cat(vocab) => {
                let v: Vec<String> = vocab.iter().map(|s| s.to_string()).collect();
                proptest::sample::select(v)
                    .prop_map(FeatureValue::Cat)
                    .boxed()
            }
        })
        .collect();
    cells.prop_map(StructureRow)
}

fn default_pack() -> &'static SchemaPack {
    static P: OnceLock<SchemaPack> = OnceLock::new();
    P.get_or_init(SchemaPack::default_pack)
}

/// The CIM Wizard pack with some tables and functions removed (and everything that named
/// them: joins, value domains, lexicon entries).
fn trimmed_pack(keep_tables: &[bool], keep_functions: &[bool]) -> SchemaPack {
    let text = serde_json::to_string(default_pack().data()).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    let mut kept: Vec<String> = Vec::new();
    let mut k = 0usize;
    for s in v["schemas"].as_array_mut().unwrap() {
        let schema = s["name"].as_str().unwrap().to_string();
        let tables = s["tables"].as_array_mut().unwrap();
        tables.retain(|t| {
            let keep = keep_tables[k % keep_tables.len()];
            k += 1;
            if keep {
                kept.push(format!("{schema}.{}", t["name"].as_str().unwrap()));
            }
            keep
        });
    }
    if kept.is_empty() {
        // Keep at least the first table.
        return default_pack().clone();
    }
    v["schemas"]
        .as_array_mut()
        .unwrap()
        .retain(|s| !s["tables"].as_array().unwrap().is_empty());
    let has = |key: &str| kept.iter().any(|t| t == key);
    v["joins"]
        .as_array_mut()
        .unwrap()
        .retain(|j| has(j["left"].as_str().unwrap()) && has(j["right"].as_str().unwrap()));
    let used_predicates: Vec<String> = v["joins"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|j| j["predicates"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p.as_str().map(str::to_string))
        .collect();
    let mut i = 0usize;
    v["functions"].as_array_mut().unwrap().retain(|f| {
        let keep = keep_functions[i % keep_functions.len()]
            || used_predicates
                .iter()
                .any(|p| p == f["name"].as_str().unwrap());
        i += 1;
        keep
    });
    let column_kept =
        |c: &str| c.starts_with('@') || kept.iter().any(|t| c.starts_with(&format!("{t}.")));
    v["value_domains"]
        .as_array_mut()
        .unwrap()
        .retain(|d| column_kept(d["column"].as_str().unwrap()));
    if let Some(t) = v["lexicon"]["tables"].as_object_mut() {
        t.retain(|k, _| has(k));
    }
    for part in ["columns", "filters", "events"] {
        if let Some(c) = v["lexicon"][part].as_object_mut() {
            c.retain(|k, _| column_kept(k));
        }
    }
    // The sample-database recipe names every table: a trimmed pack goes without one, and
    // its areas name only the tables it keeps.
    v["sample_data"] = Value::Null;
    for a in v["areas"].as_array_mut().into_iter().flatten() {
        if let Some(t) = a["only_tables"].as_array_mut() {
            t.retain(|x| has(x.as_str().unwrap()));
        }
    }
    SchemaPack::from_json_str(&v.to_string(), "trimmed cim-wizard").expect("trimmed pack loads")
}

/// Every property of one generated query; returns a description of the first failure.
fn check(pack: &SchemaPack, row: &StructureRow, seed: u64) -> Result<(), String> {
    // The default pack's selector and validator are built once (the validator indexes the
    // seed corpus); a trimmed pack gets its own.
    static DEFAULT: OnceLock<(PackSelector, Validator<'static>)> = OnceLock::new();
    let owned;
    let (selector, validator) = if std::ptr::eq(pack, default_pack()) {
        let d = DEFAULT.get_or_init(|| {
            (
                PackSelector::new(default_pack()),
                Validator::new(default_pack()),
            )
        });
        (&d.0, &d.1)
    } else {
        owned = (PackSelector::new(pack), Validator::new(pack));
        (&owned.0, &owned.1)
    };
    let row = &Structure::from_row(row).map_err(|e| format!("no structure: {e}"))?;
    let mut rng = sqlsynth::rng::stream(seed, sqlsynth::rng::SELECT, 0);
    let plan = selector
        .select(pack, row, &mut rng)
        .map_err(|e| format!("selection failed: {e}"))?;
    let a = match PostgisAssembler.assemble(pack, &plan) {
        Ok(a) => a,
        // The run drops a plan whose question would say one thing twice.
        Err(sqlsynth::GenerateError::AmbiguousQuestion(_)) => return Ok(()),
        Err(e) => return Err(format!("assembly failed: {e}")),
    };
    let parsed =
        sqlsynth::sql::parse(&a.sql).map_err(|e| format!("does not parse: {e:?}\n{}", a.sql))?;
    if parsed.len() != 1 {
        return Err(format!("{} statements\n{}", parsed.len(), a.sql));
    }
    let reprinted = parsed[0].to_string();
    let reparsed =
        sqlsynth::sql::parse(&reprinted).map_err(|e| format!("reprint does not parse: {e:?}"))?;
    if reparsed[0] != parsed[0] || reprinted != a.statement.to_string() {
        return Err(format!(
            "round trip changed the AST\n{}\n{reprinted}",
            a.sql
        ));
    }
    let report = validator.validate_candidate(&Candidate {
        sql: a.sql.clone(),
        question: Some(a.question.clone()),
        requested: Some(plan.realized.clone()),
    });
    if !report.valid || !report.unknown_references.is_empty() {
        let f: Vec<String> = report.findings.iter().map(|f| f.to_string()).collect();
        return Err(format!("invalid:\n{}\n{}", a.sql, f.join("\n")));
    }
    if a.question.trim().is_empty() {
        return Err("empty question".into());
    }
    for l in plan.literals() {
        if !common::literal_stated(pack, &a.question, l) {
            return Err(format!(
                "literal {} not in question {:?}\n{}",
                l.text(),
                a.question,
                a.sql
            ));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn any_row_on_the_cim_wizard_pack_gives_valid_sql(row in any_row(), seed in any::<u64>()) {
        if let Err(e) = check(default_pack(), &row, seed) {
            prop_assert!(false, "{e}\nrow: {row:?}");
        }
    }

    #[test]
    fn any_row_on_a_trimmed_pack_gives_valid_sql(
        row in any_row(),
        seed in any::<u64>(),
        keep_tables in proptest::collection::vec(proptest::bool::weighted(0.6), 10),
        keep_functions in proptest::collection::vec(proptest::bool::weighted(0.6), 74),
    ) {
        let pack = trimmed_pack(&keep_tables, &keep_functions);
        if let Err(e) = check(&pack, &row, seed) {
            prop_assert!(false, "{e}\nrow: {row:?}");
        }
    }
}
