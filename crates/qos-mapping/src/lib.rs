//! Turns a booking into what the network receives, for either southbound: the NEF's
//! `AsSessionWithQoSSubscription` (here) and the PCF's N5 `AppSessionContext` ([`n5`]).
//! Both follow the same rules: exactly one UE address (by a configurable preference), the
//! profile's QoS, a callback URL unique per booking, and flow descriptions in one of three
//! encodings (`compact`, `strict-29214`, `per-port-pair`), at most one uplink and one
//! downlink rule per flow (a FlowInfo at the NEF, a media sub-component at the PCF).
#![forbid(unsafe_code)]

pub mod n5;

use booking::{Booking, PortsSpec, QosProfile, ResolvedDevice};
use nef::{AsSessionWithQoSSubscription, FlowInfo, Snssai, UsageThreshold};
use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlowEncoding {
    /// One FlowInfo: one uplink and one downlink rule, ports as `p1,p2,a-b` (RFC 6733).
    Compact,
    /// No port lists or ranges (TS 29.214 §5.3.8): one rule per single port, paired 1 UL + 1 DL
    /// per FlowInfo, the other side's port left open.
    #[serde(rename = "strict-29214")]
    Strict29214,
    /// Every (device port, server port) pair as its own FlowInfo: exact, but large.
    PerPortPair,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AddressKind {
    Ipv4Private,
    Ipv4Public,
    Ipv6,
}

/// How the callback URL given to the NEF is protected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackAuth {
    /// `/nef-callbacks/bookings/{id}/{per-booking token}`.
    PerBookingToken,
    /// `/nef-callbacks/{shared secret}/bookings/{id}`.
    SharedSecret(String),
    /// `/nef-callbacks/bookings/{id}`: protection is left to the network (an IP allow-list).
    None,
}

#[derive(Debug, Clone)]
pub struct MappingConfig {
    /// Externally reachable base URL of the gateway's callback endpoint (no trailing slash).
    pub callback_base: String,
    pub callback_auth: CallbackAuth,
    pub encoding: FlowEncoding,
    /// `ip` or an IANA protocol number (`17` for NEFs that refuse `ip`).
    pub protocol: String,
    /// Which UE address to send, first available wins.
    pub address_preference: Vec<AddressKind>,
    pub dnn: Option<String>,
    pub snssai: Option<Snssai>,
    pub supported_features: Option<String>,
    /// Also send `usageThreshold.duration` = booking duration (a network-side safety net).
    pub usage_threshold: bool,
    /// 17 or 18. With 18 a phone number goes as `gpsi` and the duration as `qosDuration`.
    pub release: u8,
    /// Most FlowInfo entries a booking may need; more is refused at create.
    pub max_flows: usize,
}

/// The UE's addresses at activation time (from the booking's device or a resolver).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UeAddresses {
    pub ipv4_private: Option<Ipv4Addr>,
    pub ipv4_public: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
}

impl UeAddresses {
    /// The addresses the client gave in the booking's device.
    pub fn of_booking(b: &Booking) -> Self {
        let v4 = b.device.as_ref().and_then(|d| d.ipv4_address.as_ref());
        Self {
            ipv4_private: v4.and_then(|a| a.private_address),
            ipv4_public: v4.map(|a| a.public_address),
            ipv6: b.device.as_ref().and_then(|d| d.ipv6_address),
        }
    }

    /// The resolver's current view of the device; the booking's own addresses fill gaps.
    pub fn resolved_or_booking(r: Option<&ResolvedDevice>, b: &Booking) -> Self {
        let own = Self::of_booking(b);
        match r {
            Some(r) if r.ipv4_private.is_some() || r.ipv4_public.is_some() || r.ipv6.is_some() => Self {
                ipv4_private: r.ipv4_private,
                ipv4_public: r.ipv4_public,
                ipv6: r.ipv6,
            },
            _ => own,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.ipv4_private.is_none() && self.ipv4_public.is_none() && self.ipv6.is_none()
    }

    /// The UE address to send: the first of `preference` the device has.
    pub fn pick(&self, preference: &[AddressKind]) -> Option<IpAddr> {
        preference.iter().find_map(|k| match k {
            AddressKind::Ipv4Private => self.ipv4_private.map(IpAddr::V4),
            AddressKind::Ipv4Public => self.ipv4_public.map(IpAddr::V4),
            AddressKind::Ipv6 => self.ipv6.map(IpAddr::V6),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("the device has no address the NEF can use (Rel-{0} needs an IP address)")]
    NoUeAddress(u8),
    #[error("the device has no IP address; an N5 app session needs one")]
    NoUeAddressN5,
    #[error("the ports need {needed} flow descriptions; this NEF is configured for at most {max}")]
    TooManyFlows { needed: usize, max: usize },
}

/// The NEF's callback URL for a booking (`notificationDestination`).
pub fn notification_destination(cfg: &MappingConfig, b: &Booking) -> String {
    callback_url(cfg, b, "nef-callbacks")
}

/// The NEF's callback URL for a booking's PDTQ negotiation (its `notificationDestination`).
pub fn pdtq_notification_destination(cfg: &MappingConfig, b: &Booking) -> String {
    callback_url(cfg, b, "pdtq-callbacks")
}

/// A booking's callback URL under `prefix` (`nef-callbacks`, `pcf-callbacks`), protected as
/// configured.
fn callback_url(cfg: &MappingConfig, b: &Booking, prefix: &str) -> String {
    let base = cfg.callback_base.trim_end_matches('/');
    match &cfg.callback_auth {
        CallbackAuth::PerBookingToken => format!("{base}/{prefix}/bookings/{}/{}", b.id, b.callback_token),
        CallbackAuth::SharedSecret(s) => format!("{base}/{prefix}/{s}/bookings/{}", b.id),
        CallbackAuth::None => format!("{base}/{prefix}/bookings/{}", b.id),
    }
}

/// `p1,p2,a-b`: single ports first, then ranges, as the southbound doc's example renders them.
fn render_ports(p: &PortsSpec) -> String {
    let singles = p.ports.iter().map(u16::to_string);
    let ranges = p
        .ranges
        .iter()
        .map(|(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") });
    singles.chain(ranges).collect::<Vec<_>>().join(",")
}

/// Every single port, in the order singles then ranges, without repeats.
fn expand(p: Option<&PortsSpec>) -> Vec<Option<u16>> {
    let Some(p) = p else { return vec![None] };
    let mut out: Vec<u16> = Vec::new();
    for port in p
        .ports
        .iter()
        .copied()
        .chain(p.ranges.iter().flat_map(|(a, b)| *a..=*b))
    {
        if !out.contains(&port) {
            out.push(port);
        }
    }
    out.into_iter().map(Some).collect()
}

/// How many distinct single ports `p` stands for, as [`expand`] lists them (a port named
/// twice, or inside a range, counts once), without building the list: the spans are sorted
/// and merged.
fn count(p: Option<&PortsSpec>) -> usize {
    let Some(p) = p else { return 1 };
    let mut spans: Vec<(u32, u32)> = p
        .ports
        .iter()
        .map(|&q| (u32::from(q), u32::from(q)))
        .chain(
            p.ranges
                .iter()
                .filter(|(a, b)| a <= b)
                .map(|&(a, b)| (u32::from(a), u32::from(b))),
        )
        .collect();
    spans.sort_unstable();
    let mut total = 0usize;
    let mut open: Option<(u32, u32)> = None;
    for (a, b) in spans {
        open = match open {
            Some((x, y)) if a <= y + 1 => Some((x, y.max(b))),
            Some((x, y)) => {
                total += (y - x + 1) as usize;
                Some((a, b))
            }
            None => Some((a, b)),
        };
    }
    if let Some((x, y)) = open {
        total += (y - x + 1) as usize;
    }
    total.max(1)
}

fn rule(dir: &str, proto: &str, from: &str, from_ports: &str, to: &str, to_ports: &str) -> String {
    let side = |a: &str, p: &str| {
        if p.is_empty() { a.to_owned() } else { format!("{a} {p}") }
    };
    format!(
        "permit {dir} {proto} from {} to {}",
        side(from, from_ports),
        side(to, to_ports)
    )
}

/// The number of FlowInfo entries the booking's ports need in the configured encoding.
pub fn flow_count(cfg: &MappingConfig, b: &Booking) -> usize {
    let (d, s) = (
        count(b.device_ports.as_ref()),
        count(b.application_server_ports.as_ref()),
    );
    match cfg.encoding {
        FlowEncoding::Compact => 1,
        FlowEncoding::Strict29214 => d.max(s),
        FlowEncoding::PerPortPair => d.saturating_mul(s),
    }
}

fn flows(cfg: &MappingConfig, b: &Booking, ue: Option<IpAddr>) -> Vec<FlowInfo> {
    let proto = cfg.protocol.as_str();
    // The application server address of the UE's family; `any` when the client gave none.
    let server = b.application_server.as_ref().and_then(|a| match ue {
        Some(IpAddr::V6(_)) => a.ipv6.clone(),
        Some(IpAddr::V4(_)) => a.ipv4.clone(),
        None => a.ipv4.clone().or_else(|| a.ipv6.clone()),
    });
    let server = server.unwrap_or_else(|| "any".to_owned());
    // With only a GPSI (Rel-18) there is no UE address to put in the rules: leave it open.
    let ue = ue.map_or_else(|| "any".to_owned(), |a| a.to_string());
    let (dev, srv) = (b.device_ports.as_ref(), b.application_server_ports.as_ref());
    let one = |p: Option<u16>| p.map(|p| p.to_string()).unwrap_or_default();
    let mut out = Vec::new();
    match cfg.encoding {
        FlowEncoding::Compact => {
            let dp = dev.map(render_ports).unwrap_or_default();
            let sp = srv.map(render_ports).unwrap_or_default();
            out.push(vec![
                rule("in", proto, &ue, &dp, &server, &sp),
                rule("out", proto, &server, &sp, &ue, &dp),
            ]);
        }
        FlowEncoding::Strict29214 => {
            let (ds, ss) = (expand(dev), expand(srv));
            for i in 0..ds.len().max(ss.len()) {
                let mut pair = Vec::new();
                if let Some(p) = ss.get(i) {
                    pair.push(rule("in", proto, &ue, "", &server, &one(*p)));
                }
                if let Some(q) = ds.get(i) {
                    pair.push(rule("out", proto, &server, "", &ue, &one(*q)));
                }
                out.push(pair);
            }
        }
        FlowEncoding::PerPortPair => {
            for q in expand(dev) {
                for p in expand(srv) {
                    out.push(vec![
                        rule("in", proto, &ue, &one(q), &server, &one(p)),
                        rule("out", proto, &server, &one(p), &ue, &one(q)),
                    ]);
                }
            }
        }
    }
    out.into_iter()
        .zip(1..)
        .map(|(d, id)| FlowInfo {
            flow_id: id,
            flow_descriptions: d,
        })
        .collect()
}

/// The flow limit, stated once: the booking's ports must fit in `max_flows` FlowInfo entries
/// in the configured encoding. Checked at create (through the southbound's `admit`) and again
/// by [`map`].
pub fn check_flows(cfg: &MappingConfig, b: &Booking) -> Result<(), MappingError> {
    let needed = flow_count(cfg, b);
    if needed > cfg.max_flows {
        return Err(MappingError::TooManyFlows {
            needed,
            max: cfg.max_flows,
        });
    }
    Ok(())
}

/// Builds the subscription for `b` with the UE's current addresses.
pub fn map(
    cfg: &MappingConfig,
    b: &Booking,
    profile: &QosProfile,
    ue: &UeAddresses,
) -> Result<AsSessionWithQoSSubscription, MappingError> {
    check_flows(cfg, b)?;
    let phone = b.device.as_ref().and_then(|d| d.phone_number.as_ref());
    let gpsi = (cfg.release >= 18)
        .then(|| phone.map(|p| format!("msisdn-{}", p.as_str().trim_start_matches('+'))))
        .flatten();
    let address = ue.pick(&cfg.address_preference);
    if address.is_none() && gpsi.is_none() {
        return Err(MappingError::NoUeAddress(cfg.release));
    }
    let flow_info = flows(cfg, b, address);
    Ok(AsSessionWithQoSSubscription {
        supported_features: cfg.supported_features.clone(),
        dnn: cfg.dnn.clone(),
        snssai: cfg.snssai.clone(),
        notification_destination: notification_destination(cfg, b),
        ue_ipv4_addr: match address {
            Some(IpAddr::V4(a)) => Some(a.to_string()),
            _ => None,
        },
        ue_ipv6_addr: match address {
            Some(IpAddr::V6(a)) => Some(a.to_string()),
            _ => None,
        },
        gpsi,
        qos_reference: Some(profile.qos_reference.clone()),
        alt_qos_references: (!profile.alt_qos_references.is_empty()).then(|| profile.alt_qos_references.clone()),
        flow_info: Some(flow_info),
        usage_threshold: cfg.usage_threshold.then_some(UsageThreshold {
            duration: Some(b.duration),
            total_volume: None,
        }),
        qos_duration: (cfg.release >= 18).then_some(b.duration),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests;
