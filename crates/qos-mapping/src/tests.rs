use super::*;
use booking::{
    ApplicationServer, BookingId, Device, DeviceIpv4, NewBooking, Owner, PhoneNumber, ProfileStatus, ServiceArea,
};
use proptest::prelude::*;
use serde_json::json;
use time::macros::datetime;

fn seed_ports() -> PortsSpec {
    PortsSpec {
        ranges: vec![(5010, 5020)],
        ports: vec![5060, 5070],
    }
}

/// The seed booking of the southbound doc's worked example.
pub(crate) fn seed() -> Booking {
    let device = Device {
        phone_number: PhoneNumber::parse("+123456789").ok(),
        network_access_identifier: None,
        ipv4_address: Some(DeviceIpv4 {
            public_address: "203.0.113.0".parse().unwrap(),
            private_address: None,
            public_port: Some(59765),
        }),
        ipv6_address: None,
        resolved: None,
    };
    let req = NewBooking {
        qos_profile: "QCI_1_voice".into(),
        start_time: datetime!(2030-01-01 10:00 UTC),
        duration: 3600,
        service_area: ServiceArea::AreaName("x".into()),
        device: None,
        application_server: Some(ApplicationServer {
            ipv4: Some("198.51.100.0/24".into()),
            ipv6: None,
        }),
        device_ports: Some(seed_ports()),
        application_server_ports: Some(seed_ports()),
        sink: None,
        sink_credential: None,
        echo: Default::default(),
        dialect: Default::default(),
    };
    let owner = Owner {
        client_id: "c".into(),
        subject: None,
    };
    let id = BookingId::parse("3fa85f64-5717-4562-b3fc-2c963f66afa6").unwrap();
    let mut b = Booking::schedule(id, owner, device, req, datetime!(2030-01-01 09:00 UTC));
    b.callback_token = "tok".into();
    b
}

pub(crate) fn profile() -> QosProfile {
    QosProfile {
        name: "QCI_1_voice".into(),
        status: ProfileStatus::Active,
        min_duration: 1,
        max_duration: 86400,
        qos_reference: "QCI_1_voice".into(),
        alt_qos_references: vec![],
        ..Default::default()
    }
}

pub(crate) fn cfg(encoding: FlowEncoding) -> MappingConfig {
    MappingConfig {
        callback_base: "https://qos-gw.example.net".into(),
        callback_auth: CallbackAuth::None,
        encoding,
        protocol: "ip".into(),
        address_preference: vec![AddressKind::Ipv4Private, AddressKind::Ipv4Public, AddressKind::Ipv6],
        dnn: None,
        snssai: None,
        supported_features: Some("0".into()),
        usage_threshold: true,
        release: 17,
        max_flows: 1000,
    }
}

fn body(encoding: FlowEncoding) -> serde_json::Value {
    let b = seed();
    serde_json::to_value(map(&cfg(encoding), &b, &profile(), &UeAddresses::of_booking(&b)).unwrap()).unwrap()
}

#[test]
fn worked_example_compact_is_exactly_the_documented_body() {
    let expected = json!({
      "supportedFeatures": "0",
      "notificationDestination": "https://qos-gw.example.net/nef-callbacks/bookings/3fa85f64-5717-4562-b3fc-2c963f66afa6",
      "ueIpv4Addr": "203.0.113.0",
      "qosReference": "QCI_1_voice",
      "flowInfo": [
        {
          "flowId": 1,
          "flowDescriptions": [
            "permit in ip from 203.0.113.0 5060,5070,5010-5020 to 198.51.100.0/24 5060,5070,5010-5020",
            "permit out ip from 198.51.100.0/24 5060,5070,5010-5020 to 203.0.113.0 5060,5070,5010-5020"
          ]
        }
      ],
      "usageThreshold": { "duration": 3600 }
    });
    assert_eq!(body(FlowEncoding::Compact), expected);
}

#[test]
fn worked_example_strict_29214_has_13_flows() {
    let v = body(FlowEncoding::Strict29214);
    let flows = v["flowInfo"].as_array().unwrap();
    assert_eq!(flows.len(), 13);
    assert_eq!(
        flows[0],
        json!({"flowId": 1, "flowDescriptions": ["permit in ip from 203.0.113.0 to 198.51.100.0/24 5060", "permit out ip from 198.51.100.0/24 to 203.0.113.0 5060"]})
    );
    assert_eq!(
        flows[1]["flowDescriptions"][0],
        "permit in ip from 203.0.113.0 to 198.51.100.0/24 5070"
    );
    assert_eq!(
        flows[2]["flowDescriptions"][1],
        "permit out ip from 198.51.100.0/24 to 203.0.113.0 5010"
    );
    assert_eq!(flows[12]["flowId"], 13);
    assert_eq!(
        flows[12]["flowDescriptions"][0],
        "permit in ip from 203.0.113.0 to 198.51.100.0/24 5020"
    );
    // Everything else is as in the compact body.
    let mut rest = v.clone();
    rest.as_object_mut().unwrap().remove("flowInfo");
    let mut compact = body(FlowEncoding::Compact);
    compact.as_object_mut().unwrap().remove("flowInfo");
    assert_eq!(rest, compact);
}

#[test]
fn worked_example_per_port_pair_has_169_flows() {
    let v = body(FlowEncoding::PerPortPair);
    let flows = v["flowInfo"].as_array().unwrap();
    assert_eq!(flows.len(), 169);
    assert_eq!(
        flows[0]["flowDescriptions"],
        json!([
            "permit in ip from 203.0.113.0 5060 to 198.51.100.0/24 5060",
            "permit out ip from 198.51.100.0/24 5060 to 203.0.113.0 5060"
        ])
    );
    assert_eq!(
        flows[1]["flowDescriptions"][0],
        "permit in ip from 203.0.113.0 5060 to 198.51.100.0/24 5070"
    );
    assert_eq!(flows[168]["flowId"], 169);
}

#[test]
fn address_preference_and_release_18() {
    let mut b = seed();
    let d = b.device.as_mut().unwrap();
    d.ipv4_address.as_mut().unwrap().private_address = Some("10.1.2.3".parse().unwrap());
    d.ipv6_address = Some("2001:db8::5".parse().unwrap());
    let ue = UeAddresses::of_booking(&b);
    let s = map(&cfg(FlowEncoding::Compact), &b, &profile(), &ue).unwrap();
    assert_eq!(s.ue_ipv4_addr.as_deref(), Some("10.1.2.3"));
    assert_eq!(s.ue_ipv6_addr, None);
    let mut c = cfg(FlowEncoding::Compact);
    c.address_preference = vec![AddressKind::Ipv6, AddressKind::Ipv4Public];
    let s = map(&c, &b, &profile(), &ue).unwrap();
    assert_eq!(s.ue_ipv6_addr.as_deref(), Some("2001:db8::5"));
    assert_eq!(s.ue_ipv4_addr, None);
    // No IPv6 application server given: the remote side is `any`.
    assert!(s.flow_info.unwrap()[0].flow_descriptions[0].contains("to any 5060"));

    c.release = 18;
    let s = map(&c, &b, &profile(), &UeAddresses::default()).unwrap();
    assert_eq!(s.gpsi.as_deref(), Some("msisdn-123456789"));
    assert_eq!(s.qos_duration, Some(3600));
    assert_eq!(s.ue_ipv4_addr, None);
    assert_eq!(
        map(&cfg(FlowEncoding::Compact), &b, &profile(), &UeAddresses::default()),
        Err(MappingError::NoUeAddress(17))
    );
}

#[test]
fn callback_urls_and_limits() {
    let b = seed();
    let mut c = cfg(FlowEncoding::PerPortPair);
    c.callback_auth = CallbackAuth::PerBookingToken;
    assert_eq!(
        notification_destination(&c, &b),
        "https://qos-gw.example.net/nef-callbacks/bookings/3fa85f64-5717-4562-b3fc-2c963f66afa6/tok"
    );
    c.max_flows = 168;
    assert_eq!(flow_count(&c, &b), 169);
    assert_eq!(
        map(&c, &b, &profile(), &UeAddresses::of_booking(&b)),
        Err(MappingError::TooManyFlows { needed: 169, max: 168 })
    );
}

fn ports_strategy() -> impl Strategy<Value = Option<PortsSpec>> {
    let range = (0u16..=65535, 0u16..=8).prop_map(|(a, w)| (a, a.saturating_add(w)));
    proptest::option::of(
        (
            proptest::collection::vec(range, 0..3),
            proptest::collection::vec(any::<u16>(), 0..4),
        )
            .prop_filter("PortsSpec needs ranges or ports", |(r, p)| {
                !r.is_empty() || !p.is_empty()
            })
            .prop_map(|(ranges, ports)| PortsSpec { ranges, ports }),
    )
}

proptest! {
    #[test]
    fn every_flow_description_is_a_valid_ip_filter_rule(
        dev in ports_strategy(),
        srv in ports_strategy(),
        v6 in any::<bool>(),
        proto in prop_oneof![Just("ip".to_string()), (0u8..=255).prop_map(|p| p.to_string())],
        enc in prop_oneof![Just(FlowEncoding::Compact), Just(FlowEncoding::Strict29214), Just(FlowEncoding::PerPortPair)],
    ) {
        let mut b = seed();
        b.device_ports = dev;
        b.application_server_ports = srv;
        if v6 {
            b.device.as_mut().unwrap().ipv6_address = Some("2001:db8::7".parse().unwrap());
            b.application_server = Some(ApplicationServer { ipv4: None, ipv6: Some("2001:db8:1::/48".into()) });
        }
        let mut c = cfg(enc);
        c.protocol = proto;
        c.address_preference = if v6 { vec![AddressKind::Ipv6] } else { vec![AddressKind::Ipv4Public] };
        let s = map(&c, &b, &profile(), &UeAddresses::of_booking(&b)).unwrap();
        let flows = s.flow_info.unwrap();
        prop_assert_eq!(flows.len(), flow_count(&c, &b));
        for (i, f) in flows.iter().enumerate() {
            prop_assert_eq!(f.flow_id as usize, i + 1);
            prop_assert!((1..=2).contains(&f.flow_descriptions.len()));
            let mut dirs = Vec::new();
            for d in &f.flow_descriptions {
                let r = nef::filter_rule::parse(d).map_err(|e| TestCaseError::fail(format!("{d}: {e}")))?;
                dirs.push(r.direction);
                if enc == FlowEncoding::Strict29214 {
                    // No lists or ranges; the UE-side remote port is open.
                    prop_assert!(r.from.ports.len() <= 1 && r.to.ports.len() <= 1);
                    prop_assert!(r.from.ports.is_empty());
                    prop_assert!(r.to.ports.iter().all(|(a, b)| a == b));
                }
            }
            dirs.dedup();
            prop_assert_eq!(dirs.len(), f.flow_descriptions.len(), "at most one rule per direction");
        }
    }
}

/// A port listed again, or inside a range, is one flow: the flow limit counts what the
/// mapping sends (found by the property test above: 55880 in 55880-55885).
#[test]
fn a_port_inside_a_range_counts_once() {
    let mut b = seed();
    b.device_ports = Some(PortsSpec {
        ranges: vec![(55880, 55885), (55884, 55890)],
        ports: vec![55880, 55890, 60000],
    });
    b.application_server_ports = None;
    let c = cfg(FlowEncoding::Strict29214);
    assert_eq!(flow_count(&c, &b), 12);
    let s = map(&c, &b, &profile(), &UeAddresses::of_booking(&b)).unwrap();
    assert_eq!(s.flow_info.unwrap().len(), 12);
}
