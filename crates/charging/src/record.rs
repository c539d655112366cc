//! The usage record, format version 1: one per booking, final, written when the booking ends.
//! It says who (client, API), for what (device as the operator knows it, profile, area,
//! window), how much (the interval the QoS was in place) and how it ended. Documented in
//! docs/OPERATIONS.md ("Charging"); a change of meaning gets a new `recordVersion`.

use aws_lc_rs::hmac;
use booking::usage::{self, LedgerEntry, Outcome};
use booking::{Booking, Device, ServiceArea};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

/// The format version written in every record.
pub const RECORD_VERSION: u32 = 1;

/// How the API front names a booking's API, resource and operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiNames {
    /// `qos-booking` or `qos-booking-and-assignment`.
    pub api: &'static str,
    /// The version segment of the base path the booking was made through (`v0.2`, `v0.1`).
    pub version: String,
    /// The booking's resource path (the CHF's `aPIReference`).
    pub resource: String,
    /// The create operation's `operationId` and the status it answered.
    pub create: (&'static str, u16),
    /// The delete operation's `operationId` and the status it answers (when deleted).
    pub delete: (&'static str, u16),
}

/// What the record needs from the HTTP front, given by the gateway.
pub trait ApiFront: Send + Sync + 'static {
    fn names(&self, b: &Booking) -> ApiNames;
    /// The service area as CAMARA writes it.
    fn area(&self, a: &ServiceArea) -> Value;
}

/// How devices appear in records: phone numbers (and network access identifiers) as the
/// operator's GPSI always; IP addresses in clear only when configured, else as a keyed
/// pseudonym that is stable per device, so records of one device still group together.
#[derive(Clone)]
pub enum DeviceIdentity {
    Clear,
    Pseudonymous(Box<hmac::Key>),
}

impl DeviceIdentity {
    pub fn pseudonymous(secret: &str) -> Self {
        Self::Pseudonymous(Box::new(hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes())))
    }
}

impl std::fmt::Debug for DeviceIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Clear => "Clear",
            Self::Pseudonymous(_) => "Pseudonymous",
        })
    }
}

/// One invoked operation and its result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Invocation {
    pub operation: String,
    pub result_code: u16,
}

/// Where the record came from in the store's ledger (for audits and replays).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerRef {
    pub shard: u16,
    pub position: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageRecord {
    pub record_version: u32,
    /// Unique per record (one final record per booking): the booking id.
    pub record_id: String,
    pub client_id: String,
    pub api: String,
    pub api_version: String,
    pub booking_id: String,
    pub resource: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation_id: Option<String>,
    /// The device (none for a reservation: its devices have records of their own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<Value>,
    pub qos_profile: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_area: Option<Value>,
    #[serde(with = "time::serde::rfc3339")]
    pub requested_start: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub requested_end: OffsetDateTime,
    pub duration: u32,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub in_place_from: Option<OffsetDateTime>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub in_place_until: Option<OffsetDateTime>,
    pub in_place_seconds: u64,
    pub outcome: String,
    pub status_info: String,
    /// Devices the record stands for: 1, or a reservation's capacity.
    pub devices: u32,
    pub operations: Vec<Invocation>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub ended_at: OffsetDateTime,
    pub ledger: LedgerRef,
}

/// Turns ledger entries into records.
pub struct Renderer {
    front: Box<dyn ApiFront>,
    identity: DeviceIdentity,
}

impl Renderer {
    pub fn new(front: impl ApiFront, identity: DeviceIdentity) -> Self {
        Self {
            front: Box::new(front),
            identity,
        }
    }

    pub fn names(&self, b: &Booking) -> ApiNames {
        self.front.names(b)
    }

    /// The final record of an entry written at a booking's end (`None` for a start).
    pub fn record(&self, e: &LedgerEntry) -> Option<UsageRecord> {
        let b = &e.booking;
        let outcome = Outcome::of(b)?;
        let ended_at = b.terminated_at?;
        let names = self.front.names(b);
        let mut operations = vec![Invocation {
            operation: names.create.0.into(),
            result_code: names.create.1,
        }];
        if outcome == Outcome::Deleted {
            operations.push(Invocation {
                operation: names.delete.0.into(),
                result_code: names.delete.1,
            });
        }
        let (in_place_from, in_place_until) = match usage::in_place(b) {
            Some((from, until)) => (Some(from), until),
            None => (None, None),
        };
        Some(UsageRecord {
            record_version: RECORD_VERSION,
            record_id: b.id.to_string(),
            client_id: b.owner.client_id.clone(),
            api: names.api.into(),
            api_version: names.version,
            booking_id: b.id.to_string(),
            resource: names.resource,
            reservation_id: usage::reservation_of(b).map(|r| r.to_string()),
            device: b.device.as_ref().map(|d| self.device(d)),
            qos_profile: b.qos_profile.clone(),
            service_area: b.service_area.as_ref().map(|a| self.front.area(a)),
            requested_start: b.start_time,
            requested_end: b.end_time(),
            duration: b.duration,
            in_place_from,
            in_place_until,
            in_place_seconds: usage::seconds_in_place(b),
            outcome: outcome.as_str().into(),
            status_info: b.status_info.map(|s| s.as_str()).unwrap_or_default().into(),
            devices: usage::devices_of(b),
            operations,
            created_at: b.created_at,
            ended_at,
            ledger: LedgerRef {
                shard: e.shard,
                position: e.position.to_string(),
            },
        })
    }

    /// The device as the operator knows it (see [`DeviceIdentity`]).
    pub fn device(&self, d: &Device) -> Value {
        let mut o = serde_json::Map::new();
        let phone = d.phone_number.as_ref().map(|p| p.as_str().to_owned()).or_else(|| {
            d.resolved
                .as_deref()
                .and_then(|r| r.strip_prefix("tel:"))
                .map(str::to_owned)
        });
        if let Some(p) = phone {
            o.insert("gpsi".into(), json!(format!("msisdn-{}", p.trim_start_matches('+'))));
            o.insert("phoneNumber".into(), json!(p));
        } else if let Some(nai) = &d.network_access_identifier {
            o.insert("gpsi".into(), json!(format!("extid-{nai}")));
        }
        let has_address = d.ipv4_address.is_some() || d.ipv6_address.is_some();
        match &self.identity {
            DeviceIdentity::Clear => {
                if let Some(a) = &d.ipv4_address {
                    let mut v4 = serde_json::Map::new();
                    v4.insert("publicAddress".into(), json!(a.public_address.to_string()));
                    if let Some(p) = a.private_address {
                        v4.insert("privateAddress".into(), json!(p.to_string()));
                    }
                    if let Some(p) = a.public_port {
                        v4.insert("publicPort".into(), json!(p));
                    }
                    o.insert("ipv4Address".into(), Value::Object(v4));
                }
                if let Some(a) = d.ipv6_address {
                    o.insert("ipv6Address".into(), json!(a.to_string()));
                }
            }
            DeviceIdentity::Pseudonymous(key) if has_address && o.is_empty() => {
                // The device's first index key: its resolved identity when known, so one
                // device has one pseudonym whatever address it was booked with.
                let first = d.keys().into_iter().next().unwrap_or_default();
                let tag = hmac::sign(key, first.as_bytes());
                let hex: String = tag.as_ref()[..16].iter().map(|b| format!("{b:02x}")).collect();
                o.insert("pseudonym".into(), json!(hex));
            }
            DeviceIdentity::Pseudonymous(_) => {}
        }
        Value::Object(o)
    }
}

#[cfg(test)]
mod tests;
