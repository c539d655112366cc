//! OAuth2 client credentials (RFC 6749 §4.4) on the `oauth2` crate, sent through the
//! transport's own reqwest client so that its TLS roots, client certificate and HTTP/2-only
//! mode apply to the token endpoint too. One token is cached per transport (a transport has
//! one scope), refreshed at 80 % of its lifetime or after a 401, and fetched by one caller at
//! a time (single flight).
//!
//! Two grants: a client id and secret (`client_secret_basic`, e.g. the NEF operator's IdP), and
//! the NRF's Nnrf_AccessToken (TS 29.510 §5.4.2.2), where the NF is known by its TLS identity,
//! sends no secret, and names itself in the form (`nfInstanceId`, `nfType`, `targetNfType`).

use crate::error::SbiError;
use oauth2::basic::BasicClient;
use oauth2::{
    AsyncHttpClient, ClientId, ClientSecret, EndpointNotSet, EndpointSet, HttpRequest, HttpResponse, RequestTokenError,
    Scope, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

type Client = BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// Who the client is at the token endpoint.
pub enum Grant<'a> {
    /// `client_secret_basic`.
    Secret {
        client_id: &'a str,
        client_secret: &'a SecretString,
    },
    /// An NF at its NRF: no secret; the instance id is also the form's `client_id`.
    Nrf {
        nf_instance_id: &'a str,
        nf_type: &'a str,
        target_nf_type: &'a str,
    },
}

pub struct TokenSource {
    http: reqwest::Client,
    client: Client,
    scope: Option<String>,
    /// Form fields beyond the RFC's (the NRF's).
    extra: Vec<(&'static str, String)>,
    cached: Mutex<Option<(SecretString, Instant)>>,
}

impl TokenSource {
    pub fn new(
        http: reqwest::Client,
        token_url: &str,
        grant: Grant<'_>,
        scope: Option<String>,
    ) -> Result<Self, SbiError> {
        let url = TokenUrl::new(token_url.to_owned()).map_err(|e| SbiError::unavailable("bad token URL", e))?;
        let (client, extra) = match grant {
            Grant::Secret {
                client_id,
                client_secret,
            } => (
                BasicClient::new(ClientId::new(client_id.to_owned()))
                    .set_client_secret(ClientSecret::new(client_secret.expose_secret().to_owned())),
                Vec::new(),
            ),
            Grant::Nrf {
                nf_instance_id,
                nf_type,
                target_nf_type,
            } => (
                BasicClient::new(ClientId::new(nf_instance_id.to_owned())),
                vec![
                    ("nfInstanceId", nf_instance_id.to_owned()),
                    ("nfType", nf_type.to_owned()),
                    ("targetNfType", target_nf_type.to_owned()),
                ],
            ),
        };
        Ok(Self {
            http,
            client: client.set_token_uri(url),
            scope,
            extra,
            cached: Mutex::new(None),
        })
    }

    /// A valid token; fetches one if none is cached or the cached one is due for refresh.
    /// Holding the lock while fetching makes concurrent callers wait for one fetch.
    pub async fn token(&self) -> Result<SecretString, SbiError> {
        let mut cached = self.cached.lock().await;
        if let Some((t, refresh_at)) = cached.as_ref()
            && Instant::now() < *refresh_at
        {
            return Ok(t.clone());
        }
        let mut req = self.client.exchange_client_credentials();
        if let Some(s) = &self.scope {
            req = req.add_scope(Scope::new(s.clone()));
        }
        for (name, value) in &self.extra {
            req = req.add_extra_param(*name, value.as_str());
        }
        let bridge = Bridge {
            http: self.http.clone(),
            status: AtomicU16::new(0),
        };
        let answer = req.request_async(&bridge).await;
        let status = bridge.status.load(Ordering::Relaxed);
        let body = answer.map_err(|e| match e {
            RequestTokenError::Request(e) => SbiError::unavailable("token endpoint unreachable", e),
            e if status == 200 || status == 0 => SbiError::unavailable("token endpoint sent a bad answer", e),
            _ if status >= 500 || status == 429 => SbiError::gave_up(format!("token endpoint answered {status}")),
            e => SbiError::Rejected {
                status,
                problem: None,
                message: format!("token endpoint refused the client ({status}): {e}"),
            },
        })?;
        let lifetime = body.expires_in().unwrap_or(Duration::from_secs(300));
        let token = SecretString::from(body.access_token().secret().to_owned());
        *cached = Some((token.clone(), Instant::now() + lifetime.mul_f64(0.8)));
        tracing::debug!(expires_in = lifetime.as_secs(), scope = ?self.scope, "access token fetched");
        Ok(token)
    }

    /// Forgets `stale` (after a 401), unless another caller already replaced it.
    pub async fn invalidate(&self, stale: &SecretString) {
        let mut cached = self.cached.lock().await;
        if cached
            .as_ref()
            .is_some_and(|(t, _)| t.expose_secret() == stale.expose_secret())
        {
            *cached = None;
        }
    }
}

/// `oauth2`'s HTTP client seam over reqwest; keeps the status it saw, which the crate's
/// errors do not carry (a 5xx is "try later", a 4xx a refusal).
struct Bridge {
    http: reqwest::Client,
    status: AtomicU16,
}

impl<'c> AsyncHttpClient<'c> for Bridge {
    type Error = reqwest::Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, reqwest::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let res = self.http.execute(reqwest::Request::try_from(request)?).await?;
            self.status.store(res.status().as_u16(), Ordering::Relaxed);
            let mut out = http::Response::builder().status(res.status());
            if let Some(h) = out.headers_mut() {
                h.extend(res.headers().iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            let body = res.bytes().await?.to_vec();
            // Status and headers come from a valid response, so building cannot fail; an
            // empty answer stands in if it ever did.
            Ok(out.body(body).unwrap_or_default())
        })
    }
}
