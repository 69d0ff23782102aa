//! The Stage 2 pipeline: sample structure rows → select → assemble → score → filter.
//!
//! [`Pipeline`] (and [`Generator`] under it) runs rounds until the target is reached: each round samples
//! `oversample × missing` rows from the fitted synthesizer (row `i` always draws from the
//! streams `(seed, i)`, so a row is the same whichever round or thread handles it), turns
//! them into candidates in parallel, then filters them sequentially in row order (exact
//! duplicates, per-skeleton quota, thresholds). The accepted records come out in row
//! order: the output is byte-identical for a seed whatever the number of threads.
//!
//! Filtering never accepts a query that does not parse, names something the pack does not
//! have, or that the validator says PostgreSQL would reject; never an exact duplicate.
//!
//! With a [`QueryExecutor`] ([`Generator::run_executing`], [`PipelineBuilder::executor`])
//! every candidate that passes the other filters is also run on the database: the
//! candidates of a chunk that pass the score checks are sent in batches, in row order (one
//! batch per chunk; smaller batches when the target is near, so a small run does not
//! execute a whole chunk), and a run-time error (`execution_error`), a timeout
//! (`execution_timeout`) or, unless [`GenerateOptions::allow_empty`], an empty result
//! (`empty_result`) rejects the candidate. Accepted records then carry
//! [`Stage2Record::execution`]. Without an executor nothing is run and the records are
//! exactly those of a run without one.

mod builder;
mod job;

pub use builder::{Input, Pipeline, PipelineBuilder};

pub use job::{
    InputStats, JobError, JobStats, SkippedRecord, Stage2Job, MODELS, RECORDS_FILE, STATS_FILE,
};

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::execute::{ExecutionInfo, ExecutionStats, QueryExecutor};
use crate::features::{FeatureValue, Structure, FEATURE_COLUMNS};
use crate::pack::SchemaPack;
use crate::plan::{Deviation, PlanExpr, QueryPlan, SelectPlan, Source};
use crate::{
    Assembler, Candidate, FittedSynthesizer, GenerateError, SampleRequest, TokenSelector,
    ValidationReport, Validator,
};

/// Acceptance thresholds (the Stage 2 plan's, with a few stricter rules on top).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Minimum overall (weighted) score.
    pub overall: f64,
    /// Minimum syntactic validity.
    pub syntactic: f64,
    /// Minimum schema compliance.
    pub schema: f64,
    /// Minimum semantic coherence.
    pub semantic: f64,
    /// Minimum diversity.
    pub diversity: f64,
    /// Minimum complexity match (requested vs re-extracted structure).
    pub complexity_match: f64,
    /// Minimum `sense` score: 1 rejects every query with a sense finding (the rejection
    /// is counted under the finding's code, e.g. `s1_fan_out`), 0 turns the filter off.
    #[serde(default = "one")]
    pub sense: f64,
    /// Longest question kept, in words (the seed corpus never exceeds 60): a longer one
    /// reads the SQL out rather than asking it. Rejections count as `question_too_long`;
    /// 0 turns the limit off.
    #[serde(default = "sixty")]
    pub max_question_words: usize,
}

fn one() -> f64 {
    1.0
}

fn sixty() -> usize {
    60
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            overall: 0.70,
            syntactic: 0.90,
            schema: 0.80,
            semantic: 0.60,
            diversity: 0.50,
            complexity_match: 0.90,
            sense: 1.0,
            max_question_words: 60,
        }
    }
}

/// Options of a generation run.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    /// Records to produce.
    pub rows: u64,
    /// Run seed.
    pub seed: u64,
    /// Rows sampled per missing record in each round (1.5 = 50 % more).
    pub oversample: f64,
    /// Worker threads (0: all cores).
    pub threads: usize,
    /// Rounds before giving up.
    pub max_rounds: u32,
    /// Acceptance thresholds.
    pub thresholds: Thresholds,
    /// At most this many accepted records share one skeleton (literals and aliases
    /// masked): what "novel against what was already accepted" means here.
    pub skeleton_quota: usize,
    /// Conditional sampling: categorical feature columns fixed to a value.
    pub fixed: Vec<(String, FeatureValue)>,
    /// Name written into each record's `generation_method`.
    pub method: String,
    /// With an executor: accept queries that run but return no row (by default they are
    /// rejected as `empty_result`). Without one it changes nothing.
    pub allow_empty: bool,
    /// Shares of `sql_type` the output follows (a quota per type). `None`: the shares of
    /// the rows the synthesizer samples; [`Pipeline`] sets the
    /// input corpus's.
    pub type_mix: Option<BTreeMap<String, f64>>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            rows: 50_000,
            seed: 42,
            oversample: 1.5,
            threads: 0,
            max_rounds: 20,
            thresholds: Thresholds::default(),
            skeleton_quota: 40,
            fixed: Vec::new(),
            method: "gaussian_copula".into(),
            allow_empty: false,
            type_mix: None,
        }
    }
}

impl GenerateOptions {
    /// Check the settings (what [`PipelineBuilder::build`] and [`Generator::run`] do
    /// before any work): at least one row, an oversampling factor ≥ 1, at least one round
    /// and one record per skeleton, thresholds in [0, 1].
    pub fn check(&self) -> Result<(), GenerateError> {
        let bad = |name: &'static str, reason: String| {
            Err(GenerateError::InvalidSetting { name, reason })
        };
        if self.rows == 0 {
            return bad("rows", "at least 1 record must be requested".into());
        }
        if !(self.oversample >= 1.0 && self.oversample.is_finite()) {
            return bad(
                "oversample",
                format!("must be a finite number ≥ 1, not {}", self.oversample),
            );
        }
        if self.max_rounds == 0 {
            return bad("max_rounds", "must be at least 1".into());
        }
        if self.skeleton_quota == 0 {
            return bad("skeleton_quota", "must be at least 1".into());
        }
        let t = &self.thresholds;
        for (name, v) in [
            ("thresholds.overall", t.overall),
            ("thresholds.syntactic", t.syntactic),
            ("thresholds.schema", t.schema),
            ("thresholds.semantic", t.semantic),
            ("thresholds.diversity", t.diversity),
            ("thresholds.complexity_match", t.complexity_match),
            ("thresholds.sense", t.sense),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return bad(name, format!("must lie in [0, 1], not {v}"));
            }
        }
        Ok(())
    }
}

/// One Stage 2 record: shaped like a Stage 1 record, plus quality and provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stage2Record {
    /// Stable id: `<pack>_<seed>_<row>`.
    pub id: String,
    /// The question, stating what the SQL asks.
    pub question: String,
    /// The PostGIS query.
    pub sql_postgis: String,
    /// Query type (re-extracted from the SQL).
    pub sql_type: String,
    /// Difficulty (re-extracted).
    pub difficulty: String,
    /// Question tone.
    pub question_tone: String,
    /// Usage frequency label of the sampled structure.
    pub usage_frequency: String,
    /// Tables (`schema.table`) and the columns the query reads from each.
    pub database_schema: BTreeMap<String, Vec<String>>,
    /// Spatial functions called (re-extracted).
    pub spatial_functions: Vec<String>,
    /// Overall quality score.
    pub quality_score: f64,
    /// Per-metric scores.
    pub quality_breakdown: BTreeMap<String, f64>,
    /// The structure row sampled from the synthesizer.
    pub synthetic_structure: BTreeMap<String, FeatureValue>,
    /// Where the plan could not follow the sampled structure.
    pub deviations: Vec<Deviation>,
    /// Which synthesizer produced the structure.
    pub generation_method: String,
    /// Run seed.
    pub seed: u64,
    /// Row index in the run's stream.
    pub row: u64,
    /// The input query whose intent the plan varies (its id, else `line N`), when the
    /// selector drew on one. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derived_from: Option<String>,
    /// What running the query on the database gave (rows counted up to the executor's
    /// cap, milliseconds); only with an executor. When absent it is not written, so a
    /// record of a run without an executor is exactly what it was before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<ExecutionInfo>,
}

/// Progress reporting, phase by phase (the CLI draws bars; embedders may ignore it).
pub trait Progress: Sync {
    /// A phase starts with `total` units of work.
    fn phase(&self, _name: &str, _total: u64) {}
    /// `n` more units done.
    fn advance(&self, _n: u64) {}
    /// The phase is done.
    fn finish_phase(&self) {}
    /// Whether the caller asked the run to stop (e.g. Ctrl-C); checked between chunks.
    /// A cancelled run returns [`GenerateError::Cancelled`] and writes nothing under the
    /// final output names.
    fn cancelled(&self) -> bool {
        false
    }
}

/// A progress reporter that reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;
impl Progress for NoProgress {}

/// Counts and figures of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GenerateStats {
    /// Records requested.
    pub target: u64,
    /// Records accepted.
    pub accepted: u64,
    /// Rounds of sampling.
    pub rounds: u32,
    /// Structure rows sampled.
    pub sampled: u64,
    /// Rows sampled in the last round after the target was met (never used).
    pub unused_rows: u64,
    /// Rows turned into a plan.
    pub planned: u64,
    /// Plans realising their row exactly.
    pub planned_exactly: u64,
    /// Plans assembled into SQL.
    pub assembled: u64,
    /// Candidates scored.
    pub scored: u64,
    /// Sampled rows rejected by a structural constraint (see
    /// [`structure_violation`](crate::features::structure_violation)), by rule.
    pub constraint_rejections: BTreeMap<String, u64>,
    /// Why candidates were rejected, with counts.
    pub rejections: BTreeMap<String, u64>,
    /// Over all plans: how often each feature column could not be realised as sampled.
    pub deviations_by_column: BTreeMap<String, u64>,
    /// Mean of each metric over accepted records.
    pub metric_means: BTreeMap<String, f64>,
    /// Mean overall score over accepted records.
    pub quality_mean: f64,
    /// Accepted records whose skeleton is absent from the seed corpus.
    pub novel_skeletons: u64,
    /// Distinct skeletons among accepted records.
    pub distinct_skeletons: u64,
    /// Tables used, with counts.
    pub tables_used: BTreeMap<String, u64>,
    /// Pack join edges realised (by index), with counts.
    pub join_edges_used: BTreeMap<usize, u64>,
    /// Pack join edges never realised.
    pub join_edges_missing: Vec<usize>,
    /// Catalogue functions used, with counts.
    pub functions_used: BTreeMap<String, u64>,
    /// Catalogue functions never used.
    pub functions_missing: Vec<String>,
    /// Accepted records per sql_type.
    pub sql_types: BTreeMap<String, u64>,
    /// Execution figures, with an executor only (left out of the stats file otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<ExecutionStats>,
    /// Seconds per phase.
    pub timings: BTreeMap<String, f64>,
}

/// Candidates made between two filter passes.
const CHUNK: usize = 8192;
/// Rows sampled at once.
const SAMPLE_SLICE: u64 = 65_536;
/// Rounds after which the per-type quotas are lifted (a pack that cannot realise some
/// type still gets its records).
const QUOTA_ROUNDS: u32 = 8;
/// Fewest queries sent to the executor at once (more when many records are missing).
const MIN_EXECUTE_BATCH: usize = 256;

/// One row's outcome after the parallel phase.
enum Outcome {
    /// No plan (or no SQL) came of the row.
    Rejected(&'static str),
    /// A plan that cannot be accepted, known before it is validated: its structure
    /// deviates more than the threshold allows, or its SQL was accepted in an earlier
    /// chunk. Only counted (with the plan's deviating columns).
    Dropped {
        why: &'static str,
        deviations: Vec<String>,
    },
    Candidate(Box<Scored>),
}

struct Scored {
    row: u64,
    requested: Structure,
    plan: QueryPlan,
    sql: String,
    question: String,
    report: ValidationReport,
}

/// Everything a run needs.
pub struct Generator<'a> {
    /// The pack.
    pub pack: &'a SchemaPack,
    /// A fitted synthesizer.
    pub synthesizer: &'a dyn FittedSynthesizer,
    /// The token selector.
    pub selector: &'a dyn TokenSelector,
    /// The assembler.
    pub assembler: &'a dyn Assembler,
    /// The validator (its novelty index holds the seed corpus).
    pub validator: &'a Validator<'a>,
}

impl Generator<'_> {
    /// Run until `opts.rows` records are accepted (or say why not); each accepted record
    /// goes to `sink` in row order.
    pub fn run(
        &self,
        opts: &GenerateOptions,
        progress: &dyn Progress,
        sink: &mut dyn FnMut(Stage2Record) -> Result<(), GenerateError>,
    ) -> Result<GenerateStats, GenerateError> {
        self.generate(opts, None, progress, sink)
    }

    /// [`Generator::run`], with every candidate that passes the other filters also run
    /// by `executor`: failures, timeouts and (unless [`GenerateOptions::allow_empty`])
    /// empty results are rejected, accepted records carry [`Stage2Record::execution`],
    /// and the stats [`GenerateStats::execution`]. A batch in which no query could reach
    /// the database (every one failed with SQLSTATE 08001) stops the run with
    /// [`GenerateError::Execution`].
    pub fn run_executing(
        &self,
        opts: &GenerateOptions,
        executor: &dyn QueryExecutor,
        progress: &dyn Progress,
        sink: &mut dyn FnMut(Stage2Record) -> Result<(), GenerateError>,
    ) -> Result<GenerateStats, GenerateError> {
        self.generate(opts, Some(executor), progress, sink)
    }

    fn generate(
        &self,
        opts: &GenerateOptions,
        executor: Option<&dyn QueryExecutor>,
        progress: &dyn Progress,
        sink: &mut dyn FnMut(Stage2Record) -> Result<(), GenerateError>,
    ) -> Result<GenerateStats, GenerateError> {
        opts.check()?;
        let mut stats = GenerateStats {
            target: opts.rows,
            execution: executor.map(|_| ExecutionStats::default()),
            ..GenerateStats::default()
        };
        let mut seen_sql: HashSet<String> = HashSet::new();
        // Two queries differing only in their column order read alike: one question is
        // one record.
        let mut seen_questions: HashSet<String> = HashSet::new();
        // Records per sql_type follow the mix of the rows the synthesizer samples (its
        // marginal, fitted on the input): without quotas the types the selector realises
        // most easily would crowd out the others.
        let mut type_target: Option<BTreeMap<String, u64>> = None;
        let mut type_accepted: BTreeMap<String, u64> = BTreeMap::new();
        // Rows sampled per requested sql_type (before the constraints).
        let mut type_drawn: BTreeMap<String, u64> = BTreeMap::new();
        let mut skeleton_counts: HashMap<String, usize> = HashMap::new();
        let mut metric_sums: BTreeMap<String, f64> = BTreeMap::new();
        let mut quality_sum = 0.0;
        let mut next_row = 0u64;
        let started = Instant::now();
        let mut t_sample = 0.0;
        let mut t_candidates = 0.0;
        let mut t_filter = 0.0;
        while stats.accepted < opts.rows {
            if stats.rounds >= opts.max_rounds {
                if std::env::var_os("SQLSYNTH_DEBUG").is_some() {
                    eprintln!("{:#?}", stats.deviations_by_column);
                }
                return Err(GenerateError::Unrealizable {
                    pack: self.pack.name().to_string(),
                    reason: format!(
                        "{} of {} records accepted after {} rounds ({} rows sampled); \
                         rejections: {}",
                        stats.accepted,
                        opts.rows,
                        stats.rounds,
                        stats.sampled,
                        describe(&stats.rejections)
                    ),
                });
            }
            stats.rounds += 1;
            let missing = opts.rows - stats.accepted;
            // Round 1 samples `oversample` × the target; later rounds size themselves by
            // the yield seen so far (with the same margin), so a low yield costs rounds,
            // not failure.
            let yield_so_far = if stats.accepted > 0 {
                stats.accepted as f64 / stats.sampled as f64
            } else {
                1.0
            };
            // What to sample: once the per-type quotas are known, each type that is short
            // gets rows conditioned on it (the synthesizer's conditional sampling), sized
            // by that type's own yield; else rows of the plain (or user-fixed) model.
            let user_fixes_type = opts.fixed.iter().any(|(c, _)| c == "sql_type");
            let mut draws: Vec<(Vec<(String, FeatureValue)>, u64)> = Vec::new();
            if let (Some(q), false) = (&type_target, user_fixes_type) {
                if !q.is_empty() && stats.rounds <= QUOTA_ROUNDS {
                    for (ty, target) in q {
                        let got = type_accepted.get(ty).copied().unwrap_or(0);
                        if got >= *target {
                            continue;
                        }
                        let drawn = type_drawn.get(ty).copied().unwrap_or(0);
                        let y = if got > 0 && drawn > 0 {
                            got as f64 / drawn as f64
                        } else {
                            (yield_so_far / 4.0).max(1e-4)
                        };
                        let n_t = (((target - got) as f64) * opts.oversample / y)
                            .ceil()
                            .clamp(64.0, 5_000_000.0) as u64;
                        let mut fixed = opts.fixed.clone();
                        fixed.push(("sql_type".into(), FeatureValue::Cat(ty.clone())));
                        draws.push((fixed, n_t));
                    }
                }
            }
            if draws.is_empty() {
                let n = ((missing as f64) * opts.oversample / yield_so_far)
                    .ceil()
                    .clamp(1.0, 50_000_000.0) as u64;
                draws.push((opts.fixed.clone(), n));
            }
            let n: u64 = draws.iter().map(|d| d.1).sum();

            let t = Instant::now();
            // Sample in slices and keep only the rows that meet the constraints: rows
            // whose derived columns break the feature definitions are rejected before any
            // SQL is made (SDV's reject sampling). Slicing bounds the memory held.
            progress.phase(&format!("round {}: sample", stats.rounds), n);
            let mut sampled: Vec<(u64, Structure)> = Vec::new();
            let sql_type_column = FEATURE_COLUMNS
                .iter()
                .position(|(n, _)| *n == "sql_type")
                .expect("sql_type is a feature column");
            for (fixed, count) in &draws {
                let rows = next_row..next_row + count;
                next_row += count;
                let mut start = rows.start;
                while start < rows.end {
                    if progress.cancelled() {
                        return Err(GenerateError::Cancelled);
                    }
                    let end = (start + SAMPLE_SLICE).min(rows.end);
                    let slice = self.synthesizer.sample(&SampleRequest {
                        seed: opts.seed,
                        rows: start..end,
                        fixed: fixed.clone(),
                    })?;
                    for (i, row) in slice.into_iter().enumerate() {
                        if let Some(v) = row.0.get(sql_type_column) {
                            *type_drawn.entry(v.to_string()).or_default() += 1;
                        }
                        match crate::features::checked_structure(&row) {
                            Ok(structure) => sampled.push((start + i as u64, structure)),
                            Err(rule) => {
                                *stats
                                    .constraint_rejections
                                    .entry(rule.to_string())
                                    .or_default() += 1;
                            }
                        }
                    }
                    progress.advance(end - start);
                    start = end;
                }
            }
            progress.finish_phase();
            stats.sampled += n;
            t_sample += t.elapsed().as_secs_f64();
            if type_target.is_none() {
                let shares: BTreeMap<String, f64> = match &opts.type_mix {
                    Some(m) => m.clone(),
                    None => {
                        let mut c: BTreeMap<String, f64> = BTreeMap::new();
                        for (_, row) in &sampled {
                            *c.entry(row.sql_type.name().to_string()).or_default() += 1.0;
                        }
                        c
                    }
                };
                type_target = Some(type_quotas(&shares, opts.rows));
            }
            if stats.rounds > QUOTA_ROUNDS {
                type_target = Some(BTreeMap::new());
            }
            let quotas = type_target.clone().unwrap_or_default();
            let full = |accepted: &BTreeMap<String, u64>, t: &str| {
                !quotas.is_empty()
                    && accepted.get(t).copied().unwrap_or(0) >= quotas.get(t).copied().unwrap_or(0)
            };

            // Candidates in chunks, so the last round stops as soon as the target is met
            // (the rows after that point are left unused, which changes nothing before it).
            progress.phase(
                &format!(
                    "round {}: select, assemble, score, {}filter",
                    stats.rounds,
                    if executor.is_some() { "execute, " } else { "" }
                ),
                sampled.len() as u64,
            );
            for chunk in sampled.chunks(CHUNK) {
                if progress.cancelled() {
                    return Err(GenerateError::Cancelled);
                }
                if stats.accepted >= opts.rows {
                    stats.unused_rows += chunk.len() as u64;
                    continue;
                }
                let t = Instant::now();
                // Rows of a type whose quota is met are not worth a plan.
                let chunk: Vec<(u64, Structure)> = chunk
                    .iter()
                    .filter(|(_, row)| {
                        let keep = !full(&type_accepted, row.sql_type.name());
                        if !keep {
                            *stats.rejections.entry("type_quota".into()).or_default() += 1;
                        }
                        keep
                    })
                    .cloned()
                    .collect();
                let chunk = chunk.as_slice();
                let outcomes = self.candidates(opts, chunk, &seen_sql, progress);
                t_candidates += t.elapsed().as_secs_f64();
                let t = Instant::now();
                let mut runs = executor.map(|e| ChunkRuns::new(e, &outcomes, &opts.thresholds));
                for (index, o) in outcomes.into_iter().enumerate() {
                    let c = match o {
                        Outcome::Rejected(why) => {
                            *stats.rejections.entry(why.to_string()).or_default() += 1;
                            continue;
                        }
                        Outcome::Dropped { why, deviations } => {
                            stats.planned += 1;
                            for d in deviations {
                                *stats.deviations_by_column.entry(d).or_default() += 1;
                            }
                            if stats.accepted >= opts.rows {
                                stats.unused_rows += 1;
                            } else {
                                *stats.rejections.entry(why.to_string()).or_default() += 1;
                            }
                            continue;
                        }
                        Outcome::Candidate(c) => c,
                    };
                    stats.planned += 1;
                    for d in &c.plan.deviations {
                        *stats
                            .deviations_by_column
                            .entry(d.column.clone())
                            .or_default() += 1;
                    }
                    stats.assembled += 1;
                    stats.scored += 1;
                    if stats.accepted >= opts.rows {
                        stats.unused_rows += 1;
                        continue;
                    }
                    let mut report = c.report;
                    if let Some(why) = reject_reason(&report, &opts.thresholds) {
                        *stats.rejections.entry(why.into()).or_default() += 1;
                        continue;
                    }
                    if seen_sql.contains(&c.sql) {
                        *stats.rejections.entry("duplicate_sql".into()).or_default() += 1;
                        continue;
                    }
                    if seen_questions.contains(&c.question) {
                        *stats
                            .rejections
                            .entry("duplicate_question".into())
                            .or_default() += 1;
                        continue;
                    }
                    let count = skeleton_counts.get(&report.skeleton).copied().unwrap_or(0);
                    if count >= opts.skeleton_quota {
                        *stats.rejections.entry("skeleton_quota".into()).or_default() += 1;
                        continue;
                    }
                    let realized_type = report
                        .features
                        .as_ref()
                        .map(|f| f.structure.sql_type.name().to_string())
                        .unwrap_or_default();
                    if full(&type_accepted, &realized_type) {
                        *stats.rejections.entry("type_quota".into()).or_default() += 1;
                        continue;
                    }
                    // Diversity against what was already accepted: a skeleton's share of its
                    // quota already used lowers the score (the seed-corpus novelty stays).
                    let used = count as f64 / opts.skeleton_quota as f64;
                    for m in &mut report.breakdown {
                        if m.metric == "diversity" {
                            m.score *= 1.0 - 0.5 * used;
                        }
                    }
                    report.score = weighted(&report);
                    if report.score < opts.thresholds.overall {
                        *stats
                            .rejections
                            .entry("overall_below_threshold".into())
                            .or_default() += 1;
                        continue;
                    }
                    let mut execution = None;
                    if let (Some(runs), Some(exec_stats)) =
                        (runs.as_mut(), stats.execution.as_mut())
                    {
                        let batch = MIN_EXECUTE_BATCH.max(
                            2 * usize::try_from(opts.rows - stats.accepted).unwrap_or(usize::MAX),
                        );
                        let outcome =
                            runs.outcome(index, &c.sql, batch, &seen_sql, exec_stats, progress)?;
                        match judge_execution(outcome, opts.allow_empty, exec_stats) {
                            Ok(info) => execution = Some(info),
                            Err(why) => {
                                *stats.rejections.entry(why.into()).or_default() += 1;
                                continue;
                            }
                        }
                    }
                    seen_sql.insert(c.sql.clone());
                    seen_questions.insert(c.question.clone());
                    *skeleton_counts.entry(report.skeleton.clone()).or_default() += 1;
                    *type_accepted.entry(realized_type).or_default() += 1;
                    let mut record = self.record(
                        opts,
                        &c.plan,
                        c.row,
                        &c.requested,
                        c.sql,
                        c.question,
                        &report,
                    );
                    record.execution = execution;
                    // Statistics.
                    stats.accepted += 1;
                    stats.planned_exactly += u64::from(c.plan.deviations.is_empty());
                    quality_sum += record.quality_score;
                    for (k, v) in &record.quality_breakdown {
                        *metric_sums.entry(k.clone()).or_default() += v;
                    }
                    let (seed_known, _) = self.validator.novelty().lookup(&report.skeleton, "");
                    stats.novel_skeletons += u64::from(!seed_known);
                    for t in record.database_schema.keys() {
                        *stats.tables_used.entry(t.clone()).or_default() += 1;
                    }
                    for f in &record.spatial_functions {
                        *stats.functions_used.entry(f.clone()).or_default() += 1;
                    }
                    for e in plan_edges(&c.plan) {
                        *stats.join_edges_used.entry(e).or_default() += 1;
                    }
                    *stats.sql_types.entry(record.sql_type.clone()).or_default() += 1;
                    sink(record)?;
                }
                t_filter += t.elapsed().as_secs_f64();
            }
            progress.finish_phase();
        }
        stats.distinct_skeletons = skeleton_counts.len() as u64;
        if stats.accepted > 0 {
            let n = stats.accepted as f64;
            stats.quality_mean = quality_sum / n;
            stats.metric_means = metric_sums.into_iter().map(|(k, v)| (k, v / n)).collect();
        }
        stats.join_edges_missing = (0..self.pack.data().joins.len())
            .filter(|e| !stats.join_edges_used.contains_key(e))
            .collect();
        stats.functions_missing = self
            .pack
            .data()
            .functions
            .iter()
            .map(|f| f.name.clone())
            .filter(|f| !stats.functions_used.contains_key(f))
            .collect();
        stats.timings.insert("sample".into(), t_sample);
        stats
            .timings
            .insert("select_assemble_score".into(), t_candidates);
        stats.timings.insert("filter_write".into(), t_filter);
        stats
            .timings
            .insert("total".into(), started.elapsed().as_secs_f64());
        Ok(stats)
    }

    fn candidates(
        &self,
        opts: &GenerateOptions,
        sampled: &[(u64, Structure)],
        seen_sql: &HashSet<String>,
        progress: &dyn Progress,
    ) -> Vec<Outcome> {
        let work = |(i, (r, row)): (usize, &(u64, Structure))| -> Outcome {
            let out = self.one(opts, *r, row.clone(), seen_sql);
            if i % 256 == 255 {
                progress.advance(256);
            }
            out
        };
        #[cfg(feature = "parallel")]
        {
            use rayon::prelude::*;
            let run = || {
                sampled
                    .par_iter()
                    .enumerate()
                    .with_min_len(64)
                    .map(work)
                    .collect::<Vec<Outcome>>()
            };
            match rayon::ThreadPoolBuilder::new()
                .num_threads(opts.threads)
                .build()
            {
                Ok(pool) => pool.install(run),
                Err(_) => run(),
            }
        }
        #[cfg(not(feature = "parallel"))]
        {
            sampled.iter().enumerate().map(work).collect()
        }
    }

    /// One row: its plan, SQL and question, and their validation. `seen_sql` holds the
    /// SQL accepted in the chunks before this one (the same whatever the thread count).
    fn one(
        &self,
        opts: &GenerateOptions,
        row: u64,
        requested: Structure,
        seen_sql: &HashSet<String>,
    ) -> Outcome {
        let mut rng = crate::rng::stream(opts.seed, crate::rng::SELECT, row);
        let Ok(plan) = self.selector.select(self.pack, &requested, &mut rng) else {
            return Outcome::Rejected("selection_failed");
        };
        let dropped = |why| Outcome::Dropped {
            why,
            deviations: plan.deviations.iter().map(|d| d.column.clone()).collect(),
        };
        // The validator would find the same mismatch in the SQL (the plan's realised
        // structure is what the SQL's features are): not worth assembling.
        if planned_match(&plan) < opts.thresholds.complexity_match {
            return dropped("structure_mismatch");
        }
        let assembled = match self.assembler.assemble(self.pack, &plan) {
            Ok(a) => a,
            Err(GenerateError::AmbiguousQuestion(_)) => return dropped("question_ambiguous"),
            Err(_) => return Outcome::Rejected("assembly_failed"),
        };
        if seen_sql.contains(&assembled.sql) {
            return dropped("duplicate_sql");
        }
        let limit = opts.thresholds.max_question_words;
        if limit > 0 && assembled.question.split_whitespace().count() > limit {
            return dropped("question_too_long");
        }
        let report = self.validator.validate_candidate(&Candidate {
            sql: assembled.sql.clone(),
            question: Some(assembled.question.clone()),
            requested: Some(requested.clone()),
        });
        Outcome::Candidate(Box::new(Scored {
            row,
            requested,
            plan,
            sql: assembled.sql,
            question: assembled.question,
            report,
        }))
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        opts: &GenerateOptions,
        plan: &QueryPlan,
        row: u64,
        requested: &Structure,
        sql: String,
        question: String,
        report: &ValidationReport,
    ) -> Stage2Record {
        let f = report.features.as_ref().map(|f| &f.structure);
        Stage2Record {
            id: format!("{}_{}_{row:07}", self.pack.name(), opts.seed),
            question,
            sql_postgis: sql,
            sql_type: f.map(|f| f.sql_type.to_string()).unwrap_or_default(),
            difficulty: f
                .map(|f| f.difficulty_level.to_string())
                .unwrap_or_default(),
            question_tone: requested.question_tone.to_string(),
            usage_frequency: requested.usage_frequency.to_string(),
            database_schema: plan_columns(plan),
            spatial_functions: report
                .features
                .as_ref()
                .map(|f| f.spatial_functions.clone())
                .unwrap_or_default(),
            quality_score: round4(report.score),
            quality_breakdown: report
                .breakdown
                .iter()
                .map(|m| (m.metric.clone(), round4(m.score)))
                .collect(),
            synthetic_structure: FEATURE_COLUMNS
                .iter()
                .zip(requested.to_row().0)
                .map(|((n, _), v)| (n.to_string(), v))
                .collect(),
            deviations: plan.deviations.clone(),
            generation_method: opts.method.clone(),
            seed: opts.seed,
            row,
            derived_from: plan.derived_from.clone(),
            execution: None,
        }
    }
}

/// The executor's runs of one chunk's candidates: those that pass the score checks are
/// run in batches, in row order, when the filter first needs one of them.
struct ChunkRuns<'e> {
    executor: &'e dyn QueryExecutor,
    /// (index in the chunk, SQL) of the candidates that pass [`reject_reason`].
    eligible: Vec<(usize, String)>,
    /// Position in `eligible` of the first candidate not yet run.
    next: usize,
    /// Outcomes run ahead, by index in the chunk.
    done: HashMap<usize, crate::execute::Outcome>,
}

impl<'e> ChunkRuns<'e> {
    fn new(executor: &'e dyn QueryExecutor, outcomes: &[Outcome], t: &Thresholds) -> Self {
        let eligible = outcomes
            .iter()
            .enumerate()
            .filter_map(|(i, o)| match o {
                Outcome::Candidate(c) if reject_reason(&c.report, t).is_none() => {
                    Some((i, c.sql.clone()))
                }
                _ => None,
            })
            .collect();
        ChunkRuns {
            executor,
            eligible,
            next: 0,
            done: HashMap::new(),
        }
    }

    /// The outcome of candidate `index` (SQL `sql`); if it has not run, a batch of up to
    /// `batch` queries is run starting with it (the eligible candidates after it whose SQL
    /// was not accepted already).
    fn outcome(
        &mut self,
        index: usize,
        sql: &str,
        batch: usize,
        accepted: &HashSet<String>,
        stats: &mut ExecutionStats,
        progress: &dyn Progress,
    ) -> Result<crate::execute::Outcome, GenerateError> {
        if let Some(o) = self.done.remove(&index) {
            return Ok(o);
        }
        if progress.cancelled() {
            return Err(GenerateError::Cancelled);
        }
        let mut indices = vec![index];
        let mut sqls = vec![sql];
        while self.next < self.eligible.len() && sqls.len() < batch {
            let (i, s) = &self.eligible[self.next];
            self.next += 1;
            if *i > index && !accepted.contains(s) {
                indices.push(*i);
                sqls.push(s);
            }
        }
        let outcomes = self.executor.execute_batch(&sqls);
        if outcomes.len() != sqls.len() {
            return Err(GenerateError::Execution(format!(
                "the executor returned {} outcomes for {} queries",
                outcomes.len(),
                sqls.len()
            )));
        }
        stats.executed += outcomes.len() as u64;
        stats.total_ms += outcomes.iter().map(|o| o.ms()).sum::<f64>();
        if outcomes
            .iter()
            .all(|o| o.sqlstate() == Some(crate::execute::CANNOT_CONNECT))
        {
            let message = match &outcomes[0] {
                crate::execute::Outcome::Failed { message, .. } => message.clone(),
                _ => String::new(),
            };
            return Err(GenerateError::Execution(format!(
                "none of {} queries reached the database: {message}",
                outcomes.len()
            )));
        }
        let mut outcomes = outcomes.into_iter();
        let first = outcomes.next();
        for (i, o) in indices[1..].iter().zip(outcomes) {
            self.done.insert(*i, o);
        }
        first.ok_or_else(|| GenerateError::Execution("the executor returned no outcome".into()))
    }
}

/// Count one candidate's run; its record's execution info, or why it is rejected.
fn judge_execution(
    outcome: crate::execute::Outcome,
    allow_empty: bool,
    stats: &mut ExecutionStats,
) -> Result<ExecutionInfo, &'static str> {
    use crate::execute::Outcome as Run;
    match outcome {
        Run::Ok { rows, capped, ms } => {
            stats.ok += 1;
            if rows == 0 {
                stats.empty += 1;
                if !allow_empty {
                    return Err("empty_result");
                }
            }
            Ok(ExecutionInfo {
                rows,
                ms: (ms * 1000.0).round() / 1000.0,
                capped,
            })
        }
        Run::Failed { sqlstate, .. } => {
            *stats.failed.entry(sqlstate).or_default() += 1;
            Err("execution_error")
        }
        Run::Timeout { .. } => {
            stats.timeouts += 1;
            Err("execution_timeout")
        }
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn weighted(r: &ValidationReport) -> f64 {
    let (n, d) = r
        .breakdown
        .iter()
        .filter(|m| m.applicable)
        .fold((0.0, 0.0), |(n, d), m| {
            (n + m.weight * m.score, d + m.weight)
        });
    if d > 0.0 {
        n / d
    } else {
        0.0
    }
}

fn describe(r: &BTreeMap<String, u64>) -> String {
    if r.is_empty() {
        return "none".into();
    }
    r.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Records per `sql_type`: the sampled rows' shares of `rows`, rounded by largest
/// remainder so that they add up to `rows`.
fn type_quotas(shares: &BTreeMap<String, f64>, rows: u64) -> BTreeMap<String, u64> {
    let total: f64 = shares.values().filter(|v| **v > 0.0).sum();
    if total <= 0.0 || !total.is_finite() {
        return BTreeMap::new();
    }
    let mut out: BTreeMap<String, u64> = BTreeMap::new();
    let mut rest: Vec<(f64, String)> = Vec::new();
    for (t, c) in shares.iter().filter(|(_, v)| **v > 0.0) {
        let exact = rows as f64 * *c / total;
        out.insert(t.clone(), exact.floor() as u64);
        rest.push((exact - exact.floor(), t.clone()));
    }
    let mut missing = rows - out.values().sum::<u64>();
    rest.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, t) in rest {
        if missing == 0 {
            break;
        }
        *out.entry(t).or_default() += 1;
        missing -= 1;
    }
    out
}

/// Why a scored candidate is rejected, if it is.
/// The `complexity_match` score the plan's own deviations give (the metric compares the
/// same columns, leaving out the labels SQL cannot carry).
fn planned_match(plan: &QueryPlan) -> f64 {
    const UNSEEN: [&str; 2] = crate::features::LABEL_ONLY_COLUMNS;
    let compared = FEATURE_COLUMNS.len() - UNSEEN.len();
    let off = plan
        .deviations
        .iter()
        .filter(|d| !UNSEEN.contains(&d.column.as_str()))
        .count();
    (compared - off.min(compared)) as f64 / compared as f64
}

fn reject_reason(r: &ValidationReport, t: &Thresholds) -> Option<&'static str> {
    let score = |name: &str| {
        r.breakdown
            .iter()
            .find(|m| m.metric == name && m.applicable)
            .map(|m| m.score)
    };
    if score("syntactic_validity").is_some_and(|s| s < 1.0) {
        return Some("unparseable");
    }
    if score("schema_compliance").is_some_and(|s| s < 1.0) || !r.unknown_references.is_empty() {
        return Some("unresolved_reference");
    }
    if !r.valid {
        return Some("invalid_for_postgresql");
    }
    if score("syntactic_validity").is_some_and(|s| s < t.syntactic) {
        return Some("syntactic_below_threshold");
    }
    if score("schema_compliance").is_some_and(|s| s < t.schema) {
        return Some("schema_below_threshold");
    }
    if score("semantic_coherence").is_some_and(|s| s < t.semantic) {
        return Some("semantic_below_threshold");
    }
    if score("complexity_match").is_some_and(|s| s < t.complexity_match) {
        return Some("structure_mismatch");
    }
    if score("diversity").is_some_and(|s| s < t.diversity) {
        return Some("not_novel");
    }
    if r.score < t.overall {
        return Some("overall_below_threshold");
    }
    if score("sense").is_some_and(|s| s < t.sense) {
        // Counted under the first sense finding's code.
        return Some(
            r.findings
                .iter()
                .find_map(|f| crate::metrics::sense::SenseCode::from_code(&f.code))
                .map(|c| c.as_str())
                .unwrap_or("sense_below_threshold"),
        );
    }
    None
}

/// Join edges a plan realises (joins of every level).
fn plan_edges(plan: &QueryPlan) -> Vec<usize> {
    fn walk(p: &SelectPlan, out: &mut Vec<usize>) {
        for r in &p.from {
            if let Some(e) = r.join.as_ref().and_then(|j| j.edge) {
                out.push(e);
            }
            if let Source::Derived { query } = &r.source {
                walk(query, out);
            }
        }
    }
    let mut out = Vec::new();
    for c in &plan.ctes {
        walk(&c.body, &mut out);
    }
    walk(&plan.main, &mut out);
    out
}

/// Tables and the columns read from each, over the whole statement.
pub fn plan_columns(plan: &QueryPlan) -> BTreeMap<String, Vec<String>> {
    fn bases(p: &SelectPlan, out: &mut BTreeMap<String, String>) {
        for r in &p.from {
            out.insert(r.alias.clone(), r.base.clone());
            if let Source::Derived { query } = &r.source {
                bases(query, out);
            }
        }
        for e in p.filters.iter().chain(p.items.iter().map(|i| &i.expr)) {
            sub_bases(e, out);
        }
    }
    fn sub_bases(e: &PlanExpr, out: &mut BTreeMap<String, String>) {
        match e {
            PlanExpr::InSubquery { query, .. }
            | PlanExpr::Exists { query, .. }
            | PlanExpr::Scalar { query } => bases(query, out),
            PlanExpr::Compare { left, right, .. } => {
                sub_bases(left, out);
                sub_bases(right, out);
            }
            _ => {}
        }
    }
    let mut alias_base = BTreeMap::new();
    for c in &plan.ctes {
        bases(&c.body, &mut alias_base);
    }
    bases(&plan.main, &mut alias_base);
    let mut cols: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for base in alias_base.values() {
        cols.entry(base.clone()).or_default();
    }
    for (alias, base) in &alias_base {
        let mut set = BTreeSet::new();
        crate::select::columns_of_alias(&plan.main, alias, &mut set);
        for c in &plan.ctes {
            crate::select::columns_of_alias(&c.body, alias, &mut set);
        }
        cols.entry(base.clone()).or_default().extend(set);
    }
    cols.into_iter()
        .map(|(k, v)| (k, v.into_iter().collect()))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::hash::{Hash, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::execute::{ExecutionStats, Outcome as Run, QueryExecutor};

    /// An executor whose outcome depends only on the SQL text.
    struct Fake {
        /// Outcome per hash of the SQL.
        judge: fn(u64) -> Run,
        calls: AtomicU64,
    }

    impl QueryExecutor for Fake {
        fn execute_batch(&self, sqls: &[&str]) -> Vec<Run> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            sqls.iter()
                .map(|s| {
                    let mut h = std::collections::hash_map::DefaultHasher::new();
                    s.hash(&mut h);
                    (self.judge)(h.finish())
                })
                .collect()
        }
    }

    fn fake(judge: fn(u64) -> Run) -> Fake {
        Fake {
            judge,
            calls: AtomicU64::new(0),
        }
    }

    fn mixed(h: u64) -> Run {
        match h % 10 {
            0 => Run::Failed {
                sqlstate: "22012".into(),
                message: "division by zero".into(),
                ms: 1.0,
            },
            1 => Run::Timeout {
                ms: 5000.0,
                cancelled: true,
            },
            2 | 3 => Run::Ok {
                rows: 0,
                capped: false,
                ms: 0.5,
            },
            _ => Run::Ok {
                rows: h % 7 + 1,
                capped: false,
                ms: 0.25,
            },
        }
    }

    fn generate(
        executor: Option<&dyn QueryExecutor>,
        allow_empty: bool,
    ) -> (Vec<Stage2Record>, GenerateStats) {
        let pack = SchemaPack::default_pack();
        let mut b = Pipeline::builder(&pack)
            .rows(120)
            .seed(9)
            .threads(1)
            .allow_empty(allow_empty);
        if let Some(e) = executor {
            b = b.executor(e);
        }
        let mut records = Vec::new();
        let stats = b
            .build()
            .unwrap()
            .stream(&NoProgress, |r| {
                records.push(r);
                Ok(())
            })
            .unwrap();
        (records, stats.generation)
    }

    #[test]
    fn without_an_executor_records_and_stats_have_no_execution_field() {
        let (records, stats) = generate(None, false);
        assert!(records.iter().all(|r| r.execution.is_none()));
        assert!(stats.execution.is_none());
        // A record of a generated plan ends with its row; one varying a seed names the seed.
        let plain = records.iter().find(|r| r.derived_from.is_none()).unwrap();
        let line = serde_json::to_string(plain).unwrap();
        assert!(!line.contains("execution"), "{line}");
        assert!(
            line.ends_with(&format!(",\"row\":{}}}", plain.row)),
            "{line}"
        );
        if let Some(varied) = records.iter().find(|r| r.derived_from.is_some()) {
            let line = serde_json::to_string(varied).unwrap();
            assert!(line.ends_with("\"}"), "{line}");
            assert!(line.contains(",\"derived_from\":\"cim_seed_"), "{line}");
        }
        let stats_json = serde_json::to_string(&stats).unwrap();
        assert!(!stats_json.contains("execution"));
    }

    #[test]
    fn an_executor_that_always_succeeds_keeps_the_same_records() {
        let (plain, _) = generate(None, false);
        let ok = fake(|_| Run::Ok {
            rows: 3,
            capped: false,
            ms: 1.5,
        });
        let (executed, stats) = generate(Some(&ok), false);
        assert_eq!(plain.len(), executed.len());
        for (p, e) in plain.iter().zip(&executed) {
            assert_eq!(
                e.execution,
                Some(ExecutionInfo {
                    rows: 3,
                    ms: 1.5,
                    capped: false
                })
            );
            let mut e = e.clone();
            e.execution = None;
            assert_eq!(p, &e);
        }
        let x = stats.execution.unwrap();
        assert_eq!(x.ok, 120);
        assert!(x.executed >= 120, "{x:?}");
        assert_eq!((x.empty, x.timeouts, x.failed.len()), (0, 0, 0));
        // Each round's candidates fit in one batch (fewer than 256 of them); a round whose
        // candidates were all rejected before execution makes no call.
        let calls = ok.calls.load(Ordering::Relaxed);
        assert!(
            calls >= 1 && calls <= u64::from(stats.rounds),
            "{calls} calls in {} rounds",
            stats.rounds
        );
        let line = serde_json::to_string(&executed[0]).unwrap();
        assert!(
            line.ends_with(",\"execution\":{\"rows\":3,\"ms\":1.5}}"),
            "{line}"
        );
    }

    #[test]
    fn failures_timeouts_and_empty_results_are_rejected_and_counted() {
        let ex = fake(mixed);
        let (records, stats) = generate(Some(&ex), false);
        assert_eq!(records.len(), 120);
        assert!(records
            .iter()
            .all(|r| r.execution.as_ref().is_some_and(|e| e.rows > 0)));
        let x: ExecutionStats = stats.execution.clone().unwrap();
        let rejected = |k: &str| stats.rejections.get(k).copied().unwrap_or(0);
        assert!(rejected("execution_error") > 0, "{:?}", stats.rejections);
        assert!(rejected("execution_timeout") > 0);
        assert!(rejected("empty_result") > 0);
        assert_eq!(
            x.failed.get("22012").copied(),
            Some(rejected("execution_error"))
        );
        assert_eq!(x.timeouts, rejected("execution_timeout"));
        assert_eq!(x.empty, rejected("empty_result"));
        assert_eq!(x.ok, 120 + x.empty);
        assert!(x.total_ms > 0.0);

        // Allowing empty results keeps them (and rejects none as empty).
        let (records, stats) = generate(Some(&ex), true);
        assert!(records
            .iter()
            .any(|r| r.execution.as_ref().is_some_and(|e| e.rows == 0)));
        assert!(!stats.rejections.contains_key("empty_result"));
    }

    #[test]
    fn a_database_out_of_reach_stops_the_run() {
        let down = fake(|_| Run::Failed {
            sqlstate: crate::execute::CANNOT_CONNECT.into(),
            message: "connection refused".into(),
            ms: 0.0,
        });
        let pack = SchemaPack::default_pack();
        let err = Pipeline::builder(&pack)
            .rows(5)
            .threads(1)
            .executor(&down)
            .build()
            .unwrap()
            .stream(&NoProgress, |_| Ok(()))
            .unwrap_err();
        match err {
            JobError::Generate(GenerateError::Execution(m)) => {
                assert!(
                    m.contains("reached the database: connection refused"),
                    "{m}"
                )
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
