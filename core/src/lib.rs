//! # sqlsynth
//!
//! sqlsynth grows a small corpus of spatial SQL examples (natural-language question +
//! PostGIS query) into a large, valid, novel training set for text-to-SQL models.
//!
//! The pipeline, and the four traits each stage implements:
//!
//! ```text
//! Stage 1 corpus ─► FeatureExtractor ─► FeatureTable ─► Synthesizer ─► StructureRow
//!                                                                        │
//!               SchemaPack ──────────────────────────► TokenSelector ─► QueryPlan
//!                                                                        │
//!                                                      Assembler ─► Candidate (SQL + question)
//!                                                                        │
//!                                          QualityMetric × N (Validator) ─► scores, findings
//! ```
//!
//! * [`Synthesizer`] learns a [`FeatureTable`] and samples new [`StructureRow`]s.
//! * [`TokenSelector`] turns a structure row into a concrete [`QueryPlan`] for a [`SchemaPack`].
//! * [`Assembler`] turns a plan into a sqlparser AST and renders SQL plus its question.
//! * [`QualityMetric`] scores one [`Candidate`] in [0, 1] with [`Finding`]s.
//!
//! Where to start:
//!
//! | you want to | use |
//! |---|---|
//! | a schema pack (built-in name or JSON file) | [`SchemaPack::builtin`], [`SchemaPack::load`] |
//! | check one query | [`Validator::new`]`(&pack).validate(sql)` → [`ValidationReport`] |
//! | the structural features of a corpus | [`FeatureExtractor`], [`FeatureTable`] |
//! | a synthesizer | [`synth::GaussianCopula`] (implements [`Synthesizer`]) |
//! | the whole Stage 2 job, in memory or to files | [`pipeline::Pipeline::builder`] |
//! | run queries on PostgreSQL (read-only, with a timeout) | [`execute::postgres::PostgresExecutor`] (feature `postgres`), any [`execute::QueryExecutor`] |
//! | your own stage | implement [`TokenSelector`], [`Assembler`], [`QualityMetric`] or [`Synthesizer`] and hand it to the builder |
//!
//! Cargo features: `cli` (the `sqlsynth` binary: clap, anyhow, indicatif, ctrlc; it
//! turns on `postgres`), `postgres` (the PostgreSQL executor: tokio, tokio-postgres) and
//! `parallel` (rayon) are on by default; with `default-features = false` the library
//! keeps packs, reading, validation, features, metrics, synthesis and generation on the
//! calling thread (the output is the same), and no async runtime.
//!
//! Generating in memory (each accepted record is handed over; no file is written):
//!
//! ```
//! use sqlsynth::pipeline::{NoProgress, Pipeline};
//! use sqlsynth::SchemaPack;
//!
//! let pack = SchemaPack::default_pack();
//! let pipeline = Pipeline::builder(&pack).rows(20).seed(1).build()?;
//! let mut records = Vec::new();
//! let stats = pipeline.stream(&NoProgress, |r| {
//!     records.push(r);
//!     Ok(())
//! })?;
//! assert_eq!(records.len(), 20);
//! assert_eq!(stats.generation.accepted, 20);
//! assert!(records.iter().all(|r| r.quality_breakdown["schema_compliance"] == 1.0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The validator works on its own:
//!
//! ```
//! use sqlsynth::{SchemaPack, Validator};
//!
//! let pack = SchemaPack::builtin("cim-wizard").unwrap();
//! let validator = Validator::new(&pack);
//! let report = validator.validate(
//!     "SELECT b.building_id FROM cim_vector.building b WHERE b.lod = 1",
//! );
//! assert!(report.valid);
//! let report = validator.validate("SELECT b.no_such_column FROM cim_vector.building b");
//! assert!(!report.valid);
//! assert_eq!(report.findings[0].location.unwrap().line, 1);
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod assemble;
pub mod calendar;
pub mod execute;
pub mod features;
pub mod metrics;
pub mod output;
pub mod pack;
pub mod pipeline;
pub mod plan;
pub mod read;
pub mod rng;
pub mod sampledb;
pub mod select;
pub mod sql;
pub mod synth;

use std::fmt;
use std::ops::Range;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use features::{
    ColumnKind, ColumnMeta, FeatureExtractor, FeatureTable, FeatureValue, QueryFeatures, Structure,
    StructureRow,
};
pub use metrics::{ValidationReport, Validator};
pub use pack::{ColumnRole, PackError, SchemaPack};
pub use plan::{Deviation, QueryPlan};
pub use read::{ReadError, Stage1Reader, Stage1Record};

// ---------------------------------------------------------------------------------------
// Types exchanged between the stages.
// ---------------------------------------------------------------------------------------

/// A position in a SQL text (1-based line and column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// Line, from 1.
    pub line: u64,
    /// Column, from 1.
    pub column: u64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// PostgreSQL would reject the query.
    Error,
    /// PostgreSQL accepts it, but it is probably not what was meant.
    Warning,
}

/// What a finding is about (which metric it lowers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aspect {
    /// Parsing.
    Syntax,
    /// Names that do not resolve.
    Schema,
    /// Types, grouping, units, join conditions.
    Semantic,
    /// Requested vs realised structure.
    Complexity,
    /// Novelty.
    Diversity,
    /// What a reader would flag although PostgreSQL accepts it (the `sense` metric).
    Sense,
}

/// One problem found in a query: what is wrong and where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// Which metric it concerns.
    pub aspect: Aspect,
    /// Stable machine-readable code, e.g. `unknown_column`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// Where in the SQL text, when known.
    pub location: Option<Location>,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match self.location {
            Some(loc) => write!(f, "{loc}: {sev}[{}]: {}", self.code, self.message),
            None => write!(f, "{sev}[{}]: {}", self.code, self.message),
        }
    }
}

/// The score of one metric for one candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricScore {
    /// Metric name, e.g. `schema_compliance`.
    pub metric: String,
    /// Score in [0, 1].
    pub score: f64,
    /// Weight in the overall score.
    pub weight: f64,
    /// False when the metric has nothing to judge (e.g. no requested structure):
    /// it is then left out of the weighted mean.
    pub applicable: bool,
    /// What lowered the score.
    pub findings: Vec<Finding>,
}

/// A query to be judged: its SQL, its question and, for generated queries, the
/// structure that was requested from the synthesizer.
#[derive(Debug, Clone, Default)]
pub struct Candidate {
    /// The SQL text.
    pub sql: String,
    /// The natural-language question, if any.
    pub question: Option<String>,
    /// The structure the query was generated from.
    pub requested: Option<Structure>,
}

impl Candidate {
    /// A candidate with only SQL.
    pub fn from_sql(sql: impl Into<String>) -> Candidate {
        Candidate {
            sql: sql.into(),
            ..Candidate::default()
        }
    }
}

/// SQL and question produced by an [`Assembler`].
#[derive(Debug, Clone)]
pub struct Assembled {
    /// The statement as a sqlparser AST.
    pub statement: sqlparser::ast::Statement,
    /// The statement rendered for the target dialect.
    pub sql: String,
    /// The question that states what the SQL asks.
    pub question: String,
}

// ---------------------------------------------------------------------------------------
// Errors at the trait boundaries.
// ---------------------------------------------------------------------------------------

/// Why fitting or sampling a synthesizer failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FitError {
    /// The feature table has no rows.
    #[error("cannot fit on an empty feature table")]
    Empty,
    /// A hyperparameter is out of range.
    #[error("invalid hyperparameter {name}: {reason}")]
    InvalidParameter {
        /// Parameter.
        name: &'static str,
        /// Why.
        reason: String,
    },
    /// A condition names an unknown column or value.
    #[error("invalid condition: {0}")]
    InvalidCondition(String),
    /// Saving or loading a model failed.
    #[error("model file {path}: {message}")]
    Model {
        /// File.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// Why a plan could not be made or assembled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenerateError {
    /// The pack has nothing that can realise the row (e.g. no tables).
    #[error("pack {pack} cannot realise this structure: {reason}")]
    Unrealizable {
        /// Pack name.
        pack: String,
        /// Why.
        reason: String,
    },
    /// The plan (or the structure row it came from) is malformed or refers to something
    /// the pack does not have.
    #[error("invalid plan: {0}")]
    InvalidPlan(String),
    /// The plan's question cannot tell two of its outputs apart (both read "the number of
    /// buildings"): a question that says one thing twice misstates the SQL.
    #[error("the question would say {0:?} for two outputs")]
    AmbiguousQuestion(String),
    /// A generation setting is out of range (checked once, when the pipeline, generator or
    /// selector is built).
    #[error("invalid setting {name}: {reason}")]
    InvalidSetting {
        /// The setting, e.g. `rows`.
        name: &'static str,
        /// Why it is refused.
        reason: String,
    },
    /// The synthesizer failed to sample.
    #[error("sampling failed: {0}")]
    Sample(#[from] FitError),
    /// Writing a record to an output file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The caller's record sink refused a record (its own message).
    #[error("record sink: {0}")]
    Sink(String),
    /// The caller stopped the run.
    #[error("interrupted")]
    Cancelled,
    /// Running candidates on the database failed as a whole (the database could not be
    /// reached, or the executor broke its contract); single queries that fail are
    /// rejected and counted instead.
    #[error("query execution: {0}")]
    Execution(String),
}

// ---------------------------------------------------------------------------------------
// The four core traits.
// ---------------------------------------------------------------------------------------

/// A request for structure rows: rows `rows` of the stream for `seed` (row i always draws
/// from a ChaCha stream derived from `(seed, i)`, so shards compose), with some
/// categorical columns optionally fixed.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleRequest {
    /// Run seed.
    pub seed: u64,
    /// Row indices to produce.
    pub rows: Range<u64>,
    /// Categorical columns fixed to a value (conditional sampling).
    pub fixed: Vec<(String, FeatureValue)>,
}

/// Learns the joint distribution of a [`FeatureTable`] (hyperparameters in `self`,
/// checked when constructed) and returns a fitted model.
pub trait Synthesizer {
    /// The fitted model.
    type Fitted: FittedSynthesizer;
    /// Fit on a feature table.
    fn fit(&self, table: &FeatureTable) -> Result<Self::Fitted, FitError>;
}

/// A fitted synthesizer: samples structure rows deterministically and saves itself.
pub trait FittedSynthesizer: Send + Sync {
    /// Columns of the rows it produces.
    fn columns(&self) -> &[ColumnMeta];
    /// Sample the requested rows.
    fn sample(&self, request: &SampleRequest) -> Result<Vec<StructureRow>, FitError>;
    /// Save to a directory (weights as safetensors, the rest as JSON).
    fn save(&self, dir: &Path) -> Result<(), FitError>;
    /// A short per-column description of the fitted model (e.g. the chosen marginal),
    /// for reports. Empty by default.
    fn describe(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// Turns one requested [`Structure`] into a [`QueryPlan`] for a pack. Every random choice
/// draws from the given ChaCha stream. A structure that cannot be realised exactly is
/// projected to the nearest realisable plan, with the difference recorded in
/// [`QueryPlan::deviations`].
pub trait TokenSelector: Send + Sync {
    /// Make a plan.
    fn select(
        &self,
        pack: &SchemaPack,
        row: &Structure,
        rng: &mut rand_chacha::ChaCha8Rng,
    ) -> Result<QueryPlan, GenerateError>;
}

/// Turns a [`QueryPlan`] into a sqlparser AST, renders it, and phrases its question.
pub trait Assembler: Send + Sync {
    /// Build the statement, its text and its question.
    fn assemble(&self, pack: &SchemaPack, plan: &QueryPlan) -> Result<Assembled, GenerateError>;
}

/// Scores one candidate in [0, 1] with findings. Metrics read the shared analysis of the
/// query (parsed and resolved once by the [`Validator`]) rather than re-parsing.
pub trait QualityMetric: Send + Sync {
    /// Stable name, e.g. `syntactic_validity`.
    fn name(&self) -> &str;
    /// Weight in the overall score.
    fn weight(&self) -> f64;
    /// Score a candidate.
    fn score(
        &self,
        candidate: &Candidate,
        analysis: &metrics::QueryAnalysis,
        ctx: &metrics::MetricContext<'_>,
    ) -> MetricScore;
}

// Packs, validators, fitted models, selectors and pipelines are shared across threads:
// checked at compile time, not only in tests.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SchemaPack>();
    assert_send_sync::<Validator<'static>>();
    assert_send_sync::<synth::FittedGaussianCopula>();
    assert_send_sync::<select::PackSelector>();
    assert_send_sync::<assemble::PostgisAssembler>();
    assert_send_sync::<pipeline::Pipeline<'static>>();
};
