//! Field by field between the domain's types and the storage layouts: times as unix
//! nanoseconds, statuses as codes, addresses as bytes, the callback token as 16 bytes.

use super::{AreaV2, DeviceV1, PointV2, PortsV1, Token};
use booking::{
    AccessToken, BookingStatus, Device, DeviceIpv4, PhoneNumber, Point, PortsSpec, ServiceArea, SinkCredential,
    StatusInfo, StoreError,
};
use std::net::{Ipv4Addr, Ipv6Addr};
use time::OffsetDateTime;

pub(super) fn nanos(t: OffsetDateTime) -> Result<i64, StoreError> {
    i64::try_from(t.unix_timestamp_nanos()).map_err(|e| StoreError::corrupt(format!("time {t} out of range"), e))
}

pub(super) fn time_of(n: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(n)).map_err(|e| StoreError::corrupt("time out of range", e))
}

pub(super) fn opt_time(n: Option<i64>) -> Result<Option<OffsetDateTime>, StoreError> {
    n.map(time_of).transpose()
}

pub(super) fn status_code(s: BookingStatus) -> u8 {
    match s {
        BookingStatus::Requested => 0,
        BookingStatus::Scheduled => 1,
        BookingStatus::Activated => 2,
        BookingStatus::Terminated => 3,
    }
}

pub(super) fn status_of(c: u8) -> Result<BookingStatus, StoreError> {
    Ok(match c {
        0 => BookingStatus::Requested,
        1 => BookingStatus::Scheduled,
        2 => BookingStatus::Activated,
        3 => BookingStatus::Terminated,
        _ => return Err(unknown("status", c)),
    })
}

pub(super) fn info_code(i: StatusInfo) -> u8 {
    match i {
        StatusInfo::DurationExpired => 0,
        StatusInfo::NetworkTerminated => 1,
        StatusInfo::DeleteRequested => 2,
        StatusInfo::BookingDeclined => 3,
        StatusInfo::BookingRevoked => 4,
    }
}

pub(super) fn info_of(c: u8) -> Result<StatusInfo, StoreError> {
    Ok(match c {
        0 => StatusInfo::DurationExpired,
        1 => StatusInfo::NetworkTerminated,
        2 => StatusInfo::DeleteRequested,
        3 => StatusInfo::BookingDeclined,
        4 => StatusInfo::BookingRevoked,
        _ => return Err(unknown("statusInfo", c)),
    })
}

pub(super) fn corrupt(what: String) -> StoreError {
    StoreError::Corrupt { what, source: None }
}

pub(super) fn unknown(what: &str, c: u8) -> StoreError {
    corrupt(format!("unknown {what} code {c}"))
}

pub(super) fn ports(p: &PortsSpec) -> PortsV1 {
    PortsV1 {
        ranges: p.ranges.clone(),
        ports: p.ports.clone(),
    }
}

pub(super) fn ports_of(p: PortsV1) -> PortsSpec {
    PortsSpec {
        ranges: p.ranges,
        ports: p.ports,
    }
}

pub(super) fn device(d: &Device) -> DeviceV1 {
    DeviceV1 {
        phone_number: d.phone_number.as_ref().map(|p| p.as_str().to_owned()),
        network_access_identifier: d.network_access_identifier.clone(),
        ipv4: d.ipv4_address.as_ref().map(|a| {
            (
                a.public_address.octets(),
                a.private_address.map(|p| p.octets()),
                a.public_port,
            )
        }),
        ipv6: d.ipv6_address.map(|a| a.octets()),
    }
}

pub(super) fn device_of(d: DeviceV1) -> Result<Device, StoreError> {
    Ok(Device {
        phone_number: d
            .phone_number
            .map(|p| PhoneNumber::parse(&p).map_err(|e| StoreError::corrupt("stored phone number", e)))
            .transpose()?,
        network_access_identifier: d.network_access_identifier,
        ipv4_address: d.ipv4.map(|(public, private, port)| DeviceIpv4 {
            public_address: Ipv4Addr::from(public),
            private_address: private.map(Ipv4Addr::from),
            public_port: port,
        }),
        ipv6_address: d.ipv6.map(Ipv6Addr::from),
        // Layouts before 5 hold none; layout 5 sets it after.
        resolved: None,
    })
}

pub(super) fn token(t: &str) -> Token {
    let hex = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let b = t.as_bytes();
    if b.len() == 32 {
        let mut out = [0u8; 16];
        for (i, o) in out.iter_mut().enumerate() {
            match (hex(b[2 * i]), hex(b[2 * i + 1])) {
                (Some(h), Some(l)) => *o = (h << 4) | l,
                _ => return Token::Text(t.to_owned()),
            }
        }
        return Token::Bytes(out);
    }
    Token::Text(t.to_owned())
}

pub(super) fn token_of(t: Token) -> String {
    match t {
        Token::Bytes(b) => crate::record::hex(&b),
        Token::Text(s) => s,
    }
}

/// The ACCESSTOKEN of a credential: the only kind layouts 1-3 hold in this field.
pub(super) fn access_token(c: &SinkCredential) -> Option<&AccessToken> {
    match c {
        SinkCredential::AccessToken(t) => Some(t),
        SinkCredential::PrivateKeyJwt { .. } => None,
    }
}

pub(super) fn credential(c: &AccessToken) -> Result<(String, i64), StoreError> {
    Ok((c.access_token.clone(), nanos(c.expires_at)?))
}

pub(super) fn credential_of(c: Option<(String, i64)>) -> Result<Option<SinkCredential>, StoreError> {
    c.map(|(access_token, at)| {
        Ok(SinkCredential::AccessToken(AccessToken {
            access_token,
            expires_at: time_of(at)?,
        }))
    })
    .transpose()
}

pub(super) fn area(a: &ServiceArea) -> AreaV2 {
    let p = |p: &Point| (p.latitude, p.longitude);
    match a {
        ServiceArea::Circle { center, radius } => AreaV2::Circle(p(center), *radius),
        ServiceArea::Polygon { boundary } => AreaV2::Polygon(boundary.iter().map(p).collect()),
        ServiceArea::AreaName(n) => AreaV2::Name(n.clone()),
    }
}

pub(super) fn area_of(a: AreaV2) -> ServiceArea {
    let p = |(latitude, longitude): PointV2| Point { latitude, longitude };
    match a {
        AreaV2::Circle(center, radius) => ServiceArea::Circle {
            center: p(center),
            radius,
        },
        AreaV2::Polygon(b) => ServiceArea::Polygon {
            boundary: b.into_iter().map(p).collect(),
        },
        AreaV2::Name(n) => ServiceArea::AreaName(n),
    }
}
