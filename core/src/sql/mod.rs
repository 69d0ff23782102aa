//! Parsing helpers over sqlparser (PostgreSQL dialect): one-statement parsing with located
//! errors, the resolver / type checker ([`analyze`]), and query skeletons for novelty.

pub mod analyze;
pub mod builtins;
pub mod types;

use sqlparser::ast::Statement;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::Location;

/// Longest SQL text accepted, in bytes (longer texts are rejected before parsing).
pub const MAX_SQL_BYTES: usize = 1 << 20;
/// Deepest expression / subquery nesting the parser accepts.
pub const MAX_NESTING: usize = 50;

/// A parse failure with the parser's message and, when it gives one, the position.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseFailure {
    /// sqlparser's message.
    pub message: String,
    /// Where, if known.
    pub location: Option<Location>,
}

/// Parse SQL text with the PostgreSQL dialect.
pub fn parse(sql: &str) -> Result<Vec<Statement>, ParseFailure> {
    if sql.len() > MAX_SQL_BYTES {
        return Err(ParseFailure {
            message: format!(
                "SQL text of {} bytes exceeds the limit of {MAX_SQL_BYTES} bytes",
                sql.len()
            ),
            location: None,
        });
    }
    let dialect = PostgreSqlDialect {};
    Parser::new(&dialect)
        .with_recursion_limit(MAX_NESTING)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| {
            let message = match &e {
                ParserError::TokenizerError(m) | ParserError::ParserError(m) => m.clone(),
                ParserError::RecursionLimitExceeded => {
                    format!("nesting deeper than {MAX_NESTING} levels")
                }
            };
            // Errors at the end of input carry no position: point after the last character.
            let location =
                error_location(&message).or_else(|| message.contains("EOF").then(|| end_of(sql)));
            ParseFailure { location, message }
        })
}

fn end_of(sql: &str) -> Location {
    let line = sql.lines().count().max(1) as u64;
    let last = sql.lines().last().unwrap_or("");
    Location {
        line,
        column: last.chars().count() as u64 + 1,
    }
}

/// Extract "Line: L, Column: C" from a sqlparser message.
fn error_location(message: &str) -> Option<Location> {
    let at = message.rfind("Line: ")?;
    let rest = &message[at + 6..];
    let (line, rest) = rest.split_once(", Column: ")?;
    let column: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    Some(Location {
        line: line.trim().parse().ok()?,
        column: column.parse().ok()?,
    })
}

/// The query's skeleton: tokens with literals masked (`?`), keywords and identifiers lower
/// case, whitespace and comments dropped. Two queries that differ only in literal values
/// share a skeleton.
pub fn skeleton(sql: &str) -> String {
    skeletons(sql).0
}

/// Like [`skeleton`], with identifiers masked as well (`$`): the query's bare shape.
pub fn shape_skeleton(sql: &str) -> String {
    skeletons(sql).1
}

/// [`skeleton`] and [`shape_skeleton`] from one tokenization.
pub fn skeletons(sql: &str) -> (String, String) {
    let dialect = PostgreSqlDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, sql).tokenize() else {
        let plain = sql
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        return (plain.clone(), plain);
    };
    (render(&tokens, false), render(&tokens, true))
}

fn render(tokens: &[Token], mask_idents: bool) -> String {
    let mut out = String::new();
    for t in tokens {
        let piece = match t {
            Token::Whitespace(_) | Token::SemiColon | Token::EOF => continue,
            Token::Number(_, _)
            | Token::SingleQuotedString(_)
            | Token::DollarQuotedString(_)
            | Token::EscapedStringLiteral(_)
            | Token::NationalStringLiteral(_) => "?".to_string(),
            Token::Word(w)
                if w.keyword == sqlparser::keywords::Keyword::NoKeyword
                    || w.quote_style.is_some() =>
            {
                if mask_idents {
                    "$".to_string()
                } else {
                    w.value.to_lowercase()
                }
            }
            Token::Word(w) => w.value.to_lowercase(),
            other => other.to_string(),
        };
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&piece);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_carry_their_location() {
        let err = parse("SELECT a FROM t WHERE").unwrap_err();
        assert!(err.location.is_some(), "{err:?}");
        let err = parse("SELECT 1\nLIMIT 10 LIMIT 5").unwrap_err();
        assert_eq!(err.location.map(|l| l.line), Some(2), "{err:?}");
    }

    #[test]
    fn skeleton_masks_literals_only() {
        let a = skeleton("SELECT id FROM t WHERE h > 10 AND k = 'x'");
        let b = skeleton("select  ID from T where h > 99.5 and k = 'yy';");
        assert_eq!(a, b);
        assert_ne!(a, skeleton("SELECT id FROM t WHERE h < 10 AND k = 'x'"));
        assert_eq!(
            shape_skeleton("SELECT a FROM t"),
            shape_skeleton("SELECT b FROM u")
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let sql = format!("SELECT {}1{}", "(".repeat(5000), ")".repeat(5000));
        assert!(parse(&sql).is_err());
    }
}
