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

impl DeviceEntry {
    /// Whether `device` names this entry: by its phone number when it has one, else by an
    /// address the entry has (the private IPv4 address, or the public one alone when the
    /// entry has it, never a public address and port; an IPv6 address in the entry's /64).
    fn is(&self, device: &Device) -> bool {
        if let Some(phone) = &device.phone_number {
            return self.phone_number == phone.as_str();
        }
        if let Some(v4) = &device.ipv4_address {
            let public_ok = self.ipv4_public.is_none_or(|p| p == v4.public_address);
            return match (v4.private_address, self.ipv4_private) {
                (Some(private), Some(mine)) => private == mine && public_ok,
                (Some(_), None) => false,
                // A public address and port is one flow behind a NAT that many devices
                // share: it names no entry. A public address alone names the entry that has it.
                (None, _) => v4.public_port.is_none() && self.ipv4_public == Some(v4.public_address),
            };
        }
        match (device.ipv6_address, self.ipv6) {
            (Some(given), Some(mine)) => given.segments()[..4] == mine.segments()[..4],
            _ => false,
        }
    }
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
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        Ok(entries.iter().find(|e| e.is(device)).map(|e| ResolvedDevice {
            ipv4_private: e.ipv4_private,
            ipv4_public: e.ipv4_public,
            ipv6: e.ipv6,
            eligible: e.eligible,
            id: Some(format!("tel:{}", e.phone_number)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use booking::{DeviceIpv4, PhoneNumber};

    fn table() -> StaticResolver {
        StaticResolver::new(vec![DeviceEntry {
            phone_number: "+34600000001".into(),
            ipv4_private: Some(Ipv4Addr::new(10, 45, 0, 10)),
            ipv4_public: Some(Ipv4Addr::new(203, 0, 113, 10)),
            ipv6: Some("2001:db8:45::11".parse().unwrap()),
            eligible: true,
            operator_token: None,
        }])
    }

    fn v4(public: [u8; 4], private: Option<[u8; 4]>) -> Device {
        Device {
            ipv4_address: Some(DeviceIpv4 {
                public_address: public.into(),
                private_address: private.map(Into::into),
                public_port: None,
            }),
            ..Device::default()
        }
    }

    async fn id_of(r: &StaticResolver, d: &Device) -> Option<String> {
        r.resolve(d).await.unwrap().and_then(|f| f.id)
    }

    #[tokio::test]
    async fn every_identifier_of_a_device_resolves_to_one_identity() {
        let r = table();
        let one = Some("tel:+34600000001".to_owned());
        let phone = Device::from_phone(PhoneNumber::parse("+34600000001").unwrap());
        assert_eq!(id_of(&r, &phone).await, one);
        assert_eq!(id_of(&r, &v4([203, 0, 113, 10], Some([10, 45, 0, 10]))).await, one);
        assert_eq!(id_of(&r, &v4([203, 0, 113, 10], None)).await, one);
        let v6 = Device {
            ipv6_address: Some("2001:db8:45::99".parse().unwrap()),
            ..Device::default()
        };
        assert_eq!(id_of(&r, &v6).await, one, "any address of the device's /64");
        // Another device's addresses are not this one.
        assert_eq!(id_of(&r, &v4([203, 0, 113, 10], Some([10, 45, 0, 99]))).await, None);
        assert_eq!(id_of(&r, &v4([198, 51, 100, 1], Some([10, 45, 0, 10]))).await, None);
        let behind_nat = Device {
            ipv4_address: Some(DeviceIpv4 {
                public_address: [203, 0, 113, 10].into(),
                private_address: None,
                public_port: Some(40_000),
            }),
            ..Device::default()
        };
        assert_eq!(
            id_of(&r, &behind_nat).await,
            None,
            "a shared public address and port names no one"
        );
        let other = Device::from_phone(PhoneNumber::parse("+34600000002").unwrap());
        assert_eq!(id_of(&r, &other).await, None);
    }
}
