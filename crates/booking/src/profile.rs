//! The QoS profile catalog, loaded from configuration.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProfileStatus {
    Active,
    Inactive,
    Deprecated,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QosProfile {
    pub name: String,
    pub status: ProfileStatus,
    /// Shortest bookable duration, in seconds.
    pub min_duration: u32,
    /// Longest bookable duration, in seconds.
    pub max_duration: u32,
    /// The 3GPP `qosReference` this profile maps to at the NEF.
    pub qos_reference: String,
    #[serde(default)]
    pub alt_qos_references: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Catalog {
    profiles: HashMap<String, QosProfile>,
}

impl Catalog {
    pub fn new(profiles: impl IntoIterator<Item = QosProfile>) -> Self {
        Self {
            profiles: profiles.into_iter().map(|p| (p.name.clone(), p)).collect(),
        }
    }
    pub fn get(&self, name: &str) -> Option<&QosProfile> {
        self.profiles.get(name)
    }
}
