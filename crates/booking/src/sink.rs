//! The sink rule, in one place: which notification sinks are acceptable. The API checks a
//! sink with it at create, and event delivery checks it again at every delivery (a name can
//! resolve elsewhere by then): https only, at most 2048 characters, and never an address
//! inside the operator (loopback, private, link-local, metadata, ...) unless an allow-list
//! says so. Names are resolved through the [`SinkResolver`] port.

use ipnet::IpNet;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

/// Resolves host names for the sink checks (the system resolver in `delivery`; a fixed table
/// in tests).
pub trait SinkResolver: Send + Sync + 'static {
    fn resolve(&self, host: String, port: u16) -> BoxedResolve;
}

/// The future a [`SinkResolver`] answers with: the host's addresses.
pub type BoxedResolve = Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>;

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
    /// Development: http and internal addresses accepted, names resolved by `resolver`.
    pub fn permissive(resolver: Arc<dyn SinkResolver>) -> Self {
        Self {
            allow_insecure: true,
            allow: vec![],
            deny_nets: vec![],
            deny_hosts: vec![],
            resolver,
        }
    }

    /// The rules that need no lookup: an https URL (http too in development) of at most 2048
    /// characters, with a host that is not denied and not an internal IP literal.
    pub fn check_url(&self, sink: &str) -> Result<url::Url, String> {
        if sink.len() > 2048 {
            return Err("longer than 2048 characters".into());
        }
        let secure = sink.strip_prefix("https://").is_some_and(|rest| !rest.is_empty());
        let insecure_ok = self.allow_insecure && sink.strip_prefix("http://").is_some_and(|rest| !rest.is_empty());
        if !secure && !insecure_ok {
            return Err("it must be an https URL".into());
        }
        let url = url::Url::parse(sink).map_err(|_| "it is not a valid URI".to_owned())?;
        let refused = match url.host().ok_or("it has no host")? {
            url::Host::Domain(d) => self.host_denied(d),
            url::Host::Ipv4(ip) => !self.ip_allowed(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => !self.ip_allowed(IpAddr::V6(ip)),
        };
        if refused {
            return Err("it points to a loopback, private, link-local or otherwise internal address".into());
        }
        Ok(url)
    }

    /// The whole rule: [`Self::check_url`], then the host name resolved and every address
    /// checked (as at delivery).
    pub async fn check(&self, sink: &str) -> Result<(), String> {
        let url = self.check_url(sink)?;
        if let (Some(url::Host::Domain(host)), Some(port)) = (url.host(), url.port_or_known_default()) {
            self.check_host(host, port).await?;
        }
        Ok(())
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
