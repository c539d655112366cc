//! The `booking::Southbound` port over N5, the gateway as a trusted AF: find the PCF, map
//! the booking to an `AppSessionContext` (`qos_mapping::n5`), create the app session, keep its
//! whole `Location`, and delete it with `POST {Location}/delete`.
//!
//! Crash safety without a listing (N5 has no "list app sessions"): the attempt is recorded
//! before the call (`Booking::attempts`), and every attempt of a booking sends the same
//! request (the same UE address and media components, and the `notifUri` of the first attempt,
//! kept as its marker, whatever the public URL of the replica). A replica that takes over
//! after a crash between the PCF's 201 and the stored `Location` sends it again, and a PCF
//! that answers `303 See Other` for an equivalent context (TS 29.514 allows it; pcf-sim does)
//! names the session the dead replica created: it is adopted, not doubled. A booking that ends
//! without activation after an unconfirmed attempt does the same to find and delete what the
//! attempt may have left. The window that remains, for a PCF that never answers 303, is in
//! docs/RELIABILITY.md: such a PCF gets a second session, and the first is removed when a
//! callback names it (`callbacks::pcf`) or when its PDU session ends.

mod locate;

pub use locate::PcfLocator;

use crate::prepare;
use async_trait::async_trait;
use booking::{Booking, Catalog, Device, DeviceResolver, Rejection, Southbound, SouthboundError};
use pcf::{PcfClient, device_not_attached};
use qos_mapping::MappingConfig;
use qos_mapping::n5::N5Config;
use std::sync::Arc;
use tracing::{info, warn};

pub struct PcfSouthbound {
    client: Arc<PcfClient>,
    locator: PcfLocator,
    mapping: MappingConfig,
    n5: N5Config,
    catalog: Arc<Catalog>,
    resolver: Option<Arc<dyn DeviceResolver>>,
}

impl PcfSouthbound {
    pub fn new(
        client: Arc<PcfClient>,
        locator: PcfLocator,
        mapping: MappingConfig,
        n5: N5Config,
        catalog: Arc<Catalog>,
        resolver: Option<Arc<dyn DeviceResolver>>,
    ) -> Self {
        Self {
            client,
            locator,
            mapping,
            n5,
            catalog,
            resolver,
        }
    }

    /// The app session this booking's attempts ask for, and the PCF to ask.
    async fn request(&self, booking: &Booking) -> Result<(String, pcf::AppSessionContext), SouthboundError> {
        let profile = prepare::profile(&self.catalog, booking)?;
        let ue = prepare::addresses(self.resolver.as_ref(), booking).await?;
        let mut ctx = qos_mapping::n5::map(&self.mapping, &self.n5, booking, &profile, &ue)
            .map_err(|e| SouthboundError::rejected("the booking cannot be expressed at the PCF").because(e))?;
        // Every attempt names the callback URL of the first (kept as the attempt's marker):
        // a replica with another public URL than the one that crashed still sends an
        // equivalent context, which the PCF answers with 303 and the dead replica's session.
        if let (Some(first), Some(req)) = (first_notif_uri(booking), ctx.asc_req_data.as_mut()) {
            req.notif_uri = first.to_owned();
            if let Some(ev) = req.ev_subsc.as_mut() {
                ev.notif_uri = Some(first.to_owned());
            }
        }
        let address = ue.pick(&self.mapping.address_preference);
        Ok((self.locator.api_root(address).await?, ctx))
    }

    /// Creates (or, after a 303, finds) the booking's app session.
    async fn create(&self, booking: &Booking) -> Result<pcf::Created, SouthboundError> {
        let (root, ctx) = self.request(booking).await?;
        self.client.create(&root, &ctx).await.map_err(|e| {
            if device_not_attached(&e) {
                // No PDU session (or binding) now: retried until the activation deadline.
                SouthboundError::unavailable("the device has no PDU session at the PCF").because(e)
            } else {
                prepare::from_sbi("creating the app session failed", e)
            }
        })
    }
}

/// The `notifUri` the booking's first attempt sent, if it was recorded (a marker of an older
/// version is a digest, not a URL: then the current one is sent).
fn first_notif_uri(booking: &Booking) -> Option<&str> {
    booking
        .attempt_marker
        .as_deref()
        .filter(|m| m.starts_with("http://") || m.starts_with("https://"))
}

#[async_trait]
impl Southbound for PcfSouthbound {
    fn supports_device(&self, device: &Device, resolvable: bool) -> bool {
        // N5 needs the UE's address; a phone number alone needs the resolver.
        device.ipv4_address.is_some() || device.ipv6_address.is_some() || resolvable
    }

    fn admit(&self, booking: &Booking) -> Result<(), Rejection> {
        prepare::admit_flows(&self.mapping, booking)
    }

    /// The `notifUri` itself (not a digest, as for the NEF's listing): N5 has no listing, and
    /// a retry must send the first attempt's context exactly. It holds the booking's callback
    /// token, which the booking record holds anyway.
    fn attempt_marker(&self, booking: &Booking) -> Option<String> {
        Some(qos_mapping::n5::notif_uri(&self.mapping, booking))
    }

    async fn activate(&self, booking: &Booking) -> Result<String, SouthboundError> {
        let created = self.create(booking).await?;
        if created.existing {
            info!(booking.id = %booking.id, pcf.app_session = %created.location, "adopted the app session of an earlier attempt (303 See Other)");
        }
        Ok(created.location)
    }

    async fn deactivate(&self, session: &str) -> Result<(), SouthboundError> {
        self.client
            .delete(session)
            .await
            .map_err(|e| prepare::from_sbi("deleting the app session failed", e))
    }

    async fn abandon(&self, booking: &Booking) -> Result<(), SouthboundError> {
        // The same request again: a 303 names what the unconfirmed attempt left; a 201 is a
        // fresh session (the PCF does not detect equivalents), removed at once either way.
        let created = self.create(booking).await?;
        if !created.existing {
            warn!(booking.id = %booking.id, "the PCF does not answer 303 for an equivalent app session; an unconfirmed attempt's session may remain until a callback names it");
        }
        info!(booking.id = %booking.id, pcf.app_session = %created.location, "removing the app session of an unconfirmed attempt");
        self.deactivate(&created.location).await
    }
}
