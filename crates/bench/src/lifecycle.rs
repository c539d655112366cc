//! The Redis cost of a booking's whole life, for the capacity model (docs/SCALING.md): one
//! gateway on one Redis, bookings created with a sink, activated at the built-in simulator,
//! ended, and their events delivered; then `INFO commandstats` and Redis's network bytes per
//! booking. What an idle replica sends meanwhile (its timer and outbox polls) is measured
//! first over a window of its own and taken off, in proportion to the run's length. Not in
//! it: GETs (one script call each) and the purge after retention.

use crate::api::{create_body, seed};
use crate::delivery::with_sink;
use crate::procs::{Gateway, Redis, redis_env};
use crate::sinks::{Sink, SinkKind};
use crate::timers::with_duration;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

pub struct Figures {
    pub bookings: usize,
    pub events_per_booking: f64,
    pub commands: f64,
    /// Script calls (`EVALSHA`), each a round trip of its own.
    pub scripts: f64,
    pub bytes_in: f64,
    pub bytes_out: f64,
    /// The commands with the most calls per booking.
    pub top: Vec<(String, f64)>,
    /// Commands per second of an idle replica (taken off the figures above).
    pub idle_per_second: f64,
}

/// Redis's counters since the last reset.
#[derive(Default)]
struct Counters {
    calls: HashMap<String, f64>,
    bytes_in: f64,
    bytes_out: f64,
}

impl Counters {
    fn read(redis: &Redis) -> anyhow::Result<Self> {
        let mut c = Self::default();
        for line in redis.info("commandstats")?.lines() {
            let Some((name, rest)) = line.strip_prefix("cmdstat_").and_then(|l| l.split_once(':')) else {
                continue;
            };
            let calls = rest
                .split(',')
                .find_map(|f| f.strip_prefix("calls="))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0);
            c.calls.insert(name.to_owned(), calls);
        }
        let stats = redis.info("stats")?;
        let field = |name: &str| {
            stats
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        c.bytes_in = field("total_net_input_bytes:");
        c.bytes_out = field("total_net_output_bytes:");
        Ok(c)
    }

    /// These counters less `idle`'s scaled by `scale`, per `n`.
    fn per(&self, idle: &Self, scale: f64, n: f64) -> Self {
        Self {
            calls: self
                .calls
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        (v - idle.calls.get(k).copied().unwrap_or(0.0) * scale).max(0.0) / n,
                    )
                })
                .collect(),
            bytes_in: (self.bytes_in - idle.bytes_in * scale).max(0.0) / n,
            bytes_out: (self.bytes_out - idle.bytes_out * scale).max(0.0) / n,
        }
    }
}

#[allow(clippy::disallowed_methods, reason = "bookings start relative to real time")]
fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

pub async fn run(n: usize) -> anyhow::Result<Figures> {
    let redis = Redis::start().await?;
    let sink = Sink::start(SinkKind::KeepAlive).await?;
    let mut env = redis_env(&redis);
    env.push(("QOSGW__NOTIFICATIONS__ALLOW_INSECURE_SINKS".into(), "true".into()));
    env.push(("QOSGW__NOTIFICATIONS__SINK_ALLOW".into(), "127.0.0.0/8".into()));
    let gw = Gateway::start(&env).await?;
    let idle_window = Duration::from_secs(5);
    redis.reset_stats()?;
    tokio::time::sleep(idle_window).await;
    let idle = Counters::read(&redis)?;
    redis.reset_stats()?;
    let began = Instant::now();
    let duration_s = 5;
    let start = now() + time::Duration::seconds(5 + (n / 1500) as i64);
    let bodies = (0..n as u64)
        .map(|i| {
            with_sink(
                with_duration(create_body(50_000_000 + i, 0, start), duration_s)?,
                &sink.url,
            )
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    seed(&gw.base(), &gw.token, bodies).await?;
    // Past every end, then until the sink has heard nothing new for two seconds.
    let end = start + time::Duration::seconds(duration_s as i64 + 2);
    tokio::time::sleep(Duration::try_from(end - now()).unwrap_or_default()).await;
    let give_up = Instant::now() + Duration::from_secs(60);
    let mut seen = sink.received().len();
    while Instant::now() < give_up {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now_seen = sink.received().len();
        if now_seen == seen {
            break;
        }
        seen = now_seen;
    }
    let total = Counters::read(&redis)?;
    let scale = began.elapsed().as_secs_f64() / idle_window.as_secs_f64();
    let per = total.per(&idle, scale, n.max(1) as f64);
    let mut top: Vec<(String, f64)> = per.calls.iter().map(|(k, v)| (k.clone(), *v)).collect();
    top.sort_by(|a, b| b.1.total_cmp(&a.1));
    top.truncate(12);
    Ok(Figures {
        bookings: n,
        events_per_booking: seen as f64 / n.max(1) as f64,
        commands: per.calls.values().sum(),
        scripts: per.calls.get("evalsha").copied().unwrap_or(0.0),
        bytes_in: per.bytes_in,
        bytes_out: per.bytes_out,
        top,
        idle_per_second: idle.calls.values().sum::<f64>() / idle_window.as_secs_f64(),
    })
}
