//! Access tokens for sinks protected with PRIVATE_KEY_JWT: the gateway authenticates to the
//! client's own authorization server with a JWT assertion signed by its key (RFC 7523, the
//! OAuth 2.0 client-credentials grant with `private_key_jwt` client authentication) and sends
//! the token it gets with each event. Where to ask and which key to sign with is the client's
//! onboarding record; tokens are kept until shortly before they expire.

use booking::{ClientBook, Clock, PrivateKeyJwt};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The record, its key or the authorization server's answer rules a token out: trying
    /// again will not help until the operator changes something.
    #[error("{0}")]
    Permanent(String),
    /// The authorization server could not be reached or failed: worth another try.
    #[error("{0}")]
    Transient(String),
}

#[derive(Serialize)]
struct Assertion<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    jti: String,
    iat: i64,
    exp: i64,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

/// Tokens per API client, fetched with the settings of its onboarding record.
pub struct PrivateKeyJwtTokens {
    http: reqwest::Client,
    clients: Arc<ClientBook>,
    clock: Arc<dyn Clock>,
    /// Per client, its own lock (concurrent deliveries of one client wait for one fetch; a
    /// slow authorization server holds up only its own client): the settings the token was
    /// fetched with, the token and when to fetch a new one.
    cached: std::sync::Mutex<HashMap<String, Arc<Mutex<Option<Cached>>>>>,
}

struct Cached {
    settings: PrivateKeyJwt,
    token: String,
    refresh_at: Instant,
}

/// The longest a token is kept, whatever `expires_in` says.
const MAX_LIFETIME: Duration = Duration::from_secs(86_400);

impl PrivateKeyJwtTokens {
    pub fn new(clients: Arc<ClientBook>, clock: Arc<dyn Clock>, timeout: Duration) -> Result<Self, reqwest::Error> {
        // The token endpoint comes from the operator's onboarding record, not from a request,
        // so it is not held to the sink policy; redirects are still not followed.
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            http,
            clients,
            clock,
            cached: std::sync::Mutex::default(),
        })
    }

    /// A valid token for the sinks of `client_id`.
    pub async fn token(&self, client_id: &str) -> Result<String, TokenError> {
        let settings = self
            .clients
            .get(client_id)
            .and_then(|r| r.private_key_jwt.clone())
            .ok_or_else(|| {
                TokenError::Permanent(format!(
                    "client {client_id} has no PRIVATE_KEY_JWT settings in its onboarding record"
                ))
            })?;
        let slot = self.slot(client_id);
        let mut cached = slot.lock().await;
        // A token fetched under other settings (the record changed) is not used.
        if let Some(c) = cached.as_ref()
            && c.settings == settings
            && Instant::now() < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        let (token, lifetime) = self.fetch(&settings).await?;
        // Fetched again at 80 % of its lifetime, so a delivery never carries one about to lapse.
        let refresh_at = Instant::now()
            .checked_add(lifetime.min(MAX_LIFETIME).mul_f64(0.8))
            .unwrap_or_else(Instant::now);
        *cached = Some(Cached {
            settings,
            token: token.clone(),
            refresh_at,
        });
        Ok(token)
    }

    fn slot(&self, client_id: &str) -> Arc<Mutex<Option<Cached>>> {
        let mut all = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = all.get(client_id) {
            return slot.clone();
        }
        // Clients whose record is gone are forgotten (when one is added, not on every call).
        all.retain(|id, _| self.clients.get(id).is_some());
        all.entry(client_id.to_owned()).or_default().clone()
    }

    /// Forgets the token of `client_id` (its sink answered 401: it may have been revoked).
    pub async fn invalidate(&self, client_id: &str) {
        let slot = self.slot(client_id);
        *slot.lock().await = None;
    }

    async fn fetch(&self, p: &PrivateKeyJwt) -> Result<(String, Duration), TokenError> {
        let assertion = assertion(p, self.clock.now().unix_timestamp())?;
        let mut form = vec![
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.as_str()),
        ];
        if let Some(scope) = &p.scope {
            form.push(("scope", scope));
        }
        let res = self
            .http
            .post(&p.token_endpoint)
            .form(&form)
            .send()
            .await
            .map_err(|e| TokenError::Transient(format!("token endpoint {} unreachable: {e}", p.token_endpoint)))?;
        let status = res.status();
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(TokenError::Transient(format!("token endpoint answered {status}")));
        }
        if !status.is_success() {
            return Err(TokenError::Permanent(format!(
                "token endpoint refused the assertion: {status}"
            )));
        }
        let body: TokenResponse = res
            .json()
            .await
            .map_err(|e| TokenError::Transient(format!("token endpoint sent a bad answer: {e}")))?;
        let lifetime = Duration::from_secs(body.expires_in.unwrap_or(300)).min(MAX_LIFETIME);
        Ok((body.access_token, lifetime))
    }
}

/// The signed client assertion of RFC 7523 section 3: issuer and subject the gateway's client
/// id, audience the token endpoint, a unique id, valid for two minutes.
fn assertion(p: &PrivateKeyJwt, now: i64) -> Result<String, TokenError> {
    let permanent = |why: String| TokenError::Permanent(why);
    let alg = Algorithm::from_str(&p.algorithm).map_err(|_| permanent(format!("unknown algorithm {}", p.algorithm)))?;
    let pem =
        std::fs::read(&p.key_file).map_err(|e| permanent(format!("cannot read the key file {}: {e}", p.key_file)))?;
    let key = match alg {
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => EncodingKey::from_rsa_pem(&pem),
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(&pem),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(&pem),
        _ => return Err(permanent(format!("{} cannot sign a client assertion", p.algorithm))),
    }
    .map_err(|e| {
        permanent(format!(
            "the key in {} is not a {} private key: {e}",
            p.key_file, p.algorithm
        ))
    })?;
    let mut header = Header::new(alg);
    header.kid.clone_from(&p.key_id);
    let claims = Assertion {
        iss: &p.client_id,
        sub: &p.client_id,
        aud: &p.token_endpoint,
        jti: uuid::Uuid::new_v4().to_string(),
        iat: now,
        exp: now + 120,
    };
    jsonwebtoken::encode(&header, &claims, &key).map_err(|e| permanent(format!("cannot sign the assertion: {e}")))
}
