//! Questions from plans. The question is realised from the same plan tree the SQL is built
//! from, in the pack's words: it names the rows asked about once, with the conditions that
//! select them attached to their noun ("grid lines of network 'net_milano' with maximum
//! loading above 80"), joins by what they mean ("with their project scenario", "with the
//! census sections they lie in"), never by their keys, then the grouping, the order
//! and the limit. Every literal of the SQL is stated, save the pack's default SRID, which a
//! coordinate pair implies, and the 100 of a percentage.
//!
//! The opening comes from the pack's lexicon for the row's `question_tone`, chosen by the
//! plan's phrasing draw, so openings vary without changing what is asked.

mod conditions;
mod phrases;

use std::collections::{BTreeMap, BTreeSet};

use crate::features::QuestionTone;
use crate::pack::{JoinKind, SchemaPack};
use crate::plan::{CompareOp, PlanExpr, QueryPlan, Relation, SelectPlan, Source};
use crate::GenerateError;
use phrases::BOOLEAN_FUNCTIONS;

/// What a question is realised from: the pack's words and the plan's relations.
struct Ctx<'p> {
    pack: &'p SchemaPack,
    /// alias → base table key.
    bases: BTreeMap<String, String>,
    /// alias → noun for the relation ("building", "other building").
    nouns: BTreeMap<String, String>,
    /// CTE name → its body.
    ctes: BTreeMap<String, &'p SelectPlan>,
    /// The main query (output aliases in ORDER BY read as their expressions).
    main: &'p SelectPlan,
    /// (alias, column) pairs the question states: a column phrase two of them share
    /// names its relation.
    used: BTreeSet<(String, String)>,
    /// SRIDs some area of the pack measures in (metres).
    metric_srids: BTreeSet<String>,
    /// The pack's default SRID: coordinates in it need no label.
    default_srid: Option<String>,
    /// alias → the grouped CTE or derived table it reads (its columns are the body's
    /// outputs: totals, averages per group).
    grouped: BTreeMap<String, &'p SelectPlan>,
    /// Set while a CTE output is being read as its expression.
    resolving: std::cell::Cell<u32>,
    /// alias → the CTE or derived table it reads.
    bodies: BTreeMap<String, &'p SelectPlan>,
    /// Depth of arithmetic being phrased (a measurement there names its geometry).
    in_arith: std::cell::Cell<u32>,
    /// A setting every relation of the main query shares ("in scenario 'baseline'", "at
    /// LOD 2"): the question opens with it instead of narrating it after the joins.
    setting: std::cell::RefCell<Vec<String>>,
    /// A phrase the main query's outputs would say twice.
    ambiguous: std::cell::RefCell<Option<String>>,
}

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

fn strip_the(s: &str) -> &str {
    s.strip_prefix("the ").unwrap_or(s)
}

/// "a, b and c"; items after the first lose a leading "the " when `drop_the`.
fn join_list(items: &[String], drop_the: bool) -> String {
    let items: Vec<&str> = items
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if drop_the && i > 0 {
                strip_the(s)
            } else {
                s.as_str()
            }
        })
        .collect();
    match items.len() {
        0 => String::new(),
        1 => items[0].to_string(),
        n => format!("{} and {}", items[..n - 1].join(", "), items[n - 1]),
    }
}

/// Built-in English openings per tone, for a pack without its own. Each reads in its tone
/// ([`QuestionTone::of`]).
const OPENINGS: &[(&str, &[&str])] = &[
    (
        "DIRECT",
        &[
            "List {body}.",
            "Return {body}.",
            "Retrieve {body}.",
            "Get {body}.",
            "Find {body}.",
            "Give {body}.",
        ],
    ),
    (
        "INTERROGATIVE",
        &[
            "What {be} {body}?",
            "Can you list {body}?",
            "Could you give me {body}?",
        ],
    ),
    (
        "DESCRIPTIVE",
        &[
            "Show me {body}.",
            "I need {body}.",
            "I want {body}.",
            "Provide {body}.",
        ],
    ),
    (
        "ANALYTICAL",
        &["Compute {body}.", "Calculate {body}.", "Determine {body}."],
    ),
];

impl<'p> Ctx<'p> {
    fn collect(&mut self, p: &'p SelectPlan) {
        for r in &p.from {
            self.bases.insert(r.alias.clone(), r.base.clone());
            let body = match &r.source {
                Source::Cte { name } => self.ctes.get(name).copied(),
                Source::Derived { query } => Some(query.as_ref()),
                Source::Table { .. } => None,
            };
            if let Some(b) = body {
                self.bodies.insert(r.alias.clone(), b);
                if is_grouped(b) {
                    self.grouped.insert(r.alias.clone(), b);
                }
            }
            if let Source::Derived { query } = &r.source {
                self.collect(query);
            }
        }
        let exprs = p
            .filters
            .iter()
            .chain(p.items.iter().map(|i| &i.expr))
            .chain(&p.group_by)
            .chain(&p.having)
            .chain(p.order_by.iter().map(|(e, _)| e));
        for e in exprs {
            self.collect_expr(e);
        }
    }

    fn collect_expr(&mut self, e: &'p PlanExpr) {
        match e {
            PlanExpr::Column { rel, column } => {
                self.used.insert((rel.clone(), column.clone()));
            }
            // A correlation reads "of the same <column>": no relation to tell apart.
            PlanExpr::Compare { left, right, .. }
                if matches!(
                    (left.as_ref(), right.as_ref()),
                    (PlanExpr::Column { column: a, .. }, PlanExpr::Column { column: b, .. }) if a == b
                ) => {}
            _ => match e.subquery() {
                Some(q) => {
                    if let PlanExpr::InSubquery { expr, .. } = e {
                        self.collect_expr(expr);
                    }
                    self.collect(q)
                }
                None => e.children().into_iter().for_each(|c| self.collect_expr(c)),
            },
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

    fn plural_of(&self, alias: &str) -> String {
        let base = self.bases.get(alias).map(|b| plural(self.pack, b));
        match self.nouns.get(alias) {
            Some(n) if n.starts_with("other ") => {
                format!("other {}", base.unwrap_or_else(|| alias.to_string()))
            }
            _ => base.unwrap_or_else(|| alias.to_string()),
        }
    }

    /// The lexicon's phrase for a column, without its parenthesis.
    fn column_phrase(&self, rel: &str, column: &str) -> String {
        self.bases
            .get(rel)
            .and_then(|b| {
                self.pack
                    .data()
                    .lexicon
                    .columns
                    .get(&format!("{b}.{column}"))
            })
            .map(|p| p.split(" (").next().unwrap_or(p).to_string())
            .unwrap_or_else(|| column.replace('_', " "))
    }

    /// "the height in metres", or "the building id of the other building" when another
    /// relation's stated column reads the same.
    fn column(&self, rel: &str, column: &str) -> String {
        // A CTE's or derived table's output reads as what it computes.
        // (Inner and outer aliases may share a name: the lookup goes one level deep.)
        if let Some(body) = self.bodies.get(rel).filter(|_| self.resolving.get() == 0) {
            let item = body.items.iter().find(|i| match (&i.alias, &i.expr) {
                (Some(a), _) => a == column,
                (None, PlanExpr::Column { column: c, .. }) => c == column,
                _ => false,
            });
            if let Some(i) = item {
                let plain = matches!(&i.expr, PlanExpr::Column { column: c, .. } if c == column);
                if self.grouped.contains_key(rel) || !plain {
                    self.resolving.set(1);
                    let phrase = self.expr(&i.expr);
                    self.resolving.set(0);
                    return phrase;
                }
            }
        }
        let p = self.column_phrase(rel, column);
        let in_main = |a: &str| self.main.from.iter().any(|r| r.alias == a);
        let ambiguous = self.used.iter().any(|(a, c)| {
            a != rel
                && !self.bodies.contains_key(a)
                && !self.bodies.contains_key(rel)
                && (self.bases.get(a) != self.bases.get(rel) || (in_main(a) && in_main(rel)))
                && self.column_phrase(a, c) == p
        });
        if ambiguous {
            format!("the {p} of the {}", self.noun(rel))
        } else {
            format!("the {p}")
        }
    }

    /// The pack's table a relation reads.
    fn table_of(&self, alias: &str) -> Option<&'p crate::pack::TableInfo> {
        let (s, n) = self.bases.get(alias)?.split_once('.')?;
        self.pack.table(s, n)
    }

    /// The role of a relation's column.
    fn role_of(&self, alias: &str, column: &str) -> Option<crate::pack::ColumnRole> {
        self.table_of(alias).and_then(|t| t.role(column))
    }

    /// Whether `column` identifies a row of `alias`'s table (its entity or primary key).
    /// Whether `column` is what `alias`'s table's rows are records of, not its key (a
    /// property record's building id).
    fn entity_not_key(&self, alias: &str, column: &str) -> bool {
        self.table_of(alias)
            .is_some_and(|t| t.entity == [column.to_string()] && t.primary_key != t.entity)
    }

    /// The plural of a noun: the pack's, when a table's rows are called so ("bus" →
    /// "buses"), else English's regular one.
    fn plural_word(&self, noun: &str) -> String {
        if let Some(n) = self
            .pack
            .data()
            .lexicon
            .tables
            .values()
            .find(|n| n.singular == noun)
        {
            return n.plural.clone();
        }
        if noun.ends_with('s') || noun.ends_with('x') || noun.ends_with("ch") {
            format!("{noun}es")
        } else {
            format!("{noun}s")
        }
    }

    fn identifies(&self, alias: &str, column: &str) -> bool {
        self.table_of(alias).is_some_and(|t| {
            t.entity == [column.to_string()] || t.primary_key == [column.to_string()]
        })
    }

    /// Whether the relation's table has one geometry or raster column (it then needs no
    /// naming in a spatial condition).
    fn one_shape(&self, alias: &str) -> bool {
        self.table_of(alias)
            .is_some_and(|t| t.roles.iter().filter(|r| is_shape(**r)).count() == 1)
    }

    /// Whether a relation other than `rel` has a geometry or raster the question states.
    fn other_shapes(&self, rel: &str) -> bool {
        self.used
            .iter()
            .any(|(a, c)| a != rel && self.role_of(a, c).is_some_and(is_shape))
    }

    /// The rows a `COUNT(*)` of the main query counts.
    fn counted(&self, q: &SelectPlan) -> String {
        let first = &q.from[0];
        let mut many: Vec<&Relation> = Vec::new();
        for r in q.from.iter().skip(1) {
            if !self.join_is_to_one(r) {
                many.push(r);
            }
        }
        match many.as_slice() {
            [] => self.plural_of(&first.alias),
            [r] if self.joined_is_one_to_many(r) => self.plural_of(&r.alias),
            [r] => format!("{}–{} pairs", self.noun(&first.alias), self.noun(&r.alias)),
            _ => format!("matching {} combinations", self.noun(&first.alias)),
        }
    }

    /// The pack join edge `r`'s join realises: the plan's, else the one whose tables and
    /// columns its ON condition names (a lifted seed query's joins carry no edge).
    fn edge_of(&self, r: &Relation) -> Option<&'p crate::pack::JoinEdge> {
        let j = r.join.as_ref()?;
        if let Some(i) = j.edge {
            return self.pack.data().joins.get(i);
        }
        // Key pairs per relation joined to (an ON may tie r to two earlier relations: a
        // building by its id, a property record by project and scenario).
        let mut pairs_by: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
        let mut spatial: Option<String> = None;
        for c in &j.on {
            match c {
                PlanExpr::Compare {
                    op: CompareOp::Eq,
                    left,
                    right,
                } => {
                    if let (
                        PlanExpr::Column { rel: a, column: ca },
                        PlanExpr::Column { rel: b, column: cb },
                    ) = (left.as_ref(), right.as_ref())
                    {
                        let (mine, theirs, o) = if *a == r.alias {
                            (ca, cb, b)
                        } else if *b == r.alias {
                            (cb, ca, a)
                        } else {
                            continue;
                        };
                        pairs_by
                            .entry(o.clone())
                            .or_default()
                            .insert((mine.clone(), theirs.clone()));
                    }
                }
                PlanExpr::Call { function, args }
                    if BOOLEAN_FUNCTIONS.contains(&function.as_str()) =>
                {
                    for a in args {
                        let mut cols = BTreeSet::new();
                        for alias in self.bases.keys() {
                            if alias != &r.alias {
                                collect_columns(a, alias, &mut cols);
                                if !cols.is_empty() {
                                    spatial = Some(alias.clone());
                                    break;
                                }
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        let edge_to = |other: &String, pairs: Option<&BTreeSet<(String, String)>>| {
            let other_base = self.bases.get(other)?;
            self.pack.data().joins.iter().find(|e| {
                let tables = (e.left == *other_base && e.right == r.base)
                    || (e.right == *other_base && e.left == r.base);
                if !tables {
                    return false;
                }
                match (e.kind, pairs) {
                    (JoinKind::Spatial, None) => true,
                    (JoinKind::Key, Some(pairs)) => {
                        let fwd: BTreeSet<(String, String)> = e
                            .right_columns
                            .iter()
                            .cloned()
                            .zip(e.left_columns.iter().cloned())
                            .collect();
                        let back: BTreeSet<(String, String)> = e
                            .left_columns
                            .iter()
                            .cloned()
                            .zip(e.right_columns.iter().cloned())
                            .collect();
                        !pairs.is_empty() && (*pairs == fwd || *pairs == back)
                    }
                    _ => false,
                }
            })
        };
        if let Some(o) = &spatial {
            if let Some(e) = edge_to(o, None) {
                return Some(e);
            }
        }
        // The relation tied by the most key pairs first.
        let mut cands: Vec<(&String, &BTreeSet<(String, String)>)> = pairs_by.iter().collect();
        cands.sort_by_key(|(_, p)| std::cmp::Reverse(p.len()));
        cands.into_iter().find_map(|(o, p)| edge_to(o, Some(p)))
    }

    /// The columns of `r` its join's ON reads.
    fn on_columns(&self, r: &Relation) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        if let Some(j) = &r.join {
            for c in &j.on {
                collect_columns(c, &r.alias, &mut out);
            }
        }
        out
    }

    /// Whether each earlier row meets at most one row of `r` (a key join onto `r`'s key).
    fn join_is_to_one(&self, r: &Relation) -> bool {
        let Some(e) = self.edge_of(r) else {
            return false;
        };
        if e.kind == JoinKind::Spatial {
            let c = e.cardinality_in_version.or(e.cardinality);
            let forward = e.right == r.base;
            return matches!(
                (c, forward),
                (Some(crate::pack::Cardinality::ManyToOne), true)
                    | (Some(crate::pack::Cardinality::OneToMany), false)
                    | (Some(crate::pack::Cardinality::OneToOne), _)
            );
        }
        self.pack.covers_key(&r.base, &self.on_columns(r))
    }

    /// Whether `r` only adds attributes to the row it joins (a building's property record
    /// of the pinned project and scenario, a line's project scenario): an inner key join
    /// without phrases of its own onto `r`'s key, the columns the query pins counted. Such
    /// a relation is not narrated ("buildings with their property records"): its columns
    /// and conditions read as the joined row's own.
    pub(super) fn folds_into_joined(&self, q: &SelectPlan, r: &Relation) -> bool {
        let Some(j) = &r.join else {
            return false;
        };
        if j.left || j.lateral || j.on.is_empty() || self.grouped.contains_key(&r.alias) {
            return false;
        }
        let Some(e) = self.edge_of(r) else {
            return false;
        };
        if e.kind != JoinKind::Key
            || e.phrases
                .as_ref()
                .is_some_and(|p| !p.silent_without_conditions)
        {
            return false;
        }
        // Another relation of the same table would lose what tells the two apart.
        if q.from.iter().filter(|x| x.base == r.base).count() > 1 {
            return false;
        }
        // A condition on its own attributes (a date, a threshold) would read as the
        // joined row's: only pins (`scenario_id = 'baseline'`) fold along.
        let pin = |c: &PlanExpr| {
            matches!(c, PlanExpr::Compare { op: CompareOp::Eq, left, right }
                if matches!((left.as_ref(), right.as_ref()),
                    (PlanExpr::Column { .. }, PlanExpr::Literal { .. })))
        };
        if q.filters.iter().any(|c| {
            let mut cols = BTreeSet::new();
            collect_columns(c, &r.alias, &mut cols);
            !cols.is_empty() && !pin(c)
        }) {
            return false;
        }
        let mut cols = self.on_columns(r);
        for c in q.filters.iter().chain(&j.on) {
            if let PlanExpr::Compare {
                op: CompareOp::Eq,
                left,
                right,
            } = c
            {
                if let (PlanExpr::Column { rel, column }, PlanExpr::Literal { .. }) =
                    (left.as_ref(), right.as_ref())
                {
                    if *rel == r.alias {
                        cols.insert(column.clone());
                    }
                }
            }
        }
        self.pack.covers_key(&r.base, &cols)
    }

    /// Whether `r`'s rows each meet one earlier row (counting the pairs counts `r`'s rows).
    fn joined_is_one_to_many(&self, r: &Relation) -> bool {
        let Some(e) = self.edge_of(r) else {
            return false;
        };
        let c = e.cardinality_in_version.or(e.cardinality);
        let forward = e.right == r.base;
        match e.kind {
            JoinKind::Spatial => matches!(
                (c, forward),
                (Some(crate::pack::Cardinality::OneToMany), true)
                    | (Some(crate::pack::Cardinality::ManyToOne), false)
            ),
            JoinKind::Key => {
                let other = if forward { &e.left } else { &e.right };
                let cols: BTreeSet<String> = if forward {
                    e.left_columns.iter().cloned().collect()
                } else {
                    e.right_columns.iter().cloned().collect()
                };
                self.pack.covers_key(other, &cols)
            }
        }
    }
}

/// The outputs as a list; when several are rounded alike and all are rounded, the rounding
/// is said once ("the area and perimeter, rounded to 2 decimals").
fn list_outputs(phrases: &[String]) -> String {
    let merged = merge_pairs(phrases);
    let phrases = merged.as_slice();
    let suffix = |p: &str| rounding_suffix(p).map(str::to_string);
    let suffixes: Vec<Option<String>> = phrases.iter().map(|p| suffix(p)).collect();
    if phrases.len() >= 2 && suffixes.iter().all(|s| s.is_some() && *s == suffixes[0]) {
        let s = suffixes[0].clone().unwrap_or_default();
        let stripped: Vec<String> = phrases
            .iter()
            .map(|p| p[..p.len() - s.len()].to_string())
            .collect();
        let digits = s.trim_start_matches(" (").trim_end_matches(')');
        return format!("{}, rounded to {digits}", join_list(&stripped, true));
    }
    join_list(phrases, true)
}

/// Outputs said as one: "the X coordinate of the centroid" and "the Y coordinate of the
/// centroid" read "the X and Y coordinates of the centroid"; a pair's two values of one
/// column read "both building ids". In the place of the first.
fn merge_pairs(phrases: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut taken = vec![false; phrases.len()];
    for (i, p) in phrases.iter().enumerate() {
        if taken[i] {
            continue;
        }
        let pair = ["X", "Y"].iter().zip(["Y", "X"]).find_map(|(a, b)| {
            let (head, of) = p.split_once(&format!("{a} coordinate of "))?;
            let twin = format!("{head}{b} coordinate of {of}");
            let j = (i + 1..phrases.len()).find(|&j| !taken[j] && phrases[j] == twin)?;
            Some((j, format!("{head}{a} and {b} coordinates of {of}")))
        });
        // "the building id of the building" and "the building id of the other building"
        // read "both building ids".
        let pair = pair.or_else(|| {
            let (head, noun) = p.rsplit_once(" of the ")?;
            // Only a plain column of each ("the building id"): a measurement keeps its
            // geometry and rounding said.
            if noun.starts_with("other ")
                || head.contains(" of ")
                || !noun.chars().all(|c| c.is_alphabetic() || c == ' ')
            {
                return None;
            }
            let twin = format!("{head} of the other {noun}");
            let j = (i + 1..phrases.len()).find(|&j| !taken[j] && phrases[j] == twin)?;
            // "both building ids"
            let bare = strip_the(head);
            let both = if bare.ends_with('s') {
                format!("both {noun}s' {bare}")
            } else {
                format!("both {bare}s")
            };
            Some((j, both))
        });
        match pair {
            Some((j, both)) => {
                taken[j] = true;
                out.push(both);
            }
            None => out.push(p.clone()),
        }
    }
    out
}

/// The rounding a phrase ends with (" (2 decimals)"), if any.
fn rounding_suffix(p: &str) -> Option<&str> {
    let i = p.rfind(" (")?;
    let s = &p[i..];
    let digits = s
        .trim_start_matches(" (")
        .trim_end_matches(" decimals)")
        .trim_end_matches(" decimal)");
    ((s.ends_with(" decimals)") || s.ends_with(" decimal)"))
        && !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit()))
    .then_some(s)
}

/// Geometries and rasters: what spatial functions read.
fn is_shape(r: crate::pack::ColumnRole) -> bool {
    matches!(
        r,
        crate::pack::ColumnRole::Geometry | crate::pack::ColumnRole::Raster
    )
}

/// Whether a CTE or derived table aggregates (its rows are groups, not table rows).
fn is_grouped(b: &SelectPlan) -> bool {
    fn has_aggregate(e: &PlanExpr) -> bool {
        matches!(e, PlanExpr::Aggregate { .. }) || e.children().into_iter().any(has_aggregate)
    }
    !b.group_by.is_empty() || b.items.iter().any(|i| has_aggregate(&i.expr))
}

fn collect_columns(e: &PlanExpr, alias: &str, out: &mut BTreeSet<String>) {
    if let PlanExpr::Column { rel, column } = e {
        if rel == alias {
            out.insert(column.clone());
        }
    }
    for c in e.children() {
        collect_columns(c, alias, out);
    }
}

/// The relations an expression reads.
fn collect_rels(e: &PlanExpr, out: &mut BTreeSet<String>) {
    if let PlanExpr::Column { rel, .. } = e {
        out.insert(rel.clone());
    }
    for c in e.children() {
        collect_rels(c, out);
    }
}

/// Phrase the question for a plan.
pub fn phrase_question(pack: &SchemaPack, plan: &QueryPlan) -> Result<String, GenerateError> {
    if plan.main.from.is_empty() {
        return Err(GenerateError::InvalidPlan("no FROM".into()));
    }
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
        used: BTreeSet::new(),
        metric_srids: pack
            .data()
            .areas
            .iter()
            .map(|a| a.metric_srid.to_string())
            .collect(),
        default_srid: pack.data().default_srid.map(|s| s.to_string()),
        in_arith: std::cell::Cell::new(0),
        setting: std::cell::RefCell::new(Vec::new()),
        ambiguous: std::cell::RefCell::new(None),
        grouped: BTreeMap::new(),
        bodies: BTreeMap::new(),
        resolving: std::cell::Cell::new(0),
    };
    for c in &plan.ctes {
        ctx.collect(&c.body);
    }
    ctx.collect(&plan.main);
    // A CTE's inner alias reads as the outer relation: its columns are stated once.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for r in &plan.main.from {
        let n = seen.entry(r.base.clone()).or_default();
        *n += 1;
        let base = singular(pack, &r.base);
        // A row in a role the pack names ("start bus", "end bus") is called by it.
        let role = ctx.edge_of(r).and_then(|e| {
            let p = e.phrases.as_ref()?;
            if e.right == r.base {
                p.forward_noun.clone()
            } else {
                p.backward_noun.clone()
            }
        });
        let noun = match (role, *n) {
            (Some(role), _) => {
                *n -= 1;
                role
            }
            (None, 1) => base,
            (None, 2) => format!("other {base}"),
            (None, k) => format!("{base} no. {k}"),
        };
        ctx.nouns.insert(r.alias.clone(), noun);
    }
    let tone = &plan.requested.question_tone;
    let mut parts = ctx.body(&plan.main);
    let key = crate::features::Label::as_str(tone);
    // A request that computes nothing (plain columns) may have openings of its own
    // ("ANALYTICAL/plain": no "Calculate the file name").
    let openings = &pack.data().lexicon.openings;
    let own = parts
        .plain
        .then(|| openings.get(&format!("{key}/plain")))
        .flatten()
        .or_else(|| openings.get(key));
    let builtin: Vec<String> = OPENINGS
        .iter()
        .find(|(t, _)| *t == key)
        .or_else(|| OPENINGS.first())
        .map(|(_, o)| o.iter().map(|s| s.to_string()).collect())
        .unwrap_or_default();
    let mut options: Vec<String> = own
        .filter(|o| !o.is_empty())
        .unwrap_or(&builtin)
        .iter()
        // A count reads "the number of <rows>": no template that splits rows and outputs.
        .filter(|t| !parts.count || !t.contains("{rows}"))
        .cloned()
        .collect();
    if parts.how_many && *tone == QuestionTone::Interrogative {
        options.push("How many {rows} are there{rest}?".into());
        options.push("How many {rows} are there{rest}?".into());
    }
    if options.is_empty() {
        options.push("{body}.".into());
    }
    let template = &options[plan.phrasing as usize % options.len()];
    if *tone == QuestionTone::Analytical {
        parts.outputs = std::mem::take(&mut parts.computed_first);
    }
    let body = if parts.count {
        format!("the number of {}{}", parts.rows, parts.rest)
    } else {
        format!("{} of {}{}", parts.outputs, parts.rows, parts.rest)
    };
    let be = if parts.many { "are" } else { "is" };
    let q = template
        .replace("{be}", be)
        .replace("{body}", &body)
        .replace("{outputs}", &parts.outputs)
        .replace("{rows}", &parts.rows)
        .replace("{rest}", &parts.rest);
    if let Some(p) = ctx.ambiguous.borrow().clone() {
        return Err(GenerateError::AmbiguousQuestion(p));
    }
    let setting = ctx.setting.borrow();
    if setting.is_empty() {
        return Ok(capitalise(&q));
    }
    // "In scenario 'baseline', list …" ("I need …" keeps its capital).
    let q = capitalise(&q);
    let q = if q.starts_with("I ") {
        q
    } else {
        let mut c = q.chars();
        c.next()
            .map(|f| f.to_lowercase().chain(c).collect())
            .unwrap_or_default()
    };
    Ok(format!("{}, {q}", capitalise(&setting.join(" "))))
}

/// A request in pieces, for the opening templates.
struct Parts {
    /// What is returned ("the bus name and voltage in kV").
    outputs: String,
    /// The same, computed values first ("the length in metres and line name"): what an
    /// analytical request ("Calculate …") names first.
    computed_first: String,
    /// The rows it is returned for, with their conditions and joins.
    rows: String,
    /// Grouping, group conditions, order and limit (", per network id, …").
    rest: String,
    /// Several values are returned ("are").
    many: bool,
    /// The request is a count of the rows ("the number of <rows>").
    count: bool,
    /// The count is all that is returned ("How many <rows> are there?").
    how_many: bool,
    /// Every output is a stored column (nothing is computed).
    plain: bool,
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

impl Ctx<'_> {
    /// The request: what is returned, of which rows, grouped, ordered and limited; whether
    /// it names several values; and, for an interrogative count, the whole question
    /// ("How many … are there?").
    fn body(&self, q: &SelectPlan) -> Parts {
        let group: Vec<&PlanExpr> = q.group_by.iter().collect();
        // An output the grouping names (by expression or by its alias) reads by "per …".
        let grouped_by = |i: &crate::plan::SelectItem| {
            group.contains(&&i.expr)
                || group.iter().any(|g| {
                    matches!(g, PlanExpr::Output { name } if i.alias.as_deref() == Some(name.as_str()))
                })
        };
        let outputs: Vec<&PlanExpr> = q
            .items
            .iter()
            .filter(|i| !grouped_by(i))
            .map(|i| &i.expr)
            .collect();
        let outputs = if outputs.is_empty() {
            q.items.iter().map(|i| &i.expr).collect()
        } else {
            outputs
        };
        let per = self.per(q);
        let having = self.having(q);
        let order = self.order(q);
        let first = &q.from[0].alias;
        let is_count = |e: &PlanExpr| match e {
            PlanExpr::Aggregate {
                arg: None,
                filter: None,
                ..
            } => true,
            PlanExpr::Aggregate {
                function,
                arg: Some(a),
                filter: None,
                ..
            } if function.eq_ignore_ascii_case("count") => {
                // A property record's building id counts buildings, not the records.
                matches!(a.as_ref(), PlanExpr::Column { rel, column } if rel == first && self.identifies(rel, column) && !self.entity_not_key(rel, column))
                    // COUNT(DISTINCT b.building_id) over buildings: "the number of buildings
                    // of buildings" reads "the number of buildings".
                    || self.output(e) == format!("the number of {}", self.plural_of(first))
            }
            _ => false,
        };
        let counted = self.counted(q);
        let subject_counted = counted == self.plural_of(&q.from[0].alias);
        let rows = self.scope(q, &self.rows_noun(&q.from[0]));
        if subject_counted && outputs.iter().any(|e| is_count(e)) {
            let others: Vec<String> = outputs
                .iter()
                .filter(|e| !is_count(e))
                .map(|e| self.output(e))
                .collect();
            // Two counts of the subject, or a count said again among the others.
            let counts = outputs.iter().filter(|e| is_count(e)).count();
            let subject = format!("the number of {}", self.plural_of(first));
            if counts > 1 || others.contains(&subject) {
                self.ambiguous.replace(Some(subject));
            }
            let with = if others.is_empty() {
                String::new()
            } else {
                format!(", and {}", list_outputs(&others))
            };
            return Parts {
                outputs: String::new(),
                computed_first: String::new(),
                rows,
                rest: format!("{per}{having}{with}{order}"),
                many: false,
                count: true,
                how_many: others.is_empty(),
                plain: false,
            };
        }
        let phrases: Vec<String> = outputs.iter().map(|e| self.output(e)).collect();
        if let Some(p) = phrases
            .iter()
            .enumerate()
            .find(|(i, p)| phrases[..*i].contains(p))
            .map(|(_, p)| p)
        {
            self.ambiguous.replace(Some(p.clone()));
        }
        let stored = |e: &PlanExpr| matches!(e, PlanExpr::Column { .. });
        let computed_first: Vec<String> = outputs
            .iter()
            .zip(&phrases)
            .filter(|(e, _)| !stored(e))
            .chain(outputs.iter().zip(&phrases).filter(|(e, _)| stored(e)))
            .map(|(_, p)| p.clone())
            .collect();
        Parts {
            outputs: list_outputs(&phrases),
            computed_first: list_outputs(&computed_first),
            rows,
            rest: format!("{per}{having}{order}"),
            many: phrases.len() > 1,
            count: false,
            how_many: false,
            plain: outputs.iter().all(|e| matches!(e, PlanExpr::Column { .. })),
        }
    }

    /// The noun of a relation's rows: its table's plural, or for a grouped CTE the rows it
    /// groups and how ("census sections in region 'Lombardia', per municipality").
    fn rows_noun(&self, r: &Relation) -> String {
        match self.grouped.get(&r.alias) {
            Some(body) if !body.from.is_empty() => format!(
                "{}{}",
                self.scope(body, &self.plural_of(&body.from[0].alias)),
                self.per(body)
            ),
            _ => self.plural_of(&r.alias),
        }
    }

    /// ", per network id", ", per census section".
    fn per(&self, q: &SelectPlan) -> String {
        if q.group_by.is_empty() {
            return String::new();
        }
        let g: Vec<String> = q.group_by.iter().map(|e| self.group_phrase(e)).collect();
        format!(", per {}", join_list(&g, true))
    }

    /// A grouping or partition key: a relation's identifier reads as its noun ("per census
    /// section"), anything else as its phrase ("per network id").
    fn group_phrase(&self, e: &PlanExpr) -> String {
        match e {
            PlanExpr::Column { rel, column } if self.identifies(rel, column) => self.noun(rel),
            // "per project", not "per project id": grouping by an identifier groups by
            // what it identifies.
            other => {
                let p = strip_the(&self.expr(other)).to_string();
                match p.strip_suffix(" id") {
                    Some(thing) if !thing.is_empty() && !thing.contains(' ') => thing.to_string(),
                    _ => p,
                }
            }
        }
    }

    fn having(&self, q: &SelectPlan) -> String {
        if q.having.is_empty() {
            return String::new();
        }
        let h: Vec<String> = q
            .having
            .iter()
            .map(|e| match e {
                PlanExpr::Compare { op, left, right }
                    if matches!(
                        left.as_ref(),
                        PlanExpr::Aggregate {
                            function,
                            filter: None,
                            ..
                        } if function == "count"
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
                    let counted = match left.as_ref() {
                        PlanExpr::Aggregate { arg: Some(_), .. } => {
                            let n = self.expr(left);
                            n.strip_prefix("the number of ")
                                .map(|x| x.strip_prefix("distinct ").unwrap_or(x).to_string())
                                .unwrap_or(n)
                        }
                        _ => self.counted(q),
                    };
                    format!("with {bound} {} {counted}", self.expr(right))
                }
                other => format!("where {}", self.condition(other)),
            })
            .collect();
        // Counts read as a property of the groups, right after them: "per raster type
        // with more than 3 raster models".
        if !q.group_by.is_empty() && h.iter().all(|x| x.starts_with("with ")) {
            return format!(" {}", join_list(&h, false));
        }
        format!(", only groups {}", join_list(&h, false))
    }

    /// ", highest height first", ", only the 10 with the largest area", ", ordered by name".
    fn order(&self, q: &SelectPlan) -> String {
        let mut parts: Vec<String> = Vec::new();
        for (i, (e, desc)) in q.order_by.iter().enumerate() {
            let key = self.order_key(q, e);
            let (hi, lo) = self.extremes(e);
            let word = if *desc { hi } else { lo };
            // "the lowest lowest elevation" reads "the lowest elevation".
            let key = match word.and_then(|w| key.strip_prefix(w)) {
                Some(rest) => rest.trim_start().to_string(),
                None => key,
            };
            // An extreme of its own ("the lowest distance") ordered the other way: the
            // order is said after the key, never "the highest lowest distance".
            let clash =
                word.is_some() && (key.starts_with("lowest ") || key.starts_with("highest "));
            // A distance orders from the nearest or the farthest; a stated output's unit
            // is not said again.
            let stated = match e {
                PlanExpr::Output { .. } => true,
                other => q.items.iter().any(|i| &i.expr == other),
            };
            let key = if stated
                && (key.starts_with("distance in ") || key.starts_with("distance from "))
            {
                "distance".to_string()
            } else {
                key
            };
            let nearness = match (key.as_str(), word, desc) {
                ("distance", Some(_), true) => Some("farthest"),
                ("distance", Some(_), false) => Some("nearest"),
                _ => None,
            };
            // A count orders by "most" and "fewest": "most buildings first".
            let counted = key.strip_prefix("number of ").map(str::to_string);
            if let (0, Some(c), None) = (i, &counted, q.limit) {
                let w = if *desc { "most" } else { "fewest" };
                parts.push(format!(", {w} {c} first"));
            } else if i == 0 && clash {
                let w = word.unwrap_or_default();
                match (q.limit, w) {
                    (Some(1), _) => parts.push(format!(", only the first by {key} ({w} first)")),
                    (Some(n), "highest") => parts.push(format!(", top {n} by {key}")),
                    (Some(n), _) => parts.push(format!(", the {n} lowest by {key}")),
                    (None, _) => parts.push(format!(", ordered by {key}, {w} first")),
                }
            } else if i == 0 && nearness.is_some() {
                let w = nearness.unwrap_or_default();
                match q.limit {
                    Some(1) => parts.push(format!(", only the {w} one")),
                    Some(n) => parts.push(format!(", only the {n} {w}")),
                    None => parts.push(format!(", {w} first")),
                }
            } else if i == 0 {
                // Names and categories sort alphabetically; identifiers and labels by
                // their number or code.
                let alpha = self.alphabetical(e);
                match (q.limit, word) {
                    (Some(1), Some(w)) => parts.push(format!(", only the one with the {w} {key}")),
                    (Some(n), Some("highest")) => parts.push(format!(", top {n} by {key}")),
                    (Some(n), Some(w)) => parts.push(format!(", only the {n} with the {w} {key}")),
                    (Some(n), None) if alpha => parts.push(format!(
                        ", the first {n} in {}alphabetical order of {key}",
                        if *desc { "reverse " } else { "" }
                    )),
                    (Some(n), None) if *desc => {
                        parts.push(format!(", the {n} with the highest {key}"))
                    }
                    (Some(n), None) => parts.push(format!(", the first {n} by {key}")),
                    (None, Some(w)) => parts.push(format!(", {w} {key} first")),
                    (None, None) if alpha => parts.push(format!(
                        ", in {}alphabetical order of {key}",
                        if *desc { "reverse " } else { "" }
                    )),
                    (None, None) if *desc => parts.push(format!(", highest {key} first")),
                    (None, None) => parts.push(format!(", ordered by {key}")),
                }
            } else {
                let alpha = self.alphabetical(e);
                parts.push(format!(
                    ", then by {key}{}",
                    match (word, desc) {
                        (Some(w), _) => format!(" ({w} first)"),
                        (None, true) if alpha => " (reverse alphabetical)".to_string(),
                        (None, true) => " (highest first)".to_string(),
                        (None, false) => String::new(),
                    }
                ));
            }
        }
        if q.order_by.is_empty() {
            if let Some(n) = q.limit {
                parts.push(format!(", at most {n} of them"));
            }
        }
        parts.concat()
    }

    /// An order key: an output already stated reads by its head ("the distance in
    /// metres", not the whole measurement again).
    fn order_key(&self, q: &SelectPlan, e: &PlanExpr) -> String {
        let full = strip_the(&self.expr(e)).to_string();
        let output = match e {
            PlanExpr::Output { .. } => true,
            other => q.items.iter().any(|i| &i.expr == other),
        };
        let plain_count = matches!(e, PlanExpr::Aggregate { function, .. } if function.eq_ignore_ascii_case("count"));
        if !output || plain_count {
            return full;
        }
        // A column's phrase, or an aggregate of one, is short already and may hold " of "
        // or " to " itself ("residents aged 5 to 9"): only its rounding goes.
        let resolved = match e {
            PlanExpr::Output { name } => q
                .items
                .iter()
                .find(|i| i.alias.as_deref() == Some(name.as_str()))
                .map(|i| &i.expr)
                .unwrap_or(e),
            other => other,
        };
        let unrounded = match resolved {
            PlanExpr::Call { function, args } if function.eq_ignore_ascii_case("round") => {
                args.first().unwrap_or(resolved)
            }
            other => other,
        };
        let of_column = match unrounded {
            PlanExpr::Column { .. } => true,
            PlanExpr::Aggregate { arg: Some(a), .. } => {
                matches!(a.as_ref(), PlanExpr::Column { .. })
            }
            _ => false,
        };
        if of_column {
            return match rounding_suffix(&full) {
                Some(s) => full[..full.len() - s.len()].to_string(),
                None => full,
            };
        }
        let cut = [
            " of ",
            " from ",
            " between ",
            " (",
            " around ",
            " within ",
            " to ",
        ]
        .iter()
        .filter_map(|sep| full.find(sep))
        .min();
        match cut {
            Some(i) if i > 0 => full[..i].to_string(),
            _ => full,
        }
    }

    /// The words for "descending" and "ascending" of an order key, none for a key or name
    /// (ordered, not ranked).
    /// Whether an order key is a name, category or text (sorted alphabetically).
    fn alphabetical(&self, e: &PlanExpr) -> bool {
        let e = match e {
            PlanExpr::Output { name } => self
                .main
                .items
                .iter()
                .find(|i| i.alias.as_deref() == Some(name.as_str()))
                .map(|i| &i.expr)
                .unwrap_or(e),
            other => other,
        };
        use crate::pack::ColumnRole as R;
        matches!(e, PlanExpr::Column { rel, column }
            if matches!(self.role_of(rel, column), Some(R::Name | R::Category | R::Text)))
    }

    fn extremes(&self, e: &PlanExpr) -> (Option<&'static str>, Option<&'static str>) {
        let e = match e {
            PlanExpr::Output { name } => self
                .main
                .items
                .iter()
                .find(|i| i.alias.as_deref() == Some(name.as_str()))
                .map(|i| &i.expr)
                .unwrap_or(e),
            other => other,
        };
        // A cluster number is a label: ordered, not ranked.
        if let PlanExpr::Window { function, .. } = e {
            if function.to_lowercase().starts_with("st_cluster") {
                return (None, None);
            }
        }
        if let PlanExpr::Column { rel, column } = e {
            let role = self.role_of(rel, column);
            use crate::pack::ColumnRole as R;
            return match role {
                Some(R::Timestamp) => (Some("latest"), Some("earliest")),
                Some(R::Measure) | None => (Some("highest"), Some("lowest")),
                _ => (None, None),
            };
        }
        (Some("highest"), Some("lowest"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each opening, the built-in ones and the default pack's, reads in its tone.
    #[test]
    fn openings_read_in_their_tone() {
        let pack = SchemaPack::default_pack();
        let own = pack.data().lexicon.openings.iter();
        let builtin = OPENINGS
            .iter()
            .map(|(t, o)| (t.to_string(), o.iter().map(|s| s.to_string()).collect()));
        let all: Vec<(String, Vec<String>)> = own
            .map(|(t, o)| (t.clone(), o.clone()))
            .chain(builtin)
            .collect();
        assert!(all.len() >= 8);
        for (tone, templates) in all {
            assert!(!templates.is_empty(), "{tone}");
            for t in templates {
                let q = t
                    .replace("{be}", "are")
                    .replace("{body}", "the names of buildings")
                    .replace("{outputs}", "the names")
                    .replace("{rows}", "buildings")
                    .replace("{rest}", "");
                assert_eq!(
                    crate::features::Label::as_str(&QuestionTone::of(&q)),
                    tone.trim_end_matches("/plain"),
                    "{t:?} reads {q:?}"
                );
            }
        }
    }
}
