//! The storage records: private to the store, versioned, compact. A booking is written as one
//! version byte followed by a `postcard` encoding of [`BookingV1`]; times are unix nanoseconds,
//! addresses raw bytes, the callback token its 16 bytes, and the device index keys are not
//! stored at all (they follow from the device). Renaming a field of the domain's `Booking`
//! changes nothing here; changing this layout means a new version tag and a reader for the
//! old one. Records of the first release (JSON, no tag) are still read: see [`legacy`].

mod client;
mod fields;
mod group;
mod hold;
mod legacy;
#[cfg(test)]
mod tests;

use booking::{
    ApplicationServer, Booking, BookingId, Device, Dialect, Echo, Owner, SinkCredential, StatusEvent, StoreError,
    TraceOrigin,
};
pub use client::{decode_client, encode_client};
use fields::*;
use group::{GroupV4, group, group_of, identities, with_identities};
use serde::{Deserialize, Serialize};

/// The tag of the first binary booking layout (no service area; still read).
const BOOKING_V1: u8 = 1;
/// The tag of the second layout: V1 followed by the service area and the attempt's marker.
const BOOKING_V2: u8 = 2;
/// The tag of the current layout: the status code as the byte after the tag (the store's
/// scripts count bookings by status from it without decoding), then V2 and the trace origin.
const BOOKING_V3: u8 = 3;
/// The tag of layout 4: layout 3 followed by what only some bookings need (the API shape
/// other than the current one, a PRIVATE_KEY_JWT sink credential, a QoS Booking and
/// Assignment reservation or device). A booking without them is
/// still written in layout 3, which replicas of the previous release read during an upgrade.
const BOOKING_V4: u8 = 4;
/// The tag of layout 5: layout 4 followed by the resolved identities of the booking's device
/// and of its members' (`Device::resolved`), written only when one is known.
const BOOKING_V5: u8 = 5;
/// The tag of layout 6: layout 5 followed by what the network holds for the booking
/// (network-confirmed admission), written only for bookings that asked the network.
const BOOKING_V6: u8 = 6;
/// The tag of the first event layout (still written when it is enough).
const EVENT_V1: u8 = 1;
/// The tag of event layout 2: layout 1 followed by the API shape and a PRIVATE_KEY_JWT client.
const EVENT_V2: u8 = 2;

/// Public address, private address, public port.
type Ipv4V1 = ([u8; 4], Option<[u8; 4]>, Option<u16>);

#[derive(Serialize, Deserialize)]
struct DeviceV1 {
    phone_number: Option<String>,
    network_access_identifier: Option<String>,
    ipv4: Option<Ipv4V1>,
    ipv6: Option<[u8; 16]>,
}

#[derive(Serialize, Deserialize)]
struct PortsV1 {
    ranges: Vec<(u16, u16)>,
    ports: Vec<u16>,
}

#[derive(Serialize, Deserialize)]
struct BookingV1 {
    id: [u8; 16],
    client_id: String,
    subject: Option<String>,
    device: Option<DeviceV1>,
    qos_profile: String,
    start_time: i64,
    duration: u32,
    application_server: Option<(Option<String>, Option<String>)>,
    device_ports: Option<PortsV1>,
    application_server_ports: Option<PortsV1>,
    sink: Option<String>,
    /// access token, expiry.
    sink_credential: Option<(String, i64)>,
    status: u8,
    status_info: Option<u8>,
    started_at: Option<i64>,
    terminated_at: Option<i64>,
    nef_subscription: Option<String>,
    /// The token's 16 bytes when it is 32 hex digits (as the service makes them), else text.
    callback_token: Token,
    attempts: u32,
    retry_at: Option<i64>,
    created_at: i64,
    version: u64,
    echo: String,
}

/// Layout 2: the layout-1 fields, then the typed service area and the attempt's marker.
/// Postcard writes a nested struct inline, so a V2 record is a V1 record with these appended.
#[derive(Serialize, Deserialize)]
struct BookingV2 {
    base: BookingV1,
    area: Option<AreaV2>,
    attempt_marker: Option<String>,
}

/// Layout 3 (after the tag and the status byte): the layout-2 fields, then the W3C trace
/// context of the request that created the booking (trace id, span id, flags).
#[derive(Serialize, Deserialize)]
struct BookingV3 {
    base: BookingV2,
    origin: Option<([u8; 16], [u8; 8], u8)>,
}

/// Layout 4 (after the tag and the status byte): the layout-3 fields, then the booking's API
/// shape and, for a PRIVATE_KEY_JWT sink credential, the client whose record holds its keys.
#[derive(Serialize, Deserialize)]
struct BookingV4 {
    base: BookingV3,
    dialect: u8,
    private_key_jwt: Option<String>,
    group: Option<GroupV4>,
}

/// Layout 5 (after the tag and the status byte): layout 4, then the identities.
#[derive(Serialize, Deserialize)]
struct BookingV5 {
    base: BookingV4,
    identities: Vec<Option<String>>,
}

/// Layout 6 (after the tag and the status byte): layout 5, then the network's hold.
#[derive(Serialize, Deserialize)]
struct BookingV6 {
    base: BookingV5,
    hold: hold::HoldV6,
}

/// Latitude, longitude.
type PointV2 = (f64, f64);

#[derive(Serialize, Deserialize)]
enum AreaV2 {
    Circle(PointV2, f64),
    Polygon(Vec<PointV2>),
    Name(String),
}

#[derive(Serialize, Deserialize)]
enum Token {
    Bytes([u8; 16]),
    Text(String),
}

#[derive(Serialize, Deserialize)]
struct EventV1 {
    id: String,
    booking_id: [u8; 16],
    status: u8,
    status_info: Option<u8>,
    time: i64,
    sink: String,
    credential: Option<(String, i64)>,
}

#[derive(Serialize, Deserialize)]
struct EventV2 {
    base: EventV1,
    dialect: u8,
    private_key_jwt: Option<String>,
}

/// The PRIVATE_KEY_JWT client of a credential, which layouts 1-3 cannot hold.
fn private_key_jwt(c: Option<&SinkCredential>) -> Option<String> {
    match c {
        Some(SinkCredential::PrivateKeyJwt { client_id }) => Some(client_id.clone()),
        _ => None,
    }
}

/// Lowercase hex of `bytes`, without a formatter per byte (ids and tokens are rendered on
/// every load and every Redis key name).
pub(crate) fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for x in bytes {
        out.push(char::from(HEX[usize::from(x >> 4)]));
        out.push(char::from(HEX[usize::from(x & 15)]));
    }
    out
}

/// The text whose UTF-8 bytes `hex` wrote, if it is that.
pub(crate) fn unhex(s: &str) -> Option<String> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect();
    String::from_utf8(bytes?).ok()
}

fn tagged<T: Serialize>(tag: u8, value: &T) -> Result<Vec<u8>, StoreError> {
    let out = vec![tag];
    postcard::to_extend(value, out).map_err(|e| StoreError::corrupt("cannot encode a record", e))
}

/// A booking as stored.
pub fn encode(b: &Booking) -> Result<Vec<u8>, StoreError> {
    let r = BookingV3 {
        base: BookingV2 {
            base: v1(b)?,
            area: b.service_area.as_ref().map(area),
            attempt_marker: b.attempt_marker.clone(),
        },
        origin: b.origin.map(|o| (o.trace_id, o.span_id, o.flags)),
    };
    let pkjwt = private_key_jwt(b.sink_credential.as_ref());
    let ids = identities(b);
    let simple = b.dialect == Dialect::default() && pkjwt.is_none() && b.group.is_none() && ids.is_none();
    let encoded = if simple && b.network_hold.is_none() {
        postcard::to_extend(&r, vec![BOOKING_V3, status_code(b.status)])
    } else {
        let r = BookingV4 {
            base: r,
            dialect: b.dialect.0,
            private_key_jwt: pkjwt,
            group: b.group.as_ref().map(group),
        };
        match (ids, &b.network_hold) {
            (ids, Some(h)) => postcard::to_extend(
                &BookingV6 {
                    base: BookingV5 {
                        base: r,
                        identities: ids.unwrap_or_default(),
                    },
                    hold: hold::hold(h)?,
                },
                vec![BOOKING_V6, status_code(b.status)],
            ),
            (None, None) => postcard::to_extend(&r, vec![BOOKING_V4, status_code(b.status)]),
            (Some(identities), None) => postcard::to_extend(
                &BookingV5 { base: r, identities },
                vec![BOOKING_V5, status_code(b.status)],
            ),
        }
    };
    encoded.map_err(|e| StoreError::corrupt("cannot encode a record", e))
}

/// The status code of a record (`BookingStatus::ALL` index), read without decoding; `None`
/// for layouts before 3, which do not carry it in place.
pub fn status_index(record: &[u8]) -> Option<usize> {
    match record {
        [BOOKING_V3 | BOOKING_V4 | BOOKING_V5 | BOOKING_V6, s, ..] if usize::from(*s) < 4 => Some(usize::from(*s)),
        _ => None,
    }
}

fn v2_of(r: BookingV2) -> Result<Booking, StoreError> {
    let mut b = booking_of(r.base)?;
    b.service_area = r.area.map(area_of);
    b.attempt_marker = r.attempt_marker;
    Ok(b)
}

fn v1(b: &Booking) -> Result<BookingV1, StoreError> {
    Ok(BookingV1 {
        id: *b.id.as_bytes(),
        client_id: b.owner.client_id.clone(),
        subject: b.owner.subject.clone(),
        device: b.device.as_ref().map(device),
        qos_profile: b.qos_profile.clone(),
        start_time: nanos(b.start_time)?,
        duration: b.duration,
        application_server: b.application_server.as_ref().map(|a| (a.ipv4.clone(), a.ipv6.clone())),
        device_ports: b.device_ports.as_ref().map(ports),
        application_server_ports: b.application_server_ports.as_ref().map(ports),
        sink: b.sink.clone(),
        sink_credential: b
            .sink_credential
            .as_ref()
            .and_then(access_token)
            .map(credential)
            .transpose()?,
        status: status_code(b.status),
        status_info: b.status_info.map(info_code),
        started_at: b.started_at.map(nanos).transpose()?,
        terminated_at: b.terminated_at.map(nanos).transpose()?,
        nef_subscription: b.nef_subscription.clone(),
        callback_token: token(&b.callback_token),
        attempts: b.attempts,
        retry_at: b.retry_at.map(nanos).transpose()?,
        created_at: nanos(b.created_at)?,
        version: b.version,
        echo: b.echo.0.clone(),
    })
}

/// A stored booking, of any layout this store has written.
pub fn decode(bytes: &[u8]) -> Result<Booking, StoreError> {
    let unreadable = |e| StoreError::corrupt("unreadable booking record", e);
    match bytes.first() {
        Some(&BOOKING_V6) => {
            let r: BookingV6 = postcard::from_bytes(bytes.get(2..).unwrap_or_default()).map_err(unreadable)?;
            let mut b = v4_of(r.base.base)?;
            with_identities(&mut b, r.base.identities);
            b.network_hold = Some(hold::hold_of(r.hold)?);
            Ok(b)
        }
        Some(&BOOKING_V5) => {
            let r: BookingV5 = postcard::from_bytes(bytes.get(2..).unwrap_or_default()).map_err(unreadable)?;
            let mut b = v4_of(r.base)?;
            with_identities(&mut b, r.identities);
            Ok(b)
        }
        Some(&BOOKING_V4) => v4_of(postcard::from_bytes(bytes.get(2..).unwrap_or_default()).map_err(unreadable)?),
        Some(&BOOKING_V3) => v3_of(postcard::from_bytes(bytes.get(2..).unwrap_or_default()).map_err(unreadable)?),
        Some(&BOOKING_V2) => v2_of(postcard::from_bytes(&bytes[1..]).map_err(unreadable)?),
        Some(&BOOKING_V1) => booking_of(postcard::from_bytes(&bytes[1..]).map_err(unreadable)?),
        Some(b'{') => legacy::booking(bytes),
        Some(&tag) => Err(unknown("booking record layout", tag)),
        None => Err(corrupt("empty booking record".into())),
    }
}

fn v4_of(r: BookingV4) -> Result<Booking, StoreError> {
    let mut b = v3_of(r.base)?;
    b.dialect = Dialect(r.dialect);
    if let Some(client_id) = r.private_key_jwt {
        b.sink_credential = Some(SinkCredential::PrivateKeyJwt { client_id });
    }
    b.group = r.group.map(group_of).transpose()?;
    Ok(b)
}

fn v3_of(r: BookingV3) -> Result<Booking, StoreError> {
    let mut b = v2_of(r.base)?;
    b.origin = r.origin.map(|(trace_id, span_id, flags)| TraceOrigin {
        trace_id,
        span_id,
        flags,
    });
    Ok(b)
}

fn booking_of(r: BookingV1) -> Result<Booking, StoreError> {
    let device = r.device.map(device_of).transpose()?;
    Ok(Booking {
        id: BookingId::from_bytes(r.id),
        owner: Owner {
            client_id: r.client_id,
            subject: r.subject,
        },
        device_keys: device.as_ref().map(Device::keys).unwrap_or_default(),
        device,
        qos_profile: r.qos_profile,
        start_time: time_of(r.start_time)?,
        duration: r.duration,
        service_area: None,
        application_server: r
            .application_server
            .map(|(ipv4, ipv6)| ApplicationServer { ipv4, ipv6 }),
        device_ports: r.device_ports.map(ports_of),
        application_server_ports: r.application_server_ports.map(ports_of),
        sink: r.sink,
        sink_credential: credential_of(r.sink_credential)?,
        status: status_of(r.status)?,
        status_info: r.status_info.map(info_of).transpose()?,
        started_at: opt_time(r.started_at)?,
        terminated_at: opt_time(r.terminated_at)?,
        nef_subscription: r.nef_subscription,
        callback_token: token_of(r.callback_token),
        attempts: r.attempts,
        attempt_marker: None,
        retry_at: opt_time(r.retry_at)?,
        origin: None,
        created_at: time_of(r.created_at)?,
        version: r.version,
        echo: Echo(r.echo),
        dialect: Dialect::default(),
        group: None,
        network_hold: None,
    })
}

/// An outbox event as stored.
pub fn encode_event(ev: &StatusEvent) -> Result<Vec<u8>, StoreError> {
    let r = EventV1 {
        id: ev.id.clone(),
        booking_id: *ev.booking_id.as_bytes(),
        status: status_code(ev.status),
        status_info: ev.status_info.map(info_code),
        time: nanos(ev.time)?,
        sink: ev.sink.clone(),
        credential: ev
            .credential
            .as_ref()
            .and_then(access_token)
            .map(credential)
            .transpose()?,
    };
    let pkjwt = private_key_jwt(ev.credential.as_ref());
    if ev.dialect == Dialect::default() && pkjwt.is_none() {
        return tagged(EVENT_V1, &r);
    }
    tagged(
        EVENT_V2,
        &EventV2 {
            base: r,
            dialect: ev.dialect.0,
            private_key_jwt: pkjwt,
        },
    )
}

fn event_of(r: EventV1) -> Result<StatusEvent, StoreError> {
    Ok(StatusEvent {
        id: r.id,
        booking_id: BookingId::from_bytes(r.booking_id),
        status: status_of(r.status)?,
        status_info: r.status_info.map(info_of).transpose()?,
        time: time_of(r.time)?,
        sink: r.sink,
        credential: credential_of(r.credential)?,
        dialect: Dialect::default(),
    })
}

/// A stored outbox event, of any layout this store has written.
pub fn decode_event(bytes: &[u8]) -> Result<StatusEvent, StoreError> {
    let unreadable = |e| StoreError::corrupt("unreadable event", e);
    match bytes.first() {
        Some(&EVENT_V1) => event_of(postcard::from_bytes(&bytes[1..]).map_err(unreadable)?),
        Some(&EVENT_V2) => {
            let r: EventV2 = postcard::from_bytes(&bytes[1..]).map_err(unreadable)?;
            let mut ev = event_of(r.base)?;
            ev.dialect = Dialect(r.dialect);
            if let Some(client_id) = r.private_key_jwt {
                ev.credential = Some(SinkCredential::PrivateKeyJwt { client_id });
            }
            Ok(ev)
        }
        Some(b'{') => legacy::event(bytes),
        Some(&tag) => Err(unknown("event layout", tag)),
        None => Err(corrupt("empty event".into())),
    }
}
