//! Usage: what a booking is billed for. The store keeps a ledger per shard, written in the
//! same atomic step as the transitions that matter for money (the QoS went into place; the
//! booking ended), so an entry is never lost nor written twice. Each entry holds the booking
//! as it was at that step (its secrets removed); the usage record is derived from it here,
//! and only here, so the CHF, the file export and the report bill the same facts.

use crate::booking::{Booking, BookingId, BookingStatus, Group, StatusInfo};
use time::OffsetDateTime;

/// A place in one shard's ledger: the entries after it are unread. Ordered as the ledger is
/// (Redis stream ids: milliseconds, then a sequence).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LedgerPosition {
    pub ms: u64,
    pub seq: u64,
}

impl LedgerPosition {
    /// The Redis stream id form, `<ms>-<seq>`.
    pub fn parse(s: &str) -> Option<Self> {
        let (ms, seq) = s.split_once('-')?;
        Some(Self {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

impl std::fmt::Display for LedgerPosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// What asking for an exporter's lease gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseGrant {
    /// Another holder has it.
    Refused,
    /// Free or lapsed, now ours: another may have exported since we last held it.
    Taken,
    /// Ours already, renewed.
    Renewed,
}

impl LeaseGrant {
    pub fn held(self) -> bool {
        self != Self::Refused
    }
}

/// One ledger entry: the booking as stored by the transition that wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerEntry {
    pub shard: u16,
    pub position: LedgerPosition,
    pub booking: Booking,
}

impl LedgerEntry {
    /// What the entry stands for.
    pub fn kind(&self) -> EntryKind {
        if self.booking.status == BookingStatus::Terminated {
            EntryKind::Closed
        } else {
            EntryKind::Started
        }
    }
}

/// Why a ledger entry was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// The network confirmed the QoS: it is in place from `started_at`.
    Started,
    /// The booking ended: its usage is final.
    Closed,
}

/// Whether the store writes a ledger entry when it stores `b` (and its stored status was
/// another): an activated subscription (a reservation's opening puts no QoS in place), or an
/// end.
pub fn ledger_worthy(b: &Booking) -> bool {
    match b.status {
        BookingStatus::Terminated => true,
        BookingStatus::Activated => !b.is_reservation(),
        _ => false,
    }
}

/// The booking as the ledger keeps it: what billing needs (who, the device, profile, area,
/// window, status and times, the API shape, the B&A group), never a secret (the sink's
/// credential, the callback token, the attempt marker), and not what only the network or the
/// sink needed (flows, ports, the sink, the subscription's URI, the network's hold, the echo): the ledger is
/// kept for `charging.retention_days`, every byte times every booking.
pub fn for_ledger(b: &Booking) -> Booking {
    let mut b = b.clone();
    b.sink = None;
    b.sink_credential = None;
    b.callback_token = String::new();
    b.attempt_marker = None;
    b.origin = None;
    b.application_server = None;
    b.device_ports = None;
    b.application_server_ports = None;
    b.nef_subscription = None;
    b.network_hold = None;
    b.echo = crate::booking::Echo::default();
    b
}

/// How a booking's life ended, as billing sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// The QoS was in place until the end of the window.
    Served,
    /// The operator (capacity, policy) said no before the start.
    Declined,
    /// The operator withdrew it (before or while in place).
    Revoked,
    /// The network ended the QoS before the end of the window.
    NetworkTerminated,
    /// The client deleted it (before or while in place).
    Deleted,
    /// The network never put it in place: refused, unreachable until the retry deadline, or
    /// the window passed while no replica ran.
    FailedToActivate,
}

impl Outcome {
    pub const ALL: [Self; 6] = [
        Self::Served,
        Self::Declined,
        Self::Revoked,
        Self::NetworkTerminated,
        Self::Deleted,
        Self::FailedToActivate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Served => "SERVED",
            Self::Declined => "DECLINED",
            Self::Revoked => "REVOKED",
            Self::NetworkTerminated => "NETWORK_TERMINATED",
            Self::Deleted => "DELETED",
            Self::FailedToActivate => "FAILED_TO_ACTIVATE",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str().eq_ignore_ascii_case(s))
    }

    /// The outcome of an ended booking (`None` while it is live).
    pub fn of(b: &Booking) -> Option<Self> {
        if b.status != BookingStatus::Terminated {
            return None;
        }
        let in_place = b.started_at.is_some() && !b.is_reservation();
        Some(match b.status_info {
            Some(StatusInfo::DurationExpired) if in_place || b.is_reservation() => Self::Served,
            // Ended at its time without ever being in place cannot happen; bill nothing.
            Some(StatusInfo::DurationExpired) => Self::FailedToActivate,
            Some(StatusInfo::BookingDeclined) => Self::Declined,
            Some(StatusInfo::NetworkTerminated) => Self::NetworkTerminated,
            Some(StatusInfo::DeleteRequested) | None => Self::Deleted,
            // A revocation of a booking never in place after activation attempts, or at or
            // after its end (the window passed), is the network's failure, not the operator's.
            Some(StatusInfo::BookingRevoked)
                if !in_place
                    && !b.is_reservation()
                    && (b.attempts > 0 || b.terminated_at.is_some_and(|t| t >= b.end_time())) =>
            {
                Self::FailedToActivate
            }
            Some(StatusInfo::BookingRevoked) => Self::Revoked,
        })
    }
}

/// The interval the QoS was in place: from the network's confirmation (the activation) to its
/// removal (the end), `until` open while it lasts. Reservations hold none: their devices do.
pub fn in_place(b: &Booking) -> Option<(OffsetDateTime, Option<OffsetDateTime>)> {
    if b.is_reservation() {
        return None;
    }
    let from = b.started_at?;
    let until = b.terminated_at.map(|t| t.max(from));
    Some((from, until))
}

/// Whole seconds of QoS in place (0 when never in place or still open).
pub fn seconds_in_place(b: &Booking) -> u64 {
    match in_place(b) {
        Some((from, Some(until))) => u64::try_from((until - from).whole_seconds()).unwrap_or(0),
        _ => 0,
    }
}

/// The reservation a device's booking belongs to (QoS Booking and Assignment).
pub fn reservation_of(b: &Booking) -> Option<BookingId> {
    match &b.group {
        Some(Group::Member { of }) => Some(*of),
        _ => None,
    }
}

/// The devices a record stands for: 1 for a device's booking, a reservation's capacity.
pub fn devices_of(b: &Booking) -> u32 {
    match &b.group {
        Some(Group::Reservation { total, .. }) => *total,
        _ => 1,
    }
}

#[cfg(test)]
mod tests;
