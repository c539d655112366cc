//! Name resolution for sinks: the system resolver behind the domain's `SinkResolver` port, and
//! the reqwest resolver that lets delivery connect only to addresses the sink policy allows.

use booking::SinkPolicy;
use booking::sink::{BoxedResolve, SinkResolver};

/// The system's resolver.
pub struct SystemResolver;

impl SinkResolver for SystemResolver {
    fn resolve(&self, host: String, port: u16) -> BoxedResolve {
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), port)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
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
