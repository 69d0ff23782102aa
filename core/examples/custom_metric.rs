//! A quality metric of your own, in-process: it joins the validator's weighted score and
//! every generated record's `quality_breakdown`.
//!
//! `cargo run --release --example custom_metric`

use sqlsynth::metrics::{MetricContext, QueryAnalysis};
use sqlsynth::pipeline::{NoProgress, Pipeline};
use sqlsynth::{Candidate, MetricScore, QualityMetric, SchemaPack, Validator};

/// Prefers queries that return a bounded number of rows (LIMIT) or aggregate.
struct BoundedResult;

impl QualityMetric for BoundedResult {
    fn name(&self) -> &str {
        "bounded_result"
    }
    fn weight(&self) -> f64 {
        0.05
    }
    fn score(&self, _c: &Candidate, a: &QueryAnalysis, _ctx: &MetricContext<'_>) -> MetricScore {
        let facts = &a.analysis.facts;
        let bounded = facts.has_limit || facts.has_aggregate || facts.has_group_by;
        MetricScore {
            metric: self.name().into(),
            score: if bounded { 1.0 } else { 0.5 },
            weight: self.weight(),
            applicable: a.parsed_one(),
            findings: Vec::new(),
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pack = SchemaPack::default_pack();

    // On its own, with the validator.
    let validator = Validator::new(&pack).with_metric(Box::new(BoundedResult));
    let report = validator.validate("SELECT b.building_id FROM cim_vector.building b LIMIT 10");
    let mine = report
        .breakdown
        .iter()
        .find(|m| m.metric == "bounded_result")
        .unwrap();
    println!(
        "validator: bounded_result {:.2}, overall {:.3}",
        mine.score, report.score
    );

    // In the pipeline.
    let pipeline = Pipeline::builder(&pack)
        .metric(BoundedResult)
        .rows(200)
        .build()?;
    let mut sum = 0.0;
    let stats = pipeline.stream(&NoProgress, |r| {
        sum += r.quality_breakdown["bounded_result"];
        Ok(())
    })?;
    println!(
        "pipeline: {} records, mean bounded_result {:.3}",
        stats.generation.accepted,
        sum / stats.generation.accepted as f64
    );
    Ok(())
}
