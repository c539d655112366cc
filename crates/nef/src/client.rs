//! The HTTP client of the AsSessionWithQoS resources.
//!
//! Retry rules: GET and DELETE are retried (bounded, with backoff) on network errors, 5xx and
//! 429; POST only where the NEF certainly did not act on it: a refused connection, 429 and
//! 503 (honouring `Retry-After`), and once after a 401 with a fresh token. 307/308 are followed
//! with the same method and body. A timed-out POST is reported as unavailable, never resent.

use crate::error::NefError;
use crate::oauth::TokenSource;
use crate::types::{AsSessionWithQoSSubscription, ProblemDetails};
use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::{Method, StatusCode, header};
use secrecy::{ExposeSecret, SecretString};
use std::num::NonZeroU32;
use std::time::Duration;
use tracing::{debug, warn};

#[derive(Debug, Clone)]
pub enum NefAuth {
    None,
    Basic {
        username: String,
        password: SecretString,
    },
    OAuth2 {
        token_url: String,
        client_id: String,
        client_secret: SecretString,
        scope: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct NefClientConfig {
    /// `{apiRoot}`, e.g. `https://nef.example.net`.
    pub api_root: String,
    /// The AF identifier the operator assigned to this gateway.
    pub scs_as_id: String,
    pub auth: NefAuth,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Retries after the first attempt, for the cases listed in the module doc.
    pub max_retries: u32,
    pub retry_base: Duration,
    /// Longest `Retry-After` honoured; longer waits count as unavailable.
    pub max_retry_after: Duration,
    /// Most requests per second sent to the NEF (every attempt counts); 0: no limit. A
    /// request over the limit waits for its turn.
    pub max_requests_per_second: u32,
}

/// A created subscription: its URI from `Location` (kept whole) and the NEF's body.
#[derive(Debug, Clone)]
pub struct Created {
    pub location: String,
    pub subscription: AsSessionWithQoSSubscription,
}

/// Adds the caller's trace context (W3C `traceparent`) to an outgoing request.
pub type Propagator = std::sync::Arc<dyn Fn(&mut header::HeaderMap) + Send + Sync>;

pub struct NefClient {
    http: reqwest::Client,
    cfg: NefClientConfig,
    tokens: Option<TokenSource>,
    pace: Option<DefaultDirectRateLimiter>,
    propagator: Option<Propagator>,
}

impl NefClient {
    pub fn new(cfg: NefClientConfig) -> Result<Self, NefError> {
        let http = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.request_timeout)
            // Redirects are followed by hand, to keep method, body and credentials.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| NefError::unavailable("cannot build HTTP client", e))?;
        let tokens = match &cfg.auth {
            NefAuth::OAuth2 {
                token_url,
                client_id,
                client_secret,
                scope,
            } => Some(TokenSource::new(
                http.clone(),
                token_url.clone(),
                client_id.clone(),
                client_secret.clone(),
                scope.clone(),
            )),
            _ => None,
        };
        // A burst of one: requests leave evenly spaced, never in a clump.
        let pace = NonZeroU32::new(cfg.max_requests_per_second)
            .map(|n| RateLimiter::direct(Quota::per_second(n).allow_burst(NonZeroU32::MIN)));
        Ok(Self {
            http,
            cfg,
            tokens,
            pace,
            propagator: None,
        })
    }

    /// Every request (each attempt) carries the trace context `propagator` adds.
    pub fn with_propagator(mut self, propagator: Propagator) -> Self {
        self.propagator = Some(propagator);
        self
    }

    pub fn collection_url(&self) -> String {
        format!(
            "{}/3gpp-as-session-with-qos/v1/{}/subscriptions",
            self.cfg.api_root.trim_end_matches('/'),
            self.cfg.scs_as_id
        )
    }

    /// POST a new subscription.
    pub async fn create(&self, sub: &AsSessionWithQoSSubscription) -> Result<Created, NefError> {
        let body = serde_json::to_vec(sub).map_err(|e| NefError::unavailable("cannot encode the subscription", e))?;
        let (res, final_url) = self
            .send(Method::POST, self.collection_url(), Some(Bytes::from(body)), false)
            .await?;
        let location = res
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| NefError::gave_up("201 without a Location header"))?;
        // A relative Location is resolved against the URL that answered.
        let location = url::Url::parse(&final_url)
            .and_then(|b| b.join(&location))
            .map(|u| u.to_string())
            .unwrap_or(location);
        let subscription = res.json().await.unwrap_or_else(|_| sub.clone());
        Ok(Created { location, subscription })
    }

    /// GET one subscription by its URI; `None` when the NEF no longer has it.
    pub async fn get(&self, location: &str) -> Result<Option<AsSessionWithQoSSubscription>, NefError> {
        match self.send(Method::GET, location.to_owned(), None, true).await {
            Ok((res, _)) => res
                .json()
                .await
                .map(Some)
                .map_err(|e| NefError::unavailable("bad GET answer", e)),
            Err(NefError::Rejected { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// GET the collection: every subscription of this AF.
    pub async fn list(&self) -> Result<Vec<AsSessionWithQoSSubscription>, NefError> {
        let (res, _) = self.send(Method::GET, self.collection_url(), None, true).await?;
        res.json()
            .await
            .map_err(|e| NefError::unavailable("bad list answer", e))
    }

    /// DELETE by URI; a 404 means it is already gone, which is success.
    pub async fn delete(&self, location: &str) -> Result<(), NefError> {
        match self.send(Method::DELETE, location.to_owned(), None, true).await {
            Ok(_) | Err(NefError::Rejected { status: 404, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        (self.cfg.retry_base * 2u32.saturating_pow(attempt)).min(Duration::from_secs(10))
    }

    async fn send(
        &self,
        method: Method,
        mut url: String,
        body: Option<Bytes>,
        idempotent: bool,
    ) -> Result<(reqwest::Response, String), NefError> {
        let mut attempt = 0u32;
        let mut redirects = 0u32;
        let mut refreshed = false;
        loop {
            let mut req = self
                .http
                .request(method.clone(), &url)
                .header(header::ACCEPT, "application/json");
            if let Some(b) = &body {
                req = req.header(header::CONTENT_TYPE, "application/json").body(b.clone());
            }
            if let Some(propagate) = &self.propagator {
                let mut trace = header::HeaderMap::new();
                propagate(&mut trace);
                req = req.headers(trace);
            }
            let mut token = None;
            match &self.cfg.auth {
                NefAuth::None => {}
                NefAuth::Basic { username, password } => req = req.basic_auth(username, Some(password.expose_secret())),
                NefAuth::OAuth2 { .. } => {
                    if let Some(ts) = &self.tokens {
                        let t = ts.token().await?;
                        req = req.bearer_auth(t.expose_secret());
                        token = Some(t);
                    }
                }
            }
            if let Some(pace) = &self.pace {
                pace.until_ready().await;
            }
            let res = match req.send().await {
                Ok(res) => res,
                Err(e) => {
                    // A refused connection never reached the NEF, so even a POST may go again.
                    let safe = idempotent || e.is_connect();
                    if safe && attempt < self.cfg.max_retries {
                        debug!(%method, %url, error = %e, attempt, "NEF request failed; retrying");
                        tokio::time::sleep(self.backoff(attempt)).await;
                        attempt += 1;
                        continue;
                    }
                    return Err(NefError::unavailable(format!("{method} {url}"), e));
                }
            };
            let status = res.status();
            if status.is_success() {
                return Ok((res, url));
            }
            if status == StatusCode::TEMPORARY_REDIRECT || status == StatusCode::PERMANENT_REDIRECT {
                let target = res.headers().get(header::LOCATION).and_then(|v| v.to_str().ok());
                let next = target.and_then(|t| url::Url::parse(&url).and_then(|b| b.join(t)).ok());
                match next {
                    Some(next) if redirects < 5 => {
                        redirects += 1;
                        url = next.to_string();
                        continue;
                    }
                    _ => {
                        return Err(NefError::gave_up(format!("{method} {url}: bad or too many redirects")));
                    }
                }
            }
            if status == StatusCode::UNAUTHORIZED
                && let (Some(ts), Some(t), false) = (&self.tokens, &token, refreshed)
            {
                ts.invalidate(t).await;
                refreshed = true;
                continue;
            }
            let overload = status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE;
            if (overload || (idempotent && status.is_server_error())) && attempt < self.cfg.max_retries {
                let wait = retry_after(&res).unwrap_or_else(|| self.backoff(attempt));
                if wait <= self.cfg.max_retry_after {
                    warn!(%method, %url, http.status = status.as_u16(), attempt, "NEF busy; retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                    continue;
                }
            }
            let text = res.text().await.unwrap_or_default();
            let problem: Option<Box<ProblemDetails>> = serde_json::from_str(&text).ok();
            let message = problem
                .as_deref()
                .map(ProblemDetails::summary)
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| {
                    let mut t = text.clone();
                    t.truncate(200);
                    t
                });
            return Err(if status.is_client_error() {
                NefError::Rejected {
                    status: status.as_u16(),
                    problem,
                    message,
                }
            } else {
                NefError::gave_up(format!("{method} {url}: {status}: {message}"))
            });
        }
    }
}

/// `Retry-After` in seconds (the HTTP-date form is rare from NEFs and treated as absent).
fn retry_after(res: &reqwest::Response) -> Option<Duration> {
    res.headers()
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}
