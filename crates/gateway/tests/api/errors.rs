//! Every CAMARA error code the API emits, over HTTP: status, code, message and the echoed
//! x-correlator, and that a refused create stores nothing.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};
use time::Duration;

const CORR: &str = "test-corr";

#[track_caller]
fn check(r: &Resp, status: u16, code: &str) {
    r.assert_error(status, code);
    assert_eq!(r.correlator.as_deref(), Some(CORR), "x-correlator not echoed");
}

fn with(mut body: Value, key: &str, v: Value) -> Value {
    body[key] = v;
    body
}

async fn assert_nothing_stored(app: &TestApp, phone: &str) {
    let r = app
        .retrieve_as(&app.token, json!({"device": {"phoneNumber": phone}}))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!([]), "a refused create left a booking behind");
}

#[tokio::test]
async fn invalid_argument_cases() {
    let app = spawn_app().await;
    let good = booking_body(&app, "+123456789", Duration::minutes(5), 600);
    let cases = [
        json!({}),
        json!([]),
        with(good.clone(), "extra", json!(true)),
        with(good.clone(), "device", json!({})),
        with(good.clone(), "device", json!({"phoneNumber": "12345"})),
        with(
            good.clone(),
            "device",
            json!({"ipv4Address": {"publicAddress": "203.0.113.1"}}),
        ),
        with(good.clone(), "applicationServer", json!({})),
        with(good.clone(), "devicePorts", json!({})),
        with(good.clone(), "applicationServerPorts", json!({"ports": [80.5]})),
        with(good.clone(), "startTime", json!("2030-01-01T10:00:00")),
        with(good.clone(), "duration", json!("600")),
        with(good.clone(), "qosProfile", json!("NO_SUCH_PROFILE")),
        with(good.clone(), "serviceArea", json!({"areaType": "TRIANGLE"})),
        with(
            good.clone(),
            "sinkCredential",
            json!({"credentialType": "ACCESSTOKEN", "accessTokenType": "bearer"}),
        ),
    ];
    for body in cases {
        let r = app.create(body.clone()).await;
        check(&r, 400, "INVALID_ARGUMENT");
    }
    assert_nothing_stored(&app, "+123456789").await;

    // Malformed JSON and an empty body.
    let raw = |body: &'static str| {
        app.client
            .post(format!("{}{BASE}/device-qos-bookings", app.addr))
            .bearer_auth(&app.token)
            .header("x-correlator", CORR)
            .header("content-type", "application/json")
            .body(body)
    };
    for body in ["{\"qosProfile\": ", ""] {
        let res = raw(body).send().await.unwrap();
        assert_eq!(res.status(), 400);
        assert_eq!(res.headers()["x-correlator"], CORR);
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["code"], "INVALID_ARGUMENT");
    }

    // Path and header syntax.
    check(&app.get("not-a-uuid").await, 400, "INVALID_ARGUMENT");
    check(&app.delete("123").await, 400, "INVALID_ARGUMENT");
    let r = app
        .send(
            Method::GET,
            &format!("{BASE}/device-qos-bookings/{}", uuid()),
            Some(&app.token),
            Some("bad value!"),
            None,
        )
        .await;
    r.assert_error(400, "INVALID_ARGUMENT");
    // Retrieve: unknown property, empty device.
    check(
        &app.retrieve_as(&app.token, json!({"devices": []})).await,
        400,
        "INVALID_ARGUMENT",
    );
    check(
        &app.retrieve_as(&app.token, json!({"device": {}})).await,
        400,
        "INVALID_ARGUMENT",
    );
    app.finish().await;
}

fn uuid() -> String {
    "3fa85f64-5717-4562-b3fc-2c963f66afa6".to_owned()
}

#[tokio::test]
async fn out_of_range_and_duration_cases() {
    let app = spawn_app().await;
    let good = booking_body(&app, "+123456789", Duration::minutes(5), 600);
    for body in [
        with(good.clone(), "devicePorts", json!({"ports": [70000]})),
        with(
            good.clone(),
            "devicePorts",
            json!({"ranges": [{"from": 6000, "to": 5000}]}),
        ),
        with(good.clone(), "duration", json!(0)),
        with(good.clone(), "duration", json!(31_622_401)),
        with(
            good.clone(),
            "startTime",
            json!(rfc3339(app.clock_now() - Duration::seconds(1))),
        ),
        with(
            good.clone(),
            "startTime",
            json!(rfc3339(app.clock_now() + Duration::days(400))),
        ),
    ] {
        check(&app.create(body).await, 400, "OUT_OF_RANGE");
    }
    // QOS_L allows at most 86400 s; QCI_1_voice at least 60 s.
    check(
        &app.create(with(good.clone(), "duration", json!(86_401))).await,
        400,
        "QOS_BOOKING.DURATION_OUT_OF_RANGE",
    );
    let short_voice = with(
        with(good.clone(), "qosProfile", json!("QCI_1_voice")),
        "duration",
        json!(30),
    );
    check(&app.create(short_voice).await, 400, "QOS_BOOKING.DURATION_OUT_OF_RANGE");
    assert_nothing_stored(&app, "+123456789").await;
    app.finish().await;
}

#[tokio::test]
async fn sink_and_credential_cases() {
    // Production sink policy: no http, no private or loopback addresses.
    let app = spawn_app_with(|s| s.notifications.allow_insecure_sinks = false).await;
    let good = booking_body(&app, "+123456789", Duration::minutes(5), 600);
    for sink in [
        "http://example.com/cb",
        "https://127.0.0.1/cb",
        "https://10.0.0.1/cb",
        "https://169.254.169.254/x",
        "https://localhost:8443/",
        "not a url",
        "https://",
    ] {
        check(
            &app.create(with(good.clone(), "sink", json!(sink))).await,
            400,
            "INVALID_SINK",
        );
    }
    let cred = |c: Value| {
        with(
            with(good.clone(), "sink", json!("https://203.0.113.50/cb")),
            "sinkCredential",
            c,
        )
    };
    for c in [
        json!({"credentialType": "PLAIN", "identifier": "x", "secret": "y"}),
        json!({"credentialType": "REFRESHTOKEN"}),
        json!({"credentialType": "PRIVATE_KEY_JWT"}),
    ] {
        check(&app.create(cred(c)).await, 400, "INVALID_CREDENTIAL");
    }
    let token = |ty: &str, exp: time::OffsetDateTime| json!({"credentialType": "ACCESSTOKEN", "accessToken": "abc", "accessTokenType": ty, "accessTokenExpiresUtc": rfc3339(exp)});
    check(
        &app.create(cred(token("mac", app.clock_now() + Duration::hours(1))))
            .await,
        400,
        "INVALID_TOKEN",
    );
    check(
        &app.create(cred(token("bearer", app.clock_now() - Duration::seconds(1))))
            .await,
        400,
        "INVALID_TOKEN",
    );
    assert_nothing_stored(&app, "+123456789").await;
    // A valid sink with a valid credential is accepted and the credential never echoed.
    let ok = app
        .create(cred(token("bearer", app.clock_now() + Duration::hours(1))))
        .await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    assert!(ok.body.get("sinkCredential").is_none());
    assert_eq!(ok.body["sink"], "https://203.0.113.50/cb");
    app.finish().await;
}

#[tokio::test]
async fn authentication_and_scopes() {
    let app = spawn_app().await;
    let body = booking_body(&app, "+123456789", Duration::minutes(5), 600);
    let path = format!("{BASE}/device-qos-bookings");
    let r = app
        .send(Method::POST, &path, None, Some(CORR), Some(body.clone()))
        .await;
    check(&r, 401, "UNAUTHENTICATED");
    let r = app
        .send(Method::POST, &path, Some("garbage"), Some(CORR), Some(body.clone()))
        .await;
    check(&r, 401, "UNAUTHENTICATED");
    let expired = app
        .issuer
        .as_ref()
        .unwrap()
        .mint("c", &camara_api::scopes::ALL, None, 0)
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // Expired beyond the leeway: sign one with exp in the past explicitly.
    let old = app
        .issuer
        .as_ref()
        .unwrap()
        .sign(json!({"client_id": "c", "scope": "x", "exp": 1_000_000_000}), 0)
        .unwrap();
    for t in [expired.as_str(), old.as_str()] {
        let r = app
            .send(Method::POST, &path, Some(t), Some(CORR), Some(body.clone()))
            .await;
        // The first is within the 30 s leeway, so only the second must fail.
        if t == old {
            check(&r, 401, "UNAUTHENTICATED");
        }
    }
    // A token from another key (another gateway's dev issuer) is refused.
    let other = spawn_app().await;
    let r = app
        .send(Method::POST, &path, Some(&other.token), Some(CORR), Some(body.clone()))
        .await;
    check(&r, 401, "UNAUTHENTICATED");
    // Wrong audience or issuer.
    let wrong_aud = app
        .issuer
        .as_ref()
        .unwrap()
        .sign(
            json!({"client_id": "c", "scope": camara_api::scopes::CREATE, "aud": "other"}),
            60,
        )
        .unwrap();
    check(&app.create_as(&wrong_aud, body.clone()).await, 401, "UNAUTHENTICATED");
    let wrong_iss = app
        .issuer
        .as_ref()
        .unwrap()
        .sign(
            json!({"client_id": "c", "scope": camara_api::scopes::CREATE, "iss": "evil"}),
            60,
        )
        .unwrap();
    check(&app.create_as(&wrong_iss, body.clone()).await, 401, "UNAUTHENTICATED");
    // 401 comes before body and header checks.
    let r = app
        .send(
            Method::GET,
            &format!("{BASE}/device-qos-bookings/nope"),
            None,
            Some(CORR),
            None,
        )
        .await;
    check(&r, 401, "UNAUTHENTICATED");

    // Each operation needs its own scope; 403 comes before a bad x-correlator or path.
    use camara_api::scopes::*;
    let only = |s: &str| app.token_for("c", &[s], None);
    check(
        &app.create_as(&only(READ), body.clone()).await,
        403,
        "PERMISSION_DENIED",
    );
    check(&app.get_as(&only(CREATE), "nope").await, 403, "PERMISSION_DENIED");
    check(&app.delete_as(&only(READ), &uuid()).await, 403, "PERMISSION_DENIED");
    check(&app.retrieve_as(&only(READ), json!({})).await, 403, "PERMISSION_DENIED");
    let r = app
        .send(
            Method::GET,
            &format!("{BASE}/device-qos-bookings/{}", uuid()),
            Some(&only(CREATE)),
            Some("bad value!"),
            None,
        )
        .await;
    r.assert_error(403, "PERMISSION_DENIED");
    // With the right scope each one passes authorization.
    check(&app.get_as(&only(READ), &uuid()).await, 404, "NOT_FOUND");
    check(&app.delete_as(&only(DELETE), &uuid()).await, 404, "NOT_FOUND");
    check(
        &app.retrieve_as(&only(RETRIEVE), json!({})).await,
        422,
        "MISSING_IDENTIFIER",
    );
    app.finish().await;
}

#[tokio::test]
async fn identifier_cases() {
    let app = spawn_app().await;
    let mut body = booking_body(&app, "+123456789", Duration::minutes(5), 600);
    body.as_object_mut().unwrap().remove("device");
    check(&app.create(body.clone()).await, 422, "MISSING_IDENTIFIER");
    check(&app.retrieve_as(&app.token, json!({})).await, 422, "MISSING_IDENTIFIER");
    let nai = with(
        body.clone(),
        "device",
        json!({"networkAccessIdentifier": "123@example.com"}),
    );
    check(&app.create(nai).await, 422, "UNSUPPORTED_IDENTIFIER");
    check(
        &app.retrieve_as(&app.token, json!({"device": {"networkAccessIdentifier": "1@x.com"}}))
            .await,
        422,
        "UNSUPPORTED_IDENTIFIER",
    );
    let three_legged = app.token_for("c", &camara_api::scopes::ALL, Some("tel:+123456789"));
    let with_device = with(body.clone(), "device", json!({"phoneNumber": "+123456789"}));
    check(
        &app.create_as(&three_legged, with_device).await,
        422,
        "UNNECESSARY_IDENTIFIER",
    );
    check(
        &app.retrieve_as(&three_legged, json!({"device": {"phoneNumber": "+123456789"}}))
            .await,
        422,
        "UNNECESSARY_IDENTIFIER",
    );
    // 3-legged without device is fine, and the response reveals no device.
    let ok = app.create_as(&three_legged, body).await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    assert!(ok.body.get("device").is_none());
    app.finish().await;
}

#[tokio::test]
async fn area_and_profile_cases() {
    let app = spawn_app_with(|s| {
        s.api.area_types.polygon = false;
        s.coverage.regions = vec![booking::CoverageRegion::Circle {
            latitude: 50.11,
            longitude: 8.68,
            radius: 20_000.0,
        }];
    })
    .await;
    let good = booking_body(&app, "+123456789", Duration::minutes(5), 600);
    let poly = json!({"areaType": "POLYGON", "boundary": [{"latitude": 50.1, "longitude": 8.6}, {"latitude": 50.2, "longitude": 8.6}, {"latitude": 50.2, "longitude": 8.7}]});
    check(
        &app.create(with(good.clone(), "serviceArea", poly)).await,
        422,
        "QOS_BOOKING.NOT_MANAGED_AREA_TYPE",
    );
    for area in [
        json!({"areaType": "CIRCLE", "center": {"latitude": 50.1, "longitude": 8.6}, "radius": 0}),
        json!({"areaType": "CIRCLE", "center": {"latitude": 91, "longitude": 8.6}, "radius": 10}),
        json!({"areaType": "CIRCLE", "center": {"latitude": 50.1}, "radius": 10}),
        json!({"areaType": "AREANAME", "areaName": "atlantis"}),
    ] {
        check(
            &app.create(with(good.clone(), "serviceArea", area)).await,
            422,
            "QOS_BOOKING.INVALID_AREA",
        );
    }
    let far = json!({"areaType": "CIRCLE", "center": {"latitude": 40.0, "longitude": -3.7}, "radius": 100});
    check(
        &app.create(with(good.clone(), "serviceArea", far)).await,
        422,
        "QOS_BOOKING.AREA_NOT_COVERED",
    );
    let uncovered_name = json!({"areaType": "AREANAME", "areaName": "harbour"});
    check(
        &app.create(with(good.clone(), "serviceArea", uncovered_name)).await,
        422,
        "QOS_BOOKING.AREA_NOT_COVERED",
    );
    check(
        &app.create(with(good.clone(), "qosProfile", json!("QOS_LEGACY"))).await,
        422,
        "QOS_BOOKING.QOS_PROFILE_NOT_APPLICABLE",
    );
    assert_nothing_stored(&app, "+123456789").await;
    // The AREANAME and CIRCLE areas that are covered are accepted, echoed as sent.
    let named = json!({"areaType": "AREANAME", "areaName": "stadium-north"});
    let r = app.create(with(good.clone(), "serviceArea", named.clone())).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["serviceArea"], named);
    app.finish().await;
}

#[tokio::test]
async fn conflict_not_found_and_transport_errors() {
    let app = spawn_app().await;
    let body = booking_body(&app, "+123456789", Duration::minutes(5), 600);
    assert_eq!(app.create(body.clone()).await.status, 201);
    let overlapping = with(
        body.clone(),
        "startTime",
        json!(rfc3339(app.clock_now() + Duration::minutes(10))),
    );
    check(&app.create(overlapping).await, 409, "CONFLICT");
    check(&app.get(&uuid()).await, 404, "NOT_FOUND");
    check(&app.delete(&uuid()).await, 404, "NOT_FOUND");

    // Unknown route, wrong method, wrong media type, oversized body: CAMARA bodies too.
    let r = app
        .send(
            Method::GET,
            "/qos-booking/v0.2/nothing-here",
            Some(&app.token),
            Some(CORR),
            None,
        )
        .await;
    check(&r, 404, "NOT_FOUND");
    let r = app
        .send(
            Method::PUT,
            &format!("{BASE}/device-qos-bookings"),
            Some(&app.token),
            Some(CORR),
            None,
        )
        .await;
    check(&r, 405, "METHOD_NOT_ALLOWED");
    let res = app
        .client
        .post(format!("{}{BASE}/device-qos-bookings", app.addr))
        .bearer_auth(&app.token)
        .header("x-correlator", CORR)
        .header("content-type", "text/plain")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    assert_eq!(res.headers()["x-correlator"], CORR);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "UNSUPPORTED_MEDIA_TYPE");
    let huge = with(body.clone(), "sink", json!("x".repeat(70_000)));
    check(&app.create(huge).await, 413, "PAYLOAD_TOO_LARGE");
    app.finish().await;
}

#[tokio::test]
async fn correlator_is_echoed_on_success_and_generated_when_absent() {
    let app = spawn_app().await;
    let r = app
        .create(booking_body(&app, "+123456789", Duration::minutes(5), 600))
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.correlator.as_deref(), Some(CORR));
    let id = r.body["bookingId"].as_str().unwrap().to_owned();
    let d = app.delete(&id).await;
    assert_eq!(d.status, 204);
    assert_eq!(d.correlator.as_deref(), Some(CORR));
    let r = app
        .send(
            Method::GET,
            &format!("{BASE}/device-qos-bookings/{id}"),
            Some(&app.token),
            None,
            None,
        )
        .await;
    assert!(r.correlator.is_some_and(|c| !c.is_empty()));
    app.finish().await;
}

#[tokio::test]
async fn served_under_vwip_and_openapi() {
    let app = spawn_app().await;
    let r = app
        .send(
            Method::POST,
            "/qos-booking/vwip/retrieve-device-qos-bookings",
            Some(&app.token),
            Some(CORR),
            Some(json!({"device": {"phoneNumber": "+123456789"}})),
        )
        .await;
    assert_eq!(r.status, 200);
    let res = app
        .client
        .get(format!("{}{BASE}/openapi.yaml", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("/device-qos-bookings/{bookingId}"));
    app.finish().await;
}

#[tokio::test]
async fn nulls_sent_by_generated_clients_are_absent_but_unknown_properties_are_not() {
    let app = spawn_app().await;
    let mut body = booking_body(&app, "+123456789", time::Duration::minutes(10), 600);
    body["device"]["ipv4Address"] = serde_json::Value::Null;
    body["sink"] = serde_json::Value::Null;
    body["sinkCredential"] = serde_json::Value::Null;
    assert_eq!(app.create(body.clone()).await.status, 201);
    body["device"]["phoneNumber"] = serde_json::json!("+123456780");
    body["device"]["somethingElse"] = serde_json::Value::Null;
    app.create(body).await.assert_error(400, "INVALID_ARGUMENT");
    app.finish().await;
}
