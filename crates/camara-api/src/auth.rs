//! Who is calling: bearer JWT validation and the request context every handler extracts.
//!
//! The gateway verifies tokens against the identity provider's public keys ([`KeyStore`]:
//! a JWKS URL, an OpenID discovery URL or a JWKS file; refetched on an unknown `kid` at most
//! once a minute), with fixed asymmetric algorithms, `iss`, `aud`, `exp` and `nbf`. In
//! development mode it generates its own ES256 key at start, publishes it as a JWKS and mints
//! tokens with [`DevIssuer`].

use crate::error::ApiError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use booking::{Caller, Device, PhoneNumber};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::RwLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The CAMARA scopes of the four operations.
pub mod scopes {
    pub const CREATE: &str = "qos-booking:device-qos-bookings:create";
    pub const READ: &str = "qos-booking:device-qos-bookings:read";
    pub const DELETE: &str = "qos-booking:device-qos-bookings:delete";
    pub const RETRIEVE: &str = "qos-booking:device-qos-bookings:retrieve-by-device";
    pub const ALL: [&str; 4] = [CREATE, READ, DELETE, RETRIEVE];
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSettings {
    pub issuer: String,
    pub audience: String,
    /// Claim naming the API client; `azp` is used when it is absent.
    pub client_id_claim: String,
    /// Claim naming the subject; a value `tel:+<E.164>` makes the token 3-legged.
    pub subject_claim: String,
    /// Optional claim holding the subject's phone number directly (3-legged when present).
    pub phone_number_claim: Option<String>,
    pub leeway_seconds: u64,
    /// Accepted signature algorithms (asymmetric only: RS256, ES256, PS256, ...).
    pub algorithms: Vec<Algorithm>,
}

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

/// Verifies bearer tokens.
pub struct Authenticator {
    keys: KeyStore,
    validation: Validation,
    settings: AuthSettings,
}

impl Authenticator {
    pub fn new(settings: AuthSettings, keys: KeyStore) -> Self {
        // Symmetric algorithms are never allowed: a public key must not become an HMAC secret.
        let algorithms: Vec<Algorithm> = settings
            .algorithms
            .iter()
            .copied()
            .filter(|a| !matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
            .collect();
        let mut validation = Validation::new(algorithms.first().copied().unwrap_or(Algorithm::ES256));
        validation.algorithms = algorithms;
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = settings.leeway_seconds;
        Self {
            keys,
            validation,
            settings,
        }
    }

    /// Loads the keys at start; failures are logged, and retried on the first token.
    pub async fn warm_up(&self) {
        if let Err(e) = self.keys.refresh().await {
            tracing::warn!(error = %e, "identity provider keys not loaded yet");
        }
    }

    /// Validates the token and builds the caller's context; any failure is a generic 401.
    pub async fn authenticate(&self, token: &str) -> Result<(Caller, HashSet<String>), ApiError> {
        let fail = |why: &str| {
            tracing::debug!(reason = why, "token rejected");
            ApiError::unauthenticated("The access token is missing, invalid or expired")
        };
        let header = jsonwebtoken::decode_header(token).map_err(|_| fail("malformed header"))?;
        if !self.validation.algorithms.contains(&header.alg) {
            return Err(fail("algorithm not allowed"));
        }
        let (key, key_alg) = self
            .keys
            .key(header.kid.as_deref())
            .await
            .ok_or_else(|| fail("unknown kid"))?;
        if key_alg.is_some_and(|a| a != header.alg) {
            return Err(fail("algorithm differs from the key's"));
        }
        // jsonwebtoken wants every listed algorithm to fit the key: validate with the one
        // algorithm of this token, already checked against the allowed list and the key.
        let mut validation = self.validation.clone();
        validation.algorithms = vec![header.alg];
        let data = jsonwebtoken::decode::<HashMap<String, Value>>(token, &key, &validation)
            .map_err(|e| fail(&e.to_string()))?;
        let claims = data.claims;
        let text = |name: &str| claims.get(name).and_then(Value::as_str).filter(|s| !s.is_empty());
        let client_id = text(&self.settings.client_id_claim)
            .or_else(|| text("azp"))
            .ok_or_else(|| fail("no client id claim"))?
            .to_owned();
        let scopes = claims
            .get("scope")
            .and_then(Value::as_str)
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        let from_phone_claim = self
            .settings
            .phone_number_claim
            .as_ref()
            .and_then(|c| claims.get(c))
            .and_then(Value::as_str)
            .map(|p| (format!("tel:{p}"), p.to_owned()));
        let from_subject = claims
            .get(&self.settings.subject_claim)
            .and_then(Value::as_str)
            .and_then(|s| s.strip_prefix("tel:").map(|p| (s.to_owned(), p.to_owned())));
        let subject = from_phone_claim
            .or(from_subject)
            .map(|(sub, phone)| PhoneNumber::parse(&phone).map(|p| (sub, Device::from_phone(p))))
            .transpose()
            .map_err(|_| fail("subject is not a valid phone number"))?;
        Ok((Caller { client_id, subject }, scopes))
    }
}

/// Development-only token issuer: an ES256 key generated at start.
pub struct DevIssuer {
    kid: String,
    encoding: EncodingKey,
    jwk: Value,
    settings: AuthSettings,
}

impl DevIssuer {
    pub fn generate(settings: AuthSettings) -> Result<Self, String> {
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
        let alg = &ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &SystemRandom::new()).map_err(|e| e.to_string())?;
        let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref()).map_err(|e| e.to_string())?;
        // Uncompressed SEC1 point: 0x04 || x (32 bytes) || y (32 bytes).
        let point = pair.public_key().as_ref();
        if point.len() != 65 {
            return Err("unexpected EC public key length".into());
        }
        let x = URL_SAFE_NO_PAD.encode(&point[1..33]);
        let y = URL_SAFE_NO_PAD.encode(&point[33..]);
        let kid = format!("dev-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let jwk = json!({"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid, "x": x, "y": y});
        Ok(Self {
            kid,
            encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
            jwk,
            settings,
        })
    }

    /// The authenticator that accepts this issuer's tokens.
    pub fn authenticator(&self) -> Result<Authenticator, String> {
        let set: JwkSet = serde_json::from_value(self.jwks()).map_err(|e| e.to_string())?;
        let keys = KeyStore::new(KeySource::Static(set), Duration::from_secs(60))?;
        let mut settings = self.settings.clone();
        settings.algorithms = vec![Algorithm::ES256];
        Ok(Authenticator::new(settings, keys))
    }

    /// The public key as a JWKS document.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk] })
    }

    /// Signs a token with the given claims merged over `iss`, `aud`, `iat`, `exp`.
    #[allow(
        clippy::disallowed_methods,
        reason = "token times are checked by the verifier against the system clock, not the booking Clock"
    )]
    pub fn sign(&self, extra: Value, ttl_seconds: u64) -> Result<String, String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs();
        let mut claims =
            json!({"iss": self.settings.issuer, "aud": self.settings.audience, "iat": now, "exp": now + ttl_seconds});
        if let (Some(c), Value::Object(extra)) = (claims.as_object_mut(), extra) {
            c.extend(extra);
        }
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding).map_err(|e| e.to_string())
    }

    /// A token for `client_id` with the given scopes and, for a 3-legged token, a subject.
    pub fn mint(
        &self,
        client_id: &str,
        scopes: &[&str],
        subject: Option<&str>,
        ttl_seconds: u64,
    ) -> Result<String, String> {
        let mut claims = json!({"client_id": client_id, "scope": scopes.join(" ")});
        claims["sub"] = json!(subject.unwrap_or(client_id));
        self.sign(claims, ttl_seconds)
    }
}

/// The authenticated context of one request: the caller and its granted scopes. Every
/// handler extracts it; a missing or bad token is a 401 before anything else is looked at.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub caller: Caller,
    pub scopes: HashSet<String>,
    pub(crate) correlator_valid: bool,
}

impl RequestContext {
    /// Scope check (403), then the x-correlator syntax check (400), in CAMARA's order.
    pub fn require(&self, scope: &str) -> Result<(), ApiError> {
        if !self.scopes.contains(scope) {
            return Err(ApiError::permission_denied(format!(
                "The access token lacks the scope '{scope}'"
            )));
        }
        if !self.correlator_valid {
            return Err(ApiError::invalid_argument(
                "x-correlator must match ^[a-zA-Z0-9-_:;.\\/<>{}]{0,256}$",
            ));
        }
        Ok(())
    }
}
