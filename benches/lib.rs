//! Inputs shared by the benchmarks.

/// Typical queries: the SQL of the embedded CIM Wizard seed corpus.
pub fn typical_queries() -> Vec<String> {
    let pack = sqlsynth::SchemaPack::default_pack();
    pack.corpus_jsonl()
        .expect("the CIM Wizard pack ships a seed corpus")
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["sql_postgis"].as_str().map(str::to_string))
        .collect()
}

/// The feature table of the embedded seed corpus.
pub fn seed_feature_table(pack: &sqlsynth::SchemaPack) -> sqlsynth::FeatureTable {
    use std::io::Cursor;
    use std::path::Path;
    let text = pack
        .corpus_jsonl()
        .expect("the pack ships a seed corpus")
        .as_bytes()
        .to_vec();
    let reader = sqlsynth::Stage1Reader::from_reader(
        Path::new("corpus.jsonl"),
        Box::new(Cursor::new(text)),
        sqlsynth::read::ReadOptions::default(),
    );
    let ex = sqlsynth::FeatureExtractor::new(pack);
    let features: Vec<_> = reader
        .map(|r| {
            let r = r.expect("seed corpus reads");
            ex.extract(&r.sql, &r.labels()).expect("seeds parse")
        })
        .collect();
    sqlsynth::FeatureTable::from_features(&features)
}
