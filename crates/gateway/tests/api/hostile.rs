//! Hostile input: a body naming a key twice (at any depth) is refused with 400
//! INVALID_ARGUMENT by every API a client or operator calls, and nothing is stored. serde_json
//! alone keeps the last occurrence, which a WAF reading the first would not have approved.

use crate::assignment::{BA, reservation_body};
use crate::helpers::*;
use serde_json::{Value, json};
use time::Duration;

/// `body` as JSON text with `dup` (`"key":value` text) put first inside the object at
/// `pointer` ("" for the top level), so that key appears twice.
fn with_duplicate(body: &Value, pointer: &str, dup: &str) -> String {
    let mut v = body.clone();
    let marker = "\"__dup_here__\":0";
    let target = v
        .pointer_mut(pointer)
        .and_then(Value::as_object_mut)
        .expect("an object there");
    let rest = std::mem::take(target);
    target.insert("__dup_here__".into(), json!(0));
    target.extend(rest);
    serde_json::to_string(&v).unwrap().replacen(marker, dup, 1)
}

/// Sends `text` as a JSON body.
async fn send_raw(app: &TestApp, method: reqwest::Method, url: &str, token: &str, text: String) -> Resp {
    let res = app
        .client
        .request(method, url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("x-correlator", "dup-corr")
        .body(text)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let correlator = res
        .headers()
        .get("x-correlator")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = res.json().await.unwrap_or(Value::Null);
    Resp {
        status,
        correlator,
        retry_after: None,
        body,
    }
}

#[track_caller]
fn assert_duplicate_refused(r: &Resp, key: &str) {
    r.assert_error(400, "INVALID_ARGUMENT");
    let message = r.body["message"].as_str().unwrap_or_default();
    assert!(message.contains(&format!("duplicate key \"{key}\"")), "{message}");
}

#[tokio::test]
async fn qos_booking_refuses_a_repeated_key_in_both_versions_and_stores_nothing() {
    let app = spawn_app().await;
    let body = booking_body(&app, "+123456781", Duration::hours(1), 600);
    for base in [BASE, "/qos-booking/v0.1"] {
        let url = format!("{}{base}/device-qos-bookings", app.addr);
        // At the top: the WAF saw QOS_M, the last one says QOS_L.
        let top = with_duplicate(&body, "", r#""qosProfile":"QOS_M""#);
        let r = send_raw(&app, reqwest::Method::POST, &url, &app.token, top).await;
        assert_duplicate_refused(&r, "qosProfile");
        assert_eq!(r.correlator.as_deref(), Some("dup-corr"));
        // Nested: two phone numbers in one device object.
        let nested = with_duplicate(&body, "/device", r#""phoneNumber":"+123456782""#);
        let r = send_raw(&app, reqwest::Method::POST, &url, &app.token, nested).await;
        assert_duplicate_refused(&r, "phoneNumber");
        // Deeper: a repeated key inside an array element.
        let deep = with_duplicate(&body, "/devicePorts/ranges/0", r#""from":1"#);
        let r = send_raw(&app, reqwest::Method::POST, &url, &app.token, deep).await;
        assert_duplicate_refused(&r, "from");
        let retrieve = with_duplicate(
            &json!({"device": {"phoneNumber": "+123456781"}}),
            "/device",
            r#""phoneNumber":"+123456782""#,
        );
        let r = send_raw(
            &app,
            reqwest::Method::POST,
            &format!("{}{base}/retrieve-device-qos-bookings", app.addr),
            &app.token,
            retrieve,
        )
        .await;
        assert_duplicate_refused(&r, "phoneNumber");
    }
    // Nothing was stored for either number.
    for phone in ["+123456781", "+123456782"] {
        let r = app
            .retrieve_as(&app.token, json!({"device": {"phoneNumber": phone}}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body, json!([]), "{phone}");
    }
    // The same body without the repeat is booked: the refusal was for the repeat alone.
    assert_eq!(app.create(body).await.status, 201);
}

#[tokio::test]
async fn assignment_and_profiles_refuse_a_repeated_key() {
    let app = spawn_app().await;
    let reserve = format!("{}{BA}/qos-bookings", app.addr);
    let body = reservation_body(&app, 2, Duration::hours(1), 600);
    let r = send_raw(
        &app,
        reqwest::Method::POST,
        &reserve,
        &app.token,
        with_duplicate(&body, "", r#""numDevices":200"#),
    )
    .await;
    assert_duplicate_refused(&r, "numDevices");
    let r = send_raw(
        &app,
        reqwest::Method::POST,
        &reserve,
        &app.token,
        with_duplicate(&body, "/serviceArea/center", r#""latitude":0"#),
    )
    .await;
    assert_duplicate_refused(&r, "latitude");
    // A real reservation, then an assign naming one device by two numbers.
    let created = send_raw(&app, reqwest::Method::POST, &reserve, &app.token, body.to_string()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["bookingId"].as_str().unwrap();
    let assign = with_duplicate(
        &json!({"devices": [{"phoneNumber": "+123456781"}]}),
        "/devices/0",
        r#""phoneNumber":"+123456782""#,
    );
    let url = format!("{reserve}/{id}/devices/assign");
    let r = send_raw(&app, reqwest::Method::POST, &url, &app.token, assign).await;
    assert_duplicate_refused(&r, "phoneNumber");
    assert!(app.sim.subscriptions().is_empty());
    let r = send_raw(
        &app,
        reqwest::Method::GET,
        &format!("{reserve}/{id}"),
        &app.token,
        String::new(),
    )
    .await;
    assert_eq!(
        r.body["remainingDevices"],
        json!(2),
        "no device was assigned: {}",
        r.body
    );

    let profiles = format!("{}/qos-profiles/vwip/retrieve-qos-profiles", app.addr);
    let r = send_raw(
        &app,
        reqwest::Method::POST,
        &profiles,
        &app.token,
        r#"{"name":"QOS_L","name":"QOS_S"}"#.to_owned(),
    )
    .await;
    assert_duplicate_refused(&r, "name");
}

#[tokio::test]
async fn the_admin_api_refuses_a_repeated_key() {
    let app = spawn_app_with(|s| s.server.admin_listen = Some("127.0.0.1:0".into())).await;
    let admin = app.admin.clone().unwrap();
    let ops = app.operator_token("qos-booking:operator");
    let (app_ref, ops_ref) = (&app, &ops);
    let put = move |url: String, text: &str| {
        let text = text.to_owned();
        async move { send_raw(app_ref, reqwest::Method::PUT, &url, ops_ref, text).await }
    };
    let r = put(
        format!("{admin}/admin/clients/agg-9"),
        r#"{"profiles":["QOS_S"],"max_live_bookings":1,"max_live_bookings":1000}"#,
    )
    .await;
    assert_duplicate_refused(&r, "max_live_bookings");
    let r = put(
        format!("{admin}/admin/clients/agg-9"),
        r#"{"limits":{"read":{"per_second":1,"burst":1,"burst":100}}}"#,
    )
    .await;
    assert_duplicate_refused(&r, "burst");
    let listed: Value = app
        .client
        .get(format!("{admin}/admin/clients"))
        .bearer_auth(&ops)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        listed.as_array().unwrap().iter().all(|c| c["client_id"] != "agg-9"),
        "nothing stored: {listed}"
    );
    let r = put(
        format!("{admin}/admin/capacity/stadium/QOS_L"),
        r#"{"capacity":1,"capacity":null}"#,
    )
    .await;
    assert_duplicate_refused(&r, "capacity");
}
