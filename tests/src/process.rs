//! The real binaries as child processes, for the fault harness (kill -9, database faults,
//! soak): start `fintech-server` on a database, wait until it answers, kill it with SIGKILL,
//! start it again; run `fintech` (the CLI) against the same database.
//!
//! The binaries are found next to the running test or bench (`target/<profile>/`), where
//! `cargo test --workspace` and `cargo build --workspace --bins` put them, or in
//! `FINTECH_BIN_DIR`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::process::{Child, Command};

/// The directory holding the workspace's binaries.
pub fn bin_dir() -> anyhow::Result<PathBuf> {
    if let Ok(dir) = std::env::var("FINTECH_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    // target/<profile>/deps/<test> or target/<profile>/<bench-or-bin>
    let exe = std::env::current_exe()?;
    let mut dir = exe.parent().context("test binary directory")?.to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    Ok(dir)
}

/// The path of the workspace binary `name`, or an error saying how to build it.
pub fn binary(name: &str) -> anyhow::Result<PathBuf> {
    let path = bin_dir()?.join(name);
    if !path.exists() {
        bail!(
            "{} not found: build it first (cargo build --workspace --bins, or cargo test --workspace builds it), or set FINTECH_BIN_DIR",
            path.display()
        );
    }
    Ok(path)
}

/// A port nothing listens on right now.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// How to run a server: its database, key, working directory and configuration file.
#[derive(Clone, Debug)]
pub struct ServerSpec {
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// Base64 encryption key (the same for every start, so sealed secrets stay readable).
    pub encryption_key: String,
    /// Working directory: its `fintech.toml` and the server logs (`server-<port>.log`).
    pub dir: PathBuf,
    /// The idempotency lease in seconds (how soon a retry may take over a dead holder's key).
    pub lease_secs: u64,
    /// Database connections per process.
    pub max_connections: u32,
}

impl ServerSpec {
    /// A spec in `dir` with a fresh encryption key, a 3 s lease and 8 connections.
    pub fn new(database_url: impl Into<String>, dir: &Path) -> Self {
        let key = fintech_core::crypto::SecretBox::generate_key();
        Self {
            database_url: database_url.into(),
            encryption_key: secrecy::ExposeSecret::expose_secret(&key).to_owned(),
            dir: dir.to_path_buf(),
            lease_secs: 3,
            max_connections: 8,
        }
    }

    fn config_file(&self) -> anyhow::Result<PathBuf> {
        let path = self.dir.join("fintech.toml");
        std::fs::write(
            &path,
            format!(
                "idempotency_lease_secs = {}\nmax_connections = {}\n",
                self.lease_secs, self.max_connections
            ),
        )?;
        Ok(path)
    }

    fn command(&self, program: &Path) -> anyhow::Result<Command> {
        let mut cmd = Command::new(program);
        // Only what this spec says: nothing from the caller's FINTECH_* environment.
        for (k, _) in std::env::vars() {
            if k.starts_with("FINTECH_") {
                cmd.env_remove(k);
            }
        }
        cmd.current_dir(&self.dir)
            .env("FINTECH_CONFIG", self.config_file()?)
            .env("FINTECH_DATABASE_URL", &self.database_url)
            .env("FINTECH_ENCRYPTION_KEY", &self.encryption_key)
            .env("FINTECH_LOG", "warn")
            .stdin(Stdio::null());
        Ok(cmd)
    }

    /// Runs the `fintech` CLI with `args` on this database; its exit status and stdout.
    pub async fn cli(&self, args: &[&str]) -> anyhow::Result<(bool, String)> {
        let out = self
            .command(&binary("fintech")?)?
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .await?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            return Ok((
                false,
                format!("{text}{}", String::from_utf8_lossy(&out.stderr)),
            ));
        }
        Ok((true, text))
    }
}

/// A running `fintech-server`, killed with SIGKILL when dropped.
pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The admin key printed at first start on an empty database.
    pub admin_key: Option<String>,
}

impl ServerProcess {
    /// Starts the server (no demo data, no rate limit, no metrics listener) on a free port
    /// and waits until `/readyz` answers 200.
    pub async fn start(spec: &ServerSpec) -> anyhow::Result<Self> {
        let port = free_port()?;
        let log = std::fs::File::create(spec.dir.join(format!("server-{port}.log")))?;
        let out_path = spec.dir.join(format!("server-{port}.out"));
        let out = std::fs::File::create(&out_path)?;
        let mut child = spec
            .command(&binary("fintech-server")?)?
            .args(["--addr", &format!("127.0.0.1:{port}"), "--no-demo"])
            .env("FINTECH_RATE_LIMIT", "0")
            .env("FINTECH_METRICS_ADDR", "off")
            .stdout(out)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("starting fintech-server")?;
        // stdout says "listening on" once the database is open and migrated
        let mut printed = String::new();
        for _ in 0..1200 {
            printed = std::fs::read_to_string(&out_path).unwrap_or_default();
            if printed.contains("listening on") {
                break;
            }
            if let Some(status) = child.try_wait()? {
                let log = std::fs::read_to_string(spec.dir.join(format!("server-{port}.log")))
                    .unwrap_or_default();
                bail!("fintech-server exited at start ({status}): {log}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if !printed.contains("listening on") {
            bail!("fintech-server did not start within 120 s");
        }
        let admin_key = printed.find("fk_").map(|at| {
            printed[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        });
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            admin_key,
        };
        let client = reqwest::Client::new();
        for _ in 0..600 {
            let ready = client
                .get(format!("{}/readyz", server.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return Ok(server);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("fintech-server at {} never became ready", server.base)
    }

    /// The process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// SIGKILL, then waits for the process to be gone.
    pub async fn kill9(mut self) -> anyhow::Result<()> {
        self.child.start_kill()?;
        self.child.wait().await?;
        Ok(())
    }

    /// A resident set size and open file count, from /proc (Linux).
    pub fn resources(&self) -> Option<(u64, u64)> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let rss_kb = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        let files = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64;
        Some((rss_kb, files))
    }
}
