//! The control endpoints tests drive the simulator with, and the callbacks it sends the AF
//! (`/terminate`, `/notify`) over h2c.

use super::*;
use axum::extract::State;

pub(crate) async fn control_requests(State(sh): State<Shared>) -> Json<Vec<Recorded>> {
    Json(sh.lock().requests.clone())
}

pub(crate) async fn control_sessions(State(sh): State<Shared>) -> Json<Vec<Session>> {
    Json(sh.lock().sessions.values().cloned().collect())
}

#[derive(Deserialize)]
pub(crate) struct Command {
    session: String,
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    cause: Option<String>,
}

pub(crate) async fn control_terminate(State(sh): State<Shared>, Json(c): Json<Command>) -> Response {
    let cause = c.cause.as_deref().unwrap_or("PDU_SESSION_TERMINATION");
    reply(terminate(&sh, &c.session, cause).await)
}

pub(crate) async fn control_notify(State(sh): State<Shared>, Json(c): Json<Command>) -> Response {
    let event = c.event.as_deref().unwrap_or("SUCCESSFUL_RESOURCES_ALLOCATION");
    reply(notify(&sh, &c.session, event).await)
}

/// `ascReqData` of the session named by its URI.
fn session_req(sh: &Shared, session: &str) -> Result<Value, String> {
    sh.lock()
        .sessions
        .values()
        .find(|x| x.uri == session)
        .map(|x| x.req.clone())
        .ok_or_else(|| format!("no session {session}"))
}

pub(crate) async fn terminate(sh: &Shared, session: &str, cause: &str) -> Result<u16, String> {
    let req = session_req(sh, session)?;
    let notif = req["notifUri"].as_str().ok_or("the session has no notifUri")?;
    let body = json!({"termCause": cause, "resUri": session});
    post_callback(sh, &format!("{notif}/terminate"), body).await
}

pub(crate) async fn notify(sh: &Shared, session: &str, event: &str) -> Result<u16, String> {
    let req = session_req(sh, session)?;
    send_event(sh, session, &req, event).await
}

fn reply(r: Result<u16, String>) -> Response {
    match r {
        Ok(status) => Json(json!({"afStatus": status})).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, Json(json!({"error": e}))).into_response(),
    }
}

/// `POST {evSubsc.notifUri}/notify` for `session`.
pub(crate) async fn send_event(sh: &Shared, session: &str, req: &Value, event: &str) -> Result<u16, String> {
    let notif = req["evSubsc"]["notifUri"]
        .as_str()
        .or_else(|| req["notifUri"].as_str())
        .ok_or("the session has no notifUri")?;
    let status = if event == "FAILED_RESOURCES_ALLOCATION" {
        "INACTIVE"
    } else {
        "ACTIVE"
    };
    let mut body = json!({
        "evSubsUri": format!("{session}/events-subscription"),
        "evNotifs": [{"event": event, "flows": [{"medCompN": 1}]}],
    });
    match event {
        "SUCCESSFUL_RESOURCES_ALLOCATION" => body["succResourcAllocReports"] = json!([{"mcResourcStatus": status}]),
        "FAILED_RESOURCES_ALLOCATION" => body["failedResourcAllocReports"] = json!([{"mcResourcStatus": status}]),
        _ => {}
    }
    post_callback(sh, &format!("{notif}/notify"), body).await
}

pub(crate) async fn post_callback(sh: &Shared, url: &str, body: Value) -> Result<u16, String> {
    let res = sh
        .http
        .post(url)
        .json(&body)
        .send()
        .await
        .map_err(|e| format!("callback to {url} failed: {e}"))?;
    Ok(res.status().as_u16())
}
