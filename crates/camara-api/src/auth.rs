//! Who is calling: bearer JWT validation and the request context every handler extracts.
//!
//! The gateway verifies tokens against the identity provider's public keys ([`KeyStore`]:
//! a JWKS URL, an OpenID discovery URL or a JWKS file; refetched on an unknown `kid` at most
//! once a minute), with fixed asymmetric algorithms, `iss`, `aud`, `exp` and `nbf`. In
//! development mode it generates its own ES256 key at start, publishes it as a JWKS and mints
//! tokens with [`DevIssuer`].

mod keys;

pub use keys::{KeySource, KeyStore};

use crate::error::ApiError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use booking::{Caller, Device, DeviceResolver, PhoneNumber, Rejection, RejectionKind};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey, Header, Validation};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The CAMARA scopes of the four operations.
pub mod scopes {
    pub const CREATE: &str = "qos-booking:device-qos-bookings:create";
    pub const READ: &str = "qos-booking:device-qos-bookings:read";
    pub const DELETE: &str = "qos-booking:device-qos-bookings:delete";
    pub const RETRIEVE: &str = "qos-booking:device-qos-bookings:retrieve-by-device";
    /// The QoS Profiles API.
    pub const PROFILES_READ: &str = "qos-profiles:read";
    /// The QoS Booking and Assignment API.
    pub const BA_CREATE: &str = "qos-booking-and-assignment:qos-bookings:create";
    pub const BA_READ: &str = "qos-booking-and-assignment:qos-bookings:read";
    pub const BA_DELETE: &str = "qos-booking-and-assignment:qos-bookings:delete";
    pub const BA_DEVICES_CREATE: &str = "qos-booking-and-assignment:qos-bookings:devices:create";
    pub const BA_DEVICES_READ: &str = "qos-booking-and-assignment:qos-bookings:devices:read";
    pub const BA_DEVICES_DELETE: &str = "qos-booking-and-assignment:qos-bookings:devices:delete";
    pub const BA_RETRIEVE: &str = "qos-booking-and-assignment:qos-bookings:retrieve-by-device";
    pub const ALL: [&str; 12] = [
        CREATE,
        READ,
        DELETE,
        RETRIEVE,
        PROFILES_READ,
        BA_CREATE,
        BA_READ,
        BA_DELETE,
        BA_DEVICES_CREATE,
        BA_DEVICES_READ,
        BA_DEVICES_DELETE,
        BA_RETRIEVE,
    ];
}

/// Which subjects a 3-legged token may carry: `tel:+<E.164>` (a phone number),
/// `ipport:<IPv4>[:port]` or `ipport:[<IPv6>][:port]` (an address), `operatortoken:<token>`
/// (a GSMA TS.43 token the device resolver turns into a device).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubjectForms {
    pub tel: bool,
    pub ipport: bool,
    pub operator_token: bool,
}

impl Default for SubjectForms {
    fn default() -> Self {
        Self {
            tel: true,
            ipport: true,
            operator_token: true,
        }
    }
}

/// A token subject naming a device, as read from the token.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Subject {
    Device(Device),
    OperatorToken(String),
}

/// The device a subject claim names, if it is one of the allowed forms; `Err` when it has the
/// form but is not valid (a 401: the token is not usable).
fn subject_of(sub: &str, forms: SubjectForms) -> Result<Option<Subject>, &'static str> {
    // A subject of a known form that is not enabled is refused, not taken as 2-legged (that
    // would give a user's token the client's reach).
    let disabled = (sub.starts_with("tel:") && !forms.tel)
        || (sub.starts_with("ipport:") && !forms.ipport)
        || (sub.starts_with("operatortoken:") && !forms.operator_token);
    if disabled {
        return Err("subject form not enabled");
    }
    if let Some(phone) = sub.strip_prefix("tel:").filter(|_| forms.tel) {
        return PhoneNumber::parse(phone)
            .map(|p| Some(Subject::Device(Device::from_phone(p))))
            .map_err(|_| "subject is not a valid phone number");
    }
    if let Some(addr) = sub.strip_prefix("ipport:").filter(|_| forms.ipport) {
        return ipport(addr)
            .map(|d| Some(Subject::Device(d)))
            .ok_or("subject is not a valid ipport");
    }
    if let Some(token) = sub.strip_prefix("operatortoken:").filter(|_| forms.operator_token) {
        if token.is_empty() {
            return Err("subject has an empty operator token");
        }
        return Ok(Some(Subject::OperatorToken(token.to_owned())));
    }
    Ok(None)
}

/// `80.90.34.2`, `80.90.34.2:16790`, `[2001:db8::1]` or `[2001:db8::1]:8080` as a device.
fn ipport(s: &str) -> Option<Device> {
    if let Some(rest) = s.strip_prefix('[') {
        let (addr, port) = rest.split_once(']')?;
        let v6: std::net::Ipv6Addr = addr.parse().ok()?;
        if !(port.is_empty() || port.strip_prefix(':')?.parse::<u16>().is_ok()) {
            return None;
        }
        return Some(Device {
            ipv6_address: Some(v6),
            ..Device::default()
        });
    }
    let (addr, port) = match s.split_once(':') {
        Some((a, p)) => (a, Some(p.parse::<u16>().ok()?)),
        None => (s, None),
    };
    Some(Device {
        ipv4_address: Some(booking::DeviceIpv4 {
            public_address: addr.parse().ok()?,
            private_address: None,
            public_port: port,
        }),
        ..Device::default()
    })
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
    /// The forms of subject that make a token 3-legged (CAMARA's `login_hint` forms).
    pub subject_forms: SubjectForms,
    pub leeway_seconds: u64,
    /// Accepted signature algorithms (asymmetric only: RS256, ES256, PS256, ...).
    pub algorithms: Vec<Algorithm>,
}

/// A token verified earlier: what it grants, until when, under which key set.
struct Verified {
    caller: Caller,
    /// Shared with every request of the token: a hit clones a pointer, not a dozen strings.
    scopes: Arc<HashSet<String>>,
    /// The token's `exp` (seconds since the epoch): the entry is never used from then on.
    exp: u64,
    generation: u64,
}

/// Most verified tokens kept (about 300 bytes each).
const CACHE_MAX: usize = 10_000;

/// Verifies bearer tokens, keeping those verified in a bounded cache keyed by a SHA-256 of the
/// whole token: a repeated token skips the signature check until its `exp` or until the
/// key set changes. A failed verification is never cached.
pub struct Authenticator {
    keys: KeyStore,
    validation: Validation,
    settings: AuthSettings,
    verified: std::sync::Mutex<HashMap<[u8; 32], Verified>>,
    /// Told the reason code of every refused token (for the operator's metrics).
    rejections: Option<Rejections>,
    /// Turns operator tokens into devices.
    resolver: Option<Arc<dyn DeviceResolver>>,
}

/// A hook told the reason code of every refused token.
pub type Rejections = std::sync::Arc<dyn Fn(&'static str) + Send + Sync>;

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
            verified: std::sync::Mutex::default(),
            rejections: None,
            resolver: None,
        }
    }

    /// Resolves `operatortoken:` subjects with `resolver` (without one they are refused).
    pub fn with_resolver(mut self, resolver: Arc<dyn DeviceResolver>) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// Tells `hook` the reason code of every refused token (`malformed`, `algorithm`,
    /// `unknown_key`, `expired`, `not_yet_valid`, `signature`, `claims`, `invalid`).
    pub fn with_rejections(mut self, hook: Rejections) -> Self {
        self.rejections = Some(hook);
        self
    }

    fn cached(&self, digest: &[u8; 32], now: u64) -> Option<(Caller, Arc<HashSet<String>>)> {
        let generation = self.keys.generation.load(Ordering::SeqCst);
        let cache = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(digest)
            .filter(|v| now < v.exp && v.generation == generation)
            .map(|v| (v.caller.clone(), v.scopes.clone()))
    }

    fn remember(&self, digest: [u8; 32], v: Verified, now: u64) {
        let mut cache = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_MAX {
            let generation = self.keys.generation.load(Ordering::SeqCst);
            cache.retain(|_, v| now < v.exp && v.generation == generation);
            if cache.len() >= CACHE_MAX {
                cache.clear();
            }
        }
        cache.insert(digest, v);
    }

    /// Loads the keys at start; failures are logged, and retried on the first token.
    pub async fn warm_up(&self) {
        if let Err(e) = self.keys.refresh().await {
            tracing::warn!(error = %e, "identity provider keys not loaded yet");
        }
    }

    /// Validates the token and builds the caller's context; any failure is a generic 401.
    pub async fn authenticate(&self, token: &str) -> Result<(Caller, Arc<HashSet<String>>), ApiError> {
        // `why` is a fixed reason code (for metrics); the detail goes to the debug log.
        let fail = |why: &'static str, detail: &str| {
            tracing::debug!(reason = why, detail, "token rejected");
            if let Some(hook) = &self.rejections {
                hook(why);
            }
            ApiError::unauthenticated("The access token is missing, invalid or expired")
        };
        let now = jsonwebtoken::get_current_timestamp();
        let mut digest = [0u8; 32];
        digest.copy_from_slice(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes()).as_ref());
        if let Some(hit) = self.cached(&digest, now) {
            return Ok(hit);
        }
        // The key set this verification is made under (read before the key is looked up).
        let generation = self.keys.generation.load(Ordering::SeqCst);
        let header = jsonwebtoken::decode_header(token).map_err(|e| fail("malformed", &e.to_string()))?;
        if !self.validation.algorithms.contains(&header.alg) {
            return Err(fail("algorithm", "algorithm not allowed"));
        }
        let (key, key_alg) = self
            .keys
            .key(header.kid.as_deref())
            .await
            .ok_or_else(|| fail("unknown_key", "unknown kid"))?;
        if key_alg.is_some_and(|a| a != header.alg) {
            return Err(fail("algorithm", "algorithm differs from the key's"));
        }
        // jsonwebtoken wants every listed algorithm to fit the key: validate with the one
        // algorithm of this token, already checked against the allowed list and the key.
        let mut validation = self.validation.clone();
        validation.algorithms = vec![header.alg];
        let data = jsonwebtoken::decode::<HashMap<String, Value>>(token, &key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            let why = match e.kind() {
                K::ExpiredSignature => "expired",
                K::ImmatureSignature => "not_yet_valid",
                K::InvalidSignature => "signature",
                K::InvalidIssuer | K::InvalidAudience | K::MissingRequiredClaim(_) => "claims",
                _ => "invalid",
            };
            fail(why, &e.to_string())
        })?;
        let claims = data.claims;
        let text = |name: &str| claims.get(name).and_then(Value::as_str).filter(|s| !s.is_empty());
        let client_id = text(&self.settings.client_id_claim)
            .or_else(|| text("azp"))
            .ok_or_else(|| fail("claims", "no client id claim"))?
            .to_owned();
        let scopes: Arc<HashSet<String>> = Arc::new(
            claims
                .get("scope")
                .and_then(Value::as_str)
                .map(|s| s.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default(),
        );
        let from_phone_claim = self
            .settings
            .phone_number_claim
            .as_ref()
            .and_then(|c| claims.get(c))
            .and_then(Value::as_str)
            .map(|p| (format!("tel:{p}"), p.to_owned()));
        let from_phone_claim = from_phone_claim
            .map(|(sub, phone)| PhoneNumber::parse(&phone).map(|p| (sub, Subject::Device(Device::from_phone(p)))))
            .transpose()
            .map_err(|_| fail("claims", "subject is not a valid phone number"))?;
        let from_subject = match claims.get(&self.settings.subject_claim).and_then(Value::as_str) {
            Some(sub) => subject_of(sub, self.settings.subject_forms)
                .map_err(|why| fail("claims", why))?
                .map(|s| (sub.to_owned(), s)),
            None => None,
        };
        let subject = match from_phone_claim.or(from_subject) {
            None => None,
            Some((sub, Subject::Device(d))) => Some((sub, d)),
            Some((sub, Subject::OperatorToken(token))) => {
                let resolver = self
                    .resolver
                    .as_ref()
                    .ok_or_else(|| fail("subject", "no resolver for operator tokens"))?;
                let device = resolver.resolve_operator_token(&token).await.map_err(|e| {
                    tracing::warn!(error = %booking::Chain(e.as_ref()), "operator token resolution failed");
                    ApiError::from(Rejection::new(
                        RejectionKind::Unavailable,
                        "The subject of the access token cannot be resolved now; try again",
                    ))
                })?;
                let device = device.ok_or_else(|| fail("subject", "unknown operator token"))?;
                // The subject kept with bookings is the device's, not the token (tokens rotate
                // and are secrets): the same user's next token reaches the same bookings.
                let sub = device.keys().into_iter().next().unwrap_or(sub);
                Some((sub, device))
            }
        };
        let caller = Caller { client_id, subject };
        if let Some(exp) = claims.get("exp").and_then(Value::as_u64).filter(|e| now < *e) {
            self.remember(
                digest,
                Verified {
                    caller: caller.clone(),
                    scopes: scopes.clone(),
                    exp,
                    generation,
                },
                now,
            );
        }
        Ok((caller, scopes))
    }
}

/// The bearer token of a request's `Authorization` header, if it has one.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty())
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
        self.authenticator_for(&self.settings.audience)
    }

    /// The authenticator that accepts this issuer's tokens made for `audience` (the
    /// operator's admin API has an audience of its own).
    pub fn authenticator_for(&self, audience: &str) -> Result<Authenticator, String> {
        let set: JwkSet = serde_json::from_value(self.jwks()).map_err(|e| e.to_string())?;
        let keys = KeyStore::new(KeySource::Static(set), Duration::from_secs(60))?;
        let mut settings = self.settings.clone();
        settings.algorithms = vec![Algorithm::ES256];
        settings.audience = audience.to_owned();
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
    pub scopes: Arc<HashSet<String>>,
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
