//! The CAMARA QoS Profiles API (`qos-profiles.yaml`): `POST /retrieve-qos-profiles` and
//! `GET /qos-profiles/{name}`, served from the catalog the bookings use, with the scope
//! `qos-profiles:read` and the spec's 2-/3-legged device rules (decided in the `booking`
//! crate's use cases).

use crate::auth::{RequestContext, scopes};
use crate::error::ApiError;
use crate::handler::{ApiState, body_of, method_not_allowed};
use crate::limits::Operation;
use crate::parse;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use booking::{QosProfile, Rate};
use serde_json::{Map, Value, json};

pub(crate) fn routes(state: ApiState) -> Router {
    Router::new()
        .route("/retrieve-qos-profiles", post(retrieve).fallback(method_not_allowed))
        .route("/qos-profiles/{name}", get(get_profile).fallback(method_not_allowed))
        .route("/openapi.yaml", get(openapi).fallback(method_not_allowed))
        .with_state(state)
}

async fn retrieve(
    State(st): State<ApiState>,
    ctx: RequestContext,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    ctx.admit(&st, scopes::PROFILES_READ, Operation::Read)?;
    let body = body_of(&st, &headers, body).await?;
    let q = parse::profile_query(&body, &st.parse)?;
    let profiles = st
        .service
        .profiles(&ctx.caller, q.device, q.name.as_deref(), q.status)
        .await?;
    Ok(Json(profiles.iter().map(wire).collect::<Vec<_>>()).into_response())
}

async fn get_profile(
    State(st): State<ApiState>,
    ctx: RequestContext,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    ctx.admit(&st, scopes::PROFILES_READ, Operation::Read)?;
    let name = parse::profile_name(&name, "name")?;
    let profile = st.service.profile(&ctx.caller, &name).await?;
    Ok(Json(wire(&profile)).into_response())
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/yaml")],
        crate::PROFILES_OPENAPI_YAML,
    )
        .into_response()
}

fn duration(value: u32, unit: &str) -> Value {
    json!({"value": value, "unit": unit})
}

fn rate(r: Rate) -> Value {
    json!(r)
}

/// A profile as `qos-profiles.yaml`'s `QosProfile`: what the catalog states, nothing else.
fn wire(p: &QosProfile) -> Value {
    let mut o = Map::new();
    o.insert("name".into(), json!(p.name));
    if let Some(d) = &p.description {
        o.insert("description".into(), json!(d));
    }
    o.insert("status".into(), json!(p.status.as_str()));
    let rates = [
        ("targetMinUpstreamRate", p.target_min_upstream_rate),
        ("maxUpstreamRate", p.max_upstream_rate),
        ("targetMinDownstreamRate", p.target_min_downstream_rate),
        ("maxDownstreamRate", p.max_downstream_rate),
    ];
    for (key, r) in rates {
        if let Some(r) = r {
            o.insert(key.into(), rate(r));
        }
    }
    o.insert("minDuration".into(), duration(p.min_duration.max(1), "Seconds"));
    o.insert("maxDuration".into(), duration(p.max_duration.max(1), "Seconds"));
    if let Some(x) = p.priority {
        o.insert("priority".into(), json!(x));
    }
    if let Some(ms) = p.packet_delay_budget_ms {
        o.insert("packetDelayBudget".into(), duration(ms.max(1), "Milliseconds"));
    }
    if let Some(ms) = p.jitter_ms {
        o.insert("jitter".into(), duration(ms.max(1), "Milliseconds"));
    }
    if let Some(x) = p.packet_error_loss_rate {
        o.insert("packetErrorLossRate".into(), json!(x));
    }
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use booking::{ProfileStatus, RateUnit};

    #[test]
    fn a_profile_shows_every_characteristic_it_states() {
        let p = QosProfile {
            name: "QOS_X".into(),
            status: ProfileStatus::Deprecated,
            min_duration: 60,
            max_duration: 3600,
            qos_reference: "internal-ref".into(),
            description: Some("video".into()),
            priority: Some(20),
            packet_delay_budget_ms: Some(50),
            jitter_ms: Some(10),
            packet_error_loss_rate: Some(3),
            max_downstream_rate: Some(Rate {
                value: 10,
                unit: RateUnit::Mbps,
            }),
            target_min_upstream_rate: Some(Rate {
                value: 512,
                unit: RateUnit::Kbps,
            }),
            ..QosProfile::default()
        };
        assert_eq!(
            wire(&p),
            json!({
                "name": "QOS_X",
                "description": "video",
                "status": "DEPRECATED",
                "targetMinUpstreamRate": {"value": 512, "unit": "kbps"},
                "maxDownstreamRate": {"value": 10, "unit": "Mbps"},
                "minDuration": {"value": 60, "unit": "Seconds"},
                "maxDuration": {"value": 3600, "unit": "Seconds"},
                "priority": 20,
                "packetDelayBudget": {"value": 50, "unit": "Milliseconds"},
                "jitter": {"value": 10, "unit": "Milliseconds"},
                "packetErrorLossRate": 3,
            })
        );
        // The NEF's reference is the operator's business, never shown.
        assert!(!wire(&p).to_string().contains("internal-ref"));
    }
}
