//! The structural facts of a plan, counted the way the SQL analyser counts them in SQL
//! (`sql::analyze::Facts`), so that a plan knows the structure it realises.

use std::collections::{BTreeMap, BTreeSet};

use crate::pack::FunctionCategory;
use crate::plan::{CtePlan, PlanExpr, SelectPlan, Source};
use crate::sql::analyze::Facts;

use super::Catalog;

struct Walker<'c> {
    cat: &'c Catalog,
    facts: Facts,
    /// alias → table index (every alias in the statement).
    aliases: BTreeMap<String, usize>,
    in_cte: bool,
}

/// Count the facts of a statement made of `ctes` and `main`.
pub(crate) fn plan_facts(cat: &Catalog, ctes: &[CtePlan], main: &SelectPlan) -> Facts {
    let mut w = Walker {
        cat,
        facts: Facts::default(),
        aliases: BTreeMap::new(),
        in_cte: false,
    };
    for c in ctes {
        w.collect_aliases(&c.body);
    }
    w.collect_aliases(main);
    w.facts.cte_count = ctes.len() as u32;
    w.in_cte = true;
    for c in ctes {
        w.select(&c.body);
    }
    w.in_cte = false;
    w.select(main);
    w.facts.has_order_by = !main.order_by.is_empty();
    w.facts.has_limit = main.limit.is_some();
    w.facts
}

impl Walker<'_> {
    fn collect_aliases(&mut self, p: &SelectPlan) {
        for r in &p.from {
            if let Some(t) = self.cat.tables.iter().position(|t| t.key == r.base) {
                self.aliases.insert(r.alias.clone(), t);
            }
            if let Source::Derived { query } = &r.source {
                self.collect_aliases(query);
            }
        }
        let mut subs = Vec::new();
        for e in p.filters.iter().chain(p.items.iter().map(|i| &i.expr)) {
            subqueries(e, &mut subs);
        }
        for q in subs {
            self.collect_aliases(q);
        }
    }

    fn select(&mut self, p: &SelectPlan) {
        self.facts.join_count += p.from.len().saturating_sub(1) as u32;
        if !p.group_by.is_empty() {
            self.facts.has_group_by = true;
        }
        for r in &p.from {
            match &r.source {
                Source::Table { schema, table } => {
                    self.facts
                        .base_tables
                        .insert((schema.clone(), table.clone()));
                }
                Source::Cte { .. } => {}
                Source::Derived { query } => {
                    if !self.in_cte {
                        self.facts.subquery_count += 1;
                    }
                    self.select(query);
                }
            }
            if let Some(j) = &r.join {
                for e in &j.on {
                    self.expr(e);
                }
            }
        }
        for i in &p.items {
            self.expr(&i.expr);
        }
        for e in p
            .filters
            .iter()
            .chain(&p.group_by)
            .chain(&p.having)
            .chain(p.order_by.iter().map(|(e, _)| e))
        {
            self.expr(e);
        }
    }

    fn expr(&mut self, e: &PlanExpr) {
        match e {
            PlanExpr::Column { rel, column } => {
                if let Some(t) = self.aliases.get(rel) {
                    if self.cat.tables[*t].raster.as_deref() == Some(column.as_str()) {
                        self.facts.raster_ref = true;
                    }
                }
            }
            PlanExpr::Call { function, args } | PlanExpr::Window { function, args, .. } => {
                let lower = function.to_lowercase();
                if let Some(cat) = self.cat.functions.get(&lower) {
                    let name = self
                        .cat
                        .function_names
                        .get(&lower)
                        .cloned()
                        .unwrap_or_else(|| function.clone());
                    self.facts.spatial_calls.push((name, *cat));
                    if *cat == FunctionCategory::Predicates {
                        let mut rels = BTreeSet::new();
                        for a in args {
                            rels_of(a, &mut rels);
                        }
                        if rels.len() >= 2 {
                            self.facts.spatial_join = true;
                        }
                    }
                    if self.cat.aggregates.contains(&lower)
                        && matches!(e, PlanExpr::Call { .. })
                        && args.len() == 1
                    {
                        self.facts.has_aggregate = true;
                    }
                }
                if matches!(e, PlanExpr::Window { .. }) {
                    self.facts.has_window = true;
                }
            }
            PlanExpr::Aggregate { .. } => self.facts.has_aggregate = true,
            _ => {}
        }
        for c in e.children() {
            self.expr(c);
        }
        if let Some(q) = e.subquery() {
            if !self.in_cte {
                self.facts.subquery_count += 1;
            }
            self.select(q);
        }
    }
}

fn rels_of(e: &PlanExpr, out: &mut BTreeSet<String>) {
    if let PlanExpr::Column { rel, .. } = e {
        out.insert(rel.clone());
    }
    e.children().into_iter().for_each(|c| rels_of(c, out));
}

fn subqueries<'p>(e: &'p PlanExpr, out: &mut Vec<&'p SelectPlan>) {
    match e.subquery() {
        Some(q) => out.push(q),
        None => e.children().into_iter().for_each(|c| subqueries(c, out)),
    }
}

/// Columns read through `alias` in `e` (subqueries included).
pub(crate) fn columns_in(e: &PlanExpr, alias: &str, out: &mut BTreeSet<String>) {
    if let PlanExpr::Column { rel, column } = e {
        if rel == alias {
            out.insert(column.clone());
        }
    }
    for c in e.children() {
        columns_in(c, alias, out);
    }
    if let Some(q) = e.subquery() {
        columns_of(q, alias, out);
    }
}

/// Columns read through `alias` anywhere in `p` (subqueries included).
pub(crate) fn columns_of(p: &SelectPlan, alias: &str, out: &mut BTreeSet<String>) {
    for i in &p.items {
        columns_in(&i.expr, alias, out);
    }
    for r in &p.from {
        if let Some(j) = &r.join {
            j.on.iter().for_each(|e| columns_in(e, alias, out));
        }
        if let Source::Derived { query } = &r.source {
            columns_of(query, alias, out);
        }
    }
    for e in p
        .filters
        .iter()
        .chain(&p.group_by)
        .chain(&p.having)
        .chain(p.order_by.iter().map(|(e, _)| e))
    {
        columns_in(e, alias, out);
    }
}
