//! The notification port: status changes the client must hear about.

use crate::booking::{Booking, BookingId, BookingStatus, SinkCredential, StatusInfo};
use time::OffsetDateTime;

/// One `status-changed` event, ready for delivery to the booking's sink.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusEvent {
    pub booking_id: BookingId,
    pub status: BookingStatus,
    pub status_info: Option<StatusInfo>,
    pub time: OffsetDateTime,
    pub sink: String,
    pub credential: Option<SinkCredential>,
}

impl StatusEvent {
    /// The event for the booking's current status, if the booking has a sink.
    pub fn for_booking(b: &Booking, time: OffsetDateTime) -> Option<Self> {
        let sink = b.sink.clone()?;
        Some(Self {
            booking_id: b.id,
            status: b.status,
            status_info: if b.status == BookingStatus::Terminated {
                b.status_info
            } else {
                None
            },
            time,
            sink,
            credential: b.sink_credential.clone(),
        })
    }
}

pub trait Notifier: Send + Sync + 'static {
    /// Queues the event; delivery (with retries) happens in the background, in order per
    /// booking.
    fn publish(&self, event: StatusEvent);
}
