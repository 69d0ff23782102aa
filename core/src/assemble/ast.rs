//! Plan → sqlparser AST, node by node. Nothing here formats SQL text: the text comes from
//! sqlparser's own `Display` (pretty form), so what is printed is what the parser reads.

use sqlparser::ast::helpers::attached_token::AttachedToken;
use sqlparser::ast::{
    BinaryOperator, CastKind, Cte, DataType, Distinct, DuplicateTreatment, Expr, Function,
    FunctionArg, FunctionArgExpr, FunctionArgumentList, FunctionArguments, GroupByExpr, Ident,
    InTarget, Join, JoinConstraint, JoinOperator, LimitClause, ObjectName, OrderBy, OrderByExpr,
    OrderByKind, OrderByOptions, OrderBySort, Query, Select, SelectFlavor, SelectItem, SetExpr,
    TableAlias, TableFactor, TableWithJoins, Value, WindowSpec, WindowType, With,
};

use crate::plan::{
    ArithOp, CompareOp, CtePlan, Literal, LogicOp, PlanExpr, QueryPlan, SelectPlan, Source,
};

/// The whole statement's query.
pub(crate) fn statement_query(plan: &QueryPlan) -> Query {
    statement_of(&plan.ctes, &plan.main)
}

/// The query of a statement made of `ctes` and `main`.
pub(crate) fn statement_of(ctes: &[CtePlan], main: &SelectPlan) -> Query {
    let mut q = select_query(main);
    if !ctes.is_empty() {
        q.with = Some(With {
            with_token: AttachedToken::empty(),
            recursive: false,
            cte_tables: ctes.iter().map(cte).collect(),
        });
    }
    q
}

fn cte(c: &CtePlan) -> Cte {
    let mut name = alias(&c.name);
    name.explicit = false;
    Cte {
        alias: name,
        query: Box::new(select_query(&c.body)),
        from: None,
        materialized: None,
        closing_paren_token: AttachedToken::empty(),
    }
}

fn ident(name: &str) -> Ident {
    // Lower-case unquoted names are what the pack uses; anything else is quoted.
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        Ident::new(name)
    } else {
        Ident::with_quote('"', name)
    }
}

fn object_name(parts: &[&str]) -> ObjectName {
    ObjectName::from(parts.iter().map(|p| ident(p)).collect::<Vec<_>>())
}

fn alias(name: &str) -> TableAlias {
    TableAlias {
        explicit: true,
        name: ident(name),
        columns: Vec::new(),
        at: None,
    }
}

pub(crate) fn select_query(p: &SelectPlan) -> Query {
    let select = Select {
        select_token: AttachedToken::empty(),
        optimizer_hints: Vec::new(),
        distinct: p.distinct.then_some(Distinct::Distinct),
        select_modifiers: None,
        top: None,
        top_before_distinct: false,
        projection: p
            .items
            .iter()
            .map(|i| match &i.alias {
                Some(a) => SelectItem::ExprWithAlias {
                    expr: expr(&i.expr),
                    alias: ident(a),
                },
                None => SelectItem::UnnamedExpr(expr(&i.expr)),
            })
            .collect(),
        exclude: None,
        into: None,
        from: from(p),
        lateral_views: Vec::new(),
        prewhere: None,
        selection: conjunction(&p.filters),
        connect_by: Vec::new(),
        group_by: GroupByExpr::Expressions(p.group_by.iter().map(expr).collect(), Vec::new()),
        cluster_by: Vec::new(),
        distribute_by: Vec::new(),
        sort_by: Vec::new(),
        having: conjunction(&p.having),
        named_window: Vec::new(),
        qualify: None,
        window_before_qualify: false,
        value_table_mode: None,
        flavor: SelectFlavor::Standard,
    };
    Query {
        with: None,
        body: Box::new(SetExpr::Select(Box::new(select))),
        order_by: (!p.order_by.is_empty()).then(|| OrderBy {
            kind: OrderByKind::Expressions(
                p.order_by
                    .iter()
                    .map(|(e, desc)| order_by_expr(e, *desc))
                    .collect(),
            ),
            interpolate: None,
        }),
        limit_clause: p.limit.map(|n| LimitClause::LimitOffset {
            limit: Some(number(&n.to_string())),
            offset: None,
            limit_by: Vec::new(),
        }),
        fetch: None,
        locks: Vec::new(),
        for_clause: None,
        settings: None,
        format_clause: None,
        pipe_operators: Vec::new(),
    }
}

fn from(p: &SelectPlan) -> Vec<TableWithJoins> {
    let mut out: Vec<TableWithJoins> = Vec::new();
    for r in &p.from {
        let factor = match &r.source {
            Source::Table { schema, table } => {
                table_factor(object_name(&[schema, table]), &r.alias)
            }
            Source::Cte { name } => table_factor(object_name(&[name]), &r.alias),
            Source::Derived { query } => TableFactor::Derived {
                lateral: r.join.as_ref().is_some_and(|j| j.lateral),
                subquery: Box::new(select_query(query)),
                alias: Some(alias(&r.alias)),
                sample: None,
            },
        };
        match (&r.join, out.last_mut()) {
            (Some(j), Some(last)) => {
                let join_operator = match conjunction(&j.on) {
                    None if j.lateral && !j.left => JoinOperator::CrossJoin(JoinConstraint::None),
                    on => {
                        let on = on.unwrap_or_else(|| Expr::Value(Value::Boolean(true).into()));
                        let c = JoinConstraint::On(on);
                        if j.left {
                            JoinOperator::Left(c)
                        } else {
                            JoinOperator::Join(c)
                        }
                    }
                };
                last.joins.push(Join {
                    relation: factor,
                    global: false,
                    join_operator,
                });
            }
            _ => out.push(TableWithJoins {
                relation: factor,
                joins: Vec::new(),
            }),
        }
    }
    out
}

fn table_factor(name: ObjectName, a: &str) -> TableFactor {
    TableFactor::Table {
        name,
        alias: Some(alias(a)),
        args: None,
        with_hints: Vec::new(),
        version: None,
        with_ordinality: false,
        partitions: Vec::new(),
        json_path: None,
        sample: None,
        index_directives: Vec::new(),
        inheritance: None,
    }
}

fn conjunction(es: &[PlanExpr]) -> Option<Expr> {
    es.iter().map(expr).reduce(|a, b| Expr::BinaryOp {
        left: Box::new(a),
        op: BinaryOperator::And,
        right: Box::new(b),
    })
}

fn number(text: &str) -> Expr {
    Expr::Value(Value::Number(text.to_string(), false).into())
}

fn call(
    name: &str,
    args: Vec<FunctionArgExpr>,
    distinct: bool,
    over: Option<WindowSpec>,
    filter: Option<Expr>,
) -> Expr {
    // Function names are written as the catalogue spells them (`ST_Area`), unquoted:
    // PostgreSQL folds them to the lower-case names it stores.
    Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: distinct.then_some(DuplicateTreatment::Distinct),
            args: args.into_iter().map(FunctionArg::Unnamed).collect(),
            clauses: Vec::new(),
        }),
        filter: filter.map(Box::new),
        null_treatment: None,
        over: over.map(WindowType::WindowSpec),
        within_group: Vec::new(),
    })
}

fn order_by_expr(e: &PlanExpr, desc: bool) -> OrderByExpr {
    OrderByExpr {
        expr: expr(e),
        options: OrderByOptions {
            sort: desc.then_some(OrderBySort::Desc),
            nulls_first: None,
        },
        with_fill: None,
    }
}

/// An operand of an operator: operators inside it get parentheses, so that the tree
/// prints as it is meant whatever the precedence.
fn operand(e: &PlanExpr) -> Expr {
    match e {
        PlanExpr::Arith { .. }
        | PlanExpr::Logic { .. }
        | PlanExpr::Compare { .. }
        | PlanExpr::Not { .. }
        | PlanExpr::IsNull { .. } => Expr::Nested(Box::new(expr(e))),
        _ => expr(e),
    }
}

fn args(es: &[PlanExpr]) -> Vec<FunctionArgExpr> {
    es.iter().map(|a| FunctionArgExpr::Expr(expr(a))).collect()
}

fn literal(l: &Literal) -> Expr {
    match l {
        Literal::Number(n) => {
            if let Some(abs) = n.strip_prefix('-') {
                Expr::UnaryOp {
                    op: sqlparser::ast::UnaryOperator::Minus,
                    expr: Box::new(number(abs)),
                }
            } else {
                number(n)
            }
        }
        Literal::Text(s) => Expr::Value(Value::SingleQuotedString(s.clone()).into()),
        Literal::Bool(b) => Expr::Value(Value::Boolean(*b).into()),
    }
}

pub(crate) fn expr(e: &PlanExpr) -> Expr {
    match e {
        PlanExpr::Column { rel, column } => {
            Expr::CompoundIdentifier(vec![ident(rel), ident(column)])
        }
        PlanExpr::Literal { value } => literal(value),
        PlanExpr::Call { function, args: a } => call(function, args(a), false, None, None),
        PlanExpr::Window {
            function,
            args: a,
            partition_by,
            order_by,
        } => call(
            function,
            args(a),
            false,
            Some(WindowSpec {
                window_name: None,
                partition_by: partition_by.iter().map(expr).collect(),
                order_by: order_by
                    .iter()
                    .map(|(e, desc)| order_by_expr(e, *desc))
                    .collect(),
                window_frame: None,
            }),
            None,
        ),
        PlanExpr::Aggregate {
            function,
            arg,
            distinct,
            filter,
        } => call(
            &function.to_uppercase(),
            vec![match arg {
                Some(a) => FunctionArgExpr::Expr(expr(a)),
                None => FunctionArgExpr::Wildcard,
            }],
            *distinct,
            None,
            filter.as_ref().map(|f| expr(f)),
        ),
        PlanExpr::Arith { op, left, right } => Expr::BinaryOp {
            left: Box::new(operand(left)),
            op: match op {
                ArithOp::Add => BinaryOperator::Plus,
                ArithOp::Sub => BinaryOperator::Minus,
                ArithOp::Mul => BinaryOperator::Multiply,
                ArithOp::Div => BinaryOperator::Divide,
                ArithOp::Distance => BinaryOperator::LtDashGt,
            },
            right: Box::new(operand(right)),
        },
        PlanExpr::Logic { op, args: a } => a
            .iter()
            .map(operand)
            .reduce(|l, r| Expr::BinaryOp {
                left: Box::new(l),
                op: match op {
                    LogicOp::And => BinaryOperator::And,
                    LogicOp::Or => BinaryOperator::Or,
                },
                right: Box::new(r),
            })
            .unwrap_or_else(|| Expr::Value(Value::Boolean(*op == LogicOp::And).into())),
        PlanExpr::Not { expr: inner } => Expr::UnaryOp {
            op: sqlparser::ast::UnaryOperator::Not,
            expr: Box::new(operand(inner)),
        },
        PlanExpr::IsNull {
            expr: inner,
            negated,
        } => {
            let inner = Box::new(operand(inner));
            if *negated {
                Expr::IsNotNull(inner)
            } else {
                Expr::IsNull(inner)
            }
        }
        PlanExpr::Case {
            branches,
            otherwise,
        } => Expr::Case {
            case_token: AttachedToken::empty(),
            end_token: AttachedToken::empty(),
            operand: None,
            conditions: branches
                .iter()
                .map(|b| sqlparser::ast::CaseWhen {
                    condition: expr(&b.when),
                    result: expr(&b.then),
                })
                .collect(),
            else_result: otherwise.as_ref().map(|o| Box::new(expr(o))),
        },
        PlanExpr::Cast { expr: inner, to } => Expr::Cast {
            kind: CastKind::DoubleColon,
            expr: Box::new(match inner.as_ref() {
                PlanExpr::Case { .. } => expr(inner),
                _ => operand(inner),
            }),
            // Built-in types as the parser reads them (`::numeric` is `DataType::Numeric`),
            // so that the statement round-trips; extension types (geography) by name.
            data_type: match to.as_str() {
                "numeric" => DataType::Numeric(sqlparser::ast::ExactNumberInfo::None),
                _ => DataType::Custom(object_name(&[to]), Vec::new()),
            },
            format: None,
        },
        PlanExpr::Compare { op, left, right } => Expr::BinaryOp {
            left: Box::new(expr(left)),
            op: match op {
                CompareOp::Eq => BinaryOperator::Eq,
                CompareOp::NotEq => BinaryOperator::NotEq,
                CompareOp::Lt => BinaryOperator::Lt,
                CompareOp::LtEq => BinaryOperator::LtEq,
                CompareOp::Gt => BinaryOperator::Gt,
                CompareOp::GtEq => BinaryOperator::GtEq,
            },
            right: Box::new(expr(right)),
        },
        PlanExpr::InSubquery {
            expr: e,
            query,
            negated,
        } => Expr::In {
            expr: Box::new(expr(e)),
            target: InTarget::Subquery(Box::new(select_query(query))),
            negated: *negated,
            global: false,
        },
        PlanExpr::Exists { query, negated } => Expr::Exists {
            subquery: Box::new(select_query(query)),
            negated: *negated,
        },
        PlanExpr::Scalar { query } => Expr::Subquery(Box::new(select_query(query))),
        PlanExpr::Field { expr: inner, field } => Expr::CompoundFieldAccess {
            root: Box::new(Expr::Nested(Box::new(expr(inner)))),
            access_chain: vec![sqlparser::ast::AccessExpr::Dot(Expr::Identifier(ident(
                field,
            )))],
        },
        PlanExpr::Output { name } => Expr::Identifier(ident(name)),
    }
}
