//! Rounded measures: an analyst reports an area in square metres or an average height with
//! a decimal or two, not with fifteen (the seed corpus rounds in a third of its queries).

use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::catalog::{Catalog, Filterable};
use crate::plan::{PlanExpr, SelectPlan};

/// Measurements in metres (their `::geography` or projected operand says so).
const MEASURES: &[&str] = &[
    "ST_Area",
    "ST_Length",
    "ST_Perimeter",
    "ST_Distance",
    "ST_MaxDistance",
    "ST_HausdorffDistance",
];

/// Whether `e` is a metric measurement, or an average / total / extreme of one, or an
/// average of a column: a value printed with more digits than it means.
fn rounds(e: &PlanExpr) -> bool {
    match e {
        PlanExpr::Call { function, args } => {
            MEASURES.contains(&function.as_str())
                && args.first().is_some_and(|a| match a {
                    PlanExpr::Cast { to, .. } => to == "geography",
                    PlanExpr::Call { function, .. } => function == "ST_Transform",
                    _ => false,
                })
        }
        PlanExpr::Aggregate {
            function,
            arg: Some(a),
            distinct: false,
            ..
        } => match function.as_str() {
            "avg" => matches!(a.as_ref(), PlanExpr::Column { .. }) || rounds(a),
            "sum" | "min" | "max" => rounds(a),
            _ => false,
        },
        _ => false,
    }
}

/// The decimals an average of a column needs to say anything: a score between 0.3 and
/// 0.99 rounded to no decimals is 0 or 1 (the column's value domain tells its magnitude).
fn needed_digits(e: &PlanExpr, main: &SelectPlan, cat: &Catalog) -> usize {
    let PlanExpr::Aggregate { arg: Some(a), .. } = e else {
        return 0;
    };
    let PlanExpr::Column { rel, column } = a.as_ref() else {
        return 0;
    };
    let Some(table) = main
        .from
        .iter()
        .find(|r| r.alias == *rel)
        .and_then(|r| cat.tables.iter().find(|t| t.key == r.base))
    else {
        return 0;
    };
    let magnitude = table.filters.iter().find_map(|f| match f {
        Filterable::Range {
            column: c,
            min,
            max,
            ..
        } if c == column => Some(min.abs().max(max.abs())),
        _ => None,
    });
    match magnitude {
        Some(m) if m <= 2.0 => 2,
        Some(m) if m <= 20.0 => 1,
        _ => 0,
    }
}

/// Wraps some of the main query's measured outputs in `ROUND(x::numeric, d)`, one choice
/// per query (all such outputs, or none), with `d` drawn once, never fewer decimals than
/// an output's magnitude needs.
pub(crate) fn round_measures(main: &mut SelectPlan, cat: &Catalog, rng: &mut ChaCha8Rng) {
    if !main.items.iter().any(|i| rounds(&i.expr)) || !rng.random_bool(0.7) {
        return;
    }
    let drawn = *["0", "1", "2", "2"].choose(rng).expect("non-empty");
    let needed = main
        .items
        .iter()
        .filter(|i| rounds(&i.expr))
        .map(|i| needed_digits(&i.expr, main, cat))
        .max()
        .unwrap_or(0);
    let digits = ["0", "1", "2"][needed.max(drawn.parse::<usize>().expect("a digit"))];
    for item in &mut main.items {
        if rounds(&item.expr) {
            let e = std::mem::replace(&mut item.expr, PlanExpr::number("0"));
            item.expr = PlanExpr::call("ROUND", vec![e.cast("numeric"), PlanExpr::number(digits)]);
        }
    }
}
