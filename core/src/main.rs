//! The `sqlsynth` command line.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{json, Value};

use sqlsynth::features::{QueryFeatures, RecordLabels};
use sqlsynth::read::{ReadOptions, Stage1Reader};
use sqlsynth::sql::analyze::analyze_statement;
use sqlsynth::{Candidate, FeatureTable, SchemaPack, Severity, Validator};

/// The binary's allocator: generation makes and drops millions of small strings and
/// vectors, where mimalloc is markedly faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "sqlsynth",
    version,
    about = "Grow a small spatial SQL corpus into a large, valid, novel text-to-SQL training set"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the JSON Schema of schema-pack files.
    PackSchema,
    /// Print PostgreSQL + PostGIS DDL that creates a pack's schemas and tables.
    Ddl {
        /// Built-in pack name or pack JSON file.
        #[arg(long, default_value = "cim-wizard")]
        pack: String,
    },
    /// Print a pack's seed corpus as JSON Lines in the Stage 1 record format.
    Corpus {
        /// Built-in pack name or pack JSON file.
        #[arg(long, default_value = "cim-wizard")]
        pack: String,
    },
    /// Extract the structural feature table of a Stage 1 corpus to CSV.
    Features {
        /// Stage 1 JSON Lines (.gz accepted). Default: the pack's seed corpus.
        #[arg(long)]
        input: Option<PathBuf>,
        /// Output CSV (written atomically).
        #[arg(long, default_value = "features.csv")]
        out: PathBuf,
        /// Built-in pack name or pack JSON file.
        #[arg(long, default_value = "cim-wizard")]
        pack: String,
        /// Field holding the SQL (default: sql_postgis, else sql).
        #[arg(long)]
        field: Option<String>,
        /// Skip malformed lines (counted and listed) instead of stopping.
        #[arg(long)]
        skip_invalid: bool,
    },
    /// Generate a Stage 2 training set: read a Stage 1 corpus, learn its structure, sample,
    /// assemble, score and keep the valid, novel queries (JSON Lines + stats under --out).
    Generate {
        /// Stage 1 JSON Lines (.gz accepted). Default: the pack's seed corpus.
        #[arg(long)]
        input: Option<PathBuf>,
        /// Built-in pack name or pack JSON file.
        #[arg(long, default_value = "cim-wizard")]
        pack: String,
        /// Synthesizer.
        #[arg(long, default_value = "gaussian_copula")]
        model: String,
        /// Records to produce.
        #[arg(long, default_value_t = 50_000)]
        rows: u64,
        /// Run seed (same seed, same bytes).
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Output directory.
        #[arg(long, default_value = "out")]
        out: PathBuf,
        /// Worker threads (0: all cores). The output does not depend on it.
        #[arg(long, default_value_t = 0)]
        threads: usize,
        /// Skip input records that are malformed or whose SQL does not parse (counted and
        /// reported in the stats) instead of stopping.
        #[arg(long)]
        skip_invalid: bool,
        /// Fix a categorical feature for every row, e.g. `--fix sql_type=SPATIAL_JOIN`
        /// (repeatable): conditional sampling.
        #[arg(long, value_name = "COLUMN=VALUE")]
        fix: Vec<String>,
        /// Rows sampled per missing record in each round.
        #[arg(long, default_value_t = 1.5)]
        oversample: f64,
        /// No progress bars.
        #[arg(long)]
        quiet: bool,
        /// Keep queries the `sense` metric flags (join fan-out, no-ops, unit errors…):
        /// they are still scored, and their findings reported.
        #[arg(long)]
        no_sense_filter: bool,
        /// Run every candidate on this database (read-only, with a timeout): run-time
        /// errors, timeouts and empty results are rejected, records carry
        /// `execution: {rows, ms}`. A connection string or postgres:// URL (PG* variables
        /// fill what it leaves unset).
        #[arg(long, value_name = "CONNINFO")]
        execute: Option<String>,
        /// With --execute: keep queries that return no row.
        #[arg(long, requires = "execute")]
        allow_empty: bool,
        /// With --execute: statement timeout per query, in milliseconds.
        #[arg(long, requires = "execute", default_value_t = 5000)]
        timeout_ms: u64,
        /// With --execute: queries run at the same time (one connection each).
        #[arg(long, requires = "execute", default_value_t = 2)]
        jobs: usize,
    },
    /// Validate queries: verdict, score breakdown and findings with line:column.
    ///
    /// Exit status: 0 when every query is valid, 1 when some is not, 2 on bad input.
    Validate {
        /// SQL files, one query each (`-` reads standard input).
        files: Vec<PathBuf>,
        /// Validate the SQL of every record of a Stage 1 JSON Lines file (.gz accepted).
        #[arg(long, conflicts_with = "files")]
        jsonl: Option<PathBuf>,
        /// Field holding the SQL in --jsonl records (default: sql_postgis, else sql).
        #[arg(long, requires = "jsonl")]
        field: Option<String>,
        /// Built-in pack name or pack JSON file.
        #[arg(long, default_value = "cim-wizard")]
        pack: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Skip malformed JSONL lines (counted and listed) instead of stopping.
        #[arg(long)]
        skip_invalid: bool,
        /// Print only invalid queries (text format).
        #[arg(long)]
        only_invalid: bool,
    },
    /// Run queries on a PostgreSQL database, each in a read-only transaction with a
    /// statement timeout: per query ok (rows, capped at --row-cap) or SQLSTATE + message,
    /// and milliseconds; a summary on stderr. Never writes to the database.
    ///
    /// Exit status: 0 when every query ran, 1 when some failed or timed out, 2 on bad
    /// input (or when the database cannot be reached).
    Execute(execute_cmd::ExecuteArgs),
    /// Write SQL that creates the pack's schema and fills it with a coherent synthetic
    /// sample database (places, buildings, census, grid, rasters), or load it into a
    /// database. The same pack, scale and seed give the same bytes.
    SampleDb(sample_db_cmd::SampleDbArgs),
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    /// Human-readable.
    Text,
    /// One JSON object per query.
    Json,
}

mod execute_cmd;
mod progress;
mod sample_db_cmd;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match cli.command {
        Command::PackSchema => {
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&SchemaPack::json_schema())?
            )?;
        }
        Command::Generate {
            input,
            pack,
            model,
            rows,
            seed,
            out: out_dir,
            threads,
            skip_invalid,
            fix,
            oversample,
            quiet,
            no_sense_filter,
            execute,
            allow_empty,
            timeout_ms,
            jobs,
        } => {
            let pack = SchemaPack::load(&pack)?;
            let mut fixed = Vec::new();
            for f in fix {
                let Some((k, v)) = f.split_once('=') else {
                    bail!("--fix takes COLUMN=VALUE, not {f:?}");
                };
                fixed.push((k.to_string(), sqlsynth::FeatureValue::Cat(v.to_string())));
            }
            let job = sqlsynth::pipeline::Stage2Job {
                input,
                skip_invalid,
                model,
                out: out_dir,
                options: sqlsynth::pipeline::GenerateOptions {
                    rows,
                    seed,
                    threads,
                    oversample,
                    fixed,
                    allow_empty,
                    thresholds: sqlsynth::pipeline::Thresholds {
                        sense: if no_sense_filter { 0.0 } else { 1.0 },
                        ..Default::default()
                    },
                    ..Default::default()
                },
            };
            let executor = execute
                .map(|db| execute_cmd::generate_executor(&db, timeout_ms, jobs))
                .transpose()?;
            let progress = progress::Bars::new(quiet);
            let result = match &executor {
                Some(e) => job.run_executing(&pack, e, &progress),
                None => job.run(&pack, &progress),
            };
            let stats = match result {
                Err(sqlsynth::pipeline::JobError::Generate(sqlsynth::GenerateError::Cancelled)) => {
                    progress.clear();
                    eprintln!(
                        "interrupted: {} and {} were not written",
                        job.out.join(sqlsynth::pipeline::RECORDS_FILE).display(),
                        job.out.join(sqlsynth::pipeline::STATS_FILE).display()
                    );
                    return Ok(ExitCode::from(130));
                }
                other => other?,
            };
            progress.clear();
            progress::summary(&mut out, &stats)?;
            if let Some(e) = &stats.generation.execution {
                writeln!(out, "{}", execute_cmd::generate_summary(e))?;
            }
        }
        Command::SampleDb(args) => sample_db_cmd::run(args)?,
        Command::Execute(args) => {
            let code = execute_cmd::run(args, &mut out)?;
            out.flush()?;
            return Ok(code);
        }
        Command::Ddl { pack } => {
            let pack = SchemaPack::load(&pack)?;
            write!(out, "{}", pack.ddl())?;
        }
        Command::Corpus { pack } => {
            let pack = SchemaPack::load(&pack)?;
            let reader = open_input(&pack, None, ReadOptions::default())?;
            for record in reader {
                let record = record?;
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string(&reference_record(&pack, &record)?)?
                )?;
            }
        }
        Command::Features {
            input,
            out: csv_path,
            pack,
            field,
            skip_invalid,
        } => {
            let pack = SchemaPack::load(&pack)?;
            let options = ReadOptions {
                skip_invalid,
                sql_field: field,
                ..ReadOptions::default()
            };
            let reader = open_input(&pack, input.as_deref(), options)?;
            let name = input
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "<seed corpus>".into());
            let mut features = Vec::new();
            let mut failures = 0usize;
            let mut reader = reader;
            for record in reader.by_ref() {
                let record = record?;
                let labels = RecordLabels {
                    question: record.question.as_deref(),
                    question_tone: record.question_tone.as_deref(),
                    usage_frequency: record.usage_frequency.as_deref(),
                };
                match sqlsynth::FeatureExtractor::new(&pack).extract(&record.sql, &labels) {
                    Ok(f) => features.push(f),
                    Err(e) => {
                        failures += 1;
                        eprintln!("{name}:{}: cannot parse SQL: {}", record.line, e.message);
                    }
                }
            }
            let report = reader.report().clone();
            for s in &report.skipped {
                eprintln!("{name}:{}: skipped: {}", s.line, s.reason);
            }
            let table = FeatureTable::from_features(&features);
            let mut bytes = Vec::new();
            table.write_csv(&mut bytes)?;
            write_atomic(&csv_path, &bytes)?;
            eprintln!(
                "{name}: {} lines, {} records, {} skipped, {} blank; features for {} queries, {} did not parse; wrote {}",
                report.lines,
                report.records,
                report.skipped.len(),
                report.blank,
                features.len(),
                failures,
                csv_path.display()
            );
        }
        Command::Validate {
            files,
            jsonl,
            field,
            pack,
            format,
            skip_invalid,
            only_invalid,
        } => {
            let pack = SchemaPack::load(&pack)?;
            let validator = Validator::new(&pack);
            let mut summary = Summary::default();
            if let Some(path) = jsonl {
                let options = ReadOptions {
                    skip_invalid,
                    sql_field: field,
                    ..ReadOptions::default()
                };
                let mut reader = Stage1Reader::open(&path, options)?;
                let name = path.display().to_string();
                for record in reader.by_ref() {
                    let record = record?;
                    let candidate = Candidate {
                        sql: record.sql.clone(),
                        question: record.question.clone(),
                        requested: None,
                    };
                    let place = format!("{name}:{}", record.line);
                    report_one(
                        &mut out,
                        &validator,
                        &candidate,
                        &place,
                        record.id.as_deref(),
                        format,
                        only_invalid,
                        &mut summary,
                    )?;
                }
                for s in &reader.report().skipped {
                    eprintln!("{name}:{}: skipped: {}", s.line, s.reason);
                }
                summary.skipped = reader.report().skipped.len();
            } else {
                if files.is_empty() {
                    bail!("give SQL files to validate, or --jsonl FILE");
                }
                for f in &files {
                    let sql = if f.as_os_str() == "-" {
                        std::io::read_to_string(std::io::stdin())
                            .context("reading standard input")?
                    } else {
                        std::fs::read_to_string(f)
                            .with_context(|| format!("reading {}", f.display()))?
                    };
                    let candidate = Candidate::from_sql(sql);
                    report_one(
                        &mut out,
                        &validator,
                        &candidate,
                        &f.display().to_string(),
                        None,
                        format,
                        only_invalid,
                        &mut summary,
                    )?;
                }
            }
            out.flush()?;
            summary.print();
            return Ok(if summary.invalid == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn open_input(
    pack: &SchemaPack,
    input: Option<&Path>,
    options: ReadOptions,
) -> Result<Stage1Reader> {
    Ok(match input {
        Some(p) => Stage1Reader::open(p, options)?,
        None => {
            let corpus = pack.corpus_jsonl().with_context(|| {
                format!("pack {} has no seed corpus; give --input", pack.name())
            })?;
            Stage1Reader::from_reader(
                Path::new("<seed corpus>"),
                Box::new(std::io::Cursor::new(corpus.as_bytes().to_vec())),
                options,
            )
        }
    })
}

#[derive(Default)]
struct Summary {
    total: usize,
    valid: usize,
    invalid: usize,
    parse_failures: usize,
    skipped: usize,
    unknown: BTreeMap<String, usize>,
}

impl Summary {
    fn print(&self) {
        eprintln!(
            "{} queries: {} valid, {} invalid ({} do not parse); {} input lines skipped",
            self.total, self.valid, self.invalid, self.parse_failures, self.skipped
        );
        if !self.unknown.is_empty() {
            let mut top: Vec<(&String, &usize)> = self.unknown.iter().collect();
            top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let list: Vec<String> = top
                .iter()
                .take(15)
                .map(|(n, c)| format!("{n} ({c})"))
                .collect();
            eprintln!("references the pack does not know: {}", list.join(", "));
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn report_one(
    out: &mut impl Write,
    validator: &Validator<'_>,
    candidate: &Candidate,
    place: &str,
    id: Option<&str>,
    format: Format,
    only_invalid: bool,
    summary: &mut Summary,
) -> Result<()> {
    let report = validator.validate_candidate(candidate);
    summary.total += 1;
    if report.valid {
        summary.valid += 1;
    } else {
        summary.invalid += 1;
    }
    if report.findings.iter().any(|f| f.code == "parse_error") {
        summary.parse_failures += 1;
    }
    for u in &report.unknown_references {
        *summary.unknown.entry(u.clone()).or_default() += 1;
    }
    match format {
        Format::Json => {
            let breakdown: serde_json::Map<String, Value> = report
                .breakdown
                .iter()
                .map(|m| {
                    (
                        m.metric.clone(),
                        if m.applicable {
                            json!(round3(m.score))
                        } else {
                            Value::Null
                        },
                    )
                })
                .collect();
            let findings: Vec<Value> = report
                .findings
                .iter()
                .map(|f| {
                    json!({
                        "severity": f.severity,
                        "aspect": f.aspect,
                        "code": f.code,
                        "message": f.message,
                        "line": f.location.map(|l| l.line),
                        "column": f.location.map(|l| l.column),
                    })
                })
                .collect();
            let obj = json!({
                "source": place,
                "id": id,
                "valid": report.valid,
                "score": round3(report.score),
                "breakdown": breakdown,
                "findings": findings,
                "unknown_references": report.unknown_references,
            });
            writeln!(out, "{obj}")?;
        }
        Format::Text => {
            if only_invalid && report.valid {
                return Ok(());
            }
            let verdict = if report.valid { "VALID" } else { "INVALID" };
            let parts: Vec<String> = report
                .breakdown
                .iter()
                .map(|m| {
                    let short = m.metric.split('_').next().unwrap_or(&m.metric);
                    if m.applicable {
                        format!("{short} {:.2}", m.score)
                    } else {
                        format!("{short} n/a")
                    }
                })
                .collect();
            let id = id.map(|i| format!(" ({i})")).unwrap_or_default();
            writeln!(
                out,
                "{place}{id}: {verdict} score {:.2} [{}]",
                report.score,
                parts.join(", ")
            )?;
            for f in &report.findings {
                if f.severity == Severity::Warning && f.code == "not_novel" && report.valid {
                    continue;
                }
                writeln!(out, "  {f}")?;
            }
        }
    }
    Ok(())
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A seed record in the reference Stage 1 format, with labels re-derived from its SQL.
fn reference_record(pack: &SchemaPack, record: &sqlsynth::Stage1Record) -> Result<Value> {
    let statements = sqlsynth::sql::parse(&record.sql)
        .map_err(|e| anyhow::anyhow!("seed corpus line {}: {}", record.line, e.message))?;
    let statement = statements.first().context("empty seed SQL")?;
    let analysis = analyze_statement(pack, statement);
    let labels = RecordLabels {
        question: record.question.as_deref(),
        question_tone: record.question_tone.as_deref(),
        usage_frequency: record.usage_frequency.as_deref(),
    };
    let f = QueryFeatures::from_facts(&analysis.facts, &labels, pack);
    let schemas: Vec<String> = {
        let mut s: Vec<String> = f
            .tables
            .iter()
            .filter_map(|t| t.split_once('.').map(|(s, _)| s.to_string()))
            .collect();
        s.dedup();
        s
    };
    Ok(json!({
        "id": record.id,
        "database_name": pack.name(),
        "question": record.question,
        "sql_postgis": record.sql,
        "sql_type": f.structure.sql_type,
        "difficulty": f.structure.difficulty_level,
        "question_tone": f.structure.question_tone,
        "usage_frequency": f.structure.usage_frequency,
        "schema_complexity": f.structure.schema_complexity,
        "table_count": f.structure.table_count,
        "schema_count": f.structure.schema_count,
        "join_count": f.structure.join_count,
        "cte_count": f.structure.cte_count,
        "subquery_count": f.structure.subquery_count,
        "spatial_function_count": f.structure.spatial_function_count,
        "complexity_score": f.structure.complexity_score,
        "spatial_functions": f.spatial_functions,
        "primary_function_category": f.structure.primary_function_category,
        "limit_strategy": f.structure.limit_strategy,
        "database_schema": { "schemas": schemas, "tables": f.tables },
        "stage": "stage1_seed",
        "generation_method": "hand_written",
    }))
}

/// Write a file atomically: a temporary file beside it, then a rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .context("output path has no file name")?
        .to_string_lossy();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("writing {}", path.display()));
    }
    Ok(())
}
