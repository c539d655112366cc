//! The HTTP client of the AsSessionWithQoS resources, on `sbi`'s transport (its retry rules:
//! GET and DELETE retried on network errors, 5xx and 429; a POST only where the NEF certainly
//! did not act on it; 307/308 followed; a timed-out POST never resent).

use crate::types::AsSessionWithQoSSubscription;
use reqwest::Method;
use sbi::{Body, Propagator, SbiError, Transport, TransportConfig};

pub use sbi::Auth as NefAuth;

#[derive(Debug, Clone)]
pub struct NefClientConfig {
    /// `{apiRoot}`, e.g. `https://nef.example.net`.
    pub api_root: String,
    /// The AF identifier the operator assigned to this gateway.
    pub scs_as_id: String,
    /// Auth, timeouts, retries and pacing (`http2_only` is ignored: the NEF's API is a
    /// northbound (T8) API, HTTP/1.1 as NEFs serve it).
    pub transport: TransportConfig,
}

/// A created subscription: its URI from `Location` (kept whole) and the NEF's body.
#[derive(Debug, Clone)]
pub struct Created {
    pub location: String,
    pub subscription: AsSessionWithQoSSubscription,
}

pub struct NefClient {
    transport: Transport,
    api_root: String,
    scs_as_id: String,
}

impl NefClient {
    pub fn new(cfg: NefClientConfig) -> Result<Self, SbiError> {
        let transport = Transport::new(TransportConfig {
            http2_only: false,
            ..cfg.transport
        })?;
        Ok(Self {
            transport,
            api_root: cfg.api_root,
            scs_as_id: cfg.scs_as_id,
        })
    }

    /// Every request (each attempt) carries the trace context `propagator` adds.
    pub fn with_propagator(mut self, propagator: Propagator) -> Self {
        self.transport = self.transport.with_propagator(propagator);
        self
    }

    pub fn collection_url(&self) -> String {
        format!(
            "{}/3gpp-as-session-with-qos/v1/{}/subscriptions",
            self.api_root.trim_end_matches('/'),
            self.scs_as_id
        )
    }

    /// POST a new subscription.
    pub async fn create(&self, sub: &AsSessionWithQoSSubscription) -> Result<Created, SbiError> {
        let body = serde_json::to_vec(sub).map_err(|e| SbiError::unavailable("cannot encode the subscription", e))?;
        let (res, final_url) = self
            .transport
            .send(Method::POST, self.collection_url(), Some(Body::json(body)), false)
            .await?;
        let location =
            sbi::location(&res, &final_url).ok_or_else(|| SbiError::gave_up("201 without a Location header"))?;
        let subscription = res.json().await.unwrap_or_else(|_| sub.clone());
        Ok(Created { location, subscription })
    }

    /// GET one subscription by its URI; `None` when the NEF no longer has it.
    pub async fn get(&self, location: &str) -> Result<Option<AsSessionWithQoSSubscription>, SbiError> {
        match self.transport.send(Method::GET, location.to_owned(), None, true).await {
            Ok((res, _)) => res
                .json()
                .await
                .map(Some)
                .map_err(|e| SbiError::unavailable("bad GET answer", e)),
            Err(SbiError::Rejected { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// GET the collection: every subscription of this AF.
    pub async fn list(&self) -> Result<Vec<AsSessionWithQoSSubscription>, SbiError> {
        let (res, _) = self
            .transport
            .send(Method::GET, self.collection_url(), None, true)
            .await?;
        res.json()
            .await
            .map_err(|e| SbiError::unavailable("bad list answer", e))
    }

    /// DELETE by URI; a 404 means it is already gone, which is success.
    pub async fn delete(&self, location: &str) -> Result<(), SbiError> {
        match self
            .transport
            .send(Method::DELETE, location.to_owned(), None, true)
            .await
        {
            Ok(_) | Err(SbiError::Rejected { status: 404, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
