//! What every simulated call passes before its handler: it is recorded, delayed by the
//! injected latency, refused by an injected fault, and, with `access_tokens` on, refused
//! without an NRF token for its own service (TS 29.500 §6.7.3: 401 `invalid_token`, 403
//! `insufficient_scope`).

use super::*;
use axum::http::{HeaderMap, Method, Uri, Version};

/// The services this simulator offers and the NF type that offers each.
pub(crate) const SERVICES: [(&str, &str); 3] = [
    ("npcf-policyauthorization", "PCF"),
    ("nnrf-disc", "NRF"),
    ("nbsf-management", "BSF"),
];

/// Records the call, then applies the injected faults. `Err` is the answer to give instead.
pub(crate) async fn gate(
    sh: &Shared,
    method: &Method,
    uri: &Uri,
    version: Version,
    headers: &HeaderMap,
    body: Option<Value>,
) -> Result<usize, Response> {
    let (latency, idx) = {
        let mut s = sh.lock();
        let text = |h: header::HeaderName| headers.get(h).and_then(|v| v.to_str().ok()).map(str::to_owned);
        s.requests.push(Recorded {
            method: method.to_string(),
            path: uri.path().to_owned(),
            body,
            at_ms: now_ms(),
            status: 0,
            version: format!("{version:?}"),
            user_agent: text(header::USER_AGENT),
            content_type: text(header::CONTENT_TYPE),
        });
        (s.cfg.faults.latency_ms, s.requests.len() - 1)
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let refused = {
        let mut s = sh.lock();
        let f = &mut s.cfg.faults;
        if f.unavailable_until.is_some_and(|t| Instant::now() < t) {
            let mut r = problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "NF_CONGESTION",
                "the PCF is overloaded",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            Some(r)
        } else {
            f.next_statuses.pop_front().map(|st| {
                let st = StatusCode::from_u16(st).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                problem(st, "SIMULATED", "injected fault")
            })
        }
    };
    let refused = refused.or_else(|| check_token(sh, uri.path(), headers));
    match refused {
        Some(r) => {
            set_status(sh, idx, r.status().as_u16());
            Err(r)
        }
        None => Ok(idx),
    }
}

pub(crate) fn set_status(sh: &Shared, idx: usize, status: u16) {
    if let Some(r) = sh.lock().requests.get_mut(idx) {
        r.status = status;
    }
}

pub(crate) fn answer(sh: &Shared, idx: usize, res: Response) -> Response {
    set_status(sh, idx, res.status().as_u16());
    res
}

/// The scope a request path needs, if it needs one.
fn scope_of(path: &str) -> Option<&'static str> {
    SERVICES
        .iter()
        .map(|(s, _)| *s)
        .find(|s| path.starts_with(&format!("/{s}/")))
}

/// With `access_tokens` on, the refusal a call to `path` gets without a token for its service.
fn check_token(sh: &Shared, path: &str, headers: &HeaderMap) -> Option<Response> {
    let need = scope_of(path)?;
    let s = sh.lock();
    if !s.cfg.access_tokens {
        return None;
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let (status, www, detail) = match bearer.and_then(|t| s.tokens.get(t)) {
        None => (
            StatusCode::UNAUTHORIZED,
            "Bearer error=\"invalid_token\"".to_owned(),
            "no valid access token",
        ),
        Some(scopes) if !scopes.split(' ').any(|g| g == need) => (
            StatusCode::FORBIDDEN,
            format!("Bearer error=\"insufficient_scope\", scope=\"{need}\""),
            "the token is not for this service",
        ),
        Some(_) => return None,
    };
    let mut r = problem(status, "UNAUTHORIZED", detail);
    if let Ok(v) = HeaderValue::from_str(&www) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    Some(r)
}
