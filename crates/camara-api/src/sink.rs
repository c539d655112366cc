//! Which notification sinks are acceptable, checked at create and again at every delivery
//! (a name can resolve elsewhere by then): https only, and never an address inside the
//! operator (loopback, private, link-local, metadata, ...), unless an allow-list says so.

use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Resolves host names for the sink checks (the system resolver; a fixed table in tests).
pub trait SinkResolver: Send + Sync + 'static {
    fn resolve(&self, host: String, port: u16) -> futures_lite::BoxedResolve;
}

/// The system resolver.
pub struct SystemResolver;

impl SinkResolver for SystemResolver {
    fn resolve(&self, host: String, port: u16) -> futures_lite::BoxedResolve {
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), port)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

pub mod futures_lite {
    //! The boxed future type of [`super::SinkResolver`].
    use std::future::Future;
    use std::net::IpAddr;
    use std::pin::Pin;
    pub type BoxedResolve = Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>;
}

/// Addresses a notification must never be sent to unless allow-listed.
pub fn internal_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local() // includes 169.254.169.254, the cloud metadata service
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64.0.0/10, carrier-grade NAT
                || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0.0/24, IETF protocol assignments
                || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18.0.0/15, benchmarking
                || o[0] >= 240 // reserved
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return internal_ip(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link local
                || (first == 0x64 && v6.segments()[1] == 0xff9b) // NAT64 well-known prefix
        }
    }
}

/// The sink policy of a deployment.
#[derive(Clone)]
pub struct SinkPolicy {
    /// Development only: `http://` and internal addresses are accepted.
    pub allow_insecure: bool,
    /// Networks accepted even though internal (a partner reached over a private link).
    pub allow: Vec<IpNet>,
    /// Networks and host names always refused.
    pub deny_nets: Vec<IpNet>,
    pub deny_hosts: Vec<String>,
    pub resolver: Arc<dyn SinkResolver>,
}

impl std::fmt::Debug for SinkPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SinkPolicy")
            .field("allow_insecure", &self.allow_insecure)
            .field("allow", &self.allow)
            .field("deny_nets", &self.deny_nets)
            .field("deny_hosts", &self.deny_hosts)
            .finish()
    }
}

impl SinkPolicy {
    pub fn permissive() -> Self {
        Self {
            allow_insecure: true,
            allow: vec![],
            deny_nets: vec![],
            deny_hosts: vec![],
            resolver: Arc::new(SystemResolver),
        }
    }

    /// Whether an address may receive notifications.
    pub fn ip_allowed(&self, ip: IpAddr) -> bool {
        if self.deny_nets.iter().any(|n| n.contains(&ip)) {
            return false;
        }
        self.allow_insecure || self.allow.iter().any(|n| n.contains(&ip)) || !internal_ip(ip)
    }

    pub fn host_denied(&self, host: &str) -> bool {
        let h = host.trim_end_matches('.').to_ascii_lowercase();
        self.deny_hosts.iter().any(|d| h == *d || h.ends_with(&format!(".{d}")))
            || (!self.allow_insecure && (h == "localhost" || h.ends_with(".localhost")))
    }

    /// Resolves a sink host and checks every address: all must be allowed (one bad address
    /// is enough for a resolver to pick it). Returns the addresses to connect to.
    pub async fn check_host(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
        if self.host_denied(host) {
            return Err("its host is not accepted".into());
        }
        if let Ok(ip) = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
            return if self.ip_allowed(ip) {
                Ok(vec![SocketAddr::new(ip, port)])
            } else {
                Err("it points to a loopback, private, link-local or otherwise internal address".into())
            };
        }
        let ips = self
            .resolver
            .resolve(host.to_owned(), port)
            .await
            .map_err(|e| format!("its host does not resolve: {e}"))?;
        if ips.is_empty() {
            return Err("its host does not resolve".into());
        }
        if let Some(bad) = ips.iter().find(|ip| !self.ip_allowed(**ip)) {
            return Err(format!("its host resolves to an internal address ({bad})"));
        }
        Ok(ips.into_iter().map(|ip| SocketAddr::new(ip, port)).collect())
    }
}

/// A reqwest DNS resolver that only ever hands out addresses the policy allows, so neither a
/// DNS change after create nor a redirect can make a delivery reach an internal address.
pub struct GuardedResolver(pub SinkPolicy);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let addrs =
                policy
                    .check_host(name.as_str(), 0)
                    .await
                    .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> {
                        format!("sink {}: {e}", name.as_str()).into()
                    })?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}
