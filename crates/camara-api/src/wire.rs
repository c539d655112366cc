//! The CAMARA wire shapes of the responses, exactly as `qos-booking.yaml` (the vwip shape,
//! served as v0.2) defines them, built from domain bookings. Request bodies are read by
//! `parse` (the checks and their order are CAMARA's); a second version of the API is a second
//! set of these types, not conditionals in the domain.

use booking::{ApplicationServer, Booking, BookingStatus, Echo, PortsSpec};
use serde::Serialize;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;

/// What the typed fields cannot give back exactly as sent: the `startTime` text, the
/// `serviceArea` JSON (numbers as written) and the one device identifier (an IPv6 address as
/// written). `parse` writes it as a compact JSON array into the domain's opaque [`Echo`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Echoed {
    pub start_time: Value,
    pub service_area: Value,
    pub device: Option<Value>,
}

impl Echoed {
    pub fn write(start_time: &Value, service_area: &Value, device: Option<Value>) -> Echo {
        Echo(
            Value::Array(vec![
                start_time.clone(),
                service_area.clone(),
                device.unwrap_or(Value::Null),
            ])
            .to_string(),
        )
    }

    /// Reads what [`Self::write`] wrote; an unreadable echo gives nulls (never a panic).
    pub fn read(e: &Echo) -> Self {
        let mut parts = match serde_json::from_str::<Value>(&e.0) {
            Ok(Value::Array(a)) => a.into_iter(),
            _ => Vec::new().into_iter(),
        };
        Self {
            start_time: parts.next().unwrap_or(Value::Null),
            service_area: parts.next().unwrap_or(Value::Null),
            device: parts.next().filter(|d| !d.is_null()),
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
    booking_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_info: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_at: Option<String>,
}

impl<'a> From<&'a Booking> for BookingInfo<'a> {
    fn from(b: &'a Booking) -> Self {
        let echoed = Echoed::read(&b.echo);
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
            booking_status: b.status.as_str(),
            status_info: (b.status == BookingStatus::Terminated)
                .then_some(b.status_info)
                .flatten()
                .map(|i| i.as_str()),
            started_at: b.started_at.map(millis).and_then(|t| t.format(&Rfc3339).ok()),
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

    #[test]
    fn the_echo_reads_back_what_was_written() {
        let start = Value::String("2030-01-02T10:00:00.50+02:00".into());
        let area =
            serde_json::json!({"areaType": "CIRCLE", "center": {"latitude": 50.0, "longitude": 8.680}, "radius": 500});
        let device = serde_json::json!({"ipv6Address": "2001:DB8::1"});
        let e = Echoed::write(&start, &area, Some(device.clone()));
        let back = Echoed::read(&e);
        assert_eq!(
            (back.start_time, back.service_area, back.device),
            (start, area, Some(device))
        );
        assert_eq!(Echoed::read(&Echo("not json".into())).device, None);
    }
}
