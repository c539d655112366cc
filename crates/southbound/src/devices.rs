//! The lab device resolver: phone number -> UE addresses, from a table in the configuration
//! and an optional device file that is re-read when it changes (so a device can move to a new
//! address between booking and start). For labs, demos and the simulator; production plugs an
//! operator lookup in behind the same `booking::DeviceResolver` trait.

use async_trait::async_trait;
use booking::{BoxError, Device, DeviceResolver, ResolvedDevice};
use serde::Deserialize;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};
use tokio::sync::watch;
use tracing::{info, warn};

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
    /// A GSMA TS.43 operator token that stands for this device (3-legged subjects
    /// `operatortoken:<token>`).
    #[serde(default)]
    pub operator_token: Option<String>,
}

fn yes() -> bool {
    true
}

/// A device file that cannot be read or parsed.
#[derive(Debug, thiserror::Error)]
#[error("invalid device file {path}")]
pub struct DeviceFileError {
    path: PathBuf,
    #[source]
    source: Box<config::ConfigError>,
}

/// Reads `devices:` from a YAML device file.
pub fn read_device_file(path: &Path) -> Result<Vec<DeviceEntry>, DeviceFileError> {
    #[derive(Deserialize)]
    struct File {
        devices: Vec<DeviceEntry>,
    }
    let err = |source| DeviceFileError {
        path: path.to_owned(),
        source: Box::new(source),
    };
    let f: File = config::Config::builder()
        .add_source(config::File::from(path.to_owned()).format(config::FileFormat::Yaml))
        .build()
        .map_err(err)?
        .try_deserialize()
        .map_err(err)?;
    Ok(f.devices)
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

    /// The inline table plus the device file's entries, or `None` when neither is configured.
    pub fn load(inline: &[DeviceEntry], file: Option<&Path>) -> Result<Option<Self>, DeviceFileError> {
        if inline.is_empty() && file.is_none() {
            return Ok(None);
        }
        let mut entries = inline.to_vec();
        if let Some(f) = file {
            entries.extend(read_device_file(f)?);
        }
        Ok(Some(Self::new(entries)))
    }

    /// Swaps the whole table (a reloaded file, or a test moving a device to a new address).
    pub fn replace(&self, entries: Vec<DeviceEntry>) {
        *self.entries.write().unwrap_or_else(|p| p.into_inner()) = entries;
    }

    /// Re-reads `file` (with the `inline` entries first) whenever its modification time
    /// changes, until `stop` turns true. A file that fails to parse keeps the previous table.
    pub async fn watch(
        self: Arc<Self>,
        inline: Vec<DeviceEntry>,
        file: PathBuf,
        every: Duration,
        mut stop: watch::Receiver<bool>,
    ) {
        let modified = |f: &Path| std::fs::metadata(f).and_then(|m| m.modified()).ok();
        let mut seen: Option<SystemTime> = modified(&file);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.changed() => return,
            }
            let now = modified(&file);
            if now == seen {
                continue;
            }
            seen = now;
            match read_device_file(&file) {
                Ok(more) => {
                    self.replace(inline.iter().cloned().chain(more).collect());
                    info!(file = %file.display(), "device file reloaded");
                }
                Err(e) => warn!(error = %booking::Chain(&e), "device file not reloaded"),
            }
        }
    }
}

#[async_trait]
impl DeviceResolver for StaticResolver {
    async fn resolve(&self, device: &Device) -> Result<Option<ResolvedDevice>, BoxError> {
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

    async fn resolve_operator_token(&self, token: &str) -> Result<Option<Device>, BoxError> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        Ok(entries
            .iter()
            .find(|e| e.operator_token.as_deref() == Some(token))
            .and_then(|e| booking::PhoneNumber::parse(&e.phone_number).ok())
            .map(Device::from_phone))
    }
}
