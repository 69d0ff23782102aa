//! The query plan: what a [`TokenSelector`](crate::TokenSelector) decides and an
//! [`Assembler`](crate::Assembler) renders. A plan is plain data (serde), a small tree that
//! mirrors one SQL `SELECT` with its CTEs and subqueries, with every table, column,
//! function and literal already chosen. The assembler maps it one-to-one onto a sqlparser
//! AST; the question generator reads the same tree, so the question and the SQL cannot
//! drift apart.

use serde::{Deserialize, Serialize};

use crate::features::{FeatureValue, Structure};

/// A literal value, kept as the text it is printed with so that SQL and question agree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Literal {
    /// A number, as printed (e.g. `45.4642`, `20`).
    Number(String),
    /// A string (printed single-quoted).
    Text(String),
    /// A boolean.
    Bool(bool),
}

impl Literal {
    /// A literal for a JSON value of the pack (a domain's value, an area's value): strings,
    /// numbers and booleans; none for anything else.
    pub fn from_json(v: &serde_json::Value) -> Option<Literal> {
        match v {
            serde_json::Value::String(s) => Some(Literal::Text(s.clone())),
            serde_json::Value::Number(n) => Some(Literal::Number(n.to_string())),
            serde_json::Value::Bool(b) => Some(Literal::Bool(*b)),
            _ => None,
        }
    }

    /// The literal as it appears in SQL text (strings without their quotes).
    pub fn text(&self) -> String {
        match self {
            Literal::Number(n) => n.clone(),
            Literal::Text(s) => s.clone(),
            Literal::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        }
    }
}

/// Comparison operators used in plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareOp {
    /// `=`
    Eq,
    /// `<>`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
}

/// Arithmetic (and the distance operator) between two values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ArithOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `<->`, the index-assisted distance of two geometries (nearest-neighbour ordering).
    Distance,
}

/// Logical connectives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogicOp {
    /// `AND`
    And,
    /// `OR`
    Or,
}

/// One `WHEN … THEN …` of a [`PlanExpr::Case`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseBranch {
    /// The condition.
    pub when: PlanExpr,
    /// The value when it holds.
    pub then: PlanExpr,
}

/// An expression of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "node", rename_all = "snake_case")]
pub enum PlanExpr {
    /// `alias.column`.
    Column {
        /// Relation alias (a table alias, CTE or derived-table alias).
        rel: String,
        /// Column name.
        column: String,
    },
    /// A literal.
    Literal {
        /// The value.
        value: Literal,
    },
    /// A function call (catalogue or built-in), `function(args…)`.
    Call {
        /// Function name as written.
        function: String,
        /// Arguments.
        args: Vec<PlanExpr>,
    },
    /// `expr::type`.
    Cast {
        /// Operand.
        expr: Box<PlanExpr>,
        /// Target type, e.g. `geography`.
        to: String,
    },
    /// An aggregate call; `arg: None` is `COUNT(*)`.
    Aggregate {
        /// Aggregate name (`count`, `avg`, `sum`, `max`, `min`).
        function: String,
        /// Argument, or none for `*`.
        arg: Option<Box<PlanExpr>>,
        /// `DISTINCT` inside the call.
        distinct: bool,
        /// `FILTER (WHERE …)`: only the rows where it holds are aggregated.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter: Option<Box<PlanExpr>>,
    },
    /// A window function, `function(args) OVER (PARTITION BY … ORDER BY …)`.
    Window {
        /// Function name.
        function: String,
        /// Arguments.
        args: Vec<PlanExpr>,
        /// `PARTITION BY` expressions (none: the whole result is one window).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        partition_by: Vec<PlanExpr>,
        /// `ORDER BY` inside the window, `true` for descending.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        order_by: Vec<(PlanExpr, bool)>,
    },
    /// `left op right` for arithmetic and `<->`.
    Arith {
        /// Operator.
        op: ArithOp,
        /// Left side.
        left: Box<PlanExpr>,
        /// Right side.
        right: Box<PlanExpr>,
    },
    /// `a AND b …` or `a OR b …` (inside a condition; WHERE conjuncts are a list).
    Logic {
        /// Connective.
        op: LogicOp,
        /// Operands (two or more).
        args: Vec<PlanExpr>,
    },
    /// `NOT expr`.
    Not {
        /// Negated condition.
        expr: Box<PlanExpr>,
    },
    /// `expr IS [NOT] NULL`.
    IsNull {
        /// Tested expression.
        expr: Box<PlanExpr>,
        /// `IS NOT NULL`.
        negated: bool,
    },
    /// `CASE WHEN … THEN … [ELSE …] END`.
    Case {
        /// The branches, in order.
        branches: Vec<CaseBranch>,
        /// `ELSE` value.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        otherwise: Option<Box<PlanExpr>>,
    },
    /// `left op right`.
    Compare {
        /// Operator.
        op: CompareOp,
        /// Left side.
        left: Box<PlanExpr>,
        /// Right side.
        right: Box<PlanExpr>,
    },
    /// `expr [NOT] IN (subquery)`.
    InSubquery {
        /// Tested expression.
        expr: Box<PlanExpr>,
        /// The subquery (one output column).
        query: Box<SelectPlan>,
        /// `NOT IN`.
        negated: bool,
    },
    /// `[NOT] EXISTS (subquery)`.
    Exists {
        /// The subquery.
        query: Box<SelectPlan>,
        /// `NOT EXISTS`.
        negated: bool,
    },
    /// A scalar subquery `(SELECT …)`.
    Scalar {
        /// The subquery (one row, one column).
        query: Box<SelectPlan>,
    },
    /// One field of a composite value, `(expr).field` (e.g. the `mean` of
    /// `ST_SummaryStats`).
    Field {
        /// The composite value.
        expr: Box<PlanExpr>,
        /// Field name.
        field: String,
    },
    /// An output column of the same SELECT, by its alias (in ORDER BY).
    Output {
        /// The alias.
        name: String,
    },
}

impl PlanExpr {
    /// `rel.column`.
    pub fn column(rel: &str, column: &str) -> PlanExpr {
        PlanExpr::Column {
            rel: rel.to_string(),
            column: column.to_string(),
        }
    }
    /// A number literal.
    pub fn number(text: impl Into<String>) -> PlanExpr {
        PlanExpr::Literal {
            value: Literal::Number(text.into()),
        }
    }
    /// A string literal.
    pub fn text(text: impl Into<String>) -> PlanExpr {
        PlanExpr::Literal {
            value: Literal::Text(text.into()),
        }
    }
    /// A function call.
    pub fn call(function: &str, args: Vec<PlanExpr>) -> PlanExpr {
        PlanExpr::Call {
            function: function.to_string(),
            args,
        }
    }
    /// `self::to`.
    pub fn cast(self, to: &str) -> PlanExpr {
        PlanExpr::Cast {
            expr: Box::new(self),
            to: to.to_string(),
        }
    }
    /// `left op right`.
    pub fn compare(op: CompareOp, left: PlanExpr, right: PlanExpr) -> PlanExpr {
        PlanExpr::Compare {
            op,
            left: Box::new(left),
            right: Box::new(right),
        }
    }
    /// An aggregate call without DISTINCT or FILTER; `arg: None` is `COUNT(*)`.
    pub fn aggregate(function: &str, arg: Option<PlanExpr>) -> PlanExpr {
        PlanExpr::Aggregate {
            function: function.to_string(),
            arg: arg.map(Box::new),
            distinct: false,
            filter: None,
        }
    }
    /// A window call over the whole result, `function(args) OVER ()`.
    pub fn window(function: &str, args: Vec<PlanExpr>) -> PlanExpr {
        PlanExpr::Window {
            function: function.to_string(),
            args,
            partition_by: Vec::new(),
            order_by: Vec::new(),
        }
    }
    /// `left op right` (arithmetic or `<->`).
    pub fn arith(op: ArithOp, left: PlanExpr, right: PlanExpr) -> PlanExpr {
        PlanExpr::Arith {
            op,
            left: Box::new(left),
            right: Box::new(right),
        }
    }

    /// The expressions directly inside this one, in SQL order (not those of subqueries).
    pub fn children(&self) -> Vec<&PlanExpr> {
        match self {
            PlanExpr::Column { .. }
            | PlanExpr::Output { .. }
            | PlanExpr::Literal { .. }
            | PlanExpr::Exists { .. }
            | PlanExpr::Scalar { .. } => Vec::new(),
            PlanExpr::Call { args, .. } | PlanExpr::Logic { args, .. } => args.iter().collect(),
            PlanExpr::Window {
                args,
                partition_by,
                order_by,
                ..
            } => args
                .iter()
                .chain(partition_by)
                .chain(order_by.iter().map(|(e, _)| e))
                .collect(),
            PlanExpr::Cast { expr, .. }
            | PlanExpr::Field { expr, .. }
            | PlanExpr::Not { expr }
            | PlanExpr::IsNull { expr, .. }
            | PlanExpr::InSubquery { expr, .. } => vec![expr],
            PlanExpr::Aggregate { arg, filter, .. } => {
                arg.iter().chain(filter).map(|b| b.as_ref()).collect()
            }
            PlanExpr::Compare { left, right, .. } | PlanExpr::Arith { left, right, .. } => {
                vec![left, right]
            }
            PlanExpr::Case {
                branches,
                otherwise,
            } => branches
                .iter()
                .flat_map(|b| [&b.when, &b.then])
                .chain(otherwise.iter().map(|b| b.as_ref()))
                .collect(),
        }
    }

    /// Mutable [`children`](PlanExpr::children).
    pub fn children_mut(&mut self) -> Vec<&mut PlanExpr> {
        match self {
            PlanExpr::Column { .. }
            | PlanExpr::Output { .. }
            | PlanExpr::Literal { .. }
            | PlanExpr::Exists { .. }
            | PlanExpr::Scalar { .. } => Vec::new(),
            PlanExpr::Call { args, .. } | PlanExpr::Logic { args, .. } => args.iter_mut().collect(),
            PlanExpr::Window {
                args,
                partition_by,
                order_by,
                ..
            } => args
                .iter_mut()
                .chain(partition_by.iter_mut())
                .chain(order_by.iter_mut().map(|(e, _)| e))
                .collect(),
            PlanExpr::Cast { expr, .. }
            | PlanExpr::Field { expr, .. }
            | PlanExpr::Not { expr }
            | PlanExpr::IsNull { expr, .. }
            | PlanExpr::InSubquery { expr, .. } => vec![expr.as_mut()],
            PlanExpr::Aggregate { arg, filter, .. } => arg
                .iter_mut()
                .chain(filter.iter_mut())
                .map(|b| b.as_mut())
                .collect(),
            PlanExpr::Compare { left, right, .. } | PlanExpr::Arith { left, right, .. } => {
                vec![left.as_mut(), right.as_mut()]
            }
            PlanExpr::Case {
                branches,
                otherwise,
            } => branches
                .iter_mut()
                .flat_map(|b| [&mut b.when, &mut b.then])
                .chain(otherwise.iter_mut().map(|b| b.as_mut()))
                .collect(),
        }
    }

    /// The subquery directly inside this expression, if it is one.
    pub fn subquery(&self) -> Option<&SelectPlan> {
        match self {
            PlanExpr::InSubquery { query, .. }
            | PlanExpr::Exists { query, .. }
            | PlanExpr::Scalar { query } => Some(query),
            _ => None,
        }
    }

    /// The subqueries inside this expression (not those inside them), mutably, in order.
    pub fn subqueries_mut(&mut self) -> Vec<&mut SelectPlan> {
        let mut out = Vec::new();
        fn walk<'a>(e: &'a mut PlanExpr, out: &mut Vec<&'a mut SelectPlan>) {
            match e {
                PlanExpr::InSubquery { expr, query, .. } => {
                    walk(expr, out);
                    out.push(query);
                }
                PlanExpr::Exists { query, .. } | PlanExpr::Scalar { query } => out.push(query),
                other => other.children_mut().into_iter().for_each(|c| walk(c, out)),
            }
        }
        walk(self, &mut out);
        out
    }

    /// Every literal in the expression (subqueries included), in order.
    pub fn literals<'a>(&'a self, out: &mut Vec<&'a Literal>) {
        if let PlanExpr::Literal { value } = self {
            out.push(value);
        }
        for c in self.children() {
            c.literals(out);
        }
        if let Some(q) = self.subquery() {
            q.literals(out);
        }
    }
}

/// One output column: an expression and its alias.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectItem {
    /// The expression.
    pub expr: PlanExpr,
    /// `AS alias`, when the expression is not a plain column.
    pub alias: Option<String>,
}

/// Where a relation's rows come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum Source {
    /// A base table of the pack.
    Table {
        /// Schema.
        schema: String,
        /// Table.
        table: String,
    },
    /// A CTE of the statement, by name.
    Cte {
        /// CTE name.
        name: String,
    },
    /// A derived table `(SELECT …) AS alias`.
    Derived {
        /// The subquery.
        query: Box<SelectPlan>,
    },
}

/// How a relation joins the ones before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JoinSpec {
    /// `LEFT JOIN` instead of `JOIN`.
    pub left: bool,
    /// Conjuncts of the `ON` condition.
    pub on: Vec<PlanExpr>,
    /// Index of the pack join edge realised, when there is one.
    pub edge: Option<usize>,
    /// `JOIN LATERAL`: the relation (a derived table) reads the relations before it. With
    /// no `ON` conjunct it is written `CROSS JOIN LATERAL`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lateral: bool,
}

/// A relation in a FROM clause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Relation {
    /// Where its rows come from.
    pub source: Source,
    /// Alias.
    pub alias: String,
    /// The base table it reads in the end (`schema.table`), for names in questions.
    pub base: String,
    /// How it joins the relations before it (none for the first).
    pub join: Option<JoinSpec>,
}

/// One `SELECT` level: the main query, a CTE body or a subquery.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SelectPlan {
    /// `SELECT DISTINCT`.
    pub distinct: bool,
    /// Output columns.
    pub items: Vec<SelectItem>,
    /// FROM relations, the first one first, the others joined.
    pub from: Vec<Relation>,
    /// WHERE conjuncts.
    pub filters: Vec<PlanExpr>,
    /// GROUP BY expressions.
    pub group_by: Vec<PlanExpr>,
    /// HAVING conjuncts.
    pub having: Vec<PlanExpr>,
    /// ORDER BY expressions, `true` for descending.
    pub order_by: Vec<(PlanExpr, bool)>,
    /// LIMIT.
    pub limit: Option<u64>,
}

impl SelectPlan {
    /// Every literal of this level and the levels inside it, in SQL order.
    pub fn literals<'a>(&'a self, out: &mut Vec<&'a Literal>) {
        for i in &self.items {
            i.expr.literals(out);
        }
        for r in &self.from {
            if let Source::Derived { query } = &r.source {
                query.literals(out);
            }
            if let Some(j) = &r.join {
                j.on.iter().for_each(|e| e.literals(out));
            }
        }
        for e in self
            .filters
            .iter()
            .chain(&self.group_by)
            .chain(&self.having)
            .chain(self.order_by.iter().map(|(e, _)| e))
        {
            e.literals(out);
        }
    }
}

/// A CTE: `name AS (body)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CtePlan {
    /// Name.
    pub name: String,
    /// Body.
    pub body: SelectPlan,
}

/// Where a plan differs from the structure row it was made from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deviation {
    /// Feature column.
    pub column: String,
    /// Requested value.
    pub requested: FeatureValue,
    /// Value the plan realises.
    pub realized: FeatureValue,
}

/// A concrete plan for one query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryPlan {
    /// The structure this plan was made from.
    pub requested: Structure,
    /// The structure the plan realises (what re-extraction from its SQL gives).
    pub realized: Structure,
    /// Columns where `realized` differs from `requested`.
    pub deviations: Vec<Deviation>,
    /// CTEs, in order (a later one may read an earlier one).
    pub ctes: Vec<CtePlan>,
    /// The main query.
    pub main: SelectPlan,
    /// Which of the question templates of its tone to phrase the question with (drawn by
    /// the selector from the row's stream; any value works).
    #[serde(default)]
    pub phrasing: u32,
    /// The input query whose intent this plan varies, when it varies one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derived_from: Option<String>,
}

impl QueryPlan {
    /// Every literal of the statement, in SQL order.
    pub fn literals(&self) -> Vec<&Literal> {
        let mut out = Vec::new();
        for c in &self.ctes {
            c.body.literals(&mut out);
        }
        self.main.literals(&mut out);
        out
    }
}
