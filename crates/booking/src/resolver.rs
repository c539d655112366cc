//! The device-resolution port: from a CAMARA device (a phone number, typically) to the UE
//! addresses the network knows it by now. Consulted at create (unknown: 404
//! IDENTIFIER_NOT_FOUND, not eligible: 422 SERVICE_NOT_APPLICABLE) and again at activation,
//! because a booking follows the device, not the address it had when it was booked. A device
//! given by its IP address is looked up too: the resolver's `id` makes a phone number and
//! that phone's address one device.

use crate::device::Device;
use crate::error::BoxError;
use async_trait::async_trait;
use std::net::{Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedDevice {
    pub ipv4_private: Option<Ipv4Addr>,
    pub ipv4_public: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
    /// Whether the device's subscription may use QoS booking at all.
    pub eligible: bool,
    /// One name for the subscription whatever identifier found it, as a device index key
    /// (e.g. `tel:<its phone number>`); `None`: the resolver gives none, and each identifier
    /// counts on its own.
    pub id: Option<String>,
}

#[async_trait]
pub trait DeviceResolver: Send + Sync + 'static {
    /// `Ok(None)`: the resolver does not know the device.
    async fn resolve(&self, device: &Device) -> Result<Option<ResolvedDevice>, BoxError>;

    /// The device a GSMA TS.43 operator token (the subject `operatortoken:<token>` of a
    /// 3-legged access token) stands for. `Ok(None)`: unknown (the default: not supported).
    async fn resolve_operator_token(&self, _token: &str) -> Result<Option<Device>, BoxError> {
        Ok(None)
    }
}
