//! Rasters for sample data: a smooth terrain per area, footprint heights burnt into a pixel
//! grid, tiles as PostGIS raster WKB (hex), and zonal means over footprints.
//!
//! A pixel belongs to a footprint when its centre lies inside it: the rule `ST_Clip`
//! applies, so `(ST_SummaryStats(ST_Clip(dsm, footprint))).mean` minus the same over the
//! DTM gives back the footprint's height.

use std::fmt::Write;

use rand::Rng;

use super::geometry::{bbox, inside_parts, Pt};
use crate::pack::Surface;

/// A smooth ground surface over an area: two gentle waves between the area's elevations.
#[derive(Debug, Clone)]
pub struct Terrain {
    extent: [f64; 4],
    low: f64,
    high: f64,
    phase: [f64; 2],
    freq: [f64; 2],
}

impl Terrain {
    /// A terrain over `extent` spanning `[low, high]` metres.
    pub fn new(extent: [f64; 4], low: f64, high: f64, rng: &mut impl Rng) -> Terrain {
        Terrain {
            extent,
            low,
            high,
            phase: [rng.random::<f64>(), rng.random::<f64>()],
            freq: [rng.random_range(0.4..1.2), rng.random_range(0.4..1.2)],
        }
    }

    /// Elevation at a point.
    pub fn at(&self, p: Pt) -> f64 {
        let e = &self.extent;
        let u = (p.0 - e[0]) / (e[2] - e[0]);
        let v = (p.1 - e[1]) / (e[3] - e[1]);
        let tau = std::f64::consts::TAU;
        let w = 0.5
            + 0.25 * (tau * (self.freq[0] * u + self.phase[0])).sin()
            + 0.25 * (tau * (self.freq[1] * v + self.phase[1])).sin();
        self.low + (self.high - self.low) * w
    }
}

/// The pixel grid of one raster table over one area.
#[derive(Debug, Clone)]
pub struct Grid {
    /// Upper-left corner x.
    pub origin_x: f64,
    /// Upper-left corner y.
    pub origin_y: f64,
    /// Pixel width (positive).
    pub px: f64,
    /// Pixel height (positive; rows go down).
    pub py: f64,
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
}

impl Grid {
    /// A grid covering `extent` with pixels of `px × py` units.
    pub fn covering(extent: [f64; 4], px: f64, py: f64) -> Grid {
        Grid {
            origin_x: extent[0],
            origin_y: extent[3],
            px,
            py,
            width: ((extent[2] - extent[0]) / px).ceil().max(1.0) as usize,
            height: ((extent[3] - extent[1]) / py).ceil().max(1.0) as usize,
        }
    }

    /// Centre of pixel (column, row).
    pub fn centre(&self, c: usize, r: usize) -> Pt {
        (
            self.origin_x + (c as f64 + 0.5) * self.px,
            self.origin_y - (r as f64 + 0.5) * self.py,
        )
    }

    /// The pixels whose centres lie inside the parts, as (column, row).
    pub fn cells_inside(&self, parts: &[Vec<Pt>]) -> Vec<(usize, usize)> {
        let b = bbox(parts);
        let c0 = (((b[0] - self.origin_x) / self.px) - 0.5).floor().max(0.0) as usize;
        let c1 =
            ((((b[2] - self.origin_x) / self.px) + 0.5).ceil().max(0.0) as usize).min(self.width);
        let r0 = (((self.origin_y - b[3]) / self.py) - 0.5).floor().max(0.0) as usize;
        let r1 =
            ((((self.origin_y - b[1]) / self.py) + 0.5).ceil().max(0.0) as usize).min(self.height);
        let mut out = Vec::new();
        for r in r0..r1 {
            for c in c0..c1 {
                if inside_parts(parts, self.centre(c, r)) {
                    out.push((c, r));
                }
            }
        }
        out
    }
}

/// Heights burnt into a grid: each footprint's height on the pixels whose centres it holds.
pub fn height_grid<'a>(
    grid: &Grid,
    footprints: impl Iterator<Item = (&'a [Vec<Pt>], f64)>,
) -> Vec<f32> {
    let mut h = vec![0f32; grid.width * grid.height];
    for (parts, height) in footprints {
        for (c, r) in grid.cells_inside(parts) {
            h[r * grid.width + c] = height as f32;
        }
    }
    h
}

/// The value of a surface at pixel (c, r).
pub fn surface_value(
    surface: Surface,
    grid: &Grid,
    terrain: &Terrain,
    heights: &[f32],
    c: usize,
    r: usize,
) -> f32 {
    let h = heights[r * grid.width + c];
    match surface {
        Surface::Heights => h,
        Surface::Terrain => terrain.at(grid.centre(c, r)) as f32,
        Surface::Surface => terrain.at(grid.centre(c, r)) as f32 + h,
    }
}

/// Value PostGIS reads as "no data" in the tiles.
pub const NODATA: f32 = -9999.0;

/// One tile (columns `c0..c0+w`, rows `r0..r0+h` of the grid) as hex-encoded PostGIS
/// raster WKB: one 32-bit float band.
#[allow(clippy::too_many_arguments)]
pub fn tile_hex(
    grid: &Grid,
    srid: i32,
    c0: usize,
    r0: usize,
    w: usize,
    h: usize,
    value: impl Fn(usize, usize) -> f32,
) -> String {
    let mut b: Vec<u8> = Vec::with_capacity(61 + 5 + w * h * 4);
    b.push(1); // little endian
    b.extend_from_slice(&0u16.to_le_bytes()); // version
    b.extend_from_slice(&1u16.to_le_bytes()); // bands
    b.extend_from_slice(&grid.px.to_le_bytes());
    b.extend_from_slice(&(-grid.py).to_le_bytes());
    b.extend_from_slice(&(grid.origin_x + c0 as f64 * grid.px).to_le_bytes());
    b.extend_from_slice(&(grid.origin_y - r0 as f64 * grid.py).to_le_bytes());
    b.extend_from_slice(&0f64.to_le_bytes()); // skew x
    b.extend_from_slice(&0f64.to_le_bytes()); // skew y
    b.extend_from_slice(&srid.to_le_bytes());
    b.extend_from_slice(&(w as u16).to_le_bytes());
    b.extend_from_slice(&(h as u16).to_le_bytes());
    b.push(10 | 0x40); // 32BF, has a nodata value
    b.extend_from_slice(&NODATA.to_le_bytes());
    for r in r0..r0 + h {
        for c in c0..c0 + w {
            let v = if c < grid.width && r < grid.height {
                value(c, r)
            } else {
                NODATA
            };
            b.extend_from_slice(&v.to_le_bytes());
        }
    }
    let mut s = String::with_capacity(b.len() * 2);
    for byte in b {
        let _ = write!(s, "{byte:02X}");
    }
    s
}

/// Mean of a surface over the pixels whose centres lie in the parts (None if none does).
pub fn zonal_mean(
    grid: &Grid,
    parts: &[Vec<Pt>],
    value: impl Fn(usize, usize) -> f32,
) -> Option<f64> {
    let cells = grid.cells_inside(parts);
    if cells.is_empty() {
        return None;
    }
    let sum: f64 = cells.iter().map(|&(c, r)| f64::from(value(c, r))).sum();
    Some(sum / cells.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampledb::geometry::rect;

    #[test]
    fn heights_come_back_as_surface_minus_terrain() {
        let extent = [0.0, 0.0, 100.0, 100.0];
        let mut rng = crate::rng::stream(1, 1, 1);
        let terrain = Terrain::new(extent, 100.0, 120.0, &mut rng);
        let grid = Grid::covering(extent, 2.0, 2.0);
        let fp = vec![rect((10.0, 10.0), (30.0, 24.0))];
        let heights = height_grid(&grid, std::iter::once((&fp[..], 12.5)));
        let dsm = zonal_mean(&grid, &fp, |c, r| {
            surface_value(Surface::Surface, &grid, &terrain, &heights, c, r)
        })
        .unwrap();
        let dtm = zonal_mean(&grid, &fp, |c, r| {
            surface_value(Surface::Terrain, &grid, &terrain, &heights, c, r)
        })
        .unwrap();
        assert!((dsm - dtm - 12.5).abs() < 1e-3, "{dsm} - {dtm}");
        assert_eq!(grid.cells_inside(&fp).len(), 10 * 7);
        let hex = tile_hex(&grid, 4326, 0, 0, 4, 4, |_, _| 1.0);
        assert_eq!(hex.len(), (61 + 5 + 64) * 2);
    }
}
