//! The network side, built from `southbound`: the adapter of the chosen kind (a NEF or a PCF,
//! real or simulated in this process), the callback routes that go with it, and the
//! simulators, kept alive for the life of the process.

use crate::settings::{NetworkAdmissionKind, PcfDiscovery, SbiService, Settings, SouthboundKind, base};
use anyhow::Context;
use axum::Router;
use booking::admission::NetworkAdmission;
use booking::{BookingService, Catalog, DeviceResolver, Southbound};
use nef::pdtq::PdtqClient;
use nef::{NefAuth, NefClient};
use nef_sim::{Faults, NefSim, SimConfig};
use pcf::PcfClient;
use pcf_sim::PcfSim;
use qos_mapping::CallbackAuth;
use southbound::{NefSouthbound, PcfLocator, PcfSouthbound, PdtqAdmission};
use std::sync::Arc;
use tracing::info;

/// Which network's callbacks are served.
enum Callbacks {
    Nef,
    Pcf(Arc<PcfClient>),
}

pub struct Network {
    pub southbound: Arc<dyn Southbound>,
    /// Network-confirmed admission (`capacity.network_admission: pdtq`).
    pub admission: Option<Arc<dyn NetworkAdmission>>,
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
        let (admission_mapping, admission_catalog) = (mapping.clone(), catalog.clone());
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
        let admission = admission(s, admission_mapping, nef_sim.as_ref(), admission_catalog, traces)?;
        Ok(Self {
            southbound,
            admission,
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
        let mut routes = match &self.callbacks {
            Callbacks::Nef => southbound::callbacks::nef::router(service.clone(), auth.clone()),
            Callbacks::Pcf(client) => southbound::callbacks::pcf::router(service.clone(), auth.clone(), client.clone()),
        };
        if self.admission.is_some() {
            routes = routes.merge(southbound::callbacks::pdtq::router(service, auth));
        }
        if base_path.is_empty() {
            routes
        } else {
            routes.clone().nest(base_path, routes)
        }
    }
}

/// The PDTQ negotiation with `capacity.network_admission: pdtq`: at the configured root, or
/// the NEF's (the in-process simulator's with kind `nef-sim`), with the NEF's auth.
fn admission(
    s: &Settings,
    mapping: qos_mapping::MappingConfig,
    nef_sim: Option<&NefSim>,
    catalog: Arc<Catalog>,
    traces: bool,
) -> anyhow::Result<Option<Arc<dyn NetworkAdmission>>> {
    if s.capacity.network_admission != NetworkAdmissionKind::Pdtq {
        return Ok(None);
    }
    let (sb, p) = (&s.southbound, &s.capacity.pdtq);
    let (root, auth) = match (&p.api_root, nef_sim) {
        (Some(root), _) => (base(root), sb.nef.nef_auth()?),
        (None, Some(sim)) => (sim.url(), NefAuth::None),
        (None, None) => (
            sb.nef
                .api_root
                .as_ref()
                .map(base)
                .context("capacity.pdtq.api_root or southbound.nef.api_root is required")?,
            sb.nef.nef_auth()?,
        ),
    };
    let af = p.af_id.clone().unwrap_or_else(|| sb.scs_as_id.clone());
    let mut client = PdtqClient::new(sb.nef.client_config(root.clone(), af, auth))?;
    if traces {
        client = client.with_propagator(Arc::new(crate::telemetry::inject_current));
    }
    info!(pdtq.api_root = %root, "network-confirmed admission: PDTQ");
    Ok(Some(Arc::new(PdtqAdmission::new(
        client,
        mapping,
        catalog,
        p.adapter(),
    ))))
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
        pdtq: nef_sim::pdtq::model::PdtqCapacity {
            ues: sb.simulator.pdtq_ues,
            ..Default::default()
        },
    };
    let sim = NefSim::start("127.0.0.1:0", cfg)
        .await
        .context("cannot start the NEF simulator")?;
    info!(nef.api_root = %sim.url(), "in-process NEF simulator started");
    Ok(sim)
}
