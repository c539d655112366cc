//! Memory: the gateway's RSS per booking on the memory store, and with 1,000,000 bookings in
//! Redis (Redis bytes per booking, the gateway's RSS, GET latency among them); start-up time.

use crate::api::{self, create_body, seed};
use crate::load::Stats;
use crate::procs::{Gateway, Redis, redis_env};
use booking::{BookingStore, Device, DeviceIpv4, Echo, NewBooking, Owner, Point, PortsSpec, ServiceArea};
use std::sync::Arc;
use std::time::Duration;
use store::{RedisSettings, RedisStore};

pub struct MemoryStoreFigures {
    pub bookings: usize,
    pub rss_before: u64,
    pub rss_after: u64,
}

/// Creates `n` bookings through the API of a memory-store gateway.
pub async fn memory_store(n: usize) -> anyhow::Result<MemoryStoreFigures> {
    let gw = Gateway::start(&[]).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = gw.rss();
    let start = api::tomorrow();
    seed(
        &gw.base(),
        &gw.token,
        (0..n as u64).map(|i| create_body(i, 0, start)).collect(),
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(MemoryStoreFigures {
        bookings: n,
        rss_before,
        rss_after: gw.rss(),
    })
}

pub struct RedisFigures {
    pub bookings: usize,
    pub redis_before: u64,
    pub redis_after: u64,
    pub gateway_rss: u64,
    pub get: Stats,
}

/// Stores `n` bookings straight through the store (as the API would; 64 in flight), then
/// starts a gateway on that Redis and reads among them.
pub async fn redis_million(n: usize) -> anyhow::Result<RedisFigures> {
    let redis = Redis::start().await?;
    let store = connect(vec![redis.url.clone()], false).await?;
    let redis_before = redis.used_memory()?;
    let ids = store_live(store, n, 0xCB00_0000, 0x0A00_0000).await?;
    let redis_after = redis.used_memory()?;
    let gw = Gateway::start(&redis_env(&redis)).await?;
    let get = api::get_spread(ids);
    let get = api::drive(gw.base(), Some(gw.token.clone()), None, get).await?;
    Ok(RedisFigures {
        bookings: n,
        redis_before,
        redis_after,
        gateway_rss: gw.rss(),
        get,
    })
}

/// The store as the bench's gateways see it (their prefix, shards and key secret), to
/// store bookings straight into.
pub async fn connect(urls: Vec<String>, cluster: bool) -> anyhow::Result<Arc<RedisStore>> {
    Ok(Arc::new(
        RedisStore::connect(RedisSettings {
            urls,
            cluster,
            prefix: "qosgw".into(),
            shards: 16,
            command_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            key_secret: "bench".into(),
            tls_root_cert: None,
            sentinel: None,
            wait: None,
        })
        .await?,
    ))
}

/// Stores `n` live bookings straight through `store` (as the API would; 64 in flight), for
/// the client of the gateway's development token, one device each (public and private
/// IPv4 addresses counted up from the two bases), starting a day ahead, spread over the
/// 24 hours after that; their ids in order.
pub async fn store_live(store: Arc<RedisStore>, n: usize, public: u32, private: u32) -> anyhow::Result<Vec<String>> {
    let t0 = api::tomorrow();
    let mut ids = Vec::with_capacity(n);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let device = Device {
            phone_number: None,
            network_access_identifier: None,
            ipv4_address: Some(DeviceIpv4 {
                public_address: std::net::Ipv4Addr::from(public.wrapping_add(i as u32)),
                private_address: Some(std::net::Ipv4Addr::from(private.wrapping_add(i as u32))),
                public_port: None,
            }),
            ipv6_address: None,
            resolved: None,
        };
        // The client id the gateway's development token carries, so GETs may read them.
        let owner = Owner {
            client_id: "dev-client".into(),
            subject: None,
        };
        let id = store.new_id(&owner, &device.keys());
        ids.push(id.to_string());
        let req = NewBooking {
            qos_profile: "QOS_L".into(),
            start_time: t0 + time::Duration::seconds((i % 86_400) as i64),
            duration: 3600,
            service_area: ServiceArea::circle(
                Point {
                    latitude: 50.110924,
                    longitude: 8.682127,
                },
                500.0,
            )
            .map_err(anyhow::Error::msg)?,
            device: None,
            application_server: Some(booking::ApplicationServer {
                ipv4: Some("198.51.100.0/24".into()),
                ipv6: None,
            }),
            device_ports: Some(PortsSpec {
                ranges: vec![],
                ports: vec![5060],
            }),
            application_server_ports: None,
            sink: None,
            sink_credential: None,
            echo: Echo::default(),
            dialect: Default::default(),
        };
        let b = booking::Booking::schedule(id, owner, device, req, t0 - time::Duration::days(1));
        let store = store.clone();
        tasks.spawn(async move { store.create(&b, Some(b.start_time), None).await });
        if tasks.len() >= 64
            && let Some(r) = tasks.join_next().await
        {
            r??;
        }
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    Ok(ids)
}

/// Start-up to ready (median of `runs`), memory store, and on a Redis holding nothing.
pub async fn startup(runs: usize) -> anyhow::Result<(Duration, Duration)> {
    let mut mem = Vec::new();
    let mut red = Vec::new();
    let redis = Redis::start().await?;
    for _ in 0..runs {
        mem.push(Gateway::start(&[]).await?.started_in);
        red.push(Gateway::start(&redis_env(&redis)).await?.started_in);
    }
    mem.sort();
    red.sort();
    Ok((mem[mem.len() / 2], red[red.len() / 2]))
}
