use super::*;
use crate::FlowEncoding;
use crate::tests::{cfg, profile, seed};
use booking::Rate;
use sbi::filter_rule::{self, Direction};
use serde_json::json;

#[test]
fn the_docs_example_booking_becomes_the_docs_app_session() {
    let ctx = map(
        &cfg(FlowEncoding::Compact),
        &N5Config::default(),
        &seed(),
        &profile(),
        &UeAddresses::of_booking(&seed()),
    )
    .unwrap();
    let v = serde_json::to_value(&ctx).unwrap();
    let notif = "https://qos-gw.example.net/pcf-callbacks/bookings/3fa85f64-5717-4562-b3fc-2c963f66afa6";
    assert_eq!(
        v,
        json!({"ascReqData": {
            "suppFeat": "10000",
            "ueIpv4": "203.0.113.0",
            "notifUri": notif,
            "medComponents": {"1": {"medCompN": 1, "qosReference": "QCI_1_voice", "fStatus": "ENABLED",
                "medSubComps": {"1": {"fNum": 1, "fDescs": [
                    "permit in ip from 203.0.113.0 5060,5070,5010-5020 to 198.51.100.0/24 5060,5070,5010-5020",
                    "permit out ip from 198.51.100.0/24 5060,5070,5010-5020 to 203.0.113.0 5060,5070,5010-5020"]}}}},
            "evSubsc": {"notifUri": notif, "events": [
                {"event": "SUCCESSFUL_RESOURCES_ALLOCATION"}, {"event": "FAILED_RESOURCES_ALLOCATION"}]}
        }})
    );
}

#[test]
fn a_form_without_qos_reference_claims_no_feature_and_sends_media_type_and_rates() {
    let mut p = profile();
    p.max_downstream_rate = Some(Rate {
        value: 10,
        unit: booking::RateUnit::Mbps,
    });
    p.max_upstream_rate = Some(Rate {
        value: 512,
        unit: booking::RateUnit::Kbps,
    });
    let n5 = N5Config {
        af_app_id: Some("camara-qos-booking".into()),
        profiles: HashMap::from([(
            p.name.clone(),
            N5Profile {
                qos_reference: false,
                med_type: Some("AUDIO".into()),
                ..Default::default()
            },
        )]),
    };
    let ctx = map(
        &cfg(FlowEncoding::Compact),
        &n5,
        &seed(),
        &p,
        &UeAddresses::of_booking(&seed()),
    )
    .unwrap();
    let req = ctx.asc_req_data.unwrap();
    assert_eq!(req.supp_feat, "0");
    assert_eq!(req.af_app_id.as_deref(), Some("camara-qos-booking"));
    let c = &req.med_components["1"];
    assert_eq!(c.qos_reference, None);
    assert_eq!(c.med_type.as_deref(), Some("AUDIO"));
    assert_eq!(
        (c.mar_bw_dl.as_deref(), c.mar_bw_ul.as_deref()),
        (Some("10 Mbps"), Some("512 Kbps"))
    );
    assert_eq!(c.mir_bw_dl, None, "not GBR");
}

#[test]
fn a_gbr_form_sends_guaranteed_rates_and_subscribes_qos_notif() {
    let mut p = profile();
    p.target_min_downstream_rate = Some(Rate {
        value: 2,
        unit: booking::RateUnit::Mbps,
    });
    let n5 = N5Config {
        af_app_id: None,
        profiles: HashMap::from([(
            p.name.clone(),
            N5Profile {
                gbr: true,
                mir_bw_ul: Some("1 Mbps".into()),
                ..Default::default()
            },
        )]),
    };
    let req = map(
        &cfg(FlowEncoding::Compact),
        &n5,
        &seed(),
        &p,
        &UeAddresses::of_booking(&seed()),
    )
    .unwrap()
    .asc_req_data
    .unwrap();
    let c = &req.med_components["1"];
    assert_eq!(
        (c.mir_bw_dl.as_deref(), c.mir_bw_ul.as_deref()),
        (Some("2 Mbps"), Some("1 Mbps"))
    );
    let events: Vec<&str> = req
        .ev_subsc
        .as_ref()
        .unwrap()
        .events
        .iter()
        .map(|e| e.event.as_str())
        .collect();
    assert_eq!(
        events,
        [
            "SUCCESSFUL_RESOURCES_ALLOCATION",
            "FAILED_RESOURCES_ALLOCATION",
            "QOS_NOTIF"
        ]
    );
}

#[test]
fn every_encoding_gives_sub_components_keyed_by_fnum_with_at_most_two_rules_naming_the_ue() {
    for enc in [
        FlowEncoding::Compact,
        FlowEncoding::Strict29214,
        FlowEncoding::PerPortPair,
    ] {
        let req = map(
            &cfg(enc),
            &N5Config::default(),
            &seed(),
            &profile(),
            &UeAddresses::of_booking(&seed()),
        )
        .unwrap()
        .asc_req_data
        .unwrap();
        let subs = &req.med_components["1"].med_sub_comps;
        assert!(!subs.is_empty());
        for (key, s) in subs {
            assert_eq!(key, &s.f_num.to_string(), "{enc:?}");
            assert!((1..=2).contains(&s.f_descs.len()), "{enc:?}: {:?}", s.f_descs);
            for d in &s.f_descs {
                let r = filter_rule::parse(d).unwrap();
                let ue_side = if r.direction == Direction::In { &r.from } else { &r.to };
                assert_eq!(
                    ue_side.address.map(|a| a.0.to_string()).as_deref(),
                    Some("203.0.113.0"),
                    "{d}"
                );
            }
        }
    }
}

#[test]
fn a_device_without_an_ip_address_cannot_be_expressed() {
    let mut b = seed();
    if let Some(d) = b.device.as_mut() {
        d.ipv4_address = None;
    }
    let e = map(
        &cfg(FlowEncoding::Compact),
        &N5Config::default(),
        &b,
        &profile(),
        &UeAddresses::of_booking(&b),
    )
    .unwrap_err();
    assert_eq!(e, MappingError::NoUeAddressN5);
}
