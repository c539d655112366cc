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
/// window, refused by the NEF. Returns the report of them, grouped by client, and the five
/// responses.
async fn lives(app: &TestApp) -> (Value, [Resp; 5]) {
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
    (report, [served, deleted, revoked, short, refused])
}

/// [`lives`], then the file export checked against the report.
async fn lives_and_report(app: &TestApp, dir: &std::path::Path) -> Value {
    let (report, [served, deleted, revoked, short, refused]) = lives(app).await;
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
    s.charging.kind = vec![gateway::settings::ChargingKind::File];
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

#[tokio::test]
async fn bookings_in_place_are_charged_at_the_chf_as_the_report_bills_them() {
    let app = spawn_redis_app_with(|s| {
        s.server.admin_listen = Some("127.0.0.1:0".into());
        s.charging.kind = vec![gateway::settings::ChargingKind::ChfSim];
        s.charging.poll = std::time::Duration::from_millis(20);
        s.charging.chf.rating_groups.insert("QOS_L".into(), 100);
    })
    .await;
    let (report, [served, deleted, revoked, short, refused]) = lives(&app).await;
    assert_report(&report);
    let chf = app.chf.clone().unwrap();
    let mut sessions = Vec::new();
    for _ in 0..500 {
        sessions = chf.sessions();
        if sessions.len() >= 3 && sessions.iter().all(|s| s.released) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Sessions only for the three bookings that were in place; each released with its time.
    let used: BTreeMap<String, (u64, bool, Option<u32>)> = sessions
        .iter()
        .map(|s| {
            let id = s
                .api_reference
                .as_deref()
                .unwrap_or_default()
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            (id, (s.used_seconds(), s.released, s.rating_group))
        })
        .collect();
    assert_eq!(used.len(), 3, "{used:?}");
    assert_eq!(used[&id(&served)], (3600, true, Some(100)));
    assert_eq!(used[&id(&deleted)], (1800, true, Some(100)));
    assert_eq!(used[&id(&short)], (600, true, Some(100)));
    assert!(!used.contains_key(&id(&revoked)) && !used.contains_key(&id(&refused)));
    let charged: u64 = used.values().map(|u| u.0).sum();
    assert_eq!(
        Some(charged),
        report["total"]["secondsInPlace"].as_u64(),
        "CHF and report agree"
    );
    let requests = chf.requests();
    assert!(
        requests.iter().all(|r| r.status / 100 == 2 && r.version == "HTTP/2.0"),
        "{requests:#?}"
    );

    // What CI checks against the TS 32.291 YAML with an independent validator.
    let dir = std::env::current_exe()
        .unwrap()
        .ancestors()
        .nth(3)
        .unwrap()
        .join("chf-contract");
    std::fs::create_dir_all(&dir).unwrap();
    for (i, r) in requests.iter().enumerate() {
        let kind = r.path.rsplit('/').next().unwrap_or("request");
        std::fs::write(
            dir.join(format!("gateway-{i:02}-{kind}.json")),
            serde_json::to_vec_pretty(r.body.as_ref().unwrap()).unwrap(),
        )
        .unwrap();
    }
    app.finish().await;
}

/// Every timer due now, fired (more than one claim batch).
async fn run_all_due(app: &TestApp) {
    while app.service.run_due().await.unwrap() > 0 {}
}

#[tokio::test]
async fn a_thousand_mixed_lives_sum_to_the_second_at_the_chf_in_the_files_and_in_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_with(|s| {
        file_export(s, dir.path());
        s.charging.kind = vec![
            gateway::settings::ChargingKind::ChfSim,
            gateway::settings::ChargingKind::File,
        ];
        s.southbound.devices = Vec::new();
        s.limits.create.per_second = 0;
        s.limits.delete.per_second = 0;
    })
    .await;
    let tokens: Vec<String> = (0..4).map(|c| app.all_scopes(&format!("client-{c}"))).collect();
    let mut ids = Vec::new();
    for i in 0..1000u32 {
        let mut body = booking_body(&app, "+123456789", Duration::minutes(1), 600 + (i % 7) * 300);
        body["device"] = serde_json::json!({"ipv4Address": {
            "publicAddress": "203.0.113.9",
            "privateAddress": format!("10.1.{}.{}", i / 256, i % 256),
        }});
        let r = app.create_as(&tokens[(i % 4) as usize], body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        ids.push(id(&r));
    }
    // Revoked before the start; then a tenth refused by the NEF at their activation.
    let ops = app.operator_token("qos-booking:operator");
    let admin = app.admin.clone().unwrap();
    for i in (7..1000).step_by(20) {
        let url = format!("{admin}/admin/bookings/{}/revoke", ids[i]);
        assert_eq!(
            app.client.post(url).bearer_auth(&ops).send().await.unwrap().status(),
            200
        );
    }
    app.sim.set_faults(nef_sim::Faults {
        error_rate: 0.1,
        error_status: 403,
        ..Default::default()
    });
    app.clock.advance(Duration::minutes(1));
    run_all_due(&app).await;
    app.sim.set_faults(nef_sim::Faults::default());
    // Ends every five minutes; a tenth deleted by their clients after ten minutes.
    app.clock.advance(Duration::minutes(10));
    run_all_due(&app).await;
    for i in (3..1000).step_by(10) {
        if i % 7 != 0 {
            let status = app.delete_as(&tokens[i % 4], &ids[i]).await.status;
            assert!(status == 204 || status == 404, "{status}");
        }
    }
    for _ in 0..6 {
        app.clock.advance(Duration::minutes(5));
        run_all_due(&app).await;
    }

    let chf = app.chf.clone().unwrap();
    let mut files = Vec::new();
    for _ in 0..1500 {
        files = exported(dir.path());
        let sessions = chf.sessions();
        if files.len() >= 1000 && sessions.iter().all(|s| s.released) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let in_file: BTreeMap<String, u64> = files
        .iter()
        .map(|r| {
            (
                r["bookingId"].as_str().unwrap().to_owned(),
                r["inPlaceSeconds"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        (files.len(), in_file.len()),
        (1000, 1000),
        "every booking once in the files"
    );
    let at_chf: BTreeMap<String, u64> = chf
        .sessions()
        .iter()
        .map(|s| {
            let id = s
                .api_reference
                .as_deref()
                .unwrap_or_default()
                .rsplit('/')
                .next()
                .unwrap_or_default();
            (id.to_owned(), s.used_seconds())
        })
        .collect();
    for (id, secs) in &in_file {
        assert_eq!(at_chf.get(id).copied().unwrap_or(0), *secs, "booking {id}");
    }
    let report: Value = admin_get(&app, "/admin/usage").await.json().await.unwrap();
    let total = &report["total"];
    let file_total: u64 = in_file.values().sum();
    let chf_total: u64 = at_chf.values().sum();
    assert_eq!(total["bookings"], 1000);
    assert_eq!(total["secondsInPlace"].as_u64(), Some(file_total));
    assert_eq!(chf_total, file_total);
    let outcomes = &total["outcomes"];
    let served = outcomes["SERVED"].as_u64().unwrap();
    let failed = outcomes["FAILED_TO_ACTIVATE"].as_u64().unwrap();
    assert_eq!(outcomes["REVOKED"], 50);
    assert!(failed > 30 && outcomes["DELETED"].as_u64().unwrap() > 50, "{total}");
    // Only bookings in place have a session; a never-served one has none.
    assert_eq!(at_chf.len() as u64, 1000 - 50 - failed, "{total}");
    assert!(served > 500, "{total}");
    eprintln!("1000 lives: {total}");
    app.finish().await;
}
