//! `IPFilterRule` (RFC 6733 §4.3.1) as TS 29.214 §5.3.8 restricts it for flow descriptions:
//! `permit (in|out) <proto> from <addr>[/<len>] [<ports>] to <addr>[/<len>] [<ports>]`,
//! where `<addr>` may be `any`, `<proto>` is `ip` or a protocol number, and ports are
//! `p`, `p-q` or comma lists of those. No options, no `!`, no `assigned`.

use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Uplink: from the UE.
    In,
    /// Downlink: to the UE.
    Out,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `None` is `any`.
    pub address: Option<(IpAddr, Option<u8>)>,
    /// Inclusive ranges; empty means any port.
    pub ports: Vec<(u16, u16)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpFilterRule {
    pub direction: Direction,
    /// `None` is `ip` (any protocol).
    pub protocol: Option<u8>,
    pub from: Endpoint,
    pub to: Endpoint,
}

fn parse_address(s: &str) -> Result<Option<(IpAddr, Option<u8>)>, String> {
    if s == "any" {
        return Ok(None);
    }
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let ip: IpAddr = addr.parse().map_err(|_| format!("'{s}' is not an address"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = len
        .map(|l| {
            l.parse::<u8>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| format!("bad prefix length in '{s}'"))
        })
        .transpose()?;
    Ok(Some((ip, len)))
}

fn parse_ports(s: &str) -> Result<Vec<(u16, u16)>, String> {
    s.split(',')
        .map(|part| {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            let a: u16 = a.parse().map_err(|_| format!("bad port '{part}'"))?;
            let b: u16 = b.parse().map_err(|_| format!("bad port '{part}'"))?;
            if a > b {
                return Err(format!("bad port range '{part}'"));
            }
            Ok((a, b))
        })
        .collect()
}

fn is_ports(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b',' || b == b'-')
}

/// Parses one flow description.
pub fn parse(rule: &str) -> Result<IpFilterRule, String> {
    let tokens: Vec<&str> = rule.split(' ').collect();
    if tokens.iter().any(|t| t.is_empty()) {
        return Err("tokens must be separated by single spaces".into());
    }
    let mut it = tokens.into_iter().peekable();
    if it.next() != Some("permit") {
        return Err("action must be 'permit'".into());
    }
    let direction = match it.next() {
        Some("in") => Direction::In,
        Some("out") => Direction::Out,
        _ => return Err("direction must be 'in' or 'out'".into()),
    };
    let protocol = match it.next() {
        Some("ip") => None,
        Some(p) => Some(
            p.parse::<u8>()
                .map_err(|_| format!("protocol '{p}' is neither 'ip' nor a number"))?,
        ),
        None => return Err("missing protocol".into()),
    };
    let mut endpoint = |keyword: &str| -> Result<Endpoint, String> {
        if it.next() != Some(keyword) {
            return Err(format!("expected '{keyword}'"));
        }
        let address = parse_address(it.next().ok_or("missing address")?)?;
        let ports = match it.peek() {
            Some(p) if is_ports(p) => parse_ports(it.next().unwrap_or_default())?,
            _ => Vec::new(),
        };
        Ok(Endpoint { address, ports })
    };
    let from = endpoint("from")?;
    let to = endpoint("to")?;
    if let Some(extra) = it.next() {
        return Err(format!("unexpected '{extra}' (options are not allowed)"));
    }
    Ok(IpFilterRule {
        direction,
        protocol,
        from,
        to,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_southbound_examples() {
        let r = parse("permit out 17 from 198.51.100.1 5060 to 203.0.113.5 5010-5020").unwrap();
        assert_eq!(r.direction, Direction::Out);
        assert_eq!(r.protocol, Some(17));
        assert_eq!(r.to.ports, vec![(5010, 5020)]);
        let r =
            parse("permit in ip from 203.0.113.0 5060,5070,5010-5020 to 198.51.100.0/24 5060,5070,5010-5020").unwrap();
        assert_eq!(r.from.ports.len(), 3);
        assert_eq!(r.to.address, Some(("198.51.100.0".parse().unwrap(), Some(24))));
        assert!(parse("permit in ip from 2001:db8::1 to any").is_ok());
    }

    #[test]
    fn refuses_dialect_bugs() {
        for bad in [
            "deny in ip from any to any",
            "permit in any from 1.2.3.4 to any",
            "permit ip 0.0.0.0 0.0.0.0",
            "permit in ip from 1.2.3.4 to 5.6.7.8 80 frag",
            "permit in ip from 1.2.3.4/33 to any",
            "permit in ip from 1.2.3.4 90-80 to any",
            "permit in ip from assigned to any",
            "permit  in ip from any to any",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
