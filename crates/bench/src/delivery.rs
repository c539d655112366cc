//! The delivery scenarios: one gateway replica, bookings with a sink each that all start
//! together, and what the sink saw of their ACTIVATED events: events per second from the
//! start, the delivery lag (arrival minus the event's `time`) and duplicates. With a second,
//! misbehaving sink beside it, the figures are those of the healthy one.

use crate::api::create_body;
use crate::procs::{Gateway, Redis, redis_env};
use crate::sinks::{Received, Sink, SinkKind};
use bytes::Bytes;
use serde_json::Value;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

pub struct Scenario {
    pub kind: SinkKind,
    pub bookings: usize,
    /// As many bookings again whose events go to a sink that misbehaves so (`None` in the
    /// kind: a refusing one).
    pub beside: Option<Option<SinkKind>>,
    pub redis: bool,
}

#[derive(Debug, Default)]
pub struct Figures {
    pub events: usize,
    pub per_second: f64,
    pub p50_ms: i64,
    pub p99_ms: i64,
    pub max_ms: i64,
    pub duplicates: usize,
}

#[allow(clippy::disallowed_methods, reason = "the bench books relative to real time")]
fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

pub fn with_sink(body: Bytes, sink: &str) -> anyhow::Result<Bytes> {
    let mut v: Value = serde_json::from_slice(&body)?;
    v["sink"] = Value::from(sink);
    Ok(Bytes::from(v.to_string()))
}

pub async fn run(s: &Scenario) -> anyhow::Result<Figures> {
    let sink = Sink::start(s.kind).await?;
    let (bad_url, _bad) = match s.beside {
        None => (None, None),
        Some(None) => (Some(Sink::refusing()?), None),
        Some(Some(kind)) => {
            let bad = Sink::start(kind).await?;
            (Some(bad.url.clone()), Some(bad))
        }
    };
    let redis = if s.redis { Some(Redis::start().await?) } else { None };
    let mut env = redis.as_ref().map(redis_env).unwrap_or_default();
    env.push(("QOSGW__NOTIFICATIONS__ALLOW_INSECURE_SINKS".into(), "true".into()));
    env.push(("QOSGW__NOTIFICATIONS__SINK_ALLOW".into(), "127.0.0.0/8".into()));
    let gw = Gateway::start(&env).await?;
    let total = s.bookings * if bad_url.is_some() { 2 } else { 1 };
    let start = now() + time::Duration::seconds(6 + (total / 1500) as i64);
    let mut bodies = Vec::with_capacity(total);
    for i in 0..total {
        // Healthy and misbehaving sinks interleaved, as they would be in real traffic.
        let url = match (&bad_url, i % 2) {
            (Some(bad), 1) => bad.as_str(),
            _ => sink.url.as_str(),
        };
        bodies.push(with_sink(create_body(30_000_000 + i as u64, 0, start), url)?);
    }
    crate::api::seed(&gw.base(), &gw.token, bodies).await?;
    anyhow::ensure!(now() < start, "creating {total} bookings took past their start");
    let start_ms = ms(start);
    // For slicing a system-wide profile (`perf record -k realtime`) to the deliveries.
    eprintln!(
        "bench: {total} bookings, all start at unix {:.3} s",
        start_ms as f64 / 1000.0
    );
    // ACTIVATED events carry the start (or later) as their time; SCHEDULED ones came before.
    let activated = |r: &Received| r.event_ms >= start_ms - 1_000;
    let give_up = Instant::now() + Duration::try_from(start - now()).unwrap_or_default() + Duration::from_secs(90);
    let mut got: Vec<Received> = Vec::new();
    while Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(250)).await;
        got = sink.received().into_iter().filter(activated).collect();
        if got.len() >= s.bookings {
            break;
        }
    }
    // Late duplicates show up a moment after the last event.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let duplicates = sink.duplicates();
    let mut lags: Vec<i64> = got.iter().map(|r| r.received_ms - r.event_ms).collect();
    lags.sort_unstable();
    let last = got.iter().map(|r| r.received_ms).max().unwrap_or(start_ms);
    let pick = |p: f64| {
        lags.get(((lags.len().max(1) - 1) as f64 * p) as usize)
            .copied()
            .unwrap_or(0)
    };
    let span_s = ((last - start_ms).max(1)) as f64 / 1000.0;
    drop(gw);
    Ok(Figures {
        events: got.len(),
        per_second: got.len() as f64 / span_s,
        p50_ms: pick(0.5),
        p99_ms: pick(0.99),
        max_ms: lags.last().copied().unwrap_or(0),
        duplicates,
    })
}
