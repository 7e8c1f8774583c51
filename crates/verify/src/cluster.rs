//! Throwaway PostgreSQL clusters: initdb into `target/verify/run-<pid>/pg<major>`, started on a
//! free loopback port with its socket in the same directory, run as an unprivileged user when
//! this process is root (initdb refuses root), and always stopped (`pg_ctl stop -m immediate`)
//! and removed: by `Drop`, by the panic hook and by the SIGINT/SIGTERM/SIGHUP handler, which all
//! go through the one registry of live clusters below.

use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

/// The unprivileged user the servers run as when we are root (`nobody:nogroup` on Debian).
pub(crate) const RUN_UID: u32 = 65534;
pub(crate) const RUN_GID: u32 = 65534;

/// Clusters started and not yet stopped: (pg_ctl, data dir, cluster dir).
static LIVE: Mutex<Vec<(PathBuf, PathBuf, PathBuf)>> = Mutex::new(Vec::new());

/// Installs the handlers that stop every live cluster on Ctrl-C, SIGTERM, SIGHUP or a panic.
pub fn install_cleanup_handlers() {
    let _ = ctrlc::set_handler(|| {
        eprintln!("\nlockstep-verify: interrupted, stopping the test clusters");
        stop_all();
        std::process::exit(130);
    });
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        stop_all();
    }));
}

/// Stops and removes every live cluster (immediate shutdown: these clusters are throwaway).
pub fn stop_all() {
    let live: Vec<_> = match LIVE.lock() {
        Ok(mut guard) => guard.drain(..).collect(),
        Err(poisoned) => poisoned.into_inner().drain(..).collect(),
    };
    for (pg_ctl, data, dir) in live {
        stop_server(&pg_ctl, &data);
        let _ = fs::remove_dir_all(&dir);
        if let Some(run_dir) = dir.parent() {
            let _ = fs::remove_dir(run_dir);
        }
    }
    crate::mariadb::stop_all();
}

fn stop_server(pg_ctl: &Path, data: &Path) {
    if !data.join("postmaster.pid").exists() {
        return;
    }
    let _ = as_server_user(pg_ctl)
        .args(["stop", "-m", "immediate", "-w", "-t", "30", "-D"])
        .arg(data)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A command run as the unprivileged server user (directly when we are not root).
pub(crate) fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut cmd = Command::new("setpriv");
        cmd.arg(format!("--reuid={RUN_UID}"))
            .arg(format!("--regid={RUN_GID}"))
            .arg("--clear-groups")
            .arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

pub(crate) fn give_to_server_user(path: &Path) -> std::io::Result<()> {
    if is_root() {
        chown(path, Some(RUN_UID), Some(RUN_GID))?;
    }
    Ok(())
}

/// Removes leftovers of earlier runs whose process is gone (a `kill -9` skips every handler).
pub fn sweep_stale(root: &Path, tools: &Path) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(pid) = name
            .strip_prefix("run-")
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: kill with signal 0 only checks whether the process exists.
        let exists = unsafe { libc::kill(pid, 0) == 0 };
        // A killed run not yet reaped by its parent is a zombie: gone all the same.
        let zombie = fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit(')')
                    .next()
                    .map(|r| r.trim_start().starts_with('Z'))
            })
            .unwrap_or(false);
        let alive = exists && !zombie;
        if alive {
            continue;
        }
        if let Ok(clusters) = fs::read_dir(entry.path()) {
            for c in clusters.flatten() {
                let cname = c.file_name().to_string_lossy().to_string();
                if let Some(major) = cname.strip_prefix("pg") {
                    let pg_ctl = tools.join(major).join("bin/pg_ctl");
                    stop_server(&pg_ctl, &c.path().join("data"));
                } else if cname == "mariadb" {
                    crate::mariadb::kill_stale(&c.path());
                }
            }
        }
        let _ = fs::remove_dir_all(entry.path());
    }
}

/// One running throwaway server.
pub struct Cluster {
    pub major: u32,
    /// `server_version` as the server reports it, e.g. `16.14`.
    pub version: String,
    pub port: u16,
    dir: PathBuf,
    data: PathBuf,
    pg_ctl: PathBuf,
    stopped: bool,
}

impl Cluster {
    /// initdb + start. `root` is `target/verify`, `tools` is `.tools/pg`.
    pub fn start(root: &Path, tools: &Path, major: u32) -> Result<Cluster, String> {
        let bin = tools.join(major.to_string()).join("bin");
        let initdb = bin.join("initdb");
        let pg_ctl = bin.join("pg_ctl");
        if !initdb.exists() {
            return Err(format!(
                "{} is missing: run scripts/setup-postgres.sh first",
                initdb.display()
            ));
        }
        // The server runs as an unprivileged user: every directory above the binaries and the
        // data must be traversable by it (o+x), which a checkout under /root is not.
        let reachable = as_server_user(&bin.join("postgres"))
            .arg("--version")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !reachable {
            return Err(format!(
                "{} cannot be run by uid {RUN_UID} (the server user): every directory above it and its lib/ needs o+x (chmod o+x on each parent), or put the checkout elsewhere",
                bin.join("postgres").display()
            ));
        }
        let run_dir = root.join(format!("run-{}", std::process::id()));
        fs::create_dir_all(&run_dir).map_err(|e| format!("{}: {e}", run_dir.display()))?;
        fs::set_permissions(&run_dir, fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
        let dir = run_dir.join(format!("pg{major}"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        give_to_server_user(&dir).map_err(|e| format!("chown {}: {e}", dir.display()))?;
        let data = dir.join("data");
        // Registered before initdb so that an interrupt from here on removes the directory.
        LIVE.lock().unwrap_or_else(|p| p.into_inner()).push((
            pg_ctl.clone(),
            data.clone(),
            dir.clone(),
        ));
        let mut cluster = Cluster {
            major,
            version: String::new(),
            port: 0,
            dir: dir.clone(),
            data: data.clone(),
            pg_ctl: pg_ctl.clone(),
            stopped: false,
        };

        let out = as_server_user(&initdb)
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "-N",
            ])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb (PostgreSQL {major}) failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }

        let mut last_error = String::new();
        for _attempt in 0..3 {
            let port = free_port()?;
            let conf = format!(
                "\n# lockstep-verify: a throwaway test cluster\n\
                 listen_addresses = '127.0.0.1'\n\
                 port = {port}\n\
                 unix_socket_directories = '{sock}'\n\
                 max_connections = 40\n\
                 shared_buffers = 128MB\n\
                 maintenance_work_mem = 64MB\n\
                 fsync = off\n\
                 synchronous_commit = off\n\
                 full_page_writes = off\n\
                 max_wal_size = 4GB\n\
                 checkpoint_timeout = 30min\n\
                 autovacuum = off\n\
                 TimeZone = 'UTC'\n\
                 log_min_messages = warning\n\
                 log_min_error_statement = panic\n\
                 log_lock_waits = on\n\
                 deadlock_timeout = '100ms'\n\
                 log_timezone = 'UTC'\n\
                 log_line_prefix = '{prefix}'\n",
                sock = dir.display(),
                prefix = crate::lockwaits::LOG_LINE_PREFIX
            );
            // Appended: on a retry with another port, the later lines win.
            let base = fs::read_to_string(data.join("postgresql.conf")).unwrap_or_default();
            fs::write(data.join("postgresql.conf"), format!("{base}{conf}"))
                .map_err(|e| e.to_string())?;
            let log = dir.join("server.log");
            let status = as_server_user(&pg_ctl)
                .args(["start", "-w", "-t", "60", "-D"])
                .arg(&data)
                .arg("-l")
                .arg(&log)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map_err(|e| format!("pg_ctl start: {e}"))?;
            if status.success() {
                cluster.port = port;
                let mut client = cluster.connect("postgres")?;
                let v = client
                    .query_one("SELECT current_setting('server_version')", &[])
                    .map_err(|e| e.to_string())?;
                cluster.version = v.get::<_, String>(0);
                return Ok(cluster);
            }
            last_error = fs::read_to_string(&log).unwrap_or_default();
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(format!(
            "PostgreSQL {major} did not start: {}",
            last_error
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .join(" | ")
        ))
    }

    pub fn conn_string(&self, db: &str) -> String {
        self.conn_string_as(db, "lockstep-verify")
    }

    fn conn_string_as(&self, db: &str, application: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname={db} application_name={application} connect_timeout=10",
            self.port
        )
    }

    pub fn connect(&self, db: &str) -> Result<postgres::Client, String> {
        postgres::Client::connect(&self.conn_string(db), postgres::NoTls)
            .map_err(|e| format!("connect to PostgreSQL {} ({db}): {e}", self.major))
    }

    /// A connection of the writer or reader: named so the server log tells its lock waits apart.
    pub fn connect_load(&self, db: &str) -> Result<postgres::Client, String> {
        let conn = self.conn_string_as(db, crate::lockwaits::LOAD_APP);
        postgres::Client::connect(&conn, postgres::NoTls)
            .map_err(|e| format!("connect to PostgreSQL {} ({db}): {e}", self.major))
    }

    /// Database `db` made anew as a copy of `template`; returns the admin connection that made
    /// it (to drop it afterwards).
    pub fn fresh_database(&self, db: &str, template: &str) -> Result<postgres::Client, String> {
        let mut admin = self.connect("postgres")?;
        crate::sql::exec(&mut admin, &format!("DROP DATABASE IF EXISTS {db}"))?;
        crate::sql::exec(
            &mut admin,
            &format!("CREATE DATABASE {db} TEMPLATE {template}"),
        )?;
        Ok(admin)
    }

    /// The server log (lock waits over `deadlock_timeout` included).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// Stops the server (immediate) and removes its directory.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        stop_server(&self.pg_ctl, &self.data);
        let _ = fs::remove_dir_all(&self.dir);
        if let Some(run_dir) = self.dir.parent() {
            // Only removed once the last cluster of this run is gone (it fails while not empty).
            let _ = fs::remove_dir(run_dir);
        }
        let mut live = LIVE.lock().unwrap_or_else(|p| p.into_inner());
        live.retain(|(_, d, _)| d != &self.data);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}

pub(crate) fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}
