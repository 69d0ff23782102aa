//! L3: nesting that does nothing but filter. A CTE or derived table whose body reads one
//! table, selects plain columns of it and only filters its rows is the same query as the
//! filter written in the outer WHERE clause. The finding is the statement's when every
//! nesting it has is of that kind (a filtering CTE beside one that aggregates is a step of
//! a real analysis).

use sqlparser::ast::{Expr, GroupByExpr, Query, SelectItem};

use super::scope::{for_each_expr, own_ctes, single_select, Level, RelSource};
use super::{Lint, SenseCode};

/// Records one nesting level: fake (only filters) or not.
pub(super) fn check_body(l: &mut Lint<'_>, body: &Query, what: &str) {
    l.nestings += 1;
    let Some(sel) = single_select(body) else {
        return;
    };
    if body.limit_clause.is_some() {
        arbitrary_top(l, body, sel, what);
        return;
    }
    if body.order_by.is_some() || sel.distinct.is_some() {
        return;
    }
    if !matches!(&sel.group_by, GroupByExpr::Expressions(g, _) if g.is_empty())
        || sel.having.is_some()
    {
        return;
    }
    let ctes = own_ctes(body);
    let lvl = Level::new(l.pack, sel, &ctes);
    if lvl.rels.len() != 1 || !matches!(lvl.rels[0].source, RelSource::Table(_)) {
        return;
    }
    if !sel.projection.iter().all(plain_item) {
        return;
    }
    // A filter that itself nests (EXISTS / IN / scalar subquery) does something.
    let mut nested = false;
    if let Some(w) = &sel.selection {
        for_each_expr(w, &mut |x| {
            if matches!(
                x,
                Expr::Subquery(_)
                    | Expr::Exists { .. }
                    | Expr::In {
                        target: sqlparser::ast::InTarget::Subquery(_),
                        ..
                    }
            ) {
                nested = true;
            }
        });
    }
    if nested {
        return;
    }
    fake(
        l,
        body,
        format!("{what} only filters one table: the same filter belongs in the outer WHERE clause"),
        sel.selection
            .as_ref()
            .and_then(|w| super::location(sqlparser::ast::Spanned::span(w))),
    );
}

/// A nesting that keeps the first rows by a time, a category, a code or a flag: "the 100
/// most recently created buildings", "the 100 buses with the lowest voltage" (three values
/// full of ties) pick an arbitrary subset, not a step of an analysis.
fn arbitrary_top(l: &mut Lint<'_>, body: &Query, sel: &sqlparser::ast::Select, what: &str) {
    use crate::pack::ColumnRole;
    let Some(sqlparser::ast::OrderByKind::Expressions(keys)) =
        body.order_by.as_ref().map(|o| &o.kind)
    else {
        return;
    };
    let Some(first) = keys.first() else {
        return;
    };
    let ctes = own_ctes(body);
    let lvl = Level::new(l.pack, sel, &ctes);
    let Some(c) = lvl.column(l.pack, &first.expr) else {
        return;
    };
    let (role, _) = super::calls::column_role(l, &c.table, &c.column);
    let enumerated = l.pack.data().value_domains.iter().any(|d| {
        matches!(d, crate::pack::ValueDomain::Enum { .. })
            && (d.column() == c.column || d.column() == format!("{}.{}", c.table, c.column))
    });
    let arbitrary = matches!(
        role,
        Some(ColumnRole::Timestamp | ColumnRole::Category | ColumnRole::Code | ColumnRole::Flag)
    ) || enumerated;
    if arbitrary {
        fake(
            l,
            body,
            format!(
                "{what} keeps the first rows by {}.{}: an arbitrary subset (recency or ties), not a step of the analysis",
                c.alias, c.column
            ),
            super::location(sqlparser::ast::Spanned::span(&first.expr)),
        );
    }
}

/// A level that only reads back the rows a top-N nesting kept: one relation, a CTE or
/// derived table with `LIMIT`, no filter, no grouping and plain columns out. "The 50
/// sections with the fewest dwellings, their municipality" is the flat query's
/// `ORDER BY … LIMIT`; the nesting is a step only when the outer level does something
/// with the rows kept (filters, joins, groups or computes).
pub(super) fn passthrough_top(l: &mut Lint<'_>, lvl: &Level<'_>) {
    let [rel] = lvl.rels.as_slice() else {
        return;
    };
    let RelSource::Query(body) = &rel.source else {
        return;
    };
    let sel = lvl.select;
    if body.limit_clause.is_none() {
        return;
    }
    // Grouped over the rows a top-N kept: the cut runs across the groups, so each group
    // counts an arbitrary share of it ("per scenario, among the 200 most loaded lines").
    if let GroupByExpr::Expressions(g, _) = &sel.group_by {
        if !g.is_empty() {
            fake(
                l,
                body,
                format!(
                    "the outer query groups the rows {} keeps by its top-N: each group holds an arbitrary share of the cut",
                    rel.alias
                ),
                None,
            );
            return;
        }
    }
    if sel.selection.is_some() || sel.having.is_some() || sel.distinct.is_some() {
        return;
    }
    // Computing from each kept row (its vertex count, its WKT) is still the flat query;
    // aggregating the kept rows is a step.
    let mut aggregates = false;
    for item in &sel.projection {
        if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item {
            for_each_expr(e, &mut |x| {
                if let Expr::Function(f) = x {
                    aggregates |= f.over.is_some()
                        || super::grouping::is_aggregate(l.pack, &super::fn_name(f));
                }
            });
        } else if !plain_item(item) {
            return;
        }
    }
    if aggregates {
        return;
    }
    fake(
        l,
        body,
        format!(
            "the outer query only reads back the rows {} keeps: the same as ORDER BY … LIMIT in one query",
            rel.alias
        ),
        None,
    );
}

/// Records a nesting that does nothing, once per nested query.
fn fake(l: &mut Lint<'_>, body: &Query, why: String, at: Option<crate::Location>) {
    let key = body as *const Query as usize;
    if !l.fake_nestings.iter().any(|(k, ..)| *k == key) {
        l.fake_nestings.push((key, why, at));
    }
}

/// A select item that only names a column.
fn plain_item(i: &SelectItem) -> bool {
    match i {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
            matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_))
        }
        SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => true,
        _ => false,
    }
}

/// The statement's L3 finding, when all its nesting is fake.
pub(super) fn statement(l: &mut Lint<'_>) {
    if l.nestings > 0 && l.fake_nestings.len() >= l.nestings {
        let (_, message, location) = l.fake_nestings[0].clone();
        l.out.push(crate::Finding {
            severity: crate::Severity::Warning,
            aspect: crate::Aspect::Sense,
            code: SenseCode::FakeNesting.as_str().to_string(),
            message,
            location,
        });
    }
}
