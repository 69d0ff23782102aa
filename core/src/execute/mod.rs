//! Running queries on a database: what one run of a query gave ([`Outcome`]), how queries
//! are run ([`ExecuteOptions`], the [`QueryExecutor`] trait), and what a set of runs
//! amounts to ([`ExecutionSummary`] for `sqlsynth execute`, [`ExecutionStats`] for
//! `generate --execute`).
//!
//! This module has no database dependency: the PostgreSQL executor is
//! [`postgres::PostgresExecutor`] behind the `postgres` cargo feature (on by default with
//! `cli`); tests and embedders can implement [`QueryExecutor`] themselves.
//!
//! [`split_statements`] cuts a SQL script into its statements at top-level `;` tokens,
//! keeping each statement's text exactly as written.
//!
//! ```
//! use sqlsynth::execute::{ExecutionSummary, Outcome};
//!
//! let mut summary = ExecutionSummary::default();
//! summary.add(Some("SIMPLE_SELECT"), &Outcome::Ok { rows: 3, capped: false, ms: 1.0 });
//! summary.add(Some("SIMPLE_SELECT"), &Outcome::Ok { rows: 0, capped: false, ms: 2.0 });
//! summary.add(None, &Outcome::Failed {
//!     sqlstate: "42703".into(),
//!     message: "column \"x\" does not exist".into(),
//!     ms: 3.0,
//! });
//! assert_eq!((summary.ok, summary.empty, summary.failed), (2, 1, 1));
//! assert_eq!(summary.empty_share("SIMPLE_SELECT"), Some(0.5));
//! assert_eq!(summary.median_ms(), Some(2.0));
//! assert_eq!(summary.errors["42703"], 1);
//! ```

mod split;

#[cfg(feature = "postgres")]
pub mod postgres;

pub use split::{split_statements, SplitError, SqlStatement};

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// SQLSTATE `query_canceled`: what PostgreSQL reports when `statement_timeout` stops a
/// query (an [`Outcome::Timeout`] reports it as its SQLSTATE).
pub const QUERY_CANCELED: &str = "57014";
/// SQLSTATE `connection_failure`: reported when the connection to the server was lost
/// while a query ran and the server sent no error of its own.
pub const CONNECTION_FAILURE: &str = "08006";
/// SQLSTATE `sqlclient_unable_to_establish_sqlconnection`: the connection was lost and
/// could not be reopened, so the query was not run.
pub const CANNOT_CONNECT: &str = "08001";
/// SQLSTATE `read_only_sql_transaction`: a query tried to write.
pub const READ_ONLY_SQL_TRANSACTION: &str = "25006";

/// What running one query gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// The query ran to completion (or until `row_cap + 1` rows were fetched).
    Ok {
        /// Rows returned, counted up to the row cap.
        rows: u64,
        /// The query would have returned more than `rows` rows.
        capped: bool,
        /// Wall-clock milliseconds, from sending the query to the last row fetched.
        ms: f64,
    },
    /// The server (or the connection) reported an error.
    Failed {
        /// The five-character SQLSTATE ([`CONNECTION_FAILURE`] when the connection was
        /// lost without an error from the server).
        sqlstate: String,
        /// The server's message (or the client's, for a lost connection).
        message: String,
        /// Milliseconds until the error.
        ms: f64,
    },
    /// The query ran past its timeout.
    Timeout {
        /// Milliseconds until the query was given up.
        ms: f64,
        /// True when the server cancelled it (`statement_timeout`, SQLSTATE 57014); false
        /// when it ignored cancellation and the client abandoned the connection after
        /// the grace period (its backend was then terminated).
        cancelled: bool,
    },
}

impl Outcome {
    /// Milliseconds the query took (until it was given up, for a timeout).
    pub fn ms(&self) -> f64 {
        match self {
            Outcome::Ok { ms, .. } | Outcome::Failed { ms, .. } | Outcome::Timeout { ms, .. } => {
                *ms
            }
        }
    }

    /// Whether the query ran without error.
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok { .. })
    }

    /// Rows returned (counted up to the cap), for a query that ran.
    pub fn rows(&self) -> Option<u64> {
        match self {
            Outcome::Ok { rows, .. } => Some(*rows),
            _ => None,
        }
    }

    /// The SQLSTATE of a failure, or [`QUERY_CANCELED`] for a timeout; `None` when the
    /// query ran.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            Outcome::Ok { .. } => None,
            Outcome::Failed { sqlstate, .. } => Some(sqlstate),
            Outcome::Timeout { .. } => Some(QUERY_CANCELED),
        }
    }
}

/// How queries are run. Checked once by [`ExecuteOptions::check`] (executors call it when
/// they are built).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecuteOptions {
    /// Statement timeout per query, in milliseconds (default 5000).
    pub timeout_ms: u64,
    /// Queries run at the same time, each on its own connection (default 2).
    pub jobs: usize,
    /// Rows fetched at most per query (default 1000): rows are counted up to this number
    /// and [`Outcome::Ok::capped`] says whether there were more.
    pub row_cap: u64,
    /// Extra milliseconds a query may run past its timeout before the client gives up
    /// waiting for the server to cancel it (default 2000): some functions (PostGIS
    /// clustering among them) do not check for cancellation.
    pub grace_ms: u64,
}

impl Default for ExecuteOptions {
    fn default() -> Self {
        ExecuteOptions {
            timeout_ms: 5000,
            jobs: 2,
            row_cap: 1000,
            grace_ms: 2000,
        }
    }
}

/// The largest statement timeout PostgreSQL accepts (an `int` of milliseconds).
const MAX_TIMEOUT_MS: u64 = i32::MAX as u64;
/// At most this many connections.
const MAX_JOBS: usize = 256;

impl ExecuteOptions {
    /// Check the settings: a timeout in 1..=2147483647 ms, 1..=256 jobs, a row cap in
    /// 1..=2147483646, a grace period of at most one hour.
    pub fn check(&self) -> Result<(), ExecuteError> {
        let bad =
            |name: &'static str, reason: String| Err(ExecuteError::InvalidSetting { name, reason });
        if !(1..=MAX_TIMEOUT_MS).contains(&self.timeout_ms) {
            return bad(
                "timeout_ms",
                format!(
                    "must lie in 1..={MAX_TIMEOUT_MS} milliseconds, not {}",
                    self.timeout_ms
                ),
            );
        }
        if !(1..=MAX_JOBS).contains(&self.jobs) {
            return bad(
                "jobs",
                format!("must lie in 1..={MAX_JOBS}, not {}", self.jobs),
            );
        }
        // The portal fetches row_cap + 1 rows, and the protocol counts in an i32.
        if !(1..MAX_TIMEOUT_MS).contains(&self.row_cap) {
            return bad(
                "row_cap",
                format!(
                    "must lie in 1..={}, not {}",
                    MAX_TIMEOUT_MS - 1,
                    self.row_cap
                ),
            );
        }
        if self.grace_ms > 3_600_000 {
            return bad(
                "grace_ms",
                format!(
                    "must be at most 3600000 milliseconds, not {}",
                    self.grace_ms
                ),
            );
        }
        Ok(())
    }
}

/// Why an executor could not be set up. Failures of single queries are not errors: they
/// are [`Outcome::Failed`] and [`Outcome::Timeout`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecuteError {
    /// An execution setting is out of range.
    #[error("invalid setting {name}: {reason}")]
    InvalidSetting {
        /// The setting, e.g. `timeout_ms`.
        name: &'static str,
        /// Why it is refused.
        reason: String,
    },
    /// The connection string does not parse.
    #[error("invalid connection string {conninfo:?}: {message}")]
    Conninfo {
        /// The connection string, password removed.
        conninfo: String,
        /// The parser's message.
        message: String,
    },
    /// Connecting (or preparing the session) failed.
    #[error("cannot connect to PostgreSQL at {target}: {message}")]
    Connect {
        /// Host (or socket directory), port, database and user tried.
        target: String,
        /// The client's or server's message.
        message: String,
    },
    /// The async runtime could not be started.
    #[error("cannot start the runtime for database connections: {0}")]
    Runtime(#[source] std::io::Error),
    /// A script (e.g. a sample database) failed on the server; it ran in one transaction,
    /// so nothing of it was kept.
    #[error("script failed on PostgreSQL at {target}: {message}")]
    Script {
        /// Host (or socket directory), port, database and user.
        target: String,
        /// The server's message (SQLSTATE, message, detail, position).
        message: String,
    },
}

/// Runs batches of queries; each query is judged on its own (one query's failure or
/// timeout never stops the others).
///
/// Implementations run the queries of a batch with their own concurrency and return one
/// [`Outcome`] per query, in the order given. They must never write to the database.
pub trait QueryExecutor: Send + Sync {
    /// Run every query of the batch.
    fn execute_batch(&self, sqls: &[&str]) -> Vec<Outcome>;
}

/// What a Stage 2 record carries after `generate --execute`: the result of running its
/// query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionInfo {
    /// Rows returned, counted up to the executor's row cap.
    pub rows: u64,
    /// Milliseconds the query took.
    pub ms: f64,
    /// The query would have returned more rows than the cap (written only when true).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub capped: bool,
}

/// Execution figures of a `generate --execute` run (in [`GenerateStats`]).
///
/// [`GenerateStats`]: crate::pipeline::GenerateStats
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExecutionStats {
    /// Queries sent to the database (including a few run ahead in a batch and then not
    /// needed because the target was met or a duplicate was accepted first).
    pub executed: u64,
    /// Of the candidates judged by their run: those that ran without error.
    pub ok: u64,
    /// Of those, the ones that returned no row.
    pub empty: u64,
    /// Candidates whose query failed, by SQLSTATE.
    pub failed: BTreeMap<String, u64>,
    /// Candidates whose query ran past the timeout.
    pub timeouts: u64,
    /// Sum of the milliseconds of every query sent.
    pub total_ms: f64,
}

/// How the empty results of one `sql_type` count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeCounts {
    /// Queries of this type that ran without error.
    pub ok: u64,
    /// Of those, the ones that returned no row.
    pub empty: u64,
}

/// What a set of runs amounts to: counts, failures by SQLSTATE, the share of empty results
/// per `sql_type`, and the median and 95th percentile of the time per query.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ExecutionSummary {
    /// Queries run.
    pub total: u64,
    /// Queries that ran without error.
    pub ok: u64,
    /// Of those, the ones that returned no row.
    pub empty: u64,
    /// Of those, the ones that reached the row cap.
    pub capped: u64,
    /// Queries that failed.
    pub failed: u64,
    /// Queries that ran past the timeout.
    pub timeouts: u64,
    /// Of those, the ones that ignored cancellation (the connection was abandoned).
    pub timeouts_abandoned: u64,
    /// Failures by SQLSTATE.
    pub errors: BTreeMap<String, u64>,
    /// Queries that ran without error, and how many of them were empty, by `sql_type`
    /// (`unknown` when the query's type is not known).
    pub by_sql_type: BTreeMap<String, TypeCounts>,
    /// Milliseconds of every query, in the order added.
    pub times_ms: Vec<f64>,
}

impl ExecutionSummary {
    /// Count one query's outcome (`sql_type`: the query's type, if known).
    pub fn add(&mut self, sql_type: Option<&str>, outcome: &Outcome) {
        self.total += 1;
        self.times_ms.push(outcome.ms());
        match outcome {
            Outcome::Ok { rows, capped, .. } => {
                self.ok += 1;
                let empty = *rows == 0;
                self.empty += u64::from(empty);
                self.capped += u64::from(*capped);
                let t = self
                    .by_sql_type
                    .entry(sql_type.unwrap_or("unknown").to_string())
                    .or_default();
                t.ok += 1;
                t.empty += u64::from(empty);
            }
            Outcome::Failed { sqlstate, .. } => {
                self.failed += 1;
                *self.errors.entry(sqlstate.clone()).or_default() += 1;
            }
            Outcome::Timeout { cancelled, .. } => {
                self.timeouts += 1;
                self.timeouts_abandoned += u64::from(!cancelled);
            }
        }
    }

    /// Share of empty results among the queries of `sql_type` that ran without error;
    /// `None` when none of them did.
    pub fn empty_share(&self, sql_type: &str) -> Option<f64> {
        self.by_sql_type
            .get(sql_type)
            .filter(|t| t.ok > 0)
            .map(|t| t.empty as f64 / t.ok as f64)
    }

    /// Median milliseconds per query, over every query run (the mean of the two middle
    /// values for an even count); `None` when nothing ran.
    pub fn median_ms(&self) -> Option<f64> {
        let v = self.sorted_times();
        let n = v.len();
        match n {
            0 => None,
            _ if n % 2 == 1 => Some(v[n / 2]),
            _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
        }
    }

    /// 95th percentile of the milliseconds per query (nearest rank: the
    /// ⌈0.95 · n⌉-th smallest), over every query run; `None` when nothing ran.
    pub fn p95_ms(&self) -> Option<f64> {
        let v = self.sorted_times();
        if v.is_empty() {
            return None;
        }
        let rank = (v.len() * 95).div_ceil(100);
        Some(v[rank.max(1) - 1])
    }

    /// Whether every query ran without error.
    pub fn all_ok(&self) -> bool {
        self.ok == self.total
    }

    fn sorted_times(&self) -> Vec<f64> {
        let mut v = self.times_ms.clone();
        v.sort_by(f64::total_cmp);
        v
    }
}

impl fmt::Display for ExecutionSummary {
    /// Three to four lines: counts; failures by SQLSTATE (when any); empty results by
    /// `sql_type` (when any query ran); median and p95 time.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} queries: {} ok ({} empty, {} at the row cap), {} failed, {} timed out",
            self.total, self.ok, self.empty, self.capped, self.failed, self.timeouts
        )?;
        if self.timeouts_abandoned > 0 {
            write!(
                f,
                " ({} ignored cancellation: connection abandoned)",
                self.timeouts_abandoned
            )?;
        }
        if !self.errors.is_empty() {
            let mut errors: Vec<(&String, &u64)> = self.errors.iter().collect();
            errors.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let list: Vec<String> = errors
                .iter()
                .map(|(code, n)| format!("{code} {} {n}", sqlstate_name(code)))
                .collect();
            write!(f, "\nerrors: {}", list.join(", "))?;
        }
        if !self.by_sql_type.is_empty() {
            let list: Vec<String> = self
                .by_sql_type
                .iter()
                .map(|(t, c)| {
                    format!(
                        "{t} {}/{} ({:.1}%)",
                        c.empty,
                        c.ok,
                        100.0 * c.empty as f64 / c.ok.max(1) as f64
                    )
                })
                .collect();
            write!(f, "\nempty results by sql_type: {}", list.join(", "))?;
        }
        match (self.median_ms(), self.p95_ms()) {
            (Some(m), Some(p)) => write!(f, "\ntime per query: median {m:.1} ms, p95 {p:.1} ms"),
            _ => Ok(()),
        }
    }
}

/// PostgreSQL's condition name for a SQLSTATE (`42703` → `undefined_column`); for a code
/// not in this list, the name of its class (`42xxx` → `syntax_error_or_access_rule_violation`),
/// else `unknown`.
pub fn sqlstate_name(code: &str) -> &'static str {
    const CODES: &[(&str, &str)] = &[
        ("08000", "connection_exception"),
        ("08001", "sqlclient_unable_to_establish_sqlconnection"),
        ("08003", "connection_does_not_exist"),
        ("08006", "connection_failure"),
        ("08P01", "protocol_violation"),
        ("0A000", "feature_not_supported"),
        ("21000", "cardinality_violation"),
        ("22000", "data_exception"),
        ("22001", "string_data_right_truncation"),
        ("22003", "numeric_value_out_of_range"),
        ("22004", "null_value_not_allowed"),
        ("22007", "invalid_datetime_format"),
        ("22008", "datetime_field_overflow"),
        ("22012", "division_by_zero"),
        ("2201E", "invalid_argument_for_logarithm"),
        ("2201F", "invalid_argument_for_power_function"),
        ("2202E", "array_subscript_error"),
        ("22023", "invalid_parameter_value"),
        ("22P02", "invalid_text_representation"),
        ("25001", "active_sql_transaction"),
        ("25006", "read_only_sql_transaction"),
        ("25P02", "in_failed_sql_transaction"),
        ("3F000", "invalid_schema_name"),
        ("40001", "serialization_failure"),
        ("40P01", "deadlock_detected"),
        ("42501", "insufficient_privilege"),
        ("42601", "syntax_error"),
        ("42702", "ambiguous_column"),
        ("42703", "undefined_column"),
        ("42725", "ambiguous_function"),
        ("42803", "grouping_error"),
        ("42804", "datatype_mismatch"),
        ("42809", "wrong_object_type"),
        ("42846", "cannot_coerce"),
        ("42883", "undefined_function"),
        ("42P01", "undefined_table"),
        ("42P02", "undefined_parameter"),
        ("42P10", "invalid_column_reference"),
        ("42P18", "indeterminate_datatype"),
        ("42P19", "invalid_recursion"),
        ("42P20", "windowing_error"),
        ("53000", "insufficient_resources"),
        ("53100", "disk_full"),
        ("53200", "out_of_memory"),
        ("54000", "program_limit_exceeded"),
        ("54001", "statement_too_complex"),
        ("55000", "object_not_in_prerequisite_state"),
        ("55P03", "lock_not_available"),
        ("57014", "query_canceled"),
        ("57P01", "admin_shutdown"),
        ("57P02", "crash_shutdown"),
        ("57P03", "cannot_connect_now"),
        ("58000", "system_error"),
        ("P0001", "raise_exception"),
        ("XX000", "internal_error"),
        ("XX001", "data_corrupted"),
    ];
    const CLASSES: &[(&str, &str)] = &[
        ("08", "connection_exception"),
        ("0A", "feature_not_supported"),
        ("21", "cardinality_violation"),
        ("22", "data_exception"),
        ("23", "integrity_constraint_violation"),
        ("25", "invalid_transaction_state"),
        ("28", "invalid_authorization_specification"),
        ("2F", "sql_routine_exception"),
        ("38", "external_routine_exception"),
        ("39", "external_routine_invocation_exception"),
        ("3F", "invalid_schema_name"),
        ("40", "transaction_rollback"),
        ("42", "syntax_error_or_access_rule_violation"),
        ("53", "insufficient_resources"),
        ("54", "program_limit_exceeded"),
        ("55", "object_not_in_prerequisite_state"),
        ("57", "operator_intervention"),
        ("58", "system_error"),
        ("F0", "config_file_error"),
        ("HV", "fdw_error"),
        ("P0", "plpgsql_error"),
        ("XX", "internal_error"),
    ];
    if let Some((_, name)) = CODES.iter().find(|(c, _)| *c == code) {
        return name;
    }
    code.get(..2)
        .and_then(|class| CLASSES.iter().find(|(c, _)| *c == class))
        .map_or("unknown", |(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(rows: u64, ms: f64) -> Outcome {
        Outcome::Ok {
            rows,
            capped: false,
            ms,
        }
    }

    #[test]
    fn median_and_p95_over_every_query() {
        let mut s = ExecutionSummary::default();
        assert_eq!(s.median_ms(), None);
        assert_eq!(s.p95_ms(), None);
        s.add(None, &ok(1, 7.0));
        assert_eq!(s.median_ms(), Some(7.0));
        assert_eq!(s.p95_ms(), Some(7.0));
        // 1..=20 ms, added out of order: median = (10 + 11) / 2, p95 = the 19th smallest.
        let mut s = ExecutionSummary::default();
        for ms in (1..=20).rev() {
            s.add(Some("SIMPLE_SELECT"), &ok(1, f64::from(ms)));
        }
        assert_eq!(s.median_ms(), Some(10.5));
        assert_eq!(s.p95_ms(), Some(19.0));
        // 1..=21 ms with a timeout of 5000: median 11, p95 = the 20th smallest (21·0.95 → 20).
        s.add(Some("SIMPLE_SELECT"), &ok(1, 21.0));
        assert_eq!(s.median_ms(), Some(11.0));
        assert_eq!(s.p95_ms(), Some(20.0));
        s.add(
            None,
            &Outcome::Timeout {
                ms: 5000.0,
                cancelled: true,
            },
        );
        assert_eq!(s.median_ms(), Some(11.5));
        assert_eq!(s.p95_ms(), Some(21.0));
        let mut s = ExecutionSummary::default();
        for ms in 1..=100 {
            s.add(None, &ok(1, f64::from(ms)));
        }
        assert_eq!(s.p95_ms(), Some(95.0));
        assert_eq!(s.median_ms(), Some(50.5));
    }

    #[test]
    fn summary_counts_errors_and_empty_share_by_type() {
        let mut s = ExecutionSummary::default();
        s.add(Some("SPATIAL_JOIN"), &ok(0, 1.0));
        s.add(Some("SPATIAL_JOIN"), &ok(4, 1.0));
        s.add(Some("SPATIAL_JOIN"), &ok(0, 1.0));
        s.add(Some("AGGREGATION"), &ok(2, 1.0));
        s.add(
            Some("AGGREGATION"),
            &Outcome::Ok {
                rows: 1000,
                capped: true,
                ms: 2.0,
            },
        );
        s.add(None, &ok(0, 1.0));
        for code in ["42703", "42703", "22012"] {
            s.add(
                Some("AGGREGATION"),
                &Outcome::Failed {
                    sqlstate: code.into(),
                    message: "m".into(),
                    ms: 0.5,
                },
            );
        }
        s.add(
            None,
            &Outcome::Timeout {
                ms: 200.0,
                cancelled: false,
            },
        );
        assert_eq!(s.total, 10);
        assert_eq!((s.ok, s.empty, s.capped), (6, 3, 1));
        assert_eq!((s.failed, s.timeouts, s.timeouts_abandoned), (3, 1, 1));
        assert!(!s.all_ok());
        assert_eq!(s.empty_share("SPATIAL_JOIN"), Some(2.0 / 3.0));
        assert_eq!(s.empty_share("AGGREGATION"), Some(0.0));
        assert_eq!(s.empty_share("unknown"), Some(1.0));
        assert_eq!(s.empty_share("NESTED"), None);
        assert_eq!(s.errors["42703"], 2);
        let text = s.to_string();
        assert_eq!(
            text,
            "10 queries: 6 ok (3 empty, 1 at the row cap), 3 failed, 1 timed out \
             (1 ignored cancellation: connection abandoned)\n\
             errors: 42703 undefined_column 2, 22012 division_by_zero 1\n\
             empty results by sql_type: AGGREGATION 0/2 (0.0%), SPATIAL_JOIN 2/3 (66.7%), \
             unknown 1/1 (100.0%)\n\
             time per query: median 1.0 ms, p95 200.0 ms"
        );
    }

    #[test]
    fn outcome_accessors_and_json_shape() {
        let t = Outcome::Timeout {
            ms: 3.0,
            cancelled: true,
        };
        assert_eq!(t.sqlstate(), Some(QUERY_CANCELED));
        assert_eq!(t.rows(), None);
        assert!(!t.is_ok());
        assert_eq!(ok(2, 1.5).rows(), Some(2));
        assert_eq!(ok(2, 1.5).sqlstate(), None);
        assert_eq!(
            serde_json::to_string(&ok(2, 1.5)).unwrap(),
            r#"{"status":"ok","rows":2,"capped":false,"ms":1.5}"#
        );
        let info = ExecutionInfo {
            rows: 3,
            ms: 1.25,
            capped: false,
        };
        assert_eq!(
            serde_json::to_string(&info).unwrap(),
            r#"{"rows":3,"ms":1.25}"#
        );
    }

    #[test]
    fn sqlstate_names_fall_back_to_the_class() {
        assert_eq!(sqlstate_name("42703"), "undefined_column");
        assert_eq!(sqlstate_name("25006"), "read_only_sql_transaction");
        assert_eq!(
            sqlstate_name("42P99"),
            "syntax_error_or_access_rule_violation"
        );
        assert_eq!(sqlstate_name("ZZ000"), "unknown");
        assert_eq!(sqlstate_name(""), "unknown");
    }

    #[test]
    fn options_are_checked() {
        assert!(ExecuteOptions::default().check().is_ok());
        for (o, name) in [
            (
                ExecuteOptions {
                    timeout_ms: 0,
                    ..ExecuteOptions::default()
                },
                "timeout_ms",
            ),
            (
                ExecuteOptions {
                    jobs: 0,
                    ..ExecuteOptions::default()
                },
                "jobs",
            ),
            (
                ExecuteOptions {
                    row_cap: 0,
                    ..ExecuteOptions::default()
                },
                "row_cap",
            ),
            (
                ExecuteOptions {
                    row_cap: i32::MAX as u64,
                    ..ExecuteOptions::default()
                },
                "row_cap",
            ),
        ] {
            match o.check() {
                Err(ExecuteError::InvalidSetting { name: n, .. }) => assert_eq!(n, name),
                other => panic!("{name}: {other:?}"),
            }
        }
    }
}
