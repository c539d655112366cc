//! Bearer tokens from an identity provider: keys from its JWKS (by URL, discovery or file),
//! every way a token can be wrong, key rotation, scopes, and 2- and 3-legged subjects.

use crate::helpers::*;
use crate::idp::*;
use gateway::settings::AuthMode;
use serde_json::json;
use time::Duration;

async fn spawn_with_idp(idp: &TestIdp, source: &str) -> TestApp {
    let url = idp.url.clone();
    let source = source.to_owned();
    spawn_app_with(move |s| {
        s.auth.mode = AuthMode::Jwks;
        match source.as_str() {
            "jwks" => s.auth.jwks_url = format!("{url}/jwks").parse().ok(),
            "discovery" => s.auth.discovery_url = format!("{url}/.well-known/openid-configuration").parse().ok(),
            file => s.auth.jwks_file = Some(file.into()),
        }
        s.auth.issuer = ISSUER.into();
        s.auth.audience = AUDIENCE.into();
        s.auth.refetch_min_interval = std::time::Duration::from_secs(2);
        s.auth.phone_number_claim = Some("phone_number".into());
    })
    .await
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[tokio::test]
async fn tokens_are_checked_in_every_way() {
    let idp = TestIdp::start().await;
    idp.add_ec("ec-1");
    idp.add_rsa("rsa-1");
    idp.publish("ec-1");
    idp.publish("rsa-1");
    let app = spawn_with_idp(&idp, "jwks").await;
    let body = booking_body(&app, "+123456789", Duration::minutes(5), 600);

    // Valid ES256 and RS256 tokens.
    assert_eq!(
        app.create_as(&idp.sign("ec-1", json!({})), body.clone()).await.status,
        201
    );
    let listed = app
        .retrieve_as(
            &idp.sign("rsa-1", json!({})),
            json!({"device": {"phoneNumber": "+123456789"}}),
        )
        .await;
    assert_eq!(listed.status, 200, "{}", listed.body);

    let bad = [
        ("expired", idp.sign("ec-1", json!({"exp": now() - 120}))),
        ("not yet valid", idp.sign("ec-1", json!({"nbf": now() + 120}))),
        ("wrong issuer", idp.sign("ec-1", json!({"iss": "https://evil.test"}))),
        ("wrong audience", idp.sign("ec-1", json!({"aud": "other-api"}))),
        ("alg none", unsigned_token()),
        (
            "HS256 with the RSA public key",
            hs256_token(&idp.rsa_public_der.lock().unwrap(), "rsa-1"),
        ),
        ("garbage", "not.a.jwt".to_owned()),
        ("no client id", idp.sign("ec-1", json!({"client_id": null}))),
    ];
    for (case, token) in bad {
        let r = app
            .retrieve_as(&token, json!({"device": {"phoneNumber": "+123456789"}}))
            .await;
        assert_eq!(r.status, 401, "{case}: {}", r.body);
        r.assert_error(401, "UNAUTHENTICATED");
    }
    // A token signed by a key the IdP never published.
    idp.add_ec("ec-unpublished");
    let r = app
        .get_as(
            &idp.sign("ec-unpublished", json!({})),
            "3fa85f64-5717-4562-b3fc-2c963f66afa6",
        )
        .await;
    r.assert_error(401, "UNAUTHENTICATED");
    // Within the leeway (30 s) an expired token still passes.
    let r = app
        .get_as(
            &idp.sign("ec-1", json!({"exp": now() - 5})),
            "3fa85f64-5717-4562-b3fc-2c963f66afa6",
        )
        .await;
    r.assert_error(404, "NOT_FOUND");
    app.finish().await;
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_and_unknown_kids_do_not_hammer_the_idp() {
    let idp = TestIdp::start().await;
    idp.add_ec("old");
    idp.publish("old");
    let app = spawn_with_idp(&idp, "discovery").await;
    let id = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
    app.get_as(&idp.sign("old", json!({})), id)
        .await
        .assert_error(404, "NOT_FOUND");
    let fetched = idp.fetches();
    // Ten tokens with an unknown kid: at most one refetch within the interval.
    idp.add_ec("new");
    for _ in 0..10 {
        app.get_as(&idp.sign("new", json!({})), id)
            .await
            .assert_error(401, "UNAUTHENTICATED");
    }
    assert!(idp.fetches() <= fetched + 1, "{} fetches", idp.fetches() - fetched);
    // The IdP rotates: once the interval has passed, the new key is fetched and accepted.
    idp.publish("new");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    app.get_as(&idp.sign("new", json!({})), id)
        .await
        .assert_error(404, "NOT_FOUND");
    app.get_as(&idp.sign("old", json!({})), id)
        .await
        .assert_error(404, "NOT_FOUND");
    app.finish().await;
}

/// Verified tokens are cached, but a cached token is refused from its `exp` on, and once its
/// key has left the IdP's key set.
#[tokio::test]
async fn the_token_cache_never_outlives_exp_or_the_key() {
    let idp = TestIdp::start().await;
    idp.add_ec("k1");
    idp.add_ec("k2");
    idp.publish("k1");
    idp.publish("k2");
    let url = idp.url.clone();
    let app = spawn_app_with(move |s| {
        s.auth.mode = AuthMode::Jwks;
        s.auth.jwks_url = format!("{url}/jwks").parse().ok();
        s.auth.issuer = ISSUER.into();
        s.auth.audience = AUDIENCE.into();
        s.auth.refetch_min_interval = std::time::Duration::from_secs(1);
        s.auth.leeway = std::time::Duration::ZERO;
    })
    .await;
    let id = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
    // Valid for two more seconds: accepted (and cached) twice, refused once expired.
    let short = idp.sign("k2", json!({"exp": now() + 2}));
    for _ in 0..2 {
        app.get_as(&short, id).await.assert_error(404, "NOT_FOUND");
    }
    let long = idp.sign("k1", json!({}));
    app.get_as(&long, id).await.assert_error(404, "NOT_FOUND");
    app.get_as(&long, id).await.assert_error(404, "NOT_FOUND");
    // (Past the whole second of `exp`: jsonwebtoken still accepts a token during it.)
    tokio::time::sleep(std::time::Duration::from_millis(3_100)).await;
    app.get_as(&short, id).await.assert_error(401, "UNAUTHENTICATED");
    // k1 is retired; a token with a new kid makes the gateway fetch the set again.
    idp.withdraw("k1");
    idp.add_ec("k3");
    idp.publish("k3");
    app.get_as(&idp.sign("k3", json!({})), id)
        .await
        .assert_error(404, "NOT_FOUND");
    app.get_as(&long, id).await.assert_error(401, "UNAUTHENTICATED");
    app.finish().await;
}

#[tokio::test]
async fn keys_from_a_jwks_file() {
    let idp = TestIdp::start().await;
    idp.add_ec("file-key");
    idp.publish("file-key");
    let jwks = reqwest::get(format!("{}/jwks", idp.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, jwks).unwrap();
    let app = spawn_with_idp(&idp, path.to_str().unwrap()).await;
    let r = app
        .create_as(
            &idp.sign("file-key", json!({})),
            booking_body(&app, "+123456789", Duration::minutes(5), 600),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    app.finish().await;
}

#[tokio::test]
async fn scopes_and_legs_with_idp_tokens() {
    let idp = TestIdp::start().await;
    idp.add_ec("k");
    idp.publish("k");
    let app = spawn_with_idp(&idp, "jwks").await;
    let mut body = booking_body(&app, "+123456789", Duration::minutes(5), 600);
    // Each operation needs its own scope.
    use camara_api::scopes::*;
    let only = |s: &str| idp.sign("k", json!({"scope": s}));
    app.create_as(&only(READ), body.clone())
        .await
        .assert_error(403, "PERMISSION_DENIED");
    app.get_as(&only(CREATE), "3fa85f64-5717-4562-b3fc-2c963f66afa6")
        .await
        .assert_error(403, "PERMISSION_DENIED");
    app.delete_as(&only(READ), "3fa85f64-5717-4562-b3fc-2c963f66afa6")
        .await
        .assert_error(403, "PERMISSION_DENIED");
    app.retrieve_as(&only(CREATE), json!({}))
        .await
        .assert_error(403, "PERMISSION_DENIED");
    // 2-legged: create with the device; another client cannot see it.
    let a = idp.sign("k", json!({}));
    let id = app.create_as(&a, body.clone()).await.body["bookingId"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = idp.sign("k", json!({"client_id": null, "azp": "client-b"}));
    app.get_as(&b, &id).await.assert_error(403, "PERMISSION_DENIED");
    // 3-legged through the phone_number claim: the device must not be sent again...
    let three = idp.sign("k", json!({"phone_number": "+123456780", "sub": "user-42"}));
    app.create_as(&three, body.clone())
        .await
        .assert_error(422, "UNNECESSARY_IDENTIFIER");
    body.as_object_mut().unwrap().remove("device");
    let mine = app.create_as(&three, body.clone()).await;
    assert_eq!(mine.status, 201, "{}", mine.body);
    assert!(mine.body.get("device").is_none());
    let mine_id = mine.body["bookingId"].as_str().unwrap();
    // ...and another subject of the same client neither reads nor deletes it.
    let other = idp.sign("k", json!({"phone_number": "+123456781"}));
    app.get_as(&other, mine_id).await.assert_error(403, "PERMISSION_DENIED");
    app.delete_as(&other, mine_id)
        .await
        .assert_error(403, "PERMISSION_DENIED");
    assert_eq!(app.retrieve_as(&other, json!({})).await.body, json!([]));
    assert_eq!(
        app.retrieve_as(&three, json!({})).await.body[0]["bookingId"],
        json!(mine_id)
    );
    // A 2-legged token without a device gets MISSING_IDENTIFIER.
    app.create_as(&a, body).await.assert_error(422, "MISSING_IDENTIFIER");
    assert_eq!(app.delete_as(&three, mine_id).await.status, 204);
    app.finish().await;
}
