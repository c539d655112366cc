//! The subset of TS 32.291's `ChargingDataRequest` and `ChargingDataResponse` an exposure
//! function sends and reads, field names as in `TS32291_Nchf_ConvergedCharging.yaml`. Fields
//! left `None` are not sent.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargingDataRequest {
    pub nf_consumer_identification: NfIdentification,
    /// RFC 3339.
    pub invocation_time_stamp: String,
    pub invocation_sequence_number: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retransmission_indicator: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_specification_info: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub multiple_unit_usage: Vec<MultipleUnitUsage>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<Trigger>,
    #[serde(rename = "nEFChargingInformation", default, skip_serializing_if = "Option::is_none")]
    pub nef_charging_information: Option<NefChargingInformation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NfIdentification {
    #[serde(rename = "nodeFunctionality")]
    pub node_functionality: String,
    /// `NfInstanceId`: a UUID.
    #[serde(rename = "nFName", default, skip_serializing_if = "Option::is_none")]
    pub nf_name: Option<String>,
    #[serde(rename = "nFFqdn", default, skip_serializing_if = "Option::is_none")]
    pub nf_fqdn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MultipleUnitUsage {
    pub rating_group: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_unit: Option<RequestedUnit>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub used_unit_container: Vec<UsedUnitContainer>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestedUnit {
    /// Seconds.
    pub time: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsedUnitContainer {
    pub local_sequence_number: u32,
    /// Seconds used since the previous report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<Trigger>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trigger {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_type: Option<String>,
    /// `IMMEDIATE_REPORT` or `DEFERRED_REPORT`.
    pub trigger_category: String,
}

impl Trigger {
    pub fn immediate(kind: &str) -> Self {
        Self {
            trigger_type: Some(kind.to_owned()),
            trigger_category: "IMMEDIATE_REPORT".into(),
        }
    }
}

/// `NEFChargingInformation`: which API was invoked, how, and for whom.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NefChargingInformation {
    /// A GPSI (`msisdn-...`, `extid-...`).
    #[serde(
        rename = "externalIndividualIdentifier",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub external_individual_identifier: Option<String>,
    /// `INVOCATION` or `NOTIFICATION`.
    #[serde(rename = "aPIDirection", default, skip_serializing_if = "Option::is_none")]
    pub api_direction: Option<String>,
    #[serde(rename = "aPIResultCode", default, skip_serializing_if = "Option::is_none")]
    pub api_result_code: Option<u32>,
    #[serde(rename = "aPIName")]
    pub api_name: String,
    #[serde(rename = "aPIReference", default, skip_serializing_if = "Option::is_none")]
    pub api_reference: Option<String>,
    #[serde(rename = "aPIContent", default, skip_serializing_if = "Option::is_none")]
    pub api_content: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargingDataResponse {
    pub invocation_time_stamp: String,
    pub invocation_sequence_number: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation_result: Option<serde_json::Value>,
}
