//! The CAMARA wire shapes of the responses, exactly as `qos-booking.yaml` (the vwip shape,
//! served as v0.2) and its r1.2 shape (v0.1, see `version.rs`) define them, built from domain
//! bookings. Request bodies are read by
//! `parse` (the checks and their order are CAMARA's); a second version of the API is a second
//! set of these types, not conditionals in the domain.

use crate::version::Version;
use booking::{ApplicationServer, Booking, BookingStatus, Device, Echo, Point, PortsSpec, ServiceArea};
use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// What CAMARA wants back exactly as sent: the `startTime` text, the `serviceArea` JSON
/// (numbers as written) and the one device identifier. The typed fields of the booking give
/// most of them back as they were sent; only a part they cannot reproduce (an offset other than
/// `Z`, `8.0` for `8`, an IPv6 address in capitals) is kept in the domain's opaque [`Echo`].
/// The echo is a compact JSON array `[startTime, serviceArea, device]` in which `0` means
/// "render the typed field"; when every part renders, the echo is empty. Echoes written
/// before this rule hold every part as sent and read the same.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Echoed {
    pub start_time: Value,
    pub service_area: Value,
    pub device: Option<Value>,
}

/// The parts of a create request that must come back unchanged, as sent and as typed.
pub(crate) struct Sent<'a> {
    pub start_time: (&'a Value, OffsetDateTime),
    pub service_area: (&'a Value, &'a ServiceArea),
    pub device: Option<(Value, &'a Device)>,
}

fn derived() -> Value {
    Value::from(0)
}

impl Echoed {
    pub fn write(sent: Sent<'_>) -> Echo {
        let keep = |sent: &Value, rendered: Option<Value>| {
            if rendered.as_ref() == Some(sent) {
                derived()
            } else {
                sent.clone()
            }
        };
        let parts = [
            keep(sent.start_time.0, render_time(sent.start_time.1)),
            keep(sent.service_area.0, Some(render_area(sent.service_area.1))),
            match sent.device {
                Some((v, d)) => keep(&v, render_device(d)),
                None => Value::Null,
            },
        ];
        if parts.iter().all(|p| *p == derived()) {
            return Echo(String::new());
        }
        Echo(Value::Array(parts.into()).to_string())
    }

    /// Reads what [`Self::write`] wrote for `b`; an unreadable echo gives nulls (never a panic).
    pub fn read(b: &Booking) -> Self {
        let parts: Vec<Value> = if b.echo.0.is_empty() {
            vec![derived(); 3]
        } else {
            match serde_json::from_str::<Value>(&b.echo.0) {
                Ok(Value::Array(a)) => a,
                _ => Vec::new(),
            }
        };
        let mut parts = parts.into_iter();
        let mut part = |render: &dyn Fn() -> Option<Value>| match parts.next() {
            Some(v) if v == derived() => render(),
            Some(v) => Some(v),
            None => None,
        };
        Self {
            start_time: part(&|| render_time(b.start_time)).unwrap_or(Value::Null),
            service_area: part(&|| b.service_area.as_ref().map(render_area)).unwrap_or(Value::Null),
            device: part(&|| b.device.as_ref().and_then(render_device)).filter(|d| !d.is_null()),
        }
    }

    #[cfg(test)]
    pub fn into_map(self) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        m.insert("startTime".into(), self.start_time);
        m.insert("serviceArea".into(), self.service_area);
        if let Some(d) = self.device {
            m.insert("device".into(), d);
        }
        m
    }
}

/// `startTime` as the store gives it back (UTC, `Z`).
fn render_time(t: OffsetDateTime) -> Option<Value> {
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .ok()
        .map(Value::String)
}

/// A number as a client most likely wrote it: integral values without a fraction.
fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        #[allow(clippy::cast_possible_truncation, reason = "integral and within i64 range")]
        Value::from(x as i64)
    } else {
        Value::from(x)
    }
}

fn point(p: &Point) -> Value {
    json!({"latitude": number(p.latitude), "longitude": number(p.longitude)})
}

/// The service area as CAMARA writes it (also in usage records).
pub fn render_area(a: &ServiceArea) -> Value {
    match a {
        ServiceArea::Circle { center, radius } => {
            json!({"areaType": "CIRCLE", "center": point(center), "radius": number(*radius)})
        }
        ServiceArea::Polygon { boundary } => {
            json!({"areaType": "POLYGON", "boundary": boundary.iter().map(point).collect::<Vec<_>>()})
        }
        ServiceArea::AreaName(n) => json!({"areaType": "AREANAME", "areaName": n}),
    }
}

/// The identifier `parse::device_response` would pick from this device, in the same order.
pub(crate) fn render_device(d: &Device) -> Option<Value> {
    if let Some(p) = &d.phone_number {
        return Some(json!({"phoneNumber": p.as_str()}));
    }
    if let Some(a) = &d.ipv4_address {
        let mut o = serde_json::Map::new();
        o.insert("publicAddress".into(), a.public_address.to_string().into());
        if let Some(p) = a.private_address {
            o.insert("privateAddress".into(), p.to_string().into());
        }
        if let Some(p) = a.public_port {
            o.insert("publicPort".into(), p.into());
        }
        return Some(json!({"ipv4Address": o}));
    }
    if let Some(a) = d.ipv6_address {
        return Some(json!({"ipv6Address": a.to_string()}));
    }
    d.network_access_identifier
        .as_ref()
        .map(|n| json!({"networkAccessIdentifier": n}))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ApplicationServerWire<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    ipv4_address: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ipv6_address: Option<&'a str>,
}

impl<'a> From<&'a ApplicationServer> for ApplicationServerWire<'a> {
    fn from(a: &'a ApplicationServer) -> Self {
        Self {
            ipv4_address: a.ipv4.as_deref(),
            ipv6_address: a.ipv6.as_deref(),
        }
    }
}

#[derive(Debug, Serialize)]
struct PortRange {
    from: u16,
    to: u16,
}

#[derive(Debug, Serialize)]
struct PortsSpecWire<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ranges: Vec<PortRange>,
    #[serde(skip_serializing_if = "<[u16]>::is_empty")]
    ports: &'a [u16],
}

impl<'a> From<&'a PortsSpec> for PortsSpecWire<'a> {
    fn from(p: &'a PortsSpec) -> Self {
        Self {
            ranges: p.ranges.iter().map(|&(from, to)| PortRange { from, to }).collect(),
            ports: &p.ports,
        }
    }
}

/// `BookingInfo`. `sinkCredential` is never included.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BookingInfo<'a> {
    booking_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    application_server: Option<ApplicationServerWire<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_ports: Option<PortsSpecWire<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    application_server_ports: Option<PortsSpecWire<'a>>,
    qos_profile: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sink: Option<&'a str>,
    start_time: Value,
    duration: u32,
    service_area: Value,
    /// The status under the name of the version answering: `bookingStatus` (v0.2) ...
    #[serde(skip_serializing_if = "Option::is_none")]
    booking_status: Option<&'static str>,
    /// ... or `status` (v0.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_info: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_at: Option<String>,
    /// Why the network declined it and which window it offered instead (vwip only: an
    /// extension, as CAMARA has no field for it yet; the published v0.1 shape stays exact).
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

impl<'a> BookingInfo<'a> {
    /// The booking as a client of `version` sees it at `now` (an activation sent ahead of the
    /// start shows from `startTime` on).
    pub fn at(b: &'a Booking, now: OffsetDateTime, version: Version) -> Self {
        let (status, started_at) = b.seen_at(now);
        // Ended, or a delete accepted and on its way (async delete: DELETE_REQUESTED).
        let info = (status == BookingStatus::Terminated || b.status_info == Some(booking::StatusInfo::DeleteRequested))
            .then_some(b.status_info)
            .flatten();
        let (status, status_info) = version.status(status, info);
        let (booking_status, status) = match version {
            Version::V0_2 => (Some(status), None),
            Version::V0_1 => (None, Some(status)),
        };
        let echoed = Echoed::read(b);
        // Millisecond precision: enough for a client, and stable across stores.
        let millis = |t: time::OffsetDateTime| t.replace_millisecond(t.millisecond()).unwrap_or(t);
        Self {
            booking_id: b.id.to_string(),
            device: echoed.device,
            application_server: b.application_server.as_ref().map(Into::into),
            device_ports: b.device_ports.as_ref().map(Into::into),
            application_server_ports: b.application_server_ports.as_ref().map(Into::into),
            qos_profile: &b.qos_profile,
            sink: b.sink.as_deref(),
            start_time: echoed.start_time,
            duration: b.duration,
            service_area: echoed.service_area,
            booking_status,
            status,
            status_info,
            started_at: started_at.map(millis).and_then(|t| t.format(&Rfc3339).ok()),
            message: match version {
                Version::V0_2 => booking::admission::declined_by_network(b),
                Version::V0_1 => None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn started_at_has_millisecond_precision() {
        let t = datetime!(2030-01-01 10:00:00.123456789 UTC);
        let m = t.replace_millisecond(t.millisecond()).unwrap();
        assert_eq!(m.nanosecond(), 123_000_000);
    }

    fn booked(sent: &Value, echo: Echo) -> Booking {
        let b = crate::parse::tests::booking(sent);
        Booking { echo, ..b }
    }

    #[test]
    fn the_echo_keeps_only_what_the_typed_fields_cannot_give_back() {
        // Canonical text, integral radius, a phone number: everything renders, nothing is kept.
        let plain = json!({"startTime": "2030-01-02T10:00:00Z",
            "serviceArea": {"areaType": "CIRCLE", "center": {"latitude": 50.110924, "longitude": 8}, "radius": 500},
            "device": {"phoneNumber": "+123456789"}});
        let b = crate::parse::tests::booking(&plain);
        assert_eq!(b.echo, Echo(String::new()));
        let back = Echoed::read(&b);
        assert_eq!(back.start_time, plain["startTime"]);
        assert_eq!(back.service_area, plain["serviceArea"]);
        assert_eq!(back.device.as_ref(), Some(&plain["device"]));

        // An offset, `8.0` for 8, an IPv6 address in capitals: each is kept as sent.
        let odd = json!({"startTime": "2030-01-02T12:00:00.50+02:00",
            "serviceArea": {"areaType": "POLYGON", "boundary": [{"latitude": 1, "longitude": 8.0},
                {"latitude": 1.5, "longitude": 2}, {"latitude": 1, "longitude": 3}]},
            "device": {"ipv6Address": "2001:DB8::1"}});
        let b = crate::parse::tests::booking(&odd);
        assert!(!b.echo.0.is_empty());
        let back = Echoed::read(&b);
        assert_eq!(back.start_time, odd["startTime"]);
        assert_eq!(back.service_area, odd["serviceArea"]);
        assert_eq!(back.device.as_ref(), Some(&odd["device"]));

        // An IPv4 device object with every member renders too.
        let v4 = json!({"startTime": "2030-01-02T10:00:00Z",
            "serviceArea": {"areaType": "AREANAME", "areaName": "stadium"},
            "device": {"ipv4Address": {"publicAddress": "203.0.113.5", "privateAddress": "10.0.0.5", "publicPort": 59765}}});
        let b = crate::parse::tests::booking(&v4);
        assert_eq!(b.echo, Echo(String::new()));
        assert_eq!(Echoed::read(&b).device.as_ref(), Some(&v4["device"]));
    }

    #[test]
    fn the_echo_reads_back_what_was_written() {
        // An echo written before the typed fields were rendered: every part as sent.
        let start = Value::String("2030-01-02T10:00:00.50+02:00".into());
        let area =
            serde_json::json!({"areaType": "CIRCLE", "center": {"latitude": 50.0, "longitude": 8.680}, "radius": 500});
        let device = serde_json::json!({"ipv6Address": "2001:DB8::1"});
        let old = Echo(Value::Array(vec![start.clone(), area.clone(), device.clone()]).to_string());
        let sent = json!({"startTime": "2030-01-02T08:00:00Z",
            "serviceArea": {"areaType": "AREANAME", "areaName": "stadium"}, "device": {"phoneNumber": "+1234567"}});
        let back = Echoed::read(&booked(&sent, old));
        assert_eq!(
            (back.start_time, back.service_area, back.device),
            (start, area, Some(device))
        );
        assert_eq!(Echoed::read(&booked(&sent, Echo("not json".into()))).device, None);
    }
}
