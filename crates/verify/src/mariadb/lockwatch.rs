//! The load's lock waits on MariaDB, sampled.
//!
//! A stall of the writer or reader is only evidence of blocking when the stalled statement was
//! waiting for a lock: on this shared 2-core machine a busy neighbour stalls both threads with
//! no lock involved. MariaDB has no `log_lock_waits`, so a thread polls every 10 ms the
//! processlist state of the load's connections (metadata and table locks: "Waiting for table
//! metadata lock") and InnoDB's transaction state (row locks: `LOCK WAIT`). A wait long enough
//! to stall a query past the 200 ms threshold is seen many times over.

use super::text_rows;
use mysql::Conn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One sample of one load connection waiting for a lock.
#[derive(Debug, Clone, PartialEq)]
pub struct Wait {
    pub at: Instant,
    /// A metadata or table lock (not a row lock).
    pub on_table: bool,
    /// The processlist state, or `LOCK WAIT` for a row lock.
    pub state: String,
}

/// The sampling thread and what it saw.
pub struct LockWatch {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Wait>>>,
    thread: Option<JoinHandle<()>>,
}

impl LockWatch {
    /// Polls on `conn` the connections whose ids are in `ids` (the load registers each
    /// connection it opens).
    pub fn start(mut conn: Conn, ids: Arc<Mutex<Vec<u32>>>) -> LockWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, seen) = (Arc::clone(&stop), Arc::clone(&seen));
            std::thread::Builder::new()
                .name("mariadb-lockwatch".to_string())
                .spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        let list = {
                            let ids = ids.lock().unwrap_or_else(|p| p.into_inner());
                            ids.iter()
                                .map(u32::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        };
                        if !list.is_empty() {
                            let sql = format!(
                                "SELECT p.STATE, t.trx_state FROM information_schema.PROCESSLIST p \
                                 LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID \
                                 WHERE p.ID IN ({list})"
                            );
                            if let Ok(rows) = text_rows(&mut conn, &sql) {
                                let at = Instant::now();
                                let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
                                for r in rows {
                                    let state = r.first().cloned().flatten().unwrap_or_default();
                                    let trx = r.get(1).cloned().flatten().unwrap_or_default();
                                    seen.extend(classify(&state, &trx).map(|(on_table, state)| {
                                        Wait {
                                            at,
                                            on_table,
                                            state,
                                        }
                                    }));
                                }
                            }
                        }
                        std::thread::sleep(Duration::from_millis(10));
                    }
                })
                .ok()
        };
        LockWatch { stop, seen, thread }
    }

    /// The waits sampled between `from` and `to`.
    pub fn waits(&self, from: Instant, to: Instant) -> Vec<Wait> {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|w| from <= w.at && w.at <= to)
            .cloned()
            .collect()
    }

    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for LockWatch {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `(on a table, what)` when a processlist state or an InnoDB transaction state is a lock wait.
fn classify(state: &str, trx_state: &str) -> Option<(bool, String)> {
    let lower = state.to_ascii_lowercase();
    if lower.starts_with("waiting for") && lower.contains("lock") {
        Some((true, state.to_string()))
    } else if trx_state == "LOCK WAIT" {
        Some((false, "LOCK WAIT (a row lock)".to_string()))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_states() {
        assert_eq!(
            classify("Waiting for table metadata lock", ""),
            Some((true, "Waiting for table metadata lock".to_string()))
        );
        assert_eq!(
            classify("Waiting for table level lock", "RUNNING"),
            Some((true, "Waiting for table level lock".to_string()))
        );
        assert_eq!(
            classify("Updating", "LOCK WAIT"),
            Some((false, "LOCK WAIT (a row lock)".to_string()))
        );
        assert_eq!(classify("Sending data", "RUNNING"), None);
        assert_eq!(classify("", ""), None);
    }
}
