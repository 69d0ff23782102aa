//! The PostgreSQL executor against a real server: row counts and the row cap, SQLSTATEs of
//! failures, statement timeouts, queries that ignore cancellation, lost connections,
//! refused writes, concurrency, and `generate` with execution. Run through `scripts/test`
//! (the statement splitter's test needs no server).

use std::time::{Duration, Instant};

use sqlsynth::execute::postgres::PostgresExecutor;
use sqlsynth::execute::{split_statements, ExecuteOptions, Outcome, QueryExecutor};
use sqlsynth::pipeline::{NoProgress, Pipeline};
use sqlsynth::SchemaPack;
use sqlsynth_tests::Postgis;

/// A fresh database with a 50-row table `t(id)`.
fn database(name: &str) -> Postgis {
    let pg = Postgis::with_ddl(name, "");
    pg.psql("CREATE TABLE t AS SELECT g AS id, 'v' || g AS label FROM generate_series(1, 50) g;");
    pg
}

fn executor(pg: &Postgis, options: ExecuteOptions) -> PostgresExecutor {
    // Host, port and user come from PGHOST / PGPORT / PGUSER (set by scripts/test).
    PostgresExecutor::connect(&format!("dbname={}", pg.name()), options).expect("connects")
}

fn options(timeout_ms: u64, row_cap: u64) -> ExecuteOptions {
    ExecuteOptions {
        timeout_ms,
        row_cap,
        ..ExecuteOptions::default()
    }
}

#[test]
#[ignore = "needs PostgreSQL + PostGIS: run scripts/test"]
fn rows_are_counted_up_to_the_cap() {
    let pg = database("sqlsynth_exec_rows");
    let ex = executor(&pg, options(5000, 20));
    let out = ex.execute_batch(&[
        "SELECT id FROM t WHERE id <= 5",
        "SELECT id FROM t",
        "SELECT id FROM t ORDER BY id LIMIT 20",
        "SELECT id FROM t WHERE id > 100",
        "SELECT count(*) FROM t",
    ]);
    let rows: Vec<(u64, bool)> = out
        .iter()
        .map(|o| match o {
            Outcome::Ok { rows, capped, .. } => (*rows, *capped),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        rows,
        [(5, false), (20, true), (20, false), (0, false), (1, false)]
    );
    assert!(out.iter().all(|o| o.ms() >= 0.0 && o.ms() < 5000.0));
}

#[test]
#[ignore = "needs PostgreSQL + PostGIS: run scripts/test"]
fn failures_carry_their_sqlstate_and_do_not_stop_the_batch() {
    let pg = database("sqlsynth_exec_errors");
    let ex = executor(&pg, options(5000, 1000));
    let out = ex.execute_batch(&[
        "SELECT nope FROM t",
        "SELEC 1",
        "SELECT 1 / 0",
        "SELECT * FROM no_such_table",
        "SELECT id FROM t WHERE id = 1",
    ]);
    let states: Vec<Option<&str>> = out.iter().map(Outcome::sqlstate).collect();
    assert_eq!(
        states,
        [
            Some("42703"),
            Some("42601"),
            Some("22012"),
            Some("42P01"),
            None
        ]
    );
    match &out[0] {
        Outcome::Failed { message, .. } => {
            assert_eq!(message, "column \"nope\" does not exist")
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(out[4], Outcome::Ok { rows: 1, .. }));
}

#[test]
#[ignore = "needs PostgreSQL + PostGIS: run scripts/test"]
fn a_slow_query_is_a_timeout() {
    let pg = database("sqlsynth_exec_timeout");
    let ex = executor(&pg, options(200, 1000));
    let started = Instant::now();
    let out = ex.execute_batch(&["SELECT pg_sleep(2)", "SELECT 1"]);
    match out[0] {
        Outcome::Timeout { ms, cancelled } => {
            assert!(cancelled, "the server cancels pg_sleep");
            assert!((200.0..1500.0).contains(&ms), "{ms} ms");
        }
        ref other => panic!("unexpected {other:?}"),
    }
    assert_eq!(out[0].sqlstate(), Some("57014"));
    assert!(matches!(out[1], Outcome::Ok { rows: 1, .. }));
    assert!(started.elapsed() < Duration::from_millis(1800));
}

#[test]
#[ignore = "needs PostgreSQL + PostGIS: run scripts/test"]
fn writes_are_refused_and_leave_the_database_unchanged() {
    let pg = database("sqlsynth_exec_readonly");
    pg.psql("CREATE SEQUENCE s;");
    let before = pg.psql("SELECT count(*), sum(id) FROM t;");
    let ex = executor(&pg, options(5000, 1000));
    let out = ex.execute_batch(&[
        "INSERT INTO t VALUES (1000, 'x')",
        "CREATE TABLE u (x int)",
        "UPDATE t SET id = id + 1",
        "DELETE FROM t",
        "SELECT nextval('s')",
        "WITH d AS (DELETE FROM t RETURNING id) SELECT count(*) FROM d",
        "DROP TABLE t",
    ]);
    for (i, o) in out.iter().enumerate() {
        assert_eq!(o.sqlstate(), Some("25006"), "statement {i}: {o:?}");
    }
    drop(ex);
    assert_eq!(pg.psql("SELECT count(*), sum(id) FROM t;"), before);
    assert_eq!(pg.psql("SELECT to_regclass('u') IS NULL;").trim(), "t");
    assert_eq!(
        pg.psql("SELECT last_value, is_called FROM s;").trim(),
        "1|f"
    );
}

#[test]
#[ignore = "needs PostgreSQL + PostGIS: run scripts/test"]
fn a_query_ignoring_cancellation_is_abandoned_and_its_backend_terminated() {
    let pg = database("sqlsynth_exec_stubborn");
    // Catching query_canceled makes a function ignore statement_timeout (as some C
    // functions do by never checking for interrupts); termination still stops it.
    pg.psql(
        "CREATE FUNCTION stubborn(seconds float) RETURNS int LANGUAGE plpgsql AS $f$
         DECLARE t0 timestamptz := clock_timestamp();
         BEGIN
           LOOP
             BEGIN
               PERFORM pg_sleep(0.05);
             EXCEPTION WHEN query_canceled THEN NULL;
             END;
             EXIT WHEN clock_timestamp() - t0 > make_interval(secs => seconds);
           END LOOP;
           RETURN 1;
         END $f$;",
    );
    let ex = executor(
        &pg,
        ExecuteOptions {
            timeout_ms: 200,
            grace_ms: 300,
            jobs: 1,
            ..ExecuteOptions::default()
        },
    );
    let started = Instant::now();
    let out = ex.execute_batch(&["SELECT stubborn(30)", "SELECT id FROM t WHERE id < 4"]);
    match out[0] {
        Outcome::Timeout { ms, cancelled } => {
            assert!(!cancelled, "the function ignores cancellation");
            assert!((500.0..3000.0).contains(&ms), "{ms} ms");
        }
        ref other => panic!("unexpected {other:?}"),
    }
    // The same job reconnected and carried on.
    assert!(
        matches!(out[1], Outcome::Ok { rows: 3, .. }),
        "{:?}",
        out[1]
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    // The abandoned backend was terminated, not left running for 30 s.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let running = pg.psql(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND query LIKE '%stubborn(30)%' AND pid <> pg_backend_pid();",
            pg.name()
        ));
        if running.trim() == "0" {
            break;
        }
        assert!(Instant::now() < deadline, "the stubborn backend still runs");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
#[ignore = "needs PostgreSQL + PostGIS: run scripts/test"]
fn a_lost_connection_is_a_failure_and_the_job_reconnects() {
    let pg = database("sqlsynth_exec_lost");
    let ex = executor(
        &pg,
        ExecuteOptions {
            jobs: 1,
            ..ExecuteOptions::default()
        },
    );
    // The backend ends itself (as a crashed one would): its query fails, the next one
    // runs on a new connection.
    let out = ex.execute_batch(&["SELECT pg_terminate_backend(pg_backend_pid())", "SELECT 1"]);
    match &out[0] {
        Outcome::Failed { sqlstate, .. } => {
            assert!(
                sqlstate == "57P01" || sqlstate.starts_with("08"),
                "{sqlstate}"
            )
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        matches!(out[1], Outcome::Ok { rows: 1, .. }),
        "{:?}",
        out[1]
    );
    // And the next batch too.
    assert!(matches!(
        ex.execute_batch(&["SELECT 2"])[0],
        Outcome::Ok { rows: 1, .. }
    ));
}

#[test]
#[ignore = "needs PostgreSQL + PostGIS: run scripts/test"]
fn jobs_run_at_the_same_time() {
    let pg = database("sqlsynth_exec_jobs");
    let ex = executor(
        &pg,
        ExecuteOptions {
            jobs: 4,
            ..ExecuteOptions::default()
        },
    );
    let started = Instant::now();
    let out = ex.execute_batch(&["SELECT pg_sleep(0.3)"; 8]);
    let wall = started.elapsed();
    assert!(out.iter().all(Outcome::is_ok), "{out:?}");
    // One at a time would take 2.4 s.
    assert!(wall < Duration::from_millis(1500), "{wall:?}");
}

#[test]
fn a_script_splits_into_its_exact_statements() {
    let script = "-- two statements, a string holding ';' and a dollar-quoted body\n\
                  SELECT id, label FROM t WHERE label <> 'a;b';\n\
                  SELECT $body$ x := 1; RETURN x; $body$ AS body,\n  \"odd;name\".id\nFROM t AS \"odd;name\" ;\n\
                  /* trailing; comment */\n";
    let s = split_statements(script).unwrap();
    let texts: Vec<&str> = s.iter().map(|s| s.text).collect();
    assert_eq!(
        texts,
        [
            "SELECT id, label FROM t WHERE label <> 'a;b'",
            "SELECT $body$ x := 1; RETURN x; $body$ AS body,\n  \"odd;name\".id\nFROM t AS \"odd;name\""
        ]
    );
    assert_eq!((s[0].line, s[1].line), (2, 3));
}

#[test]
#[ignore = "needs PostgreSQL + PostGIS: run scripts/test"]
fn split_statements_run_as_written() {
    let pg = database("sqlsynth_exec_split");
    let script = "SELECT id, label FROM t WHERE label <> 'a;b';\n\
                  SELECT $body$ x; y $body$ AS body, \"odd;name\".id FROM t AS \"odd;name\" WHERE \"odd;name\".id < 3;";
    let statements = split_statements(script).unwrap();
    let sqls: Vec<&str> = statements.iter().map(|s| s.text).collect();
    let ex = executor(&pg, options(5000, 1000));
    let out = ex.execute_batch(&sqls);
    assert!(
        matches!(out[0], Outcome::Ok { rows: 50, .. }),
        "{:?}",
        out[0]
    );
    assert!(
        matches!(out[1], Outcome::Ok { rows: 2, .. }),
        "{:?}",
        out[1]
    );
}

#[test]
#[ignore = "needs PostgreSQL + PostGIS: run scripts/test"]
fn generate_with_execution_records_rows_and_time() {
    let pack = SchemaPack::default_pack();
    let pg = Postgis::with_ddl("sqlsynth_exec_generate", &pack.ddl());
    let ex = executor(&pg, options(5000, 1000));
    // The pack's tables are empty: every query runs, and returns rows only when it
    // aggregates, so empty results are allowed here.
    let pipeline = Pipeline::builder(&pack)
        .rows(150)
        .seed(3)
        .executor(&ex)
        .allow_empty(true)
        .build()
        .unwrap();
    let mut records = Vec::new();
    let stats = pipeline
        .stream(&NoProgress, |r| {
            records.push(r);
            Ok(())
        })
        .unwrap();
    assert_eq!(records.len(), 150);
    assert!(records.iter().all(|r| r.execution.is_some()));
    let e = stats
        .generation
        .execution
        .as_ref()
        .expect("execution stats");
    assert!(e.executed >= 150 && e.ok >= 150, "{e:?}");
    assert_eq!(e.timeouts, 0, "{e:?}");
    // Queries the validator accepts also run (failures would be counted by SQLSTATE).
    assert!(e.failed.values().sum::<u64>() <= 1, "{e:?}");
    let line = serde_json::to_value(&records[0]).unwrap();
    assert!(line["execution"]["rows"].is_u64() && line["execution"]["ms"].is_number());

    // Without --allow-empty, on empty tables, nearly every query is rejected as an empty
    // result (a scalar aggregate still returns its one row).
    let pipeline = Pipeline::builder(&pack)
        .rows(50)
        .seed(3)
        .executor(&ex)
        .build()
        .unwrap();
    let mut records = Vec::new();
    let result = pipeline.stream(&NoProgress, |r| {
        records.push(r);
        Ok(())
    });
    assert!(records
        .iter()
        .all(|r| r.execution.as_ref().is_some_and(|e| e.rows > 0)));
    match result {
        Ok(stats) => assert!(stats.generation.rejections["empty_result"] > 0),
        Err(e) => assert!(e.to_string().contains("empty_result"), "{e}"),
    }
}
