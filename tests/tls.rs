//! Behind an API gateway, on the real binary: an nginx from Debian terminates TLS and routes
//! the path prefix `/camara` to the gateway (`server.base_path`), and the four operations run
//! through it; and the gateway's own TLS with client certificates (mTLS), reloaded when the
//! files change. Certificates are made with the `openssl` command line.
#![allow(clippy::disallowed_methods, reason = "tests compare with real time")]

use e2e_tests::{free_port, start_gateway};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use store::testing::pki::{ca, leaf};

fn read(dir: &Path, f: &str) -> Vec<u8> {
    std::fs::read(dir.join(f)).unwrap()
}

fn nginx() -> PathBuf {
    ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("nginx is not installed (.ci/run installs it)")
}

struct Nginx(std::process::Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master takes its workers down with it (SIGKILL would orphan them).
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let _ = self.0.wait();
    }
}

fn start_nginx(dir: &Path, port: u16, upstream: u16) -> Nginx {
    let d = dir.display();
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let conf = format!(
        r#"daemon off;
{user}
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {d}/server.crt;
    ssl_certificate_key {d}/server.key;
    # The API gateway's route: the prefix is kept, the gateway serves under it.
    location /camara/ {{
      proxy_pass http://127.0.0.1:{upstream};
      proxy_http_version 1.1;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }}
  }}
}}
"#,
        user = if root { "user root;" } else { "" },
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let child = Command::new(nginx())
        .args([
            "-p",
            &d.to_string(),
            "-c",
            &format!("{d}/nginx.conf"),
            "-e",
            &format!("{d}/nginx-error.log"),
        ])
        // Not the test's pipes: a stray worker would keep them open.
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("nginx");
    Nginx(child)
}

async fn wait_listening(port: u16) {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nothing listens on {port}");
}

fn port_of(base: &str) -> u16 {
    base.trim_start_matches("http://127.0.0.1:")
        .split('/')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap()
}

#[tokio::test]
async fn the_four_operations_run_through_nginx_with_tls_and_a_path_prefix() {
    let dir = tempfile::tempdir().unwrap();
    ca(dir.path(), "ca");
    leaf(dir.path(), "ca", "server", false);
    let public = free_port();
    let public_url = format!("https://127.0.0.1:{public}");
    let gw = start_gateway(&[
        ("QOSGW__SERVER__BASE_PATH", "/camara"),
        ("QOSGW__SERVER__TRUSTED_PROXIES", "127.0.0.1/32"),
        ("QOSGW__SERVER__PUBLIC_URL", public_url.as_str()),
    ])
    .await;
    let _nginx = start_nginx(dir.path(), public, port_of(&gw.base));
    wait_listening(public).await;
    let http = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&read(dir.path(), "ca.crt")).unwrap()])
        .build()
        .unwrap();
    let root = format!("{public_url}/camara/qos-booking/v0.2");
    let api = format!("{root}/device-qos-bookings");
    let start = OffsetDateTime::now_utc() + time::Duration::hours(1);
    let res = http
        .post(&api)
        .bearer_auth(&gw.token)
        .header("x-correlator", "via-nginx")
        .json(&e2e_tests::city_booking(&start.format(&Rfc3339).unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["x-correlator"], "via-nginx");
    let created: Value = res.json().await.unwrap();
    let id = created["bookingId"].as_str().unwrap();
    let got = http
        .get(format!("{api}/{id}"))
        .bearer_auth(&gw.token)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.json::<Value>().await.unwrap()["bookingStatus"], "SCHEDULED");
    let found = http
        .post(format!("{root}/retrieve-device-qos-bookings"))
        .bearer_auth(&gw.token)
        .json(&json!({"device": {"phoneNumber": "+123456789"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(found.status(), 200);
    assert_eq!(found.json::<Value>().await.unwrap()[0]["bookingId"], id);
    let deleted = http
        .delete(format!("{api}/{id}"))
        .bearer_auth(&gw.token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    // Without the prefix there is no API (the gateway serves only under its base path).
    let bare = http
        .get(format!("{public_url}/qos-booking/v0.2/device-qos-bookings/{id}"))
        .bearer_auth(&gw.token)
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 404);
}

#[tokio::test]
async fn the_api_listener_serves_tls_with_client_certificates_and_reloads_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    ca(p, "ca");
    ca(p, "ca2");
    leaf(p, "ca", "server", false);
    leaf(p, "ca2", "server2", false);
    leaf(p, "ca", "client", true);
    // The gateway reads its own copies, replaced on rotation.
    std::fs::copy(p.join("server.crt"), p.join("tls.crt")).unwrap();
    std::fs::copy(p.join("server.key"), p.join("tls.key")).unwrap();
    let (cert, key, client_ca) = (p.join("tls.crt"), p.join("tls.key"), p.join("ca.crt"));
    let gw = start_gateway(&[
        ("QOSGW__SERVER__TLS__CERT_FILE", cert.to_str().unwrap()),
        ("QOSGW__SERVER__TLS__KEY_FILE", key.to_str().unwrap()),
        ("QOSGW__SERVER__TLS__CLIENT_CA_FILE", client_ca.to_str().unwrap()),
        ("QOSGW__SERVER__TLS__RELOAD_INTERVAL_MS", "200"),
    ])
    .await;
    let url = format!(
        "https://127.0.0.1:{}/qos-booking/v0.2/device-qos-bookings/00000000-0000-4000-8000-000000000000",
        port_of(&gw.base)
    );
    let mut identity = read(p, "client.crt");
    identity.extend(read(p, "client.key"));
    let client = |ca: &str, with_identity: bool| {
        let mut b = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&read(p, ca)).unwrap()])
            .pool_max_idle_per_host(0);
        if with_identity {
            b = b.identity(reqwest::Identity::from_pem(&identity).unwrap());
        }
        b.build().unwrap()
    };
    // With a client certificate of the trusted CA: served (404: no such booking).
    let res = client("ca.crt", true)
        .get(&url)
        .bearer_auth(&gw.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    // Without one: refused in the handshake.
    assert!(client("ca.crt", false).get(&url).send().await.is_err());
    // Plain HTTP on the TLS port gets nowhere.
    let plain = reqwest::get(url.replace("https://", "http://")).await;
    assert!(plain.is_err() || plain.is_ok_and(|r| r.status().as_u16() != 404));

    // Rotation: a certificate from another CA replaces the files; new connections get it.
    assert!(
        client("ca2.crt", true).get(&url).send().await.is_err(),
        "not rotated yet"
    );
    std::fs::copy(p.join("server2.key"), p.join("tls.key.new")).unwrap();
    std::fs::copy(p.join("server2.crt"), p.join("tls.crt.new")).unwrap();
    std::fs::rename(p.join("tls.key.new"), &key).unwrap();
    std::fs::rename(p.join("tls.crt.new"), &cert).unwrap();
    let mut rotated = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Ok(res) = client("ca2.crt", true).get(&url).bearer_auth(&gw.token).send().await {
            assert_eq!(res.status(), 404);
            rotated = true;
            break;
        }
    }
    assert!(rotated, "the new certificate was not picked up");
}
