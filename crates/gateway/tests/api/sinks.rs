//! Sink safety: https only, no internal addresses by literal or by name, checked at create and
//! again at delivery (DNS can change), redirects never followed, allow- and deny-lists.

use crate::helpers::*;
use booking::SinkResolver;
use booking::sink::BoxedResolve;
use serde_json::json;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use time::Duration;

/// Fixed answers per name; a name can be given a different answer from its second lookup on.
#[derive(Default)]
struct FixedResolver {
    first: Mutex<HashMap<String, Vec<IpAddr>>>,
    later: Mutex<HashMap<String, Vec<IpAddr>>>,
    calls: Mutex<HashMap<String, usize>>,
}

impl SinkResolver for FixedResolver {
    fn resolve(&self, host: String, _port: u16) -> BoxedResolve {
        let n = {
            let mut calls = self.calls.lock().unwrap();
            let c = calls.entry(host.clone()).or_default();
            *c += 1;
            *c
        };
        let first = self.first.lock().unwrap().get(&host).cloned();
        let later = self.later.lock().unwrap().get(&host).cloned();
        let answer = if n > 1 { later.or(first) } else { first };
        Box::pin(async move {
            answer.ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, format!("{host}: no such host")))
        })
    }
}

/// A TCP listener that only counts connection attempts.
async fn counting_listener() -> (u16, Arc<AtomicUsize>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        while let Ok((_s, _)) = l.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
        }
    });
    (port, count)
}

fn with_sink(app: &TestApp, phone: &str, sink: &str) -> serde_json::Value {
    let mut body = booking_body(app, phone, Duration::minutes(5), 600);
    body["sink"] = json!(sink);
    body
}

#[tokio::test]
async fn sink_names_are_resolved_and_checked_at_create() {
    let resolver = Arc::new(FixedResolver::default());
    {
        let mut f = resolver.first.lock().unwrap();
        f.insert("loopback.example.net".into(), vec!["127.0.0.1".parse().unwrap()]);
        f.insert(
            "mixed.example.net".into(),
            vec!["203.0.113.7".parse().unwrap(), "10.0.0.7".parse().unwrap()],
        );
        f.insert("metadata.example.net".into(), vec!["169.254.169.254".parse().unwrap()]);
        f.insert("partner.example.net".into(), vec!["10.20.0.5".parse().unwrap()]);
        f.insert("public.example.net".into(), vec!["203.0.113.8".parse().unwrap()]);
        f.insert("blocked.example.net".into(), vec!["203.0.113.9".parse().unwrap()]);
    }
    let app = spawn_app_with_resolver(
        |s| {
            s.notifications.allow_insecure_sinks = false;
            s.notifications.sink_allow = vec!["10.20.0.0/16".parse().unwrap()];
            s.notifications.sink_deny = vec!["example.org".parse().unwrap(), "blocked.example.net".parse().unwrap()];
        },
        resolver,
    )
    .await;
    for sink in [
        "http://public.example.net/cb",
        "https://loopback.example.net/cb",
        "https://mixed.example.net/cb",
        "https://metadata.example.net/latest/meta-data",
        "https://nowhere.example.net/cb",
        "https://blocked.example.net/cb",
        "https://api.example.org/cb",
        "https://[::1]/cb",
        "https://[::ffff:127.0.0.1]/cb",
        "https://100.64.1.1/cb",
    ] {
        app.create(with_sink(&app, "+123456789", sink))
            .await
            .assert_error(400, "INVALID_SINK");
    }
    // Public names and allow-listed partner networks are fine.
    assert_eq!(
        app.create(with_sink(&app, "+123456789", "https://public.example.net/cb"))
            .await
            .status,
        201
    );
    assert_eq!(
        app.create(with_sink(&app, "+123456780", "https://partner.example.net/cb"))
            .await
            .status,
        201
    );
    assert_eq!(
        app.create(with_sink(&app, "+123456781", "https://10.20.3.4/cb"))
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn a_name_that_moves_to_an_internal_address_after_create_gets_nothing() {
    let (port, connections) = counting_listener().await;
    let resolver = Arc::new(FixedResolver::default());
    resolver
        .first
        .lock()
        .unwrap()
        .insert("moving.example.net".into(), vec!["203.0.113.10".parse().unwrap()]);
    resolver
        .later
        .lock()
        .unwrap()
        .insert("moving.example.net".into(), vec!["127.0.0.1".parse().unwrap()]);
    let app = spawn_app_with_resolver(|s| s.notifications.allow_insecure_sinks = false, resolver.clone()).await;
    let r = app
        .create(with_sink(
            &app,
            "+123456789",
            &format!("https://moving.example.net:{port}/cb"),
        ))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // The SCHEDULED event is attempted at once: the name now points at 127.0.0.1.
    for _ in 0..50 {
        if resolver
            .calls
            .lock()
            .unwrap()
            .get("moving.example.net")
            .copied()
            .unwrap_or(0)
            >= 2
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        resolver.calls.lock().unwrap()["moving.example.net"] >= 2,
        "delivery did not resolve the name again"
    );
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "the delivery connected to an internal address"
    );
}

#[tokio::test]
async fn redirects_from_a_sink_are_not_followed() {
    let (target, connections) = counting_listener().await;
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let app_router = axum::Router::new().fallback(move || {
        let h = h.clone();
        async move {
            h.fetch_add(1, Ordering::SeqCst);
            (
                axum::http::StatusCode::TEMPORARY_REDIRECT,
                [("location", format!("http://127.0.0.1:{target}/steal"))],
            )
        }
    });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sink = format!("http://127.0.0.1:{}/cb", l.local_addr().unwrap().port());
    tokio::spawn(async move { axum::serve(l, app_router).await });
    // Development mode, so the local sink is accepted at all.
    let app = spawn_app_with(|s| s.notifications.max_attempts = 1).await;
    assert_eq!(app.create(with_sink(&app, "+123456789", &sink)).await.status, 201);
    for _ in 0..50 {
        if hits.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(hits.load(Ordering::SeqCst), 1, "the sink was called once");
    assert_eq!(connections.load(Ordering::SeqCst), 0, "the redirect was followed");
}
