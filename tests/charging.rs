//! Charging from outside, with the real binaries on Redis: usage exported to the CHF (a
//! simulator in this process) and to files in one directory shared by the replicas. A
//! replica killed during the activations, and a CHF unreachable for 30 s, must leave every
//! booking's usage recorded once, charged once, and the two agreeing to the second.
#![allow(clippy::disallowed_methods, reason = "tests measure against real time")]

use chf_sim::ChfSim;
use e2e_tests::fleet::{replica_env, start_sim, start_sink, wait_all_terminated};
use e2e_tests::{Gateway, start_gateway_with_args};
use fault_proxy::{Fault, FaultProxy, Upstream};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use store::testing::RedisServer;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Several gateways, Redis and two simulators on two cores: one test at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The charging section: CHF and files, short leases and polls as in a test.
fn config(dir: &Path, usage_dir: &Path, chf_root: &str) -> String {
    let path = dir.join("gateway.yaml");
    std::fs::write(
        &path,
        format!(
            "charging:\n  kind: [chf, file]\n  lease_seconds: 2\n  poll_ms: 100\n  batch: 100\n  \
             file:\n    dir: {}\n  chf:\n    api_root: {chf_root}\n    connect_timeout_ms: 500\n    \
             request_timeout_ms: 1000\n    max_retries: 0\n    rating_groups: {{QOS_M: 200}}\n",
            usage_dir.display()
        ),
    )
    .unwrap();
    path.to_string_lossy().into_owned()
}

async fn replica(env: &[(String, String)], config: &str) -> Gateway {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    start_gateway_with_args(&env, &["--config", config]).await
}

/// Every record in the directory's files.
fn exported(dir: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        out.extend(text.lines().filter_map(|l| serde_json::from_str(l).ok()));
    }
    out
}

/// Waits (at most `within`) for `n` records in the files and `n` released CHF sessions, then
/// checks each booking's usage: once in the files, once at the CHF, the same seconds.
async fn assert_charged_once(usage_dir: &Path, chf: &ChfSim, ids: &[String], within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    let n = ids.len();
    loop {
        let files = exported(usage_dir).len();
        let sessions = chf.sessions();
        let released = sessions.iter().filter(|s| s.released).count();
        if files >= n && released >= n {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{files} records in files, {released} of {} CHF sessions released, of {n}",
            sessions.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let records = exported(usage_dir);
    let mut in_file: BTreeMap<String, u64> = BTreeMap::new();
    for r in &records {
        let id = r["bookingId"].as_str().unwrap().to_owned();
        assert!(
            in_file
                .insert(id.clone(), r["inPlaceSeconds"].as_u64().unwrap())
                .is_none(),
            "{id} twice"
        );
        assert_eq!(r["outcome"], "SERVED", "{r}");
    }
    let mut at_chf: BTreeMap<String, u64> = BTreeMap::new();
    for s in chf.sessions() {
        let id = s
            .api_reference
            .as_deref()
            .unwrap_or_default()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        assert!(
            at_chf.insert(id.clone(), s.used_seconds()).is_none(),
            "{id}: two sessions"
        );
        assert!(s.released && s.rating_group == Some(200), "{s:?}");
        // In order: sequence numbers 0, 1, ... with none missing.
        let seqs: Vec<u32> = s.reports.keys().copied().collect();
        assert_eq!(seqs, (0..seqs.len() as u32).collect::<Vec<_>>(), "{id}");
    }
    let mut want: Vec<&String> = ids.iter().collect();
    want.sort();
    assert_eq!(
        in_file.keys().collect::<Vec<_>>(),
        want,
        "every booking once in the files"
    );
    assert_eq!(in_file, at_chf, "files and CHF agree, booking by booking");
    let refused: Vec<_> = chf.requests().into_iter().filter(|r| r.status / 100 == 4).collect();
    assert!(refused.is_empty(), "{refused:#?}");
}

fn bodies(n: usize, start: OffsetDateTime, duration: u32, sink: &str) -> Vec<Value> {
    let start = start.format(&Rfc3339).unwrap();
    (0..n)
        .map(|i| e2e_tests::device_booking(i, 11, &start, duration, sink))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_during_activations_loses_and_repeats_no_usage() {
    let _serial = SERIAL.lock().await;
    let redis = RedisServer::start();
    let store = vec![
        ("QOSGW__STORE__KIND", "redis".to_owned()),
        ("QOSGW__STORE__REDIS__URLS", redis.url()),
    ];
    let sim = start_sim().await;
    sim.set_faults(nef_sim::Faults {
        latency_ms: 50,
        ..Default::default()
    });
    let chf = ChfSim::start("127.0.0.1:0").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let usage_dir = dir.path().join("usage");
    let config = config(dir.path(), &usage_dir, &chf.url());
    let (sink, _events) = start_sink().await;
    let env = replica_env(&store, &sim);
    // A starts first, so it holds both export leases when it dies: B must take the CHF
    // sessions A opened over from the store, and the files from the shared directory.
    let (mut a, b) = (replica(&env, &config).await, replica(&env, &config).await);
    let http = reqwest::Client::new();
    let n = 200;
    let start = (OffsetDateTime::now_utc() + time::Duration::seconds(6))
        .replace_nanosecond(0)
        .unwrap();
    let ids = e2e_tests::create_bookings(&http, &[&a, &b], bodies(n, start, 12, &sink)).await;
    while sim.requests_of("POST").len() < n / 4 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            OffsetDateTime::now_utc() - start < time::Duration::seconds(20),
            "activations did not start"
        );
    }
    a.kill9().await;
    wait_all_terminated(&http, &b, &ids, Duration::from_secs(90)).await;
    assert_charged_once(&usage_dir, &chf, &ids, Duration::from_secs(30)).await;
    drop(b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chf_unreachable_for_thirty_seconds_gets_everything_afterwards_in_order() {
    let _serial = SERIAL.lock().await;
    let redis = RedisServer::start();
    let store = vec![
        ("QOSGW__STORE__KIND", "redis".to_owned()),
        ("QOSGW__STORE__REDIS__URLS", redis.url()),
    ];
    let sim = start_sim().await;
    let chf = ChfSim::start("127.0.0.1:0").await.unwrap();
    let proxy = FaultProxy::start(Upstream::Tcp(chf.url().trim_start_matches("http://").parse().unwrap()))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let usage_dir = dir.path().join("usage");
    let config = config(dir.path(), &usage_dir, &proxy.http_url());
    let (sink, _events) = start_sink().await;
    let gw = replica(&replica_env(&store, &sim), &config).await;
    let http = reqwest::Client::new();
    // The CHF drops every packet for 30 s, from before the first start until after the
    // last end.
    proxy.set(Fault::Blackhole);
    let cut_at = tokio::time::Instant::now();
    let start = (OffsetDateTime::now_utc() + time::Duration::seconds(3))
        .replace_nanosecond(0)
        .unwrap();
    let ids = e2e_tests::create_bookings(&http, &[&gw], bodies(50, start, 8, &sink)).await;
    wait_all_terminated(&http, &gw, &ids, Duration::from_secs(25)).await;
    tokio::time::sleep_until(cut_at + Duration::from_secs(30)).await;
    assert!(chf.sessions().is_empty(), "nothing got through the blackhole");
    assert_eq!(exported(&usage_dir).len(), 50, "the files do not wait for the CHF");
    proxy.set(Fault::Pass);
    assert_charged_once(&usage_dir, &chf, &ids, Duration::from_secs(30)).await;
}
