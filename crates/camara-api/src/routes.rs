//! The four operations of `qos-booking.yaml` in each published version (the same handlers;
//! the version picks the wire shape), plus CAMARA-shaped 404/405/413/415 answers.

use crate::auth::{RequestContext, scopes};
use crate::error::ApiError;
use crate::handler::{ApiState, body_of, booking_id, check_sink_host, method_not_allowed};
use crate::limits::Operation;
use crate::parse;
use crate::version::Version;
use crate::wire::BookingInfo;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use booking::{Rejection, RejectionKind};

/// The booking API under each of `base_paths` in its version (e.g. `/qos-booking/v0.2` and
/// `/qos-booking/vwip` as v0.2, `/qos-booking/v0.1` as v0.1) and the QoS Profiles API under
/// each of `profile_paths`, and the QoS Booking and Assignment API under each of
/// `assignment_paths` in its version (`V0_1`: B&A 0.1.0; `V0_2`: vwip).
pub fn router(
    state: ApiState,
    base_paths: &[(String, Version)],
    profile_paths: &[String],
    assignment_paths: &[(String, Version)],
) -> Router {
    let deadline = state.request_timeout;
    let profiles = crate::profiles::routes(state.clone());
    let mut app = Router::new();
    for (base, version) in base_paths {
        let state = state.with_version(*version);
        app = app.nest(base, booking_routes(state));
    }
    for base in profile_paths {
        app = app.nest(base, profiles.clone());
    }
    for (base, version) in assignment_paths {
        let state = state.with_version(*version);
        app = app.nest(base, crate::assignment::routes(state));
    }
    // The deadline sits inside the x-correlator layer, so a 504 still echoes the correlator.
    app.fallback(not_found)
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| async move {
                match tokio::time::timeout(deadline, next.run(req)).await {
                    Ok(res) => res,
                    Err(_) => ApiError::from(Rejection::new(
                        RejectionKind::Timeout,
                        "The request took too long to complete",
                    ))
                    .into_response(),
                }
            },
        ))
        .layer(axum::middleware::from_fn(crate::correlator::layer))
}

/// The four operations and the OpenAPI file of one version.
fn booking_routes(state: ApiState) -> Router {
    Router::new()
        .route("/device-qos-bookings", post(create).fallback(method_not_allowed))
        .route(
            "/device-qos-bookings/{bookingId}",
            get(get_booking).delete(delete_booking).fallback(method_not_allowed),
        )
        .route(
            "/retrieve-device-qos-bookings",
            post(retrieve).fallback(method_not_allowed),
        )
        .route("/openapi.yaml", get(openapi).fallback(method_not_allowed))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("No such resource")
}

async fn openapi(State(st): State<ApiState>) -> Response {
    ([(header::CONTENT_TYPE, "application/yaml")], st.version.openapi()).into_response()
}

async fn create(
    State(st): State<ApiState>,
    ctx: RequestContext,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    ctx.admit(&st, scopes::CREATE, Operation::Create)?;
    let body = body_of(&st, &headers, body).await?;
    let mut new = parse::create_booking(&body, st.clock.now(), &st.parse, st.version)?;
    new.dialect = st.version.dialect();
    check_sink_host(&st, new.sink.as_deref()).await?;
    let booking = st.service.create(&ctx.caller, new).await.map_err(|r| {
        // r1.2 has no QOS_PROFILE_NOT_APPLICABLE: a profile that cannot be booked is, to its
        // clients, not a valid `qosProfile`.
        if r.kind == RejectionKind::ProfileNotApplicable && !st.version.has_profile_not_applicable() {
            Rejection::new(RejectionKind::InvalidArgument, r.message)
        } else {
            r
        }
    })?;
    Ok((
        StatusCode::CREATED,
        Json(BookingInfo::at(&booking, st.clock.now(), st.version)),
    )
        .into_response())
}

async fn get_booking(
    State(st): State<ApiState>,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    ctx.admit(&st, scopes::READ, Operation::Read)?;
    let booking = st.service.get(&ctx.caller, booking_id(&id)?).await?;
    Ok(Json(BookingInfo::at(&booking, st.clock.now(), st.version)).into_response())
}

async fn delete_booking(
    State(st): State<ApiState>,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    ctx.admit(&st, scopes::DELETE, Operation::Delete)?;
    match st.service.delete(&ctx.caller, booking_id(&id)?).await? {
        booking::Deleted::Done => Ok(StatusCode::NO_CONTENT.into_response()),
        booking::Deleted::Accepted(b) => Ok((
            StatusCode::ACCEPTED,
            Json(BookingInfo::at(&b, st.clock.now(), st.version)),
        )
            .into_response()),
    }
}

async fn retrieve(
    State(st): State<ApiState>,
    ctx: RequestContext,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    ctx.admit(&st, scopes::RETRIEVE, Operation::Retrieve)?;
    let body = body_of(&st, &headers, body).await?;
    let device = parse::retrieve_booking(&body, &st.parse)?;
    let bookings = st.service.retrieve(&ctx.caller, device).await?;
    let now = st.clock.now();
    Ok(Json(
        bookings
            .iter()
            .map(|b| BookingInfo::at(b, now, st.version))
            .collect::<Vec<_>>(),
    )
    .into_response())
}
