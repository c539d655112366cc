//! Capacity-aware admission: a pool carries so many bookings of a profile at once; a create
//! beyond it at any instant is answered 201 TERMINATED/BOOKING_DECLINED and takes nothing; a
//! delete gives the capacity back; a blackout admits nothing.

use crate::helpers::*;
use booking::capacity::{Blackout, Pool};
use serde_json::{Value, json};
use std::collections::HashMap;
use time::Duration;

fn stadium(limit: u32, blackouts: Vec<Blackout>) -> Pool {
    Pool {
        name: "stadium".into(),
        area_names: vec!["stadium-north".into()],
        regions: vec![],
        profiles: HashMap::from([("QOS_L".to_owned(), limit)]),
        blackouts,
        windows: vec![],
        deferred: false,
    }
}

fn body(app: &TestApp, phone: &str, start_in: Duration, duration: u32) -> Value {
    let mut b = booking_body(app, phone, start_in, duration);
    b["serviceArea"] = json!({"areaType": "AREANAME", "areaName": "stadium-north"});
    b
}

#[tokio::test]
async fn a_full_pool_declines_and_a_delete_frees_the_slot() {
    let app = spawn_app_with(|s| s.capacity.pools = vec![stadium(2, vec![])]).await;
    let sink = Sink::start().await;
    let mut states = Vec::new();
    let mut ids = Vec::new();
    for (client, phone, offset) in [("a", "+123456781", 0), ("b", "+123456782", 10), ("c", "+123456783", 20)] {
        let token = app.all_scopes(client);
        let mut b = body(&app, phone, Duration::minutes(10 + offset), 1800);
        b["sink"] = json!(sink.url);
        let r = app.create_as(&token, b).await;
        assert_eq!(r.status, 201, "{}", r.body);
        states.push((r.body["bookingStatus"].clone(), r.body["statusInfo"].clone()));
        ids.push((token, r.body["bookingId"].as_str().unwrap().to_owned()));
    }
    assert_eq!(
        states,
        vec![
            (json!("SCHEDULED"), Value::Null),
            (json!("SCHEDULED"), Value::Null),
            (json!("TERMINATED"), json!("BOOKING_DECLINED")),
        ]
    );
    // The declined booking is readable and its client got the event.
    let (token_c, declined) = &ids[2];
    assert_eq!(
        app.get_as(token_c, declined).await.body["statusInfo"],
        "BOOKING_DECLINED"
    );
    let events = sink.wait_for(3).await;
    assert!(
        events
            .iter()
            .any(|(_, e)| e["data"]["statusInfo"] == "BOOKING_DECLINED")
    );

    // A window that overlaps none of the two: admitted.
    let later = app
        .create_as(&app.all_scopes("d"), body(&app, "+123456780", Duration::hours(3), 600))
        .await;
    assert_eq!(later.body["bookingStatus"], "SCHEDULED", "{}", later.body);
    // A delete gives the slot back at once.
    let (token_a, first) = &ids[0];
    assert_eq!(app.delete_as(token_a, first).await.status, 204);
    let again = app
        .create_as(
            &app.all_scopes("c"),
            body(&app, "+123456783", Duration::minutes(30), 1800),
        )
        .await;
    assert_eq!(again.body["bookingStatus"], "SCHEDULED", "{}", again.body);
    // Another profile is not limited by this pool.
    let mut other = body(&app, "+199999999", Duration::minutes(30), 1800);
    other["qosProfile"] = json!("QOS_M");
    assert_eq!(app.create(other).await.body["bookingStatus"], "SCHEDULED");
    app.finish().await;
}

#[tokio::test]
async fn a_blackout_admits_nothing_in_its_window() {
    // The app's manual clock starts at the real time.
    let now = time::OffsetDateTime::now_utc();
    let blackout = Blackout {
        start: now + Duration::hours(1),
        end: now + Duration::hours(2),
    };
    let app2 = spawn_app_with(|s| s.capacity.pools = vec![stadium(100, vec![blackout])]).await;
    let inside = app2.create(body(&app2, "+123456781", Duration::minutes(90), 600)).await;
    assert_eq!(inside.body["statusInfo"], "BOOKING_DECLINED", "{}", inside.body);
    let before = app2.create(body(&app2, "+123456782", Duration::minutes(10), 600)).await;
    assert_eq!(before.body["bookingStatus"], "SCHEDULED", "{}", before.body);
    app2.finish().await;
}

#[tokio::test]
async fn a_deferred_pool_waits_for_the_operator_and_declines_the_undecided_at_start() {
    let app = spawn_app_with(|s| {
        s.server.admin_listen = Some("127.0.0.1:0".into());
        let mut pool = stadium(10, vec![]);
        pool.deferred = true;
        s.capacity.pools = vec![pool];
    })
    .await;
    let sink = Sink::start().await;
    let mut ids = Vec::new();
    for (phone, start_in) in [("+123456781", 30), ("+123456782", 30), ("+123456783", 10)] {
        let mut b = body(&app, phone, Duration::minutes(start_in), 600);
        b["sink"] = json!(sink.url);
        let r = app.create(b).await;
        assert_eq!(
            (r.status, r.body["bookingStatus"].as_str()),
            (201, Some("REQUESTED")),
            "{}",
            r.body
        );
        ids.push(r.body["bookingId"].as_str().unwrap().to_owned());
    }
    let approved: Value = app.decide(&ids[0], "approve").await.json().await.unwrap();
    assert_eq!(approved["bookingStatus"], "SCHEDULED");
    let declined: Value = app.decide(&ids[1], "decline").await.json().await.unwrap();
    assert_eq!(declined["statusInfo"], "BOOKING_DECLINED");
    // Deciding twice is a conflict.
    assert_eq!(app.decide(&ids[0], "approve").await.status(), 409);
    // The third is still undecided at its start: declined then.
    app.advance(Duration::minutes(10)).await;
    let third = app.get(&ids[2]).await.body;
    assert_eq!(
        (third["bookingStatus"].as_str(), third["statusInfo"].as_str()),
        (Some("TERMINATED"), Some("BOOKING_DECLINED"))
    );
    // The decisions only, SCHEDULED, DECLINED and DECLINED: CAMARA's event statuses have no
    // REQUESTED (a REQUESTED booking has no outcome to tell yet).
    sink.wait_for(3).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let events = sink.events();
    assert_eq!(events.len(), 3);
    let statuses: Vec<(String, String)> = events
        .iter()
        .map(|(_, e)| {
            (
                e["data"]["bookingId"].as_str().unwrap_or_default().to_owned(),
                format!("{}/{}", e["data"]["bookingStatus"], e["data"]["statusInfo"]),
            )
        })
        .collect();
    for (id, want) in [
        (&ids[0], "\"SCHEDULED\"/null"),
        (&ids[1], "\"TERMINATED\"/\"BOOKING_DECLINED\""),
        (&ids[2], "\"TERMINATED\"/\"BOOKING_DECLINED\""),
    ] {
        assert!(statuses.contains(&(id.clone(), want.into())), "{id}: {statuses:?}");
    }
    app.finish().await;
}

#[tokio::test]
async fn lowering_capacity_revokes_the_latest_bookings_and_says_which() {
    let app = spawn_app_with(|s| {
        s.server.admin_listen = Some("127.0.0.1:0".into());
        s.capacity.pools = vec![stadium(3, vec![])];
    })
    .await;
    let mut ids = Vec::new();
    for (client, phone) in [("a", "+123456781"), ("b", "+123456782"), ("c", "+123456783")] {
        let r = app
            .create_as(&app.all_scopes(client), body(&app, phone, Duration::hours(1), 1800))
            .await;
        assert_eq!(r.body["bookingStatus"], "SCHEDULED", "{}", r.body);
        ids.push((app.all_scopes(client), r.body["bookingId"].as_str().unwrap().to_owned()));
        // Distinct creation times: "latest" is well defined.
        app.clock.advance(Duration::seconds(1));
    }
    let ops = app.operator_token("qos-booking:operator");
    let admin = app.admin.clone().unwrap();
    let put = |capacity: Value| {
        app.client
            .put(format!("{admin}/admin/capacity/stadium/QOS_L"))
            .bearer_auth(&ops)
            .json(&json!({"capacity": capacity}))
            .send()
    };
    let res: Value = put(json!(1)).await.unwrap().json().await.unwrap();
    assert_eq!(res["revoked"], json!([ids[2].1, ids[1].1]), "the latest first: {res}");
    let b = app.get_as(&ids[1].0, &ids[1].1).await.body;
    assert_eq!(
        (b["bookingStatus"].as_str(), b["statusInfo"].as_str()),
        (Some("TERMINATED"), Some("BOOKING_REVOKED"))
    );
    assert_eq!(
        app.get_as(&ids[0].0, &ids[0].1).await.body["bookingStatus"],
        "SCHEDULED"
    );
    // The operator's listing by area (pool).
    let by_pool = |q: &'static str| {
        let (admin, ops) = (admin.clone(), ops.clone());
        let client = app.client.clone();
        async move {
            let v: Value = client
                .get(format!("{admin}/admin/bookings?{q}"))
                .bearer_auth(&ops)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v.as_array().map_or(0, Vec::len)
        }
    };
    assert_eq!(by_pool("pool=stadium&status=SCHEDULED").await, 1);
    assert_eq!(by_pool("pool=stadium").await, 3);
    assert_eq!(by_pool("pool=nowhere").await, 0);
    let listed: Value = app
        .client
        .get(format!("{admin}/admin/capacity"))
        .bearer_auth(&ops)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed,
        json!([{"pool": "stadium", "qosProfile": "QOS_L", "configured": 3, "capacity": 1}])
    );
    // The calendar: booked against available, by the half hour from now.
    let from = app.clock_now() + Duration::minutes(50);
    let rfc = |t: time::OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).unwrap();
    let url = url::Url::parse_with_params(
        &format!("{admin}/admin/calendar"),
        &[
            ("pool", "stadium"),
            ("qosProfile", "QOS_L"),
            ("from", &rfc(from)),
            ("to", &rfc(from + Duration::hours(2))),
            ("stepMinutes", "30"),
        ],
    )
    .unwrap();
    let cal: Value = app
        .client
        .get(url)
        .bearer_auth(&ops)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cal["capacity"], 1);
    let booked: Vec<u64> = cal["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["booked"].as_u64().unwrap())
        .collect();
    // a's window is [+1h, +1h30m) from its creation; the points are at about +50m, +1h20m,
    // +1h50m and +2h20m: only the second sees it.
    assert_eq!(booked, vec![0, 1, 0, 0], "{cal}");
    // Full at 1: the next overlapping create is declined; back to the configured 3, admitted.
    let d = app
        .create_as(&app.all_scopes("d"), body(&app, "+123456780", Duration::hours(1), 600))
        .await;
    assert_eq!(d.body["statusInfo"], "BOOKING_DECLINED");
    assert_eq!(put(Value::Null).await.unwrap().status(), 200);
    let e = app
        .create_as(&app.all_scopes("e"), body(&app, "+199999999", Duration::hours(1), 600))
        .await;
    assert_eq!(e.body["bookingStatus"], "SCHEDULED", "{}", e.body);
    // An unknown pool or profile: 404.
    let missing = app
        .client
        .put(format!("{admin}/admin/capacity/nowhere/QOS_L"))
        .bearer_auth(&ops)
        .json(&json!({"capacity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    app.finish().await;
}

/// The operator's policy service: approves client a, declines client b, never answers for
/// client c (its default, decline, applies after the timeout).
async fn policy_service() -> String {
    let app = axum::Router::new().route(
        "/decide",
        axum::routing::post(|axum::Json(req): axum::Json<Value>| async move {
            match req["clientId"].as_str() {
                Some("a") => axum::Json(json!({"decision": "approve"})),
                Some("b") => axum::Json(json!({"decision": "decline"})),
                _ => {
                    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                    axum::Json(json!({"decision": "approve"}))
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/decide", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn a_policy_service_decides_requested_bookings_at_once_with_a_default() {
    let url = policy_service().await;
    let app = spawn_app_with(|s| {
        let mut pool = stadium(10, vec![]);
        pool.deferred = true;
        s.capacity.pools = vec![pool];
        s.capacity.decision_webhook.url = Some(url.parse().unwrap());
        s.capacity.decision_webhook.timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let mut ids = Vec::new();
    for (client, phone) in [("a", "+123456781"), ("b", "+123456782"), ("c", "+123456783")] {
        let token = app.all_scopes(client);
        let r = app.create_as(&token, body(&app, phone, Duration::hours(1), 600)).await;
        assert_eq!(r.body["bookingStatus"], "REQUESTED", "{}", r.body);
        ids.push((token, r.body["bookingId"].as_str().unwrap().to_owned()));
    }
    // The question is a timer due at once: the app's scheduler (woken by the new timer) or
    // this test's pass asks it, whichever claims it first.
    let status = |i: usize| {
        let (token, id) = ids[i].clone();
        let app = &app;
        async move {
            let b = app.get_as(&token, &id).await.body;
            (
                b["bookingStatus"].as_str().map(str::to_owned),
                b["statusInfo"].as_str().map(str::to_owned),
            )
        }
    };
    let want = [
        (Some("SCHEDULED".to_owned()), None),
        (Some("TERMINATED".to_owned()), Some("BOOKING_DECLINED".to_owned())),
        // The default, after the timeout.
        (Some("TERMINATED".to_owned()), Some("BOOKING_DECLINED".to_owned())),
    ];
    let mut seen = Vec::new();
    for _ in 0..50 {
        app.advance(Duration::ZERO).await;
        seen = vec![status(0).await, status(1).await, status(2).await];
        if seen == want {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(seen, want);
    app.finish().await;
}

#[tokio::test]
async fn each_profile_of_a_pool_is_counted_on_its_own() {
    let app = spawn_app_with(|s| {
        let mut pool = stadium(1, vec![]);
        pool.profiles.insert("QOS_M".into(), 1);
        s.capacity.pools = vec![pool];
    })
    .await;
    let l = app.create(body(&app, "+123456781", Duration::hours(1), 600)).await;
    assert_eq!(l.body["bookingStatus"], "SCHEDULED");
    let mut m = body(&app, "+123456782", Duration::hours(1), 600);
    m["qosProfile"] = json!("QOS_M");
    assert_eq!(
        app.create(m).await.body["bookingStatus"],
        "SCHEDULED",
        "QOS_L's booking does not count for QOS_M"
    );
    let l2 = app.create(body(&app, "+123456783", Duration::hours(1), 600)).await;
    assert_eq!(l2.body["statusInfo"], "BOOKING_DECLINED");
    app.finish().await;
}

/// An async delete of a booking still waiting for the operator's decision: 202 with
/// REQUESTED and DELETE_REQUESTED, then ended by its timer, made due by the delete.
#[tokio::test]
async fn an_async_delete_of_a_requested_booking_is_accepted_and_ends_it() {
    let app = spawn_app_with(|s| {
        s.api.delete_mode = gateway::settings::DeleteMode::Async;
        let mut pool = stadium(10, vec![]);
        pool.deferred = true;
        s.capacity.pools = vec![pool];
    })
    .await;
    let r = app.create(body(&app, "+123456781", Duration::minutes(30), 600)).await;
    assert_eq!(r.body["bookingStatus"], "REQUESTED", "{}", r.body);
    let id = r.body["bookingId"].as_str().unwrap().to_owned();
    let d = app.delete(&id).await;
    assert_eq!(d.status, 202, "{}", d.body);
    assert_eq!(
        (d.body["bookingStatus"].as_str(), d.body["statusInfo"].as_str()),
        (Some("REQUESTED"), Some("DELETE_REQUESTED"))
    );
    app.advance(Duration::ZERO).await;
    let ended = app.get(&id).await.body;
    assert_eq!(
        (ended["bookingStatus"].as_str(), ended["statusInfo"].as_str()),
        (Some("TERMINATED"), Some("DELETE_REQUESTED")),
        "{ended}"
    );
    assert!(app.sim.subscriptions().is_empty());
    app.finish().await;
}
