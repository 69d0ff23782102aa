//! A coherent sample database for a pack: SQL that creates the pack's schema and fills it
//! with synthetic data that holds together (`sqlsynth sample-db`).
//!
//! The generic part works for any pack: row counts, keys copied along the pack's key joins,
//! values from the value domains or the column types, geometry and rasters from a few
//! generic row sources. What is specific to a database (its places, how its columns
//! depend on each other, its documented defects) is the pack's data: [`Area`](crate::pack::Area)s and
//! [`SampleData`](crate::pack::SampleData).
//!
//! The SQL is one transaction: the pack's DDL, the rows (multi-row `INSERT`s), GiST indexes
//! on every geometry and raster column and B-tree indexes on key join columns, the pack's
//! `post_load` statements (derived columns, defects), the serial sequences set past the
//! rows, then `ANALYZE`. The same pack, scale and seed give the same bytes.

mod build;
pub mod geometry;
pub mod raster;
mod values;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;

use crate::pack::{JoinKind, SchemaPack};
use values::ColKind;

/// Why a sample database could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SampleDbError {
    /// The pack describes no sample data.
    #[error(
        "pack {pack} has no sample_data section: it does not say how to fill a sample database"
    )]
    NoSampleData {
        /// The pack.
        pack: String,
    },
    /// The scale is not one the pack names.
    #[error("pack {pack} has no scale {scale:?} (it has: {known})")]
    UnknownScale {
        /// The pack.
        pack: String,
        /// The requested scale.
        scale: String,
        /// The scales it has.
        known: String,
    },
    /// The pack's sample data cannot be carried out.
    #[error("sample_data for {table}: {message}")]
    Spec {
        /// The table being filled.
        table: String,
        /// What is wrong.
        message: String,
    },
    /// Writing the SQL failed.
    #[error("writing the sample database SQL: {0}")]
    Io(#[from] std::io::Error),
}

/// The rows of one table.
#[derive(Debug, Clone)]
pub(crate) struct TableRows {
    /// `schema.table`.
    pub table: String,
    /// Column names, in table order.
    pub columns: Vec<String>,
    /// What literal each column takes.
    pub kinds: Vec<ColKind>,
    /// The rows.
    pub rows: Vec<build::Row>,
}

impl TableRows {
    fn col(&self, c: &str) -> Option<usize> {
        self.columns.iter().position(|x| x == c)
    }
}

/// What went into a sample database.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct SampleDbStats {
    /// Rows per table (`schema.table`), in fill order.
    pub rows: BTreeMap<String, u64>,
    /// Defects planted by the row sources (table: kind → count); the pack's `post_load`
    /// defects are listed in `post_load_defects`.
    pub defects: BTreeMap<String, u64>,
    /// Descriptions of the pack's `post_load` statements that plant defects.
    pub post_load_defects: Vec<String>,
    /// Enum values of the value domains that no row carries (`schema.table.column`: values).
    pub missing_enum_values: BTreeMap<String, Vec<String>>,
}

/// A generated sample database, ready to be written as SQL.
pub struct SampleDb<'a> {
    pack: &'a SchemaPack,
    scale: String,
    seed: u64,
    tables: Vec<TableRows>,
    /// What it holds.
    pub stats: SampleDbStats,
}

/// Rows per `INSERT` statement.
const INSERT_BATCH: usize = 200;

impl<'a> SampleDb<'a> {
    /// Make the sample data of `pack` at `scale` (a name the pack's `sample_data.scales`
    /// defines, e.g. `small`) with `seed`.
    pub fn generate(
        pack: &'a SchemaPack,
        scale: &str,
        seed: u64,
    ) -> Result<SampleDb<'a>, SampleDbError> {
        let data = pack.data();
        let spec = data
            .sample_data
            .as_ref()
            .ok_or_else(|| SampleDbError::NoSampleData {
                pack: pack.name().to_string(),
            })?;
        let factor = *spec
            .scales
            .get(scale)
            .ok_or_else(|| SampleDbError::UnknownScale {
                pack: pack.name().to_string(),
                scale: scale.to_string(),
                known: spec.scales.keys().cloned().collect::<Vec<_>>().join(", "),
            })?;
        let mut b = build::Builder::new(pack, seed, factor);
        for t in &spec.tables {
            b.fill(t)?;
        }
        let mut stats = SampleDbStats {
            defects: b.planted.defects.clone(),
            post_load_defects: spec
                .post_load
                .iter()
                .filter(|p| p.defect)
                .map(|p| p.description.clone())
                .collect(),
            ..SampleDbStats::default()
        };
        for t in &b.tables {
            stats.rows.insert(t.table.clone(), t.rows.len() as u64);
            let derived: Vec<&String> = spec
                .tables
                .iter()
                .filter(|f| f.table == t.table)
                .flat_map(|f| f.columns.iter())
                .filter(|c| matches!(c.draw, crate::pack::ValueSource::Derived))
                .flat_map(|c| c.names.iter())
                .collect();
            for (i, c) in t.columns.iter().enumerate() {
                if derived.contains(&c) {
                    // Computed by post_load SQL: checked on the loaded database.
                    continue;
                }
                let key = format!("{}.{c}", t.table);
                if let Some(crate::pack::ValueDomain::Enum { values: vs, .. }) =
                    data.value_domains.iter().find(|d| d.column() == key)
                {
                    let missing: Vec<String> = vs
                        .iter()
                        .filter(|v| {
                            let want = values::from_json(v, t.kinds[i]).ok();
                            !t.rows.iter().any(|r| Some(&r.vals[i]) == want.as_ref())
                        })
                        .map(|v| v.to_string())
                        .collect();
                    if !missing.is_empty() {
                        stats.missing_enum_values.insert(key, missing);
                    }
                }
            }
        }
        Ok(SampleDb {
            pack,
            scale: scale.to_string(),
            seed,
            tables: b.tables,
            stats,
        })
    }

    /// Write the SQL script (one transaction, then `ANALYZE`).
    pub fn write_sql(&self, out: &mut dyn Write) -> Result<(), SampleDbError> {
        let data = self.pack.data();
        let srid = data.default_srid.unwrap_or(0);
        writeln!(
            out,
            "-- sqlsynth sample-db: pack {} {}, scale {}, seed {}\n-- Synthetic data: coherent with the pack's keys, joins, value domains and areas.",
            data.name, data.version, self.scale, self.seed
        )?;
        if !self.stats.defects.is_empty() || !self.stats.post_load_defects.is_empty() {
            writeln!(
                out,
                "-- Documented defects (so that data-quality questions have answers):"
            )?;
            for (k, n) in &self.stats.defects {
                writeln!(out, "--   {k}: {n} row(s)")?;
            }
            for d in &self.stats.post_load_defects {
                writeln!(out, "--   {d}")?;
            }
        }
        writeln!(out, "BEGIN;\nSET LOCAL client_min_messages = warning;")?;
        out.write_all(self.pack.ddl().as_bytes())?;
        for t in &self.tables {
            let geo_srid: Vec<i32> = t
                .columns
                .iter()
                .map(|c| column_srid(self.pack, &t.table, c).unwrap_or(srid))
                .collect();
            // Columns that are NULL in every row are left out (their defaults apply).
            let used: Vec<usize> = (0..t.columns.len())
                .filter(|&i| t.rows.iter().any(|r| !r.vals[i].is_null()))
                .collect();
            if used.is_empty() || t.rows.is_empty() {
                continue;
            }
            let cols: Vec<&str> = used.iter().map(|&i| t.columns[i].as_str()).collect();
            for chunk in t.rows.chunks(INSERT_BATCH) {
                let mut s = format!("INSERT INTO {} ({}) VALUES\n", t.table, cols.join(", "));
                for (k, r) in chunk.iter().enumerate() {
                    s.push('(');
                    for (n, &i) in used.iter().enumerate() {
                        if n > 0 {
                            s.push_str(", ");
                        }
                        s.push_str(&values::literal(&r.vals[i], geo_srid[i]));
                    }
                    s.push_str(if k + 1 == chunk.len() { ");\n" } else { "),\n" });
                }
                out.write_all(s.as_bytes())?;
            }
        }
        out.write_all(self.indexes().as_bytes())?;
        if let Some(spec) = &data.sample_data {
            for p in &spec.post_load {
                let sql = p.sql.trim().trim_end_matches(';');
                writeln!(
                    out,
                    "-- {}{}\n{sql};",
                    if p.defect { "defect: " } else { "" },
                    p.description
                )?;
            }
        }
        for (schema, table) in self.pack.tables() {
            for c in &table.columns {
                if ColKind::of(&c.sql_type.to_string()) == ColKind::Serial {
                    writeln!(
                        out,
                        "SELECT setval(pg_get_serial_sequence('{0}.{1}', '{2}'), COALESCE(max({2}), 0) + 1, false) FROM {0}.{1};",
                        schema.name, table.name, c.name
                    )?;
                }
            }
        }
        writeln!(out, "COMMIT;\nANALYZE;")?;
        Ok(())
    }

    /// The SQL script as a string.
    pub fn to_sql(&self) -> Result<String, SampleDbError> {
        let mut v = Vec::new();
        self.write_sql(&mut v)?;
        Ok(String::from_utf8(v).expect("the script is UTF-8"))
    }

    /// GiST indexes on geometry and raster columns, B-tree indexes on key join columns.
    fn indexes(&self) -> String {
        let mut s = String::new();
        let mut done = std::collections::BTreeSet::new();
        for (schema, table) in self.pack.tables() {
            for c in &table.columns {
                let q = format!("{}.{}", schema.name, table.name);
                match ColKind::of(&c.sql_type.to_string()) {
                    ColKind::Geometry => {
                        let _ = writeln!(s, "CREATE INDEX ON {q} USING gist ({});", c.name);
                        // Distances in metres go through geography: index that too, as a
                        // database queried that way would be.
                        let srid =
                            column_srid(self.pack, &q, &c.name).or(self.pack.data().default_srid);
                        if srid == Some(4326) {
                            let _ = writeln!(
                                s,
                                "CREATE INDEX ON {q} USING gist (({}::geography));",
                                c.name
                            );
                        }
                    }
                    ColKind::Raster => {
                        let _ = writeln!(
                            s,
                            "CREATE INDEX ON {q} USING gist (ST_ConvexHull({}));",
                            c.name
                        );
                    }
                    _ => {}
                }
            }
        }
        for j in &self.pack.data().joins {
            if j.kind != JoinKind::Key {
                continue;
            }
            for (t, cols) in [(&j.left, &j.left_columns), (&j.right, &j.right_columns)] {
                let covered = self.pack.tables().any(|(s, tb)| {
                    format!("{}.{}", s.name, tb.name) == *t
                        && std::iter::once(&tb.primary_key)
                            .chain(tb.unique.iter())
                            .any(|k| k.len() >= cols.len() && k[..cols.len()] == cols[..])
                });
                if !covered && done.insert((t.clone(), cols.clone())) {
                    let _ = writeln!(s, "CREATE INDEX ON {t} ({});", cols.join(", "));
                }
            }
        }
        s
    }
}

/// The SRID declared in a geometry column's type, e.g. `geometry(Polygon,4326)`.
fn column_srid(pack: &SchemaPack, table: &str, column: &str) -> Option<i32> {
    let (s, t) = table.split_once('.')?;
    let (_, tb) = pack.tables().find(|(x, y)| x.name == s && y.name == t)?;
    let c = tb.columns.iter().find(|c| c.name == column)?;
    let ty = c.sql_type.to_string();
    let inner = ty.split_once('(')?.1.trim_end_matches(')');
    inner.split(',').nth(1)?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(s: &str) -> (usize, u64) {
        // FNV-1a over the bytes: enough to tell two scripts apart without printing them.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in s.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        (s.len(), h)
    }

    #[test]
    fn same_seed_same_bytes_another_seed_other_bytes() {
        let pack = SchemaPack::default_pack();
        let a = SampleDb::generate(&pack, "small", 7).unwrap();
        let b = SampleDb::generate(&pack, "small", 7).unwrap();
        let c = SampleDb::generate(&pack, "small", 8).unwrap();
        let (a, b, c) = (
            a.to_sql().unwrap(),
            b.to_sql().unwrap(),
            c.to_sql().unwrap(),
        );
        assert_eq!(digest(&a), digest(&b));
        assert_ne!(digest(&a), digest(&c));
        // Every table of the pack gets rows, and the script is one transaction.
        for (schema, table) in pack.tables() {
            assert!(
                a.contains(&format!("INSERT INTO {}.{} (", schema.name, table.name)),
                "{}.{} has no rows",
                schema.name,
                table.name
            );
        }
        assert!(a.starts_with("-- sqlsynth sample-db") && a.contains("\nBEGIN;\n"));
        assert!(a.trim_end().ends_with("COMMIT;\nANALYZE;"));
    }

    #[test]
    fn rows_defects_and_enum_values_are_reported() {
        let pack = SchemaPack::default_pack();
        let db = SampleDb::generate(&pack, "small", 42).unwrap();
        let s = &db.stats;
        let buildings = s.rows["cim_vector.building"];
        assert!(
            (1800..=2200).contains(&buildings),
            "{buildings} building rows"
        );
        assert!(
            s.missing_enum_values.is_empty(),
            "{:?}",
            s.missing_enum_values
        );
        // Planted defects stay within 2 % of their table.
        for (k, n) in &s.defects {
            let table = k.split(':').next().unwrap();
            assert!(
                (*n as f64) <= 0.02 * s.rows[table] as f64,
                "{k}: {n} of {} rows",
                s.rows[table]
            );
        }
    }

    #[test]
    fn bad_scale_and_missing_sample_data_are_clear_errors() {
        let pack = SchemaPack::default_pack();
        let e = SampleDb::generate(&pack, "huge", 1)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("no scale \"huge\"") && e.contains("small"),
            "{e}"
        );
        let mut data = pack.data().clone();
        data.sample_data = None;
        let bare = SchemaPack::from_data(data, "test").unwrap();
        let e = SampleDb::generate(&bare, "small", 1)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("no sample_data"), "{e}");
    }

    #[test]
    fn packs_referring_to_tables_filled_later_are_refused_at_load() {
        let pack = SchemaPack::default_pack();
        let mut data = pack.data().clone();
        let sample = data.sample_data.as_mut().unwrap();
        let building = sample
            .tables
            .iter()
            .position(|t| t.table == "cim_vector.building")
            .unwrap();
        let t = sample.tables.remove(building);
        sample.tables.insert(0, t);
        let e = SchemaPack::from_data(data, "test").unwrap_err().to_string();
        assert!(
            e.contains("sample_data.tables[0]") && e.contains("not filled before"),
            "{e}"
        );
    }
}
