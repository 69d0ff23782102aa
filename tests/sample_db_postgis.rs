//! The small CIM Wizard sample database loaded into the throw-away PostGIS cluster, checked
//! for coherence, then used as the judge of execution: the seed corpus and a 5,000-record
//! generated run are executed on it. Run through `scripts/test`.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Instant;

use sqlsynth::execute::postgres::{run_script, PostgresExecutor};
use sqlsynth::execute::{ExecuteOptions, ExecutionSummary, Outcome, QueryExecutor};
use sqlsynth::pack::{JoinKind, ValueDomain};
use sqlsynth::pipeline::{NoProgress, Pipeline};
use sqlsynth::sampledb::SampleDb;
use sqlsynth::SchemaPack;
use sqlsynth_tests::{seed_cases, Postgis};

/// The database, loaded once for all tests of this file.
fn database() -> &'static Postgis {
    static DB: OnceLock<Postgis> = OnceLock::new();
    DB.get_or_init(|| {
        let pack = SchemaPack::default_pack();
        let sql = SampleDb::generate(&pack, "small", 42)
            .expect("the CIM Wizard pack has sample data")
            .to_sql()
            .expect("renders");
        let pg = Postgis::with_ddl("sqlsynth_sample", "");
        let t = Instant::now();
        run_script(&format!("dbname={}", pg.name()), &sql).expect("the sample database loads");
        eprintln!(
            "sample database: {:.1} MB of SQL loaded in {:.1} s",
            sql.len() as f64 / 1e6,
            t.elapsed().as_secs_f64()
        );
        pg
    })
}

fn number(pg: &Postgis, sql: &str) -> f64 {
    let out = pg.psql(sql);
    out.trim()
        .parse()
        .unwrap_or_else(|_| panic!("{sql}: not a number: {out:?}"))
}

fn executor(pg: &Postgis) -> PostgresExecutor {
    PostgresExecutor::connect(
        &format!("dbname={}", pg.name()),
        ExecuteOptions {
            timeout_ms: 5000,
            jobs: 2,
            ..ExecuteOptions::default()
        },
    )
    .expect("connects")
}

#[test]
#[ignore = "needs PostgreSQL + PostGIS: run scripts/test"]
fn every_key_join_has_matching_rows_and_every_enum_value_occurs() {
    let pg = database();
    let pack = SchemaPack::default_pack();
    let mut problems = Vec::new();
    for (i, j) in pack.data().joins.iter().enumerate() {
        if j.kind != JoinKind::Key {
            continue;
        }
        let on: Vec<String> = j
            .left_columns
            .iter()
            .zip(&j.right_columns)
            .map(|(a, b)| format!("l.{a} = r.{b}"))
            .collect();
        let n = number(
            pg,
            &format!(
                "SELECT count(*) FROM {} l JOIN {} r ON {}",
                j.left,
                j.right,
                on.join(" AND ")
            ),
        );
        if n == 0.0 {
            problems.push(format!(
                "join {i} ({} - {}) has no matching rows",
                j.left, j.right
            ));
        }
    }
    for d in &pack.data().value_domains {
        let ValueDomain::Enum { column, values } = d else {
            continue;
        };
        if column.starts_with('@') {
            continue;
        }
        let (table, col) = column.rsplit_once('.').expect("schema.table.column");
        let present = pg.psql(&format!("SELECT DISTINCT {col}::text FROM {table}"));
        let present: Vec<&str> = present.lines().collect();
        for v in values {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if !present.contains(&text.as_str()) {
                problems.push(format!("{column}: no row has {text:?}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
#[ignore = "needs PostgreSQL + PostGIS: run scripts/test"]
fn geometry_is_valid_but_for_a_documented_share_and_rasters_give_back_heights() {
    let pg = database();
    let pack = SchemaPack::default_pack();
    for (schema, table) in pack.tables() {
        for c in &table.columns {
            if !c.sql_type.to_string().starts_with("geometry") {
                continue;
            }
            let q = format!("{}.{}", schema.name, table.name);
            let total = number(pg, &format!("SELECT count({}) FROM {q}", c.name));
            let invalid = number(
                pg,
                &format!("SELECT count(*) FROM {q} WHERE NOT ST_IsValid({})", c.name),
            );
            assert!(total > 0.0, "{q}.{} is empty", c.name);
            assert!(
                invalid / total <= 0.02,
                "{q}.{}: {invalid} of {total} geometries invalid (documented defects stay ≤ 2 %)",
                c.name
            );
            let srid = number(
                pg,
                &format!("SELECT count(*) FROM {q} WHERE ST_SRID({}) <> 4326", c.name),
            );
            assert_eq!(srid, 0.0, "{q}.{}: geometries outside SRID 4326", c.name);
        }
    }
    // Every building footprint lies in a project area, and census sections tile them.
    let outside = number(
        pg,
        "SELECT count(*) FROM cim_vector.building b WHERE NOT EXISTS (SELECT 1 FROM cim_census.census_geo c \
         WHERE c.sez2011 = b.census_id AND ST_Intersects(c.geometry, b.building_geometry))",
    );
    assert_eq!(outside, 0.0, "buildings outside their census section");
    // DSM − DTM over a footprint gives the building's height (valid, non-duplicated
    // baseline footprints; pixel centres inside the footprint).
    let checked = pg.psql(
        "SELECT count(*), count(*) FILTER (WHERE abs(d.dsm - d.dtm - d.height) < 0.05) FROM ( \
           SELECT bp.height, \
             (SELECT (ST_SummaryStats(ST_Union(ST_Clip(s.rast, b.building_geometry)))).mean FROM cim_raster.dsm_raster s WHERE ST_Intersects(s.rast, b.building_geometry)) AS dsm, \
             (SELECT (ST_SummaryStats(ST_Union(ST_Clip(t.rast, b.building_geometry)))).mean FROM cim_raster.dtm_raster t WHERE ST_Intersects(t.rast, b.building_geometry)) AS dtm \
           FROM cim_vector.building b JOIN cim_vector.building_properties bp ON bp.building_fk = b.id AND bp.scenario_id = 'baseline' \
           WHERE b.lod = 0 AND ST_IsValid(b.building_geometry) ORDER BY b.id LIMIT 200) d WHERE d.dsm IS NOT NULL",
    );
    let (n, ok) = checked.trim().split_once('|').expect("two counts");
    let (n, ok): (f64, f64) = (n.parse().unwrap(), ok.parse().unwrap());
    assert!(n >= 150.0, "only {n} footprints checked");
    assert!(
        ok / n >= 0.98,
        "DSM − DTM matches the height for {ok} of {n} footprints"
    );
    let cache = number(
        pg,
        "SELECT count(*) FILTER (WHERE abs(building_height - (dsm_avg_height - dtm_avg_height)) > 0.01) FROM cim_raster.building_height_cache",
    );
    assert_eq!(cache, 0.0, "cached heights differ from DSM − DTM");
}

#[test]
#[ignore = "needs PostgreSQL + PostGIS: run scripts/test"]
fn the_seed_corpus_runs_and_returns_rows() {
    let pg = database();
    let cases = seed_cases();
    let sqls: Vec<&str> = cases.iter().map(|c| c.sql.as_str()).collect();
    let out = executor(pg).execute_batch(&sqls);
    let failed: Vec<String> = cases
        .iter()
        .zip(&out)
        .filter(|(_, o)| !o.is_ok())
        .map(|(c, o)| format!("{}: {o:?}", c.id))
        .collect();
    assert!(
        failed.is_empty(),
        "seed queries failed:\n{}",
        failed.join("\n")
    );
    let with_rows = out
        .iter()
        .filter(|o| o.rows().is_some_and(|r| r > 0))
        .count();
    let empty: Vec<&str> = cases
        .iter()
        .zip(&out)
        .filter(|(_, o)| o.rows() == Some(0))
        .map(|(c, _)| c.id.as_str())
        .collect();
    eprintln!(
        "seed corpus: {} of {} return rows; empty: {}",
        with_rows,
        cases.len(),
        empty.join(", ")
    );
    assert!(
        with_rows as f64 >= 0.95 * cases.len() as f64,
        "only {with_rows} of {} seeds return rows; empty: {}",
        cases.len(),
        empty.join(", ")
    );
}

#[test]
#[ignore = "needs PostgreSQL + PostGIS: run scripts/test"]
fn a_generated_run_executes_on_the_sample_database() {
    let pg = database();
    let pack = SchemaPack::default_pack();
    let pipeline = Pipeline::builder(&pack)
        .rows(5000)
        .seed(42)
        .build()
        .expect("settings");
    let mut records = Vec::new();
    pipeline
        .stream(&NoProgress, |r| {
            records.push(r);
            Ok(())
        })
        .expect("generates");
    let sqls: Vec<&str> = records.iter().map(|r| r.sql_postgis.as_str()).collect();
    let t = Instant::now();
    let out = executor(pg).execute_batch(&sqls);
    let mut summary = ExecutionSummary::default();
    let mut failures: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (r, o) in records.iter().zip(&out) {
        summary.add(Some(&r.sql_type), o);
        match o {
            Outcome::Ok { .. } => {}
            other => failures
                .entry(other.sqlstate().unwrap_or("?").to_string())
                .or_default()
                .push(&r.id),
        }
    }
    let ok = out.iter().filter(|o| o.is_ok()).count();
    let with_rows = out
        .iter()
        .filter(|o| o.rows().is_some_and(|r| r > 0))
        .count();
    eprintln!(
        "generated run: {ok} of {} execute without error, {with_rows} return rows, in {:.0} s; failures by SQLSTATE: {:?}",
        records.len(),
        t.elapsed().as_secs_f64(),
        failures.iter().map(|(k, v)| (k, v.len())).collect::<Vec<_>>()
    );
    let share = ok as f64 / records.len() as f64;
    assert!(
        share >= MIN_EXECUTED_SHARE,
        "{ok} of {} generated queries execute; failures: {failures:?}",
        records.len()
    );
}

/// Share of generated queries that must execute without error within 5 s on the small
/// sample database (measured: see README "Execute queries").
const MIN_EXECUTED_SHARE: f64 = 0.98;
