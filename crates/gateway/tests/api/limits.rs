//! Rate limits per client and operation, and the per-client quota of live bookings.

use crate::helpers::*;
use gateway::settings::RateSetting;
use time::Duration;

#[tokio::test]
async fn requests_over_the_rate_get_429_with_retry_after_per_client_and_operation() {
    let app = spawn_app_with(|s| {
        s.limits.create = RateSetting {
            per_second: 1,
            burst: 2,
        };
        s.limits.read = RateSetting {
            per_second: 1,
            burst: 1,
        };
    })
    .await;
    let phones = ["+123456780", "+123456781", "+123456782"];
    let mut statuses = Vec::new();
    let mut last = None;
    for p in phones {
        let r = app.create(booking_body(&app, p, Duration::minutes(5), 600)).await;
        statuses.push(r.status);
        last = Some(r);
    }
    assert_eq!(statuses, [201, 201, 429]);
    let r = last.unwrap();
    r.assert_error(429, "TOO_MANY_REQUESTS");
    let secs: u64 = r.retry_after.as_deref().unwrap().parse().unwrap();
    assert!((1..=2).contains(&secs), "Retry-After {secs}");
    // Another client has its own budget; another operation of the same client too.
    let other = app.all_scopes("client-b");
    assert_eq!(
        app.create_as(&other, booking_body(&app, "+123456783", Duration::minutes(5), 600))
            .await
            .status,
        201
    );
    assert_eq!(app.get("3fa85f64-5717-4562-b3fc-2c963f66afa6").await.status, 404);
    app.get("3fa85f64-5717-4562-b3fc-2c963f66afa6")
        .await
        .assert_error(429, "TOO_MANY_REQUESTS");
    // After the wait the client may create again.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        app.create(booking_body(&app, "+123456782", Duration::minutes(5), 600))
            .await
            .status,
        201
    );
    app.finish().await;
}

#[tokio::test]
async fn live_bookings_beyond_the_quota_get_quota_exceeded() {
    let app = spawn_app_with(|s| s.limits.max_live_bookings_per_client = 2).await;
    let a = app
        .create(booking_body(&app, "+123456780", Duration::minutes(5), 600))
        .await;
    assert_eq!(a.status, 201);
    assert_eq!(
        app.create(booking_body(&app, "+123456781", Duration::minutes(5), 600))
            .await
            .status,
        201
    );
    app.create(booking_body(&app, "+123456782", Duration::minutes(5), 600))
        .await
        .assert_error(429, "QUOTA_EXCEEDED");
    // Ended bookings do not count.
    assert_eq!(app.delete(a.body["bookingId"].as_str().unwrap()).await.status, 204);
    assert_eq!(
        app.create(booking_body(&app, "+123456782", Duration::minutes(5), 600))
            .await
            .status,
        201
    );
    // The quota is per client.
    let other = app.all_scopes("client-b");
    assert_eq!(
        app.create_as(&other, booking_body(&app, "+123456783", Duration::minutes(5), 600))
            .await
            .status,
        201
    );
    app.finish().await;
}
