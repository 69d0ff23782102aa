//! Bad input never crashes anything: each case gives a clear error that names the place, or
//! is skipped and counted, and nothing valid is lost; outputs are atomic.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn sqlsynth(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sqlsynth"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sqlsynth-bad-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn seed_lines(n: usize) -> Vec<String> {
    sqlsynth::SchemaPack::default_pack()
        .corpus_jsonl()
        .unwrap()
        .lines()
        .take(n)
        .map(str::to_string)
        .collect()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn generate(input: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "generate",
        "--quiet",
        "--input",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    sqlsynth(&args)
}

/// No file under `dir` is a temporary or partial output.
fn no_leftovers(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries {
            let name = e.unwrap().file_name().to_string_lossy().to_string();
            assert!(
                !name.ends_with(".tmp"),
                "temporary file left behind: {name}"
            );
        }
    }
}

#[test]
fn truncated_and_non_utf8_files_name_the_line_and_column() {
    let dir = temp_dir("trunc");
    let input = dir.join("in.jsonl");
    let mut text = seed_lines(30).join("\n");
    text.push_str("\n{\"question\": \"cut\", \"sql\": \"SELECT 1 FR");
    std::fs::write(&input, &text).unwrap();
    let o = generate(&input, &dir.join("out"), &["--rows", "20"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("in.jsonl:31:"), "{}", stderr(&o));
    assert!(!dir.join("out/stage2.jsonl").exists());
    // Skipped and counted, the 30 good rows are used.
    let o = generate(
        &input,
        &dir.join("out"),
        &["--rows", "20", "--skip-invalid"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("out/stage2_stats.json")).unwrap()).unwrap();
    assert_eq!(stats["input"]["feature_rows"], 30);
    assert_eq!(stats["input"]["read"]["skipped"][0]["line"], 31);

    let mut bytes = seed_lines(3).join("\n").into_bytes();
    bytes.extend_from_slice(b"\n{\"sql\": \"SELECT \xff\xfe\"}\n");
    std::fs::write(&input, &bytes).unwrap();
    let o = generate(&input, &dir.join("out2"), &["--rows", "5"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("in.jsonl:4:17: not valid UTF-8"),
        "{}",
        stderr(&o)
    );
    no_leftovers(&dir.join("out2"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn empty_one_row_and_all_invalid_corpora() {
    let dir = temp_dir("sizes");
    let input = dir.join("in.jsonl");
    std::fs::write(&input, "").unwrap();
    let o = generate(&input, &dir.join("out"), &["--rows", "5"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no usable Stage 1 record"),
        "{}",
        stderr(&o)
    );

    // One row: the model learns that one structure; varied literals and choices still
    // give distinct queries.
    std::fs::write(&input, seed_lines(60).pop().unwrap()).unwrap();
    let o = generate(&input, &dir.join("out"), &["--rows", "10"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let n = std::fs::read_to_string(dir.join("out/stage2.jsonl"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(n, 10);

    // Every row invalid: reported, not a crash.
    std::fs::write(&input, "{\"sql\": \"SELEC 1\"}\n{\"sql\": \"DROP\"}\n").unwrap();
    let o = generate(
        &input,
        &dir.join("out3"),
        &["--rows", "5", "--skip-invalid"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("(2 skipped)"), "{}", stderr(&o));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn enormous_and_deeply_nested_sql_are_errors_not_crashes() {
    let dir = temp_dir("huge");
    // 2 MiB of SQL.
    let huge = format!("SELECT {} 1", "1 + ".repeat(512 * 1024));
    std::fs::write(dir.join("huge.sql"), &huge).unwrap();
    let o = sqlsynth(&["validate", dir.join("huge.sql").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("INVALID"), "{text}");
    // 10,000 nested subqueries.
    let nested = format!(
        "SELECT * FROM {}cim_vector.building{}",
        "(SELECT * FROM ".repeat(10_000),
        ") AS t".repeat(10_000)
    );
    std::fs::write(dir.join("nested.sql"), &nested).unwrap();
    let o = sqlsynth(&["validate", dir.join("nested.sql").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("nesting deeper than 50 levels"));
    // The same inside a corpus: skipped and counted, the good rows used.
    let mut lines = seed_lines(20);
    lines.push(serde_json::json!({"question": "q", "sql": nested}).to_string());
    lines.push(serde_json::json!({"question": "q", "sql": huge}).to_string());
    let input = dir.join("in.jsonl");
    std::fs::write(&input, lines.join("\n")).unwrap();
    let o = generate(
        &input,
        &dir.join("out"),
        &["--rows", "10", "--skip-invalid"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("out/stage2_stats.json")).unwrap()).unwrap();
    assert_eq!(stats["input"]["unparseable_sql"], 2);
    assert_eq!(stats["input"]["feature_rows"], 20);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn unknown_columns_are_findings_and_bad_packs_name_the_place() {
    let dir = temp_dir("pack");
    std::fs::write(
        dir.join("q.sql"),
        "SELECT b.no_such FROM cim_vector.building b",
    )
    .unwrap();
    let o = sqlsynth(&["validate", dir.join("q.sql").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("1:8: error[unknown_column]"));

    let pack = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema-packs/cim-wizard/pack.json"),
    )
    .unwrap();
    let bad = pack.replacen("\"primary_key\": [", "\"primary_key\": 7, \"x\": [", 1);
    std::fs::write(dir.join("bad.json"), &bad).unwrap();
    let o = sqlsynth(&["ddl", "--pack", dir.join("bad.json").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("bad.json") && e.contains("line"), "{e}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn unwritable_output_is_a_clear_error() {
    let dir = temp_dir("unwritable");
    let file = dir.join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let o = sqlsynth(&[
        "generate",
        "--quiet",
        "--rows",
        "5",
        "--out",
        file.join("out").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("a-file/out"), "{}", stderr(&o));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_full_disk_leaves_no_half_written_output() {
    let dir = temp_dir("full");
    // The file-size limit makes writes fail with EFBIG once 256 KiB are written, as a full
    // disk would; SIGXFSZ is ignored so the write error reaches the program.
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f 256; exec '{}' generate --quiet --rows 5000 --out '{}'",
            env!("CARGO_BIN_EXE_sqlsynth"),
            dir.display()
        ))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("stage2.jsonl"), "{}", stderr(&o));
    assert!(!dir.join("stage2.jsonl").exists());
    assert!(!dir.join("stage2_stats.json").exists());
    no_leftovers(&dir);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn ctrl_c_leaves_no_partial_output() {
    let dir = temp_dir("sigint");
    let child = Command::new(env!("CARGO_BIN_EXE_sqlsynth"))
        .args(["generate", "--quiet", "--rows", "2000000", "--out"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the run is writing (its temporary records file exists).
    let start = Instant::now();
    loop {
        let writing = std::fs::read_dir(&dir)
            .unwrap()
            .any(|e| e.unwrap().file_name().to_string_lossy().ends_with(".tmp"));
        if writing || start.elapsed() > Duration::from_secs(60) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(stderr(&out).contains("interrupted"), "{}", stderr(&out));
    assert!(!dir.join("stage2.jsonl").exists());
    no_leftovers(&dir);
    let _ = std::io::stderr().flush();
    std::fs::remove_dir_all(dir).unwrap();
}
