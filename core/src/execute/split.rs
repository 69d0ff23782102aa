//! Cutting a SQL script into statements at top-level `;` tokens (sqlparser's PostgreSQL
//! tokenizer, so a `;` inside a string, a quoted identifier, a comment or a dollar-quoted
//! body does not cut), keeping each statement's text exactly as written.

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

/// One statement of a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqlStatement<'a> {
    /// The statement's text, from its first token to its last (comments and whitespace
    /// before it, and the `;` after it, left out), byte for byte as in the script.
    pub text: &'a str,
    /// Byte offset of `text` in the script.
    pub offset: usize,
    /// Line of its first token (from 1).
    pub line: u64,
    /// Column of its first token (from 1, in characters).
    pub column: u64,
}

/// A script the tokenizer cannot read (e.g. an unterminated string).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct SplitError {
    /// Line where the tokenizer stopped.
    pub line: u64,
    /// Column where it stopped.
    pub column: u64,
    /// The tokenizer's message.
    pub message: String,
}

/// Split `script` into its statements: cut at every `;` outside parentheses, strings,
/// quoted identifiers, comments and dollar-quoted bodies; statements holding only
/// whitespace and comments are left out.
///
/// ```
/// use sqlsynth::execute::split_statements;
///
/// let script = "SELECT 'a;b';\n-- second\nSELECT $f$ x; y $f$ AS body ;\n";
/// let s = split_statements(script).unwrap();
/// assert_eq!(s.len(), 2);
/// assert_eq!(s[0].text, "SELECT 'a;b'");
/// assert_eq!((s[1].text, s[1].line), ("SELECT $f$ x; y $f$ AS body", 3));
/// ```
pub fn split_statements(script: &str) -> Result<Vec<SqlStatement<'_>>, SplitError> {
    let dialect = PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, script)
        .tokenize_with_location()
        .map_err(|e| SplitError {
            line: e.location.line,
            column: e.location.column,
            message: e.message,
        })?;
    let index = LineIndex::new(script);
    let mut out = Vec::new();
    // The current statement: its first and last significant token (start, end offsets).
    let mut first: Option<(usize, u64, u64)> = None;
    let mut last_end = 0usize;
    let mut depth = 0usize;
    let mut close = |first: &mut Option<(usize, u64, u64)>, last_end: usize| {
        if let Some((start, line, column)) = first.take() {
            out.push(SqlStatement {
                text: &script[start..last_end],
                offset: start,
                line,
                column,
            });
        }
    };
    for t in &tokens {
        match &t.token {
            Token::Whitespace(
                Whitespace::Space
                | Whitespace::Newline
                | Whitespace::Tab
                | Whitespace::SingleLineComment { .. }
                | Whitespace::MultiLineComment(_),
            )
            | Token::EOF => continue,
            Token::SemiColon if depth == 0 => {
                close(&mut first, last_end);
                continue;
            }
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            _ => {}
        }
        let start = index.offset(t.span.start.line, t.span.start.column);
        if first.is_none() {
            first = Some((start, t.span.start.line, t.span.start.column));
        }
        last_end = index.offset(t.span.end.line, t.span.end.column);
    }
    close(&mut first, last_end);
    Ok(out)
}

/// Maps the tokenizer's (line, column in characters) to byte offsets.
struct LineIndex<'a> {
    text: &'a str,
    /// Byte offset where each line starts.
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    fn new(text: &'a str) -> LineIndex<'a> {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { text, starts }
    }

    fn offset(&self, line: u64, column: u64) -> usize {
        let Some(&start) = usize::try_from(line)
            .ok()
            .and_then(|l| l.checked_sub(1))
            .and_then(|l| self.starts.get(l))
        else {
            return self.text.len();
        };
        let skip = usize::try_from(column.saturating_sub(1)).unwrap_or(usize::MAX);
        self.text[start..]
            .char_indices()
            .nth(skip)
            .map_or(self.text.len(), |(i, _)| start + i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(script: &str) -> Vec<&str> {
        split_statements(script)
            .unwrap()
            .iter()
            .map(|s| s.text)
            .collect()
    }

    #[test]
    fn cuts_at_top_level_semicolons_only() {
        let script = "SELECT 1;\nSELECT 'a;b', \"c;d\" FROM t; -- x; y\n/* z; */ SELECT $$;$$";
        assert_eq!(
            texts(script),
            ["SELECT 1", "SELECT 'a;b', \"c;d\" FROM t", "SELECT $$;$$"]
        );
    }

    #[test]
    fn keeps_text_exactly_and_reports_positions() {
        let script = "  -- lead\n\tSELECT  a ,\n  b -- keep\n  FROM t ;\n\n;;\nSELECT 'é;' ;";
        let s = split_statements(script).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].text, "SELECT  a ,\n  b -- keep\n  FROM t");
        assert_eq!((s[0].line, s[0].column), (2, 2));
        assert_eq!(
            &script[s[0].offset..s[0].offset + s[0].text.len()],
            s[0].text
        );
        assert_eq!(s[1].text, "SELECT 'é;'");
        assert_eq!((s[1].line, s[1].column), (7, 1));
    }

    #[test]
    fn dollar_quoted_bodies_with_tags_and_multibyte_text() {
        let script = "SELECT $fn$ BEGIN x := 1; RETURN x; END $fn$ AS body, 'ü' AS u;\n\
                      SELECT E'it\\'s; fine', (SELECT 2);";
        assert_eq!(
            texts(script),
            [
                "SELECT $fn$ BEGIN x := 1; RETURN x; END $fn$ AS body, 'ü' AS u",
                "SELECT E'it\\'s; fine', (SELECT 2)"
            ]
        );
    }

    #[test]
    fn empty_scripts_and_only_comments_give_nothing() {
        assert!(texts("").is_empty());
        assert!(texts("  ;\n -- c\n/* d */ ;").is_empty());
        assert_eq!(texts("SELECT 1"), ["SELECT 1"]);
        assert_eq!(texts("SELECT 1 -- trailing"), ["SELECT 1"]);
    }

    #[test]
    fn an_unterminated_string_is_an_error_with_its_place() {
        let e = split_statements("SELECT 1;\nSELECT 'open").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.to_string().starts_with("2:"), "{e}");
    }
}
