//! Each way a booking's life ends, and what billing calls it.

use super::*;
use crate::area::ServiceArea;
use crate::booking::{NewBooking, Owner};
use crate::device::{Device, PhoneNumber};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2030-01-01 12:00 UTC);

fn scheduled() -> Booking {
    let device = Device::from_phone(PhoneNumber::parse("+123456789").unwrap());
    let req = NewBooking::minimal("QOS_L", T0, 3600, ServiceArea::AreaName("x".into()));
    let owner = Owner {
        client_id: "c".into(),
        subject: None,
    };
    Booking::schedule(BookingId::new(), owner, device, req, T0 - Duration::hours(1))
}

fn active() -> Booking {
    let attempt = scheduled().begin_attempt(Some("m".into())).unwrap();
    attempt.activated("sub".into(), T0).unwrap()
}

#[test]
fn a_booking_in_place_to_its_end_is_served_for_the_whole_interval() {
    let ended = active()
        .end(StatusInfo::DurationExpired, T0 + Duration::hours(1))
        .unwrap();
    assert_eq!(Outcome::of(&ended), Some(Outcome::Served));
    assert_eq!(seconds_in_place(&ended), 3600);
    assert!(ledger_worthy(&active()) && ledger_worthy(&ended));
}

#[test]
fn a_live_booking_has_no_outcome_and_an_open_interval() {
    assert_eq!(Outcome::of(&active()), None);
    assert_eq!(in_place(&active()), Some((T0, None)));
    assert_eq!(seconds_in_place(&active()), 0);
    assert!(!ledger_worthy(&scheduled()));
}

#[test]
fn declined_and_failed_bookings_are_never_billed_as_served() {
    let declined = scheduled()
        .end(StatusInfo::BookingDeclined, T0 - Duration::minutes(5))
        .unwrap();
    assert_eq!(Outcome::of(&declined), Some(Outcome::Declined));
    assert_eq!(seconds_in_place(&declined), 0);

    let refused = scheduled()
        .begin_attempt(None)
        .unwrap()
        .end(StatusInfo::BookingRevoked, T0)
        .unwrap();
    assert_eq!(Outcome::of(&refused), Some(Outcome::FailedToActivate));

    let too_late = scheduled()
        .end(StatusInfo::BookingRevoked, T0 + Duration::hours(2))
        .unwrap();
    assert_eq!(Outcome::of(&too_late), Some(Outcome::FailedToActivate));

    let by_operator = scheduled()
        .end(StatusInfo::BookingRevoked, T0 - Duration::minutes(1))
        .unwrap();
    assert_eq!(Outcome::of(&by_operator), Some(Outcome::Revoked));
}

#[test]
fn an_early_end_bills_the_time_up_to_it() {
    let cut = active()
        .end(StatusInfo::NetworkTerminated, T0 + Duration::minutes(20))
        .unwrap();
    assert_eq!(Outcome::of(&cut), Some(Outcome::NetworkTerminated));
    assert_eq!(seconds_in_place(&cut), 1200);
    let deleted = active()
        .end(StatusInfo::DeleteRequested, T0 + Duration::seconds(90))
        .unwrap();
    assert_eq!(Outcome::of(&deleted), Some(Outcome::Deleted));
    assert_eq!(seconds_in_place(&deleted), 90);
}

#[test]
fn the_ledger_copy_keeps_no_secret() {
    let mut b = active();
    b.sink_credential = Some(crate::booking::SinkCredential::PrivateKeyJwt { client_id: "c".into() });
    b.sink = Some("https://sink.example.com/cb".into());
    let kept = for_ledger(&b);
    assert!(kept.sink_credential.is_none() && kept.callback_token.is_empty() && kept.attempt_marker.is_none());
    assert!(kept.sink.is_none() && kept.nef_subscription.is_none());
    assert_eq!(
        (kept.started_at, kept.device.clone(), kept.qos_profile.clone()),
        (b.started_at, b.device.clone(), b.qos_profile.clone())
    );
}

#[test]
fn positions_read_back_as_written_and_order_as_the_stream() {
    let p = LedgerPosition {
        ms: 1_700_000_000_000,
        seq: 3,
    };
    assert_eq!(LedgerPosition::parse(&p.to_string()), Some(p));
    assert!(LedgerPosition { ms: 5, seq: 9 } < LedgerPosition { ms: 6, seq: 0 });
    assert_eq!(LedgerPosition::parse("12"), None);
}
