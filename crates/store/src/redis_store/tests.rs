use super::*;
use crate::record;
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
        tls_root_cert: None,
        sentinel: None,
        wait: None,
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

/// A booking written by the previous layout (a hash record, a key per device, text ids, the
/// client's id in clear in the live counter, an undelivered event) is moved when a replica
/// connects, and reads, indexes, counts, fires and delivers as before.
#[tokio::test]
async fn layout_1_data_is_moved_when_a_replica_connects() {
    let srv = RedisServer::start();
    // Connected to an empty Redis: moves nothing, marks nothing.
    let keys = RedisStore::connect(settings(vec![srv.url()], false)).await.unwrap();
    assert_eq!(srv.cli(&["--scan"]).trim(), "");
    let mut b = crate::suite::sample("client-a", "+123456789", crate::suite::T0, 60);
    b.id = keys.new_id(&b.owner, &b.device_keys);
    let shard = keys.shard_of_id(b.id);
    let tag = keys.tag(shard);
    let old = b.id.to_string();
    let ev = crate::suite::event(&b, booking::BookingStatus::Scheduled, crate::suite::T0);
    let mut element = format!("{}|", ev.id).into_bytes();
    element.extend(record::encode_event(&ev).unwrap());
    let mut raw = redis::Client::open(srv.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let mut pipe = redis::pipe();
    pipe.cmd("HSET")
        .arg(format!("{tag}:b:{old}"))
        .arg("v")
        .arg(b.version)
        .arg("j")
        .arg(record::encode(&b).unwrap());
    for k in &b.device_keys {
        pipe.cmd("HSET")
            .arg(keys.old_index_key(shard, k))
            .arg(&old)
            .arg(format!("1;{};{};client-a", ms(b.start_time), ms(b.end_time())));
    }
    pipe.cmd("ZADD")
        .arg(keys.due_key(shard))
        .arg(ms(b.start_time).to_string())
        .arg(&old);
    pipe.cmd("HSET").arg(keys.live_key(shard)).arg("client-a").arg(1);
    pipe.cmd("RPUSH").arg(format!("{tag}:ob:{old}")).arg(element);
    pipe.cmd("ZADD").arg(keys.outbox_key(shard)).arg(0).arg(&old);
    let () = pipe.query_async(&mut raw).await.unwrap();

    let store = RedisStore::connect(settings(vec![srv.url()], false)).await.unwrap();
    assert_eq!(store.get(b.id).await.unwrap().as_ref(), Some(&b));
    assert_eq!(store.by_device(&b.device_keys).await.unwrap(), vec![b.clone()]);
    assert_eq!(store.count_live("client-a").await.unwrap(), 1);
    let names = srv.cli(&["--scan"]);
    assert!(!names.contains(":d:") && !names.contains(&old), "{names}");
    let live = srv.cli(&["hkeys", &keys.live_key(shard)]);
    assert!(!live.contains("client-a"), "{live}");
    // The conflict rule sees the moved entry.
    let mut twin = crate::suite::sample("client-a", "+123456789", crate::suite::T0, 60);
    twin.id = store.new_id(&twin.owner, &twin.device_keys);
    assert_eq!(
        store.create(&twin, None, None).await.unwrap(),
        booking::CreateOutcome::Conflict(b.id)
    );
    let due = store
        .claim_due(crate::suite::T0, 10, time::Duration::seconds(5))
        .await
        .unwrap();
    assert_eq!(due, vec![b.id]);
    let events = store
        .claim_events(crate::suite::T0, 10, time::Duration::seconds(5))
        .await
        .unwrap();
    assert_eq!(events, vec![(b.id, vec![ev.clone()])]);
    store.ack_event(b.id, &ev.id, false).await.unwrap();
    // A second replica finds nothing left to move.
    let again = RedisStore::connect(settings(vec![srv.url()], false)).await.unwrap();
    assert_eq!(again.get(b.id).await.unwrap(), Some(b));
}

/// A timer created through one replica's store is announced to another replica's scheduler.
#[tokio::test]
async fn a_new_timer_is_announced_to_every_replica() {
    let srv = RedisServer::start();
    let a = RedisStore::connect(settings(vec![srv.url()], false)).await.unwrap();
    let b = RedisStore::connect(settings(vec![srv.url()], false)).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        b.watch_due(
            move |due| {
                let _ = tx.send(due);
            },
            stop,
        )
        .await
    });
    let mut booking = crate::suite::sample("a", "+123456789", crate::suite::T0, 60);
    booking.id = a.new_id(&booking.owner, &booking.device_keys);
    // Subscribing takes a moment: create until the announcement arrives (bounded).
    let mut heard = None;
    for i in 0..50 {
        let mut b = booking.clone();
        b.id = a.new_id(&b.owner, &b.device_keys);
        b.start_time = crate::suite::T0 + time::Duration::hours(i);
        a.create(&b, Some(crate::suite::T0), None).await.unwrap();
        if let Ok(Some(due)) = tokio::time::timeout(Duration::from_millis(100), rx.recv()).await {
            heard = Some(due);
            break;
        }
    }
    assert_eq!(heard, Some(crate::suite::T0));
}

/// `rediss://` to a Redis whose certificate a private CA issued: refused on the public roots,
/// accepted with the CA given (`tls_root_cert`, from `store.redis.tls_ca_file`).
#[tokio::test]
async fn rediss_with_a_private_ca_needs_that_ca() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    crate::testing::pki::ca(p, "ca");
    crate::testing::pki::leaf(p, "ca", "redis", false);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The gateway binary selects aws-lc-rs the same way (main.rs).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _server = Killed(
        std::process::Command::new("redis-server")
            .current_dir(p)
            .args(["--port", "0", "--tls-port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--tls-cert-file",
                "redis.crt",
                "--tls-key-file",
                "redis.key",
                "--tls-ca-cert-file",
                "ca.crt",
            ])
            .args(["--tls-auth-clients", "no", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let url = format!("rediss://127.0.0.1:{port}");
    let public_roots = RedisStore::connect(settings(vec![url.clone()], false)).await;
    assert!(
        public_roots.is_err(),
        "a private CA's certificate passed on the public roots"
    );
    let with_ca = RedisSettings {
        tls_root_cert: Some(std::fs::read(p.join("ca.crt")).unwrap()),
        ..settings(vec![url], false)
    };
    let store = RedisStore::connect(with_ca).await.unwrap();
    store.ping().await.unwrap();
}

/// A claim that ran on Redis but whose answer was lost (the client timed out) is claimed
/// again by the same replica's next claim, not left to wait out its lease.
#[tokio::test]
async fn a_claim_whose_answer_was_lost_is_recovered_by_the_next_claim() {
    use crate::suite::{T0, event, sample};
    use booking::BookingStatus;
    let (store, _srv) = single().await;
    let lease = time::Duration::seconds(30);
    let mut b = sample("a", "+34600000009", T0, 60);
    b.id = store.new_id(&b.owner, &b.device_keys);
    let ev = event(&b, BookingStatus::Scheduled, T0);
    store.create(&b, Some(T0), Some(&ev)).await.unwrap();
    let shard = store.shard_of_id(b.id);
    // Both claims run, as a timed-out call that still reached Redis would, and their answers
    // are dropped.
    let stamp = ms(T0 + lease);
    let mut conn = store.conn.clone();
    let mut timers = store.claim.prepare_invoke();
    timers
        .key(store.due_key(shard))
        .arg(ms(T0).to_string())
        .arg(10)
        .arg(stamp.to_string());
    let _: Vec<Vec<u8>> = timers.invoke_async(&mut conn).await.unwrap();
    let mut events = store.claim_events.prepare_invoke();
    events
        .key(store.outbox_key(shard))
        .arg(ms(T0).to_string())
        .arg(10)
        .arg(stamp.to_string())
        .arg(format!("{}:ob:", store.tag(shard)));
    let _: redis::Value = events.invoke_async(&mut conn).await.unwrap();
    assert!(
        store.claim_due(T0, 10, lease).await.unwrap().is_empty(),
        "held by the lost claim"
    );
    assert!(store.claim_events(T0, 10, lease).await.unwrap().is_empty());
    store.orphans.unanswered(orphans::Kind::Timers, shard, stamp);
    store.orphans.unanswered(orphans::Kind::Events, shard, stamp);
    let t = T0 + time::Duration::seconds(1);
    assert_eq!(store.claim_due(t, 10, lease).await.unwrap(), vec![b.id]);
    assert_eq!(store.claim_events(t, 10, lease).await.unwrap(), vec![(b.id, vec![ev])]);
    // Recovered once: the next claims find nothing more.
    assert!(store.claim_due(t, 10, lease).await.unwrap().is_empty());
}

/// A new id lands in the shard of its client and first device (the record and the device
/// index share a slot), stays a random v4 UUID, and ids of one owner differ.
#[tokio::test]
async fn new_ids_land_in_the_owners_shard_and_stay_random_v4() {
    let (store, _srv) = single().await;
    let mut seen = std::collections::HashSet::new();
    for i in 0..2000 {
        let b = crate::suite::sample(
            &format!("client-{}", i % 7),
            &format!("+49{i:09}"),
            crate::suite::T0,
            60,
        );
        let id = store.new_id(&b.owner, &b.device_keys);
        let d = store.digest(&format!("{}\u{0}{}", b.owner.client_id, b.device_keys[0]));
        let target = u16::from_be_bytes([d[0], d[1]]) % store.settings.shards;
        assert_eq!(store.shard_of_id(id), target, "id {id}");
        let text = id.to_string();
        assert_eq!(text.as_bytes()[14], b'4', "not v4: {text}");
        assert!(
            matches!(text.as_bytes()[19], b'8' | b'9' | b'a' | b'b'),
            "variant: {text}"
        );
        assert!(seen.insert(text), "a repeated id");
    }
}
