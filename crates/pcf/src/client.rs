//! The Npcf_PolicyAuthorization client: create an app session, delete it. HTTP/2 only
//! (TS 29.500 §5.2), on `sbi`'s transport and retry rules. The PCF is chosen by the caller
//! (static, NRF or BSF) and named by its `{apiRoot}`; a session is named by its whole
//! `Location`, kept as the PCF gave it.

use crate::types::{AppSessionContext, app_session_of};
use reqwest::{Method, StatusCode};
use sbi::{Body, Propagator, SbiError, Transport, TransportConfig};

/// A created (or, after `303 See Other`, an existing equivalent) app session.
#[derive(Debug, Clone)]
pub struct Created {
    /// The session's URI, whole (an events-subscription `Location` is cut to its session).
    pub location: String,
    /// True when the PCF answered 303: an equivalent session already existed.
    pub existing: bool,
    pub context: Option<AppSessionContext>,
}

pub struct PcfClient {
    transport: Transport,
}

impl PcfClient {
    /// `cfg.http2_only` is forced on: N5 is HTTP/2 only.
    pub fn new(mut cfg: TransportConfig) -> Result<Self, SbiError> {
        cfg.http2_only = true;
        Ok(Self {
            transport: Transport::new(cfg)?,
        })
    }

    pub fn with_propagator(mut self, propagator: Propagator) -> Self {
        self.transport = self.transport.with_propagator(propagator);
        self
    }

    /// `POST {apiRoot}/npcf-policyauthorization/v1/app-sessions`.
    pub async fn create(&self, api_root: &str, ctx: &AppSessionContext) -> Result<Created, SbiError> {
        let url = format!(
            "{}/npcf-policyauthorization/v1/app-sessions",
            api_root.trim_end_matches('/')
        );
        let body = serde_json::to_vec(ctx).map_err(|e| SbiError::unavailable("cannot encode the app session", e))?;
        let (res, answered) = self
            .transport
            .send(Method::POST, url, Some(Body::json(body)), false)
            .await?;
        let existing = res.status() == StatusCode::SEE_OTHER;
        let location = sbi::location(&res, &answered)
            .ok_or_else(|| SbiError::gave_up(format!("{} without a Location header", res.status().as_u16())))?;
        // The body is not relied on (PCFs have echoed nonsense); status and Location are.
        let context = if existing { None } else { res.json().await.ok() };
        Ok(Created {
            location: app_session_of(&location).to_owned(),
            existing,
            context,
        })
    }

    /// `POST {session}/delete`: N5 deletes by POST, not HTTP DELETE. A 404 means it is
    /// already gone, which is success; a 200 carries final reports, which are not needed.
    pub async fn delete(&self, session: &str) -> Result<(), SbiError> {
        let url = format!("{}/delete", app_session_of(session));
        // Deleting twice is harmless, so the delete is retried like an idempotent call.
        match self.transport.send(Method::POST, url, None, true).await {
            Ok(_) | Err(SbiError::Rejected { status: 404, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Whether a refusal means the device has no PDU session (or no binding) now: PCFs say it
/// differently (free5GC 500 `PDU_SESSION_NOT_AVAILABLE`, Open5GS 404, OAI 404 or 500), and
/// the activation is then retried until its deadline, as for a NEF.
pub fn device_not_attached(e: &SbiError) -> bool {
    matches!(e.cause(), Some("PDU_SESSION_NOT_AVAILABLE")) || e.status() == Some(404)
}
