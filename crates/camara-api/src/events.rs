//! The CloudEvents a client's sink receives, in the shape of the API its booking was created
//! through (the event's `Dialect`): `data.bookingStatus` on v0.2, `data.status` with r1.2's
//! values on v0.1; QoS Booking and Assignment's `status-changed` (a reservation) and
//! `assignment-status-changed` (one of its devices). The event delivery sends what this
//! renders.

use crate::version::Version;
use booking::{Booking, BookingStatus, Member, StatusEvent, StatusInfo};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

/// The one event type of QoS Booking, the same in every version.
pub const EVENT_TYPE: &str = "org.camaraproject.qos-booking.v0.status-changed";
/// QoS Booking and Assignment: a reservation's change, and a device's.
pub const ASSIGNMENT_STATUS_TYPE: &str = "org.camaraproject.qos-booking-and-assignment.v0.status-changed";
pub const ASSIGNMENT_DEVICE_TYPE: &str = "org.camaraproject.qos-booking-and-assignment.v0.assignment-status-changed";

/// Renders status events; `source` names the booking under its version's base URL.
#[derive(Debug, Clone)]
pub struct CloudEvents {
    /// `<public_url><base path>` of v0.2 and of v0.1.
    v0_2: String,
    v0_1: String,
    assignment: String,
    assignment_v0_1: String,
}

impl CloudEvents {
    /// `v0_2` and `v0_1`: the public base URLs of the two versions, e.g.
    /// `https://api.example.com/qos-booking/v0.2`; `assignment` and `assignment_v0_1`: QoS
    /// Booking and Assignment's (current and 0.1.0).
    pub fn new(v0_2: String, v0_1: String, assignment: String, assignment_v0_1: String) -> Self {
        Self {
            v0_2,
            v0_1,
            assignment,
            assignment_v0_1,
        }
    }

    /// Whether `ev` is QoS Booking and Assignment's: rendered by [`Self::render_assignment`]
    /// with its booking (and, for a device, its reservation) as they are now.
    pub fn is_assignment(ev: &StatusEvent) -> bool {
        ev.dialect == Version::ASSIGNMENT || ev.dialect == Version::ASSIGNMENT_V0_1
    }

    /// The base URL of the B&A version the event's reservation was made through.
    fn assignment_base(&self, ev: &StatusEvent) -> &str {
        if ev.dialect == Version::ASSIGNMENT_V0_1 {
            &self.assignment_v0_1
        } else {
            &self.assignment
        }
    }

    /// A QoS Booking and Assignment event: `booking` is the event's booking, `reservation`
    /// the reservation it belongs to (itself for a reservation). `None`: this change has no
    /// event in that API (a device's scheduling, expiry or release: the responses tell them).
    pub fn render_assignment(&self, ev: &StatusEvent, booking: &Booking, reservation: &Booking) -> Option<Value> {
        let (ty, data) = if booking.is_reservation() {
            if ev.status == BookingStatus::Requested {
                return None;
            }
            let (status, info) = crate::assignment::status_of(ev.status, ev.status_info);
            let mut data = json!({"bookingDetails": crate::assignment::booking_output(reservation), "status": status});
            if let Some(i) = info {
                data["statusInfo"] = json!(i);
            }
            (ASSIGNMENT_STATUS_TYPE, data)
        } else {
            let (status, info) = match (ev.status, ev.status_info) {
                (BookingStatus::Activated, _) => ("SUCCESSFUL", "ASSIGNMENT_COMPLETED"),
                (BookingStatus::Terminated, Some(StatusInfo::NetworkTerminated)) => ("FAILURE", "BOOKING_TERMINATED"),
                (BookingStatus::Terminated, Some(StatusInfo::BookingRevoked)) => ("FAILURE", "DEVICE_UNKNOWN_ERROR"),
                _ => return None,
            };
            let device = Member {
                id: booking.id,
                device: booking.device.clone().unwrap_or_default(),
                echo: booking.echo.clone(),
                subject: booking.owner.subject.clone(),
            };
            let details =
                crate::assignment::assignment_output(reservation, std::slice::from_ref(&device), status, Some(info));
            (
                ASSIGNMENT_DEVICE_TYPE,
                json!({"deviceDetails": details, "status": status, "statusInfo": info}),
            )
        };
        Some(json!({
            "id": ev.id,
            "source": format!("{}/qos-bookings/{}", self.assignment_base(ev), reservation.id),
            "type": ty,
            "specversion": "1.0",
            "time": ev.time.format(&Rfc3339).unwrap_or_default(),
            "datacontenttype": "application/json",
            "data": data,
        }))
    }

    pub fn render(&self, ev: &StatusEvent) -> Value {
        let version = Version::of(ev.dialect);
        let (status, info) = version.status(ev.status, ev.status_info);
        let mut data = json!({"bookingId": ev.booking_id.to_string()});
        data[version.status_field()] = json!(status);
        if let Some(info) = info {
            data["statusInfo"] = json!(info);
        }
        let base = match version {
            Version::V0_1 => &self.v0_1,
            Version::V0_2 => &self.v0_2,
        };
        json!({
            "id": ev.id,
            "source": format!("{base}/device-qos-bookings/{}", ev.booking_id),
            "type": EVENT_TYPE,
            "specversion": "1.0",
            "time": ev.time.format(&Rfc3339).unwrap_or_default(),
            "datacontenttype": "application/json",
            "data": data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use booking::{BookingId, BookingStatus, Dialect, StatusInfo};
    use time::macros::datetime;

    #[test]
    fn each_booking_hears_of_its_changes_in_its_own_version() {
        let events = CloudEvents::new(
            "https://gw/qos-booking/v0.2".into(),
            "https://gw/qos-booking/v0.1".into(),
            "https://gw/qos-booking-and-assignment/v0.2".into(),
            "https://gw/qos-booking-and-assignment/v0.1".into(),
        );
        let id = BookingId::new();
        let mut ev = StatusEvent {
            id: "e1".into(),
            booking_id: id,
            status: BookingStatus::Terminated,
            status_info: Some(StatusInfo::BookingRevoked),
            time: datetime!(2030-01-01 10:00 UTC),
            sink: "https://app/cb".into(),
            credential: None,
            dialect: Dialect::default(),
        };
        let v2 = events.render(&ev);
        assert_eq!(
            v2["data"],
            json!({"bookingId": id.to_string(), "bookingStatus": "TERMINATED", "statusInfo": "BOOKING_REVOKED"})
        );
        assert_eq!(
            v2["source"],
            format!("https://gw/qos-booking/v0.2/device-qos-bookings/{id}")
        );
        assert_eq!(v2["time"], "2030-01-01T10:00:00Z");
        ev.dialect = Version::V0_1.dialect();
        let v1 = events.render(&ev);
        assert_eq!(
            v1["data"],
            json!({"bookingId": id.to_string(), "status": "UNAVAILABLE", "statusInfo": "NETWORK_TERMINATED"})
        );
        assert_eq!(
            v1["source"],
            format!("https://gw/qos-booking/v0.1/device-qos-bookings/{id}")
        );
        assert_eq!(v1["type"], EVENT_TYPE);
    }
}
