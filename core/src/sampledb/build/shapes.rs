//! Shapes of sample data: area boundaries, tilings, defects drawn into rings, network
//! layouts and street-like routes. Pure functions of their inputs and a random stream.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::super::geometry::{close, snap, Frame, Pt};
use super::Node;

/// Area of an extent, in its units squared.
pub(super) fn extent_area(e: &[f64; 4]) -> f64 {
    (e[2] - e[0]) * (e[3] - e[1])
}

/// An irregular star-shaped boundary inside the extent (12 vertices).
pub(super) fn boundary(e: &[f64; 4], rng: &mut ChaCha8Rng) -> Vec<Pt> {
    let (cx, cy) = ((e[0] + e[2]) / 2.0, (e[1] + e[3]) / 2.0);
    let (rx, ry) = ((e[2] - e[0]) / 2.0, (e[3] - e[1]) / 2.0);
    let n = 12;
    let pts: Vec<Pt> = (0..n)
        .map(|k| {
            let a = std::f64::consts::TAU * k as f64 / n as f64;
            let f = rng.random_range(0.80..0.97);
            // A squircle-like radius so the boundary fills most of the box.
            let (c, s) = (a.cos(), a.sin());
            let m = c.abs().max(s.abs());
            snap((cx + rx * f * c / m, cy + ry * f * s / m))
        })
        .collect();
    close(pts)
}

/// Quadrilateral cells tiling the extent: an nx × ny vertex grid, interior vertices moved
/// by up to a fifth of a cell, boundary vertices only along the boundary.
pub(super) fn tile_quads(e: &[f64; 4], nx: usize, ny: usize, rng: &mut ChaCha8Rng) -> Vec<Vec<Pt>> {
    let (dx, dy) = ((e[2] - e[0]) / nx as f64, (e[3] - e[1]) / ny as f64);
    let mut v = vec![(0.0, 0.0); (nx + 1) * (ny + 1)];
    for j in 0..=ny {
        for i in 0..=nx {
            let mut x = e[0] + i as f64 * dx;
            let mut y = e[1] + j as f64 * dy;
            if i > 0 && i < nx {
                x += rng.random_range(-0.2..0.2) * dx;
            }
            if j > 0 && j < ny {
                y += rng.random_range(-0.2..0.2) * dy;
            }
            v[j * (nx + 1) + i] = snap((x, y));
        }
    }
    let at = |i: usize, j: usize| v[j * (nx + 1) + i];
    let mut out = Vec::with_capacity(nx * ny);
    for j in 0..ny {
        for i in 0..nx {
            out.push(close(vec![
                at(i, j),
                at(i + 1, j),
                at(i + 1, j + 1),
                at(i, j + 1),
            ]));
        }
    }
    out
}

/// The ring with an "inverted hole": a small triangle cut out at its third vertex and
/// traversed as part of the shell, so the ring touches itself there (invalid: "Ring
/// Self-intersection"). A common digitising defect (a courtyard drawn into the outline)
/// that GEOS predicates and overlays still accept, so queries over it run.
pub(super) fn inverted_hole(ring: &[Pt]) -> Vec<Pt> {
    if ring.len() < 5 {
        return ring.to_vec();
    }
    let (p, v, n) = (ring[1], ring[2], ring[3]);
    let at = |a: f64, b: f64| {
        snap((
            v.0 + a * (p.0 - v.0) + b * (n.0 - v.0),
            v.1 + a * (p.1 - v.1) + b * (n.1 - v.1),
        ))
    };
    let mut r = Vec::with_capacity(ring.len() + 3);
    r.extend_from_slice(&ring[..3]);
    r.extend_from_slice(&[at(0.35, 0.1), at(0.1, 0.35), v]);
    r.extend_from_slice(&ring[3..]);
    r
}

/// A spanning tree over the nodes (Prim, by metric distance) plus extra edges to a
/// second-nearest node; edges as (index, index) into `nodes`.
pub(super) fn spanning_edges(
    nodes: &[&Node],
    frame: Frame,
    extra_share: f64,
    rng: &mut ChaCha8Rng,
) -> Vec<(usize, usize)> {
    let n = nodes.len();
    let d = |a: usize, b: usize| {
        let (p, q) = (nodes[a].pt, nodes[b].pt);
        (((p.0 - q.0) / frame.ux).powi(2) + ((p.1 - q.1) / frame.uy).powi(2)).sqrt()
    };
    let mut in_tree = vec![false; n];
    let mut best = vec![(f64::INFINITY, 0usize); n];
    let mut edges = Vec::with_capacity(n);
    in_tree[0] = true;
    for (j, b) in best.iter_mut().enumerate().skip(1) {
        *b = (d(0, j), 0);
    }
    for _ in 1..n {
        let (j, _) = (0..n)
            .filter(|&j| !in_tree[j])
            .map(|j| (j, best[j].0))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .expect("a node is left");
        in_tree[j] = true;
        edges.push((best[j].1, j));
        for k in 0..n {
            if !in_tree[k] && d(j, k) < best[k].0 {
                best[k] = (d(j, k), j);
            }
        }
    }
    let extra = (extra_share * n as f64).round() as usize;
    for e in 0..extra {
        let a = rng.random_range(0..n);
        let mut near: Vec<usize> = (0..n).filter(|&k| k != a).collect();
        near.sort_by(|&x, &y| d(a, x).total_cmp(&d(a, y)));
        let pick = if e % 2 == 0 {
            near.get(1).copied()
        } else {
            near.last().copied()
        };
        if let Some(b) = pick {
            if !edges.contains(&(a, b)) && !edges.contains(&(b, a)) {
                edges.push((a, b));
            }
        }
    }
    edges
}

/// A street-like path: along x, then along y, each leg cut into a few gently wavering
/// pieces; starts and ends exactly on the nodes.
pub(super) fn street_path(a: Pt, b: Pt, frame: Frame, rng: &mut ChaCha8Rng) -> Vec<Pt> {
    let corner = (b.0, a.1);
    let mut pts = vec![a];
    for (p, q) in [(a, corner), (corner, b)] {
        let len_m = (((q.0 - p.0) / frame.ux).powi(2) + ((q.1 - p.1) / frame.uy).powi(2)).sqrt();
        let pieces = ((len_m / 10.0).round() as usize).clamp(1, 40);
        for k in 1..pieces {
            let t = k as f64 / pieces as f64;
            let base = (p.0 + (q.0 - p.0) * t, p.1 + (q.1 - p.1) * t);
            let wob = rng.random_range(-1.5..1.5);
            // Perpendicular to the leg: legs are axis-aligned.
            let w = if (q.0 - p.0).abs() > (q.1 - p.1).abs() {
                frame.offset(base, 0.0, wob)
            } else {
                frame.offset(base, wob, 0.0)
            };
            pts.push(snap(w));
        }
        if q != b && len_m > 0.5 {
            pts.push(snap(q));
        }
    }
    pts.push(b);
    pts.dedup();
    if pts.len() < 2 {
        pts.push(snap(frame.offset(a, 1.0, 1.0)));
    }
    pts
}

/// A closed figure-of-eight loop starting and ending at `a` (a documented defect: a line
/// that is a ring and crosses itself).
pub(super) fn loop_path(a: Pt, frame: Frame, rng: &mut ChaCha8Rng) -> Vec<Pt> {
    let s = rng.random_range(20.0..60.0);
    vec![
        a,
        snap(frame.offset(a, s, 0.0)),
        snap(frame.offset(a, 0.0, s)),
        snap(frame.offset(a, s, s)),
        a,
    ]
}
