//! OAuth2 client credentials toward a network function: one cached token, refreshed at 80 % of its
//! lifetime or after a 401, fetched by one caller at a time (single flight).

use crate::error::SbiError;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

pub struct TokenSource {
    http: reqwest::Client,
    token_url: String,
    client_id: String,
    client_secret: SecretString,
    scope: Option<String>,
    cached: Mutex<Option<(SecretString, Instant)>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl TokenSource {
    pub fn new(
        http: reqwest::Client,
        token_url: String,
        client_id: String,
        client_secret: SecretString,
        scope: Option<String>,
    ) -> Self {
        Self {
            http,
            token_url,
            client_id,
            client_secret,
            scope,
            cached: Mutex::new(None),
        }
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
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(s) = &self.scope {
            form.push(("scope", s));
        }
        let res = self
            .http
            .post(&self.token_url)
            .basic_auth(&self.client_id, Some(self.client_secret.expose_secret()))
            .form(&form)
            .send()
            .await
            .map_err(|e| SbiError::unavailable("token endpoint unreachable", e))?;
        let status = res.status();
        if !status.is_success() {
            return Err(if status.is_server_error() {
                SbiError::gave_up(format!("token endpoint answered {status}"))
            } else {
                SbiError::Rejected {
                    status: status.as_u16(),
                    problem: None,
                    message: format!("token endpoint refused the client: {status}"),
                }
            });
        }
        let body: TokenResponse = res
            .json()
            .await
            .map_err(|e| SbiError::unavailable("token endpoint sent a bad answer", e))?;
        let lifetime = Duration::from_secs(body.expires_in.unwrap_or(300));
        let token = SecretString::from(body.access_token);
        *cached = Some((token.clone(), Instant::now() + lifetime.mul_f64(0.8)));
        tracing::debug!(expires_in = lifetime.as_secs(), "access token fetched");
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
