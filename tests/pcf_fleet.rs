//! Two gateway processes (the real binary) on one Redis with `southbound.kind: pcf`, the PCF
//! simulator (N5 over h2c) and an event sink in this process: a replica SIGKILLed in the middle
//! of a burst of activations and restarted leaves exactly one app session per booking, each
//! deleted once at its end, none left, every event delivered.
#![allow(clippy::disallowed_methods, reason = "tests compare with real time")]

use e2e_tests::fleet::{assert_events, pcf_replica_env, start_sink, wait_all_terminated};
use e2e_tests::start_gateway;
use pcf_sim::{Faults, PcfSim, SimConfig};
use std::collections::HashMap;
use std::time::Duration;
use store::testing::RedisServer;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The booking a recorded N5 create is for (its `notifUri` is under the booking).
fn booking_of(r: &pcf_sim::Recorded) -> Option<String> {
    let uri = r.body.as_ref()?["ascReqData"]["notifUri"].as_str()?;
    Some(uri.split("/bookings/").nth(1)?.split('/').next()?.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_burst_leaves_one_app_session_per_booking_and_none_at_the_end() {
    let redis = RedisServer::start();
    let store = vec![
        ("QOSGW__STORE__KIND", "redis".to_owned()),
        ("QOSGW__STORE__REDIS__URLS", redis.url()),
    ];
    let pcf = PcfSim::start("127.0.0.1:0", SimConfig::default()).await.unwrap();
    // A slow PCF keeps creates in flight when the replica dies.
    pcf.set_faults(Faults {
        latency_ms: 50,
        ..Faults::default()
    });
    let (sink, events) = start_sink().await;
    let env = pcf_replica_env(&store, &pcf);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (mut a, b) = (start_gateway(&env).await, start_gateway(&env).await);
    let http = reqwest::Client::new();

    // 200 bookings of 15 s, all starting at one instant 6 s from now.
    let n = 200;
    let start = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() + time::Duration::seconds(6);
    let bodies = (0..n)
        .map(|i| e2e_tests::device_booking(i, 9, &start.format(&Rfc3339).unwrap(), 15, &sink))
        .collect();
    let ids = e2e_tests::create_bookings(&http, &[&a, &b], bodies).await;
    assert!(OffsetDateTime::now_utc() < start, "creating took past the start");

    // Kill A when a quarter of the app sessions exist, then restart it.
    let creates = |pcf: &PcfSim| {
        pcf.requests_of("POST")
            .into_iter()
            .filter(|r| r.path.ends_with("/app-sessions"))
            .count()
    };
    while creates(&pcf) < n / 4 {
        assert!(
            OffsetDateTime::now_utc() - start < time::Duration::seconds(20),
            "activations did not start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.kill9().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    a.restart().await;

    let all = wait_all_terminated(&http, &a, &ids, Duration::from_secs(90)).await;
    let unserved: Vec<_> = all.iter().filter(|x| x["statusInfo"] != "DURATION_EXPIRED").collect();
    assert!(unserved.is_empty(), "bookings did not run their course: {unserved:?}");
    pcf.set_faults(Faults::default());

    // One app session created per booking; a create repeated after the kill got 303 (the
    // same session), never a second 201.
    let mut created: HashMap<String, usize> = HashMap::new();
    let mut see_other = 0;
    for r in pcf
        .requests_of("POST")
        .iter()
        .filter(|r| r.path.ends_with("/app-sessions"))
    {
        match r.status {
            201 => {
                *created
                    .entry(booking_of(r).expect("a notifUri under a booking"))
                    .or_default() += 1
            }
            303 => see_other += 1,
            _ => {}
        }
    }
    assert_eq!(created.len(), n, "bookings with an app session");
    let doubled: Vec<_> = created.iter().filter(|(_, c)| **c > 1).collect();
    assert!(doubled.is_empty(), "bookings with two app sessions: {doubled:?}");
    let deleted: Vec<_> = pcf
        .requests_of("POST")
        .into_iter()
        .filter(|r| r.path.ends_with("/delete") && r.status == 204)
        .collect();
    assert_eq!(deleted.len(), n, "one successful delete per app session");
    assert!(pcf.sessions().is_empty(), "{} app sessions left", pcf.sessions().len());
    println!("creates answered 303 (adopted after the kill): {see_other}");
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_events(&events, &ids);
    drop(b);
}
