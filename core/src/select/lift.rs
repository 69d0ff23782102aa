//! Seed queries lifted into plans: a seed's SQL is parsed and mapped node by node onto the
//! plan tree the selector builds, so that its intent (scoping, derived metrics, nearest
//! neighbours, ranking windows, nesting…) can be varied and phrased like any plan. A seed
//! using SQL the plan tree cannot hold (a `UNION`, `DISTINCT ON`, an `INTERVAL`…) is not
//! lifted; the reason is reported.

use std::collections::BTreeMap;

use sqlparser::ast::{
    BinaryOperator, CastKind, DataType, Distinct, Expr, FunctionArg, FunctionArgExpr,
    FunctionArguments, GroupByExpr, JoinConstraint, JoinOperator, LimitClause, ObjectName,
    OrderByKind, Query, SelectItem as SqlItem, SetExpr, Statement, TableFactor, UnaryOperator,
    Value, WindowType,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use crate::features::QueryType;
use crate::pack::SchemaPack;
use crate::plan::{
    ArithOp, CaseBranch, CompareOp, CtePlan, JoinSpec, Literal, LogicOp, PlanExpr, Relation,
    SelectItem, SelectPlan, Source,
};

/// A seed query as a plan.
#[derive(Debug, Clone)]
pub(crate) struct LiftedSeed {
    /// The seed's id (or `line N`).
    pub id: String,
    /// The seed's `sql_type`.
    pub sql_type: QueryType,
    /// CTEs, in order.
    pub ctes: Vec<CtePlan>,
    /// The main query.
    pub main: SelectPlan,
    /// The structure its plan realises, by feature column (filled by the selector).
    pub features: Vec<crate::features::FeatureValue>,
}

/// Why a seed could not be lifted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LiftError(pub String);

fn unsupported(what: impl std::fmt::Display) -> LiftError {
    LiftError(format!("unsupported: {what}"))
}

/// Names visible in one SELECT level: alias → (base table key, its column names).
#[derive(Default, Clone)]
struct Scope {
    rels: Vec<(String, String, Vec<String>)>,
}

struct Lifter<'p> {
    pack: &'p SchemaPack,
    /// CTE name → (base table key, output names).
    ctes: BTreeMap<String, (String, Vec<String>)>,
}

/// Lift one seed query.
pub(crate) fn lift(
    pack: &SchemaPack,
    id: &str,
    sql: &str,
    sql_type: QueryType,
) -> Result<LiftedSeed, LiftError> {
    let statements = Parser::parse_sql(&PostgreSqlDialect {}, sql)
        .map_err(|e| LiftError(format!("does not parse: {e}")))?;
    let [Statement::Query(q)] = statements.as_slice() else {
        return Err(unsupported("not one SELECT statement"));
    };
    let mut l = Lifter {
        pack,
        ctes: BTreeMap::new(),
    };
    let mut ctes = Vec::new();
    if let Some(with) = &q.with {
        if with.recursive {
            return Err(unsupported("WITH RECURSIVE"));
        }
        for c in &with.cte_tables {
            if !c.alias.columns.is_empty() {
                return Err(unsupported("CTE column list"));
            }
            let body = l.query(&c.query, &Scope::default())?;
            let name = c.alias.name.value.clone();
            let base = body
                .from
                .first()
                .map(|r| r.base.clone())
                .ok_or_else(|| unsupported("CTE without FROM"))?;
            l.ctes.insert(name.clone(), (base, outputs(&body)));
            ctes.push(CtePlan { name, body });
        }
    }
    let main = l.query_body(q, &Scope::default())?;
    Ok(LiftedSeed {
        id: id.to_string(),
        sql_type,
        ctes,
        main,
        features: Vec::new(),
    })
}

/// The output names of a SELECT level (aliases, or the column names of plain columns).
fn outputs(p: &SelectPlan) -> Vec<String> {
    p.items
        .iter()
        .filter_map(|i| match (&i.alias, &i.expr) {
            (Some(a), _) => Some(a.clone()),
            (None, PlanExpr::Column { column, .. }) => Some(column.clone()),
            _ => None,
        })
        .collect()
}

fn split_and(e: &Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            split_and(left, out);
            split_and(right, out);
        }
        Expr::Nested(inner)
            if matches!(
                inner.as_ref(),
                Expr::BinaryOp {
                    op: BinaryOperator::And,
                    ..
                }
            ) =>
        {
            split_and(inner, out)
        }
        other => out.push(other.clone()),
    }
}

fn name_parts(n: &ObjectName) -> Vec<String> {
    n.0.iter()
        .filter_map(|p| p.as_ident().map(|i| i.value.clone()))
        .collect()
}

impl Lifter<'_> {
    fn query(&self, q: &Query, outer: &Scope) -> Result<SelectPlan, LiftError> {
        if q.with.is_some() {
            return Err(unsupported("nested WITH"));
        }
        self.query_body(q, outer)
    }

    fn query_body(&self, q: &Query, outer: &Scope) -> Result<SelectPlan, LiftError> {
        let SetExpr::Select(s) = q.body.as_ref() else {
            return Err(unsupported("set operation"));
        };
        if q.fetch.is_some() || !q.locks.is_empty() {
            return Err(unsupported("FETCH or locking"));
        }
        let mut plan = SelectPlan {
            distinct: match &s.distinct {
                None => false,
                Some(Distinct::Distinct) => true,
                Some(_) => return Err(unsupported("DISTINCT ON")),
            },
            ..SelectPlan::default()
        };
        // FROM first: it names what the other clauses read.
        let mut scope = Scope::default();
        for twj in &s.from {
            if !plan.from.is_empty() && twj.joins.is_empty() && s.from.len() > 1 {
                return Err(unsupported("comma join"));
            }
            let first = self.relation(&twj.relation, None, &scope, outer, &mut plan)?;
            scope.rels.push(first);
            for j in &twj.joins {
                let (left, lateral_cross, constraint) = match &j.join_operator {
                    JoinOperator::Join(c) | JoinOperator::Inner(c) => (false, false, Some(c)),
                    JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => (true, false, Some(c)),
                    JoinOperator::CrossJoin(JoinConstraint::None) => (false, true, None),
                    other => {
                        return Err(unsupported(
                            format!("join {other:?}")
                                .chars()
                                .take(40)
                                .collect::<String>(),
                        ))
                    }
                };
                let lateral = matches!(&j.relation, TableFactor::Derived { lateral: true, .. });
                if lateral_cross && !lateral {
                    return Err(unsupported("CROSS JOIN of a table"));
                }
                let spec = JoinSpec {
                    left,
                    on: Vec::new(),
                    edge: None,
                    lateral,
                };
                let rel = self.relation(&j.relation, Some(spec), &scope, outer, &mut plan)?;
                scope.rels.push(rel);
                if let Some(c) = constraint {
                    let on = match c {
                        JoinConstraint::On(e) => {
                            let mut parts = Vec::new();
                            split_and(e, &mut parts);
                            parts
                                .iter()
                                .filter(|p| !matches!(p, Expr::Value(v) if v.value == Value::Boolean(true)))
                                .map(|p| self.expr(p, &scope, outer, None))
                                .collect::<Result<Vec<_>, _>>()?
                        }
                        _ => return Err(unsupported("join USING / NATURAL")),
                    };
                    if let Some(last) = plan.from.last_mut().and_then(|r| r.join.as_mut()) {
                        last.on = on;
                    }
                }
            }
        }
        if plan.from.is_empty() {
            return Err(unsupported("SELECT without FROM"));
        }
        for item in &s.projection {
            let (e, alias) = match item {
                SqlItem::UnnamedExpr(e) => (e, None),
                SqlItem::ExprWithAlias { expr, alias } => (expr, Some(alias.value.clone())),
                _ => return Err(unsupported("wildcard")),
            };
            let expr = self.expr(e, &scope, outer, None)?;
            let alias = match (&expr, alias) {
                (PlanExpr::Column { column, .. }, Some(a)) if *column == a => None,
                (_, a) => a,
            };
            plan.items.push(SelectItem { expr, alias });
        }
        let items = plan.items.clone();
        let ordinal = |e: &Expr| -> Option<PlanExpr> {
            let Expr::Value(v) = e else { return None };
            let Value::Number(n, _) = &v.value else {
                return None;
            };
            let i: usize = n.parse().ok()?;
            let item = items.get(i.checked_sub(1)?)?;
            Some(match &item.alias {
                Some(a) => PlanExpr::Output { name: a.clone() },
                None => item.expr.clone(),
            })
        };
        if let Some(w) = &s.selection {
            let mut parts = Vec::new();
            split_and(w, &mut parts);
            for p in &parts {
                plan.filters.push(self.expr(p, &scope, outer, None)?);
            }
        }
        match &s.group_by {
            GroupByExpr::Expressions(es, mods) if mods.is_empty() => {
                for e in es {
                    plan.group_by.push(match ordinal(e) {
                        Some(x) => x,
                        None => self.expr(e, &scope, outer, Some(&items))?,
                    });
                }
            }
            _ => return Err(unsupported("GROUP BY ALL / modifiers")),
        }
        if let Some(h) = &s.having {
            let mut parts = Vec::new();
            split_and(h, &mut parts);
            for p in &parts {
                plan.having.push(self.expr(p, &scope, outer, None)?);
            }
        }
        if s.qualify.is_some() || !s.named_window.is_empty() {
            return Err(unsupported("QUALIFY / WINDOW clause"));
        }
        if let Some(ob) = &q.order_by {
            let OrderByKind::Expressions(es) = &ob.kind else {
                return Err(unsupported("ORDER BY ALL"));
            };
            for o in es {
                if o.options.nulls_first.is_some() || o.with_fill.is_some() {
                    return Err(unsupported("NULLS FIRST/LAST"));
                }
                let e = match ordinal(&o.expr) {
                    Some(x) => x,
                    None => self.expr(&o.expr, &scope, outer, Some(&items))?,
                };
                plan.order_by.push((
                    e,
                    matches!(o.options.sort, Some(sqlparser::ast::OrderBySort::Desc)),
                ));
            }
        }
        match &q.limit_clause {
            None => {}
            Some(LimitClause::LimitOffset {
                limit: Some(Expr::Value(v)),
                offset: None,
                limit_by,
            }) if limit_by.is_empty() => match &v.value {
                Value::Number(n, _) => {
                    plan.limit = Some(n.parse().map_err(|_| unsupported("LIMIT value"))?)
                }
                _ => return Err(unsupported("LIMIT value")),
            },
            Some(_) => return Err(unsupported("OFFSET or LIMIT expression")),
        }
        Ok(plan)
    }

    /// One FROM relation; returns its scope entry.
    fn relation(
        &self,
        f: &TableFactor,
        join: Option<JoinSpec>,
        scope: &Scope,
        outer: &Scope,
        plan: &mut SelectPlan,
    ) -> Result<(String, String, Vec<String>), LiftError> {
        let (source, alias, base, columns) = match f {
            TableFactor::Table {
                name, alias, args, ..
            } => {
                if args.is_some() {
                    return Err(unsupported("table function"));
                }
                let parts = name_parts(name);
                let (source, base, columns) = match parts.as_slice() {
                    [schema, table] => {
                        let t = self
                            .pack
                            .table(schema, table)
                            .ok_or_else(|| LiftError(format!("unknown table {schema}.{table}")))?;
                        (
                            Source::Table {
                                schema: schema.clone(),
                                table: table.clone(),
                            },
                            format!("{schema}.{table}"),
                            t.columns.iter().map(|(c, _)| c.clone()).collect(),
                        )
                    }
                    [cte] => {
                        let (base, cols) = self
                            .ctes
                            .get(cte)
                            .cloned()
                            .ok_or_else(|| LiftError(format!("unknown relation {cte}")))?;
                        (Source::Cte { name: cte.clone() }, base, cols)
                    }
                    _ => return Err(unsupported("table name")),
                };
                let alias = match alias {
                    Some(a) if a.columns.is_empty() => a.name.value.clone(),
                    Some(_) => return Err(unsupported("alias column list")),
                    None => parts.last().cloned().unwrap_or_default(),
                };
                (source, alias, base, columns)
            }
            TableFactor::Derived {
                lateral,
                subquery,
                alias,
                ..
            } => {
                let Some(a) = alias else {
                    return Err(unsupported("derived table without alias"));
                };
                // A LATERAL subquery sees the relations before it.
                let mut visible = outer.clone();
                if *lateral {
                    visible.rels.extend(scope.rels.iter().cloned());
                }
                let body = self.query(subquery, &visible)?;
                let base = body.from[0].base.clone();
                let cols = outputs(&body);
                (
                    Source::Derived {
                        query: Box::new(body),
                    },
                    a.name.value.clone(),
                    base,
                    cols,
                )
            }
            _ => return Err(unsupported("table factor")),
        };
        plan.from.push(Relation {
            source,
            alias: alias.clone(),
            base: base.clone(),
            join,
        });
        Ok((alias, base, columns))
    }

    /// The relation an unqualified column belongs to: this level first, then the outer
    /// ones (a correlated reference).
    fn owner(&self, column: &str, scope: &Scope, outer: &Scope) -> Result<String, LiftError> {
        for s in [scope, outer] {
            let owners: Vec<&String> = s
                .rels
                .iter()
                .filter(|(_, _, cols)| cols.iter().any(|c| c == column))
                .map(|(a, _, _)| a)
                .collect();
            match owners.as_slice() {
                [one] => return Ok((*one).clone()),
                [] => continue,
                _ => return Err(LiftError(format!("ambiguous column {column}"))),
            }
        }
        Err(LiftError(format!("unknown column {column}")))
    }

    fn expr(
        &self,
        e: &Expr,
        scope: &Scope,
        outer: &Scope,
        items: Option<&[SelectItem]>,
    ) -> Result<PlanExpr, LiftError> {
        let sub = |x: &Expr| self.expr(x, scope, outer, None);
        // Subqueries see this level's relations (correlation) and the outer ones.
        let inner_scope = || {
            let mut s = outer.clone();
            s.rels.extend(scope.rels.iter().cloned());
            s
        };
        Ok(match e {
            Expr::Identifier(i) => {
                // In GROUP BY / ORDER BY a bare name may be an output alias.
                if let Some(items) = items {
                    if items
                        .iter()
                        .any(|it| it.alias.as_deref() == Some(i.value.as_str()))
                    {
                        return Ok(PlanExpr::Output {
                            name: i.value.clone(),
                        });
                    }
                }
                PlanExpr::column(&self.owner(&i.value, scope, outer)?, &i.value)
            }
            Expr::CompoundIdentifier(parts) => match parts.as_slice() {
                [rel, col] => PlanExpr::column(&rel.value, &col.value),
                _ => return Err(unsupported("long compound identifier")),
            },
            Expr::Value(v) => PlanExpr::Literal {
                value: match &v.value {
                    Value::Number(n, _) => Literal::Number(n.clone()),
                    Value::SingleQuotedString(s) => Literal::Text(s.clone()),
                    Value::Boolean(b) => Literal::Bool(*b),
                    other => return Err(unsupported(format!("literal {other}"))),
                },
            },
            Expr::UnaryOp { op, expr } => match (op, expr.as_ref()) {
                (UnaryOperator::Minus, Expr::Value(v)) => match &v.value {
                    Value::Number(n, _) => PlanExpr::number(format!("-{n}")),
                    _ => return Err(unsupported("unary minus")),
                },
                (UnaryOperator::Not, x) => PlanExpr::Not {
                    expr: Box::new(sub(x)?),
                },
                _ => return Err(unsupported("unary operator")),
            },
            Expr::Nested(x) => self.expr(x, scope, outer, items)?,
            Expr::BinaryOp { left, op, right } => {
                let cmp = |o| Ok::<_, LiftError>(PlanExpr::compare(o, sub(left)?, sub(right)?));
                let ar = |o| Ok::<_, LiftError>(PlanExpr::arith(o, sub(left)?, sub(right)?));
                match op {
                    BinaryOperator::Eq => cmp(CompareOp::Eq)?,
                    BinaryOperator::NotEq => cmp(CompareOp::NotEq)?,
                    BinaryOperator::Lt => cmp(CompareOp::Lt)?,
                    BinaryOperator::LtEq => cmp(CompareOp::LtEq)?,
                    BinaryOperator::Gt => cmp(CompareOp::Gt)?,
                    BinaryOperator::GtEq => cmp(CompareOp::GtEq)?,
                    BinaryOperator::Plus => ar(ArithOp::Add)?,
                    BinaryOperator::Minus => ar(ArithOp::Sub)?,
                    BinaryOperator::Multiply => ar(ArithOp::Mul)?,
                    BinaryOperator::Divide => ar(ArithOp::Div)?,
                    BinaryOperator::LtDashGt => ar(ArithOp::Distance)?,
                    BinaryOperator::And | BinaryOperator::Or => {
                        let lop = if *op == BinaryOperator::And {
                            LogicOp::And
                        } else {
                            LogicOp::Or
                        };
                        let mut args = Vec::new();
                        for side in [left, right] {
                            match sub(side)? {
                                PlanExpr::Logic { op, args: a } if op == lop => args.extend(a),
                                x => args.push(x),
                            }
                        }
                        PlanExpr::Logic { op: lop, args }
                    }
                    other => return Err(unsupported(format!("operator {other}"))),
                }
            }
            Expr::IsNull(x) => PlanExpr::IsNull {
                expr: Box::new(sub(x)?),
                negated: false,
            },
            Expr::IsNotNull(x) => PlanExpr::IsNull {
                expr: Box::new(sub(x)?),
                negated: true,
            },
            Expr::Cast {
                kind: CastKind::DoubleColon,
                expr,
                data_type,
                ..
            } => {
                let to = match data_type {
                    DataType::Numeric(sqlparser::ast::ExactNumberInfo::None) => "numeric".into(),
                    DataType::Custom(n, mods) if mods.is_empty() => {
                        name_parts(n).join(".").to_lowercase()
                    }
                    other => {
                        let t = other.to_string().to_lowercase();
                        if t.chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                        {
                            t
                        } else {
                            return Err(unsupported(format!("cast to {t}")));
                        }
                    }
                };
                sub(expr)?.cast(&to)
            }
            Expr::Case {
                operand: None,
                conditions,
                else_result,
                ..
            } => PlanExpr::Case {
                branches: conditions
                    .iter()
                    .map(|c| {
                        Ok(CaseBranch {
                            when: sub(&c.condition)?,
                            then: sub(&c.result)?,
                        })
                    })
                    .collect::<Result<_, LiftError>>()?,
                otherwise: match else_result {
                    Some(x) => Some(Box::new(sub(x)?)),
                    None => None,
                },
            },
            Expr::Subquery(q) => PlanExpr::Scalar {
                query: Box::new(self.query(q, &inner_scope())?),
            },
            Expr::Exists { subquery, negated } => PlanExpr::Exists {
                query: Box::new(self.query(subquery, &inner_scope())?),
                negated: *negated,
            },
            Expr::In {
                expr,
                target: sqlparser::ast::InTarget::Subquery(subquery),
                negated,
                global: false,
            } => PlanExpr::InSubquery {
                expr: Box::new(sub(expr)?),
                query: Box::new(self.query(subquery, &inner_scope())?),
                negated: *negated,
            },
            Expr::CompoundFieldAccess { root, access_chain } => match access_chain.as_slice() {
                [sqlparser::ast::AccessExpr::Dot(Expr::Identifier(f))] => PlanExpr::Field {
                    expr: Box::new(sub(root)?),
                    field: f.value.clone(),
                },
                _ => return Err(unsupported("field access")),
            },
            Expr::Function(f) => self.function(f, scope, outer)?,
            other => {
                let text = other.to_string();
                return Err(unsupported(format!(
                    "expression {}",
                    text.chars().take(40).collect::<String>()
                )));
            }
        })
    }

    fn function(
        &self,
        f: &sqlparser::ast::Function,
        scope: &Scope,
        outer: &Scope,
    ) -> Result<PlanExpr, LiftError> {
        let parts = name_parts(&f.name);
        let [name] = parts.as_slice() else {
            return Err(unsupported("qualified function name"));
        };
        if !f.within_group.is_empty() || f.null_treatment.is_some() {
            return Err(unsupported("WITHIN GROUP / null treatment"));
        }
        let (list, distinct) = match &f.args {
            FunctionArguments::List(l) => {
                if !l.clauses.is_empty() {
                    return Err(unsupported("ORDER BY inside a call"));
                }
                (
                    l.args.as_slice(),
                    matches!(
                        l.duplicate_treatment,
                        Some(sqlparser::ast::DuplicateTreatment::Distinct)
                    ),
                )
            }
            FunctionArguments::None => (&[][..], false),
            FunctionArguments::Subquery(_) => return Err(unsupported("call on a subquery")),
        };
        let mut args = Vec::new();
        let mut star = false;
        for a in list {
            match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) => {
                    args.push(self.expr(x, scope, outer, None)?)
                }
                FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => star = true,
                _ => return Err(unsupported("named or qualified-wildcard argument")),
            }
        }
        let lower = name.to_lowercase();
        let aggregate = matches!(lower.as_str(), "count" | "sum" | "avg" | "min" | "max");
        let filter = match &f.filter {
            Some(x) if aggregate => Some(Box::new(self.expr(x, scope, outer, None)?)),
            Some(_) => return Err(unsupported("FILTER on a non-aggregate")),
            None => None,
        };
        if let Some(over) = &f.over {
            let WindowType::WindowSpec(w) = over else {
                return Err(unsupported("named window"));
            };
            if w.window_frame.is_some() || star || filter.is_some() {
                return Err(unsupported("window frame / COUNT(*) OVER"));
            }
            return Ok(PlanExpr::Window {
                function: name.clone(),
                args,
                partition_by: w
                    .partition_by
                    .iter()
                    .map(|x| self.expr(x, scope, outer, None))
                    .collect::<Result<_, _>>()?,
                order_by: w
                    .order_by
                    .iter()
                    .map(|o| {
                        Ok((
                            self.expr(&o.expr, scope, outer, None)?,
                            matches!(o.options.sort, Some(sqlparser::ast::OrderBySort::Desc)),
                        ))
                    })
                    .collect::<Result<_, LiftError>>()?,
            });
        }
        if aggregate {
            if args.len() + usize::from(star) != 1 {
                return Err(unsupported("aggregate arity"));
            }
            return Ok(PlanExpr::Aggregate {
                function: lower,
                arg: args.pop().map(Box::new),
                distinct,
                filter,
            });
        }
        if star || distinct {
            return Err(unsupported("DISTINCT or * in a call"));
        }
        Ok(PlanExpr::Call {
            function: name.clone(),
            args,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{FeatureExtractor, Label, RecordLabels};

    fn seeds(pack: &SchemaPack) -> Vec<(String, String, QueryType)> {
        pack.corpus_jsonl()
            .expect("the CIM pack has a corpus")
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("corpus JSON");
                (
                    v["id"].as_str().unwrap_or_default().to_string(),
                    v["sql_postgis"].as_str().unwrap_or_default().to_string(),
                    QueryType::parse(v["sql_type"].as_str().unwrap_or_default())
                        .unwrap_or(QueryType::SimpleSelect),
                )
            })
            .collect()
    }

    /// Lifting keeps what a seed does: its SQL rebuilt from the plan has the seed's
    /// structure (every feature the extractor reads), and nearly every seed lifts.
    #[test]
    fn seeds_lift_into_plans_with_their_structure() {
        let pack = SchemaPack::builtin("cim-wizard").expect("pack");
        let ex = FeatureExtractor::new(&pack);
        let all = seeds(&pack);
        let mut lifted = 0;
        let mut failures = Vec::new();
        for (id, sql, ty) in &all {
            match lift(&pack, id, sql, *ty) {
                Ok(l) => {
                    lifted += 1;
                    let text = crate::assemble::render(&crate::assemble::ast::statement_of(
                        &l.ctes, &l.main,
                    ));
                    let labels = RecordLabels::default();
                    let want = ex.extract(sql, &labels).expect("seed parses").structure;
                    let got = ex
                        .extract(&text, &labels)
                        .unwrap_or_else(|e| {
                            panic!("{id}: rebuilt SQL does not parse: {e:?}\n{text}")
                        })
                        .structure;
                    assert_eq!(want, got, "{id}: structure changed\n{sql}\n---\n{text}");
                }
                Err(e) => failures.push(format!("{id}: {e}")),
            }
        }
        eprintln!("{lifted} of {} seeds lift; not: {failures:?}", all.len());
        assert!(
            lifted * 100 >= all.len() * 90,
            "only {lifted} of {} seeds lift:\n{}",
            all.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn unsupported_sql_is_named() {
        let pack = SchemaPack::builtin("cim-wizard").expect("pack");
        let e = lift(
            &pack,
            "u",
            "SELECT b.building_id FROM cim_vector.building b UNION SELECT 1",
            QueryType::SimpleSelect,
        )
        .unwrap_err();
        assert_eq!(e.0, "unsupported: set operation");
        let e = lift(
            &pack,
            "x",
            "SELECT x.a FROM nowhere.x",
            QueryType::SimpleSelect,
        )
        .unwrap_err();
        assert_eq!(e.0, "unknown table nowhere.x");
    }
}
