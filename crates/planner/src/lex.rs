//! The planner's SQL lexer: splits a statement or a whole downloadable script (psql's or the
//! mysql client's) into the pieces whose boundaries decide what runs: code, quoted names,
//! literals, comments and client command lines. Tests use it to prove that every name is
//! quoted and every quote closes; it accepts only SQL whose meaning does not depend on the
//! MySQL SQL mode (no `"` strings, no backslash in a literal, no executable comment).

use crate::quote::Dialect;

/// One piece of SQL text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// Code outside quotes and comments, as written.
    Bare(String),
    /// A quoted identifier, its doubled quotes undone.
    Ident(String),
    /// A string literal's text between its quotes, as written.
    Literal(String),
    /// A PostgreSQL dollar-quoted body, as written (lex it again to look inside).
    Body(String),
    /// A comment's text.
    Comment(String),
    /// A client command (psql `\echo`, mysql `system`): the command word and what its line
    /// holds outside quotes, up to the end of the line where the client ends it.
    Client { command: String, unquoted: String },
}

/// Splits `sql` per `dialect`; an unclosed quote, comment or dollar quote is an error.
pub fn tokens(sql: &str, dialect: Dialect) -> Result<Vec<Token>, String> {
    let mut lexer = Lexer {
        chars: sql.chars().collect(),
        at: 0,
        bare: String::new(),
        out: Vec::new(),
        dialect,
    };
    while lexer.at < lexer.chars.len() {
        lexer.step()?;
    }
    lexer.flush();
    Ok(lexer.out)
}

struct Lexer {
    chars: Vec<char>,
    at: usize,
    bare: String,
    out: Vec<Token>,
    dialect: Dialect,
}

impl Lexer {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.at + ahead).copied()
    }

    fn flush(&mut self) {
        if !self.bare.is_empty() {
            self.out.push(Token::Bare(std::mem::take(&mut self.bare)));
        }
    }

    fn push(&mut self, token: Token) {
        self.flush();
        self.out.push(token);
    }

    fn at_line_start(&self) -> bool {
        self.chars[..self.at]
            .iter()
            .rev()
            .take_while(|c| **c != '\n')
            .all(|c| c.is_whitespace())
    }

    fn step(&mut self) -> Result<(), String> {
        let c = self.chars[self.at];
        let mysql = self.dialect == Dialect::Mysql;
        match c {
            '-' if self.peek(1) == Some('-')
                && (!mysql || self.peek(2).is_none_or(char::is_whitespace)) =>
            {
                self.line_comment(2)
            }
            '#' if mysql => self.line_comment(1),
            '/' if self.peek(1) == Some('*') => self.block_comment()?,
            '\'' => self.literal()?,
            '"' if mysql => {
                return Err(self.error("a double-quoted string (read as a name under ANSI_QUOTES)"))
            }
            '"' => self.quoted_ident('"')?,
            '`' if mysql => self.quoted_ident('`')?,
            '$' if !mysql => self.dollar_quoted()?,
            '\\' => self.client_line(1)?,
            's' | 'S' if mysql && self.at_line_start() && self.word_here("system") => {
                self.client_line(0)?
            }
            _ => {
                self.bare.push(c);
                self.at += 1;
            }
        }
        Ok(())
    }

    fn error(&self, what: &str) -> String {
        let line = self.chars[..self.at].iter().filter(|c| **c == '\n').count() + 1;
        format!("line {line}: {what}")
    }

    fn word_here(&self, word: &str) -> bool {
        let end = self.at + word.chars().count();
        end <= self.chars.len()
            && self.chars[self.at..end]
                .iter()
                .collect::<String>()
                .eq_ignore_ascii_case(word)
            && self.chars.get(end).is_none_or(|c| c.is_whitespace())
    }

    /// `--` or `#` to the end of the line.
    fn line_comment(&mut self, marker: usize) {
        let start = self.at + marker;
        let end = self.chars[start..]
            .iter()
            .position(|c| *c == '\n')
            .map_or(self.chars.len(), |i| start + i);
        self.push(Token::Comment(self.chars[start..end].iter().collect()));
        self.at = end;
    }

    /// `/* ... */`, nested on PostgreSQL; MySQL's `/*! ... */` and `/*+ ... */` run.
    fn block_comment(&mut self) -> Result<(), String> {
        if self.dialect == Dialect::Mysql && matches!(self.peek(2), Some('!' | '+')) {
            return Err(self.error("an executable /*! or /*+ comment"));
        }
        let nests = self.dialect == Dialect::Postgres;
        let (start, mut depth, mut i) = (self.at + 2, 1, self.at + 2);
        while depth > 0 {
            match (self.chars.get(i), self.chars.get(i + 1)) {
                (None, _) => return Err(self.error("an unclosed /* comment")),
                (Some('*'), Some('/')) => {
                    depth -= 1;
                    i += 2;
                }
                (Some('/'), Some('*')) if nests => {
                    depth += 1;
                    i += 2;
                }
                _ => i += 1,
            }
        }
        self.push(Token::Comment(self.chars[start..i - 2].iter().collect()));
        self.at = i;
        Ok(())
    }

    /// The index just past the closing `q` of a quote opened at `self.at`, a doubled `q`
    /// standing for itself; `backslash`: a backslash escapes the next character.
    fn close(&self, q: char, backslash: bool) -> Result<usize, String> {
        let mut i = self.at + 1;
        loop {
            match self.chars.get(i) {
                None => return Err(self.error(&format!("an unclosed {q}"))),
                Some('\\') if backslash => i += 2,
                Some(c) if *c == q && self.chars.get(i + 1) == Some(&q) => i += 2,
                Some(c) if *c == q => return Ok(i + 1),
                Some(_) => i += 1,
            }
        }
    }

    /// `'...'`; PostgreSQL's `E'...'` reads backslash escapes, and a MySQL literal holding a
    /// backslash reads differently under NO_BACKSLASH_ESCAPES.
    fn literal(&mut self) -> Result<(), String> {
        let escape_string = self.dialect == Dialect::Postgres
            && self.bare.ends_with(['e', 'E'])
            && !self.bare[..self.bare.len() - 1]
                .ends_with(|c: char| c.is_alphanumeric() || c == '_');
        let end = self.close('\'', escape_string)?;
        let text: String = self.chars[self.at + 1..end - 1].iter().collect();
        if self.dialect == Dialect::Mysql && text.contains('\\') {
            return Err(self
                .error("a backslash in a literal (its meaning depends on NO_BACKSLASH_ESCAPES)"));
        }
        self.push(Token::Literal(text));
        self.at = end;
        Ok(())
    }

    fn quoted_ident(&mut self, q: char) -> Result<(), String> {
        let end = self.close(q, false)?;
        let raw: String = self.chars[self.at + 1..end - 1].iter().collect();
        self.push(Token::Ident(
            raw.replace(&format!("{q}{q}"), &q.to_string()),
        ));
        self.at = end;
        Ok(())
    }

    /// `$tag$ ... $tag$`; a `$` inside a word or before a digit (`$1`) is plain text.
    fn dollar_quoted(&mut self) -> Result<(), String> {
        let in_word = self
            .bare
            .ends_with(|c: char| c.is_alphanumeric() || c == '_');
        let tag_len = self.chars[self.at + 1..]
            .iter()
            .take_while(|c| c.is_alphanumeric() || **c == '_')
            .count();
        let tag_end = self.at + 1 + tag_len;
        let starts_with_digit = self.peek(1).is_some_and(|c| c.is_ascii_digit());
        if in_word || starts_with_digit || self.chars.get(tag_end) != Some(&'$') {
            self.bare.push('$');
            self.at += 1;
            return Ok(());
        }
        let tag: String = self.chars[self.at..=tag_end].iter().collect();
        let rest: String = self.chars[tag_end + 1..].iter().collect();
        let close = rest
            .find(&tag)
            .ok_or_else(|| self.error(&format!("an unclosed {tag}")))?;
        self.push(Token::Body(rest[..close].to_string()));
        self.at = tag_end + 1 + rest[..close].chars().count() + tag.chars().count();
        Ok(())
    }

    /// A client command: the rest of the line, which the client reads as the command's
    /// arguments (a quote must close on the same line). psql quotes as SQL does (`''`) and
    /// reads backslash escapes; mysql's `system` hands the line to the shell.
    fn client_line(&mut self, prefix: usize) -> Result<(), String> {
        let word_len = self.chars[self.at + prefix..]
            .iter()
            .take_while(|c| c.is_alphanumeric() || **c == '_' || **c == '!' || **c == '?')
            .count();
        let command: String = self.chars[self.at..self.at + prefix + word_len]
            .iter()
            .collect();
        let shell = self.dialect == Dialect::Mysql;
        let mut i = self.at + prefix + word_len;
        let mut unquoted = String::new();
        while let Some(&c) = self.chars.get(i).filter(|c| **c != '\n') {
            match c {
                '\'' | '"' | '`' => {
                    let mut j = i + 1;
                    loop {
                        match self.chars.get(j) {
                            None | Some('\n') => {
                                return Err(
                                    self.error(&format!("{command}: an unclosed {c} on its line"))
                                )
                            }
                            Some('\\') if !(shell && c == '\'') => j += 2,
                            Some(d) if *d == c && !shell && self.chars.get(j + 1) == Some(&c) => {
                                j += 2
                            }
                            Some(d) if *d == c => break,
                            Some(_) => j += 1,
                        }
                    }
                    i = j + 1;
                }
                '\\' if shell => i += 2,
                _ => {
                    unquoted.push(c);
                    i += 1;
                }
            }
        }
        self.push(Token::Client { command, unquoted });
        self.at = i.min(self.chars.len());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(sql: &str) -> Vec<Token> {
        tokens(sql, Dialect::Postgres).unwrap()
    }

    #[test]
    fn postgres_names_literals_bodies_and_psql_lines() {
        let t = pg("SELECT \"a\"\"b\", 'it''s' -- note\n\\echo 'x''y' :v\nDO $q$ BEGIN END $q$;");
        assert_eq!(t[1], Token::Ident("a\"b".into()));
        assert_eq!(t[3], Token::Literal("it''s".into()));
        assert_eq!(t[5], Token::Comment(" note".into()));
        assert_eq!(
            t[7],
            Token::Client {
                command: "\\echo".into(),
                unquoted: "  :v".into()
            }
        );
        assert_eq!(t[9], Token::Body(" BEGIN END ".into()));
        assert_eq!(
            pg("SELECT $1, a$b")[0],
            Token::Bare("SELECT $1, a$b".into())
        );
        assert_eq!(pg("E'a\\'b'")[1], Token::Literal("a\\'b".into()));
    }

    #[test]
    fn a_line_break_ends_a_comment_and_a_client_line() {
        let t = pg("-- name \"a\nDROP TABLE x; --\"");
        assert_eq!(t[1], Token::Bare("\nDROP TABLE x; ".into()));
        assert!(tokens("\\echo 'a\nDROP TABLE x;'", Dialect::Postgres).is_err());
    }

    #[test]
    fn unclosed_quotes_are_errors() {
        for sql in ["'a", "\"a", "$x$ a", "/* a /* b */"] {
            assert!(tokens(sql, Dialect::Postgres).is_err(), "{sql}");
        }
        for sql in ["`a", "'a", "/* a"] {
            assert!(tokens(sql, Dialect::Mysql).is_err(), "{sql}");
        }
    }

    #[test]
    fn mysql_refuses_what_depends_on_the_sql_mode() {
        for sql in ["SELECT \"a\"", "SELECT 'a\\'b'", "/*!50000 SELECT 1 */"] {
            assert!(tokens(sql, Dialect::Mysql).is_err(), "{sql}");
        }
        let t = tokens(
            "SELECT `a``b` # c\nsystem read -p 'it'\\''s' x\n--x",
            Dialect::Mysql,
        )
        .unwrap();
        assert_eq!(t[1], Token::Ident("a`b".into()));
        assert_eq!(t[3], Token::Comment(" c".into()));
        assert_eq!(
            t[5],
            Token::Client {
                command: "system".into(),
                unquoted: " read -p  x".into()
            }
        );
        assert_eq!(t[6], Token::Bare("\n--x".into()));
    }
}
