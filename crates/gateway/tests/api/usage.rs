//! Usage and charging from outside: bookings live and end in every way, then the operator's
//! usage report and the file export must say the same, to the second, and never bill a
//! declined, revoked or failed booking as served.

use crate::helpers::*;
use serde_json::Value;
use std::collections::BTreeMap;
use time::Duration;

async fn admin_get(app: &TestApp, path: &str) -> reqwest::Response {
    let ops = app.operator_token("qos-booking:operator");
    let admin = app.admin.clone().unwrap();
    app.client
        .get(format!("{admin}{path}"))
        .bearer_auth(ops)
        .send()
        .await
        .unwrap()
}

fn id(r: &Resp) -> String {
    r.body["bookingId"].as_str().unwrap().to_owned()
}

/// Every record in the export directory's files.
fn exported(dir: &std::path::Path) -> Vec<Value> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        out.extend(text.lines().filter_map(|l| serde_json::from_str(l).ok()));
    }
    out
}

/// Five lives: served, deleted while in place, revoked before its start, served for a short
/// window, refused by the NEF. Returns the report of them, grouped by client.
async fn lives_and_report(app: &TestApp, dir: &std::path::Path) -> Value {
    let a = app.all_scopes("a");
    let b = app.all_scopes("b");
    let served = app
        .create_as(&a, booking_body(app, "+123456781", Duration::minutes(1), 3600))
        .await;
    let deleted = app
        .create_as(&a, booking_body(app, "+123456782", Duration::minutes(1), 3600))
        .await;
    let revoked = app
        .create_as(&b, booking_body(app, "+123456783", Duration::hours(2), 600))
        .await;
    let short = app
        .create_as(&b, booking_body(app, "+123456789", Duration::minutes(1), 600))
        .await;
    let refused = app
        .create_as(&b, booking_body(app, "+123456780", Duration::minutes(2), 600))
        .await;
    for r in [&served, &deleted, &revoked, &short, &refused] {
        assert_eq!(r.status, 201, "{}", r.body);
    }

    app.advance(Duration::minutes(1)).await; // three in place
    app.sim.set_faults(nef_sim::Faults {
        next_statuses: [403].into(),
        ..Default::default()
    });
    app.advance(Duration::minutes(1)).await; // the NEF refuses the fifth
    app.sim.set_faults(nef_sim::Faults::default());
    app.advance(Duration::minutes(9)).await; // the short one ends after 600 s
    app.advance(Duration::minutes(20)).await;
    assert_eq!(app.delete_as(&a, &id(&deleted)).await.status, 204); // 1800 s in place
    let ops = app.operator_token("qos-booking:operator");
    let admin = app.admin.clone().unwrap();
    let res = app
        .client
        .post(format!("{admin}/admin/bookings/{}/revoke", id(&revoked)))
        .bearer_auth(ops)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.advance(Duration::minutes(30)).await; // the first ends after 3600 s

    let res = admin_get(app, "/admin/usage?groupBy=client").await;
    assert_eq!(res.status(), 200);
    let report: Value = res.json().await.unwrap();

    // The file export (polling every 20 ms) holds every final record once.
    let mut records = Vec::new();
    for _ in 0..500 {
        records = exported(dir);
        if records.len() >= 5 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(records.len(), 5, "{records:#?}");
    let by_id: BTreeMap<String, &Value> = records
        .iter()
        .map(|r| (r["bookingId"].as_str().unwrap().to_owned(), r))
        .collect();
    assert_eq!(by_id.len(), 5, "each booking once");
    let seen = |r: &Resp| {
        let rec = by_id[&id(r)];
        (
            rec["outcome"].as_str().unwrap().to_owned(),
            rec["inPlaceSeconds"].as_u64().unwrap(),
        )
    };
    assert_eq!(seen(&served), ("SERVED".into(), 3600));
    assert_eq!(seen(&deleted), ("DELETED".into(), 1800));
    assert_eq!(seen(&revoked), ("REVOKED".into(), 0));
    assert_eq!(seen(&short), ("SERVED".into(), 600));
    assert_eq!(seen(&refused), ("FAILED_TO_ACTIVATE".into(), 0));
    let rec = by_id[&id(&deleted)];
    assert_eq!(rec["device"]["gpsi"], "msisdn-123456782");
    assert_eq!(rec["operations"][1]["operation"], "deleteBooking");
    assert_eq!(rec["operations"][1]["resultCode"], 204);
    assert_eq!(rec["resource"], format!("{BASE}/device-qos-bookings/{}", id(&deleted)));

    // The file and the report agree, client by client, to the second.
    for row in report["rows"].as_array().unwrap() {
        let client = row["group"].as_str().unwrap();
        let in_file: u64 = records
            .iter()
            .filter(|r| r["clientId"] == client)
            .map(|r| r["inPlaceSeconds"].as_u64().unwrap())
            .sum();
        assert_eq!(row["secondsInPlace"].as_u64(), Some(in_file), "{client}: {row}");
    }
    report
}

fn file_export(s: &mut gateway::Settings, dir: &std::path::Path) {
    s.server.admin_listen = Some("127.0.0.1:0".into());
    s.charging.kind = gateway::settings::ChargingKind::File;
    s.charging.file.dir = dir.to_owned();
    s.charging.poll = std::time::Duration::from_millis(20);
}

fn assert_report(report: &Value) {
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{report:#}");
    let (a, b) = (&rows[0], &rows[1]);
    assert_eq!((a["group"].as_str(), a["bookings"].as_u64()), (Some("a"), Some(2)));
    assert_eq!(a["outcomes"]["SERVED"], 1);
    assert_eq!(a["outcomes"]["DELETED"], 1);
    assert_eq!(a["secondsInPlace"], 5400);
    assert_eq!(a["hoursInPlace"], 1.5);
    assert_eq!((b["group"].as_str(), b["bookings"].as_u64()), (Some("b"), Some(3)));
    assert_eq!(b["outcomes"]["SERVED"], 1, "a revoked or failed booking is not served");
    assert_eq!(b["outcomes"]["REVOKED"], 1);
    assert_eq!(b["outcomes"]["FAILED_TO_ACTIVATE"], 1);
    assert_eq!(b["secondsInPlace"], 600);
    assert_eq!(report["total"]["secondsInPlace"], 6000);
}

#[tokio::test]
async fn usage_is_reported_and_exported_alike_on_the_memory_store() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_with(|s| file_export(s, dir.path())).await;
    let report = lives_and_report(&app, dir.path()).await;
    assert_report(&report);

    // CSV, and the filters.
    let csv = admin_get(&app, "/admin/usage?groupBy=client&format=csv")
        .await
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert_eq!(lines[1], "a,2,1,0,0,0,1,0,5400,1.5,0,0");
    let only_b: Value = admin_get(&app, "/admin/usage?clientId=b&groupBy=profile")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(only_b["rows"][0]["group"], "QOS_L");
    assert_eq!(only_b["total"]["bookings"], 3);
    let later = rfc3339(app.clock_now() + Duration::minutes(1));
    let none: Value = admin_get(&app, &format!("/admin/usage?from={later}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["total"]["bookings"], 0);
    let bad = admin_get(&app, "/admin/usage?groupBy=week").await;
    assert_eq!(bad.status(), 400);
    let no_token = app
        .client
        .get(format!("{}/admin/usage", app.admin.clone().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 401);
    app.finish().await;
}

#[tokio::test]
async fn usage_is_reported_and_exported_alike_on_redis() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_redis_app_with(|s| file_export(s, dir.path())).await;
    let report = lives_and_report(&app, dir.path()).await;
    assert_report(&report);
    app.finish().await;
}
