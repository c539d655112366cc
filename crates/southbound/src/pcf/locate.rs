//! Which PCF serves a booking, picked at activation (the booking then keeps the session's
//! whole `Location`, so its delete goes to the same PCF): a configured `{apiRoot}`, the NRF's
//! discovery (cached for the answer's `validityPeriod`), or the BSF's binding of the UE's
//! address. A UE without a binding is "not attached": the activation is retried until its
//! deadline, as when a NEF or PCF says so.

use booking::SouthboundError;
use pcf::discovery;
use sbi::{Snssai, Transport};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use tracing::info;

/// How long an NRF answer is kept when it names no `validityPeriod`.
const DEFAULT_VALIDITY: Duration = Duration::from_secs(60);

enum How {
    Static(String),
    Nrf {
        nrf: Arc<Transport>,
        root: String,
        requester: Option<String>,
        dnn: Option<String>,
        snssai: Option<Snssai>,
        /// The roots found and until when they may be used; held while asking, so a burst
        /// of activations asks once.
        cache: Mutex<Option<(Instant, Vec<String>)>>,
    },
    Bsf {
        bsf: Arc<Transport>,
        root: String,
        dnn: Option<String>,
        scheme: String,
    },
}

pub struct PcfLocator(How);

impl PcfLocator {
    /// One PCF, configured.
    pub fn fixed(api_root: String) -> Self {
        Self(How::Static(api_root))
    }

    /// The first registered PCF the NRF names for `dnn`/`snssai` (best priority).
    pub fn nrf(
        nrf: Arc<Transport>,
        root: String,
        requester: Option<String>,
        dnn: Option<String>,
        snssai: Option<Snssai>,
    ) -> Self {
        Self(How::Nrf {
            nrf,
            root,
            requester,
            dnn,
            snssai,
            cache: Mutex::new(None),
        })
    }

    /// The PCF the BSF has bound to the UE's address (`scheme`: `http` or `https`, which a
    /// binding does not name).
    pub fn bsf(bsf: Arc<Transport>, root: String, dnn: Option<String>, scheme: String) -> Self {
        Self(How::Bsf { bsf, root, dnn, scheme })
    }

    /// The `{apiRoot}` of the PCF for an activation toward `ue`.
    pub async fn api_root(&self, ue: Option<IpAddr>) -> Result<String, SouthboundError> {
        match &self.0 {
            How::Static(root) => Ok(root.clone()),
            How::Nrf {
                nrf,
                root,
                requester,
                dnn,
                snssai,
                cache,
            } => {
                let mut c = cache.lock().await;
                if let Some((until, roots)) = c.as_ref()
                    && Instant::now() < *until
                    && let Some(first) = roots.first()
                {
                    return Ok(first.clone());
                }
                let (roots, validity) =
                    discovery::discover_pcfs(nrf, root, requester.as_deref(), dnn.as_deref(), snssai.as_ref())
                        .await
                        .map_err(|e| crate::prepare::from_sbi("PCF discovery at the NRF failed", e))?;
                let first = roots
                    .first()
                    .cloned()
                    .ok_or_else(|| SouthboundError::unavailable("the NRF knows no PCF for N5"))?;
                info!(pcf.api_root = %first, found = roots.len(), "PCF discovered at the NRF");
                *c = Some((Instant::now() + validity.unwrap_or(DEFAULT_VALIDITY), roots));
                Ok(first)
            }
            How::Bsf { bsf, root, dnn, scheme } => {
                let ue = ue
                    .ok_or_else(|| SouthboundError::rejected("the BSF is asked by UE address; the booking has none"))?;
                discovery::pcf_binding(bsf, root, ue, dnn.as_deref(), scheme)
                    .await
                    .map_err(|e| crate::prepare::from_sbi("the PCF binding lookup at the BSF failed", e))?
                    .ok_or_else(|| {
                        SouthboundError::unavailable(format!(
                            "the BSF has no PCF binding for {ue}: the device is not attached"
                        ))
                    })
            }
        }
    }
}
