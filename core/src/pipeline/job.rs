//! The whole Stage 2 job as the command line runs it: read a Stage 1 corpus, extract
//! features, fit the synthesizer, generate, and write the records, the stats and the
//! fitted model under an output directory (every file atomically).

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::assemble::PostgisAssembler;
use crate::features::{FeatureExtractor, FeatureTable, QueryFeatures};
use crate::output::{write_atomic, AtomicFile};
use crate::pack::SchemaPack;
use crate::read::{ReadError, ReadOptions, ReadReport, Stage1Reader};
use crate::select::PackSelector;
use crate::synth::{GaussianCopula, GaussianCopulaParams};
use crate::{FitError, FittedSynthesizer, GenerateError, Synthesizer, Validator};

use super::{GenerateOptions, GenerateStats, Generator, Progress};

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

    /// Read the corpus into a feature table (and the validator's novelty index).
    pub fn features(
        &self,
        pack: &SchemaPack,
        validator: &Validator<'_>,
    ) -> Result<(FeatureTable, InputStats), JobError> {
        let options = ReadOptions {
            skip_invalid: self.skip_invalid,
            ..ReadOptions::default()
        };
        let (reader, source) = match &self.input {
            Some(p) => (Stage1Reader::open(p, options)?, p.display().to_string()),
            None => {
                let text = pack.corpus_jsonl().unwrap_or("").as_bytes().to_vec();
                let name = format!("<{} seed corpus>", pack.name());
                (
                    Stage1Reader::from_reader(
                        Path::new(&name),
                        Box::new(Cursor::new(text)),
                        options,
                    ),
                    name,
                )
            }
        };
        let path = PathBuf::from(&source);
        let extractor = FeatureExtractor::new(pack);
        let mut features: Vec<QueryFeatures> = Vec::new();
        let mut unparseable = Vec::new();
        let mut n_unparseable = 0usize;
        let mut reader = reader;
        for rec in reader.by_ref() {
            let rec = rec?;
            match extractor.extract(&rec.sql, &rec.labels()) {
                Ok(f) => {
                    if self.input.is_some() {
                        validator.remember(&rec.sql);
                    }
                    features.push(f);
                }
                Err(e) if self.skip_invalid => {
                    n_unparseable += 1;
                    if unparseable.len() < 100 {
                        unparseable.push(SkippedRecord {
                            line: rec.line,
                            reason: match e.location {
                                Some(l) => format!("{l}: {}", e.message),
                                None => e.message,
                            },
                        });
                    }
                }
                Err(e) => {
                    return Err(JobError::UnparseableSql {
                        path,
                        line: rec.line,
                        location: e.location,
                        message: e.message,
                    })
                }
            }
        }
        let read = reader.report().clone();
        let skipped_total = read.skipped.len() + n_unparseable;
        if features.is_empty() {
            return Err(JobError::EmptyCorpus {
                path,
                skipped: skipped_total,
            });
        }
        let table = FeatureTable::from_features(&features);
        Ok((
            table,
            InputStats {
                source,
                read,
                unparseable_sql: n_unparseable,
                unparseable,
                skipped_total,
                feature_rows: features.len(),
            },
        ))
    }

    /// Run the job.
    pub fn run(&self, pack: &SchemaPack, progress: &dyn Progress) -> Result<JobStats, JobError> {
        if !MODELS.contains(&self.model.as_str()) {
            return Err(JobError::UnknownModel(self.model.clone()));
        }
        let started = Instant::now();
        let mut timings = std::collections::BTreeMap::new();
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| JobError::Io { path, source }
        };
        std::fs::create_dir_all(&self.out).map_err(io(&self.out))?;

        let t = Instant::now();
        progress.phase("read corpus and extract features", 0);
        let validator = Validator::new(pack);
        let (table, input) = self.features(pack, &validator)?;
        progress.finish_phase();
        timings.insert("read_features".to_string(), t.elapsed().as_secs_f64());

        let t = Instant::now();
        progress.phase("fit gaussian copula", 0);
        let fitted = GaussianCopula::new(GaussianCopulaParams::default())?.fit(&table)?;
        let model_dir = self.out.join("model");
        fitted.save(&model_dir)?;
        progress.finish_phase();
        timings.insert("fit".to_string(), t.elapsed().as_secs_f64());

        let t = Instant::now();
        let selector = PackSelector::new(pack);
        let generator = Generator {
            pack,
            synthesizer: &fitted,
            selector: &selector,
            assembler: &PostgisAssembler,
            validator: &validator,
        };
        let records_path = self.out.join(RECORDS_FILE);
        let mut file = AtomicFile::create(&records_path).map_err(io(&records_path))?;
        let mut line = Vec::with_capacity(4096);
        let mut options = self.options.clone();
        options.method = self.model.clone();
        let generation = generator.run(&options, progress, &mut |r| {
            line.clear();
            serde_json::to_writer(&mut line, r).expect("records serialise");
            line.push(b'\n');
            file.write_all(&line)
                .map_err(|e| GenerateError::Output(format!("{}: {e}", records_path.display())))
        })?;
        file.commit().map_err(io(&records_path))?;
        timings.insert("generate_write".to_string(), t.elapsed().as_secs_f64());
        timings.insert("total".to_string(), started.elapsed().as_secs_f64());

        let stats_path = self.out.join(STATS_FILE);
        let stats = JobStats {
            version: env!("CARGO_PKG_VERSION").to_string(),
            pack: pack.name().to_string(),
            input,
            model: self.model.clone(),
            marginals: fitted.marginals(),
            generation,
            outputs: vec![
                records_path.display().to_string(),
                stats_path.display().to_string(),
                model_dir
                    .join(crate::synth::MODEL_FILE)
                    .display()
                    .to_string(),
            ],
            timings,
        };
        let text = serde_json::to_string_pretty(&stats).expect("stats serialise");
        write_atomic(&stats_path, text.as_bytes()).map_err(io(&stats_path))?;
        Ok(stats)
    }
}

impl Default for Stage2Job {
    fn default() -> Self {
        Stage2Job::new()
    }
}
