//! 3GPP wire types of AsSessionWithQoS (JSON exactly as TS 29.122 names the fields); the
//! common data (ProblemDetails, Snssai) are `sbi`'s.

use sbi::null_as_empty;
pub use sbi::{InvalidParam, ProblemDetails, Snssai};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `AsSessionWithQoSSubscription` (Rel-17) with the Rel-18 `gpsi` and `qosDuration`.
/// Unknown fields of a NEF's answer are kept in `other`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AsSessionWithQoSSubscription {
    #[serde(rename = "self", skip_serializing_if = "Option::is_none")]
    pub self_link: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supported_features: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dnn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snssai: Option<Snssai>,
    pub notification_destination: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ue_ipv4_addr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ue_ipv6_addr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpsi: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qos_reference: Option<String>,
    #[serde(rename = "altQoSReferences", skip_serializing_if = "Option::is_none")]
    pub alt_qos_references: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_info: Option<Vec<FlowInfo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_threshold: Option<UsageThreshold>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qos_duration: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_test_notification: Option<bool>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowInfo {
    pub flow_id: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flow_descriptions: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageThreshold {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_volume: Option<u64>,
}

/// `UserPlaneNotificationData`, read leniently: NEFs add fields and send nulls.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserPlaneNotificationData {
    #[serde(default)]
    pub transaction: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub event_reports: Vec<UserPlaneEventReport>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserPlaneEventReport {
    /// A `UserPlaneEvent`: an extensible enum, so any string is accepted.
    #[serde(default)]
    pub event: Option<String>,
    #[serde(default)]
    pub applied_qos_ref: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_tolerate_nulls_extras_and_unknown_events() {
        let raw = r#"{"transaction":"https://nef/x/subscriptions/7","ipv4Addr":"10.0.0.1",
            "eventReports":[{"event":"SESSION_TERMINATION","accumulatedUsage":{"volume":null}},{"event":"L4S_AVAILABLE"},{}]}"#;
        let n: UserPlaneNotificationData = serde_json::from_str(raw).unwrap();
        assert_eq!(n.event_reports.len(), 3);
        assert_eq!(n.event_reports[1].event.as_deref(), Some("L4S_AVAILABLE"));
        let n: UserPlaneNotificationData = serde_json::from_str(r#"{"transaction":null,"eventReports":null}"#).unwrap();
        assert!(n.event_reports.is_empty());
    }
}
