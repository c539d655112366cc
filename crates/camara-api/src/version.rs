//! The published shapes of the QoS Booking API served side by side from one engine. A booking
//! reads the same on every version; only the wire names and values differ, and each booking
//! remembers (as its `Dialect`) the shape it was created through, so its events reach the
//! client in that shape.

use booking::{BookingStatus, Dialect, StatusInfo};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// r1.2, qos-booking 0.1.0: `status` with AVAILABLE/UNAVAILABLE, PLAIN/ACCESSTOKEN/
    /// REFRESHTOKEN credentials (only ACCESSTOKEN supported), no QOS_PROFILE_NOT_APPLICABLE.
    V0_1,
    /// The current shape (vwip, served as v0.2): `bookingStatus` with ACTIVATED/TERMINATED.
    V0_2,
}

impl Version {
    /// What QoS Booking and Assignment's reservations and their devices keep: their events
    /// are that API's.
    pub const ASSIGNMENT: Dialect = Dialect(2);
    /// The same, made through QoS Booking and Assignment 0.1.0 (`/qos-booking-and-assignment/v0.1`):
    /// its events name that version's resources.
    pub const ASSIGNMENT_V0_1: Dialect = Dialect(3);

    /// What a reservation made through this version of QoS Booking and Assignment keeps.
    pub fn assignment_dialect(self) -> Dialect {
        match self {
            Self::V0_1 => Self::ASSIGNMENT_V0_1,
            Self::V0_2 => Self::ASSIGNMENT,
        }
    }

    /// The OpenAPI document of this version of QoS Booking and Assignment.
    pub fn assignment_openapi(self) -> &'static str {
        match self {
            Self::V0_1 => crate::ASSIGNMENT_V0_1_OPENAPI_YAML,
            Self::V0_2 => crate::ASSIGNMENT_OPENAPI_YAML,
        }
    }

    /// The path segment after `/qos-booking/`.
    pub fn segment(self) -> &'static str {
        match self {
            Self::V0_1 => "v0.1",
            Self::V0_2 => "v0.2",
        }
    }

    /// What a booking created through this version keeps.
    pub fn dialect(self) -> Dialect {
        match self {
            Self::V0_2 => Dialect(0),
            Self::V0_1 => Dialect(1),
        }
    }

    /// The version a booking was created through (unknown dialects read as the current one).
    pub fn of(d: Dialect) -> Self {
        match d.0 {
            1 => Self::V0_1,
            _ => Self::V0_2,
        }
    }

    /// The OpenAPI document of this version, served at `<base>/openapi.yaml`.
    pub fn openapi(self) -> &'static str {
        match self {
            Self::V0_1 => crate::OPENAPI_V0_1_YAML,
            Self::V0_2 => crate::OPENAPI_YAML,
        }
    }

    /// The name of the status member in responses and event data.
    pub fn status_field(self) -> &'static str {
        match self {
            Self::V0_1 => "status",
            Self::V0_2 => "bookingStatus",
        }
    }

    /// A status and its reason as this version names them. r1.2 has no BOOKING_DECLINED or
    /// BOOKING_REVOKED: a declined booking is UNAVAILABLE without a reason, a revoked one
    /// UNAVAILABLE because the network ended it (the digest's mapping, section (i)).
    pub fn status(self, status: BookingStatus, info: Option<StatusInfo>) -> (&'static str, Option<&'static str>) {
        match self {
            Self::V0_2 => (status.as_str(), info.map(StatusInfo::as_str)),
            Self::V0_1 => {
                let s = match status {
                    BookingStatus::Requested => "REQUESTED",
                    BookingStatus::Scheduled => "SCHEDULED",
                    BookingStatus::Activated => "AVAILABLE",
                    BookingStatus::Terminated => "UNAVAILABLE",
                };
                let info = match info {
                    Some(StatusInfo::BookingDeclined) | None => None,
                    Some(StatusInfo::BookingRevoked) => Some(StatusInfo::NetworkTerminated.as_str()),
                    Some(i) => Some(i.as_str()),
                };
                (s, info)
            }
        }
    }

    /// Whether this version's schema has the PRIVATE_KEY_JWT sink credential.
    pub fn has_private_key_jwt(self) -> bool {
        self == Self::V0_2
    }

    /// Whether this version has the 422 `QOS_BOOKING.QOS_PROFILE_NOT_APPLICABLE`; without it,
    /// a profile that exists but cannot be booked is a 400 `INVALID_ARGUMENT`.
    pub fn has_profile_not_applicable(self) -> bool {
        self == Self::V0_2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r1_2_names_the_statuses_and_reasons_as_its_release_did() {
        use BookingStatus::*;
        let v = Version::V0_1;
        assert_eq!(v.status(Activated, None), ("AVAILABLE", None));
        assert_eq!(
            v.status(Terminated, Some(StatusInfo::DurationExpired)),
            ("UNAVAILABLE", Some("DURATION_EXPIRED"))
        );
        assert_eq!(
            v.status(Terminated, Some(StatusInfo::BookingDeclined)),
            ("UNAVAILABLE", None)
        );
        assert_eq!(
            v.status(Terminated, Some(StatusInfo::BookingRevoked)),
            ("UNAVAILABLE", Some("NETWORK_TERMINATED"))
        );
        assert_eq!(
            Version::V0_2.status(Terminated, Some(StatusInfo::BookingRevoked)),
            ("TERMINATED", Some("BOOKING_REVOKED"))
        );
        for v in [Version::V0_1, Version::V0_2] {
            assert_eq!(Version::of(v.dialect()), v);
        }
    }
}
