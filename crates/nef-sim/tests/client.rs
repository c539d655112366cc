//! The `nef` HTTP client against the simulator over real HTTP: resources, validation errors,
//! OAuth2 (single token, refresh after 401), retries and their limits, redirects.

use nef::{AsSessionWithQoSSubscription, FlowInfo, NefAuth, NefClient, NefClientConfig, NefError};
use nef_sim::{Faults, NefSim, OAuthConfig, SimConfig};
use secrecy::SecretString;
use std::time::Duration;

fn config(api_root: String, auth: NefAuth) -> NefClientConfig {
    NefClientConfig {
        api_root,
        scs_as_id: "qos-gw".into(),
        transport: sbi::TransportConfig {
            auth,
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(2),
            max_retries: 2,
            retry_base: Duration::from_millis(10),
            max_retry_after: Duration::from_secs(1),
            max_requests_per_second: 0,
            http2_only: false,
            user_agent: None,
            client_identity: None,
            root_certificates: None,
        },
    }
}

fn sub() -> AsSessionWithQoSSubscription {
    AsSessionWithQoSSubscription {
        notification_destination: "http://127.0.0.1:1/cb".into(),
        ue_ipv4_addr: Some("10.0.0.1".into()),
        qos_reference: Some("QOS_L".into()),
        flow_info: Some(vec![FlowInfo {
            flow_id: 1,
            flow_descriptions: vec!["permit in ip from 10.0.0.1 to any".into()],
        }]),
        supported_features: Some("0".into()),
        ..Default::default()
    }
}

async fn sim(cfg: SimConfig) -> NefSim {
    NefSim::start("127.0.0.1:0", SimConfig { release: 17, ..cfg })
        .await
        .unwrap()
}

#[tokio::test]
async fn create_get_list_delete() {
    let sim = sim(SimConfig::default()).await;
    let c = NefClient::new(config(sim.url(), NefAuth::None)).unwrap();
    let created = c.create(&sub()).await.unwrap();
    assert!(created.location.starts_with(&format!(
        "{}/3gpp-as-session-with-qos/v1/qos-gw/subscriptions/",
        sim.url()
    )));
    assert_eq!(
        created.subscription.self_link.as_deref(),
        Some(created.location.as_str())
    );
    assert_eq!(
        c.get(&created.location)
            .await
            .unwrap()
            .unwrap()
            .qos_reference
            .as_deref(),
        Some("QOS_L")
    );
    assert_eq!(c.list().await.unwrap().len(), 1);
    c.delete(&created.location).await.unwrap();
    assert!(sim.subscriptions().is_empty());
    // Deleting again (404) is success; reading it is None.
    c.delete(&created.location).await.unwrap();
    assert_eq!(c.get(&created.location).await.unwrap(), None);
    // The recorded POST body is exactly what was sent.
    assert_eq!(
        sim.requests_of("POST")[0].body.as_ref().unwrap(),
        &serde_json::to_value(sub()).unwrap()
    );
}

#[tokio::test]
async fn invalid_bodies_are_rejected_with_problem_details() {
    let sim = sim(SimConfig::default()).await;
    let c = NefClient::new(config(sim.url(), NefAuth::None)).unwrap();
    let mut bad = sub();
    bad.ue_ipv6_addr = Some("2001:db8::1".into());
    bad.flow_info = Some(vec![FlowInfo {
        flow_id: 1,
        flow_descriptions: vec!["permit in any from x to y".into()],
    }]);
    bad.gpsi = Some("msisdn-123".into());
    match c.create(&bad).await {
        Err(NefError::Rejected {
            status: 400,
            problem: Some(p),
            ..
        }) => {
            let params: Vec<_> = p.invalid_params.iter().map(|i| i.param.as_str()).collect();
            assert!(params.contains(&"/ueIpv4Addr"), "{params:?}");
            assert!(params.contains(&"/flowInfo/0/flowDescriptions/0"), "{params:?}");
            assert!(params.contains(&"/gpsi"), "{params:?}");
            assert_eq!(p.cause.as_deref(), Some("INVALID_MSG_FORMAT"));
        }
        other => panic!("{other:?}"),
    }
    assert!(sim.subscriptions().is_empty());
}

#[tokio::test]
async fn oauth_token_is_reused_and_refreshed_once_after_401() {
    let oauth = OAuthConfig {
        client_id: "gw".into(),
        client_secret: "s3cret".into(),
        token_ttl_seconds: 300,
    };
    let sim = sim(SimConfig {
        oauth: Some(oauth),
        ..SimConfig::default()
    })
    .await;
    let auth = NefAuth::OAuth2 {
        token_url: sim.token_url(),
        client_id: "gw".into(),
        client_secret: SecretString::from("s3cret"),
        scope: None,
    };
    let c = NefClient::new(config(sim.url(), auth)).unwrap();
    let a = c.create(&sub()).await.unwrap();
    c.get(&a.location).await.unwrap();
    let tokens = |sim: &NefSim| sim.requests().iter().filter(|r| r.path == "/oauth2/token").count();
    assert_eq!(tokens(&sim), 1, "one token for both calls");
    sim.expire_tokens();
    c.delete(&a.location).await.unwrap();
    assert_eq!(tokens(&sim), 2, "refreshed once after the 401");
    assert!(sim.subscriptions().is_empty());
    // Wrong secret: refused, not retried forever.
    let wrong = NefAuth::OAuth2 {
        token_url: sim.token_url(),
        client_id: "gw".into(),
        client_secret: SecretString::from("nope"),
        scope: None,
    };
    let c2 = NefClient::new(config(sim.url(), wrong)).unwrap();
    assert!(matches!(
        c2.create(&sub()).await,
        Err(NefError::Rejected { status: 401, .. })
    ));
}

#[tokio::test]
async fn post_is_retried_only_when_the_nef_did_not_act() {
    let sim = sim(SimConfig::default()).await;
    let c = NefClient::new(config(sim.url(), NefAuth::None)).unwrap();
    // 503 and 429 (with Retry-After) are retried: the NEF did not process the request.
    sim.fail_next(503, 1);
    sim.fail_next(429, 1);
    c.create(&sub()).await.unwrap();
    assert_eq!(sim.requests_of("POST").len(), 3);
    // A 500 on POST is not resent: the NEF may have acted.
    sim.fail_next(500, 1);
    assert!(matches!(c.create(&sub()).await, Err(NefError::Unavailable { .. })));
    assert_eq!(sim.requests_of("POST").len(), 4);
    // A dropped connection on POST: not resent either.
    sim.set_faults(Faults {
        drop_next: 1,
        ..Faults::default()
    });
    assert!(matches!(c.create(&sub()).await, Err(NefError::Unavailable { .. })));
    assert_eq!(sim.requests_of("POST").len(), 5);
    // GET and DELETE are retried on 500 and dropped connections, within the bound.
    let loc = sim.subscriptions().keys().next().unwrap().clone();
    sim.fail_next(500, 2);
    c.get(&loc).await.unwrap();
    sim.set_faults(Faults {
        drop_next: 1,
        ..Faults::default()
    });
    c.delete(&loc).await.unwrap();
    sim.fail_next(500, 3);
    assert!(matches!(c.get(&loc).await, Err(NefError::Unavailable { .. })));
    // 4xx are final.
    sim.fail_next(403, 1);
    assert!(matches!(
        c.create(&sub()).await,
        Err(NefError::Rejected { status: 403, .. })
    ));
}

#[tokio::test]
async fn redirects_are_followed_with_method_and_body() {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    let sim = sim(SimConfig::default()).await;
    let target = sim.url();
    // A front that redirects everything to the simulator with 307.
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let to = format!("{target}{}", uri.path());
        async move { (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, to)]).into_response() }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let front = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let c = NefClient::new(config(front, NefAuth::None)).unwrap();
    let created = c.create(&sub()).await.unwrap();
    assert!(
        created.location.starts_with(&sim.url()),
        "the Location of the final answer is kept whole"
    );
    assert_eq!(
        sim.requests_of("POST")[0].body.as_ref().unwrap()["qosReference"],
        "QOS_L"
    );
}

/// `max_requests_per_second` caps what the NEF sees: 30 creates sent at once at 20 per second
/// reach the simulator spread out, never more than 20 within one second.
#[tokio::test]
async fn the_rate_limit_caps_the_requests_the_nef_sees() {
    let sim = sim(SimConfig::default()).await;
    let c = std::sync::Arc::new(
        NefClient::new({
            let mut cfg = config(sim.url(), NefAuth::None);
            cfg.transport.max_requests_per_second = 20;
            cfg
        })
        .unwrap(),
    );
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..30 {
        let c = c.clone();
        tasks.spawn(async move { c.create(&sub()).await.map(|_| ()) });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap().unwrap();
    }
    let mut at: Vec<u128> = sim.requests().iter().map(|r| r.at_ms).collect();
    at.sort();
    assert_eq!(at.len(), 30);
    for (i, first) in at.iter().enumerate() {
        let within = at[i..].iter().take_while(|t| **t < first + 1000).count();
        assert!(within <= 21, "{within} requests within one second from request {i}");
    }
}

#[tokio::test]
async fn taking_the_log_returns_what_was_answered_and_later_answers_still_land() {
    let sim = sim(SimConfig::default()).await;
    let c = NefClient::new(config(sim.url(), NefAuth::None)).unwrap();
    let first = c.create(&sub()).await.unwrap();
    let http = reqwest::Client::new();
    let take = || async {
        http.delete(format!("{}/sim/requests", sim.url()))
            .send()
            .await
            .unwrap()
            .json::<Vec<serde_json::Value>>()
            .await
            .unwrap()
    };
    let taken = take().await;
    assert_eq!(taken.len(), 1);
    assert_eq!(
        (taken[0]["method"].as_str(), taken[0]["status"].as_u64()),
        (Some("POST"), Some(201))
    );
    assert!(sim.requests().is_empty(), "taken off the log");
    // Requests after a take are recorded with their own answers, not a neighbour's.
    c.delete(&first.location).await.unwrap();
    c.delete(&first.location).await.unwrap();
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [204, 404]);
    assert_eq!(take().await.len(), 2);
    assert!(take().await.is_empty());
}
