//! A test identity provider on 127.0.0.1:0: real EC P-256 and RSA-2048 keys, a JWKS endpoint
//! and an OpenID discovery document, keys published (rotated) on demand, fetches counted.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub const ISSUER: &str = "https://idp.test";
pub const AUDIENCE: &str = "qos-booking";

struct Key {
    alg: Algorithm,
    encoding: EncodingKey,
    jwk: Value,
}

#[derive(Clone)]
pub struct TestIdp {
    pub url: String,
    keys: Arc<Mutex<HashMap<String, Key>>>,
    published: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
    /// The RSA key's public key as DER (what an attacker would use as an HMAC secret).
    pub rsa_public_der: Arc<Mutex<Vec<u8>>>,
}

fn der_len(b: &[u8], i: &mut usize) -> usize {
    let first = b[*i];
    *i += 1;
    if first < 0x80 {
        return usize::from(first);
    }
    let mut len = 0;
    for _ in 0..(first & 0x7f) {
        len = (len << 8) | usize::from(b[*i]);
        *i += 1;
    }
    len
}

/// The PKCS#1 `RSAPrivateKey` inside a PKCS#8 `PrivateKeyInfo` (jsonwebtoken wants PKCS#1).
fn pkcs1_of(pkcs8: &[u8]) -> Vec<u8> {
    let mut i = 1;
    der_len(pkcs8, &mut i); // the outer SEQUENCE
    for tag in [0x02, 0x30] {
        assert_eq!(pkcs8[i], tag);
        i += 1;
        let l = der_len(pkcs8, &mut i);
        i += l;
    }
    assert_eq!(pkcs8[i], 0x04);
    i += 1;
    let l = der_len(pkcs8, &mut i);
    pkcs8[i..i + l].to_vec()
}

impl TestIdp {
    pub async fn start() -> Self {
        let published: Arc<Mutex<Vec<Value>>> = Arc::default();
        let fetches = Arc::new(AtomicUsize::new(0));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (p, f, u) = (published.clone(), fetches.clone(), url.clone());
        let app = axum::Router::new()
            .route(
                "/jwks",
                axum::routing::get(move || {
                    let (p, f) = (p.clone(), f.clone());
                    async move {
                        f.fetch_add(1, Ordering::SeqCst);
                        axum::Json(json!({"keys": p.lock().unwrap().clone()}))
                    }
                }),
            )
            .route(
                "/.well-known/openid-configuration",
                axum::routing::get(move || {
                    let u = u.clone();
                    async move { axum::Json(json!({"issuer": ISSUER, "jwks_uri": format!("{u}/jwks")})) }
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url,
            keys: Arc::default(),
            published,
            fetches,
            rsa_public_der: Arc::default(),
        }
    }

    pub fn add_ec(&self, kid: &str) {
        let alg = &ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &SystemRandom::new()).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref()).unwrap();
        let point = pair.public_key().as_ref();
        let jwk = json!({"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..])});
        let key = Key {
            alg: Algorithm::ES256,
            encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
            jwk,
        };
        self.keys.lock().unwrap().insert(kid.to_owned(), key);
    }

    pub fn add_rsa(&self, kid: &str) {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der<'_>>::as_der(&pair).unwrap();
        let public = pair.public_key();
        *self.rsa_public_der.lock().unwrap() = public.as_der().unwrap().as_ref().to_vec();
        let jwk = json!({"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
            "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero())});
        let key = Key {
            alg: Algorithm::RS256,
            encoding: EncodingKey::from_rsa_der(&pkcs1_of(pkcs8.as_ref())),
            jwk,
        };
        self.keys.lock().unwrap().insert(kid.to_owned(), key);
    }

    /// Puts the key into the served JWKS (a rotation, when it is new).
    pub fn publish(&self, kid: &str) {
        let jwk = self.keys.lock().unwrap()[kid].jwk.clone();
        self.published.lock().unwrap().push(jwk);
    }

    /// Takes the key out of the served JWKS (the IdP retired it).
    pub fn withdraw(&self, kid: &str) {
        self.published
            .lock()
            .unwrap()
            .retain(|jwk| jwk["kid"].as_str() != Some(kid));
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// A token signed with `kid`: standard claims valid for an hour, overridden by `extra`.
    pub fn sign(&self, kid: &str, extra: Value) -> String {
        let keys = self.keys.lock().unwrap();
        let key = &keys[kid];
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut claims = json!({"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 3600,
            "client_id": "client-a", "scope": camara_api::scopes::ALL.join(" ")});
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        let mut header = Header::new(key.alg);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, &claims, &key.encoding).unwrap()
    }
}

/// A token with `alg: none` and no signature.
pub fn unsigned_token() -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let claims = json!({"iss": ISSUER, "aud": AUDIENCE, "exp": now + 3600, "client_id": "client-a",
        "scope": camara_api::scopes::ALL.join(" ")});
    format!("{header}.{}.", URL_SAFE_NO_PAD.encode(claims.to_string()))
}

/// A token signed with HS256 using `secret` (the RSA public key, in the classic attack).
pub fn hs256_token(secret: &[u8], kid: &str) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({"iss": ISSUER, "aud": AUDIENCE, "exp": now + 3600, "client_id": "client-a",
        "scope": camara_api::scopes::ALL.join(" ")});
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(secret)).unwrap()
}
