//! Making the rows: each [`RowSource`] kind, then each column's value.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use rand::Rng;
use rand_chacha::ChaCha8Rng;

mod columns;
mod network;
mod places;
mod rasters;
mod shapes;

use shapes::boundary;

use super::geometry::{Frame, Pt};
use super::raster::{Grid, Terrain};
use super::values::{self, ColKind, Val};
use super::{SampleDbError, TableRows};
use crate::pack::{
    Area, JoinKind, PerRowSource, RowSource, SchemaPack, Surface, TableFill, ValueDomain,
};

/// Purpose tag of the sample database's random streams.
const SAMPLE_DB: u64 = 0x5341_4d50_4442;

/// A stream for one purpose (a name) and index.
fn stream(seed: u64, name: &str, index: u64) -> ChaCha8Rng {
    // FNV-1a: a stable hash of the name (std's hasher may change between releases).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    crate::rng::stream(seed ^ h, SAMPLE_DB, index)
}

/// One row being made.
#[derive(Debug, Clone)]
pub struct Row {
    /// Values, in table column order (Null until drawn).
    pub vals: Vec<Val>,
    /// Which values are already decided (by the row source or an area).
    pub set: Vec<bool>,
    /// The area (index into the pack's areas).
    pub area: usize,
    /// The entity (footprint, edge, cell …) the row stands for, with its table.
    pub entity: Option<(usize, u64)>,
    /// 1-based number of the entity within its area.
    pub entity_n: u64,
    /// 1-based number of the row within its area.
    pub n: u64,
}

/// A footprint (building-like polygon) and what sample data needs of it.
#[derive(Debug, Clone)]
pub struct Footprint {
    area: usize,
    parts: Vec<Vec<Pt>>,
    height: f64,
    /// Row of the containing cell in the tiling table.
    cell_row: usize,
    /// Whether it takes part in rasters (invalid copies do not).
    burnt: bool,
}

#[derive(Debug, Clone)]
struct Cell {
    area: usize,
    quad: Vec<Pt>,
    row: usize,
}

#[derive(Debug, Clone)]
struct Node {
    area: usize,
    pt: Pt,
    row: usize,
}

#[derive(Debug, Clone)]
struct RasterLayer {
    /// Per area: grid, surface values source.
    grids: HashMap<usize, (Grid, Vec<f32>)>,
    surface: Surface,
}

/// What the builder keeps per filled table for later tables.
#[derive(Debug, Default)]
struct Extra {
    cells: Vec<Cell>,
    footprints: Vec<Footprint>,
    nodes: Vec<Node>,
    raster: Option<RasterLayer>,
}

/// The table being filled, handed to each row source.
pub(super) struct Ctx {
    /// `schema.table`.
    name: String,
    /// Its rows so far.
    out: TableRows,
    /// Per column: whether its geometry type is a multi-geometry.
    multi: Vec<bool>,
    /// What later tables need of this one.
    extra: Extra,
    /// Its index among the filled tables.
    tix: usize,
}

impl Ctx {
    fn col(&self, c: &str) -> Result<usize, SampleDbError> {
        self.out
            .columns
            .iter()
            .position(|x| x == c)
            .ok_or_else(|| err(&self.name, format!("has no column {c}")))
    }
}

/// Counts the builder reports.
#[derive(Debug, Default, Clone)]
pub struct Planted {
    /// Defects planted by row sources, by table and kind.
    pub defects: BTreeMap<String, u64>,
}

/// Builds every table of a pack's sample data.
pub struct Builder<'a> {
    pack: &'a SchemaPack,
    seed: u64,
    scale: f64,
    srid: i32,
    geographic: bool,
    areas: &'a [Area],
    boundaries: Vec<Vec<Pt>>,
    terrains: Vec<Terrain>,
    /// Filled tables, in order.
    pub tables: Vec<TableRows>,
    extra: Vec<Extra>,
    sequences: RefCell<HashMap<String, i64>>,
    /// Defects planted.
    pub planted: Planted,
}

fn err(table: &str, msg: impl std::fmt::Display) -> SampleDbError {
    SampleDbError::Spec {
        table: table.to_string(),
        message: msg.to_string(),
    }
}

impl<'a> Builder<'a> {
    /// A builder for the pack at a scale factor.
    pub fn new(pack: &'a SchemaPack, seed: u64, scale: f64) -> Builder<'a> {
        let data = pack.data();
        let srid = data.default_srid.unwrap_or(0);
        let geographic = srid == 4326;
        let areas = &data.areas[..];
        let mut boundaries = Vec::new();
        let mut terrains = Vec::new();
        for (i, a) in areas.iter().enumerate() {
            let mut rng = stream(seed, "area", i as u64);
            boundaries.push(boundary(&a.extent, &mut rng));
            let [lo, hi] = a.elevation_m.unwrap_or([0.0, 0.0]);
            terrains.push(Terrain::new(a.extent, lo, hi, &mut rng));
        }
        Builder {
            pack,
            seed,
            scale,
            srid,
            geographic,
            areas,
            boundaries,
            terrains,
            tables: Vec::new(),
            extra: Vec::new(),
            sequences: RefCell::new(HashMap::new()),
            planted: Planted::default(),
        }
    }

    fn frame(&self, area: usize) -> Frame {
        let e = &self.areas[area].extent;
        Frame::new(self.geographic, (e[1] + e[3]) / 2.0)
    }

    fn table_index(&self, name: &str, for_table: &str) -> Result<usize, SampleDbError> {
        self.tables
            .iter()
            .position(|t| t.table == name)
            .ok_or_else(|| {
                err(
                    for_table,
                    format!("refers to {name}, which is not filled before it"),
                )
            })
    }

    fn areas_for(&self, table: &str) -> Vec<usize> {
        (0..self.areas.len())
            .filter(|&i| self.areas[i].fills(table))
            .collect()
    }

    fn enum_values(&self, table: &str, column: &str) -> Option<&'a [serde_json::Value]> {
        let key = format!("{table}.{column}");
        self.pack.data().value_domains.iter().find_map(|d| match d {
            ValueDomain::Enum { column, values } if *column == key => Some(&values[..]),
            _ => None,
        })
    }

    fn domain(&self, table: &str, column: &str) -> Option<&'a ValueDomain> {
        let key = format!("{table}.{column}");
        self.pack
            .data()
            .value_domains
            .iter()
            .find(|d| d.column() == key)
    }

    /// Fill one table.
    pub fn fill(&mut self, spec: &TableFill) -> Result<(), SampleDbError> {
        let name = spec.table.clone();
        let (schema, table) = name
            .split_once('.')
            .ok_or_else(|| err(&name, "is not schema.table"))?;
        let (_, t) = self
            .pack
            .tables()
            .find(|(s, t)| s.name == schema && t.name == table)
            .ok_or_else(|| err(&name, "is not a table of the pack"))?;
        let columns: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
        let kinds: Vec<ColKind> = t
            .columns
            .iter()
            .map(|c| ColKind::of(&c.sql_type.to_string()))
            .collect();
        let multi: Vec<bool> = t
            .columns
            .iter()
            .map(|c| {
                c.sql_type
                    .to_string()
                    .to_ascii_lowercase()
                    .contains("multi")
            })
            .collect();
        let mut t = Ctx {
            name: name.clone(),
            out: TableRows {
                table: name.clone(),
                columns,
                kinds,
                rows: Vec::new(),
            },
            multi,
            extra: Extra::default(),
            tix: self.tables.len(),
        };
        match &spec.rows {
            RowSource::PerArea(s) => self.per_area(&mut t, s)?,
            RowSource::Tiling(s) => self.tiling(&mut t, s)?,
            RowSource::Footprints(s) => self.footprints(&mut t, s)?,
            RowSource::PerRow(s) => self.per_row(&mut t, s)?,
            RowSource::NetworkNodes(s) => self.network_nodes(&mut t, s)?,
            RowSource::NetworkEdges(s) => self.network_edges(&mut t, s)?,
            RowSource::RasterTiles(s) => self.raster_tiles(&mut t, s)?,
        }
        let tix = t.tix;
        self.tables.push(t.out);
        self.extra.push(t.extra);
        self.draw_columns(tix, &spec.columns)?;
        Ok(())
    }

    /// Rows of a `per_row` source.
    pub(super) fn per_row(&mut self, t: &mut Ctx, s: &PerRowSource) -> Result<(), SampleDbError> {
        let PerRowSource {
            of,
            filter,
            for_each,
            share,
        } = s;
        let name = t.name.clone();
        let pi = self.table_index(of, &name)?;
        let combos = self.combos(&name, for_each)?;
        let copies = self.key_copies(of, &name, &t.out)?;
        let parent = &self.tables[pi];
        let filters: Vec<(usize, &Vec<serde_json::Value>)> = filter
            .iter()
            .map(|(c, vs)| {
                Ok((
                    parent
                        .col(c)
                        .ok_or_else(|| err(&name, format!("{of} has no column {c}")))?,
                    vs,
                ))
            })
            .collect::<Result<_, SampleDbError>>()?;
        let mut rng = stream(self.seed, &format!("{name}/per_row"), 0);
        let mut per_area_rows: HashMap<usize, u64> = HashMap::new();
        let parent_rows = parent.rows.clone();
        for prow in &parent_rows {
            if !filters
                .iter()
                .all(|(c, vs)| vs.iter().any(|v| same_value(&prow.vals[*c], v)))
            {
                continue;
            }
            if !self.areas[prow.area].fills(&name) || rng.random::<f64>() >= *share {
                continue;
            }
            for combo in &combos {
                let rn = per_area_rows.entry(prow.area).or_default();
                *rn += 1;
                let mut row = self.new_row(&t.out, prow.area, prow.entity, prow.entity_n);
                row.n = *rn;
                for &(from, to) in &copies {
                    set(&mut row, to, prow.vals[from].clone());
                }
                self.set_combo(&mut row, &t.out, combo, &name)?;
                t.out.rows.push(row);
            }
        }
        Ok(())
    }

    fn new_row(
        &self,
        out: &TableRows,
        area: usize,
        entity: Option<(usize, u64)>,
        entity_n: u64,
    ) -> Row {
        let mut row = Row {
            vals: vec![Val::Null; out.columns.len()],
            set: vec![false; out.columns.len()],
            area,
            entity,
            entity_n,
            n: 0,
        };
        for (i, c) in out.columns.iter().enumerate() {
            if let Some(v) = self.areas[area].value(&out.table, c) {
                if let Ok(v) = values::from_json(v, out.kinds[i]) {
                    row.vals[i] = v;
                    row.set[i] = true;
                }
            }
        }
        row
    }

    fn combos(
        &self,
        table: &str,
        for_each: &[String],
    ) -> Result<Vec<Vec<(String, serde_json::Value)>>, SampleDbError> {
        let mut combos: Vec<Vec<(String, serde_json::Value)>> = vec![Vec::new()];
        for c in for_each {
            let vals = self.enum_values(table, c).ok_or_else(|| {
                err(
                    table,
                    format!("for_each column {c} has no enum value domain"),
                )
            })?;
            combos = combos
                .into_iter()
                .flat_map(|base| {
                    vals.iter().map(move |v| {
                        let mut b = base.clone();
                        b.push((c.clone(), v.clone()));
                        b
                    })
                })
                .collect();
        }
        Ok(combos)
    }

    fn set_combo(
        &self,
        row: &mut Row,
        out: &TableRows,
        combo: &[(String, serde_json::Value)],
        table: &str,
    ) -> Result<(), SampleDbError> {
        for (c, v) in combo {
            let i = out
                .col(c)
                .ok_or_else(|| err(table, format!("has no column {c}")))?;
            set(
                row,
                i,
                values::from_json(v, out.kinds[i]).map_err(|e| err(table, e))?,
            );
        }
        Ok(())
    }

    /// Column pairs (parent index, child index) of every key join between two tables.
    fn key_copies(
        &self,
        parent: &str,
        child: &str,
        out: &TableRows,
    ) -> Result<Vec<(usize, usize)>, SampleDbError> {
        Ok(self
            .key_copy_sets(parent, child, out)?
            .into_iter()
            .flatten()
            .collect())
    }

    /// Per key join between two tables (in pack order), its column pairs.
    fn key_copy_sets(
        &self,
        parent: &str,
        child: &str,
        out: &TableRows,
    ) -> Result<Vec<Vec<(usize, usize)>>, SampleDbError> {
        let p = &self.tables[self.table_index(parent, child)?];
        let mut sets = Vec::new();
        for j in &self.pack.data().joins {
            if j.kind != JoinKind::Key {
                continue;
            }
            let (pc, cc) = if j.left == parent && j.right == child {
                (&j.left_columns, &j.right_columns)
            } else if j.right == parent && j.left == child {
                (&j.right_columns, &j.left_columns)
            } else {
                continue;
            };
            let mut pairs = Vec::new();
            for (a, b) in pc.iter().zip(cc) {
                let ai = p
                    .col(a)
                    .ok_or_else(|| err(child, format!("{parent} has no column {a}")))?;
                let bi = out
                    .col(b)
                    .ok_or_else(|| err(child, format!("has no column {b}")))?;
                pairs.push((ai, bi));
            }
            sets.push(pairs);
        }
        Ok(sets)
    }
}

/// Whether a row value equals a pack value (numbers compared as numbers).
fn same_value(v: &Val, j: &serde_json::Value) -> bool {
    match (v.number(), j.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => match j {
            serde_json::Value::String(s) => v.text().as_deref() == Some(s.as_str()),
            serde_json::Value::Bool(b) => *v == Val::Bool(*b),
            _ => false,
        },
    }
}

fn set(row: &mut Row, i: usize, v: Val) {
    row.vals[i] = v;
    row.set[i] = true;
}
