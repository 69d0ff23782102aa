//! Arbitrary bytes as a pack JSON file: loading never panics; a pack that loads renders its
//! DDL and can be asked for a plan (which either assembles or is a clear error).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sqlsynth::assemble::PostgisAssembler;
use sqlsynth::select::PackSelector;
use sqlsynth::{Assembler, SchemaPack, Structure, TokenSelector};

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
    use sqlsynth::features::{
        Difficulty, LimitStrategy, PrimaryCategory, QueryType, QuestionTone, SchemaComplexity,
        UsageFrequency,
    };
    let row = Structure {
        cte_count: 1,
        join_count: 1,
        subquery_count: 1,
        spatial_function_count: 2,
        table_count: 2,
        schema_count: 1,
        complexity_score: 7,
        sql_type: QueryType::NestedQuery,
        difficulty_level: Difficulty::Hard,
        schema_complexity: SchemaComplexity::SingleSchema,
        usage_frequency: UsageFrequency::High,
        question_tone: QuestionTone::Direct,
        primary_function_category: PrimaryCategory::Predicates,
        limit_strategy: LimitStrategy::TopN,
    };
    let mut rng = sqlsynth::rng::stream(1, sqlsynth::rng::SELECT, 0);
    if let Ok(plan) = selector.select(&pack, &row, &mut rng) {
        let _ = PostgisAssembler.assemble(&pack, &plan);
    }
});
