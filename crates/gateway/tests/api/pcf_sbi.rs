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
