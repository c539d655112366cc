//! The booking record and its lifecycle. Every change of state is a method here that returns
//! the next state (version bumped, attempts and retry time kept right) or a
//! [`TransitionError`]; the use cases in `service` decide *when* to call which.

use crate::area::ServiceArea;
use crate::device::Device;
use crate::hold::NetworkHold;
use crate::ports::PortsSpec;
use crate::telemetry::TraceOrigin;
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
    /// The id of these 16 bytes (as stores keep it).
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(Uuid::from_bytes(bytes))
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
    /// Every status, in the order stores count them (the stored status code).
    pub const ALL: [Self; 4] = [Self::Requested, Self::Scheduled, Self::Activated, Self::Terminated];

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

/// How events to a booking's sink are authorized. Used for delivery and never shown to anyone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SinkCredential {
    /// ACCESSTOKEN: the bearer token the client gave, valid until its expiry.
    AccessToken(AccessToken),
    /// PRIVATE_KEY_JWT: the gateway obtains a token for each delivery from the client's own
    /// authorization server (RFC 7523), with the settings of that client's onboarding record.
    PrivateKeyJwt {
        /// The API client whose onboarding record holds the token endpoint and key.
        client_id: String,
    },
}

/// An ACCESSTOKEN sink credential.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessToken {
    pub access_token: String,
    pub expires_at: OffsetDateTime,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
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

/// What the API layer needs to answer with a booking exactly as the client sent it (CAMARA
/// wants `startTime`, `serviceArea` and the device identifier back unchanged). Opaque to the
/// domain: only the API layer writes and reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Echo(pub String);

/// Which published shape of the API a booking was created through (0: the current one). Chosen
/// and read only by the API layer, kept so that responses and events reach each client in the
/// shape it was written against; the domain never looks inside.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Dialect(pub u8);

/// A booking's place in a QoS Booking and Assignment reservation (none: a device booking of
/// the QoS Booking API).
#[derive(Debug, Clone, PartialEq)]
pub enum Group {
    /// Capacity for up to `total` devices over the window; it holds no subscription itself.
    /// Each assigned device is listed here and is a booking of its own ([`Group::Member`]),
    /// activated at the start (or at once when assigned later) and removed at the end.
    Reservation { total: u32, members: Vec<Member> },
    /// One assigned device of the reservation `of`.
    Member { of: BookingId },
}

/// A device assigned to a reservation.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// The device's own booking.
    pub id: BookingId,
    pub device: Device,
    /// The identifier as the client sent it (the API layer's).
    pub echo: Echo,
    /// The token subject it was assigned with (3-legged): not disclosed in device lists.
    pub subject: Option<String>,
}

impl Group {
    /// Devices that may still be assigned.
    pub fn remaining(&self) -> u32 {
        match self {
            Self::Reservation { total, members } => {
                total.saturating_sub(u32::try_from(members.len()).unwrap_or(u32::MAX))
            }
            Self::Member { .. } => 0,
        }
    }
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
    pub echo: Echo,
    pub dialect: Dialect,
}

impl NewBooking {
    /// A request for `qos_profile` over the window in `service_area`, with nothing else set:
    /// no device (the token's), no flows, ports or sink, the current API shape.
    pub fn minimal(qos_profile: &str, start_time: OffsetDateTime, duration: u32, service_area: ServiceArea) -> Self {
        Self {
            qos_profile: qos_profile.to_owned(),
            start_time,
            duration,
            service_area,
            device: None,
            application_server: None,
            device_ports: None,
            application_server_ports: None,
            sink: None,
            sink_credential: None,
            echo: Echo::default(),
            dialect: Dialect::default(),
        }
    }
}

/// `applicationServer`: an IPv4 and/or IPv6 address, each possibly with a prefix length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationServer {
    pub ipv4: Option<String>,
    pub ipv6: Option<String>,
}

/// A stored booking. Its state fields change only through the transition methods below.
#[derive(Debug, Clone, PartialEq)]
pub struct Booking {
    pub id: BookingId,
    pub owner: Owner,
    pub device: Option<Device>,
    /// Index keys of the device (see `Device::keys`).
    pub device_keys: Vec<String>,
    pub qos_profile: String,
    pub start_time: OffsetDateTime,
    pub duration: u32,
    /// The validated service area. `None` only for records written before the store kept it
    /// (their echo still carries the area as sent).
    pub service_area: Option<ServiceArea>,
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
    /// What identifies this booking's subscription at the network (the NEF's
    /// `notificationDestination`), recorded with the first activation attempt so that a
    /// replica taking the attempt over recognises what an earlier one may have created,
    /// whatever the configuration says by then.
    pub attempt_marker: Option<String>,
    /// Retry time of a transition that failed transiently; the timer then fires at this time.
    pub retry_at: Option<OffsetDateTime>,
    /// The trace of the request that created the booking, so that its activation and removal
    /// can link to it. `None` when tracing was off.
    pub origin: Option<TraceOrigin>,
    pub created_at: OffsetDateTime,
    /// Bumped by every stored change; stores refuse a write based on an older version.
    pub version: u64,
    pub echo: Echo,
    pub dialect: Dialect,
    /// Its part in a QoS Booking and Assignment reservation, if any.
    pub group: Option<Group>,
    /// What the network agreed to hold for it (network-confirmed admission), if asked.
    pub network_hold: Option<NetworkHold>,
}

/// A transition the booking's current state does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("booking is {from:?}: cannot {action}")]
pub struct TransitionError {
    pub from: BookingStatus,
    pub action: &'static str,
}

impl Booking {
    /// The one constructor of a new booking: SCHEDULED, version 1, no attempts yet.
    pub fn schedule(id: BookingId, owner: Owner, device: Device, req: NewBooking, now: OffsetDateTime) -> Self {
        Self {
            id,
            owner,
            device_keys: device.keys(),
            device: Some(device),
            qos_profile: req.qos_profile,
            start_time: req.start_time,
            duration: req.duration,
            service_area: Some(req.service_area),
            application_server: req.application_server,
            device_ports: req.device_ports,
            application_server_ports: req.application_server_ports,
            sink: req.sink,
            sink_credential: req.sink_credential,
            status: BookingStatus::Scheduled,
            status_info: None,
            started_at: None,
            terminated_at: None,
            nef_subscription: None,
            callback_token: Uuid::new_v4().simple().to_string(),
            attempts: 0,
            attempt_marker: None,
            retry_at: None,
            origin: None,
            created_at: now,
            version: 1,
            echo: req.echo,
            dialect: req.dialect,
            group: None,
            network_hold: None,
        }
    }

    /// A new reservation for up to `total` devices (QoS Booking and Assignment): SCHEDULED,
    /// no device of its own.
    pub fn reservation(id: BookingId, owner: Owner, req: NewBooking, total: u32, now: OffsetDateTime) -> Self {
        let mut b = Self::schedule(id, owner, Device::default(), req, now);
        b.device = None;
        b.device_keys = Vec::new();
        b.group = Some(Group::Reservation {
            total,
            members: Vec::new(),
        });
        b
    }

    /// The booking of `member`, a device assigned to `reservation`: its window, profile and
    /// area, SCHEDULED (its timer, already due when the window has begun, activates it);
    /// events to `sink`.
    pub fn member_of(
        reservation: &Self,
        member: &Member,
        owner: Owner,
        sink: Option<String>,
        sink_credential: Option<SinkCredential>,
        now: OffsetDateTime,
    ) -> Self {
        let mut b = reservation.clone();
        b.id = member.id;
        b.owner = owner;
        b.device_keys = member.device.keys();
        b.device = Some(member.device.clone());
        b.sink = sink;
        b.sink_credential = sink_credential;
        b.status = BookingStatus::Scheduled;
        b.status_info = None;
        b.started_at = None;
        b.terminated_at = None;
        b.nef_subscription = None;
        b.callback_token = Uuid::new_v4().simple().to_string();
        b.attempts = 0;
        b.attempt_marker = None;
        b.retry_at = None;
        b.created_at = now;
        b.version = 1;
        b.echo = member.echo.clone();
        b.group = Some(Group::Member { of: reservation.id });
        // The network's agreement is the reservation's, for all its devices: a device's own
        // end must not release it.
        b.network_hold = None;
        b
    }

    /// The capacity places this booking takes in its pools: one, a reservation as many as its
    /// devices, a reservation's device none (its reservation holds its place).
    pub fn capacity_units(&self) -> u32 {
        match &self.group {
            None => 1,
            Some(Group::Reservation { total, .. }) => *total,
            Some(Group::Member { .. }) => 0,
        }
    }

    /// Whether this is a reservation (it holds devices, not a subscription).
    pub fn is_reservation(&self) -> bool {
        matches!(self.group, Some(Group::Reservation { .. }))
    }

    /// A reservation's window began: ACTIVATED from `at` (its devices activate themselves).
    pub fn opened(&self, at: OffsetDateTime) -> Result<Self, TransitionError> {
        if self.status != BookingStatus::Scheduled || !self.is_reservation() {
            return Err(self.refuse("open"));
        }
        let mut b = self.touched();
        b.status = BookingStatus::Activated;
        b.started_at = Some(at);
        b.retry_at = None;
        Ok(b)
    }

    /// The reservation with `members` added (all of them, or none: it has room for them).
    pub fn with_members(&self, members: Vec<Member>) -> Result<Self, TransitionError> {
        let mut b = self.touched();
        match &mut b.group {
            Some(Group::Reservation { total, members: held })
                if self.is_live() && held.len() + members.len() <= usize::try_from(*total).unwrap_or(0) =>
            {
                held.extend(members);
                Ok(b)
            }
            _ => Err(self.refuse("assign devices")),
        }
    }

    /// The reservation without the members whose booking ids are in `ids`.
    pub fn without_members(&self, ids: &[BookingId]) -> Result<Self, TransitionError> {
        let mut b = self.touched();
        match &mut b.group {
            Some(Group::Reservation { members, .. }) => {
                members.retain(|m| !ids.contains(&m.id));
                Ok(b)
            }
            _ => Err(self.refuse("release devices")),
        }
    }

    pub fn end_time(&self) -> OffsetDateTime {
        self.start_time + Duration::seconds(i64::from(self.duration))
    }

    /// When this booking's timer must next fire: start (`lead` early, so that the QoS is in
    /// place at the start), end, retry, or purge.
    pub fn next_due(&self, retention: Duration, lead: Duration) -> Option<OffsetDateTime> {
        if let Some(retry) = self.retry_at {
            return Some(retry);
        }
        match self.status {
            // Undecided at its start: declined then.
            BookingStatus::Requested => Some(self.start_time),
            // A reservation opens at its start; only a subscription needs the lead.
            BookingStatus::Scheduled if self.is_reservation() => Some(self.start_time),
            BookingStatus::Scheduled => Some(self.start_time - lead),
            BookingStatus::Activated => Some(self.end_time()),
            BookingStatus::Terminated => self.terminated_at.map(|t| t + retention),
        }
    }

    pub fn is_live(&self) -> bool {
        self.status != BookingStatus::Terminated
    }

    /// Whether `[start, start+duration)` overlaps this booking's window.
    pub fn overlaps(&self, start: OffsetDateTime, duration: u32) -> bool {
        let end = start + Duration::seconds(i64::from(duration));
        start < self.end_time() && self.start_time < end
    }

    /// Whether an activation attempt was started whose outcome was never confirmed: a
    /// subscription of it may exist at the NEF although the booking does not hold one.
    pub fn has_unconfirmed_attempts(&self) -> bool {
        self.status != BookingStatus::Activated && self.attempts > 0
    }

    fn refuse(&self, action: &'static str) -> TransitionError {
        TransitionError {
            from: self.status,
            action,
        }
    }

    /// The same state stored again (version bumped): puts a timer claimed too early back.
    pub fn touched(&self) -> Self {
        let mut b = self.clone();
        b.version += 1;
        b
    }

    /// Records an activation attempt before the NEF is called, so that a replica taking
    /// the timer over knows a subscription may already exist, and by which `marker` it is
    /// recognised (the first attempt's marker is kept).
    pub fn begin_attempt(&self, marker: Option<String>) -> Result<Self, TransitionError> {
        if self.status != BookingStatus::Scheduled {
            return Err(self.refuse("begin an activation attempt"));
        }
        let mut b = self.touched();
        b.attempts += 1;
        b.retry_at = None;
        if b.attempt_marker.is_none() {
            b.attempt_marker = marker;
        }
        Ok(b)
    }

    /// The status and `startedAt` a client sees at `now`: a booking activated ahead of its
    /// start (the activation lead) is still SCHEDULED until `startTime`.
    pub fn seen_at(&self, now: OffsetDateTime) -> (BookingStatus, Option<OffsetDateTime>) {
        if self.status == BookingStatus::Activated && now < self.start_time {
            return (BookingStatus::Scheduled, None);
        }
        (self.status, self.started_at)
    }

    /// The NEF confirmed the subscription: ACTIVATED from `at` on.
    pub fn activated(&self, subscription: String, at: OffsetDateTime) -> Result<Self, TransitionError> {
        if self.status != BookingStatus::Scheduled {
            return Err(self.refuse("activate"));
        }
        let mut b = self.touched();
        b.status = BookingStatus::Activated;
        b.started_at = Some(at);
        b.nef_subscription = Some(subscription);
        b.attempts = 0;
        b.retry_at = None;
        Ok(b)
    }

    /// A southbound call failed transiently: the timer fires again at `at`. An activation's
    /// attempt was counted by [`Self::begin_attempt`]; a removal's is counted here.
    pub fn retry(&self, at: OffsetDateTime) -> Result<Self, TransitionError> {
        let mut b = self.touched();
        match self.status {
            BookingStatus::Scheduled => {}
            BookingStatus::Activated => b.attempts += 1,
            _ => return Err(self.refuse("retry")),
        }
        b.retry_at = Some(at);
        Ok(b)
    }

    /// Ends the booking: TERMINATED with `reason`; it no longer holds a subscription.
    /// The decision on a REQUESTED booking: SCHEDULED (no question pending any more), or
    /// TERMINATED/BOOKING_DECLINED.
    pub fn decided(&self, approve: bool, at: OffsetDateTime) -> Result<Self, TransitionError> {
        // A delete accepted (async) and on its way is not undone by a decision.
        if self.status != BookingStatus::Requested || self.status_info == Some(StatusInfo::DeleteRequested) {
            return Err(self.refuse("decide"));
        }
        if !approve {
            return self.end(StatusInfo::BookingDeclined, at);
        }
        let mut b = self.touched();
        b.status = BookingStatus::Scheduled;
        b.retry_at = None;
        Ok(b)
    }

    pub fn end(&self, reason: StatusInfo, at: OffsetDateTime) -> Result<Self, TransitionError> {
        if self.status == BookingStatus::Terminated {
            return Err(self.refuse("end"));
        }
        let mut b = self.touched();
        b.status = BookingStatus::Terminated;
        b.status_info = Some(reason);
        b.terminated_at = Some(at);
        b.nef_subscription = None;
        b.retry_at = None;
        Ok(b)
    }

    /// Whether the record may be removed: TERMINATED and kept for `retention`.
    pub fn purgeable(&self, now: OffsetDateTime, retention: Duration) -> Result<(), TransitionError> {
        match self.terminated_at {
            Some(t) if self.status == BookingStatus::Terminated && t + retention <= now => Ok(()),
            _ => Err(self.refuse("purge")),
        }
    }
}

#[cfg(test)]
mod tests;
