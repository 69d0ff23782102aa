//! One version of the data per query: a table whose rows come once per version (the pack's
//! `version_column`, a project's scenario) is read in one version, as an analyst scopes a
//! question to "project X, scenario baseline". Without the pin every building, bus or line
//! is counted, summed and listed once per scenario.

use std::collections::{BTreeMap, BTreeSet};

use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::catalog::Catalog;
use crate::plan::{CompareOp, CtePlan, Literal, PlanExpr, SelectPlan, Source};

/// Pins the version column of every relation that reads a versioned table, at every level
/// of the statement (CTE bodies, derived tables, subqueries), unless that level groups by
/// it, already compares it, or joins it to a relation whose version is fixed. One version
/// for the whole statement, drawn from the values every versioned table used can hold
/// (the domain's first value, the default version, half of the time).
pub(crate) fn scope_versions(
    cat: &Catalog,
    ctes: &mut [CtePlan],
    main: &mut SelectPlan,
    rng: &mut ChaCha8Rng,
) {
    let mut domains: Vec<&Vec<serde_json::Value>> = Vec::new();
    for c in ctes.iter_mut() {
        versioned_domains(cat, &mut c.body, &mut domains);
    }
    versioned_domains(cat, main, &mut domains);
    let Some(first) = domains.first() else {
        return;
    };
    let common: Vec<&serde_json::Value> = first
        .iter()
        .filter(|v| domains.iter().all(|d| d.contains(v)))
        .collect();
    let Some(value) = (if rng.random_bool(0.5) {
        common.first().copied()
    } else {
        common.choose(rng).copied()
    }) else {
        return;
    };
    let lit = Literal::from_json(value).unwrap_or_else(|| Literal::Number(value.to_string()));
    // A CTE whose version the main query groups by (lines per scenario) is read in every
    // version.
    let grouped_outside: BTreeSet<String> = main
        .from
        .iter()
        .filter_map(|r| match &r.source {
            Source::Cte { name } => {
                let body = &ctes.iter().find(|c| c.name == *name)?.body;
                let col = carried_version(cat, body)?;
                main.group_by
                    .contains(&PlanExpr::column(&r.alias, &col))
                    .then(|| name.clone())
            }
            _ => None,
        })
        .collect();
    let mut carried: BTreeMap<String, String> = BTreeMap::new();
    for c in ctes.iter_mut() {
        if grouped_outside.contains(&c.name) {
            continue;
        }
        pin_level(cat, &mut c.body, &lit, &carried, &BTreeSet::new());
        if let Some(col) = carried_version(cat, &c.body) {
            carried.insert(c.name.clone(), col);
        }
    }
    pin_level(cat, main, &lit, &carried, &BTreeSet::new());
}

/// The output column of a (pinned) level that carries its versioned table's version.
fn carried_version(cat: &Catalog, body: &SelectPlan) -> Option<String> {
    body.from.iter().find_map(|r| {
        let (col, _) = version_of(cat, &r.base)?;
        body.items.iter().find_map(|i| match &i.expr {
            PlanExpr::Column { rel, column } if *rel == r.alias && column == col => {
                Some(i.alias.clone().unwrap_or_else(|| col.clone()))
            }
            _ => None,
        })
    })
}

/// The value domains of the versioned tables a level (and the levels inside it) reads.
fn versioned_domains<'c>(
    cat: &'c Catalog,
    p: &mut SelectPlan,
    out: &mut Vec<&'c Vec<serde_json::Value>>,
) {
    for r in &mut p.from {
        match &mut r.source {
            Source::Table { .. } => {
                if let Some((_, values)) = version_of(cat, &r.base) {
                    if !values.is_empty() {
                        out.push(values);
                    }
                }
            }
            Source::Derived { query } => versioned_domains(cat, query, out),
            Source::Cte { .. } => {}
        }
    }
    for_each_subquery_mut(p, &mut |q| versioned_domains(cat, q, out));
}

fn version_of<'c>(cat: &'c Catalog, base: &str) -> Option<&'c (String, Vec<serde_json::Value>)> {
    cat.tables
        .iter()
        .find(|t| t.key == base)
        .and_then(|t| t.version.as_ref())
}

fn pin_level(
    cat: &Catalog,
    p: &mut SelectPlan,
    lit: &Literal,
    ctes: &BTreeMap<String, String>,
    outer: &BTreeSet<(String, String)>,
) {
    // Inner levels first: they see the outer aliases only through their own conditions.
    // A CTE or derived table that outputs its pinned version carries it out.
    let mut carriers: Vec<(String, String)> = Vec::new();
    for r in &mut p.from {
        match &mut r.source {
            Source::Derived { query } => {
                let grouped = carried_version(cat, query)
                    .is_some_and(|c| p.group_by.contains(&PlanExpr::column(&r.alias, &c)));
                if grouped {
                    continue;
                }
                pin_level(cat, query, lit, ctes, outer);
                if let Some(c) = carried_version(cat, query) {
                    carriers.push((r.alias.clone(), c));
                }
            }
            Source::Cte { name } => {
                if let Some(c) = ctes.get(name) {
                    carriers.push((r.alias.clone(), c.clone()));
                }
            }
            Source::Table { .. } => {}
        }
    }
    // The version columns a subquery may be tied to: this level's and the enclosing ones'.
    let mut inner_outer = outer.clone();
    for r in &p.from {
        if let Some((col, _)) = version_of(cat, &r.base) {
            inner_outer.insert((r.alias.clone(), col.clone()));
        }
    }
    inner_outer.extend(carriers.iter().cloned());
    for_each_subquery_mut(p, &mut |q| pin_level(cat, q, lit, ctes, &inner_outer));
    // A column tied to an enclosing query's version (`ps.scenario_id = gb.scenario_id`)
    // takes that version: a value drawn for it would contradict the pin outside.
    let tied: BTreeSet<(String, String)> = p
        .filters
        .iter()
        .filter_map(|f| match f {
            PlanExpr::Compare {
                op: CompareOp::Eq,
                left,
                right,
            } => match (left.as_ref(), right.as_ref()) {
                (
                    PlanExpr::Column { rel: a, column: x },
                    PlanExpr::Column { rel: b, column: y },
                ) if outer.contains(&(b.clone(), y.clone())) => Some((a.clone(), x.clone())),
                (
                    PlanExpr::Column { rel: b, column: y },
                    PlanExpr::Column { rel: a, column: x },
                ) if outer.contains(&(b.clone(), y.clone())) => Some((a.clone(), x.clone())),
                _ => None,
            },
            _ => None,
        })
        .collect();
    p.filters.retain(|f| match f {
        PlanExpr::Compare { left, right, .. } => {
            ![left, right].iter().any(|side| {
                matches!(side.as_ref(), PlanExpr::Column { rel, column }
                if tied.contains(&(rel.clone(), column.clone())))
            }) || !matches!(
                (left.as_ref(), right.as_ref()),
                (PlanExpr::Literal { .. }, _) | (_, PlanExpr::Literal { .. })
            )
        }
        _ => true,
    });

    // Columns the level's equi-joins make equal: one version per class.
    let mut classes: Vec<BTreeSet<(String, String)>> = Vec::new();
    let local: BTreeSet<&str> = p.from.iter().map(|r| r.alias.as_str()).collect();
    let equalities = p
        .from
        .iter()
        .filter_map(|r| r.join.as_ref())
        .flat_map(|j| &j.on)
        .chain(&p.filters);
    for e in equalities {
        let PlanExpr::Compare {
            op: CompareOp::Eq,
            left,
            right,
        } = e
        else {
            continue;
        };
        let (PlanExpr::Column { rel: a, column: x }, PlanExpr::Column { rel: b, column: y }) =
            (left.as_ref(), right.as_ref())
        else {
            continue;
        };
        // An outer query's column is a correlation, not a join of this level.
        if !local.contains(a.as_str()) || !local.contains(b.as_str()) {
            continue;
        }
        let pa = (a.clone(), x.clone());
        let pb = (b.clone(), y.clone());
        let ia = classes.iter().position(|c| c.contains(&pa));
        let ib = classes.iter().position(|c| c.contains(&pb));
        match (ia, ib) {
            (Some(i), Some(j)) if i != j => {
                let moved = classes.remove(i.max(j));
                classes[i.min(j)].extend(moved);
            }
            (Some(_), Some(_)) => {}
            (Some(i), None) => {
                classes[i].insert(pb);
            }
            (None, Some(j)) => {
                classes[j].insert(pa);
            }
            (None, None) => classes.push([pa, pb].into_iter().collect()),
        }
    }
    let mut handled: Vec<BTreeSet<(String, String)>> = Vec::new();
    let mut pins = Vec::new();
    for r in &p.from {
        let carrier = carriers.iter().find(|(a, _)| *a == r.alias);
        let key = match (&r.source, carrier) {
            (Source::Table { .. }, _) => match version_of(cat, &r.base) {
                Some((col, values)) if !values.is_empty() => (r.alias.clone(), col.clone()),
                _ => continue,
            },
            (_, Some((a, c))) => (a.clone(), c.clone()),
            _ => continue,
        };
        let class = classes
            .iter()
            .find(|c| c.contains(&key))
            .cloned()
            .unwrap_or_else(|| [key.clone()].into_iter().collect());
        if handled.iter().any(|h| h.contains(&key)) {
            continue;
        }
        handled.push(class.clone());
        let member = |e: &PlanExpr| {
            matches!(e, PlanExpr::Column { rel, column }
                if class.contains(&(rel.clone(), column.clone())))
        };
        // Grouped: one version per group. Tied to an outer query's column: its version.
        // Counted (`COUNT(DISTINCT ps.scenario_id)`, the scenarios of each project): the
        // versions are what is asked.
        let grouped = p.group_by.iter().any(member)
            || p.items.iter().any(|i| {
                matches!(&i.expr, PlanExpr::Aggregate { distinct: true, arg: Some(a), .. }
                    if member(a))
            });
        let correlated = p.filters.iter().any(|f| match f {
            PlanExpr::Compare { left, right, .. } => {
                (member(left) && !matches!(right.as_ref(), PlanExpr::Literal { .. }))
                    || (member(right) && !matches!(left.as_ref(), PlanExpr::Literal { .. }))
            }
            _ => false,
        } && !is_class_equality(f, &class));
        if correlated {
            continue;
        }
        // A value drawn for a joined column (a scenario of the project_scenario row)
        // gives way to the statement's version, or to the grouping by it: two would
        // contradict each other, one would make the groups one.
        p.filters.retain(|f| match f {
            PlanExpr::Compare { left, right, .. } => {
                !(member(left) || member(right)) || is_class_equality(f, &class)
            }
            _ => true,
        });
        if grouped {
            continue;
        }
        // A CTE or derived table in the class brings its pinned version already.
        if class.iter().any(|k| carriers.contains(k)) {
            continue;
        }
        pins.push(PlanExpr::compare(
            CompareOp::Eq,
            PlanExpr::column(&key.0, &key.1),
            PlanExpr::Literal { value: lit.clone() },
        ));
    }
    p.filters.extend(pins);
}

/// `a = b` between two columns of `class` (a comma join's condition).
fn is_class_equality(f: &PlanExpr, class: &BTreeSet<(String, String)>) -> bool {
    let PlanExpr::Compare { left, right, .. } = f else {
        return false;
    };
    [left, right].iter().all(|s| {
        matches!(s.as_ref(), PlanExpr::Column { rel, column }
            if class.contains(&(rel.clone(), column.clone())))
    })
}

fn for_each_subquery_mut(p: &mut SelectPlan, f: &mut dyn FnMut(&mut SelectPlan)) {
    for e in p
        .items
        .iter_mut()
        .map(|i| &mut i.expr)
        .chain(p.filters.iter_mut())
        .chain(p.having.iter_mut())
    {
        for q in e.subqueries_mut() {
            f(q);
        }
    }
}

/// One level of detail per relation of a table with levels (a building has one row per
/// level of detail): every relation at the statement's levels (the main query, CTE bodies,
/// derived tables) whose level column nothing compares, joins, groups or outputs reads
/// one level, as the seeds' "level-of-detail 0 buildings" do. Without it a footprint is
/// summed, collected and listed once per level. The level is the domain's lowest half of
/// the time (the seeds' usual LOD 0), else any.
pub(crate) fn scope_levels(
    cat: &Catalog,
    ctes: &mut [CtePlan],
    main: &mut SelectPlan,
    rng: &mut ChaCha8Rng,
) {
    for c in ctes.iter_mut() {
        pin_levels(cat, &mut c.body, rng);
    }
    pin_levels(cat, main, rng);
}

fn pin_levels(cat: &Catalog, p: &mut SelectPlan, rng: &mut ChaCha8Rng) {
    for r in &mut p.from {
        if let Source::Derived { query } = &mut r.source {
            pin_levels(cat, query, rng);
        }
    }
    let mut pins = Vec::new();
    // The level another relation of the table already reads here, else the one drawn.
    let mut drawn: Vec<(String, i64)> = Vec::new();
    for r in &p.from {
        if let Some(t) = cat.tables.iter().find(|t| t.key == r.base) {
            if let Some((_, level)) = &t.levels {
                let col = PlanExpr::column(&r.alias, level);
                let fixed = p
                    .filters
                    .iter()
                    .chain(
                        p.from
                            .iter()
                            .filter_map(|x| x.join.as_ref())
                            .flat_map(|j| &j.on),
                    )
                    .find_map(|f| match f {
                        PlanExpr::Compare {
                            op: CompareOp::Eq,
                            left,
                            right,
                        } if **left == col => match right.as_ref() {
                            PlanExpr::Literal {
                                value: Literal::Number(n),
                            } => n.parse::<i64>().ok(),
                            _ => None,
                        },
                        _ => None,
                    });
                if let Some(v) = fixed {
                    drawn.push((r.base.clone(), v));
                }
            }
        }
    }
    for r in &p.from {
        if !matches!(r.source, Source::Table { .. }) {
            continue;
        }
        let Some(t) = cat.tables.iter().find(|t| t.key == r.base) else {
            continue;
        };
        let Some((_, level)) = &t.levels else {
            continue;
        };
        let Some((min, max)) = t.filters.iter().find_map(|f| match f {
            super::catalog::Filterable::Range {
                column, min, max, ..
            } if column == level => Some((*min as i64, *max as i64)),
            _ => None,
        }) else {
            continue;
        };
        let col = PlanExpr::column(&r.alias, level);
        let mut read = false;
        let mut visit = |e: &PlanExpr| read |= mentions(e, &col);
        p.items.iter().for_each(|i| visit(&i.expr));
        p.filters.iter().for_each(&mut visit);
        p.group_by.iter().for_each(&mut visit);
        p.having.iter().for_each(&mut visit);
        p.order_by.iter().for_each(|(e, _)| visit(e));
        p.from
            .iter()
            .filter_map(|x| x.join.as_ref())
            .flat_map(|j| &j.on)
            .for_each(&mut visit);
        if read {
            continue;
        }
        // Two relations of one table (pairs of buildings) read the same level.
        let value = match drawn.iter().find(|(b, _)| *b == r.base) {
            Some((_, v)) => *v,
            None => {
                let v = if rng.random_bool(0.5) {
                    min
                } else {
                    rng.random_range(min..=max)
                };
                drawn.push((r.base.clone(), v));
                v
            }
        };
        pins.push(PlanExpr::compare(
            CompareOp::Eq,
            col,
            PlanExpr::number(value.to_string()),
        ));
    }
    p.filters.extend(pins);
}

/// Whether `e` reads `col` anywhere (subqueries aside).
fn mentions(e: &PlanExpr, col: &PlanExpr) -> bool {
    e == col || e.children().into_iter().any(|c| mentions(c, col))
}
