//! Making the rows: each [`RowSource`] kind, then each column's value.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

mod columns;
mod shapes;

use shapes::{
    boundary, extent_area, inverted_hole, loop_path, spanning_edges, street_path, tile_quads,
};

use super::geometry::{self, close, rect, snap, Frame, Geom, Pt};
use super::raster::{self, Grid, Terrain};
use super::values::{self, ColKind, Val};
use super::{SampleDbError, TableRows};
use crate::pack::{Area, JoinKind, RowSource, SchemaPack, Surface, TableFill, ValueDomain};

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
        let mut out = TableRows {
            table: name.clone(),
            columns,
            kinds,
            rows: Vec::new(),
        };
        let col = |out: &TableRows, c: &str| -> Result<usize, SampleDbError> {
            out.columns
                .iter()
                .position(|x| x == c)
                .ok_or_else(|| err(&name, format!("has no column {c}")))
        };
        let mut extra = Extra::default();
        let tix = self.tables.len();
        match &spec.rows {
            RowSource::PerArea {
                for_each,
                boundary,
                center,
            } => {
                let combos = self.combos(&name, for_each)?;
                for area in self.areas_for(&name) {
                    for (k, combo) in combos.iter().enumerate() {
                        let mut row = self.new_row(&out, area, Some((tix, area as u64)), 1);
                        row.n = k as u64 + 1;
                        self.set_combo(&mut row, &out, combo, &name)?;
                        let ring = self.boundaries[area].clone();
                        if let Some(b) = boundary {
                            let i = col(&out, b)?;
                            set(
                                &mut row,
                                i,
                                Val::Geom(Geom::Polygons {
                                    parts: vec![ring.clone()],
                                    multi: multi[i],
                                }),
                            );
                        }
                        if let Some(c) = center {
                            let i = col(&out, c)?;
                            set(
                                &mut row,
                                i,
                                Val::Geom(Geom::Point(snap(geometry::vertex_mean(&ring)))),
                            );
                        }
                        out.rows.push(row);
                    }
                }
            }
            RowSource::Tiling {
                geometry: g,
                cell_m,
                multipart_share,
                invalid_share,
            } => {
                let gi = col(&out, g)?;
                let areas = self.areas_for(&name);
                let mut rng = stream(self.seed, &format!("{name}/tiling"), 0);
                for &area in &areas {
                    let (nx, ny) = self.cell_counts(area, *cell_m);
                    let quads = tile_quads(&self.areas[area].extent, nx, ny, &mut rng);
                    // Multi-part cells absorb the cell two columns to their right.
                    let mut owner: Vec<Option<usize>> = vec![None; quads.len()];
                    let mut partner: Vec<Option<usize>> = vec![None; quads.len()];
                    for i in 0..quads.len() {
                        let (cx, cy) = (i % nx, i / nx);
                        if owner[i].is_some() || partner[i].is_some() || cx + 2 >= nx {
                            continue;
                        }
                        let j = cy * nx + cx + 2;
                        if owner[j].is_none()
                            && partner[j].is_none()
                            && rng.random::<f64>() < *multipart_share
                        {
                            partner[i] = Some(j);
                            owner[j] = Some(i);
                        }
                    }
                    let mut row_of = vec![0usize; quads.len()];
                    // At least one invalid cell per area when the share is positive.
                    let invalid_here = (invalid_share * quads.len() as f64).ceil() as usize;
                    let invalid_at: Vec<usize> = {
                        let mut idx: Vec<usize> = (0..quads.len())
                            .filter(|&i| owner[i].is_none() && partner[i].is_none())
                            .collect();
                        idx.shuffle(&mut rng);
                        idx.truncate(invalid_here);
                        idx
                    };
                    let mut emitted = 0usize;
                    for i in 0..quads.len() {
                        if owner[i].is_some() {
                            continue;
                        }
                        let mut parts = vec![quads[i].clone()];
                        if let Some(j) = partner[i] {
                            parts.push(quads[j].clone());
                        }
                        let mut row =
                            self.new_row(&out, area, Some((tix, i as u64)), emitted as u64 + 1);
                        row.n = emitted as u64 + 1;
                        if invalid_at.contains(&i) {
                            parts[0] = inverted_hole(&parts[0]);
                            *self
                                .planted
                                .defects
                                .entry(format!("{name}: invalid geometry"))
                                .or_default() += 1;
                        }
                        set(
                            &mut row,
                            gi,
                            Val::Geom(Geom::Polygons {
                                parts,
                                multi: multi[gi],
                            }),
                        );
                        row_of[i] = out.rows.len();
                        out.rows.push(row);
                        emitted += 1;
                    }
                    for i in 0..quads.len() {
                        let row = match owner[i] {
                            Some(o) => row_of[o],
                            None => row_of[i],
                        };
                        extra.cells.push(Cell {
                            area,
                            quad: quads[i].clone(),
                            row,
                        });
                    }
                }
            }
            RowSource::Footprints {
                geometry: g,
                count,
                within,
                link,
                levels,
                height_m,
                side_m,
                empty_share,
                terraced_share,
                multipolygon_share,
                straddle_share,
                duplicate_share,
                invalid_share,
            } => {
                let gi = col(&out, g)?;
                let wi = self.table_index(within, &name)?;
                let cells = self.extra[wi].cells.clone();
                let areas = self.areas_for(&name);
                let weight: f64 = areas
                    .iter()
                    .map(|&a| extent_area(&self.areas[a].extent))
                    .sum();
                let mut fps: Vec<Footprint> = Vec::new();
                for &area in &areas {
                    let n = ((*count as f64) * self.scale * extent_area(&self.areas[area].extent)
                        / weight)
                        .round() as usize;
                    let mut rng = stream(self.seed, &format!("{name}/footprints"), area as u64);
                    let mine: Vec<&Cell> = cells
                        .iter()
                        .filter(|c| c.area == area)
                        .filter(|_| rng.random::<f64>() >= *empty_share)
                        .collect();
                    fps.extend(self.place_footprints(
                        area,
                        &mine,
                        n,
                        *height_m,
                        *side_m,
                        *terraced_share,
                        *multipolygon_share,
                        *straddle_share,
                        &mut rng,
                    ));
                }
                // Defects: duplicates under another id, invalid (self-intersecting) copies.
                let mut rng = stream(self.seed, &format!("{name}/defects"), 0);
                let base = fps.len();
                let n_dup = (duplicate_share * base as f64).round() as usize;
                let n_bad = (invalid_share * base as f64).round() as usize;
                let mut order: Vec<usize> = (0..base).collect();
                order.shuffle(&mut rng);
                for &i in order.iter().take(n_dup) {
                    let mut f = fps[i].clone();
                    f.burnt = false;
                    fps.push(f);
                }
                for &i in order.iter().skip(n_dup).take(n_bad) {
                    fps[i].parts[0] = inverted_hole(&fps[i].parts[0]);
                }
                if n_dup > 0 {
                    *self
                        .planted
                        .defects
                        .entry(format!("{name}: duplicated footprint"))
                        .or_default() += n_dup as u64;
                }
                if n_bad > 0 {
                    *self
                        .planted
                        .defects
                        .entry(format!("{name}: invalid geometry"))
                        .or_default() += n_bad as u64;
                }
                let link_cols = match link {
                    Some(l) => Some((
                        col(&out, &l.column)?,
                        self.tables[wi].col(&l.from).ok_or_else(|| {
                            err(&name, format!("{within} has no column {}", l.from))
                        })?,
                    )),
                    None => None,
                };
                let levels_spec: Vec<(Val, f64)> = match levels {
                    Some(l) => {
                        let li = col(&out, &l.column)?;
                        l.shares
                            .iter()
                            .map(|(v, s)| {
                                Ok((
                                    values::from_json(v, out.kinds[li])
                                        .map_err(|e| err(&name, e))?,
                                    *s,
                                ))
                            })
                            .collect::<Result<_, SampleDbError>>()?
                    }
                    None => vec![(Val::Null, 1.0)],
                };
                let level_col = match levels {
                    Some(l) => Some(col(&out, &l.column)?),
                    None => None,
                };
                let mut per_area_n: HashMap<usize, u64> = HashMap::new();
                let mut per_area_rows: HashMap<usize, u64> = HashMap::new();
                for (e, f) in fps.iter().enumerate() {
                    let en = per_area_n.entry(f.area).or_default();
                    *en += 1;
                    let entity_n = *en;
                    let mut rng = stream(self.seed, &format!("{name}/levels"), e as u64);
                    for (li, (level, share)) in levels_spec.iter().enumerate() {
                        // Level 0 always exists; the others with their share.
                        if li > 0 && rng.random::<f64>() >= *share {
                            continue;
                        }
                        let rn = per_area_rows.entry(f.area).or_default();
                        *rn += 1;
                        let mut row = self.new_row(&out, f.area, Some((tix, e as u64)), entity_n);
                        row.n = *rn;
                        if let Some(i) = level_col {
                            set(&mut row, i, level.clone());
                        }
                        let parts = if li >= 2 {
                            f.parts.iter().map(|r| geometry::densify(r)).collect()
                        } else {
                            f.parts.clone()
                        };
                        set(
                            &mut row,
                            gi,
                            Val::Geom(Geom::Polygons {
                                parts,
                                multi: multi[gi],
                            }),
                        );
                        if let Some((lc, from)) = link_cols {
                            set(
                                &mut row,
                                lc,
                                self.tables[wi].rows[f.cell_row].vals[from].clone(),
                            );
                        }
                        out.rows.push(row);
                    }
                }
                extra.footprints = fps;
            }
            RowSource::PerRow {
                of,
                filter,
                for_each,
                share,
            } => {
                let pi = self.table_index(of, &name)?;
                let combos = self.combos(&name, for_each)?;
                let copies = self.key_copies(of, &name, &out)?;
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
                        let mut row = self.new_row(&out, prow.area, prow.entity, prow.entity_n);
                        row.n = *rn;
                        for &(from, to) in &copies {
                            set(&mut row, to, prow.vals[from].clone());
                        }
                        self.set_combo(&mut row, &out, combo, &name)?;
                        out.rows.push(row);
                    }
                }
            }
            RowSource::NetworkNodes {
                geometry: g,
                count_per_area,
                feeder_km,
            } => {
                let gi = col(&out, g)?;
                for area in self.areas_for(&name) {
                    let n = ((*count_per_area as f64) * self.scale.sqrt())
                        .round()
                        .max(2.0) as u64;
                    let mut rng = stream(self.seed, &format!("{name}/nodes"), area as u64);
                    let ring = &self.boundaries[area];
                    let e = self.areas[area].extent;
                    for k in 0..n {
                        let mut p = geometry::vertex_mean(ring);
                        if let (0, Some([lo, hi])) = (k, feeder_km) {
                            let d = rng.random_range(*lo..=*hi) * 1000.0;
                            let a = rng.random_range(0.0..std::f64::consts::TAU);
                            p = self.frame(area).offset(p, d * a.cos(), d * a.sin());
                        } else if k > 0 {
                            for _ in 0..100 {
                                let q =
                                    (rng.random_range(e[0]..e[2]), rng.random_range(e[1]..e[3]));
                                if geometry::inside(ring, q) {
                                    p = q;
                                    break;
                                }
                            }
                        }
                        let p = snap(p);
                        let mut row = self.new_row(&out, area, Some((tix, k)), k + 1);
                        row.n = k + 1;
                        set(&mut row, gi, Val::Geom(Geom::Point(p)));
                        extra.nodes.push(Node {
                            area,
                            pt: p,
                            row: out.rows.len(),
                        });
                        out.rows.push(row);
                    }
                }
            }
            RowSource::NetworkEdges {
                nodes,
                geometry: g,
                extra_share,
                for_each,
                closed_share,
                gap_share,
            } => {
                let gi = col(&out, g)?;
                let ni = self.table_index(nodes, &name)?;
                let ends = self.key_copy_sets(nodes, &name, &out)?;
                if ends.len() < 2 {
                    return Err(err(
                        &name,
                        format!(
                            "needs two key joins from {nodes} (one per end), found {}",
                            ends.len()
                        ),
                    ));
                }
                let combos = self.combos(&name, for_each)?;
                let node_list = self.extra[ni].nodes.clone();
                let node_rows = self.tables[ni].rows.clone();
                let mut edge_id = 0u64;
                for area in self.areas_for(&name) {
                    let mine: Vec<&Node> = node_list.iter().filter(|n| n.area == area).collect();
                    if mine.len() < 2 {
                        continue;
                    }
                    let frame = self.frame(area);
                    let mut rng = stream(self.seed, &format!("{name}/edges"), area as u64);
                    let edges = spanning_edges(&mine, frame, *extra_share, &mut rng);
                    let mut closed_at: Vec<usize> = (0..edges.len()).collect();
                    closed_at.shuffle(&mut rng);
                    closed_at.truncate((closed_share * edges.len() as f64).ceil() as usize);
                    let mut gap_at: Vec<usize> = (0..edges.len())
                        .filter(|k| !closed_at.contains(k))
                        .collect();
                    gap_at.shuffle(&mut rng);
                    gap_at.truncate((gap_share * edges.len() as f64).ceil() as usize);
                    let mut per_area_rows = 0u64;
                    for (k, (a, b)) in edges.into_iter().enumerate() {
                        let (a, b) = if rng.random::<bool>() { (a, b) } else { (b, a) };
                        let closed = closed_at.contains(&k);
                        let gap = gap_at.contains(&k);
                        let path = if closed {
                            *self
                                .planted
                                .defects
                                .entry(format!("{name}: closed line"))
                                .or_default() += 1;
                            loop_path(mine[a].pt, frame, &mut rng)
                        } else {
                            let mut p = street_path(mine[a].pt, mine[b].pt, frame, &mut rng);
                            if gap {
                                *self
                                    .planted
                                    .defects
                                    .entry(format!("{name}: start off its node"))
                                    .or_default() += 1;
                                p[0] = snap(frame.offset(
                                    p[0],
                                    rng.random_range(4.0..12.0),
                                    rng.random_range(4.0..12.0),
                                ));
                            }
                            p
                        };
                        let b = if closed { a } else { b };
                        for combo in &combos {
                            per_area_rows += 1;
                            let mut row =
                                self.new_row(&out, area, Some((tix, edge_id)), k as u64 + 1);
                            row.n = per_area_rows;
                            for &(from, to) in &ends[0] {
                                set(&mut row, to, node_rows[mine[a].row].vals[from].clone());
                            }
                            for &(from, to) in &ends[1] {
                                set(&mut row, to, node_rows[mine[b].row].vals[from].clone());
                            }
                            set(&mut row, gi, Val::Geom(Geom::Line(path.clone())));
                            self.set_combo(&mut row, &out, combo, &name)?;
                            out.rows.push(row);
                        }
                        edge_id += 1;
                    }
                }
            }
            RowSource::RasterTiles {
                raster: rc,
                pixel_m,
                tile_px,
                surface,
                by,
            } => {
                let ri = col(&out, rc)?;
                let sets: Vec<(Option<(usize, Val)>, Surface)> = match by {
                    Some(b) => {
                        let bi = col(&out, &b.column)?;
                        b.values
                            .iter()
                            .map(|(v, s)| {
                                Ok((
                                    Some((
                                        bi,
                                        values::from_json(v, out.kinds[bi])
                                            .map_err(|e| err(&name, e))?,
                                    )),
                                    *s,
                                ))
                            })
                            .collect::<Result<_, SampleDbError>>()?
                    }
                    None => vec![(None, *surface)],
                };
                let tile = (*tile_px).max(1) as usize;
                let mut layer = RasterLayer {
                    grids: HashMap::new(),
                    surface: *surface,
                };
                for area in self.areas_for(&name) {
                    let frame = self.frame(area);
                    let grid = Grid::covering(
                        self.areas[area].extent,
                        pixel_m * frame.ux,
                        pixel_m * frame.uy,
                    );
                    let heights = raster::height_grid(
                        &grid,
                        self.extra
                            .iter()
                            .flat_map(|x| x.footprints.iter())
                            .filter(|f| f.area == area && f.burnt)
                            .map(|f| (&f.parts[..], f.height)),
                    );
                    let terrain = &self.terrains[area];
                    let mut k = 0u64;
                    for (byv, surf) in &sets {
                        for r0 in (0..grid.height).step_by(tile) {
                            for c0 in (0..grid.width).step_by(tile) {
                                let w = tile.min(grid.width - c0);
                                let h = tile.min(grid.height - r0);
                                let hex =
                                    raster::tile_hex(&grid, self.srid, c0, r0, w, h, |c, r| {
                                        raster::surface_value(*surf, &grid, terrain, &heights, c, r)
                                    });
                                k += 1;
                                let mut row = self.new_row(&out, area, Some((tix, k)), k);
                                row.n = k;
                                set(&mut row, ri, Val::Raster(hex));
                                if let Some((bi, v)) = byv {
                                    set(&mut row, *bi, v.clone());
                                }
                                out.rows.push(row);
                            }
                        }
                    }
                    layer.grids.insert(area, (grid, heights));
                }
                if by.is_none() {
                    extra.raster = Some(layer);
                }
            }
        }
        self.tables.push(out);
        self.extra.push(extra);
        self.draw_columns(tix, &spec.columns)?;
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

    fn cell_counts(&self, area: usize, cell_m: f64) -> (usize, usize) {
        let (w, h) = self.frame(area).size_m(&self.areas[area].extent);
        (
            ((w / cell_m).round() as usize).max(1),
            ((h / cell_m).round() as usize).max(1),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn place_footprints(
        &self,
        area: usize,
        cells: &[&Cell],
        n: usize,
        height_m: [f64; 2],
        side_m: [f64; 2],
        terraced_share: f64,
        multipolygon_share: f64,
        straddle_share: f64,
        rng: &mut ChaCha8Rng,
    ) -> Vec<Footprint> {
        let frame = self.frame(area);
        let margin = 3.0;
        // Inner rectangles of the cells, in metres from the extent's corner.
        let e = self.areas[area].extent;
        let to_m = |p: Pt| ((p.0 - e[0]) / frame.ux, (p.1 - e[1]) / frame.uy);
        let to_u = |x: f64, y: f64| snap((e[0] + x * frame.ux, e[1] + y * frame.uy));
        let inner: Vec<[f64; 4]> = cells
            .iter()
            .map(|c| {
                let q: Vec<Pt> = c.quad.iter().map(|p| to_m(*p)).collect();
                [
                    q[0].0.max(q[3].0) + margin,
                    q[0].1.max(q[1].1) + margin,
                    q[1].0.min(q[2].0) - margin,
                    q[2].1.min(q[3].1) - margin,
                ]
            })
            .collect();
        let usable: f64 = inner
            .iter()
            .map(|r| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0))
            .sum();
        // Lots a little smaller than an even share, as whole lots fit in each cell.
        let lot = (usable / (n.max(1) as f64 * 1.8)).sqrt().clamp(6.0, 80.0);
        let side_hi = side_m[1].min(lot * 0.85);
        let side_lo = side_m[0].min(side_hi * 0.6);
        let mut lots: Vec<(usize, f64, f64, bool)> = Vec::new();
        for (ci, r) in inner.iter().enumerate() {
            let nx = ((r[2] - r[0]) / lot).floor().max(0.0) as usize;
            let ny = ((r[3] - r[1]) / lot).floor().max(0.0) as usize;
            let terraced = rng.random::<f64>() < terraced_share;
            for i in 0..nx {
                for j in 0..ny {
                    lots.push((ci, r[0] + i as f64 * lot, r[1] + j as f64 * lot, terraced));
                }
            }
        }
        lots.shuffle(rng);
        lots.truncate(n);
        lots.sort_by(|a, b| {
            (a.0, a.1.to_bits(), a.2.to_bits()).cmp(&(b.0, b.1.to_bits(), b.2.to_bits()))
        });
        let mut out = Vec::with_capacity(lots.len());
        for (ci, x, y, terraced) in lots {
            let u: f64 = rng.random();
            let height = height_m[0] + (height_m[1] - height_m[0]) * u * u;
            let w = if terraced {
                lot
            } else {
                rng.random_range(side_lo..=side_hi)
            };
            let h = rng.random_range(side_lo..=side_hi);
            let x0 = if terraced {
                x
            } else {
                x + rng.random_range(0.0..=(lot - w).max(0.0))
            };
            let y0 = y + rng.random_range(0.0..=(lot - h).max(0.0));
            let (mut x0, y0) = (x0, y0);
            if !terraced && rng.random::<f64>() < straddle_share {
                // Pushed across the cell's left edge (a documented defect).
                x0 = inner[ci][0] - margin - w / 2.0;
            }
            let shape: f64 = rng.random();
            let parts = if !terraced && shape < multipolygon_share {
                let gap = 1.5;
                let w1 = (w - gap) / 2.0;
                vec![
                    rect(to_u(x0, y0), to_u(x0 + w1, y0 + h)),
                    rect(to_u(x0 + w1 + gap, y0), to_u(x0 + w, y0 + h)),
                ]
            } else if !terraced && shape < multipolygon_share + 0.25 {
                // An L shape: the rectangle without its top-right quarter.
                let (cx, cy) = (
                    x0 + w * rng.random_range(0.45..0.7),
                    y0 + h * rng.random_range(0.45..0.7),
                );
                vec![close(vec![
                    to_u(x0, y0),
                    to_u(x0 + w, y0),
                    to_u(x0 + w, cy),
                    to_u(cx, cy),
                    to_u(cx, y0 + h),
                    to_u(x0, y0 + h),
                ])]
            } else {
                vec![rect(to_u(x0, y0), to_u(x0 + w, y0 + h))]
            };
            out.push(Footprint {
                area,
                parts,
                height: values::round_to(height, 1),
                cell_row: cells[ci].row,
                burnt: true,
            });
        }
        out
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
