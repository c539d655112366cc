//! Domain bookings rendered as CAMARA `BookingInfo`.

use booking::{Booking, BookingStatus};
use serde_json::{Map, Value, json};
use time::format_description::well_known::Rfc3339;

/// `BookingInfo`: the echoed request fields exactly as sent, plus the booking's state.
/// `sinkCredential` is never included.
pub fn booking_info(b: &Booking) -> Value {
    let mut m = Map::new();
    m.insert("bookingId".into(), json!(b.id.to_string()));
    for k in [
        "device",
        "applicationServer",
        "devicePorts",
        "applicationServerPorts",
        "qosProfile",
        "sink",
        "startTime",
    ] {
        if let Some(v) = b.echo.get(k) {
            m.insert(k.into(), v.clone());
        }
    }
    m.insert("duration".into(), json!(b.duration));
    if let Some(v) = b.echo.get("serviceArea") {
        m.insert("serviceArea".into(), v.clone());
    }
    m.insert("bookingStatus".into(), json!(b.status.as_str()));
    if b.status == BookingStatus::Terminated
        && let Some(info) = b.status_info
    {
        m.insert("statusInfo".into(), json!(info.as_str()));
    }
    // Millisecond precision: enough for a client, and stable across stores.
    let millis = |t: time::OffsetDateTime| t.replace_millisecond(t.millisecond()).unwrap_or(t);
    if let Some(t) = b.started_at.map(millis).and_then(|t| t.format(&Rfc3339).ok()) {
        m.insert("startedAt".into(), json!(t));
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    #[test]
    fn started_at_has_millisecond_precision() {
        let t = datetime!(2030-01-01 10:00:00.123456789 UTC);
        let m = t.replace_millisecond(t.millisecond()).unwrap();
        assert_eq!(m.nanosecond(), 123_000_000);
    }
}
