//! The identity provider's public keys: where they come from, and a cache of them by `kid`
//! that is fetched again (rate-limited) when a token names an unknown key.

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Where the identity provider's public keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A fixed key set (development mode).
    Static(JwkSet),
    /// A JWKS document at a URL.
    JwksUrl(String),
    /// An OpenID Connect discovery document whose `jwks_uri` names the JWKS.
    Discovery(String),
    /// A JWKS file (re-read like a URL).
    File(std::path::PathBuf),
}

/// Public keys by `kid`, fetched from the source and fetched again, at most once per
/// `min_refetch`, when a token names a key not in the cache (key rotation).
pub struct KeyStore {
    source: KeySource,
    http: reqwest::Client,
    min_refetch: Duration,
    keys: RwLock<HashMap<String, (DecodingKey, Option<Algorithm>)>>,
    /// Keys without a `kid`: usable only when they are the only key.
    anonymous: RwLock<Vec<(DecodingKey, Option<Algorithm>)>>,
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
    /// Bumped whenever the installed key set changes: verified tokens cached under an older
    /// generation are verified again (a key may have left the set).
    pub(super) generation: AtomicU64,
    installed: std::sync::Mutex<String>,
}

fn jwk_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    jwk.common.key_algorithm.and_then(|a| a.to_string().parse().ok())
}

impl KeyStore {
    pub fn new(source: KeySource, min_refetch: Duration) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(3))
            .build()
            .map_err(|e| e.to_string())?;
        let store = Self {
            source,
            http,
            min_refetch,
            keys: RwLock::default(),
            anonymous: RwLock::default(),
            last_fetch: tokio::sync::Mutex::new(None),
            generation: AtomicU64::new(0),
            installed: std::sync::Mutex::default(),
        };
        if let KeySource::Static(set) = &store.source {
            store.install(set.clone());
        }
        Ok(store)
    }

    fn install(&self, set: JwkSet) {
        let mut keys = HashMap::new();
        let mut anonymous = Vec::new();
        for jwk in &set.keys {
            // Only signature keys; an `oct` (shared secret) key is never accepted.
            if matches!(jwk.algorithm, jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_)) {
                continue;
            }
            let Ok(key) = DecodingKey::from_jwk(jwk) else { continue };
            match &jwk.common.key_id {
                Some(kid) => {
                    keys.insert(kid.clone(), (key, jwk_algorithm(jwk)));
                }
                None => anonymous.push((key, jwk_algorithm(jwk))),
            }
        }
        tracing::info!(keys = keys.len() + anonymous.len(), "identity provider keys loaded");
        let text = serde_json::to_string(&set).unwrap_or_default();
        let mut installed = self.installed.lock().unwrap_or_else(|p| p.into_inner());
        if *installed != text {
            *installed = text;
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = keys;
        *self.anonymous.write().unwrap_or_else(|p| p.into_inner()) = anonymous;
    }

    async fn fetch(&self) -> Result<JwkSet, String> {
        let get = |url: String| async move {
            let res = self.http.get(&url).send().await.map_err(|e| format!("{url}: {e}"))?;
            if !res.status().is_success() {
                return Err(format!("{url}: HTTP {}", res.status()));
            }
            res.json::<Value>().await.map_err(|e| format!("{url}: {e}"))
        };
        let doc = match &self.source {
            KeySource::Static(set) => return Ok(set.clone()),
            KeySource::JwksUrl(url) => get(url.clone()).await?,
            KeySource::Discovery(url) => {
                let d = get(url.clone()).await?;
                let jwks = d["jwks_uri"]
                    .as_str()
                    .ok_or_else(|| format!("{url}: no jwks_uri"))?
                    .to_owned();
                get(jwks).await?
            }
            KeySource::File(path) => {
                let text = tokio::fs::read_to_string(path)
                    .await
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
            }
        };
        serde_json::from_value(doc).map_err(|e| format!("not a JWKS: {e}"))
    }

    /// Fetches the key set now unless that was done less than `min_refetch` ago.
    pub async fn refresh(&self) -> Result<(), String> {
        let mut last = self.last_fetch.lock().await;
        if last.is_some_and(|t| t.elapsed() < self.min_refetch) {
            return Ok(());
        }
        *last = Some(Instant::now());
        let set = self.fetch().await?;
        self.install(set);
        Ok(())
    }

    fn lookup(&self, kid: Option<&str>) -> Option<(DecodingKey, Option<Algorithm>)> {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        match kid {
            Some(kid) => keys.get(kid).cloned(),
            None => {
                let anonymous = self.anonymous.read().unwrap_or_else(|p| p.into_inner());
                match (keys.len(), anonymous.len()) {
                    (1, 0) => keys.values().next().cloned(),
                    (0, 1) => anonymous.first().cloned(),
                    _ => None,
                }
            }
        }
    }

    /// The key for `kid`; an unknown `kid` triggers a (rate-limited) refetch.
    pub async fn key(&self, kid: Option<&str>) -> Option<(DecodingKey, Option<Algorithm>)> {
        if let Some(k) = self.lookup(kid) {
            return Some(k);
        }
        if let Err(e) = self.refresh().await {
            tracing::warn!(error = %e, "could not fetch the identity provider's keys");
        }
        self.lookup(kid)
    }
}
