//! `charging`: what is done with the store's usage ledger (every booking's usage is kept
//! there whatever is chosen; reports read it).

use super::units;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChargingKind {
    /// Kept for reports only.
    None,
    /// JSON Lines files in `file.dir`.
    File,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceIdentitySetting {
    Pseudonymous,
    Clear,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChargingSettings {
    pub kind: ChargingKind,
    /// How IP addresses appear in records (phone numbers always as the GPSI).
    pub device_identity: DeviceIdentitySetting,
    /// The variable holding the pseudonyms' secret (the same on every replica).
    pub pseudonym_secret_env: String,
    /// Ledger entries older than this are dropped (reports look back this far).
    pub retention_days: u32,
    #[serde(rename = "lease_seconds", deserialize_with = "units::secs")]
    pub lease: Duration,
    #[serde(rename = "poll_ms", deserialize_with = "units::ms")]
    pub poll: Duration,
    pub batch: usize,
    pub file: ChargingFile,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChargingFile {
    pub dir: PathBuf,
    #[serde(rename = "rotate_every_seconds", deserialize_with = "units::secs")]
    pub rotate_every: Duration,
    pub max_bytes: u64,
}
