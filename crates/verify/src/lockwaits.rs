//! The load's lock waits, read from the server log.
//!
//! A stall of the writer or reader is only evidence of blocking when the stalled query was
//! waiting for a lock: on this shared 2-core machine a busy neighbour stalls both threads for
//! hundreds of milliseconds with no lock involved. The test clusters run with `log_lock_waits`
//! and `deadlock_timeout = 100ms`, so every lock wait over 100 ms is logged with the lock it
//! waits for, the application and the database (`log_line_prefix`, see `cluster.rs`).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// `application_name` of the writer's and reader's connections.
pub const LOAD_APP: &str = "lockstep-load";

/// `log_line_prefix` of the test clusters: UTC time with milliseconds, application, database.
pub const LOG_LINE_PREFIX: &str = "%m %a %d ";

/// A row lock held for one batch of a backfill makes a writer of the same row wait that long;
/// a wait past this is a statement holding its rows far longer than a batch (an UPDATE of the
/// whole table), which blocks writes as surely as a table lock.
pub const ROW_WAIT_LIMIT_MS: f64 = 1000.0;

/// One lock wait of the load over `deadlock_timeout`: its start ("still waiting for", logged
/// 100 ms in) or its end ("acquired ... after N ms").
#[derive(Debug, Clone, PartialEq)]
pub struct LockWait {
    /// Waiting for a lock on a table (`... on relation ...`), not on a row (a transaction id or
    /// a tuple), which an ordinary UPDATE of the same row also causes.
    pub on_table: bool,
    /// How long it waited, on the line that ends the wait; `None` on the line that starts it.
    pub waited_ms: Option<f64>,
    /// The log message, from "still waiting for" or "acquired".
    pub message: String,
}

/// What the load's lock waits during a step say about the step.
#[derive(Debug, Default)]
pub struct Evidence {
    /// Waits for a table lock: the step blocked the table.
    pub table: Vec<LockWait>,
    /// Ended row-lock waits, longest first.
    pub rows_ended: Vec<LockWait>,
    /// Row-lock waits that started but were not seen to end.
    pub rows_open: usize,
}

impl Evidence {
    pub fn of(waits: &[LockWait]) -> Evidence {
        let table: Vec<LockWait> = waits
            .iter()
            .filter(|w| w.on_table && w.waited_ms.is_none())
            .cloned()
            .collect();
        let mut rows_ended: Vec<LockWait> = waits
            .iter()
            .filter(|w| !w.on_table && w.waited_ms.is_some())
            .cloned()
            .collect();
        rows_ended.sort_by(|a, b| {
            b.waited_ms
                .partial_cmp(&a.waited_ms)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let started = waits
            .iter()
            .filter(|w| !w.on_table && w.waited_ms.is_none())
            .count();
        Evidence {
            table,
            rows_open: started.saturating_sub(rows_ended.len()),
            rows_ended,
        }
    }

    /// The longest ended row-lock wait, in ms.
    pub fn longest_row_wait(&self) -> f64 {
        self.rows_ended
            .first()
            .and_then(|w| w.waited_ms)
            .unwrap_or(0.0)
    }

    /// Whether the load waited for any lock at all (over 100 ms).
    pub fn any(&self) -> bool {
        !self.table.is_empty() || !self.rows_ended.is_empty() || self.rows_open > 0
    }
}

/// The waits that `log` records for connections named [`LOAD_APP`] in database `db`, whose log
/// line falls in one of `windows`.
pub fn load_waits(log: &str, db: &str, windows: &[(Instant, Instant)]) -> Vec<LockWait> {
    let now_instant = Instant::now();
    let now_ms = unix_ms(SystemTime::now());
    let to_ms = |i: Instant| now_ms - now_instant.saturating_duration_since(i).as_millis() as i64;
    let ranges: Vec<(i64, i64)> = windows
        .iter()
        .map(|(a, b)| (to_ms(*a), to_ms(*b)))
        .collect();
    log.lines()
        .filter_map(parse_line)
        .filter(|(_, app, database, _)| *app == LOAD_APP && *database == db)
        // A wait ends when the step's lock goes: at most a moment after the window.
        .filter(|(at, _, _, message)| {
            let grace = if message.starts_with("acquired ") {
                500
            } else {
                0
            };
            ranges.iter().any(|(a, b)| a <= at && *at <= b + grace)
        })
        .map(|(_, _, _, message)| LockWait {
            on_table: message.contains(" on relation ") && !message.contains(" on tuple "),
            // "after 5001.2 ms", followed by " at character 15" when the lock was taken while
            // the statement was parsed (a table lock of the load's own query).
            waited_ms: message
                .strip_prefix("acquired ")
                .and_then(|m| m.rsplit_once(" after "))
                .and_then(|(_, rest)| rest.split_whitespace().next()?.parse().ok()),
            message: message.to_string(),
        })
        .collect()
}

/// `(ms since the epoch, application, database, message)` of a "still waiting for" or an
/// "acquired ... after" line (`process N acquired ShareLock on transaction 7 after 210.5 ms`).
fn parse_line(line: &str) -> Option<(i64, &str, &str, &str)> {
    let at = line.find("still waiting for ").or_else(|| {
        line.find(" acquired ")
            .filter(|_| line.contains(" after "))
            .map(|i| i + 1)
    })?;
    let mut fields = line.splitn(6, ' ');
    let (date, time, zone, app, db) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    if zone != "UTC" {
        return None;
    }
    Some((parse_utc_ms(date, time)?, app, db, &line[at..]))
}

/// `2026-12-04` + `14:30:01.123` (UTC) as milliseconds since the epoch.
fn parse_utc_ms(date: &str, time: &str) -> Option<i64> {
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':');
    let (h, min) = (
        t.next()?.parse::<i64>().ok()?,
        t.next()?.parse::<i64>().ok()?,
    );
    let secs: f64 = t.next()?.parse().ok()?;
    // Days from 1970-01-01 to y-m-day (proleptic Gregorian; Howard Hinnant's days_from_civil).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + h) * 60 + min) * 60_000 + (secs * 1000.0).round() as i64)
}

fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_arithmetic() {
        assert_eq!(parse_utc_ms("1970-01-01", "00:00:00.000"), Some(0));
        assert_eq!(
            parse_utc_ms("2026-12-04", "14:30:01.123"),
            Some(1_796_394_601_123)
        );
        assert_eq!(
            parse_utc_ms("2024-02-29", "00:00:00"),
            Some(1_709_164_800_000)
        );
    }

    #[test]
    fn row_waits_that_ended_say_how_long() {
        let w = |on_table: bool, ms: Option<f64>| LockWait {
            on_table,
            waited_ms: ms,
            message: String::new(),
        };
        let e = Evidence::of(&[
            w(false, None),
            w(false, Some(210.0)),
            w(false, None),
            w(false, Some(1500.0)),
        ]);
        assert!(e.table.is_empty());
        assert_eq!(e.longest_row_wait(), 1500.0);
        assert_eq!(e.rows_open, 0);
        assert!(e.any());
        assert!(!Evidence::of(&[]).any());
    }

    #[test]
    fn table_and_row_waits_of_the_load_only() {
        let now = SystemTime::now();
        let stamp = |t: SystemTime| {
            let ms = unix_ms(t);
            let days = ms.div_euclid(86_400_000);
            let rest = ms.rem_euclid(86_400_000);
            // Inverse of days_from_civil, enough for a test of "now".
            let z = days + 719_468;
            let era = z.div_euclid(146_097);
            let doe = z - era * 146_097;
            let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
            let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
            let mp = (5 * doy + 2) / 153;
            let d = doy - (153 * mp + 2) / 5 + 1;
            let m = if mp < 10 { mp + 3 } else { mp - 9 };
            let y = yoe + era * 400 + i64::from(m <= 2);
            format!(
                "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:03} UTC",
                rest / 3_600_000,
                rest / 60_000 % 60,
                rest / 1000 % 60,
                rest % 1000
            )
        };
        let at = stamp(now);
        let log = format!(
            "{at} lockstep-load case_x LOG:  process 7 still waiting for RowExclusiveLock on relation 16385 of database 16384 after 100.1 ms\n\
             {at} lockstep-load case_x LOG:  process 7 still waiting for ShareLock on transaction 812 after 100.2 ms\n\
             {at} lockstep-load case_x LOG:  process 7 still waiting for ExclusiveLock on tuple (3,4) of relation 16385 of database 16384 after 100.0 ms\n\
             {at} lockstep-verify case_x LOG:  process 9 still waiting for AccessExclusiveLock on relation 16385 of database 16384 after 100.0 ms\n\
             {at} lockstep-load case_y LOG:  process 8 still waiting for RowExclusiveLock on relation 1 of database 2 after 100.0 ms\n\
             {at} lockstep-load case_x LOG:  process 7 acquired RowExclusiveLock on relation 16385 of database 16384 after 612.0 ms\n\
             {at} lockstep-load case_x LOG:  process 7 acquired AccessShareLock on relation 16385 of database 16384 after 5001.5 ms at character 15\n"
        );
        let i = Instant::now();
        let w = load_waits(
            &log,
            "case_x",
            &[(i - Duration::from_secs(2), i + Duration::from_secs(2))],
        );
        assert_eq!(
            w.iter()
                .map(|w| (w.on_table, w.waited_ms))
                .collect::<Vec<_>>(),
            [
                (true, None),
                (false, None),
                (false, None),
                (true, Some(612.0)),
                (true, Some(5001.5))
            ]
        );
        let e = Evidence::of(&w);
        assert_eq!(e.table.len(), 1);
        assert_eq!(e.rows_open, 2);
        // Outside every window: nothing.
        let past = i - Duration::from_secs(60);
        assert!(load_waits(&log, "case_x", &[(past, past + Duration::from_secs(1))]).is_empty());
    }
}
