//! The soak: a mixed load (70 % GET, 20 % create, 10 % delete) at half its peak rate for N
//! minutes, on two gateway replicas sharing one Redis, the standalone `nef-sim` and a
//! keep-alive event sink. Bookings start and end all the time: each starts 5-25 s after its
//! create and lasts 30-90 s, a tenth are deleted while live, and every ended one is purged
//! after the retention (360 s). Per interval it reports the API's rate, p99 and errors, the
//! timer lag (NEF POST received - start), the delivery lag, the gateways' RSS and Redis'
//! `used_memory`; the run fails on any error, early timer or duplicate delivery, and (once
//! past the warm-up) on memory that grew by more than 10 %.

use crate::api::{BASE, create_body, seed, tomorrow};
use crate::load::{self, Make, Observe, Plan, Req, Stats};
use crate::procs::{Gateway, NefSimProc, Redis, redis_env};
use crate::sinks::{Sink, SinkKind};
use bytes::Bytes;
use hyper::Method;
use serde_json::Value;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// Connections per replica.
const CONNECTIONS: usize = 8;
/// Bookings live at most 25 + 90 s and are kept 360 s after: memory is level after this.
pub const WARM_UP: Duration = Duration::from_secs(8 * 60);

/// One interval of the run.
pub struct Row {
    pub end: Duration,
    pub api: Stats,
    pub activated: usize,
    pub lag_p99_ms: i64,
    pub lag_max_ms: i64,
    pub early: usize,
    pub events: usize,
    pub event_lag_p99_ms: i64,
    pub duplicates: usize,
    pub rss: [u64; 2],
    pub redis_used: u64,
}

pub struct Soak {
    pub peak: f64,
    pub rate: f64,
    pub start_rss: [u64; 2],
    pub start_redis: u64,
    pub rows: Vec<Row>,
}

#[allow(clippy::disallowed_methods, reason = "the soak books relative to real time")]
fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// What the load learned from the answers: recently created bookings (for GETs and
/// deletes) and each booking's start time (for the timer lag).
#[derive(Default)]
struct Seen {
    recent: VecDeque<(Instant, String)>,
    start_of: HashMap<String, i64>,
}

/// Bookings younger than this are picked for GETs and deletes: all are still live.
const RECENT: Duration = Duration::from_secs(20);

fn mixed(seen: Arc<Mutex<Seen>>, pool: Arc<Vec<String>>, devices: Arc<AtomicU64>, sink: String) -> (Make, Observe) {
    let picks = seen.clone();
    let make: Make = Arc::new(move |n| {
        let choose = |take: bool| {
            let mut s = picks.lock().unwrap_or_else(|p| p.into_inner());
            let len = s.recent.len();
            if take {
                s.recent.pop_front().map(|(_, id)| id)
            } else {
                s.recent.get(n as usize % len.max(1)).map(|(_, id)| id.clone())
            }
        };
        match n % 10 {
            0..=6 => get(choose(false).unwrap_or_else(|| pool[n as usize % pool.len().max(1)].clone())),
            7 | 8 => {
                let d = devices.fetch_add(1, Ordering::Relaxed);
                let start = now() + time::Duration::seconds(5 + (d % 21) as i64);
                Req {
                    method: Method::POST,
                    path: format!("{BASE}/device-qos-bookings"),
                    body: Some(short(create_body(d, 0, start), 30 + d % 61, &sink)),
                    ok: 201,
                }
            }
            _ => match choose(true) {
                Some(id) => Req {
                    method: Method::DELETE,
                    path: format!("{BASE}/device-qos-bookings/{id}"),
                    body: None,
                    ok: 204,
                },
                None => get(pool[n as usize % pool.len().max(1)].clone()),
            },
        }
    });
    let observe: Observe = Arc::new(move |_, status, body| {
        if status != 201 {
            return;
        }
        let Ok(v) = serde_json::from_slice::<Value>(body) else {
            return;
        };
        let (Some(id), Some(start)) = (v["bookingId"].as_str(), v["startTime"].as_str()) else {
            return;
        };
        let Ok(start) = OffsetDateTime::parse(start, &time::format_description::well_known::Rfc3339) else {
            return;
        };
        let mut s = seen.lock().unwrap_or_else(|p| p.into_inner());
        let at = Instant::now();
        while s.recent.front().is_some_and(|(t, _)| at.duration_since(*t) > RECENT) {
            s.recent.pop_front();
        }
        s.recent.push_back((at, id.to_owned()));
        s.start_of.insert(id.to_owned(), ms(start));
    });
    (make, observe)
}

fn get(id: String) -> Req {
    Req {
        method: Method::GET,
        path: format!("{BASE}/device-qos-bookings/{id}"),
        body: None,
        ok: 200,
    }
}

/// A create body with this duration, its events to `sink`.
fn short(body: Bytes, duration: u64, sink: &str) -> Bytes {
    let mut v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    v["duration"] = Value::from(duration);
    v["sink"] = Value::from(sink);
    Bytes::from(v.to_string())
}

/// Drives both replicas at once for `span`, at `rate` in all (`None`: as fast as answered).
async fn drive_both(
    gws: &[Gateway; 2],
    span: Duration,
    rate: Option<f64>,
    make: &Make,
    observe: &Observe,
) -> anyhow::Result<Stats> {
    let mut runs = Vec::new();
    for gw in gws {
        let plan = Plan {
            target: gw.base(),
            token: Some(gw.token.clone()),
            connections: CONNECTIONS,
            duration: span,
            rate: rate.map(|r| r / 2.0),
            observe: Some(observe.clone()),
            http2: false,
        };
        let make = make.clone();
        runs.push(tokio::task::spawn_blocking(move || load::run(plan, make)));
    }
    let mut all = Vec::new();
    for r in runs {
        all.push(r.await??);
    }
    Ok(merge(&all))
}

/// Two runs side by side as one: rates and counts add up; a percentile is the worse of the
/// two (a bound, not a merge of the distributions).
fn merge(runs: &[Stats]) -> Stats {
    let mut m = Stats::default();
    for s in runs {
        m.requests += s.requests;
        m.errors += s.errors;
        m.per_second += s.per_second;
        m.p50_ms = m.p50_ms.max(s.p50_ms);
        m.p90_ms = m.p90_ms.max(s.p90_ms);
        m.p99_ms = m.p99_ms.max(s.p99_ms);
        m.max_ms = m.max_ms.max(s.max_ms);
    }
    m
}

fn pick(sorted: &[i64], p: f64) -> i64 {
    sorted
        .get(((sorted.len().max(1) - 1) as f64 * p) as usize)
        .copied()
        .unwrap_or(0)
}

/// How often the NEF's log is taken during an interval.
const TAKE_EVERY: Duration = Duration::from_secs(15);

/// Takes the NEF's log every [`TAKE_EVERY`] for `span` (and once at its end): each
/// activation's lag against its booking's start (ms), and how many came early.
async fn collect(sim: Arc<NefSimProc>, seen: Arc<Mutex<Seen>>, span: Duration) -> anyhow::Result<(Vec<i64>, usize)> {
    let until = Instant::now() + span;
    let (mut lags, mut early) = (Vec::new(), 0);
    loop {
        tokio::time::sleep(TAKE_EVERY.min(until.saturating_duration_since(Instant::now()))).await;
        let taken = sim.take_requests().await?;
        let mut s = seen.lock().unwrap_or_else(|p| p.into_inner());
        for r in taken {
            if r["method"] != "POST" || r["status"] != 201 {
                continue;
            }
            let Some(dest) = r["body"]["notificationDestination"].as_str() else {
                continue;
            };
            let Some(id) = dest.split("/bookings/").nth(1).and_then(|x| x.split('/').next()) else {
                continue;
            };
            if let (Some(start), Some(at)) = (s.start_of.remove(id), r["at_ms"].as_i64()) {
                early += usize::from(at < start);
                lags.push(at - start);
            }
        }
        // Bookings deleted before their start never reach the NEF.
        let stale = ms(now()) - 120_000;
        s.start_of.retain(|_, start| *start > stale);
        drop(s);
        if Instant::now() >= until {
            return Ok((lags, early));
        }
    }
}

pub async fn run(minutes: u64) -> anyhow::Result<Soak> {
    let total = Duration::from_secs(minutes.max(1) * 60);
    let interval = Duration::from_secs(300).min(total / 2);
    let redis = Redis::start().await?;
    let sim = Arc::new(NefSimProc::start(5).await?);
    let sink = Sink::start(SinkKind::KeepAlive).await?;
    let mut env = redis_env(&redis);
    env.push(("QOSGW__SOUTHBOUND__KIND".into(), "nef".into()));
    env.push(("QOSGW__SOUTHBOUND__NEF__API_ROOT".into(), sim.url.clone()));
    env.push(("QOSGW__NOTIFICATIONS__ALLOW_INSECURE_SINKS".into(), "true".into()));
    let gws = [Gateway::start(&env).await?, Gateway::start(&env).await?];
    let pool = Arc::new(
        seed(
            &gws[0].base(),
            &gws[0].token,
            (0..1000).map(|n| create_body(n, 0, tomorrow())).collect(),
        )
        .await?,
    );
    let seen = Arc::new(Mutex::new(Seen::default()));
    let devices = Arc::new(AtomicU64::new(1_000_000));
    let (make, observe) = mixed(seen.clone(), pool, devices, sink.url.clone());

    let probe = drive_both(&gws, Duration::from_secs(10), None, &make, &observe).await?;
    let peak = probe.per_second;
    let rate = peak / 2.0;
    let start_rss = [gws[0].rss(), gws[1].rss()];
    let start_redis = redis.used_memory()?;
    let began = Instant::now();
    let (mut rows, mut ids, hasher) = (Vec::new(), HashSet::new(), RandomState::new());
    while began.elapsed() + Duration::from_secs(1) < total {
        let span = interval.min(total - began.elapsed());
        // The NEF's log is taken in small bites while the load runs: one take of a whole
        // interval (some 600,000 records) stalled the host for seconds, and with it the
        // sink, whose deliveries then timed out and came twice.
        let collecting = tokio::spawn(collect(sim.clone(), seen.clone(), span));
        let api = drive_both(&gws, span, Some(rate), &make, &observe).await?;
        let (mut lags, early) = collecting.await??;
        lags.sort_unstable();
        let events = sink.take();
        let mut event_lags: Vec<i64> = events.iter().map(|e| e.received_ms - e.event_ms).collect();
        event_lags.sort_unstable();
        let duplicates = events.iter().filter(|e| !ids.insert(hasher.hash_one(&e.id))).count();
        rows.push(Row {
            end: began.elapsed(),
            api,
            activated: lags.len(),
            lag_p99_ms: pick(&lags, 0.99),
            lag_max_ms: lags.last().copied().unwrap_or(0),
            early,
            events: events.len(),
            event_lag_p99_ms: pick(&event_lags, 0.99),
            duplicates,
            rss: [gws[0].rss(), gws[1].rss()],
            redis_used: redis.used_memory()?,
        });
    }
    Ok(Soak {
        peak,
        rate,
        start_rss,
        start_redis,
        rows,
    })
}

impl Soak {
    /// The first interval that ended past the warm-up, and the last one.
    fn level(&self) -> Option<(&Row, &Row)> {
        let first = self.rows.iter().find(|r| r.end >= WARM_UP)?;
        let last = self.rows.last()?;
        (!std::ptr::eq(first, last)).then_some((first, last))
    }

    /// What fails the run: any error, early timer or duplicate, memory growth past warm-up.
    pub fn verdict(&self) -> Result<(), String> {
        let errors: u64 = self.rows.iter().map(|r| r.api.errors).sum();
        let early: usize = self.rows.iter().map(|r| r.early).sum();
        let duplicates: usize = self.rows.iter().map(|r| r.duplicates).sum();
        let activated: usize = self.rows.iter().map(|r| r.activated).sum();
        let mut wrong = Vec::new();
        if errors > 0 {
            wrong.push(format!("{errors} API errors"));
        }
        if early > 0 {
            wrong.push(format!("{early} timers fired early"));
        }
        if duplicates > 0 {
            wrong.push(format!("{duplicates} duplicate deliveries"));
        }
        if activated == 0 {
            wrong.push("no booking activated".to_owned());
        }
        if let Some((a, b)) = self.level() {
            for (what, x, y) in [
                ("gateway A RSS", a.rss[0], b.rss[0]),
                ("gateway B RSS", a.rss[1], b.rss[1]),
                ("Redis used_memory", a.redis_used, b.redis_used),
            ] {
                if y as f64 > x as f64 * 1.10 {
                    wrong.push(format!("{what} grew {x} -> {y} after the warm-up"));
                }
            }
        }
        if wrong.is_empty() {
            Ok(())
        } else {
            Err(wrong.join("; "))
        }
    }

    pub fn report(&self, minutes: u64) -> String {
        use std::fmt::Write as _;
        let mib = |b: u64| b as f64 / 1_048_576.0;
        let mut s = format!(
            "### Soak (`bench soak --minutes {minutes}`: two replicas on one Redis, nef-sim 5 ms, a keep-alive sink; 70/20/10 GET/create/delete at half the peak of {:.0} requests/s = {:.0}/s)\n\n\
             | until | requests | requests/s | p99 | max | errors | activated | timer lag p99 | max | early | events | delivery lag p99 | duplicates | RSS A | RSS B | Redis used_memory |\n\
             |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n\
             | start | | | | | | | | | | | | | {:.1} MiB | {:.1} MiB | {:.1} MiB |\n",
            self.peak,
            self.rate,
            mib(self.start_rss[0]),
            mib(self.start_rss[1]),
            mib(self.start_redis)
        );
        for r in &self.rows {
            let _ = writeln!(
                s,
                "| {:.1} min | {} | {:.0} | {:.2} ms | {:.2} ms | {} | {} | {} ms | {} ms | {} | {} | {} ms | {} | {:.1} MiB | {:.1} MiB | {:.1} MiB |",
                r.end.as_secs_f64() / 60.0,
                r.api.requests,
                r.api.per_second,
                r.api.p99_ms,
                r.api.max_ms,
                r.api.errors,
                r.activated,
                r.lag_p99_ms,
                r.lag_max_ms,
                r.early,
                r.events,
                r.event_lag_p99_ms,
                r.duplicates,
                mib(r.rss[0]),
                mib(r.rss[1]),
                mib(r.redis_used)
            );
        }
        match self.level() {
            Some((a, b)) => {
                let pct = |x: u64, y: u64| (y as f64 / x.max(1) as f64 - 1.0) * 100.0;
                let _ = writeln!(
                    s,
                    "\nAfter the warm-up ({} min: the longest booking's life plus the retention), from {:.1} to {:.1} min: RSS A {:+.1} %, RSS B {:+.1} %, Redis {:+.1} % (budget: within 10 %).",
                    WARM_UP.as_secs() / 60,
                    a.end.as_secs_f64() / 60.0,
                    b.end.as_secs_f64() / 60.0,
                    pct(a.rss[0], b.rss[0]),
                    pct(a.rss[1], b.rss[1]),
                    pct(a.redis_used, b.redis_used)
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    "\nShorter than the warm-up ({} min) and one interval past it: memory is still filling (bookings live up to 115 s and are kept 360 s after), so its level is not judged.",
                    WARM_UP.as_secs() / 60
                );
            }
        }
        s
    }
}
