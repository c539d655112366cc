//! The gateway as an SBI consumer of the PCF, the NRF and the BSF: the NRF's access tokens
//! (one per service, for the whole life of bookings), and h2 over TLS with a client
//! certificate (mTLS) toward a PCF that requires one.

use crate::helpers::*;
use gateway::settings::{PcfDiscovery, SouthboundKind};
use pcf_sim::{PcfSim, SimConfig, SimTls};
use time::Duration;

fn id_of(r: &Resp) -> String {
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["bookingId"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn each_service_gets_its_own_nrf_token_once_for_many_bookings() {
    for (how, discovery_scope, target) in [
        (PcfDiscovery::Nrf, "nnrf-disc", "NRF"),
        (PcfDiscovery::Bsf, "nbsf-management", "BSF"),
    ] {
        let app = spawn_app_with(|s| {
            s.southbound.kind = SouthboundKind::PcfSim;
            s.southbound.pcf.discovery = how;
            // The simulator then refuses every call without a token for its service.
            s.southbound.pcf.access_tokens = true;
            s.southbound.simulator.notify_on_create = false;
        })
        .await;
        let pcf = app.pcf.clone().unwrap();
        let mut ids = Vec::new();
        for phone in ["+123456789", "+123456780", "+123456781"] {
            ids.push(id_of(
                &app.create(booking_body(&app, phone, Duration::minutes(1), 600)).await,
            ));
        }
        app.advance(Duration::minutes(1)).await;
        for id in &ids {
            assert_eq!(app.get(id).await.body["bookingStatus"], "ACTIVATED", "{how:?}");
        }
        app.advance(Duration::minutes(10)).await;
        assert!(pcf.sessions().is_empty(), "{how:?}: app sessions left");

        let tokens: Vec<_> = pcf
            .requests()
            .into_iter()
            .filter(|r| r.path == "/oauth2/token")
            .collect();
        let mut scopes: Vec<(String, String)> = tokens
            .iter()
            .map(|r| {
                let form = r.body.clone().unwrap();
                assert_eq!(r.status, 200, "{form}");
                assert_eq!(form["nfType"], "AF");
                assert_eq!(form["nfInstanceId"], "8f0b3d2c-6a1e-4c55-9d3f-0c5a9b1e7d21");
                (
                    form["scope"].as_str().unwrap().to_owned(),
                    form["targetNfType"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        scopes.sort();
        let mut expected = vec![
            (discovery_scope.to_owned(), target.to_owned()),
            ("npcf-policyauthorization".to_owned(), "PCF".to_owned()),
        ];
        expected.sort();
        assert_eq!(
            scopes, expected,
            "{how:?}: one token per service for 3 creates, 3 lookups and 3 deletes"
        );
        // Every call the simulator answered carried a token it accepted.
        let refused: Vec<_> = pcf.requests().into_iter().filter(|r| r.status == 401).collect();
        assert!(refused.is_empty(), "{how:?}: {refused:?}");
        app.finish().await;
    }
}

struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        store::testing::pki::ca(dir.path(), "ca");
        store::testing::pki::leaf(dir.path(), "ca", "pcf", false);
        store::testing::pki::leaf(dir.path(), "ca", "af", true);
        Self { dir }
    }
    fn path(&self, f: &str) -> std::path::PathBuf {
        self.dir.path().join(f)
    }
    fn read(&self, f: &str) -> Vec<u8> {
        std::fs::read(self.path(f)).unwrap()
    }
}

async fn tls_pcf(pki: &Pki) -> PcfSim {
    let cfg = SimConfig {
        tls: Some(SimTls {
            cert_pem: pki.read("pcf.crt"),
            key_pem: pki.read("pcf.key"),
            client_ca_pem: Some(pki.read("ca.crt")),
        }),
        ..SimConfig::default()
    };
    PcfSim::start("127.0.0.1:0", cfg).await.unwrap()
}

#[tokio::test]
async fn a_booking_lives_its_whole_life_over_h2_with_tls_and_a_client_certificate() {
    let pki = Pki::new();
    let pcf = tls_pcf(&pki).await;
    assert!(pcf.url().starts_with("https://127.0.0.1:"), "{}", pcf.url());
    let app = spawn_app_with(|s| {
        s.southbound.kind = SouthboundKind::Pcf;
        s.southbound.pcf.api_root = Some(pcf.url().parse().unwrap());
        s.southbound.pcf.tls.ca_file = Some(pki.path("ca.crt"));
        s.southbound.pcf.tls.cert_file = Some(pki.path("af.crt"));
        s.southbound.pcf.tls.key_file = Some(pki.path("af.key"));
    })
    .await;
    let id = id_of(
        &app.create(booking_body(&app, "+123456789", Duration::minutes(1), 600))
            .await,
    );
    app.advance(Duration::minutes(1)).await;
    assert_eq!(app.get(&id).await.body["bookingStatus"], "ACTIVATED");
    let sessions = pcf.sessions();
    assert_eq!(sessions.len(), 1);
    assert!(sessions[0].uri.starts_with("https://"), "{:?}", sessions[0]);
    let create = &pcf.requests_of("POST")[0];
    assert_eq!((create.version.as_str(), create.status), ("HTTP/2.0", 201));

    app.advance(Duration::minutes(10)).await;
    let r = app.get(&id).await;
    assert_eq!(r.body["statusInfo"], "DURATION_EXPIRED", "{}", r.body);
    assert!(pcf.sessions().is_empty(), "app session left at the PCF");
    app.finish().await;
}

#[tokio::test]
async fn without_the_client_certificate_the_pcf_is_not_reached() {
    let pki = Pki::new();
    let pcf = tls_pcf(&pki).await;
    let app = spawn_app_with(|s| {
        s.southbound.kind = SouthboundKind::Pcf;
        s.southbound.pcf.api_root = Some(pcf.url().parse().unwrap());
        s.southbound.pcf.tls.ca_file = Some(pki.path("ca.crt"));
    })
    .await;
    let id = id_of(
        &app.create(booking_body(&app, "+123456789", Duration::minutes(1), 600))
            .await,
    );
    app.advance(Duration::minutes(1)).await;
    assert_ne!(app.get(&id).await.body["bookingStatus"], "ACTIVATED");
    assert!(
        pcf.requests().is_empty(),
        "the handshake should fail before any request"
    );
    app.finish().await;
}

/// Two replicas that name themselves differently (each its own public URL, so each its own
/// callback base): the first's create reaches the PCF but its answer is lost; the second,
/// taking the timer over, sends the first attempt's `notifUri` (kept as the attempt's
/// marker), so the PCF sees an equivalent context and answers 303 with the session the first
/// one made: one app session, adopted.
#[tokio::test]
async fn a_replica_with_another_public_url_adopts_the_session_a_lost_answer_left() {
    use booking::Clock;
    use std::sync::Arc;
    let pcf = PcfSim::start("127.0.0.1:0", SimConfig::default()).await.unwrap();
    pcf.set_faults(pcf_sim::Faults {
        act_then_drop: 1,
        ..pcf_sim::Faults::default()
    });
    let root: url::Url = pcf.url().parse().unwrap();
    let on_pcf = |s: &mut gateway::Settings, public: &str| {
        s.southbound.kind = SouthboundKind::Pcf;
        s.southbound.pcf.api_root = Some(root.clone());
        s.server.public_url = Some(public.parse().unwrap());
    };
    let app = spawn_redis_app_with(|s| on_pcf(s, "https://gw-a.example")).await;
    let id = id_of(
        &app.create(booking_body(&app, "+123456789", Duration::minutes(1), 600))
            .await,
    );
    app.advance(Duration::minutes(1)).await;
    // The app's own scheduler may have taken the timer instead of this pass: wait for the
    // attempt, whoever made it.
    for _ in 0..100 {
        if !pcf.sessions().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(pcf.sessions().len(), 1, "the PCF acted");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        app.get(&id).await.body["bookingStatus"],
        "SCHEDULED",
        "the answer was lost"
    );

    let mut s = test_settings();
    s.store.kind = gateway::settings::StoreKind::Redis;
    s.store.redis.urls = vec![app.redis.as_ref().unwrap().url()];
    s.store.redis.shards = 4;
    s.auth.allow_dev_with_redis = true;
    on_pcf(&mut s, "https://gw-b.example");
    let clock = Arc::new(booking::ManualClock::new(app.clock.now() + Duration::minutes(2)));
    let second = gateway::Application::build_with_clock(s, clock).await.unwrap();
    app.clock.advance(Duration::minutes(2));
    // Until the first replica's claim of the timer has lapsed (a loaded machine), the second
    // finds nothing due.
    for _ in 0..100 {
        second.service().run_due().await.unwrap();
        if app.get(&id).await.body["bookingStatus"] == "ACTIVATED" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(app.get(&id).await.body["bookingStatus"], "ACTIVATED");

    let creates: Vec<_> = pcf
        .requests_of("POST")
        .into_iter()
        .filter(|r| r.path.ends_with("/app-sessions"))
        .collect();
    assert_eq!(creates.len(), 2);
    let notif = |r: &pcf_sim::Recorded| r.body.as_ref().unwrap()["ascReqData"]["notifUri"].clone();
    assert_eq!(
        notif(&creates[0]),
        notif(&creates[1]),
        "the second attempt names the first's callback"
    );
    assert!(
        notif(&creates[1])
            .as_str()
            .unwrap()
            .starts_with("https://gw-a.example/")
    );
    assert_eq!((creates[0].status, creates[1].status), (201, 303));
    assert_eq!(pcf.sessions().len(), 1, "one app session, adopted");
    app.finish().await;
}
