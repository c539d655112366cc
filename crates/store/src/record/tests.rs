use super::*;
use booking::{
    AccessToken, BookingStatus, DeviceIpv4, Dialect, PhoneNumber, Point, PortsSpec, ServiceArea, SinkCredential,
    StatusInfo,
};
use time::macros::datetime;

fn full() -> Booking {
    let mut b = crate::suite::sample("client-1", "+123456789", datetime!(2030-01-01 12:00:00.5 UTC), 3600);
    b.device = Some(Device {
        phone_number: PhoneNumber::parse("+123456789").ok(),
        network_access_identifier: Some("n@example.com".into()),
        ipv4_address: Some(DeviceIpv4 {
            public_address: "203.0.113.5".parse().unwrap(),
            private_address: Some("10.0.0.5".parse().unwrap()),
            public_port: Some(59765),
        }),
        ipv6_address: "2001:db8::5".parse().ok(),
        resolved: None,
    });
    b.device_keys = b.device.as_ref().map(Device::keys).unwrap_or_default();
    b.owner.subject = Some("tel:+123456789".into());
    b.application_server = Some(ApplicationServer {
        ipv4: Some("198.51.100.0/24".into()),
        ipv6: None,
    });
    b.device_ports = Some(PortsSpec {
        ranges: vec![(5010, 5020)],
        ports: vec![5060],
    });
    b.sink = Some("https://app.example.com/cb".into());
    b.sink_credential = Some(SinkCredential::AccessToken(AccessToken {
        access_token: "t".repeat(200),
        expires_at: datetime!(2030-02-01 00:00 UTC),
    }));
    b.status = BookingStatus::Terminated;
    b.status_info = Some(StatusInfo::NetworkTerminated);
    b.started_at = Some(datetime!(2030-01-01 12:00:00.123 UTC));
    b.terminated_at = Some(datetime!(2030-01-01 12:30 UTC));
    b.nef_subscription = Some("http://nef/subscriptions/sub-1".into());
    b.callback_token = "0123456789abcdef0123456789abcdef".into();
    b.attempts = 2;
    // As `southbound` makes them: 96 bits, base64url.
    b.attempt_marker = Some("q1Xw-3Zk9aPQr0sT".into());
    b.retry_at = Some(datetime!(2030-01-01 12:00:01 UTC));
    b.origin = Some(TraceOrigin {
        trace_id: [0xab; 16],
        span_id: [0xcd; 8],
        flags: 1,
    });
    b.version = 7;
    b.service_area = Some(ServiceArea::Circle {
        center: Point {
            latitude: 50.110924,
            longitude: 8.682127,
        },
        radius: 500.0,
    });
    b.echo = Echo(r#"["2030-01-01T12:00:00.5Z",{"areaType":"AREANAME","areaName":"x"},null]"#.into());
    b
}

#[test]
fn a_booking_reads_back_exactly_as_written() {
    let b = full();
    let bytes = encode(&b).unwrap();
    assert_eq!(bytes[0], BOOKING_V3);
    // The status right after the tag: the Redis scripts count bookings by status from it.
    assert_eq!(bytes[1], 3, "TERMINATED");
    assert_eq!(decode(&bytes).unwrap(), b);
    for area in [
        ServiceArea::AreaName("stadium".into()),
        ServiceArea::Polygon {
            boundary: vec![
                Point {
                    latitude: 1.0,
                    longitude: 2.0,
                },
                Point {
                    latitude: 1.5,
                    longitude: 2.5,
                },
                Point {
                    latitude: 1.0,
                    longitude: 3.0,
                },
            ],
        },
    ] {
        let mut other = b.clone();
        other.service_area = Some(area);
        assert_eq!(decode(&encode(&other).unwrap()).unwrap(), other);
    }
    // A token that is not 32 lowercase hex digits is kept as text.
    let mut odd = b.clone();
    odd.callback_token = "not-hex".into();
    assert_eq!(decode(&encode(&odd).unwrap()).unwrap(), odd);
}

/// A layout-1 record exactly as the previous version wrote it (`full()` with a 4-byte token,
/// frozen here): it still reads, with no service area (its echo carries the area as sent).
const V1_RECORD: &str = concat!(
    "010707070707070707070707070707070708636c69656e742d31010e74656c3a2b31323334353637383901010a2b3132",
    "33343536373839010d6e406578616d706c652e636f6d01cb007105010a00000501f5d2030120010db800000000000000",
    "000000000505514f535f4c8094cfc4b3df87c734901c01010f3139382e35312e3130302e302f323400010192279c2701",
    "c42700011a68747470733a2f2f6170702e6578616d706c652e636f6d2f63620104747474748080b0e6998cb6d0340301",
    "010180d38addb0df87c7340180c0c6ed92c888c734011e687474703a2f2f6e65662f737562736372697074696f6e732f",
    "7375622d31000123456789abcdef0123456789abcdef020180a8baa1b7df87c7348080e2bb9197ddc63407465b223230",
    "33302d30312d30315431323a30303a30302e355a222c7b226172656154797065223a22415245414e414d45222c226172",
    "65614e616d65223a2278227d2c6e756c6c5d",
);

#[test]
fn records_of_layout_1_are_still_read() {
    let mut b = full();
    b.sink_credential = Some(SinkCredential::AccessToken(AccessToken {
        access_token: "tttt".into(),
        expires_at: datetime!(2030-02-01 00:00 UTC),
    }));
    b.service_area = None;
    b.attempt_marker = None;
    b.origin = None;
    b.id = BookingId::from_bytes([7; 16]);
    b.created_at = datetime!(2029-12-31 10:00 UTC);
    let fresh = tagged(BOOKING_V1, &v1(&b).unwrap()).unwrap();
    let hex: String = fresh.iter().map(|x| format!("{x:02x}")).collect();
    assert_eq!(hex, V1_RECORD, "the layout-1 writer changed");
    let bytes: Vec<u8> = (0..V1_RECORD.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&V1_RECORD[i..i + 2], 16).unwrap())
        .collect();
    assert_eq!(decode(&bytes).unwrap(), b);
}

#[test]
fn records_of_layout_2_are_still_read() {
    let mut b = full();
    b.origin = None;
    let r = BookingV2 {
        base: v1(&b).unwrap(),
        area: b.service_area.as_ref().map(area),
        attempt_marker: b.attempt_marker.clone(),
    };
    assert_eq!(decode(&tagged(BOOKING_V2, &r).unwrap()).unwrap(), b);
}

#[test]
fn a_record_is_compact() {
    // The realistic booking of the memory example (200-byte sink token included), created
    // with tracing off; tracing adds 25 bytes (the 26-byte context instead of `None`).
    let mut b = full();
    b.origin = None;
    let n = encode(&b).unwrap().len();
    assert!(n < 600, "{n} bytes");
    assert_eq!(encode(&full()).unwrap().len(), n + 25);
}

#[test]
fn unknown_layouts_and_garbage_are_corrupt_not_panics() {
    for bad in [
        &b""[..],
        &[9u8, 1, 2][..],
        &[BOOKING_V1, 0xff][..],
        &[BOOKING_V3][..],
        &b"{not json"[..],
    ] {
        assert!(matches!(decode(bad), Err(StoreError::Corrupt { .. })), "{bad:?}");
        assert!(matches!(decode_event(bad), Err(StoreError::Corrupt { .. })), "{bad:?}");
    }
}

#[test]
fn an_event_reads_back_exactly_as_written() {
    let b = full();
    let ev = StatusEvent::for_booking(&b, datetime!(2030-01-01 12:30 UTC)).unwrap();
    let bytes = encode_event(&ev).unwrap();
    assert_eq!(bytes[0], EVENT_V1, "what layout 1 holds is written in layout 1");
    assert_eq!(decode_event(&bytes).unwrap(), ev);
}

#[test]
fn layout_4_is_written_only_for_what_layout_3_cannot_hold() {
    // Another API shape, a PRIVATE_KEY_JWT credential: layout 4 (and event layout 2), read
    // back exactly; everything else stays in layout 3, which the previous release reads.
    for (dialect, credential) in [
        (Dialect(1), None),
        (
            Dialect(0),
            Some(SinkCredential::PrivateKeyJwt {
                client_id: "aggregator-app".into(),
            }),
        ),
        (
            Dialect(1),
            Some(SinkCredential::PrivateKeyJwt { client_id: "x".into() }),
        ),
    ] {
        let mut b = full();
        b.dialect = dialect;
        b.sink_credential = credential;
        let bytes = encode(&b).unwrap();
        assert_eq!(bytes[0], BOOKING_V4);
        assert_eq!(status_index(&bytes), Some(3));
        assert_eq!(decode(&bytes).unwrap(), b);
        let ev = StatusEvent::for_booking(&b, datetime!(2030-01-01 12:30 UTC)).unwrap();
        let ev_bytes = encode_event(&ev).unwrap();
        assert_eq!(ev_bytes[0], EVENT_V2);
        assert_eq!(decode_event(&ev_bytes).unwrap(), ev);
    }
    assert_eq!(encode(&full()).unwrap()[0], BOOKING_V3);
}

#[test]
fn reservations_and_their_devices_read_back_exactly_as_written() {
    let member = booking::Member {
        id: BookingId::from_bytes([9; 16]),
        device: full().device.unwrap(),
        echo: Echo(r#"{"phoneNumber":"+123456789"}"#.into()),
        subject: Some("tel:+123456789".into()),
    };
    let mut r = full();
    r.dialect = Dialect(2);
    r.group = Some(booking::Group::Reservation {
        total: 50,
        members: vec![
            member.clone(),
            booking::Member {
                subject: None,
                ..member
            },
        ],
    });
    let bytes = encode(&r).unwrap();
    assert_eq!(bytes[0], BOOKING_V4);
    assert_eq!(decode(&bytes).unwrap(), r);
    let mut m = full();
    m.group = Some(booking::Group::Member { of: r.id });
    assert_eq!(decode(&encode(&m).unwrap()).unwrap(), m);
}

#[test]
fn resolved_identities_read_back_with_their_index_keys_in_layout_5() {
    // A device booked by its address, resolved to a phone's identity: the identity and the
    // index key it adds survive the store; a reservation's members keep theirs, in order.
    let mut b = full();
    let device = b.device.as_mut().unwrap();
    device.phone_number = None;
    device.resolved = Some("tel:+123456789".into());
    b.device_keys = device.keys();
    assert_eq!(b.device_keys[0], "tel:+123456789");
    let bytes = encode(&b).unwrap();
    assert_eq!(bytes[0], BOOKING_V5);
    assert_eq!(status_index(&bytes), Some(3));
    assert_eq!(decode(&bytes).unwrap(), b);

    let member = |resolved: Option<&str>, n: u8| booking::Member {
        id: BookingId::from_bytes([n; 16]),
        device: booking::Device {
            resolved: resolved.map(Into::into),
            ..full().device.unwrap()
        },
        echo: Echo::default(),
        subject: None,
    };
    let mut r = full();
    r.group = Some(booking::Group::Reservation {
        total: 3,
        members: vec![member(None, 1), member(Some("tel:+123456780"), 2)],
    });
    let bytes = encode(&r).unwrap();
    assert_eq!(bytes[0], BOOKING_V5);
    assert_eq!(decode(&bytes).unwrap(), r);
    // Nothing resolved, or resolved to the device's own phone number: the older layouts,
    // which the previous release reads (and whose status byte its scripts count).
    assert_eq!(encode(&full()).unwrap()[0], BOOKING_V3);
    let mut by_phone = full();
    by_phone.device.as_mut().unwrap().resolved = Some("tel:+123456789".into());
    assert_eq!(encode(&by_phone).unwrap()[0], BOOKING_V3);
    assert_eq!(
        decode(&encode(&by_phone).unwrap()).unwrap().device_keys,
        by_phone.device_keys
    );
}

/// A record as the first release wrote it (the domain `Booking` as JSON, time as tuples): an
/// upgraded gateway must still read what the old one stored.
const V0_RECORD: &str = r#"{"id":"3fa85f64-5717-4562-b3fc-2c963f66afa6","owner":{"client_id":"c","subject":null},"device":{"phone_number":"+123456789","network_access_identifier":null,"ipv4_address":{"public_address":"203.0.113.5","private_address":null,"public_port":59765},"ipv6_address":null},"device_keys":["tel:+123456789","ipv4:203.0.113.5:59765"],"qos_profile":"QOS_L","start_time":[2030,1,12,0,0,0,0,0,0],"duration":600,"application_server":{"ipv4":"198.51.100.0/24","ipv6":null},"device_ports":{"ranges":[[5010,5020]],"ports":[5060]},"application_server_ports":null,"sink":"https://app.example.com/cb","sink_credential":null,"status":"ACTIVATED","status_info":null,"started_at":[2030,1,12,0,0,0,0,0,0],"terminated_at":null,"nef_subscription":"http://nef/subscriptions/sub-1","callback_token":"0123456789abcdef0123456789abcdef","attempts":0,"retry_at":null,"created_at":[2029,365,11,0,0,0,0,0,0],"version":3,"echo":{"qosProfile":"QOS_L","startTime":"2030-01-01T14:00:00+02:00","serviceArea":{"areaType":"CIRCLE","center":{"latitude":50.1,"longitude":8.68},"radius":500},"device":{"phoneNumber":"+123456789"},"sink":"https://app.example.com/cb"}}"#;

const V0_EVENT: &str = r#"{"id":"e-1","booking_id":"3fa85f64-5717-4562-b3fc-2c963f66afa6","status":"TERMINATED","status_info":"DURATION_EXPIRED","time":"2030-01-01T12:10:00Z","sink":"https://app.example.com/cb","credential":null}"#;

#[test]
fn records_of_the_first_release_are_still_read() {
    let b = decode(V0_RECORD.as_bytes()).unwrap();
    assert_eq!(b.id.to_string(), "3fa85f64-5717-4562-b3fc-2c963f66afa6");
    assert_eq!(b.status, BookingStatus::Activated);
    assert_eq!(b.start_time, datetime!(2030-01-01 12:00 UTC));
    assert_eq!(b.started_at, Some(datetime!(2030-01-01 12:00 UTC)));
    assert_eq!(b.version, 3);
    assert_eq!(b.device_keys, vec!["tel:+123456789", "ipv4:203.0.113.5:59765"]);
    assert_eq!(b.nef_subscription.as_deref(), Some("http://nef/subscriptions/sub-1"));
    let echo: serde_json::Value = serde_json::from_str(&b.echo.0).unwrap();
    assert_eq!(echo[0], "2030-01-01T14:00:00+02:00");
    assert_eq!(echo[1]["radius"], 500);
    assert_eq!(echo[2], serde_json::json!({"phoneNumber": "+123456789"}));
    // Written again, it is a current record with the same content.
    assert_eq!(decode(&encode(&b).unwrap()).unwrap(), b);

    let ev = decode_event(V0_EVENT.as_bytes()).unwrap();
    assert_eq!(ev.status_info, Some(StatusInfo::DurationExpired));
}

#[test]
fn a_network_hold_reads_back_in_layout_6_with_or_without_identities() {
    use booking::admission::{NetworkHold, Window};
    let mut b = full();
    b.network_hold = Some(NetworkHold {
        subscription: Some("http://nef/3gpp-pdtq-policy-negotiation/v1/af/subscriptions/7".into()),
        reference_id: Some("ref-7".into()),
        policy: Some(2),
        offered: Some(Window {
            start: time::macros::datetime!(2027-01-01 10:00 UTC),
            stop: time::macros::datetime!(2027-01-01 11:00 UTC),
        }),
        refused: true,
        unanswered: true,
    });
    let bytes = encode(&b).unwrap();
    assert_eq!(bytes[0], BOOKING_V6);
    assert_eq!(status_index(&bytes), Some(3), "the scripts count it by its status byte");
    assert_eq!(decode(&bytes).unwrap(), b);

    // Asked, no answer yet; and a resolved device beside it.
    let device = b.device.as_mut().unwrap();
    device.phone_number = None;
    device.resolved = Some("tel:+123456789".into());
    b.device_keys = device.keys();
    b.network_hold = Some(NetworkHold::default());
    let bytes = encode(&b).unwrap();
    assert_eq!(bytes[0], BOOKING_V6);
    assert_eq!(decode(&bytes).unwrap(), b);
}
