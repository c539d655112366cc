//! The gateway on the Redis store: the same lifecycle, state shared by two instances (a
//! restart or a second replica), and Redis outages answered with 503 and recovered from.

use crate::helpers::*;
use booking::Clock;
use gateway::{Application, Settings};
use serde_json::json;
use std::sync::Arc;
use time::Duration;

fn id_of(r: &Resp) -> String {
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["bookingId"].as_str().unwrap().to_owned()
}

/// Waits (real time) until the first instance reads `status` for the booking.
async fn wait_for_status(app: &TestApp, id: &str, status: &str) {
    for _ in 0..100 {
        if app.get(id).await.body["bookingStatus"] == status {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("booking {id} never became {status}: {}", app.get(id).await.body);
}

#[tokio::test]
async fn the_lifecycle_runs_on_redis_with_events() {
    let app = spawn_redis_app_with(|_| {}).await;
    let sink = Sink::start().await;
    let mut body = booking_body(&app, "+123456789", Duration::minutes(1), 60);
    body["sink"] = json!(sink.url);
    let id = id_of(&app.create(body.clone()).await);
    app.create(body).await.assert_error(409, "CONFLICT");
    app.advance(Duration::minutes(1)).await;
    assert_eq!(app.get(&id).await.body["bookingStatus"], "ACTIVATED");
    app.advance(Duration::minutes(1)).await;
    let r = app.get(&id).await;
    assert_eq!(
        (r.body["bookingStatus"].as_str(), r.body["statusInfo"].as_str()),
        (Some("TERMINATED"), Some("DURATION_EXPIRED"))
    );
    let events = sink.wait_for(3).await;
    let statuses: Vec<_> = events
        .iter()
        .map(|(_, e)| e["data"]["bookingStatus"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(statuses, ["SCHEDULED", "ACTIVATED", "TERMINATED"]);
    let listed = app
        .retrieve_as(&app.token, json!({"device": {"phoneNumber": "+123456789"}}))
        .await;
    assert_eq!(listed.body[0]["bookingId"], json!(id));
    app.finish().await;
}

/// A second gateway on the same Redis (another replica, or this one after a restart) sees the
/// bookings, runs their timers and sends their events.
#[tokio::test]
async fn another_instance_on_the_same_redis_takes_over() {
    let app = spawn_redis_app_with(|s| s.notifications.lease = std::time::Duration::from_secs(5)).await;
    let sink = Sink::start().await;
    sink.answer_next_with(&[503, 503, 503]);
    let mut body = booking_body(&app, "+123456789", Duration::minutes(1), 60);
    body["sink"] = json!(sink.url);
    let id = id_of(&app.create(body).await);
    // The first instance used up its attempts on the SCHEDULED event (3 x 503): dropped there.
    sink.wait_for(3).await;

    let mut s: Settings = test_settings();
    s.store.kind = gateway::settings::StoreKind::Redis;
    s.store.redis.urls = vec![app.redis.as_ref().unwrap().url()];
    s.store.redis.shards = 4;
    s.auth.allow_dev_with_redis = true;
    let clock = Arc::new(booking::ManualClock::new(app.clock.now()));
    let second = Application::build_with_clock(s, clock.clone()).await.unwrap();
    let service = second.service();
    let sim = second.nef_sim().unwrap();
    tokio::spawn(second.run_until_stopped(std::future::pending()));
    // The second instance's own scheduler (its first pass runs when it starts) may take the
    // timer instead of this explicit pass: wait for the outcome, whoever fires it.
    // Both instances' clocks move together, as NTP keeps replicas' clocks: a replica reads a
    // booking as ACTIVATED only from its startTime on by its own clock.
    clock.advance(Duration::minutes(1));
    app.clock.advance(Duration::minutes(1));
    service.run_due().await.unwrap();
    wait_for_status(&app, &id, "ACTIVATED").await;
    assert_eq!(sim.subscriptions().len(), 1);
    clock.advance(Duration::minutes(1));
    app.clock.advance(Duration::minutes(1));
    service.run_due().await.unwrap();
    wait_for_status(&app, &id, "TERMINATED").await;
    assert_eq!(app.get(&id).await.body["statusInfo"], "DURATION_EXPIRED");
    assert!(sim.subscriptions().is_empty());
    // The ACTIVATED and TERMINATED events came from the second instance. If the second one
    // also claimed the SCHEDULED event before the first acknowledged it (the first one's
    // lease ran out on the moved clock), it repeats it with the same id: at least once.
    let mut ids: Vec<(String, String)> = Vec::new();
    for _ in 0..100 {
        ids.clear();
        for (_, e) in sink.events() {
            let pair = (
                e["id"].as_str().unwrap().to_owned(),
                e["data"]["bookingStatus"].as_str().unwrap().to_owned(),
            );
            if !ids.contains(&pair) {
                ids.push(pair);
            }
        }
        if ids.len() >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let statuses: Vec<&str> = ids.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(
        statuses,
        ["SCHEDULED", "ACTIVATED", "TERMINATED"],
        "one id per status, in order"
    );
}

#[tokio::test]
async fn a_hung_redis_gives_503_quickly_and_due_timers_fire_after_it_returns() {
    let app = spawn_redis_app_with(|_| {}).await;
    let id = id_of(
        &app.create(booking_body(&app, "+123456789", Duration::minutes(1), 600))
            .await,
    );
    let redis = app.redis.as_ref().unwrap();
    redis.pause();
    // Each request is answered within the command timeout (1.5 s here) plus a little.
    let started = std::time::Instant::now();
    app.create(booking_body(&app, "+123456780", Duration::minutes(5), 60))
        .await
        .assert_error(503, "UNAVAILABLE");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "create took {:?}",
        started.elapsed()
    );
    let started = std::time::Instant::now();
    app.get(&id).await.assert_error(503, "UNAVAILABLE");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "get took {:?}",
        started.elapsed()
    );
    let ready = app
        .client
        .get(format!("{}/health/ready", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    // The booking's start passes during the outage; the scheduler pass fails, nothing panics.
    app.clock.advance(Duration::minutes(1));
    assert!(app.service.run_due().await.is_err());
    redis.resume();
    // A claim sent during the outage may still run when Redis wakes up, with nobody left to
    // act on it: that timer then waits for its lease (60 s) to end, like a dead replica's.
    let mut fired = false;
    for round in 0..40 {
        if round == 10 {
            app.clock.advance(Duration::seconds(61));
        }
        if app.service.run_due().await.is_ok() && app.get(&id).await.body["bookingStatus"] == "ACTIVATED" {
            fired = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(fired, "the due start fired after Redis returned");
    let ready = app
        .client
        .get(format!("{}/health/ready", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    app.finish().await;
}

#[tokio::test]
async fn readiness_follows_redis_down_and_back() {
    let mut app = spawn_redis_app_with(|s| s.server.admin_listen = Some("127.0.0.1:0".into())).await;
    let admin = app.admin.clone().expect("no admin listener");
    let http = reqwest::Client::new();
    let ready = |http: reqwest::Client, admin: String| async move {
        http.get(format!("{admin}/readyz"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(ready(http.clone(), admin.clone()).await, 200);
    app.redis.as_mut().unwrap().stop();
    assert_eq!(ready(http.clone(), admin.clone()).await, 503);
    // Alive all the same: a restart would not bring Redis back.
    assert_eq!(http.get(format!("{admin}/livez")).send().await.unwrap().status(), 204);
    app.redis.as_mut().unwrap().restart();
    let mut status = 0;
    for _ in 0..50 {
        status = ready(http.clone(), admin.clone()).await;
        if status == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "not ready again after Redis came back");
}
