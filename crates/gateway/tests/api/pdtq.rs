//! Network-confirmed admission (`capacity.network_admission: pdtq`) against the NEF
//! simulator's PDTQ capacity model: SCHEDULED only when the network agrees, declined with the
//! window it offers instead, REQUESTED while it does not answer, revoked (or moved to another
//! policy) when it warns, and the PDTQ subscriptions gone when the bookings end. The bodies
//! sent are kept for CI's validation against the Rel-18 YAML.

use crate::helpers::*;
use gateway::Settings;
use gateway::settings::NetworkAdmissionKind;
use nef_sim::pdtq::model::PdtqCapacity;
use serde_json::{Value, json};
use std::time::Duration as StdDuration;
use time::Duration;

fn pdtq(s: &mut Settings) {
    s.capacity.network_admission = NetworkAdmissionKind::Pdtq;
    s.capacity.pdtq.answer_within = StdDuration::from_millis(800);
    for name in s.api.area_names.clone() {
        let area = json!({"nwAreaInfo": {"tais": [{"plmnId": {"mcc": "262", "mnc": "01"}, "tac": "00A1B2"}]}});
        s.capacity
            .pdtq
            .areas
            .insert(name, serde_json::from_value(area).unwrap());
    }
}

fn capacity(ues: u32) -> PdtqCapacity {
    PdtqCapacity {
        ues,
        ..PdtqCapacity::default()
    }
}

/// The PDTQ subscriptions the simulator holds, with the booking each is for.
fn pdtq_of(app: &TestApp, booking: &str) -> Vec<Value> {
    app.sim
        .pdtq_subscriptions()
        .into_values()
        .filter(|v| {
            v["notificationDestination"]
                .as_str()
                .is_some_and(|d| d.contains(booking))
        })
        .collect()
}

fn id(r: &Resp) -> String {
    r.body["bookingId"].as_str().unwrap().to_owned()
}

/// Has the simulator warn the subscription `sub` with these candidate windows (ids from
/// `first`); the gateway's answer status.
async fn warn(app: &TestApp, sub: &str, windows: &[(String, String)], first: i64) -> u64 {
    let r = app
        .client
        .post(format!("{}/sim/pdtq/notify", app.sim.url()))
        .json(&json!({"subscription": sub, "candidates": windows, "firstId": first}))
        .send()
        .await
        .unwrap();
    r.json::<Value>().await.unwrap()["subscriberStatus"].as_u64().unwrap()
}

/// Polls the booking until `status` (the network answers on its own time).
async fn wait_status(app: &TestApp, booking: &str, status: &str) -> Value {
    for _ in 0..100 {
        let b = app.get(booking).await.body;
        if b["bookingStatus"] == status {
            return b;
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    panic!(
        "booking {booking} never became {status}: {}",
        app.get(booking).await.body
    );
}

/// What CI validates against the Rel-18 TS 29.522 YAML.
fn keep_contract_bodies(app: &TestApp, tag: &str) {
    let dir = std::env::current_exe()
        .unwrap()
        .ancestors()
        .nth(3)
        .unwrap()
        .join("pdtq-contract");
    for (i, r) in app
        .sim
        .requests()
        .iter()
        .filter(|r| r.path.starts_with(nef_sim::pdtq::PDTQ_PREFIX))
        .enumerate()
    {
        let kind = match r.method.as_str() {
            "POST" => "create",
            "PATCH" => "patch",
            _ => continue,
        };
        let dir = dir.join(kind);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(format!("{tag}-{i:03}.json")),
            serde_json::to_vec_pretty(r.body.as_ref().unwrap()).unwrap(),
        )
        .unwrap();
    }
}

#[tokio::test]
async fn the_network_decides_scheduled_or_declined_with_the_window_it_offers_instead() {
    let app = spawn_app_with(pdtq).await;
    app.sim.set_pdtq_capacity(capacity(1)).await;
    let sink = Sink::start().await;
    let mut first = booking_body(&app, "+123456781", Duration::hours(1), 1800);
    first["sink"] = json!(sink.url);
    let a = app.create(first.clone()).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["bookingStatus"], "SCHEDULED", "{}", a.body);
    assert!(a.body.get("message").is_none(), "{}", a.body);

    // What the network was asked, and what was selected.
    let held = pdtq_of(&app, &id(&a));
    assert_eq!(held.len(), 1, "{held:?}");
    let p = &held[0];
    assert_eq!(p["aspId"], "qos-booking-gateway");
    assert_eq!(p["numberOfUEs"], 1);
    assert_eq!(p["qosReference"], "QOS_L", "the profile's qosReference");
    assert_eq!(p["warnNotifEnabled"], true);
    assert_eq!(p["desTimeInts"][0]["startTime"], first["startTime"]);
    let area = &p["locationArea5G"]["geographicAreas"][0];
    assert_eq!(area["shape"], "POINT_UNCERTAINTY_CIRCLE");
    assert_eq!(area["uncertainty"], 500.0);
    assert_eq!(area["point"], json!({"lon": 8.682127, "lat": 50.110924}));
    assert_eq!(p["selectedPolicy"], 1, "the covering candidate selected");

    // The same window again: the network has no room; it offers a later one.
    let second = booking_body(&app, "+123456782", Duration::hours(1), 1800);
    let b = app.create(second).await;
    assert_eq!(b.status, 201, "{}", b.body);
    assert_eq!(
        (&b.body["bookingStatus"], &b.body["statusInfo"]),
        (&json!("TERMINATED"), &json!("BOOKING_DECLINED")),
        "{}",
        b.body
    );
    let message = b.body["message"].as_str().unwrap_or_default().to_owned();
    assert!(
        message.starts_with("The network cannot carry this QoS over the requested window; it offered "),
        "{message}"
    );
    assert_eq!(app.get(&id(&b)).await.body["message"], message, "kept with the booking");
    assert!(
        pdtq_of(&app, &id(&b)).is_empty(),
        "the declined booking's negotiation is deleted"
    );

    // Another area has room of its own.
    let mut polygon = booking_body(&app, "+123456783", Duration::hours(1), 1800);
    polygon["serviceArea"] = json!({"areaType": "POLYGON", "boundary": [
        {"latitude": 48.1, "longitude": 11.5}, {"latitude": 48.2, "longitude": 11.5}, {"latitude": 48.2, "longitude": 11.6}]});
    let c = app.create(polygon).await;
    assert_eq!(c.body["bookingStatus"], "SCHEDULED", "{}", c.body);
    let area = &pdtq_of(&app, &id(&c))[0]["locationArea5G"]["geographicAreas"][0];
    assert_eq!(area["shape"], "POLYGON");
    assert_eq!(area["pointList"].as_array().unwrap().len(), 3);
    let mut named = booking_body(&app, "+123456789", Duration::hours(1), 1800);
    named["serviceArea"] = json!({"areaType": "AREANAME", "areaName": "stadium-north"});
    let d = app.create(named).await;
    assert_eq!(d.body["bookingStatus"], "SCHEDULED", "{}", d.body);
    assert_eq!(
        pdtq_of(&app, &id(&d))[0]["locationArea5G"]["nwAreaInfo"]["tais"][0]["tac"],
        "00A1B2"
    );

    // The start still activates at the NEF as ever; the end removes both.
    app.advance(Duration::hours(1)).await;
    assert_eq!(app.get(&id(&a)).await.body["bookingStatus"], "ACTIVATED");
    assert_eq!(app.sim.subscriptions().len(), 3, "three AsSessionWithQoS subscriptions");
    app.advance(Duration::minutes(31)).await;
    assert_eq!(app.get(&id(&a)).await.body["statusInfo"], "DURATION_EXPIRED");
    assert!(
        pdtq_of(&app, &id(&a)).is_empty(),
        "the ended booking's negotiation is deleted"
    );
    assert!(
        app.sim.pdtq_subscriptions().is_empty(),
        "{:?}",
        app.sim.pdtq_subscriptions()
    );
    keep_contract_bodies(&app, "decide");
    app.finish().await;
}

#[tokio::test]
async fn a_warning_moves_a_booking_to_a_covering_policy_or_revokes_it() {
    let app = spawn_app_with(pdtq).await;
    let sink = Sink::start().await;
    let create = |phone: &str, hours: i64| {
        let mut b = booking_body(&app, phone, Duration::hours(hours), 1800);
        b["sink"] = json!(sink.url);
        b
    };
    let a = app.create(create("+123456781", 1)).await;
    let b = app.create(create("+123456782", 1)).await;
    let (a, b) = (id(&a), id(&b));
    let start = app.clock_now() + Duration::hours(1);
    let window = |from: Duration, to: Duration| (rfc3339(start + from), rfc3339(start + to));

    // A warning whose candidate still covers A's window: selected, A stays SCHEDULED.
    let sub = pdtq_of(&app, &a)[0]["self"].as_str().unwrap().to_owned();
    let cover = window(Duration::minutes(-5), Duration::minutes(40));

    // The selection meets a NEF that cannot take it now: 503 back, so the NEF sends the
    // warning again; the booking is not revoked for it.
    app.sim.fail_next(503, 10);
    assert_eq!(warn(&app, &sub, std::slice::from_ref(&cover), 5).await, 503);
    assert_eq!(app.get(&a).await.body["bookingStatus"], "SCHEDULED");
    app.sim.set_faults(nef_sim::Faults::default());
    assert_eq!(warn(&app, &sub, std::slice::from_ref(&cover), 5).await, 204);
    assert_eq!(app.get(&a).await.body["bookingStatus"], "SCHEDULED");
    assert_eq!(
        pdtq_of(&app, &a)[0]["selectedPolicy"],
        5,
        "moved to the covering policy"
    );

    // The capacity shrinks under both: the later one is squeezed out, offered a later
    // window, and revoked (with its event).
    let warned = app.sim.set_pdtq_capacity(capacity(1)).await;
    assert_eq!(warned["warned"].as_array().unwrap().len(), 1, "{warned}");
    assert_eq!(warned["warned"][0]["subscriberStatus"], 204, "{warned}");
    let revoked = app.get(&b).await.body;
    assert_eq!(
        (&revoked["bookingStatus"], &revoked["statusInfo"]),
        (&json!("TERMINATED"), &json!("BOOKING_REVOKED")),
        "{revoked}"
    );
    assert!(
        pdtq_of(&app, &b).is_empty(),
        "the revoked booking's negotiation is deleted"
    );
    let events = sink.wait_for(3).await;
    assert!(
        events
            .iter()
            .any(|(_, e)| e["data"]["bookingId"] == b && e["data"]["statusInfo"] == "BOOKING_REVOKED"),
        "{events:?}"
    );

    // An ACTIVATED booking warned with nothing that covers the rest of its window: its QoS is
    // removed at the NEF and it is revoked.
    app.advance(Duration::hours(1)).await;
    assert_eq!(app.get(&a).await.body["bookingStatus"], "ACTIVATED");
    assert_eq!(app.sim.subscriptions().len(), 1);
    let late = window(Duration::hours(2), Duration::hours(3));
    assert_eq!(warn(&app, &sub, std::slice::from_ref(&late), 1).await, 204);
    assert_eq!(app.get(&a).await.body["statusInfo"], "BOOKING_REVOKED");
    assert!(app.sim.subscriptions().is_empty(), "the QoS was removed");
    assert!(app.sim.pdtq_subscriptions().is_empty());

    // A warning for an unknown booking, or with a wrong token: 404.
    let r = app
        .client
        .post(format!("{}/pdtq-callbacks/bookings/{a}/wrong", app.addr))
        .json(&json!({"pdtqRefId": "r", "candPolicies": [{"pdtqPolicyId": 1, "recTimeInt": {"startTime": late.0, "stopTime": late.1}}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    keep_contract_bodies(&app, "warn");
    app.finish().await;
}

#[tokio::test]
async fn a_network_that_does_not_answer_in_time_leaves_the_booking_requested_until_it_does() {
    let app = spawn_app_with(pdtq).await;
    let sink = Sink::start().await;

    // Slow: the NEF acts, but its answer comes after answer_within; REQUESTED, then asked
    // again, and the negotiation the first ask made is adopted, not doubled.
    app.sim.set_faults(nef_sim::Faults {
        latency_after_ms: 1500,
        ..nef_sim::Faults::default()
    });
    let mut body = booking_body(&app, "+123456781", Duration::hours(1), 1800);
    body["sink"] = json!(sink.url);
    let slow = app.create(body).await;
    assert_eq!(slow.body["bookingStatus"], "REQUESTED", "{}", slow.body);
    let slow = id(&slow);
    assert_eq!(pdtq_of(&app, &slow).len(), 1, "the NEF acted on the unanswered ask");
    app.sim.set_faults(nef_sim::Faults::default());
    app.advance(Duration::seconds(30)).await;
    assert_eq!(app.get(&slow).await.body["bookingStatus"], "SCHEDULED");
    assert_eq!(
        pdtq_of(&app, &slow).len(),
        1,
        "one negotiation for the booking: adopted"
    );
    let asked = app
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.starts_with(nef_sim::pdtq::PDTQ_PREFIX))
        .count();
    assert_eq!(asked, 1, "asked once; the second try listed and adopted");
    // REQUESTED is the create's answer (no event names it); the decision is the event.
    let events = sink.wait_for(1).await;
    let statuses: Vec<&Value> = events.iter().map(|(_, e)| &e["data"]["bookingStatus"]).collect();
    assert_eq!(statuses, [&json!("SCHEDULED")], "{events:?}");

    // Asynchronous: the network takes the question and answers in a notification.
    app.sim
        .set_pdtq_capacity(PdtqCapacity {
            defer_answers_ms: 200,
            ..PdtqCapacity::default()
        })
        .await;
    let later = app
        .create(booking_body(&app, "+123456782", Duration::hours(2), 1800))
        .await;
    assert_eq!(later.body["bookingStatus"], "REQUESTED", "{}", later.body);
    wait_status(&app, &id(&later), "SCHEDULED").await;
    app.sim.set_pdtq_capacity(PdtqCapacity::default()).await;

    // Down: REQUESTED; still down at the start, declined then (nothing left at the NEF).
    app.sim.unavailable_for(StdDuration::from_secs(3600));
    let down = app
        .create(booking_body(&app, "+123456783", Duration::minutes(10), 600))
        .await;
    assert_eq!(down.body["bookingStatus"], "REQUESTED", "{}", down.body);
    let down = id(&down);
    app.advance(Duration::minutes(2)).await;
    assert_eq!(app.get(&down).await.body["bookingStatus"], "REQUESTED");
    app.advance(Duration::minutes(9)).await;
    assert_eq!(app.get(&down).await.body["statusInfo"], "BOOKING_DECLINED");
    app.sim.unavailable_for(StdDuration::ZERO);
    // Its release waits for the NEF too.
    app.advance(Duration::minutes(2)).await;
    assert!(pdtq_of(&app, &down).is_empty());
    keep_contract_bodies(&app, "slow");
    app.finish().await;
}

#[tokio::test]
async fn a_reservation_asks_for_all_its_devices_at_once() {
    let app = spawn_app_with(pdtq).await;
    app.sim.set_pdtq_capacity(capacity(3)).await;
    let reserve = |n: u32| {
        json!({
            "qosProfile": "QOS_L",
            "numDevices": n,
            "startTime": rfc3339(app.clock_now() + Duration::hours(1)),
            "duration": 1800,
            "serviceArea": {"areaType": "CIRCLE", "center": {"latitude": 50.110924, "longitude": 8.682127}, "radius": 500}
        })
    };
    let path = "/qos-booking-and-assignment/v0.2/qos-bookings";
    let ok = app
        .send(reqwest::Method::POST, path, Some(&app.token), None, Some(reserve(3)))
        .await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    let asked = app.sim.pdtq_subscriptions();
    assert_eq!(asked.values().next().unwrap()["numberOfUEs"], 3);

    // A device assigned and released again: the reservation's negotiation stays (it is for
    // all its devices, not the device's).
    let id = ok.body["bookingId"].as_str().unwrap().to_owned();
    for action in ["assign", "release"] {
        let r = app
            .send(
                reqwest::Method::POST,
                &format!("{path}/{id}/devices/{action}"),
                Some(&app.token),
                None,
                Some(json!({"devices": [{"phoneNumber": "+123456781"}]})),
            )
            .await;
        assert!(r.status / 100 == 2, "{action}: {} {}", r.status, r.body);
    }
    assert_eq!(
        app.sim.pdtq_subscriptions().len(),
        1,
        "{:?}",
        app.sim.pdtq_subscriptions()
    );
    let full = app
        .send(reqwest::Method::POST, path, Some(&app.token), None, Some(reserve(1)))
        .await;
    full.assert_error(409, "INCOMPATIBLE_STATE");
    assert!(
        full.body["message"].as_str().unwrap().contains("it offered"),
        "{}",
        full.body
    );
    assert_eq!(
        app.sim.pdtq_subscriptions().len(),
        1,
        "the refused one's negotiation is deleted"
    );
    keep_contract_bodies(&app, "reserve");
    app.finish().await;
}

#[tokio::test]
async fn a_deferred_pool_waits_for_the_operator_only_once_the_network_agreed() {
    let app = spawn_app_with(|s| {
        pdtq(s);
        s.server.admin_listen = Some("127.0.0.1:0".into());
        s.capacity.pools = vec![booking::capacity::Pool {
            name: "stadium".into(),
            area_names: vec!["stadium-north".into()],
            regions: vec![],
            profiles: std::collections::HashMap::from([("QOS_L".to_owned(), 10)]),
            blackouts: vec![],
            windows: vec![],
            deferred: true,
        }];
    })
    .await;
    let named = |phone: &str| {
        let mut b = booking_body(&app, phone, Duration::hours(1), 1800);
        b["serviceArea"] = json!({"areaType": "AREANAME", "areaName": "stadium-north"});
        b
    };
    // The network agrees: REQUESTED for the operator, who approves.
    let agreed = app.create(named("+123456781")).await;
    assert_eq!(agreed.body["bookingStatus"], "REQUESTED", "{}", agreed.body);
    let agreed = id(&agreed);
    assert_eq!(
        pdtq_of(&app, &agreed)[0]["selectedPolicy"],
        1,
        "the network was asked first"
    );
    let r: Value = app.decide(&agreed, "approve").await.json().await.unwrap();
    assert_eq!(r["bookingStatus"], "SCHEDULED", "{r}");

    // The network has not answered: the operator cannot approve it yet (409); once the
    // network agrees, the operator decides.
    app.sim.unavailable_for(StdDuration::from_secs(3600));
    let waiting = app.create(named("+123456782")).await;
    assert_eq!(waiting.body["bookingStatus"], "REQUESTED", "{}", waiting.body);
    let waiting = id(&waiting);
    assert_eq!(app.decide(&waiting, "approve").await.status(), 409);
    app.sim.unavailable_for(StdDuration::ZERO);
    app.advance(Duration::seconds(30)).await;
    let b = app.get(&waiting).await.body;
    assert_eq!(b["bookingStatus"], "REQUESTED", "now the operator's: {b}");
    assert_eq!(pdtq_of(&app, &waiting)[0]["selectedPolicy"], 1);
    let r: Value = app.decide(&waiting, "decline").await.json().await.unwrap();
    assert_eq!(r["statusInfo"], "BOOKING_DECLINED", "{r}");
    assert!(
        r.get("message").is_none(),
        "the operator declined it, not the network: {r}"
    );
    assert!(pdtq_of(&app, &waiting).is_empty(), "its negotiation released");
    app.finish().await;
}
