//! Starts the real `gateway` binary as a user would and books QoS over HTTP, on both
//! southbound kinds: on its embedded defaults (the README's run command, on a free port) and
//! with the in-process PCF simulator; against a separate NEF simulator that requires OAuth2,
//! and a separate PCF simulator over h2 with TLS, mTLS and the NRF's tokens (found through
//! its NRF), checking what reaches the network and when.
#![allow(clippy::disallowed_methods, reason = "tests and examples compare with real time")]

use e2e_tests::start_gateway;
use serde_json::{Value, json};
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn body(phone: &str, start_in: time::Duration, duration: u32) -> Value {
    json!({
        "qosProfile": "QOS_M",
        "device": {"phoneNumber": phone},
        "startTime": (OffsetDateTime::now_utc() + start_in).format(&Rfc3339).unwrap(),
        "duration": duration,
        "serviceArea": {"areaType": "AREANAME", "areaName": "city-center"}
    })
}

#[tokio::test]
async fn a_user_books_qos_through_the_real_binary() {
    user_books_qos(&[]).await;
}

#[tokio::test]
async fn a_user_books_qos_through_the_real_binary_at_the_pcf_simulator() {
    user_books_qos(&[("QOSGW__SOUTHBOUND__KIND", "pcf-sim")]).await;
}

async fn user_books_qos(env: &[(&str, &str)]) {
    let gw = start_gateway(env).await;
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
        let s = gw.booking(&http, &id).await;
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
    let s = gw.booking(&http, id2).await;
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

/// Writes a body the gateway sent to the network where `.ci/run` validates it against the
/// 3GPP schema with an independent validator (`target/nef-contract/`, `target/n5-contract/`).
fn dump_for_contract_check(kind: &str, name: &str, body: &Value) {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.ancestors().nth(3).unwrap().join(kind);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(format!("{name}.json")),
        serde_json::to_vec_pretty(body).unwrap(),
    )
    .unwrap();
}

fn ms(t: OffsetDateTime) -> u128 {
    u128::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap()
}

/// `what` reached the network (at `at_ms`) not before `due`, and within the scheduler's poll
/// interval plus slack after it.
fn on_time(what: &str, at_ms: u128, due: OffsetDateTime) {
    assert!(at_ms >= ms(due), "{what} came {} ms early", ms(due) - at_ms);
    assert!(at_ms <= ms(due) + 1500, "{what} came {} ms late", at_ms - ms(due));
}

/// Creates a booking through `gw` (201 expected): its id.
async fn create(http: &reqwest::Client, gw: &e2e_tests::Gateway, body: &Value) -> String {
    let res = http
        .post(format!("{}/device-qos-bookings", gw.base))
        .bearer_auth(&gw.token)
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    res.json::<Value>().await.unwrap()["bookingId"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_booking_reaches_an_oauth_nef_at_its_start_and_leaves_at_its_end() {
    use nef_sim::{NefSim, OAuthConfig, SimConfig};
    let oauth = OAuthConfig {
        client_id: "qos-gw".into(),
        client_secret: "e2e-secret".into(),
        token_ttl_seconds: 300,
    };
    let sim = NefSim::start(
        "127.0.0.1:0",
        SimConfig {
            oauth: Some(oauth),
            notify_on_create: true,
            release: 17,
            ..SimConfig::default()
        },
    )
    .await
    .unwrap();
    let token_url = sim.token_url();
    let api_root = sim.url();
    let gw = start_gateway(&[
        ("QOSGW__SOUTHBOUND__KIND", "nef"),
        ("QOSGW__SOUTHBOUND__NEF__API_ROOT", &api_root),
        ("QOSGW__SOUTHBOUND__NEF__AUTH", "oauth2"),
        ("QOSGW__SOUTHBOUND__NEF__TOKEN_URL", &token_url),
        ("QOSGW__SOUTHBOUND__NEF__CLIENT_ID", "qos-gw"),
        ("QOSGW_NEF_CLIENT_SECRET", "e2e-secret"),
        ("QOSGW__SOUTHBOUND__MAPPING__FLOW_ENCODING", "strict-29214"),
    ])
    .await;
    let http = reqwest::Client::new();

    // Whole seconds, three seconds ahead; three seconds long.
    let now = OffsetDateTime::now_utc();
    let start = now.replace_nanosecond(0).unwrap() + time::Duration::seconds(3);
    let end = start + time::Duration::seconds(3);
    let body = json!({
        "qosProfile": "QOS_S",
        "device": {"ipv4Address": {"publicAddress": "203.0.113.7", "privateAddress": "10.45.7.7"}},
        "applicationServer": {"ipv4Address": "198.51.100.10"},
        "devicePorts": {"ports": [5060]},
        "applicationServerPorts": {"ranges": [{"from": 7000, "to": 7001}]},
        "startTime": start.format(&Rfc3339).unwrap(),
        "duration": 3,
        "serviceArea": {"areaType": "CIRCLE", "center": {"latitude": 50.1, "longitude": 8.6}, "radius": 1000}
    });
    let id = create(&http, &gw, &body).await;
    assert!(
        sim.requests_of("POST").is_empty(),
        "nothing reaches the NEF before the start"
    );

    gw.wait_for_status(&http, &id, "ACTIVATED").await;
    let posts = sim.requests_of("POST");
    assert_eq!(posts.len(), 1);
    let post = &posts[0];
    // POSTed at the start: not before, and within the scheduler's poll interval plus slack.
    on_time("the POST", post.at_ms, start);
    let sent = post.body.clone().unwrap();
    assert_eq!(sent["ueIpv4Addr"], "10.45.7.7");
    assert_eq!(sent["qosReference"], "QOS_S");
    assert_eq!(
        sent["flowInfo"],
        json!([
            {"flowId": 1, "flowDescriptions": ["permit in ip from 10.45.7.7 to 198.51.100.10 7000", "permit out ip from 198.51.100.10 to 10.45.7.7 5060"]},
            {"flowId": 2, "flowDescriptions": ["permit in ip from 10.45.7.7 to 198.51.100.10 7001"]}
        ])
    );
    assert!(
        sent["notificationDestination"]
            .as_str()
            .unwrap()
            .contains(&format!("/nef-callbacks/bookings/{id}/"))
    );
    dump_for_contract_check("nef-contract", "e2e-strict-29214", &sent);
    let location = sim.subscriptions().keys().next().unwrap().clone();

    // The NEF invalidates its tokens: the DELETE at the end must refresh and still succeed.
    sim.expire_tokens();
    let terminated = gw.wait_for_status(&http, &id, "TERMINATED").await;
    assert_eq!(terminated["statusInfo"], "DURATION_EXPIRED", "{terminated}");
    let deletes = sim.requests_of("DELETE");
    assert!(!deletes.is_empty());
    let last = deletes.last().unwrap();
    assert_eq!(last.status, 204);
    assert!(
        location.ends_with(&last.path),
        "DELETE {} is not the Location {location}",
        last.path
    );
    on_time("the DELETE", last.at_ms, end);
    let token_calls = sim.requests().iter().filter(|r| r.path == "/oauth2/token").count();
    assert_eq!(token_calls, 2, "one token, then one refresh after the 401");
    assert!(sim.subscriptions().is_empty(), "subscription left at the NEF");
}

#[tokio::test]
async fn a_booking_reaches_a_tls_pcf_found_through_its_nrf_with_tokens_and_leaves_at_its_end() {
    use pcf_sim::{PcfSim, SimConfig, SimTls};
    let pki = tempfile::tempdir().unwrap();
    store::testing::pki::ca(pki.path(), "ca");
    store::testing::pki::leaf(pki.path(), "ca", "pcf", false);
    store::testing::pki::leaf(pki.path(), "ca", "af", true);
    let read = |f: &str| std::fs::read(pki.path().join(f)).unwrap();
    let path = |f: &str| pki.path().join(f).to_string_lossy().into_owned();
    let sim = PcfSim::start(
        "127.0.0.1:0",
        SimConfig {
            access_tokens: true,
            tls: Some(SimTls {
                cert_pem: read("pcf.crt"),
                key_pem: read("pcf.key"),
                client_ca_pem: Some(read("ca.crt")),
            }),
            ..SimConfig::default()
        },
    )
    .await
    .unwrap();
    let root = sim.url();
    assert!(root.starts_with("https://"), "{root}");
    let (ca, cert, key) = (path("ca.crt"), path("af.crt"), path("af.key"));
    let gw = start_gateway(&[
        ("QOSGW__SOUTHBOUND__KIND", "pcf"),
        ("QOSGW__SOUTHBOUND__PCF__DISCOVERY", "nrf"),
        ("QOSGW__SOUTHBOUND__PCF__NRF_API_ROOT", &root),
        ("QOSGW__SOUTHBOUND__PCF__ACCESS_TOKENS", "true"),
        ("QOSGW__SOUTHBOUND__PCF__TLS__CA_FILE", &ca),
        ("QOSGW__SOUTHBOUND__PCF__TLS__CERT_FILE", &cert),
        ("QOSGW__SOUTHBOUND__PCF__TLS__KEY_FILE", &key),
        ("QOSGW__SOUTHBOUND__MAPPING__FLOW_ENCODING", "strict-29214"),
    ])
    .await;
    let http = reqwest::Client::new();

    let now = OffsetDateTime::now_utc();
    let start = now.replace_nanosecond(0).unwrap() + time::Duration::seconds(3);
    let end = start + time::Duration::seconds(3);
    let body = json!({
        "qosProfile": "QOS_S",
        "device": {"ipv4Address": {"publicAddress": "203.0.113.7", "privateAddress": "10.45.7.7"}},
        "applicationServer": {"ipv4Address": "198.51.100.10"},
        "devicePorts": {"ports": [5060]},
        "startTime": start.format(&Rfc3339).unwrap(),
        "duration": 3,
        "serviceArea": {"areaType": "AREANAME", "areaName": "city-center"}
    });
    let id = create(&http, &gw, &body).await;
    assert!(
        sim.requests_of("POST").is_empty(),
        "nothing at the PCF before the start"
    );

    gw.wait_for_status(&http, &id, "ACTIVATED").await;
    let creates = sim.requests_of("POST");
    assert_eq!(creates.len(), 1);
    let made = &creates[0];
    on_time("the create", made.at_ms, start);
    assert_eq!(made.version, "HTTP/2.0");
    assert!(made.user_agent.as_deref().is_some_and(|u| u.starts_with("AF-")));
    let sent = made.body.clone().unwrap();
    let req = &sent["ascReqData"];
    assert_eq!(req["ueIpv4"], "10.45.7.7");
    assert_eq!(req["medComponents"]["1"]["qosReference"], "QOS_S");
    assert!(
        req["notifUri"]
            .as_str()
            .unwrap()
            .contains(&format!("/pcf-callbacks/bookings/{id}/"))
    );
    dump_for_contract_check("n5-contract", "e2e-tls-nrf-strict-29214", &sent);

    // The NRF forgets its tokens: the delete at the end must fetch a new one and succeed.
    sim.revoke_tokens();
    let terminated = gw.wait_for_status(&http, &id, "TERMINATED").await;
    assert_eq!(terminated["statusInfo"], "DURATION_EXPIRED", "{terminated}");
    let deletes: Vec<_> = sim
        .requests_of("POST")
        .into_iter()
        .filter(|r| r.path.ends_with("/delete"))
        .collect();
    let last = deletes.last().expect("no delete reached the PCF");
    assert_eq!(last.status, 204);
    on_time("the delete", last.at_ms, end);
    let scopes: Vec<String> = sim
        .requests()
        .iter()
        .filter(|r| r.path == "/oauth2/token")
        .map(|r| r.body.as_ref().unwrap()["scope"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        scopes,
        ["nnrf-disc", "npcf-policyauthorization", "npcf-policyauthorization"],
        "a token per service, and one refresh after the 401"
    );
    assert!(sim.sessions().is_empty(), "app session left at the PCF");
}
