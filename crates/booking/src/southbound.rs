//! The southbound port: turning a booking into network QoS at the NEF and back.

use crate::booking::Booking;
use crate::device::Device;
use crate::error::{BoxError, Rejection};
use async_trait::async_trait;

/// Why the network side failed, grouped by what the caller can do: give up or retry.
#[derive(Debug, thiserror::Error)]
pub enum SouthboundError {
    /// The network refused for good (a 4xx); retrying will not help.
    #[error("rejected by the network: {what}")]
    Rejected {
        what: String,
        #[source]
        source: Option<BoxError>,
    },
    /// The network could not be reached or was overloaded; retry later.
    #[error("network unavailable: {what}")]
    Unavailable {
        what: String,
        #[source]
        source: Option<BoxError>,
    },
}

impl SouthboundError {
    pub fn rejected(what: impl Into<String>) -> Self {
        Self::Rejected {
            what: what.into(),
            source: None,
        }
    }
    pub fn unavailable(what: impl Into<String>) -> Self {
        Self::Unavailable {
            what: what.into(),
            source: None,
        }
    }
    /// The same error with its cause attached.
    pub fn because(self, cause: impl Into<BoxError>) -> Self {
        match self {
            Self::Rejected { what, .. } => Self::Rejected {
                what,
                source: Some(cause.into()),
            },
            Self::Unavailable { what, .. } => Self::Unavailable {
                what,
                source: Some(cause.into()),
            },
        }
    }
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

#[async_trait]
pub trait Southbound: Send + Sync + 'static {
    /// Whether the network can be told about this device at all (checked at create; false is
    /// 422 UNSUPPORTED_IDENTIFIER). `resolvable`: a device resolver knows the device.
    fn supports_device(&self, _device: &Device, _resolvable: bool) -> bool {
        true
    }
    /// Whether the booking can be expressed toward the network (checked at create, before
    /// anything is stored).
    fn admit(&self, _booking: &Booking) -> Result<(), Rejection> {
        Ok(())
    }
    /// What will identify this booking's subscription at the network, stored with the
    /// activation attempt before [`Self::activate`] is called (see `Booking::attempt_marker`).
    fn attempt_marker(&self, _booking: &Booking) -> Option<String> {
        None
    }
    /// Creates the QoS subscription; returns its URI (the `Location`), stored whole. After an
    /// unconfirmed attempt (`booking.attempts > 1`), first looks for the subscription that
    /// attempt may have created (by `booking.attempt_marker`) and adopts it.
    async fn activate(&self, booking: &Booking) -> Result<String, SouthboundError>;
    /// Removes the subscription; an already-gone subscription is a success.
    async fn deactivate(&self, subscription: &str) -> Result<(), SouthboundError>;

    /// Removes whatever subscription an unconfirmed activation attempt of `booking` may have
    /// created (an answer lost to a timeout or a crash). Called when such a booking ends
    /// without having been activated.
    async fn abandon(&self, _booking: &Booking) -> Result<(), SouthboundError> {
        Ok(())
    }
}
