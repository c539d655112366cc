//! Request bodies of QoS Booking and Assignment (`qos-booking-and-assignment.yaml`):
//! `BookingInput`, `DeviceAssignmentInput` and `RetrieveBookingByDevice`. The same field rules
//! as QoS Booking, with B&A's own limits and codes: `numDevices` 1-50 (beyond: OUT_OF_RANGE),
//! `duration` 1-86400 (beyond: its DURATION_OUT_OF_RANGE), CIRCLE and POLYGON areas only, and
//! an invalid area is a 400 like any other body refusal (B&A has no area codes).

use super::*;
use booking::{DeviceInput, Echo};

/// What a B&A PRIVATE_KEY_JWT credential may name (`clientId`, `tokenUri`): the gateway
/// fetches tokens only as the client's onboarding record says, so these must agree with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyJwtHints {
    pub client_id: Option<String>,
    pub token_uri: Option<String>,
}

/// `sinkCredential` of B&A (the common schema: PRIVATE_KEY_JWT may carry `clientId` and
/// `tokenUri`).
/// B&A 0.1.0 (`version` V0_1) has r1.2's credential types (PLAIN, ACCESSTOKEN, REFRESHTOKEN;
/// ACCESSTOKEN supported) and no PRIVATE_KEY_JWT, as QoS Booking 0.1.0.
fn credential(
    v: &Value,
    now: OffsetDateTime,
    opts: &ParseOptions,
    version: Version,
) -> Result<(SinkCredential, KeyJwtHints), Rejection> {
    let mut hints = KeyJwtHints::default();
    if version == Version::V0_1 {
        return Ok((sink_credential(v, now, opts, Version::V0_1)?, hints));
    }
    if let Some(o) = v.as_object()
        && o.get("credentialType").and_then(Value::as_str) == Some("PRIVATE_KEY_JWT")
    {
        let mut rest = o.clone();
        if let Some(id) = rest.remove("clientId") {
            hints.client_id = Some(string(&id, "sinkCredential.clientId", 128)?.to_owned());
        }
        if let Some(uri) = rest.remove("tokenUri") {
            let uri = string(&uri, "sinkCredential.tokenUri", 2048)?;
            if !uri.starts_with("https://") || uri.len() <= 8 || uri.contains(char::is_whitespace) {
                return Err(Rejection::new(
                    RejectionKind::InvalidCredential,
                    "'sinkCredential.tokenUri' must be an https URL",
                ));
            }
            hints.token_uri = Some(uri.to_owned());
        }
        return Ok((sink_credential(&Value::Object(rest), now, opts, Version::V0_2)?, hints));
    }
    Ok((sink_credential(v, now, opts, Version::V0_2)?, hints))
}

/// Most devices of one reservation, and of one assign or release request.
pub const MAX_DEVICES: usize = 50;

const CREATE_KEYS: [&str; 7] = [
    "numDevices",
    "qosProfile",
    "startTime",
    "duration",
    "serviceArea",
    "sink",
    "sinkCredential",
];

/// Parses a `BookingInput`: the reservation (as a booking without device) and its number of
/// devices. `version`: the published shape it came through (V0_1: B&A 0.1.0, V0_2: vwip).
pub fn create_reservation(
    body: &Value,
    now: OffsetDateTime,
    opts: &ParseOptions,
    version: Version,
) -> Result<(NewBooking, u32, KeyJwtHints), Rejection> {
    let o = object(body, "body")?;
    check_keys(o, &CREATE_KEYS, "", opts)?;
    let total = match o.get("numDevices") {
        None => 1,
        Some(v) => u32::try_from(integer(v, "numDevices")?)
            .ok()
            .filter(|n| (1..=MAX_DEVICES as u32).contains(n))
            .ok_or_else(|| Rejection::out_of_range(format!("'numDevices' must be between 1 and {MAX_DEVICES}")))?,
    };
    let qos = qos_profile(required(o, "qosProfile", "")?)?;
    let start_value = required(o, "startTime", "")?;
    let start_time = rfc3339(start_value, "startTime")?;
    let duration = integer(required(o, "duration", "")?, "duration")?;
    // vwip caps a reservation at a day; 0.1.0 sets no maximum (the profile's limits apply).
    let most = if version == Version::V0_1 { u32::MAX } else { 86_400 };
    let duration = u32::try_from(duration)
        .ok()
        .filter(|d| (1..=most).contains(d))
        .ok_or_else(|| {
            Rejection::new(
                RejectionKind::DurationOutOfRange,
                format!("'duration' must be between 1 and {most} seconds"),
            )
        })?;
    let area_value = required(o, "serviceArea", "")?;
    let sink = o.get("sink").map(|v| sink(v, &opts.sink)).transpose()?;
    let (sink_credential, hints) = match o.get("sinkCredential") {
        Some(v) => {
            let (c, h) = credential(v, now, opts, version)?;
            (Some(c), h)
        }
        None => (None, KeyJwtHints::default()),
    };
    let area = area(area_value, opts)?;
    let echo = Echoed::write(Sent {
        start_time: (start_value, start_time),
        service_area: (area_value, &area),
        device: None,
    });
    Ok((
        NewBooking {
            qos_profile: qos,
            start_time,
            duration,
            service_area: area,
            device: None,
            application_server: None,
            device_ports: None,
            application_server_ports: None,
            sink,
            sink_credential,
            echo,
            dialect: Version::assignment_dialect(version),
        },
        total,
        hints,
    ))
}

/// B&A's `Area`: CIRCLE or POLYGON, every refusal a 400 INVALID_ARGUMENT.
fn area(v: &Value, opts: &ParseOptions) -> Result<ServiceArea, Rejection> {
    if let Some(ty) = v.get("areaType")
        && !matches!(ty.as_str(), Some("CIRCLE" | "POLYGON"))
    {
        return Err(invalid("'serviceArea.areaType' must be CIRCLE or POLYGON"));
    }
    service_area(v, opts).map_err(|r| match r.kind {
        RejectionKind::InvalidArea | RejectionKind::NotManagedAreaType => Rejection::invalid(r.message),
        _ => r,
    })
}

/// What an assign or release names: the devices (none under a 3-legged token), and for an
/// assign the sink of the devices' events.
pub struct DeviceRequest {
    pub devices: Vec<DeviceInput>,
    pub sink: Option<String>,
    pub sink_credential: Option<SinkCredential>,
    pub hints: KeyJwtHints,
}

/// Parses a `DeviceAssignmentInput` (assign and release share it). Closed in vwip
/// (`additionalProperties: false`); 0.1.0 does not close it.
pub fn device_request(
    body: &Value,
    now: OffsetDateTime,
    opts: &ParseOptions,
    version: Version,
) -> Result<DeviceRequest, Rejection> {
    let o = object(body, "body")?;
    check_keys(o, &["devices", "sink", "sinkCredential"], "", &closed(opts, version))?;
    let devices = match o.get("devices") {
        None => Vec::new(),
        Some(v) => {
            let arr = v
                .as_array()
                .ok_or_else(|| invalid("'devices' must be an array of devices"))?;
            if arr.is_empty() || arr.len() > MAX_DEVICES {
                return Err(invalid(format!("'devices' must hold 1 to {MAX_DEVICES} devices")));
            }
            arr.iter()
                .map(|d| {
                    let device = device(d, opts)?;
                    let echo = d
                        .as_object()
                        .map(|raw| Echo(device_response(raw).to_string()))
                        .unwrap_or_default();
                    Ok(DeviceInput { device, echo })
                })
                .collect::<Result<_, Rejection>>()?
        }
    };
    let sink = o.get("sink").map(|v| sink(v, &opts.sink)).transpose()?;
    let (sink_credential, hints) = match o.get("sinkCredential") {
        Some(v) => {
            let (c, h) = credential(v, now, opts, version)?;
            (Some(c), h)
        }
        None => (None, KeyJwtHints::default()),
    };
    Ok(DeviceRequest {
        devices,
        sink,
        sink_credential,
        hints,
    })
}

/// Parses a B&A `RetrieveBookingByDevice` (closed in vwip: `additionalProperties: false`).
pub fn retrieve(body: &Value, opts: &ParseOptions, version: Version) -> Result<Option<Device>, Rejection> {
    retrieve_booking(body, &closed(opts, version))
}

/// `opts` for vwip's closed schemas (`additionalProperties: false`, whatever the strictness
/// setting); 0.1.0 leaves them open, so the strictness setting decides there.
fn closed(opts: &ParseOptions, version: Version) -> ParseOptions {
    ParseOptions {
        strict: opts.strict || version == Version::V0_2,
        ..opts.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use booking::RejectionKind as K;
    use serde_json::json;

    fn opts() -> ParseOptions {
        crate::parse::tests::opts()
    }

    fn body() -> Value {
        json!({"numDevices": 10, "qosProfile": "QOS_L", "startTime": "2030-01-02T10:00:00Z", "duration": 600,
            "serviceArea": {"areaType": "CIRCLE", "center": {"latitude": 50.1, "longitude": 8.6}, "radius": 500}})
    }

    fn kind(b: Value) -> K {
        create_reservation(&b, crate::parse::tests::NOW, &opts(), Version::V0_2)
            .unwrap_err()
            .kind
    }

    #[test]
    fn booking_input_follows_b_and_a_limits_and_codes() {
        let (nb, total, _) = create_reservation(&body(), crate::parse::tests::NOW, &opts(), Version::V0_2).unwrap();
        assert_eq!((total, nb.duration, nb.device.is_none()), (10, 600, true));
        let mut b = body();
        b.as_object_mut().unwrap().remove("numDevices");
        assert_eq!(
            create_reservation(&b, crate::parse::tests::NOW, &opts(), Version::V0_2)
                .unwrap()
                .1,
            1
        );
        let with = |k: &str, v: Value| {
            let mut b = body();
            b[k] = v;
            b
        };
        assert_eq!(kind(with("numDevices", json!(51))), K::OutOfRange);
        assert_eq!(kind(with("numDevices", json!(0))), K::OutOfRange);
        assert_eq!(kind(with("numDevices", json!(2.5))), K::InvalidArgument);
        assert_eq!(kind(with("duration", json!(86_401))), K::DurationOutOfRange);
        assert_eq!(kind(with("extra", json!(1))), K::InvalidArgument);
        assert_eq!(
            kind(with(
                "serviceArea",
                json!({"areaType": "AREANAME", "areaName": "stadium"})
            )),
            K::InvalidArgument
        );
        assert_eq!(
            kind(with(
                "serviceArea",
                json!({"areaType": "CIRCLE", "center": {"latitude": 50.1, "longitude": 8.6}})
            )),
            K::InvalidArgument,
            "an invalid area is a 400 in B&A"
        );
    }

    #[test]
    fn device_requests_are_closed_and_hold_one_to_fifty_devices() {
        let now = crate::parse::tests::NOW;
        let ok = device_request(
            &json!({"devices": [{"phoneNumber": "+123456789"}]}),
            now,
            &opts(),
            Version::V0_2,
        )
        .unwrap();
        assert_eq!(ok.devices.len(), 1);
        assert_eq!(ok.devices[0].echo.0, r#"{"phoneNumber":"+123456789"}"#);
        assert!(
            device_request(&json!({}), now, &opts(), Version::V0_2)
                .unwrap()
                .devices
                .is_empty()
        );
        let many: Vec<Value> = (0..51)
            .map(|i| json!({"phoneNumber": format!("+1234567{i:02}")}))
            .collect();
        for bad in [
            json!({"devices": []}),
            json!({"devices": many}),
            json!({"device": {}}),
            json!({"devices": [{}]}),
        ] {
            assert_eq!(
                device_request(&bad, now, &opts(), Version::V0_2).err().map(|r| r.kind),
                Some(K::InvalidArgument),
                "{bad}"
            );
        }
    }
}
