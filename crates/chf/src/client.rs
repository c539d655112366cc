//! The converged-charging client: create a charging data resource (the initial request),
//! update it (interim) and release it (final). A resource is named by its whole `Location`,
//! as the CHF gave it. Every call is a POST; the CHF tells a retransmission (same
//! `invocationSequenceNumber`, `retransmissionIndicator`) from a new request, so the caller
//! may resend after an unknown outcome.

use crate::types::{ChargingDataRequest, ChargingDataResponse};
use reqwest::Method;
use sbi::{Body, SbiError, Transport, TransportConfig};

pub struct ChfClient {
    transport: Transport,
    api_root: String,
}

impl ChfClient {
    pub fn new(cfg: TransportConfig, api_root: &str) -> Result<Self, SbiError> {
        Ok(Self {
            transport: Transport::new(cfg)?,
            api_root: api_root.trim_end_matches('/').to_owned(),
        })
    }

    /// `POST {apiRoot}/nchf-convergedcharging/v3/chargingdata`: the resource's URI.
    pub async fn create(&self, req: &ChargingDataRequest) -> Result<String, SbiError> {
        let url = format!("{}/nchf-convergedcharging/v3/chargingdata", self.api_root);
        let (res, answered) = self.post(url, req).await?;
        sbi::location(&res, &answered)
            .ok_or_else(|| SbiError::gave_up(format!("{} without a Location header", res.status().as_u16())))
    }

    /// `POST {resource}/update`.
    pub async fn update(
        &self,
        resource: &str,
        req: &ChargingDataRequest,
    ) -> Result<Option<ChargingDataResponse>, SbiError> {
        let (res, _) = self
            .post(format!("{}/update", resource.trim_end_matches('/')), req)
            .await?;
        Ok(res.json().await.ok())
    }

    /// `POST {resource}/release` (204).
    pub async fn release(&self, resource: &str, req: &ChargingDataRequest) -> Result<(), SbiError> {
        self.post(format!("{}/release", resource.trim_end_matches('/')), req)
            .await?;
        Ok(())
    }

    async fn post(&self, url: String, req: &ChargingDataRequest) -> Result<(reqwest::Response, String), SbiError> {
        let body =
            serde_json::to_vec(req).map_err(|e| SbiError::unavailable("cannot encode the charging request", e))?;
        // Not resent by the transport after an unknown outcome: the exporter resends it,
        // marked as a retransmission.
        self.transport
            .send(Method::POST, url, Some(Body::json(body)), false)
            .await
    }
}
