//! Who is calling: bearer JWT validation and the request context every handler extracts.
//!
//! The gateway verifies tokens against a key set. In development mode it generates its own
//! ES256 key at start, publishes it as a JWKS and mints tokens with [`DevIssuer`]; a real
//! identity provider plugs in through the same [`Authenticator`].

use crate::correlator::Correlator;
use crate::error::ApiError;
use crate::routes::ApiState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use booking::{Caller, Device, PhoneNumber};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};

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
    pub leeway_seconds: u64,
}

/// Verifies bearer tokens.
pub struct Authenticator {
    keys: HashMap<String, DecodingKey>,
    validation: Validation,
    settings: AuthSettings,
}

impl Authenticator {
    pub fn new(settings: AuthSettings, keys: HashMap<String, DecodingKey>, algorithms: Vec<Algorithm>) -> Self {
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

    /// Validates the token and builds the caller's context; any failure is a generic 401.
    pub fn authenticate(&self, token: &str) -> Result<(Caller, HashSet<String>), ApiError> {
        let fail = |why: &str| {
            tracing::debug!(reason = why, "token rejected");
            ApiError::unauthenticated("The access token is missing, invalid or expired")
        };
        let header = jsonwebtoken::decode_header(token).map_err(|_| fail("malformed header"))?;
        let key = match header.kid.as_deref() {
            Some(kid) => self.keys.get(kid),
            // Without a kid, a single configured key is unambiguous.
            None if self.keys.len() == 1 => self.keys.values().next(),
            None => None,
        }
        .ok_or_else(|| fail("unknown kid"))?;
        let data = jsonwebtoken::decode::<HashMap<String, Value>>(token, key, &self.validation)
            .map_err(|e| fail(&e.to_string()))?;
        let claims = data.claims;
        let client_id = claims
            .get(&self.settings.client_id_claim)
            .or_else(|| claims.get("azp"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| fail("no client id claim"))?
            .to_owned();
        let scopes = claims
            .get("scope")
            .and_then(Value::as_str)
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        let subject = claims
            .get(&self.settings.subject_claim)
            .and_then(Value::as_str)
            .and_then(|s| s.strip_prefix("tel:").map(|p| (s, p)))
            .map(|(s, p)| PhoneNumber::parse(p).map(|p| (s.to_owned(), Device::from_phone(p))))
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
        let x = self.jwk["x"].as_str().unwrap_or_default();
        let y = self.jwk["y"].as_str().unwrap_or_default();
        let key = DecodingKey::from_ec_components(x, y).map_err(|e| e.to_string())?;
        Ok(Authenticator::new(
            self.settings.clone(),
            HashMap::from([(self.kid.clone(), key)]),
            vec![Algorithm::ES256],
        ))
    }

    /// The public key as a JWKS document.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk] })
    }

    /// Signs a token with the given claims merged over `iss`, `aud`, `iat`, `exp`.
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
    correlator_valid: bool,
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

impl FromRequestParts<ApiState> for RequestContext {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let token = header
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::unauthenticated("A bearer access token is required"))?;
        let (caller, scopes) = state.auth.authenticate(token)?;
        let correlator_valid = !matches!(parts.extensions.get::<Correlator>(), Some(Correlator::Invalid));
        Ok(Self {
            caller,
            scopes,
            correlator_valid,
        })
    }
}
