//! `x-correlator`: validated on the way in, echoed on every response (2xx, 204 and errors).

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

pub static X_CORRELATOR: HeaderName = HeaderName::from_static("x-correlator");

/// What the request carried; handlers turn `Invalid` into 400 after authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Correlator {
    Valid(HeaderValue),
    Invalid,
    Absent,
}

/// `^[a-zA-Z0-9-_:;.\/<>{}]{0,256}$`
pub fn is_valid(v: &[u8]) -> bool {
    v.len() <= 256 && v.iter().all(|b| b.is_ascii_alphanumeric() || b"-_:;./<>{}".contains(b))
}

pub async fn layer(mut req: Request, next: Next) -> Response {
    let mut values = req.headers().get_all(&X_CORRELATOR).iter();
    let corr = match (values.next(), values.next()) {
        (None, _) => Correlator::Absent,
        (Some(v), None) if is_valid(v.as_bytes()) => Correlator::Valid(v.clone()),
        _ => Correlator::Invalid,
    };
    req.extensions_mut().insert(corr.clone());
    let mut res = next.run(req).await;
    let echo = match corr {
        Correlator::Valid(v) if !v.is_empty() => Some(v),
        // None sent: give one of our own so the exchange can still be traced in our logs.
        Correlator::Absent => HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).ok(),
        _ => None,
    };
    if let Some(v) = echo {
        res.headers_mut().insert(X_CORRELATOR.clone(), v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::is_valid;

    #[test]
    fn pattern() {
        assert!(is_valid(b""));
        assert!(is_valid(b"b4333c46-49c0-4f62-80d7-f0ef930f1c46"));
        assert!(is_valid(b"a:b;c./<>{}_"));
        assert!(!is_valid(b"has space"));
        assert!(!is_valid(b"quote\""));
        assert!(!is_valid(&[b'a'; 257]));
    }
}
