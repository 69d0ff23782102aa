//! Column values of sample rows: the value type, its SQL literal, and the generic ways of
//! drawing one (from a [`ValueSource`], a value domain, or the column's type).

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::geometry::Geom;

/// A value of a sample row.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// NULL.
    Null,
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// Text.
    Text(String),
    /// A boolean.
    Bool(bool),
    /// JSON text.
    Json(String),
    /// A timestamp literal.
    Ts(String),
    /// A geometry (written as EWKT with the column's SRID).
    Geom(Geom),
    /// A raster as hex WKB.
    Raster(String),
}

impl Val {
    /// The value as text for formats and comparisons (`None` for NULL, geometry, raster).
    pub fn text(&self) -> Option<String> {
        match self {
            Val::Int(i) => Some(i.to_string()),
            Val::Float(x) => Some(float_text(*x)),
            Val::Text(s) | Val::Json(s) | Val::Ts(s) => Some(s.clone()),
            Val::Bool(b) => Some(b.to_string()),
            Val::Null | Val::Geom(_) | Val::Raster(_) => None,
        }
    }

    /// The value as a number, when it is one.
    pub fn number(&self) -> Option<f64> {
        match self {
            Val::Int(i) => Some(*i as f64),
            Val::Float(x) => Some(*x),
            _ => None,
        }
    }

    /// Whether the value is set.
    pub fn is_null(&self) -> bool {
        matches!(self, Val::Null)
    }
}

fn float_text(x: f64) -> String {
    if x == x.trunc() && x.abs() < 1e15 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

/// What kind of literal a column takes (from its SQL type text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColKind {
    /// serial / bigserial: 1, 2, … unless drawn otherwise.
    Serial,
    /// smallint / integer / bigint.
    Integer,
    /// real / double precision / numeric.
    Float,
    /// varchar / text / char.
    Text,
    /// boolean.
    Bool,
    /// timestamp / timestamptz / date.
    Timestamp,
    /// json / jsonb.
    Json,
    /// geometry.
    Geometry,
    /// raster.
    Raster,
    /// Anything else (left NULL unless given).
    Other,
}

impl ColKind {
    /// From the column's SQL type text.
    pub fn of(sql_type: &str) -> ColKind {
        let t = sql_type.to_ascii_lowercase();
        let base = t.split('(').next().unwrap_or("").trim();
        match base {
            "serial" | "bigserial" | "smallserial" => ColKind::Serial,
            "integer" | "int" | "int4" | "bigint" | "int8" | "smallint" | "int2" => {
                ColKind::Integer
            }
            "double precision" | "float8" | "real" | "float4" | "numeric" | "decimal" | "float" => {
                ColKind::Float
            }
            "varchar" | "character varying" | "text" | "char" | "character" => ColKind::Text,
            "boolean" | "bool" => ColKind::Bool,
            "json" | "jsonb" => ColKind::Json,
            "geometry" | "geography" => ColKind::Geometry,
            "raster" => ColKind::Raster,
            b if b.starts_with("timestamp") || b == "date" => ColKind::Timestamp,
            _ => ColKind::Other,
        }
    }
}

/// A JSON value (from the pack) as a value of a column of this kind.
pub fn from_json(v: &serde_json::Value, kind: ColKind) -> Result<Val, String> {
    use serde_json::Value as J;
    Ok(match (v, kind) {
        (J::Null, _) => Val::Null,
        (J::Number(n), ColKind::Integer | ColKind::Serial) => Val::Int(
            n.as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
                .ok_or_else(|| format!("{n} is not an integer"))?,
        ),
        (J::Number(n), ColKind::Float) => Val::Float(n.as_f64().unwrap_or(0.0)),
        (J::Number(n), ColKind::Text) => Val::Text(n.to_string()),
        (J::String(s), ColKind::Integer | ColKind::Serial) => {
            Val::Int(s.parse().map_err(|_| format!("{s:?} is not an integer"))?)
        }
        (J::String(s), ColKind::Float) => {
            Val::Float(s.parse().map_err(|_| format!("{s:?} is not a number"))?)
        }
        (J::String(s), ColKind::Timestamp) => Val::Ts(s.clone()),
        (J::String(s), ColKind::Json) => Val::Json(s.clone()),
        (J::String(s), _) => Val::Text(s.clone()),
        (J::Bool(b), _) => Val::Bool(*b),
        (other, ColKind::Json) => Val::Json(other.to_string()),
        (other, k) => return Err(format!("{other} does not fit a {k:?} column")),
    })
}

/// A SQL literal for the value in a column of the given SRID.
pub fn literal(v: &Val, srid: i32) -> String {
    match v {
        Val::Null => "NULL".into(),
        Val::Int(i) => i.to_string(),
        Val::Float(x) if x.is_finite() => float_text(*x),
        Val::Float(_) => "NULL".into(),
        Val::Text(s) | Val::Json(s) | Val::Ts(s) => quote(s),
        Val::Bool(b) => b.to_string(),
        Val::Geom(g) => quote(&g.ewkt(srid)),
        Val::Raster(h) => quote(h),
    }
}

/// A quoted SQL string.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Round to `decimals` places.
pub fn round_to(x: f64, decimals: u32) -> f64 {
    let f = 10f64.powi(decimals as i32);
    (x * f).round() / f
}

/// One of `values`: the `ordinal`-th while ordinals are fewer than the values (so every
/// value occurs at least once in a long enough table), else a weighted draw.
pub fn pick<'a, T>(
    values: &'a [T],
    weights: Option<&[f64]>,
    ordinal: u64,
    rng: &mut ChaCha8Rng,
) -> &'a T {
    if (ordinal as usize) < values.len() {
        return &values[ordinal as usize];
    }
    match weights {
        Some(w) if w.len() == values.len() && w.iter().sum::<f64>() > 0.0 => {
            let total: f64 = w.iter().sum();
            let mut u = rng.random::<f64>() * total;
            for (v, wi) in values.iter().zip(w) {
                if u < *wi {
                    return v;
                }
                u -= wi;
            }
            &values[values.len() - 1]
        }
        _ => &values[rng.random_range(0..values.len())],
    }
}

/// A timestamp at a whole minute between two days (inclusive), in UTC.
pub fn timestamp(from: i64, to: i64, rng: &mut ChaCha8Rng) -> String {
    let day = rng.random_range(from..=to.max(from));
    let minute = rng.random_range(0..24 * 60);
    let (y, m, d) = crate::calendar::civil(day);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:00+00",
        minute / 60,
        minute % 60
    )
}

/// Fill a format's placeholders with `lookup(name)`; `{x:0N}` pads integers to N digits.
pub fn fill_format(f: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = f;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let j = rest[i..]
            .find('}')
            .ok_or_else(|| format!("unclosed {{ in format {f:?}"))?;
        let inner = &rest[i + 1..i + j];
        let (name, pad) = match inner.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (inner, None),
        };
        let v = lookup(name).ok_or_else(|| format!("format {f:?}: {name} has no value yet"))?;
        match pad {
            Some(p) => {
                let width: usize = p
                    .trim_start_matches('0')
                    .parse()
                    .map_err(|_| format!("format {f:?}: bad padding {p:?}"))?;
                let n: i64 = v
                    .parse()
                    .map_err(|_| format!("format {f:?}: {name} = {v:?} is not an integer"))?;
                out.push_str(&format!("{n:0width$}"));
            }
            None => out.push_str(&v),
        }
        rest = &rest[i + j + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_fill() {
        let s = fill_format("{procom}{nsez:07}", |n| match n {
            "procom" => Some("15146".into()),
            "nsez" => Some("123".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(s, "151460000123");
        assert!(fill_format("{x}", |_| None).is_err());
        assert_eq!(literal(&Val::Text("it's".into()), 0), "'it''s'");
        assert_eq!(literal(&Val::Float(2.0), 0), "2.0");
    }
}
