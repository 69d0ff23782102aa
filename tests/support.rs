//! Helpers shared by the integration tests: the seed corpus, the validator fixture, and a
//! PostgreSQL + PostGIS connection (through `psql`) used as ground truth.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

/// One query with a stable id.
#[derive(Debug, Clone)]
pub struct Case {
    /// Stable id (seed id, fixture id, or `seed_id:mutation`).
    pub id: String,
    /// SQL text.
    pub sql: String,
}

/// The embedded CIM Wizard seed corpus as cases.
pub fn seed_cases() -> Vec<Case> {
    let pack = sqlsynth::SchemaPack::default_pack();
    pack.corpus_jsonl()
        .expect("the CIM Wizard pack ships a seed corpus")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("seed corpus lines are JSON");
            Case {
                id: v["id"].as_str().expect("seed id").to_string(),
                sql: v["sql_postgis"].as_str().expect("seed SQL").to_string(),
            }
        })
        .collect()
}

/// The hand-written validator cases (tests/fixtures/validator_cases.jsonl).
pub fn fixture_cases() -> Vec<(Case, bool)> {
    include_str!("fixtures/validator_cases.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("fixture lines are JSON");
            (
                Case {
                    id: v["id"].as_str().expect("id").to_string(),
                    sql: v["sql"].as_str().expect("sql").to_string(),
                },
                v["pg_accepts"].as_bool().expect("pg_accepts"),
            )
        })
        .collect()
}

/// Deterministic mutations of a valid query, each aimed at one kind of mistake.
/// Returns (mutation name, mutated SQL) for the mutations whose pattern occurs.
pub fn mutations(sql: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    // Wrong column: the first `alias.column` reference gets a misspelt column.
    if let Some((start, end)) = first_qualified_column(sql) {
        out.push((
            "wrong_column",
            format!("{}{}_x{}", &sql[..start], &sql[start..end], &sql[end..]),
        ));
        // Unqualified column: drop the qualifier (ambiguous when both sides have it).
        let dot = sql[start..end]
            .find('.')
            .map(|d| start + d)
            .unwrap_or(start);
        let qual_start = sql[..dot]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        out.push((
            "unqualified_column",
            format!("{}{}", &sql[..qual_start], &sql[dot + 1..]),
        ));
    }
    // Wrong table: a table name that does not exist.
    for t in [
        "cim_vector.building_properties",
        "cim_vector.building",
        "cim_vector.grid_bus",
        "cim_census.census_geo",
    ] {
        if let Some(i) = find_word(sql, t) {
            out.push((
                "wrong_table",
                format!("{}{}s{}", &sql[..i], t, &sql[i + t.len()..]),
            ));
            break;
        }
    }
    // Raster function on a non-raster column.
    if let Some(i) = sql.find(".rast") {
        out.push((
            "raster_function_on_vector",
            format!("{}.filename{}", &sql[..i], &sql[i + 5..]),
        ));
    }
    // Vector function on a raster column: ST_Area of the raster the query reads.
    if let Some(r) = sql.find(".rast") {
        let alias_start = sql[..r]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |x| x + 1);
        let alias = &sql[alias_start..r];
        out.push((
            "vector_function_on_raster",
            sql.replacen("SELECT ", &format!("SELECT ST_Area({alias}.rast), "), 1),
        ));
    }
    // Missing GROUP BY.
    if let Some(i) = sql.find("GROUP BY") {
        let end = sql[i..].find('\n').map_or(sql.len(), |e| i + e);
        out.push(("missing_group_by", format!("{}{}", &sql[..i], &sql[end..])));
    }
    // round(double precision, int) does not exist.
    if let Some(i) = sql.find("::numeric, ") {
        out.push(("round_double", format!("{}{}", &sql[..i], &sql[i + 9..])));
    }
    // Geometry instead of geography: accepted, but metres become degrees.
    if let Some(i) = sql.find("::geography") {
        out.push((
            "degrees_not_metres",
            format!("{}{}", &sql[..i], &sql[i + 11..]),
        ));
    }
    // A string compared with a number, and a number compared with a word.
    if let Some(i) = sql.find(" = '") {
        if let Some(e) = sql[i + 4..].find('\'') {
            out.push((
                "string_vs_number",
                format!("{} = 42{}", &sql[..i], &sql[i + 4 + e + 1..]),
            ));
        }
    }
    if let Some(i) = sql.find(" > ") {
        let rest = &sql[i + 3..];
        let n = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .count();
        if n > 0 {
            out.push((
                "number_vs_word",
                format!("{} > 'tall'{}", &sql[..i], &rest[n..]),
            ));
        }
    }
    // Aggregate in WHERE.
    if let Some(i) = sql.find("WHERE ") {
        out.push((
            "aggregate_in_where",
            format!("{}WHERE count(*) > 1 AND {}", &sql[..i], &sql[i + 6..]),
        ));
    }
    // Function that does not exist.
    if let Some(i) = sql.find("ST_") {
        out.push((
            "unknown_function",
            format!(
                "{}ST_Nonexistent{}",
                &sql[..i],
                &sql[i + sql[i..].find('(').unwrap_or(3)..]
            ),
        ));
    }
    out
}

fn find_word(sql: &str, word: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = sql[from..].find(word) {
        let at = from + i;
        let after = sql[at + word.len()..].chars().next();
        if !after.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            return Some(at);
        }
        from = at + word.len();
    }
    None
}

/// Byte range of the first `alias.column` (lower-case identifiers, not a schema-qualified table).
fn first_qualified_column(sql: &str) -> Option<(usize, usize)> {
    let bytes = sql.as_bytes();
    let ident = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_';
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'.'
            && i > 0
            && ident(bytes[i - 1])
            && i + 1 < bytes.len()
            && bytes[i + 1].is_ascii_lowercase()
        {
            let start = (0..i)
                .rev()
                .take_while(|&j| ident(bytes[j]))
                .last()
                .unwrap_or(i);
            let end = (i + 1..bytes.len())
                .take_while(|&j| ident(bytes[j]))
                .last()
                .map_or(i + 1, |e| e + 1);
            let qual = &sql[start..i];
            let in_string = sql[..start].matches('\'').count() % 2 == 1;
            if !qual.starts_with("cim_")
                && start > 0
                && bytes[start - 1] != b'.'
                && !in_string
                && bytes.get(end) != Some(&b'(')
            {
                return Some((start, end));
            }
            i = end;
        } else {
            i += 1;
        }
    }
    None
}

/// A database in the throw-away cluster that `scripts/test` starts (PGHOST/PGPORT).
pub struct Postgis {
    db: String,
}

/// Why the ground-truth server is not usable.
pub fn server_missing() -> Option<String> {
    if std::env::var_os("PGHOST").is_none() || std::env::var_os("PGPORT").is_none() {
        return Some(
            "PGHOST/PGPORT are not set: run the PostGIS tests through scripts/test".into(),
        );
    }
    None
}

impl Postgis {
    /// Create a fresh database and load the pack's DDL into it.
    pub fn with_ddl(name: &str, ddl: &str) -> Postgis {
        if let Some(why) = server_missing() {
            panic!("{why}");
        }
        let db = format!("{name}_{}", std::process::id());
        psql(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db};"),
        );
        psql(&db, ddl);
        Postgis { db }
    }

    /// The database's name (for connection strings).
    pub fn name(&self) -> &str {
        &self.db
    }

    /// Run a script through psql in this database (failing the test on any error); its
    /// output unaligned, tuples only.
    pub fn psql(&self, script: &str) -> String {
        psql(&self.db, script)
    }

    /// EXPLAIN every case; returns, per case, `Ok(())` or the PostgreSQL error.
    pub fn explain_all(&self, cases: &[Case]) -> Vec<Result<(), String>> {
        let mut script = String::from(
            "SET statement_timeout = '10s';\n\
             CREATE FUNCTION pg_temp.try_explain(q text) RETURNS text LANGUAGE plpgsql AS $f$\n\
             BEGIN EXECUTE 'EXPLAIN ' || q; RETURN 'OK';\n\
             EXCEPTION WHEN OTHERS THEN RETURN 'ERR ' || replace(SQLERRM, E'\\n', ' '); END $f$;\n",
        );
        for (i, c) in cases.iter().enumerate() {
            let sql = c.sql.trim().trim_end_matches(';');
            assert!(
                !sql.contains("$sqlsynth$"),
                "case {} contains the quoting tag",
                c.id
            );
            script.push_str(&format!(
                "SELECT '{i}' || E'\\t' || pg_temp.try_explain($sqlsynth${sql}$sqlsynth$);\n"
            ));
        }
        let out = psql(&self.db, &script);
        let mut results = vec![Err("no answer from PostgreSQL".to_string()); cases.len()];
        for line in out.lines() {
            let Some((i, verdict)) = line.split_once('\t') else {
                continue;
            };
            let Ok(i) = i.parse::<usize>() else { continue };
            results[i] = if verdict == "OK" {
                Ok(())
            } else {
                Err(verdict.trim_start_matches("ERR ").to_string())
            };
        }
        results
    }
}

impl Drop for Postgis {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                "-X",
                "-q",
                "-d",
                "postgres",
                "-c",
                // FORCE: connections a test left open do not keep the database.
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.db),
            ])
            .output();
    }
}

/// Run a script through psql, failing the test on any error.
fn psql(db: &str, script: &str) -> String {
    let mut child = Command::new("psql")
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("psql runs (PostgreSQL client installed)");
    let mut stdin = child.stdin.take().expect("stdin");
    let script = script.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(script.as_bytes()));
    let out = child.wait_with_output().expect("psql finishes");
    writer
        .join()
        .expect("writer thread")
        .expect("script written to psql");
    assert!(
        out.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("psql output is UTF-8")
}
