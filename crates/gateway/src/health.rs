//! Health endpoints (`/health/live`, `/health/ready`: the store answers) and, in development
//! mode, the JWKS of the generated signing key.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use booking::BookingStore;
use camara_api::DevIssuer;
use std::sync::Arc;

#[derive(Clone)]
struct OpsState {
    store: Arc<dyn BookingStore>,
    dev_issuer: Option<Arc<DevIssuer>>,
}

/// Health endpoints and, in development mode, the JWKS of the generated key.
pub fn router(store: Arc<dyn BookingStore>, dev_issuer: Option<Arc<DevIssuer>>) -> Router {
    Router::new()
        .route("/health/live", get(|| async { StatusCode::NO_CONTENT }))
        .route("/health/ready", get(ready))
        .route("/.well-known/jwks.json", get(jwks))
        .with_state(OpsState { store, dev_issuer })
}

async fn ready(State(st): State<OpsState>) -> impl IntoResponse {
    match st.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({"status": "ready"}))),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "unavailable", "store": e.to_string()})),
        ),
    }
}

async fn jwks(State(st): State<OpsState>) -> impl IntoResponse {
    match st.dev_issuer {
        Some(i) => Json(i.jwks()).into_response(),
        None => camara_api::ApiError::not_found("No such resource").into_response(),
    }
}
