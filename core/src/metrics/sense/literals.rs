//! Literals against the data: thresholds and values outside a column's domain (L2),
//! coordinates outside every area of the pack (L1), and equality filters no single area
//! satisfies together, or that name another place than the coordinates (S6).

use sqlparser::ast::{BinaryOperator, Expr};

use super::scope::{equalities, for_each_local, Level};
use super::{args_of, fn_name, number, text, Lint, SenseCode};
use crate::pack::ValueDomain;
use crate::Location;

/// Degrees of slack around an area's extent (about 1 km).
const MARGIN_DEG: f64 = 0.01;

fn domain<'p>(l: &Lint<'p>, table: &str, column: &str) -> Option<&'p ValueDomain> {
    let key = format!("{table}.{column}");
    l.pack
        .data()
        .value_domains
        .iter()
        .find(|d| d.column() == key)
}

fn flip(op: &BinaryOperator) -> Option<BinaryOperator> {
    Some(match op {
        BinaryOperator::Gt => BinaryOperator::Lt,
        BinaryOperator::GtEq => BinaryOperator::LtEq,
        BinaryOperator::Lt => BinaryOperator::Gt,
        BinaryOperator::LtEq => BinaryOperator::GtEq,
        BinaryOperator::Eq => BinaryOperator::Eq,
        BinaryOperator::NotEq => BinaryOperator::NotEq,
        _ => return None,
    })
}

fn json_of(e: &Expr) -> Option<serde_json::Value> {
    if let Some(s) = text(e) {
        return Some(serde_json::Value::String(s.to_string()));
    }
    number(e)
        .and_then(serde_json::Number::from_f64)
        .map(serde_json::Value::Number)
}

fn same_value(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() < 1e-9,
        _ => match (a.as_str(), b.as_str()) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        },
    }
}

/// L2 on every comparison of a column with a literal, and the literal points.
pub(super) fn check(l: &mut Lint<'_>, lvl: &Level<'_>, e: &Expr) {
    let pack = l.pack;
    let mut hits: Vec<(String, &Expr)> = Vec::new();
    let mut points: Vec<(f64, f64, &Expr)> = Vec::new();
    for_each_local(e, &mut |x| match x {
        Expr::BinaryOp { left, op, right } => {
            let (col, lit, op) = match (lvl.column(pack, left), lvl.column(pack, right)) {
                (Some(c), None) => (c, right.as_ref(), op.clone()),
                (None, Some(c)) => match flip(op) {
                    Some(o) => (c, left.as_ref(), o),
                    None => return,
                },
                _ => return,
            };
            let Some(d) = domain(l, &col.table, &col.column) else {
                return;
            };
            match d {
                ValueDomain::Range { min, max, .. } => {
                    let Some(v) = number(lit) else { return };
                    let what = match op {
                        BinaryOperator::Gt if v >= *max => Some("no row"),
                        BinaryOperator::GtEq if v > *max => Some("no row"),
                        BinaryOperator::Lt if v <= *min => Some("no row"),
                        BinaryOperator::LtEq if v < *min => Some("no row"),
                        BinaryOperator::Eq if v < *min || v > *max => Some("no row"),
                        BinaryOperator::Gt | BinaryOperator::GtEq if v < *min => Some("every row"),
                        BinaryOperator::Lt | BinaryOperator::LtEq if v > *max => Some("every row"),
                        _ => None,
                    };
                    if let Some(w) = what {
                        hits.push((
                            format!(
                                "{}.{} {op} {v} keeps {w}: its values lie between {min} and {max}",
                                col.alias, col.column
                            ),
                            x,
                        ));
                    }
                }
                ValueDomain::Dates { from, to, .. } => {
                    let (Some((a, b)), Some(day)) = (
                        d.days(),
                        text(lit).and_then(|t| crate::calendar::parse_day(t.get(..10)?)),
                    ) else {
                        return;
                    };
                    // A bound before every day (a year's window `>= '2023-01-01'`) is
                    // written by people too: only the empty side is a finding.
                    let what = match op {
                        BinaryOperator::Gt | BinaryOperator::GtEq if day > b => Some("no row"),
                        BinaryOperator::Lt | BinaryOperator::LtEq if day < a => Some("no row"),
                        _ => None,
                    };
                    if let Some(w) = what {
                        hits.push((
                            format!(
                                "{}.{} {op} '{}' keeps {w}: its days lie between {from} and {to}",
                                col.alias,
                                col.column,
                                crate::calendar::iso(day)
                            ),
                            x,
                        ));
                    }
                }
                ValueDomain::Enum { values, .. } => {
                    if !matches!(op, BinaryOperator::Eq | BinaryOperator::NotEq) {
                        return;
                    }
                    let Some(v) = json_of(lit) else { return };
                    if !values.iter().any(|d| same_value(d, &v)) {
                        hits.push((
                            format!(
                                "{}.{} never equals {v}: the data holds {}",
                                col.alias,
                                col.column,
                                values
                                    .iter()
                                    .map(|v| v.to_string())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                            x,
                        ));
                    }
                }
            }
        }
        Expr::Function(f) => {
            let name = fn_name(f);
            let args = args_of(f);
            let nums: Vec<Option<f64>> = args.iter().map(|a| number(a)).collect();
            let srid_ok = |i: usize| {
                args.get(i)
                    .is_none_or(|a| number(a).map(|v| v as i32) == pack.data().default_srid)
            };
            match name.as_str() {
                "st_makepoint" | "st_point" if nums.len() >= 2 => {
                    if let (Some(px), Some(py)) = (nums[0], nums[1]) {
                        if name == "st_makepoint" || srid_ok(2) {
                            points.push((px, py, x));
                        }
                    }
                }
                "st_makeenvelope" if nums.len() >= 4 && srid_ok(4) => {
                    if let (Some(a), Some(b), Some(c), Some(d)) =
                        (nums[0], nums[1], nums[2], nums[3])
                    {
                        points.push(((a + c) / 2.0, (b + d) / 2.0, x));
                    }
                }
                "st_geomfromtext" | "st_geometryfromtext" if srid_ok(1) => {
                    if let Some(wkt) = args.first().and_then(|a| text(a)) {
                        for (px, py) in wkt_points(wkt) {
                            points.push((px, py, x));
                        }
                    }
                }
                "st_geomfromgeojson" => {
                    if let Some(j) = args
                        .first()
                        .and_then(|a| text(a))
                        .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
                    {
                        if let Some(c) = j.get("coordinates").and_then(|c| c.as_array()) {
                            if let (Some(px), Some(py)) = (
                                c.first().and_then(|v| v.as_f64()),
                                c.get(1).and_then(|v| v.as_f64()),
                            ) {
                                points.push((px, py, x));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        _ => {}
    });
    for (m, at) in hits {
        l.flag(SenseCode::LiteralOutsideDomain, m, Some(at));
    }
    for (px, py, at) in points {
        let loc = super::location(sqlparser::ast::Spanned::span(at));
        l.points.push((px, py, loc));
    }
}

/// The coordinate pairs of a WKT text.
fn wkt_points(wkt: &str) -> Vec<(f64, f64)> {
    let inner: String = wkt
        .chars()
        .map(|c| if c == '(' || c == ')' { ' ' } else { c })
        .collect();
    let body = inner.trim_start_matches(|c: char| c.is_ascii_alphabetic() || c == ' ');
    body.split(',')
        .filter_map(|pair| {
            let mut it = pair.split_whitespace().map(|v| v.parse::<f64>());
            match (it.next(), it.next()) {
                (Some(Ok(x)), Some(Ok(y))) => Some((x, y)),
                _ => None,
            }
        })
        .collect()
}

/// Equality filters of this level, for S6.
/// S6: bounds on one column that no value meets (`upload_date >= '2023-10-01' AND
/// upload_date < '2023-06-01'`, `height > 30 AND height < 10`). Numbers compare as numbers,
/// ISO dates as text.
pub(super) fn empty_ranges(l: &mut Lint<'_>, lvl: &Level<'_>) {
    use sqlparser::ast::BinaryOperator as Op;
    let Some(w) = &lvl.select.selection else {
        return;
    };
    // Per column: the greatest lower bound and the least upper bound (value, inclusive).
    type Bound = (serde_json::Value, bool);
    let mut bounds: Vec<(super::scope::ColRef, Option<Bound>, Option<Bound>)> = Vec::new();
    let less = |a: &serde_json::Value, b: &serde_json::Value| match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => Some(x < y),
        _ => match (a.as_str(), b.as_str()) {
            (Some(x), Some(y)) => Some(x < y),
            _ => None,
        },
    };
    for c in super::scope::conjuncts(w) {
        let Expr::BinaryOp { left, op, right } = c else {
            continue;
        };
        // Column on the left; a literal on the right (or the mirror).
        let (col, value, op) = match (lvl.column(l.pack, left), json_of(right)) {
            (Some(col), Some(v)) => (col, v, op.clone()),
            _ => match (lvl.column(l.pack, right), json_of(left)) {
                (Some(col), Some(v)) => {
                    let flipped = match op {
                        Op::Gt => Op::Lt,
                        Op::GtEq => Op::LtEq,
                        Op::Lt => Op::Gt,
                        Op::LtEq => Op::GtEq,
                        other => other.clone(),
                    };
                    (col, v, flipped)
                }
                _ => continue,
            },
        };
        let (lower, inclusive) = match op {
            Op::Gt => (true, false),
            Op::GtEq => (true, true),
            Op::Lt => (false, false),
            Op::LtEq => (false, true),
            _ => continue,
        };
        let slot = match bounds.iter().position(|(k, ..)| *k == col) {
            Some(i) => i,
            None => {
                bounds.push((col, None, None));
                bounds.len() - 1
            }
        };
        let (_, lo, hi) = &mut bounds[slot];
        if lower {
            if lo
                .as_ref()
                .is_none_or(|(v, _)| less(v, &value) == Some(true))
            {
                *lo = Some((value, inclusive));
            }
        } else if hi
            .as_ref()
            .is_none_or(|(v, _)| less(&value, v) == Some(true))
        {
            *hi = Some((value, inclusive));
        }
    }
    for (col, lo, hi) in &bounds {
        let (Some((a, ai)), Some((b, bi))) = (lo, hi) else {
            continue;
        };
        let empty = match less(a, b) {
            Some(true) => false,
            Some(false) => !(same_value(a, b) && *ai && *bi),
            None => false,
        };
        if empty {
            l.flag(
                SenseCode::IncoherentFilters,
                format!(
                    "{}.{} is bounded below by {a} and above by {b}: no value lies between",
                    col.alias, col.column
                ),
                Some(w),
            );
            return;
        }
    }
}

pub(super) fn collect_equalities(l: &mut Lint<'_>, lvl: &Level<'_>) {
    let Some(w) = &lvl.select.selection else {
        return;
    };
    let mut found = Vec::new();
    for (left, right) in equalities(w) {
        let pair = match (lvl.column(l.pack, left), json_of(right)) {
            (Some(col), Some(v)) => Some((col, v)),
            _ => match (lvl.column(l.pack, right), json_of(left)) {
                (Some(col), Some(v)) => Some((col, v)),
                _ => None,
            },
        };
        if let Some((col, v)) = pair {
            found.push((col.table, col.column, v));
        }
    }
    l.eqs.extend(found);
}

/// S6: two equality filters on columns of one table whose values the pack's sample data
/// ties (a voltage drawn by its zone: 0.4 kV for LV, 15 or 20 kV for MV, 132 kV for HV)
/// naming a pair that never occurs (`zone = 'HV' AND voltage_kv = 15`).
fn paired_values(l: &mut Lint<'_>) {
    let Some(sample) = &l.pack.data().sample_data else {
        return;
    };
    let mut message = None;
    for fill in &sample.tables {
        for c in &fill.columns {
            let crate::pack::ValueSource::By {
                column: by,
                map,
                otherwise,
            } = &c.draw
            else {
                continue;
            };
            let value_of = |col: &str| {
                l.eqs
                    .iter()
                    .find(|(t, c, _)| *t == fill.table && c == col)
                    .map(|(.., v)| v)
            };
            let Some(key) = value_of(by) else { continue };
            let key_text = match key {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let choices = map.get(&key_text).unwrap_or(otherwise);
            if choices.is_empty() {
                continue;
            }
            for name in &c.names {
                if let Some(v) = value_of(name) {
                    if !choices.iter().any(|x| same_value(x, v)) {
                        message = Some(format!(
                            "{name} = {v} never occurs with {by} = {key} (the data ties {name} to {by})"
                        ));
                    }
                }
            }
        }
    }
    if let Some(m) = message {
        flag_at(l, SenseCode::IncoherentFilters, m, None);
    }
}

/// Statement-wide checks: L1 and S6.
pub(super) fn statement(l: &mut Lint<'_>) {
    paired_values(l);
    let areas = &l.pack.data().areas;
    if areas.is_empty() {
        return;
    }
    // Areas the coordinates lie in.
    let mut coord_areas: Option<Vec<usize>> = None;
    let points = std::mem::take(&mut l.points);
    for (x, y, loc) in &points {
        let hit: Vec<usize> = areas
            .iter()
            .enumerate()
            .filter(|(_, a)| a.contains(*x, *y, MARGIN_DEG))
            .map(|(i, _)| i)
            .collect();
        if hit.is_empty() {
            flag_at(
                l,
                SenseCode::CoordinatesOutsideAreas,
                format!("({x}, {y}) lies outside every area the database covers"),
                *loc,
            );
        } else {
            let mut all = coord_areas.unwrap_or_default();
            all.extend(hit);
            coord_areas = Some(all);
        }
    }
    // Areas the equality filters allow.
    let eqs = std::mem::take(&mut l.eqs);
    let constrained: Vec<&(String, String, serde_json::Value)> = eqs
        .iter()
        .filter(|(t, c, _)| areas.iter().any(|a| a.value(t, c).is_some()))
        .collect();
    let mut allowed: Vec<usize> = (0..areas.len()).collect();
    if !constrained.is_empty() {
        allowed.retain(|i| {
            let a = &areas[*i];
            constrained
                .iter()
                .all(|(t, c, v)| a.fills(t) && a.value(t, c).is_none_or(|av| same_value(av, v)))
        });
        if allowed.is_empty() {
            let list: Vec<String> = constrained
                .iter()
                .map(|(_, c, v)| format!("{c} = {v}"))
                .collect();
            flag_at(
                l,
                SenseCode::IncoherentFilters,
                format!(
                    "no place of the database has {} together",
                    list.join(" and ")
                ),
                None,
            );
            return;
        }
    }
    if let Some(ca) = coord_areas {
        if !constrained.is_empty() && !ca.iter().any(|i| allowed.contains(i)) {
            flag_at(
                l,
                SenseCode::IncoherentFilters,
                format!(
                    "the coordinates lie in {} but the filters name {}",
                    ca.first()
                        .map(|i| areas[*i].name.as_str())
                        .unwrap_or("another area"),
                    allowed
                        .first()
                        .map(|i| areas[*i].name.as_str())
                        .unwrap_or("another area")
                ),
                None,
            );
        }
    }
}

fn flag_at(l: &mut Lint<'_>, code: SenseCode, message: String, location: Option<Location>) {
    if !l
        .out
        .iter()
        .any(|g| g.code == code.as_str() && g.message == message)
    {
        l.out.push(crate::Finding {
            severity: crate::Severity::Warning,
            aspect: crate::Aspect::Sense,
            code: code.as_str().to_string(),
            message,
            location,
        });
    }
}
