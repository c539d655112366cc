//! The southbound port: turning a booking into network QoS at the NEF and back.

use crate::booking::Booking;
use async_trait::async_trait;

#[derive(Debug, Clone, thiserror::Error)]
pub enum SouthboundError {
    /// The network refused for good (a 4xx); retrying will not help.
    #[error("rejected by the network: {0}")]
    Rejected(String),
    /// The network could not be reached or was overloaded; retry later.
    #[error("network unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Southbound: Send + Sync + 'static {
    /// Creates the QoS subscription; returns its URI (the `Location`), stored whole.
    async fn activate(&self, booking: &Booking) -> Result<String, SouthboundError>;
    /// Removes the subscription; an already-gone subscription is a success.
    async fn deactivate(&self, subscription: &str) -> Result<(), SouthboundError>;
}
