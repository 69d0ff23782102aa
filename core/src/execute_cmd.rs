//! `sqlsynth execute`: run queries on PostgreSQL (each in a read-only transaction with a
//! statement timeout, `--jobs` at a time) and report each one's outcome and a summary;
//! plus the executor and summary line of `generate --execute`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

use sqlsynth::execute::postgres::PostgresExecutor;
use sqlsynth::execute::{
    split_statements, sqlstate_name, ExecuteOptions, ExecutionStats, ExecutionSummary, Outcome,
    QueryExecutor,
};
use sqlsynth::features::RecordLabels;
use sqlsynth::pipeline::Progress;
use sqlsynth::read::{ReadOptions, Stage1Reader};
use sqlsynth::{FeatureExtractor, SchemaPack};

use crate::progress::Bars;
use crate::Format;

/// Arguments of `sqlsynth execute`.
#[derive(clap::Args)]
pub struct ExecuteArgs {
    /// SQL files; each may hold several statements separated by `;` (`-` reads standard
    /// input). Each statement is reported as FILE:LINE.
    files: Vec<PathBuf>,
    /// Run the SQL of every record of a Stage 1 / Stage 2 JSON Lines file (.gz accepted).
    #[arg(long, conflicts_with = "files")]
    jsonl: Option<PathBuf>,
    /// Field holding the SQL in --jsonl records (default: sql_postgis, else sql).
    #[arg(long, requires = "jsonl")]
    field: Option<String>,
    /// Skip malformed JSONL lines (counted and listed) instead of stopping.
    #[arg(long, requires = "jsonl")]
    skip_invalid: bool,
    /// The database: a libpq-style connection string (`host=/tmp port=5432 user=postgres
    /// dbname=db`) or a postgres:// URL; what it leaves unset comes from PGHOST, PGPORT,
    /// PGUSER, PGDATABASE and PGPASSWORD.
    #[arg(long, value_name = "CONNINFO")]
    db: String,
    /// Statement timeout per query, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,
    /// Queries run at the same time (one connection each).
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// Rows fetched at most per query (rows are counted up to it).
    #[arg(long, default_value_t = 1000)]
    row_cap: u64,
    /// Output format (json: one object per query).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Built-in pack name or pack JSON file (to find a query's sql_type when its record
    /// does not give one).
    #[arg(long, default_value = "cim-wizard")]
    pack: String,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// One query to run.
struct Query {
    /// FILE:LINE.
    source: String,
    /// The record's id (--jsonl).
    id: Option<String>,
    sql: String,
    sql_type: Option<String>,
}

/// Run `sqlsynth execute`: 0 when every query ran, 1 when some failed or timed out, 130
/// when interrupted; bad input and connection failures are errors (exit 2).
pub fn run(args: ExecuteArgs, out: &mut impl Write) -> Result<ExitCode> {
    let pack = SchemaPack::load(&args.pack)?;
    let queries = read_queries(&args, &pack)?;
    if queries.is_empty() {
        bail!("no query to run");
    }
    let options = ExecuteOptions {
        timeout_ms: args.timeout_ms,
        jobs: args.jobs,
        row_cap: args.row_cap,
        ..ExecuteOptions::default()
    };
    let executor = PostgresExecutor::connect(&args.db, options)?;
    let progress = Bars::new(args.quiet);
    progress.phase(
        &format!("execute on {}", executor.target()),
        queries.len() as u64,
    );
    let mut summary = ExecutionSummary::default();
    // Batches large enough to keep every connection busy, small enough to stream results
    // and to stop soon after Ctrl-C.
    let batch = (args.jobs * 32).max(64);
    let mut interrupted = false;
    for chunk in queries.chunks(batch) {
        if progress.cancelled() {
            interrupted = true;
            break;
        }
        let sqls: Vec<&str> = chunk.iter().map(|q| q.sql.as_str()).collect();
        let outcomes = executor.execute_batch(&sqls);
        for (q, o) in chunk.iter().zip(&outcomes) {
            summary.add(q.sql_type.as_deref(), o);
            report(out, q, o, args.format, args.timeout_ms)?;
        }
        out.flush()?;
        progress.advance(chunk.len() as u64);
    }
    progress.finish_phase();
    progress.clear();
    out.flush()?;
    eprintln!("{summary}");
    if interrupted {
        eprintln!(
            "interrupted: {} of {} queries run",
            summary.total,
            queries.len()
        );
        return Ok(ExitCode::from(130));
    }
    Ok(if summary.all_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The queries of the SQL files or of the JSON Lines file, in order.
fn read_queries(args: &ExecuteArgs, pack: &SchemaPack) -> Result<Vec<Query>> {
    let extractor = FeatureExtractor::new(pack);
    let sql_type = |sql: &str, labels: &RecordLabels<'_>| {
        extractor
            .extract(sql, labels)
            .ok()
            .map(|f| f.structure.sql_type.to_string())
    };
    let mut queries = Vec::new();
    if let Some(path) = &args.jsonl {
        let options = ReadOptions {
            skip_invalid: args.skip_invalid,
            sql_field: args.field.clone(),
            ..ReadOptions::default()
        };
        let mut reader = Stage1Reader::open(path, options)?;
        let name = path.display().to_string();
        for record in reader.by_ref() {
            let record = record?;
            let kind = match &record.sql_type {
                Some(t) => Some(t.clone()),
                None => sql_type(&record.sql, &record.labels()),
            };
            queries.push(Query {
                source: format!("{name}:{}", record.line),
                id: record.id,
                sql: record.sql,
                sql_type: kind,
            });
        }
        for s in &reader.report().skipped {
            eprintln!("{name}:{}: skipped: {}", s.line, s.reason);
        }
        return Ok(queries);
    }
    if args.files.is_empty() {
        bail!("give SQL files to run, or --jsonl FILE");
    }
    for f in &args.files {
        let (name, text) = read_sql_file(f)?;
        let statements = split_statements(&text)
            .map_err(|e| anyhow::anyhow!("{name}:{e}: cannot split into statements"))?;
        if statements.is_empty() {
            bail!("{name}: no SQL statement");
        }
        for s in statements {
            queries.push(Query {
                source: format!("{name}:{}", s.line),
                id: None,
                sql: s.text.to_string(),
                sql_type: sql_type(s.text, &RecordLabels::default()),
            });
        }
    }
    Ok(queries)
}

/// A SQL file's name for messages and its text (`-` is standard input).
fn read_sql_file(f: &Path) -> Result<(String, String)> {
    if f.as_os_str() == "-" {
        let text = std::io::read_to_string(std::io::stdin()).context("reading standard input")?;
        return Ok(("<stdin>".into(), text));
    }
    let text = std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
    Ok((f.display().to_string(), text))
}

/// The `--format json` object of one query (fields in this order).
#[derive(serde::Serialize)]
struct JsonLine<'a> {
    source: &'a str,
    id: Option<&'a str>,
    /// `ok`, `error` or `timeout`.
    status: &'static str,
    sqlstate: Option<&'a str>,
    message: Option<String>,
    rows: Option<u64>,
    capped: Option<bool>,
    ms: f64,
    sql_type: Option<&'a str>,
}

/// One query's line (text) or object (json).
fn report(
    out: &mut impl Write,
    q: &Query,
    o: &Outcome,
    format: Format,
    timeout_ms: u64,
) -> Result<()> {
    match format {
        Format::Json => {
            let (status, message, rows, capped) = match o {
                Outcome::Ok { rows, capped, .. } => ("ok", None, Some(*rows), Some(*capped)),
                Outcome::Failed { message, .. } => ("error", Some(message.clone()), None, None),
                Outcome::Timeout { cancelled, .. } => (
                    "timeout",
                    Some(timeout_message(*cancelled, timeout_ms)),
                    None,
                    None,
                ),
            };
            let line = JsonLine {
                source: &q.source,
                id: q.id.as_deref(),
                status,
                sqlstate: o.sqlstate(),
                message,
                rows,
                capped,
                ms: (o.ms() * 1000.0).round() / 1000.0,
                sql_type: q.sql_type.as_deref(),
            };
            serde_json::to_writer(&mut *out, &line)?;
            writeln!(out)?;
        }
        Format::Text => {
            let id =
                q.id.as_deref()
                    .map(|i| format!(" ({i})"))
                    .unwrap_or_default();
            let what = match o {
                Outcome::Ok { rows, capped, .. } => {
                    let plus = if *capped { "+ (row cap)" } else { "" };
                    let noun = if *rows == 1 && !capped { "row" } else { "rows" };
                    format!("ok, {rows}{plus} {noun}")
                }
                Outcome::Failed {
                    sqlstate, message, ..
                } => format!(
                    "error {sqlstate} {}: {}",
                    sqlstate_name(sqlstate),
                    message.replace('\n', " ")
                ),
                Outcome::Timeout { cancelled, .. } => {
                    format!("timeout: {}", timeout_message(*cancelled, timeout_ms))
                }
            };
            writeln!(out, "{}{id}: {what} ({:.1} ms)", q.source, o.ms())?;
        }
    }
    Ok(())
}

fn timeout_message(cancelled: bool, timeout_ms: u64) -> String {
    if cancelled {
        format!("cancelled by the server after the statement timeout of {timeout_ms} ms")
    } else {
        format!(
            "ignored the statement timeout of {timeout_ms} ms: connection abandoned and its backend terminated"
        )
    }
}

/// The executor of `generate --execute`.
pub fn generate_executor(db: &str, timeout_ms: u64, jobs: usize) -> Result<PostgresExecutor> {
    let options = ExecuteOptions {
        timeout_ms,
        jobs,
        ..ExecuteOptions::default()
    };
    Ok(PostgresExecutor::connect(db, options)?)
}

/// The `execution:` line of the `generate` summary.
pub fn generate_summary(e: &ExecutionStats) -> String {
    let failed: u64 = e.failed.values().sum();
    let mut failures: Vec<(&String, &u64)> = e.failed.iter().collect();
    failures.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let list: Vec<String> = failures
        .iter()
        .map(|(code, n)| format!("{code} {} {n}", sqlstate_name(code)))
        .collect();
    format!(
        "execution: {} queries run in {:.1} s; {} ok ({} empty), {} failed{}, {} timed out",
        e.executed,
        e.total_ms / 1000.0,
        e.ok,
        e.empty,
        failed,
        if list.is_empty() {
            String::new()
        } else {
            format!(" ({})", list.join(", "))
        },
        e.timeouts
    )
}
