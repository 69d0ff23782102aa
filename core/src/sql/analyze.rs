//! One pass over a parsed query: resolve every table, column and function reference
//! through aliases, CTEs and subquery scopes, type every expression, check grouping, and
//! record the structural facts the feature extractor needs.
//!
//! Findings of severity [`Severity::Error`] are exactly the things PostgreSQL would reject
//! at parse-analysis time (what `EXPLAIN` reports); warnings are smells it accepts.

use std::collections::{BTreeSet, HashMap};

use sqlparser::ast::{
    BinaryOperator, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr,
    Ident, InTarget, JoinConstraint, JoinOperator, LimitClause, ObjectName, ObjectNamePart,
    OrderByKind, Query, Select, SelectItem, SelectItemQualifiedWildcardKind, SetExpr, Spanned,
    Statement, TableAlias, TableFactor, TableWithJoins, UnaryOperator, Value, WindowType,
};
use sqlparser::tokenizer::Span;

use crate::pack::{FnKind, FunctionCategory, ResolvedSignature, SchemaPack};
use crate::sql::builtins::{self, Builtin, Polymorphic};
use crate::sql::types::{literal_fits, Category, GeomInfo, GeomKind, RecordKind, SqlType, Srid};
use crate::{Aspect, Finding, Location, Severity};

/// Structural facts of a query, independent of whether its names resolve.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// CTEs in all WITH clauses.
    pub cte_count: u32,
    /// JOIN clauses plus extra relations of comma-separated FROM lists.
    pub join_count: u32,
    /// Subqueries outside CTE bodies.
    pub subquery_count: u32,
    /// Catalogue function calls: canonical name and category.
    pub spatial_calls: Vec<(String, FunctionCategory)>,
    /// Distinct base tables (schema, table); unqualified unknown tables get `public`.
    pub base_tables: BTreeSet<(String, String)>,
    /// A GROUP BY clause somewhere.
    pub has_group_by: bool,
    /// An aggregate call somewhere.
    pub has_aggregate: bool,
    /// A window function somewhere.
    pub has_window: bool,
    /// ORDER BY on the outermost query.
    pub has_order_by: bool,
    /// LIMIT on the outermost query.
    pub has_limit: bool,
    /// A spatial predicate whose arguments come from two different relations.
    pub spatial_join: bool,
    /// A raster column referenced.
    pub raster_ref: bool,
}

/// Result of analysing one statement.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    /// Errors and warnings.
    pub findings: Vec<Finding>,
    /// Table / column / function references seen.
    pub refs_total: u32,
    /// References that resolved.
    pub refs_resolved: u32,
    /// Semantic checks that applied.
    pub checks_applicable: u32,
    /// Semantic checks passed.
    pub checks_passed: u32,
    /// Structural facts.
    pub facts: Facts,
    /// Names the pack does not know (tables, columns, functions), as written.
    pub unknown_refs: Vec<String>,
}

impl Analysis {
    /// Whether an error finding was recorded.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// Analyse one parsed statement against a pack.
pub fn analyze_statement(pack: &SchemaPack, statement: &Statement) -> Analysis {
    let mut cx = Cx {
        pack,
        out: Analysis::default(),
        next_rel: 0,
        cte_depth: 0,
        traces: Vec::new(),
        fn_kinds: HashMap::new(),
        agg_frames: Vec::new(),
        depth: 0,
    };
    match statement {
        Statement::Query(q) => {
            let ctes = Ctes {
                defs: Vec::new(),
                parent: None,
            };
            cx.query(q, None, &ctes, true);
        }
        other => cx.error(
            Aspect::Syntax,
            "not_a_query",
            format!(
                "only SELECT queries are validated, got: {}",
                first_words(&other.to_string())
            ),
            None,
        ),
    }
    cx.out
}

fn first_words(s: &str) -> String {
    s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// Case-fold an identifier the way PostgreSQL does.
pub fn fold(ident: &Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_lowercase(),
    }
}

fn object_parts(name: &ObjectName) -> Vec<&Ident> {
    name.0
        .iter()
        .filter_map(|p| match p {
            ObjectNamePart::Identifier(i) => Some(i),
            _ => None,
        })
        .collect()
}

fn location(span: Span) -> Option<Location> {
    (span.start.line > 0).then_some(Location {
        line: span.start.line,
        column: span.start.column,
    })
}

type Cols = Vec<(String, SqlType)>;

#[derive(Debug, Clone)]
struct Rel {
    id: usize,
    /// Visible name: alias, or table / CTE name.
    name: String,
    /// Schema, for unaliased base tables (allows `schema.table.column`).
    schema: Option<String>,
    /// Real table name when aliased (for PostgreSQL's "invalid reference" error).
    hidden_name: Option<String>,
    cols: Cols,
    /// Unknown relation: its columns cannot be checked.
    opaque: bool,
    pk: Vec<String>,
}

#[derive(Debug, Default)]
struct Scope<'a> {
    rels: Vec<Rel>,
    /// Columns merged by USING / NATURAL: unqualified references are not ambiguous.
    merged: Vec<String>,
    parent: Option<&'a Scope<'a>>,
}

struct Ctes<'a> {
    defs: Vec<(String, Cols)>,
    parent: Option<&'a Ctes<'a>>,
}

impl Ctes<'_> {
    fn find(&self, name: &str) -> Option<&Cols> {
        self.defs
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c)
            .or_else(|| self.parent.and_then(|p| p.find(name)))
    }
}

enum Lookup {
    Found {
        level: usize,
        rel: usize,
        ty: SqlType,
    },
    /// A relation the pack does not know; `Some((level, rel))` when the reference names it.
    Opaque(Option<(usize, usize)>),
    Ambiguous,
    NotFound(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Clause {
    Select,
    Where,
    JoinOn,
    GroupBy,
    Having,
    OrderBy,
    Limit,
    From,
    Values,
}

impl Clause {
    fn name(self) -> &'static str {
        match self {
            Clause::Select => "SELECT",
            Clause::Where => "WHERE",
            Clause::JoinOn => "JOIN conditions",
            Clause::GroupBy => "GROUP BY",
            Clause::Having => "HAVING",
            Clause::OrderBy => "ORDER BY",
            Clause::Limit => "LIMIT",
            Clause::From => "functions in FROM",
            Clause::Values => "VALUES",
        }
    }
    fn allows_aggregates(self) -> bool {
        matches!(self, Clause::Select | Clause::Having | Clause::OrderBy)
    }
    fn allows_windows(self) -> bool {
        matches!(self, Clause::Select | Clause::OrderBy)
    }
}

#[derive(Debug, Clone, Copy)]
struct Ecx {
    clause: Clause,
    in_agg: bool,
    in_window_arg: bool,
}

impl Ecx {
    fn new(clause: Clause) -> Ecx {
        Ecx {
            clause,
            in_agg: false,
            in_window_arg: false,
        }
    }
}

/// Group keys of one SELECT.
#[derive(Default)]
struct GroupKeys {
    cols: Vec<(usize, String)>,
    exprs: Vec<String>,
}

struct Cx<'p> {
    pack: &'p SchemaPack,
    out: Analysis,
    next_rel: usize,
    cte_depth: u32,
    /// Active traces of referenced relation ids (for join / spatial-join checks).
    traces: Vec<Vec<usize>>,
    /// Kind of each resolved function call, keyed by the call's address in the AST.
    fn_kinds: HashMap<usize, FnKind>,
    /// Per SELECT being analysed: whether an aggregate was called at its level.
    agg_frames: Vec<bool>,
    depth: u32,
}

/// Nesting depth beyond which analysis stops (the parser's own limit is lower).
const MAX_DEPTH: u32 = 200;

fn norm(e: &Expr) -> String {
    e.to_string().to_lowercase()
}

impl<'p> Cx<'p> {
    fn finding(
        &mut self,
        severity: Severity,
        aspect: Aspect,
        code: &str,
        message: String,
        span: Option<Span>,
    ) {
        self.out.findings.push(Finding {
            severity,
            aspect,
            code: code.to_string(),
            message,
            location: span.and_then(location),
        });
    }

    fn error(&mut self, aspect: Aspect, code: &str, message: String, span: Option<Span>) {
        self.finding(Severity::Error, aspect, code, message, span);
    }

    fn warn(&mut self, aspect: Aspect, code: &str, message: String, span: Option<Span>) {
        self.finding(Severity::Warning, aspect, code, message, span);
    }

    /// Record one semantic check; on failure an error (PostgreSQL rejects) or warning.
    fn check(&mut self, passed: bool) {
        self.out.checks_applicable += 1;
        if passed {
            self.out.checks_passed += 1;
        }
    }

    fn new_rel_id(&mut self) -> usize {
        self.next_rel += 1;
        self.next_rel
    }

    // -----------------------------------------------------------------------------------
    // Queries
    // -----------------------------------------------------------------------------------

    /// Analyse a query; returns its output columns.
    fn query(&mut self, q: &Query, outer: Option<&Scope<'_>>, ctes: &Ctes<'_>, top: bool) -> Cols {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            self.depth -= 1;
            self.error(
                Aspect::Syntax,
                "too_deep",
                "query nesting is too deep to analyse".into(),
                None,
            );
            return Vec::new();
        }
        let mut local = Ctes {
            defs: Vec::new(),
            parent: Some(ctes),
        };
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                self.out.facts.cte_count += 1;
                let name = fold(&cte.alias.name);
                if local.defs.iter().any(|(n, _)| *n == name) {
                    self.error(
                        Aspect::Semantic,
                        "duplicate_cte",
                        format!("WITH query name \"{name}\" specified more than once"),
                        Some(cte.alias.name.span),
                    );
                }
                if with.recursive {
                    // The recursive term sees the CTE itself; its columns come from the alias list.
                    let cols = cte
                        .alias
                        .columns
                        .iter()
                        .map(|c| (fold(&c.name), SqlType::Any))
                        .collect();
                    local.defs.push((name.clone(), cols));
                }
                self.cte_depth += 1;
                let mut cols = self.query(&cte.query, outer, &local, false);
                self.cte_depth -= 1;
                cols = self.apply_alias_columns(cols, &cte.alias, &name);
                if with.recursive {
                    local.defs.pop();
                }
                local.defs.push((name, cols));
            }
        }
        let order: &[sqlparser::ast::OrderByExpr] = match q.order_by.as_ref().map(|o| &o.kind) {
            Some(OrderByKind::Expressions(v)) => v,
            _ => &[],
        };
        if top {
            self.out.facts.has_order_by = !order.is_empty();
        }
        let cols = match q.body.as_ref() {
            SetExpr::Select(s) => self.select(s, outer, &local, order),
            body => {
                let cols = self.set_expr(body, outer, &local);
                self.order_by_outputs(order, &cols);
                cols
            }
        };
        if let Some(limit) = &q.limit_clause {
            let (l, o) = match limit {
                LimitClause::LimitOffset { limit, offset, .. } => {
                    (limit.as_ref(), offset.as_ref().map(|o| &o.value))
                }
                LimitClause::OffsetCommaLimit { offset, limit } => (Some(limit), Some(offset)),
            };
            if top && l.is_some() {
                self.out.facts.has_limit = true;
            }
            let scope = Scope {
                rels: Vec::new(),
                merged: Vec::new(),
                parent: outer,
            };
            for e in l.into_iter().chain(o) {
                let ty = self.expr(e, &scope, &local, Ecx::new(Clause::Limit));
                let ok = ty.is_numeric()
                    || ty.is_wildcard()
                    || matches!(&ty, SqlType::Unknown(l) if literal_fits(l.as_deref(), &SqlType::BigInt));
                self.check(ok);
                if !ok {
                    self.error(
                        Aspect::Semantic,
                        "type_mismatch",
                        format!("argument of LIMIT/OFFSET must be a number, not {ty}"),
                        Some(e.span()),
                    );
                }
            }
        }
        if q.fetch.as_ref().is_some_and(|f| f.with_ties) && order.is_empty() {
            self.error(
                Aspect::Semantic,
                "with_ties_without_order",
                "WITH TIES cannot be specified without ORDER BY clause".into(),
                None,
            );
        }
        if top && q.fetch.is_some() {
            self.out.facts.has_limit = true;
        }
        self.depth -= 1;
        cols
    }

    fn set_expr(&mut self, body: &SetExpr, outer: Option<&Scope<'_>>, ctes: &Ctes<'_>) -> Cols {
        match body {
            SetExpr::Select(s) => self.select(s, outer, ctes, &[]),
            SetExpr::Query(q) => self.query(q, outer, ctes, false),
            SetExpr::SetOperation {
                op,
                left,
                right,
                set_quantifier,
            } => {
                let l = self.set_expr(left, outer, ctes);
                let r = self.set_expr(right, outer, ctes);
                let op_name = op.to_string().to_uppercase();
                let ok = l.len() == r.len();
                self.check(ok);
                if !ok {
                    self.error(
                        Aspect::Semantic,
                        "set_operation_columns",
                        format!("each {op_name} query must have the same number of columns"),
                        Some(right.span()),
                    );
                    return l;
                }
                if !matches!(
                    set_quantifier,
                    sqlparser::ast::SetQuantifier::All | sqlparser::ast::SetQuantifier::AllByName
                ) {
                    for (_, t) in &l {
                        self.json_not_comparable(t, "equality", right.span());
                    }
                }
                let mut out = Vec::with_capacity(l.len());
                for ((name, lt), (_, rt)) in l.into_iter().zip(r) {
                    match common_type(&lt, &rt) {
                        Some(t) => out.push((name, t)),
                        None => {
                            self.check(false);
                            self.error(
                                Aspect::Semantic,
                                "type_mismatch",
                                format!("{op_name} types {lt} and {rt} cannot be matched"),
                                Some(right.span()),
                            );
                            out.push((name, SqlType::Any));
                        }
                    }
                }
                out
            }
            SetExpr::Values(values) => {
                let scope = Scope {
                    rels: Vec::new(),
                    merged: Vec::new(),
                    parent: outer,
                };
                let mut width = None;
                let mut cols = Vec::new();
                for row in &values.rows {
                    let types: Vec<SqlType> = row
                        .iter()
                        .map(|e| self.expr(e, &scope, ctes, Ecx::new(Clause::Values)))
                        .collect();
                    if width.is_some_and(|w| w != types.len()) {
                        self.error(
                            Aspect::Semantic,
                            "values_width",
                            "VALUES lists must all be the same length".into(),
                            None,
                        );
                    }
                    width = Some(types.len());
                    if cols.is_empty() {
                        cols = types
                            .into_iter()
                            .enumerate()
                            .map(|(i, t)| (format!("column{}", i + 1), t))
                            .collect();
                    }
                }
                cols
            }
            other => {
                self.error(
                    Aspect::Syntax,
                    "not_a_query",
                    format!(
                        "unsupported query body: {}",
                        first_words(&other.to_string())
                    ),
                    None,
                );
                Vec::new()
            }
        }
    }

    /// ORDER BY of a set operation: output names or positions only.
    fn order_by_outputs(&mut self, order: &[sqlparser::ast::OrderByExpr], cols: &Cols) {
        for o in order {
            let ok = match &o.expr {
                Expr::Identifier(id) => cols.iter().any(|(n, _)| *n == fold(id)),
                Expr::Value(v) => match &v.value {
                    Value::Number(n, _) => {
                        n.parse::<usize>().is_ok_and(|i| i >= 1 && i <= cols.len())
                    }
                    _ => false,
                },
                _ => false,
            };
            self.check(ok);
            if !ok {
                self.error(
                    Aspect::Schema,
                    "invalid_order_by",
                    format!("ORDER BY on a UNION/INTERSECT/EXCEPT result must be on one of the result columns: {}", o.expr),
                    Some(o.expr.span()),
                );
            }
        }
    }

    fn apply_alias_columns(&mut self, mut cols: Cols, alias: &TableAlias, name: &str) -> Cols {
        if alias.columns.len() > cols.len() && !cols.is_empty() {
            self.error(
                Aspect::Schema,
                "alias_columns",
                format!(
                    "table \"{name}\" has {} columns available but {} columns specified",
                    cols.len(),
                    alias.columns.len()
                ),
                Some(alias.name.span),
            );
        }
        for (i, c) in alias.columns.iter().enumerate() {
            if let Some(slot) = cols.get_mut(i) {
                slot.0 = fold(&c.name);
            }
        }
        cols
    }

    // -----------------------------------------------------------------------------------
    // SELECT
    // -----------------------------------------------------------------------------------

    fn select(
        &mut self,
        s: &Select,
        outer: Option<&Scope<'_>>,
        ctes: &Ctes<'_>,
        order: &[sqlparser::ast::OrderByExpr],
    ) -> Cols {
        let mut scope = Scope {
            rels: Vec::new(),
            merged: Vec::new(),
            parent: outer,
        };
        if s.from.len() > 1 {
            self.out.facts.join_count += (s.from.len() - 1) as u32;
        }
        for twj in &s.from {
            self.relation_list_item(twj, &mut scope, outer, ctes);
        }
        let mut seen = BTreeSet::new();
        for r in &scope.rels {
            if !seen.insert(r.name.clone()) {
                self.error(
                    Aspect::Schema,
                    "duplicate_alias",
                    format!("table name \"{}\" specified more than once", r.name),
                    None,
                );
            }
        }
        self.agg_frames.push(false);
        if let Some(w) = &s.selection {
            let ty = self.expr(w, &scope, ctes, Ecx::new(Clause::Where));
            self.expect_bool(&ty, "WHERE", w.span());
        }
        // SELECT list.
        let mut outputs: Cols = Vec::new();
        let mut output_exprs: Vec<Option<&Expr>> = Vec::new();
        for item in &s.projection {
            match item {
                SelectItem::UnnamedExpr(e) => {
                    let ty = self.expr(e, &scope, ctes, Ecx::new(Clause::Select));
                    outputs.push((column_name(e), ty));
                    output_exprs.push(Some(e));
                }
                SelectItem::ExprWithAlias { expr, alias } => {
                    let ty = self.expr(expr, &scope, ctes, Ecx::new(Clause::Select));
                    outputs.push((fold(alias), ty));
                    output_exprs.push(Some(expr));
                }
                SelectItem::ExprWithAliases { expr, aliases } => {
                    let ty = self.expr(expr, &scope, ctes, Ecx::new(Clause::Select));
                    for a in aliases {
                        outputs.push((fold(a), ty.clone()));
                        output_exprs.push(Some(expr));
                    }
                }
                SelectItem::Wildcard(opts) => {
                    if scope.rels.is_empty() {
                        self.error(
                            Aspect::Schema,
                            "star_without_from",
                            "SELECT * with no tables specified is not valid".into(),
                            Some(opts.wildcard_token.0.span),
                        );
                    }
                    let mut merged_done = Vec::new();
                    for r in &scope.rels {
                        for (n, t) in &r.cols {
                            if scope.merged.contains(n) {
                                if merged_done.contains(n) {
                                    continue;
                                }
                                merged_done.push(n.clone());
                            }
                            outputs.push((n.clone(), t.clone()));
                            output_exprs.push(None);
                        }
                    }
                }
                SelectItem::QualifiedWildcard(kind, _) => {
                    let name = match kind {
                        SelectItemQualifiedWildcardKind::ObjectName(n) => n,
                        SelectItemQualifiedWildcardKind::Expr(e) => {
                            self.expr(e, &scope, ctes, Ecx::new(Clause::Select));
                            continue;
                        }
                    };
                    let parts = object_parts(name);
                    let q = parts.last().map(|i| fold(i)).unwrap_or_default();
                    self.out.refs_total += 1;
                    match scope.rels.iter().find(|r| r.name == q) {
                        Some(r) => {
                            self.out.refs_resolved += 1;
                            for (n, t) in &r.cols {
                                outputs.push((n.clone(), t.clone()));
                                output_exprs.push(None);
                            }
                        }
                        None => {
                            self.out.unknown_refs.push(q.clone());
                            self.error(
                                Aspect::Schema,
                                "unknown_relation",
                                format!("missing FROM-clause entry for table \"{q}\""),
                                parts.last().map(|i| i.span),
                            );
                        }
                    }
                }
            }
        }
        if s.distinct.is_some() {
            for (_, t) in &outputs {
                self.json_not_comparable(t, "equality", s.select_token.0.span);
            }
        }
        // GROUP BY.
        let mut keys = GroupKeys::default();
        let mut has_group = false;
        if let GroupByExpr::Expressions(exprs, _) = &s.group_by {
            has_group = !exprs.is_empty();
            for e in exprs {
                self.group_key(e, &scope, ctes, &outputs, &output_exprs, &mut keys);
            }
        }
        if has_group {
            self.out.facts.has_group_by = true;
        }
        if let Some(h) = &s.having {
            let ty = self.expr(h, &scope, ctes, Ecx::new(Clause::Having));
            self.expect_bool(&ty, "HAVING", h.span());
        }
        // ORDER BY (of the query whose body is this SELECT).
        let mut order_exprs = Vec::new();
        let distinct = matches!(s.distinct, Some(sqlparser::ast::Distinct::Distinct));
        for o in order {
            match &o.expr {
                Expr::Identifier(id) if outputs.iter().any(|(n, _)| *n == fold(id)) => {
                    // Two outputs of the name with different expressions: PostgreSQL
                    // cannot tell which one orders (its findTargetlistEntrySQL92).
                    let name = fold(id);
                    let mut named = outputs
                        .iter()
                        .zip(output_exprs.iter())
                        .filter(|((n, _), _)| *n == name)
                        .map(|(_, e)| e.map(norm));
                    let first = named.next().flatten();
                    let ok = named.all(|e| e.is_some() && e == first);
                    self.check(ok);
                    if !ok {
                        self.error(
                            Aspect::Schema,
                            "ambiguous_order_by",
                            format!("ORDER BY \"{name}\" is ambiguous"),
                            Some(o.expr.span()),
                        );
                    }
                }
                Expr::UnaryOp {
                    op: UnaryOperator::Minus,
                    expr: inner,
                } if matches!(inner.as_ref(), Expr::Value(v) if matches!(v.value, Value::Number(_, _))) =>
                {
                    self.check(false);
                    self.error(
                        Aspect::Schema,
                        "order_by_position",
                        format!("ORDER BY position {} is not in select list", o.expr),
                        Some(o.expr.span()),
                    );
                }
                Expr::Value(v) if matches!(v.value, Value::Number(_, _)) => {
                    let ok = matches!(&v.value, Value::Number(n, _) if n.parse::<usize>().is_ok_and(|i| i >= 1 && i <= outputs.len()));
                    self.check(ok);
                    if !ok {
                        self.error(
                            Aspect::Schema,
                            "order_by_position",
                            format!("ORDER BY position {} is not in select list", v.value),
                            Some(o.expr.span()),
                        );
                    }
                }
                e => {
                    let t = self.expr(e, &scope, ctes, Ecx::new(Clause::OrderBy));
                    self.json_not_comparable(&t, "ordering", e.span());
                    if distinct {
                        let n = norm(e);
                        let ok = output_exprs.iter().flatten().any(|x| norm(x) == n);
                        self.check(ok);
                        if !ok {
                            self.error(
                                Aspect::Semantic,
                                "distinct_order_by",
                                "for SELECT DISTINCT, ORDER BY expressions must appear in select list".into(),
                                Some(e.span()),
                            );
                        }
                    }
                    order_exprs.push(e);
                }
            }
        }
        let has_agg = self.agg_frames.pop().unwrap_or(false);
        if has_group || has_agg || s.having.is_some() {
            self.check_grouping(s, &scope, &keys, &order_exprs);
        }
        outputs
    }

    /// json has no equality or ordering operator (DISTINCT, GROUP BY, ORDER BY, UNION).
    fn json_not_comparable(&mut self, ty: &SqlType, what: &str, span: Span) {
        if matches!(ty, SqlType::Json) {
            self.check(false);
            self.error(
                Aspect::Semantic,
                "json_not_comparable",
                format!("could not identify an {what} operator for type json"),
                Some(span),
            );
        }
    }

    fn expect_bool(&mut self, ty: &SqlType, clause: &str, span: Span) {
        let ok = matches!(ty, SqlType::Bool)
            || ty.is_wildcard()
            || matches!(ty, SqlType::Unknown(l) if literal_fits(l.as_deref(), &SqlType::Bool));
        self.check(ok);
        if !ok {
            self.error(
                Aspect::Semantic,
                "type_mismatch",
                format!("argument of {clause} must be type boolean, not type {ty}"),
                Some(span),
            );
        }
    }

    fn group_key(
        &mut self,
        e: &Expr,
        scope: &Scope<'_>,
        ctes: &Ctes<'_>,
        outputs: &Cols,
        output_exprs: &[Option<&Expr>],
        keys: &mut GroupKeys,
    ) {
        if let Expr::Rollup(sets) | Expr::Cube(sets) | Expr::GroupingSets(sets) = e {
            for x in sets.iter().flatten() {
                self.group_key(x, scope, ctes, outputs, output_exprs, keys);
            }
            return;
        }
        // Positions and output names refer to select-list expressions.
        let target: Option<&Expr> = match e {
            Expr::Value(v) if matches!(v.value, Value::Number(_, _)) => {
                let pos = match &v.value {
                    Value::Number(n, _) => n.parse::<usize>().ok(),
                    _ => None,
                };
                match pos.filter(|p| *p >= 1 && *p <= outputs.len()) {
                    Some(p) => {
                        self.check(true);
                        match output_exprs[p - 1] {
                            Some(x) => Some(x),
                            None => {
                                keys.exprs.push(outputs[p - 1].0.clone());
                                return;
                            }
                        }
                    }
                    None => {
                        self.check(false);
                        self.error(
                            Aspect::Schema,
                            "group_by_position",
                            format!("GROUP BY position {} is not in select list", v.value),
                            Some(e.span()),
                        );
                        return;
                    }
                }
            }
            Expr::Identifier(id) => {
                let name = fold(id);
                let is_input = matches!(
                    self.lookup(std::slice::from_ref(id), scope),
                    Lookup::Found { .. } | Lookup::Opaque(_)
                );
                if !is_input {
                    outputs
                        .iter()
                        .position(|(n, _)| *n == name)
                        .and_then(|i| output_exprs[i])
                } else {
                    None
                }
            }
            _ => None,
        };
        let key_expr = match target {
            Some(t) => t,
            None => {
                let t = self.expr(e, scope, ctes, Ecx::new(Clause::GroupBy));
                self.json_not_comparable(&t, "equality", e.span());
                e
            }
        };
        match key_expr {
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) => {
                let parts = ident_parts(key_expr);
                if let Lookup::Found { level: 0, rel, .. } = self.lookup(&parts, scope) {
                    let col = fold(parts.last().expect("identifier has a part"));
                    keys.cols.push((scope.rels[rel].id, col));
                }
                keys.exprs.push(norm(key_expr));
            }
            other => keys.exprs.push(norm(other)),
        }
    }

    fn check_grouping(
        &mut self,
        s: &Select,
        scope: &Scope<'_>,
        keys: &GroupKeys,
        order_exprs: &[&Expr],
    ) {
        let mut bad = Vec::new();
        for item in &s.projection {
            match item {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                    self.ungrouped(e, scope, keys, &mut bad)
                }
                SelectItem::Wildcard(_)
                | SelectItem::QualifiedWildcard(
                    SelectItemQualifiedWildcardKind::ObjectName(_),
                    _,
                ) => {
                    let only = match item {
                        SelectItem::QualifiedWildcard(
                            SelectItemQualifiedWildcardKind::ObjectName(n),
                            _,
                        ) => object_parts(n).last().map(|i| fold(i)),
                        _ => None,
                    };
                    for r in scope
                        .rels
                        .iter()
                        .filter(|r| only.as_ref().is_none_or(|o| *o == r.name))
                    {
                        if !pk_grouped(r, keys) {
                            for (c, _) in &r.cols {
                                if !keys.cols.iter().any(|(id, k)| *id == r.id && k == c) {
                                    bad.push((format!("{}.{c}", r.name), None));
                                }
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(h) = &s.having {
            self.ungrouped(h, scope, keys, &mut bad);
        }
        for e in order_exprs {
            self.ungrouped(e, scope, keys, &mut bad);
        }
        self.check(bad.is_empty());
        if let Some((name, span)) = bad.into_iter().next() {
            self.error(
                Aspect::Semantic,
                "missing_group_by",
                format!("column \"{name}\" must appear in the GROUP BY clause or be used in an aggregate function"),
                span,
            );
        }
    }

    fn ungrouped(
        &self,
        e: &Expr,
        scope: &Scope<'_>,
        keys: &GroupKeys,
        bad: &mut Vec<(String, Option<Span>)>,
    ) {
        if keys.exprs.contains(&norm(e)) {
            return;
        }
        match e {
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) => {
                let parts = ident_parts(e);
                if let Lookup::Found { level: 0, rel, .. } = self.lookup(&parts, scope) {
                    let r = &scope.rels[rel];
                    let col = fold(parts.last().expect("identifier has a part"));
                    if !keys.cols.iter().any(|(id, c)| *id == r.id && *c == col)
                        && !pk_grouped(r, keys)
                    {
                        bad.push((format!("{}.{col}", r.name), Some(e.span())));
                    }
                }
            }
            Expr::Function(f) => {
                let key = f as *const Function as usize;
                if f.over.is_none() && self.fn_kinds.get(&key) == Some(&FnKind::Aggregate) {
                    return;
                }
                if let FunctionArguments::List(list) = &f.args {
                    for a in &list.args {
                        if let Some(x) = arg_expr(a) {
                            self.ungrouped(x, scope, keys, bad);
                        }
                    }
                }
                if let Some(WindowType::WindowSpec(w)) = &f.over {
                    for x in w
                        .partition_by
                        .iter()
                        .chain(w.order_by.iter().map(|o| &o.expr))
                    {
                        self.ungrouped(x, scope, keys, bad);
                    }
                }
            }
            Expr::Subquery(_) | Expr::Exists { .. } => {}
            other => {
                for c in children(other) {
                    self.ungrouped(c, scope, keys, bad);
                }
            }
        }
    }

    // -----------------------------------------------------------------------------------
    // FROM
    // -----------------------------------------------------------------------------------

    fn relation_list_item(
        &mut self,
        twj: &TableWithJoins,
        scope: &mut Scope<'_>,
        outer: Option<&Scope<'_>>,
        ctes: &Ctes<'_>,
    ) {
        let start = scope.rels.len();
        self.factor(&twj.relation, scope, outer, ctes);
        for join in &twj.joins {
            self.out.facts.join_count += 1;
            let before = scope.rels.len();
            self.factor(&join.relation, scope, outer, ctes);
            let constraint = match &join.join_operator {
                JoinOperator::Join(c)
                | JoinOperator::Inner(c)
                | JoinOperator::Left(c)
                | JoinOperator::LeftOuter(c)
                | JoinOperator::Right(c)
                | JoinOperator::RightOuter(c)
                | JoinOperator::FullOuter(c)
                | JoinOperator::CrossJoin(c) => Some(c),
                JoinOperator::CrossApply | JoinOperator::OuterApply => None,
                _ => {
                    self.error(
                        Aspect::Syntax,
                        "unsupported_join",
                        "this join type does not exist in PostgreSQL".into(),
                        None,
                    );
                    None
                }
            };
            let new_ids: Vec<usize> = scope.rels[before..].iter().map(|r| r.id).collect();
            let left_ids: Vec<usize> = scope.rels[start..before].iter().map(|r| r.id).collect();
            match constraint {
                Some(JoinConstraint::On(e)) => {
                    // ON sees the relations of this join tree (and outer queries).
                    let tree = Scope {
                        rels: scope.rels[start..].to_vec(),
                        merged: scope.merged.clone(),
                        parent: outer,
                    };
                    self.traces.push(Vec::new());
                    let ty = self.expr(e, &tree, ctes, Ecx::new(Clause::JoinOn));
                    let seen = self.traces.pop().unwrap_or_default();
                    self.expect_bool(&ty, "JOIN/ON", e.span());
                    let connects = seen.iter().any(|id| new_ids.contains(id))
                        && seen.iter().any(|id| left_ids.contains(id));
                    self.check(connects);
                    if !connects {
                        let name = scope
                            .rels
                            .get(before)
                            .map(|r| r.name.clone())
                            .unwrap_or_default();
                        self.warn(
                            Aspect::Semantic,
                            "join_not_connected",
                            format!("join condition does not connect \"{name}\" with the relations before it"),
                            Some(e.span()),
                        );
                    }
                }
                Some(JoinConstraint::Using(names)) | Some(JoinConstraint::UsingAlias(names, _)) => {
                    for n in names {
                        let parts = object_parts(n);
                        let Some(id) = parts.last() else { continue };
                        let col = fold(id);
                        let left_has = if scope.merged.contains(&col) {
                            1
                        } else {
                            scope.rels[start..before]
                                .iter()
                                .filter(|r| r.opaque || r.cols.iter().any(|(c, _)| *c == col))
                                .count()
                        };
                        let right_has = scope.rels[before..]
                            .iter()
                            .any(|r| r.opaque || r.cols.iter().any(|(c, _)| *c == col));
                        self.out.refs_total += 1;
                        if left_has == 1 && right_has {
                            self.out.refs_resolved += 1;
                            scope.merged.push(col);
                        } else {
                            let side = if left_has == 0 {
                                "left"
                            } else if left_has > 1 {
                                "left (ambiguously)"
                            } else {
                                "right"
                            };
                            self.out.unknown_refs.push(col.clone());
                            self.error(
                                Aspect::Schema,
                                "unknown_column",
                                format!("column \"{col}\" specified in USING clause does not exist in {side} table"),
                                Some(id.span),
                            );
                        }
                    }
                    self.check(true);
                }
                Some(JoinConstraint::Natural) => {
                    let left: Vec<String> = scope.rels[start..before]
                        .iter()
                        .flat_map(|r| r.cols.iter().map(|(c, _)| c.clone()))
                        .collect();
                    let common: Vec<String> = scope.rels[before..]
                        .iter()
                        .flat_map(|r| r.cols.iter().map(|(c, _)| c.clone()))
                        .filter(|c| left.contains(c))
                        .collect();
                    self.check(!common.is_empty());
                    if common.is_empty() {
                        self.warn(
                            Aspect::Semantic,
                            "join_not_connected",
                            "NATURAL JOIN has no common column: it is a cross join".into(),
                            None,
                        );
                    }
                    scope.merged.extend(common);
                }
                Some(JoinConstraint::None) | None => {}
            }
        }
    }

    fn factor(
        &mut self,
        f: &TableFactor,
        scope: &mut Scope<'_>,
        outer: Option<&Scope<'_>>,
        ctes: &Ctes<'_>,
    ) {
        match f {
            TableFactor::Table {
                name, alias, args, ..
            } => {
                let parts = object_parts(name);
                if let Some(args) = args {
                    // A set-returning function in FROM.
                    let fname = parts.last().map(|i| fold(i)).unwrap_or_default();
                    let lateral = Scope {
                        rels: scope.rels.clone(),
                        merged: Vec::new(),
                        parent: outer,
                    };
                    let mut types = Vec::new();
                    for a in &args.args {
                        if let Some(e) = arg_expr(a) {
                            types.push(self.expr(e, &lateral, ctes, Ecx::new(Clause::From)));
                        }
                    }
                    self.table_function(
                        &fname,
                        &types,
                        alias.as_ref(),
                        parts.last().map(|i| i.span),
                        scope,
                    );
                    return;
                }
                self.out.refs_total += 1;
                let (schema, table) = match parts.as_slice() {
                    [t] => (None, fold(t)),
                    [s, t] => (Some(fold(s)), fold(t)),
                    [_, s, t] => (Some(fold(s)), fold(t)),
                    _ => (None, name.to_string()),
                };
                let span = parts.last().map(|i| i.span);
                let id = self.new_rel_id();
                let (cols, opaque, pk, base_schema) =
                    if let Some(cols) = schema.is_none().then(|| ctes.find(&table)).flatten() {
                        self.out.refs_resolved += 1;
                        (cols.clone(), false, Vec::new(), None)
                    } else {
                        let info = match &schema {
                            Some(s) => self.pack.table(s, &table),
                            None => self.pack.find_table(&table),
                        };
                        match info {
                            Some(info) => {
                                self.out.refs_resolved += 1;
                                self.out
                                    .facts
                                    .base_tables
                                    .insert((info.schema.clone(), info.name.clone()));
                                if info
                                    .columns
                                    .iter()
                                    .any(|(_, t)| matches!(t, SqlType::Raster))
                                {
                                    // Raster tables: the reference is recorded when a raster column is used.
                                }
                                (
                                    info.columns.clone(),
                                    false,
                                    info.primary_key.clone(),
                                    Some(info.schema.clone()),
                                )
                            }
                            None => {
                                let s = schema.clone().unwrap_or_else(|| "public".into());
                                self.out
                                    .facts
                                    .base_tables
                                    .insert((s.clone(), table.clone()));
                                let written = match &schema {
                                    Some(s) => format!("{s}.{table}"),
                                    None => table.clone(),
                                };
                                self.out.unknown_refs.push(written.clone());
                                self.error(
                                    Aspect::Schema,
                                    "unknown_table",
                                    format!("relation \"{written}\" does not exist"),
                                    span,
                                );
                                (Vec::new(), true, Vec::new(), Some(s))
                            }
                        }
                    };
                let mut rel = Rel {
                    id,
                    name: table.clone(),
                    schema: base_schema,
                    hidden_name: None,
                    cols,
                    opaque,
                    pk,
                };
                if let Some(a) = alias {
                    rel.hidden_name = Some(table.clone());
                    rel.name = fold(&a.name);
                    rel.schema = None;
                    rel.cols = self.apply_alias_columns(rel.cols, a, &rel.name);
                }
                scope.rels.push(rel);
            }
            TableFactor::Derived {
                lateral,
                subquery,
                alias,
                ..
            } => {
                if self.cte_depth == 0 {
                    self.out.facts.subquery_count += 1;
                }
                let cols = if *lateral {
                    let lat = Scope {
                        rels: scope.rels.clone(),
                        merged: scope.merged.clone(),
                        parent: outer,
                    };
                    self.query(subquery, Some(&lat), ctes, false)
                } else {
                    self.query(subquery, outer, ctes, false)
                };
                let id = self.new_rel_id();
                let Some(a) = alias else {
                    self.error(
                        Aspect::Syntax,
                        "subquery_alias",
                        "subquery in FROM must have an alias".into(),
                        Some(subquery.span()),
                    );
                    scope.rels.push(Rel {
                        id,
                        name: String::new(),
                        schema: None,
                        hidden_name: None,
                        cols,
                        opaque: false,
                        pk: Vec::new(),
                    });
                    return;
                };
                let name = fold(&a.name);
                let cols = self.apply_alias_columns(cols, a, &name);
                scope.rels.push(Rel {
                    id,
                    name,
                    schema: None,
                    hidden_name: None,
                    cols,
                    opaque: false,
                    pk: Vec::new(),
                });
            }
            TableFactor::NestedJoin {
                table_with_joins,
                alias,
            } => {
                let before = scope.rels.len();
                self.relation_list_item(table_with_joins, scope, outer, ctes);
                if let Some(a) = alias {
                    let cols: Cols = scope.rels.drain(before..).flat_map(|r| r.cols).collect();
                    let id = self.new_rel_id();
                    scope.rels.push(Rel {
                        id,
                        name: fold(&a.name),
                        schema: None,
                        hidden_name: None,
                        cols,
                        opaque: false,
                        pk: Vec::new(),
                    });
                }
            }
            TableFactor::Function {
                name, args, alias, ..
            } => {
                let fname = object_parts(name)
                    .last()
                    .map(|i| fold(i))
                    .unwrap_or_default();
                let lateral = Scope {
                    rels: scope.rels.clone(),
                    merged: Vec::new(),
                    parent: outer,
                };
                let mut types = Vec::new();
                for a in args {
                    if let Some(e) = arg_expr(a) {
                        types.push(self.expr(e, &lateral, ctes, Ecx::new(Clause::From)));
                    }
                }
                self.table_function(&fname, &types, alias.as_ref(), None, scope);
            }
            TableFactor::UNNEST {
                alias, array_exprs, ..
            } => {
                let lateral = Scope {
                    rels: scope.rels.clone(),
                    merged: Vec::new(),
                    parent: outer,
                };
                for e in array_exprs {
                    self.expr(e, &lateral, ctes, Ecx::new(Clause::From));
                }
                let id = self.new_rel_id();
                let name = alias
                    .as_ref()
                    .map(|a| fold(&a.name))
                    .unwrap_or_else(|| "unnest".into());
                let mut cols = vec![(name.clone(), SqlType::Any)];
                if let Some(a) = alias {
                    cols = self.apply_alias_columns(cols, a, &name);
                }
                scope.rels.push(Rel {
                    id,
                    name,
                    schema: None,
                    hidden_name: None,
                    cols,
                    opaque: false,
                    pk: Vec::new(),
                });
            }
            other => {
                let id = self.new_rel_id();
                self.warn(
                    Aspect::Schema,
                    "unsupported_from",
                    format!("FROM item not checked: {}", first_words(&other.to_string())),
                    None,
                );
                scope.rels.push(Rel {
                    id,
                    name: String::new(),
                    schema: None,
                    hidden_name: None,
                    cols: Vec::new(),
                    opaque: true,
                    pk: Vec::new(),
                });
            }
        }
    }

    fn table_function(
        &mut self,
        fname: &str,
        types: &[SqlType],
        alias: Option<&TableAlias>,
        span: Option<Span>,
        scope: &mut Scope<'_>,
    ) {
        self.out.refs_total += 1;
        let cols: Option<Cols> = match fname {
            "generate_series" => Some(vec![(
                "generate_series".into(),
                types.first().cloned().unwrap_or(SqlType::Int),
            )]),
            "unnest" => Some(vec![("unnest".into(), SqlType::Any)]),
            "st_dump" | "st_dumppoints" | "st_dumprings" => Some(vec![
                ("path".into(), SqlType::Array),
                ("geom".into(), SqlType::GEOMETRY),
            ]),
            "json_array_elements" | "json_each" => Some(vec![("value".into(), SqlType::Json)]),
            "json_array_elements_text" => Some(vec![("value".into(), SqlType::Text)]),
            "st_dumpaspolygons" | "st_pixelaspolygons" => Some(vec![
                ("val".into(), SqlType::Float),
                ("geom".into(), SqlType::GEOMETRY),
            ]),
            _ => None,
        };
        let id = self.new_rel_id();
        let cols = match cols {
            Some(c) => {
                self.out.refs_resolved += 1;
                c
            }
            None => {
                self.out.unknown_refs.push(format!("{fname}()"));
                self.error(
                    Aspect::Schema,
                    "unknown_function",
                    format!("function {fname} does not exist"),
                    span,
                );
                Vec::new()
            }
        };
        let name = alias
            .map(|a| fold(&a.name))
            .unwrap_or_else(|| fname.to_string());
        let cols = match alias {
            Some(a) => {
                let mut cols = cols;
                if cols.len() == 1
                    && a.columns.is_empty()
                    && matches!(fname, "generate_series" | "unnest")
                {
                    // A scalar function's column takes the alias name.
                    cols[0].0 = name.clone();
                }
                self.apply_alias_columns(cols, a, &name)
            }
            None => cols,
        };
        let opaque = cols.is_empty();
        scope.rels.push(Rel {
            id,
            name,
            schema: None,
            hidden_name: None,
            cols,
            opaque,
            pk: Vec::new(),
        });
    }

    // -----------------------------------------------------------------------------------
    // Name lookup (pure: records nothing)
    // -----------------------------------------------------------------------------------

    fn lookup(&self, parts: &[Ident], scope: &Scope<'_>) -> Lookup {
        let names: Vec<String> = parts.iter().map(fold).collect();
        let mut level = 0;
        let mut cur = Some(scope);
        match names.as_slice() {
            [col] => {
                while let Some(s) = cur {
                    let mut found: Option<(usize, SqlType)> = None;
                    let mut count = 0;
                    let mut opaque = false;
                    for (i, r) in s.rels.iter().enumerate() {
                        if let Some((_, t)) = r.cols.iter().find(|(c, _)| c == col) {
                            count += r.cols.iter().filter(|(c, _)| c == col).count();
                            if found.is_none() {
                                found = Some((i, t.clone()));
                            }
                        } else if r.opaque {
                            opaque = true;
                        }
                    }
                    if let Some((rel, ty)) = found {
                        if count == 1 || s.merged.contains(col) {
                            return Lookup::Found { level, rel, ty };
                        }
                        return Lookup::Ambiguous;
                    }
                    if opaque {
                        return Lookup::Opaque(None);
                    }
                    // A bare relation name is a whole-row reference.
                    if let Some(i) = s.rels.iter().position(|r| r.name == *col) {
                        return Lookup::Found {
                            level,
                            rel: i,
                            ty: SqlType::Record(RecordKind::Opaque),
                        };
                    }
                    cur = s.parent;
                    level += 1;
                }
                Lookup::NotFound(format!("column \"{col}\" does not exist"))
            }
            [qual @ .., col] => {
                let (schema, rel_name) = match qual {
                    [r] => (None, r),
                    [s, r] => (Some(s), r),
                    [_, s, r] => (Some(s), r),
                    _ => {
                        return Lookup::NotFound(format!(
                            "improper qualified name: {}",
                            names.join(".")
                        ))
                    }
                };
                while let Some(s) = cur {
                    let hit = s.rels.iter().position(|r| {
                        r.name == *rel_name
                            && schema.is_none_or(|sc| r.schema.as_deref() == Some(sc.as_str()))
                    });
                    if let Some(i) = hit {
                        let r = &s.rels[i];
                        if r.opaque {
                            return Lookup::Opaque(Some((level, i)));
                        }
                        return match r.cols.iter().find(|(c, _)| c == col) {
                            Some((_, t)) => Lookup::Found {
                                level,
                                rel: i,
                                ty: t.clone(),
                            },
                            None => {
                                Lookup::NotFound(format!("column {rel_name}.{col} does not exist"))
                            }
                        };
                    }
                    if s.rels
                        .iter()
                        .any(|r| r.hidden_name.as_deref() == Some(rel_name.as_str()))
                    {
                        return Lookup::NotFound(format!(
                            "invalid reference to FROM-clause entry for table \"{rel_name}\" (it has an alias)"
                        ));
                    }
                    cur = s.parent;
                    level += 1;
                }
                Lookup::NotFound(format!(
                    "missing FROM-clause entry for table \"{rel_name}\""
                ))
            }
            [] => Lookup::NotFound("empty identifier".into()),
        }
    }

    fn rel_id_at(&self, scope: &Scope<'_>, level: usize, rel: usize) -> Option<usize> {
        let mut cur = Some(scope);
        for _ in 0..level {
            cur = cur.and_then(|s| s.parent);
        }
        cur.and_then(|s| s.rels.get(rel)).map(|r| r.id)
    }

    fn column_ref(&mut self, parts: &[Ident], scope: &Scope<'_>, span: Span) -> SqlType {
        self.out.refs_total += 1;
        match self.lookup(parts, scope) {
            Lookup::Found { level, rel, ty } => {
                self.out.refs_resolved += 1;
                if let Some(id) = self.rel_id_at(scope, level, rel) {
                    for t in &mut self.traces {
                        t.push(id);
                    }
                }
                if matches!(ty, SqlType::Raster) {
                    self.out.facts.raster_ref = true;
                }
                ty
            }
            Lookup::Opaque(at) => {
                if let Some(id) = at.and_then(|(level, rel)| self.rel_id_at(scope, level, rel)) {
                    for t in &mut self.traces {
                        t.push(id);
                    }
                }
                SqlType::Any
            }
            Lookup::Ambiguous => {
                let name = parts.iter().map(fold).collect::<Vec<_>>().join(".");
                self.error(
                    Aspect::Schema,
                    "ambiguous_column",
                    format!("column reference \"{name}\" is ambiguous"),
                    Some(span),
                );
                SqlType::Any
            }
            Lookup::NotFound(msg) => {
                let name = parts.iter().map(fold).collect::<Vec<_>>().join(".");
                self.out.unknown_refs.push(name);
                self.error(Aspect::Schema, "unknown_column", msg, Some(span));
                SqlType::Any
            }
        }
    }

    // -----------------------------------------------------------------------------------
    // Expressions
    // -----------------------------------------------------------------------------------

    fn expr(&mut self, e: &Expr, scope: &Scope<'_>, ctes: &Ctes<'_>, ecx: Ecx) -> SqlType {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            self.depth -= 1;
            self.error(
                Aspect::Syntax,
                "too_deep",
                "expression nesting is too deep to analyse".into(),
                Some(e.span()),
            );
            return SqlType::Any;
        }
        let t = self.expr_inner(e, scope, ctes, ecx);
        self.depth -= 1;
        t
    }

    fn expr_inner(&mut self, e: &Expr, scope: &Scope<'_>, ctes: &Ctes<'_>, ecx: Ecx) -> SqlType {
        match e {
            Expr::Identifier(id) => self.column_ref(std::slice::from_ref(id), scope, id.span),
            Expr::CompoundIdentifier(ids) => self.column_ref(ids, scope, e.span()),
            Expr::Value(v) => literal_type(&v.value),
            Expr::Nested(inner) => self.expr(inner, scope, ctes, ecx),
            Expr::BinaryOp { left, op, right } => {
                let l = self.expr(left, scope, ctes, ecx);
                let r = self.expr(right, scope, ctes, ecx);
                self.binary(&l, op, &r, e.span())
            }
            Expr::UnaryOp { op, expr } => {
                let t = self.expr(expr, scope, ctes, ecx);
                match op {
                    UnaryOperator::Not => {
                        self.expect_bool(&t, "NOT", expr.span());
                        SqlType::Bool
                    }
                    UnaryOperator::Minus | UnaryOperator::Plus => {
                        let ok = t.is_numeric()
                            || t.is_wildcard()
                            || matches!(t, SqlType::Unknown(_) | SqlType::Interval);
                        self.check(ok);
                        if !ok {
                            self.error(
                                Aspect::Semantic,
                                "type_mismatch",
                                format!("operator does not exist: {op} {t}"),
                                Some(e.span()),
                            );
                        }
                        t
                    }
                    _ => SqlType::Any,
                }
            }
            Expr::IsNull(x) | Expr::IsNotNull(x) => {
                self.expr(x, scope, ctes, ecx);
                SqlType::Bool
            }
            Expr::IsTrue(x)
            | Expr::IsNotTrue(x)
            | Expr::IsFalse(x)
            | Expr::IsNotFalse(x)
            | Expr::IsUnknown(x)
            | Expr::IsNotUnknown(x) => {
                let t = self.expr(x, scope, ctes, ecx);
                self.expect_bool(&t, "IS TRUE/FALSE", x.span());
                SqlType::Bool
            }
            Expr::IsDistinctFrom(a, b) | Expr::IsNotDistinctFrom(a, b) => {
                let l = self.expr(a, scope, ctes, ecx);
                let r = self.expr(b, scope, ctes, ecx);
                self.compare(&l, "IS DISTINCT FROM", &r, e.span());
                SqlType::Bool
            }
            Expr::In { expr, target, .. } => {
                let t = self.expr(expr, scope, ctes, ecx);
                match target {
                    InTarget::List(list) => {
                        for item in list {
                            let it = self.expr(item, scope, ctes, ecx);
                            self.compare(&t, "IN", &it, item.span());
                        }
                    }
                    InTarget::Subquery(subquery) => {
                        let cols = self.subquery(subquery, scope, ctes);
                        let expected = match expr.as_ref() {
                            Expr::Tuple(items) => items.len(),
                            _ => 1,
                        };
                        self.check(cols.len() == expected);
                        if cols.len() > expected {
                            self.error(
                                Aspect::Semantic,
                                "subquery_columns",
                                "subquery has too many columns".into(),
                                Some(subquery.span()),
                            );
                        } else if cols.len() < expected {
                            self.error(
                                Aspect::Semantic,
                                "subquery_columns",
                                "subquery has too few columns".into(),
                                Some(subquery.span()),
                            );
                        } else if expected == 1 {
                            self.compare(&t, "IN", &cols[0].1, expr.span());
                        }
                    }
                    InTarget::Unnest(x) => {
                        self.expr(x, scope, ctes, ecx);
                    }
                    other => {
                        self.warn(
                            Aspect::Semantic,
                            "not_checked",
                            format!(
                                "IN target not checked: {}",
                                first_words(&format!("{other:?}"))
                            ),
                            Some(expr.span()),
                        );
                    }
                }
                SqlType::Bool
            }
            Expr::Between {
                expr, low, high, ..
            } => {
                let t = self.expr(expr, scope, ctes, ecx);
                let l = self.expr(low, scope, ctes, ecx);
                let h = self.expr(high, scope, ctes, ecx);
                self.compare(&t, ">=", &l, low.span());
                self.compare(&t, "<=", &h, high.span());
                SqlType::Bool
            }
            Expr::Like { expr, pattern, .. }
            | Expr::ILike { expr, pattern, .. }
            | Expr::SimilarTo { expr, pattern, .. } => {
                let t = self.expr(expr, scope, ctes, ecx);
                let p = self.expr(pattern, scope, ctes, ecx);
                let ok = |t: &SqlType| t.category() == Category::String || t.is_wildcard();
                let good = ok(&t) && ok(&p);
                self.check(good);
                if !good {
                    self.error(
                        Aspect::Semantic,
                        "type_mismatch",
                        format!("operator does not exist: {t} ~~ {p}"),
                        Some(e.span()),
                    );
                }
                SqlType::Bool
            }
            Expr::AnyOp { left, right, .. } | Expr::AllOp { left, right, .. } => {
                let l = self.expr(left, scope, ctes, ecx);
                if let Expr::Subquery(q) = right.as_ref() {
                    let cols = self.subquery(q, scope, ctes);
                    if let [(_, t)] = cols.as_slice() {
                        self.compare(&l, "ANY/ALL", t, e.span());
                    }
                } else {
                    self.expr(right, scope, ctes, ecx);
                }
                SqlType::Bool
            }
            Expr::Cast {
                expr, data_type, ..
            } => {
                let from = self.expr(expr, scope, ctes, ecx);
                let name = data_type.to_string();
                match SqlType::from_type_name(&name) {
                    None => {
                        self.check(false);
                        self.error(
                            Aspect::Semantic,
                            "unknown_type",
                            format!("type \"{}\" does not exist", name.to_lowercase()),
                            Some(e.span()),
                        );
                        SqlType::Any
                    }
                    Some(to) => {
                        let ok = match &from {
                            SqlType::Unknown(lit) => {
                                literal_fits(lit.as_deref(), &to)
                                    && lit.as_deref().is_none_or(|l| {
                                        crate::sql::types::literal_matches_subtype(l, &to)
                                    })
                            }
                            f => f.can_cast_to(&to),
                        };
                        self.check(ok);
                        if !ok {
                            let msg = match &from {
                                SqlType::Unknown(Some(l)) => {
                                    format!("invalid input syntax for type {to}: \"{l}\"")
                                }
                                f => format!("cannot cast type {f} to {to}"),
                            };
                            self.error(Aspect::Semantic, "invalid_cast", msg, Some(e.span()));
                        }
                        match (&from, to) {
                            (SqlType::Geometry(g), SqlType::Geometry(t))
                                if t.kind == GeomKind::Any && t.srid == Srid::Unknown =>
                            {
                                SqlType::Geometry(*g)
                            }
                            (_, to) => to,
                        }
                    }
                }
            }
            Expr::Function(f) => self.call(f, scope, ctes, ecx),
            Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => {
                let op = operand.as_ref().map(|o| self.expr(o, scope, ctes, ecx));
                let mut result: Option<SqlType> = None;
                let mut results = Vec::new();
                for w in conditions {
                    let c = self.expr(&w.condition, scope, ctes, ecx);
                    match &op {
                        Some(o) => self.compare(o, "=", &c, w.condition.span()),
                        None => self.expect_bool(&c, "CASE/WHEN", w.condition.span()),
                    }
                    results.push((self.expr(&w.result, scope, ctes, ecx), w.result.span()));
                }
                if let Some(x) = else_result {
                    results.push((self.expr(x, scope, ctes, ecx), x.span()));
                }
                for (t, span) in results {
                    result = Some(match result {
                        None => t,
                        Some(prev) => match common_type(&prev, &t) {
                            Some(c) => c,
                            None => {
                                self.check(false);
                                self.error(
                                    Aspect::Semantic,
                                    "type_mismatch",
                                    format!("CASE types {prev} and {t} cannot be matched"),
                                    Some(span),
                                );
                                SqlType::Any
                            }
                        },
                    });
                }
                match result {
                    Some(SqlType::Unknown(_)) => SqlType::Text,
                    Some(t) => t,
                    None => SqlType::Null,
                }
            }
            Expr::Exists { subquery, .. } => {
                self.subquery(subquery, scope, ctes);
                SqlType::Bool
            }
            Expr::Subquery(q) => {
                let cols = self.subquery(q, scope, ctes);
                self.check(cols.len() == 1);
                if cols.len() != 1 {
                    self.error(
                        Aspect::Semantic,
                        "subquery_columns",
                        "subquery must return only one column".into(),
                        Some(q.span()),
                    );
                    return SqlType::Any;
                }
                cols.into_iter()
                    .next()
                    .map(|(_, t)| t)
                    .unwrap_or(SqlType::Any)
            }
            Expr::CompoundFieldAccess { root, access_chain } => {
                if matches!(root.as_ref(), Expr::Function(_)) {
                    self.error(
                        Aspect::Syntax,
                        "field_of_call",
                        "a field of a function result needs parentheses: (f(x)).field".into(),
                        Some(e.span()),
                    );
                }
                let mut t = self.expr(root, scope, ctes, ecx);
                for access in access_chain {
                    match access {
                        sqlparser::ast::AccessExpr::Dot(Expr::Identifier(field)) => {
                            let name = fold(field);
                            t = match &t {
                                SqlType::Record(kind) => match kind.field(&name) {
                                    Some(ft) => {
                                        self.check(true);
                                        ft
                                    }
                                    None => {
                                        self.check(false);
                                        self.error(
                                            Aspect::Schema,
                                            "unknown_field",
                                            format!("column \"{name}\" not found in data type {t}"),
                                            Some(field.span),
                                        );
                                        SqlType::Any
                                    }
                                },
                                SqlType::Any | SqlType::Null => SqlType::Any,
                                other => {
                                    self.check(false);
                                    self.error(
                                        Aspect::Semantic,
                                        "not_a_record",
                                        format!("column notation .{name} applied to type {other}, which is not a composite type"),
                                        Some(field.span),
                                    );
                                    SqlType::Any
                                }
                            };
                        }
                        sqlparser::ast::AccessExpr::Dot(other) => {
                            self.expr(other, scope, ctes, ecx);
                            t = SqlType::Any;
                        }
                        sqlparser::ast::AccessExpr::Subscript(_) => t = SqlType::Any,
                    }
                }
                t
            }
            Expr::Extract { expr, .. } => {
                self.expr(expr, scope, ctes, ecx);
                SqlType::Numeric
            }
            Expr::Ceil { expr, .. } | Expr::Floor { expr, .. } => {
                let t = self.expr(expr, scope, ctes, ecx);
                match t {
                    SqlType::Int | SqlType::BigInt | SqlType::Numeric => SqlType::Numeric,
                    t if t.is_numeric() => SqlType::Float,
                    _ => SqlType::Float,
                }
            }
            Expr::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                let t = self.expr(expr, scope, ctes, ecx);
                let ok = t.category() == Category::String || t.is_wildcard();
                self.check(ok);
                if !ok {
                    self.error(
                        Aspect::Semantic,
                        "no_matching_signature",
                        format!("function substring({t}, ...) does not exist"),
                        Some(e.span()),
                    );
                }
                for x in substring_from.iter().chain(substring_for.iter()) {
                    self.expr(x, scope, ctes, ecx);
                }
                SqlType::Text
            }
            Expr::Trim {
                expr, trim_what, ..
            } => {
                self.expr(expr, scope, ctes, ecx);
                if let Some(w) = trim_what {
                    self.expr(w, scope, ctes, ecx);
                }
                SqlType::Text
            }
            Expr::Position { expr, r#in } => {
                self.expr(expr, scope, ctes, ecx);
                self.expr(r#in, scope, ctes, ecx);
                SqlType::Int
            }
            Expr::AtTimeZone {
                timestamp,
                time_zone,
            } => {
                self.expr(timestamp, scope, ctes, ecx);
                self.expr(time_zone, scope, ctes, ecx);
                SqlType::Timestamp
            }
            Expr::Collate { expr, .. } => self.expr(expr, scope, ctes, ecx),
            Expr::TypedString(ts) => {
                let to = SqlType::from_type_name(&ts.data_type.to_string()).unwrap_or(SqlType::Any);
                let lit = match &ts.value.value {
                    Value::SingleQuotedString(s) => Some(s.clone()),
                    _ => None,
                };
                let ok = literal_fits(lit.as_deref(), &to);
                self.check(ok);
                if !ok {
                    self.error(
                        Aspect::Semantic,
                        "invalid_literal",
                        format!(
                            "invalid input syntax for type {to}: \"{}\"",
                            lit.unwrap_or_default()
                        ),
                        Some(e.span()),
                    );
                }
                to
            }
            Expr::Interval(_) => SqlType::Interval,
            Expr::Tuple(items) => {
                for i in items {
                    self.expr(i, scope, ctes, ecx);
                }
                SqlType::Record(RecordKind::Opaque)
            }
            Expr::Array(arr) => {
                for i in &arr.elem {
                    self.expr(i, scope, ctes, ecx);
                }
                SqlType::Array
            }
            Expr::GroupingSets(sets) | Expr::Cube(sets) | Expr::Rollup(sets) => {
                for set in sets {
                    for i in set {
                        self.expr(i, scope, ctes, ecx);
                    }
                }
                SqlType::Any
            }
            Expr::JsonAccess { value, .. } => {
                self.expr(value, scope, ctes, ecx);
                SqlType::Any
            }
            other => {
                self.warn(
                    Aspect::Semantic,
                    "not_checked",
                    format!(
                        "expression not checked: {}",
                        first_words(&other.to_string())
                    ),
                    Some(other.span()),
                );
                SqlType::Any
            }
        }
    }

    fn subquery(&mut self, q: &Query, scope: &Scope<'_>, ctes: &Ctes<'_>) -> Cols {
        if self.cte_depth == 0 {
            self.out.facts.subquery_count += 1;
        }
        // A subquery sees the enclosing scope (correlation); it is a new query level.
        let level = Scope {
            rels: scope.rels.clone(),
            merged: scope.merged.clone(),
            parent: scope.parent,
        };
        self.query(q, Some(&level), ctes, false)
    }

    fn binary(&mut self, l: &SqlType, op: &BinaryOperator, r: &SqlType, span: Span) -> SqlType {
        use BinaryOperator as B;
        match op {
            B::And | B::Or | B::Xor => {
                self.expect_bool(l, &op.to_string(), span);
                self.expect_bool(r, &op.to_string(), span);
                SqlType::Bool
            }
            B::Eq | B::NotEq | B::Lt | B::Gt | B::LtEq | B::GtEq => {
                self.compare(l, &op.to_string(), r, span);
                SqlType::Bool
            }
            B::Plus | B::Minus | B::Multiply | B::Divide | B::Modulo => {
                self.arithmetic(l, op, r, span)
            }
            B::StringConcat => {
                let ok = l.category() == Category::String
                    || r.category() == Category::String
                    || l.is_wildcard()
                    || r.is_wildcard()
                    || matches!((l, r), (SqlType::Array, _) | (_, SqlType::Array));
                self.check(ok);
                if !ok {
                    self.error(
                        Aspect::Semantic,
                        "type_mismatch",
                        format!("operator does not exist: {l} || {r}"),
                        Some(span),
                    );
                }
                SqlType::Text
            }
            B::PGRegexMatch | B::PGRegexIMatch | B::PGRegexNotMatch | B::PGRegexNotIMatch => {
                let ok = (l.category() == Category::String || l.is_wildcard())
                    && (r.category() == Category::String || r.is_wildcard());
                self.check(ok);
                if !ok {
                    self.error(
                        Aspect::Semantic,
                        "type_mismatch",
                        format!("operator does not exist: {l} {op} {r}"),
                        Some(span),
                    );
                }
                SqlType::Bool
            }
            B::Question | B::QuestionAnd | B::QuestionPipe | B::AtArrow | B::ArrowAt
                if matches!(l, SqlType::Json) =>
            {
                self.check(false);
                self.error(
                    Aspect::Semantic,
                    "type_mismatch",
                    format!("operator does not exist: json {op} {r}"),
                    Some(span),
                );
                SqlType::Bool
            }
            B::Arrow | B::HashArrow => SqlType::Json,
            B::LongArrow | B::HashLongArrow => SqlType::Text,
            B::PGCustomBinaryOperator(parts) if parts.join("") == "<->" => SqlType::Float,
            _ => {
                if matches!(l, SqlType::Geometry(_)) || matches!(r, SqlType::Geometry(_)) {
                    SqlType::Bool
                } else {
                    SqlType::Any
                }
            }
        }
    }

    fn arithmetic(&mut self, l: &SqlType, op: &BinaryOperator, r: &SqlType, span: Span) -> SqlType {
        use SqlType as T;
        let minus = matches!(op, BinaryOperator::Minus);
        let result = match (l, r) {
            (T::Timestamp, T::Unknown(lit)) if minus => {
                literal_fits(lit.as_deref(), &T::Timestamp).then_some(T::Interval)
            }
            (a, b) if a.is_wildcard() || b.is_wildcard() => Some(T::Any),
            (a, b) if a.is_numeric() && b.is_numeric() => Some(a.wider_numeric(b)),
            (T::Unknown(lit), n) | (n, T::Unknown(lit)) if n.is_numeric() => {
                literal_fits(lit.as_deref(), n).then(|| n.clone())
            }
            (T::Timestamp, T::Interval) | (T::Interval, T::Timestamp) => Some(T::Timestamp),
            (T::Timestamp, T::Timestamp) if minus => Some(T::Interval),
            (T::Timestamp, T::Unknown(_)) | (T::Unknown(_), T::Timestamp) => Some(T::Timestamp),
            (T::Interval, n) | (n, T::Interval) if n.is_numeric() || matches!(n, T::Interval) => {
                Some(T::Interval)
            }
            (T::Unknown(_), T::Unknown(_)) => None,
            _ => None,
        };
        self.check(result.is_some());
        match result {
            Some(t) => t,
            None => {
                self.error(
                    Aspect::Semantic,
                    "type_mismatch",
                    format!("operator does not exist: {l} {op} {r}"),
                    Some(span),
                );
                T::Any
            }
        }
    }

    fn compare(&mut self, l: &SqlType, op: &str, r: &SqlType, span: Span) {
        let verdict = comparable(l, r);
        self.check(verdict.is_ok());
        if let Err(kind) = verdict {
            let msg = match kind {
                Incomparable::Literal(t, lit) => {
                    format!("invalid input syntax for type {t}: \"{lit}\"")
                }
                Incomparable::Operator => format!("operator does not exist: {l} {op} {r}"),
            };
            self.error(Aspect::Semantic, "type_mismatch", msg, Some(span));
        }
    }

    // -----------------------------------------------------------------------------------
    // Function calls
    // -----------------------------------------------------------------------------------

    fn call(&mut self, f: &Function, scope: &Scope<'_>, ctes: &Ctes<'_>, ecx: Ecx) -> SqlType {
        let parts = object_parts(&f.name);
        let Some(last) = parts.last() else {
            return SqlType::Any;
        };
        let name = fold(last);
        if let (true, FunctionArguments::Subquery(q)) = (name == "array", &f.args) {
            let cols = self.subquery(q, scope, ctes);
            self.check(cols.len() == 1);
            if cols.len() != 1 {
                self.error(
                    Aspect::Semantic,
                    "subquery_columns",
                    "subquery must return only one column".into(),
                    Some(q.span()),
                );
            }
            return SqlType::Array;
        }
        let span = last.span;
        let schema_ok = match parts.as_slice() {
            [_] => true,
            [s, _] => matches!(fold(s).as_str(), "public" | "pg_catalog"),
            _ => false,
        };
        // Catalogue names are lower case in PostgreSQL: a quoted "ST_Area" is another function.
        let spec = if name == name.to_lowercase() {
            self.pack.function(&name)
        } else {
            None
        };
        if let Some((spec, _)) = spec {
            self.out
                .facts
                .spatial_calls
                .push((spec.name.clone(), spec.category));
        }
        let builtin = if name == name.to_lowercase() {
            builtins::lookup(&name)
        } else {
            None
        };
        let maybe_agg = match (spec, builtin) {
            (Some((_, sigs)), _) => sigs.iter().any(|s| s.kind == FnKind::Aggregate),
            (None, Some(Builtin::Poly(p))) => builtins::poly_kind(*p) == FnKind::Aggregate,
            (None, Some(Builtin::Fixed(sigs))) => sigs.iter().any(|s| s.kind == FnKind::Aggregate),
            (None, None) => false,
        } && f.over.is_none();
        // Arguments.
        let arg_ecx = Ecx {
            clause: ecx.clause,
            in_agg: ecx.in_agg || maybe_agg,
            in_window_arg: ecx.in_window_arg || f.over.is_some(),
        };
        let is_predicate = spec.is_some_and(|(s, _)| s.category == FunctionCategory::Predicates);
        if is_predicate {
            self.traces.push(Vec::new());
        }
        let mut args: Vec<SqlType> = Vec::new();
        let mut arg_exprs: Vec<Option<&Expr>> = Vec::new();
        let mut star = false;
        match &f.args {
            FunctionArguments::List(list) => {
                for a in &list.args {
                    match a {
                        FunctionArg::Unnamed(
                            FunctionArgExpr::Wildcard | FunctionArgExpr::QualifiedWildcard(_),
                        ) => star = true,
                        _ => {
                            if let Some(x) = arg_expr(a) {
                                args.push(self.expr(x, scope, ctes, arg_ecx));
                                arg_exprs.push(Some(x));
                            }
                        }
                    }
                }
                for c in &list.clauses {
                    if let sqlparser::ast::FunctionArgumentClause::OrderBy(obs) = c {
                        for o in obs {
                            self.expr(&o.expr, scope, ctes, arg_ecx);
                        }
                    }
                }
            }
            FunctionArguments::Subquery(q) => {
                self.subquery(q, scope, ctes);
            }
            FunctionArguments::None => {}
        }
        if is_predicate {
            let seen: BTreeSet<usize> = self.traces.pop().unwrap_or_default().into_iter().collect();
            if seen.len() >= 2 {
                self.out.facts.spatial_join = true;
            }
        }
        if let Some(filter) = &f.filter {
            self.expr(filter, scope, ctes, arg_ecx);
        }
        for o in &f.within_group {
            self.expr(&o.expr, scope, ctes, arg_ecx);
        }
        if let Some(WindowType::WindowSpec(w)) = &f.over {
            let wecx = Ecx {
                clause: ecx.clause,
                in_agg: ecx.in_agg,
                in_window_arg: true,
            };
            for x in &w.partition_by {
                self.expr(x, scope, ctes, wecx);
            }
            for o in &w.order_by {
                self.expr(&o.expr, scope, ctes, wecx);
            }
        }
        // Resolution.
        self.out.refs_total += 1;
        if !schema_ok || (spec.is_none() && builtin.is_none()) {
            let written = parts.iter().map(|p| fold(p)).collect::<Vec<_>>().join(".");
            self.out.unknown_refs.push(format!("{written}()"));
            self.error(
                Aspect::Schema,
                "unknown_function",
                format!("function {written}({}) does not exist", type_list(&args)),
                Some(span),
            );
            return SqlType::Any;
        }
        self.out.refs_resolved += 1;
        let (kind, result) = match (spec, builtin) {
            (Some((_, sigs)), _) => match best_signature(sigs, &args) {
                Some(sig) => (sig.kind, self.result_type(sig, &args, &arg_exprs)),
                None => return self.no_signature(&name, &args, span),
            },
            (None, Some(Builtin::Fixed(sigs))) => match best_signature(sigs, &args) {
                Some(sig) => (sig.kind, sig.returns.clone()),
                None => return self.no_signature(&name, &args, span),
            },
            (None, Some(Builtin::Poly(p))) => match poly_result(*p, &name, &args, star) {
                Ok(t) => (builtins::poly_kind(*p), t),
                Err(msg) => {
                    self.check(false);
                    self.error(Aspect::Semantic, "no_matching_signature", msg, Some(span));
                    return SqlType::Any;
                }
            },
            (None, None) => unreachable!("checked above"),
        };
        self.check(true);
        self.fn_kinds.insert(f as *const Function as usize, kind);
        // Where aggregates and window functions may appear.
        match kind {
            FnKind::Aggregate if f.over.is_none() => {
                self.out.facts.has_aggregate = true;
                if let Some(frame) = self.agg_frames.last_mut() {
                    *frame = true;
                }
                if ecx.in_agg {
                    self.error(
                        Aspect::Semantic,
                        "nested_aggregate",
                        "aggregate function calls cannot contain aggregate function calls".into(),
                        Some(span),
                    );
                } else if !ecx.clause.allows_aggregates() {
                    self.error(
                        Aspect::Semantic,
                        "aggregate_not_allowed",
                        format!(
                            "aggregate functions are not allowed in {}",
                            ecx.clause.name()
                        ),
                        Some(span),
                    );
                }
            }
            FnKind::Window if f.over.is_none() => {
                self.error(
                    Aspect::Semantic,
                    "window_requires_over",
                    format!("window function {name} requires an OVER clause"),
                    Some(span),
                );
            }
            FnKind::Plain | FnKind::Window if f.filter.is_some() => {
                self.error(
                    Aspect::Semantic,
                    "filter_not_aggregate",
                    format!("FILTER specified, but {name} is not an aggregate function"),
                    Some(span),
                );
            }
            FnKind::Plain if f.over.is_some() => {
                self.error(
                    Aspect::Semantic,
                    "not_a_window_function",
                    format!("OVER specified, but {name} is not a window function nor an aggregate function"),
                    Some(span),
                );
            }
            _ => {}
        }
        if f.over.is_some() {
            self.out.facts.has_window = true;
            if ecx.in_agg {
                self.error(
                    Aspect::Semantic,
                    "window_in_aggregate",
                    "aggregate function calls cannot contain window function calls".into(),
                    Some(span),
                );
            } else if ecx.in_window_arg {
                self.error(
                    Aspect::Semantic,
                    "nested_window",
                    "window function calls cannot be nested".into(),
                    Some(span),
                );
            } else if !ecx.clause.allows_windows() {
                self.error(
                    Aspect::Semantic,
                    "window_not_allowed",
                    format!("window functions are not allowed in {}", ecx.clause.name()),
                    Some(span),
                );
            }
        }
        // Smells PostgreSQL accepts: subtype, units, mixed SRIDs; spatial joins.
        if let Some((spec, _)) = spec {
            let geoms: Vec<GeomInfo> = args
                .iter()
                .filter_map(|t| match t {
                    SqlType::Geometry(g) => Some(*g),
                    _ => None,
                })
                .collect();
            if let (Some(expected), Some(first)) = (&spec.geometry_input, geoms.first()) {
                if first.kind != GeomKind::Any {
                    let ok = expected.iter().any(|k| k == first.kind.as_str());
                    self.check(ok);
                    if !ok {
                        self.warn(
                            Aspect::Semantic,
                            "geometry_subtype",
                            format!(
                                "{} expects {} geometry but gets {}: the result is meaningless (0, NULL or a run-time error)",
                                spec.name,
                                expected.join(" or "),
                                first.kind.as_str()
                            ),
                            Some(span),
                        );
                    }
                }
            }
            if spec.units.as_deref() == Some("srid") {
                let degrees = geoms.iter().any(|g| g.srid == Srid::Known(4326));
                if degrees {
                    let literal_distance =
                        arg_exprs
                            .iter()
                            .zip(&args)
                            .skip(1)
                            .find_map(|(x, t)| match (x, t) {
                                (Some(Expr::Value(v)), t) if t.is_numeric() => match &v.value {
                                    Value::Number(n, _) => n.parse::<f64>().ok(),
                                    _ => None,
                                },
                                _ => None,
                            });
                    let smell = match spec.category {
                        FunctionCategory::Measurements => true,
                        _ => literal_distance.is_some_and(|d| d > 1.0),
                    };
                    self.check(!smell);
                    if smell {
                        let what = match literal_distance {
                            Some(d) if spec.category != FunctionCategory::Measurements => {
                                format!(
                                    "{} distance {d} is read in degrees on SRID 4326 geometry",
                                    spec.name
                                )
                            }
                            _ => format!("{} on SRID 4326 geometry measures in degrees", spec.name),
                        };
                        self.warn(
                            Aspect::Semantic,
                            "degrees_as_metres",
                            format!("{what}; cast to geography or ST_Transform to a metric SRID for metres"),
                            Some(span),
                        );
                    }
                }
            }
            if geoms.len() >= 2 {
                let srids: BTreeSet<i32> = geoms
                    .iter()
                    .filter_map(|g| match g.srid {
                        Srid::Known(s) => Some(s),
                        Srid::Unknown => None,
                    })
                    .collect();
                let ok = srids.len() <= 1;
                self.check(ok);
                if !ok {
                    self.warn(
                        Aspect::Semantic,
                        "mixed_srid",
                        format!(
                            "{} mixes SRIDs {}: PostGIS raises an error at run time",
                            spec.name,
                            srids
                                .iter()
                                .map(|s| s.to_string())
                                .collect::<Vec<_>>()
                                .join(" and ")
                        ),
                        Some(span),
                    );
                }
            }
        }
        result
    }

    fn no_signature(&mut self, name: &str, args: &[SqlType], span: Span) -> SqlType {
        self.check(false);
        let bad_literal = args.iter().find_map(|a| match a {
            SqlType::Unknown(Some(l)) => Some(l.clone()),
            _ => None,
        });
        let mut msg = format!("function {name}({}) does not exist", type_list(args));
        if let Some(l) = bad_literal {
            msg.push_str(&format!(
                " (or the literal '{l}' does not fit the parameter type)"
            ));
        }
        self.error(Aspect::Semantic, "no_matching_signature", msg, Some(span));
        SqlType::Any
    }

    fn result_type(
        &self,
        sig: &ResolvedSignature,
        args: &[SqlType],
        exprs: &[Option<&Expr>],
    ) -> SqlType {
        let SqlType::Geometry(mut info) = sig.returns.clone() else {
            return sig.returns.clone();
        };
        let first = args.iter().find_map(|t| match t {
            SqlType::Geometry(g) => Some(*g),
            _ => None,
        });
        info.kind = match sig.result_geometry.as_deref() {
            Some("same") => first.map(|g| g.kind).unwrap_or(GeomKind::Any),
            Some(sub) => GeomKind::from_subtype(sub),
            None => GeomKind::Any,
        };
        info.srid = match sig.result_srid.as_deref() {
            Some("none") => Srid::Known(0),
            Some(arg) if arg.starts_with("arg:") => {
                let i: usize = arg[4..].parse().unwrap_or(usize::MAX);
                match exprs.get(i).copied().flatten() {
                    Some(Expr::Value(v)) => match &v.value {
                        Value::Number(n, _) => n.parse().map(Srid::Known).unwrap_or(Srid::Unknown),
                        _ => Srid::Unknown,
                    },
                    // An omitted SRID argument defaults to 0.
                    None if i >= args.len() => Srid::Known(0),
                    _ => Srid::Unknown,
                }
            }
            _ => first.map(|g| g.srid).unwrap_or(Srid::Unknown),
        };
        SqlType::Geometry(info)
    }
}

fn type_list(args: &[SqlType]) -> String {
    args.iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn pk_grouped(r: &Rel, keys: &GroupKeys) -> bool {
    !r.pk.is_empty()
        && r.pk
            .iter()
            .all(|k| keys.cols.iter().any(|(id, c)| *id == r.id && c == k))
}

fn ident_parts(e: &Expr) -> Vec<Ident> {
    match e {
        Expr::Identifier(i) => vec![i.clone()],
        Expr::CompoundIdentifier(ids) => ids.clone(),
        _ => Vec::new(),
    }
}

fn arg_expr(a: &FunctionArg) -> Option<&Expr> {
    match a {
        FunctionArg::Unnamed(FunctionArgExpr::Expr(e))
        | FunctionArg::Named {
            arg: FunctionArgExpr::Expr(e),
            ..
        }
        | FunctionArg::ExprNamed {
            arg: FunctionArgExpr::Expr(e),
            ..
        } => Some(e),
        _ => None,
    }
}

/// The column name PostgreSQL gives an unaliased select-list expression.
fn column_name(e: &Expr) -> String {
    match e {
        Expr::Identifier(i) => fold(i),
        Expr::CompoundIdentifier(ids) => ids.last().map(fold).unwrap_or_default(),
        Expr::Function(f) => object_parts(&f.name)
            .last()
            .map(|i| fold(i))
            .unwrap_or_default(),
        Expr::Cast { expr, .. } | Expr::Nested(expr) => column_name(expr),
        Expr::CompoundFieldAccess { access_chain, .. } => match access_chain.last() {
            Some(sqlparser::ast::AccessExpr::Dot(Expr::Identifier(i))) => fold(i),
            _ => "?column?".into(),
        },
        Expr::Case { .. } => "case".into(),
        Expr::Exists { .. } => "exists".into(),
        Expr::Subquery(q) => match q.body.as_ref() {
            SetExpr::Select(s) => match s.projection.first() {
                Some(SelectItem::UnnamedExpr(x)) => column_name(x),
                Some(SelectItem::ExprWithAlias { alias, .. }) => fold(alias),
                _ => "?column?".into(),
            },
            _ => "?column?".into(),
        },
        _ => "?column?".into(),
    }
}

fn literal_type(v: &Value) -> SqlType {
    match v {
        Value::Number(n, _) => {
            if n.contains(['.', 'e', 'E']) {
                SqlType::Numeric
            } else if n.parse::<i32>().is_ok() {
                SqlType::Int
            } else if n.parse::<i64>().is_ok() {
                SqlType::BigInt
            } else {
                SqlType::Numeric
            }
        }
        Value::SingleQuotedString(s)
        | Value::EscapedStringLiteral(s)
        | Value::UnicodeStringLiteral(s) => SqlType::Unknown(Some(s.clone())),
        Value::DollarQuotedString(d) => SqlType::Unknown(Some(d.value.clone())),
        Value::Boolean(_) => SqlType::Bool,
        Value::Null => SqlType::Null,
        Value::Placeholder(_) => SqlType::Any,
        _ => SqlType::Unknown(None),
    }
}

enum Incomparable {
    Literal(SqlType, String),
    Operator,
}

fn comparable(l: &SqlType, r: &SqlType) -> Result<(), Incomparable> {
    use SqlType as T;
    if l.is_wildcard() || r.is_wildcard() {
        return Ok(());
    }
    match (l, r) {
        (T::Unknown(_), T::Unknown(_)) => Ok(()),
        (T::Unknown(lit), t) | (t, T::Unknown(lit)) => {
            if matches!(t, T::Json) {
                return Err(Incomparable::Operator);
            }
            if literal_fits(lit.as_deref(), t) {
                Ok(())
            } else {
                Err(Incomparable::Literal(
                    t.clone(),
                    lit.clone().unwrap_or_default(),
                ))
            }
        }
        (T::Json, _) | (_, T::Json) => Err(Incomparable::Operator),
        (a, b) if a.category() == b.category() && a.category() != Category::Raster => Ok(()),
        (T::Geometry(_), T::Text | T::Varchar) | (T::Text | T::Varchar, T::Geometry(_)) => Ok(()),
        (T::Geometry(_), T::Geography) | (T::Geography, T::Geometry(_)) => Ok(()),
        (T::Record(_), T::Record(_)) => Ok(()),
        (T::Other(_), _) | (_, T::Other(_)) => Ok(()),
        _ => Err(Incomparable::Operator),
    }
}

/// The type two branches (CASE, UNION, COALESCE) resolve to, if they can.
fn common_type(a: &SqlType, b: &SqlType) -> Option<SqlType> {
    use SqlType as T;
    match (a, b) {
        (x, y) if x.is_wildcard() => Some(if matches!(x, T::Null) {
            y.clone()
        } else {
            T::Any
        }),
        (_, y) if y.is_wildcard() => Some(a.clone()),
        (T::Unknown(_), T::Unknown(_)) => Some(T::Text),
        (T::Unknown(lit), t) | (t, T::Unknown(lit)) => {
            literal_fits(lit.as_deref(), t).then(|| t.clone())
        }
        (x, y) if x.is_numeric() && y.is_numeric() => Some(x.wider_numeric(y)),
        (x, y) if x.category() == y.category() => Some(match (x, y) {
            (T::Varchar, T::Text) | (T::Text, T::Varchar) => T::Text,
            (T::Geometry(g), T::Geometry(h)) if g == h => x.clone(),
            (T::Geometry(_), T::Geometry(_)) => T::GEOMETRY,
            _ => x.clone(),
        }),
        _ => None,
    }
}

fn best_signature<'s>(
    sigs: &'s [ResolvedSignature],
    args: &[SqlType],
) -> Option<&'s ResolvedSignature> {
    sigs.iter()
        .filter(|s| args.len() >= s.required && args.len() <= s.args.len())
        .filter_map(|s| {
            let mut cost = 0u32;
            for (a, p) in args.iter().zip(&s.args) {
                cost += u32::from(a.coerce_cost(p)?);
            }
            Some((cost, s))
        })
        .min_by_key(|(c, _)| *c)
        .map(|(_, s)| s)
}

fn poly_result(
    p: Polymorphic,
    name: &str,
    args: &[SqlType],
    star: bool,
) -> Result<SqlType, String> {
    let sig = || format!("function {name}({}) does not exist", type_list(args));
    match p {
        Polymorphic::Count => {
            if star || !args.is_empty() {
                Ok(SqlType::BigInt)
            } else {
                Err(sig())
            }
        }
        Polymorphic::MinMax => match args {
            [t] if !matches!(t, SqlType::Json | SqlType::Raster | SqlType::Geography) => {
                Ok(match t {
                    SqlType::Unknown(_) => SqlType::Text,
                    t => t.clone(),
                })
            }
            _ => Err(sig()),
        },
        Polymorphic::Sum => match args {
            [SqlType::Int] => Ok(SqlType::BigInt),
            [SqlType::BigInt | SqlType::Numeric] => Ok(SqlType::Numeric),
            [SqlType::Float] => Ok(SqlType::Float),
            [SqlType::Interval] => Ok(SqlType::Interval),
            [t] if t.is_wildcard() => Ok(SqlType::Any),
            _ => Err(sig()),
        },
        Polymorphic::Avg => match args {
            [SqlType::Float] => Ok(SqlType::Float),
            [t] if t.is_numeric() => Ok(SqlType::Numeric),
            [SqlType::Interval] => Ok(SqlType::Interval),
            [t] if t.is_wildcard() => Ok(SqlType::Any),
            _ => Err(sig()),
        },
        Polymorphic::Common => {
            if args.is_empty() || (name == "nullif" && args.len() != 2) {
                return Err(sig());
            }
            let mut acc = args[0].clone();
            for t in &args[1..] {
                acc = common_type(&acc, t).ok_or_else(|| {
                    format!(
                        "{} types {acc} and {t} cannot be matched",
                        name.to_uppercase()
                    )
                })?;
            }
            Ok(match acc {
                SqlType::Unknown(_) => SqlType::Text,
                t => t,
            })
        }
        Polymorphic::Variadic => Ok(SqlType::Text),
        Polymorphic::ArrayAgg => match args {
            [_] => Ok(SqlType::Array),
            _ => Err(sig()),
        },
        Polymorphic::Window => match name {
            "row_number" | "rank" | "dense_rank" if args.is_empty() => Ok(SqlType::BigInt),
            "lag" | "lead" if !args.is_empty() && args.len() <= 3 => Ok(args[0].clone()),
            "first_value" | "last_value" if args.len() == 1 => Ok(args[0].clone()),
            _ => Err(sig()),
        },
    }
}

/// Direct sub-expressions of an expression (subqueries excluded).
pub fn children(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::BinaryOp { left, right, .. } => vec![left, right],
        Expr::UnaryOp { expr, .. }
        | Expr::Nested(expr)
        | Expr::Cast { expr, .. }
        | Expr::IsNull(expr)
        | Expr::IsNotNull(expr)
        | Expr::IsTrue(expr)
        | Expr::IsNotTrue(expr)
        | Expr::IsFalse(expr)
        | Expr::IsNotFalse(expr)
        | Expr::IsUnknown(expr)
        | Expr::IsNotUnknown(expr)
        | Expr::Extract { expr, .. }
        | Expr::Ceil { expr, .. }
        | Expr::Floor { expr, .. }
        | Expr::Collate { expr, .. } => vec![expr],
        Expr::IsDistinctFrom(a, b) | Expr::IsNotDistinctFrom(a, b) => vec![a, b],
        Expr::In {
            expr,
            target: InTarget::List(list),
            ..
        } => std::iter::once(expr.as_ref()).chain(list.iter()).collect(),
        Expr::In { expr, .. } => vec![expr],
        Expr::Between {
            expr, low, high, ..
        } => vec![expr, low, high],
        Expr::Like { expr, pattern, .. }
        | Expr::ILike { expr, pattern, .. }
        | Expr::SimilarTo { expr, pattern, .. } => {
            vec![expr, pattern]
        }
        Expr::AnyOp { left, right, .. } | Expr::AllOp { left, right, .. } => vec![left, right],
        Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => operand
            .iter()
            .map(|o| o.as_ref())
            .chain(conditions.iter().flat_map(|w| [&w.condition, &w.result]))
            .chain(else_result.iter().map(|x| x.as_ref()))
            .collect(),
        Expr::CompoundFieldAccess { root, .. } => vec![root],
        Expr::Tuple(items) => items.iter().collect(),
        Expr::Array(a) => a.elem.iter().collect(),
        Expr::AtTimeZone {
            timestamp,
            time_zone,
        } => vec![timestamp, time_zone],
        Expr::Substring {
            expr,
            substring_from,
            substring_for,
            ..
        } => std::iter::once(expr.as_ref())
            .chain(substring_from.iter().map(|x| x.as_ref()))
            .chain(substring_for.iter().map(|x| x.as_ref()))
            .collect(),
        Expr::Trim {
            expr, trim_what, ..
        } => std::iter::once(expr.as_ref())
            .chain(trim_what.iter().map(|x| x.as_ref()))
            .collect(),
        Expr::Position { expr, r#in } => vec![expr, r#in],
        Expr::Function(f) => match &f.args {
            FunctionArguments::List(l) => l.args.iter().filter_map(arg_expr).collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}
