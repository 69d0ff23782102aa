//! Plane geometry for sample data: local metric frames over an area, rings, point in
//! polygon, and (E)WKT text.

use std::fmt::Write;

/// A point in the pack's coordinate system.
pub type Pt = (f64, f64);

/// Coordinates are snapped to this grid (in the pack's units) before anything is computed
/// from them, so that what Rust computes (pixel centres inside a footprint) is what
/// PostGIS computes from the printed text.
const SNAP: f64 = 1e-7;

/// Snap a coordinate to the printed precision.
pub fn snap(p: Pt) -> Pt {
    ((p.0 / SNAP).round() * SNAP, (p.1 / SNAP).round() * SNAP)
}

/// Converts metres to the pack's units around an area.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    /// Units per metre along x.
    pub ux: f64,
    /// Units per metre along y.
    pub uy: f64,
}

impl Frame {
    /// The frame at `lat` for geographic coordinates (SRID 4326), else metres.
    pub fn new(geographic: bool, lat: f64) -> Frame {
        if geographic {
            Frame {
                ux: 1.0 / (111_320.0 * lat.to_radians().cos()),
                uy: 1.0 / 110_574.0,
            }
        } else {
            Frame { ux: 1.0, uy: 1.0 }
        }
    }

    /// Width and height of an extent in metres.
    pub fn size_m(&self, e: &[f64; 4]) -> (f64, f64) {
        ((e[2] - e[0]) / self.ux, (e[3] - e[1]) / self.uy)
    }

    /// Offset a point by metres.
    pub fn offset(&self, p: Pt, dx_m: f64, dy_m: f64) -> Pt {
        (p.0 + dx_m * self.ux, p.1 + dy_m * self.uy)
    }
}

/// A closed ring (first point repeated at the end).
pub fn close(mut ring: Vec<Pt>) -> Vec<Pt> {
    if ring.first() != ring.last() {
        ring.push(ring[0]);
    }
    ring
}

/// An axis-aligned rectangle as a closed, counter-clockwise ring.
pub fn rect(min: Pt, max: Pt) -> Vec<Pt> {
    close(vec![
        snap(min),
        snap((max.0, min.1)),
        snap(max),
        snap((min.0, max.1)),
    ])
}

/// Whether `p` lies strictly inside the closed ring (even-odd rule).
pub fn inside(ring: &[Pt], p: Pt) -> bool {
    let mut c = false;
    for w in ring.windows(2) {
        let (a, b) = (w[0], w[1]);
        if (a.1 > p.1) != (b.1 > p.1) {
            let x = a.0 + (p.1 - a.1) * (b.0 - a.0) / (b.1 - a.1);
            if p.0 < x {
                c = !c;
            }
        }
    }
    c
}

/// Whether `p` lies inside any part of a polygon made of single-ring parts.
pub fn inside_parts(parts: &[Vec<Pt>], p: Pt) -> bool {
    parts.iter().any(|r| inside(r, p))
}

/// Bounding box of some rings.
pub fn bbox(parts: &[Vec<Pt>]) -> [f64; 4] {
    let mut b = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for p in parts.iter().flatten() {
        b[0] = b[0].min(p.0);
        b[1] = b[1].min(p.1);
        b[2] = b[2].max(p.0);
        b[3] = b[3].max(p.1);
    }
    b
}

/// Centroid of the vertices of a ring (without the closing point).
pub fn vertex_mean(ring: &[Pt]) -> Pt {
    let n = (ring.len() - 1).max(1) as f64;
    let (x, y) = ring[..ring.len() - 1]
        .iter()
        .fold((0.0, 0.0), |(x, y), p| (x + p.0, y + p.1));
    (x / n, y / n)
}

/// A ring with the midpoint of every edge inserted (same shape, more vertices).
pub fn densify(ring: &[Pt]) -> Vec<Pt> {
    let mut out = Vec::with_capacity(ring.len() * 2);
    for w in ring.windows(2) {
        out.push(w[0]);
        out.push(snap(((w[0].0 + w[1].0) / 2.0, (w[0].1 + w[1].1) / 2.0)));
    }
    out.push(ring[ring.len() - 1]);
    out
}

fn coords(out: &mut String, pts: &[Pt]) {
    for (i, p) in pts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{} {}", num(p.0), num(p.1));
    }
}

/// A coordinate as printed: at most 7 decimals, no trailing zeros.
pub fn num(x: f64) -> String {
    let s = format!("{x:.7}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// The geometry kinds sample data writes.
#[derive(Debug, Clone, PartialEq)]
pub enum Geom {
    /// A point.
    Point(Pt),
    /// A line string.
    Line(Vec<Pt>),
    /// Polygons, each one exterior ring; written as a POLYGON when `multi` is false and
    /// there is one part.
    Polygons {
        /// The parts.
        parts: Vec<Vec<Pt>>,
        /// Written as MULTIPOLYGON.
        multi: bool,
    },
}

impl Geom {
    /// EWKT with the SRID.
    pub fn ewkt(&self, srid: i32) -> String {
        let mut s = format!("SRID={srid};");
        match self {
            Geom::Point(p) => {
                let _ = write!(s, "POINT({} {})", num(p.0), num(p.1));
            }
            Geom::Line(pts) => {
                s.push_str("LINESTRING(");
                coords(&mut s, pts);
                s.push(')');
            }
            Geom::Polygons { parts, multi } => {
                if *multi || parts.len() > 1 {
                    s.push_str("MULTIPOLYGON(");
                    for (i, r) in parts.iter().enumerate() {
                        if i > 0 {
                            s.push(',');
                        }
                        s.push_str("((");
                        coords(&mut s, r);
                        s.push_str("))");
                    }
                    s.push(')');
                } else {
                    s.push_str("POLYGON((");
                    coords(&mut s, &parts[0]);
                    s.push_str("))");
                }
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_in_ring_and_wkt() {
        let r = rect((0.0, 0.0), (2.0, 1.0));
        assert!(inside(&r, (1.0, 0.5)));
        assert!(!inside(&r, (2.5, 0.5)));
        let g = Geom::Polygons {
            parts: vec![r.clone()],
            multi: true,
        };
        assert_eq!(
            g.ewkt(4326),
            "SRID=4326;MULTIPOLYGON(((0 0,2 0,2 1,0 1,0 0)))"
        );
        assert_eq!(densify(&r).len(), 9);
        assert_eq!(num(9.190_000_01), "9.19");
        assert_eq!(num(-0.00000001), "0");
    }
}
