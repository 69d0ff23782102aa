//! The core traits are open: a token selector and a quality metric written here, in plain
//! Rust outside `core`, plug into `Pipeline` and are used.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rand_chacha::ChaCha8Rng;
use sqlsynth::metrics::{MetricContext, QueryAnalysis};
use sqlsynth::pipeline::{NoProgress, Pipeline};
use sqlsynth::select::PackSelector;
use sqlsynth::{
    Candidate, GenerateError, MetricScore, QualityMetric, QueryPlan, SchemaPack, Structure,
    TokenSelector,
};

/// Delegates to the built-in selector, counts its calls, and always asks for the second
/// question template.
struct CountingSelector {
    inner: PackSelector,
    calls: Arc<AtomicUsize>,
}

impl TokenSelector for CountingSelector {
    fn select(
        &self,
        pack: &SchemaPack,
        row: &Structure,
        rng: &mut ChaCha8Rng,
    ) -> Result<QueryPlan, GenerateError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut plan = self.inner.select(pack, row, rng)?;
        plan.phrasing = 1;
        Ok(plan)
    }
}

/// Questions should be readable: 1 up to 400 characters, then falling to 0 at 1,000.
struct QuestionLength;

impl QualityMetric for QuestionLength {
    fn name(&self) -> &str {
        "question_length"
    }
    fn weight(&self) -> f64 {
        0.05
    }
    fn score(&self, c: &Candidate, _a: &QueryAnalysis, _ctx: &MetricContext<'_>) -> MetricScore {
        let n = c.question.as_deref().map_or(0, str::len) as f64;
        MetricScore {
            metric: self.name().into(),
            score: (1.0 - (n - 400.0).max(0.0) / 600.0).clamp(0.0, 1.0),
            weight: self.weight(),
            applicable: c.question.is_some(),
            findings: Vec::new(),
        }
    }
}

#[test]
fn own_selector_and_metric_are_used_by_the_pipeline() {
    let pack = SchemaPack::default_pack();
    let calls = Arc::new(AtomicUsize::new(0));
    let pipeline = Pipeline::builder(&pack)
        .selector(CountingSelector {
            inner: PackSelector::new(&pack),
            calls: calls.clone(),
        })
        .metric(QuestionLength)
        .rows(300)
        .seed(9)
        .build()
        .unwrap();
    let mut records = Vec::new();
    let stats = pipeline
        .stream(&NoProgress, |r| {
            records.push(r);
            Ok(())
        })
        .unwrap();
    assert_eq!(records.len(), 300);
    assert_eq!(
        calls.load(Ordering::Relaxed) as u64,
        stats.generation.planned
    );
    for r in &records {
        let s = r.quality_breakdown["question_length"];
        let expected = (1.0 - (r.question.len() as f64 - 400.0).max(0.0) / 600.0).clamp(0.0, 1.0);
        assert!((s - expected).abs() < 1e-4, "{} {s} {expected}", r.id);
    }
    assert!(stats
        .generation
        .metric_means
        .contains_key("question_length"));
    // The second template of each tone was used.
    // (After the setting a question may open with: "In scenario 'baseline', return …".)
    let request = |q: &str| match q.split_once(", ") {
        Some((head, rest)) if head.starts_with("In ") || head.starts_with("At ") => {
            let mut c = rest.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        }
        _ => q.to_string(),
    };
    assert!(records.iter().all(|r| {
        let q = request(&r.question);
        q.starts_with("Return ")
            || q.starts_with("Can you list ")
            || q.starts_with("I need ")
            || q.starts_with("Calculate ")
            // The analytical opening for stored columns only ("ANALYTICAL/plain").
            || q.starts_with("Analyse ")
    }));
    assert!(!records.iter().any(|r| r.question.starts_with("List ")));
}
