//! Rounded measures: an analyst reports an area in square metres or an average height with
//! a decimal or two, not with fifteen (the seed corpus rounds in a third of its queries).

use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

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

/// Wraps some of the main query's measured outputs in `ROUND(x::numeric, d)`, one choice
/// per query (all such outputs, or none), with `d` drawn once.
pub(crate) fn round_measures(main: &mut SelectPlan, rng: &mut ChaCha8Rng) {
    if !main.items.iter().any(|i| rounds(&i.expr)) || !rng.random_bool(0.7) {
        return;
    }
    let digits = *["0", "1", "2", "2"].choose(rng).expect("non-empty");
    for item in &mut main.items {
        if rounds(&item.expr) {
            let e = std::mem::replace(&mut item.expr, PlanExpr::number("0"));
            item.expr = PlanExpr::call("ROUND", vec![e.cast("numeric"), PlanExpr::number(digits)]);
        }
    }
}
