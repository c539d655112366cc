//! TS 29.571 / TS 29.122 common data every southbound uses (JSON exactly as 3GPP names it).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snssai {
    pub sst: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sd: Option<String>,
}

/// A list that may come as `null` or be missing: empty.
pub fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// `ProblemDetails` (TS 29.122 CommonData), `application/problem+json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProblemDetails {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub problem_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_empty")]
    pub invalid_params: Vec<InvalidParam>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidParam {
    pub param: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl ProblemDetails {
    /// One line for logs and booking errors: cause first, then detail, then invalid params.
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if let Some(c) = &self.cause {
            parts.push(c.clone());
        }
        if let Some(d) = self.detail.as_ref().or(self.title.as_ref()) {
            parts.push(d.clone());
        }
        for p in &self.invalid_params {
            parts.push(format!("{}: {}", p.param, p.reason.as_deref().unwrap_or("invalid")));
        }
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_details_summary() {
        let p: ProblemDetails = serde_json::from_str(
            r#"{"status":400,"cause":"INVALID_MSG_FORMAT","detail":"bad","invalidParams":[{"param":"/flowInfo","reason":"x"}]}"#,
        )
        .unwrap();
        assert_eq!(p.summary(), "INVALID_MSG_FORMAT; bad; /flowInfo: x");
        let fastapi: ProblemDetails = serde_json::from_str(r#"{"detail":"Not found"}"#).unwrap();
        assert_eq!(fastapi.summary(), "Not found");
    }
}
