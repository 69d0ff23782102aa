//! Row sources over places: one row per area, tilings of the areas, footprints in the
//! tiles.

use std::collections::HashMap;

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::super::geometry::{self, close, rect, snap, Geom, Pt};
use super::super::values::{self, Val};
use super::shapes::{extent_area, inverted_hole, tile_quads};
use super::{err, set, stream, Builder, Cell, Ctx, Footprint};
use crate::pack::{FootprintsSource, PerAreaSource, TilingSource};
use crate::sampledb::SampleDbError;

impl Builder<'_> {
    /// Rows of a `per_area` source.
    pub(super) fn per_area(&mut self, t: &mut Ctx, s: &PerAreaSource) -> Result<(), SampleDbError> {
        let PerAreaSource {
            for_each,
            boundary,
            center,
        } = s;
        let (name, tix, multi) = (t.name.clone(), t.tix, t.multi.clone());
        let combos = self.combos(&name, for_each)?;
        for area in self.areas_for(&name) {
            for (k, combo) in combos.iter().enumerate() {
                let mut row = self.new_row(&t.out, area, Some((tix, area as u64)), 1);
                row.n = k as u64 + 1;
                self.set_combo(&mut row, &t.out, combo, &name)?;
                let ring = self.boundaries[area].clone();
                if let Some(b) = boundary {
                    let i = t.col(b)?;
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
                    let i = t.col(c)?;
                    set(
                        &mut row,
                        i,
                        Val::Geom(Geom::Point(snap(geometry::vertex_mean(&ring)))),
                    );
                }
                t.out.rows.push(row);
            }
        }
        Ok(())
    }

    /// Rows of a `tiling` source.
    pub(super) fn tiling(&mut self, t: &mut Ctx, s: &TilingSource) -> Result<(), SampleDbError> {
        let TilingSource {
            geometry: g,
            cell_m,
            multipart_share,
            invalid_share,
        } = s;
        let (name, tix, multi) = (t.name.clone(), t.tix, t.multi.clone());
        let gi = t.col(g)?;
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
                let mut row = self.new_row(&t.out, area, Some((tix, i as u64)), emitted as u64 + 1);
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
                row_of[i] = t.out.rows.len();
                t.out.rows.push(row);
                emitted += 1;
            }
            for i in 0..quads.len() {
                let row = match owner[i] {
                    Some(o) => row_of[o],
                    None => row_of[i],
                };
                t.extra.cells.push(Cell {
                    area,
                    quad: quads[i].clone(),
                    row,
                });
            }
        }
        Ok(())
    }

    /// Rows of a `footprints` source.
    pub(super) fn footprints(
        &mut self,
        t: &mut Ctx,
        s: &FootprintsSource,
    ) -> Result<(), SampleDbError> {
        let FootprintsSource {
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
        } = s;
        let (name, tix, multi) = (t.name.clone(), t.tix, t.multi.clone());
        let gi = t.col(g)?;
        let wi = self.table_index(within, &name)?;
        let cells = self.extra[wi].cells.clone();
        let areas = self.areas_for(&name);
        let weight: f64 = areas
            .iter()
            .map(|&a| extent_area(&self.areas[a].extent))
            .sum();
        let mut fps: Vec<Footprint> = Vec::new();
        for &area in &areas {
            let n = ((*count as f64) * self.scale * extent_area(&self.areas[area].extent) / weight)
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
                t.col(&l.column)?,
                self.tables[wi]
                    .col(&l.from)
                    .ok_or_else(|| err(&name, format!("{within} has no column {}", l.from)))?,
            )),
            None => None,
        };
        let levels_spec: Vec<(Val, f64)> = match levels {
            Some(l) => {
                let li = t.col(&l.column)?;
                l.shares
                    .iter()
                    .map(|(v, s)| {
                        Ok((
                            values::from_json(v, t.out.kinds[li]).map_err(|e| err(&name, e))?,
                            *s,
                        ))
                    })
                    .collect::<Result<_, SampleDbError>>()?
            }
            None => vec![(Val::Null, 1.0)],
        };
        let level_col = match levels {
            Some(l) => Some(t.col(&l.column)?),
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
                let mut row = self.new_row(&t.out, f.area, Some((tix, e as u64)), entity_n);
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
                t.out.rows.push(row);
            }
        }
        t.extra.footprints = fps;
        Ok(())
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
