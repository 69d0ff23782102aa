//! Arbitrary bytes as a pack JSON file: loading never panics; a pack that loads renders its
//! DDL and can be asked for a plan (which either assembles or is a clear error).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sqlsynth::assemble::PostgisAssembler;
use sqlsynth::select::PackSelector;
use sqlsynth::{Assembler, FeatureValue, SchemaPack, StructureRow, TokenSelector};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(pack) = SchemaPack::from_json_str(text, "fuzz") else {
        return;
    };
    let _ = pack.ddl();
    let Ok(selector) = PackSelector::with_params(&pack, Default::default()) else {
        return;
    };
    use FeatureValue::{Cat, Int};
    let row = StructureRow(vec![
        Int(1),
        Int(1),
        Int(1),
        Int(2),
        Int(2),
        Int(1),
        Int(7),
        Cat("NESTED_QUERY".into()),
        Cat("HARD".into()),
        Cat("SINGLE_SCHEMA".into()),
        Cat("HIGH".into()),
        Cat("DIRECT".into()),
        Cat("predicates".into()),
        Cat("TOP_N".into()),
    ]);
    let mut rng = sqlsynth::rng::stream(1, sqlsynth::rng::SELECT, 0);
    if let Ok(plan) = selector.select(&pack, &row, &mut rng) {
        let _ = PostgisAssembler.assemble(&pack, &plan);
    }
});
