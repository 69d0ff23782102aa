//! S1: joins. Which relations a level's joins repeat (from the pack's keys and join
//! cardinalities), joins nothing reads, per-group cross products, LEFT JOINs the WHERE
//! clause nullifies, and counts or sums over rows a join repeats.

use std::collections::BTreeSet;

use sqlparser::ast::{BinaryOperator, Expr, SelectItem};

use super::grouping::pinned_columns;
use super::scope::{conjuncts, for_each_local, projection_exprs, Level, Rel, RelSource};
use super::{args_of, distinct_args, fn_name, star_args, Lint, SenseCode};
use crate::pack::{Cardinality, JoinKind, SchemaPack};

/// What a level's joins do to its rows.
#[derive(Debug, Clone, Default)]
pub(super) struct Shape {
    /// Per relation (by index): its rows appear more than once in the join result.
    pub repeated: Vec<bool>,
    /// Per relation (by index): the relations whose one row fixes its row (a project's
    /// scenario row for each of its buses), transitively: grouped by one of those, its
    /// values are the same on every row of a group.
    pub fixed_by: Vec<BTreeSet<usize>>,
}

impl Shape {
    /// Some relation's rows are repeated.
    pub fn any_repeated(&self) -> bool {
        self.repeated.iter().any(|r| *r)
    }
}

/// Whether `cols` of `table` cover its primary key or a unique key.
pub(super) fn covers_key(pack: &SchemaPack, table: &str, cols: &BTreeSet<String>) -> bool {
    pack.covers_key(table, cols)
}

/// The pack's key-join cardinality between two tables on these columns, read from `a` to
/// `b`, when the pack declares one.
fn declared_key_cardinality(
    pack: &SchemaPack,
    a: &str,
    a_cols: &BTreeSet<String>,
    b: &str,
    b_cols: &BTreeSet<String>,
) -> Option<Cardinality> {
    for e in &pack.data().joins {
        if e.kind != JoinKind::Key {
            continue;
        }
        let l: BTreeSet<String> = e.left_columns.iter().cloned().collect();
        let r: BTreeSet<String> = e.right_columns.iter().cloned().collect();
        if e.left == a && e.right == b && &l == a_cols && &r == b_cols {
            return e.cardinality;
        }
        if e.left == b && e.right == a && &l == b_cols && &r == a_cols {
            return e.cardinality.map(flip);
        }
    }
    None
}

fn flip(c: Cardinality) -> Cardinality {
    match c {
        Cardinality::ManyToOne => Cardinality::OneToMany,
        Cardinality::OneToMany => Cardinality::ManyToOne,
        other => other,
    }
}

/// The pack's spatial-join cardinality between two tables, read from `a` to `b`.
fn spatial_cardinality(pack: &SchemaPack, a: &str, b: &str, in_version: bool) -> Cardinality {
    for e in &pack.data().joins {
        if e.kind != JoinKind::Spatial {
            continue;
        }
        let c = if in_version {
            e.cardinality_in_version.or(e.cardinality)
        } else {
            e.cardinality
        };
        if e.left == a && e.right == b {
            return c.unwrap_or(Cardinality::ManyToMany);
        }
        if e.left == b && e.right == a {
            return c.map(flip).unwrap_or(Cardinality::ManyToMany);
        }
    }
    Cardinality::ManyToMany
}

/// Whether every relation among `rels` whose table has a `version_column` has it pinned in
/// the level (the query reads one version of it).
fn reads_one_version(l: &Lint<'_>, lvl: &Level<'_>, rels: &[&Rel<'_>]) -> bool {
    rels.iter().all(|r| {
        let version = lvl
            .base_table(l.pack, r)
            .and_then(|t| t.split_once('.').and_then(|(s, n)| l.pack.table(s, n)))
            .and_then(|info| info.version.clone());
        version.is_none_or(|v| pinned_columns(l, lvl, r).contains(&v))
    })
}

/// A relation whose body groups its rows (one row per group key).
fn aggregated(rel_source: &RelSource<'_>) -> bool {
    match rel_source {
        RelSource::Query(q) => super::scope::single_select(q).is_some_and(|s| {
            !matches!(&s.group_by, sqlparser::ast::GroupByExpr::Expressions(g, _) if g.is_empty())
                || s.distinct.is_some()
        }),
        _ => false,
    }
}

/// What joining relation `i` does.
struct Effect {
    /// The earlier relation it is joined to, when one is named.
    parent: Option<usize>,
    /// Rows on the earlier side are repeated (several new rows match one).
    old_rep: bool,
    /// Rows of the new side are repeated (several earlier rows match one).
    new_rep: bool,
    /// A per-group cross product.
    cross: bool,
}

fn effect(parent: Option<usize>, old_rep: bool, new_rep: bool) -> Effect {
    Effect {
        parent,
        old_rep,
        new_rep,
        cross: false,
    }
}

fn join_effect(l: &Lint<'_>, lvl: &Level<'_>, i: usize) -> Effect {
    let pack = l.pack;
    let rel = &lvl.rels[i];
    let Some(on) = rel.on else {
        // CROSS JOIN or comma join: both sides repeated.
        return effect(None, true, true);
    };
    let Some(new_table) = lvl.base_table(pack, rel) else {
        return effect(None, false, false);
    };
    let new_alias = rel.alias.clone();
    let earlier: BTreeSet<String> = lvl.rels[..i].iter().map(|r| r.alias.clone()).collect();
    // Key equalities: columns of the new relation and of one earlier relation.
    let mut new_cols = BTreeSet::new();
    let mut old_cols = BTreeSet::new();
    let mut old_alias: Option<String> = None;
    let mut spatial: Option<String> = None;
    for c in conjuncts(on) {
        match c {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::Eq,
                right,
            } => {
                let (Some(a), Some(b)) = (lvl.column(pack, left), lvl.column(pack, right)) else {
                    continue;
                };
                let (n, o) = if a.alias == new_alias && earlier.contains(&b.alias) {
                    (a, b)
                } else if b.alias == new_alias && earlier.contains(&a.alias) {
                    (b, a)
                } else {
                    continue;
                };
                new_cols.insert(n.column);
                old_cols.insert(o.column);
                old_alias = Some(o.alias);
            }
            Expr::Function(f) if fn_name(f).starts_with("st_") => {
                let mut aliases = BTreeSet::new();
                for a in args_of(f) {
                    lvl.aliases_in(pack, a, &mut aliases);
                }
                if aliases.contains(&new_alias) {
                    if let Some(o) = aliases.iter().find(|a| earlier.contains(*a)) {
                        spatial = Some(o.clone());
                    }
                }
            }
            _ => {}
        }
    }
    let new_one = aggregated(&rel.source);
    let index = |a: &str| lvl.rels.iter().position(|r| r.alias == a);
    if let Some(oa) = old_alias {
        let parent = index(&oa);
        let Some(old_rel) = lvl.rel(&oa) else {
            return effect(parent, false, false);
        };
        let Some(old_table) = lvl.base_table(pack, old_rel) else {
            return effect(parent, false, false);
        };
        let declared = declared_key_cardinality(pack, &old_table, &old_cols, &new_table, &new_cols);
        // A side is "one" when its join columns, with the columns the query pins, cover a
        // key, or when the pack declares it so; a key join the pack declares many to many
        // is a per-group cross product unless the pins make a side one.
        new_cols.extend(pinned_columns(l, lvl, rel));
        old_cols.extend(pinned_columns(l, lvl, old_rel));
        // The columns an area fixes are one value per joined row (it lies in one area):
        // a building's property rows of the pinned scenario are one row.
        for (table, cols) in [(&new_table, &mut new_cols), (&old_table, &mut old_cols)] {
            if let Some(info) = table.split_once('.').and_then(|(s, t)| pack.table(s, t)) {
                cols.extend(info.area_bound.iter().cloned());
            }
        }
        let new_by_keys = new_one || covers_key(pack, &new_table, &new_cols);
        let old_by_keys = aggregated(&old_rel.source) || covers_key(pack, &old_table, &old_cols);
        let (decl_new, decl_old) = match declared {
            Some(Cardinality::OneToOne) => (true, true),
            Some(Cardinality::ManyToOne) => (true, false),
            Some(Cardinality::OneToMany) => (false, true),
            _ => (false, false),
        };
        let new_is_one = new_by_keys || decl_new;
        let old_is_one = old_by_keys || decl_old;
        return Effect {
            cross: declared == Some(Cardinality::ManyToMany) && !new_by_keys && !old_by_keys,
            // Several new rows per earlier row repeat the earlier side, and back.
            ..effect(parent, !new_is_one, !old_is_one)
        };
    }
    if let Some(oa) = spatial {
        let parent = index(&oa);
        let Some(old_rel) = lvl.rel(&oa) else {
            return effect(parent, true, true);
        };
        let Some(old_table) = lvl.base_table(pack, old_rel) else {
            return effect(parent, true, true);
        };
        let in_version = reads_one_version(l, lvl, &[old_rel, rel]);
        return match spatial_cardinality(pack, &old_table, &new_table, in_version) {
            Cardinality::OneToOne => effect(parent, false, false),
            Cardinality::ManyToOne => effect(parent, false, !new_one),
            Cardinality::OneToMany => effect(parent, !new_one, false),
            Cardinality::ManyToMany => effect(parent, !new_one, true),
        };
    }
    effect(None, false, false)
}

/// The aliases read anywhere in the level except in relation `skip`'s own ON condition.
fn used_aliases(l: &Lint<'_>, lvl: &Level<'_>, order: &[&Expr], skip: usize) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let sel = lvl.select;
    for item in &sel.projection {
        match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                lvl.aliases_in(l.pack, e, &mut out)
            }
            SelectItem::Wildcard(_) => {
                out.extend(lvl.rels.iter().map(|r| r.alias.clone()));
            }
            SelectItem::QualifiedWildcard(k, _) => {
                out.insert(k.to_string().to_lowercase());
            }
            _ => {}
        }
    }
    for (j, r) in lvl.rels.iter().enumerate() {
        if j != skip {
            if let Some(on) = r.on {
                lvl.aliases_in(l.pack, on, &mut out);
            }
        }
    }
    if let Some(w) = &sel.selection {
        lvl.aliases_in(l.pack, w, &mut out);
    }
    if let sqlparser::ast::GroupByExpr::Expressions(g, _) = &sel.group_by {
        for e in g {
            lvl.aliases_in(l.pack, e, &mut out);
        }
    }
    if let Some(h) = &sel.having {
        lvl.aliases_in(l.pack, h, &mut out);
    }
    for e in order {
        lvl.aliases_in(l.pack, e, &mut out);
    }
    out
}

pub(super) fn check(l: &mut Lint<'_>, lvl: &Level<'_>, order: &[&Expr]) -> Shape {
    let n = lvl.rels.len();
    let mut shape = Shape {
        repeated: vec![false; n],
        fixed_by: vec![BTreeSet::new(); n],
    };
    // The join tree: each joined relation hangs from the earlier one its ON condition
    // names. A join that is "many" on one side repeats every relation on the other side
    // of that edge.
    let mut parent: Vec<Option<usize>> = vec![None; n];
    let mut effects: Vec<(usize, Effect)> = Vec::new();
    for (i, p) in parent.iter_mut().enumerate() {
        // A second FROM item (comma join) is filtered in WHERE: no claim on repetition.
        if lvl.rels[i].joined {
            let e = join_effect(l, lvl, i);
            *p = e.parent.or(i.checked_sub(1));
            effects.push((i, e));
        }
    }
    let under = |i: usize, k: usize| {
        // Whether relation k hangs (transitively) from relation i.
        let mut at = Some(k);
        let mut steps = 0;
        while let Some(x) = at {
            if x == i {
                return true;
            }
            at = parent[x];
            steps += 1;
            if steps > n {
                break;
            }
        }
        false
    };
    for (i, e) in &effects {
        for k in 0..n {
            let side_of_new = under(*i, k);
            if (e.old_rep && !side_of_new) || (e.new_rep && side_of_new) {
                shape.repeated[k] = true;
            }
        }
        if let Some(p) = e.parent {
            // One new row per earlier row: the earlier row fixes it, and back.
            if !e.old_rep {
                shape.fixed_by[*i].insert(p);
            }
            if !e.new_rep {
                shape.fixed_by[p].insert(*i);
            }
        }
    }
    // What fixes a relation's fixer fixes it too.
    for _ in 0..n {
        for k in 0..n {
            let via: BTreeSet<usize> = shape.fixed_by[k]
                .iter()
                .flat_map(|&f| shape.fixed_by[f].iter().copied())
                .filter(|&f| f != k)
                .collect();
            shape.fixed_by[k].extend(via);
        }
    }
    for (i, e) in effects {
        let alias = lvl.rels[i].alias.clone();
        if e.cross {
            l.flag(
                SenseCode::CrossProductJoin,
                format!(
                    "the join of {alias} matches on columns that are not a key of either side: \
                     a cross product within each group of equal values"
                ),
                lvl.rels[i].on,
            );
        }
        // The same table joined again on the same key to the same relation: the same rows.
        if let (Some(t), Some(on)) = (lvl.base_table(l.pack, &lvl.rels[i]), lvl.rels[i].on) {
            let sig = key_signature(l, lvl, i, on);
            let twin = (0..i).find(|&k| {
                lvl.rels[k].joined
                    && lvl.base_table(l.pack, &lvl.rels[k]).as_deref() == Some(t.as_str())
                    && lvl.rels[k]
                        .on
                        .is_some_and(|o| !sig.is_empty() && key_signature(l, lvl, k, o) == sig)
            });
            if let Some(k) = twin {
                l.flag(
                    SenseCode::UnusedJoin,
                    format!(
                        "{alias} is joined on the same key as {}: the same rows twice",
                        lvl.rels[k].alias
                    ),
                    lvl.rels[i].on,
                );
            }
        }
        let used = used_aliases(l, lvl, order, i);
        // A join nothing reads: a LEFT JOIN changes nothing but the row count; an inner
        // join of a base table on keys alone only repeats or drops rows. (A join whose ON
        // condition filters, or that reads a filtering CTE, is a semi-join; COUNT(*) reads
        // every relation.)
        let key_only = lvl.rels[i].on.is_some_and(|on| {
            conjuncts(on).iter().all(|c| {
                matches!(c, Expr::BinaryOp { left, op: BinaryOperator::Eq, right }
                    if lvl.column(l.pack, left).is_some() && lvl.column(l.pack, right).is_some())
            })
        });
        let base = matches!(lvl.rels[i].source, RelSource::Table(_));
        if !used.contains(&alias) && (lvl.rels[i].left || (key_only && base)) && !counts_rows(lvl) {
            l.flag(
                SenseCode::UnusedJoin,
                format!("{alias} is joined but nothing reads it outside its own ON condition"),
                lvl.rels[i].on,
            );
        } else if key_only && base && !counts_rows(lvl) && reads_only_pinned(l, lvl, order, i) {
            l.flag(
                SenseCode::UnusedJoin,
                format!(
                    "{alias} is joined only to show values the WHERE clause fixes: the same on every row"
                ),
                lvl.rels[i].on,
            );
        }
        if lvl.rels[i].left {
            // A later inner join whose ON condition reads this relation drops its
            // unmatched rows too.
            if let Some(later) = lvl.rels[i + 1..].iter().find(|r| {
                !r.left
                    && r.on.is_some_and(|on| {
                        let mut a = BTreeSet::new();
                        lvl.aliases_in(l.pack, on, &mut a);
                        a.contains(&alias)
                    })
            }) {
                l.flag(
                    SenseCode::NullifiedLeftJoin,
                    format!(
                        "{alias} is LEFT JOINed but the inner join of {} reads it, which drops \
                         the unmatched rows the LEFT JOIN keeps",
                        later.alias
                    ),
                    later.on,
                );
            }
            if let Some(w) = &lvl.select.selection {
                for c in conjuncts(w) {
                    if matches!(c, Expr::IsNull(_) | Expr::IsNotNull(_)) {
                        continue;
                    }
                    let mut a = BTreeSet::new();
                    lvl.aliases_in(l.pack, c, &mut a);
                    if a.contains(&alias)
                        && !matches!(
                            c,
                            Expr::BinaryOp {
                                op: BinaryOperator::Or,
                                ..
                            }
                        )
                    {
                        l.flag(
                            SenseCode::NullifiedLeftJoin,
                            format!(
                                "{alias} is LEFT JOINed but the WHERE clause filters it, which \
                                 drops the unmatched rows the LEFT JOIN keeps"
                            ),
                            Some(c),
                        );
                        break;
                    }
                }
            }
        }
    }
    fan_out(l, lvl, &shape, order);
    shape
}

/// Whether every column of relation `i` the outputs, the grouping and the ordering read is
/// one the WHERE clause fixes (directly or through the pack's areas), and some is read.
fn reads_only_pinned(l: &Lint<'_>, lvl: &Level<'_>, order: &[&Expr], i: usize) -> bool {
    let alias = &lvl.rels[i].alias;
    let pins: BTreeSet<String> = super::grouping::pinned(l, lvl)
        .into_iter()
        .filter(|c| &c.alias == alias)
        .map(|c| c.column)
        .collect();
    let Some(mut exprs) = projection_exprs(lvl.select) else {
        return false;
    };
    if let sqlparser::ast::GroupByExpr::Expressions(g, _) = &lvl.select.group_by {
        exprs.extend(g.iter());
    }
    if let Some(h) = &lvl.select.having {
        exprs.push(h);
    }
    exprs.extend(order.iter().copied());
    let mut read = 0usize;
    let mut free = false;
    for e in exprs {
        for_each_local(e, &mut |x| {
            if let Some(c) = lvl.column(l.pack, x) {
                if &c.alias == alias {
                    read += 1;
                    free |= !pins.contains(&c.column);
                }
            }
        });
    }
    read > 0 && !free
}

/// The key equalities joining relation `i`, written without its own alias:
/// `(its column, other alias.column)` pairs.
fn key_signature(l: &Lint<'_>, lvl: &Level<'_>, i: usize, on: &Expr) -> BTreeSet<(String, String)> {
    let me = &lvl.rels[i].alias;
    let mut sig = BTreeSet::new();
    for (a, b) in lvl.column_equalities(l.pack, on) {
        if a.alias == *me && b.alias != *me {
            sig.insert((a.column, format!("{}.{}", b.alias, b.column)));
        } else if b.alias == *me && a.alias != *me {
            sig.insert((b.column, format!("{}.{}", a.alias, a.column)));
        }
    }
    sig
}

/// Whether the level's outputs count rows (`COUNT(*)`).
fn counts_rows(lvl: &Level<'_>) -> bool {
    let mut yes = false;
    for item in &lvl.select.projection {
        if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item {
            for_each_local(e, &mut |x| {
                if let Expr::Function(f) = x {
                    if fn_name(f) == "count" && star_args(f) {
                        yes = true;
                    }
                }
            });
        }
    }
    yes
}

/// Whether every relation among `read` (aliases of the level) has its rows repeated.
fn all_repeated_in(lvl: &Level<'_>, shape: &Shape, read: &BTreeSet<String>) -> bool {
    read.iter().all(|a| {
        lvl.rels
            .iter()
            .position(|r| &r.alias == a)
            .is_some_and(|i| shape.repeated[i])
    })
}

/// Counts and sums over rows the joins repeat.
fn fan_out(l: &mut Lint<'_>, lvl: &Level<'_>, shape: &Shape, order: &[&Expr]) {
    if !shape.any_repeated() {
        return;
    }
    let pack = l.pack;
    // Grouped by a key of some relation: COUNT(*) counts joined rows per entity.
    let group_cols: Vec<super::scope::ColRef> = match &lvl.select.group_by {
        sqlparser::ast::GroupByExpr::Expressions(g, _) => {
            g.iter().filter_map(|e| lvl.column(pack, e)).collect()
        }
        _ => Vec::new(),
    };
    let grouped_by_key = lvl
        .rels
        .iter()
        .any(|r| super::grouping::groups_by_key_of(l, lvl, &group_cols, r));
    let all_repeated = shape.repeated.iter().all(|r| *r);
    let mut exprs: Vec<&Expr> = Vec::new();
    for item in &lvl.select.projection {
        if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item {
            exprs.push(e);
        }
    }
    if let Some(h) = &lvl.select.having {
        exprs.push(h);
    }
    exprs.extend(order.iter().copied());
    let mut hits: Vec<(String, &Expr)> = Vec::new();
    for e in exprs {
        for_each_local(e, &mut |x| {
            let Expr::Function(f) = x else { return };
            if f.over.is_some() {
                return;
            }
            let name = fn_name(f);
            if name == "count" && star_args(f) && all_repeated && !grouped_by_key {
                hits.push((
                    "COUNT(*) counts combinations of joined rows, not rows of one table".into(),
                    x,
                ));
            } else if name == "sum"
                && args_of(f)
                    .first()
                    .is_some_and(|a| lvl.column(pack, a).is_none())
            {
                // A sum of an expression (a perimeter, an area…) of rows the join repeats.
                let mut read = BTreeSet::new();
                if let Some(a) = args_of(f).first() {
                    lvl.aliases_in(pack, a, &mut read);
                }
                // Grouped by another relation's key, each group holds each row once
                // (grouped by the key of the summed relation, it holds one row many times).
                // Unless that relation's row fixes the summed ones: then each group repeats
                // one value once per joined row.
                let by_other_key = lvl.rels.iter().enumerate().any(|(g, r)| {
                    !read.contains(&r.alias)
                        && super::grouping::groups_by_key_of(l, lvl, &group_cols, r)
                        && !(shape.repeated[g]
                            && read.iter().all(|a| {
                                lvl.rels
                                    .iter()
                                    .position(|x| &x.alias == a)
                                    .is_some_and(|k| shape.fixed_by[k].contains(&g))
                            }))
                });
                let repeated =
                    !by_other_key && !read.is_empty() && all_repeated_in(lvl, shape, &read);
                if repeated {
                    hits.push(("SUM(…) adds up values of rows the join repeats".into(), x));
                }
            } else if matches!(
                name.as_str(),
                "avg" | "st_collect" | "array_agg" | "string_agg" | "stddev" | "variance"
            ) {
                // Averages weighted by how often the join repeats each row, collections
                // holding each repeated geometry several times.
                let mut read = BTreeSet::new();
                for a in args_of(f) {
                    lvl.aliases_in(pack, a, &mut read);
                }
                let by_key = lvl
                    .rels
                    .iter()
                    .any(|r| super::grouping::groups_by_key_of(l, lvl, &group_cols, r));
                // An average over the first relation's rows (the query's entity) that a
                // join repeats; collections of any repeated relation.
                let base_only = name != "avg" && name != "stddev" && name != "variance"
                    || lvl
                        .rels
                        .first()
                        .is_some_and(|r| read.len() == 1 && read.contains(&r.alias));
                let repeated =
                    !by_key && base_only && !read.is_empty() && all_repeated_in(lvl, shape, &read);
                if repeated {
                    hits.push((
                        format!(
                            "{}(…) reads rows the join repeats: each counts as often as it is matched",
                            name.to_uppercase()
                        ),
                        x,
                    ));
                }
            } else if name == "sum" || (name == "count" && !distinct_args(f) && !star_args(f)) {
                if let Some(c) = args_of(f).first().and_then(|a| lvl.column(pack, a)) {
                    let idx = lvl.rels.iter().position(|r| r.alias == c.alias);
                    if idx.is_some_and(|i| shape.repeated[i]) && (name == "sum" || !grouped_by_key)
                    {
                        hits.push((
                            format!(
                                "{}({}.{}) adds up rows the join repeats",
                                name.to_uppercase(),
                                c.alias,
                                c.column
                            ),
                            x,
                        ));
                    }
                }
            }
        });
    }
    if let Some((m, at)) = hits.into_iter().next() {
        l.flag(SenseCode::FanOut, m, Some(at));
    }
}

/// Rows a join repeats, shown without what tells them apart: a list (no grouping, no
/// aggregate, no DISTINCT) whose outputs read only relations the joins repeat prints the
/// same row once per matched row ("the project name of projects with their buildings");
/// when every relation repeats (pairs), each side needs a column that identifies it.
pub(super) fn indistinct_rows(l: &mut Lint<'_>, lvl: &Level<'_>, shape: &Shape, order: &[&Expr]) {
    let sel = lvl.select;
    if !shape.any_repeated()
        || sel.distinct.is_some()
        || sel.having.is_some()
        || !matches!(&sel.group_by, sqlparser::ast::GroupByExpr::Expressions(g, _) if g.is_empty())
    {
        return;
    }
    let pack = l.pack;
    let Some(mut exprs) = projection_exprs(sel) else {
        return;
    };
    if aggregates(pack, &exprs, false) {
        return;
    }
    exprs.extend(order.iter().copied());
    // Per relation: read at all, and read through a column that identifies its rows.
    let mut read: BTreeSet<String> = BTreeSet::new();
    let mut identified: BTreeSet<String> = BTreeSet::new();
    for e in &exprs {
        for_each_local(e, &mut |x| {
            if let Some(c) = lvl.column(pack, x) {
                let (role, _) = super::calls::column_role(l, &c.table, &c.column);
                if pack.in_key(&c.table, &c.column)
                    || matches!(role, Some(crate::pack::ColumnRole::Name))
                {
                    identified.insert(c.alias.clone());
                }
                read.insert(c.alias);
            }
        });
    }
    let kept: Vec<&Rel<'_>> = lvl
        .rels
        .iter()
        .enumerate()
        .filter(|(i, _)| !shape.repeated[*i])
        .map(|(_, r)| r)
        .collect();
    // A relation the filters pin to one row (its key fixed) needs nothing to tell its
    // rows apart, nor does one an anti-join empties (LEFT JOIN … IS NULL).
    let single = |r: &Rel<'_>| {
        r.left
            || lvl
                .base_table(pack, r)
                .is_some_and(|t| covers_key(pack, &t, &super::grouping::pinned_columns(l, lvl, r)))
    };
    let message = if kept.is_empty() {
        lvl.rels
            .iter()
            .find(|r| !single(r) && !identified.contains(&r.alias) && !read.contains(&r.alias))
            .map(|r| {
                format!(
                    "each row pairs matched rows, but nothing shown identifies the row of {}: the same output repeats",
                    r.alias
                )
            })
            .or_else(|| {
                // A pair of one table's rows (a building and its neighbours) showing an
                // attribute of the partner but not which partner: two neighbours of one
                // source read as one row twice.
                let base = |r: &Rel<'_>| lvl.base_table(pack, r);
                lvl.rels
                    .iter()
                    .find(|r| {
                        !single(r)
                            && read.contains(&r.alias)
                            && !identified.contains(&r.alias)
                            && lvl
                                .rels
                                .iter()
                                .any(|o| o.alias != r.alias && base(o).is_some() && base(o) == base(r))
                    })
                    .map(|r| {
                        format!(
                            "each row pairs two rows of one table, but nothing shown identifies the partner {}: pairs with the same attributes read as one",
                            r.alias
                        )
                    })
            })
    } else if kept.iter().all(|r| !read.contains(&r.alias)) {
        Some(format!(
            "the joins repeat every relation shown; nothing of {} tells the rows apart: the same output repeats once per match",
            kept.iter().map(|r| r.alias.as_str()).collect::<Vec<_>>().join(", ")
        ))
    } else {
        None
    };
    if let Some(m) = message {
        l.flag(SenseCode::FanOut, m, exprs.first().copied());
    }
}

/// S1: a parent relation joined on its key, read nowhere but on the key columns the
/// join equates with the child's (`project_scenario` joined to `building_properties` on
/// project and scenario, then only `ps.project_id = '…'`): the child carries those values
/// itself, so the join adds nothing.
pub(super) fn keys_only_parent(l: &mut Lint<'_>, lvl: &Level<'_>, order: &[&Expr]) {
    let pack = l.pack;
    let sel = lvl.select;
    if lvl.rels.iter().any(|r| r.left) {
        return;
    }
    let Some(mut exprs) = projection_exprs(sel) else {
        return;
    };
    if let Some(w) = &sel.selection {
        exprs.push(w);
    }
    if let sqlparser::ast::GroupByExpr::Expressions(g, _) = &sel.group_by {
        exprs.extend(g.iter());
    }
    if let Some(h) = &sel.having {
        exprs.push(h);
    }
    exprs.extend(order.iter().copied());
    for (j, joined) in lvl.rels.iter().enumerate() {
        let Some(on) = joined.on else { continue };
        let conj = conjuncts(on);
        let eqs = lvl.column_equalities(pack, on);
        if eqs.len() != conj.len() || eqs.is_empty() {
            continue;
        }
        // The two relations this ON condition joins, when it names exactly two.
        let mut names: BTreeSet<String> = BTreeSet::new();
        for (a, b) in &eqs {
            names.insert(a.alias.clone());
            names.insert(b.alias.clone());
        }
        if names.len() != 2 || !names.contains(&joined.alias) {
            continue;
        }
        for x in &names {
            let Some(rel) = lvl.rel(x) else { continue };
            let RelSource::Table(table) = &rel.source else {
                continue;
            };
            let keys: BTreeSet<String> = eqs
                .iter()
                .flat_map(|(a, b)| [a, b])
                .filter(|c| &c.alias == x)
                .map(|c| c.column.clone())
                .collect();
            if !covers_key(pack, table, &keys) {
                continue;
            }
            let mut read = 0usize;
            let mut other = false;
            let mut scan = |e: &Expr| {
                for_each_local(e, &mut |y| {
                    if let Some(c) = lvl.column(pack, y) {
                        if &c.alias == x {
                            read += 1;
                            other |= !keys.contains(&c.column);
                        }
                    } else if let Expr::Identifier(i) = y {
                        // An unqualified name the level cannot place: no claim.
                        other |= crate::sql::analyze::fold(i) == *x;
                    }
                });
            };
            for e in &exprs {
                scan(e);
            }
            for (k, r) in lvl.rels.iter().enumerate() {
                if k != j {
                    if let Some(o) = r.on {
                        scan(o);
                    }
                }
            }
            if read > 0 && !other {
                let partner = names.iter().find(|n| *n != x).cloned().unwrap_or_default();
                l.flag(
                    SenseCode::UnusedJoin,
                    format!(
                        "{x} is joined on its key and read only on the key columns {partner} carries itself: the join adds nothing"
                    ),
                    Some(on),
                );
                return;
            }
        }
    }
}

/// S5: a row-level query whose joins repeat one relation (a census section with each of
/// its buildings) showing that relation's measures beside the other's rows: the
/// section's population or area repeats on every building row, a value of another grain
/// than the row. Its names, keys and categories say which parent a row belongs to and
/// are fine; a measure belongs in an aggregate, a filter or a query of its own.
pub(super) fn repeated_measures(l: &mut Lint<'_>, lvl: &Level<'_>, shape: &Shape, order: &[&Expr]) {
    let sel = lvl.select;
    if !shape.any_repeated()
        || sel.distinct.is_some()
        || !matches!(&sel.group_by, sqlparser::ast::GroupByExpr::Expressions(g, _) if g.is_empty())
    {
        return;
    }
    let pack = l.pack;
    let Some(items) = projection_exprs(sel) else {
        return;
    };
    if aggregates(pack, &items, true) {
        return;
    }
    let repeated = |alias: &str| {
        lvl.rels
            .iter()
            .position(|r| r.alias == alias)
            .is_some_and(|i| shape.repeated[i])
    };
    let read_of = |e: &Expr| {
        let mut read: Vec<super::scope::ColRef> = Vec::new();
        for_each_local(e, &mut |x| {
            if let Some(c) = lvl.column(pack, x) {
                read.push(c);
            }
        });
        read
    };
    let is_measure = |c: &super::scope::ColRef| {
        matches!(
            super::calls::column_role(l, &c.table, &c.column).0,
            Some(crate::pack::ColumnRole::Measure)
        )
    };
    let is_geometry = |c: &super::scope::ColRef| {
        matches!(
            super::calls::column_role(l, &c.table, &c.column).0,
            Some(crate::pack::ColumnRole::Geometry)
        )
    };
    let is_obscure = |c: &super::scope::ColRef| {
        c.table
            .split_once('.')
            .and_then(|(s, t)| pack.table(s, t))
            .is_some_and(|info| info.is_obscure(&c.column) || info.breakdown.contains(&c.column))
    };
    // Per repeated relation: its measure items (a coded one or a cell of a breakdown, a
    // section's count of men aged 25 to 29, counts as two: a statistic of the parent no
    // row-level question asks for), and one computed from its geometry.
    let mut row_side_shown = false;
    let mut measures: std::collections::BTreeMap<String, (usize, Option<&Expr>)> =
        Default::default();
    for e in &items {
        let read = read_of(e);
        if read.is_empty() {
            continue;
        }
        // A value of the row's own (or of two relations at once: the straight line
        // between a line's two end buses) belongs to the row.
        if read
            .iter()
            .any(|c| !repeated(&c.alias) || c.alias != read[0].alias)
        {
            row_side_shown = true;
            continue;
        }
        let computed = matches!(strip_casts(e), Expr::Function(_) | Expr::BinaryOp { .. });
        let alias = read[0].alias.clone();
        if computed && !geometry_output(e) && read.iter().any(is_geometry) {
            measures.entry(alias).or_default().1 = Some(e);
        } else if read.iter().any(is_measure) {
            let weight = if read.iter().any(is_obscure) { 2 } else { 1 };
            measures.entry(alias).or_default().0 += weight;
        }
    }
    if !row_side_shown {
        return;
    }
    let ordered_by = order.iter().find_map(|e| {
        let read = read_of(e);
        (!read.is_empty() && read.iter().all(|c| repeated(&c.alias) && is_measure(c)))
            .then(|| read[0].alias.clone())
    });
    let message = measures.iter().find_map(|(alias, (n, computed))| {
        if let Some(e) = computed {
            Some(format!(
                "{e} measures {alias}, which the joins repeat on every row they pair it with: the same value on each row, of another grain than the row"
            ))
        } else if *n >= 2 {
            Some(format!(
                "measures of {alias} (several, or a coded statistic of its own) are shown on every row the joins pair it with: values of another grain than the row"
            ))
        } else {
            None
        }
    });
    let message = message.or_else(|| {
        ordered_by.map(|alias| {
            format!(
                "the rows are ordered by a measure of {alias}, which the joins repeat on every row they pair it with: ties of another grain than the row"
            )
        })
    });
    if let Some(m) = message {
        l.flag(SenseCode::IncoherentAnalysis, m, items.first().copied());
    }
}

/// An expression without its casts, parentheses and rounding.
fn strip_casts(e: &Expr) -> &Expr {
    let bare = super::calls::strip(e);
    match bare {
        Expr::Function(f) if fn_name(f) == "round" => {
            args_of(f).first().map(|a| strip_casts(a)).unwrap_or(bare)
        }
        other => other,
    }
}

/// Whether some expression calls an aggregate (counting window aggregates too when
/// `windows`).
fn aggregates(pack: &SchemaPack, exprs: &[&Expr], windows: bool) -> bool {
    let mut found = false;
    for e in exprs {
        for_each_local(e, &mut |x| {
            if let Expr::Function(f) = x {
                found |= if f.over.is_some() {
                    windows && super::grouping::is_aggregate(pack, &fn_name(f))
                } else {
                    super::grouping::aggregate_call(pack, f)
                };
            }
        });
    }
    found
}

/// A function whose result is a geometry or its text (`ST_AsText`, `ST_Centroid`): the
/// shape of the repeated row, shown to locate it, not a quantity.
fn geometry_output(e: &Expr) -> bool {
    let Expr::Function(f) = strip_casts(e) else {
        return false;
    };
    let name = fn_name(f);
    name.starts_with("st_as")
        || matches!(
            name.as_str(),
            "st_centroid"
                | "st_pointonsurface"
                | "st_envelope"
                | "st_transform"
                | "st_simplify"
                | "st_simplifypreservetopology"
                | "st_buffer"
                | "st_convexhull"
        )
}

/// S5: a table joined to itself on equal columns with nothing that keeps a row from
/// matching itself (no `<>` between the two, no different values pinned on each): every
/// row is paired with itself, and a distance or a difference between the two is 0 there.
pub(super) fn paired_with_itself(l: &mut Lint<'_>, lvl: &Level<'_>) {
    let pack = l.pack;
    let conds = lvl.conditions();
    // alias.column → the literal the conditions pin it to.
    let mut pins: Vec<(super::scope::ColRef, String)> = Vec::new();
    for c in &conds {
        if let Expr::BinaryOp {
            left,
            op: BinaryOperator::Eq,
            right,
        } = c
        {
            for (a, b) in [(left, right), (right, left)] {
                if let (Some(col), Expr::Value(v)) = (lvl.column(pack, a), b.as_ref()) {
                    pins.push((col, v.to_string()));
                }
            }
        }
    }
    for (i, r) in lvl.rels.iter().enumerate() {
        let (Some(on), Some(t)) = (r.on, lvl.base_table(pack, r)) else {
            continue;
        };
        if !matches!(r.source, RelSource::Table(_)) {
            continue;
        }
        let eqs = lvl.column_equalities(pack, on);
        let Some(other) = eqs.iter().find_map(|(a, b)| {
            let (mine, theirs) = if a.alias == r.alias { (a, b) } else { (b, a) };
            (mine.alias == r.alias
                && theirs.alias != r.alias
                && theirs.table == t
                && mine.column == theirs.column)
                .then(|| theirs.alias.clone())
        }) else {
            continue;
        };
        if lvl.rels[..i]
            .iter()
            .all(|x| x.alias != other || !matches!(x.source, RelSource::Table(_)))
        {
            continue;
        }
        let pair = [r.alias.as_str(), other.as_str()];
        // A condition comparing the two aliases other than by equality keeps them apart.
        let apart = conds.iter().any(|c| {
            let Expr::BinaryOp { op, .. } = c else {
                return false;
            };
            if matches!(op, BinaryOperator::Eq | BinaryOperator::And) {
                return false;
            }
            let mut a = BTreeSet::new();
            lvl.aliases_in(pack, c, &mut a);
            pair.iter().all(|p| a.contains(*p))
        }) || conds.iter().any(|c| {
            // A spatial predicate or a function of both (not a plain equality) pairs rows
            // by something other than identity.
            matches!(c, Expr::Function(_) | Expr::UnaryOp { .. })
        }) || pins.iter().any(|(c, v)| {
            c.alias == r.alias
                && pins
                    .iter()
                    .any(|(d, w)| d.alias == other && d.column == c.column && w != v)
        });
        if !apart {
            l.flag(
                SenseCode::IncoherentAnalysis,
                format!(
                    "{} is {} joined to itself on equal columns, and nothing keeps a row from matching itself",
                    r.alias, other
                ),
                Some(on),
            );
        }
    }
}
