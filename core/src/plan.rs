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
    },
    /// A window function over the whole result, `function(args) OVER ()`.
    Window {
        /// Function name.
        function: String,
        /// Arguments.
        args: Vec<PlanExpr>,
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
    /// Every literal in the expression (subqueries included), in order.
    pub fn literals<'a>(&'a self, out: &mut Vec<&'a Literal>) {
        match self {
            PlanExpr::Column { .. } | PlanExpr::Output { .. } => {}
            PlanExpr::Literal { value } => out.push(value),
            PlanExpr::Call { args, .. } | PlanExpr::Window { args, .. } => {
                args.iter().for_each(|a| a.literals(out))
            }
            PlanExpr::Cast { expr, .. } | PlanExpr::Field { expr, .. } => expr.literals(out),
            PlanExpr::Aggregate { arg, .. } => {
                if let Some(a) = arg {
                    a.literals(out)
                }
            }
            PlanExpr::Compare { left, right, .. } => {
                left.literals(out);
                right.literals(out);
            }
            PlanExpr::InSubquery { expr, query, .. } => {
                expr.literals(out);
                query.literals(out);
            }
            PlanExpr::Exists { query, .. } | PlanExpr::Scalar { query } => query.literals(out),
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
