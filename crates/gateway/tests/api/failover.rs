//! The gateway on Redis with Sentinel (a primary, a replica, three real `redis-sentinel`s),
//! opt-in durability on: creates run while the primary is killed with SIGKILL. The gateway
//! follows the promotion without a restart, answers CAMARA 503s only for the failover's
//! seconds, and every booking it answered 201 for is there afterwards.

use crate::helpers::*;
use std::time::Instant;
use store::testing::sentinel::{MASTER, RedisSentinel};
use time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_sentinel_a_killed_primary_costs_seconds_of_503_and_no_acknowledged_booking() {
    let mut set = tokio::task::spawn_blocking(RedisSentinel::start).await.unwrap();
    let addresses = set.addresses();
    let app = spawn_app_with(move |s| {
        s.store.kind = gateway::settings::StoreKind::Redis;
        s.store.redis.urls = Vec::new();
        s.store.redis.sentinel.master_name = Some(MASTER.into());
        s.store.redis.sentinel.addresses = addresses;
        s.store.redis.wait_replicas = 1;
        s.store.redis.wait_timeout = std::time::Duration::from_millis(300);
        s.store.redis.shards = 4;
        s.store.redis.command_timeout = std::time::Duration::from_millis(1000);
        s.store.redis.connect_timeout = std::time::Duration::from_millis(1000);
        s.auth.allow_dev_with_redis = true;
    })
    .await;
    let started = Instant::now();
    let (mut acked, mut refused) = (Vec::new(), 0usize);
    let (mut killed, mut restarted, mut after) = (None, false, 0);
    let (mut first_503, mut last_503) = (None, None);
    for i in 0i64.. {
        let at = started.elapsed();
        assert!(
            at < std::time::Duration::from_secs(45),
            "no recovery: {refused} refused, {} booked",
            acked.len()
        );
        if killed.is_none() && acked.len() >= 20 {
            killed = Some(set.kill_primary());
        }
        if let Some(old) = killed
            && !restarted
            && set.primary_port().is_some_and(|p| p != old)
        {
            set.restart(old);
            restarted = true;
        }
        // One device, windows one after another: no two overlap.
        let r = app
            .create(booking_body(&app, "+123456789", Duration::hours(1 + i), 600))
            .await;
        match r.status {
            201 => {
                acked.push(r.body["bookingId"].as_str().unwrap().to_owned());
                after += usize::from(restarted);
            }
            _ => {
                r.assert_error(503, "UNAVAILABLE");
                assert_eq!(r.correlator.as_deref(), Some("test-corr"));
                refused += 1;
                first_503.get_or_insert(at);
                last_503 = Some(at);
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
        if after >= 20 {
            break;
        }
    }
    assert!(refused > 0, "the kill was felt");
    let window = last_503.unwrap_or_default() - first_503.unwrap_or_default();
    assert!(window < std::time::Duration::from_secs(20), "503s for {window:?}");
    for id in &acked {
        let r = app.get(id).await;
        assert_eq!(r.status, 200, "booking {id} answered 201 is lost: {}", r.body);
    }
}
