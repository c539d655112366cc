//! Helpers of the end-to-end tests (`e2e.rs`, `replicas.rs`, `faults.rs`, `failover.rs`): start the built `gateway`
//! binary as a user would, read its port and development token from its output, kill it.
#![forbid(unsafe_code)]

pub mod fleet;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A one-minute QOS_E booking for `+123456789` in the `city-center` area, from `start`
/// (RFC 3339).
pub fn city_booking(start: &str) -> serde_json::Value {
    serde_json::json!({
        "device": {"phoneNumber": "+123456789"},
        "qosProfile": "QOS_E",
        "startTime": start,
        "duration": 60,
        "serviceArea": {"areaType": "AREANAME", "areaName": "city-center"},
    })
}

/// A QOS_M booking for device `i` (public 203.0.x.y, private `10.<net>.x.y`) from `start`
/// (RFC 3339), its events to `sink`.
pub fn device_booking(i: usize, net: u8, start: &str, duration: u32, sink: &str) -> serde_json::Value {
    serde_json::json!({
        "qosProfile": "QOS_M",
        "device": {"ipv4Address": {"publicAddress": format!("203.0.{}.{}", i / 250, i % 250 + 1),
            "privateAddress": format!("10.{net}.{}.{}", i / 250, i % 250 + 1)}},
        "applicationServer": {"ipv4Address": "198.51.100.10"},
        "startTime": start,
        "duration": duration,
        "serviceArea": {"areaType": "CIRCLE", "center": {"latitude": 50.1, "longitude": 8.6}, "radius": 1000},
        "sink": sink
    })
}

/// Creates one booking per body, 32 at a time, body `i` through `gateways[i % len]` (with
/// its token); every create must answer 201. The booking ids, in the order of the bodies.
pub async fn create_bookings(
    http: &reqwest::Client,
    gateways: &[&Gateway],
    bodies: Vec<serde_json::Value>,
) -> Vec<String> {
    let mut ids = Vec::with_capacity(bodies.len());
    let mut bodies = bodies.into_iter().enumerate().peekable();
    while bodies.peek().is_some() {
        let mut tasks = Vec::new();
        for (i, body) in bodies.by_ref().take(32) {
            let gw = gateways[i % gateways.len()];
            let req = http
                .post(format!("{}/device-qos-bookings", gw.base))
                .bearer_auth(&gw.token)
                .json(&body);
            tasks.push(tokio::spawn(async move {
                let res = req.send().await.expect("create");
                assert_eq!(res.status(), 201);
                let v: serde_json::Value = res.json().await.expect("a JSON booking");
                v["bookingId"].as_str().expect("a bookingId").to_owned()
            }));
        }
        for t in tasks {
            ids.push(t.await.expect("a create task"));
        }
    }
    ids
}

/// A free loopback port (for listeners configured before start, such as the admin one).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// `target/<profile>/gateway`, next to this test's own `deps/` directory.
pub fn gateway_binary() -> PathBuf {
    binary("gateway")
}

/// `target/<profile>/<name>`, the binary of the workspace package `name` (built if missing).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|d| d.parent()).unwrap().to_path_buf();
    let bin = dir.join(name);
    if !bin.exists() {
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "-p", name, "--bin", name])
            .status()
            .unwrap();
        assert!(status.success(), "could not build the {name} binary");
    }
    bin
}

pub struct Gateway {
    child: Child,
    /// `http://127.0.0.1:<port>/qos-booking/v0.2`
    pub base: String,
    /// The development token this process printed.
    pub token: String,
    /// The development operator token it printed (the admin API).
    pub operator_token: Option<String>,
    /// `http://127.0.0.1:<port>` of its admin listener, as it printed it.
    pub admin: Option<String>,
    env: Vec<(String, String)>,
    args: Vec<String>,
}

impl Gateway {
    /// `GET /device-qos-bookings/{id}` with this process's token, as JSON.
    pub async fn booking(&self, http: &reqwest::Client, id: &str) -> serde_json::Value {
        http.get(format!("{}/device-qos-bookings/{id}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("GET booking")
            .json()
            .await
            .expect("a JSON booking")
    }

    /// Polls the booking (every 50 ms, at most 5 s) until its status is `status`.
    pub async fn wait_for_status(&self, http: &reqwest::Client, id: &str, status: &str) -> serde_json::Value {
        for _ in 0..100 {
            let b = self.booking(http, id).await;
            if b["bookingStatus"] == status {
                return b;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("booking {id} did not become {status}");
    }

    /// SIGKILL: no shutdown, no cleanup, like a crashed pod.
    pub async fn kill9(&mut self) {
        let _ = self.child.kill().await;
    }

    /// SIGTERM, as Kubernetes stops a pod; waits for the exit (at most `within`) and returns
    /// whether it exited successfully.
    pub async fn terminate(&mut self, within: Duration) -> bool {
        let Some(pid) = self.child.id() else { return false };
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(sent, "could not send SIGTERM");
        match tokio::time::timeout(within, self.child.wait()).await {
            Ok(Ok(status)) => status.success(),
            _ => false,
        }
    }

    /// Starts the same configuration again (a new port and token).
    pub async fn restart(&mut self) {
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        *self = start_gateway_with_args(&env, &args).await;
    }
}

pub async fn start_gateway(env: &[(&str, &str)]) -> Gateway {
    start_gateway_with_args(env, &[]).await
}

/// [`start_gateway`] with command-line arguments (e.g. `--config FILE`).
pub async fn start_gateway_with_args(env: &[(&str, &str)], args: &[&str]) -> Gateway {
    let mut child = Command::new(gateway_binary())
        .args(args)
        // Gateways side by side: each its own admin port unless `env` names one.
        .env("QOSGW__SERVER__ADMIN_LISTEN", "127.0.0.1:0")
        .envs(env.iter().copied())
        .env("QOSGW__SERVER__LISTEN", "127.0.0.1:0")
        .env("QOSGW__SCHEDULER__POLL_INTERVAL_MS", "100")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut port, mut token, mut operator_token, mut admin) = (None, None, None, None);
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(t) = line.strip_prefix("export TOKEN=") {
                token = Some(t.trim().to_owned());
            }
            if let Some(t) = line.strip_prefix("export OPERATOR_TOKEN=") {
                operator_token = Some(t.trim().to_owned());
            }
            if let Some(url) = line
                .trim()
                .strip_prefix("console")
                .and_then(|r| r.trim().strip_suffix("/admin/console"))
            {
                admin = Some(url.to_owned());
            }
            if let Some(i) = line.find("listening on 127.0.0.1:") {
                let rest = &line[i + "listening on 127.0.0.1:".len()..];
                port = rest
                    .split(|c: char| !c.is_ascii_digit())
                    .next()
                    .and_then(|p| p.parse::<u16>().ok());
            }
            if port.is_some() && token.is_some() {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("gateway did not start");
    // Keep draining stdout so the child never blocks on a full pipe (shown with
    // E2E_GATEWAY_LOG=1, to see what a failing test's gateway said).
    let show = std::env::var_os("E2E_GATEWAY_LOG").is_some();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            if show {
                println!("gateway: {line}");
            }
        }
    });
    let port = port.expect("the gateway exited before listening (see its output above)");
    Gateway {
        child,
        base: format!("http://127.0.0.1:{port}/qos-booking/v0.2"),
        token: token.expect("no development token printed"),
        operator_token,
        admin,
        env: env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
    }
}
