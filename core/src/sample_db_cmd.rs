//! `sqlsynth sample-db`: write (or load) a coherent sample database for a pack.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;

use sqlsynth::sampledb::SampleDb;
use sqlsynth::SchemaPack;

/// Arguments of `sqlsynth sample-db`.
#[derive(Args)]
pub struct SampleDbArgs {
    /// Built-in pack name or pack JSON file.
    #[arg(long, default_value = "cim-wizard")]
    pack: String,
    /// Size: a scale the pack names (CIM Wizard: small ≈ 2,000 buildings, medium ≈ 50,000).
    #[arg(long, default_value = "small")]
    scale: String,
    /// Seed (same pack, scale and seed: same bytes).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Write the SQL script to this file (atomically).
    #[arg(long, conflicts_with = "db", required_unless_present = "db")]
    out: Option<PathBuf>,
    /// Load it into this (empty) database instead: a libpq connection string or URL; fields
    /// it leaves out come from PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD.
    #[arg(long)]
    db: Option<String>,
    /// No summary on stderr.
    #[arg(long)]
    quiet: bool,
}

/// Run the command.
pub fn run(args: SampleDbArgs) -> Result<()> {
    let pack = SchemaPack::load(&args.pack)?;
    let started = Instant::now();
    let db = SampleDb::generate(&pack, &args.scale, args.seed)?;
    let sql = db.to_sql()?;
    let made = started.elapsed().as_secs_f64();
    let target = if let Some(path) = &args.out {
        crate::write_atomic(path, sql.as_bytes())?;
        path.display().to_string()
    } else if let Some(conninfo) = &args.db {
        sqlsynth::execute::postgres::run_script(conninfo, &sql)
            .with_context(|| "loading the sample database")?
    } else {
        bail!("give --out FILE or --db CONNINFO");
    };
    if !args.quiet {
        let mut err = std::io::stderr().lock();
        let rows: Vec<String> = db
            .stats
            .rows
            .iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect();
        writeln!(
            err,
            "sample database of pack {} (scale {}, seed {}): {} rows, {:.1} MB of SQL, made in {made:.1} s, written to {target} in {:.1} s",
            pack.name(),
            args.scale,
            args.seed,
            db.stats.rows.values().sum::<u64>(),
            sql.len() as f64 / 1e6,
            started.elapsed().as_secs_f64() - made,
        )?;
        writeln!(err, "rows: {}", rows.join(", "))?;
        let defects: Vec<String> = db
            .stats
            .defects
            .iter()
            .map(|(k, n)| format!("{k} ({n})"))
            .chain(db.stats.post_load_defects.iter().cloned())
            .collect();
        if !defects.is_empty() {
            writeln!(err, "documented defects: {}", defects.join("; "))?;
        }
        for (col, vals) in &db.stats.missing_enum_values {
            writeln!(
                err,
                "warning: {col}: domain values that no row carries: {}",
                vals.join(", ")
            )?;
        }
    }
    Ok(())
}
