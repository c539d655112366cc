//! 3GPP Planned Data Transfer with QoS (TS 29.522 Rel-18, `3gpp-pdtq-policy-negotiation`
//! 1.0.0-alpha.3): the wire types, JSON exactly as the YAML names the fields, and the client
//! of the `{afId}/subscriptions` collection. Time windows are kept as the RFC 3339 text the
//! NEF sent; the southbound reads them.

use crate::client::{Collection, Created, NefClientConfig};
use sbi::{Propagator, SbiError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `TimeWindow` (TS 29.122 CommonData).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeWindow {
    pub start_time: String,
    pub stop_time: String,
}

/// `PdtqPolicy` (TS 29.543): a candidate the network can honour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PdtqPolicy {
    pub pdtq_policy_id: i64,
    pub rec_time_int: TimeWindow,
}

/// `GeographicalCoordinates` (TS 29.572).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeographicalCoordinates {
    pub lon: f64,
    pub lat: f64,
}

/// The GAD shapes a CAMARA service area becomes (TS 29.572 `GeographicArea`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "shape", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GeographicArea {
    PointUncertaintyCircle {
        point: GeographicalCoordinates,
        /// Metres.
        uncertainty: f64,
    },
    Polygon {
        #[serde(rename = "pointList")]
        point_list: Vec<GeographicalCoordinates>,
    },
    /// Any other shape a NEF answers with (read, never sent).
    #[serde(other, skip_serializing)]
    Other,
}

/// `LocationArea5G` (TS 29.122 CommonData). Civic addresses and network areas come from the
/// operator's configuration as they are, so they stay JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocationArea5G {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub geographic_areas: Vec<GeographicArea>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub civic_addresses: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nw_area_info: Option<Value>,
}

/// `Pdtq`: a PDTQ policy subscription, as the AF sends it and as the NEF answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pdtq {
    #[serde(rename = "self", skip_serializing_if = "Option::is_none")]
    pub self_link: Option<String>,
    pub asp_id: String,
    pub des_time_ints: Vec<TimeWindow>,
    #[serde(rename = "numberOfUEs")]
    pub number_of_ues: u32,
    #[serde(rename = "locationArea5G", skip_serializing_if = "Option::is_none")]
    pub location_area_5g: Option<LocationArea5G>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qos_reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_destination: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pdtq_policies: Vec<PdtqPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selected_policy: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warn_notif_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supported_features: Option<String>,
}

/// `PdtqPatch`: the selection of a policy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PdtqPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selected_policy: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warn_notif_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_destination: Option<String>,
}

/// `Notification`: the network's candidate policies for a subscription (a PDTQ warning).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PdtqNotification {
    pub pdtq_ref_id: String,
    pub cand_policies: Vec<PdtqPolicy>,
}

/// The PDTQ policy negotiation client.
pub struct PdtqClient {
    subs: Collection,
}

impl PdtqClient {
    pub fn new(cfg: NefClientConfig) -> Result<Self, SbiError> {
        Ok(Self {
            subs: Collection::new(cfg, "3gpp-pdtq-policy-negotiation/v1")?,
        })
    }

    /// Every request (each attempt) carries the trace context `propagator` adds.
    pub fn with_propagator(mut self, propagator: Propagator) -> Self {
        self.subs = self.subs.with_propagator(propagator);
        self
    }

    /// POST a new PDTQ subscription: the NEF answers with its candidate policies.
    pub async fn create(&self, pdtq: &Pdtq) -> Result<Created<Pdtq>, SbiError> {
        self.subs.create(pdtq).await
    }

    /// GET one subscription by its URI; `None` when the NEF no longer has it.
    pub async fn get(&self, location: &str) -> Result<Option<Pdtq>, SbiError> {
        self.subs.get(location).await
    }

    /// GET every PDTQ subscription of this AF.
    pub async fn list(&self) -> Result<Vec<Pdtq>, SbiError> {
        self.subs.list().await
    }

    /// Selects a policy (`PATCH` with `selectedPolicy`); the NEF's body when it gives one.
    pub async fn select(&self, location: &str, policy: i64) -> Result<Option<Pdtq>, SbiError> {
        let patch = PdtqPatch {
            selected_policy: Some(policy),
            ..PdtqPatch::default()
        };
        self.subs.patch(location, &patch).await
    }

    /// DELETE by URI; a 404 means it is already gone, which is success.
    pub async fn delete(&self, location: &str) -> Result<(), SbiError> {
        self.subs.delete(location).await
    }
}
