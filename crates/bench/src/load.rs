//! The load generator: `connections` keep-alive HTTP/1.1 connections (hyper), or HTTP/2
//! ones (h2c, prior knowledge, as an API gateway upstream speaks it), each sending one
//! request after another, for a time or a count, optionally paced to a total rate. Records
//! every latency; reports rate and p50/p90/p99/max.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// One request: method, path and query, body (JSON) if any, and the status that counts as
/// success.
pub struct Req {
    pub method: Method,
    pub path: String,
    pub body: Option<Bytes>,
    pub ok: u16,
}

/// Makes the `n`-th request of a run.
pub type Make = Arc<dyn Fn(u64) -> Req + Send + Sync>;

/// Sees each answer: the request's `n`, the status and the body (e.g. to learn the ids a
/// create returned).
pub type Observe = Arc<dyn Fn(u64, u16, &[u8]) + Send + Sync>;

pub struct Plan {
    /// `host:port`
    pub target: String,
    pub token: Option<String>,
    pub connections: usize,
    pub duration: Duration,
    /// Total requests per second over all connections; `None`: as fast as answered.
    pub rate: Option<f64>,
    pub observe: Option<Observe>,
    /// HTTP/2 (h2c) connections instead of HTTP/1.1.
    pub http2: bool,
}

/// One connection's request sender, of either version.
enum Sender {
    H1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    H2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

impl Sender {
    async fn open(target: &str, http2: bool) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(target).await?;
        stream.set_nodelay(true)?;
        let io = TokioIo::new(stream);
        Ok(if http2 {
            let (sender, conn) =
                hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io).await?;
            tokio::spawn(conn);
            Self::H2(sender)
        } else {
            let (sender, conn) = hyper::client::conn::http1::handshake(io).await?;
            tokio::spawn(conn);
            Self::H1(sender)
        })
    }

    async fn send(&mut self, req: Request<Full<Bytes>>) -> hyper::Result<hyper::Response<hyper::body::Incoming>> {
        match self {
            Self::H1(s) => {
                s.ready().await?;
                s.send_request(req).await
            }
            Self::H2(s) => {
                s.ready().await?;
                s.send_request(req).await
            }
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub requests: u64,
    pub errors: u64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i.min(sorted.len() - 1)]) / 1000.0
}

/// Runs the plan on a runtime of its own thread (one core: the servers keep the other).
pub fn run(plan: Plan, make: Make) -> anyhow::Result<Stats> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(run_async(plan, make))
}

async fn run_async(plan: Plan, make: Make) -> anyhow::Result<Stats> {
    let seq = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + plan.duration;
    let mut tasks = tokio::task::JoinSet::new();
    let interval = plan
        .rate
        .map(|r| Duration::from_secs_f64(plan.connections as f64 / r.max(0.001)));
    for c in 0..plan.connections {
        let (make, seq, errors) = (make.clone(), seq.clone(), errors.clone());
        let target = plan.target.clone();
        let auth = plan.token.as_ref().map(|t| format!("Bearer {t}"));
        let observe = plan.observe.clone();
        let http2 = plan.http2;
        tasks.spawn(async move {
            let mut lat: Vec<u32> = Vec::new();
            let mut sender = Sender::open(&target, http2).await?;
            // Paced connections start spread over one interval.
            let mut next = Instant::now() + interval.map(|i| i.mul_f64(c as f64 / 16.0)).unwrap_or_default();
            while Instant::now() < deadline {
                if let Some(i) = interval {
                    tokio::time::sleep_until(next.into()).await;
                    next += i;
                }
                let n = seq.fetch_add(1, Ordering::Relaxed);
                let r = make(n);
                // HTTP/2 carries the authority in the URI (`:authority`), HTTP/1.1 in `host`.
                let mut req = Request::builder().method(r.method).header("x-correlator", "bench");
                req = if http2 {
                    req.uri(format!("http://{target}{}", r.path))
                } else {
                    req.uri(&r.path).header("host", &target)
                };
                if let Some(a) = &auth {
                    req = req.header("authorization", a);
                }
                if r.body.is_some() {
                    req = req.header("content-type", "application/json");
                }
                let req = req.body(Full::new(r.body.unwrap_or_default()))?;
                let sent = Instant::now();
                let res = sender.send(req).await?;
                let status = res.status().as_u16();
                let body = res.into_body().collect().await?.to_bytes();
                if let Some(o) = &observe {
                    o(n, status, &body);
                }
                lat.push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
                if status != r.ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            anyhow::Ok(lat)
        });
    }
    let mut all = Vec::new();
    while let Some(r) = tasks.join_next().await {
        all.extend(r??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    Ok(Stats {
        requests: all.len() as u64,
        errors: errors.load(Ordering::Relaxed),
        per_second: all.len() as f64 / elapsed,
        p50_ms: percentile(&all, 0.50),
        p90_ms: percentile(&all, 0.90),
        p99_ms: percentile(&all, 0.99),
        max_ms: all.last().map(|m| f64::from(*m) / 1000.0).unwrap_or(0.0),
    })
}

/// One GET (a fresh connection): status and body. For readiness and control endpoints.
pub async fn get_once(url: &str) -> anyhow::Result<(u16, Bytes)> {
    send_once(Method::GET, url, None, None).await
}

/// `http://host:port/path` as its authority and path.
fn host_and_path(url: &str) -> anyhow::Result<(&str, String)> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow::anyhow!("not http: {url}"))?;
    Ok(rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}"))))
}

/// One request on a fresh connection to `http://host:port/path`.
pub async fn send_once(
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<Bytes>,
) -> anyhow::Result<(u16, Bytes)> {
    let (host, path) = host_and_path(url)?;
    let stream = TcpStream::connect(host).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let mut req = Request::builder().method(method).uri(path).header("host", host);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let res = sender
        .send_request(req.body(Full::new(body.unwrap_or_default()))?)
        .await?;
    let status = res.status().as_u16();
    let body = res.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// One GET over HTTP/2 with prior knowledge (h2c) on a fresh connection: what an SBI
/// producer such as pcf-sim speaks, control endpoints included.
pub async fn get_once_h2(url: &str) -> anyhow::Result<(u16, Bytes)> {
    let (host, path) = host_and_path(url)?;
    let stream = TcpStream::connect(host).await?;
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let req = Request::builder()
        .method(Method::GET)
        .uri(format!("http://{host}{path}"))
        .body(Full::new(Bytes::new()))?;
    let res = sender.send_request(req).await?;
    let status = res.status().as_u16();
    let body = res.into_body().collect().await?.to_bytes();
    Ok((status, body))
}
