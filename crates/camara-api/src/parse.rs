//! Request bodies into domain values. Each check returns the exact CAMARA refusal, and the
//! checks run in the digest's order: unknown properties, then field by field (with the
//! carve-outs for sinks, sink credentials and ports), and the service area last, because its
//! refusals are 422 while every other body refusal is a 400.

use crate::version::Version;
use crate::wire::{Echoed, Sent};
use booking::{
    AccessToken, ApplicationServer, Device, DeviceIpv4, NewBooking, PhoneNumber, Point, PortsSpec, Rejection,
    RejectionKind, ServiceArea, SinkCredential, SinkPolicy,
};
use serde_json::{Map, Value};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

mod area;
pub mod assignment;
mod device;

use area::service_area;
pub use device::device;
use device::device_response;

/// Which `areaType`s this operator manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AreaTypes {
    pub circle: bool,
    pub polygon: bool,
    pub area_name: bool,
}

#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// Reject unknown properties at any depth (Commonalities r4.3 strictness).
    pub strict: bool,
    pub area_types: AreaTypes,
    /// The area names an AREANAME service area may use.
    pub area_names: Vec<String>,
    pub sink: SinkPolicy,
    /// An explicit `null` for a property of the API is taken as absent (generated clients
    /// send them for every unset optional property); unknown properties stay refused.
    pub null_as_absent: bool,
}

type Obj = Map<String, Value>;

/// Every property name of the request bodies of the booking and profiles APIs: the ones whose
/// `null` counts as absent (an unknown property with `null` is still refused as unknown).
const PROPERTIES: &[&str] = &[
    "device",
    "phoneNumber",
    "networkAccessIdentifier",
    "ipv4Address",
    "ipv6Address",
    "publicAddress",
    "privateAddress",
    "publicPort",
    "applicationServer",
    "devicePorts",
    "applicationServerPorts",
    "ranges",
    "ports",
    "from",
    "to",
    "qosProfile",
    "sink",
    "sinkCredential",
    "credentialType",
    "accessToken",
    "accessTokenExpiresUtc",
    "accessTokenType",
    "startTime",
    "duration",
    "serviceArea",
    "areaType",
    "center",
    "latitude",
    "longitude",
    "radius",
    "boundary",
    "areaName",
    "name",
    "status",
    "numDevices",
    "devices",
    "clientId",
    "tokenUri",
];

/// Drops the known properties whose value is `null`, at any depth (see
/// [`ParseOptions::null_as_absent`]).
pub fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(o) => {
            o.retain(|k, x| !(x.is_null() && PROPERTIES.contains(&k.as_str())));
            o.values_mut().for_each(drop_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

fn invalid(msg: impl Into<String>) -> Rejection {
    Rejection::invalid(msg)
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Obj, Rejection> {
    v.as_object()
        .ok_or_else(|| invalid(format!("'{path}' must be a JSON object")))
}

fn check_keys(o: &Obj, allowed: &[&str], path: &str, opts: &ParseOptions) -> Result<(), Rejection> {
    if opts.strict
        && let Some(k) = o.keys().find(|k| !allowed.contains(&k.as_str()))
    {
        let at = if path.is_empty() {
            k.clone()
        } else {
            format!("{path}.{k}")
        };
        return Err(invalid(format!("Unknown property '{at}'")));
    }
    Ok(())
}

fn string<'a>(v: &'a Value, path: &str, max: usize) -> Result<&'a str, Rejection> {
    let s = v
        .as_str()
        .ok_or_else(|| invalid(format!("'{path}' must be a string")))?;
    if s.len() > max {
        return Err(invalid(format!("'{path}' is longer than {max} characters")));
    }
    Ok(s)
}

/// An int32 given as a JSON integer (a float such as `5.0` is refused).
fn integer(v: &Value, path: &str) -> Result<i64, Rejection> {
    match v.as_i64() {
        Some(i) if (i64::from(i32::MIN)..=i64::from(i32::MAX)).contains(&i) => Ok(i),
        Some(_) => Err(Rejection::out_of_range(format!("'{path}' is out of the int32 range"))),
        None if v.is_u64() => Err(Rejection::out_of_range(format!("'{path}' is out of the int32 range"))),
        None => Err(invalid(format!("'{path}' must be an integer"))),
    }
}

fn port(v: &Value, path: &str) -> Result<u16, Rejection> {
    let i = integer(v, path)?;
    u16::try_from(i).map_err(|_| Rejection::out_of_range(format!("'{path}' must be a port between 0 and 65535")))
}

fn rfc3339(v: &Value, path: &str) -> Result<OffsetDateTime, Rejection> {
    let s = string(v, path, 64)?;
    OffsetDateTime::parse(s, &Rfc3339).map_err(|_| {
        invalid(format!(
            "'{path}' must be an RFC 3339 date-time with a time zone, e.g. 2030-01-01T10:00:00Z"
        ))
    })
}

fn required<'a>(o: &'a Obj, key: &str, path: &str) -> Result<&'a Value, Rejection> {
    o.get(key).ok_or_else(|| {
        let at = if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        };
        invalid(format!("Missing required property '{at}'"))
    })
}

fn qos_profile(v: &Value) -> Result<String, Rejection> {
    profile_name(string(v, "qosProfile", 256)?, "qosProfile")
}

fn ipv4(v: &Value, path: &str) -> Result<Ipv4Addr, Rejection> {
    string(v, path, 15)?
        .parse()
        .map_err(|_| invalid(format!("'{path}' must be an IPv4 address")))
}

/// `address` or `address/prefix`, the prefix within the family's width.
fn address_with_prefix(s: &str, v6: bool) -> bool {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let (parsed, width) = if v6 {
        (addr.parse::<Ipv6Addr>().map(IpAddr::V6), 128)
    } else {
        (addr.parse::<Ipv4Addr>().map(IpAddr::V4), 32)
    };
    parsed.is_ok()
        && prefix.is_none_or(|p| {
            !p.is_empty()
                && p.len() <= 3
                && p.bytes().all(|b| b.is_ascii_digit())
                && p.parse::<u8>().is_ok_and(|n| n <= width)
        })
}

fn application_server(v: &Value, opts: &ParseOptions) -> Result<ApplicationServer, Rejection> {
    let o = object(v, "applicationServer")?;
    check_keys(o, &["ipv4Address", "ipv6Address"], "applicationServer", opts)?;
    if o.is_empty() {
        return Err(invalid("'applicationServer' must contain ipv4Address or ipv6Address"));
    }
    // maxLength 15 in the YAML is too short for CIDR ("203.0.113.100/24"); accept up to 18.
    let ipv4 = o
        .get("ipv4Address")
        .map(|v| string(v, "applicationServer.ipv4Address", 18))
        .transpose()?;
    if let Some(s) = ipv4
        && !address_with_prefix(s, false)
    {
        return Err(invalid(
            "'applicationServer.ipv4Address' must be an IPv4 address or address/prefix",
        ));
    }
    let ipv6 = o
        .get("ipv6Address")
        .map(|v| string(v, "applicationServer.ipv6Address", 49))
        .transpose()?;
    if let Some(s) = ipv6
        && !address_with_prefix(s, true)
    {
        return Err(invalid(
            "'applicationServer.ipv6Address' must be an IPv6 address or address/prefix",
        ));
    }
    Ok(ApplicationServer {
        ipv4: ipv4.map(str::to_owned),
        ipv6: ipv6.map(str::to_owned),
    })
}

fn ports_spec(v: &Value, path: &str, opts: &ParseOptions) -> Result<PortsSpec, Rejection> {
    let o = object(v, path)?;
    check_keys(o, &["ranges", "ports"], path, opts)?;
    if o.is_empty() {
        return Err(invalid(format!("'{path}' must contain ranges or ports")));
    }
    let mut spec = PortsSpec::default();
    if let Some(v) = o.get("ranges") {
        let arr = v
            .as_array()
            .ok_or_else(|| invalid(format!("'{path}.ranges' must be an array")))?;
        if arr.is_empty() || arr.len() > 65536 {
            return Err(invalid(format!("'{path}.ranges' must have 1 to 65536 items")));
        }
        for (i, r) in arr.iter().enumerate() {
            let at = format!("{path}.ranges[{i}]");
            let ro = object(r, &at)?;
            check_keys(ro, &["from", "to"], &at, opts)?;
            let from = port(required(ro, "from", &at)?, &format!("{at}.from"))?;
            let to = port(required(ro, "to", &at)?, &format!("{at}.to"))?;
            if from > to {
                return Err(Rejection::out_of_range(format!(
                    "'{at}': from ({from}) is greater than to ({to})"
                )));
            }
            spec.ranges.push((from, to));
        }
    }
    if let Some(v) = o.get("ports") {
        let arr = v
            .as_array()
            .ok_or_else(|| invalid(format!("'{path}.ports' must be an array")))?;
        if arr.is_empty() || arr.len() > 65536 {
            return Err(invalid(format!("'{path}.ports' must have 1 to 65536 items")));
        }
        for (i, p) in arr.iter().enumerate() {
            spec.ports.push(port(p, &format!("{path}.ports[{i}]"))?);
        }
    }
    Ok(spec)
}

/// The sink rules that need no lookup ([`SinkPolicy::check_url`]); the host name is resolved
/// and checked by the caller ([`SinkPolicy::check`]), which is asynchronous.
fn sink(v: &Value, policy: &SinkPolicy) -> Result<String, Rejection> {
    let bad = |why: &str| Rejection::new(RejectionKind::InvalidSink, format!("'sink' is not acceptable: {why}"));
    let s = v.as_str().ok_or_else(|| bad("it must be a string"))?;
    policy.check_url(s).map_err(|why| bad(&why))?;
    Ok(s.to_owned())
}

fn sink_credential(
    v: &Value,
    now: OffsetDateTime,
    opts: &ParseOptions,
    version: Version,
) -> Result<SinkCredential, Rejection> {
    let o = object(v, "sinkCredential")?;
    let ty = required(o, "credentialType", "sinkCredential")?;
    // Checked before any other schema rule: REFRESHTOKEN is not even in the enum any more,
    // yet CAMARA wants INVALID_CREDENTIAL for it, not INVALID_ARGUMENT.
    if ty.as_str() == Some("PRIVATE_KEY_JWT") && version.has_private_key_jwt() {
        // Nothing else in it: the token endpoint and key come from the client's onboarding
        // record (the service checks the client has one and fills in its id).
        check_keys(o, &["credentialType"], "sinkCredential", opts)?;
        return Ok(SinkCredential::PrivateKeyJwt {
            client_id: String::new(),
        });
    }
    if ty.as_str() != Some("ACCESSTOKEN") {
        return Err(Rejection::new(
            RejectionKind::InvalidCredential,
            if version.has_private_key_jwt() {
                "Only Access token or Private key JWT are supported as sinkCredential.credentialType"
            } else {
                "Only Access token is supported as sinkCredential.credentialType"
            },
        ));
    }
    check_keys(
        o,
        &[
            "credentialType",
            "accessToken",
            "accessTokenExpiresUtc",
            "accessTokenType",
        ],
        "sinkCredential",
        opts,
    )?;
    let token = string(
        required(o, "accessToken", "sinkCredential")?,
        "sinkCredential.accessToken",
        4096,
    )?;
    if token.is_empty() {
        return Err(invalid("'sinkCredential.accessToken' must not be empty"));
    }
    let expires = rfc3339(
        required(o, "accessTokenExpiresUtc", "sinkCredential")?,
        "sinkCredential.accessTokenExpiresUtc",
    )?;
    let ty = required(o, "accessTokenType", "sinkCredential")?;
    if ty.as_str() != Some("bearer") {
        return Err(Rejection::new(
            RejectionKind::InvalidToken,
            "Only bearer token is supported as accessTokenType",
        ));
    }
    if expires <= now {
        return Err(Rejection::new(
            RejectionKind::InvalidToken,
            "The sink access token has already expired",
        ));
    }
    Ok(SinkCredential::AccessToken(AccessToken {
        access_token: token.to_owned(),
        expires_at: expires,
    }))
}

const CREATE_KEYS: [&str; 10] = [
    "qosProfile",
    "device",
    "applicationServer",
    "devicePorts",
    "applicationServerPorts",
    "sink",
    "sinkCredential",
    "startTime",
    "duration",
    "serviceArea",
];

/// Parses a `CreateBooking` body.
pub fn create_booking(
    body: &Value,
    now: OffsetDateTime,
    opts: &ParseOptions,
    version: Version,
) -> Result<NewBooking, Rejection> {
    let o = object(body, "body")?;
    check_keys(o, &CREATE_KEYS, "", opts)?;
    let qos = qos_profile(required(o, "qosProfile", "")?)?;
    let start_time = rfc3339(required(o, "startTime", "")?, "startTime")?;
    let duration = integer(required(o, "duration", "")?, "duration")?;
    let duration = u32::try_from(duration)
        .ok()
        .filter(|d| (1..=31_622_400).contains(d))
        .ok_or_else(|| Rejection::out_of_range("'duration' must be between 1 and 31622400 seconds"))?;
    let area_value = required(o, "serviceArea", "")?;
    let device = o.get("device").map(|v| device(v, opts)).transpose()?;
    let application_server = o
        .get("applicationServer")
        .map(|v| application_server(v, opts))
        .transpose()?;
    let device_ports = o
        .get("devicePorts")
        .map(|v| ports_spec(v, "devicePorts", opts))
        .transpose()?;
    let server_ports = o
        .get("applicationServerPorts")
        .map(|v| ports_spec(v, "applicationServerPorts", opts))
        .transpose()?;
    let sink = o.get("sink").map(|v| sink(v, &opts.sink)).transpose()?;
    let sink_credential = o
        .get("sinkCredential")
        .map(|v| sink_credential(v, now, opts, version))
        .transpose()?;
    let area = service_area(area_value, opts)?;

    // What BookingInfo must give back exactly as sent and the typed fields cannot reproduce:
    // the startTime text, the serviceArea JSON (numbers as written), and the one device
    // identifier (an IPv6 address as written). See `wire::Echoed`.
    let device_echo = match (o.get("device"), &device) {
        (Some(Value::Object(raw)), Some(d)) => Some((device_response(raw), d)),
        _ => None,
    };
    let echo = Echoed::write(Sent {
        start_time: (required(o, "startTime", "")?, start_time),
        service_area: (area_value, &area),
        device: device_echo,
    });
    Ok(NewBooking {
        qos_profile: qos,
        start_time,
        duration,
        service_area: area,
        device,
        application_server,
        device_ports,
        application_server_ports: server_ports,
        sink,
        sink_credential,
        echo,
        dialect: version.dialect(),
    })
}

/// Parses a `RetrieveBookingByDevice` body (`{}` is valid).
/// The body of `POST /retrieve-qos-profiles`: an optional device, name and status filter.
pub struct ProfileQuery {
    pub device: Option<Device>,
    pub name: Option<String>,
    pub status: Option<booking::ProfileStatus>,
}

pub fn profile_query(body: &Value, opts: &ParseOptions) -> Result<ProfileQuery, Rejection> {
    let o = object(body, "body")?;
    check_keys(o, &["device", "name", "status"], "", opts)?;
    let name = o
        .get("name")
        .map(|v| profile_name(string(v, "name", 256)?, "name"))
        .transpose()?;
    let status = o
        .get("status")
        .map(|v| match string(v, "status", 16)? {
            "ACTIVE" => Ok(booking::ProfileStatus::Active),
            "INACTIVE" => Ok(booking::ProfileStatus::Inactive),
            "DEPRECATED" => Ok(booking::ProfileStatus::Deprecated),
            _ => Err(invalid("'status' must be ACTIVE, INACTIVE or DEPRECATED")),
        })
        .transpose()?;
    let device = o.get("device").map(|v| device(v, opts)).transpose()?;
    Ok(ProfileQuery { device, name, status })
}

/// A QoS profile name: 3 to 256 characters of `[a-zA-Z0-9_.-]`.
pub fn profile_name(s: &str, what: &str) -> Result<String, Rejection> {
    let ok = (3..=256).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if !ok {
        return Err(invalid(format!(
            "'{what}' must be 3 to 256 characters of [a-zA-Z0-9_.-]"
        )));
    }
    Ok(s.to_owned())
}

pub fn retrieve_booking(body: &Value, opts: &ParseOptions) -> Result<Option<Device>, Rejection> {
    let o = object(body, "body")?;
    check_keys(o, &["device"], "", opts)?;
    o.get("device").map(|v| device(v, opts)).transpose()
}

#[cfg(test)]
pub(crate) mod tests;
