//! The r1.2 shape (qos-booking 0.1.0) under `/qos-booking/v0.1` over the same bookings as
//! v0.2: each version reads every booking in its own shape, and a booking's events reach its
//! client in the shape it was created with.

use crate::helpers::*;
use booking::capacity::Pool;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashMap;
use time::Duration;

const V01: &str = "/qos-booking/v0.1";

async fn on(app: &TestApp, base: &str, method: Method, path: &str, body: Option<Value>) -> Resp {
    app.send(method, &format!("{base}{path}"), Some(&app.token), Some("v-corr"), body)
        .await
}

fn data_statuses(events: &[(axum::http::HeaderMap, Value)]) -> Vec<Value> {
    events.iter().map(|(_, e)| e["data"].clone()).collect()
}

#[tokio::test]
async fn a_booking_made_on_v0_1_reads_on_both_versions_and_its_events_speak_v0_1() {
    let app = spawn_app().await;
    let sink = Sink::start().await;
    let mut body = booking_body(&app, "+123456789", Duration::minutes(10), 600);
    body["sink"] = json!(sink.url);
    let created = on(&app, V01, Method::POST, "/device-qos-bookings", Some(body)).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["status"], "SCHEDULED");
    assert!(created.body.get("bookingStatus").is_none(), "{}", created.body);
    let id = created.body["bookingId"].as_str().unwrap().to_owned();
    let path = format!("/device-qos-bookings/{id}");

    let v2 = on(&app, BASE, Method::GET, &path, None).await;
    assert_eq!((v2.status, &v2.body["bookingStatus"]), (200, &json!("SCHEDULED")));
    assert!(v2.body.get("status").is_none());

    app.advance(Duration::minutes(10)).await;
    let v1 = on(&app, V01, Method::GET, &path, None).await;
    assert_eq!(v1.body["status"], "AVAILABLE");
    assert!(v1.body["startedAt"].is_string());
    assert_eq!(
        on(&app, BASE, Method::GET, &path, None).await.body["bookingStatus"],
        "ACTIVATED"
    );
    let found = on(
        &app,
        V01,
        Method::POST,
        "/retrieve-device-qos-bookings",
        Some(json!({"device": {"phoneNumber": "+123456789"}})),
    )
    .await;
    assert_eq!(found.body[0]["status"], "AVAILABLE", "{}", found.body);

    app.advance(Duration::seconds(600)).await;
    let ended = on(&app, V01, Method::GET, &path, None).await;
    assert_eq!(
        (&ended.body["status"], &ended.body["statusInfo"]),
        (&json!("UNAVAILABLE"), &json!("DURATION_EXPIRED"))
    );
    let events = sink.wait_for(3).await;
    let id_v = json!(id);
    assert_eq!(
        data_statuses(&events),
        vec![
            json!({"bookingId": id_v, "status": "SCHEDULED"}),
            json!({"bookingId": id_v, "status": "AVAILABLE"}),
            json!({"bookingId": id_v, "status": "UNAVAILABLE", "statusInfo": "DURATION_EXPIRED"}),
        ]
    );
    for (_, e) in &events {
        assert_eq!(e["type"], "org.camaraproject.qos-booking.v0.status-changed");
        assert!(
            e["source"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/qos-booking/v0.1/device-qos-bookings/{id}")),
            "{}",
            e["source"]
        );
    }
}

#[tokio::test]
async fn a_booking_made_on_v0_2_reads_on_v0_1_and_a_v0_1_delete_answers_in_v0_1() {
    let app = spawn_app_with(|s| s.api.delete_mode = gateway::settings::DeleteMode::Async).await;
    let created = app
        .create(booking_body(&app, "+123456780", Duration::minutes(10), 600))
        .await;
    assert_eq!(created.body["bookingStatus"], "SCHEDULED");
    let id = created.body["bookingId"].as_str().unwrap().to_owned();
    let path = format!("/device-qos-bookings/{id}");
    let v1 = on(&app, V01, Method::GET, &path, None).await;
    assert_eq!((v1.status, &v1.body["status"]), (200, &json!("SCHEDULED")));
    assert_eq!(v1.body["startTime"], created.body["startTime"]);
    assert_eq!(v1.body["serviceArea"], created.body["serviceArea"]);
    assert_eq!(v1.body["device"], created.body["device"]);
    app.advance(Duration::minutes(10)).await;
    let deleted = on(&app, V01, Method::DELETE, &path, None).await;
    assert_eq!(deleted.status, 202, "{}", deleted.body);
    assert_eq!(
        (&deleted.body["status"], &deleted.body["statusInfo"]),
        (&json!("AVAILABLE"), &json!("DELETE_REQUESTED"))
    );
}

#[tokio::test]
async fn v0_1_answers_with_its_own_codes_and_its_own_openapi_file() {
    let app = spawn_app_with(|s| {
        s.capacity.pools = vec![Pool {
            name: "stadium".into(),
            area_names: vec!["stadium-north".into()],
            regions: vec![],
            profiles: HashMap::from([("QOS_L".to_owned(), 0)]),
            blackouts: vec![],
            windows: vec![],
            deferred: false,
        }];
    })
    .await;
    // No QOS_PROFILE_NOT_APPLICABLE in r1.2: a profile that cannot be booked is invalid.
    let mut body = booking_body(&app, "+123456781", Duration::minutes(10), 600);
    body["qosProfile"] = json!("QOS_LEGACY");
    on(&app, V01, Method::POST, "/device-qos-bookings", Some(body.clone()))
        .await
        .assert_error(400, "INVALID_ARGUMENT");
    app.create(body)
        .await
        .assert_error(422, "QOS_BOOKING.QOS_PROFILE_NOT_APPLICABLE");
    // No PRIVATE_KEY_JWT in r1.2.
    let mut body = booking_body(&app, "+123456781", Duration::minutes(10), 600);
    body["sink"] = json!("https://app.example.com/cb");
    body["sinkCredential"] = json!({"credentialType": "PRIVATE_KEY_JWT"});
    let r = on(&app, V01, Method::POST, "/device-qos-bookings", Some(body)).await;
    r.assert_error(400, "INVALID_CREDENTIAL");
    assert_eq!(r.correlator.as_deref(), Some("v-corr"));
    // A declined booking is UNAVAILABLE without a reason (r1.2 has no BOOKING_DECLINED).
    let mut body = booking_body(&app, "+123456782", Duration::minutes(10), 600);
    body["serviceArea"] = json!({"areaType": "AREANAME", "areaName": "stadium-north"});
    let declined = on(&app, V01, Method::POST, "/device-qos-bookings", Some(body)).await;
    assert_eq!(declined.status, 201, "{}", declined.body);
    assert_eq!(declined.body["status"], "UNAVAILABLE");
    assert!(declined.body.get("statusInfo").is_none(), "{}", declined.body);
    let id = declined.body["bookingId"].as_str().unwrap();
    assert_eq!(app.get(id).await.body["statusInfo"], "BOOKING_DECLINED");

    let yaml = app
        .client
        .get(format!("{}{V01}/openapi.yaml", app.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(yaml.contains("version: 0.1.0") && yaml.contains("/qos-booking/v0.1"));
    assert!(!yaml.contains("bookingStatus"));
    let current = app
        .client
        .get(format!("{}{BASE}/openapi.yaml", app.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(current.contains("bookingStatus"));
}

#[tokio::test]
async fn v0_1_can_be_turned_off() {
    let app = spawn_app_with(|s| s.server.serve_v0_1 = false).await;
    let body = booking_body(&app, "+123456781", Duration::minutes(10), 600);
    on(&app, V01, Method::POST, "/device-qos-bookings", Some(body))
        .await
        .assert_error(404, "NOT_FOUND");
}
