//! The simulator as the NRF's authorization server (Nnrf_AccessToken, TS 29.510 §5.4.2.2):
//! `POST /oauth2/token` checks the form the way `TS29510_Nnrf_AccessToken.yaml` states it and
//! issues opaque tokens for one or more service scopes (the check of the tokens on every call
//! is in `gate`).

use super::*;
use crate::gate::{SERVICES, answer, gate};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri, Version};

/// An `AccessTokenErr` (400).
fn refuse(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `POST /oauth2/token`.
pub(crate) async fn token(
    State(sh): State<Shared>,
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: BTreeMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let idx = match gate(&sh, &method, &uri, version, &headers, Some(json!(form))).await {
        Ok(i) => i,
        Err(r) => return r,
    };
    let res = issue(&sh, &headers, &form);
    answer(&sh, idx, res)
}

fn issue(sh: &Shared, headers: &HeaderMap, form: &BTreeMap<String, String>) -> Response {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return refuse("invalid_request", "the body must be application/x-www-form-urlencoded");
    }
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return refuse("unsupported_grant_type", "grant_type must be client_credentials");
    }
    if !form.get("nfInstanceId").is_some_and(|id| is_uuid(id)) {
        return refuse("invalid_request", "nfInstanceId (a UUID) is required");
    }
    if form.get("nfType").is_some_and(|t| t != "AF") {
        return refuse(
            "unauthorized_client",
            "this PCF admits only NF type AF (allowedNfTypes)",
        );
    }
    let Some(scope) = form.get("scope") else {
        return refuse("invalid_request", "scope is required");
    };
    let scopes: Vec<&str> = scope.split(' ').collect();
    let well_formed = scopes.iter().all(|s| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-'))
    });
    if !well_formed {
        return refuse("invalid_request", "scope does not match its pattern");
    }
    for s in &scopes {
        let Some((_, nf)) = SERVICES.iter().find(|(name, _)| name == s) else {
            return refuse("invalid_scope", &format!("no service {s} here"));
        };
        if form.get("targetNfType").is_some_and(|t| t != nf) {
            return refuse(
                "invalid_scope",
                &format!("{s} is offered by a {nf}, not a {}", form["targetNfType"]),
            );
        }
    }
    let (token, lifetime) = {
        let mut s = sh.lock();
        s.next_token += 1;
        let token = format!("pcf-sim-token-{}", s.next_token);
        s.tokens.insert(token.clone(), scope.clone());
        (token, s.cfg.token_lifetime_s)
    };
    let mut res = (
        StatusCode::OK,
        Json(json!({"access_token": token, "token_type": "Bearer", "expires_in": lifetime, "scope": scope})),
    )
        .into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}
