//! S2 (constant outputs and orderings), S3 (`COUNT(DISTINCT x)` per group of x's own key)
//! and S4 (grouping by a pinned column, one group per row).

use std::collections::BTreeSet;

use sqlparser::ast::{Expr, GroupByExpr, SelectItem};

use super::joins::{covers_key, Shape};
use super::scope::{
    equalities, for_each_local, own_ctes, single_select, ColRef, Level, Rel, RelSource,
};
use super::{args_of, constant, distinct_args, fn_name, number, text, Lint, SenseCode};
use crate::sql::analyze::fold;

/// Columns the WHERE clause pins to one value (`col = literal`), those a CTE or derived
/// table the level reads pins, the columns join equalities tie to a pinned one, and the
/// columns of the same relation the pinned value fixes through the pack's areas
/// (`project_id = 'milano_centro'` fixes the project's name, city and network: one area
/// has that id).
pub(super) fn pinned(l: &Lint<'_>, lvl: &Level<'_>) -> Vec<ColRef> {
    // Many checks ask for one level's pins: worked out once per level.
    let key = lvl.select as *const sqlparser::ast::Select as usize;
    if let Some(v) = l.pinned_cache.borrow().get(&key) {
        return v.clone();
    }
    let v: Vec<ColRef> = pinned_values(l, lvl, 0)
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    l.pinned_cache.borrow_mut().insert(key, v.clone());
    v
}

/// [`pinned`], with the text value each column is pinned to when it is one.
fn pinned_values(l: &Lint<'_>, lvl: &Level<'_>, depth: usize) -> Vec<(ColRef, Option<String>)> {
    let mut v: Vec<(ColRef, Option<String>)> = Vec::new();
    let push = |v: &mut Vec<(ColRef, Option<String>)>, c: ColRef, t: Option<String>| {
        if !v.iter().any(|(d, _)| *d == c) {
            v.push((c, t));
        }
    };
    if let Some(w) = &lvl.select.selection {
        for (left, right) in equalities(w) {
            let lit = |e: &Expr| number(e).is_some() || text(e).is_some();
            if let (Some(col), true) = (lvl.column(l.pack, left), lit(right)) {
                push(&mut v, col, text(right).map(str::to_string));
            } else if let (Some(col), true) = (lvl.column(l.pack, right), lit(left)) {
                push(&mut v, col, text(left).map(str::to_string));
            }
        }
    }
    // Inside the CTEs and derived tables this level reads (one relation each).
    if depth < 4 {
        for rel in &lvl.rels {
            let RelSource::Query(q) = &rel.source else {
                continue;
            };
            let Some(sel) = single_select(q) else {
                continue;
            };
            let ctes = own_ctes(q);
            let inner = Level::new(l.pack, sel, &ctes);
            if inner.rels.len() != 1 {
                continue;
            }
            for (c, t) in pinned_values(l, &inner, depth + 1) {
                let outer = ColRef {
                    alias: rel.alias.clone(),
                    table: c.table,
                    column: c.column,
                };
                push(&mut v, outer, t);
            }
        }
    }
    // Through the joins' key equalities.
    let ties: Vec<(ColRef, ColRef)> = lvl
        .rels
        .iter()
        .filter_map(|r| r.on)
        .flat_map(|on| lvl.column_equalities(l.pack, on))
        .collect();
    loop {
        let mut grew = false;
        for (a, b) in &ties {
            for (from, to) in [(a, b), (b, a)] {
                let found = v.iter().find(|(c, _)| c == from).map(|(_, t)| t.clone());
                if let Some(t) = found {
                    if !v.iter().any(|(c, _)| c == to) {
                        v.push((to.clone(), t));
                        grew = true;
                    }
                }
            }
        }
        if !grew {
            break;
        }
    }
    let named: Vec<(ColRef, String)> = v
        .iter()
        .filter_map(|(c, t)| Some((c.clone(), t.clone()?)))
        .collect();
    // A pinned place fixes what the pack's places tie to it, on every base-table relation
    // of the level ([`crate::pack::SchemaPack::area_fixes`]).
    for (col, t) in named {
        let place = col
            .table
            .split_once('.')
            .and_then(|(s, n)| l.pack.table(s, n))
            .is_some_and(|i| i.area_bound.contains(&col.column));
        if !place {
            continue;
        }
        for rel in &lvl.rels {
            let RelSource::Table(table) = &rel.source else {
                continue;
            };
            let Some(info) = table.split_once('.').and_then(|(s, n)| l.pack.table(s, n)) else {
                continue;
            };
            for other in &info.area_bound {
                if !l
                    .pack
                    .area_fixes((&col.table, &col.column, &t), table, other)
                {
                    continue;
                }
                let value = l
                    .pack
                    .data()
                    .areas
                    .iter()
                    .find(|a| {
                        a.value(&col.table, &col.column).and_then(|y| y.as_str())
                            == Some(t.as_str())
                    })
                    .and_then(|a| a.value(table, other))
                    .and_then(|y| y.as_str())
                    .map(str::to_string);
                let c = ColRef {
                    alias: rel.alias.clone(),
                    table: table.clone(),
                    column: other.clone(),
                };
                push(&mut v, c, value);
            }
        }
    }
    v
}

/// Base-table columns of relation `rel` that are pinned to one value: by this level's
/// WHERE clause, or inside the CTE / derived table the relation is.
pub(super) fn pinned_columns(l: &Lint<'_>, lvl: &Level<'_>, rel: &Rel<'_>) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = pinned(l, lvl)
        .into_iter()
        .filter(|c| c.alias == rel.alias)
        .map(|c| c.column)
        .collect();
    if let RelSource::Query(q) = &rel.source {
        if let Some(sel) = single_select(q) {
            let ctes = own_ctes(q);
            let inner = Level::new(l.pack, sel, &ctes);
            if inner.rels.len() == 1 {
                out.extend(pinned_columns(l, &inner, &inner.rels[0]));
            }
        }
    }
    out
}

/// Whether the grouping (with the columns the query pins) covers a key of `rel`: each
/// group then holds one of its rows.
pub(super) fn groups_by_key_of(
    l: &Lint<'_>,
    lvl: &Level<'_>,
    group_cols: &[ColRef],
    rel: &Rel<'_>,
) -> bool {
    let Some(t) = lvl.base_table(l.pack, rel) else {
        return false;
    };
    let mut cols: BTreeSet<String> = group_cols
        .iter()
        .filter(|c| c.alias == rel.alias)
        .map(|c| c.column.clone())
        .collect();
    if cols.is_empty() {
        return false;
    }
    cols.extend(pinned_columns(l, lvl, rel));
    // The columns an area fixes together (a project's id and its name): one of them
    // stands for all of them.
    if let Some(info) = t.split_once('.').and_then(|(s, n)| l.pack.table(s, n)) {
        if cols.iter().any(|c| info.area_bound(c)) {
            cols.extend(info.area_bound.iter().cloned());
        }
    }
    covers_key(l.pack, &t, &cols)
}

pub(super) fn check(
    l: &mut Lint<'_>,
    lvl: &Level<'_>,
    order: &[&Expr],
    shape: &Shape,
    exists_body: bool,
) {
    let pack = l.pack;
    let pins = pinned(l, lvl);
    let group: Vec<&Expr> = match &lvl.select.group_by {
        GroupByExpr::Expressions(g, _) => g.iter().collect(),
        _ => Vec::new(),
    };
    let group_cols: Vec<ColRef> = group.iter().filter_map(|e| lvl.column(pack, e)).collect();
    for (e, c) in group
        .iter()
        .filter_map(|e| lvl.column(pack, e).map(|c| (*e, c)))
    {
        if pins.contains(&c) {
            l.flag(
                SenseCode::DegenerateGrouping,
                format!(
                    "grouped by {}.{}, which the WHERE clause fixes to one value",
                    c.alias, c.column
                ),
                Some(e),
            );
        }
    }
    // Grouped by a quantity that adds up (a count of residents, of dwellings): as many
    // groups as values, none of them a kind of row.
    for (e, c) in group
        .iter()
        .filter_map(|e| lvl.column(pack, e).map(|c| (*e, c)))
    {
        let (role, additive) = super::calls::column_role(l, &c.table, &c.column);
        // Beside its relation's key it is the key's attribute, not a grouping of its own.
        let own: std::collections::BTreeSet<String> = group_cols
            .iter()
            .filter(|g| g.alias == c.alias)
            .map(|g| g.column.clone())
            .collect();
        if matches!(role, Some(crate::pack::ColumnRole::Measure))
            && additive
            && !l.pack.covers_key(&c.table, &own)
        {
            l.flag(
                SenseCode::DegenerateGrouping,
                format!(
                    "grouped by {}.{}, a quantity that adds up: one group per value, no kind of row",
                    c.alias, c.column
                ),
                Some(e),
            );
        }
    }
    // Confined to a spot (within some metres of a literal point, inside a literal box):
    // grouping by a column that names a place (region, city, network, project) makes one
    // group, the place the spot lies in.
    let confined = lvl.select.selection.as_ref().is_some_and(|w| {
        super::scope::conjuncts(w).iter().any(|c| {
            let Expr::Function(f) = c else { return false };
            let name = fn_name(f);
            matches!(
                name.as_str(),
                "st_dwithin"
                    | "st_intersects"
                    | "st_within"
                    | "st_coveredby"
                    | "st_contains"
                    | "st_covers"
            ) && {
                let geos: Vec<_> = super::args_of(f)
                    .iter()
                    .take(2)
                    .map(|a| super::geo::geo_of(pack, lvl, a))
                    .collect();
                geos.iter().flatten().any(|g| g.constant)
                    && geos.iter().flatten().any(|g| !g.constant)
            }
        })
    });
    if confined {
        for (e, c) in group
            .iter()
            .filter_map(|e| lvl.column(pack, e).map(|c| (*e, c)))
        {
            let (schema, name) = c.table.split_once('.').unwrap_or(("", c.table.as_str()));
            let place = pack
                .table(schema, name)
                .is_some_and(|t| t.area_bound.contains(&c.column));
            if place {
                l.flag(
                    SenseCode::DegenerateGrouping,
                    format!(
                        "grouped by {}.{} within a spot drawn inside one place: a single group",
                        c.alias, c.column
                    ),
                    Some(e),
                );
                break;
            }
        }
    }
    // One group per row: grouped by a key of a relation no join repeats, and no other
    // relation's rows are folded into the groups.
    if !group.is_empty() && !shape.any_repeated() {
        for r in &lvl.rels {
            if groups_by_key_of(l, lvl, &group_cols, r) {
                l.flag(
                    SenseCode::DegenerateGrouping,
                    format!("grouped by the key of {}: every group is one row", r.alias),
                    group.first().copied(),
                );
                break;
            }
        }
    }
    // COUNT(DISTINCT x) per group of x's own key: always 1.
    let mut outputs: Vec<(&Expr, Option<String>)> = Vec::new();
    for item in &lvl.select.projection {
        match item {
            SelectItem::UnnamedExpr(e) => outputs.push((e, None)),
            SelectItem::ExprWithAlias { expr, alias } => outputs.push((expr, Some(fold(alias)))),
            _ => {}
        }
    }
    for (e, _) in &outputs {
        let mut hit: Option<String> = None;
        for_each_local(e, &mut |x| {
            let Expr::Function(f) = x else { return };
            if fn_name(f) != "count" || !distinct_args(f) || hit.is_some() {
                return;
            }
            let Some(c) = args_of(f).first().and_then(|a| lvl.column(pack, a)) else {
                return;
            };
            let Some(r) = lvl.rel(&c.alias) else { return };
            // A column the area fixes together with a grouped one (a project's id per
            // project name) is one value per group too.
            let areas = &pack.data().areas;
            let bound = |t: &str, col: &str| areas.iter().any(|a| a.value(t, col).is_some());
            let sibling = lvl.base_table(pack, r).is_some_and(|t| {
                bound(&t, &c.column)
                    && group_cols
                        .iter()
                        .any(|g| g.alias == c.alias && bound(&t, &g.column))
            });
            if groups_by_key_of(l, lvl, &group_cols, r) || group_cols.contains(&c) || sibling {
                hit = Some(format!(
                    "COUNT(DISTINCT {}.{}) per group of {}'s own key is always 1",
                    c.alias, c.column, c.alias
                ));
            }
        });
        if let Some(m) = hit {
            l.flag(SenseCode::MeaninglessAggregate, m, Some(e));
        }
    }
    // An aggregate of values of a relation whose key is grouped: each group holds one of
    // its rows (repeated), so the aggregate is that row's value.
    if !group_cols.is_empty() {
        for (e, _) in &outputs {
            let mut hit: Option<String> = None;
            for_each_local(e, &mut |x| {
                let Expr::Function(f) = x else { return };
                let name = fn_name(f);
                if f.over.is_some()
                    || hit.is_some()
                    || !matches!(
                        name.as_str(),
                        "st_union" | "st_collect" | "st_extent" | "min" | "max" | "avg"
                    )
                {
                    return;
                }
                let args = args_of(f);
                let Some(a) = args.first() else { return };
                let mut read = BTreeSet::new();
                lvl.aliases_in(pack, a, &mut read);
                if !read.is_empty()
                    && read.iter().all(|r| {
                        lvl.rel(r)
                            .is_some_and(|r| groups_by_key_of(l, lvl, &group_cols, r))
                    })
                {
                    hit = Some(format!(
                        "{}(…) of a relation whose key is grouped is that row's own value",
                        name.to_uppercase()
                    ));
                }
            });
            if let Some(m) = hit {
                l.flag(SenseCode::MeaninglessAggregate, m, Some(e));
            }
        }
    }
    // Columns the join conditions make equal.
    let equal: Vec<(ColRef, ColRef)> = lvl
        .rels
        .iter()
        .filter_map(|r| r.on)
        .flat_map(|on| lvl.column_equalities(pack, on))
        .collect();
    let is_key = |c: &ColRef| {
        c.table
            .split_once('.')
            .and_then(|(s, t)| pack.table(s, t))
            .and_then(|i| i.role(&c.column))
            == Some(crate::pack::ColumnRole::Key)
    };
    // Relations tied by key equalities (not a spatial match).
    let tied = |a: &str, b: &str| {
        equal
            .iter()
            .any(|(x, y)| (x.alias == a && y.alias == b) || (x.alias == b && y.alias == a))
    };
    let same = |a: &ColRef, b: &ColRef| {
        equal
            .iter()
            .any(|(x, y)| (x == a && y == b) || (x == b && y == a))
            // The same identifier on both sides of a key join (a building's id on the
            // building and on its property record): one entity, one value.
            || (a.column == b.column
                && a.alias != b.alias
                && tied(&a.alias, &b.alias)
                && a.table != b.table
                && is_key(a)
                && is_key(b))
    };
    // An output that repeats another one the join makes equal.
    let plain: Vec<(&Expr, ColRef)> = outputs
        .iter()
        .filter_map(|(e, _)| lvl.column(pack, e).map(|c| (*e, c)))
        .collect();
    for (i, (e, c)) in plain.iter().enumerate() {
        if let Some((_, d)) = plain[..i].iter().find(|(_, d)| same(c, d)) {
            l.flag(
                SenseCode::NoOp,
                format!(
                    "the output {}.{} repeats {}.{}, which the join makes equal",
                    c.alias, c.column, d.alias, d.column
                ),
                Some(e),
            );
        }
    }
    // COUNT(DISTINCT x) where the join makes x equal to a column of a relation whose key
    // is grouped: always 1.
    for (e, _) in &outputs {
        let mut hit = None;
        for_each_local(e, &mut |x| {
            let Expr::Function(f) = x else { return };
            if fn_name(f) != "count" || !distinct_args(f) || hit.is_some() {
                return;
            }
            let Some(c) = args_of(f).first().and_then(|a| lvl.column(pack, a)) else {
                return;
            };
            for (p, q) in &equal {
                let other = if *p == c {
                    q
                } else if *q == c {
                    p
                } else {
                    continue;
                };
                let Some(r) = lvl.rel(&other.alias) else {
                    continue;
                };
                let Some(t) = lvl.base_table(pack, r) else {
                    continue;
                };
                let cols: BTreeSet<String> = group_cols
                    .iter()
                    .filter(|g| g.alias == other.alias)
                    .map(|g| g.column.clone())
                    .collect();
                if !cols.is_empty() && (covers_key(pack, &t, &cols) || cols.contains(&other.column))
                {
                    hit = Some(format!(
                        "COUNT(DISTINCT {}.{}) is always 1: the join makes it equal to {}.{}, fixed in each group",
                        c.alias, c.column, other.alias, other.column
                    ));
                }
            }
        });
        if let Some(m) = hit {
            l.flag(SenseCode::MeaninglessAggregate, m, Some(e));
        }
    }
    // A value computed from a relation the joins repeat, in a query that keeps every
    // joined row: the project's hull or area once per building of it.
    if !exists_body && group.is_empty() && lvl.rels.len() > 1 && shape.any_repeated() {
        let mut aggregated = false;
        for (e, _) in &outputs {
            for_each_local(e, &mut |x| {
                if let Expr::Function(f) = x {
                    aggregated |= aggregate_call(pack, f);
                }
            });
        }
        if !aggregated {
            for (e, alias) in &outputs {
                if !matches!(e, Expr::Function(_) | Expr::Cast { .. } | Expr::Nested(_)) {
                    continue;
                }
                let mut read = BTreeSet::new();
                lvl.aliases_in(pack, e, &mut read);
                let [only] = read.iter().collect::<Vec<_>>()[..] else {
                    continue;
                };
                let Some(i) = lvl.rels.iter().position(|r| &r.alias == only) else {
                    continue;
                };
                // Only a relation of one row per place (a project and its scenarios) is
                // a parent whose computed values mean nothing per child row; a building
                // repeated per scenario, or paired with its neighbours, is the row itself.
                let per_place = lvl.base_table(pack, &lvl.rels[i]).is_some_and(|t| {
                    pack.data().sample_data.as_ref().is_some_and(|sd| {
                        sd.tables.iter().any(|f| {
                            f.table == t && matches!(f.rows, crate::pack::RowSource::PerArea(_))
                        })
                    })
                });
                if shape.repeated[i] && per_place {
                    l.flag(
                        SenseCode::ConstantOutput,
                        format!(
                            "the output {} is computed from {only} alone, which the joins repeat: the same value on each of its joined rows",
                            alias.clone().unwrap_or_else(|| e.to_string())
                        ),
                        Some(e),
                    );
                    break;
                }
            }
        }
    }
    // Outputs that do not depend on the rows (EXISTS bodies select anything).
    if !exists_body {
        for (e, alias) in &outputs {
            if constant(e) {
                l.flag(
                    SenseCode::ConstantOutput,
                    format!(
                        "the output {} is the same on every row",
                        alias.clone().unwrap_or_else(|| e.to_string())
                    ),
                    Some(e),
                );
            }
        }
    }
    // Outputs that are all columns the filters fix: the same row each time. (A single
    // output shown back beside others, "the municipality" of sections of 'Bologna', is
    // how people write; the selector leaves it out of what it generates.)
    if !exists_body && group.is_empty() && l.depth == 1 {
        let cols: Vec<(&Expr, Option<ColRef>)> = outputs
            .iter()
            .map(|(e, _)| (*e, lvl.column(pack, e)))
            .collect();
        let all_pinned = !cols.is_empty()
            && cols
                .iter()
                .all(|(_, c)| c.as_ref().is_some_and(|c| pins.contains(c)));
        if all_pinned {
            l.flag(
                SenseCode::ConstantOutput,
                "every output is a column the filters fix: the same row each time".into(),
                cols.first().map(|(e, _)| *e),
            );
        }
    }
    // A relation the filters fix to one row (its key pinned: the section 151460000123)
    // beside relations that vary: its measures repeat the one row's value on every row.
    if !exists_body && group.is_empty() && lvl.rels.len() > 1 {
        let single = |r: &super::scope::Rel<'_>| {
            let cols: BTreeSet<String> = pins
                .iter()
                .filter(|c| c.alias == r.alias)
                .map(|c| c.column.clone())
                .collect();
            !r.left
                && lvl
                    .base_table(pack, r)
                    .is_some_and(|t| !cols.is_empty() && pack.covers_key(&t, &cols))
        };
        let fixed: Vec<&str> = lvl
            .rels
            .iter()
            .filter(|r| single(r))
            .map(|r| r.alias.as_str())
            .collect();
        if !fixed.is_empty() && fixed.len() < lvl.rels.len() {
            for (e, alias) in &outputs {
                let mut read: Vec<ColRef> = Vec::new();
                for_each_local(e, &mut |x| {
                    if let Some(c) = lvl.column(pack, x) {
                        read.push(c);
                    }
                });
                let Some(first) = read.first() else { continue };
                if !fixed.contains(&first.alias.as_str())
                    || read.iter().any(|c| c.alias != first.alias)
                {
                    continue;
                }
                let measure = read.iter().any(|c| {
                    matches!(
                        super::calls::column_role(l, &c.table, &c.column).0,
                        Some(crate::pack::ColumnRole::Measure)
                    )
                });
                if measure {
                    l.flag(
                        SenseCode::ConstantOutput,
                        format!(
                            "the output {} reads {} alone, which the filters fix to one row: the same value on every row",
                            alias.clone().unwrap_or_else(|| e.to_string()),
                            first.alias
                        ),
                        Some(e),
                    );
                    break;
                }
            }
        }
    }
    // Ordering by a constant, by a pinned column or by a constant output.
    for e in order {
        let by_output = match e {
            Expr::Identifier(i) => outputs
                .iter()
                .find(|(_, a)| a.as_deref() == Some(fold(i).as_str()))
                .map(|(x, _)| *x),
            _ => None,
        };
        let positional = number(e).is_some();
        let is_constant = !positional && (constant(e) || by_output.is_some_and(constant));
        let is_pinned = lvl.column(pack, e).is_some_and(|c| pins.contains(&c));
        if is_constant || is_pinned {
            l.flag(
                SenseCode::ConstantOrder,
                format!("ORDER BY {e} does not vary between rows"),
                Some(e),
            );
        }
    }
    // Ordering the one row a key the filters fix leaves (a project scenario by its id).
    if let (true, [rel], Some(first)) = (group.is_empty(), lvl.rels.as_slice(), order.first()) {
        if let RelSource::Table(t) = &rel.source {
            let cols: BTreeSet<String> = pins
                .iter()
                .filter(|c| c.alias == rel.alias)
                .map(|c| c.column.clone())
                .collect();
            if covers_key(pack, t, &cols) {
                l.flag(
                    SenseCode::ConstantOrder,
                    format!("the filters fix a key of {t}: one row, nothing to order"),
                    Some(first),
                );
            }
        }
    }
}

/// Whether `name` (lower case) is an aggregate: a PostgreSQL builtin one, or one the
/// pack's catalogue declares.
/// Whether a call aggregates rows: an aggregate's name, and not the scalar overload of a
/// function that has both (`ST_MakeLine(a, b)`, `ST_Union(a, b)`, `ST_Collect(a, b)` take
/// two geometries of one row).
pub(super) fn aggregate_call(pack: &crate::pack::SchemaPack, f: &sqlparser::ast::Function) -> bool {
    let name = fn_name(f);
    let pairwise =
        matches!(name.as_str(), "st_makeline" | "st_union" | "st_collect") && args_of(f).len() >= 2;
    f.over.is_none() && !pairwise && is_aggregate(pack, &name)
}

pub(super) fn is_aggregate(pack: &crate::pack::SchemaPack, name: &str) -> bool {
    crate::sql::builtins::is_aggregate(name)
        || pack.function(name).is_some_and(|(_, sigs)| {
            sigs.iter()
                .any(|s| s.kind == crate::pack::FnKind::Aggregate)
        })
}
