//! Progress bars (indicatif) and the run summary of `sqlsynth generate`.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sqlsynth::pipeline::{JobStats, Progress};

/// One bar per phase, drawn on standard error.
pub struct Bars {
    quiet: bool,
    bar: Mutex<Option<ProgressBar>>,
    interrupted: Arc<AtomicBool>,
}

impl Bars {
    /// Bars that also watch for Ctrl-C: the run stops at the next chunk and removes its
    /// unfinished output files.
    pub fn new(quiet: bool) -> Bars {
        let interrupted = Arc::new(AtomicBool::new(false));
        let flag = interrupted.clone();
        // If a handler cannot be installed, Ctrl-C keeps its default (immediate exit; the
        // final output names are still never half-written).
        let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
        Bars {
            quiet,
            bar: Mutex::new(None),
            interrupted,
        }
    }

    pub fn clear(&self) {
        if let Some(b) = self.bar.lock().unwrap_or_else(|p| p.into_inner()).take() {
            b.finish_and_clear();
        }
    }
}

impl Progress for Bars {
    fn phase(&self, name: &str, total: u64) {
        if self.quiet {
            return;
        }
        let bar = if total == 0 {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                    .expect("valid template"),
            );
            b
        } else {
            let b = ProgressBar::new(total);
            b.set_style(
                ProgressStyle::with_template("{msg:45} [{bar:30}] {pos}/{len} ({per_sec}, {eta})")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            b
        };
        bar.set_draw_target(ProgressDrawTarget::stderr());
        bar.set_message(name.to_string());
        let mut slot = self.bar.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = slot.replace(bar) {
            old.finish_and_clear();
        }
    }

    fn advance(&self, n: u64) {
        if let Some(b) = self.bar.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            b.inc(n);
        }
    }

    fn cancelled(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }

    fn finish_phase(&self) {
        if let Some(b) = self.bar.lock().unwrap_or_else(|p| p.into_inner()).take() {
            if !self.quiet {
                eprintln!("{} ... done in {:.1?}", b.message(), b.elapsed());
            }
            b.finish_and_clear();
        }
    }
}

/// What `generate` prints when it is done.
pub fn summary(out: &mut impl Write, s: &JobStats) -> std::io::Result<()> {
    let g = &s.generation;
    writeln!(
        out,
        "input: {} ({} records, {} skipped: {} unreadable lines, {} unparseable SQL)",
        s.input.source,
        s.input.read.records,
        s.input.skipped_total,
        s.input.read.skipped.len(),
        s.input.unparseable_sql
    )?;
    writeln!(
        out,
        "model: {} fitted on {} rows",
        s.model, s.input.feature_rows
    )?;
    let lift = &s.input.seed_plans;
    if lift.lifted + lift.not_lifted_total > 0 {
        writeln!(
            out,
            "seed plans: {} seed queries lifted, {} not (see stage2_stats.json input.seed_plans)",
            lift.lifted, lift.not_lifted_total
        )?;
    }
    writeln!(
        out,
        "generated: {} of {} records in {} round(s) from {} sampled rows ({} realised exactly)",
        g.accepted, g.target, g.rounds, g.sampled, g.planned_exactly
    )?;
    let rejected: Vec<String> = g
        .rejections
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    writeln!(
        out,
        "rejected: {}",
        if rejected.is_empty() {
            "none".into()
        } else {
            rejected.join(", ")
        }
    )?;
    let means: Vec<String> = g
        .metric_means
        .iter()
        .map(|(k, v)| format!("{k} {v:.3}"))
        .collect();
    writeln!(
        out,
        "quality: mean {:.3} ({})",
        g.quality_mean,
        means.join(", ")
    )?;
    writeln!(
        out,
        "novelty: {:.1}% of records have a skeleton absent from the seed corpus; {} distinct skeletons",
        100.0 * g.novel_skeletons as f64 / g.accepted.max(1) as f64,
        g.distinct_skeletons
    )?;
    writeln!(
        out,
        "coverage: {} tables, {} join edges ({} missing), {} functions ({} missing)",
        g.tables_used.len(),
        g.join_edges_used.len(),
        g.join_edges_missing.len(),
        g.functions_used.len(),
        g.functions_missing.len()
    )?;
    writeln!(
        out,
        "time: {:.1} s",
        s.timings.get("total").copied().unwrap_or(0.0)
    )?;
    for o in &s.outputs {
        writeln!(out, "wrote {o}")?;
    }
    Ok(())
}
