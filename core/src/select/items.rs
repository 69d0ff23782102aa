//! Spatial function calls: expressions built from the catalogue's functions with operands
//! whose types fit (geometry subtype, geography for metres, raster), placed in SELECT or
//! WHERE, until the row's spatial-function count and primary category are met.

use rand::seq::IndexedRandom;
use rand::Rng;

use crate::features::QueryType;
use crate::pack::FunctionCategory as F;
use crate::plan::{CompareOp, PlanExpr, SelectItem};
use crate::sql::types::GeomKind;

use super::catalog::Filterable;
use super::{AggMode, Attempt};

/// What an item evaluates to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Out {
    Bool,
    Num,
    /// Text or geometry: counted as distinct values when aggregated.
    Other,
    /// A raster (no equality operator: counted, not counted as distinct).
    Raster,
}

struct Gen {
    expr: PlanExpr,
    out: Out,
    name: String,
    /// The expression is an aggregate itself (ST_Union / ST_Collect of one column).
    agg_native: bool,
    /// A window function.
    window: bool,
}

#[derive(Clone)]
struct Geo {
    alias: String,
    column: String,
    kind: GeomKind,
    z: bool,
    multi: bool,
}

impl Geo {
    fn col(&self) -> PlanExpr {
        PlanExpr::column(&self.alias, &self.column)
    }
}

fn g(name: &str, out: Out, expr: PlanExpr) -> Gen {
    Gen {
        expr,
        out,
        name: name.to_string(),
        agg_native: false,
        window: false,
    }
}

impl Attempt<'_> {
    fn geoms(&self) -> Vec<Geo> {
        let mut v = Vec::new();
        for i in &self.insts {
            for c in &self.cat.tables[i.table].geoms {
                v.push(Geo {
                    alias: i.alias.clone(),
                    column: c.name.clone(),
                    kind: c.kind,
                    z: c.z,
                    multi: c.multi,
                });
            }
        }
        v
    }

    fn rasters(&self) -> Vec<(String, String)> {
        self.insts
            .iter()
            .filter_map(|i| {
                self.cat.tables[i.table]
                    .raster
                    .clone()
                    .map(|r| (i.alias.clone(), r))
            })
            .collect()
    }

    fn count_calls(&self, e: &PlanExpr, out: &mut Vec<F>) {
        match e {
            PlanExpr::Call { function, args } | PlanExpr::Window { function, args, .. } => {
                if let Some(c) = self.cat.functions.get(&function.to_lowercase()) {
                    out.push(*c);
                }
                args.iter().for_each(|a| self.count_calls(a, out));
            }
            PlanExpr::Cast { expr, .. } | PlanExpr::Field { expr, .. } => {
                self.count_calls(expr, out)
            }
            PlanExpr::Aggregate { arg: Some(a), .. } => self.count_calls(a, out),
            PlanExpr::Compare { left, right, .. } => {
                self.count_calls(left, out);
                self.count_calls(right, out);
            }
            _ => {}
        }
    }

    /// Every function the expression calls is in the pack's catalogue (a pack may leave
    /// out any PostGIS function the generator knows how to use).
    pub(crate) fn known_functions(&self, e: &PlanExpr) -> bool {
        match e {
            PlanExpr::Call { function, args } | PlanExpr::Window { function, args, .. } => {
                self.cat.functions.contains_key(&function.to_lowercase())
                    && args.iter().all(|a| self.known_functions(a))
            }
            PlanExpr::Cast { expr, .. } | PlanExpr::Field { expr, .. } => {
                self.known_functions(expr)
            }
            PlanExpr::Aggregate { arg: Some(a), .. } => self.known_functions(a),
            PlanExpr::Compare { left, right, .. } => {
                self.known_functions(left) && self.known_functions(right)
            }
            _ => true,
        }
    }

    /// A point constant: `ST_SetSRID(ST_MakePoint(x, y), srid)` (2 calls),
    /// `ST_Point(x, y, srid)` or `ST_GeomFromText('POINT(x y)', srid)` (1 call).
    fn point(&mut self, max_calls: usize, prefer_two: bool) -> Option<(PlanExpr, usize)> {
        let (lon, lat) = self.coordinates();
        let srid = PlanExpr::number(self.cat.srid.to_string());
        if max_calls >= 2 && (prefer_two || self.rng.random_bool(0.4)) && self.rng.random_bool(0.2)
        {
            let (PlanExpr::Literal { value: x }, PlanExpr::Literal { value: y }) = (&lon, &lat)
            else {
                return None;
            };
            let json = format!(
                "{{\"type\":\"Point\",\"coordinates\":[{},{}]}}",
                x.text(),
                y.text()
            );
            return Some((
                PlanExpr::call(
                    "ST_SetSRID",
                    vec![
                        PlanExpr::call("ST_GeomFromGeoJSON", vec![PlanExpr::text(json)]),
                        srid,
                    ],
                ),
                2,
            ));
        }
        if max_calls >= 2 && (prefer_two || self.rng.random_bool(0.4)) {
            return Some((
                PlanExpr::call(
                    "ST_SetSRID",
                    vec![PlanExpr::call("ST_MakePoint", vec![lon, lat]), srid],
                ),
                2,
            ));
        }
        if max_calls == 0 {
            return None;
        }
        if self.rng.random_bool(0.5) {
            Some((PlanExpr::call("ST_Point", vec![lon, lat, srid]), 1))
        } else {
            let (PlanExpr::Literal { value: x }, PlanExpr::Literal { value: y }) = (&lon, &lat)
            else {
                return None;
            };
            let wkt = format!("POINT({} {})", x.text(), y.text());
            Some((
                PlanExpr::call("ST_GeomFromText", vec![PlanExpr::text(wkt), srid]),
                1,
            ))
        }
    }

    fn envelope(&mut self) -> PlanExpr {
        // A box of a fifth to a half of the area's width, inside the area.
        let (x, y, d) = match self.coordinate_extent() {
            Some(e) => {
                let d = (e[2] - e[0]) * self.rng.random_range(0.2..0.5);
                let x = self.rng.random_range(e[0]..=(e[2] - d).max(e[0]));
                let y = self.rng.random_range(e[1]..=(e[3] - d).max(e[1]));
                (x, y, d)
            }
            None => {
                let lon = self.quantity("@longitude", false);
                let lat = self.quantity("@latitude", false);
                let (PlanExpr::Literal { value: x }, PlanExpr::Literal { value: y }) = (&lon, &lat)
                else {
                    return PlanExpr::call("ST_MakeEnvelope", vec![lon, lat]);
                };
                let x: f64 = x.text().parse().unwrap_or(9.0);
                let y: f64 = y.text().parse().unwrap_or(45.0);
                (
                    x,
                    y,
                    *[0.01, 0.02, 0.05].choose(self.rng).expect("non-empty"),
                )
            }
        };
        let n = |v: f64| PlanExpr::number(format!("{v:.4}"));
        PlanExpr::call(
            "ST_MakeEnvelope",
            vec![
                n(x),
                n(y),
                n(x + d),
                n(y + d),
                PlanExpr::number(self.cat.srid.to_string()),
            ],
        )
    }

    /// The geodesic distance between two geometries of different relations.
    fn pair_distance(&mut self) -> Option<Gen> {
        let (a, b) = self.pair(None)?;
        Some(g(
            "distance_m",
            Out::Num,
            PlanExpr::call(
                "ST_Distance",
                vec![a.col().cast("geography"), b.col().cast("geography")],
            ),
        ))
    }

    /// Whether the joins tie geometries `a` and `b` so that they meet: a path of key and
    /// nesting joins with a nesting one on it (a building's cached height of a project
    /// whose boundary holds it). A nesting join whose holder is `a` or `b` counts only when
    /// that geometry is an area (a project's centre holds nothing). A distance between them
    /// is 0, an intersection one of them.
    fn zero_apart(&self, a: &Geo, b: &Geo) -> bool {
        let holds = |alias: &String| {
            [a, b]
                .iter()
                .all(|g| g.alias != *alias || matches!(g.kind, GeomKind::Polygonal | GeomKind::Any))
        };
        let links: Vec<(&str, &str, bool)> = self
            .links
            .iter()
            .map(|(x, y, containers)| {
                let nests = !containers.is_empty() && containers.iter().all(holds);
                (x.as_str(), y.as_str(), nests)
            })
            .collect();
        crate::pack::tied_by_nesting(&links, &a.alias, &b.alias)
    }

    /// Two geometries from different relations.
    fn pair(&mut self, want: Option<GeomKind>) -> Option<(Geo, Geo)> {
        let gs = self.geoms();
        let mut pairs = Vec::new();
        for a in &gs {
            for b in &gs {
                // Two relations the joins make intersect or nest: their distance is 0,
                // their intersection one of them.
                let touching = self.touching.contains(&(a.alias.clone(), b.alias.clone()))
                    || self.zero_apart(a, b);
                if a.alias != b.alias
                    && !touching
                    && want.is_none_or(|k| a.kind == k && b.kind == k)
                {
                    pairs.push((a.clone(), b.clone()));
                }
            }
        }
        pairs.choose(self.rng).cloned()
    }

    fn one(&mut self, want: &[GeomKind]) -> Option<Geo> {
        let gs: Vec<Geo> = self
            .geoms()
            .into_iter()
            .filter(|g| {
                want.is_empty()
                    || want.contains(&g.kind)
                    || (g.kind == GeomKind::Any && want.contains(&GeomKind::Polygonal))
            })
            .collect();
        // Prefer the first relation (it is the one grouped by).
        let first: Vec<Geo> = gs
            .iter()
            .filter(|g| g.alias == self.insts[0].alias)
            .cloned()
            .collect();
        if !first.is_empty() && self.rng.random_bool(0.6) {
            return first.choose(self.rng).cloned();
        }
        gs.choose(self.rng).cloned()
    }

    /// A geometry of the query's subject (the first relation) when it has one: shapes,
    /// accessors, transforms and validity are reported for what the query is about, not
    /// for a joined relation repeated on every row.
    fn one_subject(&mut self, want: &[GeomKind]) -> Option<Geo> {
        // Listed rows are the ones a row-multiplying join brings: the first relation's
        // value would repeat on each of them (a project's area once per building).
        // Nor is a table of a few rows per place (a project) the subject of a listing that
        // joins others: its shape would repeat on every joined row.
        let few = |i: &super::Inst| self.cat.tables[i.table].few_rows;
        let first = match (&self.agg, &self.expanded) {
            (AggMode::None, Some(e)) => e.clone(),
            (AggMode::None, None) if few(&self.insts[0]) => self
                .insts
                .iter()
                .find(|i| !few(i))
                .unwrap_or(&self.insts[0])
                .alias
                .clone(),
            _ => self.insts[0].alias.clone(),
        };
        let own: Vec<Geo> = self
            .geoms()
            .into_iter()
            .filter(|g| g.alias == first)
            .filter(|g| {
                want.is_empty()
                    || want.contains(&g.kind)
                    || (g.kind == GeomKind::Any && want.contains(&GeomKind::Polygonal))
            })
            .collect();
        match own.choose(self.rng).cloned() {
            Some(g) => Some(g),
            None => self.one(want),
        }
    }

    fn gen(&mut self, cat: F, budget: usize) -> Option<Gen> {
        use GeomKind::{Lineal, Polygonal, Puntal};
        let agg_mode = matches!(self.agg, AggMode::ByKey | AggMode::ByCategory);
        match cat {
            F::Predicates => {
                let cross = self.cross_predicates && self.rng.random_bool(0.5);
                if cross {
                    if let Some((a, b)) = self.pair(None) {
                        let opts: Vec<&str> = [
                            "ST_Intersects",
                            "ST_DWithin",
                            "ST_Within",
                            "ST_Contains",
                            "ST_Touches",
                            "ST_Overlaps",
                            "ST_Covers",
                            "ST_CoveredBy",
                            "ST_Disjoint",
                            "ST_Crosses",
                            "ST_Equals",
                        ]
                        .into_iter()
                        .filter(|p| possible(p, &a, &b))
                        .collect();
                        let p = *opts.choose(self.rng)?;
                        let e = self.predicate_call(p, a.col(), b.col());
                        return Some(g("spatial_match", Out::Bool, e));
                    }
                }
                if budget < 2 {
                    return None;
                }
                let a = self.one(&[])?;
                if self.rng.random_bool(0.5) {
                    // Touches / Crosses / Overlaps against a search box ask about its
                    // edges: what lies in, across or outside the box is what is meant.
                    let p = *["ST_Intersects", "ST_Within", "ST_CoveredBy", "ST_Disjoint"]
                        .choose(self.rng)?;
                    let env = self.envelope();
                    Some(g(
                        "in_window",
                        Out::Bool,
                        PlanExpr::call(p, vec![a.col(), env]),
                    ))
                } else {
                    // Whether each row holds one point is false on all rows but one or
                    // two (a finding); whether it lies within some metres of it varies.
                    let (pt, _) = self.point(budget - 1, false)?;
                    let e = self.predicate_call("ST_DWithin", a.col(), pt);
                    Some(g("near_point", Out::Bool, e))
                }
            }
            F::Measurements => {
                let roll = self.rng.random_range(0..10);
                if roll < 4 {
                    let a = self.one(&[Polygonal, Lineal])?;
                    let f = match a.kind {
                        Lineal => "ST_Length",
                        _ => *["ST_Area", "ST_Perimeter"].choose(self.rng)?,
                    };
                    let name = match f {
                        "ST_Length" => "length_m",
                        "ST_Area" => "area_m2",
                        _ => "perimeter_m",
                    };
                    let arg = if budget >= 2 && self.rng.random_bool(0.3) {
                        let s = self.metric_srid();
                        PlanExpr::call("ST_Transform", vec![a.col(), s])
                    } else {
                        a.col().cast("geography")
                    };
                    return Some(g(name, Out::Num, PlanExpr::call(f, vec![arg])));
                }
                if roll < 7 {
                    if let Some(d) = self.pair_distance() {
                        return Some(d);
                    }
                }
                if roll < 8 && budget >= 3 {
                    let (a, b) = self.pair(None)?;
                    let f = *["ST_MaxDistance", "ST_HausdorffDistance"].choose(self.rng)?;
                    let s1 = self.metric_srid();
                    let s2 = s1.clone();
                    return Some(g(
                        if f == "ST_MaxDistance" {
                            "max_distance_m"
                        } else {
                            "hausdorff_distance_m"
                        },
                        Out::Num,
                        PlanExpr::call(
                            f,
                            vec![
                                PlanExpr::call("ST_Transform", vec![a.col(), s1]),
                                PlanExpr::call("ST_Transform", vec![b.col(), s2]),
                            ],
                        ),
                    ));
                }
                if budget < 2 {
                    let a = self.one(&[Polygonal, Lineal])?;
                    let f = if a.kind == Lineal {
                        "ST_Length"
                    } else {
                        "ST_Area"
                    };
                    return Some(g(
                        if f == "ST_Length" {
                            "length_m"
                        } else {
                            "area_m2"
                        },
                        Out::Num,
                        PlanExpr::call(f, vec![a.col().cast("geography")]),
                    ));
                }
                // Beside a second geometry the rows' own distance is what varies by row;
                // the distance to some point is a grab-bag output there.
                if let Some(d) = self.pair_distance() {
                    return Some(d);
                }
                let a = self.one(&[])?;
                let (pt, _) = self.point(budget - 1, false)?;
                if a.kind == Puntal && self.rng.random_bool(0.4) {
                    // A bearing on the spheroid, not an angle in degrees of longitude.
                    return Some(g(
                        "azimuth_rad",
                        Out::Num,
                        PlanExpr::call(
                            "ST_Azimuth",
                            vec![a.col().cast("geography"), pt.cast("geography")],
                        ),
                    ));
                }
                Some(g(
                    "distance_m",
                    Out::Num,
                    PlanExpr::call(
                        "ST_Distance",
                        vec![a.col().cast("geography"), pt.cast("geography")],
                    ),
                ))
            }
            F::Processing => {
                if agg_mode && self.rng.random_bool(0.3) {
                    // Grouped by the first relation's key, its own geometry is one shape
                    // per group: merge those of the rows joined to it.
                    let a = if self.agg == AggMode::ByKey {
                        let first = self.insts[0].alias.clone();
                        self.geoms()
                            .into_iter()
                            .filter(|g| g.alias != first)
                            .collect::<Vec<_>>()
                            .choose(self.rng)
                            .cloned()?
                    } else {
                        self.one_subject(&[])?
                    };
                    let f = *["ST_Union", "ST_Collect"].choose(self.rng)?;
                    let mut it = g(
                        if f == "ST_Union" {
                            "merged_geometry"
                        } else {
                            "collected_geometry"
                        },
                        Out::Other,
                        PlanExpr::call(f, vec![a.col()]),
                    );
                    it.agg_native = true;
                    return Some(it);
                }
                if self.rng.random_bool(0.3) {
                    if let Some((a, b)) = self.pair(None) {
                        let f = *[
                            "ST_Intersection",
                            "ST_Difference",
                            "ST_SymDifference",
                            "ST_ClosestPoint",
                            "ST_ShortestLine",
                        ]
                        .choose(self.rng)?;
                        let name = f.trim_start_matches("ST_").to_lowercase();
                        return Some(g(
                            &name,
                            Out::Other,
                            PlanExpr::call(f, vec![a.col(), b.col()]),
                        ));
                    }
                }
                let a = self.one_subject(&[])?;
                // Of a point, centroid, envelope, hull and simplification are the point.
                let mut opts = vec!["ST_Buffer"];
                if a.kind != Puntal {
                    opts.extend(["ST_Centroid", "ST_Envelope", "ST_ConvexHull", "ST_Boundary"]);
                    if budget >= 2 {
                        opts.extend(["ST_Simplify", "ST_SimplifyPreserveTopology"]);
                    }
                }
                if a.kind == Polygonal || a.kind == GeomKind::Any {
                    opts.push("ST_PointOnSurface");
                }
                let f = *opts.choose(self.rng)?;
                let e = match f {
                    "ST_Buffer" => {
                        let d = self.quantity("@distance_m", true);
                        PlanExpr::call(f, vec![a.col().cast("geography"), d])
                    }
                    "ST_Simplify" | "ST_SimplifyPreserveTopology" => {
                        // A tolerance in metres, in the area's metric CRS.
                        let s = self.metric_srid();
                        let tol = self.quantity("@tolerance_m", true);
                        PlanExpr::call(
                            f,
                            vec![PlanExpr::call("ST_Transform", vec![a.col(), s]), tol],
                        )
                    }
                    _ => PlanExpr::call(f, vec![a.col()]),
                };
                let name = match f {
                    "ST_Buffer" => "buffer_zone".to_string(),
                    "ST_SimplifyPreserveTopology" => "simplified_geometry".to_string(),
                    _ => f.trim_start_matches("ST_").to_lowercase(),
                };
                Some(g(&name, Out::Other, e))
            }
            F::Accessors => {
                if budget >= 2 && self.rng.random_bool(0.25) {
                    let a = self.one_subject(&[Polygonal, Lineal])?;
                    let f = *["ST_X", "ST_Y"].choose(self.rng)?;
                    let name = if f == "ST_X" {
                        "centroid_x"
                    } else {
                        "centroid_y"
                    };
                    return Some(g(
                        name,
                        Out::Num,
                        PlanExpr::call(f, vec![PlanExpr::call("ST_Centroid", vec![a.col()])]),
                    ));
                }
                let a = self.one_subject(&[])?;
                let mut opts: Vec<(&str, Out)> =
                    vec![("ST_AsText", Out::Other), ("ST_AsGeoJSON", Out::Other)];
                // The type of a column declared with one subtype is a constant.
                if a.kind == GeomKind::Any {
                    opts.push(("ST_GeometryType", Out::Other));
                }
                // Vertex and part counts of a point are always 1.
                if a.kind != Puntal {
                    opts.push(("ST_NPoints", Out::Num));
                }
                // The part count of a single-part subtype is always 1.
                if a.multi {
                    opts.push(("ST_NumGeometries", Out::Num));
                }
                match a.kind {
                    Puntal => opts.extend([("ST_X", Out::Num), ("ST_Y", Out::Num)]),
                    Lineal => {
                        opts.extend([("ST_StartPoint", Out::Other), ("ST_EndPoint", Out::Other)])
                    }
                    // One polygon's ring: NULL on a multi-part column.
                    Polygonal if !a.multi => opts.push(("ST_ExteriorRing", Out::Other)),
                    Polygonal => {}
                    GeomKind::Any => {}
                }
                let (f, out) = *opts.choose(self.rng)?;
                let name = match f {
                    "ST_AsText" => "wkt".to_string(),
                    "ST_AsGeoJSON" => "geojson".to_string(),
                    "ST_SRID" => "srid".to_string(),
                    "ST_X" => "x".to_string(),
                    "ST_Y" => "y".to_string(),
                    _ => f.trim_start_matches("ST_").to_lowercase(),
                };
                Some(g(&name, out, PlanExpr::call(f, vec![a.col()])))
            }
            F::Constructors => {
                if self.rng.random_bool(0.25) {
                    if let Some((a, b)) = self.pair(Some(Puntal)) {
                        return Some(g(
                            "connecting_line",
                            Out::Other,
                            PlanExpr::call("ST_MakeLine", vec![a.col(), b.col()]),
                        ));
                    }
                }
                // One constructor call alone would only relabel a column with the SRID it
                // has: constants are built to be compared with.
                if budget < 2 {
                    return None;
                }
                let a = self.one(&[])?;
                let (pt, _) = self.point(budget - 1, budget >= 3)?;
                if self.rng.random_bool(0.5) {
                    Some(g(
                        "distance_m",
                        Out::Num,
                        PlanExpr::call(
                            "ST_Distance",
                            vec![a.col().cast("geography"), pt.cast("geography")],
                        ),
                    ))
                } else if self.rng.random_bool(0.5) {
                    let e = self.predicate_call("ST_DWithin", a.col(), pt);
                    Some(g("near_point", Out::Bool, e))
                } else {
                    let env = self.envelope();
                    let _ = pt;
                    Some(g(
                        "in_window",
                        Out::Bool,
                        PlanExpr::call("ST_Intersects", vec![a.col(), env]),
                    ))
                }
            }
            F::Transforms => {
                let a = self.one_subject(&[])?;
                let mut opts = vec!["ST_Transform", "ST_Transform"];
                // Dropping a Z the data does not have changes nothing; reversing matters
                // for lines (their direction), not for points or polygons; grid sizes and
                // shifts are given in metres, in a metric CRS.
                if a.z {
                    opts.push("ST_Force2D");
                }
                if a.kind == Lineal {
                    opts.extend(["ST_Reverse", "ST_Multi"]);
                }
                if budget >= 2 {
                    opts.extend(["ST_SnapToGrid", "ST_Translate"]);
                }
                let f = *opts.choose(self.rng)?;
                let e = match f {
                    "ST_Transform" => {
                        let s = self.metric_srid();
                        PlanExpr::call(f, vec![a.col(), s])
                    }
                    "ST_SnapToGrid" => {
                        let s = self.metric_srid();
                        let size = PlanExpr::number(*["0.5", "1", "2"].choose(self.rng)?);
                        PlanExpr::call(
                            f,
                            vec![PlanExpr::call("ST_Transform", vec![a.col(), s]), size],
                        )
                    }
                    "ST_Translate" => {
                        let s = self.metric_srid();
                        let d = *["5", "10", "25"].choose(self.rng)?;
                        PlanExpr::call(
                            f,
                            vec![
                                PlanExpr::call("ST_Transform", vec![a.col(), s]),
                                PlanExpr::number(d),
                                PlanExpr::number("0"),
                            ],
                        )
                    }
                    _ => PlanExpr::call(f, vec![a.col()]),
                };
                let name = match f {
                    "ST_Transform" => "projected_geometry".to_string(),
                    "ST_Force2D" => "geometry_2d".to_string(),
                    "ST_SnapToGrid" => "snapped_geometry".to_string(),
                    "ST_Reverse" => "reversed_geometry".to_string(),
                    "ST_Multi" => "multi_geometry".to_string(),
                    _ => "shifted_geometry".to_string(),
                };
                Some(g(&name, Out::Other, e))
            }
            F::Validation => {
                // A point is always valid and simple: validity is a question about lines
                // and polygons.
                let a = self.one_subject(&[Polygonal, Lineal])?;
                let mut opts: Vec<(&str, Out)> = vec![
                    ("ST_IsValid", Out::Bool),
                    ("ST_IsValid", Out::Bool),
                    ("ST_IsValidReason", Out::Other),
                ];
                // A line is invalid only when collapsed: repairing lines returns them.
                if a.kind == Polygonal {
                    opts.push(("ST_MakeValid", Out::Other));
                }
                if a.kind == Lineal {
                    opts.extend([("ST_IsClosed", Out::Bool), ("ST_IsSimple", Out::Bool)]);
                }
                let (f, out) = *opts.choose(self.rng)?;
                let name = match f {
                    "ST_IsValidReason" => "validity_reason".to_string(),
                    "ST_MakeValid" => "valid_geometry".to_string(),
                    _ => format!("is_{}", f.trim_start_matches("ST_Is").to_lowercase()),
                };
                Some(g(&name, out, PlanExpr::call(f, vec![a.col()])))
            }
            F::Clustering => {
                // The geometries of the relation whose rows the joins do not repeat: the
                // one joined through the row-multiplying join, else the first one.
                if self.both_repeated {
                    return None;
                }
                let home = self
                    .expanded
                    .clone()
                    .unwrap_or_else(|| self.insts[0].alias.clone());
                // Leave at least one key column free: pinning the whole key leaves one row.
                if let Some(inst) = self.insts.iter().find(|i| i.alias == home) {
                    let pk = self.cat.tables[inst.table].primary_key.clone();
                    for k in pk.iter().skip(1) {
                        self.filtered.insert((home.clone(), k.clone()));
                    }
                }
                let a = self
                    .geoms()
                    .into_iter()
                    .filter(|g| g.alias == home)
                    .collect::<Vec<_>>()
                    .choose(self.rng)
                    .cloned()?;
                let home_table = self.insts.iter().find(|i| i.alias == home)?.table;
                // One clustering per query, never of a table of a few rows (a project's
                // scenarios share its boundary and centre).
                if self.clustered || self.cat.tables[home_table].few_rows {
                    return None;
                }
                // K-means of a place: over rows no place pin can narrow (the buildings of
                // every city, nothing joined that has a project) its k clusters are the
                // cities. DBSCAN finds dense blocks anywhere.
                let placeable = self.place_filters > 0
                    || self.insts.iter().any(|i| {
                        !self.left_joined.contains(&i.alias)
                            && !self.cat.area_filter_columns(i.table).is_empty()
                    });
                self.clustered = true;
                let mut it = if budget >= 2 && self.rng.random_bool(0.6)
                    || !placeable
                    || !self.main.filters.iter().all(|f| self.is_area_pin(f))
                {
                    // DBSCAN with eps in metres, in the area's metric CRS.
                    let minpts = PlanExpr::number(self.rng.random_range(2..=10u32).to_string());
                    let s = self.metric_srid();
                    let eps = self.quantity("@join_distance_m", true);
                    g(
                        "cluster_id",
                        Out::Num,
                        PlanExpr::Window {
                            function: "ST_ClusterDBSCAN".into(),
                            args: vec![
                                PlanExpr::call("ST_Transform", vec![a.col(), s]),
                                eps,
                                minpts,
                            ],
                            partition_by: Vec::new(),
                            order_by: Vec::new(),
                        },
                    )
                } else {
                    // Two clusters over the rows of a place: K-means fails when k exceeds
                    // the rows it sees, so nothing narrower than the place filters them.
                    self.area_filters_only = true;
                    // The place the rows are pinned to (see `restrict_to_area`).
                    self.area_index();
                    let k = PlanExpr::number("2");
                    g(
                        "cluster_id",
                        Out::Num,
                        PlanExpr::Window {
                            function: "ST_ClusterKMeans".into(),
                            args: vec![a.col(), k],
                            partition_by: Vec::new(),
                            order_by: Vec::new(),
                        },
                    )
                };
                it.window = true;
                // A table holding each entity at several levels (a building per level of
                // detail) is clustered at one: else every footprint clusters with its own
                // copies.
                if let Some((_, level)) = self.cat.tables[home_table].levels.clone() {
                    let range = self.cat.tables[home_table]
                        .filters
                        .iter()
                        .find_map(|f| match f {
                            Filterable::Range {
                                column, min, max, ..
                            } if *column == level => Some((*min as i64, *max as i64)),
                            _ => None,
                        });
                    if let Some((lo, hi)) = range {
                        if !self.filtered.contains(&(home.clone(), level.clone())) {
                            let v = self.rng.random_range(lo..=hi);
                            self.filtered.insert((home.clone(), level.clone()));
                            self.main.filters.push(PlanExpr::compare(
                                CompareOp::Eq,
                                PlanExpr::column(&home, &level),
                                PlanExpr::number(v.to_string()),
                            ));
                        }
                    }
                }
                Some(it)
            }
            F::Raster => {
                let (ra, rc) = self.rasters().choose(self.rng).cloned()?;
                let r = PlanExpr::column(&ra, &rc);
                let geo = self
                    .geoms()
                    .into_iter()
                    .filter(|g| g.alias != ra)
                    .collect::<Vec<_>>();
                // The geometry the raster is joined on (the building whose tiles these
                // are): another relation's would clip the tile once per joined row, by a
                // shape it may not even overlap.
                let partner: Vec<Geo> = geo
                    .iter()
                    .filter(|g| self.touching.contains(&(ra.clone(), g.alias.clone())))
                    .cloned()
                    .collect();
                let geo = if partner.is_empty() { geo } else { partner };
                let geo = geo.choose(self.rng).cloned();
                // Beside a vector relation the value under it is what is asked (the seeds
                // extract values in most raster queries): the tile's metadata only now and
                // then.
                let roll = self.rng.random_range(0..10);
                if let Some(a) = geo.as_ref().filter(|a| a.kind == Puntal && roll <= 5) {
                    // A point samples the raster directly.
                    return Some(g(
                        "raster_value",
                        Out::Num,
                        PlanExpr::call("ST_Value", vec![r, a.col()]),
                    ));
                }
                let roll = match roll {
                    3..=5 if self.expansions > 0 => roll - 3,
                    _ => roll,
                };
                match (geo.clone(), roll) {
                    (Some(a), 0..=2) if budget >= 2 => {
                        let f = *["ST_Centroid", "ST_PointOnSurface"].choose(self.rng)?;
                        let pt = PlanExpr::call(f, vec![a.col()]);
                        let args = if self.rng.random_bool(0.5) {
                            vec![r, pt]
                        } else {
                            vec![r, PlanExpr::number("1"), pt]
                        };
                        Some(g(
                            "raster_value",
                            Out::Num,
                            PlanExpr::call("ST_Value", args),
                        ))
                    }
                    // Clipping per row: not when a join repeats the rows (each clip would
                    // be computed once per joined row).
                    (Some(a), 3..=5) if budget >= 2 && self.expansions == 0 => {
                        let clip = PlanExpr::call("ST_Clip", vec![r, a.col()]);
                        if self.rng.random_bool(0.6) {
                            // One statistic of the pixels under the geometry.
                            let field = *["mean", "mean", "max", "min"].choose(self.rng)?;
                            Some(g(
                                &format!("clipped_{field}"),
                                Out::Num,
                                PlanExpr::Field {
                                    expr: Box::new(PlanExpr::call("ST_SummaryStats", vec![clip])),
                                    field: field.into(),
                                },
                            ))
                        } else {
                            Some(g(
                                "clipped_pixel_count",
                                Out::Num,
                                PlanExpr::call("ST_Count", vec![clip]),
                            ))
                        }
                    }
                    (Some(a), 6) => Some(g(
                        "clipped_raster",
                        Out::Raster,
                        PlanExpr::call("ST_Clip", vec![r, a.col()]),
                    )),
                    _ => {
                        // (Not the band count: one band per tile in elevation rasters,
                        // a constant column.)
                        let metadata = [
                            ("ST_Width", Out::Num, "width_px"),
                            ("ST_Height", Out::Num, "height_px"),
                            ("ST_PixelWidth", Out::Num, "pixel_width"),
                        ];
                        let whole_tile = [
                            ("ST_Count", Out::Num, "pixel_count"),
                            ("ST_SummaryStats", Out::Other, "raster_stats"),
                            ("ST_Polygon", Out::Other, "raster_outline"),
                        ];
                        // Statistics over a whole tile, once per joined vector row, repeat
                        // the same work and mean nothing per row: with a vector relation in
                        // the query, the tile's metadata or the outline of its pixels under
                        // the geometry (ST_Polygon below); whole-tile statistics only for
                        // queries about the tiles themselves.
                        let choices: Vec<(&str, Out, &str)> = if geo.is_some() {
                            metadata.iter().chain(&whole_tile[2..]).copied().collect()
                        } else {
                            metadata.iter().chain(&whole_tile[..2]).copied().collect()
                        };
                        let (f, out, name) = *choices.choose(self.rng)?;
                        if f == "ST_SummaryStats" {
                            // One statistic of the tile, not the whole record.
                            let field = *["mean", "max", "min", "stddev"].choose(self.rng)?;
                            return Some(g(
                                &format!("tile_{field}"),
                                Out::Num,
                                PlanExpr::Field {
                                    expr: Box::new(PlanExpr::call(f, vec![r])),
                                    field: field.into(),
                                },
                            ));
                        }
                        if f == "ST_Polygon" {
                            // Vectorising every pixel of a whole tile is what ST_Polygon
                            // costs: only the pixels under a geometry are outlined, and
                            // only for the few rows near a point or in a box (a few
                            // milliseconds each, uninterruptible).
                            let a = geo?;
                            if budget < 2 || self.place_filters == 0 {
                                return None;
                            }
                            let clip = PlanExpr::call("ST_Clip", vec![r, a.col()]);
                            return Some(g(
                                "clipped_outline",
                                Out::Other,
                                PlanExpr::call("ST_Polygon", vec![clip]),
                            ));
                        }
                        Some(g(name, out, PlanExpr::call(f, vec![r])))
                    }
                }
            }
        }
    }

    /// Fill the SELECT and WHERE with spatial calls until the requested count is met.
    pub(crate) fn spatial_items(&mut self) {
        let target = self.req.spatial;
        let mut counts: Vec<F> = Vec::new();
        let facts = super::facts::plan_facts(self.cat, &[], &self.main);
        counts.extend(facts.spatial_calls.iter().map(|(_, c)| *c));
        let primary = F::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == self.req.category.name());
        let primary = primary.filter(|p| self.allowed.contains(p));
        let required: Vec<F> = match self.req.sql_type {
            QueryType::SpatialClustering => vec![F::Clustering],
            QueryType::SpatialProcessing => vec![*[F::Processing, F::Validation]
                .choose(self.rng)
                .expect("non-empty")],
            QueryType::SpatialMeasurement => vec![*[F::Measurements, F::Predicates]
                .choose(self.rng)
                .expect("non-empty")],
            QueryType::RasterVector if !facts.raster_ref => vec![F::Raster],
            _ => Vec::new(),
        };
        let mut required = required.into_iter();
        let mut pending = required.next();
        let mut guard = 0;
        while counts.len() < target && guard < 40 {
            guard += 1;
            let budget = target - counts.len();
            let cat = if let Some(r) = pending {
                r
            } else if let Some(p) = primary {
                if !wins(&counts, p) || self.rng.random_bool(0.6) {
                    p
                } else {
                    *self.allowed.choose(self.rng).expect("non-empty")
                }
            } else {
                *self.allowed.choose(self.rng).expect("non-empty")
            };
            if cat == F::Clustering && self.agg != AggMode::Window {
                continue;
            }
            let Some(gen) = self.gen(cat, budget) else {
                continue;
            };
            // The same expression twice says nothing new, nor the same call with its two
            // operands swapped (a line and its reverse, a distance both ways).
            let swapped = match &gen.expr {
                PlanExpr::Call { function, args } if args.len() == 2 => Some(PlanExpr::Call {
                    function: function.clone(),
                    args: vec![args[1].clone(), args[0].clone()],
                }),
                _ => None,
            };
            // Nor the same operation on the same operand with another constant (two
            // buffers of one geometry).
            let same_call = |a: &PlanExpr, b: &PlanExpr| match (a, b) {
                (
                    PlanExpr::Call {
                        function: f,
                        args: x,
                    },
                    PlanExpr::Call {
                        function: g,
                        args: y,
                    },
                ) => f == g && !x.is_empty() && x.first() == y.first(),
                _ => false,
            };
            if self.raw_items.contains(&gen.expr)
                || swapped.is_some_and(|w| self.raw_items.contains(&w))
                || self.raw_items.iter().any(|r| same_call(r, &gen.expr))
            {
                continue;
            }
            self.raw_items.push(gen.expr.clone());
            let mut calls = Vec::new();
            self.count_calls(&gen.expr, &mut calls);
            if calls.is_empty() || calls.len() > budget || !self.known_functions(&gen.expr) {
                continue;
            }
            // Do not let a secondary category overtake the primary one.
            if let Some(p) = primary {
                if cat != p && pending.is_none() {
                    let mut after = counts.clone();
                    after.extend(calls.iter().copied());
                    if wins(&counts, p) && !wins(&after, p) {
                        continue;
                    }
                }
            }
            if !calls.iter().all(|c| self.allowed.contains(c)) {
                continue;
            }
            if !self.place(gen) {
                continue;
            }
            if pending == Some(cat) {
                pending = required.next();
            }
            counts.extend(calls);
        }
    }

    /// Put a generated expression in the SELECT list (aggregated when the query groups)
    /// or the WHERE clause; false when it has no meaningful place.
    fn place(&mut self, gen: Gen) -> bool {
        let first = self.insts[0].alias.clone();
        let mut rels = std::collections::BTreeSet::new();
        collect_rels(&gen.expr, &mut rels);
        let needs_wrap = match self.agg {
            AggMode::ByCategory => true,
            AggMode::ByKey => rels.iter().any(|r| *r != first),
            _ => false,
        } && !gen.agg_native
            && !gen.window;
        // A condition on a LEFT-joined relation belongs in SELECT: in WHERE it would drop
        // the unmatched rows the LEFT JOIN keeps.
        let on_left = rels.iter().any(|r| self.left_joined.contains(r));
        // In WHERE: at most one condition against a constant geometry (a point, a box) and
        // one validity check per query; emptiness, simplicity and closure are reported,
        // not filtered on (clean data has no empty geometry to keep).
        let (constant, probe) = match &gen.expr {
            PlanExpr::Call { function, args } => (
                args.iter().any(constant_geometry),
                match function.as_str() {
                    "ST_IsValid" => 1,
                    "ST_IsEmpty" | "ST_IsSimple" | "ST_IsClosed" => 2,
                    _ => 0,
                },
            ),
            _ => (false, 0),
        };
        let where_ok = !(on_left
            || self.area_filters_only
            || probe == 2
            || (constant && self.constant_filters >= 1)
            || (probe == 1 && self.validity_filters >= 1));
        if gen.out == Out::Bool && where_ok && (needs_wrap || self.rng.random_bool(0.7)) {
            self.constant_filters += usize::from(constant);
            self.place_filters += usize::from(constant);
            self.validity_filters += usize::from(probe == 1);
            self.main.filters.push(gen.expr);
            return true;
        }
        // One derived shape per geometry: a hull beside an envelope, or two
        // simplifications of one footprint, show the same thing twice.
        if !needs_wrap {
            if let Some(cols) = shape_of(self.cat, &gen.expr) {
                if self
                    .main
                    .items
                    .iter()
                    .any(|i| shape_of(self.cat, &i.expr).is_some_and(|c| !c.is_disjoint(&cols)))
                {
                    return false;
                }
            }
        }
        if gen.out == Out::Bool && needs_wrap {
            return false;
        }
        // Aggregated, only what means something per group: numbers (sums only of what
        // adds up: areas, lengths, pixel counts), and the distinct values of a text that
        // names a kind (geometry type, validity reason), never distinct shapes or rasters.
        let text_kind = matches!(&gen.expr, PlanExpr::Call { function, .. }
            if function == "ST_GeometryType");
        // Nor an accessor's number (a coordinate, a vertex or part count, an SRID): the
        // smallest centroid longitude of a group is no property of it.
        let accessor = matches!(&gen.expr, PlanExpr::Call { function, .. }
            if self.cat.functions.get(&function.to_lowercase())
                == Some(&crate::pack::FunctionCategory::Accessors));
        if needs_wrap
            && (gen.out == Out::Raster
                || (gen.out == Out::Other && !text_kind)
                || (gen.out == Out::Num && accessor))
        {
            return false;
        }
        let mut name = gen.name.clone();
        let (expr, numeric) = if needs_wrap {
            if gen.out == Out::Num {
                let additive = ["area", "length", "perimeter", "pixel_count"]
                    .iter()
                    .any(|k| name.contains(k));
                let fs: &[&str] = if additive {
                    &["avg", "sum", "max", "min"]
                } else {
                    &["avg", "max", "min"]
                };
                let f = *fs.choose(self.rng).expect("non-empty");
                name = format!("{f}_{name}");
                (
                    PlanExpr::Aggregate {
                        function: f.into(),
                        arg: Some(Box::new(gen.expr)),
                        distinct: false,
                        filter: None,
                    },
                    true,
                )
            } else {
                name = format!("{name}_count");
                (
                    PlanExpr::Aggregate {
                        function: "count".into(),
                        arg: Some(Box::new(gen.expr)),
                        distinct: gen.out != Out::Raster,
                        filter: None,
                    },
                    true,
                )
            }
        } else {
            (gen.expr, gen.out == Out::Num)
        };
        let mut unique = name.clone();
        let mut k = 2;
        while !self.item_names.insert(unique.clone()) {
            unique = format!("{name}_{k}");
            k += 1;
        }
        if numeric {
            self.numeric_items.insert(unique.clone());
        }
        self.main.items.push(SelectItem {
            expr,
            alias: Some(unique),
        });
        true
    }
}

/// A geometry built from literals only (a point, a box, a GeoJSON shape).
fn constant_geometry(e: &PlanExpr) -> bool {
    match e {
        PlanExpr::Call { function, args } => {
            !args.is_empty()
                && args.iter().all(|a| match a {
                    PlanExpr::Literal { .. } => true,
                    other => constant_geometry(other),
                })
                && function.starts_with("ST_")
        }
        PlanExpr::Cast { expr, .. } => constant_geometry(expr),
        _ => false,
    }
}

/// Whether a predicate can be true between geometries of these kinds (dimension rules:
/// Overlaps and Equals need equal dimensions, Crosses unequal ones or two lines, Touches
/// a boundary, Within / Contains no higher dimension inside a lower one; a single point
/// neither crosses nor overlaps anything).
fn possible(p: &str, ga: &Geo, gb: &Geo) -> bool {
    let single = |g: &Geo| g.kind == GeomKind::Puntal && !g.multi;
    if matches!(p, "ST_Crosses" | "ST_Overlaps") && (single(ga) || single(gb)) {
        return false;
    }
    let (a, b) = (ga.kind, gb.kind);
    let dim = |k: GeomKind| match k {
        GeomKind::Puntal => Some(0),
        GeomKind::Lineal => Some(1),
        GeomKind::Polygonal => Some(2),
        GeomKind::Any => None,
    };
    let (Some(x), Some(y)) = (dim(a), dim(b)) else {
        return true;
    };
    match p {
        "ST_Overlaps" | "ST_Equals" => x == y,
        "ST_Crosses" => x != y || x == 1,
        "ST_Touches" => !(x == 0 && y == 0),
        "ST_Within" | "ST_CoveredBy" => x <= y,
        "ST_Contains" | "ST_Covers" => x >= y,
        _ => true,
    }
}

/// Whether `p` is the primary category of `calls` (the analyser's rule: most calls, ties
/// to the category listed first).
fn wins(calls: &[F], p: F) -> bool {
    let n = |c: F| calls.iter().filter(|x| **x == c).count();
    let np = n(p);
    if np == 0 {
        return false;
    }
    F::ALL.iter().all(|c| {
        if *c == p {
            true
        } else if F::ALL.iter().position(|x| x == c) < F::ALL.iter().position(|x| *x == p) {
            n(*c) < np
        } else {
            n(*c) <= np
        }
    })
}

/// The columns a shape-valued call ([`Catalog::shapes`]) derives its shape from.
fn shape_of(
    cat: &super::catalog::Catalog,
    e: &PlanExpr,
) -> Option<std::collections::BTreeSet<(String, String)>> {
    let PlanExpr::Call { function, .. } = e else {
        return None;
    };
    if !cat.shapes.contains(&function.to_lowercase()) {
        return None;
    }
    fn walk(e: &PlanExpr, out: &mut std::collections::BTreeSet<(String, String)>) {
        match e {
            PlanExpr::Column { rel, column } => {
                out.insert((rel.clone(), column.clone()));
            }
            PlanExpr::Call { args, .. } => args.iter().for_each(|a| walk(a, out)),
            PlanExpr::Cast { expr, .. } | PlanExpr::Field { expr, .. } => walk(expr, out),
            _ => {}
        }
    }
    let mut cols = std::collections::BTreeSet::new();
    walk(e, &mut cols);
    (!cols.is_empty()).then_some(cols)
}

fn collect_rels(e: &PlanExpr, out: &mut std::collections::BTreeSet<String>) {
    match e {
        PlanExpr::Column { rel, .. } => {
            out.insert(rel.clone());
        }
        PlanExpr::Call { args, .. } | PlanExpr::Window { args, .. } => {
            args.iter().for_each(|a| collect_rels(a, out))
        }
        PlanExpr::Cast { expr, .. } | PlanExpr::Field { expr, .. } => collect_rels(expr, out),
        PlanExpr::Aggregate { arg: Some(a), .. } => collect_rels(a, out),
        PlanExpr::Compare { left, right, .. } => {
            collect_rels(left, out);
            collect_rels(right, out);
        }
        _ => {}
    }
}
