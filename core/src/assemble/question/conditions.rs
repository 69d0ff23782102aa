//! Conditions: each WHERE conjunct either attaches to the noun of the relation it selects
//! ("of project 'x'", "inside the box …", "with height above 20") or reads as a clause
//! ("where the bus is in service"); joins read by what they mean.

use std::collections::{BTreeMap, BTreeSet};

use super::{join_list, strip_the, Ctx, BOOLEAN_FUNCTIONS};
use crate::pack::JoinKind;
use crate::plan::{CompareOp, Literal, LogicOp, PlanExpr, Relation, SelectPlan, Source};
use crate::sql::types::SqlType;

/// Where a conjunct goes.
enum Attach {
    /// Read after a relation's noun.
    Rel(String, Modifier),
    /// "of the same <column>" (a correlation with an outer relation).
    Same(String),
    /// A clause of its own.
    Clause(String),
}

/// A phrase after a noun.
enum Modifier {
    /// A pack filter phrase ("of project 'x'").
    Phrase(String),
    /// A spatial condition ("inside the box …").
    Spatial(String),
    /// After "with" ("height above 20").
    With(String),
}

/// Modifiers of one relation, in reading order.
#[derive(Default)]
struct Mods {
    phrases: Vec<String>,
    spatial: Vec<String>,
    with: Vec<String>,
    among: Vec<String>,
}

impl Mods {
    fn push(&mut self, m: Modifier) {
        match m {
            Modifier::Phrase(s) => self.phrases.push(s),
            Modifier::Spatial(s) => self.spatial.push(s),
            Modifier::With(s) => self.with.push(s),
        }
    }

    fn text(&self) -> String {
        let mut out = String::new();
        for p in &self.phrases {
            out.push(' ');
            out.push_str(p);
        }
        if !self.spatial.is_empty() {
            out.push(' ');
            out.push_str(&self.spatial.join(" and "));
        }
        if !self.with.is_empty() {
            out.push_str(" with ");
            out.push_str(&join_list(&self.with, false));
        }
        for a in &self.among {
            out.push_str(", among ");
            out.push_str(a);
        }
        out
    }
}

pub(super) fn lit(l: &Literal) -> String {
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

fn with_words(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Eq => "",
        CompareOp::NotEq => " other than",
        CompareOp::Lt => " below",
        CompareOp::LtEq => " at most",
        CompareOp::Gt => " above",
        CompareOp::GtEq => " at least",
    }
}

/// The one relation an expression reads, if it reads exactly one.
fn single_rel(e: &PlanExpr) -> Option<String> {
    fn walk(e: &PlanExpr, out: &mut Vec<String>) {
        if let PlanExpr::Column { rel, .. } = e {
            if !out.contains(rel) {
                out.push(rel.clone());
            }
        }
        if e.subquery().is_some() {
            out.push(String::new());
            out.push(String::new());
        }
        for c in e.children() {
            walk(c, out);
        }
    }
    let mut rels = Vec::new();
    walk(e, &mut rels);
    match rels.as_slice() {
        [one] if !one.is_empty() => Some(one.clone()),
        _ => None,
    }
}

fn has_column(e: &PlanExpr) -> bool {
    matches!(e, PlanExpr::Column { .. }) || e.children().into_iter().any(has_column)
}

/// The column under casts and reprojections.
pub(super) fn bare_column(e: &PlanExpr) -> Option<(&str, &str)> {
    match e {
        PlanExpr::Column { rel, column } => Some((rel, column)),
        PlanExpr::Cast { expr, .. } => bare_column(expr),
        PlanExpr::Call { function, args } if function == "ST_Transform" => {
            args.first().and_then(bare_column)
        }
        _ => None,
    }
}

/// Swap the two operands' roles of a spatial predicate: `f(a, b)` read from `b`.
fn converse(f: &str) -> &str {
    match f {
        "ST_Within" => "ST_Contains",
        "ST_Contains" => "ST_Within",
        "ST_Covers" => "ST_CoveredBy",
        "ST_CoveredBy" => "ST_Covers",
        other => other,
    }
}

/// The predicate as a participle phrase before its other operand ("lying within").
/// The verb of a spatial predicate `f(a, b)` read from `a` ("they lie in").
fn verb(f: &str) -> &'static str {
    match f {
        "ST_Intersects" => "intersect",
        "ST_Within" | "ST_CoveredBy" => "lie in",
        "ST_Contains" => "contain",
        "ST_Covers" => "cover",
        "ST_Touches" => "touch",
        "ST_Overlaps" => "overlap",
        "ST_Crosses" => "cross",
        "ST_Disjoint" => "do not meet",
        "ST_Equals" => "equal",
        _ => "relate to",
    }
}

fn participle(f: &str) -> &'static str {
    match f {
        "ST_Intersects" => "intersecting",
        "ST_Within" => "inside",
        "ST_CoveredBy" => "covered by",
        "ST_Contains" => "containing",
        "ST_Covers" => "covering",
        "ST_Touches" => "touching",
        "ST_Overlaps" => "overlapping",
        "ST_Crosses" => "crossing",
        "ST_Disjoint" => "disjoint from",
        "ST_Equals" => "spatially equal to",
        _ => "related to",
    }
}

/// The determiner of one row of a subquery: "a", "an", or "no" when it is negated.
fn article(noun: &str, negated: bool) -> &'static str {
    if negated {
        "no"
    } else if noun.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// An alias and one of its columns.
type AliasColumn<'e> = (&'e String, &'e String);

/// `inner.x = outer.y` of a subquery level `q` (one alias its own, the other an enclosing
/// query's): `((inner, x), (outer, y))`.
fn inner_outer<'e>(q: &SelectPlan, f: &'e PlanExpr) -> Option<(AliasColumn<'e>, AliasColumn<'e>)> {
    let PlanExpr::Compare {
        op: CompareOp::Eq,
        left,
        right,
    } = f
    else {
        return None;
    };
    let (PlanExpr::Column { rel: a, column: ca }, PlanExpr::Column { rel: b, column: cb }) =
        (left.as_ref(), right.as_ref())
    else {
        return None;
    };
    let here = |x: &str| q.from.iter().any(|r| r.alias == x);
    match (here(a), here(b)) {
        (true, false) => Some(((a, ca), (b, cb))),
        (false, true) => Some(((b, cb), (a, ca))),
        _ => None,
    }
}

/// A correlation equality of a subquery: (filter index, inner column, outer column).
type Equality = (usize, String, String);

/// Correlation equalities that together are one multi-column key edge of the pack.
struct EdgeCorrelation {
    /// Indices of the filters that make it.
    filters: Vec<usize>,
    /// The subquery's relation.
    inner: String,
    /// The outer relation's noun.
    outer_noun: String,
    /// What an inner row is to the outer one, when the edge names it ("end bus").
    role: Option<String>,
}

impl Ctx<'_> {
    /// The rows of a level: its first relation's noun with its conditions, its joins, its
    /// clauses.
    pub(super) fn scope(&self, q: &SelectPlan, noun: &str) -> String {
        let mut mods: Vec<Mods> = q.from.iter().map(|_| Mods::default()).collect();
        let mut same: Vec<String> = Vec::new();
        let mut clauses: Vec<String> = Vec::new();
        let index = |alias: &str| q.from.iter().position(|r| r.alias == alias);
        let place = |a: Attach,
                     mods: &mut Vec<Mods>,
                     same: &mut Vec<String>,
                     clauses: &mut Vec<String>| match a {
            Attach::Rel(alias, m) => match index(&alias) {
                Some(i) => mods[i].push(m),
                // A relation of an inner level (a CTE's join): its phrase ("of project
                // 'roma_eur'") qualifies the rows the level reads, not a "where" clause.
                None if !mods.is_empty() => mods[0].push(m),
                None => clauses.push(match m {
                    Modifier::Phrase(s) | Modifier::Spatial(s) | Modifier::With(s) => s,
                }),
            },
            Attach::Same(s) => same.push(s),
            Attach::Clause(s) => clauses.push(s),
        };
        // Filters inside the CTEs and derived tables the relations read.
        for (i, r) in q.from.iter().enumerate() {
            let (filters, among) = self.source_conditions(r);
            for f in &filters {
                let a = self.attach(f);
                place(a, &mut mods, &mut same, &mut clauses);
            }
            mods[i].among.extend(among);
        }
        // Join conditions beyond the edge's own, and the WHERE conjuncts.
        for r in q.from.iter().skip(1) {
            if let Some(j) = &r.join {
                // Without a pack edge the join phrase reads the whole ON condition.
                if self.edge_of(r).is_none() {
                    continue;
                }
                for c in j.on.iter().filter(|c| !self.edge_condition(r, c)) {
                    let a = self.attach(c);
                    place(a, &mut mods, &mut same, &mut clauses);
                }
            }
        }
        let edges = self.edge_correlations(q);
        for (k, f) in q.filters.iter().enumerate() {
            let a = match (
                edges.iter().find(|e| e.filters.contains(&k)),
                self.correlation(q, f),
            ) {
                // The equalities of a multi-column key edge read as one "of the <outer>".
                (Some(e), _) if e.filters[0] == k => Attach::Rel(
                    e.inner.clone(),
                    Modifier::Phrase(format!("of the {}", e.outer_noun)),
                ),
                (Some(_), _) => continue,
                (None, Some((inner, outer))) => {
                    Attach::Rel(inner, Modifier::Phrase(format!("of the {outer}")))
                }
                (None, None) => self.attach(f),
            };
            place(a, &mut mods, &mut same, &mut clauses);
        }
        // A relation that only adds attributes to the row it joins reads as that row's
        // own: its conditions move there and no join is narrated.
        let mut folded = vec![false; q.from.len()];
        for (i, r) in q.from.iter().enumerate().skip(1) {
            // A relation narrowed to some of its rows ("among the top 200 …") says
            // which rows it joins: that is no attribute.
            if !mods[i].among.is_empty() || !self.folds_into_joined(q, r) {
                continue;
            }
            // A join whose phrase carries its conditions keeps it when it has some.
            let m = &mods[i];
            let conditioned = !(m.phrases.is_empty() && m.spatial.is_empty() && m.with.is_empty());
            if conditioned && self.edge_of(r).is_some_and(|e| e.phrases.is_some()) {
                continue;
            }
            let Some(j) = &r.join else { continue };
            let mut rels = BTreeSet::new();
            for c in &j.on {
                super::collect_rels(c, &mut rels);
            }
            let Some(target) = q.from[..i]
                .iter()
                .position(|x| rels.contains(&x.alias))
                .filter(|t| !folded[*t])
            else {
                continue;
            };
            folded[i] = true;
            let m = std::mem::take(&mut mods[i]);
            let t = &mut mods[target];
            for p in m.phrases {
                if !t.phrases.contains(&p) {
                    t.phrases.push(p);
                }
            }
            for p in m.spatial {
                if !t.spatial.contains(&p) {
                    t.spatial.push(p);
                }
            }
            for p in m.with {
                if !t.with.contains(&p) {
                    t.with.push(p);
                }
            }
        }
        // A condition several relations share ("in scenario 'baseline'") is said once.
        let mut shared: Vec<String> = Vec::new();
        if mods.len() > 1 {
            for p in mods[0..]
                .iter()
                .flat_map(|m| m.phrases.clone())
                .collect::<Vec<_>>()
            {
                let n = mods.iter().filter(|m| m.phrases.contains(&p)).count();
                if n > 1 && !shared.contains(&p) {
                    shared.push(p);
                }
            }
            for m in &mut mods {
                m.phrases.retain(|p| !shared.contains(p));
            }
        }
        let mut out = format!("{noun}{}", mods[0].text());
        if !same.is_empty() {
            out.push_str(&format!(" of the same {}", same_entities(&same)));
        }
        // Rows placing the noun ("in census sections of 'Torino'") come right after it,
        // so that a later "their" still reads as the noun's.
        let placing = |i: usize| self.join_phrase(&q.from[i]).0.starts_with("in ");
        let mut order: Vec<usize> = (1..q.from.len()).filter(|i| !folded[*i]).collect();
        order.sort_by_key(|i| !placing(*i));
        let mut narrated = 0;
        let mut placed = false;
        for i in order {
            let r = &q.from[i];
            narrated += 1;
            let (head, tail) = self.join_phrase(r);
            // The first joined rows come "with" the noun, later ones "and"; after a
            // placing phrase, ", with their …" keeps "their" on the noun.
            let head = match head.strip_prefix("and ") {
                // "with their property records"; other rows are "and the …".
                Some(rest) if narrated == 1 && rest.starts_with("their ") => format!("with {rest}"),
                Some(rest) if placed && rest.starts_with("their ") => format!(", with {rest}"),
                _ => head,
            };
            placed |= head.starts_with("in ");
            if !head.starts_with(',') {
                out.push(' ');
            }
            out.push_str(&head);
            // "the DSM tiles they intersect, uploaded since …": the relation to the
            // earlier rows first, the joined rows' own conditions after it.
            if tail.starts_with(" they ") {
                out.push_str(&tail);
                out.push_str(&mods[i].text());
            } else {
                out.push_str(&mods[i].text());
                out.push_str(&tail);
            }
        }
        // Said first in the question when it is the main query's and a setting ("in
        // scenario 'baseline'", "at LOD 2"); else after the joins, ", all …".
        let setting = std::ptr::eq(q, self.main)
            && shared
                .iter()
                .all(|p| p.starts_with("in ") || p.starts_with("at "));
        if !shared.is_empty() && setting {
            *self.setting.borrow_mut() = shared;
        } else if !shared.is_empty() {
            out.push_str(", all ");
            out.push_str(&shared.join(" "));
        }
        if !clauses.is_empty() {
            out.push_str(", where ");
            out.push_str(&clauses.join(" and "));
        }
        out
    }

    /// A bound on a timestamp column by a day ('2024-03-01'): "updated since 1 March 2024"
    /// with the event the pack names, else "whose last update time is before …".
    fn date_bound(
        &self,
        rel: &str,
        column: &str,
        op: CompareOp,
        value: &Literal,
    ) -> Option<Modifier> {
        let Literal::Text(t) = value else {
            return None;
        };
        let day = crate::calendar::parse_day(t)?;
        let base = self.bases.get(rel)?;
        let (s, tn) = base.split_once('.')?;
        if self.pack.table(s, tn)?.column(column) != Some(&SqlType::Timestamp) {
            return None;
        }
        let bound = match op {
            CompareOp::GtEq => "since",
            CompareOp::Gt => "after",
            CompareOp::Lt => "before",
            CompareOp::LtEq => "on or before",
            CompareOp::Eq => "on",
            CompareOp::NotEq => return None,
        };
        let date = crate::calendar::long_date(day);
        let key = format!("{base}.{column}");
        Some(match self.pack.data().lexicon.events.get(&key) {
            Some(event) => Modifier::Phrase(format!("{event} {bound} {date}")),
            None => Modifier::With(format!(
                "{} {bound} {date}",
                self.column_phrase(rel, column)
            )),
        })
    }

    /// A column's phrase for a threshold, with its unit moved after the value when the
    /// pack gives a short one: ("height", " m") reads "height below 12 m".
    fn unit_after_value(&self, rel: &str, column: &str) -> (String, String) {
        let phrase = self.column_phrase(rel, column);
        let unit = self
            .bases
            .get(rel)
            .and_then(|b| b.split_once('.'))
            .and_then(|(s, t)| {
                self.pack
                    .data()
                    .schemas
                    .iter()
                    .find(|x| x.name == s)?
                    .tables
                    .iter()
                    .find(|x| x.name == t)?
                    .columns
                    .iter()
                    .find(|c| c.name == column)?
                    .unit
                    .clone()
            });
        match (unit, phrase.rfind(" in ")) {
            (Some(u), Some(i)) if ["m", "m²", "m³", "km", "kV", "%"].contains(&u.as_str()) => {
                let sep = if u == "%" { "" } else { " " };
                (phrase[..i].to_string(), format!("{sep}{u}"))
            }
            _ => (phrase, String::new()),
        }
    }

    /// A subquery's key correlation with an outer row (`bp.building_fk = b.id` along a pack
    /// join): the inner relation and the outer noun ("property records of the building").
    fn correlation(&self, q: &SelectPlan, f: &PlanExpr) -> Option<(String, String)> {
        let ((inner, ic), (outer, oc)) = inner_outer(q, f)?;
        if ic == oc {
            return None;
        }
        let (ib, ob) = (self.bases.get(inner)?, self.bases.get(outer)?);
        let along = self.pack.data().joins.iter().any(|e| {
            e.kind == JoinKind::Key
                && e.left_columns.len() == 1
                && ((e.left == *ib
                    && e.right == *ob
                    && e.left_columns[0] == *ic
                    && e.right_columns[0] == *oc)
                    || (e.left == *ob
                        && e.right == *ib
                        && e.left_columns[0] == *oc
                        && e.right_columns[0] == *ic))
        });
        along.then(|| (inner.clone(), self.noun(outer)))
    }

    /// `EXISTS` of one relation tied to an outer row by a spatial predicate, read from the
    /// outer geometry: "the line route intersects a census section in 'Milano'", "the
    /// footprint lies within 50 m of no grid bus".
    fn spatial_exists(&self, query: &SelectPlan, negated: bool) -> Option<String> {
        let [r] = query.from.as_slice() else {
            return None;
        };
        let (k, f, args) = query
            .filters
            .iter()
            .enumerate()
            .find_map(|(k, c)| match c {
                PlanExpr::Call { function, args }
                    if BOOLEAN_FUNCTIONS.contains(&function.as_str()) =>
                {
                    Some((k, function.as_str(), args))
                }
                _ => None,
            })?;
        let side = |e: &PlanExpr| bare_column(e).map(|(rel, _)| rel == r.alias);
        let (outer, f) = match (side(args.first()?), side(args.get(1)?)) {
            (Some(false), Some(true)) => (&args[0], f),
            (Some(true), Some(false)) => (&args[1], converse(f)),
            _ => return None,
        };
        let mut rest = query.clone();
        let inner = args
            .iter()
            .find_map(|a| bare_column(a).filter(|(rel, _)| *rel == r.alias));
        rest.filters.remove(k);
        // Another row of the same table: "another building", not "where the building is a
        // different one from the building".
        let outer_alias = bare_column(outer).map(|(rel, _)| rel.to_string());
        let same_table = outer_alias
            .as_ref()
            .is_some_and(|o| self.bases.get(o) == self.bases.get(&r.alias));
        let before = rest.filters.len();
        if same_table {
            rest.filters.retain(|c| {
                !matches!(c, PlanExpr::Compare { op: CompareOp::NotEq, left, right }
                    if matches!((left.as_ref(), right.as_ref()),
                        (PlanExpr::Column { column: a, .. }, PlanExpr::Column { column: b, .. }) if a == b))
            });
        }
        let other = same_table && rest.filters.len() < before;
        let noun = self.noun(&r.alias);
        let article = match (negated, other) {
            (true, true) => "no other",
            (false, true) => "another",
            _ => article(&noun, negated),
        };
        let them = format!("{article} {}", self.scope(&rest, &noun));
        // Which of its geometries, when the table has several (a project's boundary).
        let them = match inner {
            Some((rel, column)) if self.geometry_columns(rel) > 1 => {
                format!(
                    "the {} of {them}",
                    strip_the(&self.column_phrase(rel, column))
                )
            }
            _ => them,
        };
        let g = self.expr(outer);
        Some(match f {
            "ST_Intersects" => format!("{g} intersects {them}"),
            "ST_DWithin" => {
                let d = args.get(2).map(|d| self.expr(d)).unwrap_or_default();
                format!("{g} lies within {d} m of {them}")
            }
            "ST_Within" | "ST_CoveredBy" => format!("{g} lies in {them}"),
            "ST_Contains" => format!("{g} contains {them}"),
            "ST_Covers" => format!("{g} covers {them}"),
            "ST_Touches" => format!("{g} touches {them}"),
            "ST_Overlaps" => format!("{g} overlaps {them}"),
            "ST_Crosses" => format!("{g} crosses {them}"),
            _ => return None,
        })
    }

    /// `x.k IN (SELECT y.k …)` along a key edge of the pack, read by what it means: "the
    /// building has a cached building height in scenario 'baseline' …", "the building lies
    /// in a census section with …" (an edge whose left rows lie in the right ones).
    fn key_in(&self, expr: &PlanExpr, query: &SelectPlan, negated: bool) -> Option<String> {
        let (
            PlanExpr::Column {
                rel: outer,
                column: oc,
            },
            Some(r),
        ) = (expr, query.from.first())
        else {
            return None;
        };
        let Some(PlanExpr::Column {
            rel: inner,
            column: ic,
        }) = query.items.first().map(|i| &i.expr)
        else {
            return None;
        };
        if inner != &r.alias || query.from.len() != 1 {
            return None;
        }
        let (ob, ib) = (self.bases.get(outer)?, self.bases.get(inner)?);
        // One column pair of a key edge (a building's id and its property records' of any
        // level of detail).
        let pairs = |e: &crate::pack::JoinEdge, l: &String, r: &String| {
            e.left_columns
                .iter()
                .zip(&e.right_columns)
                .any(|(a, b)| a == l && b == r)
        };
        let edge = self.pack.data().joins.iter().find(|e| {
            e.kind == JoinKind::Key
                && e.cardinality != Some(crate::pack::Cardinality::ManyToMany)
                && ((e.left == *ob && e.right == *ib && pairs(e, oc, ic))
                    || (e.left == *ib && e.right == *ob && pairs(e, ic, oc)))
        })?;
        let noun = self.noun(&r.alias);
        let them = format!("{} {}", article(&noun, negated), self.scope(query, &noun));
        let who = self.noun(outer);
        Some(if edge.left_within_right && edge.left == *ob {
            format!("the {who} lies in {them}")
        } else if edge.left_within_right {
            format!("the {who} contains {them}")
        } else {
            format!("the {who} has {them}")
        })
    }

    /// How many geometry columns the table behind `alias` has.
    fn geometry_columns(&self, alias: &str) -> usize {
        self.bases
            .get(alias)
            .and_then(|b| b.split_once('.'))
            .and_then(|(s, t)| self.pack.table(s, t))
            .map(|t| {
                t.columns
                    .iter()
                    .filter(|(_, ty)| matches!(ty, SqlType::Geometry(_)))
                    .count()
            })
            .unwrap_or(0)
    }

    /// Correlations of a subquery with an outer relation that together are a key edge of
    /// several columns (a line's network and start bus equal to a bus's): the filters'
    /// indices, the inner alias, the outer relation's noun and what an inner row is to the
    /// outer one when the edge names it ("end bus").
    fn edge_correlations(&self, q: &SelectPlan) -> Vec<EdgeCorrelation> {
        // (inner, outer) → [(filter index, inner column, outer column)]
        let mut groups: BTreeMap<(String, String), Vec<Equality>> = BTreeMap::new();
        for (k, f) in q.filters.iter().enumerate() {
            let Some(((inner, ic), (outer, oc))) = inner_outer(q, f) else {
                continue;
            };
            groups
                .entry((inner.to_string(), outer.to_string()))
                .or_default()
                .push((k, ic.clone(), oc.clone()));
        }
        let mut out = Vec::new();
        for ((inner, outer), eqs) in groups {
            let (Some(ib), Some(ob)) = (self.bases.get(&inner), self.bases.get(&outer)) else {
                continue;
            };
            let edge = self.pack.data().joins.iter().find(|e| {
                e.kind == JoinKind::Key && e.left_columns.len() > 1 && {
                    let pairs: Vec<(&String, &String)> = if e.left == *ib && e.right == *ob {
                        e.left_columns.iter().zip(&e.right_columns).collect()
                    } else if e.left == *ob && e.right == *ib {
                        e.right_columns.iter().zip(&e.left_columns).collect()
                    } else {
                        return false;
                    };
                    pairs
                        .iter()
                        .all(|(i, o)| eqs.iter().any(|(_, ic, oc)| ic == *i && oc == *o))
                }
            });
            if let Some(e) = edge {
                let cols: Vec<&String> = if e.left == *ib {
                    e.left_columns.iter().collect()
                } else {
                    e.right_columns.iter().collect()
                };
                let ks: Vec<usize> = eqs
                    .iter()
                    .filter(|(_, ic, _)| cols.contains(&ic))
                    .map(|(k, _, _)| *k)
                    .collect();
                let role = e.phrases.as_ref().and_then(|p| {
                    if e.right == *ib {
                        p.forward_noun.clone()
                    } else {
                        p.backward_noun.clone()
                    }
                });
                out.push(EdgeCorrelation {
                    filters: ks,
                    inner,
                    outer_noun: self.noun(&outer),
                    role,
                });
            }
        }
        out
    }

    /// A CTE's or derived table's filters (read as the outer relation's) and its top-N.
    fn source_conditions(&self, r: &Relation) -> (Vec<PlanExpr>, Vec<String>) {
        let mut filters = Vec::new();
        let mut among = Vec::new();
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
            let Some(inner) = body.from.first() else {
                break;
            };
            // A lateral subquery reads by its join phrase, a grouped one by its noun.
            if r.join.as_ref().is_some_and(|j| j.lateral) || self.grouped.contains_key(&r.alias) {
                break;
            }
            for f in &body.filters {
                filters.push(rename(f, &inner.alias, &r.alias));
            }
            if let (Some(n), Some((key, desc))) = (body.limit, body.order_by.first()) {
                let key = rename(key, &inner.alias, &r.alias);
                let (hi, lo) = self.extremes(&key);
                let which = if *desc { hi } else { lo }.unwrap_or("first");
                let key = strip_the(&self.expr(&key)).to_string();
                among.push(if n == 1 {
                    format!("the one with the {which} {key}")
                } else {
                    match which {
                        "highest" => format!("the top {n} by {key}"),
                        _ => format!("the {n} with the {which} {key}"),
                    }
                });
            }
            src = &inner.source;
        }
        (filters, among)
    }

    /// Whether `c` is the condition of `r`'s pack join edge (read by the join phrase).
    fn edge_condition(&self, r: &Relation, c: &PlanExpr) -> bool {
        let Some(e) = self.edge_of(r) else {
            return false;
        };
        match e.kind {
            JoinKind::Key => match c {
                PlanExpr::Compare {
                    op: CompareOp::Eq,
                    left,
                    right,
                } => {
                    matches!(
                        (left.as_ref(), right.as_ref()),
                        (PlanExpr::Column { .. }, PlanExpr::Column { .. })
                    )
                }
                _ => false,
            },
            JoinKind::Spatial => match c {
                PlanExpr::Call { function, args } => {
                    BOOLEAN_FUNCTIONS.contains(&function.as_str())
                        && args.iter().filter(|a| has_column(a)).count() == 2
                }
                // a.id <> b.id of a self-join: "other" says it.
                PlanExpr::Compare {
                    op: CompareOp::NotEq | CompareOp::Lt | CompareOp::Gt,
                    left,
                    right,
                } => matches!(
                    (left.as_ref(), right.as_ref()),
                    (PlanExpr::Column { .. }, PlanExpr::Column { .. })
                ),
                _ => false,
            },
        }
    }

    /// "and their project scenario", "and the census sections … they lie in": the
    /// head, then the joined relation's own conditions, then the tail.
    fn join_phrase(&self, r: &Relation) -> (String, String) {
        let Some(j) = &r.join else {
            return (format!("and {}", self.plural_of(&r.alias)), String::new());
        };
        let optional = if j.left { " (if any)" } else { "" }.to_string();
        if j.on.is_empty() || j.lateral {
            let (filters, among) = self.lateral_reading(r);
            return (
                format!("each with {}{filters}{among}", self.plural_of(&r.alias)),
                optional,
            );
        }
        let Some(e) = self.edge_of(r) else {
            // A table joined to itself on what identifies its entity (a building's id):
            // the same entities, in another version or level ("the same buildings at LOD 1").
            let self_join = j.on.iter().all(|c| {
                matches!(c, PlanExpr::Compare { op: CompareOp::Eq, left, right }
                    if matches!((left.as_ref(), right.as_ref()),
                        (PlanExpr::Column { rel: a, column: ca }, PlanExpr::Column { rel: b, column: cb })
                            if ca == cb && self.bases.get(a) == self.bases.get(b)))
            }) && !j.on.is_empty()
                && r
                    .base
                    .split_once('.')
                    .and_then(|(sc, t)| self.pack.table(sc, t))
                    .is_some_and(|t| {
                        !t.entity.is_empty()
                            && j.on.iter().all(|c| {
                                let mut cols = BTreeSet::new();
                                super::collect_columns(c, &r.alias, &mut cols);
                                cols.iter().all(|x| t.entity.contains(x))
                            })
                    });
            if self_join {
                return (
                    format!("and the same {}", super::plural(self.pack, &r.base)),
                    optional,
                );
            }
            // Equal columns of the same name: "with the same building id".
            let same: Option<Vec<String>> =
                j.on.iter()
                    .map(|c| match c {
                        PlanExpr::Compare {
                            op: CompareOp::Eq,
                            left,
                            right,
                        } => match (left.as_ref(), right.as_ref()) {
                            (
                                PlanExpr::Column { rel: a, column: ca },
                                PlanExpr::Column { column: cb, .. },
                            ) if ca == cb => Some(self.column_phrase(a, ca)),
                            _ => None,
                        },
                        _ => None,
                    })
                    .collect();
            let noun = self.rows_noun(r);
            if let Some(same) = same.filter(|s| !s.is_empty()) {
                return (
                    format!("and the {noun}"),
                    format!(" with the same {}{optional}", join_list(&same, true)),
                );
            }
            let conds: Vec<String> = j.on.iter().map(|c| self.condition(c)).collect();
            return (
                format!("and the {noun}"),
                format!(" for which {}{optional}", conds.join(" and ")),
            );
        };
        // Read from the earlier relation to r (a self-join reads forward).
        let forward = e.right == r.base;
        match e.kind {
            // A grouped CTE reads as the rows it groups, with their own conditions.
            JoinKind::Key if self.grouped.contains_key(&r.alias) => {
                (format!("and their {}", self.rows_noun(r)), optional)
            }
            JoinKind::Key => {
                if let Some(p) = &e.phrases {
                    let p = if forward { &p.forward } else { &p.backward };
                    return (p.clone(), optional);
                }
                if self.join_is_to_one(r) {
                    (format!("and their {}", self.noun(&r.alias)), optional)
                } else {
                    (format!("and their {}", self.plural_of(&r.alias)), optional)
                }
            }
            JoinKind::Spatial => {
                let nouns = self.rows_noun(r);
                let pred = j.on.iter().find_map(|c| match c {
                    PlanExpr::Call { function, args }
                        if BOOLEAN_FUNCTIONS.contains(&function.as_str()) =>
                    {
                        Some((function.as_str(), args))
                    }
                    _ => None,
                });
                let Some((f, args)) = pred else {
                    return (format!("and the {nouns}"), format!(" nearby{optional}"));
                };
                // Read the predicate from r's side.
                let r_first = args
                    .first()
                    .and_then(bare_column)
                    .is_some_and(|(rel, _)| rel == r.alias);
                // Read from the earlier rows: "buildings and the census sections they
                // lie in", "and the buildings within 80 m".
                let f = if r_first { converse(f) } else { f };
                if f == "ST_DWithin" {
                    let d = args.get(2).map(|d| self.expr(d)).unwrap_or_default();
                    return (
                        format!("and the {nouns}"),
                        format!(" within {d} m{optional}"),
                    );
                }
                (
                    format!("and the {nouns}"),
                    format!(" they {}{optional}", verb(f)),
                )
            }
        }
    }

    /// A LATERAL subquery's own filters and its top-N, read after its noun.
    fn lateral_reading(&self, r: &Relation) -> (String, String) {
        let Source::Derived { query } = &r.source else {
            return (String::new(), String::new());
        };
        let mut mods = Mods::default();
        let mut same = Vec::new();
        for f in &query.filters {
            match self.attach(f) {
                Attach::Rel(_, m) => mods.push(m),
                Attach::Same(s) => same.push(s),
                Attach::Clause(s) => mods.with.push(format!("a condition: {s}")),
            }
        }
        let mut text = mods.text();
        if !same.is_empty() {
            text.push_str(&format!(" of the same {}", same_entities(&same)));
        }
        let among = match (query.limit, query.order_by.first()) {
            (Some(n), Some((key, desc))) => {
                let nearest = matches!(
                    key,
                    PlanExpr::Arith {
                        op: crate::plan::ArithOp::Distance,
                        ..
                    }
                ) || matches!(key, PlanExpr::Call { function, .. } if function == "ST_Distance");
                if nearest && !desc {
                    let target = match key {
                        PlanExpr::Arith { right, .. } => self.expr(right),
                        PlanExpr::Call { args, .. } => {
                            args.get(1).map(|a| self.expr(a)).unwrap_or_default()
                        }
                        _ => String::new(),
                    };
                    if n == 1 {
                        format!(", the nearest one to {target}")
                    } else {
                        format!(", the {n} nearest to {target}")
                    }
                } else {
                    let key = strip_the(&self.expr(key)).to_string();
                    format!(
                        ", the {n} with the {} {key}",
                        if *desc { "highest" } else { "lowest" }
                    )
                }
            }
            _ => String::new(),
        };
        (text, among)
    }

    /// Where a conjunct reads.
    fn attach(&self, e: &PlanExpr) -> Attach {
        match e {
            PlanExpr::Compare { op, left, right } => {
                if let (
                    PlanExpr::Column { rel: a, column: ca },
                    PlanExpr::Column { rel: b, column: cb },
                ) = (left.as_ref(), right.as_ref())
                {
                    if ca == cb && a != b && *op == CompareOp::Eq {
                        return Attach::Same(self.column_phrase(a, ca));
                    }
                }
                // A flag reads as its clause ("the bus is in service").
                if let Some(c) = self.flag_clause(e) {
                    return Attach::Clause(c);
                }
                let literal_side = !has_column(right) && right.subquery().is_none();
                if literal_side {
                    if let (
                        Some(rel),
                        PlanExpr::Column { column, .. },
                        PlanExpr::Literal { value },
                    ) = (single_rel(left), left.as_ref(), right.as_ref())
                    {
                        if let Some(m) = self.date_bound(&rel, column, *op, value) {
                            return Attach::Rel(rel, m);
                        }
                        if *op == CompareOp::Eq {
                            let key = self
                                .bases
                                .get(&rel)
                                .map(|b| format!("{b}.{column}"))
                                .unwrap_or_default();
                            if let Some(t) = self.pack.data().lexicon.filters.get(&key) {
                                return Attach::Rel(
                                    rel,
                                    Modifier::Phrase(t.replace("{value}", &lit(value))),
                                );
                            }
                        }
                    }
                    if let Some(rel) = single_rel(left) {
                        let (what, unit) = match left.as_ref() {
                            PlanExpr::Column { rel, column } => self.unit_after_value(rel, column),
                            other => (strip_the(&self.expr(other)).to_string(), String::new()),
                        };
                        return Attach::Rel(
                            rel,
                            Modifier::With(format!(
                                "{what}{} {}{unit}",
                                with_words(*op),
                                self.expr(right)
                            )),
                        );
                    }
                }
                Attach::Clause(self.condition(e))
            }
            PlanExpr::Call { function, args }
                if BOOLEAN_FUNCTIONS.contains(&function.as_str()) && args.len() >= 2 =>
            {
                let cols: Vec<usize> = (0..args.len().min(2))
                    .filter(|i| has_column(&args[*i]))
                    .collect();
                if let [i] = cols.as_slice() {
                    if let Some((rel, column)) = bare_column(&args[*i]) {
                        let f = if *i == 0 {
                            function.as_str()
                        } else {
                            converse(function)
                        };
                        let other = self.expr(&args[1 - *i]);
                        let what = if self.one_shape(rel) {
                            String::new()
                        } else {
                            format!("whose {} is ", self.column_phrase(rel, column))
                        };
                        let pred = if f == "ST_DWithin" {
                            let d = args.get(2).map(|d| self.expr(d)).unwrap_or_default();
                            format!("within {d} m of {other}")
                        } else {
                            format!("{} {other}", participle(f))
                        };
                        return Attach::Rel(
                            rel.to_string(),
                            Modifier::Spatial(format!("{what}{pred}")),
                        );
                    }
                }
                Attach::Clause(self.condition(e))
            }
            PlanExpr::IsNull { expr, negated } => match single_rel(expr) {
                Some(rel) => Attach::Rel(
                    rel,
                    Modifier::With(format!(
                        "{} {}",
                        if *negated {
                            "a recorded"
                        } else {
                            "no recorded"
                        },
                        strip_the(&self.expr(expr))
                    )),
                ),
                None => Attach::Clause(self.condition(e)),
            },
            other => Attach::Clause(self.condition(other)),
        }
    }

    /// "the bus is in service" for `in_service = TRUE` or the bare flag.
    fn flag_clause(&self, e: &PlanExpr) -> Option<String> {
        let (rel, column, set) = match e {
            PlanExpr::Compare {
                op: CompareOp::Eq,
                left,
                right,
            } => match (left.as_ref(), right.as_ref()) {
                (
                    PlanExpr::Column { rel, column },
                    PlanExpr::Literal {
                        value: Literal::Bool(b),
                    },
                ) => (rel, column, *b),
                _ => return None,
            },
            PlanExpr::Column { rel, column } => (rel, column, true),
            _ => return None,
        };
        let phrase = self.column_phrase(rel, column);
        let clause = phrase.strip_prefix("whether ")?;
        Some(match (set, clause.split_once(" is ")) {
            (true, _) => clause.to_string(),
            (false, Some((who, what))) => format!("{who} is not {what}"),
            (false, None) => format!("not {clause}"),
        })
    }

    /// A condition as a clause.
    pub(super) fn condition(&self, e: &PlanExpr) -> String {
        if let Some(c) = self.flag_clause(e) {
            return c;
        }
        match e {
            PlanExpr::InSubquery {
                expr,
                query,
                negated,
            } => {
                let Some(r) = query.from.first() else {
                    return String::new();
                };
                if let Some(c) = self.key_in(expr, query, *negated) {
                    return c;
                }
                let col = query
                    .items
                    .first()
                    .map(|i| strip_the(&self.expr(&i.expr)).to_string())
                    .unwrap_or_default();
                format!(
                    "{} is {}among the {col} values of {}",
                    self.expr(expr),
                    if *negated { "not " } else { "" },
                    self.scope(query, &self.plural_of(&r.alias))
                )
            }
            PlanExpr::Exists { query, negated } => {
                let Some(r) = query.from.first() else {
                    return String::new();
                };
                if let Some(c) = self.spatial_exists(query, *negated) {
                    return c;
                }
                // What the row is to the outer one, when its edge names it ("an end bus
                // of the grid line").
                let noun = self
                    .edge_correlations(query)
                    .into_iter()
                    .find(|e| e.inner == r.alias)
                    .and_then(|e| e.role)
                    .unwrap_or_else(|| self.noun(&r.alias));
                format!(
                    "there is {} {}",
                    article(&noun, *negated),
                    self.scope(query, &noun)
                )
            }
            PlanExpr::Compare { op, left, right } => {
                if let (
                    PlanExpr::Column { rel: a, column: ca },
                    PlanExpr::Column { rel: b, column: cb },
                ) = (left.as_ref(), right.as_ref())
                {
                    if ca == cb && *op == CompareOp::NotEq {
                        return format!(
                            "the {} is a different one from the {}",
                            self.noun(a),
                            self.noun(b)
                        );
                    }
                }
                // "the length is above the average over all lines of …": the compared
                // value is not said twice.
                if let PlanExpr::Scalar { query } = right.as_ref() {
                    if let (
                        Some(PlanExpr::Aggregate {
                            function,
                            arg: Some(arg),
                            ..
                        }),
                        Some(r),
                    ) = (query.items.first().map(|i| &i.expr), query.from.first())
                    {
                        let same = match (left.as_ref(), arg.as_ref()) {
                            (
                                PlanExpr::Column { rel: a, column: ca },
                                PlanExpr::Column { rel: b, column: cb },
                            ) => ca == cb && self.bases.get(a) == self.bases.get(b),
                            _ => false,
                        };
                        let word = match function.to_lowercase().as_str() {
                            "avg" => Some("average"),
                            "max" => Some("highest"),
                            "min" => Some("lowest"),
                            _ => None,
                        };
                        if let (true, Some(w)) = (same, word) {
                            return format!(
                                "{} {} the {w} over all {}",
                                self.expr(left),
                                op_words(*op),
                                self.scope(query, &self.plural_of(&r.alias))
                            );
                        }
                    }
                }
                format!("{} {} {}", self.expr(left), op_words(*op), self.expr(right))
            }
            PlanExpr::Column { .. } => format!("{} holds", self.expr(e)),
            PlanExpr::Logic { op, args } => {
                let parts: Vec<String> = args.iter().map(|a| self.condition(a)).collect();
                match op {
                    LogicOp::And => parts.join(" and "),
                    LogicOp::Or if parts.len() > 1 => format!("either {}", parts.join(" or ")),
                    LogicOp::Or => parts.join(" or "),
                }
            }
            PlanExpr::Not { expr } => {
                let inner = self.condition(expr);
                match expr.as_ref() {
                    PlanExpr::Call { function, .. }
                        if BOOLEAN_FUNCTIONS.contains(&function.as_str()) =>
                    {
                        if inner.contains(" is ") {
                            inner.replacen(" is ", " is not ", 1)
                        } else if inner.contains(" lies ") {
                            inner.replacen(" lies ", " does not lie ", 1)
                        } else {
                            format!("not ({inner})")
                        }
                    }
                    _ => format!("not ({inner})"),
                }
            }
            PlanExpr::IsNull { expr, negated } => format!(
                "{} is {}",
                self.expr(expr),
                if *negated { "recorded" } else { "not recorded" }
            ),
            other => self.expr(other),
        }
    }
}

/// `e` with the columns of relation `from` read as relation `to`'s.
pub(super) fn rename(e: &PlanExpr, from: &str, to: &str) -> PlanExpr {
    let mut out = e.clone();
    fn walk(e: &mut PlanExpr, from: &str, to: &str) {
        if let PlanExpr::Column { rel, .. } = e {
            if rel == from {
                *rel = to.to_string();
            }
        }
        if e.subquery().is_none() {
            for c in e.children_mut() {
                walk(c, from, to);
            }
        }
    }
    walk(&mut out, from, to);
    out
}

/// What equal identifiers correlate, said as the things they identify: "the same project
/// and scenario", not "the same project id and scenario id".
fn same_entities(columns: &[String]) -> String {
    let things: Vec<String> = columns
        .iter()
        .map(|c| {
            c.strip_suffix(" id")
                .or_else(|| c.strip_suffix(" code"))
                .filter(|t| !t.is_empty())
                .unwrap_or(c)
                .to_string()
        })
        .collect();
    join_list(&things, true)
}
