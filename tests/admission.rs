//! Network-confirmed admission from outside: two gateway processes on one Redis ask the NEF
//! simulator's PDTQ negotiation, which has room for 10 devices in the area over the window.
//! Fifty creates at once, spread over both replicas, give exactly 10 SCHEDULED and 40
//! declined with the window the network offered; a NEF down at create leaves bookings
//! REQUESTED until it answers; every negotiation is gone once the bookings are.
#![allow(clippy::disallowed_methods, reason = "tests measure against real time")]

use e2e_tests::fleet::replica_env;
use e2e_tests::{Gateway, start_gateway_with_args};
use nef_sim::pdtq::model::PdtqCapacity;
use nef_sim::{NefSim, SimConfig};
use serde_json::Value;
use std::time::Duration;
use store::testing::RedisServer;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// PDTQ on, every area name with a location, a short answer budget.
fn config(dir: &std::path::Path) -> String {
    let path = dir.join("gateway.yaml");
    let area = "{nwAreaInfo: {tais: [{plmnId: {mcc: \"262\", mnc: \"01\"}, tac: \"000001\"}]}}";
    std::fs::write(
        &path,
        format!(
            "capacity:\n  network_admission: pdtq\n  pdtq:\n    answer_within_ms: 1500\n    areas:\n      \
             city-center: {area}\n      stadium-north: {area}\n      harbour: {area}\n"
        ),
    )
    .unwrap();
    path.to_string_lossy().into_owned()
}

async fn replica(env: &[(String, String)], config: &str) -> Gateway {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    start_gateway_with_args(&env, &["--config", config]).await
}

/// Every body at once, body `i` through `gws[i % 2]`; the 201 answers, in order.
async fn create_at_once(http: &reqwest::Client, gws: &[&Gateway], bodies: Vec<Value>) -> Vec<Value> {
    let tasks: Vec<_> = bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            let gw = gws[i % gws.len()];
            let req = http
                .post(format!("{}/device-qos-bookings", gw.base))
                .bearer_auth(&gw.token)
                .json(&body);
            tokio::spawn(async move {
                let res = req.send().await.expect("create");
                assert_eq!(res.status(), 201);
                res.json::<Value>().await.expect("a booking")
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("a create"));
    }
    out
}

fn bodies(n: usize, net: u8, start: OffsetDateTime) -> Vec<Value> {
    let start = start.format(&Rfc3339).unwrap();
    (0..n)
        .map(|i| {
            let mut b = e2e_tests::device_booking(i, net, &start, 600, "http://127.0.0.1:9/events");
            b.as_object_mut().unwrap().remove("sink");
            b
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_creates_on_two_replicas_against_room_for_ten_give_exactly_ten() {
    let sim = NefSim::start(
        "127.0.0.1:0",
        SimConfig {
            release: 17,
            pdtq: PdtqCapacity {
                ues: 10,
                ..PdtqCapacity::default()
            },
            ..SimConfig::default()
        },
    )
    .await
    .unwrap();
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let env = replica_env(
        &[
            ("QOSGW__STORE__KIND", "redis".into()),
            ("QOSGW__STORE__REDIS__URLS", redis.url()),
        ],
        &sim,
    );
    let (a, b) = (replica(&env, &cfg).await, replica(&env, &cfg).await);
    let http = reqwest::Client::new();

    let start = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() + time::Duration::hours(1);
    let answers = create_at_once(&http, &[&a, &b], bodies(50, 11, start)).await;
    let scheduled: Vec<&Value> = answers.iter().filter(|v| v["bookingStatus"] == "SCHEDULED").collect();
    let declined: Vec<&Value> = answers
        .iter()
        .filter(|v| v["bookingStatus"] == "TERMINATED" && v["statusInfo"] == "BOOKING_DECLINED")
        .collect();
    assert_eq!((scheduled.len(), declined.len()), (10, 40), "{answers:#?}");
    assert!(
        declined
            .iter()
            .all(|v| v["message"].as_str().is_some_and(|m| m.contains("it offered"))),
        "{declined:#?}"
    );
    // At the network: exactly the ten, each selected, none of the declined.
    let held = sim.pdtq_subscriptions();
    assert_eq!(held.len(), 10, "{held:#?}");
    for v in held.values() {
        assert_eq!(v["selectedPolicy"], 1);
        let dest = v["notificationDestination"].as_str().unwrap();
        assert!(
            scheduled
                .iter()
                .any(|s| dest.contains(s["bookingId"].as_str().unwrap())),
            "{dest} is not a scheduled booking's"
        );
    }

    // The NEF down at create: REQUESTED, then decided once it answers (another window).
    sim.unavailable_for(Duration::from_secs(4));
    let later = start + time::Duration::hours(2);
    let waiting = create_at_once(&http, &[&a, &b], bodies(4, 12, later)).await;
    assert!(
        waiting.iter().all(|v| v["bookingStatus"] == "REQUESTED"),
        "{waiting:#?}"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    for v in &waiting {
        let id = v["bookingId"].as_str().unwrap();
        loop {
            let now = a.booking(&http, id).await;
            if now["bookingStatus"] == "SCHEDULED" {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "never decided: {now}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let mut per_booking = std::collections::HashMap::<String, usize>::new();
    for v in sim.pdtq_subscriptions().values() {
        let dest = v["notificationDestination"].as_str().unwrap().to_owned();
        *per_booking.entry(dest).or_default() += 1;
    }
    assert_eq!(per_booking.len(), 14, "one negotiation per admitted booking");
    assert!(per_booking.values().all(|n| *n == 1), "{per_booking:?}");

    // Deleted: every negotiation is gone.
    for v in scheduled.iter().copied().chain(&waiting) {
        let id = v["bookingId"].as_str().unwrap();
        let res = http
            .delete(format!("{}/device-qos-bookings/{id}", a.base))
            .bearer_auth(&a.token)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{}", res.status());
    }
    assert!(sim.pdtq_subscriptions().is_empty(), "{:#?}", sim.pdtq_subscriptions());
    assert!(sim.subscriptions().is_empty());
}
