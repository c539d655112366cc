//! The timer scenarios: two gateway replicas on one Redis, the standalone `nef-sim` or
//! `pcf-sim` with a set latency, bookings created ahead, then what the network saw: when each
//! create (a NEF subscription, an N5 app session) arrived against its booking's start time.

use crate::api::{create_body, seed};
use crate::procs::{Gateway, NefSimProc, PcfSimProc, Redis, redis_env};
use bytes::Bytes;
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

#[derive(Debug, Clone, Default)]
pub struct Lag {
    pub bookings: usize,
    pub activated: usize,
    /// POST received minus start time, ms.
    pub min_ms: i64,
    pub p50_ms: i64,
    pub p99_ms: i64,
    pub max_ms: i64,
    /// Subscriptions (app sessions) created (201) per booking beyond one.
    pub duplicates: usize,
    /// Subscriptions (app sessions) still at the network after every booking ended (kill
    /// scenario only).
    pub left_at_end: Option<usize>,
}

#[allow(clippy::disallowed_methods, reason = "the bench measures against real time")]
fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Which southbound the replicas use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Southbound {
    Nef,
    Pcf,
}

pub struct Scenario {
    pub southbound: Southbound,
    pub bookings: usize,
    /// Start times spread evenly over this span (zero: all at once).
    pub spread: Duration,
    /// The simulator's latency for every answer.
    pub latency_ms: u64,
    /// Kill one replica this long after the first start.
    pub kill_after: Option<Duration>,
    pub duration_s: u64,
}

/// The simulated network, standalone.
enum Network {
    Nef(NefSimProc),
    Pcf(PcfSimProc),
}

impl Network {
    async fn start(kind: Southbound, latency_ms: u64) -> anyhow::Result<Self> {
        Ok(match kind {
            Southbound::Nef => Self::Nef(NefSimProc::start(latency_ms).await?),
            Southbound::Pcf => Self::Pcf(PcfSimProc::start(latency_ms).await?),
        })
    }

    fn env(&self, redis: &Redis) -> Vec<(String, String)> {
        let mut e = redis_env(redis);
        match self {
            Self::Nef(sim) => {
                e.push(("QOSGW__SOUTHBOUND__KIND".into(), "nef".into()));
                e.push(("QOSGW__SOUTHBOUND__NEF__API_ROOT".into(), sim.url.clone()));
            }
            Self::Pcf(sim) => {
                e.push(("QOSGW__SOUTHBOUND__KIND".into(), "pcf".into()));
                e.push(("QOSGW__SOUTHBOUND__PCF__API_ROOT".into(), sim.url.clone()));
            }
        }
        e
    }

    /// The network's successful creates: (booking id from the callback URL, received ms).
    async fn created(&self) -> anyhow::Result<Vec<(String, i64)>> {
        let (requests, create_path, callback) = match self {
            Self::Nef(sim) => (sim.requests().await?, None, "notificationDestination"),
            Self::Pcf(sim) => (
                sim.requests().await?,
                Some("/npcf-policyauthorization/v1/app-sessions"),
                "notifUri",
            ),
        };
        Ok(requests
            .into_iter()
            .filter(|r| r["method"] == "POST" && r["status"] == 201)
            .filter(|r| create_path.is_none_or(|p| r["path"] == p))
            .filter_map(|r| {
                let dest = r["body"]
                    .get(callback)
                    .or_else(|| r["body"]["ascReqData"].get(callback))?
                    .as_str()?;
                let id = dest.split("/bookings/").nth(1)?.split('/').next()?.to_owned();
                Some((id, i64::try_from(r["at_ms"].as_u64()?).ok()?))
            })
            .collect())
    }

    async fn left(&self) -> anyhow::Result<usize> {
        match self {
            Self::Nef(sim) => sim.subscription_count().await,
            Self::Pcf(sim) => sim.session_count().await,
        }
    }
}

pub async fn run(s: &Scenario) -> anyhow::Result<Lag> {
    let redis = Redis::start().await?;
    let sim = Network::start(s.southbound, s.latency_ms).await?;
    let env = sim.env(&redis);
    let mut a = Gateway::start(&env).await?;
    let _b = Gateway::start(&env).await?;
    // Creates run at a few thousand per second here: leave time for all of them.
    let first = now() + time::Duration::seconds(8 + (s.bookings / 1500) as i64);
    let step = s.spread.as_secs_f64() * 1000.0 / s.bookings.max(1) as f64;
    let starts: Vec<OffsetDateTime> = (0..s.bookings)
        .map(|i| first + time::Duration::milliseconds((i as f64 * step) as i64))
        .collect();
    let bodies: Vec<Bytes> = starts
        .iter()
        .enumerate()
        .map(|(i, t)| with_duration(create_body(20_000_000 + i as u64, 0, *t), s.duration_s))
        .collect::<anyhow::Result<_>>()?;
    let ids = seed(&a.base(), &a.token, bodies).await?;
    anyhow::ensure!(now() < first, "creating {} bookings took past their start", s.bookings);
    let start_of: HashMap<String, i64> = ids.iter().cloned().zip(starts.iter().map(|t| ms(*t))).collect();
    if let Some(after) = s.kill_after {
        tokio::time::sleep(Duration::try_from(first - now()).unwrap_or_default() + after).await;
        a.kill9().await;
    }
    // Wait (bounded) until every booking has its subscription. Reading the simulator's whole
    // request log is heavy (megabytes of JSON): not before the last start, so the reading
    // does not compete with the activations it measures.
    let last = *starts.last().unwrap_or(&first);
    let give_up = Instant::now() + Duration::try_from(last - now()).unwrap_or_default() + Duration::from_secs(60);
    tokio::time::sleep(Duration::try_from(last - now()).unwrap_or_default() + Duration::from_secs(1)).await;
    let mut posts = Vec::new();
    while Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(500)).await;
        posts = sim.created().await?;
        if by_booking(&posts).len() >= s.bookings {
            break;
        }
    }
    let per = by_booking(&posts);
    let mut lags: Vec<i64> = per
        .iter()
        .filter_map(|(id, at)| start_of.get(id).map(|s| at.iter().min().copied().unwrap_or(0) - s))
        .collect();
    lags.sort_unstable();
    let pick = |p: f64| {
        lags.get(((lags.len().max(1) - 1) as f64 * p) as usize)
            .copied()
            .unwrap_or(0)
    };
    let duplicates = per.values().map(|v| v.len().saturating_sub(1)).sum();
    let mut left_at_end = None;
    if s.kill_after.is_some() {
        // Every booking ends `duration_s` after its start: then nothing may be left.
        let end = last + time::Duration::seconds(s.duration_s as i64) + time::Duration::seconds(10);
        tokio::time::sleep(Duration::try_from(end - now()).unwrap_or_default()).await;
        left_at_end = Some(sim.left().await?);
    }
    Ok(Lag {
        bookings: s.bookings,
        activated: per.len(),
        min_ms: lags.first().copied().unwrap_or(0),
        p50_ms: pick(0.5),
        p99_ms: pick(0.99),
        max_ms: lags.last().copied().unwrap_or(0),
        duplicates,
        left_at_end,
    })
}

/// Sets the `duration` of a create body.
fn with_duration(body: Bytes, duration: u64) -> anyhow::Result<Bytes> {
    let mut v: Value = serde_json::from_slice(&body)?;
    v["duration"] = Value::from(duration);
    Ok(Bytes::from(v.to_string()))
}

fn by_booking(posts: &[(String, i64)]) -> HashMap<String, Vec<i64>> {
    let mut m: HashMap<String, Vec<i64>> = HashMap::new();
    for (id, at) in posts {
        m.entry(id.clone()).or_default().push(*at);
    }
    m
}
