//! Faults around the gateway (the real binary), injected by a TCP proxy (`fault-proxy`) between
//! it and Redis, the NEF or a sink, or by the NEF simulator itself. Each test ends with the
//! "nothing left" check: every booking ran its course, the NEF saw one subscription per
//! booking and one removal, none is left, and every event reached its sink once.
#![allow(clippy::disallowed_methods, reason = "tests measure against real time")]

use e2e_tests::fleet::{Received, created_per_booking, start_sim as nef, start_sink as sink};
use e2e_tests::{Gateway, start_gateway};
use fault_proxy::{Fault, FaultProxy, Upstream};
use nef_sim::NefSim;
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use store::testing::RedisServer;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Several gateways, Redis and a NEF on two cores: one test at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The gateway on `redis_url`, NEF at `nef_root`; short polls and leases as in a test.
async fn gateway(redis_url: &str, nef_root: &str, extra: &[(&str, &str)]) -> Gateway {
    let mut env = vec![
        ("QOSGW__STORE__KIND", "redis"),
        ("QOSGW__STORE__REDIS__URLS", redis_url),
        ("QOSGW__STORE__REDIS__COMMAND_TIMEOUT_MS", "500"),
        ("QOSGW__STORE__REDIS__CONNECT_TIMEOUT_MS", "500"),
        ("QOSGW_STORE_KEY_SECRET", "faults-test"),
        ("QOSGW__AUTH__ALLOW_DEV_WITH_REDIS", "true"),
        ("QOSGW__SOUTHBOUND__KIND", "nef"),
        ("QOSGW__SOUTHBOUND__NEF__API_ROOT", nef_root),
        ("QOSGW__SCHEDULER__LEASE_SECONDS", "3"),
        ("QOSGW__NOTIFICATIONS__ALLOW_INSECURE_SINKS", "true"),
        ("QOSGW__NOTIFICATIONS__POLL_INTERVAL_MS", "200"),
        ("QOSGW__LIMITS__CREATE__PER_SECOND", "0"),
        ("QOSGW__LIMITS__READ__PER_SECOND", "0"),
        ("RUST_LOG", "warn"),
    ];
    env.extend_from_slice(extra);
    start_gateway(&env).await
}

fn body(i: usize, start: OffsetDateTime, duration: u32, sink: &str) -> Value {
    e2e_tests::device_booking(i, 9, &start.format(&Rfc3339).unwrap(), duration, sink)
}

/// Creates bookings `range` (all starting at `start`), sinks taken in turn; their ids.
async fn create(
    http: &reqwest::Client,
    gw: &Gateway,
    range: std::ops::Range<usize>,
    start: OffsetDateTime,
    duration: u32,
    sinks: &[&str],
) -> Vec<String> {
    let bodies = range
        .map(|i| body(i, start, duration, sinks[i % sinks.len()]))
        .collect();
    e2e_tests::create_bookings(http, &[gw], bodies).await
}

async fn wait_until(what: &str, within: Duration, mut ok: impl FnMut() -> bool) -> Instant {
    let deadline = Instant::now() + within;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Instant::now()
}

/// The "nothing left" check: every booking TERMINATED after its full course, one
/// subscription each and one removal, none left at the NEF, each event at its sink once.
async fn nothing_left(http: &reqwest::Client, gw: &Gateway, sim: &NefSim, ids: &[String], got: &Received) {
    for id in ids {
        let mut b = gw.booking(http, id).await;
        for _ in 0..600 {
            if b["bookingStatus"] == "TERMINATED" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            b = gw.booking(http, id).await;
        }
        assert_eq!(b["bookingStatus"], "TERMINATED", "{b}");
        assert_eq!(b["statusInfo"], "DURATION_EXPIRED", "{b}");
    }
    let created = created_per_booking(sim);
    for id in ids {
        assert_eq!(created.get(id), Some(&1), "subscriptions of {id}");
    }
    let deletes = sim
        .requests_of("DELETE")
        .into_iter()
        .filter(|r| r.status == 204)
        .count();
    assert_eq!(deletes, ids.len(), "one removal each");
    assert!(
        sim.subscriptions().is_empty(),
        "{} left at the NEF",
        sim.subscriptions().len()
    );
    // Events: SCHEDULED, ACTIVATED, TERMINATED of each, each delivered once.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut per_id: HashMap<String, usize> = HashMap::new();
    let mut per_booking: HashMap<String, usize> = HashMap::new();
    for (_, e) in got.lock().unwrap().iter() {
        *per_id
            .entry(e["id"].as_str().unwrap_or_default().to_owned())
            .or_default() += 1;
        *per_booking
            .entry(e["data"]["bookingId"].as_str().unwrap_or_default().to_owned())
            .or_default() += 1;
    }
    assert!(per_id.values().all(|n| *n == 1), "an event was delivered twice");
    for id in ids {
        assert_eq!(per_booking.get(id), Some(&3), "events of {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_blackholed_for_five_seconds_costs_prompt_503s_and_every_timer_fires_after() {
    let _one = SERIAL.lock().await;
    let redis = RedisServer::start();
    let proxy = FaultProxy::start(Upstream::Unix(redis.socket())).await.unwrap();
    let sim = nef().await;
    let (sink, got) = sink().await;
    let gw = gateway(&proxy.redis_url(), sim.url().as_str(), &[]).await;
    let http = reqwest::Client::new();
    let start = OffsetDateTime::now_utc() + time::Duration::seconds(4);
    // Windows that outlast the partition (one that passes during it ends without QoS).
    let ids = create(&http, &gw, 0..50, start, 12, &[&sink]).await;

    // The partition begins before the start, so the start timers fall due during it.
    tokio::time::sleep(Duration::try_from(start - OffsetDateTime::now_utc()).unwrap() - Duration::from_secs(1)).await;
    proxy.set(Fault::Blackhole);
    let cut_at = Instant::now();
    for i in 50..55 {
        let t = Instant::now();
        let res = http
            .post(format!("{}/device-qos-bookings", gw.base))
            .bearer_auth(&gw.token)
            .header("x-correlator", "during-partition")
            .json(&body(i, start + time::Duration::hours(1), 3, &sink))
            .send()
            .await
            .unwrap();
        let took = t.elapsed();
        assert_eq!(res.status(), 503);
        assert_eq!(res.headers()["x-correlator"], "during-partition");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["code"], "UNAVAILABLE", "{v}");
        // command_timeout_ms 500, plus a loaded machine's slack.
        assert!(took < Duration::from_millis(1500), "a 503 took {took:?}");
    }
    assert!(
        created_per_booking(&sim).is_empty(),
        "nothing activates without its store"
    );
    tokio::time::sleep(Duration::from_secs(5).saturating_sub(cut_at.elapsed())).await;
    proxy.set(Fault::Pass);
    let healed = Instant::now();
    let all = wait_until("every due booking to activate", Duration::from_secs(10), || {
        created_per_booking(&sim).len() >= ids.len()
    })
    .await;
    let after = all - healed;
    // The engine claims again 200 ms after a failed claim; each activation is a NEF call.
    assert!(
        after < Duration::from_secs(1),
        "the last activation came {after:?} after Redis returned"
    );
    nothing_left(&http, &gw, &sim, &ids, &got).await;
    println!("all 50 activated {after:?} after Redis returned");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nef_that_resets_after_acting_on_the_post_leaves_one_subscription() {
    let _one = SERIAL.lock().await;
    let redis = RedisServer::start();
    let sim = nef().await;
    let nef_addr = sim.url().trim_start_matches("http://").trim_end_matches('/').to_owned();
    let proxy = FaultProxy::start(Upstream::Tcp(nef_addr.parse().unwrap()))
        .await
        .unwrap();
    let (sink, got) = sink().await;
    let gw = gateway(&redis.url(), &proxy.http_url(), &[]).await;
    let http = reqwest::Client::new();
    let start = OffsetDateTime::now_utc() + time::Duration::seconds(3);
    let ids = create(&http, &gw, 0..1, start, 3, &[&sink]).await;
    // The NEF acts on the POST (the subscription exists), the gateway gets no answer.
    proxy.set(Fault::CutAnswer(0));
    gw.wait_for_status(&http, &ids[0], "SCHEDULED").await;
    wait_until("the activation", Duration::from_secs(15), || proxy.cut() == 1).await;
    wait_until("the booking to activate", Duration::from_secs(15), || {
        !created_per_booking(&sim).is_empty() && !sim.subscriptions().is_empty()
    })
    .await;
    assert_eq!(sim.subscriptions().len(), 1, "adopted, not created twice");
    nothing_left(&http, &gw, &sim, &ids, &got).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nef_answering_503_for_ten_seconds_during_a_burst_of_1000_activates_each_once_after() {
    let _one = SERIAL.lock().await;
    let redis = RedisServer::start();
    let sim = nef().await;
    let (sink, got) = sink().await;
    let gw = gateway(&redis.url(), sim.url().as_str(), &[]).await;
    let http = reqwest::Client::new();
    let start = OffsetDateTime::now_utc() + time::Duration::seconds(12);
    // Long enough to outlast the outage: a window that passes while the NEF refuses ends
    // without QoS (and is not what this test is about).
    let ids = create(&http, &gw, 0..1000, start, 25, &[&sink]).await;
    assert!(OffsetDateTime::now_utc() < start, "creating took past the start");
    tokio::time::sleep(Duration::try_from(start - OffsetDateTime::now_utc()).unwrap_or_default()).await;
    sim.unavailable_for(Duration::from_secs(10));
    let began = Instant::now();
    tokio::time::sleep(Duration::from_secs(9)).await;
    assert!(
        created_per_booking(&sim).is_empty(),
        "nothing activated while the NEF refused"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while created_per_booking(&sim).len() < 1000 {
        if Instant::now() > deadline {
            let created = created_per_booking(&sim);
            let missing = ids.iter().find(|id| !created.contains_key(*id)).unwrap();
            let posts = sim.requests_of("POST");
            let mut by_status: HashMap<u16, usize> = HashMap::new();
            for r in &posts {
                *by_status.entry(r.status).or_default() += 1;
            }
            panic!(
                "{} of 1000 activated; POSTs by status {by_status:?}; one missing: {}",
                created.len(),
                gw.booking(&http, missing).await
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("all 1000 activated {:?} after the NEF began refusing", began.elapsed());
    nothing_left(&http, &gw, &sim, &ids, &got).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_blackholed_for_thirty_seconds_gets_its_events_after_and_slows_no_other() {
    let _one = SERIAL.lock().await;
    let redis = RedisServer::start();
    let sim = nef().await;
    let (good, good_got) = sink().await;
    let (bad, bad_got) = sink().await;
    let bad_addr = bad.trim_start_matches("http://").trim_end_matches("/events").to_owned();
    let proxy = FaultProxy::start(Upstream::Tcp(bad_addr.parse().unwrap()))
        .await
        .unwrap();
    let bad_url = format!("{}/events", proxy.http_url());
    let gw = gateway(
        &redis.url(),
        sim.url().as_str(),
        &[("QOSGW__NOTIFICATIONS__TIMEOUT_MS", "2000")],
    )
    .await;
    let http = reqwest::Client::new();
    proxy.set(Fault::Blackhole);
    let cut_at = Instant::now();
    let start = OffsetDateTime::now_utc() + time::Duration::seconds(4);
    let ids = create(&http, &gw, 0..200, start, 3, &[&good, &bad_url]).await;
    let (good_ids, bad_ids): (Vec<_>, Vec<_>) = ids.iter().cloned().enumerate().partition(|(i, _)| i % 2 == 0);
    let good_ids: Vec<String> = good_ids.into_iter().map(|(_, id)| id).collect();
    let bad_ids: Vec<String> = bad_ids.into_iter().map(|(_, id)| id).collect();
    // The healthy sink gets all three events of each of its bookings while the other is dark.
    let done = wait_until("the healthy sink's events", Duration::from_secs(20), || {
        good_got.lock().unwrap().len() >= good_ids.len() * 3
    })
    .await;
    assert!(done - cut_at < Duration::from_secs(15), "the healthy sink was slowed");
    // Its events were each on time: none later than 2 s after it happened.
    for (at, e) in good_got.lock().unwrap().iter() {
        let t = OffsetDateTime::parse(e["time"].as_str().unwrap(), &Rfc3339).unwrap();
        let lag = OffsetDateTime::now_utc() - t - time::Duration::try_from(at.elapsed()).unwrap();
        assert!(
            lag < time::Duration::seconds(2),
            "an event to the healthy sink lagged {lag}"
        );
    }
    assert!(bad_got.lock().unwrap().is_empty());
    tokio::time::sleep(Duration::from_secs(30).saturating_sub(cut_at.elapsed())).await;
    proxy.set(Fault::Pass);
    wait_until(
        "the dark sink's events after it returns",
        Duration::from_secs(60),
        || {
            let got = bad_got.lock().unwrap();
            let mut ids: Vec<&str> = got.iter().filter_map(|(_, e)| e["id"].as_str()).collect();
            ids.sort_unstable();
            ids.dedup();
            ids.len() >= bad_ids.len() * 3
        },
    )
    .await;
    // Through a partition an event may arrive twice (an attempt that timed out had reached
    // the sink); the check counts distinct ids for the dark sink.
    let dark: Vec<(Instant, Value)> = {
        let mut seen = std::collections::HashSet::new();
        bad_got
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, e)| seen.insert(e["id"].as_str().unwrap_or_default().to_owned()))
            .cloned()
            .collect()
    };
    let all: Received = std::sync::Arc::new(std::sync::Mutex::new(
        good_got.lock().unwrap().iter().cloned().chain(dark).collect(),
    ));
    nothing_left(&http, &gw, &sim, &ids, &all).await;
}
