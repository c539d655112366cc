//! Who the client is behind the proxies in front (`server.trusted_proxies`): `Forwarded`
//! (RFC 7239) or `X-Forwarded-For` / `X-Forwarded-Proto` are believed only when the TCP peer
//! is a trusted proxy; otherwise anyone could write them and pose as another address.

use axum::extract::Request;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The connection a request came on (set by the server loop).
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    pub addr: SocketAddr,
    pub tls: bool,
}

/// The request's origin as far as it can be trusted: the scheme the client used and its
/// address (the TCP peer, or what a trusted proxy reported).
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    pub scheme: &'static str,
    pub client: Option<IpAddr>,
}

/// Derives the [`Origin`] of every request.
pub async fn origin(
    axum::extract::State(trusted): axum::extract::State<Arc<Vec<IpNet>>>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req.extensions().get::<Peer>().copied();
    let origin = resolve(peer, req.headers(), &trusted);
    req.extensions_mut().insert(origin);
    next.run(req).await
}

fn trusted_ip(ip: IpAddr, trusted: &[IpNet]) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    trusted.iter().any(|n| n.contains(&ip))
}

pub fn resolve(peer: Option<Peer>, headers: &HeaderMap, trusted: &[IpNet]) -> Origin {
    let direct = Origin {
        scheme: if peer.is_some_and(|p| p.tls) { "https" } else { "http" },
        client: peer.map(|p| p.addr.ip()),
    };
    let Some(p) = peer else { return direct };
    if !trusted_ip(p.addr.ip(), trusted) {
        return direct;
    }
    // The hops, nearest last: (address, proto) per element.
    let mut hops: Vec<(Option<IpAddr>, Option<String>)> = Vec::new();
    for v in headers.get_all("forwarded").iter().filter_map(|v| v.to_str().ok()) {
        for element in v.split(',') {
            let (mut addr, mut proto) = (None, None);
            for pair in element.split(';') {
                let Some((k, val)) = pair.trim().split_once('=') else {
                    continue;
                };
                let val = val.trim().trim_matches('"');
                match k.trim().to_ascii_lowercase().as_str() {
                    "for" => addr = parse_node(val),
                    "proto" => proto = Some(val.to_ascii_lowercase()),
                    _ => {}
                }
            }
            hops.push((addr, proto));
        }
    }
    if hops.is_empty() {
        let proto = headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(|v| v.trim().to_ascii_lowercase());
        for v in headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
        {
            for a in v.split(',') {
                hops.push((parse_node(a.trim()), None));
            }
        }
        if let Some(last) = hops.last_mut() {
            last.1 = proto;
        } else if proto.is_some() {
            hops.push((None, proto));
        }
    }
    // The client is the nearest hop that is not one of our proxies.
    let mut origin = direct;
    for (addr, proto) in hops.iter().rev() {
        if let Some(proto) = proto {
            origin.scheme = if proto == "https" { "https" } else { "http" };
        }
        match addr {
            Some(a) if trusted_ip(*a, trusted) => origin.client = Some(*a),
            Some(a) => {
                origin.client = Some(*a);
                break;
            }
            None => break,
        }
    }
    origin
}

/// `192.0.2.1`, `192.0.2.1:443`, `"[2001:db8::1]:443"`, `[2001:db8::1]`; `unknown` and
/// obfuscated names give `None`.
fn parse_node(v: &str) -> Option<IpAddr> {
    if let Ok(ip) = v.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = v.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    v.strip_prefix('[')
        .and_then(|r| r.split(']').next())
        .and_then(|ip| ip.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(ip: &str, tls: bool) -> Option<Peer> {
        Some(Peer {
            addr: SocketAddr::new(ip.parse().unwrap(), 40000),
            tls,
        })
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let h = headers(&[("x-forwarded-for", "1.2.3.4"), ("x-forwarded-proto", "https")]);
        let o = resolve(peer("203.0.113.9", false), &h, &trusted);
        assert_eq!(o.client, Some("203.0.113.9".parse().unwrap()));
        assert_eq!(o.scheme, "http");
    }

    #[test]
    fn a_trusted_proxy_names_the_client_and_scheme() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        // A client-written entry before the real client is not believed: the nearest
        // untrusted hop is the client.
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.1.1.1"),
            ("x-forwarded-proto", "https"),
        ]);
        let o = resolve(peer("10.0.0.2", false), &h, &trusted);
        assert_eq!(o.client, Some("198.51.100.7".parse().unwrap()));
        assert_eq!(o.scheme, "https");
        let h = headers(&[("forwarded", "for=\"[2001:db8::7]:4711\";proto=https, for=10.2.2.2")]);
        let o = resolve(peer("::ffff:10.0.0.2", false), &h, &trusted);
        assert_eq!(o.client, Some("2001:db8::7".parse().unwrap()));
        assert_eq!(o.scheme, "https");
        // An obfuscated hop ends the walk at the last known proxy.
        let h = headers(&[("forwarded", "for=_hidden, for=10.2.2.2")]);
        let o = resolve(peer("10.0.0.2", true), &h, &trusted);
        assert_eq!(o.client, Some("10.2.2.2".parse().unwrap()));
        assert_eq!(o.scheme, "https");
    }
}
