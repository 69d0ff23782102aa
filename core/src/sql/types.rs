//! A small type system for PostgreSQL + PostGIS: enough to resolve function overloads,
//! check comparisons and carry geometry subtype and SRID through expressions.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Broad shape of the geometries a value may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GeomKind {
    /// Points / multipoints.
    Puntal,
    /// Lines / multilines.
    Lineal,
    /// Polygons / multipolygons.
    Polygonal,
    /// Unknown or mixed.
    Any,
}

impl GeomKind {
    /// From a PostGIS subtype name (`Point`, `MultiPolygon`, `Geometry`, ...).
    pub fn from_subtype(name: &str) -> GeomKind {
        match name.to_ascii_lowercase().trim_end_matches(['z', 'm']) {
            "point" | "multipoint" => GeomKind::Puntal,
            "linestring" | "multilinestring" => GeomKind::Lineal,
            "polygon" | "multipolygon" => GeomKind::Polygonal,
            _ => GeomKind::Any,
        }
    }

    /// The common kind of several subtypes (Any when they differ).
    pub fn from_subtypes(names: &[String]) -> GeomKind {
        let mut kinds = names.iter().map(|n| GeomKind::from_subtype(n));
        match kinds.next() {
            Some(first) if kinds.all(|k| k == first) => first,
            _ => GeomKind::Any,
        }
    }

    /// The name used in `geometry_input` lists.
    pub fn as_str(self) -> &'static str {
        match self {
            GeomKind::Puntal => "puntal",
            GeomKind::Lineal => "lineal",
            GeomKind::Polygonal => "polygonal",
            GeomKind::Any => "any",
        }
    }
}

/// SRID knowledge about a geometry value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Srid {
    /// Known SRID (0 means "none set", as ST_MakePoint returns).
    Known(i32),
    /// Not known statically.
    Unknown,
}

/// Geometry type details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GeomInfo {
    /// Subtype family.
    pub kind: GeomKind,
    /// SRID.
    pub srid: Srid,
}

/// Composite result types of catalogue functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// `summarystats` (count, sum, mean, stddev, min, max).
    SummaryStats,
    /// Any other record: fields unknown.
    Opaque,
}

impl RecordKind {
    /// Type of a field, if the record has it.
    pub fn field(self, name: &str) -> Option<SqlType> {
        match self {
            RecordKind::SummaryStats => match name {
                "count" => Some(SqlType::BigInt),
                "sum" | "mean" | "stddev" | "min" | "max" => Some(SqlType::Float),
                _ => None,
            },
            RecordKind::Opaque => Some(SqlType::Any),
        }
    }
}

/// The type of an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlType {
    /// smallint / integer.
    Int,
    /// bigint.
    BigInt,
    /// numeric / decimal.
    Numeric,
    /// real / double precision.
    Float,
    /// text.
    Text,
    /// varchar / char.
    Varchar,
    /// boolean.
    Bool,
    /// timestamp / timestamptz / date.
    Timestamp,
    /// interval.
    Interval,
    /// json.
    Json,
    /// jsonb.
    Jsonb,
    /// PostGIS geometry.
    Geometry(GeomInfo),
    /// PostGIS geography.
    Geography,
    /// PostGIS raster.
    Raster,
    /// A composite value.
    Record(RecordKind),
    /// An array.
    Array,
    /// A quoted literal not yet given a type (PostgreSQL's `unknown`), with its text.
    Unknown(Option<String>),
    /// NULL.
    Null,
    /// Could not be determined (after an earlier error): fits everything.
    Any,
    /// A type the checker does not model.
    Other(String),
}

/// Type categories for comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// Numbers.
    Numeric,
    /// Strings.
    String,
    /// Booleans.
    Bool,
    /// Dates and times.
    DateTime,
    /// Intervals.
    Interval,
    /// JSON.
    Json,
    /// Geometry.
    Geometry,
    /// Geography.
    Geography,
    /// Raster.
    Raster,
    /// Anything else.
    Other,
}

impl SqlType {
    /// A generic geometry of unknown subtype and SRID.
    pub const GEOMETRY: SqlType = SqlType::Geometry(GeomInfo {
        kind: GeomKind::Any,
        srid: Srid::Unknown,
    });

    /// Parse a PostgreSQL type name as written in packs, signatures and casts.
    pub fn from_type_name(name: &str) -> Option<SqlType> {
        let lower = name.trim().to_ascii_lowercase();
        let (base, modifier) = match lower.split_once('(') {
            Some((b, m)) => (b.trim(), Some(m.trim_end_matches(')').trim())),
            None => (lower.as_str(), None),
        };
        if base.ends_with("[]") {
            return Some(SqlType::Array);
        }
        Some(match base {
            "smallint" | "int2" | "integer" | "int" | "int4" | "serial" | "smallserial" => {
                SqlType::Int
            }
            "bigint" | "int8" | "bigserial" => SqlType::BigInt,
            "numeric" | "decimal" => SqlType::Numeric,
            "real" | "float4" | "double precision" | "float8" | "float" => SqlType::Float,
            "text" | "name" => SqlType::Text,
            "varchar" | "character varying" | "char" | "character" | "bpchar" | "uuid" => {
                SqlType::Varchar
            }
            "boolean" | "bool" => SqlType::Bool,
            "timestamptz"
            | "timestamp"
            | "date"
            | "timestamp with time zone"
            | "timestamp without time zone" => SqlType::Timestamp,
            "interval" => SqlType::Interval,
            "json" => SqlType::Json,
            "jsonb" => SqlType::Jsonb,
            "geography" => SqlType::Geography,
            "raster" => SqlType::Raster,
            "summarystats" => SqlType::Record(RecordKind::SummaryStats),
            "record" | "geomval" | "geometry_dump" => SqlType::Record(RecordKind::Opaque),
            "geometry" => {
                let mut info = GeomInfo {
                    kind: GeomKind::Any,
                    srid: Srid::Unknown,
                };
                if let Some(m) = modifier {
                    let mut parts = m.split(',').map(str::trim);
                    if let Some(sub) = parts.next() {
                        info.kind = GeomKind::from_subtype(sub);
                    }
                    if let Some(srid) = parts.next() {
                        info.srid = Srid::Known(srid.parse().ok()?);
                    }
                }
                SqlType::Geometry(info)
            }
            "box2d" | "box3d" | "bytea" | "unionarg" | "regclass" | "oid" => {
                SqlType::Other(base.to_string())
            }
            _ => return None,
        })
    }

    /// The comparison category.
    pub fn category(&self) -> Category {
        match self {
            SqlType::Int | SqlType::BigInt | SqlType::Numeric | SqlType::Float => Category::Numeric,
            SqlType::Text | SqlType::Varchar | SqlType::Unknown(_) => Category::String,
            SqlType::Bool => Category::Bool,
            SqlType::Timestamp => Category::DateTime,
            SqlType::Interval => Category::Interval,
            SqlType::Json | SqlType::Jsonb => Category::Json,
            SqlType::Geometry(_) => Category::Geometry,
            SqlType::Geography => Category::Geography,
            SqlType::Raster => Category::Raster,
            _ => Category::Other,
        }
    }

    /// Whether this is a number type.
    pub fn is_numeric(&self) -> bool {
        self.category() == Category::Numeric
    }

    /// Whether this type fits anything (NULL, undetermined).
    pub fn is_wildcard(&self) -> bool {
        matches!(self, SqlType::Null | SqlType::Any)
    }

    fn numeric_rank(&self) -> Option<u8> {
        match self {
            SqlType::Int => Some(0),
            SqlType::BigInt => Some(1),
            SqlType::Numeric => Some(2),
            SqlType::Float => Some(3),
            _ => None,
        }
    }

    /// The wider of two numeric types (PostgreSQL's arithmetic promotion).
    pub fn wider_numeric(&self, other: &SqlType) -> SqlType {
        match (self.numeric_rank(), other.numeric_rank()) {
            (Some(a), Some(b)) if b > a => other.clone(),
            (Some(_), _) => self.clone(),
            _ => other.clone(),
        }
    }

    /// Cost of passing a value of this type where `target` is expected: `Some(0)` for an
    /// exact match, `Some(1)` for an implicit cast, `None` when PostgreSQL would not
    /// choose that overload. String literals are checked against their text.
    pub fn coerce_cost(&self, target: &SqlType) -> Option<u8> {
        use SqlType as T;
        if self.is_wildcard() || matches!(target, T::Any) {
            return Some(1);
        }
        match (self, target) {
            (T::Geometry(_), T::Geometry(_)) => Some(0),
            (T::Record(_), T::Record(_)) => Some(0),
            (T::Unknown(lit), t) => literal_fits(lit.as_deref(), t).then_some(1),
            (a, b) if a == b => Some(0),
            (a, b) if a.numeric_rank().is_some() && b.numeric_rank().is_some() => {
                (a.numeric_rank() < b.numeric_rank()).then_some(1)
            }
            (T::Varchar, T::Text) | (T::Text, T::Varchar) => Some(0),
            // PostGIS declares text -> geometry, geometry -> text and geometry -> geography implicit.
            (T::Text, T::Geometry(_))
            | (T::Geometry(_), T::Text)
            | (T::Geometry(_), T::Geography) => Some(1),
            (T::Other(a), T::Other(b)) if a == b => Some(0),
            _ => None,
        }
    }

    /// Whether a value of this type may be explicitly cast to `target`.
    pub fn can_cast_to(&self, target: &SqlType) -> bool {
        use Category as C;
        if self.coerce_cost(target).is_some() {
            return true;
        }
        let (a, b) = (self.category(), target.category());
        match (a, b) {
            // Casts through text input/output exist from and to every string type.
            (C::String, _) | (_, C::String) => !matches!(self, SqlType::Raster) || b == C::String,
            (C::Numeric, C::Numeric) => true,
            (C::Numeric, C::Bool) => matches!(self, SqlType::Int),
            (C::Bool, C::Numeric) => matches!(target, SqlType::Int),
            (C::Geography, C::Geometry) | (C::Raster, C::Geometry) => true,
            (C::Json, C::Json) => true,
            (C::Json, C::Numeric) | (C::Json, C::Bool) => matches!(self, SqlType::Jsonb),
            (C::Geometry, C::Json) | (C::Geometry, C::Other) => true,
            _ => false,
        }
    }
}

/// Whether a quoted literal would be accepted as input of `target`.
pub fn literal_fits(lit: Option<&str>, target: &SqlType) -> bool {
    let Some(text) = lit else { return true };
    let t = text.trim();
    match target {
        SqlType::Int | SqlType::BigInt => t.parse::<i64>().is_ok(),
        SqlType::Numeric | SqlType::Float => {
            t.parse::<f64>().is_ok()
                || matches!(
                    t.to_ascii_lowercase().as_str(),
                    "nan" | "infinity" | "-infinity"
                )
        }
        SqlType::Bool => matches!(
            t.to_ascii_lowercase().as_str(),
            "t" | "f" | "true" | "false" | "yes" | "no" | "y" | "n" | "on" | "off" | "1" | "0"
        ),
        SqlType::Timestamp => looks_like_timestamp(t),
        SqlType::Geometry(_) | SqlType::Geography => looks_like_geometry(t),
        SqlType::Json | SqlType::Jsonb => serde_json::from_str::<serde_json::Value>(t).is_ok(),
        _ => true,
    }
}

fn looks_like_timestamp(t: &str) -> bool {
    let lower = t.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "now" | "today" | "yesterday" | "tomorrow" | "epoch" | "infinity" | "-infinity"
    ) {
        return true;
    }
    let b = t.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
        && valid_date(&t[..4], &t[5..7], &t[8..10])
}

fn valid_date(y: &str, m: &str, d: &str) -> bool {
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<u32>(), m.parse::<u32>(), d.parse::<u32>()) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// Whether a literal cast to `geometry(Subtype, …)` has that subtype (`::geometry(Point)` of
/// a polygon is rejected when the cast is folded).
pub fn literal_matches_subtype(lit: &str, target: &SqlType) -> bool {
    match target {
        SqlType::Geometry(g) if g.kind != GeomKind::Any => {
            wkt_kind(lit).is_none_or(|k| k == g.kind || k == GeomKind::Any)
        }
        _ => true,
    }
}

/// The geometry kind a WKT literal starts with, if it is WKT.
fn wkt_kind(t: &str) -> Option<GeomKind> {
    let upper = t.trim().to_ascii_uppercase();
    let body = upper
        .split_once(';')
        .map(|(_, b)| b.trim_start())
        .unwrap_or(&upper);
    let word: String = body
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    (!word.is_empty()).then(|| GeomKind::from_subtype(&word))
}

fn looks_like_geometry(t: &str) -> bool {
    let upper = t.to_ascii_uppercase();
    let body = match upper.strip_prefix("SRID=") {
        Some(rest) => match rest.split_once(';') {
            Some((srid, body)) if srid.parse::<i32>().is_ok() => body.trim_start(),
            _ => return false,
        },
        None => upper.as_str(),
    };
    const KINDS: [&str; 8] = [
        "POINT",
        "LINESTRING",
        "POLYGON",
        "MULTIPOINT",
        "MULTILINESTRING",
        "MULTIPOLYGON",
        "GEOMETRYCOLLECTION",
        "TRIANGLE",
    ];
    let balanced = {
        let mut depth = 0i32;
        body.chars().all(|c| {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            depth >= 0
        }) && depth == 0
    };
    (KINDS.iter().any(|k| body.starts_with(k)) && balanced)
        || (!body.is_empty() && body.len() % 2 == 0 && body.bytes().all(|c| c.is_ascii_hexdigit()))
}

impl fmt::Display for SqlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            SqlType::Int => "integer",
            SqlType::BigInt => "bigint",
            SqlType::Numeric => "numeric",
            SqlType::Float => "double precision",
            SqlType::Text => "text",
            SqlType::Varchar => "character varying",
            SqlType::Bool => "boolean",
            SqlType::Timestamp => "timestamp with time zone",
            SqlType::Interval => "interval",
            SqlType::Json => "json",
            SqlType::Jsonb => "jsonb",
            SqlType::Geometry(g) => {
                return match (g.kind, g.srid) {
                    (GeomKind::Any, Srid::Unknown) => write!(f, "geometry"),
                    (k, Srid::Known(s)) => write!(f, "geometry({}, SRID {s})", k.as_str()),
                    (k, Srid::Unknown) => write!(f, "geometry({})", k.as_str()),
                }
            }
            SqlType::Geography => "geography",
            SqlType::Raster => "raster",
            SqlType::Record(RecordKind::SummaryStats) => "summarystats",
            SqlType::Record(RecordKind::Opaque) => "record",
            SqlType::Array => "array",
            SqlType::Unknown(_) => "unknown",
            SqlType::Null => "null",
            SqlType::Any => "any",
            SqlType::Other(name) => name,
        };
        f.write_str(s)
    }
}

/// A column type as written in a pack (`varchar(100)`, `geometry(Polygon,4326)`, ...):
/// kept verbatim for DDL, checked to parse when the pack loads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "String", into = "String")]
pub struct ColumnType(String);

impl ColumnType {
    /// The type as written in the pack.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The type as the checker models it.
    pub fn to_sql_type(&self) -> SqlType {
        SqlType::from_type_name(&self.0).expect("checked when the pack was deserialised")
    }
}

impl TryFrom<String> for ColumnType {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        match SqlType::from_type_name(&value) {
            Some(_) => Ok(ColumnType(value)),
            None => Err(format!("unknown SQL type {value:?}")),
        }
    }
}

impl From<ColumnType> for String {
    fn from(value: ColumnType) -> Self {
        value.0
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pack_type_names() {
        assert_eq!(
            SqlType::from_type_name("varchar(100)"),
            Some(SqlType::Varchar)
        );
        assert_eq!(
            SqlType::from_type_name("double precision"),
            Some(SqlType::Float)
        );
        assert_eq!(
            SqlType::from_type_name("geometry(Polygon,4326)"),
            Some(SqlType::Geometry(GeomInfo {
                kind: GeomKind::Polygonal,
                srid: Srid::Known(4326)
            }))
        );
        assert_eq!(
            SqlType::from_type_name("double precision[]"),
            Some(SqlType::Array)
        );
        assert_eq!(SqlType::from_type_name("nosuchtype"), None);
    }

    #[test]
    fn coercions_follow_postgres() {
        assert_eq!(SqlType::Int.coerce_cost(&SqlType::Float), Some(1));
        assert_eq!(SqlType::Float.coerce_cost(&SqlType::Int), None);
        assert_eq!(SqlType::Float.coerce_cost(&SqlType::Numeric), None);
        assert_eq!(SqlType::Varchar.coerce_cost(&SqlType::Text), Some(0));
        assert_eq!(SqlType::Varchar.coerce_cost(&SqlType::GEOMETRY), None);
        assert_eq!(SqlType::Text.coerce_cost(&SqlType::GEOMETRY), Some(1));
        assert_eq!(SqlType::GEOMETRY.coerce_cost(&SqlType::Geography), Some(1));
        assert_eq!(SqlType::Geography.coerce_cost(&SqlType::GEOMETRY), None);
        assert_eq!(
            SqlType::Unknown(Some("abc".into())).coerce_cost(&SqlType::Float),
            None
        );
        assert_eq!(
            SqlType::Unknown(Some("12.5".into())).coerce_cost(&SqlType::Float),
            Some(1)
        );
    }
}
