//! The cluster-shape scenarios (Step 15): a six-node Redis Cluster (three primaries, a
//! replica each, AOF `everysec`), four gateway replicas and the standalone `nef-sim`, with
//! `live` bookings stored first (a day ahead, so none is due during the run). On that shape:
//! GET and create throughput, a stream and bursts of starts, and the burst again with a
//! gateway replica killed and then with a Redis primary killed. One cluster carries every
//! scenario, in that order (the primary's kill last: it leaves a primary without replica),
//! so the live bookings are loaded once.

use crate::api;
use crate::load::Stats;
use crate::procs::Gateway;
use crate::timers::{self, Kill, Lag, Network, Scenario, Southbound};
use std::time::{Duration, Instant};
use store::testing::RedisCluster;

const REPLICAS: usize = 4;

/// What the shape is made of beyond its fixed parts.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Live bookings stored before the scenarios.
    pub live: usize,
    /// The nodes' `cluster-node-timeout`.
    pub node_timeout_ms: u64,
}

pub struct Figures {
    pub live: usize,
    /// Bookings stored per second while loading (64 in flight, straight through the store).
    pub load_per_second: f64,
    /// `used_memory` summed over the three primaries after loading, per live booking.
    pub redis_bytes_per_booking: f64,
    pub get: Stats,
    pub create: Stats,
    /// (name, budget, lag, Redis forks during the scenario on the nodes alive at its end: AOF
    /// rewrites and full syncs).
    pub timers: Vec<(&'static str, &'static str, Lag, u64)>,
}

/// The store settings of a gateway on `cluster` (timeouts as the failover test uses them:
/// a dead primary is given up on within half a second, then retried).
fn cluster_env(cluster: &RedisCluster) -> Vec<(String, String)> {
    [
        ("QOSGW__STORE__KIND", "redis".to_owned()),
        ("QOSGW__STORE__REDIS__CLUSTER", "true".to_owned()),
        ("QOSGW__STORE__REDIS__URLS", cluster.urls().join(",")),
        ("QOSGW__STORE__REDIS__COMMAND_TIMEOUT_MS", "500".to_owned()),
        ("QOSGW__STORE__REDIS__CONNECT_TIMEOUT_MS", "500".to_owned()),
        ("QOSGW__AUTH__ALLOW_DEV_WITH_REDIS", "true".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// `total_forks` of each node that answers (port -> count): a fork (an AOF rewrite, a
/// replica's full sync) stalls its node for the copy of its page tables, so the timer rows
/// say how many fell in each scenario.
fn forks(cluster: &RedisCluster) -> std::collections::HashMap<u16, u64> {
    cluster
        .ports
        .iter()
        .filter_map(|p| {
            cluster
                .cli(*p, &["info", "stats"])
                .lines()
                .find_map(|l| l.strip_prefix("total_forks:"))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|n| (*p, n))
        })
        .collect()
}

/// Forks between two [`forks`] readings, over the nodes that answered both (a killed
/// primary's own forks are not counted).
fn forks_between(before: &std::collections::HashMap<u16, u64>, after: &std::collections::HashMap<u16, u64>) -> u64 {
    after
        .iter()
        .filter_map(|(p, n)| before.get(p).map(|b| n.saturating_sub(*b)))
        .sum()
}

fn primaries_used_memory(cluster: &RedisCluster) -> u64 {
    cluster
        .ports
        .iter()
        .map(|p| cluster.cli(*p, &["info"]))
        .filter(|info| info.contains("role:master"))
        .filter_map(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("used_memory:"))
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
        .sum()
}

/// The timer scenarios at this shape: (name, budget, scenario, what is killed).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kills {
    Nothing,
    Gateway,
    RedisPrimary,
}

fn scenarios() -> Vec<(&'static str, &'static str, Scenario, Kills)> {
    // Bookings end 20 s after their start, so one scenario's ends are past before the next
    // one's starts; device numbers apart, so no two scenarios' bookings conflict.
    let short = |mut s: Scenario, first_device: u64, kill_after: Option<Duration>| {
        s.duration_s = 20;
        s.first_device = first_device;
        s.kill_after = kill_after;
        s
    };
    let half_second = Some(Duration::from_millis(500));
    vec![
        (
            "stream: 10,000 starts over 10 s (1,000/s)",
            "p99 < 50 ms, max < 250 ms",
            short(Scenario::nef(10_000, Duration::from_secs(10)), 40_000_000, None),
            Kills::Nothing,
        ),
        (
            "burst: 10,000 with one start",
            "all within 3 s",
            short(Scenario::nef(10_000, Duration::ZERO), 41_000_000, None),
            Kills::Nothing,
        ),
        (
            "burst: 50,000 with one start",
            "all within 8 s",
            short(Scenario::nef(50_000, Duration::ZERO), 42_000_000, None),
            Kills::Nothing,
        ),
        (
            "burst of 10,000, one gateway replica killed 0.5 s after the start",
            "exactly once, none later than 5 s, none left",
            short(Scenario::nef(10_000, Duration::ZERO), 43_000_000, half_second),
            Kills::Gateway,
        ),
        (
            "burst of 10,000, one Redis primary killed 0.5 s after the start",
            "exactly once, none later than 5 s, none left",
            short(Scenario::nef(10_000, Duration::ZERO), 44_000_000, half_second),
            Kills::RedisPrimary,
        ),
    ]
}

/// Runs the shape with `live` bookings loaded first; `only` keeps the timer scenarios whose
/// name contains it (GET and create always run).
pub async fn run(shape: Shape, only: &str) -> anyhow::Result<Figures> {
    let live = shape.live;
    let mut cluster =
        tokio::task::spawn_blocking(move || RedisCluster::start_replicated_with(shape.node_timeout_ms)).await?;
    let store = crate::memory::connect(cluster.urls(), true).await?;
    let before = primaries_used_memory(&cluster);
    let loading = Instant::now();
    // Addresses apart from every API-created booking's (203.0.x.x / 10.x.x.x).
    let ids = crate::memory::store_live(store, live, 0x6440_0000, 0xAC10_0000).await?;
    let load_per_second = live as f64 / loading.elapsed().as_secs_f64();
    let redis_bytes_per_booking = primaries_used_memory(&cluster).saturating_sub(before) as f64 / live.max(1) as f64;

    let sim = Network::start(Southbound::Nef, 5).await?;
    let env = sim.env(cluster_env(&cluster));
    let mut gws = Vec::with_capacity(REPLICAS);
    for _ in 0..REPLICAS {
        gws.push(Gateway::start(&env).await?);
    }
    let get = api::drive(gws[0].base(), Some(gws[0].token.clone()), None, api::get_spread(ids)).await?;
    let create = api::create_from(30_000_000);
    let create = api::drive(gws[0].base(), Some(gws[0].token.clone()), None, create).await?;

    let mut lags = Vec::new();
    for (name, budget, s, kills) in scenarios().into_iter().filter(|(n, ..)| n.contains(only)) {
        // The replica that seeds is not the one killed: the kill is of a replica at work.
        let seeder = (gws[0].base(), gws[0].token.clone());
        let forks_before = forks(&cluster);
        let kill = match kills {
            Kills::Nothing => None,
            Kills::Gateway => gws.last_mut().map(Kill::Gateway),
            Kills::RedisPrimary => Some(Kill::RedisPrimary(&mut cluster)),
        };
        let mut lag = timers::measure(&sim, &seeder, kill, &s).await?;
        if lag.left_at_end.is_none() {
            // Let every booking end before the next scenario (whose starts its ends would
            // compete with), then count what is left at the NEF.
            tokio::time::sleep(Duration::from_secs(s.duration_s + 3)).await;
            lag.duplicates += sim.late_duplicates().await?;
            lag.left_at_end = Some(sim.left().await?);
        }
        if kills == Kills::Gateway {
            // Back to four replicas for what follows.
            gws.pop();
            gws.push(Gateway::start(&env).await?);
        }
        let forked = forks_between(&forks_before, &forks(&cluster));
        lags.push((name, budget, lag, forked));
    }
    Ok(Figures {
        live,
        load_per_second,
        redis_bytes_per_booking,
        get,
        create,
        timers: lags,
    })
}
