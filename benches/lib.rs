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
