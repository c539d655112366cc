//! A device resolver from a list of entries (configuration or a file): phone number -> UE
//! addresses. For labs, demos and the simulator; production plugs an operator lookup in
//! behind the same `booking::DeviceResolver` trait.

use async_trait::async_trait;
use booking::{Device, DeviceResolver, ResolvedDevice};
use serde::Deserialize;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::RwLock;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DeviceEntry {
    pub phone_number: String,
    #[serde(default)]
    pub ipv4_private: Option<Ipv4Addr>,
    #[serde(default)]
    pub ipv4_public: Option<Ipv4Addr>,
    #[serde(default)]
    pub ipv6: Option<Ipv6Addr>,
    #[serde(default = "yes")]
    pub eligible: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Default)]
pub struct StaticResolver {
    entries: RwLock<Vec<DeviceEntry>>,
}

impl StaticResolver {
    pub fn new(entries: Vec<DeviceEntry>) -> Self {
        Self {
            entries: RwLock::new(entries),
        }
    }

    /// Swaps the whole table (a reloaded file, or a test moving a device to a new address).
    pub fn replace(&self, entries: Vec<DeviceEntry>) {
        *self.entries.write().unwrap_or_else(|p| p.into_inner()) = entries;
    }
}

#[async_trait]
impl DeviceResolver for StaticResolver {
    async fn resolve(&self, device: &Device) -> Result<Option<ResolvedDevice>, String> {
        let Some(phone) = &device.phone_number else {
            return Ok(None);
        };
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        Ok(entries
            .iter()
            .find(|e| e.phone_number == phone.as_str())
            .map(|e| ResolvedDevice {
                ipv4_private: e.ipv4_private,
                ipv4_public: e.ipv4_public,
                ipv6: e.ipv6,
                eligible: e.eligible,
            }))
    }
}
