//! The five quality metrics of the Stage 2 plan and the [`Validator`] that combines them.
//!
//! | metric | weight | definition |
//! |---|---|---|
//! | syntactic_validity | 0.30 | 1 when the PostgreSQL parser accepts exactly one SELECT statement, else 0 |
//! | schema_compliance | 0.30 | share of table / column / function references that resolve (aliases, CTEs, subquery scopes, USING/NATURAL) |
//! | semantic_coherence | 0.20 | share of applicable checks passed: argument types, geometry subtype, SRID units, mixed SRIDs, aggregates vs GROUP BY, comparison types, boolean conditions, join conditions that connect |
//! | complexity_match | 0.10 | share of structure columns where the structure re-extracted from the SQL equals the requested one (only for generated candidates) |
//! | diversity | 0.10 | 1 for a new skeleton, 0.5 when only its shape (identifiers masked too) is known, 0 when the skeleton (literals masked) is in the seed corpus or already accepted |
//! | sense | filter | 1 when no [`sense`] lint fires, else 0 (what a spatial analyst would flag: join fan-out, no-ops, always-false predicates, degenerate grouping, unit errors, incoherent literals); not part of the weighted mean |
//!
//! The verdict `valid` means "PostgreSQL + PostGIS would accept this query against the
//! pack's DDL": it parses to one statement and no finding is an error. Smells PostgreSQL
//! accepts are warnings: they lower semantic_coherence but do not flip the verdict.

pub mod sense;

use std::collections::HashSet;
use std::sync::RwLock;

use serde::Serialize;

use crate::features::{QueryFeatures, RecordLabels};
use crate::pack::SchemaPack;
use crate::sql::analyze::{analyze_statement, Analysis};
use crate::sql::{parse, skeletons, ParseFailure};
use crate::{Aspect, Candidate, Finding, MetricScore, QualityMetric, Severity};

/// Overall score a query needs under the plan.
pub const PLAN_MIN_OVERALL: f64 = 0.70;

/// Everything the metrics read about one query, computed once.
#[derive(Debug, Clone)]
pub struct QueryAnalysis {
    /// Number of statements parsed (0 when parsing failed).
    pub statements: usize,
    /// The parse failure, if any.
    pub parse_error: Option<ParseFailure>,
    /// Resolution and type-checking result (of the first statement).
    pub analysis: Analysis,
    /// Features re-extracted from the SQL (when it parsed).
    pub features: Option<QueryFeatures>,
    /// Skeleton with literals masked.
    pub skeleton: String,
    /// Skeleton with identifiers masked too.
    pub shape: String,
    /// Findings of the [`sense`] lints.
    pub sense: Vec<Finding>,
}

impl QueryAnalysis {
    /// Parse and analyse a candidate against a pack.
    pub fn new(pack: &SchemaPack, candidate: &Candidate) -> QueryAnalysis {
        let mut sense = Vec::new();
        let (statements, parse_error, analysis, features) = match parse(&candidate.sql) {
            Ok(stmts) => {
                if let Some(s) = stmts.first() {
                    sense = sense::sense_findings(pack, s);
                }
                let analysis = stmts
                    .first()
                    .map(|s| analyze_statement(pack, s))
                    .unwrap_or_default();
                let labels = RecordLabels {
                    question: candidate.question.as_deref(),
                    ..RecordLabels::default()
                };
                let features = (!stmts.is_empty())
                    .then(|| QueryFeatures::from_facts(&analysis.facts, &labels, pack));
                (stmts.len(), None, analysis, features)
            }
            Err(e) => (0, Some(e), Analysis::default(), None),
        };
        let (skeleton, shape) = skeletons(&candidate.sql);
        QueryAnalysis {
            statements,
            parse_error,
            analysis,
            features,
            skeleton,
            shape,
            sense,
        }
    }

    /// Parsed to exactly one statement.
    pub fn parsed_one(&self) -> bool {
        self.parse_error.is_none() && self.statements == 1
    }
}

/// Skeletons already known: the seed corpus and what was accepted so far.
#[derive(Debug, Default)]
pub struct NoveltyIndex {
    known: RwLock<(HashSet<String>, HashSet<String>)>,
}

impl NoveltyIndex {
    /// Record a query's skeleton and shape as known.
    pub fn remember(&self, sql: &str) {
        let (skeleton, shape) = skeletons(sql);
        let mut k = self.known.write().unwrap_or_else(|p| p.into_inner());
        k.0.insert(skeleton);
        k.1.insert(shape);
    }

    /// (skeleton known, shape known).
    pub fn lookup(&self, skeleton: &str, shape: &str) -> (bool, bool) {
        let k = self.known.read().unwrap_or_else(|p| p.into_inner());
        (k.0.contains(skeleton), k.1.contains(shape))
    }

    /// Number of distinct skeletons known.
    pub fn len(&self) -> usize {
        self.known.read().unwrap_or_else(|p| p.into_inner()).0.len()
    }

    /// Whether nothing is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What metrics may consult besides the query.
#[derive(Debug, Clone, Copy)]
pub struct MetricContext<'a> {
    /// The pack.
    pub pack: &'a SchemaPack,
    /// Known skeletons.
    pub novelty: &'a NoveltyIndex,
}

fn findings_of(a: &QueryAnalysis, aspect: Aspect) -> Vec<Finding> {
    a.analysis
        .findings
        .iter()
        .filter(|f| f.aspect == aspect)
        .cloned()
        .collect()
}

fn score(
    metric: &dyn QualityMetric,
    score: f64,
    applicable: bool,
    findings: Vec<Finding>,
) -> MetricScore {
    MetricScore {
        metric: metric.name().to_string(),
        score,
        weight: metric.weight(),
        applicable,
        findings,
    }
}

/// The parser accepts exactly one SELECT statement.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyntacticValidity;

impl QualityMetric for SyntacticValidity {
    fn name(&self) -> &str {
        "syntactic_validity"
    }
    fn weight(&self) -> f64 {
        0.30
    }
    fn score(&self, _c: &Candidate, a: &QueryAnalysis, _ctx: &MetricContext<'_>) -> MetricScore {
        let mut findings = findings_of(a, Aspect::Syntax);
        if let Some(e) = &a.parse_error {
            findings.insert(
                0,
                Finding {
                    severity: Severity::Error,
                    aspect: Aspect::Syntax,
                    code: "parse_error".into(),
                    message: e.message.clone(),
                    location: e.location,
                },
            );
        } else if a.statements != 1 {
            findings.insert(
                0,
                Finding {
                    severity: Severity::Error,
                    aspect: Aspect::Syntax,
                    code: "statement_count".into(),
                    message: format!("expected exactly one statement, found {}", a.statements),
                    location: None,
                },
            );
        }
        let ok = a.parsed_one() && !findings.iter().any(|f| f.severity == Severity::Error);
        score(self, if ok { 1.0 } else { 0.0 }, true, findings)
    }
}

/// Share of references that resolve.
#[derive(Debug, Clone, Copy, Default)]
pub struct SchemaCompliance;

impl QualityMetric for SchemaCompliance {
    fn name(&self) -> &str {
        "schema_compliance"
    }
    fn weight(&self) -> f64 {
        0.30
    }
    fn score(&self, _c: &Candidate, a: &QueryAnalysis, _ctx: &MetricContext<'_>) -> MetricScore {
        if !a.parsed_one() {
            return score(self, 0.0, true, Vec::new());
        }
        let r = &a.analysis;
        let s = if r.refs_total == 0 {
            1.0
        } else {
            f64::from(r.refs_resolved) / f64::from(r.refs_total)
        };
        let findings = findings_of(a, Aspect::Schema);
        // An unresolved reference the share rounds away must still show.
        let s = if findings.iter().any(|f| f.severity == Severity::Error) {
            s.min(0.99)
        } else {
            s
        };
        score(self, s, true, findings)
    }
}

/// Share of applicable semantic checks passed.
#[derive(Debug, Clone, Copy, Default)]
pub struct SemanticCoherence;

impl QualityMetric for SemanticCoherence {
    fn name(&self) -> &str {
        "semantic_coherence"
    }
    fn weight(&self) -> f64 {
        0.20
    }
    fn score(&self, _c: &Candidate, a: &QueryAnalysis, _ctx: &MetricContext<'_>) -> MetricScore {
        if !a.parsed_one() {
            return score(self, 0.0, true, Vec::new());
        }
        let r = &a.analysis;
        let s = if r.checks_applicable == 0 {
            1.0
        } else {
            f64::from(r.checks_passed) / f64::from(r.checks_applicable)
        };
        score(self, s, true, findings_of(a, Aspect::Semantic))
    }
}

/// Agreement between requested and re-extracted structure.
#[derive(Debug, Clone, Copy, Default)]
pub struct ComplexityMatch;

impl QualityMetric for ComplexityMatch {
    fn name(&self) -> &str {
        "complexity_match"
    }
    fn weight(&self) -> f64 {
        0.10
    }
    fn score(&self, c: &Candidate, a: &QueryAnalysis, _ctx: &MetricContext<'_>) -> MetricScore {
        let Some(requested) = &c.requested else {
            return score(self, 1.0, false, Vec::new());
        };
        let Some(features) = &a.features else {
            return score(self, 0.0, true, Vec::new());
        };
        let (requested, actual) = (requested.to_row(), features.to_row());
        let mut findings = Vec::new();
        let mut same = 0usize;
        // Labels SQL cannot reveal are not compared.
        let skip = crate::features::LABEL_ONLY_COLUMNS;
        let mut compared = 0usize;
        for (i, (name, _)) in crate::features::FEATURE_COLUMNS.iter().enumerate() {
            if skip.contains(name) {
                continue;
            }
            let (Some(want), Some(got)) = (requested.0.get(i), actual.0.get(i)) else {
                continue;
            };
            compared += 1;
            if want == got {
                same += 1;
            } else {
                findings.push(Finding {
                    severity: Severity::Warning,
                    aspect: Aspect::Complexity,
                    code: "structure_mismatch".into(),
                    message: format!("{name}: requested {want}, the SQL has {got}"),
                    location: None,
                });
            }
        }
        let s = if compared == 0 {
            1.0
        } else {
            same as f64 / compared as f64
        };
        score(self, s, true, findings)
    }
}

/// Novelty of the skeleton.
#[derive(Debug, Clone, Copy, Default)]
pub struct Diversity;

impl QualityMetric for Diversity {
    fn name(&self) -> &str {
        "diversity"
    }
    fn weight(&self) -> f64 {
        0.10
    }
    fn score(&self, _c: &Candidate, a: &QueryAnalysis, ctx: &MetricContext<'_>) -> MetricScore {
        let (skeleton_known, shape_known) = ctx.novelty.lookup(&a.skeleton, &a.shape);
        let (s, msg) = if skeleton_known {
            (
                0.0,
                Some(
                    "the same query up to literal values is already in the seed corpus or accepted",
                ),
            )
        } else if shape_known {
            (
                0.5,
                Some("a query of the same shape (names and literals masked) is already known"),
            )
        } else {
            (1.0, None)
        };
        let findings = msg
            .map(|m| Finding {
                severity: Severity::Warning,
                aspect: Aspect::Diversity,
                code: "not_novel".into(),
                message: m.into(),
                location: None,
            })
            .into_iter()
            .collect();
        score(self, s, true, findings)
    }
}

/// What a reader would flag although PostgreSQL accepts it: 1 without [`sense`] findings,
/// 0 with any. Weight 0: a filter, not part of the overall score.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sense;

impl QualityMetric for Sense {
    fn name(&self) -> &str {
        "sense"
    }
    fn weight(&self) -> f64 {
        0.0
    }
    fn score(&self, _c: &Candidate, a: &QueryAnalysis, _ctx: &MetricContext<'_>) -> MetricScore {
        if !a.parsed_one() {
            return score(self, 0.0, false, Vec::new());
        }
        let s = if a.sense.is_empty() { 1.0 } else { 0.0 };
        score(self, s, true, a.sense.clone())
    }
}

/// The verdict, scores and findings for one query.
#[derive(Debug, Clone, Serialize)]
pub struct ValidationReport {
    /// PostgreSQL + PostGIS would accept the query against the pack's DDL.
    pub valid: bool,
    /// Weighted mean of the applicable metric scores.
    pub score: f64,
    /// Per-metric scores.
    pub breakdown: Vec<MetricScore>,
    /// All findings, in metric order.
    pub findings: Vec<Finding>,
    /// Names the pack does not know.
    pub unknown_references: Vec<String>,
    /// Re-extracted features (when the SQL parsed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub features: Option<QueryFeatures>,
    /// The query's skeleton (literals and aliases masked), as novelty compares it.
    #[serde(skip)]
    pub skeleton: String,
}

/// Parses, resolves and scores queries against a pack. `Send + Sync`: one validator serves
/// many threads.
pub struct Validator<'p> {
    pack: &'p SchemaPack,
    metrics: Vec<Box<dyn QualityMetric>>,
    novelty: NoveltyIndex,
}

impl std::fmt::Debug for Validator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator")
            .field("pack", &self.pack.name())
            .field(
                "metrics",
                &self
                    .metrics
                    .iter()
                    .map(|m| m.name().to_string())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl<'p> Validator<'p> {
    /// A validator with the five default metrics; the pack's seed corpus seeds novelty.
    pub fn new(pack: &'p SchemaPack) -> Validator<'p> {
        let novelty = NoveltyIndex::default();
        if let Some(corpus) = pack.corpus_jsonl() {
            for line in corpus.lines() {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
                    if let Some(sql) = v
                        .get("sql_postgis")
                        .or_else(|| v.get("sql"))
                        .and_then(|s| s.as_str())
                    {
                        novelty.remember(sql);
                    }
                }
            }
        }
        Validator {
            pack,
            metrics: vec![
                Box::new(SyntacticValidity),
                Box::new(SchemaCompliance),
                Box::new(SemanticCoherence),
                Box::new(ComplexityMatch),
                Box::new(Diversity),
                Box::new(Sense),
            ],
            novelty,
        }
    }

    /// Add a metric (it joins the weighted mean with its own weight).
    pub fn with_metric(mut self, metric: Box<dyn QualityMetric>) -> Validator<'p> {
        self.metrics.push(metric);
        self
    }

    /// The known skeletons (seed corpus plus [`Validator::remember`]ed queries).
    pub fn novelty(&self) -> &NoveltyIndex {
        &self.novelty
    }

    /// Mark a query as accepted: later queries with its skeleton are not novel.
    pub fn remember(&self, sql: &str) {
        self.novelty.remember(sql);
    }

    /// Validate SQL text.
    pub fn validate(&self, sql: &str) -> ValidationReport {
        self.validate_candidate(&Candidate::from_sql(sql))
    }

    /// Validate a candidate (SQL, question, requested structure).
    pub fn validate_candidate(&self, candidate: &Candidate) -> ValidationReport {
        let analysis = QueryAnalysis::new(self.pack, candidate);
        let ctx = MetricContext {
            pack: self.pack,
            novelty: &self.novelty,
        };
        let breakdown: Vec<MetricScore> = self
            .metrics
            .iter()
            .map(|m| m.score(candidate, &analysis, &ctx))
            .collect();
        let (num, den) = breakdown
            .iter()
            .filter(|m| m.applicable)
            .fold((0.0, 0.0), |(n, d), m| {
                (n + m.weight * m.score, d + m.weight)
            });
        let mut findings: Vec<Finding> = Vec::new();
        for m in &breakdown {
            for f in &m.findings {
                if !findings.contains(f) {
                    findings.push(f.clone());
                }
            }
        }
        // Findings no metric claimed (e.g. from a custom aspect) are still reported.
        for f in &analysis.analysis.findings {
            if !findings.contains(f) {
                findings.push(f.clone());
            }
        }
        let valid =
            analysis.parsed_one() && !findings.iter().any(|f| f.severity == Severity::Error);
        ValidationReport {
            valid,
            score: if den > 0.0 { num / den } else { 0.0 },
            breakdown,
            findings,
            unknown_references: analysis.analysis.unknown_refs.clone(),
            features: analysis.features,
            skeleton: analysis.skeleton,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(sql: &str) -> ValidationReport {
        let pack = SchemaPack::default_pack();
        Validator::new(&pack).validate(sql)
    }

    #[test]
    fn valid_query_scores_high() {
        let r = check(
            "SELECT b.building_id, ST_Area(b.building_geometry::geography) AS area_m2\nFROM cim_vector.building b\nWHERE b.lod = 1",
        );
        assert!(r.valid, "{:?}", r.findings);
        assert!(r.score > 0.9, "{}", r.score);
    }

    #[test]
    fn unknown_column_is_located_and_invalid() {
        let r = check("SELECT b.building_id\nFROM cim_vector.building b\nWHERE b.heigth > 10");
        assert!(!r.valid);
        let f = r
            .findings
            .iter()
            .find(|f| f.code == "unknown_column")
            .unwrap();
        assert_eq!(f.location.map(|l| (l.line, l.column)), Some((3, 7)));
        let schema = r
            .breakdown
            .iter()
            .find(|m| m.metric == "schema_compliance")
            .unwrap();
        assert!(schema.score < 1.0);
    }

    #[test]
    fn smells_lower_semantics_but_keep_the_verdict() {
        let r = check("SELECT ST_Length(b.building_geometry) FROM cim_vector.building b");
        assert!(r.valid, "{:?}", r.findings);
        assert!(r.findings.iter().any(|f| f.code == "geometry_subtype"));
        assert!(r.findings.iter().any(|f| f.code == "degrees_as_metres"));
        let sem = r
            .breakdown
            .iter()
            .find(|m| m.metric == "semantic_coherence")
            .unwrap();
        assert!(sem.score < 1.0);
    }

    #[test]
    fn parse_failure_scores_zero_syntax() {
        let r = check("SELECT FROM WHERE");
        assert!(!r.valid);
        assert_eq!(r.breakdown[0].score, 0.0);
        assert!(r.score < PLAN_MIN_OVERALL);
    }

    #[test]
    fn validator_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Validator<'static>>();
        assert_send_sync::<SchemaPack>();
    }
}
