//! What the sense lints know about a geometry-valued expression: its dimension (0 point,
//! 1 line, 2 polygon), whether it is a single point, its SRID, whether it has Z, whether it
//! is a constant (built from literals only) or a search box, and whether it is a geography.

use sqlparser::ast::{Expr, Value};

use super::scope::Level;
use super::{args_of, fn_name, number};
use crate::pack::SchemaPack;

/// A geometry value's shape, as far as the query text tells.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(super) struct Geo {
    /// Topological dimension, when known.
    pub dim: Option<u8>,
    /// Exactly one point (not a multipoint).
    pub single_point: bool,
    /// A column of a multi-part subtype (`MultiPolygon`…): functions of one part
    /// (`ST_ExteriorRing`) return NULL on it.
    pub multi: bool,
    /// SRID, when known.
    pub srid: Option<i32>,
    /// Has a Z coordinate.
    pub z: bool,
    /// Built from literals only (no column).
    pub constant: bool,
    /// An axis-aligned search box (`ST_MakeEnvelope`, `ST_Expand`, `ST_Envelope`).
    pub boxy: bool,
    /// A geography (metres, not degrees).
    pub geography: bool,
    /// A raster.
    pub raster: bool,
    /// A raster clipped to a geometry.
    pub clipped: bool,
}

/// The declared SQL type of a base-table column, as written in the pack.
pub(super) fn column_type<'p>(pack: &'p SchemaPack, table: &str, column: &str) -> Option<&'p str> {
    let (schema, name) = table.split_once('.')?;
    pack.data()
        .schemas
        .iter()
        .find(|s| s.name == schema)?
        .tables
        .iter()
        .find(|t| t.name == name)?
        .columns
        .iter()
        .find(|c| c.name == column)
        .map(|c| c.sql_type.as_str())
}

fn from_subtype(sub: &str) -> (Option<u8>, bool, bool) {
    let s = sub.trim().to_ascii_lowercase();
    let z = s.ends_with('z') || s.ends_with("zm");
    let base = s.trim_end_matches('m').trim_end_matches('z');
    let (dim, single) = match base {
        "point" => (Some(0), true),
        "multipoint" => (Some(0), false),
        "linestring" | "multilinestring" => (Some(1), false),
        "polygon" | "multipolygon" => (Some(2), false),
        _ => (None, false),
    };
    (dim, single, z)
}

/// `geometry(Polygon,4326)` → its shape.
pub(super) fn from_type_name(
    pack: &SchemaPack,
    table: &str,
    column: &str,
    ty: &str,
) -> Option<Geo> {
    let t = ty.trim().to_ascii_lowercase();
    if t == "raster" {
        return Some(Geo {
            raster: true,
            ..Geo::default()
        });
    }
    let geography = t.starts_with("geography");
    if !(t.starts_with("geometry") || geography) {
        return None;
    }
    let inner = t
        .split_once('(')
        .map(|(_, r)| r.trim_end_matches(')'))
        .unwrap_or("");
    let mut parts = inner.split(',');
    let sub = parts.next().unwrap_or("").trim();
    let srid = parts.next().and_then(|s| s.trim().parse::<i32>().ok());
    let (mut dim, mut single, z) = from_subtype(sub);
    let multi = sub.trim().to_ascii_lowercase().starts_with("multi");
    if dim.is_none() {
        // A generic column: the subtypes it holds, when the pack says.
        let content = pack
            .data()
            .schemas
            .iter()
            .flat_map(|s| s.tables.iter().map(move |t| (s, t)))
            .find(|(s, t)| format!("{}.{}", s.name, t.name) == table)
            .and_then(|(_, t)| t.columns.iter().find(|c| c.name == column))
            .and_then(|c| c.geometry_content.clone())
            .unwrap_or_default();
        let dims: Vec<(Option<u8>, bool, bool)> = content.iter().map(|c| from_subtype(c)).collect();
        if let Some(first) = dims.first() {
            if dims.iter().all(|d| d.0 == first.0) {
                dim = first.0;
                single = dims.iter().all(|d| d.1);
            }
        }
    }
    Some(Geo {
        dim,
        single_point: single,
        multi,
        srid: srid.or(if geography { Some(4326) } else { None }),
        z,
        geography,
        ..Geo::default()
    })
}

fn int_arg(e: Option<&Expr>) -> Option<i32> {
    number(e?).map(|v| v as i32)
}

/// The shape of a geometry / raster expression, when the text tells.
pub(super) fn geo_of(pack: &SchemaPack, lvl: &Level<'_>, e: &Expr) -> Option<Geo> {
    match e {
        Expr::Nested(x) => geo_of(pack, lvl, x),
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => {
            let c = lvl.column(pack, e)?;
            let ty = column_type(pack, &c.table, &c.column)?;
            from_type_name(pack, &c.table, &c.column, ty)
        }
        Expr::Cast {
            expr, data_type, ..
        } => {
            let to = data_type.to_string().to_ascii_lowercase();
            let inner = geo_of(pack, lvl, expr);
            if to.starts_with("geography") {
                Some(Geo {
                    geography: true,
                    srid: Some(4326),
                    ..inner.unwrap_or_default()
                })
            } else if to.starts_with("geometry") {
                Some(Geo {
                    geography: false,
                    ..inner.unwrap_or_default()
                })
            } else {
                None
            }
        }
        Expr::Function(f) => {
            let name = fn_name(f);
            let args = args_of(f);
            let a0 = args.first().and_then(|a| geo_of(pack, lvl, a));
            let all_literal = || args.iter().all(|a| matches!(a, Expr::Value(_)));
            let point = |srid: Option<i32>, constant: bool| Geo {
                dim: Some(0),
                single_point: true,
                srid,
                constant,
                ..Geo::default()
            };
            match name.as_str() {
                "st_makepoint" => Some(point(Some(0), all_literal())),
                "st_point" => Some(point(
                    int_arg(args.get(2).copied()).or(Some(0)),
                    all_literal(),
                )),
                "st_geomfromtext" | "st_geometryfromtext" | "st_geomfromewkt" => {
                    let wkt = match args.first() {
                        Some(Expr::Value(v)) => match &v.value {
                            Value::SingleQuotedString(s) => s.to_ascii_uppercase(),
                            _ => String::new(),
                        },
                        _ => String::new(),
                    };
                    let srid = int_arg(args.get(1).copied()).or(Some(0));
                    let constant = all_literal();
                    let sub = wkt.split('(').next().unwrap_or("").trim().to_string();
                    let (dim, single, z) = from_subtype(&sub);
                    Some(Geo {
                        dim,
                        single_point: single,
                        srid,
                        z,
                        constant,
                        ..Geo::default()
                    })
                }
                "st_geomfromgeojson" => Some(Geo {
                    constant: all_literal(),
                    ..Geo::default()
                }),
                "st_makeenvelope" => Some(Geo {
                    dim: Some(2),
                    srid: int_arg(args.get(4).copied()).or(Some(0)),
                    constant: all_literal(),
                    boxy: true,
                    ..Geo::default()
                }),
                "st_setsrid" => Some(Geo {
                    srid: int_arg(args.get(1).copied()),
                    ..a0.unwrap_or_default()
                }),
                "st_transform" => Some(Geo {
                    srid: int_arg(args.get(1).copied()),
                    geography: false,
                    ..a0.unwrap_or_default()
                }),
                "st_centroid" | "st_pointonsurface" | "st_startpoint" | "st_endpoint"
                | "st_closestpoint" | "st_geometricmedian" => Some(Geo {
                    dim: Some(0),
                    single_point: true,
                    boxy: false,
                    ..a0.unwrap_or_default()
                }),
                "st_buffer" => Some(Geo {
                    dim: Some(2),
                    single_point: false,
                    boxy: false,
                    ..a0.unwrap_or_default()
                }),
                "st_envelope" | "st_expand" => Some(Geo {
                    dim: if a0.is_some_and(|g| g.single_point) && name == "st_envelope" {
                        Some(0)
                    } else {
                        Some(2)
                    },
                    boxy: true,
                    single_point: false,
                    ..a0.unwrap_or_default()
                }),
                "st_convexhull" | "st_concavehull" | "st_orientedenvelope" => Some(Geo {
                    dim: None,
                    boxy: false,
                    single_point: false,
                    ..a0.unwrap_or_default()
                }),
                "st_exteriorring" | "st_boundary" => Some(Geo {
                    dim: a0.and_then(|g| g.dim).map(|d| d.saturating_sub(1)),
                    single_point: false,
                    boxy: false,
                    ..a0.unwrap_or_default()
                }),
                "st_force2d" => Some(Geo {
                    z: false,
                    ..a0.unwrap_or_default()
                }),
                "st_force3d" | "st_force3dz" => Some(Geo {
                    z: true,
                    ..a0.unwrap_or_default()
                }),
                "st_simplify"
                | "st_simplifypreservetopology"
                | "st_snaptogrid"
                | "st_translate"
                | "st_scale"
                | "st_rotate"
                | "st_makevalid"
                | "st_reverse"
                | "st_segmentize"
                | "st_normalize"
                | "st_multi" => Some(Geo {
                    boxy: false,
                    single_point: a0.is_some_and(|g| g.single_point) && name != "st_multi",
                    ..a0.unwrap_or_default()
                }),
                "st_union" | "st_collect" | "st_intersection" | "st_difference"
                | "st_symdifference" | "st_unaryunion" => Some(Geo {
                    dim: if name == "st_intersection" {
                        None
                    } else {
                        a0.and_then(|g| g.dim)
                    },
                    srid: a0.and_then(|g| g.srid),
                    ..Geo::default()
                }),
                "st_clip" => Some(Geo {
                    raster: true,
                    clipped: true,
                    ..Geo::default()
                }),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Whether an SRID measures in degrees (a geographic CRS: WGS 84, ETRS89, NAD83, ED50…).
pub(super) fn geographic(srid: i32) -> bool {
    matches!(srid, 4326 | 4258 | 4269 | 4230 | 4283 | 4674 | 4617 | 4171)
}
