//! One device, one place: a phone number and that phone's IP address (as the lab device
//! resolver knows them) are one device for the overlap check, for retrieve, and for a
//! reservation's membership, on one replica and across two on one Redis.

use crate::assignment::{ba, reservation_body};
use crate::helpers::*;
use gateway::{Application, Settings};
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use time::Duration;

/// The address the test device table gives `+123456789` (its private IPv4), with some
/// public address in front of it.
fn by_address(private: &str) -> Value {
    json!({"ipv4Address": {"publicAddress": "203.0.113.99", "privateAddress": private}})
}

fn with_device(mut body: Value, device: Value) -> Value {
    body["device"] = device;
    body
}

#[tokio::test]
async fn a_phone_and_its_address_are_one_device_for_the_overlap_check_and_retrieve() {
    let app = spawn_app().await;
    let phone = booking_body(&app, "+123456789", Duration::minutes(10), 600);
    let id = app.create(phone.clone()).await.body["bookingId"]
        .as_str()
        .unwrap()
        .to_owned();
    // The same phone's address, the same window: the same device.
    app.create(with_device(phone.clone(), by_address("10.45.0.10")))
        .await
        .assert_error(409, "CONFLICT");
    // Retrieve by the address finds the booking made by the number.
    let found = app
        .retrieve_as(&app.token, json!({"device": by_address("10.45.0.10")}))
        .await;
    assert_eq!(found.status, 200, "{}", found.body);
    let ids: Vec<&str> = found
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["bookingId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![id.as_str()]);
    // The other way round: first by address, then by number.
    let second = booking_body(&app, "+123456780", Duration::minutes(10), 600);
    let r = app.create(with_device(second.clone(), by_address("10.45.0.11"))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    // The answer shows the identifier the client gave, never the one the resolver found.
    assert_eq!(r.body["device"], by_address("10.45.0.11"));
    app.create(second).await.assert_error(409, "CONFLICT");
    // An address the resolver does not know is a device of its own.
    let stranger = app.create(with_device(phone, by_address("10.45.0.250"))).await;
    assert_eq!(stranger.status, 201, "{}", stranger.body);
    app.finish().await;
}

#[tokio::test]
async fn a_device_takes_one_place_in_a_reservation_whichever_identifier_names_it() {
    let app = spawn_app().await;
    let r = ba(
        &app,
        Method::POST,
        "/qos-bookings",
        Some(reservation_body(&app, 3, Duration::minutes(10), 600)),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["bookingId"].as_str().unwrap().to_owned();
    let path = format!("/qos-bookings/{id}/devices/assign");
    let assign = |devices: Value| ba(&app, Method::POST, &path, Some(devices));
    let a = assign(json!({"devices": [{"phoneNumber": "+123456781"}]})).await;
    assert_eq!(a.status, 201, "{}", a.body);
    // The same phone by its address: already there, no second place taken.
    assign(json!({"devices": [by_address("10.45.0.12")]}))
        .await
        .assert_error(409, "ALREADY_EXISTS");
    // Both identifiers of one device in one request: listed twice.
    let twice = assign(json!({"devices": [{"phoneNumber": "+123456782"}, by_address("10.45.0.13")]})).await;
    assert_eq!(
        (twice.status, twice.body["code"].as_str()),
        (400, Some("INVALID_ARGUMENT")),
        "{}",
        twice.body
    );
    let shown = ba(&app, Method::GET, &format!("/qos-bookings/{id}"), None).await;
    assert_eq!(shown.body["remainingDevices"], 2, "{}", shown.body);
    // Released by its address, the device leaves the reservation it joined by number.
    let released = ba(
        &app,
        Method::POST,
        &format!("/qos-bookings/{id}/devices/release"),
        Some(json!({"devices": [by_address("10.45.0.12")]})),
    )
    .await;
    assert!(released.status < 300, "{} {}", released.status, released.body);
    let shown = ba(&app, Method::GET, &format!("/qos-bookings/{id}"), None).await;
    assert_eq!(shown.body["remainingDevices"], 3, "{}", shown.body);
    app.finish().await;
}

#[tokio::test]
async fn across_two_replicas_on_one_redis_a_phone_and_its_address_conflict() {
    let app = spawn_redis_app_with(|_| {}).await;
    let mut s: Settings = test_settings();
    s.store.kind = gateway::settings::StoreKind::Redis;
    s.store.redis.urls = vec![app.redis.as_ref().unwrap().url()];
    s.store.redis.shards = 4;
    s.auth.allow_dev_with_redis = true;
    let clock = Arc::new(booking::ManualClock::new(app.clock_now()));
    let other = Application::build_with_clock(s, clock).await.unwrap();
    let (port, token) = (other.port(), other.dev_token().unwrap_or_default().to_owned());
    tokio::spawn(other.run_until_stopped(std::future::pending()));

    let phone = booking_body(&app, "+123456783", Duration::minutes(10), 600);
    assert_eq!(app.create(phone.clone()).await.status, 201);
    // Through the other replica (the same client, its own dev token), by the phone's address.
    let r = app
        .client
        .post(format!("http://127.0.0.1:{port}{BASE}/device-qos-bookings"))
        .bearer_auth(&token)
        .json(&with_device(phone, by_address("10.45.0.14")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "CONFLICT", "{body}");
}
