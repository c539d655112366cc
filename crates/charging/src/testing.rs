//! What this crate's tests share: a front with fixed names and bookings at each stage.

use crate::record::{ApiFront, ApiNames};
use booking::{Booking, BookingId, Device, NewBooking, Owner, PhoneNumber, ServiceArea, StatusInfo};
use serde_json::{Value, json};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

pub const T0: OffsetDateTime = datetime!(2030-01-01 12:00 UTC);

pub struct TestFront;

impl ApiFront for TestFront {
    fn names(&self, b: &Booking) -> ApiNames {
        ApiNames {
            api: "qos-booking",
            version: "v0.2".into(),
            resource: format!("/qos-booking/v0.2/device-qos-bookings/{}", b.id),
            create: ("createBooking", 201),
            delete: ("deleteBooking", 204),
        }
    }
    fn area(&self, _a: &ServiceArea) -> Value {
        json!({"areaType": "AREANAME", "areaName": "x"})
    }
}

pub fn scheduled(client: &str, device: Device, start: OffsetDateTime, duration: u32) -> Booking {
    let req = NewBooking::minimal("QOS_L", start, duration, ServiceArea::AreaName("x".into()));
    let owner = Owner {
        client_id: client.into(),
        subject: None,
    };
    Booking::schedule(BookingId::new(), owner, device, req, start - Duration::hours(1))
}

pub fn phone(n: u32) -> Device {
    Device::from_phone(PhoneNumber::parse(&format!("+3460{n:07}")).unwrap_or_else(|_| unreachable!()))
}

/// A booking in place from its start for `seconds`, then ended with `reason`.
pub fn served(client: &str, n: u32, seconds: i64, reason: StatusInfo) -> (Booking, Booking) {
    let b = scheduled(client, phone(n), T0, 3600);
    let active = b
        .begin_attempt(None)
        .and_then(|a| a.activated("sub".into(), T0))
        .unwrap_or_else(|_| unreachable!());
    let ended = active
        .end(reason, T0 + Duration::seconds(seconds))
        .unwrap_or_else(|_| unreachable!());
    (active, ended)
}
