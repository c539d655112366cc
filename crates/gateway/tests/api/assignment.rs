//! QoS Booking and Assignment over real HTTP: a reservation for N devices, devices assigned
//! before the start (activated at the start) and after it (activated at once), released,
//! removed at the end; its error codes; its two event types.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};
use time::Duration;

pub const BA: &str = "/qos-booking-and-assignment/v0.2";

pub fn reservation_body(app: &TestApp, devices: u32, start_in: Duration, duration: u32) -> Value {
    json!({
        "numDevices": devices,
        "qosProfile": "QOS_L",
        "startTime": rfc3339(app.clock_now() + start_in),
        "duration": duration,
        "serviceArea": {"areaType": "CIRCLE", "center": {"latitude": 50.110924, "longitude": 8.682127}, "radius": 500}
    })
}

pub async fn ba(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> Resp {
    app.send(method, &format!("{BA}{path}"), Some(&app.token), Some("ba-corr"), body)
        .await
}

fn phones(list: &[&str]) -> Value {
    json!({"devices": list.iter().map(|p| json!({"phoneNumber": p})).collect::<Vec<_>>()})
}

/// A reservation for `devices` devices starting in `start_in`; its id.
async fn reserve(app: &TestApp, devices: u32, start_in: Duration) -> String {
    let r = ba(
        app,
        Method::POST,
        "/qos-bookings",
        Some(reservation_body(app, devices, start_in, 600)),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["bookingId"].as_str().unwrap().to_owned()
}

/// `POST …/qos-bookings/{id}/devices/{action}` (assign or release) of these phone numbers.
async fn devices_op(app: &TestApp, id: &str, action: &str, list: &[&str]) -> Resp {
    ba(
        app,
        Method::POST,
        &format!("/qos-bookings/{id}/devices/{action}"),
        Some(phones(list)),
    )
    .await
}

/// Runs the timers until the NEF holds `n` subscriptions (a device assigned after the start
/// is due at once; the app's own engine may also fire it).
async fn until_subscriptions(app: &TestApp, n: usize) {
    for _ in 0..200 {
        if app.sim.subscriptions().len() == n {
            return;
        }
        app.advance(Duration::ZERO).await;
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!(
        "expected {n} subscriptions, the NEF has {}",
        app.sim.subscriptions().len()
    );
}

#[tokio::test]
async fn devices_assigned_before_the_start_activate_at_it_later_ones_at_once_and_all_end_with_it() {
    let app = spawn_app().await;
    let sink = Sink::start().await;
    let mut body = reservation_body(&app, 3, Duration::minutes(10), 600);
    body["sink"] = json!(sink.url);
    let created = ba(&app, Method::POST, "/qos-bookings", Some(body.clone())).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.correlator.as_deref(), Some("ba-corr"));
    let b = &created.body;
    assert_eq!(
        (b["status"].as_str(), b["statusInfo"].as_str()),
        (Some("SUCCESSFUL"), Some("BOOKING_ACCEPTED"))
    );
    assert_eq!(
        (b["totalDevices"].as_u64(), b["remainingDevices"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(b["serviceArea"], body["serviceArea"]);
    assert_eq!(b["startTime"], body["startTime"]);
    let id = b["bookingId"].as_str().unwrap().to_owned();

    // Two devices before the start: assigned, nothing at the NEF yet.
    let a = devices_op(&app, &id, "assign", &["+123456780", "+123456781"]).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(
        (a.body["status"].as_str(), a.body["statusInfo"].as_str()),
        (Some("SUCCESSFUL"), Some("ASSIGNMENT_COMPLETED"))
    );
    assert_eq!(a.body["bookingDetails"]["remainingDevices"], 1);
    assert_eq!(
        a.body["devices"],
        json!([{"phoneNumber": "+123456780"}, {"phoneNumber": "+123456781"}])
    );
    assert!(app.sim.subscriptions().is_empty());
    // The same device again: already there.
    devices_op(&app, &id, "assign", &["+123456781"])
        .await
        .assert_error(409, "ALREADY_EXISTS");
    let listed = ba(&app, Method::GET, &format!("/qos-bookings/{id}/devices"), None).await;
    assert_eq!(
        listed.body["devices"].as_array().map(Vec::len),
        Some(2),
        "{}",
        listed.body
    );

    // The start: both activate; the reservation is active.
    app.advance(Duration::minutes(10)).await;
    until_subscriptions(&app, 2).await;
    let got = ba(&app, Method::GET, &format!("/qos-bookings/{id}"), None).await;
    assert_eq!(got.body["statusInfo"], "BOOKING_ACTIVATED");
    let posted: Vec<String> = app
        .sim
        .requests_of("POST")
        .iter()
        .map(|r| r.body.as_ref().unwrap()["ueIpv4Addr"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(posted.len(), 2);
    assert!(
        posted.contains(&"10.45.0.11".to_owned()) && posted.contains(&"10.45.0.12".to_owned()),
        "{posted:?}"
    );

    // Two more after the start: only one has room (QUOTA_EXCEEDED), and it activates at once.
    let late = devices_op(&app, &id, "assign", &["+123456782", "+123456783"]).await;
    assert_eq!(late.status, 201, "{}", late.body);
    assert_eq!(
        (late.body["status"].as_str(), late.body["statusInfo"].as_str()),
        (Some("PARTIAL_SUCCESS"), Some("QUOTA_EXCEEDED"))
    );
    assert_eq!(late.body["devices"], json!([{"phoneNumber": "+123456782"}]));
    assert_eq!(late.body["bookingDetails"]["remainingDevices"], 0);
    until_subscriptions(&app, 3).await;
    devices_op(&app, &id, "assign", &["+123456783"])
        .await
        .assert_error(409, "INCOMPATIBLE_STATE");

    // A release frees the slot and removes the device's subscription.
    let rel = devices_op(&app, &id, "release", &["+123456780"]).await;
    assert_eq!(rel.status, 200, "{}", rel.body);
    assert_eq!(rel.body["status"], "SUCCESSFUL");
    assert_eq!(rel.body["bookingDetails"]["remainingDevices"], 1);
    assert_eq!(app.sim.subscriptions().len(), 2);
    devices_op(&app, &id, "release", &["+123456780"])
        .await
        .assert_error(404, "NOT_FOUND");
    let again = devices_op(&app, &id, "assign", &["+123456783"]).await;
    assert_eq!(again.status, 201, "{}", again.body);
    until_subscriptions(&app, 3).await;

    // Retrieve by device: the reservation's details.
    let found = ba(
        &app,
        Method::POST,
        "/qos-bookings/retrieve",
        Some(json!({"device": {"phoneNumber": "+123456783"}})),
    )
    .await;
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(found.body.as_array().map(Vec::len), Some(1));
    assert_eq!(found.body[0]["bookingId"], json!(id));
    assert!(found.body[0].get("status").is_none(), "BookingDetails has no status");

    // The end: every device's subscription removed, the reservation expired.
    app.advance(Duration::seconds(600)).await;
    until_subscriptions(&app, 0).await;
    let ended = ba(&app, Method::GET, &format!("/qos-bookings/{id}"), None).await;
    assert_eq!(ended.body["statusInfo"], "BOOKING_EXPIRED");

    // Events: the reservation's (accepted, activated, expired) and each device's activation.
    let events = sink.wait_for(7).await;
    let of = |ty: &str| -> Vec<Value> {
        events
            .iter()
            .filter(|(_, e)| e["type"] == format!("org.camaraproject.qos-booking-and-assignment.v0.{ty}"))
            .map(|(_, e)| e["data"].clone())
            .collect()
    };
    let booking_events: Vec<(Value, Value)> = of("status-changed")
        .iter()
        .map(|d| (d["status"].clone(), d["statusInfo"].clone()))
        .collect();
    assert_eq!(
        booking_events,
        vec![
            (json!("SUCCESSFUL"), json!("BOOKING_ACCEPTED")),
            (json!("SUCCESSFUL"), json!("BOOKING_ACTIVATED")),
            (json!("SUCCESSFUL"), json!("BOOKING_EXPIRED")),
        ]
    );
    let device_events = of("assignment-status-changed");
    assert_eq!(device_events.len(), 4, "{device_events:?}");
    for d in &device_events {
        assert_eq!(
            (d["status"].as_str(), d["statusInfo"].as_str()),
            (Some("SUCCESSFUL"), Some("ASSIGNMENT_COMPLETED"))
        );
        assert_eq!(d["deviceDetails"]["bookingDetails"]["bookingId"], json!(id));
        assert_eq!(d["deviceDetails"]["devices"].as_array().map(Vec::len), Some(1));
    }
    for (headers, e) in &events {
        assert_eq!(headers["content-type"], "application/cloudevents+json");
        assert!(
            e["source"]
                .as_str()
                .unwrap()
                .ends_with(&format!("{BA}/qos-bookings/{id}")),
            "{}",
            e["source"]
        );
    }
}

#[tokio::test]
async fn a_cancelled_reservation_removes_its_devices_and_refuses_more() {
    let app = spawn_app_with(|s| s.server.admin_listen = Some("127.0.0.1:0".into())).await;
    let id = reserve(&app, 2, Duration::minutes(5)).await;
    devices_op(&app, &id, "assign", &["+123456780"]).await;
    app.advance(Duration::minutes(5)).await;
    until_subscriptions(&app, 1).await;
    // The operator sees the reservation's places and its device's own booking.
    let ops = app.operator_token("qos-booking:operator");
    let admin = app.admin.clone().unwrap();
    let inspect = |id: String| {
        let (client, ops, admin) = (app.client.clone(), ops.clone(), admin.clone());
        async move {
            client
                .get(format!("{admin}/admin/bookings/{id}"))
                .bearer_auth(ops)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let r = inspect(id.clone()).await;
    assert_eq!(r["reservation"]["remainingDevices"], 1, "{r}");
    let device_booking = r["reservation"]["deviceBookings"][0].as_str().unwrap().to_owned();
    let d = inspect(device_booking).await;
    assert_eq!(
        (d["reservationId"].as_str(), d["bookingStatus"].as_str()),
        (Some(id.as_str()), Some("ACTIVATED"))
    );
    let del = ba(&app, Method::DELETE, &format!("/qos-bookings/{id}"), None).await;
    assert_eq!(del.status, 200, "{}", del.body);
    assert_eq!(
        (del.body["status"].as_str(), del.body["statusInfo"].as_str()),
        (Some("SUCCESSFUL"), Some("BOOKING_CANCELLED"))
    );
    assert!(app.sim.subscriptions().is_empty());
    devices_op(&app, &id, "assign", &["+123456781"])
        .await
        .assert_error(409, "INCOMPATIBLE_STATE");
    ba(&app, Method::DELETE, &format!("/qos-bookings/{id}"), None)
        .await
        .assert_error(409, "INCOMPATIBLE_STATE");
}

#[tokio::test]
async fn b_and_a_answers_with_its_own_codes() {
    let app = spawn_app().await;
    let post = |body: Value| ba(&app, Method::POST, "/qos-bookings", Some(body));
    let with = |k: &str, v: Value| {
        let mut b = reservation_body(&app, 2, Duration::minutes(5), 600);
        b[k] = v;
        b
    };
    post(with("numDevices", json!(51)))
        .await
        .assert_error(400, "OUT_OF_RANGE");
    post(with("duration", json!(86_401)))
        .await
        .assert_error(400, "QOS_BOOKING_AND_ASSIGNMENT.DURATION_OUT_OF_RANGE");
    post(with("extra", json!(true)))
        .await
        .assert_error(400, "INVALID_ARGUMENT");
    post(with(
        "serviceArea",
        json!({"areaType": "AREANAME", "areaName": "stadium"}),
    ))
    .await
    .assert_error(400, "INVALID_ARGUMENT");
    post(with("qosProfile", json!("QOS_LEGACY")))
        .await
        .assert_error(400, "INVALID_ARGUMENT");

    let id = post(reservation_body(&app, 1, Duration::minutes(5), 600)).await.body["bookingId"]
        .as_str()
        .unwrap()
        .to_owned();
    let assign_path = format!("/qos-bookings/{id}/devices/assign");
    let assign = |body: Value| ba(&app, Method::POST, &assign_path, Some(body));
    let many: Vec<Value> = (0..51)
        .map(|i| json!({"phoneNumber": format!("+1234567{i:02}")}))
        .collect();
    assign(json!({"devices": many}))
        .await
        .assert_error(400, "INVALID_ARGUMENT");
    assign(json!({"devices": [{"phoneNumber": "+123456780"}], "extra": 1}))
        .await
        .assert_error(400, "INVALID_ARGUMENT");
    assign(json!({})).await.assert_error(422, "MISSING_IDENTIFIER");
    assign(phones(&["+199999990"]))
        .await
        .assert_error(404, "IDENTIFIER_NOT_FOUND");
    assign(phones(&["+4915100000000"]))
        .await
        .assert_error(422, "SERVICE_NOT_APPLICABLE");
    // A device already in an overlapping booking of this client: an incompatible state.
    let own = app
        .create(booking_body(&app, "+123456789", Duration::minutes(5), 600))
        .await;
    assert_eq!(own.status, 201);
    assign(phones(&["+123456789"]))
        .await
        .assert_error(409, "INCOMPATIBLE_STATE");
    assert_eq!(
        ba(&app, Method::GET, &format!("/qos-bookings/{id}"), None).await.body["remainingDevices"],
        1,
        "nothing held by the refusal"
    );

    // Each API sees only its own bookings.
    let qos_id = own.body["bookingId"].as_str().unwrap();
    ba(&app, Method::GET, &format!("/qos-bookings/{qos_id}"), None)
        .await
        .assert_error(404, "NOT_FOUND");
    app.get(&id).await.assert_error(404, "NOT_FOUND");
    // Another client's reservation; a token without the scope; not a UUID.
    let other = app.all_scopes("someone-else");
    app.send(
        Method::GET,
        &format!("{BA}/qos-bookings/{id}"),
        Some(&other),
        None,
        None,
    )
    .await
    .assert_error(403, "PERMISSION_DENIED");
    let narrow = app.token_for("c", &[camara_api::scopes::READ], None);
    app.send(
        Method::GET,
        &format!("{BA}/qos-bookings/{id}"),
        Some(&narrow),
        None,
        None,
    )
    .await
    .assert_error(403, "PERMISSION_DENIED");
    ba(&app, Method::GET, "/qos-bookings/retrieve", None)
        .await
        .assert_error(400, "INVALID_ARGUMENT");
    let yaml = app
        .client
        .get(format!("{}{BA}/openapi.yaml", app.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(yaml.contains("QoS Booking and Assignment") && !yaml.contains("../common/"));
}

#[tokio::test]
async fn a_three_legged_assign_adds_the_tokens_device_and_keeps_it_undisclosed() {
    let app = spawn_app().await;
    let id = reserve(&app, 2, Duration::minutes(5)).await;
    // The reservation's owner is the dev client; the same client's 3-legged token assigns
    // the subject's device (a `devices` list would be unnecessary).
    let subject = app.token_for(
        "dev-client",
        &camara_api::scopes::ALL,
        Some("operatortoken:ts43-123456781"),
    );
    let path = format!("{BA}/qos-bookings/{id}/devices/assign");
    app.send(Method::POST, &path, Some(&subject), None, Some(phones(&["+123456782"])))
        .await
        .assert_error(422, "UNNECESSARY_IDENTIFIER");
    let a = app
        .send(Method::POST, &path, Some(&subject), None, Some(json!({})))
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert!(a.body.get("devices").is_none(), "{}", a.body);
    let listed = ba(&app, Method::GET, &format!("/qos-bookings/{id}/devices"), None).await;
    assert_eq!(
        listed.body["statusInfo"], "DEVICE_DISCLOSURE_POLICY_APPLIED",
        "{}",
        listed.body
    );
    assert_eq!(listed.body["bookingDetails"]["remainingDevices"], 1);
    // The end user sees its own device only and may not cancel the client's reservation.
    devices_op(&app, &id, "assign", &["+123456783"]).await;
    let own = app
        .send(
            Method::GET,
            &format!("{BA}/qos-bookings/{id}/devices"),
            Some(&subject),
            None,
            None,
        )
        .await;
    assert_eq!(own.status, 200);
    assert!(own.body.get("devices").is_none(), "{}", own.body);
    assert_eq!(own.body["statusInfo"], "DEVICE_DISCLOSURE_POLICY_APPLIED");
    app.send(
        Method::DELETE,
        &format!("{BA}/qos-bookings/{id}"),
        Some(&subject),
        None,
        None,
    )
    .await
    .assert_error(403, "PERMISSION_DENIED");
    app.advance(Duration::minutes(5)).await;
    let addresses: Vec<Value> = app
        .sim
        .requests_of("POST")
        .iter()
        .map(|r| r.body.as_ref().unwrap()["ueIpv4Addr"].clone())
        .collect();
    assert!(addresses.contains(&json!("10.45.0.12")), "{addresses:?}");
    assert_eq!(app.sim.subscriptions().len(), 2, "nothing was cancelled");
}

#[tokio::test]
async fn an_operator_revoking_a_reservation_removes_its_devices_and_a_named_token_server_must_be_the_records() {
    let app = spawn_app_with(|s| s.server.admin_listen = Some("127.0.0.1:0".into())).await;
    let id = reserve(&app, 2, Duration::minutes(5)).await;
    devices_op(&app, &id, "assign", &["+123456780", "+123456781"]).await;
    app.advance(Duration::minutes(5)).await;
    until_subscriptions(&app, 2).await;
    let revoked = app
        .client
        .post(format!("{}/admin/bookings/{id}/revoke", app.admin.as_ref().unwrap()))
        .bearer_auth(app.operator_token("qos-booking:operator"))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    assert!(
        app.sim.subscriptions().is_empty(),
        "the devices' subscriptions went with it"
    );
    let got = ba(&app, Method::GET, &format!("/qos-bookings/{id}"), None).await;
    assert_eq!(
        (got.body["status"].as_str(), got.body["statusInfo"].as_str()),
        (Some("FAILURE"), Some("NETWORK_TERMINATED"))
    );

    // A PRIVATE_KEY_JWT credential may name its token server only as the record does.
    let mut body = reservation_body(&app, 1, Duration::minutes(20), 600);
    body["sinkCredential"] =
        json!({"credentialType": "PRIVATE_KEY_JWT", "tokenUri": "https://elsewhere.example.com/token"});
    let sink = Sink::start().await;
    body["sink"] = json!(sink.url);
    ba(&app, Method::POST, "/qos-bookings", Some(body))
        .await
        .assert_error(400, "INVALID_CREDENTIAL");
}

#[tokio::test]
async fn a_reservation_holds_pool_capacity_for_all_its_devices_from_its_creation() {
    let app = spawn_app_with(|s| {
        s.capacity.pools = vec![crate::assignment_v0_1::frankfurt(10, false)];
    })
    .await;
    let post = |n: u32| {
        ba(
            &app,
            Method::POST,
            "/qos-bookings",
            Some(reservation_body(&app, n, Duration::minutes(10), 600)),
        )
    };
    let eight = post(8).await;
    assert_eq!(eight.status, 201, "{}", eight.body);
    post(3).await.assert_error(409, "INCOMPATIBLE_STATE");
    // QoS Booking bookings in the same pool and window share the two places left.
    let statuses: Vec<(Value, Value)> = {
        let mut v = Vec::new();
        for phone in ["+123456780", "+123456781", "+123456782"] {
            let r = app.create(booking_body(&app, phone, Duration::minutes(10), 600)).await;
            v.push((r.body["bookingStatus"].clone(), r.body["statusInfo"].clone()));
        }
        v
    };
    assert_eq!(
        statuses,
        vec![
            (json!("SCHEDULED"), Value::Null),
            (json!("SCHEDULED"), Value::Null),
            (json!("TERMINATED"), json!("BOOKING_DECLINED"))
        ]
    );
    // Assigning devices takes nothing more; cancelling gives the eight places back.
    let id = eight.body["bookingId"].as_str().unwrap().to_owned();
    let a = devices_op(&app, &id, "assign", &["+123456783", "+123456789"]).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(
        ba(&app, Method::DELETE, &format!("/qos-bookings/{id}"), None)
            .await
            .status,
        200
    );
    assert_eq!(post(8).await.status, 201);
}
