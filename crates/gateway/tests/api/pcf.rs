//! The booking at the PCF (`southbound.kind: pcf-sim`): N5 over HTTP/2 both ways, the whole
//! life of a booking, the PCF's callbacks, and adoption through 303 after a lost answer.

use crate::helpers::*;
use gateway::settings::SouthboundKind;
use serde_json::json;
use time::Duration;

fn id_of(r: &Resp) -> String {
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["bookingId"].as_str().unwrap().to_owned()
}

async fn pcf_app() -> TestApp {
    spawn_app_with(|s| {
        s.southbound.kind = SouthboundKind::PcfSim;
        s.southbound.simulator.notify_on_create = false;
    })
    .await
}

/// An HTTP/2-only client, as a PCF sends its callbacks (h2c, prior knowledge).
fn h2() -> reqwest::Client {
    reqwest::Client::builder().http2_prior_knowledge().build().unwrap()
}

#[tokio::test]
async fn a_booking_lives_its_whole_life_at_the_pcf_over_http2() {
    let app = pcf_app().await;
    let pcf = app.pcf.clone().unwrap();
    let id = id_of(
        &app.create(booking_body(&app, "+123456789", Duration::minutes(1), 600))
            .await,
    );
    assert!(pcf.sessions().is_empty(), "nothing at the PCF before the start");
    app.advance(Duration::minutes(1)).await;
    assert_eq!(app.get(&id).await.body["bookingStatus"], "ACTIVATED");
    let sessions = pcf.sessions();
    assert_eq!(sessions.len(), 1);
    let req = &sessions[0].req;
    // The resolver's private address, one media component, the callback under the booking.
    assert_eq!(req["ueIpv4"], "10.45.0.10");
    assert_eq!(req["suppFeat"], "10000");
    assert_eq!(req["afAppId"], "camara-qos-booking");
    assert_eq!(req["medComponents"]["1"]["qosReference"], "QOS_L");
    let notif = req["notifUri"].as_str().unwrap().to_owned();
    assert!(notif.contains(&format!("/pcf-callbacks/bookings/{id}/")), "{notif}");
    assert_eq!(req["evSubsc"]["notifUri"], notif.as_str());
    let post = &pcf.requests_of("POST")[0];
    assert_eq!((post.version.as_str(), post.status), ("HTTP/2.0", 201));
    assert!(
        post.user_agent.as_deref().is_some_and(|u| u.starts_with("AF-")),
        "{post:?}"
    );

    // The PCF's callbacks arrive over h2c: reports change nothing.
    let session = sessions[0].uri.clone();
    assert_eq!(
        pcf.notify(&session, "SUCCESSFUL_RESOURCES_ALLOCATION").await.unwrap(),
        204
    );
    assert_eq!(pcf.notify(&session, "QOS_NOTIF").await.unwrap(), 204);
    assert_eq!(app.get(&id).await.body["bookingStatus"], "ACTIVATED");

    // The schedule ends the QoS (the PCF sends nothing): POST {Location}/delete.
    app.advance(Duration::minutes(10)).await;
    let r = app.get(&id).await;
    assert_eq!(
        (r.body["bookingStatus"].as_str(), r.body["statusInfo"].as_str()),
        (Some("TERMINATED"), Some("DURATION_EXPIRED"))
    );
    assert!(pcf.sessions().is_empty(), "app session left at the PCF");
    let deletes: Vec<_> = pcf
        .requests_of("POST")
        .into_iter()
        .filter(|r| r.path.ends_with("/delete"))
        .collect();
    assert_eq!(deletes.len(), 1);
    assert_eq!(
        deletes[0].path,
        format!("{}/delete", session.trim_start_matches(&pcf.url()))
    );
    assert!(pcf.requests_of("DELETE").is_empty(), "N5 deletes by POST");
    app.finish().await;
}

#[tokio::test]
async fn a_termination_from_the_pcf_ends_the_booking_and_deletes_the_session() {
    let app = pcf_app().await;
    let pcf = app.pcf.clone().unwrap();
    let sink = Sink::start().await;
    let mut body = booking_body(&app, "+123456789", Duration::minutes(1), 600);
    body["sink"] = json!(sink.url);
    let id = id_of(&app.create(body).await);
    app.advance(Duration::minutes(1)).await;
    let session = pcf.sessions()[0].uri.clone();
    assert_eq!(pcf.terminate(&session, "PDU_SESSION_TERMINATION").await.unwrap(), 204);
    let r = app.get(&id).await;
    assert_eq!(r.body["statusInfo"], "NETWORK_TERMINATED");
    assert!(pcf.sessions().is_empty(), "the gateway deletes after a termination");
    let events = sink.wait_for(3).await;
    assert_eq!(events[2].1["data"]["statusInfo"], "NETWORK_TERMINATED");
    app.finish().await;
}

#[tokio::test]
async fn failed_resources_allocation_with_inactive_resources_ends_the_booking() {
    let app = pcf_app().await;
    let pcf = app.pcf.clone().unwrap();
    let id = id_of(
        &app.create(booking_body(&app, "+123456789", Duration::minutes(1), 600))
            .await,
    );
    app.advance(Duration::minutes(1)).await;
    let session = pcf.sessions()[0].uri.clone();
    assert_eq!(pcf.notify(&session, "FAILED_RESOURCES_ALLOCATION").await.unwrap(), 204);
    assert_eq!(app.get(&id).await.body["statusInfo"], "NETWORK_TERMINATED");
    assert!(pcf.sessions().is_empty());
    app.finish().await;
}

#[tokio::test]
async fn callbacks_tolerate_empty_bodies_and_refuse_a_wrong_token() {
    let app = pcf_app().await;
    let pcf = app.pcf.clone().unwrap();
    let id = id_of(
        &app.create(booking_body(&app, "+123456789", Duration::minutes(1), 600))
            .await,
    );
    app.advance(Duration::minutes(1)).await;
    let notif = pcf.sessions()[0].req["notifUri"].as_str().unwrap().to_owned();
    let h2 = h2();
    let post = |url: String, body: &'static str| {
        let h2 = h2.clone();
        async move {
            h2.post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(post(format!("{notif}/notify"), "").await, 204);
    assert_eq!(
        post(format!("{notif}/notify"), r#"{"evNotifs":null,"extra":1}"#).await,
        204
    );
    assert_eq!(app.get(&id).await.body["bookingStatus"], "ACTIVATED");
    let wrong = notif
        .rsplit_once('/')
        .map(|(base, _)| format!("{base}/not-the-token"))
        .unwrap();
    assert_eq!(post(format!("{wrong}/terminate"), "").await, 404);
    assert_eq!(app.get(&id).await.body["bookingStatus"], "ACTIVATED");
    // An empty termination still ends it (a PCF has sent them so).
    assert_eq!(post(format!("{notif}/terminate"), "").await, 204);
    assert_eq!(app.get(&id).await.body["statusInfo"], "NETWORK_TERMINATED");
    app.finish().await;
}

#[tokio::test]
async fn an_answer_lost_after_the_pcf_acted_is_adopted_through_303_not_doubled() {
    let app = pcf_app().await;
    let pcf = app.pcf.clone().unwrap();
    let id = id_of(
        &app.create(booking_body(&app, "+123456789", Duration::minutes(1), 600))
            .await,
    );
    // The PCF creates the session, the gateway never hears (the stream is reset).
    pcf.set_faults(pcf_sim::Faults {
        act_then_drop: 1,
        ..Default::default()
    });
    app.advance(Duration::minutes(1)).await;
    assert_eq!(pcf.sessions().len(), 1, "the PCF acted");
    assert_ne!(app.get(&id).await.body["bookingStatus"], "ACTIVATED");
    // The retry sends the same request: the PCF's 303 names the session, which is adopted.
    app.advance(Duration::seconds(5)).await;
    assert_eq!(app.get(&id).await.body["bookingStatus"], "ACTIVATED");
    assert_eq!(pcf.sessions().len(), 1, "adopted, not created twice");
    let statuses: Vec<u16> = pcf.requests_of("POST").iter().map(|r| r.status).collect();
    assert_eq!(statuses, [201, 303]);
    app.advance(Duration::minutes(10)).await;
    assert!(pcf.sessions().is_empty());
    app.finish().await;
}

#[tokio::test]
async fn the_pcf_is_found_through_the_nrf_or_the_bsf() {
    use gateway::settings::PcfDiscovery;
    for how in [PcfDiscovery::Nrf, PcfDiscovery::Bsf] {
        let app = spawn_app_with(|s| {
            s.southbound.kind = SouthboundKind::PcfSim;
            s.southbound.pcf.discovery = how;
        })
        .await;
        let pcf = app.pcf.clone().unwrap();
        let id = id_of(
            &app.create(booking_body(&app, "+123456789", Duration::minutes(1), 600))
                .await,
        );
        app.advance(Duration::minutes(1)).await;
        assert_eq!(app.get(&id).await.body["bookingStatus"], "ACTIVATED", "{how:?}");
        let asked: Vec<String> = pcf
            .requests()
            .into_iter()
            .filter(|r| r.method == "GET")
            .map(|r| r.path)
            .collect();
        let expected = match how {
            PcfDiscovery::Nrf => "/nnrf-disc/v1/nf-instances",
            _ => "/nbsf-management/v1/pcfBindings",
        };
        assert!(asked.iter().any(|p| p == expected), "{how:?}: {asked:?}");
        assert_eq!(pcf.sessions().len(), 1);
        app.finish().await;
    }
}

#[tokio::test]
async fn a_ue_the_bsf_has_no_binding_for_is_retried_until_it_attaches() {
    let app = spawn_app_with(|s| {
        s.southbound.kind = SouthboundKind::PcfSim;
        s.southbound.pcf.discovery = gateway::settings::PcfDiscovery::Bsf;
    })
    .await;
    let pcf = app.pcf.clone().unwrap();
    pcf.set_unattached("10.45.0.10", true);
    let id = id_of(
        &app.create(booking_body(&app, "+123456789", Duration::minutes(1), 600))
            .await,
    );
    app.advance(Duration::minutes(1)).await;
    assert_ne!(app.get(&id).await.body["bookingStatus"], "ACTIVATED");
    assert!(pcf.sessions().is_empty());
    pcf.set_unattached("10.45.0.10", false);
    app.advance(Duration::seconds(10)).await;
    assert_eq!(app.get(&id).await.body["bookingStatus"], "ACTIVATED");
    app.finish().await;
}

/// Writes what the gateway sent the PCF, for every encoding, address family and N5 form,
/// into `target/n5-contract`; CI validates them against the TS 29.514 YAML with an
/// independent validator (`.ci/validate_3gpp_bodies.py n5`).
#[tokio::test]
async fn n5_contract_bodies_for_every_encoding_and_form() {
    use qos_mapping::FlowEncoding::*;
    use qos_mapping::n5::N5Profile;
    let dir = std::env::current_exe()
        .unwrap()
        .ancestors()
        .nth(3)
        .unwrap()
        .join("n5-contract");
    std::fs::create_dir_all(&dir).unwrap();
    let rates = N5Profile {
        qos_reference: false,
        med_type: Some("VIDEO".into()),
        mar_bw_dl: Some("20 Mbps".into()),
        mar_bw_ul: Some("5 Mbps".into()),
        ..Default::default()
    };
    let gbr = N5Profile {
        gbr: true,
        mir_bw_dl: Some("2 Mbps".into()),
        mir_bw_ul: Some("1.5 Mbps".into()),
        ..Default::default()
    };
    for (name, enc, v6, form) in [
        ("compact-v4-qosref", Compact, false, None),
        ("strict-v4-rates", Strict29214, false, Some(rates)),
        ("pairs-v4-gbr", PerPortPair, false, Some(gbr)),
        ("compact-v6-qosref", Compact, true, None),
    ] {
        let app = spawn_app_with(|s| {
            s.southbound.kind = SouthboundKind::PcfSim;
            s.southbound.mapping.flow_encoding = enc;
            s.southbound.mapping.dnn = Some("internet".into());
            s.southbound.mapping.snssai_sst = 1;
            s.southbound.mapping.snssai_sd = Some("0000AB".into());
            if let Some(f) = form {
                s.southbound.pcf.profiles.insert("QOS_L".into(), f);
            }
        })
        .await;
        let mut body = booking_body(&app, "+123456789", Duration::minutes(1), 600);
        body["applicationServerPorts"] = json!({"ports": [443, 8443]});
        if v6 {
            body["device"] = json!({"ipv6Address": "2001:db8:45::11"});
            body["applicationServer"] = json!({"ipv6Address": "2001:db8:1::/48"});
        }
        let id = id_of(&app.create(body).await);
        app.advance(Duration::minutes(1)).await;
        assert_eq!(app.get(&id).await.body["bookingStatus"], "ACTIVATED", "{name}");
        let sent = app.pcf.as_ref().unwrap().requests_of("POST")[0].body.clone().unwrap();
        std::fs::write(
            dir.join(format!("{name}.json")),
            serde_json::to_vec_pretty(&sent).unwrap(),
        )
        .unwrap();
        app.finish().await;
    }
}
