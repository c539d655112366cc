//! The booking record and its status state machine.

use crate::area::ServiceArea;
use crate::device::Device;
use crate::ports::PortsSpec;
use serde::{Deserialize, Serialize};
use std::fmt;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BookingId(Uuid);

impl BookingId {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }
    /// The id's 16 bytes (stores derive a shard from them).
    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }
    pub fn parse(s: &str) -> Option<Self> {
        // CAMARA: `format: uuid`, `maxLength: 36`, so only the hyphenated form is accepted.
        if s.len() != 36 {
            return None;
        }
        Uuid::try_parse(s).ok().map(Self)
    }
}

impl Default for BookingId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for BookingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BookingStatus {
    Requested,
    Scheduled,
    Activated,
    Terminated,
}

impl BookingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "REQUESTED",
            Self::Scheduled => "SCHEDULED",
            Self::Activated => "ACTIVATED",
            Self::Terminated => "TERMINATED",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StatusInfo {
    DurationExpired,
    NetworkTerminated,
    DeleteRequested,
    BookingDeclined,
    BookingRevoked,
}

impl StatusInfo {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DurationExpired => "DURATION_EXPIRED",
            Self::NetworkTerminated => "NETWORK_TERMINATED",
            Self::DeleteRequested => "DELETE_REQUESTED",
            Self::BookingDeclined => "BOOKING_DECLINED",
            Self::BookingRevoked => "BOOKING_REVOKED",
        }
    }
}

/// An ACCESSTOKEN sink credential. It is used for delivery and never shown to anyone.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkCredential {
    pub access_token: String,
    pub expires_at: OffsetDateTime,
}

impl fmt::Debug for SinkCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SinkCredential")
            .field("access_token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Who owns a booking: the API client and, for 3-legged tokens, the token's subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub client_id: String,
    pub subject: Option<String>,
}

/// A create request after the body has been parsed and shape-checked.
#[derive(Debug, Clone)]
pub struct NewBooking {
    pub qos_profile: String,
    pub start_time: OffsetDateTime,
    pub duration: u32,
    pub service_area: ServiceArea,
    pub device: Option<Device>,
    pub application_server: Option<ApplicationServer>,
    pub device_ports: Option<PortsSpec>,
    pub application_server_ports: Option<PortsSpec>,
    pub sink: Option<String>,
    pub sink_credential: Option<SinkCredential>,
    /// The response fields that CAMARA wants echoed exactly as the client sent them
    /// (`qosProfile`, `startTime`, `serviceArea`, `device` (one identifier), ...).
    pub echo: serde_json::Map<String, serde_json::Value>,
}

/// `applicationServer`: an IPv4 and/or IPv6 address, each possibly with a prefix length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationServer {
    pub ipv4: Option<String>,
    pub ipv6: Option<String>,
}

/// A stored booking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Booking {
    pub id: BookingId,
    pub owner: Owner,
    pub device: Option<Device>,
    /// Index keys of the device (see `Device::keys`).
    pub device_keys: Vec<String>,
    pub qos_profile: String,
    pub start_time: OffsetDateTime,
    pub duration: u32,
    pub application_server: Option<ApplicationServer>,
    pub device_ports: Option<PortsSpec>,
    pub application_server_ports: Option<PortsSpec>,
    pub sink: Option<String>,
    pub sink_credential: Option<SinkCredential>,
    pub status: BookingStatus,
    pub status_info: Option<StatusInfo>,
    pub started_at: Option<OffsetDateTime>,
    pub terminated_at: Option<OffsetDateTime>,
    /// The NEF subscription URI (`Location`) while the booking is active at the NEF.
    pub nef_subscription: Option<String>,
    /// Unguessable secret in this booking's NEF callback URL.
    pub callback_token: String,
    /// Southbound attempts of the current transition (activation or removal).
    pub attempts: u32,
    /// Retry time of a transition that failed transiently; the timer then fires at this time.
    pub retry_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    /// Bumped by every stored change; stores refuse a write based on an older version.
    pub version: u64,
    pub echo: serde_json::Map<String, serde_json::Value>,
}

impl Booking {
    pub fn end_time(&self) -> OffsetDateTime {
        self.start_time + Duration::seconds(i64::from(self.duration))
    }

    /// When this booking's timer must next fire: start, end, retry, or purge.
    pub fn next_due(&self, retention: Duration) -> Option<OffsetDateTime> {
        if let Some(retry) = self.retry_at {
            return Some(retry);
        }
        match self.status {
            BookingStatus::Requested => None,
            BookingStatus::Scheduled => Some(self.start_time),
            BookingStatus::Activated => Some(self.end_time()),
            BookingStatus::Terminated => self.terminated_at.map(|t| t + retention),
        }
    }

    pub fn is_live(&self) -> bool {
        self.status != BookingStatus::Terminated
    }

    /// A copy with the given status, the version bumped and the retry state cleared.
    pub(crate) fn next(&self) -> Self {
        let mut b = self.clone();
        b.version += 1;
        b.attempts = 0;
        b.retry_at = None;
        b
    }

    pub(crate) fn terminated(&self, info: StatusInfo, now: OffsetDateTime) -> Self {
        let mut b = self.next();
        b.status = BookingStatus::Terminated;
        b.status_info = Some(info);
        b.terminated_at = Some(now);
        b.nef_subscription = None;
        b
    }

    /// Whether `[start, start+duration)` overlaps this booking's window.
    pub fn overlaps(&self, start: OffsetDateTime, duration: u32) -> bool {
        let end = start + Duration::seconds(i64::from(duration));
        start < self.end_time() && self.start_time < end
    }
}
