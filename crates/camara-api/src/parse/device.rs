//! `Device` bodies and the one identifier a response echoes.

use super::*;

pub fn device(v: &Value, opts: &ParseOptions) -> Result<Device, Rejection> {
    let o = object(v, "device")?;
    check_keys(
        o,
        &["phoneNumber", "networkAccessIdentifier", "ipv4Address", "ipv6Address"],
        "device",
        opts,
    )?;
    if o.is_empty() {
        return Err(invalid("'device' must contain at least one identifier"));
    }
    let mut d = Device::default();
    if let Some(v) = o.get("phoneNumber") {
        d.phone_number = Some(PhoneNumber::parse(string(v, "device.phoneNumber", 16)?).map_err(invalid)?);
    }
    if let Some(v) = o.get("networkAccessIdentifier") {
        // The QoS Booking file says 2028 (a typo of Commonalities' 2048); accept the larger one.
        d.network_access_identifier = Some(string(v, "device.networkAccessIdentifier", 2048)?.to_owned());
    }
    if let Some(v) = o.get("ipv4Address") {
        let a = object(v, "device.ipv4Address")?;
        check_keys(
            a,
            &["publicAddress", "privateAddress", "publicPort"],
            "device.ipv4Address",
            opts,
        )?;
        let public_address = ipv4(
            required(a, "publicAddress", "device.ipv4Address")?,
            "device.ipv4Address.publicAddress",
        )?;
        let private_address = a
            .get("privateAddress")
            .map(|v| ipv4(v, "device.ipv4Address.privateAddress"))
            .transpose()?;
        let public_port = a
            .get("publicPort")
            .map(|v| port(v, "device.ipv4Address.publicPort"))
            .transpose()?;
        if private_address.is_none() && public_port.is_none() {
            return Err(invalid(
                "'device.ipv4Address' needs privateAddress or publicPort besides publicAddress",
            ));
        }
        d.ipv4_address = Some(DeviceIpv4 {
            public_address,
            private_address,
            public_port,
        });
    }
    if let Some(v) = o.get("ipv6Address") {
        let s = string(v, "device.ipv6Address", 45)?;
        d.ipv6_address = Some(
            s.parse::<Ipv6Addr>()
                .map_err(|_| invalid("'device.ipv6Address' must be an IPv6 address"))?,
        );
    }
    Ok(d)
}

/// The one identifier echoed back as `DeviceResponse`: the first supported one the client sent,
/// in the order phone number, IPv4, IPv6 (the order the gateway prefers them in).
pub(super) fn device_response(raw: &Obj) -> Value {
    let key = ["phoneNumber", "ipv4Address", "ipv6Address", "networkAccessIdentifier"]
        .into_iter()
        .find(|k| raw.contains_key(*k));
    let mut out = Map::new();
    if let Some(k) = key {
        out.insert(k.to_owned(), raw[k].clone());
    }
    Value::Object(out)
}
