//! The server itself: slow clients are cut off, slow requests get a CAMARA 504, and the body
//! limit holds.

use crate::helpers::*;
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn port_of(app: &TestApp) -> u16 {
    app.addr.rsplit(':').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_client_trickling_its_headers_is_disconnected() {
    let app = spawn_app_with(|s| s.server.header_read_timeout = std::time::Duration::from_millis(300)).await;
    let mut slow = tokio::net::TcpStream::connect(("127.0.0.1", port_of(&app)))
        .await
        .unwrap();
    slow.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(2), slow.read_to_end(&mut buf)).await;
    let closed = matches!(read, Ok(Ok(_)) | Ok(Err(_)));
    assert!(closed, "the connection stayed open");
    let text = String::from_utf8_lossy(&buf);
    assert!(buf.is_empty() || text.starts_with("HTTP/1.1 408"), "{text}");
    // Everyone else is served as usual.
    let res = app
        .client
        .get(format!("{}/health/live", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
}

#[tokio::test]
async fn a_request_body_that_never_completes_gets_504_timeout() {
    let app = spawn_app_with(|s| s.server.request_timeout = std::time::Duration::from_millis(400)).await;
    let mut c = tokio::net::TcpStream::connect(("127.0.0.1", port_of(&app)))
        .await
        .unwrap();
    let head = format!(
        "POST /qos-booking/v0.2/device-qos-bookings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         x-correlator: slow-1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"qosProfile\"",
        app.token
    );
    c.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(3), c.read(&mut buf))
        .await
        .expect("no answer")
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(text.starts_with("HTTP/1.1 504"), "{text}");
    assert!(text.to_ascii_lowercase().contains("x-correlator: slow-1"), "{text}");
    let body: Value = serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["code"], "TIMEOUT");
    assert_eq!(body["status"], 504);
}
