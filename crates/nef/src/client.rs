//! The HTTP clients of the NEF's northbound resources, on `sbi`'s transport (its retry rules:
//! GET, PATCH and DELETE retried on network errors, 5xx and 429; a POST only where the NEF
//! certainly did not act on it; 307/308 followed; a timed-out POST never resent). One
//! [`Collection`] does the REST of a `{apiRoot}/{api}/v1/{afId}/subscriptions` collection;
//! [`NefClient`] is AsSessionWithQoS's, `PdtqClient` PDTQ's.

use crate::types::AsSessionWithQoSSubscription;
use reqwest::Method;
use sbi::{Body, Propagator, SbiError, Transport, TransportConfig};
use serde::Serialize;
use serde::de::DeserializeOwned;

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

/// A created resource: its URI from `Location` (kept whole) and the NEF's body.
#[derive(Debug, Clone)]
pub struct Created<T = AsSessionWithQoSSubscription> {
    pub location: String,
    pub subscription: T,
}

/// One subscription collection of the NEF and the REST on its resources.
pub(crate) struct Collection {
    transport: Transport,
    url: String,
}

impl Collection {
    /// The collection of `api` (e.g. `3gpp-as-session-with-qos/v1`) for the configured AF.
    pub(crate) fn new(cfg: NefClientConfig, api: &str) -> Result<Self, SbiError> {
        let url = format!(
            "{}/{api}/{}/subscriptions",
            cfg.api_root.trim_end_matches('/'),
            cfg.scs_as_id
        );
        let transport = Transport::new(TransportConfig {
            http2_only: false,
            ..cfg.transport
        })?;
        Ok(Self { transport, url })
    }

    pub(crate) fn with_propagator(mut self, propagator: Propagator) -> Self {
        self.transport = self.transport.with_propagator(propagator);
        self
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// POST a new resource; the NEF's body, or what was sent when it echoes none.
    pub(crate) async fn create<T: Serialize + DeserializeOwned + Clone>(
        &self,
        sub: &T,
    ) -> Result<Created<T>, SbiError> {
        let body = serde_json::to_vec(sub).map_err(|e| SbiError::unavailable("cannot encode the request", e))?;
        let (res, final_url) = self
            .transport
            .send(Method::POST, self.url.clone(), Some(Body::json(body)), false)
            .await?;
        let location =
            sbi::location(&res, &final_url).ok_or_else(|| SbiError::gave_up("201 without a Location header"))?;
        let subscription = res.json().await.unwrap_or_else(|_| sub.clone());
        Ok(Created { location, subscription })
    }

    /// GET one resource by its URI; `None` when the NEF no longer has it.
    pub(crate) async fn get<T: DeserializeOwned>(&self, location: &str) -> Result<Option<T>, SbiError> {
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

    /// GET the collection: every resource of this AF. A 404 or 204 is an empty collection
    /// (3GPP lists 404 for a GET-all with nothing to return: its 200 has `minItems: 1`).
    pub(crate) async fn list<T: DeserializeOwned>(&self) -> Result<Vec<T>, SbiError> {
        let res = match self.transport.send(Method::GET, self.url.clone(), None, true).await {
            Ok((res, _)) => res,
            Err(SbiError::Rejected { status: 404, .. }) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        if res.status() == reqwest::StatusCode::NO_CONTENT {
            return Ok(Vec::new());
        }
        res.json()
            .await
            .map_err(|e| SbiError::unavailable("bad list answer", e))
    }

    /// PATCH a resource with a JSON merge patch (RFC 7396); the NEF's body when it gives one
    /// (200), `None` for 204.
    pub(crate) async fn patch<P: Serialize, T: DeserializeOwned>(
        &self,
        location: &str,
        patch: &P,
    ) -> Result<Option<T>, SbiError> {
        let bytes = serde_json::to_vec(patch).map_err(|e| SbiError::unavailable("cannot encode the patch", e))?;
        let body = Body {
            bytes: bytes.into(),
            content_type: "application/merge-patch+json",
        };
        // A merge patch sets values: sending it twice has the effect of once.
        let (res, _) = self
            .transport
            .send(Method::PATCH, location.to_owned(), Some(body), true)
            .await?;
        if res.status() == reqwest::StatusCode::NO_CONTENT {
            return Ok(None);
        }
        res.json()
            .await
            .map(Some)
            .map_err(|e| SbiError::unavailable("bad PATCH answer", e))
    }

    /// DELETE by URI; a 404 means it is already gone, which is success.
    pub(crate) async fn delete(&self, location: &str) -> Result<(), SbiError> {
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

/// The AsSessionWithQoS client.
pub struct NefClient {
    subs: Collection,
}

impl NefClient {
    pub fn new(cfg: NefClientConfig) -> Result<Self, SbiError> {
        Ok(Self {
            subs: Collection::new(cfg, "3gpp-as-session-with-qos/v1")?,
        })
    }

    /// Every request (each attempt) carries the trace context `propagator` adds.
    pub fn with_propagator(mut self, propagator: Propagator) -> Self {
        self.subs = self.subs.with_propagator(propagator);
        self
    }

    pub fn collection_url(&self) -> String {
        self.subs.url().to_owned()
    }

    /// POST a new subscription.
    pub async fn create(&self, sub: &AsSessionWithQoSSubscription) -> Result<Created, SbiError> {
        self.subs.create(sub).await
    }

    /// GET one subscription by its URI; `None` when the NEF no longer has it.
    pub async fn get(&self, location: &str) -> Result<Option<AsSessionWithQoSSubscription>, SbiError> {
        self.subs.get(location).await
    }

    /// GET the collection: every subscription of this AF.
    pub async fn list(&self) -> Result<Vec<AsSessionWithQoSSubscription>, SbiError> {
        self.subs.list().await
    }

    /// DELETE by URI; a 404 means it is already gone, which is success.
    pub async fn delete(&self, location: &str) -> Result<(), SbiError> {
        self.subs.delete(location).await
    }
}
