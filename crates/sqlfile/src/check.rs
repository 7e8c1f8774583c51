//! Every statement of a file with its verdict, from Lockstep's own plan of its change: the
//! plain statement is safe when the plan chooses the direct path (it fits the budget), unsafe
//! when the plan needs the online path; a statement already in the online form is safe.

use crate::recognise::{FileFacts, Item, Reader, Recognised, Written};
use crate::sizes::Sizes;
use crate::split::{split, InputError, Piece};
use lockstep_planner::model::{longest_blocking, Blocks, Phase};
use lockstep_planner::request::params::Params;
use lockstep_planner::request::parse_database;
use lockstep_planner::Plan;
use serde::Serialize;
use sqlparser::dialect::{Dialect, MySqlDialect, PostgreSqlDialect};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, TokenWithSpan};

/// What the file is checked against.
#[derive(Debug, Clone)]
pub struct Options {
    /// `postgresql@16.4`, as the `db` parameter reads it.
    pub db: String,
    /// `0`, `500ms`, as the `max-downtime` parameter reads it.
    pub max_downtime: String,
    pub sizes: Sizes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Safe,
    Unsafe,
    Unknown,
}

/// One statement, or one action of a statement, with its verdict.
#[derive(Debug, Clone, Serialize)]
pub struct StatementReport {
    pub line: u64,
    pub sql: String,
    /// The change kind, or None when the statement is not one of Lockstep's changes.
    pub change: Option<&'static str>,
    pub verdict: Verdict,
    pub reason: String,
    /// What the statement as written blocks, from the plan's path that matches it.
    pub blocks: Option<Blocks>,
    /// How long it blocks that, at worst (its lock wait included).
    pub blocking_seconds: Option<f64>,
    /// The lock timeout to wrap it in, when it takes a blocking lock.
    pub lock_timeout_ms: Option<u64>,
    /// Index into [`Report::plans`].
    pub plan: Option<usize>,
    /// Written in the online form (`CONCURRENTLY`, `NOT VALID`, `VALIDATE CONSTRAINT`).
    pub online_form: bool,
}

/// A change's plan, in file order.
#[derive(Debug, Clone)]
pub struct ChangePlan {
    pub line: u64,
    pub params: Params,
    pub plan: Plan,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub statements: Vec<StatementReport>,
    pub plans: Vec<ChangePlan>,
}

impl Report {
    pub fn any_unsafe(&self) -> bool {
        self.statements.iter().any(|s| s.verdict == Verdict::Unsafe)
    }
}

/// Checks `source` against `options`; fails, naming what is wrong, on a bad `db`, a bad budget
/// or a file the tokenizer cannot read.
pub fn check(source: &str, options: &Options) -> Result<Report, String> {
    let db = parse_database(&options.db).map_err(|m| format!("--db: {m}"))?;
    lockstep_planner::request::parse_duration_ms(&options.max_downtime)
        .map_err(|m| format!("--max-downtime: {m}"))?;
    let postgres = !db.engine.is_mysql_family();
    let dialect: Box<dyn Dialect> = if postgres {
        Box::new(PostgreSqlDialect {})
    } else {
        Box::new(MySqlDialect {})
    };
    let pieces = split(source, dialect.as_ref()).map_err(|e: InputError| e.to_string())?;
    let mut facts = FileFacts::default();
    let mut report = Report {
        statements: Vec::new(),
        plans: Vec::new(),
    };
    let mut transaction: Option<u64> = None;
    for piece in pieces {
        let items = read_piece(&piece, dialect.as_ref(), postgres, &mut facts);
        let mut entries: Vec<StatementReport> = items
            .into_iter()
            .map(|item| judge(&piece, item, options, &mut report.plans))
            .collect();
        one_statement_one_lock(&mut entries);
        if postgres {
            if let Some(begin) = transaction {
                inside_transaction(&mut entries, begin);
            }
            transaction = transaction_after(&piece, transaction);
        }
        report.statements.extend(entries);
    }
    Ok(report)
}

/// The actions of one statement run under one lock, held for the longest of them: a safe
/// action beside an unsafe one is unsafe, beside an unknown one unknown.
fn one_statement_one_lock(entries: &mut [StatementReport]) {
    if entries.len() < 2 {
        return;
    }
    let worst = entries
        .iter()
        .filter(|e| e.verdict == Verdict::Unsafe)
        .max_by(|a, b| {
            a.blocking_seconds
                .unwrap_or(0.0)
                .total_cmp(&b.blocking_seconds.unwrap_or(0.0))
        })
        .map(|e| (e.change, e.blocks, e.blocking_seconds));
    let any_unknown = entries.iter().any(|e| e.verdict == Verdict::Unknown);
    for entry in entries.iter_mut().filter(|e| e.verdict == Verdict::Safe) {
        if let Some((change, blocks, seconds)) = worst {
            entry.verdict = Verdict::Unsafe;
            entry.reason = format!(
                "{}; but it runs in the same statement as an unsafe {} action, and the statement holds its lock for all of them",
                entry.reason,
                change.unwrap_or("other")
            );
            entry.blocks = blocks.max(entry.blocks);
            entry.blocking_seconds = seconds;
        } else if any_unknown {
            entry.verdict = Verdict::Unknown;
            entry.reason = format!(
                "{}; but it runs in the same statement as an action Lockstep cannot judge, under one lock",
                entry.reason
            );
        }
    }
}

/// PostgreSQL holds every lock of a transaction block until COMMIT, behind every later
/// statement of the block, and refuses CONCURRENTLY inside it: a safe verdict that rests on a
/// brief lock, or on CONCURRENTLY, no longer holds there.
fn inside_transaction(entries: &mut [StatementReport], begin: u64) {
    for entry in entries.iter_mut().filter(|e| e.verdict == Verdict::Safe) {
        if entry.blocks.is_some_and(|b| b != Blocks::Nothing) || entry.online_form {
            entry.verdict = Verdict::Unknown;
            entry.reason = format!(
                "{}; but it runs inside the transaction block opened on line {begin}: PostgreSQL holds its lock until COMMIT, behind every later statement of the block, and refuses CONCURRENTLY there",
                entry.reason
            );
        }
    }
}

/// The line of the open transaction block after `piece`: BEGIN / START TRANSACTION opens one,
/// COMMIT / END / ROLLBACK closes it.
fn transaction_after(piece: &Piece, open: Option<u64>) -> Option<u64> {
    let words: Vec<String> = piece
        .tokens
        .iter()
        .filter_map(|t| match &t.token {
            Token::Word(w) => Some(w.value.to_ascii_uppercase()),
            _ => None,
        })
        .take(2)
        .collect();
    match words
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["BEGIN"] | ["BEGIN", "TRANSACTION" | "WORK" | "ISOLATION"] | ["START", "TRANSACTION"] => {
            Some(piece.line)
        }
        ["COMMIT" | "END" | "ROLLBACK" | "ABORT", ..] => None,
        _ => open,
    }
}

fn read_piece(
    piece: &Piece,
    dialect: &dyn Dialect,
    postgres: bool,
    facts: &mut FileFacts,
) -> Vec<Item> {
    if piece.meta_command {
        return vec![Item::Unknown(
            "a psql meta-command, not SQL: Lockstep does not plan it".into(),
        )];
    }
    let (tokens, concurrently) = take_drop_index_concurrently(&piece.tokens, postgres);
    let mut parser = Parser::new(dialect).with_tokens_with_locations(tokens);
    let statement = match parser.parse_statement() {
        Ok(s) => s,
        Err(e) => {
            let engine = if postgres { "PostgreSQL" } else { "MySQL" };
            return vec![Item::Unknown(format!("not read as {engine} SQL: {e}"))];
        }
    };
    if parser.peek_token().token != Token::EOF {
        return vec![Item::Unknown(
            "more text after the statement than the parser reads".into(),
        )];
    }
    Reader { postgres, facts }.read(&statement, concurrently)
}

/// sqlparser does not read `DROP INDEX CONCURRENTLY`: its tokens without that word, and
/// whether it was there.
fn take_drop_index_concurrently(
    tokens: &[TokenWithSpan],
    postgres: bool,
) -> (Vec<TokenWithSpan>, bool) {
    let words: Vec<(usize, String)> = tokens
        .iter()
        .enumerate()
        .filter_map(|(i, t)| match &t.token {
            Token::Word(w) => Some((i, w.value.to_ascii_uppercase())),
            Token::Whitespace(_) => None,
            _ => Some((i, String::new())),
        })
        .take(3)
        .collect();
    match words.as_slice() {
        [(_, a), (_, b), (i, c)]
            if postgres && a == "DROP" && b == "INDEX" && c == "CONCURRENTLY" =>
        {
            let mut rest = tokens.to_vec();
            rest.remove(*i);
            (rest, true)
        }
        _ => (tokens.to_vec(), false),
    }
}

fn judge(
    piece: &Piece,
    item: Item,
    options: &Options,
    plans: &mut Vec<ChangePlan>,
) -> StatementReport {
    let mut entry = StatementReport {
        line: piece.line,
        sql: piece.sql.clone(),
        change: None,
        verdict: Verdict::Unknown,
        reason: String::new(),
        blocks: None,
        blocking_seconds: None,
        lock_timeout_ms: None,
        plan: None,
        online_form: false,
    };
    match item {
        Item::Unknown(reason) => entry.reason = reason,
        Item::DataChange {
            verb,
            schema,
            table,
        } => {
            let rows = options
                .sizes
                .rows(schema.as_deref(), &table)
                .map_or(String::new(), |r| format!(" ({r} rows)"));
            entry.reason = format!(
                "a data change: {verb} on {table}{rows} locks every row it writes until it commits, in one transaction; on a large table write it in batches by primary key range, each its own transaction"
            );
        }
        Item::Change(change) => {
            entry.change = Some(change.kind);
            judge_change(&mut entry, change, options, plans);
        }
    }
    entry
}

fn judge_change(
    entry: &mut StatementReport,
    change: Recognised,
    options: &Options,
    plans: &mut Vec<ChangePlan>,
) {
    let mut params = change.params.clone();
    params.set("db", options.db.clone());
    params.set("max-downtime", options.max_downtime.clone());
    let schema = change.schema.as_deref();
    let rows = options.sizes.rows(schema, &change.table);
    let size = options.sizes.size(schema, &change.table);
    let (Some(rows), Some(size)) = (rows, size) else {
        let t = &change.table;
        entry.reason = format!(
            "no row count and size for {t}: give --rows {t}=N --size {t}=SIZE, or --sizes with the output of `lockstep check --sizes-query`"
        );
        return;
    };
    params.set("rows", rows);
    params.set("size", size);
    let plan = match lockstep_planner::plan(&params) {
        Ok(plan) => plan,
        Err(errors) => {
            let over_budget = errors.iter().any(|e| e.field == "max-downtime");
            entry.verdict = if over_budget {
                Verdict::Unsafe
            } else {
                Verdict::Unknown
            };
            entry.reason = errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ");
            return;
        }
    };
    let index = match plans.iter().position(|p| p.params == params) {
        Some(i) => i,
        None => {
            plans.push(ChangePlan {
                line: entry.line,
                params: params.clone(),
                plan,
            });
            plans.len() - 1
        }
    };
    entry.plan = Some(index);
    verdict_from_plan(entry, &plans[index].plan, change.written);
}

/// The verdict from the plan: the path that matches the statement as written, and whether the
/// plan keeps it.
fn verdict_from_plan(entry: &mut StatementReport, plan: &Plan, written: Written) {
    let chose_direct = plan.strategy.chosen == "direct";
    let alternative = plan.alternative.as_ref().map(|a| a.phases.as_slice());
    let (path, verdict, reason) = match written {
        Written::Plain if chose_direct => (
            Some(plan.phases.as_slice()),
            Verdict::Safe,
            "safe as written: Lockstep's plan is this statement, within the budget".to_string(),
        ),
        Written::Plain => (
            alternative,
            Verdict::Unsafe,
            format!("unsafe as written: {}", plan.strategy.rule),
        ),
        Written::OnlineForm(form) => {
            entry.online_form = true;
            let online = if chose_direct {
                alternative
            } else {
                Some(plan.phases.as_slice())
            };
            (
                online,
                Verdict::Safe,
                format!("already the online form ({form}): a step of Lockstep's online path"),
            )
        }
    };
    entry.verdict = verdict;
    entry.reason = reason;
    if let Some(phases) = path {
        entry.blocks = phases.iter().flat_map(|p| &p.steps).map(|s| s.blocks).max();
        entry.blocking_seconds = Some(longest_blocking(phases));
        entry.lock_timeout_ms = lock_timeout(phases);
    }
}

/// The lock timeout of the path's longest blocking step.
fn lock_timeout(phases: &[Phase]) -> Option<u64> {
    phases
        .iter()
        .flat_map(|p| &p.steps)
        .filter(|s| s.lock_timeout_ms.is_some())
        .max_by(|a, b| a.blocking_seconds.high.total_cmp(&b.blocking_seconds.high))
        .and_then(|s| s.lock_timeout_ms)
}
