//! The file cut into statements with sqlparser's own tokenizer (quotes, dollar quotes and
//! comments are its business, not ours), each with the line it starts on. A psql
//! meta-command (`\connect`, `\set`) ends at its line's end, as psql reads it.

use sqlparser::dialect::Dialect;
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, Whitespace};

/// One statement of the file, not yet parsed.
#[derive(Debug, Clone)]
pub struct Piece {
    /// 1-based line of its first token.
    pub line: u64,
    /// Its text as written, without the closing `;`.
    pub sql: String,
    /// Its tokens, comments and whitespace included.
    pub tokens: Vec<TokenWithSpan>,
    /// A psql `\` meta-command: not SQL.
    pub meta_command: bool,
}

/// A file that cannot be cut into statements: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub line: u64,
    pub column: u64,
    pub message: String,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// Cuts `source` into statements. Fails only when the tokenizer does (an unterminated quote,
/// dollar quote or comment), naming the line.
pub fn split(source: &str, dialect: &dyn Dialect) -> Result<Vec<Piece>, InputError> {
    let tokens = Tokenizer::new(dialect, source)
        .tokenize_with_location()
        .map_err(|e| InputError {
            line: e.location.line,
            column: e.location.column,
            message: e.message,
        })?;
    let mut cursor = Cursor::new(source);
    let mut pieces = Vec::new();
    let mut current: Vec<TokenWithSpan> = Vec::new();
    let mut meta = false;
    for token in tokens {
        let started = current.iter().any(|t| !is_blank(&t.token));
        if !started && token.token == Token::Backslash {
            meta = true;
        }
        let ends = if meta {
            token.token == Token::Whitespace(Whitespace::Newline)
        } else {
            token.token == Token::SemiColon
        };
        if ends {
            if meta {
                current.push(token);
            }
            pieces.extend(finish(&mut cursor, std::mem::take(&mut current), meta));
            meta = false;
        } else {
            current.push(token);
        }
    }
    pieces.extend(finish(&mut cursor, current, meta));
    Ok(pieces)
}

fn is_blank(token: &Token) -> bool {
    matches!(token, Token::Whitespace(_) | Token::EOF)
}

/// The piece of the tokens gathered so far, or nothing when they are only comments and space.
fn finish(cursor: &mut Cursor, tokens: Vec<TokenWithSpan>, meta: bool) -> Option<Piece> {
    let first = tokens.iter().find(|t| !is_blank(&t.token))?;
    let last = tokens.iter().rev().find(|t| !is_blank(&t.token))?;
    let start = cursor.offset(first.span.start.line, first.span.start.column);
    let end = cursor.offset(last.span.end.line, last.span.end.column);
    Some(Piece {
        line: first.span.start.line,
        sql: cursor.source[start..end.max(start)].to_string(),
        tokens,
        meta_command: meta,
    })
}

/// Turns the tokenizer's (line, column) into byte offsets, moving only forward: linear in the
/// file's size however long its lines.
struct Cursor<'a> {
    source: &'a str,
    line: u64,
    column: u64,
    byte: usize,
}

impl<'a> Cursor<'a> {
    fn new(source: &'a str) -> Self {
        Cursor {
            source,
            line: 1,
            column: 1,
            byte: 0,
        }
    }

    fn offset(&mut self, line: u64, column: u64) -> usize {
        let mut chars = self.source[self.byte..].chars();
        while (self.line, self.column) < (line, column) {
            let Some(c) = chars.next() else { break };
            self.byte += c.len_utf8();
            if c == '\n' {
                self.line += 1;
                self.column = 1;
            } else {
                self.column += 1;
            }
        }
        self.byte
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::PostgreSqlDialect;

    #[test]
    fn statements_keep_their_line_and_text() {
        let sql = "-- a comment; with a semicolon\nALTER TABLE a ADD b int;\n\n  CREATE INDEX i ON a (b)\n";
        let pieces = split(sql, &PostgreSqlDialect {}).unwrap();
        assert_eq!(pieces.len(), 2);
        assert_eq!(
            (pieces[0].line, pieces[0].sql.as_str()),
            (2, "ALTER TABLE a ADD b int")
        );
        assert_eq!(
            (pieces[1].line, pieces[1].sql.as_str()),
            (4, "CREATE INDEX i ON a (b)")
        );
    }

    #[test]
    fn a_semicolon_inside_a_dollar_quote_does_not_cut() {
        let sql = "DO $$ BEGIN PERFORM 1; END $$;\nSELECT 'é;'; SELECT 2;";
        let pieces = split(sql, &PostgreSqlDialect {}).unwrap();
        assert_eq!(pieces.len(), 3);
        assert_eq!(pieces[0].sql, "DO $$ BEGIN PERFORM 1; END $$");
        assert_eq!(pieces[1].sql, "SELECT 'é;'");
        assert_eq!((pieces[2].line, pieces[2].sql.as_str()), (2, "SELECT 2"));
    }

    #[test]
    fn a_meta_command_ends_at_its_line() {
        let sql = "\\set ON_ERROR_STOP on\nALTER TABLE a DROP COLUMN b;";
        let pieces = split(sql, &PostgreSqlDialect {}).unwrap();
        assert_eq!(pieces.len(), 2);
        assert!(pieces[0].meta_command);
        assert_eq!(pieces[0].sql, "\\set ON_ERROR_STOP on");
        assert_eq!(pieces[1].line, 2);
    }

    #[test]
    fn an_unterminated_quote_names_its_line() {
        let error = split("SELECT 1;\nSELECT 'abc", &PostgreSqlDialect {}).unwrap_err();
        assert_eq!(error.line, 2);
    }
}
