//! Row sources of rasters: tiles over each area.

use std::collections::HashMap;

use super::super::raster::{self, Grid};
use super::super::values::{self, Val};
use super::{err, set, Builder, Ctx, RasterLayer};
use crate::pack::{RasterTilesSource, Surface};
use crate::sampledb::SampleDbError;

impl Builder<'_> {
    /// Rows of a `raster_tiles` source.
    pub(super) fn raster_tiles(
        &mut self,
        t: &mut Ctx,
        s: &RasterTilesSource,
    ) -> Result<(), SampleDbError> {
        let RasterTilesSource {
            raster: rc,
            pixel_m,
            tile_px,
            surface,
            by,
        } = s;
        let (name, tix) = (t.name.clone(), t.tix);
        let ri = t.col(rc)?;
        let sets: Vec<(Option<(usize, Val)>, Surface)> = match by {
            Some(b) => {
                let bi = t.col(&b.column)?;
                b.values
                    .iter()
                    .map(|(v, s)| {
                        Ok((
                            Some((
                                bi,
                                values::from_json(v, t.out.kinds[bi]).map_err(|e| err(&name, e))?,
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
                        let hex = raster::tile_hex(&grid, self.srid, c0, r0, w, h, |c, r| {
                            raster::surface_value(*surf, &grid, terrain, &heights, c, r)
                        });
                        k += 1;
                        let mut row = self.new_row(&t.out, area, Some((tix, k)), k);
                        row.n = k;
                        set(&mut row, ri, Val::Raster(hex));
                        if let Some((bi, v)) = byv {
                            set(&mut row, *bi, v.clone());
                        }
                        t.out.rows.push(row);
                    }
                }
            }
            layer.grids.insert(area, (grid, heights));
        }
        if by.is_none() {
            t.extra.raster = Some(layer);
        }
        Ok(())
    }
}
