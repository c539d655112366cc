//! Redis with Sentinel, for real: a primary, a replica and three `redis-sentinel`s. A kill -9
//! of the primary while creates run: the store follows the promotion without a restart, no
//! acknowledged create is lost, and a create refused because replicas did not confirm it is
//! not kept.

use super::tests::settings;
use super::*;
use crate::testing::sentinel::{MASTER, RedisSentinel};
use booking::BookingStore;
use std::sync::Arc;
use std::time::Instant;

/// Each test runs five Redis processes and kills one: one test at a time, so that a loaded
/// two-core machine measures failovers, not its neighbours.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn through(set: &RedisSentinel, wait: Option<WaitReplicas>) -> RedisSettings {
    RedisSettings {
        sentinel: Some(SentinelSettings {
            master_name: MASTER.into(),
            addresses: set.addresses(),
            sentinel_username: None,
            sentinel_password: None,
            username: None,
            password: None,
            db: 0,
            tls: false,
        }),
        wait,
        connect_timeout: Duration::from_secs(2),
        ..settings(Vec::new(), false)
    }
}

/// The two checks below run in this order in one test. The failover check has failed twice
/// (of some twenty full runs) by staying on a demoted node for 60 s, writes refused
/// READONLY; not reproduced since (docs/RELIABILITY.md). Should it fail again, the store's
/// own log of each re-discovery (captured, printed with the failure) and every node's role
/// say where it stuck.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_primary_is_followed_then_an_unmet_wait_refuses_and_keeps_nothing() {
    let _one = SERIAL.lock().await;
    // The store's own account of each re-discovery, shown when the check fails.
    let _ = tracing_subscriber::fmt()
        .with_env_filter("store=debug")
        .with_test_writer()
        .try_init();
    a_killed_primary_is_followed_to_the_promoted_one_and_no_acknowledged_create_is_lost().await;
    without_a_replica_to_confirm_a_create_is_refused_and_not_kept().await;
}

async fn a_killed_primary_is_followed_to_the_promoted_one_and_no_acknowledged_create_is_lost() {
    let mut set = tokio::task::spawn_blocking(RedisSentinel::start).await.unwrap();
    let wait = WaitReplicas {
        replicas: 1,
        timeout: Duration::from_millis(300),
    };
    let store = RedisStore::connect(through(&set, Some(wait))).await.unwrap();

    let started = Instant::now();
    let (mut acked, mut refused_not_kept, mut ambiguous) = (Vec::new(), Vec::new(), 0usize);
    let (mut first_error, mut last_error) = (None::<Duration>, None::<Duration>);
    let mut killed = None;
    let mut restarted = false;
    let mut ok_after_restart = 0;
    let mut last_message = String::new();
    for n in 0u32.. {
        let at = started.elapsed();
        assert!(
            at < Duration::from_secs(60),
            "no recovery within 60 s: killed {killed:?}, restarted {restarted}, primary now {:?}, {} acknowledged, last error: {last_message}; nodes: {}",
            set.primary_port(),
            acked.len(),
            set.roles()
        );
        if killed.is_none() && at > Duration::from_secs(1) {
            killed = Some(set.kill_primary());
        }
        if let Some(old) = killed
            && !restarted
            && set.primary_port().is_some_and(|p| p != old)
        {
            // Promoted: the old primary comes back from its own data and becomes a replica,
            // so the WAIT of later creates can be met again.
            set.restart(old);
            restarted = true;
        }
        let mut b = crate::suite::sample("a", &format!("+3460{n:07}"), crate::suite::T0, 60);
        b.id = store.new_id(&b.owner, &b.device_keys);
        match store.create(&b, Some(crate::suite::T0), None).await {
            Ok(CreateOutcome::Created) => {
                acked.push(b.id);
                if restarted {
                    ok_after_restart += 1;
                }
            }
            Ok(CreateOutcome::Conflict(_)) => panic!("no two creates share a device"),
            Err(e) => {
                last_message = booking::Chain(&e).to_string();
                first_error.get_or_insert(at);
                last_error = Some(at);
                if e.to_string().contains("was not kept") {
                    refused_not_kept.push(b.id);
                } else {
                    // The connection was lost around the create: its outcome is unknown.
                    ambiguous += 1;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        if ok_after_restart >= 50 {
            break;
        }
    }
    // A replica was promoted (the loop restarts the old primary only then). On a loaded
    // machine the sentinels may fail over once more afterwards (down-after is 1 s here):
    // that is a second failover, which the store must follow too, not an error.
    assert!(restarted, "a replica was promoted");
    let window = last_error
        .unwrap_or_default()
        .saturating_sub(first_error.unwrap_or_default());
    // down-after-milliseconds 1 s, then the election and the promotion, then the restarted
    // node's sync (until then WAIT cannot be met).
    assert!(window < Duration::from_secs(20), "errors for {window:?}");
    for id in &acked {
        assert!(store.get(*id).await.unwrap().is_some(), "acknowledged create {id} lost");
    }
    for id in &refused_not_kept {
        assert!(store.get(*id).await.unwrap().is_none(), "refused create {id} was kept");
    }
    println!(
        "{} acknowledged, {} refused and removed, {ambiguous} ambiguous; errors for {window:?}",
        acked.len(),
        refused_not_kept.len()
    );
}

async fn without_a_replica_to_confirm_a_create_is_refused_and_not_kept() {
    let set = tokio::task::spawn_blocking(RedisSentinel::start).await.unwrap();
    let wait = WaitReplicas {
        replicas: 2,
        timeout: Duration::from_millis(100),
    };
    // Two replicas asked, one there: every create times out in WAIT.
    let store = RedisStore::connect(through(&set, Some(wait))).await.unwrap();
    let mut b = crate::suite::sample("a", "+34600000001", crate::suite::T0, 60);
    b.id = store.new_id(&b.owner, &b.device_keys);
    let e = store
        .create(
            &b,
            Some(crate::suite::T0),
            Some(&crate::suite::event(
                &b,
                booking::BookingStatus::Scheduled,
                crate::suite::T0,
            )),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("was not kept"), "{e}");
    assert!(store.get(b.id).await.unwrap().is_none());
    assert!(
        store.by_device(&b.device_keys).await.unwrap().is_empty(),
        "no index entry left"
    );
    assert!(
        store
            .claim_events(crate::suite::T0, 10, time::Duration::minutes(1))
            .await
            .unwrap()
            .is_empty(),
        "no event of a booking the client was refused"
    );
    assert!(store.next_due().await.unwrap().is_none(), "no timer left");
    // With one replica asked, the same create is kept.
    let store = RedisStore::connect(through(
        &set,
        Some(WaitReplicas {
            replicas: 1,
            timeout: Duration::from_millis(500),
        }),
    ))
    .await
    .unwrap();
    assert_eq!(
        store.create(&b, Some(crate::suite::T0), None).await.unwrap(),
        CreateOutcome::Created
    );
    assert!(store.get(b.id).await.unwrap().is_some());
}

/// One failover under load: four writers create for a while, the primary is killed, the
/// writers go on until the promoted primary takes writes, the old one rejoins as a replica.
/// Returns (acknowledged, acknowledged but lost).
async fn failover_under_load(set: &mut RedisSentinel, store: &Arc<RedisStore>, round: u32) -> (usize, usize) {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..4u32 {
        let (store, stop) = (store.clone(), stop.clone());
        writers.spawn(async move {
            let mut acked = Vec::new();
            for n in 0u32.. {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let phone = format!("+3461{round:02}{w}{n:05}");
                let mut b = crate::suite::sample("a", &phone, crate::suite::T0, 60);
                b.id = store.new_id(&b.owner, &b.device_keys);
                match store.create(&b, Some(crate::suite::T0), None).await {
                    Ok(CreateOutcome::Created) => acked.push(b.id),
                    _ => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
            acked
        });
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let old = set.kill_primary();
    while set.primary_port().is_none_or(|p| p == old) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    set.restart(old);
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut acked = Vec::new();
    while let Some(r) = writers.join_next().await {
        acked.extend(r.unwrap());
    }
    let mut lost = 0;
    for id in &acked {
        if store.get(*id).await.unwrap().is_none() {
            lost += 1;
        }
    }
    (acked.len(), lost)
}

/// The figure of docs/RELIABILITY.md: acknowledged-but-lost creates over many failovers,
/// with and without WAIT. Long (about 10 s a failover): run by hand,
/// `QOSGW_FAILOVERS=20 cargo test -p store twenty_failovers -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: a measurement, run by hand"]
async fn twenty_failovers_under_load_count_acknowledged_but_lost() {
    let _one = SERIAL.lock().await;
    let rounds: u32 = std::env::var("QOSGW_FAILOVERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    for wait in [
        None,
        Some(WaitReplicas {
            replicas: 1,
            timeout: Duration::from_millis(300),
        }),
    ] {
        let mut set = tokio::task::spawn_blocking(RedisSentinel::start).await.unwrap();
        let store = Arc::new(RedisStore::connect(through(&set, wait)).await.unwrap());
        let (mut acked, mut lost) = (0, 0);
        for round in 0..rounds {
            let (a, l) = failover_under_load(&mut set, &store, round).await;
            acked += a;
            lost += l;
        }
        println!(
            "WAIT {}: {rounds} failovers, {acked} creates acknowledged, {lost} of them lost",
            wait.map_or("off".to_owned(), |w| format!("{} replica(s)", w.replicas))
        );
        if wait.is_some() {
            assert_eq!(lost, 0, "with WAIT an acknowledged create was lost");
        }
    }
}
