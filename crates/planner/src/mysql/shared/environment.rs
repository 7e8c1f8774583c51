//! What the optional environment facts change on MySQL and MariaDB: the application's write
//! rate, which every online path here has to absorb while it copies rows.
//!
//! The online tools carry the application's writes over to the copy in different ways, and a
//! high write rate hurts each differently (their documentation): pt-online-schema-change's
//! triggers repeat every write on the new table inside the application's own transaction;
//! gh-ost applies the binlog's row events on one connection, so a faster writer leaves it a
//! backlog that delays the cut-over indefinitely; Spirit applies them in parallel but its
//! checksum and cut-over still wait for the backlog. A batched copy without a tool (a stored
//! procedure) competes for the same rows and the binlog.

use crate::model::{human_seconds, Phase, Warning};
use crate::mysql::Ctx;
use crate::request::OscTool;

/// A warning when the write rate is at least half the copy throughput the estimate assumes
/// (below that the copy dominates, and the estimates already hold).
pub fn warnings(ctx: &Ctx, phases: &[Phase]) -> Vec<Warning> {
    let Some(rate) = ctx.req.env.write_rate else {
        return Vec::new();
    };
    let steps = || phases.iter().flat_map(|p| p.steps.iter());
    let tool = steps()
        .filter_map(|s| s.shell.as_deref())
        .find_map(|command| {
            OscTool::ALL
                .into_iter()
                .find(|t| command.starts_with(t.name()))
        });
    let batched = steps().any(|s| s.scans_table && s.shell.is_some());
    let copy_rate = ctx.model.backfill_rows_per_sec;
    if (tool.is_none() && !batched) || (rate as f64) < copy_rate as f64 * 0.5 {
        return Vec::new();
    }
    let copy = ctx.model.backfill().high;
    let arriving = human_count(rate as f64 * copy);
    let during = format!(
        "about {arriving} row changes arrive during the copy (up to {} at {copy_rate} rows/s assumed)",
        human_seconds(copy)
    );
    let message = match tool {
        Some(OscTool::PtOnlineSchemaChange) => format!(
            "At {rate} rows/s of writes, pt-online-schema-change's triggers repeat every write on the new table inside the application's own transaction: each write does twice the work and holds row locks on both tables, so expect higher write latency and occasional deadlocks (the application retries them) while {during}. Run it off-peak; it pauses itself above --max-load."
        ),
        Some(OscTool::GhOst) => format!(
            "At {rate} rows/s of writes, gh-ost must apply as many binlog row events per second on one connection while it copies, and {during}. If the application writes faster than gh-ost applies, its backlog grows and the cut-over never comes: watch its status line (Backlog, ETA), run it off-peak, or prefer Spirit (parallel apply, MySQL 8.0+) where allowed."
        ),
        Some(OscTool::Spirit) => format!(
            "At {rate} rows/s of writes, {during}; Spirit applies them in parallel, but its final checksum and the cut-over wait until the backlog is applied. Run it off-peak and keep --defer-cutover until it has caught up."
        ),
        None => format!(
            "At {rate} rows/s of writes, the batched copy competes with the application for the same rows and the binlog, and {during}. Run it off-peak, lower --batch-size, and watch replica lag and lock waits (information_schema.innodb_trx) while it runs."
        ),
    };
    vec![Warning {
        code: "write-rate".to_string(),
        message,
    }]
}

/// 1.1 billion, 4.2 million, 36,000: a count as a person reads it.
fn human_count(n: f64) -> String {
    if n >= 1e9 {
        format!("{:.1} billion", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.1} million", n / 1e6)
    } else {
        let whole = n.round() as u64;
        let digits = whole.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::human_count;
    use crate::request::params::Params;

    fn plan(db: &str, tools: &str, rate: &str) -> crate::model::Plan {
        let mut p = Params::new()
            .with("db", db)
            .with("change", "change-type")
            .with("table", "orders")
            .with("column", "id")
            .with("from-type", "int")
            .with("to-type", "bigint NOT NULL AUTO_INCREMENT")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", "0")
            .with("osc-tools", tools);
        if !rate.is_empty() {
            p.set("write-rate", rate);
        }
        crate::plan(&p).unwrap()
    }

    fn write_rate_warning(plan: &crate::model::Plan) -> Option<String> {
        plan.warnings
            .iter()
            .find(|w| w.code == "write-rate")
            .map(|w| w.message.clone())
    }

    #[test]
    fn each_tool_says_what_a_high_write_rate_does_to_it() {
        for (db, tools, says) in [
            ("mysql@8.0.35", "spirit", "Spirit applies them in parallel"),
            ("mysql@8.0.35", "gh-ost", "the cut-over never comes"),
            ("mariadb@10.11", "pt-osc", "triggers repeat every write"),
        ] {
            let plan = plan(db, tools, "15k");
            let message = write_rate_warning(&plan).unwrap_or_default();
            assert!(message.contains(says), "{db} {tools}: {message}");
            assert!(message.starts_with("At 15000 rows/s"), "{message}");
            // 500M rows at 20,000 rows/s take hours: a billion changes arrive meanwhile.
            assert!(
                message.contains("about 1.1 billion row changes"),
                "{message}"
            );
        }
    }

    #[test]
    fn counts_read_like_words() {
        assert_eq!(human_count(1_125_000_000.0), "1.1 billion");
        assert_eq!(human_count(4_200_000.0), "4.2 million");
        assert_eq!(human_count(36_000.0), "36,000");
        assert_eq!(human_count(999.4), "999");
    }

    #[test]
    fn no_warning_for_a_low_rate_or_without_one() {
        assert_eq!(
            write_rate_warning(&plan("mysql@8.0.35", "spirit", "500")),
            None
        );
        assert_eq!(
            write_rate_warning(&plan("mysql@8.0.35", "spirit", "")),
            None
        );
    }
}
