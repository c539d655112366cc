//! One HTTP client toward one network function, with the retry rules every southbound keeps.
//!
//! GET and DELETE-like calls (`idempotent`) are retried (bounded, with backoff) on network
//! errors, 5xx and 429; a POST only where the producer certainly did not act on it: a refused
//! connection, 429 and 503 (honouring `Retry-After`), and once after a 401 with a fresh token
//! (from the `oauth` module: client credentials, or the NRF's access tokens).
//! 307/308 are followed with the same method and body. A timed-out POST is reported as
//! unavailable, never resent. `303 See Other` is an answer, not a redirect: the caller reads
//! its `Location` (N5: an equivalent app session already exists).

use crate::error::SbiError;
use crate::oauth::{Grant, TokenSource};
use crate::types::ProblemDetails;
use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::{Method, StatusCode, header};
use secrecy::{ExposeSecret, SecretString};
use std::num::NonZeroU32;
use std::time::Duration;
use tracing::{debug, warn};

#[derive(Debug, Clone)]
pub enum Auth {
    None,
    Basic {
        username: String,
        password: SecretString,
    },
    /// Client credentials with an id and secret (`client_secret_basic`).
    OAuth2 {
        token_url: String,
        client_id: String,
        client_secret: SecretString,
        scope: Option<String>,
    },
    /// Nnrf_AccessToken (TS 29.510 §5.4.2.2): a token from the NRF for one service (`scope`,
    /// e.g. `npcf-policyauthorization`) of one NF type; the NF is known by its TLS identity.
    Nrf {
        /// `{nrfApiRoot}/oauth2/token`.
        token_url: String,
        nf_instance_id: String,
        /// This NF's type (`AF`).
        nf_type: String,
        target_nf_type: String,
        scope: String,
    },
}

/// How to reach a producer and how hard to try.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    pub auth: Auth,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Retries after the first attempt, for the cases listed in the module doc.
    pub max_retries: u32,
    pub retry_base: Duration,
    /// Longest `Retry-After` honoured; longer waits count as unavailable.
    pub max_retry_after: Duration,
    /// Most requests per second (every attempt counts); 0: no limit. A request over the
    /// limit waits for its turn.
    pub max_requests_per_second: u32,
    /// HTTP/2 only (TS 29.500 §5.2 for SBI producers): h2c with prior knowledge on `http://`,
    /// ALPN `h2` on `https://`. Off: HTTP/1.1 (the NEF's northbound API).
    pub http2_only: bool,
    /// `User-Agent`; an SBI consumer's starts with its NF type (TS 29.500 §5.2.2: `AF-...`).
    pub user_agent: Option<String>,
    /// A client certificate and key (PEM) for mutual TLS.
    pub client_identity: Option<Vec<u8>>,
    /// Extra roots (PEM) to trust, beside the system's.
    pub root_certificates: Option<Vec<u8>>,
}

/// Adds the caller's trace context (W3C `traceparent`) to an outgoing request.
pub type Propagator = std::sync::Arc<dyn Fn(&mut header::HeaderMap) + Send + Sync>;

/// One body to send, and its media type.
pub struct Body {
    pub bytes: Bytes,
    pub content_type: &'static str,
}

impl Body {
    pub fn json(bytes: Vec<u8>) -> Self {
        Self {
            bytes: Bytes::from(bytes),
            content_type: "application/json",
        }
    }
}

pub struct Transport {
    http: reqwest::Client,
    cfg: TransportConfig,
    tokens: Option<TokenSource>,
    pace: Option<DefaultDirectRateLimiter>,
    propagator: Option<Propagator>,
}

impl Transport {
    pub fn new(cfg: TransportConfig) -> Result<Self, SbiError> {
        let mut b = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.request_timeout)
            // Redirects are followed by hand, to keep method, body and credentials.
            .redirect(reqwest::redirect::Policy::none());
        if cfg.http2_only {
            b = b.http2_prior_knowledge();
        }
        if let Some(ua) = &cfg.user_agent {
            b = b.user_agent(ua.clone());
        }
        if let Some(pem) = &cfg.root_certificates {
            for cert in reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| SbiError::unavailable("bad root certificates", e))?
            {
                b = b.add_root_certificate(cert);
            }
        }
        if let Some(pem) = &cfg.client_identity {
            b = b.identity(
                reqwest::Identity::from_pem(pem).map_err(|e| SbiError::unavailable("bad client certificate", e))?,
            );
        }
        let http = b
            .build()
            .map_err(|e| SbiError::unavailable("cannot build HTTP client", e))?;
        let tokens = match &cfg.auth {
            Auth::OAuth2 {
                token_url,
                client_id,
                client_secret,
                scope,
            } => Some(TokenSource::new(
                http.clone(),
                token_url,
                Grant::Secret {
                    client_id,
                    client_secret,
                },
                scope.clone(),
            )?),
            Auth::Nrf {
                token_url,
                nf_instance_id,
                nf_type,
                target_nf_type,
                scope,
            } => Some(TokenSource::new(
                http.clone(),
                token_url,
                Grant::Nrf {
                    nf_instance_id,
                    nf_type,
                    target_nf_type,
                },
                Some(scope.clone()),
            )?),
            Auth::None | Auth::Basic { .. } => None,
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

    fn backoff(&self, attempt: u32) -> Duration {
        (self.cfg.retry_base * 2u32.saturating_pow(attempt)).min(Duration::from_secs(10))
    }

    /// Sends with the module's retry rules: the answer (2xx or 303) and the URL that gave it.
    pub async fn send(
        &self,
        method: Method,
        mut url: String,
        body: Option<Body>,
        idempotent: bool,
    ) -> Result<(reqwest::Response, String), SbiError> {
        let mut attempt = 0u32;
        let mut redirects = 0u32;
        let mut refreshed = false;
        loop {
            let mut req = self
                .http
                .request(method.clone(), &url)
                .header(header::ACCEPT, "application/json, application/problem+json");
            if let Some(b) = &body {
                req = req.header(header::CONTENT_TYPE, b.content_type).body(b.bytes.clone());
            }
            if let Some(propagate) = &self.propagator {
                let mut trace = header::HeaderMap::new();
                propagate(&mut trace);
                req = req.headers(trace);
            }
            let mut token = None;
            match &self.cfg.auth {
                Auth::None => {}
                Auth::Basic { username, password } => req = req.basic_auth(username, Some(password.expose_secret())),
                Auth::OAuth2 { .. } | Auth::Nrf { .. } => {
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
                    // A refused connection never reached the producer, so even a POST may go again.
                    let safe = idempotent || e.is_connect();
                    if safe && attempt < self.cfg.max_retries {
                        debug!(%method, %url, error = %e, attempt, "request failed; retrying");
                        tokio::time::sleep(self.backoff(attempt)).await;
                        attempt += 1;
                        continue;
                    }
                    return Err(SbiError::unavailable(format!("{method} {url}"), e));
                }
            };
            let status = res.status();
            if status.is_success() || status == StatusCode::SEE_OTHER {
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
                        return Err(SbiError::gave_up(format!("{method} {url}: bad or too many redirects")));
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
                    warn!(%method, %url, http.status = status.as_u16(), attempt, "producer busy; retrying");
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
                // The first 200 characters (a byte cut could split one and panic).
                .unwrap_or_else(|| text.chars().take(200).collect());
            return Err(if status.is_client_error() {
                SbiError::Rejected {
                    status: status.as_u16(),
                    problem,
                    message,
                }
            } else {
                SbiError::Unavailable {
                    what: format!("{method} {url}: {status}: {message}"),
                    status: Some(status.as_u16()),
                    problem,
                    source: None,
                }
            });
        }
    }
}

/// A `Location` header, resolved against the URL that answered.
pub fn location(res: &reqwest::Response, answered: &str) -> Option<String> {
    let location = res.headers().get(header::LOCATION)?.to_str().ok()?;
    Some(
        url::Url::parse(answered)
            .and_then(|b| b.join(location))
            .map(|u| u.to_string())
            .unwrap_or_else(|_| location.to_owned()),
    )
}

/// `Retry-After` in seconds (the HTTP-date form is rare from producers and treated as absent).
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
