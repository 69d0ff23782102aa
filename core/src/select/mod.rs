//! Token selection: a structure row + a pack → a concrete [`QueryPlan`].
//!
//! [`PackSelector`] works for any pack: it reads the pack's tables, join graph, function
//! catalogue and value domains (indexed once in `Catalog`). For one row it makes a few
//! randomised attempts (all drawing from the row's ChaCha stream) at a plan with the
//! requested counts of CTEs, joins, subqueries, spatial calls, tables and schemas, the
//! requested query type, primary function category and limit strategy. Each attempt's
//! realised structure is computed from the plan itself (the same rules the feature
//! extractor applies to SQL); the attempt closest to the request wins, and every column
//! where it differs is recorded as a [`Deviation`]. The selector never looks at SQL text
//! and never calls the validator: whether the plan really has the structure it claims is
//! judged afterwards, by the `complexity_match` metric.

mod catalog;
mod facts;
mod items;
mod lift;
mod rounding;
mod vary;
mod versions;

use std::collections::{BTreeMap, BTreeSet};

use rand::seq::IndexedRandom;
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::features::{
    LimitStrategy, PrimaryCategory, QueryFeatures, QueryType, RecordLabels, Structure,
    FEATURE_COLUMNS,
};
use crate::pack::{FunctionCategory, SchemaPack};
use crate::plan::{
    CompareOp, CtePlan, Deviation, JoinSpec, PlanExpr, QueryPlan, Relation, SelectItem, SelectPlan,
    Source,
};
use crate::{GenerateError, TokenSelector};

pub(crate) use catalog::Catalog;
use catalog::Filterable;

/// Hyperparameters of [`PackSelector`].
#[derive(Debug, Clone, PartialEq)]
pub struct SelectorParams {
    /// Randomised attempts per row; the closest plan wins (an exact one stops early).
    pub attempts: u32,
    /// Share of rows (0 to 1) that first try a variant of a lifted seed query of the
    /// requested type (see [`PackSelector::with_seeds`]).
    pub seed_share: f64,
    /// Variants of lifted seeds tried for such a row; the closest one is taken when it
    /// has the requested type and at most [`SelectorParams::seed_deviations`] deviations.
    pub seed_attempts: u32,
    /// Most feature columns a seed variant may differ in from the requested row.
    pub seed_deviations: usize,
}

impl Default for SelectorParams {
    fn default() -> Self {
        SelectorParams {
            attempts: 16,
            seed_share: 0.6,
            seed_attempts: 4,
            seed_deviations: 1,
        }
    }
}

/// What lifting the seed queries gave (see [`PackSelector::with_seeds`]).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SeedLiftReport {
    /// Seeds lifted into plans.
    pub lifted: usize,
    /// Seeds not lifted, with the reason (the first 100).
    pub not_lifted: Vec<String>,
    /// Seeds not lifted, in all.
    pub not_lifted_total: usize,
}

/// The built-in [`TokenSelector`]: schema-aware, works for any pack.
#[derive(Debug, Clone)]
pub struct PackSelector {
    pack_name: String,
    cat: Catalog,
    params: SelectorParams,
    seeds: Vec<lift::LiftedSeed>,
}

impl PackSelector {
    /// A selector for `pack` with default parameters.
    pub fn new(pack: &SchemaPack) -> PackSelector {
        PackSelector::with_params(pack, SelectorParams::default())
            .expect("default parameters are valid")
    }

    /// A selector with explicit parameters (checked here, once).
    pub fn with_params(
        pack: &SchemaPack,
        params: SelectorParams,
    ) -> Result<PackSelector, GenerateError> {
        if !(0.0..=1.0).contains(&params.seed_share) {
            return Err(GenerateError::InvalidSetting {
                name: "seed_share",
                reason: format!("{} is not a share between 0 and 1", params.seed_share),
            });
        }
        if params.attempts == 0 {
            return Err(GenerateError::InvalidSetting {
                name: "attempts",
                reason: "the selector needs at least 1 attempt per row".into(),
            });
        }
        if pack.tables().next().is_none() {
            return Err(GenerateError::Unrealizable {
                pack: pack.name().to_string(),
                reason: "the pack has no tables".into(),
            });
        }
        Ok(PackSelector {
            pack_name: pack.name().to_string(),
            cat: Catalog::new(pack),
            params,
            seeds: Vec::new(),
        })
    }

    /// Lift seed queries (`(id, sql, sql_type)` of the input corpus) into plans whose
    /// variants the selector draws on: their scoping, derived metrics, rankings and
    /// nesting then reach the output. Seeds using SQL the plan tree cannot hold are
    /// reported and left out.
    pub fn with_seeds<'s>(
        mut self,
        pack: &SchemaPack,
        seeds: impl IntoIterator<Item = (&'s str, &'s str, QueryType)>,
    ) -> (PackSelector, SeedLiftReport) {
        let mut report = SeedLiftReport::default();
        for (id, sql, ty) in seeds {
            match lift::lift(pack, id, sql, ty) {
                Ok(mut l) => {
                    report.lifted += 1;
                    let facts = facts::plan_facts(&self.cat, &l.ctes, &l.main);
                    l.features = QueryFeatures::from_facts(&facts, &RecordLabels::default(), pack)
                        .structure
                        .to_row()
                        .0;
                    self.seeds.push(l);
                }
                Err(e) => {
                    report.not_lifted_total += 1;
                    if report.not_lifted.len() < 100 {
                        report.not_lifted.push(format!("{id}: {e}"));
                    }
                }
            }
        }
        (self, report)
    }

    /// A plan for `row` from `ctes` and `main`, with its realised structure and
    /// deviations.
    fn plan_of(
        &self,
        pack: &SchemaPack,
        row: &Structure,
        ctes: Vec<CtePlan>,
        main: SelectPlan,
        rng: &mut ChaCha8Rng,
    ) -> (usize, QueryPlan) {
        let mut main = main;
        drop_echoes(pack, &self.cat, &mut main);
        name_entity_counts(pack, &mut main);
        let wanted = row.to_row();
        let facts = facts::plan_facts(&self.cat, &ctes, &main);
        // Labels SQL cannot carry are the requested ones.
        let mut realized =
            QueryFeatures::from_facts(&facts, &RecordLabels::default(), pack).structure;
        realized.question_tone = row.question_tone.clone();
        realized.usage_frequency = row.usage_frequency.clone();
        let deviations: Vec<Deviation> = FEATURE_COLUMNS
            .iter()
            .zip(wanted.0.iter().zip(realized.to_row().0))
            .filter(|(_, (want, got))| *want != got)
            .map(|((name, _), (want, got))| Deviation {
                column: name.to_string(),
                requested: want.clone(),
                realized: got,
            })
            .collect();
        let n = deviations.len();
        (
            n,
            QueryPlan {
                requested: row.clone(),
                realized,
                deviations,
                ctes,
                main,
                phrasing: rng.random(),
                derived_from: None,
            },
        )
    }

    /// A variant of a lifted seed of the requested type close enough to `row`.
    fn seed_variant(
        &self,
        pack: &SchemaPack,
        row: &Structure,
        rng: &mut ChaCha8Rng,
    ) -> Option<QueryPlan> {
        // The seeds of the requested type closest to the row's structure.
        let wanted = row.to_row().0;
        let distance = |s: &lift::LiftedSeed| {
            s.features
                .iter()
                .zip(&wanted)
                .zip(FEATURE_COLUMNS)
                .filter(|((a, b), (name, _))| {
                    a != b && !crate::features::LABEL_ONLY_COLUMNS.contains(name)
                })
                .count()
        };
        let of_type: Vec<(&lift::LiftedSeed, usize)> = self
            .seeds
            .iter()
            .filter(|s| s.sql_type == row.sql_type)
            .map(|s| (s, distance(s)))
            .collect();
        let nearest = of_type.iter().map(|(_, d)| *d).min()?;
        let of_type: Vec<&lift::LiftedSeed> = of_type
            .into_iter()
            .filter(|(_, d)| *d <= nearest + 1)
            .map(|(s, _)| s)
            .collect();
        let mut best: Option<(usize, QueryPlan)> = None;
        for _ in 0..self.params.seed_attempts {
            let seed = of_type.choose(rng)?;
            let Some((ctes, mut main)) = vary::vary(pack, &self.cat, seed, rng) else {
                continue;
            };
            // The requested limit strategy, where the seed's order allows it.
            match (row.limit_strategy, main.order_by.is_empty(), main.limit) {
                (LimitStrategy::TopN, false, None) => {
                    main.limit = [5, 10, 20].choose(rng).copied();
                }
                (LimitStrategy::OrderedOnly, false, Some(_)) => main.limit = None,
                (LimitStrategy::FullResults, false, None) => main.order_by.clear(),
                _ => {}
            }
            let (n, mut plan) = self.plan_of(pack, row, ctes, main, rng);
            plan.derived_from = Some(seed.id.clone());
            if plan.realized.sql_type == row.sql_type && best.as_ref().is_none_or(|(b, _)| n < *b) {
                best = Some((n, plan));
                if n == 0 {
                    break;
                }
            }
        }
        best.filter(|(n, _)| *n <= self.params.seed_deviations)
            .map(|(_, p)| p)
    }
}

/// The requested structure, decoded from a row.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub cte: usize,
    pub join: usize,
    pub sub: usize,
    pub spatial: usize,
    pub tables: usize,
    pub schemas: usize,
    pub complexity: i64,
    pub sql_type: QueryType,
    pub category: PrimaryCategory,
    pub limit: LimitStrategy,
}

fn decode(row: &Structure) -> Request {
    let count = |v: i64, hi: i64| v.clamp(0, hi) as usize;
    Request {
        cte: count(row.cte_count, 5),
        join: count(row.join_count, 10),
        sub: count(row.subquery_count, 5),
        spatial: count(row.spatial_function_count, 15),
        tables: count(row.table_count, 8).max(1),
        schemas: count(row.schema_count, 3).max(1),
        complexity: count(row.complexity_score, 10) as i64,
        sql_type: row.sql_type,
        category: row.primary_function_category,
        limit: row.limit_strategy,
    }
}

impl TokenSelector for PackSelector {
    fn select(
        &self,
        pack: &SchemaPack,
        row: &Structure,
        rng: &mut ChaCha8Rng,
    ) -> Result<QueryPlan, GenerateError> {
        if pack.name() != self.pack_name {
            return Err(GenerateError::InvalidPlan(format!(
                "selector was built for pack {}, not {}",
                self.pack_name,
                pack.name()
            )));
        }
        // A seed's variant first, for a share of the rows (its own stream, so that the
        // rows without one draw exactly as before).
        if !self.seeds.is_empty() && self.params.seed_share > 0.0 {
            let mut seed_rng = ChaCha8Rng::from_seed(rng.random());
            if seed_rng.random_bool(self.params.seed_share) {
                if let Some(mut p) = self.seed_variant(pack, row, &mut seed_rng) {
                    // A seed that lists buses of every scenario is scoped like the rest.
                    versions::scope_versions(&self.cat, &mut p.ctes, &mut p.main, &mut seed_rng);
                    versions::scope_levels(&self.cat, &mut p.ctes, &mut p.main, &mut seed_rng);
                    return Ok(p);
                }
            }
        }
        let req = decode(row);
        let mut best: Option<(usize, QueryPlan)> = None;
        for _ in 0..self.params.attempts {
            let Some((ctes, main)) = Attempt::new(&self.cat, &req, rng).run() else {
                continue;
            };
            let (n, plan) = self.plan_of(pack, row, ctes, main, rng);
            if best.as_ref().is_none_or(|(b, _)| n < *b) {
                best = Some((n, plan));
            }
            if n == 0 {
                break;
            }
        }
        // Scoping and rounding change no feature: made once, on the plan that won.
        best.map(|(_, mut p)| {
            versions::scope_versions(&self.cat, &mut p.ctes, &mut p.main, rng);
            versions::scope_levels(&self.cat, &mut p.ctes, &mut p.main, rng);
            rounding::round_measures(&mut p.main, &self.cat, rng);
            p
        })
        .ok_or_else(|| GenerateError::Unrealizable {
            pack: self.pack_name.clone(),
            reason: "no attempt produced a plan".into(),
        })
    }
}

// ---------------------------------------------------------------------------------------
// One attempt.
// ---------------------------------------------------------------------------------------

/// How the query aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AggMode {
    /// No aggregation.
    None,
    /// GROUP BY a categorical column of the first relation.
    ByCategory,
    /// GROUP BY the first relation's primary key.
    ByKey,
    /// A window function (clustering) — no GROUP BY.
    Window,
}

/// A relation instance of the main query.
#[derive(Debug, Clone)]
pub(crate) struct Inst {
    pub alias: String,
    pub table: usize,
}

pub(crate) struct Attempt<'a> {
    pub cat: &'a Catalog,
    pub req: &'a Request,
    pub rng: &'a mut ChaCha8Rng,
    pub insts: Vec<Inst>,
    pub main: SelectPlan,
    pub used_aliases: BTreeSet<String>,
    pub tables_used: BTreeSet<usize>,
    /// Wrappers per alias: number of CTEs, and whether a derived table wraps it.
    pub wraps: BTreeMap<String, (usize, bool)>,
    /// Aliases of relations inside subqueries, with their tables.
    pub sub_rels: Vec<Inst>,
    pub agg: AggMode,
    /// Spatial predicates across two relations are allowed.
    pub cross_predicates: bool,
    pub raster_ok: bool,
    pub allowed: Vec<FunctionCategory>,
    pub item_names: BTreeSet<String>,
    /// Output aliases with numeric values (ORDER BY keys).
    pub numeric_items: BTreeSet<String>,
    /// (alias, column) pairs already filtered: never filter a column twice.
    pub filtered: BTreeSet<(String, String)>,
    /// Aliases joined with LEFT JOIN (not filtered in WHERE).
    pub left_joined: BTreeSet<String>,
    /// Spatial expressions already placed (before any aggregate wrapping).
    pub raw_items: Vec<PlanExpr>,
    /// The pack area the query's literal coordinates lie in (chosen at the first one).
    pub area: Option<usize>,
    /// Joins of the main query that can multiply rows (at most one is made).
    pub expansions: usize,
    /// The relation joined through the row-multiplying join: its rows are the ones not
    /// repeated (clustering reads its geometries).
    pub expanded: Option<String>,
    /// Pairs of aliases the joins make intersect or nest (a building and its census
    /// section): measuring or intersecting one against the other is constant.
    pub touching: BTreeSet<(String, String)>,
    /// The main query's joins as (alias, alias, containers): key joins (not cross
    /// products) and nesting or intersecting joins, with the aliases whose geometry holds
    /// the other side (both for an intersection), for [`Attempt::zero_apart`].
    pub links: Vec<(String, String, Vec<String>)>,
    /// (alias, table) pairs the joins connect: a relation joins a table once by key.
    pub joined_pairs: BTreeSet<(String, usize)>,
    /// A many-to-many join repeats the rows of both its sides.
    pub both_repeated: bool,
    /// WHERE conditions against a constant geometry, and validity checks, placed so far.
    pub constant_filters: usize,
    pub validity_filters: usize,
    /// K-means is placed: it fails when k exceeds the rows it sees, so no filter narrower
    /// than the area's own (project, municipality…) is added from now on.
    pub area_filters_only: bool,
    /// A clustering window is placed (one per query).
    pub clustered: bool,
    /// WHERE conditions against a constant geometry (a point, a box of the area).
    pub place_filters: usize,
    /// Second instances joined by a spatial self-join (a building's neighbours): no
    /// correlated subquery beside them, or PostgreSQL plans the distance test per pair.
    pub neighbours: BTreeSet<String>,
}

fn type_allows(sql_type: QueryType) -> (bool, bool, bool) {
    // (nesting allowed, small family: at most 2 tables and 1 join, spatial join forbidden)
    match sql_type {
        QueryType::NestedQuery | QueryType::RasterVector | QueryType::SpatialClustering => {
            (true, false, false)
        }
        QueryType::SpatialJoin => (false, false, false),
        QueryType::MultiJoin => (false, false, true),
        _ => (false, true, true),
    }
}

impl<'a> Attempt<'a> {
    fn new(cat: &'a Catalog, req: &'a Request, rng: &'a mut ChaCha8Rng) -> Attempt<'a> {
        use FunctionCategory as F;
        let raster_ok = req.sql_type == QueryType::RasterVector;
        let allowed: Vec<FunctionCategory> = match req.sql_type {
            QueryType::SimpleSelect => vec![F::Accessors, F::Constructors, F::Transforms],
            QueryType::SpatialMeasurement => vec![
                F::Predicates,
                F::Measurements,
                F::Accessors,
                F::Constructors,
                F::Transforms,
            ],
            QueryType::SpatialClustering => {
                F::ALL.iter().copied().filter(|c| *c != F::Raster).collect()
            }
            QueryType::RasterVector => F::ALL
                .iter()
                .copied()
                .filter(|c| *c != F::Clustering)
                .collect(),
            _ => F::ALL
                .iter()
                .copied()
                .filter(|c| *c != F::Raster && *c != F::Clustering)
                .collect(),
        };
        let (_, _, no_spatial_join) = type_allows(req.sql_type);
        Attempt {
            cat,
            req,
            rng,
            insts: Vec::new(),
            main: SelectPlan::default(),
            used_aliases: BTreeSet::new(),
            tables_used: BTreeSet::new(),
            wraps: BTreeMap::new(),
            sub_rels: Vec::new(),
            agg: AggMode::None,
            cross_predicates: !no_spatial_join,
            raster_ok,
            allowed,
            item_names: BTreeSet::new(),
            numeric_items: BTreeSet::new(),
            filtered: BTreeSet::new(),
            left_joined: BTreeSet::new(),
            raw_items: Vec::new(),
            area: None,
            expansions: 0,
            expanded: None,
            touching: BTreeSet::new(),
            links: Vec::new(),
            joined_pairs: BTreeSet::new(),
            both_repeated: false,
            area_filters_only: false,
            clustered: false,
            place_filters: 0,
            neighbours: BTreeSet::new(),
            constant_filters: 0,
            validity_filters: 0,
        }
    }

    pub(crate) fn alias_for(&mut self, table: usize) -> String {
        let stem = self.cat.tables[table].stem.clone();
        let mut a = stem.clone();
        let mut n = 2;
        // Avoid SQL keywords as aliases.
        while self.used_aliases.contains(&a)
            || matches!(
                a.as_str(),
                "as" | "by" | "do" | "if" | "in" | "is" | "on" | "or" | "to"
            )
        {
            a = format!("{stem}{n}");
            n += 1;
        }
        self.used_aliases.insert(a.clone());
        a
    }

    /// Predicates of a spatial edge that the pack's catalogue has.
    fn edge_predicates(&self, e: &catalog::EdgeCat) -> Vec<String> {
        e.predicates
            .iter()
            .filter(|p| self.cat.functions.contains_key(&p.to_lowercase()))
            .cloned()
            .collect()
    }

    /// Whether an edge can be written: key edges always, spatial ones with a known predicate.
    fn edge_ok(&self, e: &catalog::EdgeCat) -> bool {
        !e.spatial || !self.edge_predicates(e).is_empty()
    }

    fn table_ok(&self, t: usize) -> bool {
        self.raster_ok || self.cat.tables[t].raster.is_none()
    }

    fn schemas_of(&self, tables: &BTreeSet<usize>) -> BTreeSet<String> {
        tables
            .iter()
            .map(|t| self.cat.tables[*t].schema.clone())
            .collect()
    }

    /// Prefer a new table whose schema moves the schema count toward the request.
    fn pick_new<'e>(
        &mut self,
        options: &[(&'e catalog::EdgeCat, usize, usize)],
    ) -> Option<(&'e catalog::EdgeCat, usize, usize)> {
        let have = self.schemas_of(&self.tables_used);
        let want_more = have.len() < self.req.schemas;
        let good: Vec<_> = options
            .iter()
            .filter(|(_, _, t)| {
                let new_schema = !have.contains(&self.cat.tables[*t].schema);
                new_schema == want_more || (!want_more && !new_schema)
            })
            .copied()
            .collect();
        if !good.is_empty() && self.rng.random_bool(0.9) {
            good.choose(self.rng).copied()
        } else {
            options.choose(self.rng).copied()
        }
    }

    fn run(mut self) -> Option<(Vec<CtePlan>, SelectPlan)> {
        let req = self.req;
        let (nest_ok, small, _) = type_allows(req.sql_type);
        let (mut c, mut s) = if nest_ok { (req.cte, req.sub) } else { (0, 0) };
        if req.sql_type == QueryType::NestedQuery && c + s == 0 {
            s = 1;
        }
        let mut j = req.join;
        let mut t = req.tables;
        if small {
            j = j.min(1);
            t = t.min(2);
        }
        if req.sql_type == QueryType::MultiJoin && t < 3 && j < 2 {
            j = 2;
        }
        if req.sql_type == QueryType::SpatialJoin && j == 0 {
            j = 1;
        }
        c = c.min(4);
        s = s.min(4);
        // Distinct tables: the main join tree brings `m`, subqueries the rest.
        let r = j + 1;
        let m = t.saturating_sub(s).max(1).min(r);
        let from_subs = t.saturating_sub(m);

        // 1. The main join tree.
        let start_pool: Vec<usize> = (0..self.cat.tables.len())
            .filter(|t| self.table_ok(*t))
            .filter(|t| {
                // Raster queries start from a vector table with geometry when there are joins.
                req.sql_type != QueryType::RasterVector
                    || r == 1
                    || !self.cat.tables[*t].geoms.is_empty()
            })
            .filter(|t| {
                // Clustering and geometry-heavy queries need geometry in the first table.
                req.spatial == 0
                    || !self.cat.tables[*t].geoms.is_empty()
                    || self.cat.tables[*t].raster.is_some()
            })
            .collect();
        // Small or trimmed packs may have no table the filters like: any usable one
        // then, and the row is projected (deviations say how).
        let start = match start_pool.choose(self.rng) {
            Some(t) => *t,
            None => {
                let ok: Vec<usize> = (0..self.cat.tables.len())
                    .filter(|t| self.table_ok(*t))
                    .collect();
                match ok.choose(self.rng) {
                    Some(t) => *t,
                    None => self.rng.random_range(0..self.cat.tables.len()),
                }
            }
        };
        let a = self.alias_for(start);
        self.insts.push(Inst {
            alias: a.clone(),
            table: start,
        });
        self.tables_used.insert(start);
        self.main.from.push(Relation {
            source: table_source(self.cat, start),
            alias: a,
            base: self.cat.tables[start].key.clone(),
            join: None,
        });
        let mut spatial_joined = false;
        for step in 1..r {
            let mut options: Vec<(&catalog::EdgeCat, usize, usize)> = Vec::new(); // (edge, from inst, to table)
            for (i, inst) in self.insts.iter().enumerate() {
                // An inner join from a LEFT-joined relation drops the rows it left
                // unmatched (the LEFT JOIN would be an inner one).
                if self.left_joined.contains(&inst.alias) {
                    continue;
                }
                for (e, other) in self.cat.neighbours(inst.table) {
                    if !self.table_ok(other) {
                        continue;
                    }
                    if e.spatial && !self.cross_predicates || !self.edge_ok(e) {
                        continue;
                    }
                    // One raster per query, and no raster beside a spatial self-join:
                    // PostgreSQL cannot estimate raster overlaps, and plans such products
                    // as nested loops that run for minutes and ignore cancellation.
                    let raster_in = self
                        .insts
                        .iter()
                        .any(|x| self.cat.tables[x.table].raster.is_some());
                    let is_raster = self.cat.tables[other].raster.is_some();
                    let self_join = e.spatial && e.left == e.right;
                    if (raster_in && (is_raster || self_join))
                        || (is_raster && !self.neighbours.is_empty())
                    {
                        continue;
                    }
                    // Never a per-group cross product; at most one join that multiplies
                    // the rows, and only from the first relation (after a many-to-one
                    // step it would be a cross product again), so counts and sums keep a
                    // meaning and costs stay bounded.
                    let from_is_left = e.left == inst.table && e.right == other;
                    // A table this relation already joins, again on a key: the same rows
                    // twice (a second instance is only a spatial neighbour).
                    if self.joined_pairs.contains(&(inst.alias.clone(), other))
                        && !(e.spatial && e.left == e.right)
                    {
                        continue;
                    }
                    if e.cross_product()
                        || ((self.expansions > 0 || i > 0) && e.expands_into(from_is_left))
                    {
                        continue;
                    }
                    options.push((e, i, other));
                }
            }
            if options.is_empty() {
                break;
            }
            let distinct = self.tables_used.len();
            let new: Vec<_> = options
                .iter()
                .filter(|(_, _, t)| !self.tables_used.contains(t))
                .copied()
                .collect();
            let need_spatial =
                req.sql_type == QueryType::SpatialJoin && !spatial_joined && step == r - 1;
            let need_raster = req.sql_type == QueryType::RasterVector
                && !self
                    .tables_used
                    .iter()
                    .any(|t| self.cat.tables[*t].raster.is_some());
            let pick = if need_raster
                && new
                    .iter()
                    .any(|(_, _, t)| self.cat.tables[*t].raster.is_some())
            {
                let rs: Vec<_> = new
                    .iter()
                    .filter(|(_, _, t)| self.cat.tables[*t].raster.is_some())
                    .copied()
                    .collect();
                rs.choose(self.rng).copied()
            } else if need_spatial {
                let sp: Vec<_> = options
                    .iter()
                    .filter(|(e, _, _)| e.spatial)
                    .copied()
                    .collect();
                sp.choose(self.rng).copied()
            } else if distinct < m && !new.is_empty() {
                let pick = self.pick_new(&new);
                pick
            } else {
                let old: Vec<_> = options
                    .iter()
                    .filter(|(_, _, t)| self.tables_used.contains(t))
                    .copied()
                    .collect();
                // Prefer self-joins (a spatial self edge), then any edge to a table in use.
                let selfj: Vec<_> = old
                    .iter()
                    .filter(|(e, _, _)| e.left == e.right)
                    .copied()
                    .collect();
                if !selfj.is_empty() && self.rng.random_bool(0.6) {
                    selfj.choose(self.rng).copied()
                } else if !old.is_empty() {
                    old.choose(self.rng).copied()
                } else {
                    options.choose(self.rng).copied()
                }
            };
            let Some((edge, from_i, to_t)) = pick.or_else(|| options.choose(self.rng).copied())
            else {
                break;
            };
            let edge = edge.clone();
            spatial_joined |= edge.spatial;
            let from_is_left = edge.left == self.insts[from_i].table && edge.right == to_t;
            let alias = self.alias_for(to_t);
            if edge.spatial && edge.left == edge.right {
                self.neighbours.insert(alias.clone());
            }
            if edge.expands_into(from_is_left) {
                self.expansions += 1;
                // Both sides repeat in a many-to-many join: no relation keeps its rows.
                self.expanded = if edge.left_many && edge.right_many {
                    None
                } else {
                    Some(alias.clone())
                };
                self.both_repeated |= edge.left_many && edge.right_many;
            }
            let from_inst = self.insts[from_i].clone();
            self.joined_pairs.insert((from_inst.alias.clone(), to_t));
            self.joined_pairs.insert((alias.clone(), from_inst.table));
            let on = self.join_condition(&edge, &from_inst, to_t, &alias);
            let spatial_meet = on.iter().any(|c| {
                matches!(c, PlanExpr::Call { function, .. } if matches!(
                    function.as_str(),
                    "ST_Intersects" | "ST_Within" | "ST_Contains" | "ST_Covers" | "ST_CoveredBy"
                        | "ST_Crosses" | "ST_Touches" | "ST_Overlaps" | "ST_Equals"
                ))
            });
            let (left_alias, right_alias) = if from_is_left {
                (&from_inst.alias, &alias)
            } else {
                (&alias, &from_inst.alias)
            };
            let containers: Vec<String> = if spatial_meet {
                vec![from_inst.alias.clone(), alias.clone()]
            } else if edge.left_within_right {
                vec![right_alias.clone()]
            } else if edge.right_within_left {
                vec![left_alias.clone()]
            } else {
                Vec::new()
            };
            let nests = edge.left_within_right || edge.right_within_left || spatial_meet;
            if nests || (!edge.spatial && !edge.cross_product()) {
                self.links
                    .push((from_inst.alias.clone(), alias.clone(), containers));
            }
            // Direct neighbours that meet (the raster tiles under a footprint); a project
            // and its buses are tied by `links` only, their centre being no boundary.
            if edge.left_within_right || spatial_meet {
                self.touching
                    .insert((from_inst.alias.clone(), alias.clone()));
                self.touching
                    .insert((alias.clone(), from_inst.alias.clone()));
            }
            let left = !edge.spatial && self.rng.random_bool(0.15);
            if left {
                self.left_joined.insert(alias.clone());
            }
            self.tables_used.insert(to_t);
            self.insts.push(Inst {
                alias: alias.clone(),
                table: to_t,
            });
            self.main.from.push(Relation {
                source: table_source(self.cat, to_t),
                alias,
                base: self.cat.tables[to_t].key.clone(),
                join: Some(JoinSpec {
                    left,
                    on,
                    edge: Some(edge.index),
                    lateral: false,
                }),
            });
        }

        // 2. Aggregation mode, from the complexity the row asks for.
        let base = 2 * c + 2 * s + j + req.spatial.div_ceil(2) + req.schemas.saturating_sub(1);
        let want_agg = (req.complexity as usize) > base
            || (req.complexity >= 10 && base >= 10 && self.rng.random_bool(0.5))
            || req.sql_type == QueryType::Aggregation;
        self.agg = if req.sql_type == QueryType::SpatialClustering {
            AggMode::Window
        } else if !want_agg || (small && req.sql_type != QueryType::Aggregation) {
            AggMode::None
        } else {
            // Grouping by the first relation's key needs a join that gives each of its rows
            // several joined rows; without one every group is a single row.
            let by_key = self.expansions > 0;
            let by_category = !self.cat.tables[self.insts[0].table].groupable.is_empty();
            match (by_key, by_category) {
                (true, true) if self.rng.random_bool(0.3) => AggMode::ByCategory,
                (true, _) => AggMode::ByKey,
                (false, true) => AggMode::ByCategory,
                (false, false) => AggMode::None,
            }
        };

        // Clustering needs rows to cluster: no narrow condition against a constant geometry
        // (a point, a box) in its WHERE clause.
        if self.agg == AggMode::Window {
            self.constant_filters = 1;
        }

        // 3. Subqueries.
        let mut new_left = from_subs;
        for _ in 0..s {
            let made = self.subquery(new_left > 0);
            if made == Some(true) {
                new_left -= 1;
            }
        }

        // 4. Spatial function calls.
        self.spatial_items();

        // 5. Plain filters, grouping, ordering.
        self.finish();

        // 6. CTE wrappers.
        // Grouping by the first relation's key needs its base table (functional dependency).
        let skip = usize::from(self.agg == AggMode::ByKey);
        let mut wrap_targets: Vec<String> = self
            .insts
            .iter()
            .skip(skip)
            .map(|i| i.alias.clone())
            .collect();
        wrap_targets.extend(self.sub_rels.iter().map(|i| i.alias.clone()));
        // A table of a few rows gives a CTE nothing to rank: wrap another when there is one.
        let ranked: Vec<String> = wrap_targets
            .iter()
            .filter(|a| {
                self.insts
                    .iter()
                    .chain(&self.sub_rels)
                    .find(|i| &i.alias == *a)
                    .is_some_and(|i| !self.cat.tables[i.table].few_rows)
            })
            .cloned()
            .collect();
        if !ranked.is_empty() {
            wrap_targets = ranked;
        }
        for _ in 0..c {
            let Some(a) = wrap_targets.choose(self.rng).cloned() else {
                break;
            };
            self.wraps.entry(a).or_default().0 += 1;
        }
        let ctes = self.build_wrappers();
        Some((ctes, self.main))
    }

    /// ON conditions for a join along `edge` from instance `from` to a new instance of `to_t`.
    fn join_condition(
        &mut self,
        edge: &catalog::EdgeCat,
        from: &Inst,
        to_t: usize,
        alias: &str,
    ) -> Vec<PlanExpr> {
        // Orient: which side of the edge is `from`.
        let from_is_left = edge.left == from.table && (edge.right == to_t);
        let (l_alias, r_alias) = if from_is_left {
            (from.alias.as_str(), alias)
        } else {
            (alias, from.alias.as_str())
        };
        if edge.spatial {
            // A distance join of a table with itself (neighbours within r metres) compares
            // geographies no index serves; beside a third relation PostgreSQL may evaluate
            // it over a cross product (28 s on the small sample database): there,
            // neighbours touch or intersect.
            let mut preds = self.edge_predicates(edge);
            if edge.left == edge.right && self.req.join > 1 && preds.len() > 1 {
                preds.retain(|p| !p.eq_ignore_ascii_case("ST_DWithin"));
            }
            let pred = preds
                .choose(self.rng)
                .cloned()
                .unwrap_or_else(|| "ST_Intersects".into());
            let l = PlanExpr::column(l_alias, &edge.left_columns[0]);
            let r = PlanExpr::column(r_alias, &edge.right_columns[0]);
            let mut on = vec![self.predicate_call(&pred, l, r)];
            if edge.left == edge.right {
                let from_alias = from.alias.clone();
                on.extend(self.other_entity(edge.left, alias, &from_alias));
            }
            on
        } else {
            edge.left_columns
                .iter()
                .zip(&edge.right_columns)
                .map(|(lc, rc)| {
                    PlanExpr::compare(
                        CompareOp::Eq,
                        PlanExpr::column(l_alias, lc),
                        PlanExpr::column(r_alias, rc),
                    )
                })
                .collect()
        }
    }

    /// A spatial predicate between two operands; distances in metres via geography. Between
    /// two columns (a join of relations) the radius is `@join_distance_m` when the pack has
    /// it (neighbourhood scale), else `@distance_m`.
    pub(crate) fn predicate_call(&mut self, pred: &str, l: PlanExpr, r: PlanExpr) -> PlanExpr {
        if pred.eq_ignore_ascii_case("ST_DWithin") {
            let between_columns =
                matches!(l, PlanExpr::Column { .. }) && matches!(r, PlanExpr::Column { .. });
            let q = if between_columns && self.cat.quantities.contains_key("@join_distance_m") {
                "@join_distance_m"
            } else {
                "@distance_m"
            };
            let d = self.quantity(q, true);
            PlanExpr::call(
                "ST_DWithin",
                vec![l.cast("geography"), r.cast("geography"), d],
            )
        } else {
            PlanExpr::call(pred, vec![l, r])
        }
    }

    /// The area of the query (chosen at the first need, among the areas that have rows of
    /// every table the query reads): its coordinates, metric CRS and area-bound values
    /// (project, network, municipality…) all come from it, so they hold together.
    pub(crate) fn area_index(&mut self) -> Option<usize> {
        if self.cat.areas.is_empty() {
            return None;
        }
        if let Some(i) = self.area {
            return Some(i);
        }
        let keys: Vec<&str> = self
            .tables_used
            .iter()
            .map(|t| self.cat.tables[*t].key.as_str())
            .collect();
        let fitting: Vec<usize> = (0..self.cat.areas.len())
            .filter(|i| keys.iter().all(|k| self.cat.areas[*i].fills(k)))
            .collect();
        let i = match fitting.choose(self.rng) {
            Some(i) => *i,
            None => self.rng.random_range(0..self.cat.areas.len()),
        };
        self.area = Some(i);
        Some(i)
    }

    /// The extent literal coordinates are drawn in: the query's area, else the
    /// `@longitude` / `@latitude` ranges.
    pub(crate) fn coordinate_extent(&mut self) -> Option<[f64; 4]> {
        let i = self.area_index()?;
        Some(self.cat.areas[i].extent)
    }

    /// The query area's value of an area-bound column of table `t`, when it has one.
    pub(crate) fn area_value(&mut self, t: usize, column: &str) -> Option<PlanExpr> {
        if !self.cat.area_bound(t, column) {
            return None;
        }
        let i = self.area_index()?;
        let v = self.cat.areas[i].value(&self.cat.tables[t].key, column)?;
        crate::plan::Literal::from_json(v).map(|value| PlanExpr::Literal { value })
    }

    /// A metric CRS for measuring: the query area's, else one of `@metric_srid`.
    pub(crate) fn metric_srid(&mut self) -> PlanExpr {
        match self.area_index() {
            Some(i) => PlanExpr::number(self.cat.areas[i].metric_srid.to_string()),
            // Rows of every area: the CRS most of them measure in (a zone suited to few
            // of them is no metric choice).
            None => match self.cat.common_metric_srid() {
                Some(s) => PlanExpr::number(s.to_string()),
                None => self.quantity("@metric_srid", true),
            },
        }
    }

    /// A point's coordinates as literals: inside the query's area (4 decimals, about 10 m).
    pub(crate) fn coordinates(&mut self) -> (PlanExpr, PlanExpr) {
        match self.coordinate_extent() {
            Some(e) => {
                let x = self.rng.random_range(e[0]..=e[2]);
                let y = self.rng.random_range(e[1]..=e[3]);
                (
                    PlanExpr::number(format!("{x:.4}")),
                    PlanExpr::number(format!("{y:.4}")),
                )
            }
            None => (
                self.quantity("@longitude", false),
                self.quantity("@latitude", false),
            ),
        }
    }

    /// A literal for a named quantity (`@distance_m`, `@longitude`, …).
    pub(crate) fn quantity(&mut self, name: &str, round: bool) -> PlanExpr {
        let f = self.cat.quantities.get(name).cloned();
        match f {
            Some(f) => self.literal_for(&f, round),
            None => PlanExpr::number(match name {
                "@distance_m" => "100",
                "@longitude" => "9.19",
                "@latitude" => "45.46",
                _ => "3857",
            }),
        }
    }

    /// A realistic literal from a domain.
    pub(crate) fn literal_for(&mut self, f: &Filterable, round: bool) -> PlanExpr {
        draw_literal(f, round, self.rng)
            .map(|value| PlanExpr::Literal { value })
            .unwrap_or_else(|| PlanExpr::number("0"))
    }

    /// Adds a subquery; returns Some(true) when it brought a new table.
    fn subquery(&mut self, want_new: bool) -> Option<bool> {
        // Candidate links: (instance index, edge, other table).
        let mut links: Vec<(usize, catalog::EdgeCat, usize)> = Vec::new();
        for (i, inst) in self.insts.iter().enumerate() {
            // A condition on a LEFT-joined relation in WHERE would drop its unmatched rows.
            // Beside a distance self-join, a semi-join lets PostgreSQL pair the subquery's
            // rows with every neighbour candidate before testing the distance (minutes on
            // a few thousand buildings): scalar subqueries and derived tables only.
            if self.left_joined.contains(&inst.alias) || !self.neighbours.is_empty() {
                continue;
            }
            for (e, other) in self.cat.neighbours(inst.table) {
                if !self.table_ok(other)
                    || (e.spatial && !self.cross_predicates)
                    || !self.edge_ok(e)
                {
                    continue;
                }
                links.push((i, e.clone(), other));
            }
        }
        let new_links: Vec<_> = links
            .iter()
            .filter(|(_, _, t)| !self.tables_used.contains(t))
            .cloned()
            .collect();
        // A scalar aggregate subquery adds the aggregate flag: only where one is wanted.
        let scalar_ok = self.agg != AggMode::None;
        let roll = self.rng.random_range(0..100);
        if want_new && !new_links.is_empty() {
            let (i, e, t) = new_links.choose(self.rng)?.clone();
            self.link_subquery(i, &e, t);
            return Some(true);
        }
        if roll < 30 && !links.is_empty() {
            let (i, e, t) = links.choose(self.rng)?.clone();
            self.link_subquery(i, &e, t);
            return Some(false);
        }
        if roll < 60 && scalar_ok && self.scalar_subquery() {
            return Some(false);
        }
        // A derived table around one main relation.
        let skip = usize::from(self.agg == AggMode::ByKey);
        let candidates: Vec<String> = self
            .insts
            .iter()
            .skip(skip)
            .filter(|i| !self.wraps.get(&i.alias).is_some_and(|w| w.1))
            .map(|i| i.alias.clone())
            .collect();
        if let Some(a) = candidates.choose(self.rng).cloned() {
            self.wraps.entry(a).or_default().1 = true;
            return Some(false);
        }
        if !links.is_empty() {
            let (i, e, t) = links.choose(self.rng)?.clone();
            self.link_subquery(i, &e, t);
            return Some(!self.tables_used.contains(&t));
        }
        None
    }

    /// `x.k IN (SELECT …)` or `EXISTS (SELECT 1 FROM … WHERE correlated)`.
    fn link_subquery(&mut self, i: usize, e: &catalog::EdgeCat, t: usize) {
        let inst = self.insts[i].clone();
        let alias = self.alias_for(t);
        self.tables_used.insert(t);
        self.sub_rels.push(Inst {
            alias: alias.clone(),
            table: t,
        });
        let inst_is_left =
            e.left == inst.table && !(e.left == e.right && self.rng.random_bool(0.5));
        let (inst_cols, sub_cols) = if inst_is_left {
            (&e.left_columns, &e.right_columns)
        } else {
            (&e.right_columns, &e.left_columns)
        };
        let mut sub = SelectPlan {
            from: vec![Relation {
                source: table_source(self.cat, t),
                alias: alias.clone(),
                base: self.cat.tables[t].key.clone(),
                join: None,
            }],
            ..SelectPlan::default()
        };
        if let Some(f) = self.filter_on(t, &alias) {
            sub.filters.push(f);
        }
        let negated = self.rng.random_bool(0.2);
        let pred = if !e.spatial && inst_cols.len() == 1 && self.rng.random_bool(0.6) {
            sub.items.push(SelectItem {
                expr: PlanExpr::column(&alias, &sub_cols[0]),
                alias: None,
            });
            PlanExpr::InSubquery {
                expr: Box::new(PlanExpr::column(&inst.alias, &inst_cols[0])),
                query: Box::new(sub),
                negated,
            }
        } else {
            // The key column rather than `1`: every literal in the SQL is one the
            // question states.
            let shown = self.cat.tables[t]
                .primary_key
                .first()
                .cloned()
                .unwrap_or_else(|| self.cat.tables[t].label.clone());
            sub.items.push(SelectItem {
                expr: PlanExpr::column(&alias, &shown),
                alias: None,
            });
            let mut conds: Vec<PlanExpr> = if e.spatial {
                let p = self
                    .edge_predicates(e)
                    .choose(self.rng)
                    .cloned()
                    .unwrap_or_else(|| "ST_Intersects".into());
                let li = PlanExpr::column(&inst.alias, &inst_cols[0]);
                let ls = PlanExpr::column(&alias, &sub_cols[0]);
                let c = if inst_is_left {
                    self.predicate_call(&p, li, ls)
                } else {
                    self.predicate_call(&p, ls, li)
                };
                let mut v = vec![c];
                if e.left == e.right {
                    v.extend(self.other_entity(t, &alias, &inst.alias));
                }
                v
            } else {
                inst_cols
                    .iter()
                    .zip(sub_cols)
                    .map(|(ic, sc)| {
                        PlanExpr::compare(
                            CompareOp::Eq,
                            PlanExpr::column(&alias, sc),
                            PlanExpr::column(&inst.alias, ic),
                        )
                    })
                    .collect()
            };
            conds.append(&mut sub.filters);
            sub.filters = conds;
            PlanExpr::Exists {
                query: Box::new(sub),
                negated,
            }
        };
        self.main.filters.push(pred);
    }

    /// `x.num > (SELECT AVG(s.num) FROM same_table s [WHERE …])`.
    fn scalar_subquery(&mut self) -> bool {
        let mut opts: Vec<(Inst, String)> = self
            .insts
            .iter()
            .flat_map(|i| {
                self.cat.tables[i.table]
                    .numeric
                    .iter()
                    .map(move |c| (i.clone(), c.clone()))
            })
            .collect();
        let cat = self.cat;
        catalog::thin_obscure(self.rng, &mut opts, |(i, c)| {
            cat.tables[i.table].obscure.contains(c)
        });
        let Some((inst, col)) = opts.choose(self.rng).cloned() else {
            return false;
        };
        let alias = self.alias_for(inst.table);
        self.sub_rels.push(Inst {
            alias: alias.clone(),
            table: inst.table,
        });
        let mut sub = SelectPlan {
            items: vec![SelectItem {
                expr: PlanExpr::Aggregate {
                    function: "avg".into(),
                    arg: Some(Box::new(PlanExpr::column(&alias, &col))),
                    distinct: false,
                    filter: None,
                },
                alias: None,
            }],
            from: vec![Relation {
                source: table_source(self.cat, inst.table),
                alias: alias.clone(),
                base: self.cat.tables[inst.table].key.clone(),
                join: None,
            }],
            ..SelectPlan::default()
        };
        if let Some(f) = self.filter_on(inst.table, &alias) {
            sub.filters.push(f);
        }
        let op = if self.rng.random_bool(0.5) {
            CompareOp::Gt
        } else {
            CompareOp::Lt
        };
        self.main.filters.push(PlanExpr::compare(
            op,
            PlanExpr::column(&inst.alias, &col),
            PlanExpr::Scalar {
                query: Box::new(sub),
            },
        ));
        true
    }

    /// A plain filter on a table's column with a realistic literal.
    /// A query with a place (its coordinates, its metric CRS, an area's value) reads the
    /// rows of that place: the lengths of Rome's lines in Milan's UTM zone, or distances
    /// from every building of Italy to a point in Bologna, mean nothing. Pins the first
    /// relation that has an area-bound column still free, unless the WHERE clause already
    /// restricts the rows to the place.
    fn restrict_to_area(&mut self, filterable: &[Inst]) {
        let Some(area) = self.area else { return };
        if self.place_filters > 0 || self.main.filters.iter().any(|f| self.is_area_pin(f)) {
            return;
        }
        for inst in filterable {
            let t = &self.cat.tables[inst.table];
            // The place by its name rather than its code (`comune`, not `procom`).
            let mut cols: Vec<String> = t
                .filters
                .iter()
                .map(|f| f.column().to_string())
                .filter(|c| {
                    self.cat.area_bound(inst.table, c)
                        && !self.filtered.contains(&(inst.alias.clone(), c.clone()))
                        && self.cat.areas[area].value(&t.key, c).is_some()
                })
                .collect();
            cols.sort_by_key(|c| t.occasional.contains(c));
            let Some(col) = cols.into_iter().next() else {
                continue;
            };
            let Some(lit) = self.area_value(inst.table, &col) else {
                continue;
            };
            self.pin_place(inst.table, &inst.alias.clone());
            self.filtered.insert((inst.alias.clone(), col.clone()));
            self.main.filters.push(PlanExpr::compare(
                CompareOp::Eq,
                PlanExpr::column(&inst.alias, &col),
                lit,
            ));
            return;
        }
    }

    /// Records that `alias` (of table `t`) is pinned to the query's place: every column an
    /// area fixes (the project's id and name, its city, its network) is then one value,
    /// nothing to filter, group, order or show again.
    fn pin_place(&mut self, t: usize, alias: &str) {
        let cols: Vec<String> = self.cat.area_bound.get(t).cloned().unwrap_or_default();
        for c in cols {
            self.filtered.insert((alias.to_string(), c));
        }
    }

    /// `alias.column = <the area's value>` on an area-bound column (a project, a
    /// municipality): the query's place, which leaves the rows of that place.
    pub(crate) fn is_area_pin(&self, f: &PlanExpr) -> bool {
        let PlanExpr::Compare {
            op: CompareOp::Eq,
            left,
            ..
        } = f
        else {
            return false;
        };
        let PlanExpr::Column { rel, column } = left.as_ref() else {
            return false;
        };
        self.insts
            .iter()
            .find(|i| &i.alias == rel)
            .is_some_and(|i| self.cat.area_bound(i.table, column))
    }

    /// Conditions that make a new instance `new` of table `t` another entity than the
    /// instance `old`: another key, or, when the table holds each entity at several levels
    /// (a building at each level of detail), another entity at one level, pinned for both
    /// (`old`'s in WHERE). Equal levels as a join key would let PostgreSQL hash-join on a
    /// column of three values and test the distance on every pair.
    fn other_entity(&mut self, t: usize, new: &str, old: &str) -> Vec<PlanExpr> {
        let tc = &self.cat.tables[t];
        if let Some((entity, level)) = tc.levels.clone() {
            let range = tc.filters.iter().find_map(|f| match f {
                Filterable::Range {
                    column, min, max, ..
                } if *column == level => Some((*min as i64, *max as i64)),
                _ => None,
            });
            if let Some((lo, hi)) = range {
                // The level `old` is already pinned to, else one drawn.
                let pinned = self.main.filters.iter().find_map(|f| match f {
                    PlanExpr::Compare {
                        op: CompareOp::Eq,
                        left,
                        right,
                    } if matches!(left.as_ref(), PlanExpr::Column { rel, column }
                        if rel == old && *column == level) =>
                    {
                        Some(right.as_ref().clone())
                    }
                    _ => None,
                });
                let lit = match pinned {
                    Some(l) => l,
                    None => {
                        let v = self.rng.random_range(lo..=hi);
                        let l = PlanExpr::number(v.to_string());
                        self.main.filters.push(PlanExpr::compare(
                            CompareOp::Eq,
                            PlanExpr::column(old, &level),
                            l.clone(),
                        ));
                        l
                    }
                };
                self.filtered.insert((old.to_string(), level.clone()));
                self.filtered.insert((new.to_string(), level.clone()));
                return vec![
                    PlanExpr::compare(
                        CompareOp::NotEq,
                        PlanExpr::column(new, &entity),
                        PlanExpr::column(old, &entity),
                    ),
                    PlanExpr::compare(CompareOp::Eq, PlanExpr::column(new, &level), lit),
                ];
            }
        }
        tc.primary_key
            .first()
            .map(|pk| {
                PlanExpr::compare(
                    CompareOp::NotEq,
                    PlanExpr::column(new, pk),
                    PlanExpr::column(old, pk),
                )
            })
            .into_iter()
            .collect()
    }

    /// Records a filter on `alias.column` (of table `t`), and on the columns the data ties
    /// to it: a second condition on those would be redundant or contradictory.
    fn mark_filtered(&mut self, t: usize, alias: &str, column: &str) {
        self.filtered
            .insert((alias.to_string(), column.to_string()));
        for d in self.cat.tables[t].dependents_of(column) {
            self.filtered.insert((alias.to_string(), d.to_string()));
        }
    }

    pub(crate) fn filter_on(&mut self, t: usize, alias: &str) -> Option<PlanExpr> {
        let mut open: Vec<Filterable> = self.cat.tables[t]
            .filters
            .iter()
            .filter(|f| {
                !self
                    .filtered
                    .contains(&(alias.to_string(), f.column().to_string()))
                    && (!self.area_filters_only || self.cat.area_bound(t, f.column()))
            })
            .cloned()
            .collect();
        // Coded statistics and timestamps are filters people set now and then.
        let tc = &self.cat.tables[t];
        catalog::thin_obscure(self.rng, &mut open, |f| {
            tc.obscure.contains(f.column()) || tc.occasional.contains(f.column())
        });
        let f = open.choose(self.rng)?.clone();
        self.mark_filtered(t, alias, f.column());
        // An area-bound column (project, network, municipality…) takes the query's area's
        // value: filters on functionally dependent columns then agree.
        if self.cat.area_bound(t, f.column()) {
            let lit = self.area_value(t, f.column())?;
            // One place pin per relation: its id and its name say the same.
            self.pin_place(t, alias);
            return Some(PlanExpr::compare(
                CompareOp::Eq,
                PlanExpr::column(alias, f.column()),
                lit,
            ));
        }
        let lit = self.literal_for(&f, true);
        let op = match &f {
            // A flag is set or not: `in_service = FALSE`, never `<> TRUE`.
            Filterable::Enum { values, .. } if values.iter().all(|v| v.is_boolean()) => {
                CompareOp::Eq
            }
            Filterable::Enum { .. } => {
                if self.rng.random_bool(0.85) {
                    CompareOp::Eq
                } else {
                    CompareOp::NotEq
                }
            }
            // Since a day, mostly; before one now and then.
            Filterable::Dates { .. } => {
                if self.rng.random_bool(0.8) {
                    CompareOp::GtEq
                } else {
                    CompareOp::Lt
                }
            }
            Filterable::Range {
                integer, min, max, ..
            } => {
                if *integer && max - min <= 5.0 {
                    CompareOp::Eq
                } else {
                    *[
                        CompareOp::Gt,
                        CompareOp::GtEq,
                        CompareOp::Lt,
                        CompareOp::LtEq,
                    ]
                    .choose(self.rng)
                    .expect("non-empty")
                }
            }
        };
        Some(PlanExpr::compare(
            op,
            PlanExpr::column(alias, f.column()),
            lit,
        ))
    }

    /// The columns of `alias` that a join condition of the main query compares.
    fn joined_columns(&self, alias: &str) -> BTreeSet<String> {
        let mut c = BTreeSet::new();
        for j in self.main.from.iter().filter_map(|r| r.join.as_ref()) {
            for e in &j.on {
                if let PlanExpr::Compare { left, right, .. } = e {
                    for s in [left, right] {
                        if let PlanExpr::Column { rel, column } = s.as_ref() {
                            if rel == alias {
                                c.insert(column.clone());
                            }
                        }
                    }
                }
            }
        }
        c
    }

    /// One measure of `inst`'s rows aggregated per group, the way it adds up: summed
    /// only when the pack says its sum means something (areas, people), else averaged or
    /// its extremes. The column is kept out of equality filters (a pinned value averages
    /// to itself).
    fn measure_aggregate(&mut self, inst: &Inst) -> Option<SelectItem> {
        let t = &self.cat.tables[inst.table];
        if t.few_rows {
            // A project's handful of rows per group: the average of one value.
            return None;
        }
        let mut free: Vec<&String> = t
            .numeric
            .iter()
            .filter(|c| !self.filtered.contains(&(inst.alias.clone(), (*c).clone())))
            .collect();
        catalog::thin_obscure(self.rng, &mut free, |c| t.obscure.contains(*c));
        let col = (*free.choose(self.rng)?).clone();
        let fs: &[&str] = if t.additive.contains(&col) {
            &["sum", "sum", "avg", "max"]
        } else {
            &["avg", "avg", "max", "min"]
        };
        let f = *fs.choose(self.rng).expect("non-empty");
        let stem = format!("{}_{col}", if f == "sum" { "total" } else { f });
        let mut name = stem.clone();
        let mut k = 2;
        while !self.item_names.insert(name.clone()) {
            name = format!("{stem}_{k}");
            k += 1;
        }
        self.numeric_items.insert(name.clone());
        self.filtered.insert((inst.alias.clone(), col.clone()));
        Some(SelectItem {
            expr: PlanExpr::Aggregate {
                function: f.into(),
                arg: Some(Box::new(PlanExpr::column(&inst.alias, &col))),
                distinct: false,
                filter: None,
            },
            alias: Some(name),
        })
    }

    fn finish(&mut self) {
        // Identifying columns first.
        let first = self.insts[0].clone();
        let t0 = &self.cat.tables[first.table];
        let mut lead: Vec<SelectItem> = Vec::new();
        match self.agg {
            AggMode::ByCategory => {
                let col = t0
                    .groupable
                    .choose(self.rng)
                    .cloned()
                    .unwrap_or_else(|| t0.label.clone());
                let g = PlanExpr::column(&first.alias, &col);
                // A filter pinning the grouped column (or the rest of a key it is part of,
                // or another column of the same place) would leave one group per row or
                // one group in all.
                self.mark_filtered(first.table, &first.alias, &col);
                let mut blocked: Vec<String> = Vec::new();
                // An area-bound column stands for the area's key column (a project's name
                // for its id): grouping by it and pinning the rest of that key leaves one
                // row per group too.
                let in_key = t0.primary_key.contains(&col)
                    || (self.cat.area_bound(first.table, &col)
                        && t0
                            .primary_key
                            .iter()
                            .any(|k| self.cat.area_bound(first.table, k)));
                if in_key {
                    blocked.extend(t0.primary_key.iter().cloned());
                }
                if self.cat.area_bound(first.table, &col)
                    || (in_key
                        && t0
                            .primary_key
                            .iter()
                            .any(|k| self.cat.area_bound(first.table, k)))
                {
                    blocked.extend(self.cat.area_filter_columns(first.table));
                }
                for c in blocked {
                    self.filtered.insert((first.alias.clone(), c));
                }
                // Grouped by a place (a project), no relation may pin a place: the joins
                // tie their places to the grouped one, leaving one group.
                if self.cat.area_bound(first.table, &col) {
                    let pins: Vec<(String, String)> = self
                        .insts
                        .iter()
                        .flat_map(|i| {
                            self.cat
                                .area_filter_columns(i.table)
                                .into_iter()
                                .map(|c| (i.alias.clone(), c))
                        })
                        .collect();
                    self.filtered.extend(pins);
                }
                self.main.group_by.push(g.clone());
                lead.push(SelectItem {
                    expr: g,
                    alias: None,
                });
                let n = format!("{}_count", t0.name);
                self.item_names.insert(n.clone());
                // Over a join that repeats rows, count the first relation's rows, not the
                // combinations.
                // (A key column the area does not fix: a project's scenarios, not its id.)
                // A table with several rows per entity (a building per level of detail)
                // counts its entities.
                let arg = (self.expansions > 0 || t0.entity != t0.primary_key)
                    .then(|| {
                        t0.entity
                            .iter()
                            .find(|k| !self.cat.area_bound(first.table, k) && **k != col)
                            .or(t0.entity.first())
                    })
                    .flatten()
                    .map(|k| Box::new(PlanExpr::column(&first.alias, k)));
                let distinct = arg.is_some();
                lead.push(SelectItem {
                    expr: PlanExpr::Aggregate {
                        function: "count".into(),
                        arg,
                        distinct,
                        filter: None,
                    },
                    alias: Some(n),
                });
                // Often a measure per group too (the average height of each use type),
                // of the rows no join repeats: the first relation's, or the ones a to-many
                // join brings.
                let measured = match (self.expansions, &self.expanded) {
                    (0, _) => Some(first.clone()),
                    (1, Some(a)) => self.insts.iter().find(|i| &i.alias == a).cloned(),
                    _ => None,
                };
                if let Some(inst) = measured {
                    if self.rng.random_bool(0.5) {
                        lead.extend(self.measure_aggregate(&inst));
                    }
                }
            }
            AggMode::ByKey => {
                for k in &t0.primary_key {
                    // Pinning a key column would leave one row per group.
                    self.filtered.insert((first.alias.clone(), k.clone()));
                    self.main.group_by.push(PlanExpr::column(&first.alias, k));
                }
                if !t0.primary_key.contains(&t0.label) {
                    lead.push(SelectItem {
                        expr: PlanExpr::column(&first.alias, &t0.label),
                        alias: None,
                    });
                } else {
                    lead.push(SelectItem {
                        expr: PlanExpr::column(&first.alias, &t0.primary_key[0]),
                        alias: None,
                    });
                }
                // Something aggregated over the joined rows.
                if self.insts.len() > 1 {
                    // The rows of the relation the join repeats the key's row for (its
                    // key: a label may be the grouped entity's own name).
                    let other = self
                        .expanded
                        .as_ref()
                        .and_then(|a| self.insts.iter().find(|i| &i.alias == a))
                        .cloned()
                        .unwrap_or_else(|| {
                            self.insts[1 + self.rng.random_range(0..self.insts.len() - 1)].clone()
                        });
                    // Its entities, unless the join ties them to the grouped key (the
                    // same building's rows: count the rows).
                    let tied = self.joined_columns(&other.alias);
                    let tt = &self.cat.tables[other.table];
                    let counted = tt
                        .entity
                        .iter()
                        .find(|k| !tied.contains(*k))
                        .or(tt.primary_key.first())
                        .unwrap_or(&tt.label)
                        .clone();
                    let to_many = self.expanded.as_deref() == Some(other.alias.as_str());
                    let name = format!("{}_count", tt.name);
                    if self.item_names.insert(name.clone()) {
                        lead.push(SelectItem {
                            expr: PlanExpr::Aggregate {
                                function: "count".into(),
                                arg: Some(Box::new(PlanExpr::column(&other.alias, &counted))),
                                distinct: true,
                                filter: None,
                            },
                            alias: Some(name),
                        });
                    }
                    // And, often, one of their measures (a census section's residents
                    // summed over its buildings).
                    if to_many && self.rng.random_bool(0.5) {
                        lead.extend(self.measure_aggregate(&other));
                    }
                }
            }
            AggMode::None | AggMode::Window => {
                let extra = self.rng.random_range(0..=1usize);
                for inst in self.insts.iter().take(1 + extra) {
                    let t = &self.cat.tables[inst.table];
                    lead.push(SelectItem {
                        expr: PlanExpr::column(&inst.alias, &t.label),
                        alias: None,
                    });
                }
                if self.rng.random_bool(0.4) {
                    let mut measures: Vec<&String> = t0.numeric.iter().collect();
                    catalog::thin_obscure(self.rng, &mut measures, |c| t0.obscure.contains(*c));
                    if let Some(col) = measures.choose(self.rng) {
                        lead.push(SelectItem {
                            expr: PlanExpr::column(&first.alias, col),
                            alias: None,
                        });
                    }
                }
            }
        }
        // Every joined relation is read: a join nothing reads only repeats or drops rows.
        let joined: Vec<Inst> = self.insts.iter().skip(1).cloned().collect();
        for inst in &joined {
            if self.reads(&inst.alias, &lead) {
                continue;
            }
            let t = &self.cat.tables[inst.table];
            // Its join columns equal columns already there: show something else of it.
            let on_cols = self.joined_columns(&inst.alias);
            let shown = if !on_cols.contains(&t.label) {
                t.label.clone()
            } else if let Some(n) = t.numeric.first() {
                n.clone()
            } else if let Some(f) = t.groupable.first() {
                f.clone()
            } else {
                t.primary_key.first().cloned().unwrap_or(t.label.clone())
            };
            match self.agg {
                AggMode::None | AggMode::Window => lead.push(SelectItem {
                    expr: PlanExpr::column(&inst.alias, &shown),
                    alias: None,
                }),
                AggMode::ByKey | AggMode::ByCategory => {
                    // Its own rows: a key column, unless its label names them. A name
                    // the area fixes (a project's) is one value wherever the area is.
                    let counted = if on_cols.contains(&t.label)
                        || self.agg == AggMode::ByKey
                        || self.cat.area_bound(inst.table, &t.label)
                    {
                        t.entity
                            .iter()
                            .find(|k| !self.cat.area_bound(inst.table, k))
                            .or(t.entity.first())
                            .cloned()
                            .unwrap_or(t.label.clone())
                    } else {
                        t.label.clone()
                    };
                    // Counting the same entities as the first relation (a building's
                    // property records by building id) repeats its count: one of this
                    // relation's measures says something, else its rows are counted.
                    let same_entity = inst.alias != first.alias && t0.entity.contains(&counted);
                    let (stem, row_key) = (
                        format!("{}_count", t.name),
                        t.primary_key.first().cloned().unwrap_or(counted.clone()),
                    );
                    let counted = if same_entity {
                        if let Some(m) = self.measure_aggregate(inst) {
                            lead.push(m);
                            continue;
                        }
                        row_key
                    } else {
                        counted
                    };
                    let mut name = stem.clone();
                    let mut k = 2;
                    while !self.item_names.insert(name.clone()) {
                        name = format!("{stem}_{k}");
                        k += 1;
                    }
                    lead.push(SelectItem {
                        expr: PlanExpr::Aggregate {
                            function: "count".into(),
                            arg: Some(Box::new(PlanExpr::column(&inst.alias, &counted))),
                            distinct: true,
                            filter: None,
                        },
                        alias: Some(name),
                    });
                }
            }
        }
        // A column the join makes equal to one already shown says nothing new.
        let equal_pairs: Vec<(PlanExpr, PlanExpr)> = self
            .main
            .from
            .iter()
            .filter_map(|r| r.join.as_ref())
            .flat_map(|j| j.on.iter())
            .filter_map(|e| match e {
                PlanExpr::Compare {
                    op: CompareOp::Eq,
                    left,
                    right,
                } => Some((left.as_ref().clone(), right.as_ref().clone())),
                _ => None,
            })
            .collect();
        let mut shown: Vec<PlanExpr> = Vec::new();
        lead.retain(|i| {
            let dup = shown.iter().any(|s| {
                equal_pairs
                    .iter()
                    .any(|(a, b)| (a == s && *b == i.expr) || (b == s && *a == i.expr))
            });
            if !dup {
                shown.push(i.expr.clone());
            }
            !dup
        });
        // Remove duplicates among lead columns.
        let mut seen: Vec<PlanExpr> = Vec::new();
        lead.retain(|i| {
            let new = !seen.contains(&i.expr);
            if new {
                seen.push(i.expr.clone());
            }
            new
        });
        let mut items = lead;
        items.append(&mut self.main.items);
        // Output names must be unique: plain columns of the same name get an alias.
        let mut names: BTreeMap<String, usize> = BTreeMap::new();
        for it in &mut items {
            let name = match (&it.alias, &it.expr) {
                (Some(a), _) => a.clone(),
                (None, PlanExpr::Column { column, .. }) => column.clone(),
                _ => continue,
            };
            let n = names.entry(name.clone()).or_default();
            *n += 1;
            if *n > 1 {
                if let PlanExpr::Column { rel, column } = &it.expr {
                    it.alias = Some(format!("{rel}_{column}"));
                }
            }
        }
        self.main.items = items;

        // Plain filters on the main relations: none, one, rarely two (analysts ask about
        // one condition at a time; every added one must also read in the question).
        let nf = match self.rng.random_range(0..20u32) {
            0..=7 => 0usize,
            8..=16 => 1,
            _ => 2,
        };
        let filterable: Vec<Inst> = self
            .insts
            .iter()
            .filter(|i| !self.left_joined.contains(&i.alias))
            .cloned()
            .collect();
        for _ in 0..nf {
            let Some(inst) = filterable.choose(self.rng).cloned() else {
                break;
            };
            if let Some(f) = self.filter_on(inst.table, &inst.alias) {
                if !self.main.filters.contains(&f) {
                    self.main.filters.push(f);
                }
            }
        }
        // Half of the queries without a place of their own are about one (a project, a
        // city): analysts scope their questions; the other half read every place.
        if self.area.is_none()
            && !self.cat.area_filter_columns(first.table).is_empty()
            && self.rng.random_bool(0.5)
        {
            self.area_index();
        }
        self.restrict_to_area(&filterable);
        // HAVING on grouped queries.
        // Not over a table of a few rows (a project's handful of scenarios), nor behind a
        // condition against a constant geometry (the buildings containing a point).
        if matches!(self.agg, AggMode::ByCategory)
            && !t0.few_rows
            && self.constant_filters == 0
            && self.rng.random_bool(0.4)
        {
            // A threshold most groups of a city-scale database reach.
            let n = self.rng.random_range(2..=5u32).to_string();
            // The groups' own count, as the outputs count it (the distinct entities over a
            // join that repeats rows): the threshold is on the number the question names.
            let count = self
                .main
                .items
                .iter()
                .find_map(|i| match &i.expr {
                    e @ PlanExpr::Aggregate {
                        function,
                        filter: None,
                        ..
                    } if function == "count" => Some(e.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| PlanExpr::aggregate("count", None));
            self.main
                .having
                .push(PlanExpr::compare(CompareOp::Gt, count, PlanExpr::number(n)));
        }
        // Ordering and limit.
        match self.req.limit {
            LimitStrategy::TopN | LimitStrategy::OrderedOnly => {
                let key = self.order_key();
                if let Some((e, desc)) = key {
                    self.main.order_by.push((e, desc));
                    if self.req.limit == LimitStrategy::TopN {
                        self.main.limit = Some(
                            *[5u64, 10, 10, 20, 25, 50, 100]
                                .choose(self.rng)
                                .expect("non-empty"),
                        );
                    }
                }
            }
            _ => {}
        }
    }

    /// Whether anything of the main query besides `alias`'s own join condition (or the
    /// `extra` items about to be added) reads `alias`.
    fn reads(&self, alias: &str, extra: &[SelectItem]) -> bool {
        let mut probe = self.main.clone();
        for r in &mut probe.from {
            if r.alias == alias {
                r.join = None;
            }
        }
        probe.items.extend(extra.iter().cloned());
        let mut cols = BTreeSet::new();
        facts::columns_of(&probe, alias, &mut cols);
        !cols.is_empty()
    }

    /// Columns the WHERE clause pins to one value.
    /// Whether the WHERE clause fixes `e`: an equality with a literal, or a column an
    /// area fixes on a relation pinned to its place (the project's name, once its id is).
    fn pinned(&self, e: &PlanExpr) -> bool {
        let direct = |e: &PlanExpr| {
            self.main.filters.iter().any(|f| {
                matches!(f, PlanExpr::Compare { op: CompareOp::Eq, left, right }
                    if left.as_ref() == e && matches!(right.as_ref(), PlanExpr::Literal { .. }))
            })
        };
        if direct(e) {
            return true;
        }
        let PlanExpr::Column { rel, column } = e else {
            return false;
        };
        let Some(t) = self.insts.iter().find(|i| &i.alias == rel).map(|i| i.table) else {
            return false;
        };
        self.cat.area_bound(t, column)
            && self
                .cat
                .area_bound
                .get(t)
                .is_some_and(|cols| cols.iter().any(|c| direct(&PlanExpr::column(rel, c))))
    }

    fn order_key(&mut self) -> Option<(PlanExpr, bool)> {
        // An aliased numeric output is the natural key.
        let numeric_aliases: Vec<String> = self
            .main
            .items
            .iter()
            .filter_map(|i| i.alias.clone())
            .filter(|a| self.numeric_items.contains(a) || a.ends_with("_count"))
            .collect();
        if let Some(a) = numeric_aliases.choose(self.rng) {
            return Some((
                PlanExpr::Output { name: a.clone() },
                self.rng.random_bool(0.7),
            ));
        }
        // Else the first column output that varies between rows (never a geometry: its
        // order is its bytes').
        let geometry = |e: &PlanExpr| match e {
            PlanExpr::Column { rel, column } => self.insts.iter().any(|i| {
                i.alias == *rel
                    && (self.cat.tables[i.table]
                        .geoms
                        .iter()
                        .any(|g| g.name == *column)
                        || self.cat.tables[i.table].raster.as_deref() == Some(column.as_str()))
            }),
            _ => true,
        };
        let first = self
            .main
            .items
            .iter()
            .find(|i| !self.pinned(&i.expr) && !geometry(&i.expr))?;
        let e = match (&first.alias, &first.expr) {
            (Some(a), _) => PlanExpr::Output { name: a.clone() },
            (None, e) => e.clone(),
        };
        Some((e, self.rng.random_bool(0.3)))
    }

    /// Replace wrapped relations' sources by CTE chains and derived tables.
    fn build_wrappers(&mut self) -> Vec<CtePlan> {
        let mut ctes = Vec::new();
        let wraps = std::mem::take(&mut self.wraps);
        let mut cte_names: BTreeSet<String> = BTreeSet::new();
        for (alias, (n_cte, derived)) in wraps {
            // Columns the outside reads through this alias.
            let mut cols: BTreeSet<String> = BTreeSet::new();
            facts::columns_of(&self.main, &alias, &mut cols);
            let Some(rel) = find_relation(&mut self.main, &alias) else {
                continue;
            };
            let Source::Table { .. } = &rel.source else {
                continue;
            };
            let table = self
                .cat
                .tables
                .iter()
                .position(|t| t.key == rel.base)
                .expect("planned tables are pack tables");
            let tcat = &self.cat.tables[table];
            if cols.is_empty() {
                cols.insert(
                    tcat.primary_key
                        .first()
                        .cloned()
                        .unwrap_or(tcat.label.clone()),
                );
            }
            let mut source = rel.source.clone();
            // Filters for each level, innermost first; a level keeps the columns later
            // levels filter on.
            let levels = n_cte + usize::from(derived);
            let mut level_filters: Vec<Option<PlanExpr>> = Vec::new();
            for l in 0..levels {
                // The innermost level ranks its rows (below): a filter there is optional,
                // half of them do without one (a condition fewer to read and to satisfy).
                if l == 0 && self.rng.random_bool(0.5) {
                    level_filters.push(None);
                    continue;
                }
                let f = {
                    let open: Vec<Filterable> = tcat
                        .filters
                        .iter()
                        .filter(|f| {
                            !self
                                .filtered
                                .contains(&(alias.clone(), f.column().to_string()))
                                && (!self.area_filters_only
                                    || self.cat.area_bound(table, f.column()))
                        })
                        .cloned()
                        .collect();
                    let f = open.choose(self.rng).cloned();
                    if let Some(f) = &f {
                        self.mark_filtered(table, &alias, f.column());
                    }
                    f.and_then(|f| {
                        if self.cat.area_bound(table, f.column()) {
                            let lit = self.area_value(table, f.column())?;
                            return Some((f.column().to_string(), CompareOp::Eq, lit));
                        }
                        let lit = self.literal_for(&f, true);
                        let op = match &f {
                            Filterable::Enum { .. } => CompareOp::Eq,
                            Filterable::Dates { .. } => CompareOp::GtEq,
                            Filterable::Range {
                                integer, min, max, ..
                            } if *integer && max - min <= 5.0 => CompareOp::Eq,
                            _ => *[CompareOp::Gt, CompareOp::Lt]
                                .choose(self.rng)
                                .expect("non-empty"),
                        };
                        Some((f.column().to_string(), op, lit))
                    })
                };
                level_filters.push(
                    f.map(|(c, op, lit)| PlanExpr::compare(op, PlanExpr::column("@", &c), lit)),
                );
            }
            let mut needed: Vec<BTreeSet<String>> = vec![cols.clone(); levels];
            for l in (0..levels).rev() {
                if l + 1 < levels {
                    let mut next = needed[l + 1].clone();
                    if let Some(PlanExpr::Compare { left, .. }) = &level_filters[l + 1] {
                        if let PlanExpr::Column { column, .. } = left.as_ref() {
                            next.insert(column.clone());
                        }
                    }
                    needed[l] = next;
                }
            }
            // The innermost level keeps the top rows by a measure (or the most recent by a
            // timestamp): a step the outer query builds on, not a filter it could have
            // written itself.
            let rank_key = if tcat.few_rows || self.area_filters_only {
                // The top rows of a table of a few rows are all of them.
                None
            } else {
                // Not by a column a filter (or the column the data ties it to) fixes.
                // Nor by a time ("the 100 most recent") or a measure of a few coded values
                // (three voltages, all ties): those subsets are arbitrary.
                let coded = |c: &String| {
                    tcat.filters
                        .iter()
                        .any(|f| matches!(f, Filterable::Enum { .. }) && f.column() == c)
                };
                let mut keys: Vec<(String, bool)> = tcat
                    .numeric
                    .iter()
                    .filter(|c| !self.filtered.contains(&(alias.clone(), (*c).clone())))
                    .filter(|c| !coded(c))
                    .map(|c| (c.clone(), self.rng.random_bool(0.7)))
                    .collect();
                catalog::thin_obscure(self.rng, &mut keys, |(c, _)| tcat.obscure.contains(c));
                keys.choose(self.rng).cloned()
            };
            // Without a ranking the levels would only filter one table: the same query as
            // its filters in the outer WHERE clause (the `sense` metric's L3). No nesting
            // then; the attempt's structure says so.
            if rank_key.is_none() {
                continue;
            }
            let top = *[50u64, 100, 200].choose(self.rng).expect("non-empty");
            // The outer query's conditions on this relation's own rows go before the
            // ranking: "the 50 longest lines of Turin's network", not "those of the 50
            // longest lines of Italy that are in Turin".
            let mut outer_own: Vec<PlanExpr> = Vec::new();
            if rank_key.is_some() {
                let (own, rest): (Vec<PlanExpr>, Vec<PlanExpr>) =
                    std::mem::take(&mut self.main.filters)
                        .into_iter()
                        .partition(|f| only_reads(f, &alias));
                self.main.filters = rest;
                outer_own = own;
                // A query about a place ranks that place's rows: the 100 longest lines of
                // the project the outer query pins, not of every project.
                let placed = self.main.filters.iter().any(|f| self.is_area_pin(f));
                let pinned_here = outer_own.iter().any(|f| self.is_area_pin(f));
                if placed && !pinned_here {
                    let col = self
                        .cat
                        .area_filter_columns(table)
                        .into_iter()
                        .find(|c| !self.filtered.contains(&(alias.clone(), c.clone())));
                    if let Some(col) = col {
                        if let Some(lit) = self.area_value(table, &col) {
                            for c in self.cat.area_filter_columns(table) {
                                self.filtered.insert((alias.clone(), c));
                            }
                            outer_own.push(PlanExpr::compare(
                                CompareOp::Eq,
                                PlanExpr::column(&alias, &col),
                                lit,
                            ));
                        }
                    }
                }
            }
            // The ranking is the last step, over the rows every condition kept: the levels
            // below it carry the ranking column and the outer conditions' columns up.
            let last = levels.saturating_sub(1);
            let mut carried: BTreeSet<String> = BTreeSet::new();
            for f in &outer_own {
                facts::columns_in(f, &alias, &mut carried);
            }
            if let Some((c, _)) = &rank_key {
                carried.insert(c.clone());
            }
            for n in needed.iter_mut().take(last) {
                n.extend(carried.iter().cloned());
            }
            for (l, f) in level_filters.into_iter().enumerate() {
                let inner_alias = tcat.stem.clone();
                let (order_by, limit) = match &rank_key {
                    Some((c, desc)) if l == last => {
                        (vec![(PlanExpr::column(&inner_alias, c), *desc)], Some(top))
                    }
                    _ => (Vec::new(), None),
                };
                let body = SelectPlan {
                    order_by,
                    limit,
                    items: needed[l]
                        .iter()
                        .map(|c| SelectItem {
                            expr: PlanExpr::column(&inner_alias, c),
                            alias: None,
                        })
                        .collect(),
                    from: vec![Relation {
                        source: source.clone(),
                        alias: inner_alias.clone(),
                        base: tcat.key.clone(),
                        join: None,
                    }],
                    filters: f
                        .into_iter()
                        .map(|e| rename_rel(e, "@", &inner_alias))
                        .chain(
                            (l == last)
                                .then(|| std::mem::take(&mut outer_own))
                                .into_iter()
                                .flatten()
                                .map(|e| rename_rel(e, &alias, &inner_alias)),
                        )
                        .collect(),
                    ..SelectPlan::default()
                };
                if l < n_cte {
                    let mut name = format!(
                        "{}_{}",
                        tcat.name,
                        ["subset", "selection", "filtered", "scope"][l % 4]
                    );
                    let mut k = 2;
                    while cte_names.contains(&name) {
                        name = format!(
                            "{}_{}",
                            name.trim_end_matches(char::is_numeric)
                                .trim_end_matches('_'),
                            k
                        );
                        k += 1;
                    }
                    cte_names.insert(name.clone());
                    ctes.push(CtePlan {
                        name: name.clone(),
                        body,
                    });
                    source = Source::Cte { name };
                } else {
                    source = Source::Derived {
                        query: Box::new(body),
                    };
                }
            }
            if let Some(rel) = find_relation(&mut self.main, &alias) {
                rel.source = source;
            }
        }
        ctes
    }
}

/// Whether `e` reads nothing but `alias`'s own columns (and constants).
fn only_reads(e: &PlanExpr, alias: &str) -> bool {
    match e {
        PlanExpr::Column { rel, .. } => rel == alias,
        PlanExpr::Literal { .. } => true,
        PlanExpr::Call { args, .. } => args.iter().all(|a| only_reads(a, alias)),
        PlanExpr::Cast { expr, .. } | PlanExpr::Field { expr, .. } => only_reads(expr, alias),
        PlanExpr::Compare { left, right, .. } => {
            only_reads(left, alias) && only_reads(right, alias)
        }
        _ => false,
    }
}

fn rename_rel(e: PlanExpr, from: &str, to: &str) -> PlanExpr {
    match e {
        PlanExpr::Column { rel, column } if rel == from => PlanExpr::Column {
            rel: to.to_string(),
            column,
        },
        PlanExpr::Compare { op, left, right } => PlanExpr::Compare {
            op,
            left: Box::new(rename_rel(*left, from, to)),
            right: Box::new(rename_rel(*right, from, to)),
        },
        PlanExpr::Call { function, args } => PlanExpr::Call {
            function,
            args: args.into_iter().map(|a| rename_rel(a, from, to)).collect(),
        },
        PlanExpr::Cast { expr, to: ty } => PlanExpr::Cast {
            expr: Box::new(rename_rel(*expr, from, to)),
            to: ty,
        },
        PlanExpr::Field { expr, field } => PlanExpr::Field {
            expr: Box::new(rename_rel(*expr, from, to)),
            field,
        },
        other => other,
    }
}

/// The relation with `alias`, in the main query or any subquery in its filters.
fn find_relation<'p>(p: &'p mut SelectPlan, alias: &str) -> Option<&'p mut Relation> {
    if let Some(i) = p.from.iter().position(|r| r.alias == alias) {
        return Some(&mut p.from[i]);
    }
    for f in &mut p.filters {
        let q = match f {
            PlanExpr::InSubquery { query, .. } | PlanExpr::Exists { query, .. } => query,
            PlanExpr::Compare { right, .. } => match right.as_mut() {
                PlanExpr::Scalar { query } => query,
                _ => continue,
            },
            _ => continue,
        };
        if let Some(r) = find_relation(q, alias) {
            return Some(r);
        }
    }
    None
}

fn table_source(cat: &Catalog, t: usize) -> Source {
    Source::Table {
        schema: cat.tables[t].schema.clone(),
        table: cat.tables[t].name.clone(),
    }
}

/// A number printed the way a person would write it.
/// A realistic literal from a domain: one of its values, or a number in its range (rounded
/// as a person writes it when `round`). None for a domain value that is no literal.
pub(crate) fn draw_literal(
    f: &Filterable,
    round: bool,
    rng: &mut ChaCha8Rng,
) -> Option<crate::plan::Literal> {
    match f {
        Filterable::Enum { values, .. } => {
            values.choose(rng).and_then(crate::plan::Literal::from_json)
        }
        // The first of a month well inside the data's days, as people write a date
        // bound ('2024-03-01').
        Filterable::Dates { from, to, .. } => {
            let margin = (to - from) / 6;
            let day = rng.random_range(from + margin..=to - margin);
            let first = crate::calendar::month_start(day);
            let day = if first >= *from { first } else { day };
            Some(crate::plan::Literal::Text(crate::calendar::iso(day)))
        }
        Filterable::Range {
            min, max, integer, ..
        } => {
            // Packs refuse non-finite or inverted ranges at load (SchemaPack::from_data).
            // Well inside the range: a bound near its ends keeps every row or none.
            let margin = (max - min) * 0.15;
            let x = rng.random_range(min + margin..=max - margin);
            Some(crate::plan::Literal::Number(format_number(
                x,
                *integer,
                round,
                max - min,
            )))
        }
    }
}

/// The step a person rounds a threshold over `span` to: a power of ten giving 10 to 40
/// steps, or five of them (heights by 5 m, areas by 500 m², years by 10).
pub(crate) fn nice_step(span: f64) -> f64 {
    if !(span.is_finite() && span > 0.0) {
        return 1.0;
    }
    let p = 10f64.powf((span / 10.0).log10().floor());
    if span / p > 40.0 {
        5.0 * p
    } else {
        p
    }
}

pub(crate) fn format_number(x: f64, integer: bool, round: bool, span: f64) -> String {
    if round && span > 0.0 {
        let step = nice_step(span);
        let v = ((x / step).round() * step).max(step);
        if integer || step >= 1.0 {
            let v = v.round();
            return if integer {
                format!("{}", v as i64)
            } else {
                format!("{v:.1}")
            };
        }
        let decimals = (-step.log10()).ceil() as usize;
        let t = format!("{v:.decimals$}");
        let t = t.trim_end_matches('0').trim_end_matches('.');
        return if t.contains('.') {
            t.to_string()
        } else {
            format!("{t}.0")
        };
    }
    if integer {
        return (x.round() as i64).to_string();
    }
    let decimals = if span >= 1000.0 {
        0
    } else if span >= 10.0 {
        1
    } else if span >= 1.0 {
        2
    } else {
        4
    };
    let decimals = if round { decimals } else { decimals.max(4) };
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        let t = s.trim_end_matches('0').trim_end_matches('.');
        if t.contains('.') {
            t.to_string()
        } else {
            format!("{t}.0")
        }
    } else {
        format!("{s}.0")
    }
}

/// `COUNT(DISTINCT bp.building_id)` counts buildings, not property records: a count of
/// the distinct values of a table's entity column (when that is not its key) is named
/// after the entity (`building_count`), and the ordering that names it follows.
fn name_entity_counts(pack: &SchemaPack, main: &mut SelectPlan) {
    let base = |alias: &str| {
        main.from
            .iter()
            .find(|r| r.alias == alias)
            .map(|r| r.base.clone())
    };
    let mut renames: Vec<(String, String)> = Vec::new();
    let taken: BTreeSet<String> = main.items.iter().filter_map(|i| i.alias.clone()).collect();
    for i in &main.items {
        let PlanExpr::Aggregate {
            function,
            arg: Some(arg),
            distinct: true,
            filter: None,
        } = &i.expr
        else {
            continue;
        };
        let (PlanExpr::Column { rel, column }, Some(alias)) = (arg.as_ref(), &i.alias) else {
            continue;
        };
        let Some(table) = base(rel) else { continue };
        let Some(info) = table.split_once('.').and_then(|(s, t)| pack.table(s, t)) else {
            continue;
        };
        let Some(stem) = column.strip_suffix("_id") else {
            continue;
        };
        let name = format!("{stem}_count");
        if function == "count"
            && info.entity == [column.clone()]
            && info.primary_key != info.entity
            && *alias == format!("{}_count", info.name)
            && !taken.contains(&name)
            && !renames.iter().any(|(_, n)| *n == name)
        {
            renames.push((alias.clone(), name));
        }
    }
    for (old, new) in renames {
        for i in &mut main.items {
            if i.alias.as_deref() == Some(old.as_str()) {
                i.alias = Some(new.clone());
            }
        }
        for (e, _) in &mut main.order_by {
            if let PlanExpr::Output { name } = e {
                if *name == old {
                    *name = new.clone();
                }
            }
        }
    }
}

/// Columns read through `alias` anywhere in `p` (subqueries included).
pub(crate) fn columns_of_alias(p: &SelectPlan, alias: &str, out: &mut BTreeSet<String>) {
    facts::columns_of(p, alias, out)
}

/// Outputs that show back what a filter sets (`project_name` of rows filtered on
/// `project_name = 'Milano Centro'`, `lod` at `lod = 2`), directly, through a join's key
/// equality, or through the one area a pinned id or name stands for (`project_id =
/// 'milano_centro'` fixes the project's name), say nothing: they are left out (one output
/// at least stays, and an output the ordering names stays).
fn drop_echoes(pack: &SchemaPack, cat: &Catalog, main: &mut SelectPlan) {
    if !main.group_by.is_empty() || main.distinct {
        return;
    }
    let mut pinned: Vec<(String, String, Option<String>)> = Vec::new();
    for f in &main.filters {
        if let PlanExpr::Compare {
            op: crate::plan::CompareOp::Eq,
            left,
            right,
        } = f
        {
            if let (PlanExpr::Column { rel, column }, PlanExpr::Literal { value })
            | (PlanExpr::Literal { value }, PlanExpr::Column { rel, column }) =
                (left.as_ref(), right.as_ref())
            {
                let text = match value {
                    crate::plan::Literal::Text(t) => Some(t.clone()),
                    _ => None,
                };
                pinned.push((rel.clone(), column.clone(), text));
            }
        }
    }
    if pinned.is_empty() {
        return;
    }
    let ties: Vec<((String, String), (String, String))> = main
        .from
        .iter()
        .filter_map(|r| r.join.as_ref())
        .flat_map(|j| j.on.iter())
        .filter_map(|c| match c {
            PlanExpr::Compare {
                op: crate::plan::CompareOp::Eq,
                left,
                right,
            } => match (left.as_ref(), right.as_ref()) {
                (
                    PlanExpr::Column { rel: a, column: ca },
                    PlanExpr::Column { rel: b, column: cb },
                ) => Some(((a.clone(), ca.clone()), (b.clone(), cb.clone()))),
                _ => None,
            },
            _ => None,
        })
        .collect();
    for _ in 0..3 {
        for (x, y) in &ties {
            for (from, to) in [(x, y), (y, x)] {
                let v = pinned
                    .iter()
                    .find(|(r, c, _)| *r == from.0 && *c == from.1)
                    .map(|(_, _, v)| v.clone());
                if let Some(v) = v {
                    if !pinned.iter().any(|(r, c, _)| *r == to.0 && *c == to.1) {
                        pinned.push((to.0.clone(), to.1.clone(), v));
                    }
                }
            }
        }
    }
    let base = |alias: &str| {
        main.from
            .iter()
            .find(|r| r.alias == alias)
            .map(|r| r.base.clone())
    };
    let mut fixed: Vec<(String, String)> = pinned
        .iter()
        .map(|(r, c, _)| (r.clone(), c.clone()))
        .collect();
    // A column the data ties to a pinned one (a scenario's name to its id) is one value too.
    for (alias, column, _) in &pinned {
        if let Some(t) = base(alias).and_then(|b| cat.tables.iter().find(|t| t.key == b)) {
            for d in t.dependents_of(column) {
                fixed.push((alias.clone(), d.to_string()));
            }
        }
    }
    // A place pinned (a project, a network, a city) fixes what the pack's places tie to
    // it, on every relation of the query: every building of project 'roma_eur' lies in
    // 'Roma', Lazio.
    for (alias, column, value) in &pinned {
        let (Some(v), Some(table)) = (value, base(alias)) else {
            continue;
        };
        let place = table
            .split_once('.')
            .and_then(|(s, t)| pack.table(s, t))
            .is_some_and(|i| i.area_bound.contains(column));
        if !place {
            continue;
        }
        for r in &main.from {
            let Some(info) = r.base.split_once('.').and_then(|(s, t)| pack.table(s, t)) else {
                continue;
            };
            for c in &info.area_bound {
                if pack.area_fixes((&table, column, v), &r.base, c) {
                    fixed.push((r.alias.clone(), c.clone()));
                }
            }
        }
    }
    let ordered: Vec<String> = main
        .order_by
        .iter()
        .filter_map(|(e, _)| match e {
            PlanExpr::Output { name } => Some(name.clone()),
            _ => None,
        })
        .collect();
    let echo = |i: &SelectItem| {
        let PlanExpr::Column { rel, column } = &i.expr else {
            return false;
        };
        let name = i.alias.clone().unwrap_or_else(|| column.clone());
        fixed.iter().any(|(r, c)| r == rel && c == column) && !ordered.contains(&name)
    };
    if main.items.iter().all(echo) {
        return;
    }
    main.items.retain(|i| !echo(i));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Thresholds read as a person sets them: 2 significant steps, never a 4-decimal draw.
    #[test]
    fn thresholds_are_round_numbers() {
        assert_eq!(format_number(141_369.2, false, true, 149_940.0), "140000.0");
        assert_eq!(format_number(44.4, false, true, 65.0), "45.0");
        assert_eq!(format_number(120.2, false, true, 120.0), "120.0");
        assert_eq!(format_number(0.2329, false, true, 0.35), "0.23");
        assert_eq!(format_number(0.652, false, true, 0.69), "0.65");
        assert_eq!(format_number(1.78, false, true, 2.98), "1.8");
        assert_eq!(format_number(1937.0, true, true, 173.0), "1940");
        assert_eq!(format_number(7.0, true, true, 17.0), "7");
        // Unrounded draws keep their precision.
        assert_eq!(format_number(0.2329, false, false, 0.35), "0.2329");
    }
}
