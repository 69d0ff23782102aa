//! `sqlsynth execute` and `generate --execute` end to end: exit status, output formats,
//! bad input. The tests that run queries need the PostgreSQL cluster of `scripts/test`
//! (PGHOST / PGPORT); the bad-input tests need no server.

use std::path::PathBuf;
use std::process::{Command, Output};

fn sqlsynth(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sqlsynth"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sqlsynth-exec-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn bad_input_exits_2_naming_the_place() {
    let dir = temp_dir("bad");
    let q = dir.join("q.sql");
    std::fs::write(&q, "SELECT 1;\nSELECT 'unterminated").unwrap();
    let q = q.to_str().unwrap();
    let o = sqlsynth(&["execute", "--db", "host=/nonexistent port=1", q]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("{q}:2:")),
        "the error names file and line: {}",
        stderr(&o)
    );
    // No input at all.
    let o = sqlsynth(&["execute", "--db", "host=/nonexistent"]);
    assert_eq!(o.status.code(), Some(2));
    // A file that is missing.
    let o = sqlsynth(&["execute", "--db", "x", "/nonexistent/q.sql"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/nonexistent/q.sql"), "{}", stderr(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unreachable_server_exits_2_naming_host_and_port() {
    let dir = temp_dir("unreachable");
    let q = dir.join("q.sql");
    std::fs::write(&q, "SELECT 1").unwrap();
    let db = format!("host={} port=1 user=u dbname=d", dir.display());
    let o = sqlsynth(&["execute", "--db", &db, q.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains(&format!(
            "cannot connect to PostgreSQL at host {} port 1, database d, user u",
            dir.display()
        )),
        "{e}"
    );
    // generate --execute checks the connection before generating anything.
    let out = dir.join("out");
    let o = sqlsynth(&[
        "generate",
        "--rows",
        "5",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
        "--execute",
        &db,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("port 1"), "{}", stderr(&o));
    assert!(!out.join("stage2.jsonl").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A database of the `scripts/test` cluster, dropped at the end.
struct Db(String);

impl Db {
    fn new(name: &str, script: &str) -> Db {
        assert!(
            std::env::var_os("PGHOST").is_some() && std::env::var_os("PGPORT").is_some(),
            "PGHOST/PGPORT are not set: run the PostgreSQL tests through scripts/test"
        );
        let db = format!("{name}_{}", std::process::id());
        psql(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db};"),
        );
        psql(&db, script);
        Db(db)
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        psql(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE);", self.0),
        );
    }
}

fn psql(db: &str, script: &str) -> String {
    static SCRIPTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = SCRIPTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = temp_dir(&format!("psql{n}"));
    let file = dir.join("script.sql");
    std::fs::write(&file, script).unwrap();
    let o = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            db,
            "-f",
        ])
        .arg(&file)
        .output()
        .expect("psql runs");
    assert!(o.status.success(), "psql: {}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
    String::from_utf8(o.stdout).unwrap()
}

#[test]
#[ignore = "needs PostgreSQL + PostGIS: run scripts/test"]
fn execute_reports_each_statement_and_a_summary() {
    let db = Db::new(
        "sqlsynth_exec_cli",
        "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 30) g;",
    );
    let dir = temp_dir("cli");
    let q = dir.join("q.sql");
    std::fs::write(
        &q,
        "-- several statements\nSELECT id FROM t WHERE id < 4;\nSELECT 'a;b' AS s;\n\
         SELECT nope FROM t;\nSELECT pg_sleep(2);\nINSERT INTO t VALUES (99);\nSELECT id FROM t\n",
    )
    .unwrap();
    let q = q.to_str().unwrap();
    let conninfo = format!("dbname={}", db.0);
    let o = sqlsynth(&[
        "execute",
        "--db",
        &conninfo,
        "--timeout-ms",
        "300",
        "--row-cap",
        "10",
        "--quiet",
        q,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert!(
        lines[0].starts_with(&format!("{q}:2: ok, 3 rows (")),
        "{text}"
    );
    assert!(
        lines[1].starts_with(&format!("{q}:3: ok, 1 row (")),
        "{text}"
    );
    assert!(
        lines[2].starts_with(&format!(
            "{q}:4: error 42703 undefined_column: column \"nope\" does not exist ("
        )),
        "{text}"
    );
    assert!(lines[3].starts_with(&format!("{q}:5: timeout: ")), "{text}");
    assert!(
        lines[4].starts_with(&format!("{q}:6: error 25006 read_only_sql_transaction")),
        "{text}"
    );
    assert!(
        lines[5].starts_with(&format!("{q}:7: ok, 10+ (row cap) rows")),
        "{text}"
    );
    let e = stderr(&o);
    assert!(
        e.contains("6 queries: 3 ok (0 empty, 1 at the row cap), 2 failed, 1 timed out"),
        "{e}"
    );
    assert!(
        e.contains("errors: 25006 read_only_sql_transaction 1, 42703 undefined_column 1"),
        "{e}"
    );
    assert!(e.contains("time per query: median "), "{e}");
    assert_eq!(psql(&db.0, "SELECT count(*) FROM t;").trim(), "30");

    // JSON, one object per query, fields in the documented order; all ok: exit 0.
    let ok = dir.join("ok.sql");
    std::fs::write(&ok, "SELECT id FROM t WHERE id > 100;\nSELECT 1").unwrap();
    let o = sqlsynth(&[
        "execute",
        "--db",
        &conninfo,
        "--format",
        "json",
        "--quiet",
        ok.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout.clone()).unwrap();
    let first = text.lines().next().unwrap();
    let keys: Vec<String> =
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(first)
            .unwrap()
            .keys()
            .cloned()
            .collect();
    assert!(
        first.starts_with(&format!(
            "{{\"source\":\"{}:1\",\"id\":null,\"status\":\"ok\",\"sqlstate\":null,\"message\":null,\"rows\":0,\"capped\":false,\"ms\":",
            ok.display()
        )),
        "{first}"
    );
    assert_eq!(keys.len(), 9);
    assert!(
        first.ends_with(",\"sql_type\":\"SIMPLE_SELECT\"}"),
        "{first}"
    );
    assert!(
        stderr(&o).contains("empty results by sql_type: SIMPLE_SELECT 1/2 (50.0%)"),
        "{}",
        stderr(&o)
    );

    // JSON Lines input: the record's own sql_type, its id, FILE:LINE.
    let jsonl = dir.join("records.jsonl");
    std::fs::write(
        &jsonl,
        "{\"id\":\"a\",\"sql_postgis\":\"SELECT id FROM t\",\"sql_type\":\"AGGREGATION\"}\n\
         {\"id\":\"b\",\"sql\":\"SELECT nope FROM t\"}\n",
    )
    .unwrap();
    let o = sqlsynth(&[
        "execute",
        "--db",
        &conninfo,
        "--jsonl",
        jsonl.to_str().unwrap(),
        "--format",
        "json",
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let rows: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows[0]["id"], "a");
    assert_eq!(rows[0]["sql_type"], "AGGREGATION");
    assert_eq!(rows[0]["rows"], 30);
    assert_eq!(rows[1]["source"], format!("{}:2", jsonl.display()));
    assert_eq!(rows[1]["status"], "error");
    assert_eq!(rows[1]["sqlstate"], "42703");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[ignore = "needs PostgreSQL + PostGIS: run scripts/test"]
fn generate_execute_writes_execution_into_records_and_stats() {
    let ddl = String::from_utf8(sqlsynth(&["ddl"]).stdout).unwrap();
    let db = Db::new("sqlsynth_exec_gen", &ddl);
    let dir = temp_dir("gen");
    let out = dir.join("out");
    let o = sqlsynth(&[
        "generate",
        "--rows",
        "40",
        "--seed",
        "4",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
        "--execute",
        &format!("dbname={}", db.0),
        "--allow-empty",
        "--jobs",
        "2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary = String::from_utf8(o.stdout).unwrap();
    assert!(summary.contains("execution: "), "{summary}");
    let records = std::fs::read_to_string(out.join("stage2.jsonl")).unwrap();
    for line in records.lines() {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(r["execution"]["rows"].is_u64(), "{line}");
        assert!(r["execution"]["ms"].is_number(), "{line}");
    }
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("stage2_stats.json")).unwrap())
            .unwrap();
    let e = &stats["generation"]["execution"];
    assert!(e["executed"].as_u64().unwrap() >= 40, "{e}");
    assert!(e["ok"].as_u64().unwrap() >= 40, "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
