//! The QoS Booking and Assignment API (`qos-booking-and-assignment.yaml`): reservations for
//! up to `numDevices` devices and the assignment and release of devices, over the booking
//! engine (`booking::BookingService::create_reservation`, `assign`, `release`, ...). Its wire
//! shapes (`BookingOutput`, `BookingDetails`, `DeviceAssignmentOutput`) and its own error
//! codes (its DURATION_OUT_OF_RANGE, the Generic409 codes, no area or profile codes) are here.

use crate::auth::{RequestContext, scopes};
use crate::error::ApiError;
use crate::handler::{ApiState, body_of, booking_id, check_sink_host, method_not_allowed};
use crate::limits::Operation;
use crate::parse::assignment as parse;
use crate::version::Version;
use crate::wire::Echoed;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use booking::{
    Assignment, Booking, BookingStatus, Group, Member, Rejection, RejectionKind, Shortfall, StatusInfo, members_of,
};
use serde_json::{Map, Value, json};

pub(crate) fn routes(state: ApiState) -> Router {
    Router::new()
        .route("/qos-bookings", post(create).fallback(method_not_allowed))
        // The literal `retrieve` wins over `{bookingId}` (a GET of it is a 400: not a UUID).
        .route(
            "/qos-bookings/retrieve",
            post(retrieve)
                .get(retrieve_read_as_id)
                .delete(retrieve_deleted_as_id)
                .fallback(method_not_allowed),
        )
        .route(
            "/qos-bookings/{bookingId}",
            get(get_booking).delete(delete_booking).fallback(method_not_allowed),
        )
        .route(
            "/qos-bookings/{bookingId}/devices",
            get(devices).fallback(method_not_allowed),
        )
        .route(
            "/qos-bookings/{bookingId}/devices/assign",
            post(assign).fallback(method_not_allowed),
        )
        .route(
            "/qos-bookings/{bookingId}/devices/release",
            post(release).fallback(method_not_allowed),
        )
        .route("/openapi.yaml", get(openapi).fallback(method_not_allowed))
        .with_state(state)
}

/// A refusal in B&A's codes: its own DURATION_OUT_OF_RANGE; an overlap or a full pool is
/// INCOMPATIBLE_STATE; no area or profile codes (a bad or uncovered area, a profile that
/// cannot be booked). 0.1.0 names them as r1.2 did: QOS_BOOKING.DURATION_OUT_OF_RANGE, and
/// one 409 code, CONFLICT.
pub(crate) fn refusal(version: Version, r: Rejection) -> ApiError {
    let message = r.message.clone();
    let e = match r.kind {
        RejectionKind::DurationOutOfRange if version == Version::V0_1 => {
            ApiError::with_code(400, "QOS_BOOKING.DURATION_OUT_OF_RANGE", message)
        }
        RejectionKind::DurationOutOfRange => {
            ApiError::with_code(400, "QOS_BOOKING_AND_ASSIGNMENT.DURATION_OUT_OF_RANGE", message)
        }
        RejectionKind::Conflict | RejectionKind::NoCapacity => ApiError::with_code(409, "INCOMPATIBLE_STATE", message),
        RejectionKind::InvalidArea | RejectionKind::NotManagedAreaType | RejectionKind::ProfileNotApplicable => {
            ApiError::invalid_argument(message)
        }
        RejectionKind::AreaNotCovered => ApiError::with_code(422, "SERVICE_NOT_APPLICABLE", message),
        _ => ApiError::from(r),
    };
    if version == Version::V0_1 && e.status == 409 {
        return ApiError::with_code(409, "CONFLICT", e.message);
    }
    e
}

/// A PRIVATE_KEY_JWT credential's `clientId` and `tokenUri`, when given, must be those of the
/// client's onboarding record: tokens are never fetched from an address a request names.
fn agrees_with_record(st: &ApiState, ctx: &RequestContext, hints: &parse::KeyJwtHints) -> Result<(), ApiError> {
    if hints == &parse::KeyJwtHints::default() {
        return Ok(());
    }
    let record = st.service.client_record(&ctx.caller.client_id);
    let settings = record.as_ref().and_then(|r| r.private_key_jwt.as_ref());
    let agrees = settings.is_some_and(|p| {
        hints.client_id.as_ref().is_none_or(|c| *c == p.client_id)
            && hints.token_uri.as_ref().is_none_or(|u| *u == p.token_endpoint)
    });
    if agrees {
        Ok(())
    } else {
        Err(ApiError::from(Rejection::new(
            RejectionKind::InvalidCredential,
            "sinkCredential's clientId or tokenUri differs from this client's onboarding record",
        )))
    }
}

/// Runs a change of several writes to its end even when the client goes away or the request
/// times out (a dropped request would otherwise stop it between its writes: a reservation
/// listing a device without its booking, capacity held for nothing).
async fn to_the_end<T: Send + 'static>(
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::spawn(work).await.map_err(|_| ApiError::internal())
}

/// `GET /qos-bookings/retrieve`: a read of the booking `retrieve`, which is not a UUID.
async fn retrieve_read_as_id(ctx: RequestContext) -> Result<Response, ApiError> {
    ctx.require(scopes::BA_READ)?;
    Err(booking_id("retrieve").err().unwrap_or_else(ApiError::internal))
}

/// `DELETE /qos-bookings/retrieve`: likewise.
async fn retrieve_deleted_as_id(ctx: RequestContext) -> Result<Response, ApiError> {
    ctx.require(scopes::BA_DELETE)?;
    Err(booking_id("retrieve").err().unwrap_or_else(ApiError::internal))
}

async fn openapi(State(st): State<ApiState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/yaml")],
        st.version.assignment_openapi(),
    )
        .into_response()
}

async fn create(
    State(st): State<ApiState>,
    ctx: RequestContext,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    ctx.admit(&st, scopes::BA_CREATE, Operation::Create)?;
    let body = body_of(&st, &headers, body).await?;
    let v = st.version;
    let (new, total, hints) =
        parse::create_reservation(&body, st.clock.now(), &st.parse, v).map_err(|r| refusal(v, r))?;
    agrees_with_record(&st, &ctx, &hints)?;
    check_sink_host(&st, new.sink.as_deref()).await?;
    // Kept for 0.1.0's FAILURE answer, which echoes the request (vwip answers a 409).
    let asked = (v == Version::V0_1).then(|| new.clone());
    let (service, caller) = (st.service.clone(), ctx.caller.clone());
    let created = to_the_end(async move { service.create_reservation(&caller, new, total).await }).await?;
    match (created, asked) {
        // vwip: the operator decides later (a deferred pool, its policy service): 202 PENDING,
        // and the outcome as a status-changed event. 0.1.0 answers every outcome 201.
        (Ok(r), _) if r.status == BookingStatus::Requested && v == Version::V0_2 => {
            Ok((StatusCode::ACCEPTED, Json(booking_output(&r))).into_response())
        }
        (Ok(r), _) => Ok((StatusCode::CREATED, Json(booking_output(&r))).into_response()),
        // 0.1.0: a booking the operator cannot honour is 201 FAILURE, without a bookingId (none
        // was kept); vwip answers it 409.
        (Err(e), Some(asked)) if e.kind == RejectionKind::NoCapacity => {
            let mut out = booking_output(&Booking::reservation(
                booking::BookingId::new(),
                booking::Owner {
                    client_id: ctx.caller.client_id.clone(),
                    subject: None,
                },
                asked,
                total,
                st.clock.now(),
            ));
            if let Some(o) = out.as_object_mut() {
                o.remove("bookingId");
                o.insert("remainingDevices".into(), json!(0));
                o.insert("status".into(), json!("FAILURE"));
                o.insert("statusInfo".into(), json!("SERVICE_NOT_AVAILABLE"));
            }
            Ok((StatusCode::CREATED, Json(out)).into_response())
        }
        (Err(e), _) => Err(refusal(v, e)),
    }
}

async fn get_booking(
    State(st): State<ApiState>,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    ctx.admit(&st, scopes::BA_READ, Operation::Read)?;
    let r = st
        .service
        .reservation(&ctx.caller, booking_id(&id)?)
        .await
        .map_err(|r| refusal(st.version, r))?;
    Ok(Json(booking_output(&r)).into_response())
}

async fn delete_booking(
    State(st): State<ApiState>,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    ctx.admit(&st, scopes::BA_DELETE, Operation::Delete)?;
    let (service, caller, id) = (st.service.clone(), ctx.caller.clone(), booking_id(&id)?);
    let cancelled = to_the_end(async move { service.cancel_reservation(&caller, id).await }).await?;
    let r = match cancelled {
        // 0.1.0 has no 409 on delete: a reservation already ended is answered as it is.
        Err(e) if e.kind == RejectionKind::IncompatibleState && st.version == Version::V0_1 => st
            .service
            .reservation(&ctx.caller, id)
            .await
            .map_err(|r| refusal(st.version, r))?,
        other => other.map_err(|r| refusal(st.version, r))?,
    };
    Ok(Json(booking_output(&r)).into_response())
}

async fn devices(
    State(st): State<ApiState>,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    ctx.admit(&st, scopes::BA_DEVICES_READ, Operation::Read)?;
    let r = st
        .service
        .reservation(&ctx.caller, booking_id(&id)?)
        .await
        .map_err(|r| refusal(st.version, r))?;
    let visible = st.service.visible_members(&ctx.caller, &r);
    let withheld = visible.len() < members_of(&r).len();
    let mut out = assignment_output(&r, &visible, "SUCCESSFUL", None);
    if withheld {
        out["statusInfo"] = json!("DEVICE_DISCLOSURE_POLICY_APPLIED");
    }
    Ok(Json(out).into_response())
}

async fn assign(
    State(st): State<ApiState>,
    ctx: RequestContext,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    ctx.admit(&st, scopes::BA_DEVICES_CREATE, Operation::Create)?;
    let id = booking_id(&id)?;
    let body = body_of(&st, &headers, body).await?;
    let req =
        parse::device_request(&body, st.clock.now(), &st.parse, st.version).map_err(|r| refusal(st.version, r))?;
    agrees_with_record(&st, &ctx, &req.hints)?;
    check_sink_host(&st, req.sink.as_deref()).await?;
    let (service, caller) = (st.service.clone(), ctx.caller.clone());
    let assigned = to_the_end(async move {
        service
            .assign(&caller, id, req.devices, req.sink, req.sink_credential)
            .await
    })
    .await?;
    let a = match assigned {
        // 0.1.0: no room left is 201 FAILURE/QUOTA_EXCEEDED with the booking's details.
        Err(e) if e.kind == RejectionKind::NoCapacity && st.version == Version::V0_1 => {
            let r = st
                .service
                .reservation(&ctx.caller, id)
                .await
                .map_err(|r| refusal(st.version, r))?;
            let out = assignment_output(&r, &[], "FAILURE", Some("QUOTA_EXCEEDED"));
            return Ok((StatusCode::CREATED, Json(out)).into_response());
        }
        other => other.map_err(|r| refusal(st.version, r))?,
    };
    let (status, info) = match a.shortfall {
        None => ("SUCCESSFUL", Some("ASSIGNMENT_COMPLETED")),
        Some(Shortfall::NoRoom) => ("PARTIAL_SUCCESS", Some("QUOTA_EXCEEDED")),
        Some(_) => ("PARTIAL_SUCCESS", Some("DEVICE_UNKNOWN_ERROR")),
    };
    Ok((StatusCode::CREATED, Json(outcome(&a, status, info))).into_response())
}

async fn release(
    State(st): State<ApiState>,
    ctx: RequestContext,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    ctx.admit(&st, scopes::BA_DEVICES_DELETE, Operation::Delete)?;
    let id = booking_id(&id)?;
    let body = body_of(&st, &headers, body).await?;
    // A release's 400s are Generic400's: INVALID_ARGUMENT or OUT_OF_RANGE only.
    let req = parse::device_request(&body, st.clock.now(), &st.parse, st.version).map_err(|r| {
        let e = refusal(st.version, r);
        if e.status == 400 && e.code != "OUT_OF_RANGE" {
            ApiError::invalid_argument(e.message)
        } else {
            e
        }
    })?;
    // `DeviceAssignmentInput` declares a sink for a release too; the devices' events go
    // where their assignment said, so one given here is accepted and not used.
    let (service, caller) = (st.service.clone(), ctx.caller.clone());
    let a = to_the_end(async move { service.release(&caller, id, req.devices).await })
        .await?
        .map_err(|r| refusal(st.version, r))?;
    let (status, info) = match a.shortfall {
        None => ("SUCCESSFUL", None),
        Some(_) => ("PARTIAL_SUCCESS", Some("DEVICE_NOT_FOUND")),
    };
    Ok(Json(outcome(&a, status, info)).into_response())
}

async fn retrieve(
    State(st): State<ApiState>,
    ctx: RequestContext,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    ctx.admit(&st, scopes::BA_RETRIEVE, Operation::Retrieve)?;
    let body = body_of(&st, &headers, body).await?;
    let device = parse::retrieve(&body, &st.parse, st.version).map_err(|r| refusal(st.version, r))?;
    let found = st
        .service
        .reservations_of(&ctx.caller, device)
        .await
        .map_err(|r| refusal(st.version, r))?;
    Ok(Json(found.iter().map(booking_details).collect::<Vec<_>>()).into_response())
}

/// The devices of an assign or release and its outcome.
fn outcome(a: &Assignment, status: &str, info: Option<&str>) -> Value {
    assignment_output(&a.reservation, &a.devices, status, info)
}

/// `BookingDetails`: the reservation without its status.
pub(crate) fn booking_details(r: &Booking) -> Value {
    let echoed = Echoed::read(r);
    let (total, remaining) = match &r.group {
        Some(g @ Group::Reservation { total, .. }) => (*total, g.remaining()),
        _ => (1, 0),
    };
    json!({
        "bookingId": r.id.to_string(),
        "totalDevices": total,
        "remainingDevices": remaining,
        "qosProfile": r.qos_profile,
        "startTime": echoed.start_time,
        "duration": r.duration,
        "serviceArea": echoed.service_area,
    })
}

/// `BookingOutput`: the details, with the reservation's status (and its sink, as the
/// conformance material expects it back).
pub(crate) fn booking_output(r: &Booking) -> Value {
    let mut v = booking_details(r);
    let (status, info) = status_of(r.status, r.status_info);
    v["status"] = json!(status);
    if let Some(info) = info {
        v["statusInfo"] = json!(info);
    }
    if let Some(sink) = &r.sink {
        v["sink"] = json!(sink);
    }
    v
}

/// A reservation's status and reason in B&A's words: the request succeeded (accepted,
/// active, expired, cancelled) or failed (ended by the network, declined).
pub(crate) fn status_of(status: BookingStatus, info: Option<StatusInfo>) -> (&'static str, Option<&'static str>) {
    match (status, info) {
        (BookingStatus::Requested, _) => ("PENDING", Some("VALIDATION_PENDING")),
        (BookingStatus::Scheduled, _) => ("SUCCESSFUL", Some("BOOKING_ACCEPTED")),
        (BookingStatus::Activated, _) => ("SUCCESSFUL", Some("BOOKING_ACTIVATED")),
        (BookingStatus::Terminated, Some(StatusInfo::DeleteRequested)) => ("SUCCESSFUL", Some("BOOKING_CANCELLED")),
        (BookingStatus::Terminated, Some(StatusInfo::BookingDeclined)) => ("FAILURE", Some("SERVICE_NOT_AVAILABLE")),
        (BookingStatus::Terminated, Some(StatusInfo::NetworkTerminated | StatusInfo::BookingRevoked)) => {
            ("FAILURE", Some("NETWORK_TERMINATED"))
        }
        (BookingStatus::Terminated, _) => ("SUCCESSFUL", Some("BOOKING_EXPIRED")),
    }
}

/// One device as the client identified it (`DeviceResponse`: one identifier).
pub(crate) fn device_response(m: &Member) -> Value {
    match serde_json::from_str::<Value>(&m.echo.0) {
        Ok(v @ Value::Object(_)) => v,
        _ => crate::wire::render_device(&m.device).unwrap_or_else(|| Value::Object(Map::new())),
    }
}

/// `DeviceAssignmentOutput`: the reservation's details, the devices that may be disclosed
/// (not those assigned under a 3-legged token) and the request's status.
pub(crate) fn assignment_output(r: &Booking, members: &[Member], status: &str, info: Option<&str>) -> Value {
    let shown: Vec<Value> = members
        .iter()
        .filter(|m| m.subject.is_none())
        .map(device_response)
        .collect();
    let withheld = shown.len() < members.len();
    let mut v = json!({"bookingDetails": booking_details(r), "status": status});
    if !shown.is_empty() {
        v["devices"] = Value::Array(shown);
    }
    match (info, withheld) {
        (Some(i), _) => v["statusInfo"] = json!(i),
        (None, true) => v["statusInfo"] = json!("DEVICE_DISCLOSURE_POLICY_APPLIED"),
        (None, false) => {}
    }
    v
}
