//! The QoS Profiles API's use cases: the catalog the bookings use, whole or as available to
//! one device (CAMARA `qos-profiles.yaml`: the device from a 3-legged token, or from the body
//! of a 2-legged call, never both).

use super::BookingService;
use super::caller::Caller;
use crate::device::Device;
use crate::error::{Rejection, RejectionKind};
use crate::profile::{ProfileStatus, QosProfile};

/// At most this many profiles in one answer (the API's `maxItems`).
const MAX_PROFILES: usize = 100;

impl BookingService {
    /// The profiles matching `name` and `status`, and available to the device when one is
    /// given or named by the token. A device whose subscription is not eligible has none.
    pub async fn profiles(
        &self,
        caller: &Caller,
        device: Option<Device>,
        name: Option<&str>,
        status: Option<ProfileStatus>,
    ) -> Result<Vec<QosProfile>, Rejection> {
        let device = match (&caller.subject, device) {
            (Some(_), Some(_)) => {
                return Err(Rejection::new(
                    RejectionKind::UnnecessaryIdentifier,
                    "The device is already identified by the access token; do not send 'device'",
                ));
            }
            (Some((_, d)), None) => Some(d.clone()),
            (None, d) => d,
        };
        if let Some(d) = &device
            && !self.available_to(d).await?
        {
            return Ok(Vec::new());
        }
        let mut out: Vec<QosProfile> = self
            .catalog
            .all()
            .into_iter()
            .filter(|p| name.is_none_or(|n| p.name == n) && status.is_none_or(|s| p.status == s))
            .map(|p| (*p).clone())
            .collect();
        out.truncate(MAX_PROFILES);
        Ok(out)
    }

    /// One profile by name; under a 3-legged token only if available to the token's device.
    pub async fn profile(&self, caller: &Caller, name: &str) -> Result<QosProfile, Rejection> {
        let not_found = || Rejection::new(RejectionKind::NotFound, format!("No QoS profile named {name}"));
        let profile = self.catalog.get(name).map(|p| (*p).clone()).ok_or_else(not_found)?;
        if let Some((_, d)) = &caller.subject
            && !self.available_to(d).await?
        {
            return Err(not_found());
        }
        Ok(profile)
    }

    /// Whether the device may use profiles at all: identifiable by this operator, known to the
    /// device resolver when one is configured, and eligible.
    async fn available_to(&self, device: &Device) -> Result<bool, Rejection> {
        if !device.has_supported_identifier() {
            return Err(Rejection::new(
                RejectionKind::UnsupportedIdentifier,
                "None of the provided device identifiers is supported (use phoneNumber, ipv4Address or ipv6Address)",
            ));
        }
        match self.look_up(&mut device.clone()).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind == RejectionKind::ServiceNotApplicable => Ok(false),
            Err(e) => Err(e),
        }
    }
}
