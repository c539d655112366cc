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
    if let Some(t) = b.started_at.and_then(|t| t.format(&Rfc3339).ok()) {
        m.insert("startedAt".into(), json!(t));
    }
    Value::Object(m)
}
