use super::*;
use crate::testing::RedisServer;

pub fn settings(urls: Vec<String>, cluster: bool) -> RedisSettings {
    RedisSettings {
        urls,
        cluster,
        prefix: "qosgw".into(),
        shards: 8,
        command_timeout: Duration::from_millis(500),
        connect_timeout: Duration::from_millis(500),
        key_secret: "test-secret".into(),
    }
}

async fn single() -> (RedisStore, RedisServer) {
    let srv = RedisServer::start();
    (
        RedisStore::connect(settings(vec![srv.url()], false)).await.unwrap(),
        srv,
    )
}

mod single_node {
    crate::suite::store_suite!(super::single().await);
}

async fn cluster() -> (RedisStore, crate::testing::RedisCluster) {
    let c = crate::testing::RedisCluster::start();
    // Many clusters start at once in a test run on two cores: allow for a slow start.
    let mut s = settings(c.urls(), true);
    s.connect_timeout = Duration::from_secs(5);
    s.command_timeout = Duration::from_secs(2);
    (RedisStore::connect(s).await.unwrap(), c)
}

mod cluster {
    crate::suite::store_suite!(super::cluster().await);
}

#[tokio::test]
async fn key_names_never_carry_the_raw_identifier() {
    let (store, srv) = single().await;
    let mut b = crate::suite::sample("a", "+123456789", crate::suite::T0, 60);
    b.id = store.new_id(&b.owner, &b.device_keys);
    store.create(&b, Some(crate::suite::T0), None).await.unwrap();
    let keys = srv.cli(&["--scan"]);
    assert!(!keys.is_empty());
    assert!(!keys.contains("123456789"), "{keys}");
    // Every key of one booking shares one hash tag (one cluster slot).
    let tags: std::collections::HashSet<_> = keys
        .lines()
        .map(|k| k.split('}').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(tags.len(), 1, "{keys}");
}

#[tokio::test]
async fn a_stopped_redis_is_unavailable_quickly_and_recovers() {
    let (store, mut srv) = single().await;
    srv.stop();
    let started = std::time::Instant::now();
    assert!(matches!(
        store.get(BookingId::new()).await,
        Err(StoreError::Unavailable { .. })
    ));
    assert!(matches!(store.ping().await, Err(StoreError::Unavailable { .. })));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    srv.restart();
    let mut ok = false;
    for _ in 0..50 {
        if store.ping().await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "the store did not reconnect");
}
