//! Noun phrases for expressions: columns, aggregates, arithmetic, window functions and the
//! spatial functions, in a planner's words ("the total length in metres of the line
//! route", "the 50 m buffer around the bus location").

use super::conditions::{bare_column, lit};
use super::{strip_the, Ctx};
use crate::plan::{ArithOp, Literal, PlanExpr, SelectPlan};

/// Functions that answer yes or no.
pub(super) const BOOLEAN_FUNCTIONS: &[&str] = &[
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
    "ST_IsValid",
    "ST_IsEmpty",
    "ST_IsSimple",
    "ST_IsClosed",
];

fn band_words(op: crate::plan::CompareOp) -> &'static str {
    use crate::plan::CompareOp as C;
    match op {
        C::Lt => "below",
        C::LtEq => "up to",
        C::Gt => "above",
        C::GtEq => "from",
        C::Eq => "at",
        C::NotEq => "other than",
    }
}

fn is_hundred(e: &PlanExpr) -> bool {
    matches!(e, PlanExpr::Literal { value: Literal::Number(n) } if n == "100" || n == "100.0")
}

impl Ctx<'_> {
    /// A returned value: yes/no functions read "whether …".
    pub(super) fn output(&self, e: &PlanExpr) -> String {
        match e {
            PlanExpr::Call { function, .. } if BOOLEAN_FUNCTIONS.contains(&function.as_str()) => {
                format!("whether {}", self.expr(e))
            }
            _ => self.expr(e),
        }
    }

    /// A noun phrase for an expression.
    pub(super) fn expr(&self, e: &PlanExpr) -> String {
        match e {
            PlanExpr::Column { rel, column } => self.column(rel, column),
            PlanExpr::Literal { value } => lit(value),
            PlanExpr::Cast { expr, .. } => self.expr(expr),
            PlanExpr::Field { expr, field } => {
                let inner = self.expr(expr);
                match (
                    field.as_str(),
                    strip_the(&inner).strip_prefix("summary statistics of "),
                ) {
                    ("mean", Some(rest)) => format!("the mean value of {rest}"),
                    ("min", Some(rest)) => format!("the minimum value of {rest}"),
                    ("max", Some(rest)) => format!("the maximum value of {rest}"),
                    ("count", Some(rest)) => format!("the pixel count of {rest}"),
                    ("sum", Some(rest)) => format!("the sum of the values of {rest}"),
                    ("stddev", Some(rest)) => format!("the standard deviation of {rest}"),
                    _ => format!("the {field} of {inner}"),
                }
            }
            PlanExpr::Output { name } => match self
                .main
                .items
                .iter()
                .find(|i| i.alias.as_deref() == Some(name.as_str()))
            {
                Some(i) => self.output(&i.expr),
                None => format!("the {}", name.replace('_', " ")),
            },
            PlanExpr::Aggregate {
                function,
                arg,
                distinct,
                filter,
            } => {
                let base = match arg {
                    None => format!("the number of {}", self.counted(self.main)),
                    Some(a) => self.aggregate(function, a, *distinct),
                };
                match filter {
                    Some(f) => format!("{base} where {}", self.condition(f)),
                    None => base,
                }
            }
            PlanExpr::Call { function, args } => self.call(function, args),
            PlanExpr::Window {
                function,
                args,
                partition_by,
                order_by,
            } => self.window(function, args, partition_by, order_by),
            PlanExpr::Compare { .. }
            | PlanExpr::InSubquery { .. }
            | PlanExpr::Exists { .. }
            | PlanExpr::Logic { .. }
            | PlanExpr::Not { .. }
            | PlanExpr::IsNull { .. } => self.condition(e),
            PlanExpr::Scalar { query } => self.scalar(query),
            PlanExpr::Arith { op, left, right } => self.arith(*op, left, right),
            PlanExpr::Case {
                branches,
                otherwise,
            } => {
                // Bands of one value read "the class of X ('low' below 0.5, …)".
                let first_left = match branches.first().map(|b| &b.when) {
                    Some(PlanExpr::Compare { left, .. }) => Some(left.as_ref()),
                    _ => None,
                };
                let banded = first_left.is_some_and(|l| {
                    branches.iter().all(|b| {
                        matches!(&b.when, PlanExpr::Compare { left, right, .. }
                            if left.as_ref() == l && matches!(right.as_ref(), PlanExpr::Literal { .. }))
                    })
                });
                if let (true, Some(l)) = (banded, first_left) {
                    let mut parts: Vec<String> = branches
                        .iter()
                        .filter_map(|b| match &b.when {
                            PlanExpr::Compare { op, right, .. } => Some(format!(
                                "{} {} {}",
                                self.expr(&b.then),
                                band_words(*op),
                                self.expr(right)
                            )),
                            _ => None,
                        })
                        .collect();
                    if let Some(o) = otherwise {
                        parts.push(format!("{} otherwise", self.expr(o)));
                    }
                    return format!(
                        "the class of {} ({})",
                        strip_the(&self.expr(l)),
                        parts.join(", ")
                    );
                }
                let mut parts: Vec<String> = branches
                    .iter()
                    .map(|b| format!("{} when {}", self.expr(&b.then), self.condition(&b.when)))
                    .collect();
                if let Some(o) = otherwise {
                    parts.push(format!("{} otherwise", self.expr(o)));
                }
                format!("the class ({})", parts.join(", "))
            }
        }
    }

    fn aggregate(&self, function: &str, arg: &PlanExpr, distinct: bool) -> String {
        let inner = self.expr(arg);
        let bare = strip_the(&inner);
        match function.to_lowercase().as_str() {
            "count" => match arg {
                // The entity a table's rows are records of (a building's property
                // records): its distinct ids count buildings.
                PlanExpr::Column { rel, column }
                    if distinct && self.entity_not_key(rel, column) =>
                {
                    match self.column_phrase(rel, column).strip_suffix(" id") {
                        Some(stem) => format!("the number of {}", self.plural_word(stem)),
                        None => format!("the number of {}", self.plural_of(rel)),
                    }
                }
                PlanExpr::Column { rel, column } if self.identifies(rel, column) => {
                    format!("the number of {}", self.plural_of(rel))
                }
                PlanExpr::Column { rel, column } => {
                    let bare = self.column_phrase(rel, column);
                    if let Some(stem) = bare.strip_suffix(" id").filter(|_| distinct) {
                        format!("the number of distinct {}", self.plural_word(stem))
                    } else if distinct && bare.ends_with(" code") {
                        format!("the number of distinct {bare}s")
                    } else if distinct {
                        format!("the number of distinct {bare} values")
                    } else {
                        format!("the number of recorded {bare} values")
                    }
                }
                _ if distinct => format!("the number of distinct {bare} values"),
                _ => format!("the number of recorded {bare} values"),
            },
            // The total of totals, the highest of highest values: said once.
            f @ ("sum" | "max" | "min" | "avg") => {
                let word = match f {
                    "sum" => "total",
                    "max" => "highest",
                    "min" => "lowest",
                    _ => "average",
                };
                if bare.starts_with(&format!("{word} ")) && f != "avg" {
                    format!("the {bare}")
                } else {
                    format!("the {word} {bare}")
                }
            }
            "st_union" => format!("the union of {inner}"),
            "st_collect" => format!("the collection of {inner}"),
            "st_extent" => format!("the extent of {inner}"),
            "array_agg" | "string_agg" => format!("the list of {inner}"),
            "stddev" | "stddev_samp" => format!("the standard deviation of {inner}"),
            "percentile_cont" => format!("the median of {inner}"),
            f => format!("the {f} of {inner}"),
        }
    }

    fn arith(&self, op: ArithOp, left: &PlanExpr, right: &PlanExpr) -> String {
        // Inside arithmetic every measurement names what it measures.
        self.in_arith.set(self.in_arith.get() + 1);
        let l = self.expr(left);
        let r = self.expr(right);
        self.in_arith.set(self.in_arith.get() - 1);
        match op {
            ArithOp::Div => match left {
                PlanExpr::Arith {
                    op: ArithOp::Mul,
                    left: hundred,
                    right: part,
                } if is_hundred(hundred) => {
                    // 100 · COUNT(*) FILTER (WHERE c) / COUNT(*): the share of rows where c.
                    if let (
                        PlanExpr::Aggregate {
                            function,
                            arg: None,
                            filter: Some(c),
                            ..
                        },
                        PlanExpr::Aggregate {
                            arg: None,
                            filter: None,
                            ..
                        },
                    ) = (part.as_ref(), right)
                    {
                        if function.eq_ignore_ascii_case("count") {
                            return format!(
                                "the percentage of {} where {}",
                                self.counted(self.main),
                                self.condition(c)
                            );
                        }
                    }
                    format!("{} as a percentage of {}", self.expr(part), strip_the(&r))
                }
                _ if matches!(right, PlanExpr::Literal { .. }) => {
                    converted(&l, &r, false).unwrap_or_else(|| format!("{l} divided by {r}"))
                }
                _ => format!("the ratio of {l} to {}", strip_the(&r)),
            },
            ArithOp::Mul if is_hundred(left) => format!("{r} in percent"),
            ArithOp::Sub => format!("the difference between {l} and {}", strip_the(&r)),
            ArithOp::Add => format!("the sum of {l} and {}", strip_the(&r)),
            ArithOp::Mul => converted(&l, &r, true).unwrap_or_else(|| format!("{l} times {r}")),
            ArithOp::Distance => format!("the distance from {l} to {r}"),
        }
    }

    fn window(
        &self,
        function: &str,
        args: &[PlanExpr],
        partition_by: &[PlanExpr],
        order_by: &[(PlanExpr, bool)],
    ) -> String {
        let ranked = |e: &PlanExpr, desc: bool| {
            let (hi, lo) = self.extremes(e);
            let w = if desc { hi } else { lo }.unwrap_or(if desc { "last" } else { "first" });
            format!("{} ({w} first)", strip_the(&self.expr(e)))
        };
        let base = match (function.to_lowercase().as_str(), order_by.first()) {
            ("rank" | "dense_rank", Some((e, desc))) => format!("the rank by {}", ranked(e, *desc)),
            ("row_number", Some((e, desc))) => format!("the position by {}", ranked(e, *desc)),
            _ => self.call(function, args),
        };
        if partition_by.is_empty() {
            base
        } else {
            let p: Vec<String> = partition_by.iter().map(|e| self.group_phrase(e)).collect();
            format!("{base} within each {}", p.join(" and "))
        }
    }

    /// The unit a measurement of `arg` is in.
    fn unit(&self, arg: &PlanExpr) -> String {
        match arg {
            PlanExpr::Cast { to, .. } if to == "geography" => " in metres".into(),
            PlanExpr::Call { function, args } if function == "ST_Transform" => {
                let srid = args.get(1).map(|s| self.expr(s)).unwrap_or_default();
                if self.metric_srids.contains(&srid) {
                    format!(" in metres (EPSG:{srid})")
                } else {
                    format!(" in EPSG:{srid} units")
                }
            }
            _ => String::new(),
        }
    }

    /// A point or box label: nothing for the pack's default SRID.
    fn srid_label(&self, srid: &str) -> String {
        if srid.is_empty() || self.default_srid.as_deref() == Some(srid) {
            String::new()
        } else {
            format!(" in EPSG:{srid}")
        }
    }

    /// " in central Milan": the place of the pack's area a literal point lies in (its
    /// extent with a margin of about a kilometre), so that a reader knows where it is.
    fn place_of(&self, x: &str, y: &str) -> String {
        const MARGIN: f64 = 0.01;
        let (Ok(x), Ok(y)) = (x.parse::<f64>(), y.parse::<f64>()) else {
            return String::new();
        };
        self.pack
            .data()
            .areas
            .iter()
            .find(|a| a.contains(x, y, MARGIN))
            .map(|a| format!(" in {}", a.place))
            .unwrap_or_default()
    }

    fn call(&self, f: &str, args: &[PlanExpr]) -> String {
        let a = |i: usize| args.get(i).map(|x| self.expr(x)).unwrap_or_default();
        let pt = |x: &str, y: &str, srid: &str| {
            format!("({x}, {y}){}{}", self.srid_label(srid), self.place_of(x, y))
        };
        let u = |i: usize| args.get(i).map(|x| self.unit(x)).unwrap_or_default();
        // What a measurement measures: the geometry, without the cast or reprojection its
        // unit already states.
        let m = |i: usize| match args.get(i) {
            Some(PlanExpr::Cast { expr, to }) if to == "geography" => self.expr(expr),
            Some(PlanExpr::Call { function, args }) if function == "ST_Transform" => {
                args.first().map(|x| self.expr(x)).unwrap_or_default()
            }
            Some(x) => self.expr(x),
            None => String::new(),
        };
        // " of the footprint", or nothing when the rows have that one shape and no other
        // relation ("the area in m² of buildings").
        let of = |i: usize| {
            let only = self.in_arith.get() == 0
                && args.get(i).and_then(bare_column).is_some_and(|(rel, _)| {
                    self.main.from[0].alias == rel && self.one_shape(rel) && !self.other_shapes(rel)
                });
            if only {
                String::new()
            } else {
                format!(" of {}", m(i))
            }
        };
        match f {
            "ST_Area" => {
                let unit = u(0).replacen(" in metres", " in m²", 1);
                format!("the area{unit}{}", of(0))
            }
            "ST_Perimeter" => format!("the perimeter{}{}", u(0), of(0)),
            "ST_Length" => format!("the length{}{}", u(0), of(0)),
            "ST_Distance" => {
                // A relation's only shape is the row itself: "the distance from the bus to
                // the building"; from the rows' own shape to a point, "the distance to
                // (x, y)".
                let place = |i: usize| match args.get(i).and_then(bare_column) {
                    Some((rel, _)) if self.one_shape(rel) => format!("the {}", self.noun(rel)),
                    _ => m(i),
                };
                let own = |i: usize| {
                    self.in_arith.get() == 0
                        && args.get(i).and_then(bare_column).is_some_and(|(rel, _)| {
                            self.main.from[0].alias == rel && self.one_shape(rel)
                        })
                };
                let constant = |i: usize| {
                    args.get(i)
                        .is_some_and(|x| bare_column(x).is_none() && !has_column(x))
                };
                if own(0) && constant(1) {
                    format!("the distance{} to {}", u(0), strip_the(&m(1)))
                } else if own(1) && constant(0) {
                    format!("the distance{} to {}", u(0), strip_the(&m(0)))
                } else {
                    format!(
                        "the distance{} from {} to {}",
                        u(0),
                        strip_the(&place(0)),
                        strip_the(&place(1))
                    )
                }
            }
            "ROUND" | "round" => match a(1).as_str() {
                "" => format!("{} rounded", a(0)),
                "1" => format!("{} (1 decimal)", a(0)),
                d => format!("{} ({d} decimals)", a(0)),
            },
            // NULLIF(x, 0) only keeps a division by zero from failing: it reads as x.
            "NULLIF" | "nullif" => a(0),
            "ABS" | "abs" => format!("the absolute {}", strip_the(&a(0))),
            "DEGREES" | "degrees" => format!("{} in degrees", a(0)),
            "COALESCE" | "coalesce" => format!("{} (or {} when missing)", a(0), a(1)),
            "ST_MaxDistance" => format!(
                "the largest distance between {} and {}",
                a(0),
                strip_the(&a(1))
            ),
            "ST_HausdorffDistance" => {
                format!(
                    "the Hausdorff distance between {} and {}",
                    a(0),
                    strip_the(&a(1))
                )
            }
            "ST_Azimuth" => format!(
                "the azimuth (radians) from {} to {}",
                a(0),
                strip_the(&a(1))
            ),
            "ST_Intersects" => format!("{} intersects {}", a(0), a(1)),
            "ST_DWithin" => format!("{} lies within {} m of {}", a(0), a(2), a(1)),
            "ST_Within" => format!("{} lies within {}", a(0), a(1)),
            "ST_Contains" => format!("{} contains {}", a(0), a(1)),
            "ST_Touches" => format!("{} touches {}", a(0), a(1)),
            "ST_Overlaps" => format!("{} overlaps {}", a(0), a(1)),
            "ST_Covers" => format!("{} covers {}", a(0), a(1)),
            "ST_CoveredBy" => format!("{} is covered by {}", a(0), a(1)),
            "ST_Disjoint" => format!("{} is disjoint from {}", a(0), a(1)),
            "ST_Crosses" => format!("{} crosses {}", a(0), a(1)),
            "ST_Equals" => format!("{} is spatially equal to {}", a(0), a(1)),
            "ST_MakeEnvelope" => {
                let mid = |i: usize, j: usize| {
                    let (p, q) = (a(i).parse::<f64>().ok()?, a(j).parse::<f64>().ok()?);
                    Some(format!("{}", (p + q) / 2.0))
                };
                let place = match (mid(0, 2), mid(1, 3)) {
                    (Some(x), Some(y)) => self.place_of(&x, &y),
                    _ => String::new(),
                };
                format!(
                    "the box ({}, {})–({}, {}){}{place}",
                    a(0),
                    a(1),
                    a(2),
                    a(3),
                    self.srid_label(&a(4))
                )
            }
            "ST_SetSRID" => match args.first() {
                Some(PlanExpr::Call {
                    function,
                    args: inner,
                }) if function == "ST_MakePoint"
                    || (function == "ST_Point" && inner.len() == 2) =>
                {
                    format!(
                        "the point {}",
                        pt(&self.expr(&inner[0]), &self.expr(&inner[1]), &a(1))
                    )
                }
                // A geometry written without SRID, given the default one: the point itself.
                Some(PlanExpr::Call { function, .. })
                    if function == "ST_GeomFromGeoJSON" && self.srid_label(&a(1)).is_empty() =>
                {
                    a(0)
                }
                _ => format!("{} as EPSG:{}", a(0), a(1)),
            },
            "ST_MakePoint" => format!(
                "the point ({}, {}){}",
                a(0),
                a(1),
                self.place_of(&a(0), &a(1))
            ),
            "ST_Point" => format!("the point {}", pt(&a(0), &a(1), &a(2))),
            "ST_GeomFromText" => match args.first().and_then(point_text) {
                Some((x, y)) => format!("the point {}", pt(&x, &y, &a(1))),
                None => format!("the geometry {}{}", a(0), self.srid_label(&a(1))),
            },
            "ST_GeomFromGeoJSON" => match args.first().and_then(point_text) {
                Some((x, y)) => format!("the point ({x}, {y}){}", self.place_of(&x, &y)),
                None => format!("the GeoJSON geometry {}", a(0)),
            },
            "ST_MakeLine" => format!("the line from {} to {}", a(0), strip_the(&a(1))),
            "ST_Transform" => format!("{} in EPSG:{}", a(0), a(1)),
            "ST_Buffer" => format!("the {} m buffer around {}", a(1), a(0)),
            "ST_Simplify" => format!("{} simplified to {} m", a(0), a(1)),
            "ST_SimplifyPreserveTopology" => {
                format!("{} simplified to {} m, keeping its topology", a(0), a(1))
            }
            "ST_SnapToGrid" => format!("{} snapped to a {} grid", a(0), a(1)),
            "ST_Translate" => format!("{} shifted by ({}, {})", a(0), a(1), a(2)),
            "ST_Centroid" => format!("the centroid{}", of(0)),
            "ST_PointOnSurface" => format!("a point inside {}", a(0)),
            "ST_Envelope" => format!("the bounding box{}", of(0)),
            "ST_ConvexHull" => format!("the convex hull{}", of(0)),
            "ST_Boundary" => format!("the outline{}", of(0)),
            "ST_Union" if args.len() == 1 => format!("the union of {}", a(0)),
            "ST_Collect" if args.len() == 1 => format!("the collection of {}", a(0)),
            "ST_Intersection" => format!("the intersection of {} and {}", a(0), strip_the(&a(1))),
            "ST_Difference" => format!("the part of {} outside {}", a(0), a(1)),
            "ST_SymDifference" => {
                format!(
                    "the symmetric difference of {} and {}",
                    a(0),
                    strip_the(&a(1))
                )
            }
            "ST_ClosestPoint" => format!("the point of {} closest to {}", a(0), a(1)),
            "ST_ShortestLine" => format!("the shortest line from {} to {}", a(0), a(1)),
            "ST_AsText" => format!("{} as WKT", a(0)),
            "ST_AsGeoJSON" => match a(1).as_str() {
                "" => format!("{} as GeoJSON", a(0)),
                d => format!("{} as GeoJSON ({d} digits)", a(0)),
            },
            "ST_GeometryType" => format!("the geometry type{}", of(0)),
            "ST_SRID" => format!("the SRID{}", of(0)),
            "ST_NPoints" => format!("the number of vertices{}", of(0)),
            "ST_NumGeometries" => format!("the number of parts{}", of(0)),
            "ST_X" => format!("the X coordinate of {}", a(0)),
            "ST_Y" => format!("the Y coordinate of {}", a(0)),
            "ST_StartPoint" => format!("the start point{}", of(0)),
            "ST_EndPoint" => format!("the end point{}", of(0)),
            "ST_ExteriorRing" => format!("the exterior ring{}", of(0)),
            "ST_Force2D" => format!("{} in 2D", a(0)),
            "ST_Reverse" => format!("{} reversed", a(0)),
            "ST_Multi" => format!("{} as a multi-geometry", a(0)),
            "ST_IsValid" => format!("{} is valid", a(0)),
            "ST_IsEmpty" => format!("{} is empty", a(0)),
            "ST_IsSimple" => format!("{} is simple", a(0)),
            "ST_IsClosed" => format!("{} is closed", a(0)),
            "ST_IsValidReason" => format!("the validity reason of {}", a(0)),
            "ST_MakeValid" => format!("the repaired {}", strip_the(&a(0))),
            "ST_ClusterDBSCAN" => format!(
                "the DBSCAN cluster of {} (eps {}{}, at least {} members)",
                m(0),
                a(1),
                match args.first() {
                    Some(PlanExpr::Call { function, args: t }) if function == "ST_Transform" => {
                        format!(
                            " m in EPSG:{}",
                            t.get(1).map(|x| self.expr(x)).unwrap_or_default()
                        )
                    }
                    Some(PlanExpr::Cast { to, .. }) if to == "geography" => " m".to_string(),
                    _ => String::new(),
                },
                a(2)
            ),
            "ST_ClusterKMeans" => format!("the k-means cluster ({} clusters) of {}", a(1), a(0)),
            "ST_Value" => {
                if args.len() == 3 {
                    format!("the band {} value of {} at {}", a(1), a(0), a(2))
                } else {
                    format!("the value of {} at {}", a(0), a(1))
                }
            }
            "ST_Clip" => format!("{} clipped to {}", a(0), a(1)),
            "ST_SummaryStats" => format!("the summary statistics of {}", a(0)),
            "ST_Count" => format!("the number of pixels{}", of(0)),
            "ST_Width" => format!("the width in pixels{}", of(0)),
            "ST_Height" => format!("the height in pixels{}", of(0)),
            "ST_NumBands" => format!("the number of bands{}", of(0)),
            "ST_PixelWidth" => format!("the pixel width{}", of(0)),
            "ST_Polygon" => format!("the outline polygon of {}", a(0)),
            _ => {
                let rest: Vec<String> = (0..args.len()).map(a).collect();
                format!("{f} of {}", rest.join(", "))
            }
        }
    }

    fn scalar(&self, q: &SelectPlan) -> String {
        let what = q
            .items
            .first()
            .map(|i| self.expr(&i.expr))
            .unwrap_or_default();
        let Some(r) = q.from.first() else {
            return what;
        };
        let noun = self.plural_of(&r.alias);
        format!("{what} over all {}", self.scope(q, &noun))
    }
}

/// The coordinates of a point written as text: WKT `POINT(x y)` or a GeoJSON Point, as
/// the SQL writes them.
fn point_text(e: &PlanExpr) -> Option<(String, String)> {
    let PlanExpr::Literal {
        value: Literal::Text(t),
    } = e
    else {
        return None;
    };
    let t = t.trim();
    let inner = if let Some(rest) = t.strip_prefix("POINT(") {
        rest.strip_suffix(')')?.to_string()
    } else if t.starts_with('{') && t.contains("\"Point\"") {
        let v: serde_json::Value = serde_json::from_str(t).ok()?;
        let c = v.get("coordinates")?.as_array()?;
        let [x, y] = c.as_slice() else {
            return None;
        };
        // The numbers as written in the text.
        let at = t.find("\"coordinates\"")?;
        let open = t[at..].find('[')? + at;
        let close = t[open..].find(']')? + open;
        let _ = (x.as_f64()?, y.as_f64()?);
        t[open + 1..close].replace(',', " ")
    } else {
        return None;
    };
    let mut it = inner.split_whitespace();
    let (x, y) = (it.next()?, it.next()?);
    if it.next().is_some() || x.parse::<f64>().is_err() || y.parse::<f64>().is_err() {
        return None;
    }
    Some((x.to_string(), y.to_string()))
}

/// A metric unit conversion says the unit it gives ("length in kilometres" times 1000
/// reads "length in metres"; "area in m²" divided by 10000, "area in hectares").
fn converted(phrase: &str, factor: &str, times: bool) -> Option<String> {
    const UNITS: [(&str, &str, &str); 4] = [
        (" in kilometres", "1000", " in metres"),
        (" in km", "1000", " in metres"),
        (" in hectares", "10000", " in m²"),
        (" in km²", "1000000", " in m²"),
    ];
    let factor: f64 = factor.parse().ok()?;
    UNITS.iter().find_map(|(big, f, small)| {
        if f.parse::<f64>().ok() != Some(factor) {
            return None;
        }
        let (from, to) = if times { (big, small) } else { (small, big) };
        phrase
            .find(from)
            .map(|i| format!("{}{to}{}", &phrase[..i], &phrase[i + from.len()..]))
    })
}

/// Whether an expression reads some column.
fn has_column(e: &PlanExpr) -> bool {
    matches!(e, PlanExpr::Column { .. }) || e.children().into_iter().any(has_column)
}
