//! The booking at the NEF: device resolution, what reaches the simulator, and notifications
//! from the NEF back to the gateway.

use crate::helpers::*;
use serde_json::{Value, json};
use southbound::DeviceEntry;
use time::Duration;

fn id_of(r: &Resp) -> String {
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["bookingId"].as_str().unwrap().to_owned()
}

async fn notify(app: &TestApp, destination: &str, transaction: &str, event: &str) -> u16 {
    app.client
        .post(destination)
        .json(&json!({"transaction": transaction, "eventReports": [{"event": event, "accumulatedUsage": null}], "extra": 1}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn destination_of(app: &TestApp) -> String {
    app.sim.requests_of("POST").last().unwrap().body.as_ref().unwrap()["notificationDestination"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn device_resolution_codes() {
    let app = spawn_app().await;
    let body = |phone: &str| booking_body(&app, phone, Duration::minutes(5), 600);
    app.create(body("+19876543210"))
        .await
        .assert_error(404, "IDENTIFIER_NOT_FOUND");
    app.retrieve_as(&app.token, json!({"device": {"phoneNumber": "+19876543210"}}))
        .await
        .assert_error(404, "IDENTIFIER_NOT_FOUND");
    app.create(body("+4915100000000"))
        .await
        .assert_error(422, "SERVICE_NOT_APPLICABLE");
    // An unknown phone number that comes with an IP address is booked on the IP address.
    let mut with_ip = body("+19876543210");
    with_ip["device"]["ipv4Address"] = json!({"publicAddress": "203.0.113.9", "privateAddress": "10.9.9.9"});
    assert_eq!(app.create(with_ip).await.status, 201);

    // Without a resolver a Rel-17 NEF cannot be given a phone number.
    let bare = spawn_app_with(|s| s.southbound.devices.clear()).await;
    bare.create(booking_body(&bare, "+123456789", Duration::minutes(5), 600))
        .await
        .assert_error(422, "UNSUPPORTED_IDENTIFIER");
    app.finish().await;
}

#[tokio::test]
async fn rel18_sends_the_phone_number_as_gpsi() {
    let app = spawn_app_with(|s| {
        s.southbound.devices.clear();
        s.southbound.release = 18;
    })
    .await;
    let id = id_of(
        &app.create(booking_body(&app, "+123456789", Duration::minutes(1), 600))
            .await,
    );
    app.advance(Duration::minutes(1)).await;
    assert_eq!(app.get(&id).await.body["bookingStatus"], "ACTIVATED");
    let body = app.sim.requests_of("POST")[0].body.clone().unwrap();
    assert_eq!(body["gpsi"], "msisdn-123456789");
    assert_eq!(body["qosDuration"], 600);
    assert!(body.get("ueIpv4Addr").is_none());
    app.finish().await;
}

#[tokio::test]
async fn activation_uses_the_address_the_device_has_at_start_time() {
    let app = spawn_app().await;
    let id = id_of(
        &app.create(booking_body(&app, "+123456783", Duration::minutes(1), 600))
            .await,
    );
    let mut moved = test_devices();
    for d in &mut moved {
        if d.phone_number == "+123456783" {
            d.ipv4_private = Some("10.99.0.7".parse().unwrap());
        }
    }
    app.resolver.as_ref().unwrap().replace(moved);
    app.advance(Duration::minutes(1)).await;
    assert_eq!(app.get(&id).await.body["bookingStatus"], "ACTIVATED");
    assert_eq!(
        app.sim.requests_of("POST")[0].body.as_ref().unwrap()["ueIpv4Addr"],
        "10.99.0.7"
    );
    // A device that vanished from the resolver by its start time (and has no IP of its own)
    // cannot be activated: the booking is revoked.
    let id2 = id_of(
        &app.create(booking_body(&app, "+123456789", Duration::minutes(30), 60))
            .await,
    );
    app.resolver.as_ref().unwrap().replace(Vec::<DeviceEntry>::new());
    app.advance(Duration::minutes(30)).await;
    let r = app.get(&id2).await;
    assert_eq!(
        (r.body["bookingStatus"].as_str(), r.body["statusInfo"].as_str()),
        (Some("TERMINATED"), Some("BOOKING_REVOKED"))
    );
    app.finish().await;
}

#[tokio::test]
async fn session_termination_from_the_nef_ends_the_booking() {
    let app = spawn_app().await;
    let sink = Sink::start().await;
    let mut body = booking_body(&app, "+123456789", Duration::minutes(1), 600);
    body["sink"] = json!(sink.url);
    let id = id_of(&app.create(body).await);
    app.advance(Duration::minutes(1)).await;
    let (location, _) = app.sim.subscriptions().into_iter().next().unwrap();
    // The simulator's own notification path (SUCCESSFUL_RESOURCES_ALLOCATION) changes nothing.
    assert_eq!(
        app.sim
            .notify(&location, "SUCCESSFUL_RESOURCES_ALLOCATION")
            .await
            .unwrap(),
        204
    );
    assert_eq!(app.sim.notify(&location, "QOS_NOT_GUARANTEED").await.unwrap(), 204);
    assert_eq!(app.sim.notify(&location, "SOME_FUTURE_EVENT").await.unwrap(), 204);
    assert_eq!(app.get(&id).await.body["bookingStatus"], "ACTIVATED");

    assert_eq!(app.sim.notify(&location, "SESSION_TERMINATION").await.unwrap(), 204);
    let r = app.get(&id).await;
    assert_eq!(r.body["bookingStatus"], "TERMINATED");
    assert_eq!(r.body["statusInfo"], "NETWORK_TERMINATED");
    assert!(app.sim.subscriptions().is_empty(), "subscription left at the NEF");
    let events = sink.wait_for(3).await;
    assert_eq!(events[2].1["data"]["statusInfo"], "NETWORK_TERMINATED");
    // The end timer finds nothing left to do.
    app.advance(Duration::minutes(10)).await;
    assert_eq!(app.sim.requests_of("DELETE").len(), 1);
    app.finish().await;
}

#[tokio::test]
async fn failed_resources_allocation_ends_the_booking_and_removes_the_subscription() {
    let app = spawn_app().await;
    let id = id_of(
        &app.create(booking_body(&app, "+123456789", Duration::minutes(1), 600))
            .await,
    );
    app.advance(Duration::minutes(1)).await;
    let (location, _) = app.sim.subscriptions().into_iter().next().unwrap();
    assert_eq!(
        app.sim.notify(&location, "FAILED_RESOURCES_ALLOCATION").await.unwrap(),
        204
    );
    assert_eq!(app.get(&id).await.body["statusInfo"], "NETWORK_TERMINATED");
    assert!(app.sim.subscriptions().is_empty());
    app.finish().await;
}

#[tokio::test]
async fn callbacks_are_protected_and_lenient() {
    let app = spawn_app().await;
    let id = id_of(
        &app.create(booking_body(&app, "+123456789", Duration::minutes(1), 600))
            .await,
    );
    app.advance(Duration::minutes(1)).await;
    let dest = destination_of(&app);
    let (location, _) = app.sim.subscriptions().into_iter().next().unwrap();
    // A guessed token, or another booking's id, gets nowhere.
    let forged = format!("{}/{}", dest.rsplit_once('/').unwrap().0, "0".repeat(32));
    assert_eq!(notify(&app, &forged, &location, "SESSION_TERMINATION").await, 404);
    let other = dest.replace(&id, "3fa85f64-5717-4562-b3fc-2c963f66afa6");
    assert_eq!(notify(&app, &other, &location, "SESSION_TERMINATION").await, 404);
    // A notification of another subscription is acknowledged and ignored.
    assert_eq!(
        notify(&app, &dest, "http://nef/x/subscriptions/other", "SESSION_TERMINATION").await,
        204
    );
    assert_eq!(app.get(&id).await.body["bookingStatus"], "ACTIVATED");
    // Garbage is a 400 ProblemDetails.
    let res = app
        .client
        .post(&dest)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    // Null lists and unknown fields are fine.
    let res = app
        .client
        .post(&dest)
        .json(&json!({"transaction": location, "eventReports": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(app.get(&id).await.body["bookingStatus"], "ACTIVATED");
    app.finish().await;
}

#[tokio::test]
async fn a_termination_arriving_before_the_create_answer_is_not_lost() {
    let app = spawn_app().await;
    let id = id_of(
        &app.create(booking_body(&app, "+123456789", Duration::minutes(1), 600))
            .await,
    );
    // The NEF takes 400 ms to answer the POST; its notification overtakes the answer.
    app.sim.set_faults(nef_sim::Faults {
        latency_ms: 400,
        ..Default::default()
    });
    app.clock.advance(Duration::minutes(1));
    let service = app.service.clone();
    let activation = tokio::spawn(async move { service.run_due().await.unwrap() });
    let mut dest = None;
    for _ in 0..100 {
        if let Some(r) = app.sim.requests_of("POST").first() {
            dest = r
                .body
                .as_ref()
                .and_then(|b| b["notificationDestination"].as_str().map(str::to_owned));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let dest = dest.expect("the POST reached the simulator");
    let expected_location = format!(
        "{}/3gpp-as-session-with-qos/v1/qos-gw/subscriptions/sub-1",
        app.sim.url()
    );
    assert_eq!(
        notify(&app, &dest, &expected_location, "SESSION_TERMINATION").await,
        204
    );
    activation.await.unwrap();
    let r = app.get(&id).await;
    assert_eq!(r.body["bookingStatus"], "TERMINATED", "{}", r.body);
    assert_eq!(r.body["statusInfo"], "NETWORK_TERMINATED");
    // The subscription the late answer announced was removed again.
    app.sim.set_faults(nef_sim::Faults::default());
    assert!(app.sim.subscriptions().is_empty(), "{:?}", app.sim.subscriptions());
    app.finish().await;
}

#[tokio::test]
async fn ports_beyond_the_flow_limit_are_refused_at_create() {
    let app = spawn_app_with(|s| {
        s.southbound.mapping.flow_encoding = qos_mapping::FlowEncoding::Strict29214;
        s.southbound.mapping.max_flows = 16;
    })
    .await;
    let mut body = booking_body(&app, "+123456789", Duration::minutes(1), 600);
    body["devicePorts"] = json!({"ranges": [{"from": 1000, "to": 2000}]});
    app.create(body.clone()).await.assert_error(400, "OUT_OF_RANGE");
    body["devicePorts"] = json!({"ports": [5060]});
    body["applicationServerPorts"] = json!({"ranges": [{"from": 6000, "to": 6002}]});
    let id = id_of(&app.create(body).await);
    app.advance(Duration::minutes(1)).await;
    assert_eq!(app.get(&id).await.body["bookingStatus"], "ACTIVATED");
    let flows: Vec<Value> = app.sim.requests_of("POST")[0].body.as_ref().unwrap()["flowInfo"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(flows.len(), 3);
    assert_eq!(
        flows[0]["flowDescriptions"],
        json!([
            "permit in ip from 10.45.0.10 to 198.51.100.0/24 6000",
            "permit out ip from 198.51.100.0/24 to 10.45.0.10 5060"
        ])
    );
    assert_eq!(
        flows[2]["flowDescriptions"],
        json!(["permit in ip from 10.45.0.10 to 198.51.100.0/24 6002"])
    );
    app.finish().await;
}

/// Books in every flow encoding, over IPv4 and IPv6 and with the optional DNN, S-NSSAI and
/// alternative QoS references, and leaves each body the simulator received in
/// `target/nef-contract/`, where `.ci/run` validates them against the 3GPP YAML with an
/// independent JSON Schema validator.
#[tokio::test]
async fn contract_bodies_for_every_encoding() {
    use qos_mapping::FlowEncoding::*;
    let dir = std::env::current_exe()
        .unwrap()
        .ancestors()
        .nth(3)
        .unwrap()
        .join("nef-contract");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, enc, v6, extras) in [
        ("compact-v4", Compact, false, false),
        ("strict-v4", Strict29214, false, true),
        ("pairs-v4", PerPortPair, false, false),
        ("compact-v6", Compact, true, true),
    ] {
        let app = spawn_app_with(|s| {
            s.southbound.mapping.flow_encoding = enc;
            if extras {
                s.southbound.mapping.dnn = Some("internet".into());
                s.southbound.mapping.snssai_sst = 1;
                s.southbound.mapping.snssai_sd = Some("0000AB".into());
                s.profiles
                    .iter_mut()
                    .for_each(|p| p.alt_qos_references = vec!["QOS_M".into(), "QOS_S".into()]);
            }
        })
        .await;
        let mut body = booking_body(&app, "+123456789", Duration::minutes(1), 600);
        body["applicationServerPorts"] = json!({"ports": [443, 8443]});
        if v6 {
            body["device"] = json!({"ipv6Address": "2001:db8:45::11"});
            body["applicationServer"] = json!({"ipv6Address": "2001:db8:1::/48"});
        }
        let id = id_of(&app.create(body).await);
        app.advance(Duration::minutes(1)).await;
        assert_eq!(app.get(&id).await.body["bookingStatus"], "ACTIVATED", "{name}");
        let sent = app.sim.requests_of("POST")[0].body.clone().unwrap();
        std::fs::write(
            dir.join(format!("{name}.json")),
            serde_json::to_vec_pretty(&sent).unwrap(),
        )
        .unwrap();
    }
}

#[tokio::test]
async fn with_a_base_path_the_api_and_the_nef_callbacks_live_under_it() {
    let app = spawn_app_with(|s| s.server.base_path = "/camara".into()).await;
    let api = format!("{}/camara{BASE}/device-qos-bookings", app.addr);
    let body = booking_body(&app, "+123456789", Duration::minutes(1), 600);
    let res = app
        .client
        .post(&api)
        .bearer_auth(&app.token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["bookingId"]
        .as_str()
        .unwrap()
        .to_owned();
    // Not at the bare path.
    let bare = app
        .client
        .get(format!("{}{BASE}/device-qos-bookings/{id}", app.addr))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 404);
    app.advance(Duration::minutes(1)).await;
    let destination = destination_of(&app);
    assert!(destination.contains("/camara/nef-callbacks/"), "{destination}");
    let (location, _) = app.sim.subscriptions().into_iter().next().unwrap();
    assert_eq!(app.sim.notify(&location, "SESSION_TERMINATION").await.unwrap(), 204);
    let got: Value = app
        .client
        .get(format!("{api}/{id}"))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["bookingStatus"], "TERMINATED");
    assert_eq!(got["statusInfo"], "NETWORK_TERMINATED");
    app.finish().await;
}
