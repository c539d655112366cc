//! The admin API over HTTP: the operator token, one call per command, and the gateway's
//! CAMARA error body (`{status, code, message}`) turned into one line a person can act on.

use anyhow::{Context, bail};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// The operator token: from `file` when given, else `QOSCTL_TOKEN`, else `OPERATOR_TOKEN`
/// (what the gateway prints in development). Never an argument.
pub fn operator_token(file: Option<&Path>) -> anyhow::Result<String> {
    let token = match file {
        Some(f) => std::fs::read_to_string(f).with_context(|| format!("cannot read the token file {}", f.display()))?,
        None => std::env::var("QOSCTL_TOKEN")
            .or_else(|_| std::env::var("OPERATOR_TOKEN"))
            .map_err(|_| {
                anyhow::anyhow!("no operator token: set QOSCTL_TOKEN (or OPERATOR_TOKEN), or pass --token-file FILE")
            })?,
    };
    let token = token.trim().to_owned();
    if token.is_empty() {
        bail!("the operator token is empty");
    }
    Ok(token)
}

pub struct Admin {
    http: reqwest::Client,
    base: url::Url,
    token: String,
}

impl Admin {
    pub fn new(base: url::Url, token: String, timeout: Duration) -> anyhow::Result<Self> {
        if base.cannot_be_a_base() {
            bail!("--url must be an http(s) base URL, e.g. http://127.0.0.1:9090");
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Self { http, base, token })
    }

    /// The URL of `segments` under the base (each segment escaped: an id cannot change the path).
    fn url(&self, segments: &[&str]) -> anyhow::Result<url::Url> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| anyhow::anyhow!("--url cannot be a base URL"))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    pub async fn get(&self, segments: &[&str], query: &[(&str, String)]) -> anyhow::Result<Value> {
        let mut url = self.url(segments)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        self.call(Method::GET, url, None).await
    }

    /// A GET whose answer is text (a CSV report), as it came.
    pub async fn get_text(&self, segments: &[&str], query: &[(&str, String)]) -> anyhow::Result<String> {
        let mut url = self.url(segments)?;
        url.query_pairs_mut().extend_pairs(query);
        self.send(Method::GET, url, None).await.map(|(_, text)| text)
    }

    pub async fn post(&self, segments: &[&str]) -> anyhow::Result<Value> {
        self.call(Method::POST, self.url(segments)?, None).await
    }

    pub async fn put(&self, segments: &[&str], body: &Value) -> anyhow::Result<Value> {
        self.call(Method::PUT, self.url(segments)?, Some(body)).await
    }

    pub async fn delete(&self, segments: &[&str]) -> anyhow::Result<Value> {
        self.call(Method::DELETE, self.url(segments)?, None).await
    }

    async fn call(&self, method: Method, url: url::Url, body: Option<&Value>) -> anyhow::Result<Value> {
        let shown = format!("{method} {}", url.path());
        let (status, text) = self.send(method, url, body).await?;
        if status == StatusCode::NO_CONTENT || text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).with_context(|| format!("{shown}: the answer is not JSON"))
    }

    /// One call: a success's status and body, or the failure said in one line.
    async fn send(&self, method: Method, url: url::Url, body: Option<&Value>) -> anyhow::Result<(StatusCode, String)> {
        let shown = format!("{method} {}", url.path());
        let mut req = self.http.request(method, url).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.with_context(|| {
            format!(
                "cannot reach the admin API at {} (is server.admin_listen set?)",
                self.base
            )
        })?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .with_context(|| format!("{shown}: the answer was cut off"))?;
        if status.is_success() {
            return Ok((status, text));
        }
        bail!("{shown}: {}", failure(status, &text))
    }
}

/// `404 NOT_FOUND: The booking does not exist`, from a CAMARA error body, or the status and
/// the start of whatever else came back.
fn failure(status: StatusCode, body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    match parsed
        .as_ref()
        .and_then(|v| Some((v.get("code")?.as_str()?, v.get("message")?.as_str()?)))
    {
        Some((code, message)) => format!("{} {code}: {message}", status.as_u16()),
        None => {
            let start: String = body.chars().take(200).collect();
            format!("{status}{}{start}", if start.is_empty() { "" } else { ": " })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_camara_error_becomes_one_line() {
        let body = r#"{"status":404,"code":"NOT_FOUND","message":"The booking does not exist"}"#;
        assert_eq!(
            failure(StatusCode::NOT_FOUND, body),
            "404 NOT_FOUND: The booking does not exist"
        );
        assert_eq!(failure(StatusCode::BAD_GATEWAY, ""), "502 Bad Gateway");
        assert_eq!(failure(StatusCode::BAD_GATEWAY, "<html>"), "502 Bad Gateway: <html>");
    }

    #[test]
    fn ids_are_path_segments_not_paths() {
        let admin = Admin::new(
            "http://127.0.0.1:9090/ops/".parse().unwrap(),
            "t".into(),
            Duration::from_secs(1),
        )
        .unwrap();
        let url = admin.url(&["admin", "clients", "../bookings?x=1"]).unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9090/ops/admin/clients/..%2Fbookings%3Fx=1"
        );
    }
}
