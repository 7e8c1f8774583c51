//! The rule every engine shares: from the ways a change can be made ([`Paths`]) and the
//! downtime budget to the one plan, with why ([`choose`]); and the builders of the checks and
//! rollback statements every planner writes.

use crate::estimate::{Model, CATALOG_ONLY};
use crate::model::{
    human_seconds, human_seconds_up, longest_blocking, Alternative, Check, Expected, OnFail, Phase,
    Plan, RollbackStep, Strategy, Warning,
};
use crate::quote;
use crate::request::{FieldError, Request};

/// The ways a change can be made. A change fills in what exists for it.
#[derive(Debug, Default)]
pub struct Paths {
    /// One line saying what the change does, for the plan's heading.
    pub summary: String,
    /// The plain statement(s), as a developer would write them, with preflight.
    pub direct: Option<Vec<Phase>>,
    /// The phased path that keeps traffic flowing.
    pub online: Option<Vec<Phase>>,
    /// Set when the online path must be used even where the direct one fits the budget
    /// (a rename breaks every client still using the old name, whatever its lock).
    pub online_required: Option<String>,
    pub warnings: Vec<Warning>,
}

/// Picks the path: the direct statement when its longest blocking fits the budget (with the
/// online path offered beside it), otherwise the online path (with the direct one shown as
/// what not to do). Fails, naming `max-downtime`, when no path fits.
/// Shared by every engine: the rule is about blocking time, not about how a lock is named.
///
/// Blocking time is the worst case: the wait for the lock (the traffic queues behind the
/// waiting request for up to its lock timeout) plus the hold. The budget sets each step's lock
/// timeout ([`Model::lock_timeout_for`]), so a step fits when its hold leaves room for the
/// shortest lock timeout. A catalog-only moment fits any budget, zero included
/// ([`Model::fits`]): the rule then says that zero downtime means that moment plus at most its
/// lock timeout of queueing, and `--max-downtime 200ms` gets a 150 ms lock timeout.
pub fn choose(req: &Request, model: &Model, paths: Paths) -> Result<Plan, FieldError> {
    let budget_s = req.max_downtime_ms as f64 / 1000.0;
    let Choice {
        chosen,
        rule,
        mut phases,
        mut alternative,
    } = pick(req, paths.direct, paths.online, &paths.online_required)?;
    crate::model::name_skip_vars(&mut phases);
    // The other path's script would number its checks the same way.
    if let Some(alt) = &mut alternative {
        crate::model::name_skip_vars(&mut alt.phases);
    }
    let rerun_safe =
        !req.db.engine.is_mysql_family() && !crate::model::completion_checks(&phases).is_empty();
    let over = over_budget(model, &phases);
    if over > 0.0 {
        return Err(budget_too_short(
            req,
            over,
            paths.online_required.as_deref(),
        ));
    }
    let rule = match floor_promise(&phases, budget_s) {
        Some(promise) => format!("{rule} {promise}"),
        None => rule,
    };
    Ok(Plan {
        engine: req.db.engine.name().to_string(),
        version: req.db.version.to_string(),
        table: if req.db.engine.is_mysql_family() {
            quote::mysql::qualified(req.schema.as_deref(), &req.table)
        } else {
            quote::qualified(req.schema.as_deref(), &req.table)
        },
        table_name: req.table.clone(),
        change: req.change.kind().to_string(),
        summary: paths.summary,
        strategy: Strategy {
            chosen: chosen.to_string(),
            rule,
        },
        max_downtime_ms: req.max_downtime_ms,
        longest_blocking_seconds: longest_blocking(&phases),
        phases,
        alternative,
        warnings: paths.warnings,
        assumptions: model.assumptions(),
        rerun_safe,
        resumes: rerun_safe,
    })
}

/// The chosen path, why, and the other one.
struct Choice {
    chosen: &'static str,
    rule: String,
    phases: Vec<Phase>,
    alternative: Option<Alternative>,
}

/// The decision: which path, from the paths built and the budget.
fn pick(
    req: &Request,
    direct: Option<Vec<Phase>>,
    online: Option<Vec<Phase>>,
    online_required: &Option<String>,
) -> Result<Choice, FieldError> {
    let budget_s = req.max_downtime_ms as f64 / 1000.0;
    let budget = human_budget(req.max_downtime_ms);
    Ok(match (direct, online) {
        (Some(direct), Some(online)) => {
            let d = longest_blocking(&direct);
            if let Some(reason) = online_required {
                online_required_choice(direct, online, reason)
            } else if d <= budget_s + 1e-6 {
                direct_fits_choice(direct, online, &budget)
            } else {
                direct_too_long_choice(direct, online, &budget)
            }
        }
        (Some(direct), None) => {
            let d = longest_blocking(&direct);
            let rule = format!(
                "There is one way to make this change; it blocks traffic for at most {} (estimated){}.",
                human_seconds_up(d),
                if d <= budget_s + 1e-6 {
                    format!(", within the {budget} budget")
                } else {
                    String::new()
                }
            );
            Choice {
                chosen: "direct",
                rule,
                phases: direct,
                alternative: None,
            }
        }
        (None, Some(online)) => Choice {
            chosen: "online",
            rule: "Only the online path is offered for this change.".to_string(),
            phases: online,
            alternative: None,
        },
        (None, None) => {
            return Err(FieldError::new(
                "change",
                "no path was built for this change",
            ));
        }
    })
}

/// A rename: the online path whatever the direct one's blocking.
fn online_required_choice(direct: Vec<Phase>, online: Vec<Phase>, reason: &str) -> Choice {
    let d = longest_blocking(&direct);
    Choice {
        chosen: "online",
        rule: format!("Online path required: {reason}"),
        phases: online,
        alternative: Some(Alternative {
            label: "The single statement (only when every client is stopped)".to_string(),
            why: format!(
                "It blocks traffic for up to {}, but {reason}",
                human_seconds_up(d)
            ),
            phases: direct,
        }),
    }
}

/// The direct statement fits the budget: it is the plan, the online path beside it.
fn direct_fits_choice(direct: Vec<Phase>, online: Vec<Phase>, budget: &str) -> Choice {
    let (d, o) = (longest_blocking(&direct), longest_blocking(&online));
    let rule = format!(
        "The direct statement blocks traffic for at most {} (estimated), within the {budget} budget, so it is the simple path; the online path beside it blocks for at most {}.",
        human_seconds_up(d),
        human_seconds_up(o)
    );
    let alt = if longest_hold(&online) <= CATALOG_ONLY.high {
        Alternative {
            label: "Online path (if you would rather block nothing)".to_string(),
            why: format!("More steps, but no step blocks traffic beyond a catalog-only moment (up to {} with its lock wait).", human_seconds_up(o)),
            phases: online,
        }
    } else {
        // Some online paths end with an optional blocking step that fits the budget
        // (SET NOT NULL on 10/11): say so rather than promise no blocking.
        Alternative {
            label: "Online path".to_string(),
            why: format!(
                "More steps; its longest blocking step is {} (see each step).",
                human_seconds_up(o)
            ),
            phases: online,
        }
    };
    Choice {
        chosen: "direct",
        rule,
        phases: direct,
        alternative: Some(alt),
    }
}

/// The direct statement is over the budget: the online path, the direct one as what not to do.
fn direct_too_long_choice(direct: Vec<Phase>, online: Vec<Phase>, budget: &str) -> Choice {
    let d = longest_blocking(&direct);
    let rule = format!(
        "The direct statement would block traffic for up to {} (estimated), over the {budget} budget, so the online path is the plan; its longest blocking step is {}.",
        human_seconds_up(d),
        human_seconds_up(longest_blocking(&online))
    );
    Choice {
        chosen: "online",
        rule,
        phases: online,
        alternative: Some(Alternative {
            label: "Do NOT run this on a live table".to_string(),
            why: format!(
                "It blocks traffic for up to {} on a table of this size.",
                human_seconds_up(d)
            ),
            phases: direct,
        }),
    }
}

/// The longest blocking of the steps that do not fit the budget; 0 when every step fits.
fn over_budget(model: &Model, phases: &[Phase]) -> f64 {
    phases
        .iter()
        .flat_map(|p| p.steps.iter())
        .filter(|s| !model.fits(s.hold_seconds, s.blocking_seconds.high))
        .map(|s| s.blocking_seconds.high)
        .fold(0.0, f64::max)
}

fn budget_too_short(req: &Request, over: f64, online_required: Option<&str>) -> FieldError {
    FieldError::budget_too_short(
        format!(
            "{} is too short: on {} {} the shortest path for this change blocks traffic for up to {} (its lock wait included). Accepts a duration such as 0, 500ms, 30s or 5m; raise it to at least {}{}",
            human_budget(req.max_downtime_ms),
            req.db.engine.label(),
            req.db.version,
            human_seconds_up(over),
            human_seconds_up(over),
            online_required.map(|r| format!(" ({r})")).unwrap_or_default()
        ),
        over,
    )
}

/// The longest time any step of `phases` holds its lock, its wait left out.
fn longest_hold(phases: &[Phase]) -> f64 {
    phases
        .iter()
        .flat_map(|p| p.steps.iter())
        .map(|s| s.hold_seconds.high)
        .fold(0.0, f64::max)
}

/// What the plan promises when a catalog-only moment with its lock wait exceeds the budget
/// (a zero budget, or one shorter than the shortest lock timeout): said in the rule.
fn floor_promise(phases: &[Phase], budget_s: f64) -> Option<String> {
    let wait = phases
        .iter()
        .flat_map(|p| p.steps.iter())
        .filter(|s| s.blocking_seconds.high > budget_s + 1e-6)
        .map(|s| s.lock_wait_seconds)
        .fold(0.0, f64::max);
    (wait > 0.0).then(|| {
        format!(
            "Under this budget, zero downtime means a catalog-only moment plus at most {} of queueing (the lock timeout): while a step waits for its lock, the queries behind it wait, until the timeout gives up and the step is retried.",
            human_seconds_up(wait)
        )
    })
}

fn human_budget(ms: u64) -> String {
    if ms == 0 {
        "zero-downtime".to_string()
    } else {
        human_seconds(ms as f64 / 1000.0)
    }
}

/// A rollback statement.
pub fn rollback(sql: impl Into<String>, note: Option<&str>) -> RollbackStep {
    RollbackStep {
        sql: sql.into(),
        note: note.map(str::to_string),
        shell: None,
        also_undoes: 0,
        leaves: Vec::new(),
        app_retries: Vec::new(),
    }
}

/// A validation query: what it must return in words, and the same for the verifier.
pub fn check(description: &str, sql: impl Into<String>, expect: &str, expected: Expected) -> Check {
    Check {
        description: description.to_string(),
        sql: sql.into(),
        expect: expect.to_string(),
        on_fail: if expected == Expected::Manual {
            OnFail::Inform
        } else {
            OnFail::Stop
        },
        expected,
        scans_table: false,
        skip_var: None,
        only_if: None,
        precondition: None,
    }
}
