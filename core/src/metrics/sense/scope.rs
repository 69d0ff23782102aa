//! What the sense lints need to know about one `SELECT` level: its relations (base table,
//! CTE or derived table, how each is joined), where a column reference comes from (a base
//! table column, through CTEs and derived tables that pass it on), and which relations an
//! expression reads.

use std::collections::BTreeSet;

use sqlparser::ast::{
    Expr, InTarget, JoinConstraint, JoinOperator, ObjectNamePart, Query, Select, SelectItem,
    SetExpr, TableFactor,
};

use crate::pack::SchemaPack;
use crate::sql::analyze::{children, fold};

/// Where a relation's rows come from.
#[derive(Debug, Clone)]
pub(super) enum RelSource<'q> {
    /// A base table, `schema.table`.
    Table(String),
    /// A CTE body or a derived table's query.
    Query(&'q Query),
    /// A set-returning function or anything else the lints do not look into.
    Other,
}

/// One relation of a FROM clause.
#[derive(Debug, Clone)]
pub(super) struct Rel<'q> {
    /// Alias (or table name), folded.
    pub alias: String,
    pub source: RelSource<'q>,
    /// For a joined relation: `LEFT JOIN` and the ON condition.
    pub left: bool,
    pub on: Option<&'q Expr>,
    /// Joined (not the first relation of its FROM item).
    pub joined: bool,
}

/// A base-table column an expression reads, with the alias it is read through.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct ColRef {
    pub alias: String,
    /// `schema.table`.
    pub table: String,
    pub column: String,
}

/// One SELECT level and the CTEs visible from it.
pub(super) struct Level<'q> {
    pub select: &'q Select,
    pub rels: Vec<Rel<'q>>,
    pub ctes: Vec<(String, &'q Query)>,
}

/// The table name of a FROM factor as `schema.table` (search path applied), or a CTE.
fn factor_source<'q>(
    pack: &SchemaPack,
    name: &sqlparser::ast::ObjectName,
    ctes: &[(String, &'q Query)],
) -> RelSource<'q> {
    let parts: Vec<String> = name
        .0
        .iter()
        .filter_map(|p| match p {
            ObjectNamePart::Identifier(i) => Some(fold(i)),
            _ => None,
        })
        .collect();
    match parts.as_slice() {
        [t] => {
            if let Some((_, q)) = ctes.iter().rev().find(|(n, _)| n == t) {
                return RelSource::Query(q);
            }
            match pack.find_table(t) {
                Some(info) => RelSource::Table(format!("{}.{}", info.schema, info.name)),
                None => RelSource::Other,
            }
        }
        [s, t] => match pack.table(s, t) {
            Some(info) => RelSource::Table(format!("{}.{}", info.schema, info.name)),
            None => RelSource::Other,
        },
        _ => RelSource::Other,
    }
}

impl<'q> Level<'q> {
    pub fn new(pack: &SchemaPack, select: &'q Select, ctes: &[(String, &'q Query)]) -> Level<'q> {
        let mut rels = Vec::new();
        for twj in &select.from {
            push_factor(pack, &twj.relation, ctes, None, false, false, &mut rels);
            for j in &twj.joins {
                let (left, on) = match &j.join_operator {
                    JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => (true, constraint(c)),
                    JoinOperator::Join(c)
                    | JoinOperator::Inner(c)
                    | JoinOperator::Right(c)
                    | JoinOperator::RightOuter(c)
                    | JoinOperator::FullOuter(c)
                    | JoinOperator::CrossJoin(c) => (false, constraint(c)),
                    _ => (false, None),
                };
                push_factor(pack, &j.relation, ctes, on, left, true, &mut rels);
            }
        }
        Level {
            select,
            rels,
            ctes: ctes.to_vec(),
        }
    }

    pub fn rel(&self, alias: &str) -> Option<&Rel<'q>> {
        self.rels.iter().find(|r| r.alias == alias)
    }

    /// The base table a relation reads in the end: itself, or the single relation of the
    /// CTE / derived table it is.
    pub fn base_table(&self, pack: &SchemaPack, rel: &Rel<'q>) -> Option<String> {
        base_of(pack, &rel.source, 0)
    }

    /// The base-table column `e` is, when it is one (through CTEs and derived tables that
    /// pass the column on unchanged).
    pub fn column(&self, pack: &SchemaPack, e: &Expr) -> Option<ColRef> {
        let (alias, column) = match e {
            Expr::Nested(x) => return self.column(pack, x),
            Expr::Identifier(i) => {
                let c = fold(i);
                let rel = self
                    .rels
                    .iter()
                    .find(|r| source_has(pack, &r.source, &c, 0))?;
                (rel.alias.clone(), c)
            }
            Expr::CompoundIdentifier(ids) if ids.len() >= 2 => {
                (fold(&ids[ids.len() - 2]), fold(&ids[ids.len() - 1]))
            }
            _ => return None,
        };
        let rel = self.rel(&alias)?;
        let (table, column) = origin(pack, &rel.source, &column, 0)?;
        Some(ColRef {
            alias,
            table,
            column,
        })
    }

    /// Aliases of this level an expression reads (subqueries included, for correlation).
    pub fn aliases_in(&self, pack: &SchemaPack, e: &Expr, out: &mut BTreeSet<String>) {
        match e {
            Expr::Identifier(i) => {
                let c = fold(i);
                if let Some(r) = self
                    .rels
                    .iter()
                    .find(|r| source_has(pack, &r.source, &c, 0))
                {
                    out.insert(r.alias.clone());
                }
            }
            Expr::CompoundIdentifier(ids) if ids.len() >= 2 => {
                let a = fold(&ids[ids.len() - 2]);
                if self.rel(&a).is_some() {
                    out.insert(a);
                }
            }
            Expr::Subquery(q) | Expr::Exists { subquery: q, .. } => {
                self.aliases_in_query(pack, q, out)
            }
            Expr::In {
                expr,
                target: InTarget::Subquery(subquery),
                ..
            } => {
                self.aliases_in(pack, expr, out);
                self.aliases_in_query(pack, subquery, out);
            }
            _ => {
                for c in children(e) {
                    self.aliases_in(pack, c, out);
                }
                if let Expr::Function(f) = e {
                    if let Some(sqlparser::ast::WindowType::WindowSpec(w)) = &f.over {
                        for p in &w.partition_by {
                            self.aliases_in(pack, p, out);
                        }
                        for o in &w.order_by {
                            self.aliases_in(pack, &o.expr, out);
                        }
                    }
                }
            }
        }
    }

    /// Qualified references to this level's aliases inside a (correlated) subquery.
    fn aliases_in_query(&self, pack: &SchemaPack, q: &Query, out: &mut BTreeSet<String>) {
        for_each_expr_of_query(q, &mut |e| {
            if let Expr::CompoundIdentifier(ids) = e {
                if ids.len() >= 2 {
                    let a = fold(&ids[ids.len() - 2]);
                    if self.rel(&a).is_some() {
                        out.insert(a);
                    }
                }
            }
        });
        let _ = pack;
    }
}

fn constraint(c: &JoinConstraint) -> Option<&Expr> {
    match c {
        JoinConstraint::On(e) => Some(e),
        _ => None,
    }
}

fn push_factor<'q>(
    pack: &SchemaPack,
    f: &'q TableFactor,
    ctes: &[(String, &'q Query)],
    on: Option<&'q Expr>,
    left: bool,
    joined: bool,
    rels: &mut Vec<Rel<'q>>,
) {
    match f {
        TableFactor::Table {
            name, alias, args, ..
        } => {
            let source = if args.is_some() {
                RelSource::Other
            } else {
                factor_source(pack, name, ctes)
            };
            let a = alias.as_ref().map(|a| fold(&a.name)).unwrap_or_else(|| {
                name.0
                    .last()
                    .and_then(|p| match p {
                        ObjectNamePart::Identifier(i) => Some(fold(i)),
                        _ => None,
                    })
                    .unwrap_or_default()
            });
            rels.push(Rel {
                alias: a,
                source,
                left,
                on,
                joined,
            });
        }
        TableFactor::Derived {
            subquery, alias, ..
        } => rels.push(Rel {
            alias: alias.as_ref().map(|a| fold(&a.name)).unwrap_or_default(),
            source: RelSource::Query(subquery),
            left,
            on,
            joined,
        }),
        TableFactor::NestedJoin {
            table_with_joins, ..
        } => {
            push_factor(
                pack,
                &table_with_joins.relation,
                ctes,
                on,
                left,
                joined,
                rels,
            );
            for j in &table_with_joins.joins {
                let on = match &j.join_operator {
                    JoinOperator::Join(c)
                    | JoinOperator::Inner(c)
                    | JoinOperator::Left(c)
                    | JoinOperator::LeftOuter(c) => constraint(c),
                    _ => None,
                };
                push_factor(pack, &j.relation, ctes, on, false, true, rels);
            }
        }
        _ => rels.push(Rel {
            alias: String::new(),
            source: RelSource::Other,
            left,
            on,
            joined,
        }),
    }
}

/// The single SELECT of a query body, when it is one.
pub(super) fn single_select(q: &Query) -> Option<&Select> {
    match q.body.as_ref() {
        SetExpr::Select(s) => Some(s),
        SetExpr::Query(q) => single_select(q),
        _ => None,
    }
}

/// The CTEs a query defines (its own WITH only).
pub(super) fn own_ctes(q: &Query) -> Vec<(String, &Query)> {
    q.with
        .as_ref()
        .map(|w| {
            w.cte_tables
                .iter()
                .map(|c| (fold(&c.alias.name), c.query.as_ref()))
                .collect()
        })
        .unwrap_or_default()
}

fn base_of(pack: &SchemaPack, s: &RelSource<'_>, depth: usize) -> Option<String> {
    match s {
        RelSource::Table(t) => Some(t.clone()),
        RelSource::Query(q) if depth < 8 => {
            let sel = single_select(q)?;
            let ctes = own_ctes(q);
            let lvl = Level::new(pack, sel, &ctes);
            if lvl.rels.len() != 1 {
                return None;
            }
            base_of(pack, &lvl.rels[0].source, depth + 1)
        }
        _ => None,
    }
}

/// The select list's expressions, or none when it has a wildcard (what it reads is then
/// unknown to the lints that need every output).
pub(super) fn projection_exprs(sel: &Select) -> Option<Vec<&Expr>> {
    sel.projection
        .iter()
        .map(|item| match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => Some(e),
            _ => None,
        })
        .collect()
}

/// The select list's expressions, wildcards skipped.
pub(super) fn item_exprs(sel: &Select) -> impl Iterator<Item = &Expr> {
    sel.projection.iter().filter_map(|item| match item {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => Some(e),
        _ => None,
    })
}

/// The output expression named `column` of a query's select list.
fn output_expr<'q>(sel: &'q Select, column: &str) -> Option<Option<&'q Expr>> {
    for item in &sel.projection {
        match item {
            SelectItem::ExprWithAlias { expr, alias } if fold(alias) == column => {
                return Some(Some(expr))
            }
            SelectItem::UnnamedExpr(e) => {
                let name = match e {
                    Expr::Identifier(i) => Some(fold(i)),
                    Expr::CompoundIdentifier(ids) => ids.last().map(fold),
                    _ => None,
                };
                if name.as_deref() == Some(column) {
                    return Some(Some(e));
                }
            }
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => return Some(None),
            _ => {}
        }
    }
    None
}

fn source_has(pack: &SchemaPack, s: &RelSource<'_>, column: &str, depth: usize) -> bool {
    match s {
        RelSource::Table(t) => {
            let (schema, name) = t.split_once('.').unwrap_or(("", t));
            pack.table(schema, name)
                .is_some_and(|i| i.column(column).is_some())
        }
        RelSource::Query(q) if depth < 8 => {
            single_select(q).is_some_and(|sel| match output_expr(sel, column) {
                Some(Some(_)) => true,
                Some(None) => {
                    let ctes = own_ctes(q);
                    let lvl = Level::new(pack, sel, &ctes);
                    lvl.rels
                        .iter()
                        .any(|r| source_has(pack, &r.source, column, depth + 1))
                }
                None => false,
            })
        }
        _ => false,
    }
}

/// The base-table column `column` of a relation source is, when it passes one on.
fn origin(
    pack: &SchemaPack,
    s: &RelSource<'_>,
    column: &str,
    depth: usize,
) -> Option<(String, String)> {
    match s {
        RelSource::Table(t) => {
            let (schema, name) = t.split_once('.').unwrap_or(("", t));
            pack.table(schema, name)?.column(column)?;
            Some((t.clone(), column.to_string()))
        }
        RelSource::Query(q) if depth < 8 => {
            let sel = single_select(q)?;
            let ctes = own_ctes(q);
            let lvl = Level::new(pack, sel, &ctes);
            match output_expr(sel, column)? {
                Some(e) => {
                    let c = lvl.column(pack, e)?;
                    Some((c.table, c.column))
                }
                None => lvl
                    .rels
                    .iter()
                    .find_map(|r| origin(pack, &r.source, column, depth + 1)),
            }
        }
        _ => None,
    }
}

/// Calls `f` on every expression of a query (CTEs, every level, subqueries), pre-order.
pub(super) fn for_each_expr_of_query<'a>(q: &'a Query, f: &mut dyn FnMut(&'a Expr)) {
    for (_, c) in own_ctes(q) {
        for_each_expr_of_query(c, f);
    }
    for_each_expr_of_set(&q.body, f);
    if let Some(ob) = &q.order_by {
        if let sqlparser::ast::OrderByKind::Expressions(v) = &ob.kind {
            for o in v {
                for_each_expr(&o.expr, f);
            }
        }
    }
}

fn for_each_expr_of_set<'a>(s: &'a SetExpr, f: &mut dyn FnMut(&'a Expr)) {
    match s {
        SetExpr::Select(sel) => {
            for e in select_exprs(sel) {
                for_each_expr(e, f);
            }
            for twj in &sel.from {
                factor_queries(&twj.relation, f);
                for j in &twj.joins {
                    factor_queries(&j.relation, f);
                }
            }
        }
        SetExpr::Query(q) => for_each_expr_of_query(q, f),
        SetExpr::SetOperation { left, right, .. } => {
            for_each_expr_of_set(left, f);
            for_each_expr_of_set(right, f);
        }
        _ => {}
    }
}

fn factor_queries<'a>(t: &'a TableFactor, f: &mut dyn FnMut(&'a Expr)) {
    if let TableFactor::Derived { subquery, .. } = t {
        for_each_expr_of_query(subquery, f);
    }
}

/// Every expression of one SELECT level (projection, ON, WHERE, GROUP BY, HAVING), not
/// descending into its subqueries.
pub(super) fn select_exprs(sel: &Select) -> Vec<&Expr> {
    let mut v: Vec<&Expr> = Vec::new();
    for item in &sel.projection {
        match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => v.push(e),
            _ => {}
        }
    }
    for twj in &sel.from {
        for j in &twj.joins {
            if let Some(e) = match &j.join_operator {
                JoinOperator::Join(c)
                | JoinOperator::Inner(c)
                | JoinOperator::Left(c)
                | JoinOperator::LeftOuter(c)
                | JoinOperator::Right(c)
                | JoinOperator::RightOuter(c)
                | JoinOperator::FullOuter(c) => constraint(c),
                _ => None,
            } {
                v.push(e);
            }
        }
    }
    if let Some(w) = &sel.selection {
        v.push(w);
    }
    if let sqlparser::ast::GroupByExpr::Expressions(g, _) = &sel.group_by {
        v.extend(g.iter());
    }
    if let Some(h) = &sel.having {
        v.push(h);
    }
    v
}

/// Pre-order walk of an expression and everything inside it (subqueries included).
pub(super) fn for_each_expr<'a>(e: &'a Expr, f: &mut dyn FnMut(&'a Expr)) {
    f(e);
    match e {
        Expr::Subquery(q) | Expr::Exists { subquery: q, .. } => for_each_expr_of_query(q, f),
        Expr::In {
            expr,
            target: InTarget::Subquery(subquery),
            ..
        } => {
            for_each_expr(expr, f);
            for_each_expr_of_query(subquery, f);
        }
        _ => {
            for c in children(e) {
                for_each_expr(c, f);
            }
        }
    }
}

/// Pre-order walk of an expression without entering subqueries.
pub(super) fn for_each_local<'a>(e: &'a Expr, f: &mut dyn FnMut(&'a Expr)) {
    f(e);
    if !matches!(
        e,
        Expr::Subquery(_)
            | Expr::Exists { .. }
            | Expr::In {
                target: InTarget::Subquery(_),
                ..
            }
    ) {
        for c in children(e) {
            for_each_local(c, f);
        }
    }
}

/// The `left = right` conjuncts of a condition.
pub(super) fn equalities(e: &Expr) -> Vec<(&Expr, &Expr)> {
    conjuncts(e)
        .into_iter()
        .filter_map(|c| match c {
            Expr::BinaryOp {
                left,
                op: sqlparser::ast::BinaryOperator::Eq,
                right,
            } => Some((left.as_ref(), right.as_ref())),
            _ => None,
        })
        .collect()
}

impl Level<'_> {
    /// The conjuncts of every ON condition and of the WHERE clause.
    pub fn conditions(&self) -> Vec<&Expr> {
        let mut v: Vec<&Expr> = self
            .rels
            .iter()
            .filter_map(|r| r.on)
            .flat_map(conjuncts)
            .collect();
        if let Some(w) = &self.select.selection {
            v.extend(conjuncts(w));
        }
        v
    }

    /// The base-table column pairs the `=` conjuncts of a condition make equal.
    pub fn column_equalities(&self, pack: &SchemaPack, e: &Expr) -> Vec<(ColRef, ColRef)> {
        equalities(e)
            .into_iter()
            .filter_map(|(l, r)| Some((self.column(pack, l)?, self.column(pack, r)?)))
            .collect()
    }
}

/// The AND-ed conjuncts of a condition.
pub(super) fn conjuncts(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::BinaryOp {
            left,
            op: sqlparser::ast::BinaryOperator::And,
            right,
        } => {
            let mut v = conjuncts(left);
            v.extend(conjuncts(right));
            v
        }
        Expr::Nested(x) => conjuncts(x),
        _ => vec![e],
    }
}
