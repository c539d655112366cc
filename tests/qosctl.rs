//! `qosctl` against a running gateway, as an operator uses it: the token from the environment
//! or a file, every admin operation (bookings list/show/approve/decline/revoke, capacity
//! show/set/clear, calendar, clients put/get/list/delete, usage) as a table and as JSON, and the
//! errors a person meets (no token, a client's token, a bad id, an unknown client).
#![allow(clippy::disallowed_methods, reason = "bookings are made against the real clock")]

use e2e_tests::{Gateway, binary, start_gateway_with_args};
use serde_json::{Value, json};
use std::process::Output;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Runs `qosctl args` against `gw`'s admin listener with its operator token in `env`.
async fn qosctl(gw: &Gateway, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = tokio::process::Command::new(binary("qosctl"));
    cmd.args(args)
        .env(
            "QOSCTL_URL",
            gw.admin.as_deref().expect("the gateway printed its admin URL"),
        )
        .env_remove("QOSCTL_TOKEN")
        .env_remove("QOSCTL_TOKEN_FILE")
        .env_remove("OPERATOR_TOKEN");
    cmd.envs(env.iter().copied());
    cmd.output().await.unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Succeeds, and its stdout.
fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "qosctl failed: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

fn json_of(o: &Output) -> Value {
    serde_json::from_str(&ok(o)).expect("qosctl --json prints JSON")
}

/// Fails with exit status 1, and its stderr.
fn fails(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(1), "{}{}", text(&o.stdout), text(&o.stderr));
    text(&o.stderr)
}

async fn create(http: &reqwest::Client, gw: &Gateway, phone: &str, area: &str) -> Value {
    let start = (OffsetDateTime::now_utc() + time::Duration::hours(2))
        .replace_nanosecond(0)
        .unwrap()
        .format(&Rfc3339)
        .unwrap();
    let r = http
        .post(format!("{}/device-qos-bookings", gw.base))
        .bearer_auth(&gw.token)
        .json(&json!({
            "device": {"phoneNumber": phone},
            "qosProfile": "QOS_L",
            "startTime": start,
            "duration": 600,
            "serviceArea": {"areaType": "AREANAME", "areaName": area},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

#[tokio::test]
async fn qosctl_drives_every_admin_operation_of_a_running_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gateway.yaml");
    std::fs::write(
        &config,
        "capacity:\n  pools:\n    - name: stadium\n      area_names: [stadium-north]\n      \
         profiles: {QOS_L: 5}\n      deferred: true\n",
    )
    .unwrap();
    let gw = start_gateway_with_args(&[], &["--config", config.to_str().unwrap()]).await;
    let operator = gw.operator_token.clone().expect("a development operator token");
    let env = [("OPERATOR_TOKEN", operator.as_str())];
    let http = reqwest::Client::new();

    // Two wait for the operator (the deferred pool), one is scheduled outright.
    let a = create(&http, &gw, "+123456789", "stadium-north").await;
    let b = create(&http, &gw, "+123456780", "stadium-north").await;
    let c = create(&http, &gw, "+4915112345678", "city-center").await;
    assert_eq!(
        (a["bookingStatus"].as_str(), c["bookingStatus"].as_str()),
        (Some("REQUESTED"), Some("SCHEDULED"))
    );
    let [a, b, c] = [&a, &b, &c].map(|v| v["bookingId"].as_str().unwrap().to_owned());

    // People get a table; scripts get the API's JSON.
    let table = ok(&qosctl(&gw, &["bookings", "list"], &env).await);
    for id in [&a, &b, &c] {
        assert!(table.contains(id.as_str()), "{table}");
    }
    assert!(
        table.contains("REQUESTED") && table.contains("+4915112345678") && table.contains("3 booking(s)"),
        "{table}"
    );
    let waiting = json_of(&qosctl(&gw, &["--json", "bookings", "list", "--status", "REQUESTED"], &env).await);
    let mut ids: Vec<&str> = waiting
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["bookingId"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let mut want = vec![a.as_str(), b.as_str()];
    want.sort_unstable();
    assert_eq!(ids, want);

    // The token may come from a file instead (trailing newline and all).
    let token_file = dir.path().join("operator.token");
    std::fs::write(&token_file, format!("{operator}\n")).unwrap();
    let approved = json_of(
        &qosctl(
            &gw,
            &[
                "--json",
                "--token-file",
                token_file.to_str().unwrap(),
                "bookings",
                "approve",
                &a,
            ],
            &[],
        )
        .await,
    );
    assert_eq!(approved["bookingStatus"], "SCHEDULED");
    let declined = ok(&qosctl(&gw, &["bookings", "decline", &b], &env).await);
    assert!(declined.contains("TERMINATED"), "{declined}");
    let shown = ok(&qosctl(&gw, &["bookings", "show", &c], &env).await);
    assert!(shown.contains("clientId") && shown.contains("dev-client"), "{shown}");
    let revoked = json_of(&qosctl(&gw, &["--json", "bookings", "revoke", &c], &env).await);
    assert_eq!(revoked["bookingStatus"], "TERMINATED");
    // Deciding twice is the gateway's 409, said in one line.
    let twice = fails(&qosctl(&gw, &["bookings", "approve", &a], &env).await);
    assert!(twice.contains("409"), "{twice}");

    // Capacity: shown, lowered, back to the configured figure.
    let caps = ok(&qosctl(&gw, &["capacity", "show"], &env).await);
    assert!(
        caps.contains("stadium") && caps.contains("QOS_L") && caps.contains('5'),
        "{caps}"
    );
    let set = ok(&qosctl(&gw, &["capacity", "set", "stadium", "QOS_L", "2"], &env).await);
    assert!(
        set.contains("stadium / QOS_L: 2") && set.contains("0 booking(s) revoked"),
        "{set}"
    );
    let caps = json_of(&qosctl(&gw, &["--json", "capacity", "show"], &env).await);
    assert_eq!(caps[0]["capacity"], 2, "{caps}");
    ok(&qosctl(&gw, &["capacity", "set", "stadium", "QOS_L", "--clear"], &env).await);
    let caps = json_of(&qosctl(&gw, &["--json", "capacity", "show"], &env).await);
    assert_eq!(caps[0]["capacity"], 5, "{caps}");

    // The calendar counts the approved booking in its window.
    let cal = json_of(
        &qosctl(
            &gw,
            &["--json", "calendar", "--pool", "stadium", "--profile", "QOS_L"],
            &env,
        )
        .await,
    );
    let booked = cal["points"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["booked"].as_u64())
        .max();
    assert_eq!(booked, Some(1), "{cal}");
    assert!(
        ok(&qosctl(&gw, &["calendar", "--pool", "stadium", "--profile", "QOS_L"], &env).await).contains("AVAILABLE")
    );

    // Onboarding records: stored, read, listed, removed.
    let record = dir.path().join("acme.json");
    std::fs::write(&record, r#"{"profiles": ["QOS_L"], "max_live_bookings": 7}"#).unwrap();
    let put = json_of(
        &qosctl(
            &gw,
            &["--json", "clients", "put", "acme", "--file", record.to_str().unwrap()],
            &env,
        )
        .await,
    );
    assert_eq!(
        (put["client_id"].as_str(), put["source"].as_str()),
        (Some("acme"), Some("store"))
    );
    let got = ok(&qosctl(&gw, &["clients", "get", "acme"], &env).await);
    assert!(got.contains("max_live_bookings") && got.contains('7'), "{got}");
    assert!(ok(&qosctl(&gw, &["clients", "list"], &env).await).contains("acme"));
    ok(&qosctl(&gw, &["clients", "delete", "acme"], &env).await);
    let gone = fails(&qosctl(&gw, &["clients", "get", "acme"], &env).await);
    assert!(gone.contains("404 NOT_FOUND"), "{gone}");

    // Usage: the declined and the revoked booking ended now, billed as neither served nor in
    // place; one command gives a period per client, as a table, JSON or CSV.
    let hour_ago = (OffsetDateTime::now_utc() - time::Duration::hours(1))
        .format(&Rfc3339)
        .unwrap();
    let report = json_of(&qosctl(&gw, &["--json", "usage", "--from", &hour_ago], &env).await);
    let total = &report["total"];
    assert_eq!(
        (
            total["bookings"].as_u64(),
            total["outcomes"]["DECLINED"].as_u64(),
            total["outcomes"]["REVOKED"].as_u64()
        ),
        (Some(2), Some(1), Some(1)),
        "{report}"
    );
    assert_eq!(
        (total["outcomes"]["SERVED"].as_u64(), total["secondsInPlace"].as_u64()),
        (Some(0), Some(0))
    );
    let table = ok(&qosctl(&gw, &["usage", "--from", &hour_ago], &env).await);
    assert!(table.contains("dev-client") && table.contains("total"), "{table}");
    let csv = ok(&qosctl(
        &gw,
        &["usage", "--from", &hour_ago, "--group-by", "profile", "--csv"],
        &env,
    )
    .await);
    assert!(
        csv.starts_with("group,bookings,SERVED") && csv.contains("\nQOS_L,2,0,1,1,0,0,0,0,0,0,0\n"),
        "{csv}"
    );
    let month = OffsetDateTime::now_utc()
        .format(time::macros::format_description!("[year]-[month]"))
        .unwrap();
    ok(&qosctl(&gw, &["usage", "--month", &month], &env).await);
    let bad_month = fails(&qosctl(&gw, &["usage", "--month", "2026-13"], &env).await);
    assert!(bad_month.contains("YYYY-MM"), "{bad_month}");

    // What a person gets wrong, said plainly.
    let none = fails(&qosctl(&gw, &["bookings", "list"], &[]).await);
    assert!(none.contains("no operator token"), "{none}");
    let client_token = fails(&qosctl(&gw, &["bookings", "list"], &[("QOSCTL_TOKEN", gw.token.as_str())]).await);
    assert!(
        client_token.contains("401") || client_token.contains("403"),
        "{client_token}"
    );
    let bad_id = fails(&qosctl(&gw, &["bookings", "show", "not-a-uuid"], &env).await);
    assert!(bad_id.contains("400 INVALID_ARGUMENT"), "{bad_id}");

    // Completions for the shells operators use.
    for shell in ["bash", "zsh", "fish"] {
        assert!(ok(&qosctl(&gw, &["completions", shell], &[]).await).contains("qosctl"));
    }
}
