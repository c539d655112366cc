//! Network-confirmed admission: before a booking is SCHEDULED the network itself is asked
//! whether it can carry the booking's QoS over its window (3GPP Rel-18 Planned Data Transfer
//! with QoS). The port ([`NetworkAdmission`]) and the network's answer; the values it trades
//! are in `hold.rs` (re-exported here), the use cases in `service/admission.rs`, the 3GPP side
//! in the `southbound` crate.

pub use crate::hold::{Candidate, NetworkHold, Window, covering, refusal_message};

use crate::booking::Booking;
use crate::southbound::SouthboundError;
use async_trait::async_trait;
use time::OffsetDateTime;

/// Why `b` was declined, when the network declined it (`None`: it was not).
pub fn declined_by_network(b: &Booking) -> Option<String> {
    let hold = b.network_hold.as_ref()?;
    (b.status_info == Some(crate::booking::StatusInfo::BookingDeclined) && hold.refused)
        .then(|| refusal_message(b.capacity_units().max(1), hold.offered))
}

/// The network's answer to a booking's question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A candidate covers the window and is selected.
    Agreed(NetworkHold),
    /// None covers it; `hold.offered` is the window the network offered instead, if any.
    Refused(NetworkHold),
    /// The network took the question but has not answered it (no candidates yet, or the
    /// selection did not go through): ask again later, or wait for its notification.
    Pending(NetworkHold),
}

#[async_trait]
pub trait NetworkAdmission: Send + Sync + 'static {
    /// Asks whether the network can carry `booking` over its window, and selects the policy
    /// that does. After an unanswered ask (`booking.network_hold` without a subscription),
    /// first looks for the resource that ask may have created, so one booking never holds two.
    /// `Err`: nothing is known (unreachable, refused for good).
    async fn negotiate(&self, booking: &Booking) -> Result<Answer, SouthboundError>;
    /// The network offered `candidates` for the booking's hold (a warning, or a late answer)
    /// in the negotiation `reference` names: selects the first that covers `[start, stop]`.
    /// `Ok(None)`: none covers it.
    async fn select(
        &self,
        booking: &Booking,
        reference: Option<&str>,
        candidates: &[Candidate],
        start: OffsetDateTime,
        stop: OffsetDateTime,
    ) -> Result<Option<NetworkHold>, SouthboundError>;
    /// Removes what the network holds for `booking` (an already-gone resource is a success).
    async fn release(&self, booking: &Booking) -> Result<(), SouthboundError>;
}
