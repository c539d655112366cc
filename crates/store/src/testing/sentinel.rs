//! A local Redis with Sentinel: a primary, one replica and three sentinels (quorum 2) on free
//! TCP ports, as the common Helm charts' replication mode runs it. Nodes can be killed with
//! SIGKILL and started again (a restarted old primary rejoins as a replica).

use super::{free_port, ping, redis_server, wait_until};
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};

/// The master name the sentinels monitor.
pub const MASTER: &str = "qosgw";

pub struct RedisSentinel {
    nodes: HashMap<u16, Option<Child>>,
    sentinels: Vec<Child>,
    pub sentinel_ports: Vec<u16>,
    dir: tempfile::TempDir,
}

fn sentinel_binary() -> Command {
    // Debian's redis-sentinel is redis-server under another name.
    if std::path::Path::new("/usr/bin/redis-sentinel").exists() {
        Command::new("redis-sentinel")
    } else {
        let mut c = Command::new(redis_server());
        c.arg("--sentinel");
        c
    }
}

fn cli(port: u16, args: &[&str]) -> String {
    Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

impl RedisSentinel {
    /// Starts the set and waits until the sentinels know the replica and each other.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = Self {
            nodes: HashMap::new(),
            sentinels: Vec::new(),
            sentinel_ports: Vec::new(),
            dir,
        };
        let primary = free_port();
        s.spawn_node(primary, None);
        let replica = free_port();
        s.spawn_node(replica, Some(primary));
        wait_until("the replica in sync", || {
            cli(replica, &["info", "replication"]).contains("master_link_status:up")
        });
        for _ in 0..3 {
            let port = free_port();
            let conf = s.dir.path().join(format!("sentinel-{port}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "port {port}\nbind 127.0.0.1\ndir {}\nsentinel monitor {MASTER} 127.0.0.1 {primary} 2\n\
                     sentinel down-after-milliseconds {MASTER} 1000\nsentinel failover-timeout {MASTER} 4000\n\
                     sentinel parallel-syncs {MASTER} 1\n",
                    s.dir.path().display()
                ),
            )
            .expect("sentinel.conf");
            let child = sentinel_binary()
                .arg(&conf)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-sentinel (apt-get install redis-sentinel)");
            s.sentinels.push(child);
            s.sentinel_ports.push(port);
            wait_until("a sentinel", || ping(&["-p", &port.to_string()]));
        }
        let first = s.sentinel_ports[0];
        wait_until("the sentinels to know the replica and each other", || {
            let master = cli(first, &["sentinel", "master", MASTER]);
            let field = |name: &str| {
                let mut lines = master.lines();
                while let Some(l) = lines.next() {
                    if l.trim() == name {
                        return lines.next().map(|v| v.trim().to_owned());
                    }
                }
                None
            };
            field("num-slaves").as_deref() == Some("1") && field("num-other-sentinels").as_deref() == Some("2")
        });
        s
    }

    fn spawn_node(&mut self, port: u16, replica_of: Option<u16>) {
        let node_dir = self.dir.path().join(port.to_string());
        std::fs::create_dir_all(&node_dir).expect("node dir");
        let mut c = Command::new(redis_server());
        c.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            // AOF every second, as operators run it: a kill -9 loses at most the last second
            // of what the node itself had.
            .args(["--appendonly", "yes", "--appendfsync", "everysec", "--dir"])
            .arg(&node_dir);
        if let Some(p) = replica_of {
            c.args(["--replicaof", "127.0.0.1", &p.to_string()]);
        }
        let child = c
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server");
        let pid = child.id();
        self.nodes.insert(port, Some(child));
        wait_until("a redis node", || ping(&["-p", &port.to_string()]));
        // A killed node's port is free until it restarts, and a process of another test may
        // take it meanwhile: then what answers there is not this node, and a failover check
        // would measure a stranger. Say so instead.
        let info = cli(port, &["info", "server"]);
        assert!(
            info.contains(&format!("process_id:{pid}\r")) || info.contains(&format!("process_id:{pid}\n")),
            "port {port} is answered by another process than the node started on it"
        );
    }

    /// `host:port` of each sentinel.
    pub fn addresses(&self) -> Vec<String> {
        self.sentinel_ports.iter().map(|p| format!("127.0.0.1:{p}")).collect()
    }

    /// The primary's port, as the sentinels name it now.
    pub fn primary_port(&self) -> Option<u16> {
        let out = cli(self.sentinel_ports[0], &["sentinel", "get-master-addr-by-name", MASTER]);
        out.lines().nth(1).and_then(|p| p.trim().parse().ok())
    }

    /// SIGKILL of the primary (as the sentinels name it); its port.
    pub fn kill_primary(&mut self) -> u16 {
        let port = self.primary_port().expect("a primary");
        if let Some(Some(mut child)) = self.nodes.insert(port, None) {
            let _ = child.kill();
            let _ = child.wait();
        }
        port
    }

    /// Starts a killed node again from its own data; the sentinels make it a replica of the
    /// primary of now.
    pub fn restart(&mut self, port: u16) {
        let primary = self.primary_port().filter(|p| *p != port);
        self.spawn_node(port, primary);
    }

    /// Each node's port and role as it says itself (`down` when killed), for failure messages.
    pub fn roles(&self) -> String {
        let mut ports: Vec<_> = self.nodes.keys().copied().collect();
        ports.sort_unstable();
        ports
            .iter()
            .map(|p| {
                let info = cli(*p, &["info", "replication"]);
                let role = info
                    .lines()
                    .find_map(|l| l.strip_prefix("role:"))
                    .map_or("down", str::trim);
                format!("{p} {role}")
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `INFO replication` of a node.
    pub fn replication(&self, port: u16) -> String {
        cli(port, &["info", "replication"])
    }
}

impl Drop for RedisSentinel {
    fn drop(&mut self) {
        for c in self.sentinels.iter_mut().chain(self.nodes.values_mut().flatten()) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
