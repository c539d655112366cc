//! The operator's admin API on the admin listener: operator tokens only; find, inspect and
//! revoke bookings (an active one leaves the NEF and its client is told; a scheduled one never
//! reaches the NEF).

use crate::helpers::*;
use serde_json::{Value, json};
use time::Duration;

async fn call(app: &TestApp, method: reqwest::Method, path: &str, token: Option<&str>) -> (u16, Value) {
    let admin = app.admin.clone().unwrap();
    let mut req = app.client.request(method, format!("{admin}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_admin_api_takes_operator_tokens_only() {
    let app = spawn_app_with(|s| s.server.admin_listen = Some("127.0.0.1:0".into())).await;
    let get = reqwest::Method::GET;
    assert_eq!(call(&app, get.clone(), "/admin/bookings", None).await.0, 401);
    // A client token (the API's audience, every client scope) is refused.
    let (status, body) = call(&app, get.clone(), "/admin/bookings", Some(&app.token)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("UNAUTHENTICATED")),
        "{body}"
    );
    // An operator-audience token without the operator scope: 403.
    let weak = app.operator_token("qos-booking:device-qos-bookings:read");
    assert_eq!(call(&app, get.clone(), "/admin/bookings", Some(&weak)).await.0, 403);
    let ops = app.operator_token("qos-booking:operator");
    assert_eq!(call(&app, get, "/admin/bookings", Some(&ops)).await.0, 200);
}

#[tokio::test]
async fn the_operator_finds_and_revokes_bookings() {
    let app = spawn_app_with(|s| s.server.admin_listen = Some("127.0.0.1:0".into())).await;
    let ops = app.operator_token("qos-booking:operator");
    let sink = Sink::start().await;
    let mut active = booking_body(&app, "+123456781", Duration::minutes(1), 3600);
    active["sink"] = json!(sink.url);
    let active = app.create_as(&app.all_scopes("a"), active).await;
    let scheduled = app
        .create_as(
            &app.all_scopes("b"),
            booking_body(&app, "+123456782", Duration::hours(5), 600),
        )
        .await;
    let (a, s) = (
        active.body["bookingId"].as_str().unwrap().to_owned(),
        scheduled.body["bookingId"].as_str().unwrap().to_owned(),
    );
    app.advance(Duration::minutes(1)).await;

    let get = reqwest::Method::GET;
    let (status, list) = call(&app, get.clone(), "/admin/bookings?clientId=a", Some(&ops)).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["bookingId"], a.as_str());
    assert_eq!(list[0]["clientId"], "a");
    let (_, by_status) = call(&app, get.clone(), "/admin/bookings?status=SCHEDULED", Some(&ops)).await;
    assert_eq!(by_status[0]["bookingId"], s.as_str());
    let (status, body) = call(&app, get.clone(), "/admin/bookings?status=NOPE", Some(&ops)).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_ARGUMENT")));
    assert_eq!(
        call(&app, get, &format!("/admin/bookings/{s}"), Some(&ops)).await.1["clientId"],
        "b"
    );

    // Revoking the active booking removes its subscription and tells its client.
    let post = reqwest::Method::POST;
    let (status, revoked) = call(&app, post.clone(), &format!("/admin/bookings/{a}/revoke"), Some(&ops)).await;
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["bookingStatus"], "TERMINATED");
    assert_eq!(revoked["statusInfo"], "BOOKING_REVOKED");
    assert!(app.sim.subscriptions().is_empty());
    assert_eq!(app.sim.requests_of("DELETE").len(), 1);
    let events = sink.wait_for(3).await;
    assert_eq!(events[2].1["data"]["statusInfo"], "BOOKING_REVOKED");
    // Revoking the scheduled one never reaches the NEF; revoking twice is a conflict.
    let before = app.sim.requests().len();
    let (status, _) = call(&app, post.clone(), &format!("/admin/bookings/{s}/revoke"), Some(&ops)).await;
    assert_eq!(status, 200);
    assert_eq!(
        app.sim.requests().len(),
        before,
        "a scheduled booking's revoke reached the NEF"
    );
    let (status, body) = call(&app, post, &format!("/admin/bookings/{s}/revoke"), Some(&ops)).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("CONFLICT")));
    app.finish().await;
}
