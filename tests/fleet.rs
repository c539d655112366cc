//! What the multi-process tests share: a replica's environment, the NEF simulator, an event
//! sink, and the checks that the NEF saw each booking exactly once and each event arrived.

use crate::Gateway;
use axum::extract::State;
use axum::http::StatusCode;
use nef_sim::{NefSim, SimConfig};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Events a sink received: (arrival, the CloudEvent).
pub type Received = Arc<Mutex<Vec<(Instant, Value)>>>;

/// An event sink in this process; what it received, with the arrival time of each.
pub async fn start_sink() -> (String, Received) {
    let events: Received = Arc::default();
    let app = axum::Router::new()
        .route(
            "/events",
            axum::routing::post(|State(ev): State<Received>, body: String| async move {
                let v = serde_json::from_str(&body).unwrap_or(Value::Null);
                ev.lock().unwrap().push((Instant::now(), v));
                StatusCode::NO_CONTENT
            }),
        )
        .with_state(events.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, events)
}

/// Environment of one replica: Redis store, the simulator as its NEF, short leases so a
/// killed replica's claims come back within the test.
pub fn replica_env(store: &[(&str, String)], sim: &NefSim) -> Vec<(String, String)> {
    replica_env_with(
        store,
        &[
            ("QOSGW__SOUTHBOUND__KIND", "nef"),
            ("QOSGW__SOUTHBOUND__NEF__API_ROOT", sim.url().as_str()),
            ("QOSGW__SOUTHBOUND__NEF__CONNECT_TIMEOUT_MS", "1000"),
            ("QOSGW__SOUTHBOUND__NEF__REQUEST_TIMEOUT_MS", "2000"),
            ("QOSGW__SOUTHBOUND__NEF__MAX_RETRIES", "1"),
            ("QOSGW__SOUTHBOUND__NEF__MAX_RETRY_AFTER_MS", "1000"),
        ],
    )
}

/// The same with the PCF simulator (N5 over h2c, static api root) as the network.
pub fn pcf_replica_env(store: &[(&str, String)], sim: &pcf_sim::PcfSim) -> Vec<(String, String)> {
    replica_env_with(
        store,
        &[
            ("QOSGW__SOUTHBOUND__KIND", "pcf"),
            ("QOSGW__SOUTHBOUND__PCF__API_ROOT", sim.url().as_str()),
            ("QOSGW__SOUTHBOUND__PCF__CONNECT_TIMEOUT_MS", "1000"),
            ("QOSGW__SOUTHBOUND__PCF__REQUEST_TIMEOUT_MS", "2000"),
            ("QOSGW__SOUTHBOUND__PCF__MAX_RETRIES", "1"),
            ("QOSGW__SOUTHBOUND__PCF__MAX_RETRY_AFTER_MS", "1000"),
        ],
    )
}

fn replica_env_with(store: &[(&str, String)], southbound: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = store.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    for (k, v) in southbound.iter().copied().chain([
        // Timer claims are short (the default, 3 s) and renewed while their network call
        // runs; event-delivery leases are short so a killed replica's events come back in
        // the test.
        ("QOSGW__SCHEDULER__LEASE_SECONDS", "3"),
        ("QOSGW__NOTIFICATIONS__LEASE_SECONDS", "8"),
        ("QOSGW__NOTIFICATIONS__ALLOW_INSECURE_SINKS", "true"),
        ("QOSGW__NOTIFICATIONS__POLL_INTERVAL_MS", "200"),
        ("QOSGW_STORE_KEY_SECRET", "replicas-test"),
        // Each replica prints its own development token; the tests use each with its replica.
        ("QOSGW__AUTH__ALLOW_DEV_WITH_REDIS", "true"),
        // One client books a thousand devices and polls them all: no per-client rate limit.
        ("QOSGW__LIMITS__CREATE__PER_SECOND", "0"),
        ("QOSGW__LIMITS__READ__PER_SECOND", "0"),
        ("RUST_LOG", "warn"),
    ]) {
        env.push((k.to_owned(), v.to_owned()));
    }
    env
}

/// The NEF simulator (Rel-17), in this process.
pub async fn start_sim() -> NefSim {
    NefSim::start(
        "127.0.0.1:0",
        SimConfig {
            release: 17,
            ..SimConfig::default()
        },
    )
    .await
    .unwrap()
}

/// Polls every booking (twice a second, at most `timeout`) until all are TERMINATED.
pub async fn wait_all_terminated(
    http: &reqwest::Client,
    gw: &Gateway,
    ids: &[String],
    timeout: Duration,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let mut all = Vec::new();
        let mut pending = 0;
        for id in ids {
            let b = gw.booking(http, id).await;
            if b["bookingStatus"] != "TERMINATED" {
                pending += 1;
            }
            all.push(b);
        }
        if pending == 0 {
            return all;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{pending} bookings not TERMINATED in time"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// What the NEF saw: one POST per booking, one successful DELETE per subscription, nothing left.
pub fn assert_exactly_once(sim: &NefSim, n: usize) {
    let posts = sim.requests_of("POST");
    let created: Vec<_> = posts.iter().filter(|r| r.status == 201).collect();
    let destinations: HashSet<_> = created
        .iter()
        .map(|r| {
            r.body.as_ref().unwrap()["notificationDestination"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(created.len(), n, "subscriptions created");
    assert_eq!(destinations.len(), n, "a booking got two subscriptions");
    let deletes: Vec<_> = sim
        .requests_of("DELETE")
        .into_iter()
        .filter(|r| r.status == 204)
        .collect();
    let deleted: HashSet<_> = deletes.iter().map(|r| r.path.clone()).collect();
    assert_eq!(deletes.len(), n, "successful DELETEs");
    assert_eq!(deleted.len(), n, "a subscription was deleted twice");
    assert!(
        sim.subscriptions().is_empty(),
        "{} subscriptions left at the NEF",
        sim.subscriptions().len()
    );
}

/// Every booking's three statuses reached the sink; a repeated delivery keeps its event id.
pub fn assert_events(events: &Received, ids: &[String]) {
    let events = events.lock().unwrap();
    let mut per_booking: HashMap<String, HashMap<String, HashSet<String>>> = HashMap::new();
    for (_, e) in events.iter() {
        let id = e["data"]["bookingId"].as_str().unwrap_or_default().to_owned();
        let status = e["data"]["bookingStatus"].as_str().unwrap_or_default().to_owned();
        per_booking
            .entry(id)
            .or_default()
            .entry(status)
            .or_default()
            .insert(e["id"].as_str().unwrap_or_default().to_owned());
    }
    for id in ids {
        let statuses = per_booking.get(id).unwrap_or_else(|| panic!("no events for {id}"));
        for s in ["SCHEDULED", "ACTIVATED", "TERMINATED"] {
            let event_ids = statuses.get(s).unwrap_or_else(|| panic!("no {s} event for {id}"));
            assert_eq!(event_ids.len(), 1, "{s} of {id} sent as different events");
        }
    }
}

/// The booking id a NEF request belongs to (from its notification destination).
pub fn booking_of(r: &nef_sim::Recorded) -> Option<String> {
    let dest = r.body.as_ref()?["notificationDestination"].as_str()?;
    Some(dest.split("/bookings/").nth(1)?.split('/').next()?.to_owned())
}

/// Subscriptions the NEF created, per booking.
pub fn created_per_booking(sim: &NefSim) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for r in sim.requests_of("POST").iter().filter(|r| r.status == 201) {
        if let Some(id) = booking_of(r) {
            *m.entry(id).or_default() += 1;
        }
    }
    m
}
