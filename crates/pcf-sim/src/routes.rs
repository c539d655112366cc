//! The simulator's HTTP/2 server and its N5 app-session resources (behind the fault gate);
//! the NRF and BSF answers are in `discovery`, the control endpoints and the callbacks it
//! sends in `control`.

use super::*;
use crate::control::{control_notify, control_requests, control_sessions, control_terminate, send_event};
use crate::discovery::{bsf_binding, nrf_discover};
use crate::gate::{answer, gate, set_status};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Uri, Version};
use axum::routing::{get, post};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio_rustls::TlsAcceptor;

/// Serves every connection as HTTP/2 (prior knowledge): an HTTP/1.1 client gets a protocol
/// error and the connection closed, as from a real SBI producer.
pub(crate) async fn serve_h2(listener: tokio::net::TcpListener, tls: Option<TlsAcceptor>, app: Router) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        let tls = tls.clone();
        tokio::spawn(async move {
            let h2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
            let _ = match tls {
                None => h2.serve_connection(TokioIo::new(stream), service).await,
                Some(tls) => match tls.accept(stream).await {
                    Ok(stream) => h2.serve_connection(TokioIo::new(stream), service).await,
                    Err(_) => return,
                },
            };
        });
    }
}

/// A TLS acceptor that offers only `h2` (TS 29.500 §5.2.2: SBI over TLS negotiates h2 by ALPN).
pub(crate) fn acceptor(t: &SimTls) -> std::io::Result<TlsAcceptor> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_slice_iter(&t.cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(std::io::Error::other)?;
    let key = PrivateKeyDer::from_pem_slice(&t.key_pem).map_err(std::io::Error::other)?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?;
    let builder = match &t.client_ca_pem {
        None => builder.with_no_client_auth(),
        Some(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(pem) {
                roots
                    .add(c.map_err(std::io::Error::other)?)
                    .map_err(std::io::Error::other)?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(std::io::Error::other)?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut cfg = builder.with_single_cert(certs, key).map_err(std::io::Error::other)?;
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(cfg)))
}

pub(crate) fn router(shared: Shared) -> Router {
    Router::new()
        .route(&format!("{API_PREFIX}/app-sessions"), post(create))
        .route(
            &format!("{API_PREFIX}/app-sessions/{{id}}"),
            get(read).delete(http_delete).patch(patch),
        )
        .route(&format!("{API_PREFIX}/app-sessions/{{id}}/delete"), post(delete))
        .route("/nnrf-disc/v1/nf-instances", get(nrf_discover))
        .route("/nbsf-management/v1/pcfBindings", get(bsf_binding))
        .route("/oauth2/token", post(crate::tokens::token))
        .route("/sim/requests", get(control_requests))
        .route("/sim/sessions", get(control_sessions))
        .route("/sim/terminate", post(control_terminate))
        .route("/sim/notify", post(control_notify))
        .with_state(shared)
}

/// The UE address a request names (exactly one is valid).
fn ue_of(req: &Value) -> String {
    ["ueIpv4", "ueIpv6", "ueMac"]
        .iter()
        .find_map(|k| req[*k].as_str())
        .unwrap_or_default()
        .to_owned()
}

async fn create(
    State(sh): State<Shared>,
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let idx = match gate(&sh, &method, &uri, version, &headers, parsed.clone()).await {
        Ok(i) => i,
        Err(r) => return r,
    };
    if let Err(r) = validate::headers(&headers, "application/json") {
        return answer(&sh, idx, r.response());
    }
    let Some(ctx) = parsed else {
        return answer(
            &sh,
            idx,
            problem(StatusCode::BAD_REQUEST, "INVALID_MSG_FORMAT", "the body is not JSON"),
        );
    };
    if let Err(r) = validate::app_session_context(&ctx) {
        return answer(&sh, idx, r.response());
    }
    let req = ctx["ascReqData"].clone();
    let ue = ue_of(&req);
    let (res, session) = {
        let mut s = sh.lock();
        if s.cfg.unattached.contains(&ue) {
            let r = match s.cfg.no_session {
                NoSession::Free5gc => problem(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "PDU_SESSION_NOT_AVAILABLE",
                    format!("no PDU session for {ue}"),
                ),
                NoSession::Open5gs => problem(StatusCode::NOT_FOUND, "NOT_FOUND", "Not found"),
            };
            drop(s);
            return answer(&sh, idx, r);
        }
        // Through the UE index: a burst of creates stays linear, not quadratic.
        let equivalent = s.cfg.see_other_for_equivalent.then(|| {
            s.by_ue
                .get(&ue)
                .into_iter()
                .flatten()
                .filter_map(|id| s.sessions.get(id))
                .find(|x| x.req["notifUri"] == req["notifUri"] && x.req["medComponents"] == req["medComponents"])
                .map(|x| x.uri.clone())
        });
        if let Some(Some(existing)) = equivalent {
            let mut r = StatusCode::SEE_OTHER.into_response();
            if let Ok(v) = HeaderValue::from_str(&existing) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            drop(s);
            return answer(&sh, idx, r);
        }
        s.next_id += 1;
        let id = s.next_id;
        let uri = format!("{}{API_PREFIX}/app-sessions/{id}", s.base_url);
        s.by_ue.entry(ue.clone()).or_default().insert(id);
        s.sessions.insert(
            id,
            Session {
                uri: uri.clone(),
                req: req.clone(),
            },
        );
        let feat = req["suppFeat"].clone();
        let body = json!({"ascReqData": req, "ascRespData": {"suppFeat": feat}});
        let mut r = (StatusCode::CREATED, Json(body)).into_response();
        if let Ok(v) = HeaderValue::from_str(&uri) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        let drop_it = s.cfg.faults.act_then_drop > 0;
        if drop_it {
            s.cfg.faults.act_then_drop -= 1;
        }
        (if drop_it { None } else { Some(r) }, (uri, req, s.cfg.notify_on_create))
    };
    let Some(res) = res else {
        set_status(&sh, idx, 201);
        // Unwinding the connection task makes hyper reset the stream with no answer: the
        // session exists, the AF never hears of it.
        std::panic::resume_unwind(Box::new("pcf-sim: answer dropped on purpose"));
    };
    let (uri, req, notify) = session;
    if notify {
        let sh2 = sh.clone();
        tokio::spawn(async move {
            let _ = send_event(&sh2, &uri, &req, "SUCCESSFUL_RESOURCES_ALLOCATION").await;
        });
    }
    answer(&sh, idx, res)
}

fn session_id(id: &str) -> Option<u64> {
    id.parse().ok()
}

async fn read(
    State(sh): State<Shared>,
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let idx = match gate(&sh, &method, &uri, version, &headers, None).await {
        Ok(i) => i,
        Err(r) => return r,
    };
    let found = session_id(&id).and_then(|id| sh.lock().sessions.get(&id).cloned());
    let res = match found {
        Some(s) => (StatusCode::OK, Json(json!({"ascReqData": s.req}))).into_response(),
        None => not_found(),
    };
    answer(&sh, idx, res)
}

fn not_found() -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "APPLICATION_SESSION_CONTEXT_NOT_FOUND",
        "no such app session",
    )
}

/// N5 deletes with `POST .../delete`; an HTTP DELETE is a client's mistake.
async fn http_delete(
    State(sh): State<Shared>,
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
) -> Response {
    let idx = match gate(&sh, &method, &uri, version, &headers, None).await {
        Ok(i) => i,
        Err(r) => return r,
    };
    let mut r = problem(
        StatusCode::METHOD_NOT_ALLOWED,
        "INVALID_API",
        "delete an app session with POST {appSessionId}/delete",
    );
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, PATCH"));
    answer(&sh, idx, r)
}

async fn patch(
    State(sh): State<Shared>,
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let idx = match gate(&sh, &method, &uri, version, &headers, parsed.clone()).await {
        Ok(i) => i,
        Err(r) => return r,
    };
    if let Err(r) = validate::headers(&headers, "application/merge-patch+json") {
        return answer(&sh, idx, r.response());
    }
    let Some(patch) = parsed.and_then(|p| p.get("ascReqData").cloned()) else {
        return answer(
            &sh,
            idx,
            problem(
                StatusCode::BAD_REQUEST,
                "INVALID_MSG_FORMAT",
                "the patch is not nested under ascReqData",
            ),
        );
    };
    let mut s = sh.lock();
    let res = match session_id(&id).and_then(|id| s.sessions.get_mut(&id)) {
        Some(sess) => {
            merge(&mut sess.req, &patch);
            (StatusCode::OK, Json(json!({"ascReqData": sess.req}))).into_response()
        }
        None => not_found(),
    };
    drop(s);
    answer(&sh, idx, res)
}

/// RFC 7396 merge patch.
fn merge(target: &mut Value, patch: &Value) {
    let Some(p) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    if let Some(t) = target.as_object_mut() {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

async fn delete(
    State(sh): State<Shared>,
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let idx = match gate(&sh, &method, &uri, version, &headers, None).await {
        Ok(i) => i,
        Err(r) => return r,
    };
    let gone = session_id(&id).and_then(|id| {
        let mut s = sh.lock();
        let gone = s.sessions.remove(&id)?;
        let ue = ue_of(&gone.req);
        if let Some(ids) = s.by_ue.get_mut(&ue) {
            ids.remove(&id);
            if ids.is_empty() {
                s.by_ue.remove(&ue);
            }
        }
        Some(gone)
    });
    let res = match gone {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => not_found(),
    };
    answer(&sh, idx, res)
}
