//! Walking a plan, the same on both engines: phases in order, the application moved to its next
//! stage at each deploy gate, the phase's steps, then its rollback (with a replay of the earlier
//! phases that rollback also undid) and the phase again, the traffic claim and the phase's
//! checks. Each engine's runner says how to do one of these things on its server.

use crate::report::{CaseResult, Claim, Kind};
use crate::scenarios::Stop;
use lockstep_planner::model::{Blocks, Check, Expected, Phase, Plan};
use std::time::Instant;

/// What walking a plan needs from an engine's runner.
pub trait PlanRunner {
    /// Why a walk stops early (a step the runner could not go past).
    type Abort;
    fn result(&mut self) -> &mut CaseResult;
    /// Whether rollbacks are run (`--no-rollback` turns them off).
    fn rollbacks(&self) -> bool;
    /// A deploy gate before phase `pname`: the application moves to `stage`.
    fn deploy(&mut self, stage: usize, pname: &str);
    /// The schema as text, to compare after a rollback.
    fn dump_schema(&mut self, pname: &str) -> Result<String, Self::Abort>;
    /// Runs every step of `phase`, checking each claim; `place` names the run in the report.
    fn steps(&mut self, place: &str, phase: &Phase) -> Result<(), Self::Abort>;
    /// Runs the phase's rollback and compares the schema with the dump taken before the phase
    /// (the last of `dumps`); returns the index of the earliest phase the rollback undid.
    fn roll_back(
        &mut self,
        pname: &str,
        phase: &Phase,
        dumps: &[(usize, String)],
    ) -> Result<usize, Self::Abort>;
    /// The application's errors since `from` (a deploy gate must keep it working).
    fn traffic(&mut self, pname: &str, from: Instant);
    /// The rows a check query returns, as text (NULL as the engine's client prints it).
    fn check_rows(&mut self, sql: &str) -> Result<Vec<Vec<String>>, String>;
    /// Server and case, for printed claims: `pg16 add-column/nullable`.
    fn label(&self) -> String;
    /// Print every claim, not only the false ones.
    fn verbose(&self) -> bool;
    /// Titles of the steps the control case relabelled "blocks nothing".
    fn relabelled(&self) -> &[String];
    /// Whether the load was seen waiting for a lock during the step last judged for what it
    /// blocks: the evidence a relabelled step must be caught with.
    fn lock_wait_seen(&self) -> bool;
    /// The precondition the plan must stop at on this server, if the case has one.
    fn stop(&self) -> Option<&Stop>;

    /// Runs the phase's checks and compares them with what the plan expects; true when the
    /// case's [`Stop`] check was among them (the script ends there).
    fn checks(&mut self, pname: &str, phase: &Phase) -> bool {
        for check in &phase.checks {
            let place = format!("{pname} check '{}'", check.description);
            if let Some(stop) = self
                .stop()
                .filter(|s| check.precondition == Some(s.check))
                .cloned()
            {
                self.stop_claim(&place, check, &stop);
                return true;
            }
            let want = match &check.expected {
                Expected::Manual => {
                    self.result().manual_checks += 1;
                    continue;
                }
                Expected::NoRows => Vec::new(),
                Expected::Rows(rows) => rows.clone(),
            };
            let want_text = format!("{want:?}");
            match self.check_rows(&check.sql) {
                Ok(observed) => self.claim(
                    Kind::Check,
                    &place,
                    "returns",
                    &want_text,
                    &format!("{observed:?}"),
                    observed == want,
                ),
                Err(e) => self.claim(Kind::Check, &place, "query", &want_text, &e, false),
            }
        }
        false
    }

    /// The case's precondition: the check returns the stop's rows, which are not what the plan
    /// expects, so the script stops at it.
    fn stop_claim(&mut self, place: &str, check: &Check, stop: &Stop) {
        let want: Vec<Vec<String>> = stop
            .rows
            .iter()
            .map(|r| r.iter().map(|v| v.to_string()).collect())
            .collect();
        let plan_expects_other = match &check.expected {
            Expected::Manual => false,
            Expected::NoRows => !want.is_empty(),
            Expected::Rows(rows) => *rows != want,
        };
        let (observed, ok) = match self.check_rows(&check.sql) {
            Ok(rows) => (format!("{rows:?}"), rows == want && plan_expects_other),
            Err(e) => (e, false),
        };
        self.claim(
            Kind::Check,
            place,
            "stops the script before any change (the precondition is caught)",
            &format!("{want:?}, against the plan's expected {:?}", check.expected),
            &observed,
            ok,
        );
    }

    /// Records one claim about the plan and what the server did; in the control case, the
    /// blocking claim of a relabelled step counts as caught or not ([`control_claim`]).
    #[allow(clippy::too_many_arguments)]
    fn claim(
        &mut self,
        kind: Kind,
        place: &str,
        what: &str,
        claimed: &str,
        observed: &str,
        ok: bool,
    ) {
        let seen = self.lock_wait_seen();
        let (what, claimed, ok) =
            control_claim(self.relabelled(), kind, place, (what, claimed, ok), seen);
        let (label, verbose) = (self.label(), self.verbose());
        record(
            self.result(),
            verbose,
            &label,
            kind,
            place,
            what,
            claimed,
            observed,
            ok,
        );
    }
}

/// Runs `plan` with `r`, phase by phase.
pub fn run_plan<R: PlanRunner>(r: &mut R, plan: &Plan) -> Result<(), R::Abort> {
    let mut stage = 0;
    // Schema before each phase that has steps: (phase index, dump).
    let mut dumps: Vec<(usize, String)> = Vec::new();
    for (pi, phase) in plan.phases.iter().enumerate() {
        let pname = format!("phase {} '{}'", pi + 1, phase.name);
        if phase.app_change.is_some() {
            stage += 1;
            r.deploy(stage, &pname);
        }
        let phase_start = Instant::now();
        // A case that must stop at a check runs no step before it.
        if !phase.steps.is_empty() && r.stop().is_none() {
            let before = r.dump_schema(&pname)?;
            dumps.push((pi, before));
            r.steps(&pname, phase)?;
            if phase.irreversible.is_some() {
                r.result().irreversible += 1;
            } else if phase.rollback.is_empty() {
                r.claim(
                    Kind::Rollback,
                    &pname,
                    "rollback",
                    "a rollback or an irreversible reason",
                    "neither",
                    false,
                );
            } else if r.rollbacks() {
                let back_to = r.roll_back(&pname, phase, &dumps)?;
                // A rollback that also undid earlier phases: replay them first.
                for (j, earlier) in plan.phases.iter().enumerate().take(pi).skip(back_to) {
                    if !earlier.steps.is_empty() {
                        let place = format!(
                            "phase {} '{}' (replayed: the rollback of phase {} undid it too)",
                            j + 1,
                            earlier.name,
                            pi + 1
                        );
                        r.steps(&place, earlier)?;
                    }
                }
                r.steps(&format!("{pname} (re-run after rollback)"), phase)?;
            }
        }
        r.traffic(&pname, phase_start);
        if r.checks(&pname, phase) {
            return Ok(());
        }
    }
    if let Some(stop) = r.stop().cloned() {
        r.claim(
            Kind::Check,
            "the plan",
            "stops at a preflight check",
            &format!("the check proving {:?}", stop.check),
            "no such check: the whole plan ran",
            false,
        );
    }
    Ok(())
}

/// Records a claim; prints it when it is false (or always, with `verbose`). `label` names the
/// server and case in the printed line.
#[allow(clippy::too_many_arguments)]
pub fn record(
    result: &mut CaseResult,
    verbose: bool,
    label: &str,
    kind: Kind,
    place: &str,
    what: &str,
    claimed: &str,
    observed: &str,
    ok: bool,
) {
    if verbose || !ok {
        eprintln!(
            "  [{label}] {} {place} {what}: claimed {claimed} / observed {observed}",
            if ok { "ok  " } else { "FAIL" },
        );
    }
    result
        .claims
        .push(Claim::new(kind, place, what, claimed, observed, ok));
}

/// The control case's lie ([`crate::scenarios::Case::control`]): every step that blocks is said
/// to block nothing. Returns their titles.
pub fn relabel_blocking_steps(plan: &mut Plan) -> Vec<String> {
    let mut titles = Vec::new();
    for phase in &mut plan.phases {
        for step in &mut phase.steps {
            if step.blocks != Blocks::Nothing {
                step.blocks = Blocks::Nothing;
                // "Blocks nothing" also claims no queueing: nothing to wait for, nothing held.
                step.set_blocking(0.0, lockstep_planner::model::Estimate::new(0.0, 0.0));
                titles.push(step.title.clone());
            }
        }
    }
    titles
}

/// In the control case, the blocking claim of a relabelled step must come out false, with the
/// load's lock wait (`lock_wait_seen`) as the reason: catching it is the claim that counts.
/// Other claims pass through unchanged.
pub fn control_claim<'a>(
    relabelled: &[String],
    kind: Kind,
    place: &str,
    (what, claimed, ok): (&'a str, &'a str, bool),
    lock_wait_seen: bool,
) -> (&'a str, &'a str, bool) {
    let control = kind == Kind::Blocking
        && what == "what it blocks"
        && relabelled
            .iter()
            .any(|t| place.ends_with(&format!("'{t}'")));
    if control {
        (
            "the verifier catches a blocking step relabelled 'blocks nothing' (control)",
            "judged false, with the load's lock wait as the evidence",
            !ok && lock_wait_seen,
        )
    } else {
        (what, claimed, ok)
    }
}

/// The schema a phase's rollback must restore, and the index of the phase it is the start of:
/// the schema before the earliest phase the rollback undoes (the phase itself, or
/// [`Phase::rollback_also_undoes`] phases earlier), the first of `dumps` taken from there on.
pub fn rollback_target(phase: &Phase, dumps: &[(usize, String)]) -> (usize, String) {
    let pi = dumps.last().map_or(0, |(i, _)| *i);
    let reach = pi.saturating_sub(phase.rollback_also_undoes());
    dumps
        .iter()
        .find(|(i, _)| *i >= reach)
        .cloned()
        .unwrap_or_default()
}

/// The rollback verdict every engine shares, from the schema `after` it: `Some((ok,
/// observed, back_to))` when `after` is the phase's own starting schema, the target's
/// ([`rollback_target`]) or another phase's; `None` when it matches none of them (an engine
/// may still explain the difference).
pub fn judge_rollback(
    phase: &Phase,
    dumps: &[(usize, String)],
    after: &str,
) -> Option<(bool, String, usize)> {
    let (pi, before) = dumps.last().cloned().unwrap_or_default();
    let (ti, target) = rollback_target(phase, dumps);
    if after == before {
        let ok = target == before;
        let observed = if ok {
            "schema identical to the one before the phase".to_string()
        } else {
            format!(
                "schema identical to the one before the phase, but the plan says its rollback also undoes the phases from phase {}",
                ti + 1
            )
        };
        return Some((ok, observed, pi));
    }
    if after == target {
        let observed = format!(
            "schema identical to the one before phase {} (the rollback also undoes the phases in between, as the plan's also_undoes says)",
            ti + 1
        );
        return Some((true, observed, ti));
    }
    let (j, _) = dumps.iter().rev().find(|(_, d)| d == after)?;
    let observed = format!(
        "schema identical to the one before phase {}, but the plan says its rollback goes back to the one before phase {}",
        j + 1,
        ti + 1
    );
    Some((false, observed, *j))
}

/// How the schema after a rollback differs from the one before: its lines missing and extra.
pub fn schema_difference(before: &str, after: &str) -> String {
    let b: Vec<&str> = before.lines().collect();
    let a: Vec<&str> = after.lines().collect();
    let missing: Vec<&str> = b.iter().filter(|l| !a.contains(l)).copied().collect();
    let extra: Vec<&str> = a.iter().filter(|l| !b.contains(l)).copied().collect();
    format!("missing after rollback: {missing:?}; extra after rollback: {extra:?}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockstep_planner::model::RollbackStep;

    fn phase(also_undoes: usize) -> Phase {
        Phase {
            name: "p".to_string(),
            purpose: String::new(),
            app_change: None,
            steps: Vec::new(),
            rollback: vec![RollbackStep {
                sql: "DROP ...".to_string(),
                note: Some("Undoes the previous phase, says the note".to_string()),
                shell: None,
                also_undoes,
                leaves: Vec::new(),
                app_retries: Vec::new(),
            }],
            irreversible: None,
            checks: Vec::new(),
        }
    }

    /// Schemas before phases 1, 2 and 3 (phase 0 has no step).
    fn dumps() -> Vec<(usize, String)> {
        vec![(1, "a".into()), (2, "ab".into()), (3, "abc".into())]
    }

    #[test]
    fn a_rollback_reaching_back_is_judged_by_also_undoes_never_by_its_note() {
        // Back to the schema before phase 2, as declared: true, and phases 2.. are replayed.
        let (ok, _, back_to) = judge_rollback(&phase(1), &dumps(), "ab").unwrap();
        assert!(ok);
        assert_eq!(back_to, 2);
        // The same schema when the plan declares nothing (a note saying "previous" is not
        // enough): false.
        let (ok, observed, _) = judge_rollback(&phase(0), &dumps(), "ab").unwrap();
        assert!(!ok, "{observed}");
        // Declared further than it went: false.
        let (ok, _, _) = judge_rollback(&phase(2), &dumps(), "ab").unwrap();
        assert!(!ok);
        // Its own phase only, as declared.
        let (ok, _, back_to) = judge_rollback(&phase(0), &dumps(), "abc").unwrap();
        assert!(ok);
        assert_eq!(back_to, 3);
        // A schema matching no phase: left to the engine (or a schema difference).
        assert!(judge_rollback(&phase(0), &dumps(), "x").is_none());
    }

    #[test]
    fn a_phase_without_steps_in_reach_is_skipped() {
        // Reaching back 3 phases from phase 3 is phase 0, which has no dump: the schema before
        // it is the one before phase 1.
        let (ok, _, back_to) = judge_rollback(&phase(3), &dumps(), "a").unwrap();
        assert!(ok);
        assert_eq!(back_to, 1);
    }

    #[test]
    fn the_control_case_is_caught_only_with_a_lock_wait_seen() {
        let relabelled = vec!["Add the column".to_string()];
        let place = "phase 2 'expand' step 1 'Add the column'";
        let judged = |seen| {
            control_claim(
                &relabelled,
                Kind::Blocking,
                place,
                ("what it blocks", "blocks nothing", false),
                seen,
            )
            .2
        };
        assert!(judged(true));
        assert!(!judged(false));
        // Another step's claim passes through.
        let other = control_claim(
            &relabelled,
            Kind::Blocking,
            "phase 2 'expand' step 2 'Other'",
            ("what it blocks", "blocks nothing", true),
            false,
        );
        assert!(other.2);
    }
}
