//! The `sqlsynth` command line end to end.

use std::path::PathBuf;
use std::process::{Command, Output};

fn sqlsynth(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sqlsynth"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sqlsynth-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn ddl_creates_extensions_schemas_and_tables() {
    let out = sqlsynth(&["ddl", "--pack", "cim-wizard"]);
    assert!(out.status.success());
    let ddl = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "CREATE EXTENSION IF NOT EXISTS postgis;",
        "CREATE EXTENSION IF NOT EXISTS postgis_raster;",
        "CREATE TABLE cim_vector.building (",
        "building_geometry geometry(Geometry,4326)",
        "CREATE TABLE cim_raster.dsm_raster (",
        "rast raster",
        "PRIMARY KEY (project_id, scenario_id)",
    ] {
        assert!(ddl.contains(needle), "DDL lacks {needle}");
    }
}

#[test]
fn pack_schema_is_a_json_schema() {
    let out = sqlsynth(&["pack-schema"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["properties"]["functions"].is_object(), "{v}");
}

#[test]
fn corpus_prints_reference_records() {
    let out = sqlsynth(&["corpus", "--pack", "cim-wizard"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(records.len() >= 150);
    for r in &records {
        for key in [
            "id",
            "question",
            "sql_postgis",
            "sql_type",
            "difficulty",
            "question_tone",
            "database_schema",
            "spatial_functions",
        ] {
            assert!(!r[key].is_null(), "record lacks {key}: {r}");
        }
    }
}

#[test]
fn validate_jsonl_reports_each_row_and_skips_bad_lines() {
    let dir = temp_dir("validate");
    let input = dir.join("in.jsonl");
    std::fs::write(
        &input,
        concat!(
            "{\"id\":\"ok\",\"sql_postgis\":\"SELECT b.building_id FROM cim_vector.building b\"}\n",
            "{\"id\":\"bad\",\"sql_postgis\":\"SELECT b.nope\\nFROM cim_vector.building b\"}\n",
            "{\"id\":\"noparse\",\"sql_postgis\":\"SELECT FROM WHERE\"}\n",
            "not json\n",
        ),
    )
    .unwrap();
    let out = sqlsynth(&[
        "validate",
        "--jsonl",
        input.to_str().unwrap(),
        "--format",
        "json",
        "--skip-invalid",
    ]);
    assert_eq!(out.status.code(), Some(1), "some query is invalid");
    let rows: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["valid"], true);
    assert_eq!(rows[1]["valid"], false);
    assert_eq!(rows[1]["findings"][0]["code"], "unknown_column");
    assert_eq!(rows[1]["findings"][0]["line"], 1);
    assert_eq!(rows[2]["findings"][0]["code"], "parse_error");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("in.jsonl:4: skipped"), "{stderr}");
    assert!(
        stderr.contains("3 queries: 1 valid, 2 invalid (1 do not parse); 1 input lines skipped"),
        "{stderr}"
    );

    // Without --skip-invalid the bad line is an error naming file and line.
    let out = sqlsynth(&["validate", "--jsonl", input.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("in.jsonl:4:2: invalid JSON: expected ident\n"));
}

#[test]
fn validate_sql_file_prints_located_findings() {
    let dir = temp_dir("sqlfile");
    let file = dir.join("q.sql");
    std::fs::write(
        &file,
        "SELECT bp.type, count(*)\nFROM cim_vector.building_properties bp\nWHERE bp.heigth > 10",
    )
    .unwrap();
    let out = sqlsynth(&["validate", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("INVALID"), "{text}");
    assert!(text.contains("3:7: error[unknown_column]"), "{text}");
    assert!(text.contains("error[missing_group_by]"), "{text}");
}

#[test]
fn features_writes_csv_and_reports_unparseable_rows() {
    let dir = temp_dir("features");
    let input = dir.join("in.jsonl");
    std::fs::write(
        &input,
        "{\"question\":\"q\",\"sql\":\"SELECT id FROM cim_vector.grid_bus\"}\n{\"sql\":\"SELECT 1 LIMIT 1 LIMIT 2\"}\n",
    )
    .unwrap();
    let csv = dir.join("f.csv");
    let out = sqlsynth(&[
        "features",
        "--input",
        input.to_str().unwrap(),
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("in.jsonl:2: cannot parse SQL"), "{stderr}");
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("cte_count,join_count,subquery_count"));
    assert_eq!(lines.count(), 1);
}
