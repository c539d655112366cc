//! QoS Booking and Assignment 0.1.0 (r1.2) under `/qos-booking-and-assignment/v0.1`, from the
//! same engine as vwip, exactly as its published file says: every outcome of a create or an
//! assign a 201 with its `status`, one 409 code (CONFLICT), none on delete, r1.2's duration
//! code and credential types, its events under its own path. And vwip's 202 PENDING for a
//! reservation the operator has to decide on.

use crate::assignment::reservation_body;
use crate::helpers::*;
use booking::capacity::Pool;
use reqwest::Method;
use serde_json::{Value, json};
use time::Duration;

const V01: &str = "/qos-booking-and-assignment/v0.1";
const VWIP: &str = "/qos-booking-and-assignment/vwip";

/// SHA-256 of `QoSBooking/code/API_definitions/qos-booking-and-assignment.yaml` at the r1.2
/// release tag (`../shared/specs/camara/published-r1.2/`).
const PUBLISHED_SHA256: &str = "c1c7d4b2ad5cb1b61fac8c71f9796131db011d28855a90608d24dabd286901f4";

async fn on(app: &TestApp, base: &str, method: Method, path: &str, body: Option<Value>) -> Resp {
    app.send(
        method,
        &format!("{base}{path}"),
        Some(&app.token),
        Some("ba1-corr"),
        body,
    )
    .await
}

fn phones(list: &[&str]) -> Value {
    json!({"devices": list.iter().map(|p| json!({"phoneNumber": p})).collect::<Vec<_>>()})
}

/// The pool of Frankfurt's centre (where `reservation_body` books), with room for `n` QOS_L.
pub fn frankfurt(n: u32, deferred: bool) -> Pool {
    Pool {
        name: "frankfurt".into(),
        area_names: vec![],
        regions: vec![booking::CoverageRegion::Circle {
            latitude: 50.110924,
            longitude: 8.682127,
            radius: 2000.0,
        }],
        profiles: std::collections::HashMap::from([("QOS_L".to_owned(), n)]),
        blackouts: vec![],
        windows: vec![],
        deferred,
    }
}

#[tokio::test]
async fn v0_1_serves_the_published_file_byte_for_byte() {
    let app = spawn_app().await;
    let path = format!("{V01}/openapi.yaml");
    assert_serves_published(&app, &path, PUBLISHED_SHA256, "qos-booking-and-assignment.yaml").await;
}

#[tokio::test]
async fn v0_1_answers_every_outcome_in_its_own_shape_and_codes() {
    // With `api.strict_properties` off, what each file leaves open shows (on, the default,
    // every unknown member is refused in every version).
    let app = spawn_app_with(|s| s.api.strict_properties = false).await;
    let sink = Sink::start().await;
    let mut body = reservation_body(&app, 3, Duration::minutes(10), 600);
    body["sink"] = json!(sink.url);
    let r = on(&app, V01, Method::POST, "/qos-bookings", Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.correlator.as_deref(), Some("ba1-corr"));
    assert_eq!(
        (r.body["status"].as_str(), r.body["statusInfo"].as_str()),
        (Some("SUCCESSFUL"), Some("BOOKING_ACCEPTED"))
    );
    let id = r.body["bookingId"].as_str().unwrap().to_owned();
    // Its status-changed event names the 0.1.0 resource.
    let events = sink.wait_for(1).await;
    let source = events[0].1["source"].as_str().unwrap();
    assert!(source.ends_with(&format!("{V01}/qos-bookings/{id}")), "{source}");

    let path = format!("/qos-bookings/{id}/devices/assign");
    let assign = |list: Value| on(&app, V01, Method::POST, &path, Some(list));
    assert_eq!(assign(phones(&["+123456780"])).await.status, 201);
    // The one 409 code of 0.1.0 (vwip: ALREADY_EXISTS).
    assign(phones(&["+123456780"])).await.assert_error(409, "CONFLICT");
    // 0.1.0 does not close DeviceAssignmentInput: an unknown member is ignored; vwip closes
    // it (`additionalProperties: false`): 400.
    let mut open = phones(&["+123456781"]);
    open["note"] = json!("from a newer client");
    assert_eq!(assign(open.clone()).await.status, 201);
    on(
        &app,
        VWIP,
        Method::POST,
        &format!("/qos-bookings/{id}/devices/assign"),
        Some(open),
    )
    .await
    .assert_error(400, "INVALID_ARGUMENT");
    assert_eq!(assign(phones(&["+123456782"])).await.status, 201);
    // No room left: 201 FAILURE/QUOTA_EXCEEDED with the booking's details (vwip: 409).
    let full = assign(phones(&["+123456783"])).await;
    assert_eq!(full.status, 201, "{}", full.body);
    assert_eq!(
        (full.body["status"].as_str(), full.body["statusInfo"].as_str()),
        (Some("FAILURE"), Some("QUOTA_EXCEEDED"))
    );
    assert_eq!(full.body["bookingDetails"]["remainingDevices"], 0);

    // Delete, and delete again: 200 both times (0.1.0 has no 409 on delete).
    for _ in 0..2 {
        let d = on(&app, V01, Method::DELETE, &format!("/qos-bookings/{id}"), None).await;
        assert_eq!(d.status, 200, "{}", d.body);
        assert_eq!(d.body["statusInfo"], "BOOKING_CANCELLED");
    }
    on(&app, VWIP, Method::DELETE, &format!("/qos-bookings/{id}"), None)
        .await
        .assert_error(409, "INCOMPATIBLE_STATE");
    app.finish().await;
}

#[tokio::test]
async fn v0_1_keeps_r1_2_names_for_durations_and_credentials() {
    let app = spawn_app().await;
    // 0.1.0 sets no maximum on duration: a day and more is refused by the profile (QOS_L: at
    // most 86400 s), with r1.2's code name.
    let long = reservation_body(&app, 2, Duration::minutes(10), 100_000);
    on(&app, V01, Method::POST, "/qos-bookings", Some(long.clone()))
        .await
        .assert_error(400, "QOS_BOOKING.DURATION_OUT_OF_RANGE");
    on(&app, VWIP, Method::POST, "/qos-bookings", Some(long))
        .await
        .assert_error(400, "QOS_BOOKING_AND_ASSIGNMENT.DURATION_OUT_OF_RANGE");
    // r1.2's credential types: REFRESHTOKEN is in its enum but not supported; PRIVATE_KEY_JWT
    // is not in it at all.
    let mut refresh = reservation_body(&app, 2, Duration::minutes(10), 600);
    refresh["sink"] = json!("https://app.example.com/events");
    refresh["sinkCredential"] = json!({"credentialType": "REFRESHTOKEN", "accessToken": "a",
        "accessTokenExpiresUtc": "2099-01-01T00:00:00Z", "accessTokenType": "bearer",
        "refreshToken": "r", "refreshTokenEndpoint": "https://auth.example.com/token"});
    on(&app, V01, Method::POST, "/qos-bookings", Some(refresh))
        .await
        .assert_error(400, "INVALID_CREDENTIAL");
    let mut jwt = reservation_body(&app, 2, Duration::minutes(10), 600);
    jwt["sink"] = json!("https://app.example.com/events");
    jwt["sinkCredential"] = json!({"credentialType": "PRIVATE_KEY_JWT"});
    let r = on(&app, V01, Method::POST, "/qos-bookings", Some(jwt)).await;
    assert_eq!(r.status, 400, "{}", r.body);
    app.finish().await;
}

#[tokio::test]
async fn a_full_pool_is_201_failure_in_v0_1_and_409_in_vwip_and_nothing_is_kept() {
    let app = spawn_app_with(|s| s.capacity.pools = vec![frankfurt(2, false)]).await;
    let three = reservation_body(&app, 3, Duration::minutes(10), 600);
    let r = on(&app, V01, Method::POST, "/qos-bookings", Some(three.clone())).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        (r.body["status"].as_str(), r.body["statusInfo"].as_str()),
        (Some("FAILURE"), Some("SERVICE_NOT_AVAILABLE"))
    );
    assert!(r.body.get("bookingId").is_none(), "nothing was kept: {}", r.body);
    assert_eq!(
        (r.body["totalDevices"].as_u64(), r.body["remainingDevices"].as_u64()),
        (Some(3), Some(0))
    );
    on(&app, VWIP, Method::POST, "/qos-bookings", Some(three))
        .await
        .assert_error(409, "INCOMPATIBLE_STATE");
    // The two places are still free.
    let two = on(
        &app,
        V01,
        Method::POST,
        "/qos-bookings",
        Some(reservation_body(&app, 2, Duration::minutes(10), 600)),
    )
    .await;
    assert_eq!(
        (two.status, two.body["status"].as_str()),
        (201, Some("SUCCESSFUL")),
        "{}",
        two.body
    );
    app.finish().await;
}

#[tokio::test]
async fn vwip_answers_202_pending_for_a_reservation_the_operator_decides_then_tells_the_outcome() {
    let app = spawn_app_with(|s| {
        s.server.admin_listen = Some("127.0.0.1:0".into());
        s.capacity.pools = vec![frankfurt(10, true)];
    })
    .await;
    let sink = Sink::start().await;
    let mut body = reservation_body(&app, 2, Duration::minutes(30), 600);
    body["sink"] = json!(sink.url);
    let pending = on(&app, VWIP, Method::POST, "/qos-bookings", Some(body.clone())).await;
    assert_eq!(pending.status, 202, "{}", pending.body);
    assert_eq!(
        (pending.body["status"].as_str(), pending.body["statusInfo"].as_str()),
        (Some("PENDING"), Some("VALIDATION_PENDING"))
    );
    let id = pending.body["bookingId"].as_str().unwrap().to_owned();
    // Nothing is assigned before the operator accepts it.
    on(
        &app,
        VWIP,
        Method::POST,
        &format!("/qos-bookings/{id}/devices/assign"),
        Some(phones(&["+123456780"])),
    )
    .await
    .assert_error(409, "INCOMPATIBLE_STATE");
    // 0.1.0 answers the same wait 201 PENDING.
    let other = on(&app, V01, Method::POST, "/qos-bookings", Some(body)).await;
    assert_eq!(
        (other.status, other.body["status"].as_str()),
        (201, Some("PENDING")),
        "{}",
        other.body
    );
    let other_id = other.body["bookingId"].as_str().unwrap().to_owned();

    assert_eq!(app.decide(&id, "approve").await.status(), 200);
    assert_eq!(app.decide(&other_id, "decline").await.status(), 200);
    // The outcomes reach the client as status-changed events, each under its version's path.
    let events = sink.wait_for(2).await;
    let outcome = |rid: &str| {
        events
            .iter()
            .map(|(_, e)| e)
            .find(|e| e["source"].as_str().is_some_and(|s| s.ends_with(rid)))
            .map(|e| (e["data"]["status"].clone(), e["data"]["statusInfo"].clone()))
    };
    assert_eq!(
        outcome(&id),
        Some((json!("SUCCESSFUL"), json!("BOOKING_ACCEPTED"))),
        "{events:?}"
    );
    assert_eq!(
        outcome(&other_id),
        Some((json!("FAILURE"), json!("SERVICE_NOT_AVAILABLE"))),
        "{events:?}"
    );
    let accepted = on(&app, VWIP, Method::GET, &format!("/qos-bookings/{id}"), None).await;
    assert_eq!(accepted.body["status"], "SUCCESSFUL", "{}", accepted.body);
    let a = on(
        &app,
        VWIP,
        Method::POST,
        &format!("/qos-bookings/{id}/devices/assign"),
        Some(phones(&["+123456780"])),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    app.finish().await;
}
