//! 3-legged tokens in every subject form of CAMARA's identity and consent profile: a phone
//! number (`tel:`), an address (`ipport:`), and an operator token (`operatortoken:`) that the
//! device resolver turns into a device. The token's device is the booking's; a `device` in the
//! body is then unnecessary.

use crate::helpers::*;
use camara_api::scopes;
use serde_json::json;
use time::Duration;

fn body_without_device(app: &TestApp) -> serde_json::Value {
    let mut b = booking_body(app, "+123456789", Duration::minutes(10), 600);
    b.as_object_mut().unwrap().remove("device");
    b
}

#[tokio::test]
async fn each_subject_form_books_its_own_device() {
    let app = spawn_app().await;
    for (sub, device_index) in [
        ("tel:+123456781", Some("+123456781")),
        ("operatortoken:ts43-123456782", Some("+123456782")),
        ("ipport:203.0.113.77:5060", None),
        ("ipport:[2001:db8:77::1]", None),
    ] {
        let token = app.token_for("three-legged-app", &scopes::ALL, Some(sub));
        let created = app.create_as(&token, body_without_device(&app)).await;
        assert_eq!(created.status, 201, "{sub}: {}", created.body);
        assert!(
            created.body.get("device").is_none(),
            "{sub}: no device is echoed for a 3-legged token"
        );
        let id = created.body["bookingId"].as_str().unwrap();
        assert_eq!(app.get_as(&token, id).await.status, 200);
        // The same subject finds it; a device in the body is unnecessary.
        let found = app.retrieve_as(&token, json!({})).await;
        assert_eq!(found.body.as_array().map(Vec::len), Some(1), "{sub}: {}", found.body);
        let mut with_device = body_without_device(&app);
        with_device["device"] = json!({"phoneNumber": "+123456783"});
        app.create_as(&token, with_device)
            .await
            .assert_error(422, "UNNECESSARY_IDENTIFIER");
        // The operator token names the same device as its phone number.
        if let Some(phone) = device_index {
            let by_phone = app.token_for("three-legged-app", &scopes::ALL, Some(&format!("tel:{phone}")));
            assert_eq!(app.get_as(&by_phone, id).await.status, 200, "{sub}");
        }
    }
    // Activation reaches the NEF with the subject's address.
    app.advance(Duration::minutes(10)).await;
    let addresses: Vec<String> = app
        .sim
        .requests_of("POST")
        .iter()
        .map(|r| {
            let b = r.body.as_ref().unwrap();
            b["ueIpv4Addr"]
                .as_str()
                .or(b["ueIpv6Addr"].as_str())
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    for want in ["10.45.0.12", "10.45.0.13", "203.0.113.77"] {
        assert!(addresses.iter().any(|a| a == want), "{want} not in {addresses:?}");
    }
}

#[tokio::test]
async fn unknown_or_malformed_subjects_are_refused() {
    let app = spawn_app_with(|s| {
        s.auth.subject_forms = vec![
            gateway::settings::SubjectForm::Tel,
            gateway::settings::SubjectForm::Operatortoken,
        ];
    })
    .await;
    for sub in ["operatortoken:no-such-token", "tel:+12", "ipport:300.1.1.1"] {
        let token = app.token_for("three-legged-app", &scopes::ALL, Some(sub));
        let r = app.create_as(&token, body_without_device(&app)).await;
        // Unknown token, malformed number, and a form not enabled (not taken as 2-legged).
        r.assert_error(401, "UNAUTHENTICATED");
    }
}
