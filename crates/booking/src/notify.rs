//! Status-change events and their durable outbox. An event is stored in the same atomic step
//! as the state change that caused it, and leaves the outbox only once delivered (or refused
//! for good), so a crash or restart never loses one.

use crate::booking::{Booking, BookingId, BookingStatus, Dialect, SinkCredential, StatusInfo};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// One `status-changed` event, ready for delivery to the booking's sink.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusEvent {
    /// The CloudEvents `id`: fixed when the event is created, kept on every retry.
    pub id: String,
    pub booking_id: BookingId,
    pub status: BookingStatus,
    pub status_info: Option<StatusInfo>,
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    pub sink: String,
    pub credential: Option<SinkCredential>,
    /// The API shape the event is rendered in (the booking's).
    pub dialect: Dialect,
}

impl StatusEvent {
    /// The event for the booking's current status, if the booking has a sink. A booking
    /// still REQUESTED has no outcome to tell yet (the events' status enumeration has no
    /// REQUESTED): its first event is the operator's decision.
    pub fn for_booking(b: &Booking, time: OffsetDateTime) -> Option<Self> {
        if b.status == BookingStatus::Requested {
            return None;
        }
        let sink = b.sink.clone()?;
        Some(Self {
            id: uuid::Uuid::new_v4().to_string(),
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
            dialect: b.dialect,
        })
    }
}

/// Told when new events are in the outbox, so delivery need not wait for its next poll.
pub trait Notifier: Send + Sync + 'static {
    fn wake(&self);
}
