//! Arbitrary bytes decoded into a structure row (and a seed): selection + assembly must
//! give SQL that parses, round-trips and that the validator accepts, with a question that
//! states every literal.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

/// The integration tests' helpers: one definition of "the question states this literal".
#[path = "../../core/tests/common/mod.rs"]
mod common;
use sqlsynth::assemble::PostgisAssembler;
use sqlsynth::features::{Domain, FEATURE_COLUMNS};
use sqlsynth::select::PackSelector;
use sqlsynth::{
    Assembler, Candidate, FeatureValue, SchemaPack, Structure, StructureRow, TokenSelector,
    Validator,
};

struct Fixture {
    selector: PackSelector,
    validator: Validator<'static>,
}

fn pack() -> &'static SchemaPack {
    static PACK: OnceLock<SchemaPack> = OnceLock::new();
    PACK.get_or_init(SchemaPack::default_pack)
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| Fixture {
        selector: PackSelector::new(pack()),
        validator: Validator::new(pack()),
    })
}

fuzz_target!(|data: &[u8]| {
    let mut bytes = data.iter().copied().chain(std::iter::repeat(0));
    let mut next = || bytes.next().unwrap_or(0);
    let row = StructureRow(
        FEATURE_COLUMNS
            .iter()
            .map(|(_, d)| match d {
                Domain::Int(lo, hi) => FeatureValue::Int(lo + i64::from(next()) % (hi - lo + 1)),
                Domain::Cat(vocab) => {
                    FeatureValue::Cat(vocab[usize::from(next()) % vocab.len()].to_string())
                }
            })
            .collect(),
    );
    let row = Structure::from_row(&row).expect("every vocabulary label is a structure");
    let seed = u64::from_le_bytes(std::array::from_fn(|_| next()));
    let f = fixture();
    let mut rng = sqlsynth::rng::stream(seed, sqlsynth::rng::SELECT, 0);
    let plan = f
        .selector
        .select(pack(), &row, &mut rng)
        .expect("a plan for every row");
    // Every plan assembles, save one whose question would say one thing twice (a run
    // drops it).
    let a = match PostgisAssembler.assemble(pack(), &plan) {
        Ok(a) => a,
        Err(sqlsynth::GenerateError::AmbiguousQuestion(_)) => return,
        Err(e) => panic!("every plan assembles: {e}"),
    };
    let parsed = sqlsynth::sql::parse(&a.sql).expect("assembled SQL parses");
    assert_eq!(parsed.len(), 1);
    assert_eq!(parsed[0].to_string(), a.statement.to_string(), "round trip");
    let report = f.validator.validate_candidate(&Candidate {
        sql: a.sql.clone(),
        question: Some(a.question.clone()),
        requested: Some(plan.realized.clone()),
    });
    assert!(report.valid, "{}\n{:?}", a.sql, report.findings);
    for l in plan.literals() {
        assert!(
            common::literal_stated(pack(), &a.question, l),
            "{} not in {}",
            l.text(),
            a.question
        );
    }
});
