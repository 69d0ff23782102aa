//! [`PostgresExecutor`]: runs queries on a PostgreSQL server, never writing to it
//! (`postgres` cargo feature). ([`run_script`], for loading a sample database, is the one
//! function here that writes.)
//!
//! Each query runs in its own read-only transaction (`START TRANSACTION READ ONLY`, on a
//! session whose `default_transaction_read_only` is on as well) with
//! `SET LOCAL statement_timeout`, through a cursor fetched in text format (every type has
//! a text output; a raster has no binary one) in chunks of 100 rows up to `row_cap + 1`,
//! and is rolled back. A statement a cursor cannot hold (not a SELECT, VALUES or
//! read-only WITH) runs as written, still read-only. `jobs` connections run the queries
//! of a batch at the same time. A query that ignores cancellation is given up `grace_ms` after its timeout: its
//! connection is dropped, its backend terminated with `pg_terminate_backend` from a
//! separate connection, and a new connection takes its place. A lost connection (a
//! crashed or terminated backend) makes that query a failure, and the next query on that
//! slot reconnects (retrying for about three seconds while the server recovers).
//!
//! The executor owns a current-thread tokio runtime; call it from ordinary threads, not
//! from inside another tokio runtime.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::{JoinHandle, JoinSet};
use tokio_postgres::config::Host;
use tokio_postgres::error::Severity;
use tokio_postgres::{Client, Config, NoTls, SimpleQueryMessage};

use super::{
    ExecuteError, ExecuteOptions, Outcome, QueryExecutor, CANNOT_CONNECT, CONNECTION_FAILURE,
    QUERY_CANCELED,
};

/// SQLSTATE `connection_exception`: the client lost track of the connection's state.
const CONNECTION_EXCEPTION: &str = "08000";
/// Waits before each reconnection attempt after a lost connection.
const RECONNECT_BACKOFF_MS: &[u64] = &[0, 100, 300, 700, 1500];
/// How long terminating an abandoned backend may take.
const TERMINATE_TIMEOUT: Duration = Duration::from_secs(5);
/// Rows fetched at a time from a query's cursor.
const FETCH_CHUNK: u64 = 100;
/// Connection timeout when the connection string sets none.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs queries on PostgreSQL; see the [module docs](self).
///
/// ```no_run
/// use sqlsynth::execute::postgres::PostgresExecutor;
/// use sqlsynth::execute::{ExecuteOptions, Outcome, QueryExecutor};
///
/// let db = PostgresExecutor::connect("host=/tmp port=5432 dbname=cim", ExecuteOptions::default())?;
/// let outcomes = db.execute_batch(&["SELECT 1", "SELECT no_such_column"]);
/// assert!(matches!(outcomes[0], Outcome::Ok { rows: 1, .. }));
/// assert_eq!(outcomes[1].sqlstate(), Some("42703"));
/// # Ok::<(), sqlsynth::execute::ExecuteError>(())
/// ```
pub struct PostgresExecutor {
    shared: Arc<Shared>,
    /// One slot per job; `None` after a connection was lost and could not be reopened.
    /// A batch takes them all, so batches run one after the other.
    slots: Mutex<Vec<Option<Conn>>>,
    runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for PostgresExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresExecutor")
            .field("target", &self.shared.target)
            .field("options", &self.shared.options)
            .finish()
    }
}

/// What every worker reads.
struct Shared {
    config: Config,
    target: String,
    options: ExecuteOptions,
}

/// One open connection.
struct Conn {
    client: Client,
    /// Its backend's process id (to terminate it).
    pid: i32,
    /// The task driving the connection's socket.
    task: JoinHandle<()>,
}

impl Conn {
    /// Close the socket now, without waiting for the server.
    fn abandon(self) -> i32 {
        self.task.abort();
        self.pid
    }
}

impl PostgresExecutor {
    /// Check the options, parse `conninfo` and open `options.jobs` connections.
    ///
    /// `conninfo` is anything `tokio_postgres::Config` parses (`host=/tmp port=5432
    /// user=postgres dbname=db` or a `postgres://` URL); what it leaves unset is taken
    /// from `PGHOST`, `PGPORT`, `PGUSER`, `PGDATABASE` and `PGPASSWORD`, else libpq's
    /// defaults (the socket directory `/var/run/postgresql` or `/tmp` when it holds the
    /// port's socket, else `localhost`; port 5432). A host starting with `/` is a Unix
    /// socket directory. Connections are made without TLS.
    pub fn connect(
        conninfo: &str,
        options: ExecuteOptions,
    ) -> Result<PostgresExecutor, ExecuteError> {
        options.check()?;
        let config = config_from(conninfo, |k| std::env::var(k).ok())?;
        let target = describe_target(&config);
        let shared = Arc::new(Shared {
            config,
            target,
            options,
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ExecuteError::Runtime)?;
        let slots = runtime.block_on(async {
            let mut slots = Vec::with_capacity(shared.options.jobs);
            for _ in 0..shared.options.jobs {
                let conn = open(&shared)
                    .await
                    .map_err(|message| ExecuteError::Connect {
                        target: shared.target.clone(),
                        message,
                    })?;
                slots.push(Some(conn));
            }
            Ok::<_, ExecuteError>(slots)
        })?;
        Ok(PostgresExecutor {
            shared,
            slots: Mutex::new(slots),
            runtime,
        })
    }

    /// Where it connects: host (or socket directory), port, database and user.
    pub fn target(&self) -> &str {
        &self.shared.target
    }

    /// The options in force.
    pub fn options(&self) -> &ExecuteOptions {
        &self.shared.options
    }
}

impl QueryExecutor for PostgresExecutor {
    fn execute_batch(&self, sqls: &[&str]) -> Vec<Outcome> {
        if sqls.is_empty() {
            return Vec::new();
        }
        let mut guard = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let mut slots = std::mem::take(&mut *guard);
        let workers = slots.len().min(sqls.len());
        let idle = slots.split_off(workers);
        let queries: Arc<Vec<String>> = Arc::new(sqls.iter().map(|s| s.to_string()).collect());
        let next = Arc::new(AtomicUsize::new(0));
        // Set when a lost connection could not be reopened: the rest of the batch then
        // fails at once instead of waiting for the server again and again.
        let down = Arc::new(AtomicBool::new(false));
        let (returned, mut results) = self.runtime.block_on(async {
            let mut set = JoinSet::new();
            for slot in slots {
                let shared = self.shared.clone();
                let queries = queries.clone();
                let next = next.clone();
                let down = down.clone();
                set.spawn(async move {
                    let mut slot = slot;
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(sql) = queries.get(i) else { break };
                        done.push((i, run_one(&shared, &mut slot, &down, sql).await));
                    }
                    (slot, done)
                });
            }
            let mut returned = Vec::with_capacity(workers);
            let mut results: Vec<Option<Outcome>> = vec![None; queries.len()];
            while let Some(joined) = set.join_next().await {
                // A worker only panics on a bug; its queries are then reported below.
                if let Ok((slot, done)) = joined {
                    returned.push(slot);
                    for (i, o) in done {
                        results[i] = Some(o);
                    }
                }
            }
            (returned, results)
        });
        // Slots of workers that panicked are lost; reopen them at the next batch.
        let mut returned = returned;
        returned.resize_with(workers, || None);
        returned.extend(idle);
        *guard = returned;
        results
            .iter_mut()
            .map(|r| {
                r.take().unwrap_or_else(|| Outcome::Failed {
                    sqlstate: CONNECTION_EXCEPTION.into(),
                    message: "the worker running this query stopped".into(),
                    ms: 0.0,
                })
            })
            .collect()
    }
}

/// Run one query on a slot, reconnecting it first if its connection was lost. A query
/// whose connection turns out to be gone before the query itself was sent (an idle
/// connection the server closed) is run once more on a new connection.
async fn run_one(
    shared: &Shared,
    slot: &mut Option<Conn>,
    down: &AtomicBool,
    sql: &str,
) -> Outcome {
    let o = &shared.options;
    let limit = Duration::from_millis(o.timeout_ms.saturating_add(o.grace_ms));
    let mut retried = false;
    loop {
        let conn = match ensure(shared, slot, down).await {
            Ok(conn) => conn,
            Err(failed) => return failed,
        };
        let begun = Instant::now();
        let mut sent = None;
        let run = tokio::time::timeout(limit, query(&mut conn.client, sql, o, &mut sent)).await;
        let ms = sent.unwrap_or(begun).elapsed().as_secs_f64() * 1000.0;
        match run {
            Ok(Ok((rows, capped))) => return Outcome::Ok { rows, capped, ms },
            Ok(Err(e)) => {
                if unusable(&e) {
                    if let Some(c) = slot.take() {
                        c.abandon();
                    }
                    if sent.is_none() && !retried {
                        retried = true;
                        continue;
                    }
                }
                return failure(&e, ms, o.timeout_ms);
            }
            Err(_elapsed) => {
                // The server did not stop the query: drop the connection, terminate its
                // backend from another one, and reopen the slot (at its next query).
                if let Some(c) = slot.take() {
                    let pid = c.abandon();
                    terminate(shared, pid).await;
                }
                return Outcome::Timeout {
                    ms,
                    cancelled: false,
                };
            }
        }
    }
}

/// The slot's connection, reopened if it was lost (unless reopening already failed in
/// this batch).
async fn ensure<'s>(
    shared: &Shared,
    slot: &'s mut Option<Conn>,
    down: &AtomicBool,
) -> Result<&'s mut Conn, Outcome> {
    if slot.as_ref().is_some_and(|c| c.client.is_closed()) {
        if let Some(dead) = slot.take() {
            dead.abandon();
        }
    }
    let failed = |message: String| Outcome::Failed {
        sqlstate: CANNOT_CONNECT.into(),
        message: format!(
            "connection lost, and reconnecting to {} failed: {message}",
            shared.target
        ),
        ms: 0.0,
    };
    match slot {
        Some(conn) => Ok(conn),
        None if down.load(Ordering::Relaxed) => Err(failed("not retried in this batch".into())),
        None => match reopen(shared).await {
            Ok(conn) => Ok(slot.insert(conn)),
            Err(message) => {
                down.store(true, Ordering::Relaxed);
                Err(failed(message))
            }
        },
    }
}

/// Whether an error leaves the connection unusable: anything but an ordinary error
/// reported by the server (a FATAL or PANIC one ends the session).
fn unusable(e: &tokio_postgres::Error) -> bool {
    match e.as_db_error() {
        Some(db) => matches!(
            db.parsed_severity(),
            Some(Severity::Fatal | Severity::Panic)
        ),
        None => true,
    }
}

/// The query in its read-only transaction; rows counted up to the cap. `sent` is set
/// when the query itself is sent.
async fn query(
    client: &mut Client,
    sql: &str,
    o: &ExecuteOptions,
    sent: &mut Option<Instant>,
) -> Result<(u64, bool), tokio_postgres::Error> {
    let tx = client.build_transaction().read_only(true).start().await?;
    tx.batch_execute(&format!("SET LOCAL statement_timeout = {}", o.timeout_ms))
        .await?;
    *sent = Some(Instant::now());
    // A cursor in text format: every type has a text output function (a raster has no
    // binary one), and FETCH in small chunks stops at the cap without holding many rows.
    tx.batch_execute("SAVEPOINT sqlsynth_query").await?;
    let declared = tx
        .batch_execute(&format!(
            "DECLARE sqlsynth_rows NO SCROLL CURSOR FOR {}",
            sql.trim().trim_end_matches(';')
        ))
        .await;
    let mut rows = 0u64;
    match declared {
        Ok(()) => {
            let chunk = FETCH_CHUNK.min(o.row_cap + 1);
            while rows <= o.row_cap {
                let got = tx
                    .simple_query(&format!("FETCH FORWARD {chunk} FROM sqlsynth_rows"))
                    .await?
                    .iter()
                    .filter(|m| matches!(m, SimpleQueryMessage::Row(_)))
                    .count() as u64;
                rows += got;
                if got < chunk {
                    break;
                }
            }
        }
        // Not a query a cursor can hold (a statement other than SELECT / VALUES / WITH,
        // or a WITH that writes): run it as written, still read-only.
        Err(e)
            if e.code()
                .is_some_and(|c| matches!(c.code(), "42601" | "0A000")) =>
        {
            tx.batch_execute("ROLLBACK TO SAVEPOINT sqlsynth_query")
                .await?;
            for m in tx.simple_query(sql).await? {
                if matches!(m, SimpleQueryMessage::Row(_)) {
                    rows += 1;
                }
            }
        }
        Err(e) => return Err(e),
    }
    tx.rollback().await?;
    Ok((rows.min(o.row_cap), rows > o.row_cap))
}

/// The outcome of a query that returned an error.
fn failure(e: &tokio_postgres::Error, ms: f64, timeout_ms: u64) -> Outcome {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        // 57014 is also a cancellation asked for by the query itself; only one that comes
        // at the timeout is the timeout.
        if code == QUERY_CANCELED && ms + 1.0 >= timeout_ms as f64 {
            return Outcome::Timeout {
                ms,
                cancelled: true,
            };
        }
        return Outcome::Failed {
            sqlstate: code.to_string(),
            message: db.message().to_string(),
            ms,
        };
    }
    let sqlstate = if e.is_closed() || from_socket(e) {
        CONNECTION_FAILURE
    } else {
        CONNECTION_EXCEPTION
    };
    Outcome::Failed {
        sqlstate: sqlstate.into(),
        message: format!("connection lost: {}", chain(e)),
        ms,
    }
}

/// Whether an error came from the socket.
fn from_socket(e: &tokio_postgres::Error) -> bool {
    std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
}

/// An error with its causes, `a: b: c`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Open a connection: read-only by default, its backend's pid known.
async fn open(shared: &Shared) -> Result<Conn, String> {
    let (client, connection) = shared.config.connect(NoTls).await.map_err(|e| chain(&e))?;
    let task = tokio::spawn(async move {
        // The connection ends when its client is dropped or the server closes it; the
        // error, if any, reaches the client's pending query.
        let _ = connection.await;
    });
    let setup = client
        .simple_query("SET default_transaction_read_only = on; SELECT pg_backend_pid()")
        .await;
    let pid = match setup {
        Ok(messages) => messages.iter().find_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0).and_then(|p| p.parse::<i32>().ok()),
            _ => None,
        }),
        Err(e) => {
            task.abort();
            return Err(format!("preparing the session: {}", chain(&e)));
        }
    };
    let Some(pid) = pid else {
        task.abort();
        return Err("the server did not report its backend process id".into());
    };
    Ok(Conn { client, pid, task })
}

/// Reopen a slot after a lost connection, retrying while the server restarts.
async fn reopen(shared: &Shared) -> Result<Conn, String> {
    let mut last = String::new();
    for wait in RECONNECT_BACKOFF_MS {
        tokio::time::sleep(Duration::from_millis(*wait)).await;
        match open(shared).await {
            Ok(c) => return Ok(c),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Terminate an abandoned backend from a connection of its own (best effort: if the
/// server cannot be reached, the backend ends when it next notices its closed socket).
async fn terminate(shared: &Shared, pid: i32) {
    let work = async {
        let admin = open(shared).await.ok()?;
        let r = admin
            .client
            .simple_query(&format!("SELECT pg_terminate_backend({pid})"))
            .await;
        admin.abandon();
        r.ok()
    };
    let _ = tokio::time::timeout(TERMINATE_TIMEOUT, work).await;
}

/// Parse a connection string and fill what it leaves unset from the libpq environment
/// (`env` reads a variable) and libpq's defaults.
fn config_from(
    conninfo: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Config, ExecuteError> {
    let mut config = Config::from_str(conninfo).map_err(|e| ExecuteError::Conninfo {
        conninfo: redact(conninfo),
        message: chain(&e),
    })?;
    let env = |k: &str| env(k).filter(|v| !v.is_empty());
    if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
        match env("PGHOST") {
            Some(hosts) => {
                for h in hosts.split(',') {
                    config.host(h);
                }
            }
            None => {
                config.host(default_host(&config, &env));
            }
        }
    }
    if config.get_ports().is_empty() {
        if let Some(p) = env("PGPORT") {
            let port = p.parse::<u16>().map_err(|_| ExecuteError::Conninfo {
                conninfo: redact(conninfo),
                message: format!("PGPORT={p:?} is not a port number"),
            })?;
            config.port(port);
        }
    }
    if config.get_user().is_none() {
        if let Some(u) = env("PGUSER") {
            config.user(u);
        }
    }
    if config.get_dbname().is_none() {
        if let Some(d) = env("PGDATABASE") {
            config.dbname(d);
        }
    }
    if config.get_password().is_none() {
        if let Some(p) = env("PGPASSWORD") {
            config.password(p);
        }
    }
    if config.get_application_name().is_none() {
        config.application_name("sqlsynth");
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    Ok(config)
}

/// libpq's default host: the Unix socket directory that holds the port's socket, else
/// `localhost`.
fn default_host(config: &Config, env: &dyn Fn(&str) -> Option<String>) -> String {
    let port = config
        .get_ports()
        .first()
        .copied()
        .or_else(|| env("PGPORT").and_then(|p| p.parse().ok()))
        .unwrap_or(5432);
    ["/var/run/postgresql", "/tmp"]
        .iter()
        .find(|d| std::path::Path::new(&format!("{d}/.s.PGSQL.{port}")).exists())
        .map_or_else(|| "localhost".to_string(), |d| d.to_string())
}

/// `host H port P, database D, user U` for messages.
fn describe_target(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            Host::Tcp(name) => name.clone(),
            Host::Unix(dir) => dir.display().to_string(),
        })
        .chain(config.get_hostaddrs().iter().map(|a| a.to_string()))
        .collect();
    let ports: Vec<String> = match config.get_ports() {
        [] => vec!["5432".into()],
        p => p.iter().map(|p| p.to_string()).collect(),
    };
    let user = config.get_user().map(str::to_string).unwrap_or_else(|| {
        std::env::var("USER").unwrap_or_else(|_| "the current user".to_string())
    });
    format!(
        "host {} port {}, database {}, user {}",
        hosts.join(","),
        ports.join(","),
        config.get_dbname().unwrap_or(&user),
        user
    )
}

/// A connection string with its password masked.
fn redact(conninfo: &str) -> String {
    let mut out = conninfo.to_string();
    // URL form: scheme://user:password@host
    if let Some(scheme) = out.find("://") {
        let rest = scheme + 3;
        let end = out[rest..].find(['/', '?']).map_or(out.len(), |e| rest + e);
        if let Some(at) = out[rest..end].rfind('@') {
            if let Some(colon) = out[rest..rest + at].find(':') {
                out.replace_range(rest + colon + 1..rest + at, "***");
            }
        }
    }
    // key=value form: password=...
    let mut from = 0;
    while let Some(i) = out[from..].find("password") {
        let at = from + i + "password".len();
        let rest = out[at..].trim_start();
        let Some(value) = rest.strip_prefix('=') else {
            from = at;
            continue;
        };
        let start = out.len() - value.trim_start().len();
        let end = out[start..]
            .find(char::is_whitespace)
            .map_or(out.len(), |e| start + e);
        out.replace_range(start..end, "***");
        from = start + 3;
    }
    out
}

/// Run a whole SQL script (several statements, simple query protocol) on one connection
/// that may write: what `sqlsynth sample-db --db` uses to load a sample database. The
/// script is expected to hold its own transaction. Returns where it ran.
pub fn run_script(conninfo: &str, script: &str) -> Result<String, ExecuteError> {
    let config = config_from(conninfo, |k| std::env::var(k).ok())?;
    let target = describe_target(&config);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ExecuteError::Runtime)?;
    runtime.block_on(async {
        let (client, connection) =
            config
                .connect(NoTls)
                .await
                .map_err(|e| ExecuteError::Connect {
                    target: target.clone(),
                    message: chain(&e),
                })?;
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        let result = client.batch_execute(script).await;
        drop(client);
        let _ = driver.await;
        result.map_err(|e| ExecuteError::Script {
            target: target.clone(),
            message: match e.as_db_error() {
                Some(db) => format!(
                    "{} {}{}{}",
                    db.code().code(),
                    db.message(),
                    db.detail().map(|d| format!(" ({d})")).unwrap_or_default(),
                    db.where_().map(|w| format!(" [{w}]")).unwrap_or_default()
                ),
                None => chain(&e),
            },
        })
    })?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn unset_fields_come_from_the_libpq_environment() {
        let vars = [
            ("PGHOST", "/tmp/sock"),
            ("PGPORT", "55432"),
            ("PGUSER", "alice"),
            ("PGDATABASE", "cim"),
            ("PGPASSWORD", "secret"),
        ];
        let c = config_from("", env(&vars)).unwrap();
        assert!(
            matches!(&c.get_hosts()[0], Host::Unix(p) if p == std::path::Path::new("/tmp/sock"))
        );
        assert_eq!(c.get_ports(), [55432]);
        assert_eq!(c.get_user(), Some("alice"));
        assert_eq!(c.get_dbname(), Some("cim"));
        assert_eq!(c.get_password(), Some(&b"secret"[..]));
        assert_eq!(
            describe_target(&c),
            "host /tmp/sock port 55432, database cim, user alice"
        );
        // What the string sets wins.
        let c = config_from("host=db.example port=6000 user=bob dbname=x", env(&vars)).unwrap();
        assert!(matches!(&c.get_hosts()[0], Host::Tcp(h) if h == "db.example"));
        assert_eq!(c.get_ports(), [6000]);
        assert_eq!(c.get_user(), Some("bob"));
        assert_eq!(c.get_dbname(), Some("x"));
        let c = config_from("postgres://carol@localhost:7000/y", env(&vars)).unwrap();
        assert_eq!(c.get_ports(), [7000]);
        assert_eq!(c.get_user(), Some("carol"));
        assert_eq!(c.get_dbname(), Some("y"));
    }

    #[test]
    fn bad_strings_are_errors_without_the_password() {
        let e = config_from("host=x port=notaport password=hunter2", env(&[])).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("invalid connection string"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        let e = config_from("", env(&[("PGPORT", "abc")])).unwrap_err();
        assert!(e.to_string().contains("PGPORT=\"abc\""), "{e}");
        assert_eq!(
            redact("postgres://u:pw@h:5/db?x=1"),
            "postgres://u:***@h:5/db?x=1"
        );
        assert_eq!(redact("password = pw host=h"), "password = *** host=h");
    }

    #[test]
    fn connection_failure_names_host_and_port() {
        // Nothing listens on a fresh socket directory.
        let dir = std::env::temp_dir().join(format!("sqlsynth-no-pg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let e = PostgresExecutor::connect(
            &format!("host={} port=1 user=u dbname=d", dir.display()),
            ExecuteOptions::default(),
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, ExecuteError::Connect { .. }), "{text}");
        assert!(
            text.contains(&format!(
                "host {} port 1, database d, user u",
                dir.display()
            )),
            "{text}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
