//! The simulator as a CHF client meets it, over h2c: a session created, updated, released;
//! a resent request answered again and counted once; requests breaking the YAML's rules or
//! out of order refused.

use chf::{ChargingDataRequest, ChfClient, MultipleUnitUsage, NfIdentification, UsedUnitContainer};
use chf_sim::ChfSim;
use std::time::Duration;

fn client(sim: &ChfSim) -> ChfClient {
    let cfg = sbi::TransportConfig {
        auth: sbi::Auth::None,
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(2),
        max_retries: 0,
        retry_base: Duration::from_millis(10),
        max_retry_after: Duration::ZERO,
        max_requests_per_second: 0,
        http2_only: true,
        user_agent: None,
        client_identity: None,
        root_certificates: None,
    };
    ChfClient::new(cfg, &sim.url()).unwrap()
}

fn request(seq: u32, used: Option<u32>) -> ChargingDataRequest {
    ChargingDataRequest {
        nf_consumer_identification: NfIdentification {
            node_functionality: "NEF".into(),
            nf_name: Some("8a1f6a0e-1f33-4c7e-9d1c-3c2b6f0b2a11".into()),
            nf_fqdn: None,
        },
        invocation_time_stamp: "2030-01-01T12:00:00Z".into(),
        invocation_sequence_number: seq,
        retransmission_indicator: None,
        service_specification_info: None,
        multiple_unit_usage: vec![MultipleUnitUsage {
            rating_group: 7,
            requested_unit: None,
            used_unit_container: used
                .map(|t| UsedUnitContainer {
                    local_sequence_number: seq,
                    time: Some(t),
                    trigger_timestamp: None,
                    triggers: Vec::new(),
                })
                .into_iter()
                .collect(),
        }],
        triggers: Vec::new(),
        nef_charging_information: Some(chf::NefChargingInformation {
            external_individual_identifier: Some("msisdn-34600000001".into()),
            api_direction: Some("INVOCATION".into()),
            api_result_code: Some(201),
            api_name: "qos-booking".into(),
            api_reference: Some("https://api.example.com/qos-booking/v0.2/device-qos-bookings/1".into()),
            api_content: None,
        }),
    }
}

#[tokio::test]
async fn a_session_lives_and_a_resent_request_counts_once() {
    let sim = ChfSim::start("127.0.0.1:0").await.unwrap();
    let c = client(&sim);
    let resource = c.create(&request(0, None)).await.unwrap();
    // The same initial request again (its answer lost): the same resource.
    assert_eq!(c.create(&request(0, None)).await.unwrap(), resource);
    c.update(&resource, &request(1, Some(60))).await.unwrap();
    c.update(&resource, &request(1, Some(60))).await.unwrap(); // resent: answered, not counted
    c.release(&resource, &request(2, Some(30))).await.unwrap();
    let sessions = sim.sessions();
    assert_eq!(sessions.len(), 1);
    assert_eq!((sessions[0].used_seconds(), sessions[0].released), (90, true));
    assert_eq!(sessions[0].rating_group, Some(7));
    assert!(sim.requests().iter().all(|r| r.version == "HTTP/2.0"));
    // After the release, a new report is refused.
    let late = c.update(&resource, &request(3, Some(5))).await.unwrap_err();
    assert_eq!(late.status(), Some(404));
}

#[tokio::test]
async fn requests_out_of_order_or_against_the_yaml_are_refused() {
    let sim = ChfSim::start("127.0.0.1:0").await.unwrap();
    let c = client(&sim);
    let resource = c.create(&request(0, None)).await.unwrap();
    c.update(&resource, &request(2, Some(10))).await.unwrap();
    let earlier = c.update(&resource, &request(1, Some(10))).await.unwrap_err();
    assert_eq!(earlier.status(), Some(400));
    let mut bad = request(0, None);
    bad.nf_consumer_identification.node_functionality = "TOASTER".into();
    assert_eq!(c.create(&bad).await.unwrap_err().status(), Some(400));
    let mut no_name = request(0, None);
    no_name.invocation_time_stamp = "yesterday".into();
    assert_eq!(c.create(&no_name).await.unwrap_err().status(), Some(400));
    let gone = format!("{}/nchf-convergedcharging/v3/chargingdata/nope", sim.url());
    let unknown = c.update(&gone, &request(1, None)).await.unwrap_err();
    assert_eq!(unknown.status(), Some(404));
}

#[tokio::test]
async fn faults_refuse_stall_and_drop_answers() {
    let sim = ChfSim::start("127.0.0.1:0").await.unwrap();
    let c = client(&sim);
    sim.set_faults(chf_sim::Faults {
        next_statuses: [500].into(),
        ..Default::default()
    });
    assert!(c.create(&request(0, None)).await.is_err());
    assert!(sim.sessions().is_empty(), "a refused request is not acted on");
    sim.set_faults(chf_sim::Faults {
        drop_after_acting: 1,
        ..Default::default()
    });
    assert!(c.create(&request(0, None)).await.is_err());
    assert_eq!(sim.sessions().len(), 1, "acted on, answer dropped");
    sim.unavailable_for(Duration::from_secs(5));
    assert_eq!(c.create(&request(0, None)).await.unwrap_err().status(), Some(503));
}
