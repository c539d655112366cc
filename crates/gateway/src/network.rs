//! The network side, built from `southbound`: the adapter of the chosen kind (a NEF or a PCF,
//! real or simulated in this process), the callback routes that go with it, and the
//! simulators, kept alive for the life of the process.

use crate::settings::{PcfDiscovery, SbiService, Settings, SouthboundKind, base};
use anyhow::Context;
use axum::Router;
use booking::{BookingService, Catalog, DeviceResolver, Southbound};
use nef::{NefAuth, NefClient};
use nef_sim::{Faults, NefSim, SimConfig};
use pcf::PcfClient;
use pcf_sim::PcfSim;
use qos_mapping::CallbackAuth;
use southbound::{NefSouthbound, PcfLocator, PcfSouthbound};
use std::sync::Arc;
use tracing::info;

/// Which network's callbacks are served.
enum Callbacks {
    Nef,
    Pcf(Arc<PcfClient>),
}

pub struct Network {
    pub southbound: Arc<dyn Southbound>,
    /// The in-process NEF simulator (kind `nef-sim`).
    pub nef_sim: Option<NefSim>,
    /// The in-process PCF simulator (kind `pcf-sim`).
    pub pcf_sim: Option<PcfSim>,
    callbacks: Callbacks,
    callback_auth: CallbackAuth,
}

impl Network {
    pub async fn build(
        s: &Settings,
        public_url: &str,
        catalog: Arc<Catalog>,
        resolver: Option<Arc<dyn DeviceResolver>>,
        traces: bool,
    ) -> anyhow::Result<Self> {
        let sb = &s.southbound;
        let callback_auth = sb.callbacks.callback_auth()?;
        // The callbacks are served under the API's path prefix too (the API gateway routes
        // only that prefix to this service).
        let callback_base = format!(
            "{}{}",
            sb.callbacks
                .base_url
                .as_ref()
                .map_or_else(|| public_url.to_owned(), base),
            s.server.base_path
        );
        let mapping = sb
            .mapping
            .mapping_config(callback_base, callback_auth.clone(), sb.release);
        let (mut nef_sim, mut pcf_sim) = (None, None);
        let (southbound, callbacks): (Arc<dyn Southbound>, Callbacks) = match sb.kind {
            SouthboundKind::NefSim | SouthboundKind::Nef => {
                let (api_root, auth) = if sb.kind == SouthboundKind::NefSim {
                    let sim = start_nef_sim(s).await?;
                    let root = sim.url();
                    nef_sim = Some(sim);
                    (root, NefAuth::None)
                } else {
                    let root = sb
                        .nef
                        .api_root
                        .as_ref()
                        .context("southbound.nef.api_root is required with kind nef")?;
                    (base(root), sb.nef.nef_auth()?)
                };
                let mut client = NefClient::new(sb.nef.client_config(api_root, sb.scs_as_id.clone(), auth))?;
                if traces {
                    client = client.with_propagator(Arc::new(crate::telemetry::inject_current));
                }
                let adapter = NefSouthbound::new(client, mapping, catalog, resolver);
                (Arc::new(adapter), Callbacks::Nef)
            }
            SouthboundKind::PcfSim | SouthboundKind::Pcf => {
                let sim_root = if sb.kind == SouthboundKind::PcfSim {
                    let cfg = pcf_sim::SimConfig {
                        notify_on_create: sb.simulator.notify_on_create,
                        // The simulator's NRF issues the tokens the gateway is told to fetch.
                        access_tokens: sb.pcf.access_tokens,
                        ..pcf_sim::SimConfig::default()
                    };
                    let sim = PcfSim::start("127.0.0.1:0", cfg)
                        .await
                        .context("cannot start the PCF simulator")?;
                    info!(pcf.api_root = %sim.url(), "in-process PCF simulator started (HTTP/2)");
                    let root = sim.url();
                    pcf_sim = Some(sim);
                    Some(root)
                } else {
                    None
                };
                let p = &sb.pcf;
                let nrf_root = p.nrf_api_root.as_ref().map(base).or_else(|| sim_root.clone());
                let token_url = p
                    .access_tokens
                    .then(|| p.token_endpoint(nrf_root.as_deref()))
                    .transpose()?;
                let locator = locator(s, &mapping, sim_root, token_url.as_deref())?;
                let mut client = PcfClient::new(p.transport(SbiService::PolicyAuthorization, token_url.as_deref())?)?;
                if traces {
                    client = client.with_propagator(Arc::new(crate::telemetry::inject_current));
                }
                let client = Arc::new(client);
                let adapter = PcfSouthbound::new(client.clone(), locator, mapping, sb.pcf.n5(), catalog, resolver);
                (Arc::new(adapter), Callbacks::Pcf(client))
            }
        };
        Ok(Self {
            southbound,
            nef_sim,
            pcf_sim,
            callbacks,
            callback_auth,
        })
    }

    /// The network's callback routes, under the base path and, for subscriptions made
    /// before one was configured, at the root.
    pub fn callback_routes(&self, service: Arc<BookingService>, base_path: &str) -> Router {
        let auth = self.callback_auth.clone();
        let routes = match &self.callbacks {
            Callbacks::Nef => southbound::callbacks::nef::router(service, auth),
            Callbacks::Pcf(client) => southbound::callbacks::pcf::router(service, auth, client.clone()),
        };
        if base_path.is_empty() {
            routes
        } else {
            routes.clone().nest(base_path, routes)
        }
    }
}

/// How the PCF is found; with the in-process simulator (`sim_root`), roots not configured
/// are its.
fn locator(
    s: &Settings,
    mapping: &qos_mapping::MappingConfig,
    sim_root: Option<String>,
    token_url: Option<&str>,
) -> anyhow::Result<PcfLocator> {
    let p = &s.southbound.pcf;
    let root = |configured: &Option<url::Url>, what: &str| {
        configured
            .as_ref()
            .map(base)
            .or_else(|| sim_root.clone())
            .with_context(|| format!("southbound.pcf.{what} is required with discovery {:?}", p.discovery))
    };
    let transport = |service| -> anyhow::Result<Arc<sbi::Transport>> {
        Ok(Arc::new(sbi::Transport::new(p.transport(service, token_url)?)?))
    };
    Ok(match p.discovery {
        PcfDiscovery::Static => PcfLocator::fixed(root(&p.api_root, "api_root")?),
        PcfDiscovery::Nrf => PcfLocator::nrf(
            transport(SbiService::Discovery)?,
            root(&p.nrf_api_root, "nrf_api_root")?,
            Some(p.nf_instance_id.clone()),
            mapping.dnn.clone(),
            mapping.snssai.clone(),
        ),
        PcfDiscovery::Bsf => PcfLocator::bsf(
            transport(SbiService::Binding)?,
            root(&p.bsf_api_root, "bsf_api_root")?,
            mapping.dnn.clone(),
            p.bsf_pcf_scheme.clone(),
        ),
    })
}

async fn start_nef_sim(s: &Settings) -> anyhow::Result<NefSim> {
    let sb = &s.southbound;
    let cfg = SimConfig {
        oauth: None,
        notify_on_create: sb.simulator.notify_on_create,
        faults: Faults {
            latency_ms: u64::try_from(sb.simulator.latency.as_millis()).unwrap_or(u64::MAX),
            error_status: 500,
            ..Faults::default()
        },
        release: sb.release,
    };
    let sim = NefSim::start("127.0.0.1:0", cfg)
        .await
        .context("cannot start the NEF simulator")?;
    info!(nef.api_root = %sim.url(), "in-process NEF simulator started");
    Ok(sim)
}
