//! The whole Stage 2 job as the command line runs it: read a Stage 1 corpus, extract
//! features, fit the synthesizer, generate, and write the records, the stats and the
//! fitted model under an output directory (every file atomically).

use std::path::PathBuf;

use serde::Serialize;

use crate::execute::QueryExecutor;
use crate::pack::SchemaPack;
use crate::read::{ReadError, ReadReport};
use crate::{FitError, GenerateError};

use super::{GenerateOptions, GenerateStats, Progress};

/// Names of the synthesizers the job can fit.
pub const MODELS: &[&str] = &["gaussian_copula"];

/// Why a job failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// Reading the Stage 1 corpus failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// A Stage 1 query does not parse (and invalid records are not skipped).
    #[error("{path}:{line}: SQL does not parse{}: {message} (use --skip-invalid to skip such records)", .location.map(|l| format!(" at {l} of the query")).unwrap_or_default())]
    UnparseableSql {
        /// File.
        path: PathBuf,
        /// Line of the record.
        line: usize,
        /// Position in the SQL.
        location: Option<crate::Location>,
        /// Parser message.
        message: String,
    },
    /// No usable record in the corpus.
    #[error("{path}: no usable Stage 1 record ({skipped} skipped): nothing to learn from")]
    EmptyCorpus {
        /// File.
        path: PathBuf,
        /// Records skipped.
        skipped: usize,
    },
    /// The model name is unknown.
    #[error("unknown model {0:?}; available: {models}", models = MODELS.join(", "))]
    UnknownModel(String),
    /// Fitting or sampling failed.
    #[error(transparent)]
    Fit(#[from] FitError),
    /// Generation failed.
    #[error(transparent)]
    Generate(#[from] GenerateError),
    /// Writing an output failed.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// A Stage 2 job.
#[derive(Debug, Clone)]
pub struct Stage2Job {
    /// Stage 1 corpus; `None` is the pack's own seed corpus.
    pub input: Option<PathBuf>,
    /// Skip records that do not parse (counted and reported) instead of failing.
    pub skip_invalid: bool,
    /// Synthesizer name (see [`MODELS`]).
    pub model: String,
    /// Output directory.
    pub out: PathBuf,
    /// Generation options.
    pub options: GenerateOptions,
}

/// A record left out of the feature table.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedRecord {
    /// Line in the input.
    pub line: usize,
    /// Why.
    pub reason: String,
}

/// What the job read.
#[derive(Debug, Clone, Serialize)]
pub struct InputStats {
    /// The input (a path, or the pack's embedded corpus).
    pub source: String,
    /// Reader accounting (lines, records, lines skipped as unreadable).
    pub read: ReadReport,
    /// Records whose SQL did not parse, skipped.
    pub unparseable_sql: usize,
    /// The first of them, with reasons.
    pub unparseable: Vec<SkippedRecord>,
    /// Total records skipped (unreadable lines + unparseable SQL).
    pub skipped_total: usize,
    /// Rows in the feature table.
    pub feature_rows: usize,
    /// Seed queries lifted into plans for the default selector (none with a caller's
    /// selector).
    pub seed_plans: crate::select::SeedLiftReport,
}

/// The stats file of a job.
#[derive(Debug, Clone, Serialize)]
pub struct JobStats {
    /// sqlsynth version.
    pub version: String,
    /// Pack name.
    pub pack: String,
    /// Input accounting.
    pub input: InputStats,
    /// Model name.
    pub model: String,
    /// Chosen marginal per column (for GaussianCopula).
    pub marginals: Vec<(String, String)>,
    /// Generation figures.
    pub generation: GenerateStats,
    /// Files written.
    pub outputs: Vec<String>,
    /// Seconds per job phase (read, fit, generate, write, total).
    pub timings: std::collections::BTreeMap<String, f64>,
}

/// File names under the output directory.
pub const RECORDS_FILE: &str = "stage2.jsonl";
/// Stats file name.
pub const STATS_FILE: &str = "stage2_stats.json";

impl Stage2Job {
    /// A job with the defaults: the pack's corpus, GaussianCopula, 50,000 rows, seed 42,
    /// output under `./out`.
    pub fn new() -> Stage2Job {
        Stage2Job {
            input: None,
            skip_invalid: false,
            model: "gaussian_copula".into(),
            out: PathBuf::from("out"),
            options: GenerateOptions::default(),
        }
    }

    /// The [`Pipeline`](super::Pipeline) this job describes.
    pub fn pipeline<'p>(&self, pack: &'p SchemaPack) -> Result<super::Pipeline<'p>, JobError> {
        Ok(self.builder(pack)?.build()?)
    }

    fn builder<'p>(&self, pack: &'p SchemaPack) -> Result<super::PipelineBuilder<'p>, JobError> {
        if !MODELS.contains(&self.model.as_str()) {
            return Err(JobError::UnknownModel(self.model.clone()));
        }
        let mut b = super::Pipeline::builder(pack)
            .skip_invalid(self.skip_invalid)
            .options(self.options.clone());
        if let Some(p) = &self.input {
            b = b.input_path(p);
        }
        Ok(b)
    }

    /// Run the job: records, stats and model under [`Stage2Job::out`].
    pub fn run(&self, pack: &SchemaPack, progress: &dyn Progress) -> Result<JobStats, JobError> {
        self.pipeline(pack)?.run(&self.out, progress)
    }

    /// Run the job with every candidate also run on a database by `executor` (see
    /// [`Generator::run_executing`](super::Generator::run_executing)).
    pub fn run_executing(
        &self,
        pack: &SchemaPack,
        executor: &dyn QueryExecutor,
        progress: &dyn Progress,
    ) -> Result<JobStats, JobError> {
        self.builder(pack)?
            .executor(executor)
            .build()?
            .run(&self.out, progress)
    }
}

impl Default for Stage2Job {
    fn default() -> Self {
        Stage2Job::new()
    }
}
