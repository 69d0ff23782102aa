//! The `sense` metric: what a spatial analyst reading the query would flag although
//! PostgreSQL accepts it. One named finding per defect class of the quality audit:
//!
//! | class | code | what |
//! |---|---|---|
//! | S1 | `s1_fan_out`, `s1_unused_join`, `s1_cross_product_join`, `s1_nullified_left_join` | a count or sum over a join that repeats the rows it counts; a join nothing reads; a per-group cross product; a LEFT JOIN the WHERE clause turns into an inner one |
//! | S2 | `s2_no_op`, `s2_constant_output`, `s2_constant_order` | an operation that changes nothing or always gives the same value (`ST_NPoints` of a point, `ST_SetSRID` to the SRID the value has, `ST_Force2D` of 2-D data, `ST_Area` of a line), an output or ordering that does not depend on the rows |
//! | S3 | `s3_meaningless_aggregate` | `COUNT(DISTINCT <geometry/raster function>)`, sums of distances, sums or averages of keys, `COUNT(DISTINCT x)` per group of x's own key |
//! | S4 | `s4_degenerate_grouping` | grouping by a column the WHERE clause pins, one group per row |
//! | S5 | `s5_incoherent_analysis`, `s5_wide_distance_join` | a distance between geometries the query already makes intersect (always 0); a distance join whose radius spans a district |
//! | S6 | `s6_incoherent_filters` | equality filters no place of the pack satisfies together (`project_id` of one project, `network_id` of another), coordinates in another place than the filters name |
//! | S7 | `s7_unit_error` | distances, tolerances or DBSCAN eps given in degrees; a CRS that is not metric (EPSG:3857) or not suited to the area |
//! | S8 | `s8_always_false_predicate` | a predicate the operands' dimensions make always false; Touches / Crosses / Overlaps against a search box |
//! | S9 | `s9_clustering_misuse` | window clustering over join results; K-means asking for more clusters than rows |
//! | S10 | `s10_raster_misuse` | whole-tile raster statistics per joined vector row, `ST_Polygon` of a whole raster, a whole summary record where a value is meant |
//! | L1 | `l1_coordinates_outside_areas` | literal coordinates outside every area of the pack |
//! | L2 | `l2_literal_outside_domain` | a threshold outside the column's realistic range (always false or always true), a value not in a closed domain |
//! | L3 | `l3_fake_nesting` | a CTE or derived table that only filters one table |
//!
//! Everything the lints know about the data comes from the pack (types, keys, join
//! cardinalities, value domains, areas and their coherent values). The metric does not
//! weigh in the overall score: it is a filter (score 1 without findings, 0 with any).

mod calls;
mod geo;
mod grouping;
mod joins;
mod literals;
mod nesting;
mod scope;
#[cfg(test)]
mod tests;

use sqlparser::ast::{
    Expr, Function, FunctionArguments, InTarget, ObjectNamePart, OrderByKind, Query, SetExpr,
    Spanned, Statement, TableFactor, Value,
};

use crate::pack::SchemaPack;
use crate::sql::analyze::fold;
use crate::{Aspect, Finding, Location, Severity};

use scope::{for_each_local, own_ctes, select_exprs, Level};

/// One kind of sense finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SenseCode {
    /// S1: a count or sum over a join that repeats the rows it counts.
    FanOut,
    /// S1: a joined relation nothing reads.
    UnusedJoin,
    /// S1: a key join that is a per-group cross product.
    CrossProductJoin,
    /// S1: a LEFT JOIN whose right side the WHERE clause filters.
    NullifiedLeftJoin,
    /// S2: an operation that changes nothing or is constant.
    NoOp,
    /// S2: an output column that does not depend on the rows.
    ConstantOutput,
    /// S2: ordering by something that does not vary.
    ConstantOrder,
    /// S3: an aggregate that means nothing.
    MeaninglessAggregate,
    /// S4: grouping by a pinned column, or one group per row.
    DegenerateGrouping,
    /// S5: a measurement the query's own conditions make constant.
    IncoherentAnalysis,
    /// S5: a distance join with a district-wide radius.
    WideDistanceJoin,
    /// S6: filters that cannot hold together.
    IncoherentFilters,
    /// S7: degrees where metres are meant, or an unsuitable CRS.
    UnitError,
    /// S8: a predicate false by construction.
    AlwaysFalsePredicate,
    /// S9: clustering misuse.
    ClusteringMisuse,
    /// S10: raster misuse.
    RasterMisuse,
    /// L1: coordinates outside every area.
    CoordinatesOutsideAreas,
    /// L2: a literal outside the column's domain.
    LiteralOutsideDomain,
    /// L3: nesting that only filters.
    FakeNesting,
}

impl SenseCode {
    /// Every code, in class order.
    pub const ALL: [SenseCode; 19] = [
        SenseCode::FanOut,
        SenseCode::UnusedJoin,
        SenseCode::CrossProductJoin,
        SenseCode::NullifiedLeftJoin,
        SenseCode::NoOp,
        SenseCode::ConstantOutput,
        SenseCode::ConstantOrder,
        SenseCode::MeaninglessAggregate,
        SenseCode::DegenerateGrouping,
        SenseCode::IncoherentAnalysis,
        SenseCode::WideDistanceJoin,
        SenseCode::IncoherentFilters,
        SenseCode::UnitError,
        SenseCode::AlwaysFalsePredicate,
        SenseCode::ClusteringMisuse,
        SenseCode::RasterMisuse,
        SenseCode::CoordinatesOutsideAreas,
        SenseCode::LiteralOutsideDomain,
        SenseCode::FakeNesting,
    ];

    /// The audit's defect class (`S1` … `S10`, `L1` … `L3`).
    pub fn class(self) -> &'static str {
        use SenseCode::*;
        match self {
            FanOut | UnusedJoin | CrossProductJoin | NullifiedLeftJoin => "S1",
            NoOp | ConstantOutput | ConstantOrder => "S2",
            MeaninglessAggregate => "S3",
            DegenerateGrouping => "S4",
            IncoherentAnalysis | WideDistanceJoin => "S5",
            IncoherentFilters => "S6",
            UnitError => "S7",
            AlwaysFalsePredicate => "S8",
            ClusteringMisuse => "S9",
            RasterMisuse => "S10",
            CoordinatesOutsideAreas => "L1",
            LiteralOutsideDomain => "L2",
            FakeNesting => "L3",
        }
    }

    /// The finding code, e.g. `s1_fan_out`.
    pub fn as_str(self) -> &'static str {
        use SenseCode::*;
        match self {
            FanOut => "s1_fan_out",
            UnusedJoin => "s1_unused_join",
            CrossProductJoin => "s1_cross_product_join",
            NullifiedLeftJoin => "s1_nullified_left_join",
            NoOp => "s2_no_op",
            ConstantOutput => "s2_constant_output",
            ConstantOrder => "s2_constant_order",
            MeaninglessAggregate => "s3_meaningless_aggregate",
            DegenerateGrouping => "s4_degenerate_grouping",
            IncoherentAnalysis => "s5_incoherent_analysis",
            WideDistanceJoin => "s5_wide_distance_join",
            IncoherentFilters => "s6_incoherent_filters",
            UnitError => "s7_unit_error",
            AlwaysFalsePredicate => "s8_always_false_predicate",
            ClusteringMisuse => "s9_clustering_misuse",
            RasterMisuse => "s10_raster_misuse",
            CoordinatesOutsideAreas => "l1_coordinates_outside_areas",
            LiteralOutsideDomain => "l2_literal_outside_domain",
            FakeNesting => "l3_fake_nesting",
        }
    }

    /// The code for a finding code string.
    pub fn from_code(code: &str) -> Option<SenseCode> {
        SenseCode::ALL.into_iter().find(|c| c.as_str() == code)
    }
}

/// The sense findings of one parsed statement.
pub fn sense_findings(pack: &SchemaPack, statement: &Statement) -> Vec<Finding> {
    let Statement::Query(q) = statement else {
        return Vec::new();
    };
    let mut l = Lint {
        pack,
        out: Vec::new(),
        eqs: Vec::new(),
        points: Vec::new(),
        nestings: 0,
        fake_nestings: Vec::new(),
        pinned_cache: Default::default(),
        depth: 0,
    };
    l.query(q, &[], false);
    literals::statement(&mut l);
    nesting::statement(&mut l);
    l.out
}

/// State of one pass over a statement.
pub(super) struct Lint<'p> {
    pub pack: &'p SchemaPack,
    pub out: Vec<Finding>,
    /// Equality filters `table.column = value` of the whole statement (AND-ed levels).
    pub eqs: Vec<(String, String, serde_json::Value)>,
    /// Literal coordinates (x, y) in the pack's default SRID.
    pub points: Vec<(f64, f64, Option<Location>)>,
    /// CTEs, derived tables and subqueries seen.
    pub nestings: usize,
    /// The ones that do nothing, each once (keyed by the nested query's address), with
    /// why and where.
    pub fake_nestings: Vec<(usize, String, Option<Location>)>,
    /// Each level's pinned columns ([`grouping::pinned`]), by the level's address.
    pinned_cache: std::cell::RefCell<std::collections::HashMap<usize, Vec<scope::ColRef>>>,
    depth: usize,
}

impl Lint<'_> {
    pub fn flag(&mut self, code: SenseCode, message: String, at: Option<&Expr>) {
        let location = at.and_then(|e| location(e.span()));
        let f = Finding {
            severity: Severity::Warning,
            aspect: Aspect::Sense,
            code: code.as_str().to_string(),
            message,
            location,
        };
        if !self
            .out
            .iter()
            .any(|g| g.code == f.code && g.message == f.message)
        {
            self.out.push(f);
        }
    }

    fn query<'q>(&mut self, q: &'q Query, outer: &[(String, &'q Query)], exists_body: bool) {
        self.depth += 1;
        if self.depth > 16 {
            self.depth -= 1;
            return;
        }
        let own = own_ctes(q);
        let mut ctes: Vec<(String, &Query)> = outer.to_vec();
        for (name, body) in &own {
            self.query(body, &ctes, false);
            nesting::check_body(self, body, &format!("CTE {name}"));
            ctes.push((name.clone(), body));
        }
        let order: Vec<&Expr> = match q.order_by.as_ref().map(|o| &o.kind) {
            Some(OrderByKind::Expressions(v)) => v.iter().map(|o| &o.expr).collect(),
            _ => Vec::new(),
        };
        self.set_expr(&q.body, &ctes, &order, exists_body);
        self.depth -= 1;
    }

    fn set_expr<'q>(
        &mut self,
        s: &'q SetExpr,
        ctes: &[(String, &'q Query)],
        order: &[&'q Expr],
        exists_body: bool,
    ) {
        match s {
            SetExpr::Select(sel) => {
                let lvl = Level::new(self.pack, sel, ctes);
                self.level(&lvl, order, exists_body);
            }
            SetExpr::Query(q) => self.query(q, ctes, exists_body),
            SetExpr::SetOperation { left, right, .. } => {
                self.set_expr(left, ctes, &[], exists_body);
                self.set_expr(right, ctes, &[], exists_body);
            }
            _ => {}
        }
    }

    fn level<'q>(&mut self, lvl: &Level<'q>, order: &[&'q Expr], exists_body: bool) {
        let shape = joins::check(self, lvl, order);
        nesting::passthrough_top(self, lvl);
        joins::keys_only_parent(self, lvl, order);
        joins::paired_with_itself(self, lvl);
        if !exists_body {
            joins::indistinct_rows(self, lvl, &shape, order);
            joins::repeated_measures(self, lvl, &shape, order);
        }
        calls::whole_records(self, lvl);
        calls::point_test_outputs(self, lvl);
        calls::validity_fixed_by_filter(self, lvl);
        calls::said_twice(self, lvl);
        calls::compared_units(self, lvl);
        grouping::check(self, lvl, order, &shape, exists_body);
        let mut exprs = select_exprs(lvl.select);
        exprs.extend(order.iter().copied());
        for e in &exprs {
            calls::check(self, lvl, e, &shape);
            literals::check(self, lvl, e);
        }
        literals::collect_equalities(self, lvl);
        literals::empty_ranges(self, lvl);
        // Subqueries and derived tables: their own levels.
        for e in &exprs {
            let mut subs: Vec<(&Query, bool)> = Vec::new();
            for_each_local(e, &mut |x| match x {
                Expr::Exists { subquery, .. } => subs.push((subquery, true)),
                Expr::Subquery(q)
                | Expr::In {
                    target: InTarget::Subquery(q),
                    ..
                } => subs.push((q, false)),
                _ => {}
            });
            for (q, ex) in subs {
                self.nestings += 1;
                // A subquery may compare with another place on purpose (lines longer than
                // all of another network's): its equalities are its own.
                let outer_eqs = std::mem::take(&mut self.eqs);
                self.query(q, &lvl.ctes, ex);
                self.eqs = outer_eqs;
            }
        }
        for twj in &lvl.select.from {
            for f in std::iter::once(&twj.relation).chain(twj.joins.iter().map(|j| &j.relation)) {
                if let TableFactor::Derived {
                    subquery, alias, ..
                } = f
                {
                    self.query(subquery, &lvl.ctes, false);
                    let name = alias
                        .as_ref()
                        .map(|a| fold(&a.name))
                        .unwrap_or_else(|| "a derived table".into());
                    nesting::check_body(self, subquery, &format!("derived table {name}"));
                }
            }
        }
    }
}

fn location(span: sqlparser::tokenizer::Span) -> Option<Location> {
    (span.start.line > 0).then_some(Location {
        line: span.start.line,
        column: span.start.column,
    })
}

/// A function's name, lower case, without schema.
pub(super) fn fn_name(f: &Function) -> String {
    f.name
        .0
        .iter()
        .filter_map(|p| match p {
            ObjectNamePart::Identifier(i) => Some(fold(i)),
            _ => None,
        })
        .next_back()
        .unwrap_or_default()
}

/// A function's positional argument expressions (named ones in order too).
pub(super) fn args_of(f: &Function) -> Vec<&Expr> {
    match &f.args {
        FunctionArguments::List(l) => l
            .args
            .iter()
            .filter_map(|a| match a {
                sqlparser::ast::FunctionArg::Unnamed(sqlparser::ast::FunctionArgExpr::Expr(e))
                | sqlparser::ast::FunctionArg::Named {
                    arg: sqlparser::ast::FunctionArgExpr::Expr(e),
                    ..
                }
                | sqlparser::ast::FunctionArg::ExprNamed {
                    arg: sqlparser::ast::FunctionArgExpr::Expr(e),
                    ..
                } => Some(e),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// `COUNT(*)`-style call: no argument expression.
pub(super) fn star_args(f: &Function) -> bool {
    match &f.args {
        FunctionArguments::List(l) => {
            l.args.is_empty()
                || l.args.iter().all(|a| {
                    matches!(
                        a,
                        sqlparser::ast::FunctionArg::Unnamed(
                            sqlparser::ast::FunctionArgExpr::Wildcard
                        )
                    )
                })
        }
        FunctionArguments::None => true,
        FunctionArguments::Subquery(_) => false,
    }
}

/// `DISTINCT` inside the call.
pub(super) fn distinct_args(f: &Function) -> bool {
    matches!(&f.args, FunctionArguments::List(l)
        if matches!(l.duplicate_treatment, Some(sqlparser::ast::DuplicateTreatment::Distinct)))
}

/// A numeric literal's value (negative numbers included).
pub(super) fn number(e: &Expr) -> Option<f64> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse().ok(),
            _ => None,
        },
        Expr::UnaryOp {
            op: sqlparser::ast::UnaryOperator::Minus,
            expr,
        } => number(expr).map(|v| -v),
        Expr::Nested(x) => number(x),
        Expr::Cast { expr, .. } => number(expr),
        _ => None,
    }
}

/// A string literal's text.
pub(super) fn text(e: &Expr) -> Option<&str> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::EscapedStringLiteral(s) => Some(s),
            _ => None,
        },
        Expr::Nested(x) => text(x),
        Expr::Cast { expr, .. } => text(expr),
        _ => None,
    }
}

/// Whether an expression reads no column (literals and calls of literals only).
pub(super) fn constant(e: &Expr) -> bool {
    let mut reads = false;
    scope::for_each_expr(e, &mut |x| {
        if matches!(
            x,
            Expr::Identifier(_)
                | Expr::CompoundIdentifier(_)
                | Expr::Subquery(_)
                | Expr::Exists { .. }
                | Expr::In {
                    target: InTarget::Subquery(_),
                    ..
                }
                | Expr::Wildcard(_)
                | Expr::QualifiedWildcard(..)
        ) {
            reads = true;
        }
        if let Expr::Function(f) = x {
            if f.over.is_some() || star_args(f) || fn_name(f) == "random" || fn_name(f) == "now" {
                reads = true;
            }
        }
    });
    !reads
}
