//! The processes a scenario needs, started as an operator would start them and killed when
//! dropped: `redis-server` on a unix socket, the standalone `nef-sim`, gateway replicas (the
//! release binaries next to this one).

use anyhow::{Context, bail};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// `target/release/<name>`, beside this binary.
pub fn binary(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().context("no directory of the bench binary")?;
    let bin = dir.join(name);
    if !bin.exists() {
        bail!(
            "{} is missing: run `cargo build --release -p gateway -p nef-sim -p pcf-sim` first",
            bin.display()
        );
    }
    Ok(bin)
}

pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Resident memory of a process, from `/proc/<pid>/status` (bytes).
pub fn rss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024
}

/// Polls `url` until it answers 200 (bounded).
pub async fn wait_ready(url: &str, within: Duration) -> anyhow::Result<Duration> {
    let started = Instant::now();
    while started.elapsed() < within {
        if let Ok((200, _)) = crate::load::get_once(url).await {
            return Ok(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    bail!("{url} not ready within {within:?}")
}

pub struct Redis {
    _dir: tempfile::TempDir,
    _child: Child,
    pub url: String,
    socket: PathBuf,
}

impl Redis {
    pub async fn start() -> anyhow::Result<Self> {
        Self::spawn(0, &[]).await
    }

    /// A primary that also listens on a TCP port (for a replica), and its replica; the
    /// replica is in sync when this returns.
    pub async fn with_replica() -> anyhow::Result<(Self, Self)> {
        let port = free_port()?;
        let primary = Self::spawn(port, &[]).await?;
        let replica = Self::spawn(0, &["--replicaof", "127.0.0.1", &port.to_string()]).await?;
        for _ in 0..500 {
            if replica.info("replication")?.contains("master_link_status:up") {
                return Ok((primary, replica));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        bail!("the replica did not sync with its primary")
    }

    /// `redis-server` on a unix socket (and on `port` if not 0), with `extra` arguments.
    async fn spawn(port: u16, extra: &[&str]) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let socket = dir.path().join("redis.sock");
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
                "--unixsocket",
            ])
            .arg(&socket)
            .args(extra)
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("redis-server must be on the PATH")?;
        for _ in 0..200 {
            if socket.exists() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(Self {
            url: format!("unix://{}", socket.display()),
            socket,
            _dir: dir,
            _child: child,
        })
    }
    /// `CONFIG RESETSTAT`: the command and network counters start again from zero.
    pub fn reset_stats(&self) -> anyhow::Result<()> {
        let out = std::process::Command::new("redis-cli")
            .arg("-s")
            .arg(&self.socket)
            .args(["config", "resetstat"])
            .output()?;
        anyhow::ensure!(out.status.success(), "CONFIG RESETSTAT failed");
        Ok(())
    }

    pub fn info(&self, section: &str) -> anyhow::Result<String> {
        let out = std::process::Command::new("redis-cli")
            .arg("-s")
            .arg(&self.socket)
            .args(["info", section])
            .output()?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub fn used_memory(&self) -> anyhow::Result<u64> {
        self.info("memory")?
            .lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse().ok())
            .context("no used_memory in INFO")
    }
}

/// Starts the simulator binary `name` on a free loopback port with `latency_ms` per answer:
/// the process and its root URL.
fn spawn_sim(name: &str, latency_ms: u64) -> anyhow::Result<(Child, String)> {
    spawn_sim_with(name, latency_ms, &[])
}

fn spawn_sim_with(name: &str, latency_ms: u64, extra: &[&str]) -> anyhow::Result<(Child, String)> {
    let port = free_port()?;
    let child = Command::new(binary(name)?)
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--latency-ms",
            &latency_ms.to_string(),
        ])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    Ok((child, format!("http://127.0.0.1:{port}")))
}

/// The standalone `pcf-sim` (HTTP/2 only), for the timer scenarios on `southbound.kind: pcf`.
pub struct PcfSimProc {
    _child: Child,
    pub url: String,
}

impl PcfSimProc {
    pub async fn start(latency_ms: u64) -> anyhow::Result<Self> {
        let (child, url) = spawn_sim("pcf-sim", latency_ms)?;
        let started = Instant::now();
        while crate::load::get_once_h2(&format!("{url}/sim/sessions"))
            .await
            .map(|r| r.0)
            .ok()
            != Some(200)
        {
            anyhow::ensure!(started.elapsed() < Duration::from_secs(10), "pcf-sim not ready");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(Self { _child: child, url })
    }
    /// The requests the simulator received (method, path, status, ms since the epoch, body).
    pub async fn requests(&self) -> anyhow::Result<Vec<Value>> {
        let (_, body) = crate::load::get_once_h2(&format!("{}/sim/requests", self.url)).await?;
        Ok(serde_json::from_slice::<Vec<Value>>(&body)?)
    }
    pub async fn session_count(&self) -> anyhow::Result<usize> {
        let (_, body) = crate::load::get_once_h2(&format!("{}/sim/sessions", self.url)).await?;
        Ok(serde_json::from_slice::<Vec<Value>>(&body)?.len())
    }
}

pub struct NefSimProc {
    _child: Child,
    pub url: String,
}

impl NefSimProc {
    pub async fn start(latency_ms: u64) -> anyhow::Result<Self> {
        Self::start_with(latency_ms, &[]).await
    }
    /// [`Self::start`] with more of its options (e.g. `--pdtq-ues N`).
    pub async fn start_with(latency_ms: u64, extra: &[&str]) -> anyhow::Result<Self> {
        let (child, url) = spawn_sim_with("nef-sim", latency_ms, extra)?;
        wait_ready(&format!("{url}/sim/subscriptions"), Duration::from_secs(10)).await?;
        Ok(Self { _child: child, url })
    }
    /// The answered requests since the last take, taken off the simulator's log.
    pub async fn take_requests(&self) -> anyhow::Result<Vec<Value>> {
        let url = format!("{}/sim/requests", self.url);
        let (status, body) = crate::load::send_once(hyper::Method::DELETE, &url, None, None).await?;
        anyhow::ensure!(status == 200, "DELETE /sim/requests answered {status}");
        Ok(serde_json::from_slice::<Vec<Value>>(&body)?)
    }
    pub async fn subscription_count(&self) -> anyhow::Result<usize> {
        let (_, body) = crate::load::get_once(&format!("{}/sim/subscriptions", self.url)).await?;
        Ok(serde_json::from_slice::<serde_json::Map<String, Value>>(&body)?.len())
    }
}

pub struct Gateway {
    child: Child,
    pub port: u16,
    pub token: String,
    pub started_in: Duration,
}

impl Gateway {
    /// Starts a release gateway with `env` on top of the bench defaults (rate limits off,
    /// quiet logs); returns when `/health/ready` answers.
    pub async fn start(env: &[(String, String)]) -> anyhow::Result<Self> {
        Self::start_with(env, &[]).await
    }

    /// [`Self::start`] with command-line arguments (`--config FILE`).
    pub async fn start_with(env: &[(String, String)], args: &[&str]) -> anyhow::Result<Self> {
        let port = free_port()?;
        let log = gateway_log(port)?;
        let started = Instant::now();
        let mut child = Command::new(binary("gateway")?)
            .args(args)
            .env("QOSGW__SERVER__LISTEN", format!("127.0.0.1:{port}"))
            // Replicas side by side: each its own admin port unless `env` names one.
            .env("QOSGW__SERVER__ADMIN_LISTEN", "127.0.0.1:0")
            .env("QOSGW__LIMITS__CREATE__PER_SECOND", "0")
            .env("QOSGW__LIMITS__READ__PER_SECOND", "0")
            .env("QOSGW__LIMITS__DELETE__PER_SECOND", "0")
            .env("QOSGW__LIMITS__RETRIEVE__PER_SECOND", "0")
            .env("QOSGW__LIMITS__MAX_LIVE_BOOKINGS_PER_CLIENT", "100000000")
            .env("QOSGW__SOUTHBOUND__SIMULATOR__NOTIFY_ON_CREATE", "false")
            .env("QOSGW_STORE_KEY_SECRET", "bench")
            .env("RUST_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::piped())
            .stderr(match &log {
                Some(f) => Stdio::from(f.try_clone()?),
                None => Stdio::null(),
            })
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut token = None;
        let read = async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(t) = line.strip_prefix("export TOKEN=") {
                    token = Some(t.trim().to_owned());
                    break;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(30), read)
            .await
            .context("the gateway printed no token")?;
        tokio::spawn(async move {
            let mut log = log;
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(f) = log.as_mut() {
                    use std::io::Write;
                    let _ = writeln!(f, "{line}");
                }
            }
        });
        wait_ready(
            &format!("http://127.0.0.1:{port}/health/ready"),
            Duration::from_secs(30),
        )
        .await?;
        Ok(Self {
            child,
            port,
            token: token.context("no token")?,
            started_in: started.elapsed(),
        })
    }
    pub fn base(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
    pub fn rss(&self) -> u64 {
        self.child.id().map(rss).unwrap_or(0)
    }
    /// SIGKILL, like a crashed pod.
    pub async fn kill9(&mut self) {
        let _ = self.child.kill().await;
    }
}

/// Where a gateway's log goes: nowhere, or with `BENCH_GATEWAY_LOGS=DIR` to
/// `DIR/gateway-PORT.log` (to read what the replicas warned of during a scenario).
fn gateway_log(port: u16) -> anyhow::Result<Option<std::fs::File>> {
    let Some(dir) = std::env::var_os("BENCH_GATEWAY_LOGS") else {
        return Ok(None);
    };
    let path = std::path::Path::new(&dir).join(format!("gateway-{port}.log"));
    Ok(Some(
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?,
    ))
}

/// The environment of a gateway on this Redis (dev tokens allowed: the bench has no IdP).
pub fn redis_env(redis: &Redis) -> Vec<(String, String)> {
    vec![
        ("QOSGW__STORE__KIND".into(), "redis".into()),
        ("QOSGW__STORE__REDIS__URLS".into(), redis.url.clone()),
        ("QOSGW__AUTH__ALLOW_DEV_WITH_REDIS".into(), "true".into()),
    ]
}
