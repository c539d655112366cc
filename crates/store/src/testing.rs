//! Test support: a private `redis-server` per test on a unix socket in a temporary directory
//! (killed on drop), a local Redis Cluster on free TCP ports (3 masters, with or without a replica each), and Redis with
//! Sentinel (`sentinel`).

pub mod flaky;
pub mod sentinel;

pub use flaky::Flaky;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn redis_server() -> &'static str {
    "redis-server"
}

#[allow(
    clippy::disallowed_methods,
    reason = "test support, outside any runtime: waits for a process"
)]
fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    // Generous: a loaded two-core machine can take seconds to start a cluster node.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ping(args: &[&str]) -> bool {
    Command::new("redis-cli")
        .args(args)
        .arg("ping")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("PONG"))
        .unwrap_or(false)
}

/// One `redis-server` on a unix socket, for one test.
pub struct RedisServer {
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl RedisServer {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = Self { child: None, dir };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let sock = self.socket();
        let child = Command::new(redis_server())
            .args(["--port", "0", "--unixsocket"])
            .arg(&sock)
            .args(["--unixsocketperm", "700", "--save", "", "--appendonly", "no", "--dir"])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (apt-get install redis-server)");
        self.child = Some(child);
        let s = sock.to_string_lossy().into_owned();
        wait_until("redis-server", || ping(&["-s", &s]));
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("redis.sock")
    }

    /// `unix:///...` URL for redis-rs.
    pub fn url(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// Stops the server (data is lost: it keeps nothing on disk).
    pub fn stop(&mut self) {
        self.resume();
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_file(self.socket());
    }

    /// Freezes the server (SIGSTOP): it stops answering, like a hung or partitioned Redis.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused server answer again (SIGCONT), with its data intact.
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill").arg(sig).arg(c.id().to_string()).status();
        }
    }

    /// Starts it again on the same socket (empty).
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// `redis-cli` against this server.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .arg("-s")
            .arg(self.socket())
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A local Redis Cluster: three masters, and with [`RedisCluster::start_replicated`] a
/// replica of each (AOF on, `cluster-node-timeout` [`NODE_TIMEOUT_MS`]) for failover tests.
pub struct RedisCluster {
    children: Vec<Option<Child>>,
    pub ports: Vec<u16>,
    _dir: tempfile::TempDir,
}

/// `cluster-node-timeout` of a replicated test cluster: how long a primary may be silent
/// before its replica is promoted.
pub const NODE_TIMEOUT_MS: u64 = 2000;

impl RedisCluster {
    /// `count` nodes on free ports (a node also listens on its port + 10000), each answering;
    /// `None` when one could not bind (the others are stopped).
    fn start_nodes(dir: &tempfile::TempDir, count: usize, extra: &[&str]) -> Option<(Vec<Option<Child>>, Vec<u16>)> {
        let mut ports = Vec::new();
        while ports.len() < count {
            let p = free_port();
            if p < 55000 && std::net::TcpListener::bind(("127.0.0.1", p + 10000)).is_ok() && !ports.contains(&p) {
                ports.push(p);
            }
        }
        let mut children: Vec<Option<Child>> = Vec::new();
        for p in &ports {
            let node_dir = dir.path().join(p.to_string());
            std::fs::create_dir_all(&node_dir).expect("node dir");
            let child = Command::new(redis_server())
                .args([
                    "--port",
                    &p.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--cluster-enabled",
                    "yes",
                ])
                .args(["--cluster-config-file", "nodes.conf", "--save", ""])
                .args(extra)
                .arg("--dir")
                .arg(&node_dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server");
            children.push(Some(child));
            let ps = p.to_string();
            let mut exited = false;
            wait_until("cluster node", || {
                exited = children
                    .last_mut()
                    .and_then(Option::as_mut)
                    .is_some_and(|c| c.try_wait().ok().flatten().is_some());
                exited || ping(&["-p", &ps])
            });
            if exited {
                for c in children.iter_mut().flatten() {
                    let _ = c.kill();
                    let _ = c.wait();
                }
                return None;
            }
        }
        Some((children, ports))
    }

    /// Three masters, no replicas.
    pub fn start() -> Self {
        Self::create(0, &["--appendonly", "no"])
    }

    /// Three masters with a replica each; AOF `everysec` as operators run it, and a
    /// `cluster-node-timeout` of [`NODE_TIMEOUT_MS`].
    pub fn start_replicated() -> Self {
        Self::start_replicated_with(NODE_TIMEOUT_MS)
    }

    /// [`Self::start_replicated`] with another `cluster-node-timeout`.
    pub fn start_replicated_with(node_timeout_ms: u64) -> Self {
        let timeout = node_timeout_ms.to_string();
        Self::create(
            1,
            &[
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--cluster-node-timeout",
                &timeout,
            ],
        )
    }

    fn create(replicas: usize, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let count = 3 * (1 + replicas);
        // Ports are picked free, but another test may take one before its node binds it: a
        // node that exits at once is started again on other ports.
        let (children, ports) = (0..5)
            .find_map(|_| Self::start_nodes(&dir, count, extra))
            .expect("could not start the cluster nodes on free ports");
        let nodes: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&nodes)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .output()
            .expect("redis-cli --cluster create");
        assert!(
            out.status.success(),
            "cluster create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let cluster = Self {
            children,
            ports,
            _dir: dir,
        };
        wait_until("cluster_state:ok on every node", || {
            cluster.ports.iter().all(|p| {
                let info = cluster.cli(*p, &["cluster", "info"]);
                info.contains("cluster_state:ok") && info.contains("cluster_size:3")
            })
        });
        if replicas > 0 {
            wait_until("every replica in sync", || cluster.replicas_in_sync() == 3);
        }
        cluster
    }

    pub fn urls(&self) -> Vec<String> {
        self.ports.iter().map(|p| format!("redis://127.0.0.1:{p}")).collect()
    }

    /// `redis-cli -p port ...`.
    pub fn cli(&self, port: u16, args: &[&str]) -> String {
        Command::new("redis-cli")
            .args(["-p", &port.to_string()])
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// Replicas whose link to their primary is up.
    fn replicas_in_sync(&self) -> usize {
        self.ports
            .iter()
            .filter(|p| {
                let info = self.cli(**p, &["info", "replication"]);
                info.contains("role:slave") && info.contains("master_link_status:up")
            })
            .count()
    }

    /// The port of the live primary serving `slot`, as a live node sees it.
    pub fn primary_of_slot(&self, slot: u16) -> Option<u16> {
        for (i, p) in self.ports.iter().enumerate() {
            if self.children.get(i).is_none_or(Option::is_none) {
                continue;
            }
            let nodes = self.cli(*p, &["cluster", "nodes"]);
            for line in nodes.lines() {
                let f: Vec<&str> = line.split_whitespace().collect();
                if f.len() < 9 || !f[2].contains("master") || f[2].contains("fail") {
                    continue;
                }
                let serves = f[8..].iter().any(|r| match r.split_once('-') {
                    Some((a, b)) => {
                        a.parse::<u16>().is_ok_and(|a| a <= slot) && b.parse::<u16>().is_ok_and(|b| slot <= b)
                    }
                    None => r.parse::<u16>() == Ok(slot),
                });
                if serves {
                    let port = f[1].split('@').next()?.rsplit(':').next()?.parse().ok()?;
                    return Some(port);
                }
            }
            return None;
        }
        None
    }

    /// SIGKILL of the primary of `slot` (a crash: no shutdown, no last write); its port.
    pub fn kill_primary_of_slot(&mut self, slot: u16) -> u16 {
        let port = self.primary_of_slot(slot).expect("a primary serves the slot");
        let i = self
            .ports
            .iter()
            .position(|p| *p == port)
            .expect("one of this cluster's nodes");
        if let Some(mut c) = self.children[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        port
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for c in self.children.iter_mut().flatten() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Test certificates made with the `openssl` command line, in a directory.
pub mod pki {
    use std::path::Path;
    use std::process::Command;

    fn openssl(dir: &Path, args: &[&str]) {
        let out = Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("openssl must be installed");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A CA: `<name>.crt`, `<name>.key` (P-256, two days).
    pub fn ca(dir: &Path, name: &str) {
        let (key, crt, subj) = (format!("{name}.key"), format!("{name}.crt"), format!("/CN={name}"));
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &crt,
                "-days",
                "2",
                "-subj",
                &subj,
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign",
            ],
        );
    }

    /// A certificate `<name>.crt`, `<name>.key` issued by the CA `ca`: for a server on
    /// 127.0.0.1 and localhost, or for a client.
    pub fn leaf(dir: &Path, ca: &str, name: &str, client: bool) {
        let (key, csr, crt, ext) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
            format!("{name}.ext"),
        );
        let subj = format!("/CN={name}");
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                &subj,
            ],
        );
        let usage = if client {
            "extendedKeyUsage=clientAuth\nsubjectAltName=DNS:api-gateway\n"
        } else {
            "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
        };
        std::fs::write(dir.join(&ext), usage).expect("write the extensions file");
        let (ca_crt, ca_key) = (format!("{ca}.crt"), format!("{ca}.key"));
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca_crt,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-out",
                &crt,
                "-days",
                "2",
                "-extfile",
                &ext,
            ],
        );
    }
}
