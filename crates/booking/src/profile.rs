//! The QoS profile catalog, loaded from configuration.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProfileStatus {
    Active,
    #[default]
    Inactive,
    Deprecated,
}

impl ProfileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Inactive => "INACTIVE",
            Self::Deprecated => "DEPRECATED",
        }
    }
}

/// A rate as the QoS Profiles API states it: a value (0..=1024) and a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    pub value: u32,
    pub unit: RateUnit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RateUnit {
    #[serde(rename = "bps")]
    Bps,
    #[serde(rename = "kbps")]
    Kbps,
    #[serde(rename = "Mbps")]
    Mbps,
    #[serde(rename = "Gbps")]
    Gbps,
    #[serde(rename = "Tbps")]
    Tbps,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// What the QoS Profiles API shows of the profile besides its name, status and durations
    /// (all optional; absent ones are not shown).
    #[serde(default)]
    pub description: Option<String>,
    /// 1 (highest) ..= 100.
    #[serde(default)]
    pub priority: Option<u8>,
    #[serde(default)]
    pub packet_delay_budget_ms: Option<u32>,
    #[serde(default)]
    pub jitter_ms: Option<u32>,
    /// The exponent of the loss rate (3: 10^-3), 1..=10.
    #[serde(default)]
    pub packet_error_loss_rate: Option<u8>,
    #[serde(default)]
    pub target_min_upstream_rate: Option<Rate>,
    #[serde(default)]
    pub max_upstream_rate: Option<Rate>,
    #[serde(default)]
    pub target_min_downstream_rate: Option<Rate>,
    #[serde(default)]
    pub max_downstream_rate: Option<Rate>,
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

    /// Every profile, by name.
    pub fn all(&self) -> Vec<&QosProfile> {
        let mut v: Vec<&QosProfile> = self.profiles.values().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }
}
