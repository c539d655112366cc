//! The `pcf` client against the simulator over real HTTP/2 (h2c): create, the 303 of an
//! equivalent create, delete by POST, the simulator's schema rules, "no PDU session" in both
//! PCFs' dialects, HTTP/1.1 refused, and the NRF's access tokens (fetched once per scope,
//! renewed after a 401).

use pcf::{AppSessionContext, AppSessionContextReqData, MediaComponent, MediaSubComponent, PcfClient};
use pcf_sim::{NoSession, PcfSim, SimConfig};
use sbi::{Auth, SbiError, TransportConfig};
use std::collections::BTreeMap;
use std::time::Duration;

fn client() -> PcfClient {
    client_with(Auth::None)
}

fn client_with(auth: Auth) -> PcfClient {
    PcfClient::new(TransportConfig {
        auth,
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(2),
        max_retries: 1,
        retry_base: Duration::from_millis(10),
        max_retry_after: Duration::from_secs(1),
        max_requests_per_second: 0,
        http2_only: true,
        user_agent: Some("AF-test".into()),
        client_identity: None,
        root_certificates: None,
    })
    .unwrap()
}

fn ctx(ue: &str, qos_reference: bool) -> AppSessionContext {
    let sub = MediaSubComponent {
        f_num: 1,
        f_descs: vec![
            format!("permit in ip from {ue} to 198.51.100.10"),
            format!("permit out ip from 198.51.100.10 to {ue}"),
        ],
        ..Default::default()
    };
    let comp = MediaComponent {
        med_comp_n: 1,
        qos_reference: qos_reference.then(|| "QOS_L".to_owned()),
        mar_bw_dl: Some("10 Mbps".into()),
        med_sub_comps: BTreeMap::from([("1".to_owned(), sub)]),
        ..Default::default()
    };
    AppSessionContext {
        asc_req_data: Some(AppSessionContextReqData {
            notif_uri: "http://127.0.0.1:1/cb".into(),
            supp_feat: "10000".into(),
            ue_ipv4: Some(ue.into()),
            med_components: BTreeMap::from([("1".to_owned(), comp)]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn create_an_equivalent_create_and_delete_by_post() {
    let sim = PcfSim::start("127.0.0.1:0", SimConfig::default()).await.unwrap();
    let c = client();
    let created = c.create(&sim.url(), &ctx("10.0.0.1", true)).await.unwrap();
    assert!(!created.existing);
    assert!(
        created
            .location
            .starts_with(&format!("{}/npcf-policyauthorization/v1/app-sessions/", sim.url()))
    );
    // The same request again: the PCF points at the session it has.
    let again = c.create(&sim.url(), &ctx("10.0.0.1", true)).await.unwrap();
    assert!(again.existing);
    assert_eq!(again.location, created.location);
    assert_eq!(sim.sessions().len(), 1);
    c.delete(&created.location).await.unwrap();
    assert!(sim.sessions().is_empty());
    // Gone already (404): still success.
    c.delete(&created.location).await.unwrap();
    let posts = sim.requests_of("POST");
    assert!(posts.iter().all(|r| r.version == "HTTP/2.0"), "{posts:?}");
    assert!(posts.iter().all(|r| r.user_agent.as_deref() == Some("AF-test")));
    assert_eq!(posts.last().map(|r| r.status), Some(404));
    assert!(posts.last().is_some_and(|r| r.path.ends_with("/delete")));
}

#[tokio::test]
async fn the_simulator_refuses_what_the_yaml_and_the_doc_refuse() {
    let sim = PcfSim::start("127.0.0.1:0", SimConfig::default()).await.unwrap();
    let c = client();
    let refused = |e: Result<pcf::Created, SbiError>| match e {
        Err(SbiError::Rejected { status, message, .. }) => (status, message),
        other => panic!("expected a refusal, got {other:?}"),
    };
    // qosReference without feature 17.
    let mut x = ctx("10.0.0.2", true);
    x.asc_req_data.as_mut().unwrap().supp_feat = "0".into();
    let (st, msg) = refused(c.create(&sim.url(), &x).await);
    assert_eq!(st, 400);
    assert!(msg.contains("feature 17"), "{msg}");
    // Two UE addresses.
    let mut x = ctx("10.0.0.2", true);
    x.asc_req_data.as_mut().unwrap().ue_ipv6 = Some("2001:db8::1".into());
    assert_eq!(refused(c.create(&sim.url(), &x).await).0, 400);
    // A map key that is not the medCompN; a BitRate without its unit; three fDescs.
    let mut x = ctx("10.0.0.2", true);
    let r = x.asc_req_data.as_mut().unwrap();
    let comp = r.med_components.remove("1").unwrap();
    r.med_components.insert("0".into(), comp);
    assert_eq!(refused(c.create(&sim.url(), &x).await).0, 400);
    let mut x = ctx("10.0.0.2", true);
    x.asc_req_data
        .as_mut()
        .unwrap()
        .med_components
        .get_mut("1")
        .unwrap()
        .mar_bw_dl = Some("120000000".into());
    assert!(refused(c.create(&sim.url(), &x).await).1.contains("BitRate"));
    let mut x = ctx("10.0.0.2", true);
    let sub = x
        .asc_req_data
        .as_mut()
        .unwrap()
        .med_components
        .get_mut("1")
        .unwrap()
        .med_sub_comps
        .get_mut("1")
        .unwrap();
    sub.f_descs.push("permit in ip from 10.0.0.2 to any".into());
    assert_eq!(refused(c.create(&sim.url(), &x).await).0, 400);
    // A rule whose UE side is not the UE (a direction written backwards).
    let mut x = ctx("10.0.0.2", true);
    let sub = x
        .asc_req_data
        .as_mut()
        .unwrap()
        .med_components
        .get_mut("1")
        .unwrap()
        .med_sub_comps
        .get_mut("1")
        .unwrap();
    sub.f_descs = vec!["permit in ip from 198.51.100.10 to 10.0.0.2".into()];
    assert_eq!(refused(c.create(&sim.url(), &x).await).0, 400);
    assert!(sim.sessions().is_empty());
}

#[tokio::test]
async fn no_pdu_session_reads_as_not_attached_in_both_dialects() {
    for dialect in [NoSession::Free5gc, NoSession::Open5gs] {
        let cfg = SimConfig {
            no_session: dialect,
            ..SimConfig::default()
        };
        let sim = PcfSim::start("127.0.0.1:0", cfg).await.unwrap();
        sim.set_unattached("10.0.0.3", true);
        let e = client().create(&sim.url(), &ctx("10.0.0.3", true)).await.unwrap_err();
        assert!(pcf::device_not_attached(&e), "{dialect:?}: {e:?}");
    }
}

#[tokio::test]
async fn an_http1_client_is_refused_at_the_connection() {
    let sim = PcfSim::start("127.0.0.1:0", SimConfig::default()).await.unwrap();
    let http1 = reqwest::Client::builder().http1_only().build().unwrap();
    let r = http1
        .post(format!("{}/npcf-policyauthorization/v1/app-sessions", sim.url()))
        .header("user-agent", "AF")
        .json(&ctx("10.0.0.4", true))
        .send()
        .await;
    assert!(r.is_err(), "an HTTP/1.1 request was answered: {r:?}");
    assert!(sim.sessions().is_empty());
}

const AF_ID: &str = "8f0b3d2c-6a1e-4c55-9d3f-0c5a9b1e7d21";

fn nrf_auth(sim: &PcfSim, target: &str, scope: &str) -> Auth {
    Auth::Nrf {
        token_url: format!("{}/oauth2/token", sim.url()),
        nf_instance_id: AF_ID.into(),
        nf_type: "AF".into(),
        target_nf_type: target.into(),
        scope: scope.into(),
    }
}

fn token_requests(sim: &PcfSim) -> Vec<pcf_sim::Recorded> {
    sim.requests()
        .into_iter()
        .filter(|r| r.path == "/oauth2/token")
        .collect()
}

#[tokio::test]
async fn an_nrf_token_is_fetched_once_per_scope_and_renewed_after_a_401() {
    let cfg = SimConfig {
        access_tokens: true,
        ..SimConfig::default()
    };
    let sim = PcfSim::start("127.0.0.1:0", cfg).await.unwrap();

    // Without a token, the PCF refuses: 401, and nothing is created.
    let e = client().create(&sim.url(), &ctx("10.0.1.1", true)).await.unwrap_err();
    assert_eq!(e.status(), Some(401), "{e:?}");

    // A token for another service is not enough (403 insufficient_scope).
    let e = client_with(nrf_auth(&sim, "NRF", "nnrf-disc"))
        .create(&sim.url(), &ctx("10.0.1.1", true))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403), "{e:?}");
    assert!(sim.sessions().is_empty());

    let c = client_with(nrf_auth(&sim, "PCF", "npcf-policyauthorization"));
    let before = token_requests(&sim).len();
    for n in 0..5 {
        c.create(&sim.url(), &ctx(&format!("10.0.2.{n}"), true)).await.unwrap();
    }
    let fetched = &token_requests(&sim)[before..];
    assert_eq!(fetched.len(), 1, "one token for five calls: {fetched:?}");
    let form = fetched[0].body.clone().unwrap();
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["nfInstanceId"], AF_ID);
    assert_eq!(form["nfType"], "AF");
    assert_eq!(form["targetNfType"], "PCF");
    assert_eq!(form["scope"], "npcf-policyauthorization");
    assert_eq!(fetched[0].status, 200);
    assert_eq!(fetched[0].version, "HTTP/2.0", "the NRF is an SBI producer too");

    // The NRF forgets its tokens: the next call gets 401, fetches a new one and goes through.
    sim.revoke_tokens();
    c.create(&sim.url(), &ctx("10.0.3.1", true)).await.unwrap();
    assert_eq!(token_requests(&sim).len(), before + 2);
    assert_eq!(sim.sessions().len(), 6);
}

#[tokio::test]
async fn the_nrf_refuses_a_malformed_token_request() {
    let cfg = SimConfig {
        access_tokens: true,
        ..SimConfig::default()
    };
    let sim = PcfSim::start("127.0.0.1:0", cfg).await.unwrap();
    for (target, scope) in [("PCF", "no-such-service"), ("BSF", "npcf-policyauthorization")] {
        let e = client_with(nrf_auth(&sim, target, scope))
            .create(&sim.url(), &ctx("10.0.4.1", true))
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(400), "{target} {scope}: {e:?}");
    }
    assert!(sim.sessions().is_empty());
}
