//! Measures Redis memory per booking: starts a private `redis-server`, stores N realistic
//! bookings (record, device indexes, timer, first event) through `RedisStore`, and reports
//! `INFO memory` before and after, plus `MEMORY USAGE` of one booking's keys. Then each
//! booking is activated and ended, and the usage ledger's streams are measured: what one
//! booking's life costs there for `charging.retention_days`.
//!
//! `cargo run --release -p store --features test-support --example redis_memory -- 100000`
#![allow(clippy::disallowed_methods, reason = "tests and examples compare with real time")]

use booking::{
    ApplicationServer, BookingStore, Device, DeviceIpv4, Echo, NewBooking, PhoneNumber, Point, PortsSpec, ServiceArea,
    StatusEvent,
};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::testing::RedisServer;
use store::{RedisSettings, RedisStore};
use time::OffsetDateTime;

fn used_memory(srv: &RedisServer) -> i64 {
    srv.cli(&["info", "memory"])
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let full_echo = std::env::var("QOSGW_BENCH_ECHO").is_ok_and(|v| v == "1");
    let srv = RedisServer::start();
    let settings = RedisSettings {
        urls: vec![srv.url()],
        cluster: false,
        prefix: "qosgw".into(),
        shards: 16,
        command_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        key_secret: "bench".into(),
        tls_root_cert: None,
        sentinel: None,
        wait: None,
    };
    let store = Arc::new(RedisStore::connect(settings).await?);
    let before = used_memory(&srv);
    let t0 = OffsetDateTime::now_utc() + time::Duration::days(1);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let mut first_id = None;
    let mut stored = Vec::with_capacity(n);
    for i in 0..n {
        let phone = PhoneNumber::parse(&format!("+4915{:08}", i)).map_err(|e| e.to_string())?;
        let device = Device {
            phone_number: Some(phone),
            network_access_identifier: None,
            ipv4_address: Some(DeviceIpv4 {
                public_address: std::net::Ipv4Addr::from(0xCB00_7100u32 + i as u32),
                private_address: Some(std::net::Ipv4Addr::from(0x0A00_0000u32 + i as u32)),
                public_port: None,
            }),
            ipv6_address: None,
            resolved: None,
        };
        let owner = booking::Owner {
            client_id: format!("client-{}", i % 50),
            subject: None,
        };
        let keys = device.keys();
        let id = store.new_id(&owner, &keys);
        first_id.get_or_insert(id);
        let start = t0 + time::Duration::seconds((i % 86_400) as i64);
        // The request sent `startTime` in UTC with `Z`, a circle with an integral radius and a
        // phone number: the typed fields give all three back as sent, so the API layer writes
        // an empty echo (`camara_api::wire::Echoed`). Set QOSGW_BENCH_ECHO=1 to store the
        // full echo instead (a client sending offsets or `500.0`).
        let echo = if full_echo {
            json!([
                start.format(&time::format_description::well_known::Rfc3339)?,
                {"areaType": "CIRCLE", "center": {"latitude": 50.110924, "longitude": 8.682127}, "radius": 500},
                {"phoneNumber": device.phone_number.as_ref().map(|p| p.as_str())}
            ])
            .to_string()
        } else {
            String::new()
        };
        let req = NewBooking {
            qos_profile: "QOS_L".into(),
            start_time: start,
            duration: 3600,
            service_area: ServiceArea::circle(
                Point {
                    latitude: 50.110924,
                    longitude: 8.682127,
                },
                500.0,
            )?,
            device: None,
            application_server: Some(ApplicationServer {
                ipv4: Some("198.51.100.0/24".into()),
                ipv6: None,
            }),
            device_ports: Some(PortsSpec {
                ranges: vec![(5010, 5020)],
                ports: vec![5060, 5070],
            }),
            application_server_ports: None,
            sink: Some("https://application.example.com/notifications".into()),
            sink_credential: Some(booking::SinkCredential::AccessToken(booking::AccessToken {
                access_token: "x".repeat(200),
                expires_at: t0 + time::Duration::days(30),
            })),
            echo: Echo(echo),
            dialect: Default::default(),
        };
        let b = booking::Booking::schedule(id, owner, device, req, t0);
        stored.push(b.clone());
        let with_event = i % 10 == 0;
        let store = store.clone();
        tasks.spawn(async move {
            let ev = with_event
                .then(|| StatusEvent::for_booking(&b, OffsetDateTime::now_utc()))
                .flatten();
            store.create(&b, Some(b.start_time), ev.as_ref()).await
        });
        if tasks.len() >= 64
            && let Some(r) = tasks.join_next().await
        {
            r??;
        }
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    let elapsed = started.elapsed();
    let after = used_memory(&srv);
    let per = (after - before) as f64 / n as f64;
    println!(
        "bookings stored:        {n} ({:.0} creates/s, 64 in flight)",
        n as f64 / elapsed.as_secs_f64()
    );
    println!("used_memory before:     {before} bytes");
    println!("used_memory after:      {after} bytes");
    println!(
        "per booking (INFO):     {per:.0} bytes (record + 2 index entries + timer; 1 in 10 with an undelivered event)"
    );
    if let Some(id) = first_id {
        let shard = {
            let b = id.as_bytes();
            u16::from_be_bytes([b[0], b[1]]) % 16
        };
        let hex: String = id.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
        let usage = |key: String| srv.cli(&["memory", "usage", &key]).trim().parse::<f64>().unwrap_or(0.0);
        println!(
            "MEMORY USAGE record:    {} bytes (string: version and the binary record)",
            usage(format!("{{qosgw:{shard}}}:b:{hex}"))
        );
        let per_shard = |name: &str| (0..16).map(|s| usage(format!("{{qosgw:{s}}}:{name}"))).sum::<f64>() / n as f64;
        println!(
            "device index per booking: {:.0} bytes (one hash per shard)",
            per_shard("dev")
        );
        println!("timers per booking:     {:.0} bytes", per_shard("due"));
        // Each booking's life: in place, then ended (two ledger entries).
        for b in stored {
            let tried = b.begin_attempt(None)?;
            let subscription = "https://nef.example.com/3gpp-as-session-with-qos/v1/qos-gw/subscriptions/1234567890";
            let active = tried.activated(subscription.into(), b.start_time)?;
            store.update(&tried, Some(b.start_time), None).await?;
            store.update(&active, Some(b.end_time()), None).await?;
            let ended = active.end(booking::StatusInfo::DurationExpired, b.end_time())?;
            store.update(&ended, None, None).await?;
        }
        println!(
            "usage ledger per booking: {:.0} bytes (two entries: in place, ended; kept for charging.retention_days)",
            per_shard("usage")
        );
    }
    Ok(())
}
