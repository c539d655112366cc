//! Only the client that created a booking (and, 3-legged, only its subject) may see it.

use crate::helpers::*;
use camara_api::scopes;
use serde_json::json;
use time::Duration;

#[tokio::test]
async fn another_client_can_neither_read_delete_nor_list() {
    let app = spawn_app().await;
    let r = app
        .create(booking_body(&app, "+123456789", Duration::minutes(5), 600))
        .await;
    let id = r.body["bookingId"].as_str().unwrap().to_owned();
    let other = app.all_scopes("client-b");
    app.get_as(&other, &id).await.assert_error(403, "PERMISSION_DENIED");
    app.delete_as(&other, &id).await.assert_error(403, "PERMISSION_DENIED");
    app.retrieve_as(&other, json!({"device": {"phoneNumber": "+123456789"}}))
        .await
        .assert_error(403, "PERMISSION_DENIED");
    // The booking is untouched and the device is free for client B's own booking.
    assert_eq!(app.get(&id).await.body["bookingStatus"], "SCHEDULED");
    assert_eq!(
        app.create_as(&other, booking_body(&app, "+123456789", Duration::minutes(5), 600))
            .await
            .status,
        201
    );
    let mine = app
        .retrieve_as(&other, json!({"device": {"phoneNumber": "+123456789"}}))
        .await;
    assert_eq!(mine.body.as_array().unwrap().len(), 1);
    assert_ne!(mine.body[0]["bookingId"], json!(id));
    app.finish().await;
}

#[tokio::test]
async fn three_legged_subjects_only_see_their_own_bookings() {
    let app = spawn_app().await;
    let x = app.token_for("c", &scopes::ALL, Some("tel:+111111111"));
    let y = app.token_for("c", &scopes::ALL, Some("tel:+222222222"));
    let mut body = booking_body(&app, "+100000000", Duration::minutes(5), 600);
    body.as_object_mut().unwrap().remove("device");
    let r = app.create_as(&x, body.clone()).await;
    assert_eq!(r.status, 201);
    let id = r.body["bookingId"].as_str().unwrap().to_owned();
    assert!(r.body.get("device").is_none());
    app.get_as(&y, &id).await.assert_error(403, "PERMISSION_DENIED");
    app.delete_as(&y, &id).await.assert_error(403, "PERMISSION_DENIED");
    let ry = app.retrieve_as(&y, json!({})).await;
    assert_eq!((ry.status, ry.body), (200, json!([])));
    let rx = app.retrieve_as(&x, json!({})).await;
    assert_eq!(rx.body[0]["bookingId"], json!(id));
    assert!(rx.body[0].get("device").is_none());
    // The same client with a 2-legged token naming the device sees it too.
    let two = app.all_scopes("c");
    let r2 = app
        .retrieve_as(&two, json!({"device": {"phoneNumber": "+111111111"}}))
        .await;
    assert_eq!(r2.body[0]["bookingId"], json!(id));
    assert_eq!(app.get_as(&x, &id).await.status, 200);
    assert_eq!(app.delete_as(&x, &id).await.status, 204);
    app.finish().await;
}

#[tokio::test]
async fn device_response_is_one_identifier_the_client_sent() {
    let app = spawn_app().await;
    let mut body = booking_body(&app, "+123456789", Duration::minutes(5), 600);
    body["device"] =
        json!({"ipv4Address": {"publicAddress": "203.0.113.0", "publicPort": 59765}, "ipv6Address": "2001:db8::1"});
    let r = app.create(body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.body["device"],
        json!({"ipv4Address": {"publicAddress": "203.0.113.0", "publicPort": 59765}})
    );
    // Either identifier finds the booking.
    let by_v6 = app
        .retrieve_as(&app.token, json!({"device": {"ipv6Address": "2001:db8::42"}}))
        .await;
    assert_eq!(by_v6.body.as_array().unwrap().len(), 1);
    app.finish().await;
}
