//! Per function call: no-ops and constants (S2), meaningless aggregates (S3), distances that
//! are always 0 and district-wide distance joins (S5), degrees where metres are meant and
//! unsuitable CRSs (S7), predicates false by dimension (S8), clustering misuse (S9) and
//! raster misuse (S10).

use std::collections::BTreeSet;

use sqlparser::ast::{Expr, SelectItem};

use super::geo::{geo_of, geographic, Geo};
use super::joins::Shape;
use super::scope::{for_each_local, Level};
use super::{args_of, distinct_args, fn_name, number, Lint, SenseCode};
use crate::pack::{ColumnRole, JoinKind, ValueDomain};

/// Functions whose numeric argument is a distance or tolerance in the input's units.
const DISTANCE_ARGS: &[(&str, usize)] = &[
    ("st_buffer", 1),
    ("st_simplify", 1),
    ("st_simplifypreservetopology", 1),
    ("st_snaptogrid", 1),
    ("st_expand", 1),
    ("st_translate", 1),
    ("st_dwithin", 2),
    ("st_clusterdbscan", 1),
    ("st_clusterwithin", 1),
    ("st_segmentize", 1),
];

/// Measurements whose result is in the input's units.
const MEASURES: &[&str] = &[
    "st_area",
    "st_length",
    "st_perimeter",
    "st_distance",
    "st_maxdistance",
    "st_hausdorffdistance",
];

/// Raster functions that summarise a whole tile.
const WHOLE_TILE: &[&str] = &[
    "st_summarystats",
    "st_count",
    "st_histogram",
    "st_quantile",
    "st_valuecount",
    "st_polygon",
    "st_dumpaspolygons",
    "st_pixelaspolygons",
];

/// A raster tile's metadata: one value per tile, whatever lies on it.
const TILE_METADATA: &[&str] = &[
    "st_pixelwidth",
    "st_pixelheight",
    "st_width",
    "st_height",
    "st_scalex",
    "st_scaley",
    "st_skewx",
    "st_skewy",
    "st_upperleftx",
    "st_upperlefty",
    "st_numbands",
    "st_metadata",
    "st_bandmetadata",
    "st_bandpixeltype",
    "st_bandnodatavalue",
];

/// Metric SRIDs the pack knows: its areas' and the `@metric_srid` domain's.
fn metric_srids(l: &Lint<'_>) -> BTreeSet<i32> {
    let mut s: BTreeSet<i32> = l.pack.data().areas.iter().map(|a| a.metric_srid).collect();
    for d in &l.pack.data().value_domains {
        if let ValueDomain::Enum { column, values } = d {
            if column == "@metric_srid" {
                s.extend(values.iter().filter_map(|v| v.as_i64()).map(|v| v as i32));
            }
        }
    }
    s
}

/// The upper end of a named quantity's range.
fn quantity_max(l: &Lint<'_>, name: &str) -> Option<f64> {
    l.pack.data().value_domains.iter().find_map(|d| match d {
        ValueDomain::Range { column, max, .. } if column == name => Some(*max),
        _ => None,
    })
}

/// The largest realistic join radius (twice the `@join_distance_m` maximum), if the pack
/// gives one.
fn join_radius_limit(l: &Lint<'_>) -> Option<f64> {
    l.pack.data().value_domains.iter().find_map(|d| match d {
        ValueDomain::Range { column, max, .. } if column == "@join_distance_m" => Some(2.0 * max),
        _ => None,
    })
}

pub(super) fn check(l: &mut Lint<'_>, lvl: &Level<'_>, e: &Expr, shape: &Shape) {
    let mut calls: Vec<&Expr> = Vec::new();
    for_each_local(e, &mut |x| {
        if matches!(x, Expr::Function(_)) {
            calls.push(x);
        }
    });
    for x in calls {
        call(l, lvl, x, shape);
    }
}

fn dim_name(d: u8) -> &'static str {
    match d {
        0 => "points",
        1 => "lines",
        _ => "polygons",
    }
}

fn call(l: &mut Lint<'_>, lvl: &Level<'_>, x: &Expr, shape: &Shape) {
    let Expr::Function(f) = x else { return };
    let pack = l.pack;
    let name = fn_name(f);
    let args = args_of(f);
    let geos: Vec<Option<Geo>> = args.iter().map(|a| geo_of(pack, lvl, a)).collect();
    let g0 = geos.first().copied().flatten();
    let g1 = geos.get(1).copied().flatten();
    let srid_arg = args.get(1).and_then(|a| number(a)).map(|v| v as i32);

    // S2: operations that change nothing or are constant.
    if let Some(g) = g0 {
        let noop = match name.as_str() {
            "st_npoints" | "st_numpoints" | "st_numgeometries" if g.single_point => {
                Some("is always 1 for a point")
            }
            "st_centroid" | "st_pointonsurface" | "st_envelope" | "st_convexhull"
            | "st_reverse" | "st_closestpoint"
                if g.single_point =>
            {
                Some("of a point is the point itself")
            }
            "st_isvalid" | "st_issimple" | "st_isvalidreason" | "st_makevalid"
                if g.single_point && !g.constant =>
            {
                Some("of a point column is the same for every row")
            }
            "st_exteriorring" if g.multi && !g.constant => {
                Some("of a multi-part column is NULL (it takes one polygon)")
            }
            "st_isvalid" if g.dim == Some(1) && !g.constant =>
            {
                Some("of a line column is the same for every row (a line is invalid only when it has collapsed to a point)")
            }

            "st_setsrid" | "st_transform" if g.srid.is_some() && g.srid == srid_arg => {
                Some("sets the SRID the value already has")
            }
            "st_force2d" if !g.z && g.dim.is_some() && !g.constant => {
                Some("of 2-D data changes nothing")
            }
            "st_area" if g.dim.is_some_and(|d| d < 2) => Some("of points or lines is always 0"),
            "st_perimeter" if g.dim.is_some_and(|d| d < 2) => {
                Some("of points or lines is always 0")
            }
            "st_length" if g.dim.is_some_and(|d| d != 1) && !g.geography => {
                Some("of points or polygons is always 0")
            }
            "st_x" | "st_y" | "st_area" | "st_length" | "st_perimeter" if g.constant => {
                Some("of a constant is a constant")
            }
            _ => None,
        };
        if let Some(why) = noop {
            l.flag(SenseCode::NoOp, format!("{name} {why}"), Some(x));
        }
    }
    if name == "st_buffer" && args.get(1).and_then(|a| number(a)) == Some(0.0) {
        l.flag(
            SenseCode::NoOp,
            "ST_Buffer by 0 changes nothing".into(),
            Some(x),
        );
    }

    // S7: degrees where metres are meant.
    if let Some((_, i)) = DISTANCE_ARGS.iter().find(|(n, _)| *n == name) {
        let g = g0;
        let in_degrees = g.is_some_and(|g| !g.geography && g.srid.is_some_and(geographic));
        if in_degrees && args.get(*i).is_some() {
            l.flag(
                SenseCode::UnitError,
                format!(
                    "{name} is given a distance in degrees (the geometry is in EPSG:{}): \
                     transform to a metric CRS or cast to geography",
                    g.and_then(|g| g.srid).unwrap_or(0)
                ),
                Some(x),
            );
        }
    }
    if matches!(name.as_str(), "st_simplify" | "st_simplifypreservetopology") {
        let metric =
            g0.is_some_and(|g| !g.geography && g.srid.is_some_and(|s| !geographic(s) && s != 0));
        let tol = args.get(1).and_then(|a| number(a));
        if let (true, Some(t), Some(max)) = (metric, tol, quantity_max(l, "@tolerance_m")) {
            if t > max {
                l.flag(
                    SenseCode::UnitError,
                    format!("a tolerance of {t} m erases the features (realistic tolerances are up to {max} m)"),
                    Some(x),
                );
            }
        }
    }
    if MEASURES.contains(&name.as_str()) {
        for g in geos.iter().flatten() {
            if let Some(s) = g.srid {
                if !g.geography && s == 3857 {
                    l.flag(
                        SenseCode::UnitError,
                        format!("{name} in EPSG:3857 (Web Mercator) overstates lengths and areas by about 1/cos(latitude)²"),
                        Some(x),
                    );
                }
            }
        }
    }
    if name == "st_transform" {
        if let Some(s) = srid_arg {
            let metric = metric_srids(l);
            let default = pack.data().default_srid;
            if s == 3857 || (!metric.contains(&s) && Some(s) != default && !geographic(s)) {
                l.flag(
                    SenseCode::UnitError,
                    format!("EPSG:{s} is not a metric CRS suited to the pack's areas"),
                    Some(x),
                );
            }
        }
    }

    // S8: predicates false by construction.
    if let (Some(a), Some(b)) = (g0, g1) {
        let (da, db) = (a.dim, b.dim);
        let false_by_dim = match (name.as_str(), da, db) {
            ("st_overlaps", Some(p), Some(q)) if p != q => true,
            ("st_equals", Some(p), Some(q)) if p != q => true,
            ("st_crosses", Some(p), Some(q)) if p == q && p != 1 => true,
            // A single point lies inside or outside the other, never partly.
            ("st_crosses", _, _) if a.single_point || b.single_point => true,
            ("st_touches", Some(0), Some(0)) => true,
            ("st_within" | "st_coveredby", Some(p), Some(q)) if p > q => true,
            ("st_contains" | "st_covers" | "st_containsproperly", Some(p), Some(q)) if p < q => {
                true
            }
            _ => false,
        };
        if false_by_dim {
            l.flag(
                SenseCode::AlwaysFalsePredicate,
                format!(
                    "{name} between {} and {} is always false",
                    dim_name(da.unwrap_or(2)),
                    dim_name(db.unwrap_or(2))
                ),
                Some(x),
            );
        }
        if matches!(name.as_str(), "st_touches" | "st_crosses" | "st_overlaps")
            && (a.boxy && a.constant || b.boxy && b.constant)
        {
            l.flag(
                SenseCode::AlwaysFalsePredicate,
                format!("{name} against a search box asks about its edges, not what lies in it"),
                Some(x),
            );
        }
    }

    // S3: aggregates that mean nothing.
    if matches!(name.as_str(), "min" | "max" | "sum" | "avg") && f.over.is_none() {
        // Extremes and averages of a coordinate, a vertex or part count or an SRID: the
        // smallest centroid longitude of a group is no property of it.
        if let Some(Expr::Function(inner)) = args.first().copied().map(strip) {
            let n = super::fn_name(inner);
            if matches!(
                n.as_str(),
                "st_x"
                    | "st_y"
                    | "st_z"
                    | "st_npoints"
                    | "st_numpoints"
                    | "st_numgeometries"
                    | "st_nrings"
                    | "st_srid"
                    | "st_ndims"
                    | "st_zmflag"
                    | "st_azimuth"
            ) {
                l.flag(
                    SenseCode::MeaninglessAggregate,
                    format!(
                        "{}({n}(…)) is no property of the group",
                        name.to_uppercase()
                    ),
                    Some(x),
                );
            }
        }
    }
    if matches!(name.as_str(), "count" | "sum" | "avg") {
        let arg = args.first().copied();
        if name == "count" && distinct_args(f) {
            // Distinct names or quantities: a count of spellings or of values, not of rows.
            if let Some(c) = arg.and_then(|a| lvl.column(pack, a)) {
                let (role, _) = column_role(l, &c.table, &c.column);
                if matches!(role, Some(ColumnRole::Name | ColumnRole::Measure)) {
                    l.flag(
                        SenseCode::MeaninglessAggregate,
                        format!(
                            "COUNT(DISTINCT {}.{}) counts distinct values, not the rows they name",
                            c.alias, c.column
                        ),
                        Some(x),
                    );
                }
            }
            if let Some(Expr::Function(inner)) = arg {
                if g0.is_some() || super::fn_name(inner).starts_with("st_") && g0.is_some() {
                    l.flag(
                        SenseCode::MeaninglessAggregate,
                        format!(
                            "COUNT(DISTINCT {}(…)) counts distinct computed shapes",
                            super::fn_name(inner)
                        ),
                        Some(x),
                    );
                }
            }
        }
        if name == "sum" {
            if let Some(Expr::Function(inner)) = arg.map(strip) {
                let n = super::fn_name(inner);
                if matches!(
                    n.as_str(),
                    "st_distance" | "st_distancesphere" | "st_maxdistance"
                ) {
                    l.flag(
                        SenseCode::MeaninglessAggregate,
                        format!("SUM({n}(…)) adds up distances"),
                        Some(x),
                    );
                }
            }
        }
        if matches!(name.as_str(), "sum" | "avg") {
            if let Some(c) = arg.and_then(|a| lvl.column(pack, a)) {
                let (role, additive) = column_role(l, &c.table, &c.column);
                let why = match role {
                    Some(ColumnRole::Key | ColumnRole::Code | ColumnRole::Category) => {
                        Some("of a key, code or category")
                    }
                    Some(ColumnRole::Measure) if name == "sum" && !additive => {
                        Some("adds up a measure whose sum means nothing (the pack: not additive)")
                    }
                    _ => None,
                };
                if let Some(why) = why {
                    l.flag(
                        SenseCode::MeaninglessAggregate,
                        format!("{}({}.{}) {why}", name.to_uppercase(), c.alias, c.column),
                        Some(x),
                    );
                }
            }
        }
    }

    // S5: a distance between geometries the query makes intersect; district-wide joins.
    if matches!(name.as_str(), "st_distance" | "st_distancesphere") && args.len() >= 2 {
        let a = columns_in(l, lvl, args[0]);
        let b = columns_in(l, lvl, args[1]);
        if !a.is_empty()
            && !b.is_empty()
            && a != b
            && (related_by_intersection(l, lvl, &a, &b)
                || related_by_containing_key(l, lvl, &a, &b))
        {
            l.flag(
                SenseCode::IncoherentAnalysis,
                "the distance between geometries the query already makes intersect is always 0"
                    .into(),
                Some(x),
            );
        }
    }
    // S5: what lies outside a small literal shape, in every area of the data: the rows of
    // every other city. Scoped to one area (a municipality, a project) it is a question.
    if name == "st_disjoint"
        && geos.iter().any(|g| g.is_some_and(|g| g.constant))
        && !scoped_to_area(l, lvl)
    {
        l.flag(
            SenseCode::IncoherentAnalysis,
            "ST_Disjoint from a literal shape with no area filter keeps every row of every other area"
                .into(),
            Some(x),
        );
    }
    if name == "st_dwithin" && args.len() >= 3 {
        let mut a = BTreeSet::new();
        let mut b = BTreeSet::new();
        lvl.aliases_in(pack, args[0], &mut a);
        lvl.aliases_in(pack, args[1], &mut b);
        let between_relations = !a.is_empty() && !b.is_empty() && a != b;
        if let (true, Some(r), Some(limit)) =
            (between_relations, number(args[2]), join_radius_limit(l))
        {
            let metres = g0.is_some_and(|g| g.geography)
                || g0.is_some_and(|g| g.srid.is_some_and(|s| !geographic(s)));
            if metres && r > limit {
                l.flag(
                    SenseCode::WideDistanceJoin,
                    format!(
                        "a distance join within {r} m pairs each row with most of a district \
                         (realistic radii are up to {limit} m)"
                    ),
                    Some(x),
                );
            }
        }
    }

    // S9: clustering.
    if matches!(
        name.as_str(),
        "st_clusterdbscan"
            | "st_clusterkmeans"
            | "st_clusterwithinwin"
            | "st_clusterintersectingwin"
    ) && f.over.is_some()
        && lvl.rels.len() > 1
        && clustered_repeated(l, lvl, &args, shape)
    {
        l.flag(
            SenseCode::ClusteringMisuse,
            format!("{name} over join results clusters repeated copies of the same geometries"),
            Some(x),
        );
    }
    if name == "st_clusterkmeans" {
        if let Some(k) = args.get(1).and_then(|a| number(a)) {
            let few = lvl.rels.first().and_then(|r| {
                let t = lvl.base_table(pack, r)?;
                let pins = super::grouping::pinned_columns(l, lvl, r);
                table_rows(l, &t, &pins)
            });
            if few.is_some_and(|n| k > n as f64) {
                l.flag(
                    SenseCode::ClusteringMisuse,
                    format!(
                        "K-means with {k} clusters over a table of about {} rows",
                        few.unwrap_or(0)
                    ),
                    Some(x),
                );
            }
        }
    }

    // S10: rasters.
    if TILE_METADATA.contains(&name.as_str())
        && g0.is_some_and(|g| g.raster)
        && lvl.rels.len() > 1
        && has_vector(l, lvl)
    {
        l.flag(
            SenseCode::RasterMisuse,
            format!("{name} is the tile's metadata, the same for every joined row on the tile: a value under the geometry (ST_Value, clipped statistics) is what a joined row has"),
            Some(x),
        );
    }
    if WHOLE_TILE.contains(&name.as_str()) {
        if let Some(g) = g0.filter(|g| g.raster && !g.clipped) {
            let _ = g;
            if matches!(
                name.as_str(),
                "st_polygon" | "st_dumpaspolygons" | "st_pixelaspolygons"
            ) {
                l.flag(
                    SenseCode::RasterMisuse,
                    format!("{name} of a whole raster tile vectorises every pixel; ST_Envelope or ST_ConvexHull gives its outline, ST_Clip the part under a geometry"),
                    Some(x),
                );
            } else if lvl.rels.len() > 1 && has_vector(l, lvl) {
                l.flag(
                    SenseCode::RasterMisuse,
                    format!("{name} of the whole tile once per joined row: clip the raster to the row's geometry"),
                    Some(x),
                );
            }
        }
    }
}

/// Whether a clustering call's geometry comes from a relation the joins repeat.
fn clustered_repeated(l: &Lint<'_>, lvl: &Level<'_>, args: &[&Expr], shape: &Shape) -> bool {
    let mut a = BTreeSet::new();
    if let Some(g) = args.first() {
        lvl.aliases_in(l.pack, g, &mut a);
    }
    lvl.rels
        .iter()
        .enumerate()
        .any(|(i, r)| a.contains(&r.alias) && shape.repeated[i])
}

/// A raster-stat record selected whole where one of its values is meant.
pub(super) fn whole_records(l: &mut Lint<'_>, lvl: &Level<'_>) {
    for item in &lvl.select.projection {
        let (SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. }) = item else {
            continue;
        };
        if let Expr::Function(f) = strip(e) {
            if fn_name(f) == "st_summarystats" {
                l.flag(
                    SenseCode::RasterMisuse,
                    "a whole ST_SummaryStats record where one value (mean, max…) is meant".into(),
                    Some(e),
                );
            }
        }
    }
}

pub(super) fn strip(e: &Expr) -> &Expr {
    match e {
        Expr::Nested(x) => strip(x),
        Expr::Cast { expr, .. } => strip(expr),
        _ => e,
    }
}

/// The pack's role of `table.column` (declared or inferred) and whether its sum means
/// something.
pub(super) fn column_role(l: &Lint<'_>, table: &str, column: &str) -> (Option<ColumnRole>, bool) {
    let (schema, name) = table.split_once('.').unwrap_or(("", table));
    match l.pack.table(schema, name) {
        Some(info) => (info.role(column), info.additive.iter().any(|c| c == column)),
        None => (None, false),
    }
}

/// Relations of the level with a geometry column.
fn has_vector(l: &Lint<'_>, lvl: &Level<'_>) -> bool {
    lvl.rels.iter().any(|r| {
        lvl.base_table(l.pack, r).is_some_and(|t| {
            let (schema, name) = t.split_once('.').unwrap_or(("", &t));
            l.pack.table(schema, name).is_some_and(|info| {
                info.columns
                    .iter()
                    .any(|(_, ty)| matches!(ty, crate::sql::types::SqlType::Geometry(_)))
            })
        })
    })
}

/// Rows a table has in the pack's small sample database, when the pack says so exactly
/// (`per_area` tables: one per area and combination of the `for_each` columns' values).
fn table_rows(l: &Lint<'_>, table: &str, pinned: &BTreeSet<String>) -> Option<usize> {
    let d = l.pack.data();
    let fill = d
        .sample_data
        .as_ref()?
        .tables
        .iter()
        .find(|t| t.table == table)?;
    let crate::pack::RowSource::PerArea(src) = &fill.rows else {
        return None;
    };
    let areas = d.areas.iter().filter(|a| a.fills(table)).count();
    let one_area = pinned
        .iter()
        .any(|c| d.areas.iter().any(|a| a.value(table, c).is_some()));
    let mut n = if one_area { 1 } else { areas };
    for c in src.for_each.iter().filter(|c| !pinned.contains(*c)) {
        let key = format!("{table}.{c}");
        let values = d.value_domains.iter().find_map(|v| match v {
            ValueDomain::Enum { column, values } if *column == key => Some(values.len()),
            _ => None,
        })?;
        n *= values;
    }
    Some(n)
}

/// Whether the level keeps one area of the data: a column an area fixes (a project, a
/// network, a municipality) pinned to a value, or a positive test against a literal shape.
fn scoped_to_area(l: &Lint<'_>, lvl: &Level<'_>) -> bool {
    let pinned = super::grouping::pinned(l, lvl).into_iter().any(|c| {
        c.table
            .split_once('.')
            .and_then(|(s, t)| l.pack.table(s, t))
            .is_some_and(|info| info.area_bound.contains(&c.column))
    });
    pinned
        || lvl.conditions().into_iter().any(|c| {
            let Expr::Function(f) = c else { return false };
            matches!(
                fn_name(f).as_str(),
                "st_intersects"
                    | "st_dwithin"
                    | "st_within"
                    | "st_coveredby"
                    | "st_contains"
                    | "st_covers"
            ) && args_of(f)
                .iter()
                .any(|a| geo_of(l.pack, lvl, a).is_some_and(|g| g.constant))
        })
}

/// Whether two single-relation geometries are tied by the level's key joins so that they
/// meet: a path of key joins (not cross products) with one the pack says nests one side in
/// the other (`left_within_right`, `right_within_left`: a building in its census section; a
/// building's cached height of a project whose boundary holds it).
fn related_by_containing_key(
    l: &Lint<'_>,
    lvl: &Level<'_>,
    a: &BTreeSet<(String, String)>,
    b: &BTreeSet<(String, String)>,
) -> bool {
    let (Some((aa, _)), Some((ba, _))) = (a.iter().next(), b.iter().next()) else {
        return false;
    };
    if a.len() != 1 || b.len() != 1 || aa == ba {
        return false;
    }
    let table = |x: &str| lvl.rel(x).and_then(|r| lvl.base_table(l.pack, r));
    // A nesting join holds the other side in this endpoint's geometry only when that
    // geometry is an area (a project's centre holds nothing).
    let areal = |alias: &str, column: &str| {
        table(alias)
            .and_then(|t| {
                let ty = super::geo::column_type(l.pack, &t, column)?;
                super::geo::from_type_name(l.pack, &t, column, ty)
            })
            .is_none_or(|g| g.dim.is_none_or(|d| d == 2))
    };
    let holds = |alias: &str| {
        (alias != aa || areal(aa, &a.iter().next().expect("one").1))
            && (alias != ba || areal(ba, &b.iter().next().expect("one").1))
    };
    // (alias, alias, nests) for every equality the pack declares a key join.
    let mut links: Vec<(String, String, bool)> = Vec::new();
    for c in lvl.conditions() {
        let Expr::BinaryOp {
            left,
            op: sqlparser::ast::BinaryOperator::Eq,
            right,
        } = c
        else {
            continue;
        };
        let (Some(x), Some(y)) = (lvl.column(l.pack, left), lvl.column(l.pack, right)) else {
            continue;
        };
        let (Some(tx), Some(ty)) = (table(&x.alias), table(&y.alias)) else {
            continue;
        };
        let joins = &l.pack.data().joins;
        let edge = joins.iter().find(|j| {
            j.kind == JoinKind::Key
                && j.cardinality != Some(crate::pack::Cardinality::ManyToMany)
                && ((j.left == tx
                    && j.right == ty
                    && j.left_columns.contains(&x.column)
                    && j.right_columns.contains(&y.column))
                    || (j.left == ty
                        && j.right == tx
                        && j.left_columns.contains(&y.column)
                        && j.right_columns.contains(&x.column)))
        });
        if let Some(j) = edge {
            // The alias whose row holds the other's.
            let holder = if j.left_within_right == (j.left == tx) {
                &y.alias
            } else {
                &x.alias
            };
            let nests = (j.left_within_right || j.right_within_left) && holds(holder);
            links.push((x.alias, y.alias, nests));
        }
    }
    let links: Vec<(&str, &str, bool)> = links
        .iter()
        .map(|(x, y, n)| (x.as_str(), y.as_str(), *n))
        .collect();
    crate::pack::tied_by_nesting(&links, aa, ba)
}

/// The (alias, column) pairs an expression reads at this level.
fn columns_in(l: &Lint<'_>, lvl: &Level<'_>, e: &Expr) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for_each_local(e, &mut |x| {
        if matches!(x, Expr::Identifier(_) | Expr::CompoundIdentifier(_)) {
            if let Some(c) = lvl.column(l.pack, x) {
                out.insert((c.alias, c.column));
            }
        }
    });
    out
}

/// Whether the level relates the geometries `a` and `b` by an intersection-type predicate.
fn related_by_intersection(
    l: &Lint<'_>,
    lvl: &Level<'_>,
    a: &BTreeSet<(String, String)>,
    b: &BTreeSet<(String, String)>,
) -> bool {
    lvl.conditions().into_iter().any(|c| {
        let Expr::Function(f) = c else { return false };
        let n = fn_name(f);
        // Every predicate that implies the two share a point.
        if !matches!(
            n.as_str(),
            "st_intersects"
                | "st_within"
                | "st_contains"
                | "st_covers"
                | "st_coveredby"
                | "st_crosses"
                | "st_touches"
                | "st_overlaps"
                | "st_equals"
        ) {
            return false;
        }
        let args = args_of(f);
        if args.len() < 2 {
            return false;
        }
        let x = columns_in(l, lvl, args[0]);
        let y = columns_in(l, lvl, args[1]);
        (x == *a && y == *b) || (x == *b && y == *a)
    })
}

/// S2: repairing or explaining the validity of a geometry the WHERE clause already keeps
/// valid (`WHERE ST_IsValid(g)` beside `ST_MakeValid(g)` or `ST_IsValidReason(g)`), or
/// reporting the validity it fixes (`ST_IsValid(g)` beside `WHERE [NOT] ST_IsValid(g)`).
pub(super) fn validity_fixed_by_filter(l: &mut Lint<'_>, lvl: &Level<'_>) {
    let Some(w) = &lvl.select.selection else {
        return;
    };
    // (argument, kept valid) of every `[NOT] ST_IsValid(arg)` conjunct.
    let mut fixed: Vec<(String, bool)> = Vec::new();
    for c in super::scope::conjuncts(w) {
        let (inner, valid) = match strip(c) {
            Expr::UnaryOp {
                op: sqlparser::ast::UnaryOperator::Not,
                expr,
            } => (strip(expr), false),
            other => (other, true),
        };
        if let Expr::Function(f) = inner {
            if fn_name(f) == "st_isvalid" {
                if let [arg] = args_of(f).as_slice() {
                    fixed.push((arg.to_string(), valid));
                }
            }
        }
    }
    if fixed.is_empty() {
        return;
    }
    for item in &lvl.select.projection {
        let (SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. }) = item else {
            continue;
        };
        for_each_local(e, &mut |x| {
            let Expr::Function(f) = x else { return };
            let name = fn_name(f);
            let args = args_of(f);
            let [arg] = args.as_slice() else {
                return;
            };
            let text = arg.to_string();
            let Some((_, valid)) = fixed.iter().find(|(a, _)| *a == text) else {
                return;
            };
            let why = match (name.as_str(), valid) {
                ("st_makevalid", true) => "ST_MakeValid of a geometry the WHERE clause keeps valid",
                ("st_isvalidreason", true) => {
                    "ST_IsValidReason of a geometry the WHERE clause keeps valid"
                }
                ("st_isvalid", _) => {
                    "ST_IsValid of a geometry whose validity the WHERE clause fixes"
                }
                _ => return,
            };
            l.flag(SenseCode::NoOp, why.into(), Some(x));
        });
    }
}

/// S2 / S3: one thing said twice in the outputs: two validity reports of one geometry
/// (`ST_IsValid`, `ST_IsValidReason`, `ST_MakeValid`), or its union beside its collection
/// (`ST_Union` and `ST_Collect` of the same rows).
pub(super) fn said_twice(l: &mut Lint<'_>, lvl: &Level<'_>) {
    let mut validity: Vec<String> = Vec::new();
    let mut merged: Vec<(String, String)> = Vec::new();
    for item in &lvl.select.projection {
        let (SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. }) = item else {
            continue;
        };
        let Expr::Function(f) = strip(e) else {
            continue;
        };
        let name = fn_name(f);
        let args = args_of(f);
        let [arg] = args.as_slice() else {
            continue;
        };
        let text = arg.to_string();
        match name.as_str() {
            "st_isvalid" | "st_isvalidreason" | "st_makevalid" => {
                if validity.contains(&text) {
                    l.flag(
                        SenseCode::NoOp,
                        format!("two validity reports of {text}"),
                        Some(e),
                    );
                }
                validity.push(text);
            }
            "st_union" | "st_collect" => {
                if merged.iter().any(|(n, a)| *a == text && *n != name) {
                    l.flag(
                        SenseCode::MeaninglessAggregate,
                        format!("ST_Union and ST_Collect of the same {text}"),
                        Some(e),
                    );
                }
                merged.push((name, text));
            }
            _ => {}
        }
    }
    // COUNT(DISTINCT b.building_id) beside COUNT(DISTINCT bp.building_id) with the join
    // equating the two: one count said twice.
    let mut equal: Vec<(super::scope::ColRef, super::scope::ColRef)> = Vec::new();
    for r in &lvl.rels {
        if let Some(on) = r.on {
            equal.extend(lvl.column_equalities(l.pack, on));
        }
    }
    // The column that identifies an entity (a building id) in two joined relations whose
    // rows are that entity's (a building and its property records): the same ids.
    let entity = |c: &super::scope::ColRef| {
        c.table
            .split_once('.')
            .and_then(|(s, n)| l.pack.table(s, n))
            .is_some_and(|t| t.entity == [c.column.clone()])
    };
    let joined = |a: &str, b: &str| {
        equal
            .iter()
            .any(|(x, y)| (x.alias == a && y.alias == b) || (x.alias == b && y.alias == a))
    };
    let same = |a: &super::scope::ColRef, b: &super::scope::ColRef| {
        a == b
            || equal
                .iter()
                .any(|(x, y)| (x == a && y == b) || (x == b && y == a))
            || (a.column == b.column && entity(a) && entity(b) && joined(&a.alias, &b.alias))
    };
    let mut counted: Vec<super::scope::ColRef> = Vec::new();
    for e in super::scope::item_exprs(lvl.select) {
        let Expr::Function(f) = strip(e) else {
            continue;
        };
        if fn_name(f) != "count" || !distinct_args(f) || f.over.is_some() {
            continue;
        }
        let Some(c) = args_of(f).first().and_then(|a| lvl.column(l.pack, a)) else {
            continue;
        };
        if counted.iter().any(|k| same(k, &c)) {
            l.flag(
                SenseCode::MeaninglessAggregate,
                format!(
                    "COUNT(DISTINCT {}.{}) counts what another output already counts: the join equates them",
                    c.alias, c.column
                ),
                Some(e),
            );
        }
        counted.push(c);
    }
}

/// The unit the pack gives `table.column` (`schema.table`), when it gives one.
pub(super) fn column_unit<'p>(l: &Lint<'p>, table: &str, column: &str) -> Option<&'p str> {
    let (schema, name) = table.split_once('.')?;
    l.pack
        .data()
        .schemas
        .iter()
        .find(|s| s.name == schema)?
        .tables
        .iter()
        .find(|t| t.name == name)?
        .columns
        .iter()
        .find(|c| c.name == column)?
        .unit
        .as_deref()
}

/// S7: a measure compared with a subquery's aggregate of a measure in another unit
/// ("gross floor area above the average height").
pub(super) fn compared_units(l: &mut Lint<'_>, lvl: &Level<'_>) {
    let mut conds: Vec<&Expr> = Vec::new();
    if let Some(w) = &lvl.select.selection {
        conds.push(w);
    }
    if let Some(h) = &lvl.select.having {
        conds.push(h);
    }
    let mut hits: Vec<(String, &Expr)> = Vec::new();
    for c in conds {
        super::scope::for_each_local(c, &mut |x| {
            let Expr::BinaryOp { left, op, right } = x else {
                return;
            };
            use sqlparser::ast::BinaryOperator as B;
            if !matches!(op, B::Gt | B::Lt | B::GtEq | B::LtEq | B::Eq | B::NotEq) {
                return;
            }
            for (a, b) in [(left, right), (right, left)] {
                let Expr::Subquery(q) = strip(b) else {
                    continue;
                };
                let Some(outer) = measured_column(l, lvl, a) else {
                    continue;
                };
                let Some(sel) = super::scope::single_select(q) else {
                    continue;
                };
                let ctes = super::scope::own_ctes(q);
                let inner = Level::new(l.pack, sel, &ctes);
                let [item] = sel.projection.as_slice() else {
                    continue;
                };
                let (sqlparser::ast::SelectItem::UnnamedExpr(e)
                | sqlparser::ast::SelectItem::ExprWithAlias { expr: e, .. }) = item
                else {
                    continue;
                };
                let e = match strip(e) {
                    Expr::Function(f)
                        if matches!(fn_name(f).as_str(), "avg" | "min" | "max" | "sum") =>
                    {
                        match args_of(f).first() {
                            Some(a) => *a,
                            None => continue,
                        }
                    }
                    other => other,
                };
                let Some(theirs) = measured_column(l, &inner, e) else {
                    continue;
                };
                if outer.1 != theirs.1 {
                    hits.push((
                        format!(
                            "{} ({}) is compared with a subquery over {} ({}): different units",
                            outer.0,
                            outer.1.unwrap_or("no unit"),
                            theirs.0,
                            theirs.1.unwrap_or("no unit")
                        ),
                        x,
                    ));
                }
            }
        });
    }
    if let Some((m, at)) = hits.into_iter().next() {
        l.flag(SenseCode::UnitError, m, Some(at));
    }
}

/// A measure column `e` reads, named `table.column`, with its unit.
fn measured_column<'p>(
    l: &Lint<'p>,
    lvl: &Level<'_>,
    e: &Expr,
) -> Option<(String, Option<&'p str>)> {
    let c = lvl.column(l.pack, strip(e))?;
    let (role, _) = column_role(l, &c.table, &c.column);
    if role != Some(ColumnRole::Measure) {
        return None;
    }
    Some((
        format!("{}.{}", c.alias, c.column),
        column_unit(l, &c.table, &c.column),
    ))
}

/// S2: a row-level output telling whether each row's geometry meets one literal point
/// (`ST_Intersects(cg.geometry, 'POINT(…)') AS near_point` over a region's sections):
/// false on every row but the one or two the point falls in. Such a test belongs in the
/// WHERE clause.
pub(super) fn point_test_outputs(l: &mut Lint<'_>, lvl: &Level<'_>) {
    let grouped = !matches!(&lvl.select.group_by, sqlparser::ast::GroupByExpr::Expressions(g, _) if g.is_empty());
    if grouped {
        return;
    }
    for e in super::scope::item_exprs(lvl.select) {
        let Expr::Function(f) = strip(e) else {
            continue;
        };
        let name = fn_name(f);
        if !matches!(
            name.as_str(),
            "st_intersects"
                | "st_contains"
                | "st_within"
                | "st_covers"
                | "st_coveredby"
                | "st_touches"
                | "st_equals"
                | "st_crosses"
                | "st_overlaps"
        ) {
            continue;
        }
        let geos: Vec<Option<Geo>> = args_of(f).iter().map(|a| geo_of(l.pack, lvl, a)).collect();
        let point = geos.iter().flatten().any(|g| g.constant && g.single_point);
        let column = geos.iter().flatten().any(|g| !g.constant);
        if point && column {
            l.flag(
                SenseCode::ConstantOutput,
                format!(
                    "{} of each row with one literal point is false on all rows but the few the point falls in: a test for the WHERE clause",
                    name.to_uppercase()
                ),
                Some(e),
            );
        }
    }
}
