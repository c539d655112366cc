//! The baseline: a minimal axum server answering the same JSON as the gateway (a
//! `BookingInfo`), with no authentication, validation or storage. Every API figure is also
//! given as a ratio to this server measured in the same run, on the same machine.

use axum::Router;
use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};

pub const BOOKING: &str = r#"{"bookingId":"3fa85f64-5717-4562-b3fc-2c963f66afa6","device":{"ipv4Address":{"publicAddress":"203.0.113.5","privateAddress":"10.0.0.5"}},"applicationServer":{"ipv4Address":"198.51.100.0/24"},"devicePorts":{"ports":[5060]},"qosProfile":"QOS_L","startTime":"2030-01-01T12:00:00Z","duration":3600,"serviceArea":{"areaType":"CIRCLE","center":{"latitude":50.110924,"longitude":8.682127},"radius":500},"bookingStatus":"SCHEDULED"}"#;

async fn one() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], BOOKING)
}

/// Reads the body as JSON, as any server of this API must, and answers 201.
async fn create(body: Bytes) -> impl IntoResponse {
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(_) => (
            StatusCode::CREATED,
            [(header::CONTENT_TYPE, "application/json")],
            BOOKING,
        )
            .into_response(),
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}

/// Serves until killed (`bench baseline PORT`), on a runtime like the gateway's.
pub fn serve(port: u16) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let app = Router::new()
            .route("/qos-booking/v0.2/device-qos-bookings", post(create))
            .route("/qos-booking/v0.2/device-qos-bookings/{id}", get(one))
            .route("/health/ready", get(|| async { "ok" }));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        axum::serve(listener, app).await?;
        anyhow::Ok(())
    })
}
