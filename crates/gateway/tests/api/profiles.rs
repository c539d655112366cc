//! The QoS Profiles API over the booking catalog: all profiles or those of one device, the
//! 2-/3-legged device rules of `qos-profiles.yaml`, filters and errors.

use crate::helpers::*;
use serde_json::{Value, json};

const PROFILES: &str = "/qos-profiles/vwip";

async fn retrieve(app: &TestApp, token: &str, body: Value) -> (u16, Value) {
    let res = app
        .client
        .post(format!("{}{PROFILES}/retrieve-qos-profiles", app.addr))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

async fn get(app: &TestApp, token: &str, name: &str) -> (u16, Value) {
    let res = app
        .client
        .get(format!("{}{PROFILES}/qos-profiles/{name}", app.addr))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

fn names(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_catalog_is_served_whole_filtered_and_by_name() {
    let app = spawn_app().await;
    let (status, all) = retrieve(&app, &app.token, json!({})).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(
        names(&all),
        vec!["QCI_1_voice", "QOS_E", "QOS_L", "QOS_LEGACY", "QOS_M", "QOS_S"]
    );
    let (_, active) = retrieve(&app, &app.token, json!({"status": "DEPRECATED"})).await;
    assert_eq!(names(&active), vec!["QOS_LEGACY"]);
    let (_, one) = retrieve(&app, &app.token, json!({"name": "QOS_E", "status": "ACTIVE"})).await;
    assert_eq!(names(&one), vec!["QOS_E"]);

    let (status, e) = get(&app, &app.token, "QOS_E").await;
    assert_eq!(status, 200);
    assert_eq!(
        e,
        json!({
            "name": "QOS_E",
            "description": "Enhanced communication: low latency and stable jitter",
            "status": "ACTIVE",
            "minDuration": {"value": 1, "unit": "Seconds"},
            "maxDuration": {"value": 86400, "unit": "Seconds"},
        })
    );
    let (status, body) = get(&app, &app.token, "QOS_NOPE").await;
    assert_eq!((status, body["code"].as_str()), (404, Some("NOT_FOUND")));
    let (status, body) = get(&app, &app.token, "a!").await;
    assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_ARGUMENT")));
    let (status, body) = retrieve(&app, &app.token, json!({"status": "GONE"})).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_ARGUMENT")));
    let (status, body) = retrieve(&app, &app.token, json!({"extra": 1})).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_ARGUMENT")));
    // Booking scopes alone do not read profiles.
    let booking_only = app.token_for("c", &[camara_api::scopes::READ], None);
    let (status, body) = get(&app, &booking_only, "QOS_E").await;
    assert_eq!((status, body["code"].as_str()), (403, Some("PERMISSION_DENIED")));
}

#[tokio::test]
async fn profiles_of_a_device_follow_the_two_and_three_legged_rules() {
    let app = spawn_app().await;
    // 2-legged with a device: the device must be known and eligible.
    let (status, body) = retrieve(&app, &app.token, json!({"device": {"phoneNumber": "+123456789"}})).await;
    assert_eq!(status, 200);
    assert_eq!(body.as_array().unwrap().len(), 6);
    let (status, body) = retrieve(&app, &app.token, json!({"device": {"phoneNumber": "+4915100000000"}})).await;
    assert_eq!((status, body), (200, json!([])), "not eligible: none available");
    let (status, body) = retrieve(&app, &app.token, json!({"device": {"phoneNumber": "+999999999"}})).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("IDENTIFIER_NOT_FOUND")));
    let (status, body) = retrieve(
        &app,
        &app.token,
        json!({"device": {"networkAccessIdentifier": "a@b.c"}}),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (422, Some("UNSUPPORTED_IDENTIFIER")));

    // 3-legged: the token names the device; naming it again is refused.
    let three = app.token_for("c", &[camara_api::scopes::PROFILES_READ], Some("tel:+123456789"));
    let (status, body) = retrieve(&app, &three, json!({"status": "ACTIVE"})).await;
    assert_eq!(status, 200);
    assert_eq!(body.as_array().unwrap().len(), 5);
    let (status, body) = retrieve(&app, &three, json!({"device": {"phoneNumber": "+123456789"}})).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("UNNECESSARY_IDENTIFIER")));
    assert_eq!(get(&app, &three, "QOS_L").await.0, 200);
    // A subject whose subscription is not eligible sees no profile.
    let ineligible = app.token_for("c", &[camara_api::scopes::PROFILES_READ], Some("tel:+4915100000000"));
    assert_eq!(get(&app, &ineligible, "QOS_L").await.0, 404);
}

#[tokio::test]
async fn the_catalog_file_is_reloaded_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("catalog.yaml");
    let profile = |name: &str| {
        format!("  - {{name: {name}, status: ACTIVE, min_duration: 1, max_duration: 3600, qos_reference: {name}}}\n")
    };
    std::fs::write(&file, format!("profiles:\n{}", profile("QOS_FILE"))).unwrap();
    let path = file.clone();
    let app = spawn_app_with(move |s| s.catalog_file = Some(path)).await;
    let (_, all) = retrieve(&app, &app.token, json!({})).await;
    assert_eq!(
        names(&all),
        vec!["QOS_FILE"],
        "the file's catalog replaces the configured one"
    );
    // A bad file is refused and the catalog stays.
    std::fs::write(&file, "profiles:\n  - {name: x}\n").unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(get(&app, &app.token, "QOS_FILE").await.0, 200);
    std::fs::write(
        &file,
        format!("profiles:\n{}{}", profile("QOS_FILE"), profile("QOS_NEW")),
    )
    .unwrap();
    let mut found = 0;
    for _ in 0..60 {
        found = get(&app, &app.token, "QOS_NEW").await.0;
        if found == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(found, 200, "the new profile was not picked up");
    // And the booking API uses it at once.
    let mut body = booking_body(&app, "+123456789", time::Duration::minutes(10), 600);
    body["qosProfile"] = json!("QOS_NEW");
    assert_eq!(app.create(body).await.status, 201);
}
