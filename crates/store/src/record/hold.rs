//! Layout 6's addition: what the network holds for a booking (network-confirmed admission,
//! `booking::admission::NetworkHold`), written only for bookings that asked the network.

use super::fields::{nanos, time_of};
use booking::StoreError;
use booking::admission::{NetworkHold, Window};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub(super) struct HoldV6 {
    subscription: Option<String>,
    reference_id: Option<String>,
    policy: Option<i64>,
    /// Start and stop of the window offered instead (Unix nanoseconds).
    offered: Option<(i64, i64)>,
    refused: bool,
    unanswered: bool,
}

pub(super) fn hold(h: &NetworkHold) -> Result<HoldV6, StoreError> {
    Ok(HoldV6 {
        subscription: h.subscription.clone(),
        reference_id: h.reference_id.clone(),
        policy: h.policy,
        offered: h
            .offered
            .map(|w| Ok::<_, StoreError>((nanos(w.start)?, nanos(w.stop)?)))
            .transpose()?,
        refused: h.refused,
        unanswered: h.unanswered,
    })
}

pub(super) fn hold_of(h: HoldV6) -> Result<NetworkHold, StoreError> {
    Ok(NetworkHold {
        subscription: h.subscription,
        reference_id: h.reference_id,
        policy: h.policy,
        offered: h
            .offered
            .map(|(a, b)| {
                Ok::<_, StoreError>(Window {
                    start: time_of(a)?,
                    stop: time_of(b)?,
                })
            })
            .transpose()?,
        refused: h.refused,
        unanswered: h.unanswered,
    })
}
