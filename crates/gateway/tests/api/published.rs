//! The released r1.2 file of QoS Booking (0.1.0) is what `/qos-booking/v0.1/openapi.yaml`
//! serves, byte for byte, and the gateway keeps the limits it states where the earlier
//! reconstruction dropped them: 15 polygon points at most, QoS profile names of 256
//! characters at most.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};
use time::Duration;

const V01: &str = "/qos-booking/v0.1";

/// SHA-256 of `QoSBooking/code/API_definitions/qos-booking.yaml` at the r1.2 release tag
/// (`../shared/specs/camara/published-r1.2/qos-booking.yaml`).
const PUBLISHED_SHA256: &str = "3ad59aa80909aadf1a09eaeccd5f8801e4204ca65a96cd7a817d514063eed223";

#[tokio::test]
async fn v0_1_serves_the_published_file_byte_for_byte() {
    let app = spawn_app().await;
    assert_serves_published(
        &app,
        &format!("{V01}/openapi.yaml"),
        PUBLISHED_SHA256,
        "qos-booking.yaml",
    )
    .await;
}

/// A polygon of `n` points on a small circle in the covered area (Frankfurt).
fn polygon(n: usize) -> Value {
    let points: Vec<Value> = (0..n)
        .map(|i| {
            let a = std::f64::consts::TAU * i as f64 / n as f64;
            json!({"latitude": 50.11 + 0.002 * a.sin(), "longitude": 8.68 + 0.003 * a.cos()})
        })
        .collect();
    json!({"areaType": "POLYGON", "boundary": points})
}

async fn create_v01(app: &TestApp, body: Value) -> Resp {
    app.send(
        Method::POST,
        &format!("{V01}/device-qos-bookings"),
        Some(&app.token),
        Some("p-corr"),
        Some(body),
    )
    .await
}

#[tokio::test]
async fn v0_1_keeps_the_published_limits_fifteen_polygon_points_and_256_character_profile_names() {
    let app = spawn_app().await;
    let mut body = booking_body(&app, "+123456789", Duration::minutes(10), 600);
    body["serviceArea"] = polygon(15);
    let ok = create_v01(&app, body.clone()).await;
    assert_eq!(ok.status, 201, "{}", ok.body);

    let mut sixteen = booking_body(&app, "+123456780", Duration::minutes(10), 600);
    sixteen["serviceArea"] = polygon(16);
    // A known area type whose sub-schema is not met: CAMARA's 422, not a 400.
    let r = create_v01(&app, sixteen).await;
    r.assert_error(422, "QOS_BOOKING.INVALID_AREA");
    assert_eq!(r.correlator.as_deref(), Some("p-corr"));

    let mut long = booking_body(&app, "+123456780", Duration::minutes(10), 600);
    long["qosProfile"] = json!("Q".repeat(257));
    let r = create_v01(&app, long).await;
    r.assert_error(400, "INVALID_ARGUMENT");
    assert!(
        r.body["message"].as_str().unwrap().contains("longer than 256"),
        "{}",
        r.body
    );
    // 256 characters is a valid name, of a profile that does not exist (r1.2 answers that
    // 400 too, having no QOS_PROFILE_NOT_APPLICABLE): refused for what it names, not its length.
    let mut unknown = booking_body(&app, "+123456780", Duration::minutes(10), 600);
    unknown["qosProfile"] = json!("Q".repeat(256));
    let r = create_v01(&app, unknown).await;
    r.assert_error(400, "INVALID_ARGUMENT");
    assert!(
        r.body["message"].as_str().unwrap().contains("does not exist"),
        "{}",
        r.body
    );
    // Nothing of the refused ones was kept.
    let listed = app
        .send(
            Method::POST,
            &format!("{V01}/retrieve-device-qos-bookings"),
            Some(&app.token),
            None,
            Some(json!({"device": {"phoneNumber": "+123456780"}})),
        )
        .await;
    assert_eq!(listed.body, json!([]), "{}", listed.body);
    app.finish().await;
}
