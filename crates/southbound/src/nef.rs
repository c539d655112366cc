//! The `booking::Southbound` port over the real NEF API: resolve the device's current
//! addresses, map the booking to an AsSessionWithQoS subscription, call the NEF.

use crate::prepare;
use async_trait::async_trait;
use booking::{Booking, Catalog, Device, DeviceResolver, Rejection, Southbound, SouthboundError};
use nef::NefClient;
use qos_mapping::MappingConfig;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use tracing::info;

/// How long one listing of the NEF's subscriptions serves the adoptions of a takeover. A
/// subscription a dead replica created was created before it died, at least two thirds of a
/// claim's lease (3 s by default) before its claims came free, so a listing this young
/// already shows it.
const LISTING_TTL: Duration = Duration::from_secs(1);

/// The NEF's subscriptions by attempt marker, as listed at `at`.
struct Listing {
    at: Instant,
    by_marker: HashMap<String, Vec<String>>,
}

pub struct NefSouthbound {
    client: NefClient,
    mapping: MappingConfig,
    catalog: Arc<Catalog>,
    resolver: Option<Arc<dyn DeviceResolver>>,
    /// Held while listing, so concurrent adoptions share one listing.
    listing: Mutex<Option<Listing>>,
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
            listing: Mutex::new(None),
        }
    }

    /// The subscriptions at the NEF that carry `marker`, from a listing at most
    /// [`LISTING_TTL`] old: one listing per takeover wave, not one per booking.
    async fn find(&self, marker: &str) -> Result<Vec<String>, SouthboundError> {
        let mut g = self.listing.lock().await;
        if g.as_ref().is_none_or(|l| l.at.elapsed() > LISTING_TTL) {
            let at = Instant::now();
            let all = self
                .client
                .list()
                .await
                .map_err(|e| prepare::from_sbi("listing subscriptions failed", e))?;
            let mut by_marker: HashMap<String, Vec<String>> = HashMap::new();
            for s in all {
                if let Some(link) = s.self_link {
                    by_marker
                        .entry(prepare::marker(&s.notification_destination))
                        .or_default()
                        .push(link);
                }
            }
            *g = Some(Listing { at, by_marker });
        }
        Ok(g.as_ref()
            .and_then(|l| l.by_marker.get(marker).cloned())
            .unwrap_or_default())
    }

    /// The marker an attempt of `booking` stored, or (for an attempt recorded before markers
    /// were kept) the one its destination has under the current configuration.
    fn marker_of(&self, booking: &Booking) -> String {
        booking
            .attempt_marker
            .clone()
            .unwrap_or_else(|| prepare::marker(&qos_mapping::notification_destination(&self.mapping, booking)))
    }
}

#[async_trait]
impl Southbound for NefSouthbound {
    fn supports_device(&self, device: &Device, resolvable: bool) -> bool {
        let has_ip = device.ipv4_address.is_some() || device.ipv6_address.is_some();
        // Rel-17 has no field for a phone number; Rel-18 sends it as `gpsi`.
        has_ip || resolvable || (self.mapping.release >= 18 && device.phone_number.is_some())
    }

    fn admit(&self, booking: &Booking) -> Result<(), Rejection> {
        prepare::admit_flows(&self.mapping, booking)
    }

    fn attempt_marker(&self, booking: &Booking) -> Option<String> {
        Some(prepare::marker(&qos_mapping::notification_destination(
            &self.mapping,
            booking,
        )))
    }

    async fn activate(&self, booking: &Booking) -> Result<String, SouthboundError> {
        let profile = prepare::profile(&self.catalog, booking)?;
        let ue = prepare::addresses(self.resolver.as_ref(), booking).await?;
        let sub = qos_mapping::map(&self.mapping, booking, &profile, &ue)
            .map_err(|e| SouthboundError::rejected("the booking cannot be expressed at the NEF").because(e))?;
        if booking.attempts > 1 {
            // An earlier attempt may have created the subscription and lost the answer (a
            // timeout, or a crash of the replica that sent it): adopt it rather than create a
            // second one. Matched by the marker stored with the attempt, not by what the
            // current configuration would name.
            if let Some(found) = self.find(&self.marker_of(booking)).await?.into_iter().next() {
                info!(booking.id = %booking.id, nef.subscription = %found, "adopted the subscription of an earlier attempt");
                return Ok(found);
            }
        }
        let created = self
            .client
            .create(&sub)
            .await
            .map_err(|e| prepare::from_sbi("creating the subscription failed", e))?;
        Ok(created.location)
    }

    async fn deactivate(&self, subscription: &str) -> Result<(), SouthboundError> {
        self.client
            .delete(subscription)
            .await
            .map_err(|e| prepare::from_sbi("deleting the subscription failed", e))
    }

    async fn abandon(&self, booking: &Booking) -> Result<(), SouthboundError> {
        for location in self.find(&self.marker_of(booking)).await? {
            info!(booking.id = %booking.id, nef.subscription = %location, "removing the subscription of an unconfirmed attempt");
            self.client
                .delete(&location)
                .await
                .map_err(|e| prepare::from_sbi("deleting the subscription failed", e))?;
        }
        Ok(())
    }
}
