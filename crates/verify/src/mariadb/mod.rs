//! MariaDB: a throwaway server (Debian's `mariadbd`, its own datadir, socket and port under
//! `target/verify/run-<pid>/mariadb`, run as the unprivileged server user, started with
//! `--no-defaults` so no system configuration applies), a text-protocol client, and the
//! MySQL-family runner ([`runner`]) with its cases ([`scenarios`]); the load is
//! [`crate::load`] in its MariaDB dialect over [`LoadConn`].
//!
//! The server is always killed and its directory removed: by `Drop`, and by the panic hook and
//! signal handler of [`crate::cluster`], which call [`stop_all`].

mod lockwatch;
pub mod runner;
pub mod scenarios;
mod script;

use crate::cluster::{as_server_user, free_port, give_to_server_user};
use mysql::prelude::Queryable;
use mysql::{Conn, OptsBuilder, Value};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Servers started and not yet stopped: (pid, server directory).
static LIVE: Mutex<Vec<(i32, PathBuf)>> = Mutex::new(Vec::new());

const SERVER_BINARIES: [&str; 2] = ["/usr/sbin/mariadbd", "/usr/sbin/mysqld"];
const INSTALL_DB: [&str; 2] = ["/usr/bin/mariadb-install-db", "/usr/bin/mysql_install_db"];

/// Kills every live server (SIGKILL: the data is thrown away) and removes its directory.
pub fn stop_all() {
    let live: Vec<_> = match LIVE.lock() {
        Ok(mut guard) => guard.drain(..).collect(),
        Err(poisoned) => poisoned.into_inner().drain(..).collect(),
    };
    for (pid, dir) in live {
        kill(pid);
        remove(&dir);
    }
}

fn kill(pid: i32) {
    if pid > 0 {
        // SAFETY: kill has no memory preconditions; the pid is a server this process started.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

fn remove(dir: &Path) {
    let _ = fs::remove_dir_all(dir);
    if let Some(run_dir) = dir.parent() {
        // Only removed once the last server of this run is gone (it fails while not empty).
        let _ = fs::remove_dir(run_dir);
    }
}

/// Kills the server of an earlier run whose process is gone (`kill -9` skips every handler),
/// when its pid file still names a running mariadbd.
pub fn kill_stale(dir: &Path) {
    if let Some(pid) = fs::read_to_string(dir.join("mariadbd.pid"))
        .ok()
        .and_then(|p| p.trim().parse::<i32>().ok())
    {
        let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == "mariadbd" || comm.trim() == "mysqld" {
            kill(pid);
            // Gone before its directory is removed (it could still write into it).
            let deadline = Instant::now() + Duration::from_secs(5);
            while running(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// The process exists and is not a zombie.
fn running(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit(')')
                .next()
                .map(|r| !r.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// One running throwaway MariaDB server.
pub struct Server {
    /// `VERSION()` without the distribution suffix, e.g. `10.11.19`.
    pub version: String,
    /// `VERSION()` as the server reports it.
    pub full_version: String,
    pub port: u16,
    pub socket: PathBuf,
    /// A client option file (`[client]` socket and user) for command-line tools.
    pub defaults_file: PathBuf,
    dir: PathBuf,
    child: Option<Child>,
}

impl Server {
    /// mariadb-install-db + mariadbd. `root` is `target/verify`.
    pub fn start(root: &Path) -> Result<Server, String> {
        let bin = SERVER_BINARIES
            .iter()
            .map(Path::new)
            .find(|p| p.exists())
            .ok_or("no mariadbd in /usr/sbin: run scripts/setup.sh mariadb first")?;
        let install = INSTALL_DB
            .iter()
            .map(Path::new)
            .find(|p| p.exists())
            .ok_or("no mariadb-install-db: run scripts/setup.sh mariadb first")?;
        let run_dir = root.join(format!("run-{}", std::process::id()));
        fs::create_dir_all(&run_dir).map_err(|e| format!("{}: {e}", run_dir.display()))?;
        fs::set_permissions(&run_dir, fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
        let dir = run_dir.join("mariadb");
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
        give_to_server_user(&dir).map_err(|e| format!("chown {}: {e}", dir.display()))?;
        // The server's own temporary directory: internal temporary tables in /tmp were seen
        // deleted under a running statement ("Error on delete of '/tmp/#sql-temptable...'")
        // by other processes cleaning /tmp.
        let tmp = dir.join("tmp");
        fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
        give_to_server_user(&tmp).map_err(|e| format!("chown {}: {e}", tmp.display()))?;
        // The server runs as an unprivileged user: it must reach and write its directory,
        // which a checkout under /root (mode 700) does not allow.
        let reachable = as_server_user(Path::new("/usr/bin/test"))
            .arg("-w")
            .arg(&dir)
            .stdin(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !reachable {
            let _ = fs::remove_dir_all(&dir);
            return Err(format!(
                "{} cannot be written by uid {} (the server user): every directory above it needs o+x (chmod o+x on each parent), or put the checkout elsewhere",
                dir.display(),
                crate::cluster::RUN_UID
            ));
        }
        // Registered before anything runs so that an interrupt from here on removes it.
        LIVE.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((0, dir.clone()));
        let mut server = Server {
            version: String::new(),
            full_version: String::new(),
            port: 0,
            socket: dir.join("mariadb.sock"),
            defaults_file: dir.join("client.cnf"),
            dir: dir.clone(),
            child: None,
        };
        let data = dir.join("data");
        let out = as_server_user(install)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args([
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
            ])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("mariadb-install-db: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mariadb-install-db failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        fs::write(
            &server.defaults_file,
            format!("[client]\nsocket={}\nuser=root\n", server.socket.display()),
        )
        .map_err(|e| e.to_string())?;
        let mut last_error = String::new();
        for _attempt in 0..3 {
            let port = free_port()?;
            let log = dir.join("error.log");
            let child = as_server_user(bin)
                .arg("--no-defaults")
                .arg(format!("--datadir={}", data.display()))
                .arg(format!("--socket={}", server.socket.display()))
                .arg(format!("--pid-file={}", dir.join("mariadbd.pid").display()))
                .arg(format!("--log-error={}", log.display()))
                .arg(format!("--tmpdir={}", dir.join("tmp").display()))
                .arg(format!("--port={port}"))
                .args([
                    "--bind-address=127.0.0.1",
                    "--skip-name-resolve",
                    // Debian's packaged configuration (50-server.cnf) uses utf8mb4: the
                    // VARCHAR length-byte boundary (255 bytes) depends on it.
                    "--character-set-server=utf8mb4",
                    "--collation-server=utf8mb4_general_ci",
                    "--default-time-zone=+00:00",
                    "--max-connections=100",
                    "--innodb-buffer-pool-size=256M",
                    "--innodb-log-file-size=256M",
                    "--innodb-flush-log-at-trx-commit=0",
                    "--sync-binlog=0",
                    "--skip-log-bin",
                    "--performance-schema=OFF",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("mariadbd: {e}"))?;
            let pid = child.id() as i32;
            {
                let mut live = LIVE.lock().unwrap_or_else(|p| p.into_inner());
                live.retain(|(_, d)| d != &dir);
                live.push((pid, dir.clone()));
            }
            server.child = Some(child);
            server.port = port;
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if let Ok(mut c) = server.connect("mysql") {
                    let v = text_value(&mut c, "SELECT VERSION()")?.unwrap_or_default();
                    server.version = v.split('-').next().unwrap_or(&v).to_string();
                    server.full_version = v;
                    return Ok(server);
                }
                let exited = server
                    .child
                    .as_mut()
                    .and_then(|c| c.try_wait().ok().flatten())
                    .is_some();
                if exited || Instant::now() > deadline {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            last_error = fs::read_to_string(&log).unwrap_or_default();
            if let Some(mut c) = server.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        Err(format!(
            "MariaDB did not start: {}",
            last_error
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .join(" | ")
        ))
    }

    /// A connection over TCP as root, with `db` as the default database.
    pub fn connect(&self, db: &str) -> Result<Conn, String> {
        let opts = OptsBuilder::new()
            .ip_or_hostname(Some("127.0.0.1"))
            .tcp_port(self.port)
            .user(Some("root"))
            .db_name(Some(db))
            .prefer_socket(false)
            .tcp_connect_timeout(Some(Duration::from_secs(10)));
        Conn::new(opts).map_err(|e| format!("connect to MariaDB ({db}): {e}"))
    }

    /// Kills the server and removes its directory.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        remove(&self.dir);
        LIVE.lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(_, d)| d != &self.dir);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A connection of the concurrent load.
pub struct LoadConn {
    conn: Conn,
    closed: bool,
}

impl LoadConn {
    pub fn new(conn: Conn) -> LoadConn {
        LoadConn {
            conn,
            closed: false,
        }
    }
}

impl crate::load::Session for LoadConn {
    fn run(&mut self, sql: &str) -> Result<Option<u64>, String> {
        match text_rows(&mut self.conn, sql) {
            Ok(rows) => Ok(rows
                .first()
                .and_then(|r| r.first().cloned().flatten())
                .and_then(|v| v.parse().ok())),
            Err(e) => {
                if error_code(&e).is_some() {
                    // A failed statement inside START TRANSACTION leaves it open.
                    let _ = exec(&mut self.conn, "ROLLBACK");
                } else {
                    self.closed = true;
                }
                Err(e)
            }
        }
    }
    fn is_closed(&self) -> bool {
        self.closed
    }
}

/// A server error as `ERROR 1846 (0A000): ALGORITHM=INPLACE is not supported...`.
pub fn my_error(e: &mysql::Error) -> String {
    match e {
        mysql::Error::MySqlError(m) => format!("ERROR {} ({}): {}", m.code, m.state, m.message),
        other => other.to_string(),
    }
}

/// The server error code of a message in [`my_error`]'s form.
pub fn error_code(message: &str) -> Option<u16> {
    message
        .strip_prefix("ERROR ")?
        .split(' ')
        .next()?
        .parse()
        .ok()
}

/// A value as the `mariadb` client prints it (`None` for NULL).
fn text(v: &Value) -> Option<String> {
    match v {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Double(d) => Some(d.to_string()),
        other => Some(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

/// Rows of the last result set of `sql` (one or more statements), in text form.
pub fn text_rows(c: &mut Conn, sql: &str) -> Result<Vec<Vec<Option<String>>>, String> {
    let mut result = c.query_iter(sql).map_err(|e| my_error(&e))?;
    let mut last = Vec::new();
    while let Some(set) = result.iter() {
        let mut rows = Vec::new();
        let mut has_columns = false;
        for row in set {
            let row = row.map_err(|e| my_error(&e))?;
            has_columns = true;
            rows.push(
                (0..row.len())
                    .map(|i| row.as_ref(i).and_then(text))
                    .collect(),
            );
        }
        if has_columns || last.is_empty() {
            last = rows;
        }
    }
    Ok(last)
}

/// The first column of the first row.
pub fn text_value(c: &mut Conn, sql: &str) -> Result<Option<String>, String> {
    Ok(text_rows(c, sql)?
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next().flatten()))
}

/// Runs statements and discards their results.
pub fn exec(c: &mut Conn, sql: &str) -> Result<(), String> {
    c.query_drop(sql).map_err(|e| my_error(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes() {
        assert_eq!(
            error_code("ERROR 1846 (0A000): LOCK=NONE is not supported"),
            Some(1846)
        );
        assert_eq!(error_code("connection refused"), None);
    }
}
