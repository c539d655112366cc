//! The first release's records: the domain `Booking` serialized as JSON, with the request's
//! echo as a JSON map. Read (never written) so that bookings stored before the upgrade survive
//! it. The echo map becomes the API layer's echo array (`camara_api::wire::Echoed`: startTime,
//! serviceArea, device): this reader is the one place outside the API crate that knows it.

use booking::{
    AccessToken, ApplicationServer, Booking, BookingId, BookingStatus, Device, Dialect, Echo, Owner, PortsSpec,
    SinkCredential, StatusEvent, StatusInfo, StoreError,
};
use serde::Deserialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;

#[derive(Deserialize)]
struct BookingV0 {
    id: BookingId,
    owner: Owner,
    device: Option<Device>,
    qos_profile: String,
    start_time: OffsetDateTime,
    duration: u32,
    application_server: Option<ApplicationServer>,
    device_ports: Option<PortsSpec>,
    application_server_ports: Option<PortsSpec>,
    sink: Option<String>,
    sink_credential: Option<AccessToken>,
    status: BookingStatus,
    status_info: Option<StatusInfo>,
    started_at: Option<OffsetDateTime>,
    terminated_at: Option<OffsetDateTime>,
    nef_subscription: Option<String>,
    callback_token: String,
    attempts: u32,
    retry_at: Option<OffsetDateTime>,
    created_at: OffsetDateTime,
    version: u64,
    echo: Map<String, Value>,
}

pub fn booking(json: &[u8]) -> Result<Booking, StoreError> {
    let r: BookingV0 =
        serde_json::from_slice(json).map_err(|e| StoreError::corrupt("unreadable booking record (JSON)", e))?;
    let field = |k: &str| r.echo.get(k).cloned().unwrap_or(Value::Null);
    let echo = Echo(Value::Array(vec![field("startTime"), field("serviceArea"), field("device")]).to_string());
    Ok(Booking {
        id: r.id,
        owner: r.owner,
        device_keys: r.device.as_ref().map(Device::keys).unwrap_or_default(),
        device: r.device,
        qos_profile: r.qos_profile,
        start_time: r.start_time,
        duration: r.duration,
        service_area: None,
        application_server: r.application_server,
        device_ports: r.device_ports,
        application_server_ports: r.application_server_ports,
        sink: r.sink,
        sink_credential: r.sink_credential.map(SinkCredential::AccessToken),
        status: r.status,
        status_info: r.status_info,
        started_at: r.started_at,
        terminated_at: r.terminated_at,
        nef_subscription: r.nef_subscription,
        callback_token: r.callback_token,
        attempts: r.attempts,
        attempt_marker: None,
        retry_at: r.retry_at,
        origin: None,
        created_at: r.created_at,
        version: r.version,
        echo,
        dialect: Dialect::default(),
        group: None,
        network_hold: None,
    })
}

#[derive(Deserialize)]
struct EventV0 {
    id: String,
    booking_id: BookingId,
    status: BookingStatus,
    status_info: Option<StatusInfo>,
    #[serde(with = "time::serde::rfc3339")]
    time: OffsetDateTime,
    sink: String,
    credential: Option<AccessToken>,
}

pub fn event(json: &[u8]) -> Result<StatusEvent, StoreError> {
    let r: EventV0 = serde_json::from_slice(json).map_err(|e| StoreError::corrupt("unreadable event (JSON)", e))?;
    Ok(StatusEvent {
        id: r.id,
        booking_id: r.booking_id,
        status: r.status,
        status_info: r.status_info,
        time: r.time,
        sink: r.sink,
        credential: r.credential.map(SinkCredential::AccessToken),
        dialect: Dialect::default(),
    })
}
