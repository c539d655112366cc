//! Several gateway processes (the real binary) on one Redis, with the NEF simulator and an
//! event sink in this process: every NEF POST and DELETE happens exactly once, every booking
//! ends TERMINATED, a replica killed with SIGKILL mid-activation loses and duplicates nothing,
//! concurrent overlapping creates give exactly one 201, and the same runs on a Redis Cluster.
#![allow(clippy::disallowed_methods, reason = "tests and examples compare with real time")]

use e2e_tests::fleet::{assert_events, assert_exactly_once, replica_env, start_sim, start_sink, wait_all_terminated};
use e2e_tests::{Gateway, start_gateway};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;
use store::testing::{RedisCluster, RedisServer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// These tests each run two gateways, Redis and a NEF on two cores: one at a time, so that
/// timing assertions measure the gateway and not the neighbours.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn start(env: &[(String, String)]) -> Gateway {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    start_gateway(&env).await
}

fn body(i: usize, start: OffsetDateTime, duration: u32, sink: &str) -> Value {
    e2e_tests::device_booking(i, 8, &start.format(&Rfc3339).unwrap(), duration, sink)
}

/// Creates `n` bookings, spread over both replicas, starting 6 to 10 s from now.
async fn create_all(http: &reqwest::Client, gws: &[&Gateway], n: usize, duration: u32, sink: &str) -> Vec<String> {
    let t0 = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() + time::Duration::seconds(6);
    let bodies = (0..n)
        .map(|i| {
            body(
                i,
                t0 + time::Duration::milliseconds((i % 40) as i64 * 100),
                duration,
                sink,
            )
        })
        .collect();
    let ids = e2e_tests::create_bookings(http, gws, bodies).await;
    assert!(
        OffsetDateTime::now_utc() < t0,
        "creating took too long: starts already passed"
    );
    ids
}

async fn many_bookings_on_two_replicas(store: Vec<(&str, String)>, n: usize) {
    let sim = start_sim().await;
    let (sink, events) = start_sink().await;
    let env = replica_env(&store, &sim);
    let (a, b) = (start(&env).await, start(&env).await);
    let http = reqwest::Client::new();
    let ids = create_all(&http, &[&a, &b], n, 3, &sink).await;
    let all = wait_all_terminated(&http, &b, &ids, Duration::from_secs(90)).await;
    assert!(
        all.iter().all(|x| x["statusInfo"] == "DURATION_EXPIRED"),
        "every booking ran its full course"
    );
    assert_exactly_once(&sim, n);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_events(&events, &ids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_bookings_on_two_replicas_hit_the_nef_exactly_once() {
    let _serial = SERIAL.lock().await;
    let redis = RedisServer::start();
    many_bookings_on_two_replicas(
        vec![
            ("QOSGW__STORE__KIND", "redis".into()),
            ("QOSGW__STORE__REDIS__URLS", redis.url()),
        ],
        1000,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_runs_on_a_three_node_redis_cluster() {
    let _serial = SERIAL.lock().await;
    let cluster = RedisCluster::start();
    many_bookings_on_two_replicas(
        vec![
            ("QOSGW__STORE__KIND", "redis".into()),
            ("QOSGW__STORE__REDIS__CLUSTER", "true".into()),
            ("QOSGW__STORE__REDIS__URLS", cluster.urls().join(",")),
        ],
        300,
    )
    .await;
}

/// 200 bookings of 15 s on two replicas against a slow NEF; replica A is SIGKILLed in the
/// middle of the activations and restarted (`restart`) or left dead. Every booking must run its
/// course, the NEF must see each exactly once, and every event must arrive.
async fn kill_a_replica_during_activations(restart: bool) {
    let _serial = SERIAL.lock().await;
    let redis = RedisServer::start();
    let store = vec![
        ("QOSGW__STORE__KIND", "redis".to_owned()),
        ("QOSGW__STORE__REDIS__URLS", redis.url()),
    ];
    let sim = start_sim().await;
    // A slow NEF keeps activations in flight when the replica dies.
    sim.set_faults(nef_sim::Faults {
        latency_ms: 50,
        ..Default::default()
    });
    let (sink, events) = start_sink().await;
    let env = replica_env(&store, &sim);
    let (mut a, b) = (start(&env).await, start(&env).await);
    let http = reqwest::Client::new();
    let n = 200;
    let ids = create_all(&http, &[&a, &b], n, 15, &sink).await;
    // Kill A in the middle of the activations (starts run from +6 s to +10 s).
    let first_start = OffsetDateTime::now_utc();
    while sim.requests_of("POST").len() < n / 4 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            OffsetDateTime::now_utc() - first_start < time::Duration::seconds(20),
            "activations did not start"
        );
    }
    a.kill9().await;
    let reader = if restart {
        tokio::time::sleep(Duration::from_secs(1)).await;
        a.restart().await;
        &a
    } else {
        &b
    };
    let all = wait_all_terminated(&http, reader, &ids, Duration::from_secs(90)).await;
    let unserved: Vec<_> = all.iter().filter(|x| x["statusInfo"] != "DURATION_EXPIRED").collect();
    assert!(unserved.is_empty(), "bookings did not run their course: {unserved:?}");
    sim.set_faults(nef_sim::Faults::default());
    assert_exactly_once(&sim, n);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_events(&events, &ids);
    drop(b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_while_activating_loses_and_duplicates_nothing() {
    kill_a_replica_during_activations(true).await;
}

/// Killed and never restarted: the other replica takes the claims over when their short lease
/// ends (well within the 15 s bookings, which a 60 s lease would have let pass unserved) and
/// adopts the subscriptions the dead one created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_for_good_hands_its_claims_over_within_the_lease() {
    kill_a_replica_during_activations(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_overlapping_creates_on_two_replicas_give_one_201() {
    let _serial = SERIAL.lock().await;
    let redis = RedisServer::start();
    let sim = start_sim().await;
    let env = replica_env(
        &[
            ("QOSGW__STORE__KIND", "redis".into()),
            ("QOSGW__STORE__REDIS__URLS", redis.url()),
        ],
        &sim,
    );
    let (a, b) = (start(&env).await, start(&env).await);
    let http = reqwest::Client::new();
    let start_at = OffsetDateTime::now_utc() + time::Duration::hours(1);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let gw = if i % 2 == 0 { &a } else { &b };
        let (url, token) = (format!("{}/device-qos-bookings", gw.base), gw.token.clone());
        // Same device, windows shifted by seconds: all overlap.
        let b = body(7, start_at + time::Duration::seconds(i), 600, "https://203.0.113.50/cb");
        let http = http.clone();
        tasks.push(tokio::spawn(async move {
            http.post(url)
                .bearer_auth(token)
                .json(&b)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    assert_eq!(codes.iter().filter(|c| **c == 201).count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 409).count(), 19, "{codes:?}");
}

/// SIGTERM under load, as Kubernetes stops a pod. Replica A holds activations in flight at a
/// slow NEF (claims with a 30 s lease); B starts after A claimed them. On SIGTERM A reports
/// not ready at once and keeps serving through the drain delay (every request of a client
/// that leaves when readiness turns false gets its answer, no reset), cuts off what outlasts
/// the grace period and gives its claims back: B activates those bookings long before the
/// lease would have run out, adopting what A had created (one subscription each); A exits
/// within delay + grace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_requests_and_hands_claims_over_without_waiting_for_the_lease() {
    let _serial = SERIAL.lock().await;
    let redis = RedisServer::start();
    let store = vec![
        ("QOSGW__STORE__KIND", "redis".to_owned()),
        ("QOSGW__STORE__REDIS__URLS", redis.url()),
    ];
    let sim = start_sim().await;
    sim.set_faults(nef_sim::Faults {
        latency_ms: 4_000,
        ..Default::default()
    });
    let (sink, _events) = start_sink().await;
    let mut env = replica_env(&store, &sim);
    let admin = e2e_tests::free_port();
    for (k, v) in [
        ("QOSGW__SCHEDULER__LEASE_SECONDS", "30".to_owned()),
        ("QOSGW__SOUTHBOUND__NEF__REQUEST_TIMEOUT_MS", "10000".to_owned()),
        ("QOSGW__SERVER__SHUTDOWN_DELAY_MS", "1000".to_owned()),
        ("QOSGW__SERVER__SHUTDOWN_GRACE_MS", "1500".to_owned()),
    ] {
        env.push((k.to_owned(), v));
    }
    let mut env_a = env.clone();
    env_a.push(("QOSGW__SERVER__ADMIN_LISTEN".into(), format!("127.0.0.1:{admin}")));
    let mut a = start(&env_a).await;
    let http = reqwest::Client::new();
    let n = 4;
    let ids = create_all(&http, &[&a], n, 60, &sink).await;
    // Every activation is at the NEF, from A (the only replica so far), waiting for answers.
    let waited = std::time::Instant::now();
    while sim.requests_of("POST").len() < n {
        assert!(waited.elapsed() < Duration::from_secs(20), "activations did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let b = start(&env).await;

    // A client polling A until A's readiness turns false (plus a little load-balancer lag).
    let load = {
        let (http, base, token, id) = (http.clone(), a.base.clone(), a.token.clone(), ids[0].clone());
        let ready_url = format!("http://127.0.0.1:{admin}/readyz");
        tokio::spawn(async move {
            let (mut answered, mut failed) = (0usize, Vec::new());
            let mut left_at: Option<std::time::Instant> = None;
            loop {
                if left_at.is_none()
                    && http
                        .get(&ready_url)
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0)
                        != 200
                {
                    left_at = Some(std::time::Instant::now());
                }
                if left_at.is_some_and(|t| t.elapsed() > Duration::from_millis(200)) {
                    return (answered, failed);
                }
                match http
                    .get(format!("{base}/device-qos-bookings/{id}"))
                    .bearer_auth(&token)
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 200 => answered += 1,
                    Ok(r) => failed.push(format!("status {}", r.status())),
                    Err(e) => failed.push(e.to_string()),
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let terminated = std::time::Instant::now();
    // Delay 1 s + grace 1.5 s, with room for a loaded machine; far below the 30 s lease.
    assert!(
        a.terminate(Duration::from_secs(8)).await,
        "A did not exit cleanly in time"
    );
    let exited = terminated.elapsed();
    let (answered, failed) = load.await.unwrap();
    assert!(answered > 0, "the load never reached A");
    assert!(failed.is_empty(), "clients saw errors while A drained: {failed:?}");

    // B takes the given-back claims at once and adopts A's subscriptions (the NEF is quick
    // again: what is measured is when B starts, not the NEF).
    sim.set_faults(nef_sim::Faults::default());
    for id in &ids {
        let mut status = Value::Null;
        for _ in 0..300 {
            status = b.booking(&http, id).await["bookingStatus"].clone();
            if status == "ACTIVATED" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(status, "ACTIVATED", "{id} after {:?}", terminated.elapsed());
    }
    let handed_over = terminated.elapsed();
    assert!(
        handed_over < Duration::from_secs(20),
        "B activated after {handed_over:?}: it waited for the lease"
    );
    let created = sim.requests_of("POST").into_iter().filter(|r| r.status == 201).count();
    assert_eq!(created, n, "a booking got a second subscription");
    assert_eq!(sim.subscriptions().len(), n);
    eprintln!("A exited {exited:?} after SIGTERM; B had every booking active after {handed_over:?}");
}

/// Capacity admission is one atomic step across replicas: 50 simultaneous creates for one
/// pool of capacity 10 (the same window, 50 devices), half through each replica, admit
/// exactly 10; the other 40 are answered TERMINATED/BOOKING_DECLINED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_simultaneous_creates_on_two_replicas_fill_a_pool_of_ten_exactly() {
    let _serial = SERIAL.lock().await;
    let redis = RedisServer::start();
    let sim = start_sim().await;
    let (sink, _events) = start_sink().await;
    let env = replica_env(
        &[
            ("QOSGW__STORE__KIND", "redis".to_owned()),
            ("QOSGW__STORE__REDIS__URLS", redis.url()),
        ],
        &sim,
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("capacity.yaml");
    std::fs::write(
        &config,
        "capacity:\n  pools:\n    - name: frankfurt\n      regions: [{type: circle, latitude: 50.1, longitude: 8.6, radius: 500}]\n      profiles: {QOS_M: 10}\n",
    )
    .unwrap();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let args = ["--config", config.to_str().unwrap()];
    let (a, b) = (
        e2e_tests::start_gateway_with_args(&env, &args).await,
        e2e_tests::start_gateway_with_args(&env, &args).await,
    );
    let http = reqwest::Client::new();
    let start = OffsetDateTime::now_utc() + time::Duration::minutes(5);
    let mut tasks = Vec::new();
    for i in 0..50 {
        let gw = if i % 2 == 0 { &a } else { &b };
        let req = http
            .post(format!("{}/device-qos-bookings", gw.base))
            .bearer_auth(&gw.token)
            .json(&body(i, start, 600, &sink));
        tasks.push(tokio::spawn(async move {
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), 201);
            res.json::<Value>().await.unwrap()
        }));
    }
    let mut admitted = 0;
    let mut declined = 0;
    for t in tasks {
        let b = t.await.unwrap();
        match (b["bookingStatus"].as_str(), b["statusInfo"].as_str()) {
            (Some("SCHEDULED"), None) => admitted += 1,
            (Some("TERMINATED"), Some("BOOKING_DECLINED")) => declined += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((admitted, declined), (10, 40));
}

/// QoS Booking and Assignment's `remainingDevices` is exact across replicas: 50 simultaneous
/// assigns of one device each to a reservation for 10, half through each replica, assign
/// exactly 10 (the others: 409 INCOMPATIBLE_STATE); the NEF gets exactly 10 subscriptions at
/// the start; a release frees a slot that the next assign takes, activated at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_simultaneous_assigns_on_two_replicas_never_exceed_num_devices() {
    let _serial = SERIAL.lock().await;
    let redis = RedisServer::start();
    let sim = start_sim().await;
    let env = replica_env(
        &[
            ("QOSGW__STORE__KIND", "redis".to_owned()),
            ("QOSGW__STORE__REDIS__URLS", redis.url()),
        ],
        &sim,
    );
    let (a, b) = (start(&env).await, start(&env).await);
    let ba = |gw: &Gateway| gw.base.replace("/qos-booking/v0.2", "/qos-booking-and-assignment/v0.2");
    let http = reqwest::Client::new();
    let start_at = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() + time::Duration::seconds(8);
    let created: Value = http
        .post(format!("{}/qos-bookings", ba(&a)))
        .bearer_auth(&a.token)
        .json(&json!({
            "numDevices": 10,
            "qosProfile": "QOS_M",
            "startTime": start_at.format(&Rfc3339).unwrap(),
            "duration": 600,
            "serviceArea": {"areaType": "CIRCLE", "center": {"latitude": 50.1, "longitude": 8.6}, "radius": 1000}
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["bookingId"].as_str().unwrap().to_owned();
    let device = |i: usize| json!({"ipv4Address": {"publicAddress": format!("203.0.113.{}", i + 1), "privateAddress": format!("10.9.0.{}", i + 1)}});
    let mut tasks = Vec::new();
    for i in 0..50 {
        let gw = if i % 2 == 0 { &a } else { &b };
        let req = http
            .post(format!("{}/qos-bookings/{id}/devices/assign", ba(gw)))
            .bearer_auth(&gw.token)
            .json(&json!({"devices": [device(i)]}));
        tasks.push(tokio::spawn(async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }));
    }
    let mut assigned = HashSet::new();
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            (201, body) => {
                assert_eq!(body["status"], "SUCCESSFUL", "{body}");
                assigned.insert(
                    body["devices"][0]["ipv4Address"]["publicAddress"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                );
            }
            (409, body) => {
                assert_eq!(body["code"], "INCOMPATIBLE_STATE", "{body}");
                refused += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((assigned.len(), refused), (10, 40));
    let listed: Value = http
        .get(format!("{}/qos-bookings/{id}/devices", ba(&b)))
        .bearer_auth(&b.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["bookingDetails"]["remainingDevices"], 0);
    let listed: HashSet<String> = listed["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["ipv4Address"]["publicAddress"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, assigned, "the reservation lists exactly the assigned devices");

    // At the start: exactly the ten, each once.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while sim.subscriptions().len() < 10 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sim.subscriptions().len(), 10);
    assert_eq!(sim.requests_of("POST").len(), 10);

    // A release (through the other replica) frees a slot; the next assign takes it and, the
    // window having begun, is activated at once.
    let one: usize = assigned
        .iter()
        .next()
        .unwrap()
        .rsplit('.')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let released = http
        .post(format!("{}/qos-bookings/{id}/devices/release", ba(&b)))
        .bearer_auth(&b.token)
        .json(&json!({"devices": [device(one - 1)]}))
        .send()
        .await
        .unwrap();
    assert_eq!(released.status(), 200);
    assert_eq!(sim.subscriptions().len(), 9);
    let late = http
        .post(format!("{}/qos-bookings/{id}/devices/assign", ba(&a)))
        .bearer_auth(&a.token)
        .json(&json!({"devices": [device(99)]}))
        .send()
        .await
        .unwrap();
    assert_eq!(late.status(), 201);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while sim.subscriptions().len() < 10 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sim.subscriptions().len(), 10);
    assert_eq!(sim.requests_of("POST").len(), 11);
}
