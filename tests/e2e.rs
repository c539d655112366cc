//! Starts the real `gateway` binary on its embedded defaults (as the README's run command
//! does, but on a free port) and books QoS over HTTP: create, get, retrieve, delete, and a
//! booking that goes SCHEDULED -> ACTIVATED -> TERMINATED in real time.

use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// `target/<profile>/gateway`, next to this test's own `deps/` directory.
fn gateway_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|d| d.parent()).unwrap().to_path_buf();
    let bin = dir.join("gateway");
    if !bin.exists() {
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "-p", "gateway", "--bin", "gateway"])
            .status()
            .unwrap();
        assert!(status.success(), "could not build the gateway binary");
    }
    bin
}

struct Gateway {
    _child: Child,
    base: String,
    token: String,
}

async fn start_gateway() -> Gateway {
    let mut child = Command::new(gateway_binary())
        .env("QOSGW__SERVER__LISTEN", "127.0.0.1:0")
        .env("QOSGW__SCHEDULER__POLL_INTERVAL_MS", "100")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut port, mut token) = (None, None);
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(t) = line.strip_prefix("export TOKEN=") {
                token = Some(t.trim().to_owned());
            }
            if let Some(i) = line.find("listening on 127.0.0.1:") {
                let rest = &line[i + "listening on 127.0.0.1:".len()..];
                port = rest
                    .split(|c: char| !c.is_ascii_digit())
                    .next()
                    .and_then(|p| p.parse::<u16>().ok());
            }
            if port.is_some() && token.is_some() {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("gateway did not start");
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Gateway {
        _child: child,
        base: format!("http://127.0.0.1:{}/qos-booking/v0.2", port.unwrap()),
        token: token.unwrap(),
    }
}

fn body(phone: &str, start_in: time::Duration, duration: u32) -> Value {
    json!({
        "qosProfile": "QOS_M",
        "device": {"phoneNumber": phone},
        "startTime": (OffsetDateTime::now_utc() + start_in).format(&Rfc3339).unwrap(),
        "duration": duration,
        "serviceArea": {"areaType": "AREANAME", "areaName": "city-center"}
    })
}

async fn status_of(http: &reqwest::Client, gw: &Gateway, id: &str) -> Value {
    http.get(format!("{}/device-qos-bookings/{id}", gw.base))
        .bearer_auth(&gw.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_user_books_qos_through_the_real_binary() {
    let gw = start_gateway().await;
    let http = reqwest::Client::new();

    // A booking two seconds ahead, lasting two seconds.
    let res = http
        .post(format!("{}/device-qos-bookings", gw.base))
        .bearer_auth(&gw.token)
        .header("x-correlator", "e2e-1")
        .json(&body("+123456789", time::Duration::seconds(2), 2))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["x-correlator"], "e2e-1");
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["bookingStatus"], "SCHEDULED");
    let id = created["bookingId"].as_str().unwrap().to_owned();

    let listed: Value = http
        .post(format!("{}/retrieve-device-qos-bookings", gw.base))
        .bearer_auth(&gw.token)
        .json(&json!({"device": {"phoneNumber": "+123456789"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["bookingId"], json!(id));

    let mut seen = vec![];
    for _ in 0..100 {
        let s = status_of(&http, &gw, &id).await;
        let status = s["bookingStatus"].as_str().unwrap().to_owned();
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if status == "TERMINATED" {
            assert_eq!(s["statusInfo"], "DURATION_EXPIRED");
            assert!(s["startedAt"].is_string());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, vec!["SCHEDULED", "ACTIVATED", "TERMINATED"]);

    // A second booking, deleted before it starts.
    let created: Value = http
        .post(format!("{}/device-qos-bookings", gw.base))
        .bearer_auth(&gw.token)
        .json(&body("+123456789", time::Duration::hours(1), 600))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id2 = created["bookingId"].as_str().unwrap();
    let del = http
        .delete(format!("{}/device-qos-bookings/{id2}", gw.base))
        .bearer_auth(&gw.token)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 204);
    let s = status_of(&http, &gw, id2).await;
    assert_eq!(
        (s["bookingStatus"].as_str(), s["statusInfo"].as_str()),
        (Some("TERMINATED"), Some("DELETE_REQUESTED"))
    );

    // Without a token: the CAMARA 401.
    let res = http
        .get(format!("{}/device-qos-bookings/{id2}", gw.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "UNAUTHENTICATED");
}
