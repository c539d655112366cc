//! What a usage record says for each kind of life, and how devices appear in it.

use super::*;
use crate::testing::{T0, TestFront, phone, scheduled, served};
use booking::usage::LedgerPosition;
use booking::{DeviceIpv4, StatusInfo};
use std::net::Ipv4Addr;
use time::Duration;

fn entry(b: &Booking) -> LedgerEntry {
    LedgerEntry {
        shard: 3,
        position: LedgerPosition { ms: 10, seq: 1 },
        booking: booking::usage::for_ledger(b),
    }
}

fn renderer(identity: DeviceIdentity) -> Renderer {
    Renderer::new(TestFront, identity)
}

#[test]
fn a_served_booking_bills_its_interval_with_the_operations_invoked() {
    let (active, ended) = served("c1", 1, 1800, StatusInfo::DurationExpired);
    let r = renderer(DeviceIdentity::Clear);
    assert_eq!(r.record(&entry(&active)), None, "a start is not a final record");
    let rec = r.record(&entry(&ended)).unwrap();
    assert_eq!(rec.outcome, "SERVED");
    assert_eq!(rec.in_place_seconds, 1800);
    assert_eq!(rec.in_place_from, Some(T0));
    assert_eq!(rec.in_place_until, Some(T0 + Duration::seconds(1800)));
    assert_eq!(
        rec.device,
        Some(json!({"gpsi": "msisdn-34600000001", "phoneNumber": "+34600000001"}))
    );
    assert_eq!(
        rec.operations,
        vec![Invocation {
            operation: "createBooking".into(),
            result_code: 201
        }]
    );
    assert_eq!(
        rec.ledger,
        LedgerRef {
            shard: 3,
            position: "10-1".into()
        }
    );
    assert_eq!(
        rec.resource,
        format!("/qos-booking/v0.2/device-qos-bookings/{}", ended.id)
    );
    assert_eq!(rec.record_version, 1);
}

#[test]
fn a_deleted_booking_lists_its_delete_and_a_declined_one_bills_nothing() {
    let (_, deleted) = served("c1", 2, 60, StatusInfo::DeleteRequested);
    let r = renderer(DeviceIdentity::Clear);
    let rec = r.record(&entry(&deleted)).unwrap();
    assert_eq!(rec.outcome, "DELETED");
    assert_eq!(
        rec.operations.last().map(|o| (o.operation.as_str(), o.result_code)),
        Some(("deleteBooking", 204))
    );

    let declined = scheduled("c1", phone(3), T0, 600)
        .end(StatusInfo::BookingDeclined, T0 - Duration::hours(1))
        .unwrap();
    let rec = r.record(&entry(&declined)).unwrap();
    assert_eq!(
        (rec.outcome.as_str(), rec.in_place_seconds, rec.in_place_from),
        ("DECLINED", 0, None)
    );
}

#[test]
fn addresses_are_pseudonymous_unless_configured_clear_and_one_device_keeps_one_pseudonym() {
    let mut device = Device {
        ipv4_address: Some(DeviceIpv4 {
            public_address: Ipv4Addr::new(203, 0, 113, 7),
            private_address: Some(Ipv4Addr::new(10, 0, 0, 7)),
            public_port: None,
        }),
        ..Device::default()
    };
    let hidden = renderer(DeviceIdentity::pseudonymous("secret"));
    let seen = hidden.device(&device);
    assert!(seen.get("ipv4Address").is_none(), "{seen}");
    let pseudonym = seen["pseudonym"].as_str().unwrap().to_owned();
    assert_eq!(pseudonym.len(), 32);
    assert_eq!(hidden.device(&device)["pseudonym"], json!(pseudonym), "stable");
    let other_key = renderer(DeviceIdentity::pseudonymous("other")).device(&device);
    assert_ne!(other_key["pseudonym"], json!(pseudonym), "keyed");

    let clear = renderer(DeviceIdentity::Clear).device(&device);
    assert_eq!(clear["ipv4Address"]["publicAddress"], json!("203.0.113.7"));

    // Resolved to a subscription: the operator's GPSI, not a pseudonym.
    device.resolved = Some("tel:+34600000009".into());
    assert_eq!(
        hidden.device(&device),
        json!({"gpsi": "msisdn-34600000009", "phoneNumber": "+34600000009"})
    );
}

#[test]
fn records_read_back_as_written() {
    let (_, ended) = served("c1", 4, 10, StatusInfo::NetworkTerminated);
    let rec = renderer(DeviceIdentity::Clear).record(&entry(&ended)).unwrap();
    let text = serde_json::to_string(&rec).unwrap();
    let back: UsageRecord = serde_json::from_str(&text).unwrap();
    assert_eq!(back, rec);
    assert_eq!(back.outcome, "NETWORK_TERMINATED");
}
