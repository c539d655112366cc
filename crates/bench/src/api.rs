//! The request-path scenarios: GET, create, retrieve and a mixed load on the memory and the
//! Redis store, and the baseline server's GET and POST in the same run.

use crate::load::{self, Make, Plan, Req, Stats};
use crate::procs::{Gateway, NefSimProc, Redis, free_port, redis_env, wait_ready};
use bytes::Bytes;
use hyper::Method;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use time::OffsetDateTime;

pub const BASE: &str = "/qos-booking/v0.2";
const CONNECTIONS: usize = 16;
const SECONDS: u64 = 8;

/// A create body for device `n` (an IPv4 device: no resolver involved), starting a day
/// ahead plus `slot` hours, so no two bodies of one device overlap.
pub fn create_body(n: u64, slot: u64, start: OffsetDateTime) -> Bytes {
    let start = start + time::Duration::hours(slot as i64);
    let text = start
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    Bytes::from(
        json!({
            "qosProfile": "QOS_L",
            "device": {"ipv4Address": {"publicAddress": format!("203.0.{}.{}", (n >> 8) & 255, n & 255),
                "privateAddress": format!("10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255)}},
            "applicationServer": {"ipv4Address": "198.51.100.0/24"},
            "devicePorts": {"ports": [5060]},
            "startTime": text,
            "duration": 3600,
            "serviceArea": {"areaType": "CIRCLE", "center": {"latitude": 50.110924, "longitude": 8.682127}, "radius": 500}
        })
        .to_string(),
    )
}

#[allow(clippy::disallowed_methods, reason = "the bench books relative to real time")]
pub fn tomorrow() -> OffsetDateTime {
    OffsetDateTime::now_utc() + time::Duration::days(1)
}

/// Creates every body through `gw` on 8 connections; returns the booking ids in the order
/// of the bodies.
pub async fn seed(target: &str, token: &str, bodies: Vec<Bytes>) -> anyhow::Result<Vec<String>> {
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (bodies, next) = (bodies.clone(), next.clone());
        let url = format!("http://{target}{BASE}/device-qos-bookings");
        let token = token.to_owned();
        tasks.spawn(async move {
            let mut ids = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(b) = bodies.get(i) else { break };
                let (status, body) = load::send_once(Method::POST, &url, Some(&token), Some(b.clone())).await?;
                anyhow::ensure!(
                    status == 201,
                    "seed create: {status} {}",
                    String::from_utf8_lossy(&body)
                );
                let v: serde_json::Value = serde_json::from_slice(&body)?;
                ids.push((i, v["bookingId"].as_str().unwrap_or_default().to_owned()));
            }
            anyhow::Ok(ids)
        });
    }
    let mut ids = Vec::new();
    while let Some(r) = tasks.join_next().await {
        ids.extend(r??);
    }
    ids.sort_unstable();
    Ok(ids.into_iter().map(|(_, id)| id).collect())
}

/// Runs a plan on a thread of its own (the orchestration runtime stays free).
pub async fn drive(target: String, token: Option<String>, rate: Option<f64>, make: Make) -> anyhow::Result<Stats> {
    drive_over(target, token, rate, make, false).await
}

/// [`drive`] over HTTP/1.1 or HTTP/2 (h2c).
async fn drive_over(
    target: String,
    token: Option<String>,
    rate: Option<f64>,
    make: Make,
    http2: bool,
) -> anyhow::Result<Stats> {
    tokio::task::spawn_blocking(move || {
        load::run(
            Plan {
                target,
                token,
                connections: CONNECTIONS,
                duration: Duration::from_secs(SECONDS),
                rate,
                observe: None,
                http2,
            },
            make,
        )
    })
    .await?
}

fn get_of(ids: Arc<Vec<String>>) -> Make {
    Arc::new(move |n| Req {
        method: Method::GET,
        path: format!("{BASE}/device-qos-bookings/{}", ids[n as usize % ids.len().max(1)]),
        body: None,
        ok: 200,
    })
}

/// GETs spread over `ids` by a multiplicative hash, not one hot key (nor a walk in order).
pub fn get_spread(ids: Vec<String>) -> Make {
    let ids = Arc::new(ids);
    Arc::new(move |k| {
        let i = (k.wrapping_mul(2_654_435_761) % ids.len().max(1) as u64) as usize;
        Req {
            method: Method::GET,
            path: format!("{BASE}/device-qos-bookings/{}", ids[i]),
            body: None,
            ok: 200,
        }
    })
}

/// Creates of devices from `offset` on, starting a day ahead.
pub fn create_from(offset: u64) -> Make {
    let start = tomorrow();
    Arc::new(move |n| Req {
        method: Method::POST,
        path: format!("{BASE}/device-qos-bookings"),
        body: Some(create_body(offset + n, 0, start)),
        ok: 201,
    })
}

pub struct ApiFigures {
    pub rows: Vec<(String, Stats)>,
}

/// The baseline's GET and POST, and its GET with a bearer header.
pub async fn baseline() -> anyhow::Result<Baseline> {
    let port = free_port()?;
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args(["baseline", &port.to_string()])
        .kill_on_drop(true)
        .spawn()?;
    wait_ready(
        &format!("http://127.0.0.1:{port}/health/ready"),
        Duration::from_secs(10),
    )
    .await?;
    let target = format!("127.0.0.1:{port}");
    let ids = Arc::new(vec!["3fa85f64-5717-4562-b3fc-2c963f66afa6".to_owned()]);
    let get = drive(target.clone(), None, None, get_of(ids.clone())).await?;
    let post = drive(target.clone(), None, None, create_from(0)).await?;
    // The same requests with a bearer header as long as the gateway's development token
    // (which the baseline ignores): the load generator's and the kernel's share of that
    // header, apart from what the gateway does with it.
    let token = Some("x".repeat(DEV_TOKEN_CHARS));
    let get_token = drive(target, token, None, get_of(ids)).await?;
    let _ = child.kill().await;
    Ok(Baseline { get, post, get_token })
}

/// Length of the gateway's development token (every scope, ES256).
const DEV_TOKEN_CHARS: usize = 1050;

/// The baseline server's figures.
pub struct Baseline {
    pub get: Stats,
    pub post: Stats,
    /// GET with a bearer header of the gateway token's length.
    pub get_token: Stats,
}

/// What `WAIT` costs a create (`store.redis.wait_replicas`): create at its peak and at a
/// fixed rate on a primary with one replica, with the option off and with `WAIT 1`.
pub async fn wait_cost() -> anyhow::Result<Vec<(String, Stats)>> {
    let mut rows = Vec::new();
    let mut off_peak = 0.0;
    for wait in [false, true] {
        let (primary, _replica) = Redis::with_replica().await?;
        let mut env = redis_env(&primary);
        if wait {
            env.push(("QOSGW__STORE__REDIS__WAIT_REPLICAS".into(), "1".into()));
        }
        let gw = Gateway::start(&env).await?;
        let (target, token) = (gw.base(), gw.token.clone());
        let name = if wait { "WAIT 1" } else { "WAIT off" };
        let peak = drive(target.clone(), Some(token.clone()), None, create_from(10_000_000)).await?;
        if !wait {
            off_peak = peak.per_second;
        }
        rows.push((format!("create, Redis + 1 replica, {name}"), peak));
        // The same offered load for both: half the peak without WAIT.
        rows.push((
            format!("create, Redis + 1 replica, {name}, paced at half the WAIT-off peak"),
            drive(target, Some(token), Some(off_peak / 2.0), create_from(12_000_000)).await?,
        ));
    }
    Ok(rows)
}

/// The offered rate both settings carry on two cores (PDTQ on peaks at 6,400-7,100/s here).
const PDTQ_PACE: f64 = 2000.0;

/// What asking the network costs a create (`capacity.network_admission: pdtq` against the
/// standalone NEF simulator's PDTQ negotiation: a POST and a PATCH per create): create on the
/// memory store with it off and on, at the peak and paced at a rate both carry. The
/// simulator runs in its own process so that its memory and work are not the gateway's. The
/// configuration is the quick start's `config/pdtq.yaml` (its simulator setting unused here).
pub async fn pdtq_cost() -> anyhow::Result<Vec<(String, Stats)>> {
    let cfg = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/pdtq.yaml").to_owned();
    // Room for every create of the run: the cost measured is the asking, not the declining.
    let sim = NefSimProc::start_with(0, &["--pdtq-ues", "100000000"]).await?;
    let env = vec![
        ("QOSGW__SOUTHBOUND__KIND".to_owned(), "nef".to_owned()),
        ("QOSGW__SOUTHBOUND__NEF__API_ROOT".to_owned(), sim.url.clone()),
    ];
    let mut rows = Vec::new();
    for on in [false, true] {
        let args: Vec<&str> = if on { vec!["--config", &cfg] } else { vec![] };
        let gw = Gateway::start_with(&env, &args).await?;
        let (target, token) = (gw.base(), gw.token.clone());
        let name = if on { "PDTQ on" } else { "PDTQ off" };
        let peak = drive(target.clone(), Some(token.clone()), None, create_from(20_000_000)).await?;
        rows.push((format!("create, memory store, {name}"), peak));
        rows.push((
            format!("create, memory store, {name}, paced at {PDTQ_PACE:.0}/s"),
            drive(target, Some(token), Some(PDTQ_PACE), create_from(22_000_000)).await?,
        ));
    }
    Ok(rows)
}

/// GET, create, retrieve (10 bookings per device) and 70/20/10 GET/create/delete on one
/// store; on Redis also create paced at half its peak rate.
pub async fn on_store(redis: bool) -> anyhow::Result<ApiFigures> {
    let r = if redis { Some(Redis::start().await?) } else { None };
    let env = r.as_ref().map(redis_env).unwrap_or_default();
    let gw = Gateway::start(&env).await?;
    let (target, token) = (gw.base(), gw.token.clone());
    let name = if redis { "Redis" } else { "memory" };
    let start = tomorrow();
    let mut rows = Vec::new();

    let pool = Arc::new(seed(&target, &token, (0..1000).map(|n| create_body(n, 0, start)).collect()).await?);
    rows.push((
        format!("GET, {name} store"),
        drive(target.clone(), Some(token.clone()), None, get_of(pool.clone())).await?,
    ));
    // The same over HTTP/2 (h2c), as an API gateway upstream (Envoy) may speak it.
    rows.push((
        format!("GET, {name} store, HTTP/2 (h2c)"),
        drive_over(target.clone(), Some(token.clone()), None, get_of(pool.clone()), true).await?,
    ));
    let create = drive(target.clone(), Some(token.clone()), None, create_from(1_000_000)).await?;
    let peak = create.per_second;
    rows.push((format!("create, {name} store"), create));
    if redis {
        rows.push((
            format!("create, {name} store, paced at half the peak rate"),
            drive(
                target.clone(),
                Some(token.clone()),
                Some(peak / 2.0),
                create_from(3_000_000),
            )
            .await?,
        ));
    }
    // 50 devices with 10 bookings each, an hour apart.
    let bodies = (0..500u64)
        .map(|i| create_body(5_000_000 + i % 50, i / 50, start))
        .collect();
    seed(&target, &token, bodies).await?;
    let retrieve: Make = Arc::new(|n| {
        let d = 5_000_000 + n % 50;
        Req {
            method: Method::POST,
            path: format!("{BASE}/retrieve-device-qos-bookings"),
            body: Some(Bytes::from(
                json!({"device": {"ipv4Address": {"publicAddress": format!("203.0.{}.{}", (d >> 8) & 255, d & 255),
                    "privateAddress": format!("10.{}.{}.{}", (d >> 16) & 255, (d >> 8) & 255, d & 255)}}})
                .to_string(),
            )),
            ok: 200,
        }
    });
    rows.push((
        format!("retrieve (10 bookings per device), {name} store"),
        drive(target.clone(), Some(token.clone()), None, retrieve).await?,
    ));
    // Mixed: 7 GETs, 2 creates and 1 delete in every 10 requests.
    let doomed = Arc::new(
        seed(
            &target,
            &token,
            (0..3000).map(|n| create_body(7_000_000 + n, 0, start)).collect(),
        )
        .await?,
    );
    let deleted = Arc::new(AtomicUsize::new(0));
    let (get, create) = (get_of(pool.clone()), create_from(8_000_000));
    let mixed: Make = Arc::new(move |n| match n % 10 {
        0..=6 => get(n),
        7 | 8 => create(n),
        _ => {
            let i = deleted.fetch_add(1, Ordering::Relaxed);
            match doomed.get(i) {
                Some(id) => Req {
                    method: Method::DELETE,
                    path: format!("{BASE}/device-qos-bookings/{id}"),
                    body: None,
                    ok: 204,
                },
                None => get(n),
            }
        }
    });
    rows.push((
        format!("mixed 70/20/10 GET/create/delete, {name} store"),
        drive(target, Some(token), None, mixed).await?,
    ));
    Ok(ApiFigures { rows })
}
