//! Assembly: a [`QueryPlan`] becomes a sqlparser AST, rendered by sqlparser's own pretty
//! printer (one clause per line), plus the question that states what it asks.

pub(crate) mod ast;
mod question;

use std::fmt::Write;

use sqlparser::ast::{GroupByExpr, OrderByKind, Query, SetExpr, Statement};

use crate::pack::SchemaPack;
use crate::plan::QueryPlan;
use crate::{Assembled, Assembler, GenerateError};

pub use question::phrase_question;

/// The PostGIS (PostgreSQL dialect) assembler.
#[derive(Debug, Clone, Copy, Default)]
pub struct PostgisAssembler;

impl Assembler for PostgisAssembler {
    fn assemble(&self, pack: &SchemaPack, plan: &QueryPlan) -> Result<Assembled, GenerateError> {
        if plan.main.from.is_empty() {
            return Err(GenerateError::InvalidPlan(
                "the plan has no FROM relation".into(),
            ));
        }
        if plan.main.items.is_empty() {
            return Err(GenerateError::InvalidPlan(
                "the plan selects nothing".into(),
            ));
        }
        let query = ast::statement_query(plan);
        let sql = render(&query);
        let statement = Statement::Query(Box::new(query));
        let question = phrase_question(pack, plan)?;
        Ok(Assembled {
            statement,
            sql,
            question,
        })
    }
}

/// Lay a query out one clause per line. Every piece of text is sqlparser's own rendering
/// of an AST node; only the line breaks between top-level clauses are chosen here (the
/// round-trip tests check that the result parses back to the same AST).
pub fn render(q: &Query) -> String {
    let mut out = String::new();
    if let Some(with) = &q.with {
        for (i, cte) in with.cte_tables.iter().enumerate() {
            let lead = if i == 0 { "WITH " } else { "     " };
            let sep = if i + 1 < with.cte_tables.len() {
                ","
            } else {
                ""
            };
            let _ = writeln!(out, "{lead}{}{sep}", cte.to_string().replace('\n', " "));
        }
    }
    match q.body.as_ref() {
        SetExpr::Select(s) => {
            let mut head = String::from("SELECT ");
            if let Some(d) = &s.distinct {
                let _ = write!(head, "{d} ");
            }
            let items: Vec<String> = s.projection.iter().map(|p| p.to_string()).collect();
            let _ = writeln!(out, "{head}{}", items.join(", "));
            for (i, twj) in s.from.iter().enumerate() {
                let lead = if i == 0 { "FROM " } else { ", " };
                let _ = writeln!(out, "{lead}{}", twj.relation);
                for j in &twj.joins {
                    let _ = writeln!(out, "{}", j.to_string().trim_start());
                }
            }
            if let Some(w) = &s.selection {
                let _ = writeln!(out, "WHERE {w}");
            }
            if let GroupByExpr::Expressions(es, _) = &s.group_by {
                if !es.is_empty() {
                    let g: Vec<String> = es.iter().map(|e| e.to_string()).collect();
                    let _ = writeln!(out, "GROUP BY {}", g.join(", "));
                }
            }
            if let Some(h) = &s.having {
                let _ = writeln!(out, "HAVING {h}");
            }
        }
        other => {
            let _ = writeln!(out, "{other}");
        }
    }
    if let Some(ob) = &q.order_by {
        if let OrderByKind::Expressions(es) = &ob.kind {
            let o: Vec<String> = es.iter().map(|e| e.to_string()).collect();
            let _ = writeln!(out, "ORDER BY {}", o.join(", "));
        }
    }
    if let Some(l) = &q.limit_clause {
        let _ = writeln!(out, "{}", l.to_string().trim_start());
    }
    out.truncate(out.trim_end().len());
    out
}
