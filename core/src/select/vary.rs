//! New plans from lifted seeds. A lifted seed keeps its intent (what it scopes, derives,
//! ranks or nests); its slots are varied from the row's stream:
//! - the place: every literal the seed's area fixes (project, scenario's project, network,
//!   municipality…) is moved, together, to another area of the pack, its coordinates
//!   mapped into the new extent and its metric CRS replaced by the new area's;
//! - the measures: a measure column of the main query is swapped for another measure of
//!   its table (a summed one only for an additive one), with the literals it is compared
//!   with drawn again from the new column's domain and the outputs named after it renamed;
//! - the grouping: another category of the same table (per building type instead of per
//!   scenario), with the outputs and the order that read it;
//! - the conditions: one that no area or version fixes may be dropped;
//! - the limit.
//!
//! A variant must change at least one column, so that it is a new query, not a seed
//! with other values.

use std::collections::BTreeMap;

use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::pack::{Area, ColumnRole, SchemaPack};
use crate::plan::{CtePlan, Literal, PlanExpr, SelectPlan, Source};

use super::catalog::{Catalog, Filterable};
use super::lift::LiftedSeed;

/// Every SELECT level of a statement, mutably (CTE bodies, derived tables, subqueries).
fn for_each_level(p: &mut SelectPlan, f: &mut dyn FnMut(&mut SelectPlan)) {
    f(p);
    for r in &mut p.from {
        if let Source::Derived { query } = &mut r.source {
            for_each_level(query, f);
        }
    }
    let mut subs: Vec<&mut SelectPlan> = Vec::new();
    for e in p
        .items
        .iter_mut()
        .map(|i| &mut i.expr)
        .chain(p.filters.iter_mut())
        .chain(p.having.iter_mut())
        .chain(
            p.from
                .iter_mut()
                .filter_map(|r| r.join.as_mut())
                .flat_map(|j| j.on.iter_mut()),
        )
    {
        subs.extend(e.subqueries_mut());
    }
    for q in subs {
        for_each_level(q, f);
    }
}

/// Every expression of one level (not those of the levels inside it), mutably.
fn level_exprs(p: &mut SelectPlan) -> Vec<&mut PlanExpr> {
    let mut v: Vec<&mut PlanExpr> = Vec::new();
    v.extend(p.items.iter_mut().map(|i| &mut i.expr));
    for r in &mut p.from {
        if let Some(j) = &mut r.join {
            v.extend(j.on.iter_mut());
        }
    }
    v.extend(p.filters.iter_mut());
    v.extend(p.group_by.iter_mut());
    v.extend(p.having.iter_mut());
    v.extend(p.order_by.iter_mut().map(|(e, _)| e));
    v
}

/// Apply `f` to every node of `e` (pre-order), not entering subqueries.
fn walk_mut(e: &mut PlanExpr, f: &mut dyn FnMut(&mut PlanExpr)) {
    f(e);
    for c in e.children_mut() {
        walk_mut(c, f);
    }
}

fn same(l: &Literal, v: &serde_json::Value) -> bool {
    Literal::from_json(v).is_some_and(|x| match (&x, l) {
        (Literal::Number(a), Literal::Number(b)) => a.parse::<f64>().ok() == b.parse::<f64>().ok(),
        _ => &x == l,
    })
}

/// alias → table key, over every level.
fn alias_tables(ctes: &mut [CtePlan], main: &mut SelectPlan) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut note = |p: &mut SelectPlan| {
        for r in &p.from {
            if let Source::Table { schema, table } = &r.source {
                out.entry(r.alias.clone())
                    .or_default()
                    .push(format!("{schema}.{table}"));
            }
        }
    };
    for c in ctes.iter_mut() {
        for_each_level(&mut c.body, &mut note);
    }
    for_each_level(main, &mut note);
    out
}

/// The columns (relation, column) an expression reads.
fn plan_columns(e: &PlanExpr, out: &mut Vec<(String, String)>) {
    if let PlanExpr::Column { rel, column } = e {
        out.push((rel.clone(), column.clone()));
    }
    for c in e.children() {
        plan_columns(c, out);
    }
}

/// The name of an output whose column became `column`: an aggregate's prefix (`avg_`,
/// `n_`…) and a rank's suffix are kept, the rest (the old column's name and unit) is not.
fn renamed_output(alias: &str, column: &str) -> String {
    let parts: Vec<&str> = alias.split('_').collect();
    let prefix = parts
        .first()
        .filter(|p| {
            matches!(
                **p,
                "avg" | "min" | "max" | "sum" | "total" | "mean" | "n" | "count" | "median"
            )
        })
        .map(|p| format!("{p}_"))
        .unwrap_or_default();
    let suffix = parts
        .last()
        .filter(|p| {
            parts.len() > 1
                && matches!(
                    **p,
                    "rank" | "pos" | "position" | "share" | "band" | "class"
                )
        })
        .map(|p| format!("_{p}"))
        .unwrap_or_default();
    format!("{prefix}{column}{suffix}")
}

/// After a swap inside a CTE or derived table, the outputs of a level that reads it
/// and are about the swapped column (`AVG(k.height) AS avg_height_m` now reads
/// `k.coverage_percentage`) are named after the new column, as at the swap's own level;
/// the level's references to those names follow.
fn rename_reader_aliases(p: &mut SelectPlan, readers: &[String], renames: &[(String, String)]) {
    let mut aliases: BTreeMap<String, String> = BTreeMap::new();
    // Every output name of the level: aliases and plain columns' own names.
    let taken: Vec<String> = p
        .items
        .iter()
        .filter_map(|i| match (&i.alias, &i.expr) {
            (Some(a), _) => Some(a.clone()),
            (None, PlanExpr::Column { column, .. }) => Some(column.clone()),
            _ => None,
        })
        .collect();
    for item in p.items.iter_mut() {
        let Some(alias) = item.alias.clone() else {
            continue;
        };
        let mut read = Vec::new();
        plan_columns(&item.expr, &mut read);
        let Some((old, new)) = renames
            .iter()
            .find(|(_, new)| read.iter().any(|(r, c)| readers.contains(r) && c == new))
        else {
            continue;
        };
        // The column itself or an aggregate of it (rounded, cast): named after the new
        // column. A metric derived from it (a ratio) keeps its name with the column's
        // part replaced.
        let plain = |e: &PlanExpr| match e {
            PlanExpr::Column { .. } | PlanExpr::Aggregate { .. } => true,
            PlanExpr::Cast { expr, .. } => {
                matches!(
                    expr.as_ref(),
                    PlanExpr::Column { .. } | PlanExpr::Aggregate { .. }
                )
            }
            _ => false,
        };
        let about = match &item.expr {
            PlanExpr::Column { .. } | PlanExpr::Aggregate { .. } => true,
            PlanExpr::Call { function, args } if function.eq_ignore_ascii_case("round") => {
                args.first().is_some_and(plain)
            }
            _ => false,
        };
        let renamed = if about {
            renamed_output(&alias, new)
        } else if alias.contains(old.as_str()) {
            alias.replacen(old.as_str(), new, 1)
        } else {
            continue;
        };
        if renamed == alias || taken.contains(&renamed) || aliases.values().any(|v| *v == renamed) {
            continue;
        }
        item.alias = Some(renamed.clone());
        aliases.insert(alias, renamed);
    }
    if aliases.is_empty() {
        return;
    }
    for e in level_exprs(p) {
        walk_mut(e, &mut |x| {
            if let PlanExpr::Output { name } = x {
                if let Some(n) = aliases.get(name) {
                    *name = n.clone();
                }
            }
        });
    }
}

/// Aliases naming one base table across the statement (a swap then reads one column).
fn unique_tables(tables: &BTreeMap<String, Vec<String>>) -> BTreeMap<String, String> {
    tables
        .iter()
        .filter(|(_, t)| t.len() == 1)
        .map(|(a, t)| (a.clone(), t[0].clone()))
        .collect()
}

struct Vary<'c, 'r> {
    cat: &'c Catalog,
    rng: &'r mut ChaCha8Rng,
}

/// A new plan from `seed`, or none when no column of it can be varied.
pub(crate) fn vary(
    pack: &SchemaPack,
    cat: &Catalog,
    seed: &LiftedSeed,
    rng: &mut ChaCha8Rng,
) -> Option<(Vec<CtePlan>, SelectPlan)> {
    let mut ctes = seed.ctes.clone();
    let mut main = seed.main.clone();
    let mut v = Vary { cat, rng };
    let tables = alias_tables(&mut ctes, &mut main);
    let unique = unique_tables(&tables);
    // Each change with even odds; at least one.
    let mut changed = false;
    for step in 0..2 {
        for kind in 0..6 {
            if changed && (step == 1 || !v.rng.random_bool(0.5)) {
                continue;
            }
            changed |= match kind {
                0 => v.swap_measure(&mut main, &unique).is_some(),
                1 => v.swap_output(pack, &mut main, &unique),
                2 => v.add_output(pack, &mut main, &unique),
                3 => v.swap_inner_measure(&mut ctes, &mut main, &unique),
                4 => v.drop_filter(&mut main, &unique),
                _ => v.swap_group(&mut main, &unique),
            };
        }
        if changed {
            break;
        }
    }
    if !changed {
        return None;
    }
    // Coordinates written inside text (GeoJSON, WKT) are not moved: nor is the place then.
    let mut text_geometry = false;
    let mut probe = |p: &mut SelectPlan| {
        for e in level_exprs(p) {
            walk_mut(e, &mut |x| {
                if let PlanExpr::Literal {
                    value: Literal::Text(t),
                } = x
                {
                    let t = t.trim_start().to_ascii_uppercase();
                    text_geometry |= t.starts_with('{')
                        || ["POINT", "LINESTRING", "POLYGON", "MULTI", "SRID="]
                            .iter()
                            .any(|k| t.starts_with(k));
                }
            });
        }
    };
    for c in ctes.iter_mut() {
        for_each_level(&mut c.body, &mut probe);
    }
    for_each_level(&mut main, &mut probe);
    if !text_geometry && v.rng.random_bool(0.7) {
        v.move_area(&mut ctes, &mut main, &tables);
    }
    // K-means needs at least k rows: the seed's own filters are kept around it.
    let mut kmeans = false;
    for_each_level(&mut main, &mut |p| {
        for e in level_exprs(p) {
            walk_mut(e, &mut |x| {
                kmeans |= matches!(x, PlanExpr::Window { function, .. } if function.eq_ignore_ascii_case("st_clusterkmeans"));
            });
        }
    });
    if !kmeans {
        v.redraw_literals(&mut ctes, &mut main, &unique);
    }
    if let Some(n) = main.limit {
        let options: Vec<u64> = [3, 5, 10, 15, 20, 25, 50]
            .into_iter()
            .filter(|k| *k != n && (n > 1 || *k <= 5))
            .collect();
        if n > 1 && v.rng.random_bool(0.5) {
            main.limit = options.choose(v.rng).copied();
        }
    }
    Some((ctes, main))
}

impl Vary<'_, '_> {
    fn table(&self, key: &str) -> Option<usize> {
        self.cat.tables.iter().position(|t| t.key == key)
    }

    fn draw(&mut self, f: &Filterable) -> Option<Literal> {
        super::draw_literal(f, true, self.rng)
    }

    /// Swap one measure column of the main query (and its expression subqueries) for
    /// another measure of the same table.
    fn swap_measure(
        &mut self,
        main: &mut SelectPlan,
        unique: &BTreeMap<String, String>,
    ) -> Option<Vec<(String, String)>> {
        // Measures read at the main level, with whether some read sums them.
        let mut used: BTreeMap<(String, String), bool> = BTreeMap::new();
        let mut all_cols: Vec<(String, String)> = Vec::new();
        fn scan(
            e: &PlanExpr,
            summed: bool,
            used: &mut BTreeMap<(String, String), bool>,
            all: &mut Vec<(String, String)>,
        ) {
            if let PlanExpr::Column { rel, column } = e {
                all.push((rel.clone(), column.clone()));
                *used.entry((rel.clone(), column.clone())).or_default() |= summed;
            }
            let s = summed
                || matches!(e, PlanExpr::Aggregate { function, .. } if function == "sum")
                || matches!(e, PlanExpr::Window { function, .. } if function.eq_ignore_ascii_case("sum"));
            for c in e.children() {
                scan(c, s, used, all);
            }
        }
        for e in level_exprs(main) {
            scan(e, false, &mut used, &mut all_cols);
        }
        let mut candidates: Vec<(String, String, usize, bool)> = used
            .iter()
            .filter_map(|((rel, col), summed)| {
                let key = unique.get(rel)?;
                let t = self.table(key)?;
                self.cat.tables[t]
                    .numeric
                    .contains(col)
                    .then(|| (rel.clone(), col.clone(), t, *summed))
            })
            .collect();
        // One pass over the statement: a ratio's denominators (its reference, housing
        // units or total population: the numerator may change, the reference stays), the
        // columns compared with a literal (they need a domain to draw it from) and those
        // read beside another column in arithmetic or a comparison (they keep their unit:
        // "one-person families as a share of housing units" means nothing).
        let mut denominators: Vec<(String, String)> = Vec::new();
        let mut compared_cols: Vec<(String, String)> = Vec::new();
        let mut combined_cols: Vec<(String, String)> = Vec::new();
        let mut probe = main.clone();
        for_each_level(&mut probe, &mut |p| {
            for e in level_exprs(p) {
                walk_mut(e, &mut |x| {
                    let pair = match x {
                        PlanExpr::Arith { op, left, right } => {
                            if *op == crate::plan::ArithOp::Div {
                                plan_columns(right, &mut denominators);
                            }
                            // Scaled by a number (`length_km * 1000`): a unit conversion,
                            // right only for a column of the same unit.
                            if matches!(right.as_ref(), PlanExpr::Literal { .. })
                                || matches!(left.as_ref(), PlanExpr::Literal { .. })
                            {
                                plan_columns(left, &mut combined_cols);
                                plan_columns(right, &mut combined_cols);
                            }
                            Some((left, right))
                        }
                        PlanExpr::Compare { left, right, .. } => {
                            if let (
                                PlanExpr::Column { rel: r, column: c },
                                PlanExpr::Literal { .. },
                            ) = (left.as_ref(), right.as_ref())
                            {
                                compared_cols.push((r.clone(), c.clone()));
                            }
                            Some((left, right))
                        }
                        _ => None,
                    };
                    if let Some((a, b)) = pair {
                        let mut cols = Vec::new();
                        plan_columns(a, &mut cols);
                        plan_columns(b, &mut cols);
                        cols.sort();
                        cols.dedup();
                        if cols.len() > 1 {
                            combined_cols.extend(cols);
                        }
                    }
                });
            }
        });
        candidates.retain(|(r, c, ..)| !denominators.iter().any(|(dr, dc)| dr == r && dc == c));
        candidates.sort();
        let (rel, col, t, summed) = candidates.choose(self.rng).cloned()?;
        let tc = &self.cat.tables[t];
        let taken: Vec<&String> = all_cols
            .iter()
            .filter(|(r, _)| *r == rel)
            .map(|(_, c)| c)
            .collect();
        let is = |v: &[(String, String)]| v.iter().any(|(r, c)| *r == rel && *c == col);
        let compared = is(&compared_cols);
        let combined = is(&combined_cols);
        let unit = tc.units.get(&col);
        let mut options: Vec<String> = tc
            .numeric
            .iter()
            .filter(|c| **c != col && !taken.contains(c))
            .filter(|c| !combined || tc.units.get(*c) == unit)
            .filter(|c| !summed || tc.additive.contains(c))
            .filter(|c| !compared || tc.filters.iter().any(|f| f.column() == c.as_str()))
            .cloned()
            .collect();
        super::catalog::thin_obscure(self.rng, &mut options, |c| tc.obscure.contains(c));
        let new = options.choose(self.rng).cloned()?;
        let domain = tc.filters.iter().find(|f| f.column() == new).cloned();
        let mut renames: BTreeMap<String, String> = BTreeMap::new();
        let rel_c = rel.clone();
        let (old_c, new_c) = (col.clone(), new.clone());
        // Outputs about the old column (the column itself, an aggregate of it, or a name
        // that says it) are named after the new one; other names stay. Two outputs of
        // one name would make the query ambiguous: no swap then.
        let mut names: Vec<Option<String>> = Vec::new();
        for item in &main.items {
            let mut read = Vec::new();
            plan_columns(&item.expr, &mut read);
            let touched = read.iter().any(|(r, c)| *r == rel_c && *c == old_c);
            let about = match &item.expr {
                PlanExpr::Column { .. } | PlanExpr::Aggregate { .. } => true,
                PlanExpr::Call { function, args } if function.eq_ignore_ascii_case("round") => {
                    matches!(
                        args.first(),
                        Some(PlanExpr::Aggregate { .. }) | Some(PlanExpr::Cast { .. })
                    )
                }
                _ => false,
            };
            names.push(match &item.alias {
                Some(a) if touched && (about || a.contains(old_c.as_str())) => {
                    let renamed = renamed_output(a, &new_c);
                    renames.insert(a.clone(), renamed.clone());
                    Some(renamed)
                }
                // A derived metric of the old column (`vacancy_rate_pct`) no longer is
                // what its name says: it is named after the new column and the kind of
                // value it is.
                Some(a) if touched => {
                    let kind = a
                        .rsplit('_')
                        .next()
                        .filter(|k| {
                            a.contains('_')
                                && matches!(
                                    *k,
                                    "pct"
                                        | "percent"
                                        | "ratio"
                                        | "share"
                                        | "rate"
                                        | "diff"
                                        | "difference"
                                        | "delta"
                                        | "m"
                                        | "m2"
                                        | "km"
                                        | "band"
                                        | "class"
                                        | "rank"
                                )
                        })
                        .unwrap_or("value");
                    let renamed = format!("{new_c}_{kind}");
                    renames.insert(a.clone(), renamed.clone());
                    Some(renamed)
                }
                other => other.clone(),
            });
        }
        let mut outs: Vec<String> = names
            .iter()
            .zip(&main.items)
            .filter_map(|(n, i)| match (n, &i.expr) {
                (Some(n), _) => Some(n.clone()),
                (None, PlanExpr::Column { rel, column }) if *rel == rel_c && *column == old_c => {
                    Some(new_c.clone())
                }
                (None, PlanExpr::Column { column, .. }) => Some(column.clone()),
                _ => None,
            })
            .collect();
        let n = outs.len();
        outs.sort();
        outs.dedup();
        if outs.len() != n {
            return None;
        }
        for (item, name) in main.items.iter_mut().zip(names) {
            item.alias = name;
        }
        let mut redraw = Vec::new();
        let mut swap = |e: &mut PlanExpr| {
            walk_mut(e, &mut |x| match x {
                PlanExpr::Column { rel: r, column: c } if *r == rel_c && *c == old_c => {
                    *c = new_c.clone();
                }
                PlanExpr::Output { name } => {
                    if let Some(n) = renames.get(name) {
                        *name = n.clone();
                    }
                }
                PlanExpr::Compare { left, right, .. }
                    if matches!(left.as_ref(), PlanExpr::Column { rel: r, column: c } if *r == rel_c && *c == old_c)
                        && matches!(right.as_ref(), PlanExpr::Literal { .. }) =>
                {
                    redraw.push(());
                    if let PlanExpr::Literal { value } = right.as_mut() {
                        *value = Literal::Number(String::new());
                    }
                }
                _ => {}
            });
        };
        for_each_level(main, &mut |p| {
            for e in level_exprs(p) {
                swap(e);
            }
        });
        // The literals compared with the new column are drawn from its domain.
        if !redraw.is_empty() {
            let d = domain?;
            let mut fresh = Vec::new();
            for _ in 0..redraw.len() {
                match self.draw(&d) {
                    Some(l) => fresh.push(l),
                    None => return None,
                }
            }
            let mut fresh = fresh.into_iter();
            for_each_level(main, &mut |p| {
                for e in level_exprs(p) {
                    walk_mut(e, &mut |x| {
                        if let PlanExpr::Literal { value } = x {
                            if *value == Literal::Number(String::new()) {
                                if let Some(l) = fresh.next() {
                                    *value = l;
                                }
                            }
                        }
                    });
                }
            });
        }
        // The level's outputs that changed name: renamed aliases and the plain column.
        let mut out: Vec<(String, String)> = renames.into_iter().collect();
        if main.items.iter().any(|i| {
            i.alias.is_none()
                && matches!(&i.expr, PlanExpr::Column { rel: r, column: c } if *r == rel && *c == new)
        }) {
            out.push((col.clone(), new.clone()));
        }
        Some(out)
    }

    /// Swap a measure inside a CTE body or a derived table of the main query; the
    /// relations reading it read the renamed output.
    fn swap_inner_measure(
        &mut self,
        ctes: &mut [CtePlan],
        main: &mut SelectPlan,
        unique: &BTreeMap<String, String>,
    ) -> bool {
        let derived: Vec<usize> = main
            .from
            .iter()
            .enumerate()
            .filter(|(_, r)| matches!(r.source, Source::Derived { .. }))
            .map(|(i, _)| i)
            .collect();
        let n = ctes.len() + derived.len();
        if n == 0 {
            return false;
        }
        let pick = self.rng.random_range(0..n);
        // Which relations read the level, and the level itself.
        let (readers, renames): (Vec<String>, Vec<(String, String)>) = if pick < ctes.len() {
            let Some(renames) = self.swap_measure(&mut ctes[pick].body, unique) else {
                return false;
            };
            let name = ctes[pick].name.clone();
            let mut readers = Vec::new();
            let mut note = |p: &mut SelectPlan| {
                for r in &p.from {
                    if matches!(&r.source, Source::Cte { name: n } if *n == name) {
                        readers.push(r.alias.clone());
                    }
                }
            };
            for c in ctes.iter_mut().skip(pick + 1) {
                for_each_level(&mut c.body, &mut note);
            }
            for_each_level(main, &mut note);
            (readers, renames)
        } else {
            let i = derived[pick - ctes.len()];
            let alias = main.from[i].alias.clone();
            let Source::Derived { query } = &mut main.from[i].source else {
                return false;
            };
            let Some(renames) = self.swap_measure(query, unique) else {
                return false;
            };
            (vec![alias], renames)
        };
        let rename = |e: &mut PlanExpr| {
            walk_mut(e, &mut |x| {
                if let PlanExpr::Column { rel, column } = x {
                    if readers.contains(rel) {
                        if let Some((_, new)) = renames.iter().find(|(old, _)| old == column) {
                            *column = new.clone();
                        }
                    }
                }
            })
        };
        let mut apply = |p: &mut SelectPlan| {
            for e in level_exprs(p) {
                rename(e);
            }
            rename_reader_aliases(p, &readers, &renames);
        };
        let first_reader = if pick < ctes.len() {
            pick + 1
        } else {
            ctes.len()
        };
        for c in ctes.iter_mut().skip(first_reader) {
            for_each_level(&mut c.body, &mut apply);
        }
        if pick < ctes.len() {
            // Every level of the main query may read the CTE (a scalar subquery over it).
            for_each_level(main, &mut apply);
        } else {
            // The main level only (its derived tables are levels of their own).
            for e in level_exprs(main) {
                rename(e);
            }
            rename_reader_aliases(main, &readers, &renames);
        }
        true
    }

    /// Drop one condition of the main query on a column no area, version or key fixes
    /// (a category, a threshold), when another condition remains.
    fn drop_filter(&mut self, main: &mut SelectPlan, unique: &BTreeMap<String, String>) -> bool {
        if main.filters.len() < 2 {
            return false;
        }
        let cat = self.cat;
        let droppable: Vec<usize> = main
            .filters
            .iter()
            .enumerate()
            .filter(|(_, f)| {
                let PlanExpr::Compare { left, right, .. } = f else {
                    return false;
                };
                let (PlanExpr::Column { rel, column }, PlanExpr::Literal { .. }) =
                    (left.as_ref(), right.as_ref())
                else {
                    return false;
                };
                let Some(t) = unique
                    .get(rel)
                    .and_then(|k| cat.tables.iter().position(|t| t.key == *k))
                else {
                    return false;
                };
                let tc = &cat.tables[t];
                !(cat.area_bound(t, column)
                    || tc.version.as_ref().is_some_and(|(v, _)| v == column)
                    || tc.primary_key.contains(column))
            })
            .map(|(i, _)| i)
            .collect();
        match droppable.choose(self.rng) {
            Some(&i) => {
                main.filters.remove(i);
                true
            }
            None => false,
        }
    }

    /// Group (or partition) by another category of the same table: the heat-pump share
    /// per building type instead of per scenario. The column must be read nowhere but in
    /// the grouping, its outputs and the order; its new one is not fixed by an area or a
    /// version, nor read elsewhere.
    fn swap_group(&mut self, main: &mut SelectPlan, unique: &BTreeMap<String, String>) -> bool {
        let mut keys: Vec<(String, String)> = Vec::new();
        let mut note = |e: &PlanExpr| {
            if let PlanExpr::Column { rel, column } = e {
                keys.push((rel.clone(), column.clone()));
            }
        };
        main.group_by.iter().for_each(&mut note);
        for i in &main.items {
            let mut e = i.expr.clone();
            walk_mut(&mut e, &mut |x| {
                if let PlanExpr::Window { partition_by, .. } = x {
                    partition_by.iter().for_each(&mut note);
                }
            });
        }
        keys.sort();
        keys.dedup();
        let cat = self.cat;
        let mut slots: Vec<(String, String, Vec<String>)> = Vec::new();
        for (rel, col) in keys {
            let Some(t) = unique
                .get(&rel)
                .and_then(|k| cat.tables.iter().position(|t| t.key == *k))
            else {
                continue;
            };
            let mut in_conditions = std::collections::BTreeSet::new();
            for f in main.filters.iter().chain(&main.having) {
                super::facts::columns_in(f, &rel, &mut in_conditions);
            }
            for r in &main.from {
                if let Some(j) = &r.join {
                    j.on.iter()
                        .for_each(|e| super::facts::columns_in(e, &rel, &mut in_conditions));
                }
            }
            if in_conditions.contains(&col) {
                continue;
            }
            let mut read = std::collections::BTreeSet::new();
            super::facts::columns_of(main, &rel, &mut read);
            let tc = &cat.tables[t];
            let options: Vec<String> = tc
                .groupable
                .iter()
                .filter(|c| {
                    !read.contains(*c)
                        && !cat.area_bound(t, c)
                        && tc.version.as_ref().is_none_or(|(v, _)| v != *c)
                })
                .cloned()
                .collect();
            if !options.is_empty() {
                slots.push((rel, col, options));
            }
        }
        let Some((rel, col, options)) = slots.choose(self.rng).cloned() else {
            return false;
        };
        let Some(new) = options.choose(self.rng).cloned() else {
            return false;
        };
        // Grouping by the version (a project's scenarios) read every version: without
        // it, the query reads one, the default.
        let pin = unique
            .get(&rel)
            .and_then(|k| cat.tables.iter().find(|t| t.key == *k))
            .and_then(|t| t.version.as_ref())
            .filter(|(v, _)| *v == col)
            .and_then(|(v, values)| Some((v.clone(), Literal::from_json(values.first()?)?)));
        let mut swap = |e: &mut PlanExpr| {
            walk_mut(e, &mut |x| {
                if let PlanExpr::Column { rel: r, column: c } = x {
                    if *r == rel && *c == col {
                        *c = new.clone();
                    }
                }
            })
        };
        if let Some((v, value)) = pin {
            main.filters.push(PlanExpr::compare(
                crate::plan::CompareOp::Eq,
                PlanExpr::column(&rel, &v),
                PlanExpr::Literal { value },
            ));
        }
        main.group_by.iter_mut().for_each(&mut swap);
        main.order_by.iter_mut().for_each(|(e, _)| swap(e));
        for i in &mut main.items {
            swap(&mut i.expr);
            if matches!(&i.expr, PlanExpr::Column { rel: r, column: c } if *r == rel && *c == new) {
                i.alias = None;
            }
        }
        true
    }

    /// Draw again, each with even odds, the literals compared with a column that has a
    /// value domain and that no area or version fixes (a height threshold, a building
    /// type).
    fn redraw_literals(
        &mut self,
        ctes: &mut [CtePlan],
        main: &mut SelectPlan,
        unique: &BTreeMap<String, String>,
    ) {
        let cat = self.cat;
        let rng = &mut *self.rng;
        // Only conditions: a literal inside an output (a FILTER, a CASE band) is what the
        // output's name says.
        let mut each = |p: &mut SelectPlan| {
            for e in p.filters.iter_mut().chain(p.having.iter_mut()) {
                walk_mut(e, &mut |x| {
                    let PlanExpr::Compare { left, right, .. } = x else {
                        return;
                    };
                    let (PlanExpr::Column { rel, column }, PlanExpr::Literal { value }) =
                        (left.as_ref(), right.as_mut())
                    else {
                        return;
                    };
                    let Some(t) = unique
                        .get(rel)
                        .and_then(|k| cat.tables.iter().position(|t| t.key == *k))
                    else {
                        return;
                    };
                    let tc = &cat.tables[t];
                    if cat.area_bound(t, column)
                        || tc.version.as_ref().is_some_and(|(v, _)| v == column)
                        || tc.primary_key.contains(column)
                    {
                        return;
                    }
                    let Some(f) = tc.filters.iter().find(|f| f.column() == column) else {
                        return;
                    };
                    if !rng.random_bool(0.5) {
                        return;
                    }
                    // Same kind of literal as the seed's (a number stays a number).
                    let fresh = match f {
                        Filterable::Range { .. } if !matches!(value, Literal::Number(_)) => None,
                        _ => super::draw_literal(f, true, rng)
                            .filter(|l| std::mem::discriminant(l) == std::mem::discriminant(value)),
                    };
                    if let Some(l) = fresh {
                        *value = l;
                    }
                });
            }
        };
        for c in ctes.iter_mut() {
            for_each_level(&mut c.body, &mut each);
        }
        for_each_level(main, &mut each);
    }

    /// Columns of the table behind `alias` with `role`, not read anywhere in `main`.
    fn unused_columns(
        &mut self,
        pack: &SchemaPack,
        main: &SelectPlan,
        alias: &str,
        key: &str,
        role: ColumnRole,
    ) -> Vec<String> {
        let Some((schema, name)) = key.split_once('.') else {
            return Vec::new();
        };
        let Some(info) = pack.table(schema, name) else {
            return Vec::new();
        };
        let mut read = std::collections::BTreeSet::new();
        super::facts::columns_of(main, alias, &mut read);
        let mut options: Vec<String> = info
            .columns
            .iter()
            .zip(&info.roles)
            .filter(|((c, _), r)| **r == role && !read.contains(c))
            .map(|((c, _), _)| c.clone())
            .collect();
        super::catalog::thin_obscure(self.rng, &mut options, |c| {
            info.is_obscure(c) || info.breakdown.contains(c)
        });
        options
    }

    /// Swap a plain output column (a name, category, flag, timestamp or measure read only
    /// there) for another column of the same role and table.
    fn swap_output(
        &mut self,
        pack: &SchemaPack,
        main: &mut SelectPlan,
        unique: &BTreeMap<String, String>,
    ) -> bool {
        let mut slots: Vec<(usize, String, Vec<String>)> = Vec::new();
        for (i, item) in main.items.iter().enumerate() {
            let PlanExpr::Column { rel, column } = &item.expr else {
                continue;
            };
            let Some(key) = unique.get(rel) else { continue };
            let Some((schema, name)) = key.split_once('.') else {
                continue;
            };
            let Some(role) = pack.table(schema, name).and_then(|t| t.role(column)) else {
                continue;
            };
            if matches!(
                role,
                ColumnRole::Key | ColumnRole::Geometry | ColumnRole::Raster
            ) {
                continue;
            }
            // Read elsewhere (a filter, the grouping, the order): its meaning is the query's.
            let mut elsewhere = std::collections::BTreeSet::new();
            let mut rest = main.clone();
            rest.items.remove(i);
            super::facts::columns_of(&rest, rel, &mut elsewhere);
            if elsewhere.contains(column) {
                continue;
            }
            let options = self.unused_columns(pack, main, rel, key, role);
            if !options.is_empty() {
                slots.push((i, rel.clone(), options));
            }
        }
        let Some((i, rel, options)) = slots.choose(self.rng).cloned() else {
            return false;
        };
        let Some(new) = options.choose(self.rng).cloned() else {
            return false;
        };
        main.items[i].expr = PlanExpr::column(&rel, &new);
        main.items[i].alias = None;
        true
    }

    /// Add an output column (a name, measure or category of the first relation) to a
    /// query that neither groups nor aggregates.
    fn add_output(
        &mut self,
        pack: &SchemaPack,
        main: &mut SelectPlan,
        unique: &BTreeMap<String, String>,
    ) -> bool {
        let mut aggregated = !main.group_by.is_empty() || main.distinct;
        for i in &main.items {
            let mut e = i.expr.clone();
            walk_mut(&mut e, &mut |x| {
                aggregated |= matches!(x, PlanExpr::Aggregate { .. });
            });
        }
        if aggregated {
            return false;
        }
        let Some(first) = main.from.first() else {
            return false;
        };
        let Some(key) = unique.get(&first.alias) else {
            return false;
        };
        let alias = first.alias.clone();
        let mut options = Vec::new();
        for role in [ColumnRole::Name, ColumnRole::Measure, ColumnRole::Category] {
            options.extend(self.unused_columns(pack, main, &alias, key, role));
        }
        let Some(new) = options.choose(self.rng).cloned() else {
            return false;
        };
        let at = self.rng.random_range(1..=main.items.len());
        main.items.insert(
            at,
            crate::plan::SelectItem {
                expr: PlanExpr::column(&alias, &new),
                alias: None,
            },
        );
        true
    }

    /// Move every literal the seed's area fixes to another area.
    fn move_area(
        &mut self,
        ctes: &mut [CtePlan],
        main: &mut SelectPlan,
        tables: &BTreeMap<String, Vec<String>>,
    ) {
        let areas = &self.cat.areas;
        if areas.len() < 2 {
            return;
        }
        // (table, column, literal) of every `column = literal` of the statement.
        let mut eqs: Vec<(String, String, Literal)> = Vec::new();
        let mut scan = |p: &mut SelectPlan| {
            for e in level_exprs(p) {
                walk_mut(e, &mut |x| {
                    if let PlanExpr::Compare { left, right, .. } = x {
                        if let (PlanExpr::Column { rel, column }, PlanExpr::Literal { value }) =
                            (left.as_ref(), right.as_ref())
                        {
                            for t in tables.get(rel).into_iter().flatten() {
                                let name = t.rsplit('.').next().unwrap_or(t);
                                eqs.push((name.to_string(), column.clone(), value.clone()));
                            }
                        }
                    }
                });
            }
        };
        for c in ctes.iter_mut() {
            for_each_level(&mut c.body, &mut scan);
        }
        for_each_level(main, &mut scan);
        let score = |a: &Area| {
            eqs.iter()
                .filter(|(t, c, l)| a.value(t, c).is_some_and(|v| same(l, v)))
                .count()
        };
        let Some((from, best)) = areas
            .iter()
            .enumerate()
            .map(|(i, a)| (i, score(a)))
            .max_by_key(|(i, s)| (*s, std::cmp::Reverse(*i)))
        else {
            return;
        };
        if best == 0 {
            return;
        }
        let keys: Vec<&String> = tables.values().flatten().collect();
        let targets: Vec<usize> = (0..areas.len())
            .filter(|i| *i != from && keys.iter().all(|k| areas[*i].fills(k)))
            .collect();
        let Some(&to) = targets.choose(self.rng) else {
            return;
        };
        let (old, new) = (&areas[from], &areas[to]);
        let map = |x: f64, axis: usize| {
            let (o0, o1) = (old.extent[axis], old.extent[axis + 2]);
            let (n0, n1) = (new.extent[axis], new.extent[axis + 2]);
            n0 + (x - o0) / (o1 - o0) * (n1 - n0)
        };
        let inside = |x: f64, axis: usize| {
            let pad = 0.5 * (old.extent[axis + 2] - old.extent[axis]);
            x >= old.extent[axis] - pad && x <= old.extent[axis + 2] + pad
        };
        let mut rewrite = |p: &mut SelectPlan| {
            for e in level_exprs(p) {
                walk_mut(e, &mut |x| match x {
                    PlanExpr::Compare { left, right, .. } => {
                        if let (PlanExpr::Column { rel, column }, PlanExpr::Literal { value }) =
                            (left.as_ref(), right.as_mut())
                        {
                            for t in tables.get(rel).into_iter().flatten() {
                                let name = t.rsplit('.').next().unwrap_or(t);
                                if old.value(name, column).is_some_and(|v| same(value, v)) {
                                    if let Some(l) =
                                        new.value(name, column).and_then(Literal::from_json)
                                    {
                                        *value = l;
                                    }
                                }
                            }
                        }
                    }
                    PlanExpr::Call { function, args } => {
                        let f = function.to_lowercase();
                        let coords: &[usize] = match f.as_str() {
                            "st_makepoint" | "st_point" => &[0, 1],
                            "st_makeenvelope" => &[0, 1, 2, 3],
                            _ => &[],
                        };
                        for &i in coords {
                            if let Some(PlanExpr::Literal {
                                value: Literal::Number(n),
                            }) = args.get_mut(i)
                            {
                                let axis = i % 2;
                                if let Ok(x) = n.parse::<f64>() {
                                    if inside(x, axis) {
                                        *n = format!("{:.4}", map(x, axis));
                                    }
                                }
                            }
                        }
                        if f == "st_transform" && old.metric_srid != new.metric_srid {
                            if let Some(PlanExpr::Literal {
                                value: Literal::Number(n),
                            }) = args.get_mut(1)
                            {
                                if *n == old.metric_srid.to_string() {
                                    *n = new.metric_srid.to_string();
                                }
                            }
                        }
                    }
                    _ => {}
                });
            }
        };
        for c in ctes.iter_mut() {
            for_each_level(&mut c.body, &mut rewrite);
        }
        for_each_level(main, &mut rewrite);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renamed_outputs_keep_the_aggregate_not_the_old_unit() {
        assert_eq!(renamed_output("avg_height_m", "n_people"), "avg_n_people");
        assert_eq!(renamed_output("height_rank", "volume"), "volume_rank");
        assert_eq!(renamed_output("total_area_m2", "volume"), "total_volume");
        assert_eq!(renamed_output("tallest", "volume"), "volume");
    }
    use crate::features::{Label, QueryType};
    use crate::pack::SchemaPack;
    use rand::SeedableRng;

    #[test]
    fn most_seeds_have_variants_that_change_a_column() {
        let pack = SchemaPack::builtin("cim-wizard").expect("pack");
        let cat = Catalog::new(&pack);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (mut with, mut total) = (0, 0);
        let mut none = Vec::new();
        for line in pack.corpus_jsonl().expect("corpus").lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("json");
            let ty = QueryType::parse(v["sql_type"].as_str().unwrap_or_default())
                .unwrap_or(QueryType::SimpleSelect);
            let Ok(seed) =
                super::super::lift::lift(&pack, "t", v["sql_postgis"].as_str().unwrap_or(""), ty)
            else {
                continue;
            };
            total += 1;
            let variants: Vec<_> = (0..30)
                .filter_map(|_| vary(&pack, &cat, &seed, &mut rng))
                .collect();
            let ok = variants.len();
            // Every variant is SQL that parses back.
            for (ctes, main) in &variants {
                let text = crate::assemble::render(&crate::assemble::ast::statement_of(ctes, main));
                assert!(
                    crate::sql::parse(&text).is_ok(),
                    "{}: a variant does not parse:\n{text}",
                    v["id"]
                );
            }
            if ok > 0 {
                with += 1;
            } else {
                none.push(v["id"].as_str().unwrap_or_default().to_string());
            }
        }
        eprintln!("{with} of {total} lifted seeds vary; not: {none:?}");
        assert!(with * 100 >= total * 80, "{with} of {total}");
    }
}

#[cfg(test)]
mod reader_tests {
    use super::*;
    use crate::features::QueryType;
    use crate::pack::SchemaPack;
    use rand::SeedableRng;

    /// A swap inside a CTE renames the outputs of the query reading it: an average of
    /// the CTE's column is named after the column it now reads.
    #[test]
    fn a_swap_inside_a_cte_renames_the_reading_aliases() {
        let pack = SchemaPack::builtin("cim-wizard").expect("pack");
        let cat = Catalog::new(&pack);
        let sql = "WITH k AS (SELECT bp.height, bp.building_id FROM cim_vector.building_properties AS bp \
                   WHERE bp.scenario_id = 'baseline') \
                   SELECT COUNT(*) AS n_buildings, ROUND(AVG(k.height)::NUMERIC, 2) AS avg_height_m FROM k AS k \
                   ORDER BY avg_height_m DESC";
        let seed = super::super::lift::lift(&pack, "t", sql, QueryType::Aggregation).expect("lift");
        let mut swapped = 0;
        for s in 0..40 {
            let mut rng = ChaCha8Rng::seed_from_u64(s);
            let mut ctes = seed.ctes.clone();
            let mut main = seed.main.clone();
            let unique = unique_tables(&alias_tables(&mut ctes, &mut main));
            let mut v = Vary {
                cat: &cat,
                rng: &mut rng,
            };
            if !v.swap_inner_measure(&mut ctes, &mut main, &unique) {
                continue;
            }
            let text = crate::assemble::render(&crate::assemble::ast::statement_of(&ctes, &main));
            if text.contains("k.height") {
                continue;
            }
            swapped += 1;
            assert!(
                !text.contains("avg_height_m"),
                "alias kept its old column:\n{text}"
            );
            assert!(
                text.contains("ORDER BY avg_"),
                "ordering lost its output:\n{text}"
            );
        }
        assert!(swapped > 0, "no swap happened in 40 draws");
    }
}
