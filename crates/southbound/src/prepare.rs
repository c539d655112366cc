//! What both adapters share: find a booking's profile, ask for the device's current
//! addresses, state the flow limit at create, mark an attempt, and classify a failed call.

use booking::{Booking, Catalog, DeviceResolver, QosProfile, Rejection, SouthboundError};
use qos_mapping::{MappingConfig, MappingError, UeAddresses};
use std::sync::Arc;

/// The booking's profile, as the catalog holds it now.
pub(crate) fn profile(catalog: &Catalog, booking: &Booking) -> Result<Arc<QosProfile>, SouthboundError> {
    catalog
        .get(&booking.qos_profile)
        .ok_or_else(|| SouthboundError::rejected(format!("qosProfile {} left the catalog", booking.qos_profile)))
}

/// The device's addresses now: the booking follows the device, so they are asked for at
/// activation, not taken from booking time (the booking's own fill the gaps).
pub(crate) async fn addresses(
    resolver: Option<&Arc<dyn DeviceResolver>>,
    booking: &Booking,
) -> Result<UeAddresses, SouthboundError> {
    let resolved = match (resolver, &booking.device) {
        (Some(r), Some(d)) => r
            .resolve(d)
            .await
            .map_err(|e| SouthboundError::unavailable("device lookup failed").because(e))?,
        _ => None,
    };
    Ok(UeAddresses::resolved_or_booking(resolved.as_ref(), booking))
}

/// The flow limit at create, as a CAMARA refusal.
pub(crate) fn admit_flows(mapping: &MappingConfig, booking: &Booking) -> Result<(), Rejection> {
    qos_mapping::check_flows(mapping, booking).map_err(|e| match e {
        MappingError::TooManyFlows { needed, max } => Rejection::out_of_range(format!(
            "The ports need {needed} flow descriptions at the network; at most {max} are supported"
        )),
        other => Rejection::out_of_range(other.to_string()),
    })
}

/// The marker of a subscription: 96 bits of a digest of its `notificationDestination`
/// (which carries the callback secret, so it is not stored as such), 16 characters.
pub(crate) fn marker(destination: &str) -> String {
    use base64::Engine;
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, destination.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&d.as_ref()[..12])
}

/// A refusal (4xx) is final; anything else may work later.
pub(crate) fn from_sbi(what: &str, e: sbi::SbiError) -> SouthboundError {
    let base = match &e {
        sbi::SbiError::Rejected { .. } => SouthboundError::rejected(what),
        sbi::SbiError::Unavailable { .. } => SouthboundError::unavailable(what),
    };
    base.because(e)
}
