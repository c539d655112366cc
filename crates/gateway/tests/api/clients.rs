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
    let app = spawn_app_with(|s| {
        s.clients = vec![aggregator_app()];
        s.server.admin_listen = Some("127.0.0.1:0".into());
    })
    .await;
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

    // Metrics by onboarded client; a client without a record is `other`.
    let metrics = app
        .client
        .get(format!("{}/metrics", app.admin.as_ref().unwrap()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let count = |labels: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(&format!("qos_booking_client_requests_total{{{labels}}}")))
            .and_then(|l| l.rsplit(' ').next())
            .map(str::to_owned)
    };
    let agg = |code: u16| {
        count(&format!(
            "client_id=\"aggregator-app-42\",http_response_status_code=\"{code}\""
        ))
    };
    assert_eq!(agg(422).as_deref(), Some("1"), "{metrics}");
    assert_eq!(agg(400).as_deref(), Some("1"));
    assert_eq!(agg(201).as_deref(), Some("1"));
    assert_eq!(agg(429).as_deref(), Some("2"));
    assert_eq!(agg(200).as_deref(), Some("1"));
    assert_eq!(
        count("client_id=\"other\",http_response_status_code=\"403\"").as_deref(),
        Some("3")
    );
    assert!(!metrics.contains("someone-else"));
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

/// A client's own authorization server: checks the RFC 7523 client assertion against the
/// gateway's public key and issues numbered tokens.
#[derive(Clone)]
struct AuthServer {
    url: String,
    issued: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

#[derive(serde::Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    aud: String,
    jti: String,
}

impl AuthServer {
    async fn start(public_pem: Vec<u8>) -> Self {
        use axum::extract::{Form, State};
        use axum::http::StatusCode;
        use axum::response::IntoResponse;
        let issued = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://127.0.0.1:{}/oauth2/token",
            listener.local_addr().unwrap().port()
        );
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(&public_pem).unwrap();
        let state = (issued.clone(), url.clone(), key);
        type St = (
            std::sync::Arc<std::sync::Mutex<Vec<String>>>,
            String,
            jsonwebtoken::DecodingKey,
        );
        async fn token(
            State((issued, url, key)): State<St>,
            Form(form): Form<std::collections::HashMap<String, String>>,
        ) -> axum::response::Response {
            let refuse = |why: &str| {
                (
                    StatusCode::UNAUTHORIZED,
                    axum::Json(json!({"error": "invalid_client", "error_description": why})),
                )
                    .into_response()
            };
            if form.get("grant_type").map(String::as_str) != Some("client_credentials")
                || form.get("client_assertion_type").map(String::as_str)
                    != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            {
                return refuse("not a private_key_jwt client-credentials request");
            }
            let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
            v.set_audience(&[url.as_str()]);
            v.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
            let Ok(data) = jsonwebtoken::decode::<AssertionClaims>(
                form.get("client_assertion").map_or("", String::as_str),
                &key,
                &v,
            ) else {
                return refuse("bad assertion");
            };
            let c = data.claims;
            if c.iss != "gw-at-app42" || c.sub != c.iss || c.aud != url || c.jti.is_empty() {
                return refuse("wrong claims");
            }
            let mut issued = issued.lock().unwrap();
            let t = format!("issued-{}", issued.len() + 1);
            issued.push(t.clone());
            axum::Json(json!({"access_token": t, "token_type": "Bearer", "expires_in": 3600})).into_response()
        }
        let app = axum::Router::new()
            .route("/oauth2/token", axum::routing::post(token))
            .with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, issued }
    }
}

#[tokio::test]
async fn a_private_key_jwt_sink_gets_its_events_with_a_token_from_the_clients_own_server() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("gw.key");
    let public = dir.path().join("gw.pub");
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl").args(args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        key.to_str().unwrap(),
    ]);
    openssl(&[
        "pkey",
        "-in",
        key.to_str().unwrap(),
        "-pubout",
        "-out",
        public.to_str().unwrap(),
    ]);
    let auth = AuthServer::start(std::fs::read(&public).unwrap()).await;

    let record = ClientSettings {
        client_id: "aggregator-app-42".into(),
        profiles: None,
        max_live_bookings: None,
        limits: ClientLimits::default(),
        sinks: None,
        private_key_jwt: Some(gateway::settings::PrivateKeyJwtSettings {
            token_endpoint: auth.url.parse().unwrap(),
            client_id: "gw-at-app42".into(),
            key_file: key.clone(),
            algorithm: "RS256".into(),
            key_id: Some("gw-1".into()),
            scope: Some("notifications".into()),
        }),
    };
    let app = spawn_app_with(|s| s.clients = vec![record]).await;
    let sink = Sink::start().await;
    let agg = app.all_scopes("aggregator-app-42");
    let mut b = booking_body(&app, "+123456781", Duration::minutes(10), 600);
    b["sink"] = json!(sink.url);
    b["sinkCredential"] = json!({"credentialType": "PRIVATE_KEY_JWT"});
    let created = app.create_as(&agg, b).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert!(created.body.get("sinkCredential").is_none());

    let events = sink.wait_for(1).await;
    assert_eq!(events[0].0["authorization"], "Bearer issued-1");
    assert_eq!(events[0].1["data"]["bookingStatus"], "SCHEDULED");
    // The token is kept: the activation's event carries it too, with no new request.
    app.advance(Duration::minutes(10)).await;
    let events = sink.wait_for(2).await;
    assert_eq!(events[1].0["authorization"], "Bearer issued-1");
    assert_eq!(auth.issued.lock().unwrap().len(), 1);
    // The sink no longer takes it (401): a fresh token, and the same event again.
    sink.answer_next_with(&[401]);
    app.advance(Duration::seconds(600)).await;
    let events = sink.wait_for(4).await;
    assert_eq!(events[2].0["authorization"], "Bearer issued-1");
    assert_eq!(events[3].0["authorization"], "Bearer issued-2");
    assert_eq!(events[2].1["id"], events[3].1["id"], "a retry keeps the event id");
    assert_eq!(events[3].1["data"]["bookingStatus"], "TERMINATED");
}

/// Records stored through the admin API reach every replica (two apps on one Redis) and win
/// over the configured record of the same client; removing one puts the configured one back.
#[tokio::test]
async fn records_stored_through_the_admin_api_reach_every_replica() {
    let configured = ClientSettings {
        client_id: "agg-7".into(),
        profiles: None,
        max_live_bookings: Some(5),
        limits: ClientLimits::default(),
        sinks: None,
        private_key_jwt: None,
    };
    let c = configured.clone();
    let a = spawn_redis_app_with(move |s| {
        s.server.admin_listen = Some("127.0.0.1:0".into());
        s.clients = vec![c];
    })
    .await;
    let url = a.redis.as_ref().unwrap().url();
    let b = spawn_app_with(move |s| {
        s.store.kind = gateway::settings::StoreKind::Redis;
        s.store.redis.urls = vec![url];
        s.store.redis.shards = 4;
        s.auth.allow_dev_with_redis = true;
        s.clients = vec![configured];
    })
    .await;
    let admin = a.admin.clone().unwrap();
    let ops = a.operator_token("qos-booking:operator");
    let put = a
        .client
        .put(format!("{admin}/admin/clients/agg-7"))
        .bearer_auth(&ops)
        .json(&json!({"profiles": ["QOS_S"], "limits": {"read": {"per_second": 10, "burst": 10}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200, "{}", put.text().await.unwrap());
    let bad = a
        .client
        .put(format!("{admin}/admin/clients/agg-7"))
        .bearer_auth(&ops)
        .json(&json!({"profile": ["QOS_S"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400, "an unknown field is refused");
    let loose = a
        .client
        .put(format!("{admin}/admin/clients/agg-7"))
        .bearer_auth(&ops)
        .json(&json!({"sinks": ["https://app.example.com"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        loose.status(),
        400,
        "a sink prefix must end its host (else app.example.com.evil.net matches)"
    );
    let listed: serde_json::Value = a
        .client
        .get(format!("{admin}/admin/clients"))
        .bearer_auth(&ops)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["source"], "store", "{listed}");
    assert_eq!(
        listed[0]["max_live_bookings"],
        serde_json::Value::Null,
        "the stored record replaces the configured one"
    );

    // Replica B applies it within its refresh interval (2 s).
    let token_b = b.all_scopes("agg-7");
    let body = booking_body(&b, "+123456781", Duration::minutes(10), 600);
    let mut code = String::new();
    for _ in 0..40 {
        let r = b.create_as(&token_b, body.clone()).await;
        code = r.body["code"].as_str().unwrap_or("created").to_owned();
        if code == "QOS_BOOKING.QOS_PROFILE_NOT_APPLICABLE" {
            break;
        }
        assert_eq!(r.status, 201, "{}", r.body);
        b.delete_as(&token_b, r.body["bookingId"].as_str().unwrap()).await;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(code, "QOS_BOOKING.QOS_PROFILE_NOT_APPLICABLE");

    // Removed: the configured record (any profile) is in force again everywhere.
    let del = a
        .client
        .delete(format!("{admin}/admin/clients/agg-7"))
        .bearer_auth(&ops)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 204);
    let mut status = 0;
    for _ in 0..40 {
        status = b.create_as(&token_b, body.clone()).await.status;
        if status == 201 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, 201);
}
