//! Client onboarding records: per API client the profiles it may book, its quota of live
//! bookings, its request rates, its sinks; reloaded from the catalog file without a restart.

use crate::helpers::*;
use gateway::settings::{ClientLimits, ClientSettings, RateSetting};
use serde_json::json;
use time::Duration;

fn aggregator_app() -> ClientSettings {
    ClientSettings {
        client_id: "aggregator-app-42".into(),
        profiles: Some(vec!["QOS_S".into(), "QOS_L".into()]),
        max_live_bookings: Some(1),
        limits: ClientLimits {
            read: Some(RateSetting {
                per_second: 1,
                burst: 1,
            }),
            ..ClientLimits::default()
        },
        sinks: Some(vec!["https://events.app42.example.com/".into()]),
        private_key_jwt: None,
    }
}

#[tokio::test]
async fn a_client_record_narrows_profiles_quota_rates_and_sinks_for_that_client_only() {
    let app = spawn_app_with(|s| s.clients = vec![aggregator_app()]).await;
    let agg = app.all_scopes("aggregator-app-42");
    let other = app.all_scopes("someone-else");

    // Profiles: QOS_M exists and is bookable, but not for this client.
    let mut m = booking_body(&app, "+123456781", Duration::minutes(10), 600);
    m["qosProfile"] = json!("QOS_M");
    let r = app.create_as(&agg, m.clone()).await;
    r.assert_error(422, "QOS_BOOKING.QOS_PROFILE_NOT_APPLICABLE");
    assert_eq!(r.correlator.as_deref(), Some("test-corr"));
    assert_eq!(app.create_as(&other, m).await.status, 201);

    // Sinks: only under its registered prefix.
    let mut s = booking_body(&app, "+123456782", Duration::minutes(10), 600);
    s["sink"] = json!("https://elsewhere.example.com/cb");
    app.create_as(&agg, s).await.assert_error(400, "INVALID_SINK");

    // Quota: one live booking.
    let first = app
        .create_as(&agg, booking_body(&app, "+123456782", Duration::minutes(10), 600))
        .await;
    assert_eq!(first.status, 201, "{}", first.body);
    app.create_as(&agg, booking_body(&app, "+123456783", Duration::minutes(10), 600))
        .await
        .assert_error(429, "QUOTA_EXCEEDED");
    // Nothing was stored half-way by the refusals: the other client's booking and this one.
    assert_eq!(app.service.store().stats().await.unwrap().by_status[1], 2);

    // Rates: one read per second for this client; the default (100/s) for the others.
    let id = first.body["bookingId"].as_str().unwrap();
    assert_eq!(app.get_as(&agg, id).await.status, 200);
    let r = app.get_as(&agg, id).await;
    r.assert_error(429, "TOO_MANY_REQUESTS");
    assert!(r.retry_after.is_some());
    for _ in 0..3 {
        assert_eq!(app.get_as(&other, id).await.status, 403, "another client's booking");
    }
}

#[tokio::test]
async fn private_key_jwt_needs_an_onboarding_record_that_says_where_tokens_come_from() {
    let app = spawn_app().await;
    let sink = Sink::start().await;
    let mut b = booking_body(&app, "+123456781", Duration::minutes(10), 600);
    b["sink"] = json!(sink.url);
    b["sinkCredential"] = json!({"credentialType": "PRIVATE_KEY_JWT"});
    let r = app.create(b).await;
    r.assert_error(400, "INVALID_CREDENTIAL");
    assert!(r.body["message"].as_str().unwrap().contains("onboarding"));
}

#[tokio::test]
async fn client_records_in_the_catalog_file_are_reloaded_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("catalog.yaml");
    std::fs::write(&file, "clients:\n  - {client_id: agg-1, profiles: [QOS_S]}\n").unwrap();
    let path = file.clone();
    let app = spawn_app_with(move |s| s.catalog_file = Some(path)).await;
    let agg = app.all_scopes("agg-1");
    let body = booking_body(&app, "+123456781", Duration::minutes(10), 600);
    app.create_as(&agg, body.clone())
        .await
        .assert_error(422, "QOS_BOOKING.QOS_PROFILE_NOT_APPLICABLE");
    std::fs::write(&file, "clients:\n  - {client_id: agg-1, profiles: [QOS_S, QOS_L]}\n").unwrap();
    let mut status = 0;
    for _ in 0..60 {
        status = app.create_as(&agg, body.clone()).await.status;
        if status == 201 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, 201, "the new record was not picked up");
}
