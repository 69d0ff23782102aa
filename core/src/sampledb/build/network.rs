//! Row sources of a network: nodes in each area, and edges joining them.

use rand::seq::SliceRandom;
use rand::Rng;

use super::super::geometry::{self, snap, Geom};
use super::super::values::Val;
use super::shapes::{loop_path, spanning_edges, street_path};
use super::{err, set, stream, Builder, Ctx, Node};
use crate::pack::{NetworkEdgesSource, NetworkNodesSource};
use crate::sampledb::SampleDbError;

impl Builder<'_> {
    /// Rows of a `network_nodes` source.
    pub(super) fn network_nodes(
        &mut self,
        t: &mut Ctx,
        s: &NetworkNodesSource,
    ) -> Result<(), SampleDbError> {
        let NetworkNodesSource {
            geometry: g,
            count_per_area,
            feeder_km,
        } = s;
        let (name, tix) = (t.name.clone(), t.tix);
        let gi = t.col(g)?;
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
                        let q = (rng.random_range(e[0]..e[2]), rng.random_range(e[1]..e[3]));
                        if geometry::inside(ring, q) {
                            p = q;
                            break;
                        }
                    }
                }
                let p = snap(p);
                let mut row = self.new_row(&t.out, area, Some((tix, k)), k + 1);
                row.n = k + 1;
                set(&mut row, gi, Val::Geom(Geom::Point(p)));
                t.extra.nodes.push(Node {
                    area,
                    pt: p,
                    row: t.out.rows.len(),
                });
                t.out.rows.push(row);
            }
        }
        Ok(())
    }

    /// Rows of a `network_edges` source.
    pub(super) fn network_edges(
        &mut self,
        t: &mut Ctx,
        s: &NetworkEdgesSource,
    ) -> Result<(), SampleDbError> {
        let NetworkEdgesSource {
            nodes,
            geometry: g,
            extra_share,
            for_each,
            closed_share,
            gap_share,
        } = s;
        let (name, tix) = (t.name.clone(), t.tix);
        let gi = t.col(g)?;
        let ni = self.table_index(nodes, &name)?;
        let ends = self.key_copy_sets(nodes, &name, &t.out)?;
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
                    let mut row = self.new_row(&t.out, area, Some((tix, edge_id)), k as u64 + 1);
                    row.n = per_area_rows;
                    for &(from, to) in &ends[0] {
                        set(&mut row, to, node_rows[mine[a].row].vals[from].clone());
                    }
                    for &(from, to) in &ends[1] {
                        set(&mut row, to, node_rows[mine[b].row].vals[from].clone());
                    }
                    set(&mut row, gi, Val::Geom(Geom::Line(path.clone())));
                    self.set_combo(&mut row, &t.out, combo, &name)?;
                    t.out.rows.push(row);
                }
                edge_id += 1;
            }
        }
        Ok(())
    }
}
