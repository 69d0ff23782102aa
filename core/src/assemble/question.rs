//! Questions from plans. The question is phrased from the same plan tree the SQL is built
//! from, with the pack's lexicon for table and column names, so it states what the SQL
//! asks: the tables, each filter with its value, the spatial operations with their
//! parameters, grouping, ordering and limit. Every literal of the SQL appears in it.
//! The opening and the connectives vary with the row's `question_tone`.

use std::collections::BTreeMap;

use crate::features::QuestionTone;
use crate::pack::SchemaPack;
use crate::plan::{
    ArithOp, CompareOp, Literal, LogicOp, PlanExpr, QueryPlan, Relation, SelectPlan, Source,
};
use crate::GenerateError;

struct Ctx<'p> {
    pack: &'p SchemaPack,
    /// alias → base table key.
    bases: BTreeMap<String, String>,
    /// alias → noun phrase for the relation ("building", "second building").
    nouns: BTreeMap<String, String>,
    /// CTE name → its body.
    ctes: BTreeMap<String, &'p SelectPlan>,
    /// The main query (output aliases in ORDER BY are phrased as their expressions).
    main: &'p SelectPlan,
    /// Plural noun of the main query's first relation.
    subject: String,
}

/// Functions that answer yes or no.
const BOOLEAN_FUNCTIONS: &[&str] = &[
    "ST_Intersects",
    "ST_DWithin",
    "ST_Within",
    "ST_Contains",
    "ST_Touches",
    "ST_Overlaps",
    "ST_Covers",
    "ST_CoveredBy",
    "ST_Disjoint",
    "ST_Crosses",
    "ST_Equals",
    "ST_IsValid",
    "ST_IsEmpty",
    "ST_IsSimple",
    "ST_IsClosed",
];

fn singular(pack: &SchemaPack, key: &str) -> String {
    pack.data()
        .lexicon
        .tables
        .get(key)
        .map(|n| n.singular.clone())
        .unwrap_or_else(|| key.rsplit('.').next().unwrap_or(key).replace('_', " "))
}

fn plural(pack: &SchemaPack, key: &str) -> String {
    pack.data()
        .lexicon
        .tables
        .get(key)
        .map(|n| n.plural.clone())
        .unwrap_or_else(|| format!("{} rows", singular(pack, key)))
}

fn lit(l: &Literal) -> String {
    match l {
        Literal::Text(s) => format!("'{s}'"),
        other => other.text(),
    }
}

fn op_words(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Eq => "is",
        CompareOp::NotEq => "is not",
        CompareOp::Lt => "is below",
        CompareOp::LtEq => "is at most",
        CompareOp::Gt => "is above",
        CompareOp::GtEq => "is at least",
    }
}

impl<'p> Ctx<'p> {
    fn collect(&mut self, p: &'p SelectPlan) {
        for r in &p.from {
            self.bases.insert(r.alias.clone(), r.base.clone());
            if let Source::Derived { query } = &r.source {
                self.collect(query);
            }
        }
        for e in p.filters.iter().chain(p.items.iter().map(|i| &i.expr)) {
            self.collect_expr(e);
        }
    }

    fn collect_expr(&mut self, e: &'p PlanExpr) {
        match e.subquery() {
            Some(q) => self.collect(q),
            None => e.children().into_iter().for_each(|c| self.collect_expr(c)),
        }
    }

    fn noun(&self, alias: &str) -> String {
        self.nouns.get(alias).cloned().unwrap_or_else(|| {
            self.bases
                .get(alias)
                .map(|b| singular(self.pack, b))
                .unwrap_or_else(|| alias.to_string())
        })
    }

    fn column(&self, rel: &str, column: &str, with_owner: bool) -> String {
        let phrase = self
            .bases
            .get(rel)
            .and_then(|b| {
                self.pack
                    .data()
                    .lexicon
                    .columns
                    .get(&format!("{b}.{column}"))
            })
            .map(|p| p.split(" (").next().unwrap_or(p).to_string())
            .unwrap_or_else(|| column.replace('_', " "));
        if with_owner {
            format!("the {}'s {phrase}", self.noun(rel))
        } else {
            format!("the {phrase}")
        }
    }

    /// A noun phrase for an expression.
    fn expr(&self, e: &PlanExpr, owner: bool) -> String {
        match e {
            PlanExpr::Column { rel, column } => self.column(rel, column, owner),
            PlanExpr::Literal { value } => lit(value),
            PlanExpr::Cast { expr, .. } => self.expr(expr, owner),
            PlanExpr::Field { expr, field } => {
                format!("the {field} of {}", self.expr(expr, owner))
            }
            PlanExpr::Output { name } => match self
                .main
                .items
                .iter()
                .find(|i| i.alias.as_deref() == Some(name.as_str()))
            {
                Some(i) => self.output(&i.expr, owner),
                None => format!("the {}", name.replace('_', " ")),
            },
            PlanExpr::Aggregate {
                function,
                arg,
                distinct,
                filter,
            } => {
                let base = match arg {
                    None => format!("the number of {}", self.subject),
                    Some(a) => {
                        let inner = self.expr(a, owner);
                        match function.as_str() {
                            "count" if *distinct => {
                                format!("the number of distinct values of {inner}")
                            }
                            "count" => format!("the number of non-null values of {inner}"),
                            "avg" => format!("the average of {inner}"),
                            "sum" => format!("the total of {inner}"),
                            "max" => format!("the largest {}", strip_the(&inner)),
                            "min" => format!("the smallest {}", strip_the(&inner)),
                            f => format!("the {f} of {inner}"),
                        }
                    }
                };
                match filter {
                    Some(f) => format!("{base} for which {}", self.condition(f, owner)),
                    None => base,
                }
            }
            PlanExpr::Call { function, args } => self.call(function, args, owner),
            PlanExpr::Window {
                function,
                args,
                partition_by,
                order_by,
            } => self.window(function, args, partition_by, order_by, owner),
            PlanExpr::Compare { op, left, right } => format!(
                "{} {} {}",
                self.expr(left, owner),
                op_words(*op),
                self.expr(right, owner)
            ),
            PlanExpr::Scalar { query } => self.scalar(query),
            PlanExpr::InSubquery { .. }
            | PlanExpr::Exists { .. }
            | PlanExpr::Logic { .. }
            | PlanExpr::Not { .. }
            | PlanExpr::IsNull { .. } => self.condition(e, owner),
            PlanExpr::Arith { op, left, right } => self.arith(*op, left, right, owner),
            PlanExpr::Case {
                branches,
                otherwise,
            } => {
                let mut parts: Vec<String> = branches
                    .iter()
                    .map(|b| {
                        format!(
                            "{} when {}",
                            self.expr(&b.then, owner),
                            self.condition(&b.when, owner)
                        )
                    })
                    .collect();
                if let Some(o) = otherwise {
                    parts.push(format!("{} otherwise", self.expr(o, owner)));
                }
                format!("the class that is {}", join_list(&parts))
            }
        }
    }

    fn arith(&self, op: ArithOp, left: &PlanExpr, right: &PlanExpr, owner: bool) -> String {
        let l = self.expr(left, owner);
        let r = self.expr(right, owner);
        match op {
            ArithOp::Div => match left {
                PlanExpr::Arith {
                    op: ArithOp::Mul,
                    left: hundred,
                    right: part,
                } if matches!(hundred.as_ref(), PlanExpr::Literal { value: Literal::Number(n) }
                    if n == "100" || n == "100.0") =>
                {
                    format!(
                        "the share in percent (100 times the ratio) of {} to {r}",
                        self.expr(part, owner)
                    )
                }
                _ => format!("the ratio of {l} to {r}"),
            },
            ArithOp::Sub => format!("the difference {l} minus {r}"),
            ArithOp::Add => format!("the sum of {l} and {r}"),
            ArithOp::Mul => format!("{l} times {r}"),
            ArithOp::Distance => format!("the distance from {l} to {r}"),
        }
    }

    fn window(
        &self,
        function: &str,
        args: &[PlanExpr],
        partition_by: &[PlanExpr],
        order_by: &[(PlanExpr, bool)],
        owner: bool,
    ) -> String {
        let ranked = |e: &PlanExpr, desc: bool| {
            format!(
                "{} ({} first)",
                self.expr(e, owner),
                if desc { "highest" } else { "lowest" }
            )
        };
        let base = match (function.to_lowercase().as_str(), order_by.first()) {
            ("rank" | "dense_rank", Some((e, desc))) => format!("the rank by {}", ranked(e, *desc)),
            ("row_number", Some((e, desc))) => {
                format!("the position by {}", ranked(e, *desc))
            }
            _ => self.call(function, args, owner),
        };
        if partition_by.is_empty() {
            base
        } else {
            let p: Vec<String> = partition_by.iter().map(|e| self.expr(e, owner)).collect();
            format!("{base} within each {}", strip_the(&join_list(&p)))
        }
    }

    /// A returned value: yes/no functions read "whether …".
    fn output(&self, e: &PlanExpr, owner: bool) -> String {
        match e {
            PlanExpr::Call { function, .. } if BOOLEAN_FUNCTIONS.contains(&function.as_str()) => {
                format!("whether {}", self.expr(e, owner))
            }
            _ => self.expr(e, owner),
        }
    }

    fn metric(&self, arg: &PlanExpr) -> &'static str {
        match arg {
            PlanExpr::Cast { to, .. } if to == "geography" => " in metres",
            PlanExpr::Call { function, .. } if function == "ST_Transform" => {
                " in the projected units"
            }
            _ => "",
        }
    }

    fn call(&self, f: &str, args: &[PlanExpr], owner: bool) -> String {
        let a = |i: usize| args.get(i).map(|x| self.expr(x, owner)).unwrap_or_default();
        let pt = |x: &str, y: &str, srid: &str| format!("the point ({x}, {y}) in SRID {srid}");
        match f {
            "ST_Area" => format!("the area{} of {}", squared(self.metric(&args[0])), a(0)),
            "ST_Perimeter" => format!("the perimeter{} of {}", self.metric(&args[0]), a(0)),
            "ST_Length" => format!("the length{} of {}", self.metric(&args[0]), a(0)),
            "ST_Distance" => format!(
                "the distance{} between {} and {}",
                self.metric(&args[0]),
                a(0),
                a(1)
            ),
            "ROUND" => match a(1).as_str() {
                "1" => format!("{} rounded to 1 decimal place", a(0)),
                d => format!("{} rounded to {d} decimal places", a(0)),
            },
            // NULLIF(x, 0) only keeps a division by zero from failing: it reads as x.
            "NULLIF" | "nullif" => a(0),
            "ABS" | "abs" => format!("the absolute value of {}", a(0)),
            "DEGREES" | "degrees" => format!("{} in degrees", a(0)),
            "COALESCE" | "coalesce" => format!("{} (or {} when missing)", a(0), a(1)),
            "ST_MaxDistance" => format!("the largest distance between {} and {}", a(0), a(1)),
            "ST_HausdorffDistance" => {
                format!("the Hausdorff distance between {} and {}", a(0), a(1))
            }
            "ST_Azimuth" => format!("the azimuth (radians) from {} to {}", a(0), a(1)),
            "ST_Intersects" => format!("{} intersects {}", a(0), a(1)),
            "ST_DWithin" => format!("{} lies within {} metres of {}", a(0), a(2), a(1)),
            "ST_Within" => format!("{} lies within {}", a(0), a(1)),
            "ST_Contains" => format!("{} contains {}", a(0), a(1)),
            "ST_Touches" => format!("{} touches {}", a(0), a(1)),
            "ST_Overlaps" => format!("{} overlaps {}", a(0), a(1)),
            "ST_Covers" => format!("{} covers {}", a(0), a(1)),
            "ST_CoveredBy" => format!("{} is covered by {}", a(0), a(1)),
            "ST_Disjoint" => format!("{} is disjoint from {}", a(0), a(1)),
            "ST_Crosses" => format!("{} crosses {}", a(0), a(1)),
            "ST_Equals" => format!("{} is spatially equal to {}", a(0), a(1)),
            "ST_MakeEnvelope" => format!(
                "the box from ({}, {}) to ({}, {}) in SRID {}",
                a(0),
                a(1),
                a(2),
                a(3),
                a(4)
            ),
            "ST_SetSRID" => match args.first() {
                Some(PlanExpr::Call {
                    function,
                    args: inner,
                }) if function == "ST_MakePoint" => pt(
                    &self.expr(&inner[0], owner),
                    &self.expr(&inner[1], owner),
                    &a(1),
                ),
                _ => format!("{} labelled with SRID {}", a(0), a(1)),
            },
            "ST_MakePoint" => format!("the point ({}, {})", a(0), a(1)),
            "ST_Point" => pt(&a(0), &a(1), &a(2)),
            "ST_GeomFromText" => format!("the geometry {} in SRID {}", a(0), a(1)),
            "ST_GeomFromGeoJSON" => format!("the GeoJSON geometry {}", a(0)),
            "ST_MakeLine" => format!("the line from {} to {}", a(0), a(1)),
            "ST_Transform" => format!("{} reprojected to SRID {}", a(0), a(1)),
            "ST_Buffer" => format!("the {} metre buffer around {}", a(1), a(0)),
            "ST_Simplify" => format!("{} simplified with tolerance {}", a(0), a(1)),
            "ST_SimplifyPreserveTopology" => {
                format!(
                    "{} simplified with tolerance {} keeping its topology",
                    a(0),
                    a(1)
                )
            }
            "ST_SnapToGrid" => format!("{} snapped to a grid of size {}", a(0), a(1)),
            "ST_Translate" => format!("{} shifted by ({}, {})", a(0), a(1), a(2)),
            "ST_Centroid" => format!("the centroid of {}", a(0)),
            "ST_PointOnSurface" => format!("a point on the surface of {}", a(0)),
            "ST_Envelope" => format!("the bounding box of {}", a(0)),
            "ST_ConvexHull" => format!("the convex hull of {}", a(0)),
            "ST_Boundary" => format!("the boundary of {}", a(0)),
            "ST_Union" if args.len() == 1 => format!("the union of {}", a(0)),
            "ST_Collect" if args.len() == 1 => format!("the collection of {}", a(0)),
            "ST_Intersection" => format!("the intersection of {} and {}", a(0), a(1)),
            "ST_Difference" => format!("the part of {} outside {}", a(0), a(1)),
            "ST_SymDifference" => format!("the symmetric difference of {} and {}", a(0), a(1)),
            "ST_ClosestPoint" => format!("the point of {} closest to {}", a(0), a(1)),
            "ST_ShortestLine" => format!("the shortest line from {} to {}", a(0), a(1)),
            "ST_AsText" => format!("{} as WKT text", a(0)),
            "ST_AsGeoJSON" => format!("{} as GeoJSON", a(0)),
            "ST_GeometryType" => format!("the geometry type of {}", a(0)),
            "ST_SRID" => format!("the SRID of {}", a(0)),
            "ST_NPoints" => format!("the number of vertices of {}", a(0)),
            "ST_NumGeometries" => format!("the number of parts of {}", a(0)),
            "ST_X" => format!("the X coordinate of {}", a(0)),
            "ST_Y" => format!("the Y coordinate of {}", a(0)),
            "ST_StartPoint" => format!("the start point of {}", a(0)),
            "ST_EndPoint" => format!("the end point of {}", a(0)),
            "ST_ExteriorRing" => format!("the exterior ring of {}", a(0)),
            "ST_Force2D" => format!("{} forced to 2D", a(0)),
            "ST_Reverse" => format!("{} with its vertex order reversed", a(0)),
            "ST_Multi" => format!("{} as a multi-geometry", a(0)),
            "ST_IsValid" => format!("{} is valid", a(0)),
            "ST_IsEmpty" => format!("{} is empty", a(0)),
            "ST_IsSimple" => format!("{} is simple", a(0)),
            "ST_IsClosed" => format!("{} is closed", a(0)),
            "ST_IsValidReason" => format!("the reason why {} is valid or not", a(0)),
            "ST_MakeValid" => format!("a valid version of {}", a(0)),
            "ST_ClusterDBSCAN" => format!(
                "a DBSCAN cluster number for {} (distance {}, at least {} members)",
                a(0),
                a(1),
                a(2)
            ),
            "ST_ClusterKMeans" => format!(
                "a k-means cluster number for {} with {} clusters",
                a(0),
                a(1)
            ),
            "ST_Value" => {
                if args.len() == 3 {
                    format!("the band {} value of {} at {}", a(1), a(0), a(2))
                } else {
                    format!("the value of {} at {}", a(0), a(1))
                }
            }
            "ST_Clip" => format!("{} clipped to {}", a(0), a(1)),
            "ST_SummaryStats" => format!("the summary statistics of {}", a(0)),
            "ST_Count" => format!("the number of pixels of {}", a(0)),
            "ST_Width" => format!("the width in pixels of {}", a(0)),
            "ST_Height" => format!("the height in pixels of {}", a(0)),
            "ST_NumBands" => format!("the number of bands of {}", a(0)),
            "ST_PixelWidth" => format!("the pixel width of {}", a(0)),
            "ST_Polygon" => format!("the outline polygon of {}", a(0)),
            _ => {
                let rest: Vec<String> = (0..args.len()).map(a).collect();
                format!("{f} of {}", rest.join(", "))
            }
        }
    }

    fn scalar(&self, q: &SelectPlan) -> String {
        let what = q
            .items
            .first()
            .map(|i| self.expr(&i.expr, false))
            .unwrap_or_default();
        let of = q
            .from
            .first()
            .map(|r| plural(self.pack, &r.base))
            .unwrap_or_default();
        let cond = self.where_clause(q, "", false);
        format!("{what} over all {of}{cond}")
    }

    /// A condition phrase (for WHERE conjuncts).
    fn condition(&self, e: &PlanExpr, owner: bool) -> String {
        match e {
            PlanExpr::InSubquery {
                expr,
                query,
                negated,
            } => {
                let r = &query.from[0];
                let col = query
                    .items
                    .first()
                    .map(|i| self.expr(&i.expr, false))
                    .unwrap_or_default();
                format!(
                    "{} is {}among {} of {}{}",
                    self.expr(expr, owner),
                    if *negated { "not " } else { "" },
                    strip_the(&col).to_string().replace("the ", ""),
                    plural(self.pack, &r.base),
                    self.where_clause(query, "", false)
                )
            }
            PlanExpr::Exists { query, negated } => {
                let r = &query.from[0];
                let mut conds: Vec<String> = query
                    .filters
                    .iter()
                    .map(|c| self.condition(c, true))
                    .collect();
                self.source_conditions(r, true, &mut conds);
                format!(
                    "there is {} {} for which {}",
                    if *negated { "no" } else { "a" },
                    singular(self.pack, &r.base),
                    conds.join(" and ")
                )
            }
            PlanExpr::Compare { op, left, right } => {
                // A flag phrased "whether the bus is in service" reads as a clause.
                if let (
                    CompareOp::Eq,
                    PlanExpr::Column { rel, column },
                    PlanExpr::Literal {
                        value: Literal::Bool(set),
                    },
                ) = (op, left.as_ref(), right.as_ref())
                {
                    let phrase = self.column(rel, column, false);
                    if let Some(clause) = phrase.strip_prefix("the whether ") {
                        return match (set, clause.split_once(" is ")) {
                            (true, _) => clause.to_string(),
                            (false, Some((who, what))) => format!("{who} is not {what}"),
                            (false, None) => format!("not {clause}"),
                        };
                    }
                }
                if let (
                    PlanExpr::Column { rel: a, column: ca },
                    PlanExpr::Column { rel: b, column: cb },
                ) = (left.as_ref(), right.as_ref())
                {
                    if ca == cb && *op == CompareOp::Eq {
                        return format!(
                            "the {} and the {} share {}",
                            self.noun(a),
                            self.noun(b),
                            self.column(a, ca, false)
                        );
                    }
                    if ca == cb && *op == CompareOp::NotEq {
                        return format!(
                            "the {} is a different one from the {}",
                            self.noun(a),
                            self.noun(b)
                        );
                    }
                }
                format!(
                    "{} {} {}",
                    self.expr(left, owner),
                    op_words(*op),
                    self.expr(right, owner)
                )
            }
            PlanExpr::Column { rel, column } => {
                let phrase = self.column(rel, column, false);
                match phrase.strip_prefix("the whether ") {
                    Some(clause) => clause.to_string(),
                    None => format!("{phrase} holds"),
                }
            }
            PlanExpr::Logic { op, args } => {
                let parts: Vec<String> = args.iter().map(|a| self.condition(a, owner)).collect();
                let glue = match op {
                    LogicOp::And => " and ",
                    LogicOp::Or => " or ",
                };
                if args.len() > 1 && *op == LogicOp::Or {
                    format!("either {}", parts.join(glue))
                } else {
                    parts.join(glue)
                }
            }
            PlanExpr::Not { expr } => {
                let inner = self.condition(expr, owner);
                match expr.as_ref() {
                    PlanExpr::Call { function, .. }
                        if BOOLEAN_FUNCTIONS.contains(&function.as_str()) =>
                    {
                        if inner.contains(" is ") {
                            inner.replacen(" is ", " is not ", 1)
                        } else if inner.contains(" lies ") {
                            inner.replacen(" lies ", " does not lie ", 1)
                        } else {
                            format!("it is not the case that {inner}")
                        }
                    }
                    _ => format!("it is not the case that {inner}"),
                }
            }
            PlanExpr::IsNull { expr, negated } => format!(
                "{} is {}",
                self.expr(expr, owner),
                if *negated { "recorded" } else { "not recorded" }
            ),
            other => self.expr(other, owner),
        }
    }

    fn where_clause(&self, q: &SelectPlan, lead: &str, owner: bool) -> String {
        let mut conds: Vec<String> = Vec::new();
        // Filters inside CTEs / derived tables the relations read.
        for r in &q.from {
            self.source_conditions(r, owner, &mut conds);
        }
        conds.extend(q.filters.iter().map(|f| self.condition(f, owner)));
        if conds.is_empty() {
            String::new()
        } else {
            format!("{lead} where {}", conds.join(" and "))
        }
    }

    fn source_conditions(&self, r: &Relation, owner: bool, out: &mut Vec<String>) {
        let mut src = &r.source;
        loop {
            let body: &SelectPlan = match src {
                Source::Table { .. } => break,
                Source::Cte { name } => match self.ctes.get(name) {
                    Some(b) => b,
                    None => break,
                },
                Source::Derived { query } => query,
            };
            for f in &body.filters {
                // Inner filters name the inner alias; phrase them as the outer relation's.
                out.push(self.condition(&rename(f, &body.from[0].alias, &r.alias), owner));
            }
            if let (Some(n), Some((key, desc))) = (body.limit, body.order_by.first()) {
                let key = rename(key, &body.from[0].alias, &r.alias);
                let timestamp = matches!(&key, PlanExpr::Column { column, .. }
                    if column.ends_with("_at") || column.ends_with("_date"));
                let which = match (timestamp, *desc) {
                    (true, true) => "latest",
                    (true, false) => "earliest",
                    (false, true) => "largest",
                    (false, false) => "smallest",
                };
                let key = strip_the(&self.expr(&key, false)).to_string();
                out.push(if n == 1 {
                    format!(
                        "the {} is the one with the {which} {key}",
                        self.noun(&r.alias)
                    )
                } else {
                    format!(
                        "the {} is one of the {n} with the {which} {key}",
                        self.noun(&r.alias)
                    )
                });
            }
            src = &body.from[0].source;
        }
    }
}

fn squared(unit: &str) -> String {
    match unit {
        " in metres" => " in square metres".to_string(),
        other => other.to_string(),
    }
}

fn strip_the(s: &str) -> &str {
    s.strip_prefix("the ").unwrap_or(s)
}

fn rename(e: &PlanExpr, from: &str, to: &str) -> PlanExpr {
    match e {
        PlanExpr::Column { rel, column } if rel == from => PlanExpr::column(to, column),
        PlanExpr::Compare { op, left, right } => {
            PlanExpr::compare(*op, rename(left, from, to), rename(right, from, to))
        }
        PlanExpr::Call { function, args } => {
            PlanExpr::call(function, args.iter().map(|a| rename(a, from, to)).collect())
        }
        PlanExpr::Cast { expr, to: ty } => rename(expr, from, to).cast(ty),
        PlanExpr::Field { expr, field } => PlanExpr::Field {
            expr: Box::new(rename(expr, from, to)),
            field: field.clone(),
        },
        other => other.clone(),
    }
}

fn join_list(items: &[String]) -> String {
    match items.len() {
        0 => String::new(),
        1 => items[0].clone(),
        _ => format!(
            "{} and {}",
            items[..items.len() - 1].join(", "),
            items[items.len() - 1]
        ),
    }
}

/// Phrase the question for a plan.
pub fn phrase_question(pack: &SchemaPack, plan: &QueryPlan) -> Result<String, GenerateError> {
    let first = plan
        .main
        .from
        .first()
        .ok_or_else(|| GenerateError::InvalidPlan("no FROM".into()))?;
    let subject = plural(pack, &first.base);
    let mut ctx = Ctx {
        pack,
        bases: BTreeMap::new(),
        nouns: BTreeMap::new(),
        ctes: plan
            .ctes
            .iter()
            .map(|c| (c.name.clone(), &c.body))
            .collect(),
        main: &plan.main,
        subject: subject.clone(),
    };
    for c in &plan.ctes {
        ctx.collect(&c.body);
    }
    ctx.collect(&plan.main);
    // Nouns: the second instance of a table is "other …".
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for r in &plan.main.from {
        let n = seen.entry(r.base.clone()).or_default();
        *n += 1;
        let base = singular(pack, &r.base);
        let noun = match *n {
            1 => base,
            2 => format!("other {base}"),
            k => format!("{base} no. {k}"),
        };
        ctx.nouns.insert(r.alias.clone(), noun);
    }
    let main = &plan.main;
    let multi = main.from.len() > 1;
    let tone = &plan.requested.question_tone;

    // What is returned.
    let outputs: Vec<String> = main
        .items
        .iter()
        .map(|i| ctx.output(&i.expr, multi))
        .collect();
    // Joins.
    let mut joins: Vec<String> = Vec::new();
    for r in main.from.iter().skip(1) {
        let Some(j) = &r.join else { continue };
        let noun = ctx.noun(&r.alias);
        let conds: Vec<String> = j.on.iter().map(|c| ctx.condition(c, true)).collect();
        if conds.is_empty() {
            // A LATERAL subquery: its own conditions say which rows are paired.
            joins.push(format!("each paired with the matching {noun}"));
            continue;
        }
        joins.push(format!(
            "{} {} (where {})",
            if j.left {
                "optionally matched with each"
            } else {
                "joined with each"
            },
            noun,
            conds.join(" and ")
        ));
    }
    let filters = ctx.where_clause(main, "", multi);
    let group = if main.group_by.is_empty() {
        String::new()
    } else {
        let g: Vec<String> = main.group_by.iter().map(|e| ctx.expr(e, multi)).collect();
        format!(", grouped by {}", join_list(&g))
    };
    let having = if main.having.is_empty() {
        String::new()
    } else {
        let h: Vec<String> = main
            .having
            .iter()
            .map(|e| match e {
                PlanExpr::Compare { op, left, right }
                    if matches!(
                        left.as_ref(),
                        PlanExpr::Aggregate {
                            arg: None,
                            filter: None,
                            ..
                        }
                    ) =>
                {
                    let bound = match op {
                        CompareOp::Gt => "more than",
                        CompareOp::GtEq => "at least",
                        CompareOp::Lt => "fewer than",
                        CompareOp::LtEq => "at most",
                        CompareOp::Eq => "exactly",
                        CompareOp::NotEq => "other than",
                    };
                    format!("{bound} {} {}", ctx.expr(right, false), ctx.subject)
                }
                other => ctx.condition(other, multi),
            })
            .collect();
        format!(", keeping only groups with {}", join_list(&h))
    };
    let order = if main.order_by.is_empty() {
        String::new()
    } else {
        let o: Vec<String> = main
            .order_by
            .iter()
            .map(|(e, desc)| {
                format!(
                    "{} {}",
                    ctx.expr(e, multi),
                    if *desc {
                        "from highest to lowest"
                    } else {
                        "from lowest to highest"
                    }
                )
            })
            .collect();
        format!(", sorted by {}", join_list(&o))
    };
    let limit = match main.limit {
        Some(n) => format!(", and return only the first {n}"),
        None => String::new(),
    };
    let join_text = if joins.is_empty() {
        String::new()
    } else {
        format!(", {}", joins.join(", "))
    };
    let what = join_list(&outputs);
    let body = format!("{what} of the {subject}{join_text}{filters}{group}{having}{order}{limit}");
    let v = plan.phrasing as usize;
    let pick = |options: &[String]| options[v % options.len()].clone();
    let q = match tone {
        QuestionTone::Interrogative => {
            let be = if outputs.len() == 1 { "is" } else { "are" };
            pick(&[
                format!("What {be} {body}?"),
                format!("Can you tell me {body}?"),
                format!("Which values do we get for {body}?"),
            ])
        }
        QuestionTone::Descriptive => pick(&[
            format!("I would like to see {body}."),
            format!("Show {body}."),
            format!("Give me {body}."),
        ]),
        QuestionTone::Analytical => pick(&[
            format!("For an analysis of the {subject}, compute {body}."),
            format!("To analyse the {subject}, calculate {body}."),
            format!("As a spatial analysis, determine {body}."),
        ]),
        _ => pick(&[
            format!("List {body}."),
            format!("Return {body}."),
            format!("Retrieve {body}."),
        ]),
    };
    Ok(q)
}
