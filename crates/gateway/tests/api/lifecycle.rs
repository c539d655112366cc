//! The booking lifecycle with the manual clock: SCHEDULED -> ACTIVATED -> TERMINATED, deletes
//! in each state, purge after the retention, and the CloudEvents a real sink receives.

use crate::helpers::*;
use serde_json::{Value, json};
use time::Duration;

fn id_of(r: &Resp) -> String {
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["bookingId"].as_str().unwrap().to_owned()
}

fn statuses(events: &[(axum::http::HeaderMap, Value)]) -> Vec<(String, Option<String>)> {
    events
        .iter()
        .map(|(_, e)| {
            (
                e["data"]["bookingStatus"].as_str().unwrap().to_owned(),
                e["data"]["statusInfo"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn st(s: &str, info: Option<&str>) -> (String, Option<String>) {
    (s.to_owned(), info.map(str::to_owned))
}

#[tokio::test]
async fn booking_goes_scheduled_activated_terminated_then_is_purged() {
    let app = spawn_app().await;
    let sink = Sink::start().await;
    let mut body = booking_body(&app, "+123456789", Duration::minutes(10), 600);
    body["sink"] = json!(sink.url);
    body["sinkCredential"] = json!({"credentialType": "ACCESSTOKEN", "accessToken": "sink-secret", "accessTokenType": "bearer",
        "accessTokenExpiresUtc": rfc3339(app.clock_now() + Duration::days(2))});
    let created = app.create(body.clone()).await;
    let id = id_of(&created);
    assert_eq!(created.body["bookingStatus"], "SCHEDULED");
    assert!(created.body.get("startedAt").is_none());
    assert!(created.body.get("statusInfo").is_none());
    assert_eq!(created.body["serviceArea"], body["serviceArea"]);
    assert_eq!(created.body["devicePorts"], body["devicePorts"]);
    assert_eq!(created.body["startTime"], body["startTime"]);
    assert_eq!(created.body["duration"], 600);

    // Not yet: one second before the start nothing happens.
    app.advance(Duration::minutes(10) - Duration::seconds(1)).await;
    assert_eq!(app.get(&id).await.body["bookingStatus"], "SCHEDULED");
    assert!(app.sim.requests_of("POST").is_empty());

    app.advance(Duration::seconds(1)).await;
    let active = app.get(&id).await;
    assert_eq!(active.body["bookingStatus"], "ACTIVATED");
    assert!(active.body["startedAt"].is_string());
    assert!(active.body.get("statusInfo").is_none());
    assert_eq!(app.sim.subscriptions().len(), 1);

    app.advance(Duration::seconds(600)).await;
    let done = app.get(&id).await;
    assert_eq!(done.body["bookingStatus"], "TERMINATED");
    assert_eq!(done.body["statusInfo"], "DURATION_EXPIRED");
    assert!(done.body["startedAt"].is_string());
    assert!(app.sim.subscriptions().is_empty(), "subscription left at the NEF");
    let (posts, deletes) = (app.sim.requests_of("POST"), app.sim.requests_of("DELETE"));
    assert_eq!((posts.len(), deletes.len()), (1, 1));
    let body = posts[0].body.as_ref().unwrap();
    assert_eq!(body["ueIpv4Addr"], "10.45.0.10", "the resolver's address of +123456789");
    assert_eq!(body["qosReference"], "QOS_L");
    assert!(
        body["notificationDestination"]
            .as_str()
            .unwrap()
            .contains(&format!("/nef-callbacks/bookings/{id}/"))
    );
    // The DELETE targets the subscription the POST created (its Location).
    assert!(deletes[0].path.ends_with("/subscriptions/sub-1"), "{}", deletes[0].path);

    // Events: in order, right envelope, bearer credential, never the REQUESTED status.
    let events = sink.wait_for(3).await;
    assert_eq!(
        statuses(&events),
        vec![
            st("SCHEDULED", None),
            st("ACTIVATED", None),
            st("TERMINATED", Some("DURATION_EXPIRED"))
        ]
    );
    for (headers, e) in &events {
        assert_eq!(headers["content-type"], "application/cloudevents+json");
        assert_eq!(headers["authorization"], "Bearer sink-secret");
        assert_eq!(e["type"], "org.camaraproject.qos-booking.v0.status-changed");
        assert_eq!(e["specversion"], "1.0");
        assert_eq!(e["data"]["bookingId"], json!(id));
        assert!(
            e["source"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/qos-booking/v0.2/device-qos-bookings/{id}"))
        );
        assert!(e["time"].is_string());
    }
    let ids: std::collections::HashSet<_> = events
        .iter()
        .map(|(_, e)| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 3, "event ids must be unique");

    // Retained for 360 s after TERMINATED, then purged.
    app.advance(Duration::seconds(359)).await;
    assert_eq!(app.get(&id).await.status, 200);
    app.advance(Duration::seconds(1)).await;
    app.get(&id).await.assert_error(404, "NOT_FOUND");
    app.finish().await;
}

#[tokio::test]
async fn delete_while_scheduled_never_reaches_the_network() {
    let app = spawn_app().await;
    let sink = Sink::start().await;
    let mut body = booking_body(&app, "+123456789", Duration::minutes(10), 600);
    body["sink"] = json!(sink.url);
    let id = id_of(&app.create(body).await);
    let d = app.delete(&id).await;
    assert_eq!(d.status, 204);
    assert_eq!(d.body, Value::Null);
    let got = app.get(&id).await;
    assert_eq!(got.body["bookingStatus"], "TERMINATED");
    assert_eq!(got.body["statusInfo"], "DELETE_REQUESTED");
    // Deleting again is a 204 without another event.
    assert_eq!(app.delete(&id).await.status, 204);
    app.advance(Duration::minutes(10)).await;
    assert!(app.sim.requests_of("POST").is_empty());
    let events = sink.wait_for(2).await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(sink.events().len(), 2);
    assert_eq!(
        statuses(&events),
        vec![st("SCHEDULED", None), st("TERMINATED", Some("DELETE_REQUESTED"))]
    );
    app.finish().await;
}

#[tokio::test]
async fn delete_while_activated_removes_the_subscription() {
    let app = spawn_app().await;
    let id = id_of(
        &app.create(booking_body(&app, "+123456789", Duration::minutes(1), 600))
            .await,
    );
    app.advance(Duration::minutes(1)).await;
    assert_eq!(app.sim.subscriptions().len(), 1);
    assert_eq!(app.delete(&id).await.status, 204);
    assert!(app.sim.subscriptions().is_empty());
    let got = app.get(&id).await;
    assert_eq!(got.body["bookingStatus"], "TERMINATED");
    assert_eq!(got.body["statusInfo"], "DELETE_REQUESTED");
    assert!(got.body["startedAt"].is_string());
    // The end timer no longer does anything (and purge is 360 s after the delete).
    app.advance(Duration::minutes(5)).await;
    assert_eq!(
        app.sim.requests_of("POST").len() + app.sim.requests_of("DELETE").len(),
        2
    );
    assert_eq!(app.get(&id).await.body["statusInfo"], "DELETE_REQUESTED");
    app.finish().await;
}

#[tokio::test]
async fn overlap_is_409_until_the_other_booking_ends() {
    let app = spawn_app().await;
    let body = booking_body(&app, "+123456789", Duration::minutes(10), 600);
    let id = id_of(&app.create(body.clone()).await);
    app.create(body.clone()).await.assert_error(409, "CONFLICT");
    // Same window, other device: fine. Back-to-back on the same device: fine.
    let mut other = body.clone();
    other["device"] = json!({"ipv4Address": {"publicAddress": "203.0.113.5", "privateAddress": "10.0.0.5"}});
    assert_eq!(app.create(other).await.status, 201);
    let mut next = body.clone();
    next["startTime"] = json!(rfc3339(app.clock_now() + Duration::minutes(20)));
    assert_eq!(app.create(next).await.status, 201);
    assert_eq!(app.delete(&id).await.status, 204);
    assert_eq!(app.create(body).await.status, 201);
    app.finish().await;
}

#[tokio::test]
async fn retrieve_lists_own_bookings_including_terminated_ones() {
    let app = spawn_app().await;
    let a = id_of(
        &app.create(booking_body(&app, "+123456789", Duration::minutes(30), 60))
            .await,
    );
    let b = id_of(
        &app.create(booking_body(&app, "+123456789", Duration::minutes(10), 60))
            .await,
    );
    app.delete(&a).await;
    let r = app
        .retrieve_as(&app.token, json!({"device": {"phoneNumber": "+123456789"}}))
        .await;
    assert_eq!(r.status, 200);
    let list = r.body.as_array().unwrap();
    assert_eq!(
        list.iter()
            .map(|x| x["bookingId"].as_str().unwrap())
            .collect::<Vec<_>>(),
        vec![b.as_str(), a.as_str()]
    );
    assert_eq!(list[1]["bookingStatus"], "TERMINATED");
    let none = app
        .retrieve_as(&app.token, json!({"device": {"phoneNumber": "+199999999"}}))
        .await;
    assert_eq!((none.status, none.body), (200, json!([])));
    app.finish().await;
}

#[tokio::test]
async fn events_are_retried_with_the_same_id_and_stop_on_410() {
    let app = spawn_app().await;
    let sink = Sink::start().await;
    sink.answer_next_with(&[500, 503]);
    let mut body = booking_body(&app, "+123456789", Duration::minutes(1), 60);
    body["sink"] = json!(sink.url);
    let id = id_of(&app.create(body).await);
    let events = sink.wait_for(3).await;
    let ids: Vec<_> = events.iter().map(|(_, e)| e["id"].clone()).collect();
    assert!(
        ids.iter().all(|i| *i == ids[0]),
        "retries must keep the event id: {ids:?}"
    );
    assert_eq!(statuses(&events), vec![st("SCHEDULED", None); 3]);
    // A 410 stops delivery to that sink for good.
    sink.answer_next_with(&[410]);
    app.advance(Duration::minutes(1)).await;
    sink.wait_for(4).await;
    app.delete(&id).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(sink.events().len(), 4);
    app.finish().await;
}

#[tokio::test]
async fn refused_activation_revokes_and_transient_failure_retries() {
    let app = spawn_app().await;
    app.sim.fail_next(403, 1);
    let revoked = id_of(
        &app.create(booking_body(&app, "+123456781", Duration::minutes(1), 600))
            .await,
    );
    app.advance(Duration::minutes(1)).await;
    let r = app.get(&revoked).await;
    assert_eq!(r.body["bookingStatus"], "TERMINATED", "{}", r.body);
    assert_eq!(r.body["statusInfo"], "BOOKING_REVOKED");
    assert!(r.body.get("startedAt").is_none());

    let id = id_of(
        &app.create(booking_body(&app, "+123456782", Duration::minutes(1), 600))
            .await,
    );
    // A 500 on POST is not resent by the client; the scheduler retries after 1 s.
    app.sim.fail_next(500, 1);
    app.advance(Duration::minutes(1)).await;
    assert_eq!(app.get(&id).await.body["bookingStatus"], "SCHEDULED");
    app.advance(Duration::milliseconds(999)).await;
    assert_eq!(app.get(&id).await.body["bookingStatus"], "SCHEDULED");
    app.advance(Duration::milliseconds(1)).await;
    assert_eq!(app.get(&id).await.body["bookingStatus"], "ACTIVATED");
    // The retry first looked for a subscription of the failed attempt (none), then created one.
    assert_eq!(app.sim.requests_of("GET").len(), 1);
    assert_eq!(app.sim.subscriptions().len(), 1);
    app.finish().await;
}

#[tokio::test]
async fn activation_gives_up_after_the_retry_deadline() {
    let app = spawn_app_with(|s| s.scheduler.retry_deadline = std::time::Duration::from_secs(5)).await;
    let id = id_of(
        &app.create(booking_body(&app, "+123456789", Duration::minutes(1), 600))
            .await,
    );
    app.sim.set_faults(nef_sim::Faults {
        error_rate: 1.0,
        error_status: 503,
        ..Default::default()
    });
    app.advance(Duration::minutes(1)).await;
    for _ in 0..4 {
        app.advance(Duration::seconds(4)).await;
    }
    let r = app.get(&id).await;
    assert_eq!(r.body["bookingStatus"], "TERMINATED");
    assert_eq!(r.body["statusInfo"], "BOOKING_REVOKED");
    assert!(app.sim.subscriptions().is_empty());
    app.finish().await;
}

#[tokio::test]
async fn activation_lead_sends_early_but_clients_see_activated_from_the_start() {
    let app = spawn_app_with(|s| s.scheduler.activation_lead = std::time::Duration::from_secs(5)).await;
    let sink = Sink::start().await;
    let mut body = booking_body(&app, "+123456789", Duration::minutes(10), 600);
    body["sink"] = json!(sink.url);
    let start = app.clock_now() + Duration::minutes(10);
    let id = id_of(&app.create(body).await);
    assert_eq!(sink.wait_for(1).await.len(), 1);

    app.advance(Duration::minutes(10) - Duration::seconds(6)).await;
    assert!(app.sim.requests_of("POST").is_empty(), "sent before the lead");
    // Five seconds before the start: the NEF gets the request...
    app.advance(Duration::seconds(1)).await;
    assert_eq!(app.sim.requests_of("POST").len(), 1, "not sent at start - lead");
    // ...but the client still sees SCHEDULED, without startedAt, and gets no event yet.
    let early = app.get(&id).await;
    assert_eq!(early.body["bookingStatus"], "SCHEDULED");
    assert!(early.body.get("startedAt").is_none());
    let listed = app
        .retrieve_as(&app.token, json!({"device": {"phoneNumber": "+123456789"}}))
        .await;
    assert_eq!(listed.body[0]["bookingStatus"], "SCHEDULED");
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    assert_eq!(sink.events().len(), 1, "ACTIVATED announced before the start");

    app.advance(Duration::seconds(5)).await;
    let active = app.get(&id).await;
    assert_eq!(active.body["bookingStatus"], "ACTIVATED");
    let started = time::OffsetDateTime::parse(
        active.body["startedAt"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let start_ms = start.replace_millisecond(start.millisecond()).unwrap();
    assert_eq!(started, start_ms, "startedAt is the start time (ms precision)");
    let events = sink.wait_for(2).await;
    assert_eq!(statuses(&events), vec![st("SCHEDULED", None), st("ACTIVATED", None)]);
    app.finish().await;
}

#[tokio::test]
async fn an_async_delete_of_an_active_or_scheduled_booking_is_accepted_and_finished_in_the_background() {
    let app = spawn_app_with(|s| s.api.delete_mode = gateway::settings::DeleteMode::Async).await;
    let sink = Sink::start().await;
    let mut body = booking_body(&app, "+123456789", Duration::minutes(1), 600);
    body["sink"] = serde_json::json!(sink.url);
    let active = app.create(body).await.body["bookingId"].as_str().unwrap().to_owned();
    let scheduled = app
        .create(booking_body(&app, "+123456780", Duration::hours(2), 600))
        .await
        .body["bookingId"]
        .as_str()
        .unwrap()
        .to_owned();
    app.advance(Duration::minutes(1)).await;
    // The NEF is busy at first: the removal retries in the background.
    app.sim.fail_next(503, 3);
    let r = app.delete(&active).await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["bookingStatus"], "ACTIVATED");
    assert_eq!(r.body["statusInfo"], "DELETE_REQUESTED");
    assert_eq!(app.get(&active).await.body["statusInfo"], "DELETE_REQUESTED");
    // Deleting again while it is on its way: the same answer.
    assert_eq!(app.delete(&active).await.status, 202);
    app.advance(Duration::ZERO).await;
    app.advance(Duration::seconds(5)).await;
    app.advance(Duration::seconds(30)).await;
    let ended = app.get(&active).await.body;
    assert_eq!(ended["bookingStatus"], "TERMINATED", "{ended}");
    assert_eq!(ended["statusInfo"], "DELETE_REQUESTED");
    assert!(app.sim.subscriptions().is_empty());
    let events = sink.wait_for(3).await;
    assert_eq!(events[2].1["data"]["statusInfo"], "DELETE_REQUESTED");
    // A SCHEDULED booking is accepted the same way (202, SCHEDULED, DELETE_REQUESTED), and
    // ended at once by its timer, which the delete made due now.
    let r = app.delete(&scheduled).await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(
        (r.body["bookingStatus"].as_str(), r.body["statusInfo"].as_str()),
        (Some("SCHEDULED"), Some("DELETE_REQUESTED"))
    );
    app.advance(Duration::ZERO).await;
    let ended = app.get(&scheduled).await.body;
    assert_eq!(
        (ended["bookingStatus"].as_str(), ended["statusInfo"].as_str()),
        (Some("TERMINATED"), Some("DELETE_REQUESTED")),
        "{ended}"
    );
    // Nothing of it ever reached the NEF, and an ended booking is deleted at once.
    assert!(app.sim.subscriptions().is_empty());
    assert_eq!(app.delete(&scheduled).await.status, 204);
    app.finish().await;
}
