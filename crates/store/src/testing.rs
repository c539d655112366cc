//! Test support: a private `redis-server` per test on a unix socket in a temporary directory
//! (killed on drop), a local 3-master Redis Cluster on free TCP ports, and Redis with
//! Sentinel (`sentinel`).

pub mod sentinel;

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

/// A local Redis Cluster of three masters, no replicas.
pub struct RedisCluster {
    children: Vec<Child>,
    pub ports: Vec<u16>,
    _dir: tempfile::TempDir,
}

impl RedisCluster {
    /// Three nodes on free ports (a node also listens on its port + 10000), each answering;
    /// `None` when one could not bind (the others are stopped).
    fn start_nodes(dir: &tempfile::TempDir) -> Option<(Vec<Child>, Vec<u16>)> {
        let mut ports = Vec::new();
        while ports.len() < 3 {
            let p = free_port();
            if p < 55000 && std::net::TcpListener::bind(("127.0.0.1", p + 10000)).is_ok() && !ports.contains(&p) {
                ports.push(p);
            }
        }
        let mut children: Vec<Child> = Vec::new();
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
                .args([
                    "--cluster-config-file",
                    "nodes.conf",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                ])
                .arg(&node_dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server");
            children.push(child);
            let ps = p.to_string();
            let mut exited = false;
            wait_until("cluster node", || {
                exited = children
                    .last_mut()
                    .is_some_and(|c| c.try_wait().ok().flatten().is_some());
                exited || ping(&["-p", &ps])
            });
            if exited {
                for c in &mut children {
                    let _ = c.kill();
                    let _ = c.wait();
                }
                return None;
            }
        }
        Some((children, ports))
    }

    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        // Ports are picked free, but another test may take one before its node binds it: a
        // node that exits at once is started again on other ports.
        let (children, ports) = (0..5)
            .find_map(|_| Self::start_nodes(&dir))
            .expect("could not start three cluster nodes on free ports");
        let nodes: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli --cluster create");
        assert!(
            out.status.success(),
            "cluster create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let p0 = ports[0].to_string();
        wait_until("cluster_state:ok", || {
            Command::new("redis-cli")
                .args(["-p", &p0, "cluster", "info"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).contains("cluster_state:ok"))
                .unwrap_or(false)
        });
        Self {
            children,
            ports,
            _dir: dir,
        }
    }

    pub fn urls(&self) -> Vec<String> {
        self.ports.iter().map(|p| format!("redis://127.0.0.1:{p}")).collect()
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for c in &mut self.children {
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
