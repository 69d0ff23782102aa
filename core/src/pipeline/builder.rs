//! [`Pipeline`]: the Stage 2 job as a library value, built with [`PipelineBuilder`]. Every
//! stage is replaceable by the caller's own implementation of the core trait; the
//! streaming form hands each accepted record to the caller without writing files.

use std::collections::BTreeMap;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::assemble::PostgisAssembler;
use crate::execute::QueryExecutor;
use crate::features::QueryType;
use crate::features::{FeatureExtractor, FeatureTable, FeatureValue, QueryFeatures};
use crate::metrics::{MetricContext, QueryAnalysis};
use crate::output::{write_atomic, AtomicFile};
use crate::pack::SchemaPack;
use crate::read::{ReadOptions, ReadReport, Stage1Reader, Stage1Record};
use crate::select::{PackSelector, SeedLiftReport};
use crate::synth::{GaussianCopula, GaussianCopulaParams};
use crate::{
    Assembler, Candidate, FitError, FittedSynthesizer, GenerateError, MetricScore, QualityMetric,
    Synthesizer, TokenSelector, Validator,
};

use super::job::{InputStats, JobError, JobStats, SkippedRecord, RECORDS_FILE, STATS_FILE};
use super::{GenerateOptions, GenerateStats, Generator, Progress, Stage2Record};

/// A corpus query for the selector to lift: id, SQL and the type its SQL has.
type SeedQuery = (String, String, QueryType);

/// Where the Stage 1 corpus comes from.
#[derive(Debug, Clone)]
pub enum Input {
    /// The pack's own seed corpus.
    PackCorpus,
    /// A Stage 1 JSON Lines file (`.gz` accepted).
    Path(PathBuf),
    /// Records supplied by the caller.
    Records(Vec<Stage1Record>),
}

type FitFn = dyn Fn(&FeatureTable) -> Result<Box<dyn FittedSynthesizer>, FitError> + Send + Sync;

/// A metric shared between runs (each run builds its own validator).
struct SharedMetric(Arc<dyn QualityMetric>);

impl QualityMetric for SharedMetric {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn weight(&self) -> f64 {
        self.0.weight()
    }
    fn score(
        &self,
        candidate: &Candidate,
        analysis: &QueryAnalysis,
        ctx: &MetricContext<'_>,
    ) -> MetricScore {
        self.0.score(candidate, analysis, ctx)
    }
}

/// The Stage 2 pipeline: read → features → fit → sample → select → assemble → score →
/// filter. `Send + Sync`; [`Pipeline::run`] writes files, [`Pipeline::stream`] does not.
pub struct Pipeline<'p> {
    pack: &'p SchemaPack,
    input: Input,
    skip_invalid: bool,
    model: String,
    fit: Box<FitFn>,
    selector: Option<Box<dyn TokenSelector>>,
    assembler: Box<dyn Assembler>,
    metrics: Vec<Arc<dyn QualityMetric>>,
    options: GenerateOptions,
    executor: Option<&'p dyn QueryExecutor>,
}

impl std::fmt::Debug for Pipeline<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("pack", &self.pack.name())
            .field("input", &self.input)
            .field("model", &self.model)
            .field("extra_metrics", &self.metrics.len())
            .field("options", &self.options)
            .field("executes", &self.executor.is_some())
            .finish()
    }
}

/// Builds a [`Pipeline`]; defaults: the pack's corpus, GaussianCopula, the built-in
/// selector and PostGIS assembler, the five metrics, 50,000 rows, seed 42, all cores.
pub struct PipelineBuilder<'p> {
    pipeline: Pipeline<'p>,
}

impl<'p> Pipeline<'p> {
    /// Start building a pipeline for `pack`.
    pub fn builder(pack: &'p SchemaPack) -> PipelineBuilder<'p> {
        PipelineBuilder {
            pipeline: Pipeline {
                pack,
                input: Input::PackCorpus,
                skip_invalid: false,
                model: "gaussian_copula".into(),
                fit: Box::new(|t| {
                    Ok(Box::new(
                        GaussianCopula::new(GaussianCopulaParams::default())?.fit(t)?,
                    ))
                }),
                selector: None,
                assembler: Box::new(PostgisAssembler),
                metrics: Vec::new(),
                options: GenerateOptions::default(),
                executor: None,
            },
        }
    }

    /// The generation options in force.
    pub fn options(&self) -> &GenerateOptions {
        &self.options
    }
}

impl<'p> PipelineBuilder<'p> {
    /// Read the Stage 1 corpus from a file.
    pub fn input_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.pipeline.input = Input::Path(path.into());
        self
    }
    /// Use these records as the Stage 1 corpus.
    pub fn input_records(mut self, records: impl IntoIterator<Item = Stage1Record>) -> Self {
        self.pipeline.input = Input::Records(records.into_iter().collect());
        self
    }
    /// Skip (and count) malformed records and SQL that does not parse.
    pub fn skip_invalid(mut self, yes: bool) -> Self {
        self.pipeline.skip_invalid = yes;
        self
    }
    /// Use another synthesizer (its `name` goes into each record's `generation_method`).
    pub fn synthesizer<S>(mut self, name: &str, synthesizer: S) -> Self
    where
        S: Synthesizer + Send + Sync + 'static,
        S::Fitted: 'static,
    {
        self.pipeline.model = name.to_string();
        self.pipeline.fit = Box::new(move |t| Ok(Box::new(synthesizer.fit(t)?)));
        self
    }
    /// Use another token selector.
    pub fn selector(mut self, selector: impl TokenSelector + 'static) -> Self {
        self.pipeline.selector = Some(Box::new(selector));
        self
    }
    /// Use another assembler.
    pub fn assembler(mut self, assembler: impl Assembler + 'static) -> Self {
        self.pipeline.assembler = Box::new(assembler);
        self
    }
    /// Add a quality metric (it joins the weighted mean and every record's breakdown).
    pub fn metric(mut self, metric: impl QualityMetric + 'static) -> Self {
        self.pipeline.metrics.push(Arc::new(metric));
        self
    }
    /// Records to produce.
    pub fn rows(mut self, rows: u64) -> Self {
        self.pipeline.options.rows = rows;
        self
    }
    /// Run seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.pipeline.options.seed = seed;
        self
    }
    /// Worker threads (0: all cores); the output does not depend on it.
    pub fn threads(mut self, threads: usize) -> Self {
        self.pipeline.options.threads = threads;
        self
    }
    /// Fix a categorical feature column for every sampled row.
    pub fn fix(mut self, column: &str, value: &str) -> Self {
        self.pipeline
            .options
            .fixed
            .push((column.to_string(), FeatureValue::Cat(value.to_string())));
        self
    }
    /// Replace all generation options at once.
    pub fn options(mut self, options: GenerateOptions) -> Self {
        self.pipeline.options = options;
        self
    }
    /// Run every candidate that passes the other filters on a database: run-time errors,
    /// timeouts and empty results are rejected, and accepted records carry their
    /// [`execution`](super::Stage2Record::execution) (see [`Generator::run_executing`]).
    pub fn executor(mut self, executor: &'p dyn QueryExecutor) -> Self {
        self.pipeline.executor = Some(executor);
        self
    }
    /// With an executor, accept queries that return no row
    /// ([`GenerateOptions::allow_empty`]).
    pub fn allow_empty(mut self, yes: bool) -> Self {
        self.pipeline.options.allow_empty = yes;
        self
    }
    /// Check the settings once and build.
    pub fn build(self) -> Result<Pipeline<'p>, GenerateError> {
        self.pipeline.options.check()?;
        Ok(self.pipeline)
    }
}

impl Pipeline<'_> {
    fn validator(&self) -> Validator<'_> {
        let mut v = Validator::new(self.pack);
        for m in &self.metrics {
            v = v.with_metric(Box::new(SharedMetric(m.clone())));
        }
        v
    }

    /// Read the corpus into a feature table (its queries join the validator's novelty
    /// index).
    fn features(
        &self,
        validator: &Validator<'_>,
    ) -> Result<(FeatureTable, InputStats, Vec<SeedQuery>), JobError> {
        let options = ReadOptions {
            skip_invalid: self.skip_invalid,
            ..ReadOptions::default()
        };
        let (mut reader, source) = match &self.input {
            Input::Records(_) => (None, "<records supplied by the caller>".to_string()),
            Input::Path(p) => (
                Some(Stage1Reader::open(p, options)?),
                p.display().to_string(),
            ),
            Input::PackCorpus => {
                let text = self.pack.corpus_jsonl().unwrap_or("").as_bytes().to_vec();
                let name = format!("<{} seed corpus>", self.pack.name());
                let reader = Stage1Reader::from_reader(
                    Path::new(&name),
                    Box::new(Cursor::new(text)),
                    options,
                );
                (Some(reader), name)
            }
        };
        let path = PathBuf::from(&source);
        let records: Box<dyn Iterator<Item = Result<Stage1Record, JobError>> + '_> =
            match (reader.as_mut(), &self.input) {
                (Some(r), _) => Box::new(r.by_ref().map(|x| x.map_err(JobError::from))),
                (None, Input::Records(v)) => Box::new(v.iter().cloned().map(Ok)),
                (None, _) => Box::new(std::iter::empty()),
            };
        let extractor = FeatureExtractor::new(self.pack);
        let own_corpus = matches!(self.input, Input::PackCorpus);
        let mut features: Vec<QueryFeatures> = Vec::new();
        let mut seeds: Vec<SeedQuery> = Vec::new();
        let mut unparseable = Vec::new();
        let mut n_unparseable = 0usize;
        let mut n_records = 0usize;
        let mut records = records;
        for rec in records.by_ref() {
            let rec = rec?;
            n_records += 1;
            match extractor.extract(&rec.sql, &rec.labels()) {
                Ok(f) => {
                    if !own_corpus {
                        validator.remember(&rec.sql);
                    }
                    seeds.push((
                        rec.id
                            .clone()
                            .unwrap_or_else(|| format!("line {}", rec.line)),
                        rec.sql.clone(),
                        f.structure.sql_type,
                    ));
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
        drop(records);
        let read = match &reader {
            Some(r) => r.report().clone(),
            None => ReadReport {
                lines: n_records,
                records: n_records,
                ..ReadReport::default()
            },
        };
        let skipped_total = read.skipped.len() + n_unparseable;
        if features.is_empty() {
            return Err(JobError::EmptyCorpus {
                path,
                skipped: skipped_total,
            });
        }
        Ok((
            FeatureTable::from_features(&features),
            InputStats {
                source,
                read,
                unparseable_sql: n_unparseable,
                unparseable,
                skipped_total,
                feature_rows: features.len(),
                seed_plans: SeedLiftReport::default(),
            },
            seeds,
        ))
    }

    /// Run and hand each accepted record to `sink`, in row order, writing no file. If
    /// `model_dir` is given the fitted model is saved there.
    fn execute(
        &self,
        progress: &dyn Progress,
        model_dir: Option<&Path>,
        sink: &mut dyn FnMut(Stage2Record) -> Result<(), GenerateError>,
    ) -> Result<(JobStats, BTreeMap<String, f64>), JobError> {
        let started = Instant::now();
        let mut timings = BTreeMap::new();
        let t = Instant::now();
        progress.phase("read corpus and extract features", 0);
        let validator = self.validator();
        let (table, mut input, seeds) = self.features(&validator)?;
        progress.finish_phase();
        timings.insert("read_features".to_string(), t.elapsed().as_secs_f64());

        let t = Instant::now();
        progress.phase(&format!("fit {}", self.model), 0);
        let fitted = (self.fit)(&table)?;
        if let Some(dir) = model_dir {
            fitted.save(dir)?;
        }
        progress.finish_phase();
        timings.insert("fit".to_string(), t.elapsed().as_secs_f64());

        let t = Instant::now();
        let default_selector;
        let selector: &dyn TokenSelector = match &self.selector {
            Some(s) => s.as_ref(),
            None => {
                let (selector, report) = PackSelector::new(self.pack).with_seeds(
                    self.pack,
                    seeds.iter().map(|(i, s, t)| (i.as_str(), s.as_str(), *t)),
                );
                input.seed_plans = report;
                default_selector = selector;
                &default_selector
            }
        };
        let generator = Generator {
            pack: self.pack,
            synthesizer: fitted.as_ref(),
            selector,
            assembler: self.assembler.as_ref(),
            validator: &validator,
        };
        let mut options = self.options.clone();
        options.method = self.model.clone();
        // The output's sql_type mix is the input's (unless the caller set one, or fixed
        // the type).
        let fixes_type = options.fixed.iter().any(|(c, _)| c == "sql_type");
        if options.type_mix.is_none() && !fixes_type {
            let col = table.columns.iter().position(|c| c.name == "sql_type");
            if let Some(col) = col {
                let mut mix: BTreeMap<String, f64> = BTreeMap::new();
                for r in &table.rows {
                    if let Some(v) = r.0.get(col) {
                        *mix.entry(v.to_string()).or_default() += 1.0;
                    }
                }
                options.type_mix = Some(mix);
            }
        }
        let generation: GenerateStats = match self.executor {
            Some(executor) => generator.run_executing(&options, executor, progress, sink)?,
            None => generator.run(&options, progress, sink)?,
        };
        timings.insert("generate".to_string(), t.elapsed().as_secs_f64());
        timings.insert("total".to_string(), started.elapsed().as_secs_f64());
        let marginals = fitted_marginals(fitted.as_ref());
        Ok((
            JobStats {
                version: env!("CARGO_PKG_VERSION").to_string(),
                pack: self.pack.name().to_string(),
                input,
                model: self.model.clone(),
                marginals,
                generation,
                outputs: Vec::new(),
                timings: timings.clone(),
            },
            timings,
        ))
    }

    /// Generate and hand each accepted record to `sink` (in row order), writing no file.
    pub fn stream(
        &self,
        progress: &dyn Progress,
        mut sink: impl FnMut(Stage2Record) -> Result<(), GenerateError>,
    ) -> Result<JobStats, JobError> {
        Ok(self.execute(progress, None, &mut sink)?.0)
    }

    /// Generate into `out`: `stage2.jsonl`, `stage2_stats.json` and `model/`, each file
    /// written atomically.
    pub fn run(&self, out: &Path, progress: &dyn Progress) -> Result<JobStats, JobError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| JobError::Io { path, source }
        };
        std::fs::create_dir_all(out).map_err(io(out))?;
        let records_path = out.join(RECORDS_FILE);
        let mut file = AtomicFile::create(&records_path).map_err(io(&records_path))?;
        let mut line = Vec::with_capacity(4096);
        let model_dir = out.join("model");
        let (mut stats, _) = self.execute(progress, Some(&model_dir), &mut |r| {
            line.clear();
            serde_json::to_writer(&mut line, &r).expect("records serialise");
            line.push(b'\n');
            file.write_all(&line).map_err(|source| GenerateError::Io {
                path: records_path.clone(),
                source,
            })
        })?;
        file.commit().map_err(io(&records_path))?;
        let stats_path = out.join(STATS_FILE);
        stats.outputs = vec![
            records_path.display().to_string(),
            stats_path.display().to_string(),
            model_dir.display().to_string(),
        ];
        let text = serde_json::to_string_pretty(&stats).expect("stats serialise");
        write_atomic(&stats_path, text.as_bytes()).map_err(io(&stats_path))?;
        Ok(stats)
    }
}

/// The model's per-column summary (for GaussianCopula, the chosen marginals).
fn fitted_marginals(f: &dyn FittedSynthesizer) -> Vec<(String, String)> {
    f.describe()
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn assert_send_sync<T: Send + Sync>() {}
    const _: () = assert_send_sync::<Pipeline<'static>>();

    #[test]
    fn builder_checks_its_settings_once() {
        let pack = SchemaPack::default_pack();
        assert!(matches!(
            Pipeline::builder(&pack).rows(0).build(),
            Err(GenerateError::InvalidSetting { name: "rows", .. })
        ));
        let o = GenerateOptions {
            oversample: 0.5,
            ..GenerateOptions::default()
        };
        assert!(matches!(
            Pipeline::builder(&pack).options(o).build(),
            Err(GenerateError::InvalidSetting {
                name: "oversample",
                ..
            })
        ));
        let mut o = GenerateOptions::default();
        o.thresholds.semantic = 1.5;
        let e = Pipeline::builder(&pack).options(o).build().unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid setting thresholds.semantic: must lie in [0, 1], not 1.5"
        );
        assert!(Pipeline::builder(&pack)
            .rows(10)
            .seed(3)
            .threads(1)
            .build()
            .is_ok());
    }

    #[test]
    fn a_sink_that_refuses_stops_the_run_with_its_own_error() {
        let pack = SchemaPack::default_pack();
        let pipeline = Pipeline::builder(&pack)
            .rows(10)
            .seed(5)
            .threads(1)
            .build()
            .unwrap();
        let mut taken = 0;
        let err = pipeline
            .stream(&super::super::NoProgress, |_| {
                taken += 1;
                if taken == 3 {
                    Err(GenerateError::Sink("queue closed".into()))
                } else {
                    Ok(())
                }
            })
            .unwrap_err();
        assert_eq!(taken, 3);
        match err {
            JobError::Generate(GenerateError::Sink(m)) => assert_eq!(m, "queue closed"),
            other => panic!("unexpected error {other:?}"),
        }
    }
}
