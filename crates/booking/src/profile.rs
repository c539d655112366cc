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

/// The profiles by name. Shared by everything that reads profiles and replaced whole when the
/// operator's catalog changes (readers keep the profile they got).
#[derive(Debug, Default)]
pub struct Catalog {
    profiles: std::sync::RwLock<std::sync::Arc<HashMap<String, std::sync::Arc<QosProfile>>>>,
}

impl Catalog {
    pub fn new(profiles: impl IntoIterator<Item = QosProfile>) -> Self {
        let c = Self::default();
        c.replace(profiles);
        c
    }

    fn current(&self) -> std::sync::Arc<HashMap<String, std::sync::Arc<QosProfile>>> {
        self.profiles.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn get(&self, name: &str) -> Option<std::sync::Arc<QosProfile>> {
        self.current().get(name).cloned()
    }

    /// Every profile, by name.
    pub fn all(&self) -> Vec<std::sync::Arc<QosProfile>> {
        let mut v: Vec<_> = self.current().values().cloned().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// Replaces every profile (a reloaded catalog).
    pub fn replace(&self, profiles: impl IntoIterator<Item = QosProfile>) {
        let map = profiles
            .into_iter()
            .map(|p| (p.name.clone(), std::sync::Arc::new(p)))
            .collect();
        *self.profiles.write().unwrap_or_else(|p| p.into_inner()) = std::sync::Arc::new(map);
    }
}
