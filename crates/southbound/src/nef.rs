//! The `booking::Southbound` port over the real NEF API: resolve the device's current
//! addresses, map the booking to an AsSessionWithQoS subscription, call the NEF.

use async_trait::async_trait;
use booking::{Booking, Catalog, Device, DeviceResolver, Rejection, Southbound, SouthboundError};
use nef::{NefClient, NefError};
use nef_mapping::{MappingConfig, MappingError, UeAddresses};
use std::sync::Arc;
use tracing::info;

pub struct NefSouthbound {
    client: NefClient,
    mapping: MappingConfig,
    catalog: Arc<Catalog>,
    resolver: Option<Arc<dyn DeviceResolver>>,
}

impl NefSouthbound {
    pub fn new(
        client: NefClient,
        mapping: MappingConfig,
        catalog: Arc<Catalog>,
        resolver: Option<Arc<dyn DeviceResolver>>,
    ) -> Self {
        Self {
            client,
            mapping,
            catalog,
            resolver,
        }
    }
}

/// A NEF refusal is final; anything else may work later.
fn from_nef(what: &str, e: NefError) -> SouthboundError {
    let base = match &e {
        NefError::Rejected { .. } => SouthboundError::rejected(what),
        NefError::Unavailable { .. } => SouthboundError::unavailable(what),
    };
    base.because(e)
}

#[async_trait]
impl Southbound for NefSouthbound {
    fn supports_device(&self, device: &Device, resolvable: bool) -> bool {
        let has_ip = device.ipv4_address.is_some() || device.ipv6_address.is_some();
        // Rel-17 has no field for a phone number; Rel-18 sends it as `gpsi`.
        has_ip || resolvable || (self.mapping.release >= 18 && device.phone_number.is_some())
    }

    fn admit(&self, booking: &Booking) -> Result<(), Rejection> {
        nef_mapping::check_flows(&self.mapping, booking).map_err(|e| match e {
            MappingError::TooManyFlows { needed, max } => Rejection::out_of_range(format!(
                "The ports need {needed} flow descriptions at the network; at most {max} are supported"
            )),
            other => Rejection::out_of_range(other.to_string()),
        })
    }

    async fn activate(&self, booking: &Booking) -> Result<String, SouthboundError> {
        let profile = self
            .catalog
            .get(&booking.qos_profile)
            .ok_or_else(|| SouthboundError::rejected(format!("qosProfile {} left the catalog", booking.qos_profile)))?;
        // The booking follows the device: ask for its address now, not at booking time.
        let resolved = match (&self.resolver, &booking.device) {
            (Some(r), Some(d)) => r
                .resolve(d)
                .await
                .map_err(|e| SouthboundError::unavailable("device lookup failed").because(e))?,
            _ => None,
        };
        let ue = UeAddresses::resolved_or_booking(resolved.as_ref(), booking);
        let sub = nef_mapping::map(&self.mapping, booking, profile, &ue)
            .map_err(|e| SouthboundError::rejected("the booking cannot be expressed at the NEF").because(e))?;
        if booking.attempts > 0 {
            // An earlier attempt may have created the subscription and lost the answer (a
            // timeout, or a crash of the replica that sent it): adopt it rather than create a
            // second one.
            let existing = self
                .client
                .list()
                .await
                .map_err(|e| from_nef("listing subscriptions failed", e))?;
            if let Some(found) = existing
                .iter()
                .find(|s| s.notification_destination == sub.notification_destination)
                .and_then(|s| s.self_link.clone())
            {
                info!(booking.id = %booking.id, nef.subscription = %found, "adopted the subscription of an earlier attempt");
                return Ok(found);
            }
        }
        let created = self
            .client
            .create(&sub)
            .await
            .map_err(|e| from_nef("creating the subscription failed", e))?;
        Ok(created.location)
    }

    async fn deactivate(&self, subscription: &str) -> Result<(), SouthboundError> {
        self.client
            .delete(subscription)
            .await
            .map_err(|e| from_nef("deleting the subscription failed", e))
    }

    async fn abandon(&self, booking: &Booking) -> Result<(), SouthboundError> {
        let destination = nef_mapping::notification_destination(&self.mapping, booking);
        let existing = self
            .client
            .list()
            .await
            .map_err(|e| from_nef("listing subscriptions failed", e))?;
        for s in existing.iter().filter(|s| s.notification_destination == destination) {
            if let Some(location) = &s.self_link {
                info!(booking.id = %booking.id, nef.subscription = %location, "removing the subscription of an unconfirmed attempt");
                self.client
                    .delete(location)
                    .await
                    .map_err(|e| from_nef("deleting the subscription failed", e))?;
            }
        }
        Ok(())
    }
}
