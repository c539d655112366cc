//! Device identifiers as CAMARA defines them, and the index keys derived from them.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// An E.164 number with a leading `+`: `^\+[1-9][0-9]{4,14}$`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(s: &str) -> Result<Self, String> {
        let digits = s.strip_prefix('+').ok_or("phoneNumber must start with '+'")?;
        let ok =
            (5..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!(
                "phoneNumber '{s}' is not an E.164 number (^\\+[1-9][0-9]{{4,14}}$)"
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}
impl From<PhoneNumber> for String {
    fn from(p: PhoneNumber) -> String {
        p.0
    }
}
impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `DeviceIpv4Address`: a public address plus a private address or a public port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceIpv4 {
    pub public_address: Ipv4Addr,
    pub private_address: Option<Ipv4Addr>,
    pub public_port: Option<u16>,
}

/// The identifiers a client gave for one device (at least one is present).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub phone_number: Option<PhoneNumber>,
    pub network_access_identifier: Option<String>,
    pub ipv4_address: Option<DeviceIpv4>,
    pub ipv6_address: Option<Ipv6Addr>,
    /// The subscription these identifiers belong to, as the device resolver names it (an index
    /// key such as `tel:+34600000001`): set by the service, never taken from a client, never
    /// shown to one. A phone number and that phone's IP address are then one device: one key
    /// in common for the overlap check, the device index and a reservation's membership.
    #[serde(skip)]
    pub resolved: Option<String>,
}

impl Device {
    pub fn from_phone(p: PhoneNumber) -> Self {
        Self {
            phone_number: Some(p),
            ..Self::default()
        }
    }

    /// True when the device carries an identifier type this gateway supports. A network
    /// access identifier alone is not supported (CAMARA does not allow its use yet).
    pub fn has_supported_identifier(&self) -> bool {
        self.phone_number.is_some() || self.ipv4_address.is_some() || self.ipv6_address.is_some()
    }

    /// One index key per supported identifier. Bookings are indexed under every key so that a
    /// later lookup with any one of the identifiers finds them.
    /// The resolved identity comes first: the store places a booking by its first key, so
    /// every identifier of one device lands where that device's other bookings are.
    pub fn keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        if let Some(r) = &self.resolved {
            keys.push(r.clone());
        }
        if let Some(p) = &self.phone_number {
            let key = format!("tel:{p}");
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        if let Some(v4) = &self.ipv4_address {
            keys.push(match (v4.private_address, v4.public_port) {
                (Some(private), _) => format!("ipv4:{}/{}", v4.public_address, private),
                (None, Some(port)) => format!("ipv4:{}:{}", v4.public_address, port),
                (None, None) => format!("ipv4:{}", v4.public_address),
            });
        }
        if let Some(v6) = &self.ipv6_address {
            // Any address in the device's /64 identifies it; key on the prefix.
            let seg = v6.segments();
            keys.push(format!("ipv6:{:x}:{:x}:{:x}:{:x}::/64", seg[0], seg[1], seg[2], seg[3]));
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resolved_device_shares_one_key_whatever_identifier_it_came_with() {
        let phone = Device {
            resolved: Some("tel:+34600000001".into()),
            ..Device::from_phone(PhoneNumber::parse("+34600000001").unwrap())
        };
        // The same key once, not twice.
        assert_eq!(phone.keys(), vec!["tel:+34600000001".to_owned()]);
        let by_address = Device {
            ipv4_address: Some(DeviceIpv4 {
                public_address: Ipv4Addr::new(203, 0, 113, 10),
                private_address: Some(Ipv4Addr::new(10, 45, 0, 10)),
                public_port: None,
            }),
            resolved: Some("tel:+34600000001".into()),
            ..Device::default()
        };
        assert_eq!(
            by_address.keys(),
            vec!["tel:+34600000001".to_owned(), "ipv4:203.0.113.10/10.45.0.10".to_owned()]
        );
        assert!(by_address.keys().iter().any(|k| phone.keys().contains(k)));
    }
    use proptest::prelude::*;

    #[test]
    fn phone_numbers() {
        assert!(PhoneNumber::parse("+123456789").is_ok());
        assert!(PhoneNumber::parse("+12345").is_ok());
        assert!(PhoneNumber::parse("+1234").is_err());
        assert!(PhoneNumber::parse("123456789").is_err());
        assert!(PhoneNumber::parse("+0123456789").is_err());
        assert!(PhoneNumber::parse("+1234567890123456").is_err());
        assert!(PhoneNumber::parse("+12345a789").is_err());
    }

    proptest! {
        #[test]
        fn phone_parse_matches_pattern(s in "\\+?[0-9a]{0,17}") {
            let b = s.as_bytes();
            let expected = b.first() == Some(&b'+')
                && (6..=16).contains(&b.len())
                && (b'1'..=b'9').contains(&b[1])
                && b[2..].iter().all(u8::is_ascii_digit);
            prop_assert_eq!(PhoneNumber::parse(&s).is_ok(), expected);
        }
    }

    #[test]
    fn ipv6_key_is_the_prefix() {
        let a = Device {
            ipv6_address: "2001:db8:85a3:8d3:1319:8a2e:370:7344".parse().ok(),
            ..Default::default()
        };
        let b = Device {
            ipv6_address: "2001:db8:85a3:8d3::".parse().ok(),
            ..Default::default()
        };
        assert_eq!(a.keys(), b.keys());
    }
}
