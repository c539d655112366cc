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
    /// Kill one replica (or, at cluster shape, what [`Kill`] names) this long after the
    /// first start.
    pub kill_after: Option<Duration>,
    pub duration_s: u64,
    /// Bookings' device numbers start here (scenarios sharing one store keep apart).
    pub first_device: u64,
}

impl Scenario {
    /// `bookings` on the NEF at 5 ms, `duration_s` 120, starting together (`spread` zero)
    /// or spread evenly.
    pub fn nef(bookings: usize, spread: Duration) -> Self {
        Self {
            southbound: Southbound::Nef,
            bookings,
            spread,
            latency_ms: 5,
            kill_after: None,
            duration_s: 120,
            first_device: 20_000_000,
        }
    }
}

/// What a kill scenario kills at `kill_after`.
pub enum Kill<'a> {
    Gateway(&'a mut Gateway),
    /// The primary serving slot 0 of this cluster.
    RedisPrimary(&'a mut store::testing::RedisCluster),
}

/// The simulated network, standalone.
pub enum Network {
    Nef(NefSimProc),
    Pcf(PcfSimProc),
}

impl Network {
    pub async fn start(kind: Southbound, latency_ms: u64) -> anyhow::Result<Self> {
        Ok(match kind {
            Southbound::Nef => Self::Nef(NefSimProc::start(latency_ms).await?),
            Southbound::Pcf => Self::Pcf(PcfSimProc::start(latency_ms).await?),
        })
    }

    /// `store` (a gateway's store settings) and this network's.
    pub fn env(&self, store: Vec<(String, String)>) -> Vec<(String, String)> {
        let mut e = store;
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

    /// Adds the network's successful creates since the last call to `acc`: (booking id from
    /// the callback URL, received ms). The NEF's log is taken off as it is read, so a long
    /// run's reads stay small; the PCF's is read whole.
    async fn created(&self, acc: &mut Vec<(String, i64)>) -> anyhow::Result<()> {
        let (requests, create_path, callback) = match self {
            Self::Nef(sim) => (sim.take_requests().await?, None, "notificationDestination"),
            Self::Pcf(sim) => {
                acc.clear();
                (
                    sim.requests().await?,
                    Some("/npcf-policyauthorization/v1/app-sessions"),
                    "notifUri",
                )
            }
        };
        acc.extend(
            requests
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
                }),
        );
        Ok(())
    }

    /// Successful creates since the last read, each one a booking's second or later (every
    /// booking of the scenario was seen by then): duplicates that came late.
    pub async fn late_duplicates(&self) -> anyhow::Result<usize> {
        let mut late = Vec::new();
        self.created(&mut late).await?;
        Ok(late.len())
    }

    /// Forgets what the network saw so far (a scenario on a network shared with earlier ones).
    async fn forget(&self) -> anyhow::Result<()> {
        if let Self::Nef(sim) = self {
            sim.take_requests().await?;
        }
        Ok(())
    }

    pub async fn left(&self) -> anyhow::Result<usize> {
        match self {
            Self::Nef(sim) => sim.subscription_count().await,
            Self::Pcf(sim) => sim.session_count().await,
        }
    }
}

/// Two replicas on a Redis of their own and the scenario's network.
pub async fn run(s: &Scenario) -> anyhow::Result<Lag> {
    let redis = Redis::start().await?;
    let sim = Network::start(s.southbound, s.latency_ms).await?;
    let env = sim.env(redis_env(&redis));
    let mut a = Gateway::start(&env).await?;
    let _b = Gateway::start(&env).await?;
    let seeder = (a.base(), a.token.clone());
    let kill = s.kill_after.map(|_| Kill::Gateway(&mut a));
    measure(&sim, &seeder, kill, s).await
}

/// Creates the scenario's bookings through `seeder` (`host:port`, token), kills what `kill`
/// names at `kill_after`, and reads when the network saw each booking's create. A kill
/// scenario then waits for every booking's end and counts what is left at the network.
pub async fn measure(
    sim: &Network,
    seeder: &(String, String),
    kill: Option<Kill<'_>>,
    s: &Scenario,
) -> anyhow::Result<Lag> {
    sim.forget().await?;
    // Creates run at a few thousand per second here: leave time for all of them.
    let first = now() + time::Duration::seconds(8 + (s.bookings / 1500) as i64);
    let step = s.spread.as_secs_f64() * 1000.0 / s.bookings.max(1) as f64;
    let starts: Vec<OffsetDateTime> = (0..s.bookings)
        .map(|i| first + time::Duration::milliseconds((i as f64 * step) as i64))
        .collect();
    let bodies: Vec<Bytes> = starts
        .iter()
        .enumerate()
        .map(|(i, t)| with_duration(create_body(s.first_device + i as u64, 0, *t), s.duration_s))
        .collect::<anyhow::Result<_>>()?;
    let ids = seed(&seeder.0, &seeder.1, bodies).await?;
    anyhow::ensure!(now() < first, "creating {} bookings took past their start", s.bookings);
    // For slicing a system-wide profile (`perf record -k realtime`) to the scenario.
    eprintln!(
        "bench: {} bookings, first start at unix {:.3} s",
        s.bookings,
        ms(first) as f64 / 1000.0
    );
    let start_of: HashMap<String, i64> = ids.iter().cloned().zip(starts.iter().map(|t| ms(*t))).collect();
    if let (Some(after), Some(kill)) = (s.kill_after, kill) {
        tokio::time::sleep(Duration::try_from(first - now()).unwrap_or_default() + after).await;
        match kill {
            Kill::Gateway(gw) => gw.kill9().await,
            Kill::RedisPrimary(cluster) => {
                cluster.kill_primary_of_slot(0);
            }
        }
    }
    // Wait (bounded) until every booking has its subscription. Reading the simulator's
    // request log is heavy (megabytes of JSON): not before the last start, so the reading
    // does not compete with the activations it measures.
    let last = *starts.last().unwrap_or(&first);
    let give_up = Instant::now() + Duration::try_from(last - now()).unwrap_or_default() + Duration::from_secs(60);
    tokio::time::sleep(Duration::try_from(last - now()).unwrap_or_default() + Duration::from_secs(1)).await;
    let mut posts = Vec::new();
    while Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(500)).await;
        sim.created(&mut posts).await?;
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
    let mut left_at_end = None;
    if s.kill_after.is_some() {
        // Every booking ends `duration_s` after its start: then nothing may be left.
        let end = last + time::Duration::seconds(s.duration_s as i64) + time::Duration::seconds(10);
        tokio::time::sleep(Duration::try_from(end - now()).unwrap_or_default()).await;
        // Creates of a booking that came after the waiting above still count as duplicates.
        sim.created(&mut posts).await?;
        left_at_end = Some(sim.left().await?);
    }
    let duplicates = by_booking(&posts).values().map(|v| v.len().saturating_sub(1)).sum();
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
pub fn with_duration(body: Bytes, duration: u64) -> anyhow::Result<Bytes> {
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
